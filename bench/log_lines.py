"""Cost of one log line: structlog and standard-library lines to the file and to stdout.

Configures logging as `ailawyer serve` does (JSON to its own file and to stdout), sends
stdout to /dev/null, and times batches of lines in this process; prints the median and the
best of the rounds in CPU microseconds per line. Run twice, once per code version, for a
before/after comparison (see bench/RESULTS.md).

    uv run python -m bench.log_lines --lines 20000 --rounds 7
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ailawyer.logs import bind_context, clear_context, configure_logging, get_logger


def _time_batch(lines: int, emit: Callable[[int], None]) -> float:
    """CPU microseconds per line for `lines` calls of `emit(n)`.

    CPU time of this process, not wall time: on a shared machine other processes' load
    would otherwise dominate the figure (the writes' system time is included).
    """
    started = time.process_time()
    for n in range(lines):
        emit(n)
    return (time.process_time() - started) / lines * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000, help="lines per round and kind")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--stdout", choices=["json", "none"], default="json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-logs-") as work:
        devnull = Path("/dev/null").open("w", encoding="utf-8")  # noqa: SIM115
        real_stdout, sys.stdout = sys.stdout, devnull
        try:
            configure_logging(
                "bench",
                level="INFO",
                log_dir=Path(work),
                # Large enough that no round rotates: the render and the write are measured.
                max_bytes=1 << 40,
                stdout=args.stdout == "json",
            )
            structlog_logger = get_logger("ailawyer.bench")
            stdlib_logger = logging.getLogger("ailawyer.bench.stdlib")
            bind_context(user_id=7, akte_id=42, request_id="req-1")

            def structlog_line(n: int) -> None:
                structlog_logger.info("request finished", method="GET", status=200, n=n)

            def stdlib_line(n: int) -> None:
                stdlib_logger.info("stdlib line %s", n)

            def filtered_line(n: int) -> None:
                structlog_logger.debug("not written", n=n)

            results: dict[str, list[float]] = {"structlog": [], "stdlib": [], "debug (off)": []}
            for _ in range(args.rounds):
                results["structlog"].append(_time_batch(args.lines, structlog_line))
                results["stdlib"].append(_time_batch(args.lines, stdlib_line))
                results["debug (off)"].append(_time_batch(args.lines, filtered_line))
            clear_context()
        finally:
            sys.stdout = real_stdout
            devnull.close()

    print(f"lines per round {args.lines}, rounds {args.rounds}, stdout {args.stdout}")
    print(f"{'kind':<12} {'median CPU µs/line':>19} {'best CPU µs/line':>17}")
    for kind, figures in results.items():
        print(f"{kind:<12} {statistics.median(figures):>19.2f} {min(figures):>17.2f}")


if __name__ == "__main__":
    main()
