"""A form field sent twice is refused with 400 and a German page, never a 500, and changes
nothing (each of these answered 500 with a traceback before `ailawyer.app.web.forms`)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from tests.support.factories import Factory
from tests.support.http import csrf_token, logged_in
from tests.support.personas import build_operator

from ailawyer.app.web.forms import REFUSED_FORM_MESSAGE
from ailawyer.db.models import SystemSetting, UserSettings
from ailawyer.domain.roles import Role
from ailawyer.jobs.bullmq_adapter import read_counts
from ailawyer.jobs.catalog import ADMIN_TEST
from ailawyer.runtime_settings.definitions import LOG_LEVEL, MAINTENANCE_BANNER
from ailawyer.services import Services

pytestmark = pytest.mark.usefixtures("defaults_restored")

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def post_form(
    client: httpx.AsyncClient, path: str, body: str, *, page: str = "/", json: bool = False
) -> httpx.Response:
    """Post `body` exactly as given (httpx would not repeat a field of a dict)."""
    headers = {**FORM, "x-csrftoken": await csrf_token(client, page)}
    if json:
        headers["Accept"] = "application/json"
    return await client.post(path, content=body.encode(), headers=headers)


def assert_refused_page(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text[:500]
    assert REFUSED_FORM_MESSAGE in response.text
    assert "Traceback" not in response.text


async def test_two_browser_notification_answers_are_refused_and_nothing_is_saved(
    live_server: str, factory: Factory, services: Services
) -> None:
    user = await factory.user(Role.SACHBEARBEITER)
    async with logged_in(live_server, user) as client:
        response = await post_form(
            client,
            "/einstellungen",
            "browser_notifications=granted&browser_notifications=denied",
            page="/einstellungen",
        )

    assert_refused_page(response)
    async with services.db.session() as db:
        assert (await db.scalars(select(UserSettings))).all() == []


async def test_two_keys_to_reset_are_refused_and_the_stored_value_stays(
    live_server: str, factory: Factory, services: Services
) -> None:
    operator = await build_operator(factory)
    await services.runtime_settings.set(MAINTENANCE_BANNER, "Wartung")
    body = f"key={MAINTENANCE_BANNER}&key={LOG_LEVEL}"
    async with logged_in(live_server, operator) as client:
        page = await post_form(client, "/admin/settings/reset", body, page="/admin/settings")
        api = await post_form(
            client, "/admin/settings/reset", body, page="/admin/settings", json=True
        )

    assert_refused_page(page)
    assert api.status_code == 400
    assert api.json()["status_code"] == 400
    async with services.db.session() as db:
        row = await db.get(SystemSetting, MAINTENANCE_BANNER)
    assert row is not None and row.value == "Wartung"


async def test_two_step_counts_for_a_test_job_are_refused_and_no_job_starts(
    live_server: str, factory: Factory, services: Services
) -> None:
    operator = await build_operator(factory)
    async with logged_in(live_server, operator) as client:
        response = await post_form(
            client,
            "/admin/jobs/test-job",
            "dauer=1&schritte=2&schritte=3&ergebnis=never",
            page="/admin/jobs",
        )

    assert_refused_page(response)
    counts = await read_counts(services.jobs.queue(ADMIN_TEST.name))
    assert sum(counts.counts.values()) == 0


async def test_two_e_mail_addresses_on_the_login_form_are_refused(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    user = await factory.user()
    token = await csrf_token(client, "/anmelden")

    response = await client.post(
        "/anmelden",
        content=f"email={user.email}&email=x%40y.de&password=p&_csrf_token={token}".encode(),
        headers=FORM,
    )

    assert_refused_page(response)


async def test_a_csrf_token_sent_twice_is_not_a_server_error(
    live_server: str, factory: Factory
) -> None:
    user = await factory.user()
    async with logged_in(live_server, user) as client:
        token = await csrf_token(client, "/einstellungen")
        response = await client.post(
            "/einstellungen",
            content=f"_csrf_token={token}&_csrf_token={token}".encode(),
            headers=FORM,
        )

    assert 400 <= response.status_code < 500
