"""Redis connections for every process, configured once.

redis-py 8 defaults to a 5 s socket timeout; bullmq's blocking calls then never wake
an idle worker for delayed jobs (see ARCHITECTURE.md). Every connection is made here
with `socket_timeout=None` so no caller can forget it.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError

CONNECT_TIMEOUT_SECONDS = 5.0
MAX_CONNECTIONS = 100
# How long a command waits for a free pooled connection before failing.
POOL_WAIT_SECONDS = 10.0


def redis_options() -> dict[str, Any]:
    """Connection options shared by our clients and bullmq's (all asyncio clients).

    The retry must be `redis.asyncio.retry.Retry`: the synchronous `redis.retry.Retry` is
    accepted too, but its loop only calls the coroutine function and returns the
    coroutine, so a failure is raised after the loop and nothing is ever retried. After
    a Redis restart every pooled connection then failed its next command once.
    """
    return {
        "socket_timeout": None,
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "health_check_interval": 15,
        "retry": Retry(ExponentialWithJitterBackoff(cap=2.0, base=0.05), retries=3),
    }


def create_redis(url: str, *, decode_responses: bool = True) -> Redis:
    """A client for `url` (redis://, rediss:// or unix://)."""
    # redis-py refuses the 101st concurrent command with MaxConnectionsError. A burst of
    # requests (hundreds of tabs reconnecting and catching up after an app restart, as
    # the chaos run does) then turns into 500s; a blocking pool makes the surplus wait.
    pool = BlockingConnectionPool.from_url(
        url,
        decode_responses=decode_responses,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT_SECONDS,
        **redis_options(),
    )
    return Redis.from_pool(pool)


class RedisReturns:
    """Notices that Redis came back: answered again after this process could not reach it,
    or a different server answers than before (restarted, failed over). Either may have
    lost data; the caller repairs what lives only in Redis (`ailawyer.worker.maintenance`).
    """

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        # The `run_id` of the server last seen: a new one on every start of redis-server.
        self._run_id: str | None = None
        self._lost = False

    async def came_back(self) -> bool:
        """Ask Redis once; True the first time it answers after it was away or replaced."""
        try:
            run_id = str((await self._redis.info("server"))["run_id"])
        except (RedisError, OSError):
            self._lost = True
            return False
        returned = self._run_id is not None and (self._lost or run_id != self._run_id)
        self._run_id, self._lost = run_id, False
        return returned
