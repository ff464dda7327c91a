"""What a module loads in a fresh interpreter: the layers of docs/ARCHITECTURE.md hold.

The queue catalog and the runtime settings are shared by every process and must not drag
in the worker, bullmq or Socket.IO; the app must not load the worker's processors.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ailawyer.jobs.catalog import QUEUES
from ailawyer.worker.bindings import BINDINGS


def loaded_modules(module: str) -> set[str]:
    """The modules a fresh interpreter holds after `import module`."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def packages(modules: set[str], *names: str) -> list[str]:
    """The loaded modules that are `names` or inside them."""
    return sorted(m for m in modules if any(m == n or m.startswith(f"{n}.") for n in names))


@pytest.mark.parametrize("module", ["ailawyer.jobs.catalog", "ailawyer.runtime_settings.service"])
def test_shared_modules_load_no_worker_no_bullmq_and_no_socketio(module: str) -> None:
    modules = loaded_modules(module)
    assert module in modules
    assert packages(modules, "socketio", "bullmq", "ailawyer.worker", "ailawyer.app") == []


def test_the_app_loads_nothing_from_the_worker() -> None:
    modules = loaded_modules("ailawyer.app.asgi")
    assert "ailawyer.app.asgi" in modules
    assert packages(modules, "ailawyer.worker") == []


def test_the_worker_binds_every_declared_queue() -> None:
    assert set(BINDINGS) == set(QUEUES)
    assert all(binding.definition is QUEUES[name] for name, binding in BINDINGS.items())
