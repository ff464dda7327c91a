"""The declared runtime settings: German words for every one, defaults that pass their own
validation, categories in declaration order, and the maintenance banner's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from ailawyer.config import Environment, Settings
from ailawyer.runtime_settings.definitions import (
    JOB_RETENTION_COMPLETED_SECONDS,
    JOB_RETENTION_FAILED_SECONDS,
    LOG_LEVEL,
    MAINTENANCE_BANNER,
    RUNTIME_SETTINGS,
    job_concurrency,
)
from ailawyer.runtime_settings.registry import RuntimeSettingDefinition, RuntimeSettingError

SETTINGS = Settings(
    _env_file=None, environment=Environment.TEST, data_dir=Path("/nonexistent"), log_level="INFO"
)


def test_the_registry_holds_the_settings_the_admin_page_promises() -> None:
    declared = {definition.key for definition in RUNTIME_SETTINGS}

    assert {
        LOG_LEVEL,
        MAINTENANCE_BANNER,
        JOB_RETENTION_COMPLETED_SECONDS,
        JOB_RETENTION_FAILED_SECONDS,
        job_concurrency("dokumente"),
    } <= declared


@pytest.mark.parametrize("definition", list(RUNTIME_SETTINGS), ids=lambda d: d.key)
def test_every_setting_has_german_words_and_a_valid_default(
    definition: RuntimeSettingDefinition,
) -> None:
    assert definition.label and definition.description and definition.category
    assert definition.allowed
    default = definition.default(SETTINGS)
    assert definition.validate(default) == default
    assert definition.json_schema["type"] in {"string", "integer"}


def test_categories_keep_the_declaration_order() -> None:
    categories = RUNTIME_SETTINGS.categories()

    assert [name for name, _ in categories] == [
        "Hinweise",
        "System",
        "Hintergrundverarbeitung",
        "Dokumente",
        "Aufbewahrung",
        "Warnmeldungen",
    ]
    assert [d for _, group in categories for d in group] == list(RUNTIME_SETTINGS)


def test_the_banner_is_trimmed_and_limited_in_length() -> None:
    banner = RUNTIME_SETTINGS[MAINTENANCE_BANNER]

    assert banner.validate("  Wartung ab 18 Uhr  ") == "Wartung ab 18 Uhr"
    assert banner.validate("") == ""
    assert banner.validate("x" * 300) == "x" * 300
    with pytest.raises(RuntimeSettingError, match="höchstens 300 Zeichen"):
        banner.validate("x" * 301)
