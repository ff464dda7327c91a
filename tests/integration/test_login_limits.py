"""Login limits over real HTTP against `ailawyer serve`: parallel bursts, many e-mails from
one address, and /api/health answering while a burst of password checks runs."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.support.factories import PASSWORD, Factory
from tests.support.http import csrf_token_from, login

from ailawyer.config import Settings
from ailawyer.services import Services

TOO_MANY = "Zu viele fehlgeschlagene Anmeldeversuche"
# The server checks one password at a time (~0.1 s, far more on a busy CI machine), so the
# last of a burst of 30 waits for all the others; no timing is asserted, only answers.
BURST_TIMEOUT_SECONDS = 90


@pytest.fixture
async def client(live_server: str, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """Like the suite's `client`, but patient enough for the end of a burst."""
    async with httpx.AsyncClient(base_url=live_server, timeout=BURST_TIMEOUT_SECONDS) as http:
        yield http


async def login_form_token(client: httpx.AsyncClient) -> str:
    return csrf_token_from((await client.get("/anmelden")).text)


async def attempt(
    client: httpx.AsyncClient, token: str, email: str, password: str
) -> httpx.Response:
    return await client.post(
        "/anmelden", data={"email": email, "password": password, "_csrf_token": token}
    )


def unknown_email() -> str:
    return f"niemand-{uuid.uuid4().hex[:10]}@kanzlei.example"


async def test_a_parallel_burst_of_wrong_passwords_gets_only_the_limit_checked(
    client: httpx.AsyncClient, factory: Factory, settings: Settings
) -> None:
    user = await factory.user()
    token = await login_form_token(client)

    answers = await asyncio.gather(
        *(attempt(client, token, user.email, "falsch-falsch") for _ in range(20))
    )

    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {401: settings.login_max_failures, 429: 20 - settings.login_max_failures}
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert TOO_MANY in refused.text
    assert int(refused.headers["retry-after"]) > 0
    # The right password, within the window, is refused too: the guesses used up the tries.
    right = await login(client, user.email)
    assert right.status_code == 429
    assert TOO_MANY in right.text


async def test_the_address_limit_holds_across_many_emails(
    client: httpx.AsyncClient, factory: Factory, settings: Settings
) -> None:
    user = await factory.user()
    limit = settings.login_address_max_failures
    token = await login_form_token(client)

    # One try short of the limit, each with another e-mail address (in parallel, too).
    answers = await asyncio.gather(
        *(attempt(client, token, unknown_email(), "falsch-falsch") for _ in range(limit - 1))
    )
    assert Counter(answer.status_code for answer in answers) == {401: limit - 1}
    # A success in between gives its try back, so it does not use up the address's last one.
    assert (await login(client, user.email)).status_code in (302, 303)
    client.cookies.clear()
    token = await login_form_token(client)
    assert (await attempt(client, token, unknown_email(), "falsch-falsch")).status_code == 401

    blocked = await attempt(client, token, user.email, PASSWORD)

    assert blocked.status_code == 429
    assert TOO_MANY in blocked.text
    assert int(blocked.headers["retry-after"]) > 0


async def test_health_answers_while_a_burst_of_password_checks_runs(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    token = await login_form_token(client)
    # As many as the address may try, so every one of them costs a full argon2 check.
    burst = [
        asyncio.create_task(attempt(client, token, unknown_email(), "falsch-falsch"))
        for _ in range(settings.login_address_max_failures)
    ]
    try:
        done, _ = await asyncio.wait(
            burst, timeout=BURST_TIMEOUT_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        assert done, "no login of the burst answered"

        async with httpx.AsyncClient(base_url=str(client.base_url), timeout=30) as other:
            health = await other.get("/api/health")
        still_checking = sum(not task.done() for task in burst)
    finally:
        answers = await asyncio.gather(*burst)

    assert health.status_code == 200
    assert health.json()["services"]["database"]["status"] == "up"
    # It was answered between the burst's password checks, not after all of them.
    assert still_checking > 0
    assert Counter(answer.status_code for answer in answers) == {401: len(burst)}
