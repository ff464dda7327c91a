"""Another Kanzlei's or another user's Akte, Dokument, notification or job: 403/404, never data.

Driven by the app's route table: every route with a path parameter is requested, with every
method it serves, by each role of another Kanzlei and by a colleague of the victim who has no
access, with the victim's ids (and mixes of the caller's own ids with the victim's). Routes
added later are covered without touching this file; a path parameter it does not know fails
the test until it is classified below.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import httpx
from litestar.routes import HTTPRoute
from sqlalchemy import select
from tests.support.http import csrf_token, logged_in
from tests.support.personas import ROLES, Tenant
from tests.support.route_table import (
    NOT_TENANT_DATA,
    OWNED,
    SHARED,
    fill,
    http_routes,
    methods_of,
    owned_values,
)

from ailawyer.db.models import Dokument, Notification, User
from ailawyer.services import Services

# The job explorer shows a Kanzlei's ADMIN only its own Kanzlei's jobs (jobs/access.py):
# another Kanzlei's job is refused on every route, like its Akte.
REFUSED = frozenset({403, 404})


@dataclass(frozen=True)
class Attempt:
    method: str
    path: str
    # Whether a parameter names one of the victim's objects (else only shared values).
    names_victim_object: bool


def tenant_routes() -> list[HTTPRoute]:
    """Every route with a path parameter; fails on a parameter nobody classified."""
    routes = []
    for route in http_routes():
        if not route.path_parameters or route.path in NOT_TENANT_DATA:
            continue
        unknown = set(route.path_parameters) - set(OWNED) - set(SHARED)
        assert not unknown, f"{route.path}: classify {unknown} in OWNED or SHARED"
        routes.append(route)
    return routes


def attempts(route: HTTPRoute, victim: Tenant, own: Tenant | None) -> list[Attempt]:
    """The victim's ids, and each mix with the caller's own (e.g. own Akte, victim's Dokument)."""
    owned = [name for name in route.path_parameters if name in OWNED]
    choices = [victim, own] if own is not None else [victim]
    found: dict[str, Attempt] = {}
    for pick in itertools.product(choices, repeat=len(owned)):
        names_victim = victim in pick
        if owned and not names_victim:
            continue
        values = dict(SHARED)
        for name, tenant in zip(owned, pick, strict=True):
            values[name] = owned_values(tenant)[name]
        path = fill(route, values)
        for method in methods_of(route):
            # Changes without an object of the victim are installation-wide admin actions
            # (pause a queue, clean it): nothing of a Kanzlei to reach, so only reads.
            if not owned and method != "GET":
                continue
            found[f"{method} {path}"] = Attempt(method, path, names_victim)
    return list(found.values())


async def victim_state(services: Services, victim: Tenant) -> tuple[object, ...]:
    """What a refused request must leave as it was (no upload, no read, no retry)."""
    async with services.db.session() as db:
        notification = await db.get(Notification, victim.notification_id)
        assert notification is not None
        dokumente = (
            await db.scalars(select(Dokument.status).where(Dokument.akte_id == victim.akte.id))
        ).all()
    job = await services.jobs.get_job("dokumente", victim.job_id)
    assert job is not None
    return (notification.read_at, notification.dismissed_at, dokumente, await job.getState())


async def probe(
    client: httpx.AsyncClient,
    who: str,
    attempt: Attempt,
    must_not_show: list[str],
    token: str,
) -> list[str]:
    """Send one attempt; the reasons it failed (empty: refused as it must be)."""
    response = await client.request(
        attempt.method,
        attempt.path,
        headers={"x-csrftoken": token, "Accept": "application/json, text/html"},
        data={} if attempt.method != "GET" else None,
    )
    label = f"{who} {attempt.method} {attempt.path} -> {response.status_code}"
    problems = [f"{label} shows {word!r}" for word in must_not_show if word in response.text]
    if response.status_code >= 500:
        problems.append(f"{label}: server error")
    elif attempt.names_victim_object and response.status_code not in REFUSED:
        problems.append(f"{label}: expected 403 or 404")
    return problems


async def test_the_route_table_has_id_taking_routes_for_every_kind_of_object() -> None:
    parameters = {name for route in tenant_routes() for name in route.path_parameters}

    assert set(OWNED) <= parameters


async def test_no_route_gives_another_kanzlei_or_another_user_the_victims_data(
    live_server: str, services: Services, attacker: Tenant, victim: Tenant
) -> None:
    routes = tenant_routes()
    before = await victim_state(services, victim)
    # Each role of the other Kanzlei; then the victim's colleague without access, who may
    # see his own Kanzlei's people but none of the victim's objects.
    callers: list[tuple[str, User, Tenant | None, list[str]]] = [
        (role.value, attacker.users[role], attacker, victim.leaked) for role in ROLES
    ]
    callers.append(("kollege", victim.kollege, None, [victim.secret]))
    problems: list[str] = []
    sent = 0

    for who, user, own, must_not_show in callers:
        async with logged_in(live_server, user) as client:
            # A valid token: a refusal must come from the access rules, not from CSRF.
            token = await csrf_token(client, "/")
            for attempt in [a for route in routes for a in attempts(route, victim, own)]:
                problems += await probe(client, who, attempt, must_not_show, token)
                sent += 1

    assert problems == [], "\n".join(problems)
    assert await victim_state(services, victim) == before
    assert sent > 50, f"only {sent} requests: did the route table shrink?"
