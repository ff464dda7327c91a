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
- Sessions: a socket is cut when its session ends, whichever process ends it
  (see session_guard.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import socketio
from litestar.types import ASGIApp
from socketio.exceptions import ConnectionRefusedError as Refused

from ailawyer.app.realtime.manager import RealtimeRedisManager
from ailawyer.app.realtime.session_guard import SessionGuard
from ailawyer.app.web.authentication import cookie_value, load_current_user
from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.config import ConfigurationError, Settings
from ailawyer.db.models import User
from ailawyer.domain.access import get_akte_for_user
from ailawyer.jobs.access import explorer_scope
from ailawyer.logs import get_logger
from ailawyer.realtime import events
from ailawyer.realtime.emitter import NAMESPACE, socketio_logger
from ailawyer.realtime.rooms import akte_room, job_explorer_room, role_room, user_room
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
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(slots=True)
class _Connection:
    user_id: int
    session_key: str
    akten: set[int] = field(default_factory=set)
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
        self._handshakes = asyncio.Semaphore(HANDSHAKE_CONCURRENCY)
        self._services: Services | None = None
        self._guard: SessionGuard | None = None
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on(events.AKTE_JOIN, self._on_akte_join)
        self.sio.on(events.AKTE_LEAVE, self._on_akte_leave)
        self.sio.on(events.JOBS_JOIN, self._on_jobs_join)

    def asgi_app(self, web_app: ASGIApp) -> ASGIApp:
        """One ASGI app: /socket.io/ to Socket.IO, everything else (and lifespan) to `web_app`."""
        return socketio.ASGIApp(self.sio, other_asgi_app=web_app, socketio_path=SOCKETIO_PATH)

    async def start(self, services: Services) -> None:
        """Begin serving with the process's Services (no second set of connections)."""
        self._services = services
        self._guard = SessionGuard(services.sessions, self._cut)
        self._guard.start()
        # python-socketio subscribes to Redis at the first connection; subscribing now
        # means no socket ever exists while its process is not yet listening.
        self.sio.manager_initialized = True
        self.sio.manager.initialize()

    async def stop(self) -> None:
        """Stop the background tasks (the web server closes the sockets themselves)."""
        if self._guard is not None:
            await self._guard.stop()
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
        async with self._handshakes:
            try:
                return await self._admit(sid, environ)
            except Refused:
                raise
            except Exception:
                # Without an answer the client would wait for ever; this one it retries.
                log.exception("socket handshake failed")
                self._forget(sid)
                raise Refused(UNAVAILABLE) from None

    async def _admit(self, sid: str, environ: dict[str, Any]) -> bool:
        """Authenticate the handshake and enter the user's rooms."""
        services = self._require_services()
        # A (re)connect is the page's script, not a person: it must not keep an unattended
        # tab's session alive (the page's own request already extended it).
        user = await load_current_user(
            services, cookie_value(environ["asgi.scope"], SESSION_COOKIE), touch=False
        )
        if user is None:
            raise Refused(REFUSED)
        # Also the TTL the guard schedules its first check by. Between here and the end of
        # this handler the session may end; the guard then flags the connection (below).
        ttl = await services.sessions.remaining_seconds(user.session_key)
        if ttl is None:
            raise Refused(REFUSED)
        connection = _Connection(user.id, user.session_key)
        self._connections[sid] = connection
        self._require_guard().add(user.session_key, sid, ttl)
        await self.sio.enter_room(sid, user_room(user.id))
        await self.sio.enter_room(sid, role_room(user.kanzlei_id, user.role))
        if connection.ended:
            self._forget(sid)
            raise Refused(REFUSED)
        log.debug("socket connected", userId=user.id)
        return True

    async def _on_disconnect(self, sid: str, reason: str) -> None:
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
        await self.sio.enter_room(sid, job_explorer_room(scope.kanzlei_id))
        return {"ok": True}

    def _require_services(self) -> Services:
        if self._services is None:
            raise RuntimeError("RealtimeServer.start() has not run")
        return self._services

    def _require_guard(self) -> SessionGuard:
        if self._guard is None:
            raise RuntimeError("RealtimeServer.start() has not run")
        return self._guard
