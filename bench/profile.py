"""Sample a running process with py-spy and say where its time goes.

py-spy is not a project dependency (the lock stays as it is); install it outside the
repository and pass its path, e.g.

    python3 -m venv /tmp/pyspy && /tmp/pyspy/bin/pip install py-spy
    uv run python -m bench.http_load --py-spy /tmp/pyspy/bin/py-spy

`record` writes py-spy's collapsed stacks ("frame;frame;frame count" per line);
`summarize` turns them into the share of samples per leaf frame and per frame anywhere
on the stack, the two views that show what to make faster.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

SAMPLES_PER_SECOND = 100
# "function (path/to/file.py:123)" -> "function (file.py)"; line numbers split one
# function into many rows.
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<path>[^():]+)(?::\d+)?\)$")


def record(py_spy: Path, pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Start sampling `pid` for `seconds` (all threads, idle frames left out); returns at once."""
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(py_spy), "record", "--pid", str(pid), "--duration", str(round(seconds)),
        "--rate", str(SAMPLES_PER_SECOND), "--format", "raw", "--output", str(out),
        "--nonblocking",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["path"]
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif "/src/" in path:
        path = path.split("/src/", 1)[1]
    else:
        path = Path(path).name
    return f"{match['name']} ({path})"


def _package(frame: str) -> str:
    """The package (or single-file module) of a frame: "sqlalchemy", "ailawyer", "asyncio"."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return "(unknown)"
    # py-spy gives paths relative to their sys.path entry: "sqlalchemy/orm/state.py".
    relative = match["path"].split("site-packages/")[-1].split("/src/")[-1]
    head = relative.lstrip("/").split("/", 1)[0]
    return head.removesuffix(".py")


def summarize(stacks: Path, top: int = 15) -> str:
    """Text table: the busiest leaf frames (own time) and frames anywhere (inclusive)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in stacks.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        raw = [frame for frame in stack.split(";") if frame]
        frames = [_short(frame) for frame in raw]
        # The first entry is the thread ("process 123:..." or "thread (0x..)").
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        packages[_package(raw[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count
    if total == 0:
        return "(no samples)"
    lines = [f"{total} samples", "own time (leaf frames):"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    # Frames on (nearly) every stack are the process's entry point and event loop: noise.
    ancestors = 0.95 * max(inclusive.values())
    telling = [(f, n) for f, n in inclusive.most_common() if n < ancestors][:top]
    lines.append("inclusive (anywhere on the stack; entry point and event loop left out):")
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in telling]
    lines.append("own time by package (of the innermost frame):")
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in packages.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(f"{path}: {summarize(Path(path))}")
