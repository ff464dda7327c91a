"""A PostgreSQL cluster owned by one test run (initdb + pg_ctl), which it may restart at will.

The machine's PostgreSQL is shared with other test runs, so restarting it is not ours
to do; a cluster of our own on a free port is. initdb refuses to run as root: as root,
every command runs as the `postgres` user (`runuser`), in a directory that user owns.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port

SERVICE_USER = "postgres"
START_TIMEOUT_SECONDS = 30
COMMAND_TIMEOUT_SECONDS = 60


class ClusterUnavailable(RuntimeError):
    """No initdb/pg_ctl here, or they cannot run: use a shared server instead."""


def _bin_dir() -> Path:
    """The directory of initdb and pg_ctl: PATH first, else the newest Debian version."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        raise ClusterUnavailable("initdb not found (apt-get install postgresql)")
    return versions[-1].parent


_running: set[PostgresCluster] = set()


@atexit.register
def _stop_all_at_exit() -> None:
    # A run that ends without stop() (an error, Ctrl-C) must not leave a postmaster behind.
    for cluster in list(_running):
        with contextlib.suppress(Exception):
            cluster.destroy()


@dataclass(eq=False)
class PostgresCluster:
    """One postmaster on 127.0.0.1:`port` with its data in a temporary directory."""

    port: int = field(default_factory=free_port)
    bin_dir: Path = field(default_factory=_bin_dir)
    root: Path = field(init=False)

    def __post_init__(self) -> None:
        # Not under pytest's tmp dir: that is private to root, and `postgres` must enter it.
        self.root = Path(tempfile.mkdtemp(prefix="ailawyer-pg-"))
        if self._as_service_user:
            try:
                account = pwd.getpwnam(SERVICE_USER)
            except KeyError:
                shutil.rmtree(self.root, ignore_errors=True)
                raise ClusterUnavailable("running as root, and there is no postgres user") from None
            os.chown(self.root, account.pw_uid, account.pw_gid)

    @property
    def _as_service_user(self) -> bool:
        return os.geteuid() == 0

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def admin_url(self) -> str:
        """A libpq URL of the `postgres` database as superuser (trust auth, loopback only)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of `database` on this cluster."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        """Create the cluster files (once)."""
        try:
            self._run(
                "initdb", "-D", str(self.data_dir), "-U", "postgres",
                "--auth=trust", "-E", "UTF8", "--no-sync",
            )  # fmt: skip
        except (OSError, subprocess.CalledProcessError) as error:
            self.destroy()
            detail = getattr(error, "stderr", None) or error
            raise ClusterUnavailable(f"initdb failed: {detail}") from error

    def start(self) -> None:
        """Start the postmaster and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            # No crash of the machine is simulated, only of PostgreSQL: fsync buys nothing.
            "-c fsync=off -c max_connections=300"
        )
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options,
            "-w", "-t", str(START_TIMEOUT_SECONDS), "start",
        )  # fmt: skip
        _running.add(self)

    def stop(self, mode: str = "fast") -> None:
        """Stop the postmaster: `fast` ends sessions cleanly, `immediate` like a crash."""
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-m", mode,
            "-w", "-t", str(START_TIMEOUT_SECONDS), "stop",
        )  # fmt: skip
        _running.discard(self)

    def restart(self, mode: str = "fast") -> None:
        """Stop and start again on the same port; every client connection is cut."""
        self.stop(mode)
        self.start()

    def destroy(self) -> None:
        """Stop (if running) and delete the cluster's files."""
        if self in _running:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(self.bin_dir / program), *arguments]
        if self._as_service_user:
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        done = subprocess.run(
            command,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise subprocess.CalledProcessError(
                done.returncode, command, done.stdout, done.stderr[-2000:]
            )
