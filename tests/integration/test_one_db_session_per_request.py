"""A request opens one database session, shared by the user load, the guards and the handler.

Counted on the engine of an app instance the test owns (its own Services, served in the
test's event loop by httpx's ASGI transport): sessions that began a transaction, pool
checkouts (each one pre-pings the connection) and transactions (BEGIN). Only what runs in
the task that sends the request counts: the app's background tasks (the runtime settings
follower loads the settings at start) are not the request's doing.
"""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, update
from tests.support.factories import Factory
from tests.support.http import csrf_token, csrf_token_from
from tests.support.job_explorer import probe_queue
from tests.support.jobs import isolated, job_services, job_state
from tests.support.notifications import notify
from tests.support.pdfs import numbered_pdf

from ailawyer.app.asgi import create_app
from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.config import Settings
from ailawyer.db.models import Akte, Dokument, DokumentStatus, User
from ailawyer.dokumente.upload import IncomingFile, accept_uploads
from ailawyer.domain.roles import Role
from ailawyer.services import Services


class DatabaseUse:
    """What an app's engine did for the current task while `counting`."""

    def __init__(self, services: Services) -> None:
        self._counts: Counter[str] = Counter()
        self._sessions: set[int] = set()
        self._task: asyncio.Task[Any] | None = None
        engine = services.db.engine.sync_engine
        event.listen(engine, "checkout", lambda *_: self._count("checkouts"))
        event.listen(engine, "begin", lambda *_: self._count("transactions"))
        event.listen(services.db.sessionmaker.class_.sync_session_class, "after_begin", self._began)

    def _count(self, what: str) -> None:
        # SQLAlchemy's sync events run inside the awaiting task (greenlet), so it is current.
        if self._task is not None and asyncio.current_task() is self._task:
            self._counts[what] += 1

    def _began(self, session: Any, *_: Any) -> None:
        # The listener is on the Session class: the task filter keeps it to the request.
        if id(session) not in self._sessions:
            self._sessions.add(id(session))
            self._count("sessions")

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        self._counts.clear()
        self._sessions.clear()
        self._task = asyncio.current_task()
        try:
            yield self._counts
        finally:
            self._task = None


@pytest.fixture
async def app_services(settings: Settings) -> AsyncIterator[Services]:
    services = Services.create(settings)
    yield services
    await services.close()


@pytest.fixture
async def anwalt(factory: Factory) -> User:
    return await factory.user(Role.ANWALT, kanzlei=await factory.kanzlei())


@pytest.fixture
async def akte(factory: Factory, anwalt: User) -> Akte:
    return await factory.akte(anwalt.kanzlei_id, anwalt=anwalt)


@asynccontextmanager
async def signed_in(
    settings: Settings, services: Services, user: User
) -> AsyncIterator[httpx.AsyncClient]:
    """The test's own app, with `user`'s session cookie (created as the login does)."""
    token = await services.sessions.create(user.id, ip="127.0.0.1", user_agent="test")
    app = create_app(settings, services)
    async with (
        app.lifespan(),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        client.cookies.set(SESSION_COOKIE, token)
        yield client


@pytest.mark.parametrize("page", ["dashboard", "notification list", "Akte page"])
async def test_a_page_opens_one_session_with_one_pre_ping_and_one_transaction(
    settings: Settings, app_services: Services, anwalt: User, akte: Akte, page: str
) -> None:
    url = {"dashboard": "/", "notification list": "/api/notifications"}.get(
        page, f"/akten/{akte.id}"
    )
    use = DatabaseUse(app_services)
    async with signed_in(settings, app_services, anwalt) as client:
        with use.counting() as counts:
            response = await client.get(url)

    assert response.status_code == 200, response.text[:500]
    assert counts == {"sessions": 1, "checkouts": 1, "transactions": 1}


async def test_a_refused_upload_opens_one_session(
    settings: Settings, app_services: Services, anwalt: User, akte: Akte
) -> None:
    use = DatabaseUse(app_services)
    async with signed_in(settings, app_services, anwalt) as client:
        token = csrf_token_from((await client.get(f"/akten/{akte.id}")).text)
        with use.counting() as counts:
            # No PDF: refused before anything is stored; the form fallback shows the page.
            response = await client.post(
                f"/akten/{akte.id}/dokumente",
                files={"andere": ("x.txt", b"x", "text/plain")},
                data={"_csrf_token": token},
            )

    assert response.status_code == 400, response.text[:500]
    assert "Bitte wählen Sie mindestens eine PDF-Datei aus." in response.text
    # Two transactions: the handler ends the first before the body arrives, so a slow
    # upload holds no pooled connection; the page is then read in a second one.
    assert counts == {"sessions": 1, "checkouts": 2, "transactions": 2}


async def test_an_anonymous_request_opens_no_connection(
    settings: Settings, app_services: Services, anwalt: User
) -> None:
    use = DatabaseUse(app_services)
    async with signed_in(settings, app_services, anwalt) as client:
        client.cookies.clear()
        with use.counting() as counts:
            response = await client.get("/anmelden")

    assert response.status_code == 200
    assert counts == {}


async def test_marking_notifications_read_uses_the_request_session(
    settings: Settings, app_services: Services, anwalt: User
) -> None:
    first = await notify(
        app_services.db, app_services.notifications, anwalt.id, type="info", title="Eins"
    )
    await notify(app_services.db, app_services.notifications, anwalt.id, type="info", title="Zwei")
    use = DatabaseUse(app_services)
    async with signed_in(settings, app_services, anwalt) as client:
        token = csrf_token_from((await client.get("/")).text)
        headers = {"X-CSRFToken": token}
        with use.counting() as one:
            read = await client.post(f"/api/notifications/{first.id}/read", headers=headers)
        with use.counting() as everything:
            all_read = await client.post("/api/notifications/read-all", headers=headers)

    assert (read.status_code, read.json()["unread_count"]) == (200, 1)
    assert (all_read.status_code, all_read.json()["unread_count"]) == (200, 0)
    # One session, one checkout, one transaction: the write and the unread count it answers.
    assert one == everything == {"sessions": 1, "checkouts": 1, "transactions": 1}


async def test_retrying_a_dokument_uses_the_request_session(
    settings: Settings, factory: Factory, anwalt: User, akte: Akte
) -> None:
    # A key prefix of its own: no worker of the run takes the job this retry enqueues.
    async with job_services(isolated(settings)) as own:
        [dokument] = await accept_uploads(
            own,
            akte_id=akte.id,
            user_id=anwalt.id,
            uploads=[IncomingFile("a.pdf", io.BytesIO(numbered_pdf(1)))],
        )
        # Failed, and its job already removed by retention: rebuilt from the Dokument.
        await own.jobs.queue("dokumente").remove(dokument.job_id or "")
        async with own.db.session() as session:
            await session.execute(
                update(Dokument)
                .where(Dokument.id == dokument.id)
                .values(status=DokumentStatus.FEHLGESCHLAGEN)
            )
            await session.commit()
        use = DatabaseUse(own)
        async with signed_in(own.settings, own, anwalt) as client:
            token = csrf_token_from((await client.get("/")).text)
            with use.counting() as counts:
                response = await client.post(
                    f"/api/jobs/dokumente/{dokument.job_id}/retry",
                    headers={"X-CSRFToken": token},
                )
        requeued = await own.jobs.get_job("dokumente", dokument.job_id or "")

    assert response.status_code == 200, response.text[:500]
    assert requeued is not None
    # The user load, the access check and the Dokument's reset: one session, one transaction.
    assert counts == {"sessions": 1, "checkouts": 1, "transactions": 1}


async def test_the_explorer_retries_a_job_on_the_request_session(
    settings: Settings, app_services: Services, factory: Factory
) -> None:
    operator = await factory.user(Role.ADMIN, is_operator=True)
    use = DatabaseUse(app_services)
    async with (
        probe_queue(app_services, failed=1) as probe,
        signed_in(settings, app_services, operator) as client,
    ):
        (failed,) = probe.ids["failed"]
        token = await csrf_token(client, "/admin/jobs")
        with use.counting() as counts:
            response = await client.post(
                f"/admin/jobs/queues/{probe.name}/jobs/{failed}/retry",
                data={"_csrf_token": token},
            )
        state = await job_state(app_services, probe.name, failed)

    assert response.status_code == 303, response.text[:500]
    assert state == "waiting"
    # The user load, the owner check and the audit entry: one session, one transaction.
    assert counts == {"sessions": 1, "checkouts": 1, "transactions": 1}
