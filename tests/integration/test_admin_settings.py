"""`/admin/settings`: every runtime setting by category; saving validates, audits, publishes,
and the running app applies it (the maintenance banner on the next page); reset works."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import select
from tests.support.factories import Factory
from tests.support.http import csrf_token, login
from tests.support.jobs import wait_until
from tests.support.personas import build_operator
from tests.support.runtime_settings import processes_applied, wait_until_applied

from ailawyer.db.models import AuditLog, SystemSetting, User
from ailawyer.domain.roles import Role
from ailawyer.runtime_settings.definitions import (
    JOB_RETENTION_FAILED_SECONDS,
    LOG_LEVEL,
    MAINTENANCE_BANNER,
    RUNTIME_SETTINGS,
    job_concurrency,
)
from ailawyer.services import Services

pytestmark = pytest.mark.usefixtures("defaults_restored")

BANNER = MAINTENANCE_BANNER
CONCURRENCY = job_concurrency("test")
HTMX = {"hx-request": "true"}


@asynccontextmanager
async def admin_client(live_server: str, admin: User) -> AsyncIterator[httpx.AsyncClient]:
    """Logged in as `admin`, with the CSRF header htmx sends."""
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        await login(client, admin.email)
        client.headers["x-csrftoken"] = await csrf_token(client, "/admin/settings")
        yield client


async def stored(services: Services) -> dict[str, object]:
    async with services.db.session() as db:
        return {row.key: row.value for row in (await db.scalars(select(SystemSetting))).all()}


async def audit_entries(services: Services) -> list[AuditLog]:
    async with services.db.session() as db:
        return list((await db.scalars(select(AuditLog).order_by(AuditLog.id))).all())


def field(html: str, key: str) -> str:
    """The markup of one setting's block on the page."""
    match = re.search(
        rf'<div class="field runtime-setting[^"]*" data-setting="{re.escape(key)}">'
        r"(.*?)</div>\s*(?=<div class=\"field runtime-setting|</div>\s*</section>)",
        html,
        re.DOTALL,
    )
    assert match, f"no field for {key}"
    return match.group(1)


async def test_the_page_lists_every_setting_by_category_with_label_value_and_default(
    live_server: str, factory: Factory
) -> None:
    admin = await build_operator(factory)
    async with admin_client(live_server, admin) as client:
        response = await client.get("/admin/settings")

    assert response.status_code == 200
    html = response.text
    assert 'href="/admin/settings" aria-current="page"' in html
    for category, definitions in RUNTIME_SETTINGS.categories():
        assert f">{category}</h2>" in html
        for definition in definitions:
            block = field(html, definition.key)
            assert definition.label in block
            assert "Standard:" in block and "nicht geändert" in block
    assert 'name="log.level"' in html and '<option value="DEBUG"' in html
    assert 'name="jobs.concurrency.test" type="number"' in html
    assert 'Standard: <span class="mono">86.400</span>' in html  # German separators


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (CONCURRENCY, "0", "erlaubt ist eine ganze Zahl von 1 bis 100"),
        (CONCURRENCY, "viele", "erlaubt ist eine ganze Zahl von 1 bis 100"),
        (LOG_LEVEL, "LAUT", "erlaubt ist DEBUG, INFO, WARNING, ERROR oder CRITICAL"),
        (BANNER, "x" * 301, "erlaubt ist ein Text mit höchstens 300 Zeichen"),
    ],
)
async def test_an_invalid_value_is_refused_in_german_next_to_its_field_and_changes_nothing(
    live_server: str, factory: Factory, services: Services, key: str, value: str, message: str
) -> None:
    admin = await build_operator(factory)
    # A valid change in the same form is not saved either: the form is refused as a whole.
    form = {key: value, JOB_RETENTION_FAILED_SECONDS: "3600"}
    async with admin_client(live_server, admin) as client:
        plain = await client.post("/admin/settings", data=form)
        partial = await client.post("/admin/settings", data=form, headers=HTMX)

    for response in (plain, partial):
        assert response.status_code == 422
        block = field(response.text, key)
        assert "Ungültiger Wert für „" in block and message in block
        assert 'aria-invalid="true"' in block
        assert "Nichts wurde gespeichert." in response.text
    assert "<html" in plain.text and "<html" not in partial.text
    assert await stored(services) == {}
    assert await audit_entries(services) == []


async def test_a_save_is_stored_audited_and_applied_by_the_running_app(
    live_server: str, factory: Factory, services: Services
) -> None:
    kanzlei = await factory.kanzlei()
    admin = await factory.user(Role.ADMIN, kanzlei=kanzlei, is_operator=True)
    anwalt = await factory.user(Role.ANWALT, kanzlei=kanzlei)
    text = "Heute ab 18 Uhr <b>Wartung</b> – bitte speichern Sie Ihre Arbeit."
    async with admin_client(live_server, admin) as client:
        response = await client.post(
            "/admin/settings",
            data={BANNER: f"  {text}  ", CONCURRENCY: "3", LOG_LEVEL: "INFO"},
            headers=HTMX,
        )

    assert response.status_code == 200
    assert "Gespeichert: Wartungshinweis, Parallele Vorgänge: Testvorgang." in response.text
    assert response.headers["hx-trigger"] == "runtime-settings-saved"
    # The log level was already INFO (its default): no row, no audit entry for it.
    assert await stored(services) == {BANNER: text, CONCURRENCY: 3}
    entries = await audit_entries(services)
    assert [(e.action, e.target_type, e.target_id, e.details) for e in entries] == [
        ("setting.change", "setting", BANNER, {"old": "", "new": text}),
        ("setting.change", "setting", CONCURRENCY, {"old": 2, "new": 3}),
    ]
    # Installation-wide: in no Kanzlei's log, read by operators.
    assert {(e.user_id, e.kanzlei_id) for e in entries} == {(admin.id, None)}
    assert "geändert am" in field(response.text, BANNER)

    await wait_until_applied(services)
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as user_client:
        await login(user_client, anwalt.email)
        page = await user_client.get("/")
    shown = text.replace("<b>", "&lt;b&gt;").replace("</b>", "&lt;/b&gt;")
    assert "Wartungshinweis:</span> " + shown in page.text  # escaped, never markup


async def test_a_plain_form_post_redirects_back_with_a_confirmation(
    live_server: str, factory: Factory, services: Services
) -> None:
    admin = await build_operator(factory)
    async with admin_client(live_server, admin) as client:
        token = client.headers["x-csrftoken"]
        del client.headers["x-csrftoken"]
        response = await client.post(
            "/admin/settings", data={CONCURRENCY: "4", "_csrf_token": token}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/settings?gespeichert=1"
        page = await client.get(response.headers["location"])

    assert "Ihre Änderungen wurden gespeichert." in page.text
    assert await stored(services) == {CONCURRENCY: 4}


async def test_reset_returns_to_the_default_everywhere_and_is_audited(
    live_server: str, factory: Factory, services: Services
) -> None:
    admin = await build_operator(factory)
    async with admin_client(live_server, admin) as client:
        await client.post("/admin/settings", data={BANNER: "Wartung"}, headers=HTMX)
        page = (await client.get("/admin/settings")).text
        assert 'form="settings-reset" name="key" value="ui.maintenance_banner"' in page
        await wait_until_applied(services)

        response = await client.post("/admin/settings/reset", data={"key": BANNER}, headers=HTMX)

        assert response.status_code == 200
        assert "Auf den Standardwert zurückgesetzt: Wartungshinweis." in response.text
        assert 'value="ui.maintenance_banner"' not in response.text  # no reset button left
        assert await stored(services) == {}
        entries = await audit_entries(services)
        assert entries[-1].target_id == BANNER
        assert entries[-1].details == {"old": "Wartung", "new": "", "reset": True}
        await wait_until_applied(services)
        assert "Wartungshinweis:" not in (await client.get("/admin")).text

        unknown = await client.post("/admin/settings/reset", data={"key": "gibt.es.nicht"})
    assert unknown.status_code == 400


async def test_the_page_shows_which_processes_have_applied_the_latest_change(
    live_server: str, factory: Factory, services: Services
) -> None:
    admin = await build_operator(factory)
    # Emptying Redis before the test removed the live server's heartbeat; without it the
    # card would have no app row to mark (its next beat comes within a second).
    apps = await wait_until(services.apps.alive, within=5, what="the live server's heartbeat")
    async with admin_client(live_server, admin) as client:
        await client.post("/admin/settings", data={CONCURRENCY: "5"}, headers=HTMX)
        await wait_until_applied(services, {app["pid"] for app in apps})
        card = (await client.get("/admin/settings/processes")).text

    assert await processes_applied(services)
    for app in apps:
        row = re.search(
            rf'<tr data-process="{re.escape(app["host"])}:{app["pid"]}">(.*?)</tr>', card, re.DOTALL
        )
        assert row and "Aktuell" in row.group(1)
    assert "Änderung Nr. 1" in card
