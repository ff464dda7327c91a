"""The short chaos run CI does every time: a minute of mixed load while processes and services fail.

`CHAOS_SEED` repeats a run, `CHAOS_SECONDS` lengthens it; `make chaos` is the long form.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from tests.chaos.run import ChaosConfig, run_chaos

SECONDS = float(os.environ.get("CHAOS_SECONDS", "30"))
# Start-up (PostgreSQL, migrations, 4 processes, 200 tabs), drain, checks and stop.
OVERHEAD_SECONDS = 90


@pytest.mark.timeout(SECONDS + OVERHEAD_SECONDS)
async def test_nothing_is_lost_while_processes_and_services_fail(tmp_path: Path) -> None:
    seed = int(os.environ.get("CHAOS_SEED") or secrets.randbelow(10**6))
    report = await run_chaos(ChaosConfig(seconds=SECONDS, seed=seed), tmp_path)
    print(report.render())
    assert not report.problems(), report.render()
