"""After a Redis restart, every pooled connection reconnects on its next command, and the
process notices that Redis came back (it may have lost data: the workers then repair it).

Found by the chaos suite: with the synchronous `redis.retry.Retry` in an asyncio client,
nothing was retried, and each stale pooled connection failed one request (a 500 page,
a lost session check) long after Redis was back.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ailawyer.embedded_redis import RedisServer
from ailawyer.redis_client import RedisReturns, create_redis

POOLED = 20


async def test_pooled_connections_survive_a_redis_restart(tmp_path: Path) -> None:
    # A Redis of its own: restarting the run's shared one would disturb other tests.
    server = RedisServer(data_dir=tmp_path / "redis")
    server.start()
    redis = create_redis(server.url)
    try:
        # Concurrent blocking calls leave that many connections in the pool.
        await asyncio.gather(*(redis.blpop(["nothing"], 0.1) for _ in range(POOLED)))
        await asyncio.to_thread(server.restart)
        results = await asyncio.gather(
            *(redis.get("key") for _ in range(POOLED)), return_exceptions=True
        )
    finally:
        await redis.aclose()
        server.stop()
    assert [r for r in results if isinstance(r, Exception)] == []


async def test_a_return_of_redis_is_noticed_once_after_a_restart_and_after_an_outage(
    tmp_path: Path,
) -> None:
    server = RedisServer(data_dir=tmp_path / "redis")
    server.start()
    redis = create_redis(server.url)
    returns = RedisReturns(redis)
    try:
        assert [await returns.came_back(), await returns.came_back()] == [False, False]

        # Back within the client's retries: only the new server's run id tells.
        await asyncio.to_thread(server.restart)
        assert [await returns.came_back(), await returns.came_back()] == [True, False]

        await asyncio.to_thread(server.kill)
        assert await returns.came_back() is False, "away"
        await asyncio.to_thread(server.start)
        assert [await returns.came_back(), await returns.came_back()] == [True, False]
    finally:
        await redis.aclose()
        server.stop()
