"""`.env.example` documents every setting, and nothing that is not one."""

from __future__ import annotations

import re
from pathlib import Path

from ailawyer.config import Settings

ENV_EXAMPLE = Path(__file__).parents[2] / ".env.example"
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(ASSIGNMENT.findall(ENV_EXAMPLE.read_text()))
    fields = {name.upper() for name in Settings.model_fields}

    assert fields - documented == set(), "add these to .env.example with a comment"
    assert documented - fields == set(), ".env.example names variables that do not exist"


def test_every_documented_variable_has_a_comment_above_it() -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    for index, line in enumerate(lines):
        if ASSIGNMENT.match(line):
            above = lines[index - 1]
            assert above.startswith("#") or ASSIGNMENT.match(above), f"{line} lacks a comment"
