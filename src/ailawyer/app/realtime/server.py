"""The Socket.IO server of an app process, on the same port as the pages.

- Transport: WebSocket only, so any number of app processes work behind a load balancer
  without sticky sessions; events between processes go through Redis.
- Handshake: the page's session cookie; no or an ended session is refused with
  `ConnectionRefusedError("unauthorized")`, which socket.io-client does not retry (the
  page goes to the login). A failure on our side is refused as "unavailable", which the
  page retries later. Handshakes run at most HANDSHAKE_CONCURRENCY at a time.
- Origins: the page's own origin (its Host header) and those in ALLOWED_ORIGINS, checked
  by a function: an empty list would switch python-socketio's check off.
- Rooms (names in ailawyer.realtime.rooms): `user:{id}` and `role:{kanzlei}:{ROLE}` on
  connect; `akte:{id}` on request, after the one Akte access check; the job explorer's
  room on request: the operator's (every job) or a Kanzlei ADMIN's (its jobs only).
  Every ACCESS_RECHECK_SECONDS the rules are asked again for every socket (room_access.py):
  a socket leaves an Akte's room when its user lost the Akte, the explorer's room when it
  lost that explorer, and follows a changed role.
- Sessions: a socket is cut when its session ends, whichever process ends it
  (see session_guard.py).
- Unadmitted connections: an Engine.IO connection without an admitted Socket.IO session
  is closed CONNECT_DEADLINE_SECONDS after it opened (or after its session was cut).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import socketio
from litestar.types import ASGIApp
from socketio.exceptions import ConnectionRefusedError as Refused
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.app.realtime import engineio_poll
from ailawyer.app.realtime.manager import RealtimeRedisManager
from ailawyer.app.realtime.queue_events import EventsStreamReader, LocalOnly
from ailawyer.app.realtime.room_access import Standing, current_standing
from ailawyer.app.realtime.session_guard import SessionGuard
from ailawyer.app.web.authentication import cookie_value, load_current_user
from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.config import ConfigurationError, Settings
from ailawyer.db.id_batches import IN_LIST_MAX
from ailawyer.db.models import User
from ailawyer.domain.access import get_akte_for_user
from ailawyer.jobs.access import explorer_scope
from ailawyer.jobs.activity import JobActivity
from ailawyer.logs import get_logger
from ailawyer.realtime import events
from ailawyer.realtime.emitter import NAMESPACE, Emitter, socketio_logger
from ailawyer.realtime.rooms import akte_room, job_explorer_room, role_room, user_room
from ailawyer.redis_client import create_redis
from ailawyer.services import Services

log = get_logger(__name__)

SOCKETIO_PATH = "socket.io"
# Refusal reasons the browser acts on: log in again, or try again later.
REFUSED = "unauthorized"
UNAVAILABLE = "unavailable"
# Handshakes in flight per process. Each needs Redis and the database; after a restart
# thousands of tabs reconnect at once, and unbounded they would exhaust both pools
# (redis-py refuses the 101st concurrent command outright). The rest wait their turn.
HANDSHAKE_CONCURRENCY = 32
# A page joins one Akte; a few spare for tabs that navigate without reconnecting.
MAX_AKTE_ROOMS = 8
# Clients only send small control events; a big frame is abuse.
MAX_MESSAGE_BYTES = 16 * 1024
# An Engine.IO connection must have an admitted Socket.IO session this long after it
# opened, else it is closed: without this, anonymous clients held WebSockets open for as
# long as they liked by answering pings (50 stayed 40 s+). The browser sends its CONNECT
# right after the WebSocket opens; a handshake still running (waiting for its turn
# among HANDSHAKE_CONCURRENCY after a restart) is never cut.
CONNECT_DEADLINE_SECONDS = 10.0
DEADLINE_SWEEP_SECONDS = 0.5
# How long a socket may stay in a room its user lost access to (an Akte reassigned, a role
# changed). One pass costs two queries per RECHECK_SLICE sockets of the process.
ACCESS_RECHECK_SECONDS = 5.0
# Sockets per step of that pass: one IN list of their users.
RECHECK_SLICE = IN_LIST_MAX
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(slots=True)
class _Connection:
    user_id: int
    session_key: str
    role_room: str | None
    akten: set[int] = field(default_factory=set)
    explorer_room: str | None = None
    # Set when the session ended while the connect handler was still running.
    ended: bool = False


def _endpoint(scheme: str, netloc: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        return (parts.hostname or "", parts.port or DEFAULT_PORTS[scheme])
    except ValueError:  # a malformed port
        return None


def is_same_origin(origin: str, host_header: str) -> bool:
    """Whether a browser's Origin names the host (and port) the request was sent to."""
    scheme, _, netloc = origin.partition("://")
    if scheme not in DEFAULT_PORTS or not netloc or not host_header:
        return False
    ours = _endpoint(scheme, host_header)
    return ours is not None and bool(ours[0]) and _endpoint(scheme, netloc) == ours


class RealtimeServer:
    """Owns the AsyncServer; `start`/`stop` run in the web app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        if not settings.redis_url:
            raise ConfigurationError("REDIS_URL is not set; the Socket.IO server needs Redis.")
        self._allowed_origins = frozenset(o.rstrip("/") for o in settings.allowed_origins)
        engineio_poll.install()
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            client_manager=RealtimeRedisManager(
                settings.redis_url,
                settings.redis_key_prefix,
                on_resubscribed=self._resync_everyone,
            ),
            transports=["websocket"],
            cors_allowed_origins=self._origin_allowed,
            max_http_buffer_size=MAX_MESSAGE_BYTES,
            logger=socketio_logger(),
            engineio_logger=socketio_logger(),
        )
        self._connections: dict[str, _Connection] = {}
        # Socket.IO sids whose connect handler runs, and when each Engine.IO connection
        # (by its sid) must have an admitted session.
        self._admitting: set[str] = set()
        self._deadlines: dict[str, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._handshakes = asyncio.Semaphore(HANDSHAKE_CONCURRENCY)
        self._services: Services | None = None
        self._guard: SessionGuard | None = None
        self._queue_events: EventsStreamReader | None = None
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on(events.AKTE_JOIN, self._on_akte_join)
        self.sio.on(events.AKTE_LEAVE, self._on_akte_leave)
        self.sio.on(events.JOBS_JOIN, self._on_jobs_join)
        # python-socketio hears of each new Engine.IO connection through this handler;
        # ours wraps it to start the connection's deadline.
        self._socketio_on_engineio_connect = self.sio.eio.handlers["connect"]
        self.sio.eio.on("connect", self._on_engineio_connect)

    @property
    def connection_count(self) -> int:
        """Admitted (signed-in) Socket.IO connections of this process, for /metrics."""
        return len(self._connections)

    def asgi_app(self, web_app: ASGIApp) -> ASGIApp:
        """One ASGI app: /socket.io/ to Socket.IO, everything else (and lifespan) to `web_app`."""
        return socketio.ASGIApp(self.sio, other_asgi_app=web_app, socketio_path=SOCKETIO_PATH)

    async def start(self, services: Services) -> None:
        """Begin serving with the process's Services (no second set of connections)."""
        self._services = services
        self._guard = SessionGuard(services.sessions, self._cut)
        self._guard.start()
        self._tasks = [
            asyncio.create_task(self._close_unadmitted(), name="socket-connect-deadlines"),
            asyncio.create_task(self._recheck_rooms(), name="socket-room-access"),
        ]
        # Job changes of every client (Bull Board, Node, other processes) for the explorer
        # pages of this process; its own connection, since XREAD blocks it.
        local = Emitter(LocalOnly(self.sio))
        self._queue_events = EventsStreamReader(
            create_redis(services.settings.redis_url),
            services.jobs,
            JobActivity(services.jobs, local, metrics_prefix=services.settings.redis_key_prefix),
            lambda: self.sio.manager.rooms.get(NAMESPACE, {}).keys(),
        )
        self._queue_events.start()
        # python-socketio subscribes to Redis at the first connection; subscribing now
        # means no socket ever exists while its process is not yet listening.
        self.sio.manager_initialized = True
        self.sio.manager.initialize()

    async def stop(self) -> None:
        """Stop the background tasks (the web server closes the sockets themselves)."""
        if self._guard is not None:
            await self._guard.stop()
        if self._queue_events is not None:
            await self._queue_events.stop()
            self._queue_events = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        listener = getattr(self.sio.manager, "thread", None)
        if listener is not None:
            listener.cancel()
        await self.sio.shutdown()

    # --- handshake and session ------------------------------------------------------

    def _origin_allowed(self, origin: str | None, environ: dict[str, Any]) -> bool:
        if not origin:
            return False
        # The page's own origin always; ALLOWED_ORIGINS adds e.g. a second host name.
        return origin.rstrip("/") in self._allowed_origins or is_same_origin(
            origin, environ.get("HTTP_HOST", "")
        )

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> bool:
        self._admitting.add(sid)
        try:
            async with self._handshakes:
                return await self._admit(sid, environ)
        except Refused:
            raise
        except Exception:
            # Without an answer the client would wait for ever; this one it retries.
            log.exception("socket handshake failed")
            self._forget(sid)
            raise Refused(UNAVAILABLE) from None
        finally:
            self._admitting.discard(sid)

    async def _admit(self, sid: str, environ: dict[str, Any]) -> bool:
        """Authenticate the handshake and enter the user's rooms."""
        services = self._require_services()
        # A (re)connect is the page's script, not a person: it must not keep an unattended
        # tab's session alive (the page's own request already extended it).
        async with services.db.session() as db:
            user = await load_current_user(
                services, db, cookie_value(environ["asgi.scope"], SESSION_COOKIE), touch=False
            )
        if user is None:
            raise Refused(REFUSED)
        # Also the TTL the guard schedules its first check by. Between here and the end of
        # this handler the session may end; the guard then flags the connection (below).
        ttl = await services.sessions.remaining_seconds(user.session_key)
        if ttl is None:
            raise Refused(REFUSED)
        connection = _Connection(user.id, user.session_key, role_room(user.kanzlei_id, user.role))
        self._connections[sid] = connection
        self._require_guard().add(user.session_key, sid, ttl)
        await self.sio.enter_room(sid, user_room(user.id))
        await self.sio.enter_room(sid, connection.role_room)
        if connection.ended:
            self._forget(sid)
            raise Refused(REFUSED)
        log.debug("socket connected", userId=user.id)
        return True

    async def _on_disconnect(self, sid: str, reason: str) -> None:
        # The Engine.IO connection may stay open (a client that ignores the cut, or one that
        # left the namespace): it gets a new deadline like a fresh one.
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, NAMESPACE)
        if eio_sid is not None:
            self._deadlines[eio_sid] = time.monotonic() + CONNECT_DEADLINE_SECONDS
        self._forget(sid)

    def _forget(self, sid: str) -> None:
        connection = self._connections.pop(sid, None)
        if connection is not None and self._guard is not None:
            self._guard.discard(connection.session_key, sid)

    async def _cut(self, sid: str, reason: str) -> bool:
        """Tell the socket why, then disconnect it; False if it is still connecting."""
        connection = self._connections.get(sid)
        if connection is None:
            return True
        if not self.sio.manager.is_connected(sid, NAMESPACE):
            connection.ended = True
            return False
        # Local only: the guard of each process cuts its own sockets.
        await self.sio.emit(events.SESSION_ENDED, {"reason": reason}, to=sid, ignore_queue=True)
        await self.sio.disconnect(sid, ignore_queue=True)
        return True

    # --- connections without a session -----------------------------------------------

    async def _on_engineio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        answer = await self._socketio_on_engineio_connect(eio_sid, environ)
        self._deadlines[eio_sid] = time.monotonic() + CONNECT_DEADLINE_SECONDS
        return answer

    async def _close_unadmitted(self) -> None:
        """Close Engine.IO connections that have no admitted session by their deadline."""
        while True:
            await asyncio.sleep(DEADLINE_SWEEP_SECONDS)
            now = time.monotonic()
            due = [eio_sid for eio_sid, at in self._deadlines.items() if at <= now]
            for eio_sid in due:
                sid = self.sio.manager.sid_from_eio_sid(eio_sid, NAMESPACE)
                if sid in self._admitting:
                    continue  # the client did its part; the handshake decides
                del self._deadlines[eio_sid]
                if sid in self._connections:
                    continue
                try:
                    await self._close_engineio(eio_sid)
                except Exception:
                    log.exception("could not close an unadmitted connection")

    async def _close_engineio(self, eio_sid: str) -> None:
        """Close an Engine.IO connection and its WebSocket (no-op if it is gone)."""
        socket = self.sio.eio.sockets.get(eio_sid)
        await self.sio.eio.disconnect(eio_sid)
        if socket is not None:
            # python-engineio (4.15) only sends a CLOSE packet; its writer keeps the
            # WebSocket open until the client goes or ping_interval + ping_timeout (45 s)
            # pass, and a client that ignores CLOSE holds it that long. An empty
            # message ends the writer, which closes the WebSocket now.
            socket.queue.put_nowait(None)

    async def _resync_everyone(self) -> None:
        """After a Redis gap: events and control messages may be lost; recover both."""
        if self._guard is not None:
            self._guard.recheck_all()
        try:
            await self.sio.emit(events.RESYNC, {}, ignore_queue=True)
        except Exception:
            log.exception("could not ask clients to catch up")

    # --- Akte rooms -----------------------------------------------------------------

    async def _on_akte_join(self, sid: str, akte_id: Any = None) -> dict[str, Any]:
        connection = self._connections.get(sid)
        if connection is None:
            return {"ok": False, "error": "not_connected"}
        # bool is an int in Python; JSON true must not mean Akte 1.
        if type(akte_id) is not int:
            return {"ok": False, "error": "invalid"}
        if akte_id in connection.akten:
            return {"ok": True}
        if len(connection.akten) >= MAX_AKTE_ROOMS:
            return {"ok": False, "error": "too_many"}
        async with self._require_services().db.session() as db:
            # The user as stored now (role and assignments may have changed since connect).
            user = await db.get(User, connection.user_id)
            akte = await get_akte_for_user(db, user, akte_id) if user is not None else None
        if akte is None:
            log.info("akte room refused", userId=connection.user_id, akteId=akte_id)
            return {"ok": False, "error": "forbidden"}
        if sid not in self._connections:  # disconnected while we asked the database
            return {"ok": False, "error": "not_connected"}
        await self.sio.enter_room(sid, akte_room(akte_id))
        connection.akten.add(akte_id)
        return {"ok": True}

    # --- access that changes while a socket stays ------------------------------------

    async def _recheck_rooms(self) -> None:
        """Ask the access rules again for every socket; move those whose answer changed."""
        while True:
            await asyncio.sleep(ACCESS_RECHECK_SECONDS)
            sids = list(self._connections)
            try:
                async with self._require_services().db.session() as db:
                    # A slice at a time, each answer followed before the next is asked:
                    # all 5,000 sockets of a process in one go held the event loop for
                    # ~75 ms, and a notification arriving meanwhile waited that long
                    # (bench/RESULTS.md, issue 15).
                    for start in range(0, len(sids), RECHECK_SLICE):
                        await self._recheck_slice(db, sids[start : start + RECHECK_SLICE])
            except Exception as error:
                # Database away: keep the rooms until a later pass can ask.
                log.warning("room access re-check failed; will retry", error=repr(error))

    async def _recheck_slice(self, db: AsyncSession, sids: list[str]) -> None:
        sockets = {
            sid: (connection.user_id, frozenset(connection.akten))
            for sid in sids
            if (connection := self._connections.get(sid)) is not None
        }
        if not sockets:
            return
        standings = await current_standing(db, sockets)
        for sid, standing in standings.items():
            await self._follow(sid, standing)

    async def _follow(self, sid: str, standing: Standing) -> None:
        connection = self._connections.get(sid)
        if connection is None:  # disconnected meanwhile
            return
        for akte_id in standing.forbidden_akten & connection.akten:
            await self.sio.leave_room(sid, akte_room(akte_id))
            connection.akten.discard(akte_id)
            log.info("left akte room: access lost", userId=connection.user_id, akteId=akte_id)
        if connection.explorer_room not in (None, standing.explorer_room):
            await self.sio.leave_room(sid, connection.explorer_room)
            connection.explorer_room = None
            log.info("left job explorer room: access lost", userId=connection.user_id)
        if connection.role_room != standing.role_room:
            if connection.role_room is not None:
                await self.sio.leave_room(sid, connection.role_room)
            if standing.role_room is not None:
                await self.sio.enter_room(sid, standing.role_room)
            connection.role_room = standing.role_room

    async def _on_akte_leave(self, sid: str, akte_id: Any = None) -> dict[str, Any]:
        connection = self._connections.get(sid)
        if connection is None or type(akte_id) is not int:
            return {"ok": False, "error": "invalid"}
        if akte_id in connection.akten:
            await self.sio.leave_room(sid, akte_room(akte_id))
            connection.akten.discard(akte_id)
        return {"ok": True}

    # --- the job explorer's room -----------------------------------------------------

    async def _on_jobs_join(self, sid: str, _data: Any = None) -> dict[str, Any]:
        connection = self._connections.get(sid)
        if connection is None:
            return {"ok": False, "error": "not_connected"}
        async with self._require_services().db.session() as db:
            # The user as stored now: a socket opened before a demotion must not join.
            user = await db.get(User, connection.user_id)
        # The operator's room has every job's events, a Kanzlei ADMIN's only its own jobs'.
        scope = explorer_scope(user) if user is not None else None
        if scope is None:
            log.info("job explorer room refused", userId=connection.user_id)
            return {"ok": False, "error": "forbidden"}
        if sid not in self._connections:  # disconnected while we asked the database
            return {"ok": False, "error": "not_connected"}
        # Left with the socket: an explorer page's socket closes when the page does.
        connection.explorer_room = job_explorer_room(scope.kanzlei_id)
        await self.sio.enter_room(sid, connection.explorer_room)
        await self._watch_new_queues()
        return {"ok": True}

    async def _watch_new_queues(self) -> None:
        """Have the events reader follow a queue created since its last look (the one the
        joining page shows, perhaps); the page still goes live if Redis fails here."""
        if self._queue_events is None:
            return
        try:
            await self._queue_events.watch_new_queues()
        except Exception as error:
            log.warning("queues not looked for", error=repr(error))

    def _require_services(self) -> Services:
        if self._services is None:
            raise RuntimeError("RealtimeServer.start() has not run")
        return self._services

    def _require_guard(self) -> SessionGuard:
        if self._guard is None:
            raise RuntimeError("RealtimeServer.start() has not run")
        return self._guard
