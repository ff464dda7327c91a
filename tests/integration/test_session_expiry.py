"""Sessions end by idle timeout and by absolute lifetime; an expired one leads to the login."""

from __future__ import annotations

import httpx
from tests.support.factories import Factory
from tests.support.http import login
from tests.support.jobs import wait_until

from ailawyer.auth.sessions import SESSION_COOKIE, session_key
from ailawyer.db.models import User
from ailawyer.services import Services


async def test_an_idle_expired_session_redirects_to_the_login(
    client: httpx.AsyncClient, factory: Factory, services: Services
) -> None:
    user = await factory.user()
    await login(client, user.email)
    key = session_key(client.cookies[SESSION_COOKIE])
    # The idle timeout is the key's TTL; let it run out now.
    redis_key = f"{services.sessions.prefix}:session:{key}"
    await services.redis.pexpire(redis_key, 1)

    async def expired() -> bool:
        return not await services.redis.exists(redis_key)

    # Past the 1 ms TTL, so the next request cannot renew it.
    await wait_until(expired, within=2, interval=0.005, what="the session's key to expire")

    response = await client.get("/")

    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/anmelden?next=/&hinweis=abgelaufen"


async def test_a_session_past_its_absolute_lifetime_is_refused_even_when_active(
    client: httpx.AsyncClient, factory: Factory, services: Services
) -> None:
    user = await factory.user()
    await login(client, user.email)
    key = session_key(client.cookies[SESSION_COOKIE])
    too_old = services.sessions.absolute_seconds + 60
    redis_key = f"{services.sessions.prefix}:session:{key}"
    created = float(await services.redis.hget(redis_key, "created_at"))
    await services.redis.hset(redis_key, "created_at", repr(created - too_old))

    response = await client.get("/")

    assert response.status_code in (302, 303)
    assert not await services.redis.exists(redis_key)


async def test_a_deactivated_user_loses_the_session_at_the_next_request(
    client: httpx.AsyncClient, factory: Factory, services: Services
) -> None:
    user = await factory.user()
    await login(client, user.email)
    assert (await client.get("/")).status_code == 200
    async with services.db.session() as db:
        row = await db.get(User, user.id)
        row.aktiv = False
        await db.commit()

    assert (await client.get("/")).status_code in (302, 303)
