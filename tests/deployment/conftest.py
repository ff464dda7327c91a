"""The stack test runs only when its folder is named (`make stack`, `pytest tests/deployment`).

It builds images and brings the whole compose stack up with podman, which takes minutes;
the full suite (`make test`, a bare `pytest`) leaves the folder out until it fits the
suite's time budget.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    for arg in config.args:
        named = Path(arg.split("::")[0]).resolve()
        if named == HERE or HERE in named.parents:
            return None
    return True
