"""Who may do what, as a table: every route and every client Socket.IO event, every persona.

The rows are generated from the app's route table and the server's handler table, so a new
route or event fails this test until someone writes down who may use it (README, "Who may
do what"). Each persona of `tests/support/personas.py` — the operator, the ADMIN of Kanzlei
A, the ADMIN of Kanzlei B, A's SACHBEARBEITER — and an anonymous visitor request every
route with every method it serves, with Kanzlei A's ids (and, for job routes, once more
with a job of no Kanzlei); the answer must be the one the table expects:

- ``ok``: the guards let the request through (2xx, a redirect that is not to the login
  page, or a 400/409/422 about the request's content),
- ``403``: refused by role,
- ``404``: refused as if the object did not exist (another Kanzlei's Akte or job),
- ``login``: anonymous visitors are sent to the login page (pages) or get 401 (API).

Requests that change something get fresh objects, so each persona meets the same state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx
from litestar.routes import HTTPRoute
from sqlalchemy import select
from tests.support.http import csrf_token, csrf_token_from, logged_in
from tests.support.job_schedulers import park_scheduler
from tests.support.personas import People, park_kanzlei_job, park_system_job
from tests.support.realtime import SocketClient, session_token
from tests.support.route_table import fill, http_routes, methods_of

from ailawyer.app.realtime.server import RealtimeServer
from ailawyer.config import Settings
from ailawyer.db.models import User
from ailawyer.realtime import events
from ailawyer.services import Services

PERSONAS = ("operator", "admin_a", "admin_b", "sachbearbeiter_a", "anonymous")
SIGNED_IN = PERSONAS[:-1]
READING = frozenset({"GET"})
# Sent with every write: no route may take it as a way to become operator.
SLIPPED_FLAG = {"is_operator": "true", "betreiber": "1", "operator": "1"}
# Answers that mean "the guards let it through, the content was refused".
CONTENT_REFUSALS = frozenset({400, 409, 413, 422})


def row(operator: str, admin_a: str, admin_b: str, sachbearbeiter_a: str, anonymous: str):
    """One line of the table, in the order of PERSONAS."""
    return dict(
        zip(PERSONAS, (operator, admin_a, admin_b, sachbearbeiter_a, anonymous), strict=True)
    )


EVERYONE = row("ok", "ok", "ok", "ok", "ok")
SIGNED_IN_ONLY = row("ok", "ok", "ok", "ok", "login")
# Kanzlei A's Akte and Dokument: its people (the operator runs the machine, not A's files).
AKTE_OF_A = row("404", "ok", "404", "ok", "login")
# Notifications belong to one user: sachbearbeiter_a.
OWN_NOTIFICATION = row("404", "404", "404", "ok", "login")
ADMINISTRATION = row("ok", "ok", "ok", "403", "login")
INSTALLATION = row("ok", "403", "403", "403", "login")
# A job of Kanzlei A in the explorer: the operator and A's ADMIN; B's ADMIN does not see it.
EXPLORER_JOB_OF_A = row("ok", "ok", "404", "403", "login")
# A job of no Kanzlei (the system queue) is the operator's: refused by role, like the queue.
EXPLORER_JOB_OF_NO_KANZLEI = row("ok", "403", "403", "403", "login")
# The retry API: the uploader (with access to the Akte), A's ADMIN and the operator.
RETRY_JOB_OF_A = row("ok", "ok", "404", "ok", "login")
RETRY_JOB_OF_NO_KANZLEI = row("ok", "403", "403", "403", "login")
# The system queue holds no Kanzlei's jobs: it is the operator's alone.
SYSTEM_QUEUE = row("ok", "403", "403", "403", "login")


@dataclass(frozen=True)
class Case:
    """One way to ask a route, and the answer each persona must get."""

    answers: dict[str, str]
    # "kanzlei": Kanzlei A's objects (and the `dokumente` queue); "system": a job of no Kanzlei.
    target: str = "kanzlei"
    # Appended to the path; "{job_id}" is replaced by the job of the target.
    query: str = ""


# Route -> the cases to ask it with (Kanzlei A's objects; a job of no Kanzlei; query strings).
TABLE: dict[str, list[Case]] = {
    "/anmelden": [Case(EVERYONE)],
    # Logging out sends everyone to the login page.
    "/abmelden": [Case(row("login", "login", "login", "login", "login"))],
    "/": [Case(SIGNED_IN_ONLY)],
    "/einstellungen": [Case(SIGNED_IN_ONLY)],
    "/api/settings/browser-notifications": [Case(SIGNED_IN_ONLY)],
    "/api/health": [Case(EVERYONE)],
    # Prometheus' route: a bearer token decides, not a person (METRICS_TOKEN); the run's
    # server has none, so the route does not exist for anyone.
    "/metrics": [Case(row("404", "404", "404", "404", "404"))],
    "/static/{file_path:path}": [Case(EVERYONE)],
    "/akten/{akte_id:int}": [Case(AKTE_OF_A)],
    "/akten/{akte_id:int}/dokumente": [Case(AKTE_OF_A)],
    "/akten/{akte_id:int}/dokumente/{dokument_id:int}/zeile": [Case(AKTE_OF_A)],
    "/akten/{akte_id:int}/dokumente/{dokument_id:int}": [Case(AKTE_OF_A)],
    "/api/notifications": [Case(SIGNED_IN_ONLY)],
    "/api/notifications/unread-count": [Case(SIGNED_IN_ONLY)],
    "/api/notifications/read-all": [Case(SIGNED_IN_ONLY)],
    "/api/notifications/after/{seq:int}": [Case(SIGNED_IN_ONLY)],
    "/api/notifications/{notification_id:int}/read": [Case(OWN_NOTIFICATION)],
    "/api/notifications/{notification_id:int}/dismiss": [Case(OWN_NOTIFICATION)],
    "/api/jobs/{queue:str}/{job_id:str}/retry": [
        Case(RETRY_JOB_OF_A),
        Case(RETRY_JOB_OF_NO_KANZLEI, target="system"),
    ],
    "/admin": [Case(ADMINISTRATION)],
    "/admin/benutzer": [Case(ADMINISTRATION)],
    "/admin/audit": [Case(ADMINISTRATION)],
    "/admin/jobs": [Case(ADMINISTRATION)],
    "/admin/jobs/panels": [Case(ADMINISTRATION)],
    "/admin/jobs/counts": [Case(ADMINISTRATION)],
    "/admin/jobs/queues/{queue:str}": [Case(ADMINISTRATION), Case(SYSTEM_QUEUE, target="system")],
    "/admin/jobs/queues/{queue:str}/list": [
        Case(ADMINISTRATION),
        Case(SYSTEM_QUEUE, target="system"),
    ],
    # Queue-level actions act on every Kanzlei's jobs at once.
    "/admin/jobs/test-job": [Case(INSTALLATION)],
    "/admin/jobs/queues/{queue:str}/confirm": [
        Case(INSTALLATION, query="?aktion=clean&status=completed"),
        Case(INSTALLATION, query="?aktion=retry-failed"),
        Case(EXPLORER_JOB_OF_A, query="?aktion=remove&job={job_id}"),
        Case(EXPLORER_JOB_OF_NO_KANZLEI, target="system", query="?aktion=remove&job={job_id}"),
    ],
    "/admin/jobs/queues/{queue:str}/pause": [Case(INSTALLATION)],
    "/admin/jobs/queues/{queue:str}/resume": [Case(INSTALLATION)],
    "/admin/jobs/queues/{queue:str}/retry-failed": [Case(INSTALLATION)],
    "/admin/jobs/queues/{queue:str}/clean": [Case(INSTALLATION)],
    "/admin/jobs/queues/{queue:str}/jobs/{job_id:str}": [
        Case(EXPLORER_JOB_OF_A),
        Case(EXPLORER_JOB_OF_NO_KANZLEI, target="system"),
    ],
    "/admin/jobs/queues/{queue:str}/jobs/{job_id:str}/detail": [
        Case(EXPLORER_JOB_OF_A),
        Case(EXPLORER_JOB_OF_NO_KANZLEI, target="system"),
    ],
    "/admin/jobs/queues/{queue:str}/jobs/{job_id:str}/retry": [
        Case(EXPLORER_JOB_OF_A),
        Case(EXPLORER_JOB_OF_NO_KANZLEI, target="system"),
    ],
    "/admin/jobs/queues/{queue:str}/jobs/{job_id:str}/remove": [
        Case(EXPLORER_JOB_OF_A),
        Case(EXPLORER_JOB_OF_NO_KANZLEI, target="system"),
    ],
    "/admin/jobs/queues/{queue:str}/jobs/{job_id:str}/promote": [
        Case(EXPLORER_JOB_OF_A),
        Case(EXPLORER_JOB_OF_NO_KANZLEI, target="system"),
    ],
    # Adding a job: a Kanzlei's ADMIN to the queues of Kanzlei jobs (as its own); a copy
    # (?vorlage=) only of a job it may see.
    "/admin/jobs/queues/{queue:str}/add": [
        Case(ADMINISTRATION),
        Case(SYSTEM_QUEUE, target="system"),
        Case(EXPLORER_JOB_OF_A, query="?vorlage={job_id}"),
        Case(EXPLORER_JOB_OF_NO_KANZLEI, target="system", query="?vorlage={job_id}"),
    ],
    "/admin/jobs/queues/{queue:str}/jobs/{job_id:str}/edit": [
        Case(EXPLORER_JOB_OF_A),
        Case(EXPLORER_JOB_OF_NO_KANZLEI, target="system"),
    ],
    "/admin/jobs/queues/{queue:str}/jobs/{job_id:str}/rerun": [
        Case(EXPLORER_JOB_OF_A),
        Case(EXPLORER_JOB_OF_NO_KANZLEI, target="system"),
    ],
    "/admin/jobs/queues/{queue:str}/promote-all": [Case(INSTALLATION)],
    "/admin/jobs/pause-all": [Case(INSTALLATION)],
    "/admin/jobs/resume-all": [Case(INSTALLATION)],
    # The operator types the name; a declared queue (both asked here) is refused anyway.
    "/admin/jobs/queues/{queue:str}/obliterate": [
        Case(INSTALLATION),
        Case(INSTALLATION, target="system"),
    ],
    # Job schedulers make jobs for whoever their template names: queue-level.
    "/admin/jobs/queues/{queue:str}/schedulers": [
        Case(INSTALLATION),
        Case(INSTALLATION, target="system"),
    ],
    "/admin/jobs/queues/{queue:str}/schedulers/{scheduler_id:str}": [
        Case(INSTALLATION, target="system")
    ],
    "/admin/jobs/queues/{queue:str}/schedulers/{scheduler_id:str}/remove": [
        Case(INSTALLATION, target="system")
    ],
    "/admin/system": [Case(INSTALLATION)],
    "/admin/system/status": [Case(INSTALLATION)],
    "/admin/system/logs": [Case(INSTALLATION)],
    "/admin/settings": [Case(INSTALLATION)],
    "/admin/settings/processes": [Case(INSTALLATION)],
    "/admin/settings/reset": [Case(INSTALLATION)],
    "/schema": [Case(INSTALLATION)],
    "/schema/openapi.json": [Case(INSTALLATION)],
    # Unknown schema files: 404 for the operator, refused for everyone else.
    "/schema/{path:str}": [Case(row("404", "403", "403", "403", "login"))],
}

# Client Socket.IO events: (payload maker, answers). "ok" = the server acknowledged {"ok": True}.
SOCKET_TABLE: dict[str, tuple[Callable[[People], object], dict[str, str]]] = {
    events.AKTE_JOIN: (lambda people: people.akte_a.id, row("no", "ok", "no", "ok", "-")),
    events.AKTE_LEAVE: (lambda people: people.akte_a.id, row("ok", "ok", "ok", "ok", "-")),
    events.JOBS_JOIN: (lambda people: None, row("ok", "ok", "ok", "no", "-")),
}


@dataclass(frozen=True)
class Request:
    method: str
    route: HTTPRoute
    case: Case

    @property
    def label(self) -> str:
        return f"{self.method} {self.route.path}{self.case.query} [{self.case.target}]"

    @property
    def needs_job(self) -> bool:
        return "job_id" in self.route.path_parameters or "{job_id}" in self.case.query


def requests() -> Iterator[Request]:
    """Every (method, route, target) the table has a line for; logout comes last."""
    routes = sorted(http_routes(), key=lambda route: route.path == "/abmelden")
    for route in routes:
        assert route.path in TABLE, f"{route.path}: write down who may use it in TABLE"
        for method in methods_of(route):
            for case in TABLE[route.path]:
                yield Request(method, route, case)


def verdict(response: httpx.Response) -> str:
    """The answer in the table's words."""
    status = response.status_code
    location = response.headers.get("location", "")
    if status == 401 or (response.is_redirect and location.startswith("/anmelden")):
        return "login"
    if status in (403, 404):
        return str(status)
    if status < 400 or status in CONTENT_REFUSALS:
        return "ok"
    return f"unexpected {status}"


class Targets:
    """Path values per request: Kanzlei A's objects, fresh ones for requests that change."""

    def __init__(self, services: Services, people: People) -> None:
        self.services = services
        self.people = people

    async def values(self, request: Request) -> dict[str, str]:
        people = self.people
        changes = request.method not in READING
        values = {
            "akte_id": str(people.akte_a.id),
            "dokument_id": str(people.dokument_a.id),
            "notification_id": str(people.notification_id),
            "seq": "0",
            "file_path": "css/app.css",
            "path": "gibt-es-nicht.json",
            "queue": "system" if request.case.target == "system" else "dokumente",
        }
        if "scheduler_id" in request.route.path_parameters:
            values["scheduler_id"] = await park_scheduler(self.services, values["queue"])
        if request.needs_job:
            if request.case.target == "system":
                values["job_id"] = await park_system_job(self.services)
            elif changes or not hasattr(self, "kanzlei_job"):
                job_id = await park_kanzlei_job(self.services, people)
                if not changes:
                    self.kanzlei_job = job_id
                values["job_id"] = job_id
            else:
                values["job_id"] = self.kanzlei_job
        return values


async def clients(
    stack: AsyncExitStack, live_server: str, people: People
) -> dict[str, tuple[httpx.AsyncClient, str]]:
    """A signed-in client with its CSRF token per persona, and an anonymous one."""
    found = {}
    for name, user in people.by_name().items():
        client = await stack.enter_async_context(logged_in(live_server, user))
        found[name] = (client, await csrf_token(client, "/"))
    anonymous = await stack.enter_async_context(httpx.AsyncClient(base_url=live_server, timeout=10))
    found["anonymous"] = (anonymous, csrf_token_from((await anonymous.get("/anmelden")).text))
    return found


async def resume_everything(services: Services) -> None:
    """Undo the operator's pause (other tests of the run need the queues running)."""
    for name in await services.jobs.known():
        await services.jobs.queue(name).resume()


async def test_every_route_answers_each_persona_as_the_table_says(
    live_server: str, services: Services, people: People
) -> None:
    targets = Targets(services, people)
    problems: list[str] = []
    asked = 0
    async with AsyncExitStack() as stack:
        by_persona = await clients(stack, live_server, people)
        try:
            for request in requests():
                for persona in PERSONAS:
                    client, token = by_persona[persona]
                    values = await targets.values(request)
                    path = fill(request.route, values) + request.case.query.format_map(values)
                    # Every write also tries to slip in the operator flag.
                    writes = request.method not in READING
                    response = await client.request(
                        request.method,
                        path,
                        headers={"x-csrftoken": token},
                        data=SLIPPED_FLAG if writes else None,
                    )
                    asked += 1
                    answer, want = verdict(response), request.case.answers[persona]
                    if answer != want:
                        problems.append(f"{persona} {request.label}: {answer}, expected {want}")
        finally:
            await resume_everything(services)

    assert problems == [], "\n".join(problems)
    assert asked >= len(TABLE) * len(PERSONAS)
    # No route made anyone operator: the flag is the command line's alone.
    async with services.db.session() as db:
        operators = set((await db.scalars(select(User.id).where(User.is_operator))).all())
    assert operators == {people.operator.id}


async def test_every_socket_event_answers_each_persona_as_the_table_says(
    live_server: str,
    settings: Settings,
    people: People,
    sockets: Callable[[], SocketClient],
) -> None:
    handled = set(RealtimeServer(settings).sio.handlers["/"]) - {"connect", "disconnect"}
    assert handled == set(SOCKET_TABLE), "write down who may send each event in SOCKET_TABLE"
    problems: list[str] = []

    for persona, user in people.by_name().items():
        socket = await sockets().connect(live_server, await session_token(live_server, user.email))
        for event, (payload, answers) in SOCKET_TABLE.items():
            answer = await socket.call(event, payload(people))
            granted = isinstance(answer, dict) and answer.get("ok") is True
            if ("ok" if granted else "no") != answers[persona]:
                problems.append(f"{persona} {event}: {answer!r}, expected {answers[persona]}")

    assert problems == [], "\n".join(problems)
