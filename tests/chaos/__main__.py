"""The long chaos run (`make chaos`): `python -m tests.chaos --seconds 600 [--seed N]`.

Prints the report, writes it as JSON (default bench/out/chaos.json) and exits 1 if any
check failed. Files of the run (process output, logs, Redis) stay in the printed folder
when it fails, for reading; a passing run removes them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from tests.chaos.run import ChaosConfig, run_chaos

REPOSITORY = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="of load and faults")
    parser.add_argument("--seed", type=int, default=None, help="repeat a run (default: random)")
    parser.add_argument("--clients", type=int, default=200, help="connected Socket.IO tabs")
    parser.add_argument("--uploads-per-second", type=float, default=1.5)
    parser.add_argument("--test-jobs-per-second", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=REPOSITORY / "bench" / "out" / "chaos.json")
    arguments = parser.parse_args()
    config = ChaosConfig(
        seconds=arguments.seconds,
        seed=arguments.seed if arguments.seed is not None else secrets.randbelow(10**6),
        clients=arguments.clients,
        uploads_per_second=arguments.uploads_per_second,
        test_jobs_per_second=arguments.test_jobs_per_second,
    )
    root = Path(tempfile.mkdtemp(prefix="ailawyer-chaos-"))
    report = asyncio.run(run_chaos(config, root))
    print(report.render(), flush=True)
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n")
    if report.problems():
        print(f"files of the run: {root}")
        return 1
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
