"""The real docker-compose.yml run by Debian's docker-compose against podman's Docker API.

podman stands in for a Docker engine: `podman system service` serves the Docker API on a
socket of our own, and docker-compose talks to it as it would to dockerd. Two things a
Docker host has that this machine lacks are supplied here:
  - health checks: podman schedules them with systemd timers, and no systemd runs here, so
    `HealthTicker` runs `podman healthcheck run` for every container that has one;
  - the cleanup of netavark's firewall chains, which outlive the last network.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
CONTAINERS_CONF = ROOT / "scripts" / "stack" / "containers.conf"
IMAGES_SCRIPT = ROOT / "scripts" / "stack-images.sh"
# Health checks run at most this far apart here (compose asks for 5 s to 15 s); a systemd
# timer would keep each container's own interval, which only makes this test wait longer.
HEALTH_TICK_SECONDS = 3.0


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, check: bool = True, timeout: float = 120) -> str:
    """Run `podman ARGS`; its stdout."""
    result = subprocess.run(
        ["podman", *args], env=podman_env(), capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def build_images(app_image: str) -> None:
    """Stand-in base images (cached by recipe) and the project's image (layer cache)."""
    subprocess.run(
        ["bash", str(IMAGES_SCRIPT), app_image], env=podman_env(), check=True, timeout=1800
    )


@contextmanager
def docker_api(directory: Path) -> Iterator[str]:
    """`podman system service` on a socket in `directory`; yields its DOCKER_HOST."""
    socket_path = directory / "podman.sock"
    log = (directory / "podman-service.log").open("wb")
    process = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket_path}"],
        env=podman_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not socket_path.exists():
            assert process.poll() is None, (directory / "podman-service.log").read_text()
            assert time.monotonic() < deadline, "podman system service did not start"
            time.sleep(0.1)
        yield f"unix://{socket_path}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        log.close()


@dataclass
class Compose:
    """`docker-compose` on the real compose file, with `directory` as project directory
    (its `.env` is the one compose reads) and a project name of its own."""

    directory: Path
    project: str
    docker_host: str

    def run(self, *args: str, timeout: float = 600, check: bool = True) -> str:
        # Only these variables: one of the test's own shell would win over .env.
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.directory),
            "DOCKER_HOST": self.docker_host,
            "COMPOSE_HTTP_TIMEOUT": "300",
        }
        command = [
            "docker-compose",
            "--file",
            str(COMPOSE_FILE),
            "--project-directory",
            str(self.directory),
            "--project-name",
            self.project,
            *args,
        ]
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, cwd=self.directory
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"docker-compose {' '.join(args)} failed:\n{result.stdout[-3000:]}\n"
                f"{result.stderr[-3000:]}"
            )
        return result.stdout + result.stderr

    def containers(self, service: str | None = None, *, every: bool = True) -> list[str]:
        """Names of this project's containers (of one service), running or not."""
        labels = [f"--filter=label=com.docker.compose.project={self.project}"]
        if service:
            labels.append(f"--filter=label=com.docker.compose.service={service}")
        names = podman("ps", *(["--all"] if every else []), *labels, "--format={{.Names}}")
        return names.split()

    def container(self, service: str) -> str:
        (name,) = self.containers(service)
        return name

    def state(self, service: str) -> dict[str, Any]:
        (found,) = json.loads(podman("inspect", self.container(service)))
        return found["State"]

    def health(self, service: str) -> str:
        """healthy, unhealthy, starting, or the container's status when it has no check."""
        state = self.state(service)
        health = state.get("Health") or state.get("Healthcheck") or {}
        return health.get("Status") or state["Status"]

    def exec(self, service: str, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            ["podman", "exec", "-i", self.container(service), *args],
            env=podman_env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result.stdout

    def logs(self) -> str:
        """The services' last log lines and health check answers, for a failure message."""
        lines = [self.run("logs", "--no-color", "--tail=40", check=False)]
        for name in self.containers():
            (found,) = json.loads(podman("inspect", name))
            state = found["State"]
            health = state.get("Health") or state.get("Healthcheck") or {}
            last = (health.get("Log") or [{}])[-1]
            lines.append(
                f"{name}: {state['Status']} (exit {state.get('ExitCode')}), health "
                f"{health.get('Status')}: {str(last.get('Output', ''))[-300:]!r}"
            )
        return "\n".join(lines)


class HealthTicker:
    """Runs the health checks of the project's running containers, as systemd timers would
    on a podman host with systemd, until stopped."""

    def __init__(self, compose: Compose) -> None:
        self.compose = compose
        self._stop = threading.Event()
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, name="health-ticker", daemon=True)

    def __enter__(self) -> HealthTicker:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for name in self.compose.containers(every=False):
                    # Exit 1 means "unhealthy" and is recorded by podman, as any answer is.
                    podman("healthcheck", "run", name, check=False, timeout=60)
            except (subprocess.SubprocessError, RuntimeError) as error:
                # A slow or failed round on a busy machine: the next round tries again.
                self.errors.append(repr(error))
            self._stop.wait(HEALTH_TICK_SECONDS)


def wait_for(
    check: Callable[[], Any],
    *,
    within: float,
    what: str,
    explain: Callable[[], str] = str,
    interval: float = 1.0,
) -> Any:
    """Poll `check()` until it returns something truthy; fail after `within` seconds with
    what `explain()` says then (such as the containers' logs)."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}\n{explain()}")
        time.sleep(interval)


# --- what the stack leaves behind ---------------------------------------------------------

_NETAVARK_CHAIN = re.compile(r"^NETAVARK", re.IGNORECASE)


def netavark_chains() -> dict[str, list[str]]:
    """netavark's chains per iptables table."""
    chains: dict[str, list[str]] = {}
    for table in ("nat", "filter"):
        listing = subprocess.run(
            ["iptables", "-t", table, "-S"], capture_output=True, text=True, check=True
        ).stdout
        chains[table] = [
            line.split()[1]
            for line in listing.splitlines()
            if line.startswith("-N ") and _NETAVARK_CHAIN.match(line.split()[1])
        ]
    return chains


def remove_netavark_chains() -> None:
    """Drop netavark's chains and the rules that jump to them, once no container runs.

    netavark removes a network's own chains with the network but leaves its shared ones
    (NETAVARK_FORWARD, NETAVARK-HOSTPORT-*) behind; with no podman container left they
    serve nothing.
    """
    assert podman("ps", "--quiet").strip() == "", "podman containers are still running"
    for table, chains in netavark_chains().items():
        listing = subprocess.run(
            ["iptables", "-t", table, "-S"], capture_output=True, text=True, check=True
        ).stdout
        for line in listing.splitlines():
            words = shlex.split(line)
            jumps_to_netavark = "-j" in words and _NETAVARK_CHAIN.match(
                words[words.index("-j") + 1]
            )
            # Rules inside netavark's chains go with the chains (-F); rules of the built-in
            # chains that lead into them are deleted one by one.
            if words[0] == "-A" and not _NETAVARK_CHAIN.match(words[1]) and jumps_to_netavark:
                subprocess.run(["iptables", "-t", table, "-D", *words[1:]], check=True)
        for chain in chains:
            subprocess.run(["iptables", "-t", table, "-F", chain], check=True)
        for chain in chains:
            subprocess.run(["iptables", "-t", table, "-X", chain], check=True)
