"""The log reader: newest lines of all process files, merged by time, filtered, bounded."""

from __future__ import annotations

import json
import os
import random
import socket
from pathlib import Path

import pytest
from tests.integration.test_logging import isolated_logging  # noqa: F401 (a fixture)
from tests.support.log_files import BASE_TIME, log_line, write_log

from ailawyer.app.web.admin.system.log_reader import LogPage, LogQuery, read_logs
from ailawyer.logs import bind_context, clear_context, configure_logging, get_logger

BUDGET = 64 * 1024 * 1024


def read(log_dir: Path, query: LogQuery | None = None, **options: int) -> LogPage:
    return read_logs(log_dir, query or LogQuery(), **{"max_scan_bytes": BUDGET, **options})


def messages(log_dir: Path, query: LogQuery | None = None, **options: int) -> list[str]:
    return [entry.message for entry in read(log_dir, query, **options).entries]


@pytest.fixture
def two_processes(tmp_path: Path) -> Path:
    """An app and a worker whose lines alternate in time; the worker has a rotated file."""
    write_log(
        tmp_path / "app-host-10.log",
        [log_line(BASE_TIME + 2 * i, f"app {i}", pid=10) for i in range(50)],
        mtime=BASE_TIME + 100,
    )
    write_log(
        tmp_path / "worker-host-20.log.1",
        [log_line(BASE_TIME - 100 + i, f"alt {i}", process="worker", pid=20) for i in range(5)],
        mtime=BASE_TIME - 90,
    )
    write_log(
        tmp_path / "worker-host-20.log",
        [
            log_line(
                BASE_TIME + 2 * i + 1,
                f"worker {i}",
                level="error" if i % 10 == 0 else "debug",
                process="worker",
                pid=20,
                logger="bullmq" if i % 2 else "ailawyer.worker.pool",
                jobId=f"dok-{i}",
                userId=i,
            )
            for i in range(50)
        ],
        mtime=BASE_TIME + 100,
    )
    return tmp_path


def test_it_merges_all_processes_newest_first(two_processes: Path) -> None:
    assert messages(two_processes, LogQuery(limit=4)) == [
        "worker 49",
        "app 49",
        "worker 48",
        "app 48",
    ]


def test_it_continues_into_rotated_files(two_processes: Path) -> None:
    found = messages(two_processes, LogQuery(limit=500))

    assert len(found) == 105
    assert found[-5:] == ["alt 4", "alt 3", "alt 2", "alt 1", "alt 0"]


def test_block_boundaries_do_not_change_the_result(two_processes: Path) -> None:
    expected = messages(two_processes, LogQuery(limit=500))
    for block_size in (1, 7, 100, 333, 4096):
        assert messages(two_processes, LogQuery(limit=500), block_size=block_size) == expected


def test_it_filters_by_minimum_level(two_processes: Path) -> None:
    found = read(two_processes, LogQuery(min_level="error")).entries

    assert [e.message for e in found] == [
        "worker 40",
        "worker 30",
        "worker 20",
        "worker 10",
        "worker 0",
    ]
    assert {e.level for e in found} == {"error"}
    assert messages(two_processes, LogQuery(min_level="critical")) == []


def test_it_filters_by_source_and_logger_prefix(two_processes: Path) -> None:
    assert set(m.split()[0] for m in messages(two_processes, LogQuery(source="worker"))) == {
        "worker",
        "alt",
    }
    assert set(m.split()[0] for m in messages(two_processes, LogQuery(source="app"))) == {"app"}
    assert messages(two_processes, LogQuery(source="cli")) == []

    by_logger = read(two_processes, LogQuery(logger="ailawyer.worker", limit=3)).entries
    assert [e.logger for e in by_logger] == ["ailawyer.worker.pool"] * 3
    # A prefix means whole name parts: "ailawyer.work" is not "ailawyer.worker".
    assert messages(two_processes, LogQuery(logger="ailawyer.work")) == []


def test_it_filters_by_job_id_and_user_id(two_processes: Path) -> None:
    assert messages(two_processes, LogQuery(job_id="dok-7")) == ["worker 7"]
    # userId is logged as a number; 7 must not also find 17, 27, ...
    assert messages(two_processes, LogQuery(user_id="7")) == ["worker 7"]
    assert messages(two_processes, LogQuery(job_id="dok-7", user_id="8")) == []


def test_text_search_is_case_insensitive_also_for_umlauts_and_quotes(tmp_path: Path) -> None:
    write_log(
        tmp_path / "app-h-1.log",
        [
            log_line(BASE_TIME, "Schriftsatz für Müller erstellt"),
            log_line(BASE_TIME + 1, 'Datei "Klage.pdf" hochgeladen'),
            log_line(BASE_TIME + 2, "etwas anderes"),
        ],
    )

    assert messages(tmp_path, LogQuery(text="MÜLLER")) == ["Schriftsatz für Müller erstellt"]
    assert messages(tmp_path, LogQuery(text='"klage.pdf"')) == ['Datei "Klage.pdf" hochgeladen']
    assert messages(tmp_path, LogQuery(text="nirgends")) == []


def test_malformed_lines_are_shown_as_text_in_place(tmp_path: Path) -> None:
    write_log(
        tmp_path / "worker-h-5.log",
        [
            log_line(BASE_TIME, "vorher", process="worker", pid=5),
            "Traceback (most recent call last): kaputt <script>",
            "[1, 2, 3]",
            '{"timestamp": "gestern", "message": 42}',
            log_line(BASE_TIME + 1, "nachher", process="worker", pid=5),
        ],
    )
    with (tmp_path / "worker-h-5.log").open("ab") as handle:
        handle.write(b"\xff\xfe kein UTF-8\n\n   \n")

    entries = read(tmp_path, LogQuery()).entries

    assert [e.message for e in entries] == [
        "\ufffd\ufffd kein UTF-8",
        "nachher",
        "42",
        "[1, 2, 3]",
        "Traceback (most recent call last): kaputt <script>",
        "vorher",
    ]
    assert [e.malformed for e in entries] == [True, False, False, True, True, False]
    garbage = entries[4]
    assert (garbage.process, garbage.pid, garbage.host, garbage.level) == ("worker", 5, "h", None)
    # A level or id filter asks for fields a malformed line does not have; text still finds it.
    assert "kaputt" not in str(messages(tmp_path, LogQuery(min_level="info")))
    assert messages(tmp_path, LogQuery(text="KAPUTT")) == [garbage.message]


def test_a_line_longer_than_the_limit_is_kept_as_text(tmp_path: Path) -> None:
    huge = log_line(BASE_TIME + 1, "x" * 600_000)
    write_log(
        tmp_path / "app-h-1.log",
        [log_line(BASE_TIME, "davor"), huge, log_line(BASE_TIME + 2, "danach")],
    )

    entries = read(tmp_path, LogQuery()).entries

    assert entries[0].message == "danach"
    assert entries[1].truncated and entries[1].malformed
    assert len(entries[1].message) < 400_000
    assert entries[2].message == "davor"


def test_a_file_without_a_final_newline_still_shows_its_last_line(tmp_path: Path) -> None:
    path = tmp_path / "app-h-1.log"
    path.write_text(log_line(BASE_TIME, "erste") + "\n" + log_line(BASE_TIME + 1, "letzte"))

    assert messages(tmp_path) == ["letzte", "erste"]


def test_the_budget_stops_a_search_that_finds_nothing_and_says_so(tmp_path: Path) -> None:
    write_log(
        tmp_path / "app-h-1.log",
        [log_line(BASE_TIME, "die Nadel")]
        + [log_line(BASE_TIME + 1 + i, f"Heu {i}") for i in range(20_000)],
        mtime=BASE_TIME + 20_001,
    )

    page = read(tmp_path, LogQuery(text="nadel"), max_scan_bytes=256 * 1024)

    assert page.entries == []
    assert page.incomplete
    assert page.scanned_bytes <= 256 * 1024
    assert page.searched_until is not None
    assert BASE_TIME < page.searched_until.timestamp() < BASE_TIME + 20_001
    # With enough budget the same search reaches the first line.
    found = read(tmp_path, LogQuery(text="nadel"))
    assert [e.message for e in found.entries] == ["die Nadel"] and not found.incomplete


def test_a_big_file_without_matches_does_not_starve_a_small_file_with_them(tmp_path: Path) -> None:
    # The app's file is recent and large and has no ERROR; the worker's has one, a bit older.
    write_log(
        tmp_path / "app-h-1.log",
        [log_line(BASE_TIME + i * 0.01, f"app {i}") for i in range(30_000)],
        mtime=BASE_TIME + 300,
    )
    write_log(
        tmp_path / "worker-h-2.log",
        [log_line(BASE_TIME + 290, "fehlgeschlagen", level="error", process="worker")],
        mtime=BASE_TIME + 290,
    )

    page = read(tmp_path, LogQuery(min_level="error"), max_scan_bytes=512 * 1024)

    assert [e.message for e in page.entries] == ["fehlgeschlagen"]


def test_the_result_equals_a_full_read_sorted_by_time(tmp_path: Path) -> None:
    rng = random.Random(5)
    everything: list[tuple[float, str]] = []
    for pid in range(1, 6):
        times = sorted(BASE_TIME + rng.uniform(0, 1000) for _ in range(rng.randint(0, 400)))
        lines = []
        for at in times:
            level = rng.choice(["debug", "info", "warning", "error"])
            message = f"p{pid} {at:.3f} {level}"
            lines.append(log_line(at, message, level=level, pid=pid, jobId=str(rng.randint(1, 5))))
            everything.append((at, message))
        if lines:
            write_log(tmp_path / f"worker-h-{pid}.log", lines, mtime=times[-1] + 1)
    everything.sort(reverse=True)

    for block_size in (97, 4096, 65536):
        all_lines = messages(tmp_path, LogQuery(limit=10_000), block_size=block_size)
        assert all_lines == [message for _, message in everything]
        errors = messages(tmp_path, LogQuery(min_level="error", limit=25), block_size=block_size)
        assert errors == [m for _, m in everything if m.endswith("error")][:25]
        job_3 = messages(tmp_path, LogQuery(job_id="3", limit=30), block_size=block_size)
        assert len(job_3) == 30 and job_3 == sorted(job_3, key=lambda m: m.split()[1], reverse=True)


def test_only_files_named_like_process_logs_are_read(tmp_path: Path) -> None:
    write_log(tmp_path / "app-h-1.log", [log_line(BASE_TIME, "gezählt")])
    write_log(tmp_path / "redis.log", ["1:M 28 May 2026 * Ready to accept connections"])
    write_log(tmp_path / "notizen.txt", ["nichts"])
    (tmp_path / "app-h-2.log").touch()  # opened by a process that has not logged yet

    page = read(tmp_path, LogQuery())

    assert [e.message for e in page.entries] == ["gezählt"] and page.files == 1
    assert read(tmp_path / "fehlt", LogQuery()).entries == []


@pytest.mark.usefixtures("isolated_logging")
def test_it_reads_the_files_configure_logging_writes(tmp_path: Path) -> None:
    path = configure_logging("cli", level="INFO", log_dir=tmp_path, stdout=False)
    bind_context(user_id=3, job_id="x-1")
    get_logger("ailawyer.cli").info("Benutzer angelegt", extra={"a": 1})
    clear_context()

    (entry,) = read(tmp_path, LogQuery()).entries

    assert path.name == f"cli-{socket.gethostname()}-{os.getpid()}.log"
    assert (entry.message, entry.process, entry.pid, entry.level) == (
        "Benutzer angelegt",
        "cli",
        os.getpid(),
        "info",
    )
    assert (entry.user_id, entry.job_id, entry.malformed) == (3, "x-1", False)
    assert entry.extra_items() == [("extra", json.dumps({"a": 1}))]


def test_rotated_files_belong_to_their_process_even_with_dots_in_the_host_name(
    tmp_path: Path,
) -> None:
    write_log(
        tmp_path / "app-log.example.org-7.log.1", [log_line(BASE_TIME, "alt")], mtime=BASE_TIME
    )
    write_log(tmp_path / "app-log.example.org-7.log", [log_line(BASE_TIME + 1, "neu")])

    page = read(tmp_path, LogQuery())

    assert [e.message for e in page.entries] == ["neu", "alt"]
    assert {e.host for e in page.entries} == {"testhost"}  # the line's own field wins
