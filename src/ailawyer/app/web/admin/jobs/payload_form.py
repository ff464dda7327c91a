"""A queue's payload model as a form shows it, and its checks answered in German.

The add and edit forms take a job's data as JSON and check it against the queue's payload
model (`jobs/payloads.py`) — the same check every enqueue makes. This module describes the
model's fields for the form (German label, type, required or default) and turns what
pydantic refuses into sentences an administrator reads next to the form.
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ailawyer.app.web.templating import number_de
from ailawyer.jobs.payloads import JobPayload

# Every field of a declared payload, by the name it has in a job's data (a test checks that
# each has one).
FIELD_LABELS: Mapping[str, str] = {
    "kanzleiId": "Kanzlei (Nummer)",
    "userId": "Auslösender Benutzer (Nummer; erhält die Benachrichtigungen)",
    "akteId": "Akte (Nummer)",
    "dokumentId": "Dokument (Nummer)",
    "task": "Wartungsaufgabe",
    "durationMs": "Dauer in Millisekunden",
    "steps": "Schritte",
    "failure": "Ergebnis",
}
# A job's data is a few ids and parameters (no personal data): more is a mistake.
MAX_DATA_CHARS = 10_000


@dataclass(frozen=True)
class PayloadField:
    """One field of a payload model, as the form lists it."""

    name: str
    label: str
    kind: str
    required: bool
    default: str | None


def describe(model: type[JobPayload]) -> list[PayloadField]:
    """The model's fields: required ones first, then its own, then whose job it is (the
    fields every payload has), each in declared order."""
    fields = [
        PayloadField(
            name=_name(name, info),
            label=FIELD_LABELS.get(_name(name, info), _name(name, info)),
            kind=_kind(info.annotation),
            required=info.is_required(),
            default=None if info.default in (None, PydanticUndefined) else _json(info.default),
        )
        for name, info in model.model_fields.items()
    ]
    common = {_name(name, info) for name, info in JobPayload.model_fields.items()}
    return sorted(fields, key=lambda field: (not field.required, field.name in common))


def example(model: type[JobPayload]) -> str:
    """A starting point for the form: every required field with a placeholder value."""
    sample: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if info.is_required():
            choices = _choices(info.annotation)
            sample[_name(name, info)] = choices[0] if choices else 0
    return json.dumps(sample, indent=2, ensure_ascii=False)


def label(field: str) -> str:
    """The German label of a field of a job's data (the name itself if it has none)."""
    return FIELD_LABELS.get(field, field)


class PayloadRefused(Exception):
    """The data was refused; `messages` say why, in German, one sentence per problem."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def parse_object(text: str) -> dict[str, Any]:
    """The JSON object in `text`, or PayloadRefused saying what is wrong with it."""
    if len(text) > MAX_DATA_CHARS:
        limit = number_de(MAX_DATA_CHARS)
        raise PayloadRefused([f"Die Daten sind zu lang (höchstens {limit} Zeichen)."])
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise PayloadRefused(
            [f"Die Daten sind kein gültiges JSON (Zeile {error.lineno}, Spalte {error.colno})."]
        ) from None
    if not isinstance(value, dict):
        raise PayloadRefused(["Die Daten müssen ein JSON-Objekt sein: {…}."])
    return value


def check(model: type[JobPayload], data: Mapping[str, Any]) -> JobPayload:
    """`data` as `model`, or PayloadRefused with a German sentence per refused field."""
    try:
        # Strict: JSON says what it means; true is no number and 1.5 no whole one.
        return model.model_validate(dict(data), strict=True)
    except ValidationError as error:
        raise PayloadRefused([_message(model, e) for e in error.errors()]) from None


def _message(model: type[JobPayload], error: Mapping[str, Any]) -> str:
    """One of pydantic's refusals as a German sentence."""
    where = ".".join(str(part) for part in error.get("loc", ()))
    subject = f"„{label(where)}“ ({where})" if where else "Die Daten"
    context = error.get("ctx") or {}
    kind = error.get("type", "")
    if kind == "missing":
        return f"{subject} fehlt."
    if kind == "extra_forbidden":
        return f"Das Feld „{where}“ gibt es für diese Warteschlange nicht."
    if kind in ("int_type", "int_parsing", "int_from_float", "float_type"):
        return f"{subject} muss eine ganze Zahl sein."
    if kind == "literal_error":
        fields = {_name(name, info): info for name, info in model.model_fields.items()}
        choices = _choices(fields[where].annotation) if where in fields else []
        return f"{subject} muss einer dieser Werte sein: {', '.join(map(_json, choices))}."
    if kind in ("greater_than_equal", "greater_than"):
        return f"{subject} muss mindestens {context.get('ge', context.get('gt'))} sein."
    if kind in ("less_than_equal", "less_than"):
        return f"{subject} darf höchstens {context.get('le', context.get('lt'))} sein."
    if kind in ("string_type", "bool_type", "bool_parsing"):
        return f"{subject} hat den falschen Typ."
    return f"{subject} ist ungültig."


def _name(name: str, info: FieldInfo) -> str:
    return info.alias or name


def _choices(annotation: Any) -> list[Any]:
    """The values of a Literal (also inside `X | None`), else none."""
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    if get_origin(annotation) in (Union, types.UnionType):
        return [c for arg in get_args(annotation) for c in _choices(arg)]
    return []


def _kind(annotation: Any) -> str:
    """The field's type in German words."""
    choices = _choices(annotation)
    if choices:
        return "einer von: " + ", ".join(_json(c) for c in choices)
    args = [a for a in get_args(annotation) if a is not type(None)]
    base = args[0] if len(args) == 1 else annotation
    names = {int: "ganze Zahl", str: "Text", bool: "true oder false", float: "Zahl"}
    kind = names.get(base, str(base))
    return f"{kind} oder leer" if type(None) in get_args(annotation) else kind


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
