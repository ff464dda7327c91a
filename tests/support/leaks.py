"""What must never reach a browser: stack traces, server file paths, exception names."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import ailawyer

_SIGNS = (
    ("a traceback", re.compile(r"Traceback \(most recent call last\)")),
    ("a stack frame", re.compile(r"File \"[^\"]+\", line \d+")),
    ("a Python exception name", re.compile(r"\b[A-Z][A-Za-z]*(?:Error|Exception)\b")),
    ("a Python source file", re.compile(r"[\w/]+\.py\b")),
    ("a server path", re.compile(r"(?<![\w.:/])/(?:home|root|usr|opt|srv|tmp|work|app)/\w")),
)
# The installed code itself: its path names the server's layout.
SOURCE_DIR = str(Path(ailawyer.__file__).resolve().parent)


def leaks(body: str, paths: Iterable[str | Path] = ()) -> list[str]:
    """What `body` gives away, in words (empty: nothing); `paths` are server paths to look for."""
    found = [what for what, pattern in _SIGNS if pattern.search(body)]
    found += [f"the path {path}" for path in (SOURCE_DIR, *map(str, paths)) if path in body]
    return found
