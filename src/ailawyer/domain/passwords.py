"""Password hashing with argon2id; logins verify in a small thread pool, off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

# Verified against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 10

# One verification takes ~0.11 s and 64 MiB, and argon2-cffi releases the GIL for it, so it
# can run beside the event loop. It already spreads over the cores itself (4 lanes, ~1.5
# cores of a 2-core machine), so one thread is enough to keep them busy; more would only
# add 64 MiB each. The pool's thread count is the bound: a flood of logins queues as
# cheap closures and waits its turn instead of hashing (and allocating) all at once, and
# an awaiting request that is cancelled leaves the queue without costing a hash.
VERIFY_THREADS = 1
# Hashing runs at a lower CPU priority than the event loop's thread (Linux: niceness is
# per thread and argon2's lane threads inherit it), so pages and /api/health stay fast
# while logins wait for the CPU. 5 rather than 10: at 10, other busy processes at normal
# priority (workers beside the app) starved logins for tens of seconds (bench/RESULTS.md).
VERIFY_NICENESS = 5

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _lower_priority() -> None:
    # Best effort: a platform without per-thread niceness just verifies at normal priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), VERIFY_NICENESS)


def _verify_pool() -> ThreadPoolExecutor:
    """The process's verification pool, created on first use (a forked child makes its own)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=VERIFY_THREADS,
                thread_name_prefix="argon2",
                initializer=_lower_priority,
            )
        return _pool


def _forget_pool_in_child() -> None:
    global _pool, _pool_lock
    # The parent's threads do not exist in a forked child, and its lock may be held.
    _pool = None
    _pool_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_in_child)


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (blocking: for the CLI and set-up code)."""
    return _hasher.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; always one argon2 verification, run in the bounded pool.

    `password_hash` None (an unknown e-mail) is checked against a dummy hash through the
    same pool, so an unknown address costs the same time as a wrong password.
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_verify_pool(), _verify, password_hash, password)


def password_problem(password: str) -> str | None:
    """A German reason why `password` is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen lang sein."
    return None
