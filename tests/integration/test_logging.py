"""Logging: JSON lines of one shape, context fields, runtime level (unless LOG_LEVEL pins
it), readable lines on a person's terminal, and no line lost on rotation. A full disk:
test_log_disk_full.py."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from ailawyer.logs import (
    LoggingStatus,
    bind_context,
    clear_context,
    configure_logging,
    follow_level_setting,
    get_logger,
    logging_status,
    set_log_level,
)

LEADING_FIELDS = ["timestamp", "level", "message", "logger", "process", "pid", "host"]
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SUBPROCESS_TIMEOUT = 90.0


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a log file, each parsed as one JSON object (strict UTF-8)."""
    text = path.read_bytes().decode("utf-8")
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def isolated_logging() -> Iterator[None]:
    """Undo configure_logging after the test, so other tests see logging as they left it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    touched = ("uvicorn", "uvicorn.error", "uvicorn.access")
    touched_state = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate)
        for name in touched
    }
    touched_levels = {name: logging.getLogger(name).level for name in touched}
    structlog_config = structlog.get_config()
    yield
    clear_context()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, (own_handlers, propagate) in touched_state.items():
        named = logging.getLogger(name)
        named.handlers[:] = own_handlers
        named.propagate = propagate
        named.setLevel(touched_levels[name])
    structlog.configure(**structlog_config)


def test_structlog_and_stdlib_lines_share_one_json_shape(
    isolated_logging: None, tmp_path: Path
) -> None:
    path = configure_logging("app", level="INFO", log_dir=tmp_path, stdout=False)
    log = get_logger("ailawyer.test")

    bind_context(user_id=7, akte_id=42, job_id="pdf:9", request_id="req-1")
    log.info("Akte geöffnet", seite=3)
    logging.getLogger("litestar").warning("stdlib %s", "Zeile")
    clear_context()
    log.info("ohne Kontext")

    lines = read_lines(path)
    assert [line["message"] for line in lines] == ["Akte geöffnet", "stdlib Zeile", "ohne Kontext"]
    for line in lines:
        assert list(line)[: len(LEADING_FIELDS)] == LEADING_FIELDS
        assert TIMESTAMP.fullmatch(line["timestamp"])
        assert line["process"] == "app"
        assert line["pid"] == os.getpid()
        assert line["host"] == socket.gethostname()
        assert "event" not in line
    structlog_line, stdlib_line, plain_line = lines
    context = {"userId": 7, "akteId": 42, "jobId": "pdf:9", "requestId": "req-1"}
    assert structlog_line | context == structlog_line
    assert stdlib_line | context == stdlib_line
    assert (structlog_line["level"], structlog_line["logger"]) == ("info", "ailawyer.test")
    assert (stdlib_line["level"], stdlib_line["logger"]) == ("warning", "litestar")
    assert structlog_line["seite"] == 3
    assert not set(context) & set(plain_line)


def test_exceptions_carry_their_traceback(isolated_logging: None, tmp_path: Path) -> None:
    path = configure_logging("worker", level="INFO", log_dir=tmp_path, stdout=False)

    try:
        raise ValueError("kaputt")
    except ValueError:
        get_logger("ailawyer.jobs").exception("Job fehlgeschlagen")
        logging.getLogger("bullmq").exception("stdlib fehlgeschlagen")

    lines = read_lines(path)
    assert [line["level"] for line in lines] == ["error", "error"]
    for line in lines:
        assert line["exception"].startswith("Traceback (most recent call last):")
        assert "ValueError: kaputt" in line["exception"]


def test_configuring_twice_adds_no_second_handler(isolated_logging: None, tmp_path: Path) -> None:
    first = configure_logging("cli", level="INFO", log_dir=tmp_path, stdout=False)
    second = configure_logging("cli", level="INFO", log_dir=tmp_path, stdout=False)
    get_logger("ailawyer.cli").info("einmal")

    assert first == second == tmp_path / f"cli-{socket.gethostname()}-{os.getpid()}.log"
    assert [line["message"] for line in read_lines(first)] == ["einmal"]
    with pytest.raises(ValueError):
        configure_logging("../elsewhere", level="INFO", log_dir=tmp_path, stdout=False)


def test_stdout_gets_the_same_utf8_json_lines(
    capsys: pytest.CaptureFixture[str], isolated_logging: None, tmp_path: Path
) -> None:
    path = configure_logging("app", level="INFO", log_dir=tmp_path, stdout=True)
    get_logger("ailawyer.test").info("Schriftsatz für Müller\nzweite Zeile")

    out_lines = capsys.readouterr().out.splitlines()
    assert len(out_lines) == 1
    assert "für Müller" in out_lines[0]  # raw UTF-8, not \u escapes
    assert json.loads(out_lines[0]) == read_lines(path)[0]
    assert read_lines(path)[0]["message"] == "Schriftsatz für Müller\nzweite Zeile"


def test_console_stdout_is_readable_while_the_file_stays_json(
    capsys: pytest.CaptureFixture[str],
    isolated_logging: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    path = configure_logging("app", level="INFO", log_dir=tmp_path, stdout=True, console=True)
    bind_context(akte_id=42)
    get_logger("ailawyer.test").info("Akte geöffnet", seite=3)
    logging.getLogger("uvicorn.error").warning("Cookie: ailawyer_session=geheim")

    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2, out
    assert re.match(r"\d\d:\d\d:\d\d \[info +\] Akte geöffnet +\[ailawyer.test\]", out[0])
    assert {"akteId=42", "process=app", "seite=3"} <= set(out[0].split())
    assert "geheim" not in out[1] and "[entfernt]" in out[1]  # redacted like the file
    file_lines = read_lines(path)
    assert [line["message"] for line in file_lines] == [
        "Akte geöffnet",
        "Cookie: [entfernt]",
    ]
    assert file_lines[0]["akteId"] == 42


def test_a_pinned_level_ignores_the_saved_level_and_an_unpinned_one_follows_it(
    isolated_logging: None, tmp_path: Path
) -> None:
    log = get_logger("ailawyer.test")
    path = configure_logging(
        "worker", level="WARNING", log_dir=tmp_path, stdout=False, level_pinned=True
    )
    follow_level_setting("DEBUG")
    log.info("gepinnt: nicht geschrieben")
    assert logging_status() == LoggingStatus(level="WARNING", level_pinned=True)

    configure_logging("worker", level="WARNING", log_dir=tmp_path, stdout=False)
    follow_level_setting("DEBUG")
    log.debug("gefolgt: geschrieben")
    assert logging_status() == LoggingStatus(level="DEBUG", level_pinned=False)
    assert [line["message"] for line in read_lines(path)] == ["gefolgt: geschrieben"]
    assert LoggingStatus.from_record(logging_status().as_record()) == logging_status()


def test_a_field_named_like_a_credential_is_removed_whole(
    isolated_logging: None, tmp_path: Path
) -> None:
    path = configure_logging("app", level="INFO", log_dir=tmp_path, stdout=False)
    get_logger("ailawyer.test").info(
        "Kopfzeilen", cookie="ailawyer_session=abc", Authorization="Bearer xyz", pfad="/akten"
    )

    (line,) = read_lines(path)
    assert (line["cookie"], line["Authorization"]) == ("[entfernt]", "[entfernt]")
    assert line["pfad"] == "/akten"


def test_bound_context_maps_names_adds_up_and_is_cleared(
    isolated_logging: None, tmp_path: Path
) -> None:
    path = configure_logging("worker", level="INFO", log_dir=tmp_path, stdout=False)
    log = get_logger("ailawyer.jobs")

    bind_context(job_id="j-1", user_id=None, queue="pdf")
    log.info("gebunden")
    bind_context(job_id="j-2", akte_id=5)
    log.info("ergänzt")
    clear_context()
    log.info("leer")

    bound, added, empty = read_lines(path)
    assert (bound["jobId"], bound["queue"]) == ("j-1", "pdf")
    assert "akteId" not in bound
    assert (added["jobId"], added["akteId"], added["queue"]) == ("j-2", 5, "pdf")
    assert "userId" not in added
    assert not {"jobId", "akteId", "queue"} & set(empty)


def test_set_log_level_takes_effect_for_the_next_line(
    isolated_logging: None, tmp_path: Path
) -> None:
    path = configure_logging("app", level="INFO", log_dir=tmp_path, stdout=False)
    log = get_logger("ailawyer.test")
    stdlib = logging.getLogger("ailawyer.stdlib")

    log.debug("structlog debug vorher")
    stdlib.debug("stdlib debug vorher")
    set_log_level("DEBUG")
    log.debug("structlog debug nachher")
    stdlib.debug("stdlib debug nachher")
    logging.getLogger("uvicorn.access").info("GET / 200")
    set_log_level("warning")
    log.info("structlog info bei warning")
    stdlib.warning("stdlib warning bei warning")

    assert [line["message"] for line in read_lines(path)] == [
        "structlog debug nachher",
        "stdlib debug nachher",
        "stdlib warning bei warning",
    ]
    with pytest.raises(ValueError):
        set_log_level("LOUD")


# One writer of the stress test: it waits for the "go" file so all writers rotate at once.
WRITER = textwrap.dedent(
    """
    import logging, os, sys, time
    from pathlib import Path
    from ailawyer.logs import bind_context, configure_logging, get_logger

    log_dir, sync_dir, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    configure_logging(
        "stress", level="INFO", log_dir=log_dir,
        max_bytes=20_000, backup_count=1_000, stdout=False,
    )
    log = get_logger("ailawyer.stress")
    stdlib = logging.getLogger("ailawyer.stress.stdlib")
    (sync_dir / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while not (sync_dir / "go").exists():
        if time.monotonic() > deadline:
            sys.exit("no go signal")
        time.sleep(0.002)
    for n in range(count):
        bind_context(n=n)
        if n % 2:
            stdlib.info("stdlib Zeile mit Umlaut ä\\nund Umbruch")
        else:
            log.info("structlog Zeile mit Umlaut ö\\nund Umbruch", payload="x" * 100)
    """
)

LOG_FILE = re.compile(r"stress-.+-(?P<pid>\d+)\.log(\.\d+)?")


def test_concurrent_processes_rotating_often_lose_no_line(tmp_path: Path) -> None:
    writers, count = 4, 5_000
    log_dir, sync_dir = tmp_path / "log", tmp_path / "sync"
    sync_dir.mkdir()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for index in range(writers):
            with (tmp_path / f"stderr-{index}").open("wb") as stderr:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-c", WRITER, str(log_dir), str(sync_dir), str(count)],
                        stdout=subprocess.DEVNULL,
                        stderr=stderr,
                    )
                )
        deadline = time.monotonic() + SUBPROCESS_TIMEOUT
        while len(list(sync_dir.glob("ready-*"))) < writers:
            assert all(proc.poll() is None for proc in procs), "a writer died before starting"
            assert time.monotonic() < deadline, "writers did not get ready in time"
            time.sleep(0.01)
        (sync_dir / "go").touch()
        for proc in procs:
            assert proc.wait(timeout=SUBPROCESS_TIMEOUT) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)

    # A logging error is printed to stderr and the line dropped, so stderr must stay empty.
    for index in range(writers):
        assert (tmp_path / f"stderr-{index}").read_text() == ""

    seen: Counter[tuple[int, int]] = Counter()
    files_per_pid: Counter[int] = Counter()
    for path in log_dir.iterdir():
        match = LOG_FILE.fullmatch(path.name)
        assert match, f"unexpected file {path.name}"
        file_pid = int(match["pid"])
        files_per_pid[file_pid] += 1
        for line in read_lines(path):
            # Each process writes only its own file.
            assert line["pid"] == file_pid
            assert "Umlaut" in line["message"] and "\n" in line["message"]
            seen[(line["pid"], line["n"])] += 1

    pids = {proc.pid for proc in procs}
    assert set(files_per_pid) == pids
    assert all(files > 10 for files in files_per_pid.values()), files_per_pid
    expected = {(pid, n) for pid in pids for n in range(count)}
    assert set(seen) == expected
    assert set(seen.values()) == {1}


FORKER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from ailawyer.logs import configure_logging, get_logger

    configure_logging("forker", level="INFO", log_dir=Path(sys.argv[1]), stdout=False)
    log = get_logger("ailawyer.fork")
    log.info("parent before fork")
    child = os.fork()
    if child == 0:
        log.info("child line")
        os._exit(0)
    deadline = time.monotonic() + 30
    while os.waitpid(child, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(child, 9)
            sys.exit("child did not exit")
        time.sleep(0.01)
    log.info("parent after fork")
    print(os.getpid(), child)
    """
)


def test_a_forked_child_writes_a_file_of_its_own(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", FORKER, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=True,
    )
    parent, child = (int(pid) for pid in result.stdout.split())
    host = socket.gethostname()

    parent_lines = read_lines(tmp_path / f"forker-{host}-{parent}.log")
    child_lines = read_lines(tmp_path / f"forker-{host}-{child}.log")
    assert [line["message"] for line in parent_lines] == ["parent before fork", "parent after fork"]
    assert [(line["message"], line["pid"]) for line in child_lines] == [("child line", child)]
