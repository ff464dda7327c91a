"""`.env.example` documents every setting and every variable docker-compose.yml reads,
and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from ailawyer.config import Settings

ROOT = Path(__file__).parents[2]
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE_FILE = ROOT / "docker-compose.yml"
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=", re.MULTILINE)
# `${NAME}`, `${NAME:-default}`, `${NAME:?message}`; `$${NAME}` is left to the container.
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)")


def compose_variables() -> set[str]:
    """The variables docker-compose.yml fills in from .env (its comments aside)."""
    lines = [
        line for line in COMPOSE_FILE.read_text().splitlines() if not line.lstrip().startswith("#")
    ]
    return set(COMPOSE_VARIABLE.findall("\n".join(lines)))


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(ASSIGNMENT.findall(ENV_EXAMPLE.read_text()))
    fields = {name.upper() for name in Settings.model_fields}

    assert fields - documented == set(), "add these to .env.example with a comment"


def test_every_variable_compose_reads_is_documented_in_env_example() -> None:
    documented = set(ASSIGNMENT.findall(ENV_EXAMPLE.read_text()))

    assert {"POSTGRES_PASSWORD", "AILAWYER_IMAGE"} <= compose_variables()
    assert compose_variables() - documented == set(), "add these to .env.example"


def test_env_example_names_nothing_that_is_not_read() -> None:
    documented = set(ASSIGNMENT.findall(ENV_EXAMPLE.read_text()))
    fields = {name.upper() for name in Settings.model_fields}

    unread = documented - fields - compose_variables()
    assert unread == set(), ".env.example names variables that nothing reads"


def test_every_documented_variable_has_a_comment_above_it() -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    for index, line in enumerate(lines):
        if ASSIGNMENT.match(line):
            above = lines[index - 1]
            assert above.startswith("#") or ASSIGNMENT.match(above), f"{line} lacks a comment"
