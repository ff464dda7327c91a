"""The shape of a runtime setting declaration and the registry that holds them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ailawyer.config import Settings


class RuntimeSettingError(ValueError):
    """A value an admin entered does not fit the setting; the message is German, for them."""


class UnknownRuntimeSettingError(KeyError):
    """No runtime setting has that key."""


@dataclass(frozen=True)
class RuntimeSettingDefinition:
    """One typed setting with its German label, description and the rule for its default.

    `value_type` is what pydantic validates against, constraints included
    (e.g. `Annotated[int, Field(ge=1, le=100)]` or a `Literal`); `allowed` says the same
    in German for the error message ("eine ganze Zahl von 1 bis 100").
    """

    key: str
    label: str
    description: str
    category: str
    value_type: Any
    allowed: str
    # The value when nobody changed it, from the infrastructure settings of the process.
    default: Callable[[Settings], Any]
    _adapter: TypeAdapter[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_adapter", TypeAdapter(self.value_type))

    def validate(self, value: Any) -> Any:
        """The value in the setting's type, or RuntimeSettingError with a German message."""
        try:
            return self._adapter.validate_python(value)
        except ValidationError:
            raise RuntimeSettingError(
                f"Ungültiger Wert für „{self.label}“: erlaubt ist {self.allowed}."
            ) from None

    def to_json(self, value: Any) -> Any:
        """The value as stored in SystemSetting.value and sent over pub/sub."""
        return self._adapter.dump_python(value, mode="json")

    @property
    def json_schema(self) -> dict[str, Any]:
        """The value's JSON schema (type, enum, minimum, maxLength), e.g. to pick a form input."""
        return self._adapter.json_schema()


class RuntimeSettingsRegistry:
    """All declared settings by key; declaring a key twice is a programming error."""

    def __init__(self, definitions: Iterable[RuntimeSettingDefinition]) -> None:
        self._definitions: dict[str, RuntimeSettingDefinition] = {}
        for definition in definitions:
            if definition.key in self._definitions:
                raise ValueError(f"runtime setting {definition.key!r} declared twice")
            self._definitions[definition.key] = definition

    def __getitem__(self, key: str) -> RuntimeSettingDefinition:
        try:
            return self._definitions[key]
        except KeyError:
            raise UnknownRuntimeSettingError(key) from None

    def __contains__(self, key: object) -> bool:
        return key in self._definitions

    def __iter__(self) -> Iterator[RuntimeSettingDefinition]:
        return iter(self._definitions.values())

    def categories(self) -> list[tuple[str, list[RuntimeSettingDefinition]]]:
        """The settings grouped by category, categories and settings in declaration order."""
        groups: dict[str, list[RuntimeSettingDefinition]] = {}
        for definition in self:
            groups.setdefault(definition.category, []).append(definition)
        return list(groups.items())
