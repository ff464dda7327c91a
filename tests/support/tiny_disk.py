"""A real, tiny file system that runs full: a tmpfs mounted for one test (needs root).

Writes to it fail with the kernel's own ENOSPC, a short write first when a line crosses
the last free page, exactly as on a full log disk; no mock is involved.
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FILLER = "filler.bin"


@contextmanager
def tiny_tmpfs(mount_point: Path, size_kib: int) -> Iterator[Path]:
    """`mount_point` as a tmpfs of `size_kib` KiB while the block runs; unmounted after.

    Every process writing into it must have ended (or closed its files) by then.
    """
    mount_point.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs", str(mount_point)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True, capture_output=True, timeout=30)


def fill(directory: Path, *, leave_bytes: int = 0) -> Path:
    """Fill the file system of `directory` with a filler file until the kernel says ENOSPC;
    then give back `leave_bytes` (rounded to whole pages by the file system). Returns it."""
    path = directory / FILLER
    written = 0
    with path.open("wb", buffering=0) as filler:
        try:
            while True:
                written += filler.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
        if leave_bytes:
            filler.truncate(max(0, written - leave_bytes))
    return path
