"""The notification API: only the user's own notifications, CSRF on writes, all tabs told."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from tests.support.factories import Factory
from tests.support.http import csrf_token, login
from tests.support.notifications import notify
from tests.support.realtime import SocketClient

from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.db.models import User
from ailawyer.domain.roles import Role
from ailawyer.realtime import events
from ailawyer.services import Services


async def signed_in(client: httpx.AsyncClient, factory: Factory) -> tuple[User, dict[str, str]]:
    """A user logged in on `client`, and the CSRF header for writes."""
    user = await factory.user(Role.ANWALT)
    await login(client, user.email)
    return user, {"x-csrftoken": await csrf_token(client)}


async def test_the_list_is_newest_first_at_most_50_and_without_dismissed(
    client: httpx.AsyncClient, services: Services, factory: Factory
) -> None:
    user, csrf = await signed_in(client, factory)
    created = [
        await notify(services.db, services.notifications, user.id, type="info", title=f"Nr. {n}")
        for n in range(1, 53)
    ]
    await client.post(f"/api/notifications/{created[-1].id}/dismiss", headers=csrf)

    page = (await client.get("/api/notifications")).json()

    assert [n["seq"] for n in page["items"]] == list(range(51, 1, -1))
    assert (page["unread_count"], page["unread_seq"]) == (51, 52)
    assert page["last_seq"] == 52
    assert page["preferences"]["system_notifications"] is True
    assert page["preferences"]["ask_permission"] is True
    assert page["preferences"]["sounds"] == {
        "job-completed": False,
        "job-failed": False,
        "system-alert": False,
    }
    assert page["preferences"]["sound_urls"]["job-failed"] == "/static/vendor/sounds/job-failed.wav"


async def test_reading_and_dismissing_update_every_tab_of_the_user(
    client: httpx.AsyncClient,
    live_server: str,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
) -> None:
    user, csrf = await signed_in(client, factory)
    token = client.cookies[SESSION_COOKIE]
    tabs = [await sockets().connect(live_server, token) for _ in range(2)]
    first, second, third = [
        await notify(services.db, services.notifications, user.id, type="info", title=title)
        for title in ("Eins", "Zwei", "Drei")
    ]

    read = await client.post(f"/api/notifications/{first.id}/read", headers=csrf)
    dismissed = await client.post(f"/api/notifications/{second.id}/dismiss", headers=csrf)
    all_read = await client.post("/api/notifications/read-all", headers=csrf)

    assert read.json() == {"unread_count": 2, "unread_seq": 3}
    assert dismissed.json() == {"unread_count": 1, "unread_seq": 3}
    assert all_read.json() == {"unread_count": 0, "unread_seq": 3}
    for tab in tabs:
        await tab.wait_for(events.NOTIFICATION_READ, lambda data: "up_to_seq" in data)
        assert tab.received(events.NOTIFICATION_READ) == [
            {"ids": [first.id], "unread_count": 2, "unread_seq": 3},
            {"up_to_seq": third.seq, "unread_count": 0, "unread_seq": 3},
        ]
        assert tab.received(events.NOTIFICATION_DISMISSED) == [
            {"id": second.id, "unread_count": 1, "unread_seq": 3}
        ]
    unread = (await client.get("/api/notifications/unread-count")).json()
    assert unread == {"unread_count": 0, "unread_seq": 3}


async def test_reading_again_is_harmless_and_announced_once(
    client: httpx.AsyncClient,
    live_server: str,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
) -> None:
    user, csrf = await signed_in(client, factory)
    tab = await sockets().connect(live_server, client.cookies[SESSION_COOKIE])
    created = await notify(services.db, services.notifications, user.id, type="info", title="Eins")
    await tab.wait_for(events.NOTIFICATION)

    responses = [
        await client.post(f"/api/notifications/{created.id}/read", headers=csrf) for _ in range(2)
    ]
    await notify(services.db, services.notifications, user.id, type="info", title="Zwei")
    await tab.wait_for(events.NOTIFICATION, lambda data: data["title"] == "Zwei")

    assert [r.status_code for r in responses] == [200, 200]
    assert len(tab.received(events.NOTIFICATION_READ)) == 1


@pytest.mark.parametrize("action", ["read", "dismiss"])
async def test_another_users_notification_cannot_be_touched(
    client: httpx.AsyncClient, services: Services, factory: Factory, action: str
) -> None:
    _, csrf = await signed_in(client, factory)
    stranger = await factory.user(Role.ANWALT)
    theirs = await notify(
        services.db, services.notifications, stranger.id, type="info", title="Privat"
    )

    response = await client.post(f"/api/notifications/{theirs.id}/{action}", headers=csrf)

    assert response.status_code == 404
    async with services.db.session() as db:
        assert (await services.notifications.unread(db, stranger.id)).count == 1
    assert (await client.get("/api/notifications")).json()["items"] == []


async def test_writes_need_the_csrf_token(
    client: httpx.AsyncClient, services: Services, factory: Factory
) -> None:
    user, _ = await signed_in(client, factory)
    created = await notify(services.db, services.notifications, user.id, type="info", title="Eins")

    response = await client.post(f"/api/notifications/{created.id}/read")

    assert response.status_code == 403
    async with services.db.session() as db:
        assert (await services.notifications.unread(db, user.id)).count == 1


@pytest.mark.parametrize(
    "path", ["/api/notifications", "/api/notifications/unread-count", "/api/notifications/after/0"]
)
async def test_without_a_session_the_api_answers_401_in_json(
    client: httpx.AsyncClient, services: Services, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
