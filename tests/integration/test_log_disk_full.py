"""A full log disk, for real (a tiny tmpfs): lines are dropped with one warning instead of a
traceback each, no torn JSON line is left, logging resumes when space returns, and the
state reaches the heartbeat, /api/health and the system page."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import process_env
from tests.support.jobs import wait_until
from tests.support.processes import AilawyerProcess
from tests.support.tiny_disk import fill, tiny_tmpfs
from tests.support.worker_processes import stop_all

from ailawyer.config import Settings
from ailawyer.runtime_settings.definitions import MAINTENANCE_BANNER
from ailawyer.services import Services

DROPPED = "log lines dropped: cannot write"
RESUMED = "log lines dropped: writing resumed"
TIMEOUT = 60.0

# Logs `count` lines of varying length per phase and prints its logging status after each;
# the second phase starts when the test writes a line to its stdin.
WRITER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from ailawyer.logs import configure_logging, get_logger, logging_status

    configure_logging("full", level="INFO", log_dir=Path(sys.argv[1]), stdout=False)
    log = get_logger("ailawyer.full")

    def phase(name, count):
        for n in range(count):
            log.info("Zeile für die volle Platte", phase=name, n=n, payload="ü" * (100 + n % 700))
        print(json.dumps(logging_status().as_record()), flush=True)

    phase("full", int(sys.argv[2]))
    sys.stdin.readline()
    phase("freed", 20)
    """
)


def read_lines(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert data.endswith(b"\n"), f"torn last line: {data[-80:]!r}"
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def status_line(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], TIMEOUT)
    assert ready, "the writer printed no status in time"
    line = process.stdout.readline()
    assert line, f"the writer ended: {process.wait(10)}"
    return json.loads(line)


def test_a_full_disk_drops_whole_lines_with_one_warning_and_logging_resumes(
    tmp_path: Path,
) -> None:
    lines = 2_000
    with tiny_tmpfs(tmp_path / "disk", size_kib=256) as disk:
        log_dir = disk / "log"
        log_dir.mkdir()
        filler = fill(disk, leave_bytes=64 * 1024)
        stderr_path = tmp_path / "stderr"
        with stderr_path.open("w") as stderr:
            writer = subprocess.Popen(
                [sys.executable, "-c", WRITER, str(log_dir), str(lines)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        try:
            full = status_line(writer)
            (log_file,) = log_dir.iterdir()
            kept = read_lines(log_file)
            warnings = stderr_path.read_text().splitlines()

            filler.unlink()
            assert writer.stdin is not None
            writer.stdin.write("space is back\n")
            writer.stdin.flush()
            freed = status_line(writer)
            assert writer.wait(TIMEOUT) == 0
            after = read_lines(log_file)
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.wait(10)

    assert full["degraded"] is True
    assert "[Errno 28] No space left on device" in full["error"]
    assert full["dropped"] > 0 and len(kept) + full["dropped"] == lines
    assert {line["phase"] for line in kept} == {"full"}
    # One warning, not a traceback per dropped line.
    assert len(warnings) == 1, warnings
    warning = json.loads(warnings[0])
    assert (warning["level"], warning["message"]) == ("warning", DROPPED)
    assert "No space left on device" in warning["error"] and warning["droppedLines"] == 1

    assert freed == {**freed, "degraded": False, "dropped": 0, "error": None}
    resumed = after[len(kept)]
    assert (resumed["message"], resumed["droppedLines"]) == (RESUMED, full["dropped"])
    assert [line["n"] for line in after[len(kept) + 1 :]] == list(range(20))
    assert len(stderr_path.read_text().splitlines()) == 1


async def _logging_of(services: Services, pid: int) -> dict[str, Any] | None:
    for record in await services.workers.alive():
        if record["pid"] == pid:
            return record["logging"]
    return None


@pytest.mark.usefixtures("defaults_restored")
async def test_a_worker_on_a_full_log_disk_shows_on_health_and_the_system_page(
    live_server: str,
    operator_client: httpx.AsyncClient,
    services: Services,
    settings: Settings,
    tmp_path: Path,
) -> None:
    with tiny_tmpfs(tmp_path / "disk", size_kib=64) as disk:
        filler = fill(disk)
        worker = AilawyerProcess(
            ["worker"], process_env(settings, LOG_DIR=str(disk)), tmp_path / "worker.out"
        )
        try:

            async def degraded() -> dict[str, Any] | None:
                state = await _logging_of(services, worker.pid)
                return state if state and state["degraded"] else None

            state = await wait_until(degraded, within=30, what="the worker's degraded logging")
            assert "No space left on device" in state["error"]

            page = await operator_client.get("/admin/system/status")
            assert page.status_code == 200
            assert "Protokollierung gestört" in page.text
            assert f'data-logging-trouble="{worker.pid}"' in page.text
            health = (await operator_client.get("/api/health")).json()
            assert health["status"] == "degraded"
            assert health["logging"] == {"status": "degraded"}  # no paths for the public

            filler.unlink()
            started = time.time()
            # Any line will do; a saved setting makes the worker log one at once.
            await services.runtime_settings.set(MAINTENANCE_BANNER, "Platz ist wieder da")

            async def recovered() -> bool:
                state = await _logging_of(services, worker.pid)
                return bool(state and not state["degraded"])

            await wait_until(recovered, within=30, what="the worker's logging to recover")
            page = await operator_client.get("/admin/system/status")
            assert f'data-logging-trouble="{worker.pid}"' not in page.text

            async def incident_ended() -> bool:
                # The alert's incident card ends with the next evaluation (ALERT_INTERVAL_SECONDS).
                page = await operator_client.get("/admin/system/status")
                return "Protokollierung gestört" not in page.text

            await wait_until(incident_ended, within=30, interval=0.5, what="the incident to end")
        finally:
            stop_all(worker)
        (log_file,) = disk.glob("worker-*.log")
        lines = read_lines(log_file)

    assert worker.process.returncode == 0
    output = worker.output()
    assert output.count(DROPPED) == 1, output[-3000:]
    assert "Traceback" not in output
    resumed = [line for line in lines if line["message"] == RESUMED]
    assert len(resumed) == 1 and resumed[0]["droppedLines"] > 0
    assert resumed[0]["timestamp"] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started))
