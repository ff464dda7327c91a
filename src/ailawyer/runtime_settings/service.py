"""The runtime settings service: every process holds the current values and follows changes.

- Values come from SystemSetting rows, else the declared default of the process.
- A change is stored (`store` / `store_reset` in the caller's transaction, so the admin
  page commits it together with its audit entry), committed, then published (`publish`):
  `{"version", "values": {key: value}, "reset": [key]}` on `<prefix>:runtime-settings`.
  Every process applies it to its copy, calls the watchers of those keys (the worker's
  concurrency, the log level, ...) and acknowledges the version (see below).
- A process that missed messages re-reads everything: after every (re)subscription
  (redis-py reconnects a pub/sub connection silently and re-subscribes; the subscribe
  confirmation that follows is our signal) and, as a safety net, once a minute.
- Acknowledgements: `version` counts published changes (`INCR`, after the commit). After
  applying a message or a full re-read, each process stores the version it now reflects
  under `<prefix>:runtime-settings:applied:<host>:<pid>`, with the time; the admin page
  (and bench/settings_propagation.py) compares that with the current version. A re-read
  reads the version *before* the rows, so it never claims a change it has not read.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import os
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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


@dataclass(frozen=True)
class SettingChange:
    """One stored change: what the audit log records and the other processes apply."""

    key: str
    # Both in their JSON form, as effective values (the default where no row exists).
    old: Any
    new: Any
    # Back to the default: the row is gone and every process uses its own default.
    reset: bool = False


@dataclass(frozen=True)
class Acknowledgement:
    """Which change a process reflects, and since when (Unix time)."""

    version: int
    at: float

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)


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
        self._version_key = f"{self.channel}:version"
        self._applied_prefix = f"{self.channel}:applied:"
        self.resync_seconds = resync_seconds
        self._defaults = {d.key: d.default(settings) for d in registry}
        self._values: dict[str, Any] = dict(self._defaults)
        self._watchers: dict[str, list[Watcher]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._last_load = 0.0
        # A re-read and a change applied here (or from a message) take turns, so a re-read
        # that read the rows before a commit never overwrites the change applied after it.
        self._applying = asyncio.Lock()

    def get(self, key: str) -> Any:
        """The current value of `key` in this process (UnknownRuntimeSettingError if none)."""
        return self._values[self.registry[key].key]

    def default(self, key: str) -> Any:
        """The value of `key` in this process when nobody changed it."""
        return self._defaults[self.registry[key].key]

    def stored_value(self, row: SystemSetting | None, key: str) -> Any:
        """The stored value of `key` in its type, or the default (also for an invalid row)."""
        if row is None:
            return self._defaults[key]
        try:
            return self.registry[key].validate(row.value)
        except RuntimeSettingError:
            log.warning("invalid stored runtime setting ignored", key=key)
            return self._defaults[key]

    async def watch(self, key: str, watcher: Watcher) -> None:
        """Call `watcher(value)` now and after every change of `key` in this process."""
        key = self.registry[key].key
        self._watchers.setdefault(key, []).append(watcher)
        await self._call(watcher, key, self._values[key])

    def check(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The valid values in their types, and a German message for each invalid one."""
        valid: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for key, value in values.items():
            try:
                valid[key] = self.registry[key].validate(value)
            except RuntimeSettingError as error:
                errors[key] = str(error)
        return valid, errors

    async def store(
        self, session: AsyncSession, values: Mapping[str, Any], *, user_id: int | None
    ) -> list[SettingChange]:
        """Write the values that differ from the stored ones into `session` (not committed).

        `values` must be checked already (`check`). The rows are locked, so two admins
        saving at once each record the value they really replaced.
        """
        changes = []
        for key, value in values.items():
            definition = self.registry[key]
            new = definition.to_json(value)
            row = await session.get(SystemSetting, key, with_for_update=True)
            old = definition.to_json(self.stored_value(row, key))
            if row is None:
                if new == old:
                    continue  # still the default: no row, so a new default would apply
                row = SystemSetting(key=key)
                session.add(row)
            elif row.value == new:
                continue
            row.value = new
            row.updated_by_id = user_id
            changes.append(SettingChange(key=key, old=old, new=new))
        return changes

    async def store_reset(self, session: AsyncSession, key: str) -> SettingChange | None:
        """Remove the stored value of `key` in `session` (not committed); None if none was."""
        definition = self.registry[key]
        row = await session.get(SystemSetting, key, with_for_update=True)
        if row is None:
            return None
        old = definition.to_json(self.stored_value(row, key))
        await session.delete(row)
        return SettingChange(
            key=key, old=old, new=definition.to_json(self._defaults[key]), reset=True
        )

    async def publish(self, changes: Sequence[SettingChange]) -> None:
        """Apply committed changes here and tell every other process; call after the commit."""
        if not changes:
            return
        async with self._applying:
            for change in changes:
                await self._apply(change.key, self._value_of(change))
        message: dict[str, Any] = {
            "values": {c.key: c.new for c in changes if not c.reset},
            "reset": [c.key for c in changes if c.reset],
        }
        try:
            # Counted only now: a process that reads this version has the commit to read.
            message["version"] = await self.redis.incr(self._version_key)
            await self.redis.publish(self.channel, json.dumps(message))
        except RedisError as error:
            # Stored all the same; the others re-read when their Redis connection comes back.
            keys = [change.key for change in changes]
            log.warning("runtime settings not published", keys=keys, error=str(error))

    async def set(self, key: str, value: Any, *, user_id: int | None = None) -> Any:
        """Validate, store and publish one value; RuntimeSettingError (German) if invalid."""
        checked = self.registry[key].validate(value)
        async with self.db.session() as session:
            changes = await self.store(session, {key: checked}, user_id=user_id)
            await session.commit()
        await self.publish(changes)
        return checked

    async def current_version(self) -> int:
        """How many changes were published so far (0 for none)."""
        return int(await self.redis.get(self._version_key) or 0)

    async def acknowledgements(
        self, processes: Iterable[tuple[str, int]]
    ) -> list[Acknowledgement | None]:
        """The acknowledgement of each (host, pid), None for a process that sent none."""
        keys = [f"{self._applied_prefix}{host}:{pid}" for host, pid in processes]
        if not keys:
            return []
        return [
            Acknowledgement(**json.loads(raw)) if raw else None
            for raw in await self.redis.mget(keys)
        ]

    async def load(self) -> None:
        """Read every setting from the database and apply what changed."""
        async with self._applying:
            version = await self._read_version()
            async with self.db.session() as session:
                rows = (await session.scalars(select(SystemSetting))).all()
            stored = {row.key: row for row in rows}
            self._last_load = time.monotonic()
            for definition in self.registry:
                value = self.stored_value(stored.get(definition.key), definition.key)
                await self._apply(definition.key, value)
        await self._acknowledge(version)

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
        async with self._applying:
            for key, value in payload.get("values", {}).items():
                if key not in self.registry:
                    log.debug("runtime setting from a newer version ignored", key=key)
                    continue
                await self._apply(key, self.registry[key].validate(value))
            for key in payload.get("reset", []):
                if key in self.registry:
                    await self._apply(key, self._defaults[key])
        await self._acknowledge(payload.get("version"))

    def _value_of(self, change: SettingChange) -> Any:
        if change.reset:
            return self._defaults[change.key]
        return self.registry[change.key].validate(change.new)

    async def _read_version(self) -> int | None:
        try:
            return await self.current_version()
        except RedisError:
            return None  # Redis away: nothing to acknowledge to anyway

    async def _acknowledge(self, version: int | None) -> None:
        if version is None:
            return
        ack = json.dumps({"version": version, "at": time.time()})
        key = f"{self._applied_prefix}{socket.gethostname()}:{os.getpid()}"
        try:
            # Refreshed by every re-read (at least once a minute): a stopped process's
            # acknowledgement goes away by itself.
            await self.redis.set(key, ack, ex=math.ceil(self.resync_seconds * 3))
        except RedisError as error:
            log.warning("runtime settings not acknowledged", error=str(error))
            return
        log.debug("runtime settings acknowledged", version=version)

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
