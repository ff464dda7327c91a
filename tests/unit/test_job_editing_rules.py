"""The rules of the explorer's editing views that need no Redis or database: who may add jobs
to which queue, whose Kanzlei a new job belongs to, which actions a job's page offers, and
how a payload model is shown and its refusals worded (German, one sentence per field)."""

from __future__ import annotations

import pytest
from tests.unit.test_job_access import ADMIN_A, ANWALT_A, FORMER_OPERATOR, OPERATOR, Person

from ailawyer.app.web.admin.jobs import payload_form
from ailawyer.app.web.admin.jobs.editing import job_id_for, job_tools
from ailawyer.app.web.admin.jobs.payload_form import PayloadRefused, check, describe, parse_object
from ailawyer.jobs.access import Verdict, kanzlei_of_new_job, may_add_jobs
from ailawyer.jobs.catalog import QUEUES
from ailawyer.jobs.payloads import AdminTestPayload, DokumentPayload

ALLOWED, FORBIDDEN = Verdict.ALLOWED, Verdict.FORBIDDEN


@pytest.mark.parametrize(
    ("person", "dokumente", "system", "undeclared"),
    [
        (OPERATOR, ALLOWED, ALLOWED, FORBIDDEN),
        (ADMIN_A, ALLOWED, FORBIDDEN, FORBIDDEN),
        (ANWALT_A, FORBIDDEN, FORBIDDEN, FORBIDDEN),
        (FORMER_OPERATOR, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ],
    ids=["operator", "admin_a", "anwalt_a", "inactive"],
)
def test_who_may_add_jobs_to_which_queue(
    person: Person, dokumente: Verdict, system: Verdict, undeclared: Verdict
) -> None:
    assert [may_add_jobs(person, q) for q in ("dokumente", "system", "probe-x")] == [
        dokumente,
        system,
        undeclared,
    ]


def test_a_kanzlei_admins_new_jobs_are_its_own_kanzleis_the_operators_as_their_data_says() -> None:
    assert kanzlei_of_new_job(ADMIN_A, "dokumente") == ADMIN_A.kanzlei_id
    assert kanzlei_of_new_job(OPERATOR, "dokumente") is None
    assert kanzlei_of_new_job(OPERATOR, "system") is None


def test_every_field_of_every_declared_payload_has_a_german_label() -> None:
    for definition in QUEUES.values():
        for field in describe(definition.payload_type):
            assert field.label != field.name, (definition.name, field.name)


def test_the_form_lists_required_fields_first_with_types_and_defaults() -> None:
    fields = {f.name: f for f in describe(AdminTestPayload)}

    # Required first; then a payload's own fields before those every payload has.
    assert [f.name for f in describe(DokumentPayload)] == [
        "dokumentId",
        "akteId",
        "kanzleiId",
        "userId",
    ]
    assert [f.name for f in describe(AdminTestPayload)][:3] == ["durationMs", "steps", "failure"]
    assert (fields["steps"].kind, fields["steps"].required, fields["steps"].default) == (
        "ganze Zahl",
        False,
        "5",
    )
    assert fields["failure"].kind == 'einer von: "never", "always", "first-attempt"'
    assert fields["userId"].kind == "ganze Zahl oder leer"
    assert payload_form.example(DokumentPayload) == '{\n  "akteId": 0,\n  "dokumentId": 0\n}'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "Die Daten sind kein gültiges JSON (Zeile 1, Spalte 2)."),
        ("[1]", "Die Daten müssen ein JSON-Objekt sein: {…}."),
        ("1" * 10_001, "Die Daten sind zu lang (höchstens 10.000 Zeichen)."),
    ],
    ids=["broken", "not-an-object", "too-long"],
)
def test_data_that_is_no_json_object_is_refused_in_german(text: str, message: str) -> None:
    with pytest.raises(PayloadRefused) as refused:
        parse_object(text)
    assert refused.value.messages == [message]


def test_refused_fields_are_named_with_their_labels() -> None:
    with pytest.raises(PayloadRefused) as refused:
        check(DokumentPayload, {"akteId": True, "dokumentId": 1.5, "name": "Vertrag"})

    assert refused.value.messages == [
        "„Akte (Nummer)“ (akteId) muss eine ganze Zahl sein.",
        "„Dokument (Nummer)“ (dokumentId) muss eine ganze Zahl sein.",
        "Das Feld „name“ gibt es für diese Warteschlange nicht.",
    ]
    with pytest.raises(PayloadRefused) as missing:
        check(AdminTestPayload, {"steps": 101, "durationMs": -1})
    assert missing.value.messages == [
        "„Dauer in Millisekunden“ (durationMs) muss mindestens 0 sein.",
        "„Schritte“ (steps) darf höchstens 100 sein.",
    ]


def test_a_dokument_has_one_job_so_its_jobs_are_never_duplicated() -> None:
    payload = DokumentPayload(dokument_id=7, akte_id=3, kanzlei_id=1)

    assert job_id_for("dokumente", payload) == "dokument-7"
    assert job_id_for("test", AdminTestPayload()) is None

    def offered(queue: str, state: str) -> tuple[bool, bool, bool]:
        tools = job_tools(QUEUES, queue, state)
        return tools.duplicate, tools.change_data, tools.rerun

    assert offered("dokumente", "delayed") == (False, True, False)
    assert offered("test", "completed") == (True, False, True)
    # An undeclared queue has no payload model to check new data against.
    assert offered("probe-x", "waiting") == (False, False, False)
