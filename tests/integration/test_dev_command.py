"""`ailawyer dev` on a clean directory: embedded Redis + SQLite, demo logins, clean Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import httpx
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http

DEMO_LINE = re.compile(r"^\s*ADMIN\s+(\S+@\S+)\s+(\S+)\s*$", re.MULTILINE)
READABLE_LINE = re.compile(r"^\d\d:\d\d:\d\d \[(debug|info|warning|error|critical) *\] ")


def _clean_env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DATABASE_URL", "SECRET_KEY", "ENVIRONMENT", "LOG_DIR"}
    }
    env.update(DATA_DIR=str(tmp_path / "var"), PORT=str(port), HOST="127.0.0.1")
    return env


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_dev_starts_everything_on_a_clean_directory_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path,
) -> None:
    port = free_port()
    # NO_COLOR: the terminal's lines are compared as text below.
    env = {**_clean_env(tmp_path, port), "NO_COLOR": "1"}
    dev = AilawyerProcess(["dev"], env, tmp_path / "dev.out")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/anmelden", timeout=60, process=dev)
        login_page = httpx.get(f"{base}/anmelden", timeout=5)
        assert login_page.status_code == 200
        assert "Anmelden" in login_page.text

        match = DEMO_LINE.search(dev.output())
        assert match, dev.output()
        email, password = match.groups()
        with httpx.Client(base_url=base, timeout=10) as browser:
            token = re.search(r'name="_csrf_token" value="([^"]+)"', browser.get("/anmelden").text)
            assert token
            response = browser.post(
                "/anmelden",
                data={"email": email, "password": password, "_csrf_token": token.group(1)},
            )
            assert response.status_code == 302
            assert "Administration" in browser.get("/").text

        var = tmp_path / "var"
        assert (var / "ailawyer.sqlite3").exists()
        redis_pid = int((var / "redis" / "redis.pid").read_text())
        assert _pid_alive(redis_pid)
        assert list((var / "redis").glob("appendonly*")), "AOF is not on"

        dev.signal(signal.SIGINT)
        assert dev.wait(timeout=60) == 0, dev.output()[-3000:]
        deadline = time.monotonic() + 10
        while _pid_alive(redis_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _pid_alive(redis_pid), "embedded Redis outlived `ailawyer dev`"
    finally:
        dev.stop(timeout=10)
    _assert_readable_terminal_and_json_files(dev.output(), var / "log")


def _assert_readable_terminal_and_json_files(terminal: str, log_dir: Path) -> None:
    """The terminal is for people (structlog's console lines); the log files stay JSON."""
    assert not [line for line in terminal.splitlines() if line.startswith("{")]
    assert "\x1b[" not in terminal  # NO_COLOR is honoured
    # e.g. "14:03:07 [info     ] request   [ailawyer.app.web.middleware] method=GET path=/"
    readable = [line for line in terminal.splitlines() if READABLE_LINE.match(line)]
    assert any("path=/anmelden" in line and "process=app" in line for line in readable)
    assert any("process=worker" in line for line in readable)
    files = list(log_dir.glob("*.log"))
    assert {path.name.split("-")[0] for path in files} >= {"app", "worker"}
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            assert json.loads(line)["timestamp"].endswith("Z")


def test_dev_prints_the_demo_passwords_only_on_the_first_run(tmp_path: Path) -> None:
    port = free_port()
    env = _clean_env(tmp_path, port)
    outputs = []
    for run in range(2):
        dev = AilawyerProcess(["dev"], env, tmp_path / f"dev{run}.out")
        try:
            wait_for_http(f"http://127.0.0.1:{port}/anmelden", timeout=60, process=dev)
            assert bool(DEMO_LINE.search(dev.output())) is (run == 0)
        finally:
            dev.signal(signal.SIGINT)
            assert dev.wait(timeout=60) == 0, dev.output()[-3000:]
            dev.stop(timeout=5)
        outputs.append(dev.output())
    first, second = outputs
    assert "Demodaten sind bereits vorhanden" not in first
    # The second start says how to get in when the first output is gone.
    assert "Demodaten sind bereits vorhanden" in second
    assert "ailawyer user set-password --email admin@kanzlei.example" in second
