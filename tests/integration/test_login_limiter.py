"""The failed-login limiter against the test Redis: reservations that parallel calls cannot
overtake, the per-address limit across e-mails, and what a success gives back."""

from __future__ import annotations

import asyncio
import uuid

from tests.support.jobs import wait_until

from ailawyer.auth.login_limit import Limit, LoginLimiter, Refusal
from ailawyer.services import Services

IP = "203.0.113.7"


def limiter(services: Services, account: Limit, address: Limit) -> LoginLimiter:
    """A limiter on a key prefix of its own."""
    return LoginLimiter(
        services.redis, prefix=f"t{uuid.uuid4().hex[:8]}", account=account, address=address
    )


async def test_parallel_reservations_never_exceed_the_account_limit(services: Services) -> None:
    limits = limiter(services, account=Limit(5, 900), address=Limit(1000, 900))

    answers = await asyncio.gather(*(limits.reserve("anna@kanzlei.example", IP) for _ in range(50)))

    assert sum(answer is None for answer in answers) == 5
    refusals = [answer for answer in answers if isinstance(answer, Refusal)]
    assert len(refusals) == 45
    assert {refusal.limit for refusal in refusals} == {"account"}
    assert all(0 < refusal.retry_after <= 900 for refusal in refusals)


async def test_the_address_limit_counts_every_email_from_one_address(services: Services) -> None:
    limits = limiter(services, account=Limit(5, 900), address=Limit(3, 600))

    first = [await limits.reserve(f"person{n}@kanzlei.example", IP) for n in range(3)]
    refused = await limits.reserve("noch-jemand@kanzlei.example", IP)

    assert first == [None, None, None]
    assert refused is not None
    assert refused.limit == "address"
    assert 0 < refused.retry_after <= 600
    # Another address is not affected.
    assert await limits.reserve("noch-jemand@kanzlei.example", "198.51.100.1") is None


async def test_a_refused_try_is_not_counted(services: Services) -> None:
    limits = limiter(services, account=Limit(1, 900), address=Limit(2, 900))
    assert await limits.reserve("anna@kanzlei.example", IP) is None

    for _ in range(5):
        assert await limits.reserve("anna@kanzlei.example", IP) is not None

    # The address has used one of its two tries, not six.
    assert await limits.reserve("bernd@kanzlei.example", IP) is None


async def test_a_success_ends_the_account_count_and_returns_the_address_try(
    services: Services,
) -> None:
    limits = limiter(services, account=Limit(3, 900), address=Limit(3, 900))
    for _ in range(2):
        assert await limits.reserve("anna@kanzlei.example", IP) is None
    assert await limits.reserve("anna@kanzlei.example", IP) is None  # the right password

    await limits.succeeded("anna@kanzlei.example", IP)

    # Anna has three tries again; the address had three, two of them failures.
    assert await limits.reserve("anna@kanzlei.example", IP) is None
    refused = await limits.reserve("anna@kanzlei.example", IP)
    assert refused is not None
    assert refused.limit == "address"


async def test_tries_are_allowed_again_after_the_window(services: Services) -> None:
    limits = limiter(services, account=Limit(2, 1), address=Limit(100, 900))
    for _ in range(2):
        assert await limits.reserve("anna@kanzlei.example", IP) is None
    refused = await limits.reserve("anna@kanzlei.example", IP)
    assert refused == Refusal(retry_after=1, limit="account")

    async def allowed() -> bool:
        return await limits.reserve("anna@kanzlei.example", IP) is None

    await wait_until(allowed, within=5, interval=0.1, what="the one-second window to end")
