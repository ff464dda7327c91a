"""The notification service: who receives what, and what it refuses to store."""

from __future__ import annotations

import pytest
from tests.support.factories import Factory
from tests.support.notifications import notify, notify_role

from ailawyer.db.models import Severity
from ailawyer.domain.roles import Role
from ailawyer.services import Services

RETRY = {"label": "Erneut versuchen", "url": "/api/jobs/dokumente/42/retry", "method": "POST"}


async def test_notify_role_reaches_the_active_users_of_that_role_in_that_kanzlei_only(
    services: Services, factory: Factory
) -> None:
    kanzlei, other = await factory.kanzlei(), await factory.kanzlei()
    admin = await factory.user(Role.ADMIN, kanzlei=kanzlei)
    await factory.user(Role.ADMIN, kanzlei=kanzlei, aktiv=False)
    await factory.user(Role.ADMIN, kanzlei=other)
    await factory.user(Role.ANWALT, kanzlei=kanzlei)

    created = await notify_role(
        services.db,
        services.notifications,
        kanzlei.id,
        Role.ADMIN,
        type="job.failed.admin",
        title="Verarbeitung endgültig fehlgeschlagen",
        message="ValueError: kaputt",
        link="/akten/1",
        severity=Severity.ERROR,
        data={"akte": 1, "schritte": ["ocr", "index"]},
        action=RETRY,
    )

    assert [(n.title, n.seq) for n in created] == [("Verarbeitung endgültig fehlgeschlagen", 1)]
    # What the call returns (built from its content, not read back) is what is stored.
    async with services.db.session() as db:
        assert (await services.notifications.recent(db, admin.id)).items == created


async def test_a_notification_keeps_its_action_sound_and_plain_text(
    services: Services, factory: Factory
) -> None:
    user = await factory.user(Role.SACHBEARBEITER)

    created = await notify(
        services.db,
        services.notifications,
        user.id,
        type="job.failed",
        title="PDF-Verarbeitung fehlgeschlagen",
        message="<script>alert('x')</script>",
        link="/akten/1",
        severity=Severity.ERROR,
        action=RETRY,
    )

    payload = created.as_payload()
    assert payload["message"] == "<script>alert('x')</script>"
    assert payload["action"] == RETRY
    assert payload["sound"] == "job-failed"
    assert payload["read"] is False


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"type": "gibt.es.nicht"}, KeyError),
        ({"title": "  "}, ValueError),
        ({"link": "https://boese.example/"}, ValueError),
        ({"link": "//boese.example/"}, ValueError),
        ({"link": "javascript:alert(1)"}, ValueError),
        ({"action": {**RETRY, "url": "https://boese.example/"}}, ValueError),
        ({"action": {**RETRY, "method": "DELETE"}}, ValueError),
    ],
)
async def test_it_refuses_undeclared_types_and_links_off_the_site(
    services: Services, factory: Factory, change: dict, problem: type[Exception]
) -> None:
    user = await factory.user()
    arguments = {"type": "info", "title": "Hinweis", **change}

    with pytest.raises(problem):
        await notify(services.db, services.notifications, user.id, **arguments)
    async with services.db.session() as db:
        assert (await services.notifications.recent(db, user.id)).items == []


async def test_notifying_an_unknown_user_fails_without_a_trace(services: Services) -> None:
    with pytest.raises(LookupError):
        await notify(services.db, services.notifications, 4711, type="info", title="Niemand")
