"""The runtime settings service: every process holds the current values and follows changes.

- Values come from SystemSetting rows, else the declared default.
- `set()` validates, writes the row, commits, then publishes `{"key", "value"}` on
  `<prefix>:runtime-settings`; every process applies it to its copy and calls the
  watchers of that key (e.g. the worker's concurrency, the log level).
- A process that missed messages re-reads everything: after every (re)subscription
  (redis-py reconnects a pub/sub connection silently and re-subscribes; the subscribe
  confirmation that follows is our signal) and, as a safety net, once a minute.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from ailawyer.config import Settings
from ailawyer.db.models import SystemSetting
from ailawyer.db.session import Database
from ailawyer.logs import get_logger
from ailawyer.runtime_settings.definitions import RUNTIME_SETTINGS
from ailawyer.runtime_settings.registry import RuntimeSettingError, RuntimeSettingsRegistry

log = get_logger(__name__)

Watcher = Callable[[Any], Awaitable[None] | None]

RESYNC_SECONDS = 60.0
RECONNECT_SECONDS = 1.0


class RuntimeSettings:
    """This process's view of the runtime settings."""

    def __init__(
        self,
        *,
        db: Database,
        redis: Redis,
        settings: Settings,
        registry: RuntimeSettingsRegistry = RUNTIME_SETTINGS,
        resync_seconds: float = RESYNC_SECONDS,
    ) -> None:
        self.db = db
        self.redis = redis
        self.registry = registry
        self.channel = f"{settings.redis_key_prefix}:runtime-settings"
        self.resync_seconds = resync_seconds
        self._defaults = {d.key: d.default(settings) for d in registry}
        self._values: dict[str, Any] = dict(self._defaults)
        self._watchers: dict[str, list[Watcher]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._last_load = 0.0

    def get(self, key: str) -> Any:
        """The current value of `key` in this process (UnknownRuntimeSettingError if none)."""
        return self._values[self.registry[key].key]

    async def watch(self, key: str, watcher: Watcher) -> None:
        """Call `watcher(value)` now and after every change of `key` in this process."""
        key = self.registry[key].key
        self._watchers.setdefault(key, []).append(watcher)
        await self._call(watcher, key, self._values[key])

    async def set(self, key: str, value: Any, *, user_id: int | None = None) -> Any:
        """Validate, store and publish a new value; RuntimeSettingError (German) if invalid."""
        definition = self.registry[key]
        checked = definition.validate(value)
        async with self.db.session() as session:
            row = await session.get(SystemSetting, key)
            if row is None:
                row = SystemSetting(key=key)
                session.add(row)
            row.value = definition.to_json(checked)
            row.updated_by_id = user_id
            await session.commit()
        # Published only after the commit: a process re-reading on this message sees the row.
        await self._apply(key, checked)
        message = json.dumps({"key": key, "value": definition.to_json(checked)})
        try:
            await self.redis.publish(self.channel, message)
        except RedisError as error:
            # Stored all the same; the others re-read when their Redis connection comes back.
            log.warning("runtime setting not published", key=key, error=str(error))
        return checked

    async def load(self) -> None:
        """Read every setting from the database and apply what changed."""
        async with self.db.session() as session:
            rows = (await session.scalars(select(SystemSetting))).all()
        stored = {row.key: row.value for row in rows}
        self._last_load = time.monotonic()
        for definition in self.registry:
            value = self._defaults[definition.key]
            if definition.key in stored:
                try:
                    value = definition.validate(stored[definition.key])
                except RuntimeSettingError:
                    log.warning("invalid stored runtime setting ignored", key=definition.key)
            await self._apply(definition.key, value)

    async def start(self) -> None:
        """Load the current values and follow changes until `stop()`; idempotent."""
        if self._listener is not None:
            return
        await self.load()
        self._listener = asyncio.create_task(self._listen(), name="runtime-settings")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    message = await pubsub.get_message(timeout=self.resync_seconds)
                    await self._handle(message)
            except (RedisError, OSError) as error:
                log.warning("runtime settings: Redis connection lost", error=str(error))
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad message or database trouble must not end the listener
                log.exception("runtime settings listener failed; restarting")
            finally:
                try:
                    await pubsub.aclose()
                except (RedisError, OSError):
                    log.debug("closing a broken pub/sub connection failed")
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _handle(self, message: dict[str, Any] | None) -> None:
        kind = message["type"] if message else None
        if kind == "subscribe" or time.monotonic() - self._last_load >= self.resync_seconds:
            # (Re)subscribed: whatever was published while we were away is in the database.
            await self.load()
        if kind != "message":
            return
        assert message is not None
        payload = json.loads(message["data"])
        key = payload.get("key")
        if key not in self.registry:
            log.debug("runtime setting from a newer version ignored", key=key)
            return
        await self._apply(key, self.registry[key].validate(payload["value"]))

    async def _apply(self, key: str, value: Any) -> None:
        if self._values.get(key) == value:
            return
        self._values[key] = value
        log.info("runtime setting applied", key=key, value=value)
        for watcher in self._watchers.get(key, []):
            await self._call(watcher, key, value)

    @staticmethod
    async def _call(watcher: Watcher, key: str, value: Any) -> None:
        try:
            result = watcher(value)
            if inspect.isawaitable(result):
                await result
        except Exception:  # one broken watcher must not keep the others from the change
            log.exception("runtime setting watcher failed", key=key)
