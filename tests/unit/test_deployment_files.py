"""The deployment files agree with each other and with the code they deploy.

These tests need no container engine: they read the Dockerfile and docker-compose.yml as
text and YAML, and render docker-compose.yml with a test `.env` through Compose's own parser
(`docker-compose config`, Debian's docker-compose, which needs no daemon). They check what
would otherwise only fail on a server: a setting in `.env` that never reaches a container,
a setting name compose passes but Settings ignores, a CLI subcommand that was renamed, a
grace period shorter than the worker's own shutdown timeout, a healthcheck on the wrong path.
tests/deployment/ brings the stack up for real (`make stack`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from ailawyer.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$", re.MULTILINE)

LOG_DIR = "/var/log/ai-lawyer"
HEALTH_PATH = "/api/health"
# Services that must come back after a crash or a reboot of the host.
LONG_RUNNING_SERVICES = ("redis", "postgres", "app", "worker")
# Services that run the ailawyer image (one image, several entrypoints).
AILAWYER_SERVICES = ("migrate", "app", "worker")
# Variables in the image that configure Python or the shell, not ailawyer.config.Settings.
NON_SETTINGS_ENV = frozenset({"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"})


# --- reading the Dockerfile ---------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        return [each for each in self.instructions if each.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"the stage FROM {self.base} has no {keyword}"
        return found[-1]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            values.update(_env_pairs(instruction.arguments))
        return values


def _logical_lines(text: str) -> list[str]:
    """Instruction lines as Docker reads them: comments dropped, continuations joined."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        # Docker drops comment lines even in the middle of a continued instruction.
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def _env_pairs(arguments: str) -> dict[str, str]:
    tokens = shlex.split(arguments)
    if tokens and "=" not in tokens[0]:  # the legacy form `ENV NAME value with spaces`
        return {tokens[0]: " ".join(tokens[1:])}
    return dict(token.split("=", 1) for token in tokens)


@cache
def dockerfile_stages() -> tuple[Stage, ...]:
    stages: list[Stage] = []
    for line in _logical_lines(DOCKERFILE.read_text()):
        keyword, _, arguments = line.partition(" ")
        keyword, arguments = keyword.upper(), arguments.strip()
        if keyword == "FROM":
            words = [w for w in arguments.split() if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name, instructions=()))
        elif stages:  # a global ARG before the first FROM belongs to no stage
            last = stages[-1]
            instructions = (*last.instructions, Instruction(keyword, arguments))
            stages[-1] = Stage(last.base, last.name, instructions)
    return tuple(stages)


def final_stage() -> Stage:
    return dockerfile_stages()[-1]


def exec_form(text: str) -> list[str]:
    """The JSON array of an exec-form instruction such as CMD ["serve"].

    Docker silently runs a malformed JSON array as a shell command instead, so the exec form
    is checked to be valid JSON rather than merely to look like it.
    """
    assert text.startswith("["), f"not in exec form: {text}"
    value = json.loads(text)
    assert isinstance(value, list) and all(isinstance(each, str) for each in value), text
    return value


# --- reading docker-compose.yml -----------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    # safe_load resolves the x-ailawyer anchor and its `<<` merges like compose does.
    return yaml.safe_load(COMPOSE_FILE.read_text())


def service(name: str) -> dict[str, Any]:
    services = compose()["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    return services[name]


def words(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(each) for each in command]


def environment(name: str) -> dict[str, str]:
    env = service(name).get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): str(value) for key, value in env.items()}


def mounts(name: str) -> dict[str, str]:
    """target path -> source (named volume or host path) of a service's volumes."""
    result: dict[str, str] = {}
    for volume in service(name).get("volumes") or []:
        if isinstance(volume, dict):
            result[volume["target"]] = volume.get("source", "")
        else:
            source, target = volume.split(":")[:2]
            result[target] = source
    return result


def healthcheck_text(name: str) -> str:
    check = service(name).get("healthcheck") or {}
    assert not check.get("disable"), f"{name}: the healthcheck is disabled"
    test = check.get("test")
    assert test, f"{name}: no healthcheck"
    return test if isinstance(test, str) else " ".join(test)


def seconds(duration: str | int | float) -> float:
    """A compose duration such as `30s`, `1m30s` or `500ms` in seconds."""
    if isinstance(duration, int | float):
        return float(duration)
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"bad duration {duration!r}"
    return sum(float(number) * units[unit] for number, unit in parts)


# --- the Dockerfile -----------------------------------------------------------------------


def test_the_image_is_built_in_stages_that_exist():
    stages = dockerfile_stages()
    assert len(stages) >= 2, "the Dockerfile must be multi-stage (build tools stay out)"
    for index, stage in enumerate(stages):
        earlier = {each.name for each in stages[:index] if each.name}
        for copy in stage.all("COPY"):
            found = re.search(r"--from=(\S+)", copy.arguments)
            # A --from is an earlier stage, or an image reference (which has a : or /).
            if found and not re.search(r"[:/]", found.group(1)):
                assert found.group(1) in earlier, f"COPY --from={found.group(1)}: no such stage"


def test_the_image_starts_the_web_app_through_the_ailawyer_command():
    assert exec_form(final_stage().last("ENTRYPOINT").arguments) == ["ailawyer"]
    assert exec_form(final_stage().last("CMD").arguments) == ["serve"]


def test_the_image_runs_as_an_unprivileged_user():
    user = final_stage().last("USER").arguments.split(":")[0]
    assert user not in {"root", "0"}


def test_the_image_healthcheck_probes_the_health_endpoint():
    # HEALTHCHECK [--interval=... options] CMD ["python", "-c", "..."]
    _options, found, command = final_stage().last("HEALTHCHECK").arguments.partition("CMD ")
    assert found, "HEALTHCHECK has no CMD"
    assert any(HEALTH_PATH in word for word in exec_form(command.strip()))


def test_the_image_logs_where_the_log_volume_is_mounted():
    assert final_stage().env()["LOG_DIR"] == LOG_DIR


def test_the_image_environment_names_only_real_settings():
    unknown = set(final_stage().env()) - NON_SETTINGS_ENV - _setting_env_names()
    assert not unknown, f"ENV in the Dockerfile that Settings does not read: {sorted(unknown)}"


# --- docker-compose.yml -------------------------------------------------------------------


def test_redis_keeps_jobs_across_restarts_and_never_evicts_them():
    redis = service("redis")
    assert redis["image"] == "redis:7-alpine"
    command = " ".join(words(redis["command"]))
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert "/data" in mounts("redis")
    assert "redis-cli ping" in healthcheck_text("redis")


def test_postgres_keeps_its_data_in_a_volume_and_reports_readiness():
    postgres = service("postgres")
    assert postgres["image"] == "postgres:16"
    assert "/var/lib/postgresql/data" in mounts("postgres")
    assert "pg_isready" in healthcheck_text("postgres")


def test_app_and_worker_run_the_one_image_the_compose_file_builds():
    builders = [name for name in AILAWYER_SERVICES if "build" in service(name)]
    # One build: services building the same tag race in `buildx bake`.
    assert builders == ["app"]
    assert {service(name)["image"] for name in AILAWYER_SERVICES} == {service("app")["image"]}


def test_app_serves_and_is_healthchecked_on_the_health_endpoint():
    assert words(service("app")["command"]) == ["serve"]
    assert HEALTH_PATH in healthcheck_text("app")


def test_worker_runs_the_worker_command():
    assert words(service("worker")["command"]) == ["worker"]


def test_worker_is_healthchecked_on_its_own_heartbeat():
    # The image's probe is /api/health, which a worker does not serve.
    assert words(service("worker")["healthcheck"]["test"]) == [
        "CMD",
        "ailawyer",
        "healthcheck",
        "worker",
    ]


@pytest.mark.parametrize("name", ["app", "worker"])
def test_docker_waits_longer_than_the_process_takes_to_shut_down(name):
    # On SIGTERM the worker lets running jobs finish and uvicorn lets open requests finish, both
    # for up to SHUTDOWN_GRACE_SECONDS; Docker sends SIGKILL when stop_grace_period ends.
    default = Settings.model_fields["shutdown_grace_seconds"].default
    # An override in compose would have to be a plain number for this comparison to hold.
    grace = float(environment(name).get("SHUTDOWN_GRACE_SECONDS", default))
    stop_grace_period = seconds(service(name).get("stop_grace_period", "10s"))  # Docker's default
    assert stop_grace_period > grace, (stop_grace_period, grace)


def test_migrations_run_once_before_app_and_worker_start():
    migrate = service("migrate")
    assert words(migrate["command"]) == ["db", "upgrade"]
    assert migrate["restart"] == "no"  # a string: unquoted, YAML would read `false`
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("app", "worker"):
        condition = service(name)["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name


@pytest.mark.parametrize("name", LONG_RUNNING_SERVICES)
def test_long_running_services_restart_unless_stopped(name):
    assert service(name)["restart"] == "unless-stopped"


@pytest.mark.parametrize("name", ["app", "worker"])
def test_app_and_worker_wait_for_healthy_redis_and_postgres(name):
    depends_on = service(name)["depends_on"]
    assert isinstance(depends_on, dict), "the short list form cannot wait for health"
    for dependency in ("redis", "postgres"):
        assert depends_on[dependency]["condition"] == "service_healthy", dependency


def test_app_and_worker_share_the_log_and_upload_volumes():
    data_dir = final_stage().env()["DATA_DIR"]
    app, worker = mounts("app"), mounts("worker")
    assert app.get(LOG_DIR) and app.get(LOG_DIR) == worker.get(LOG_DIR)
    # The worker reads the PDFs the app stored, so both must see the same DATA_DIR.
    assert app.get(data_dir) and app.get(data_dir) == worker.get(data_dir)


def test_every_named_volume_is_declared():
    declared = set(compose().get("volumes") or {})
    for name in compose()["services"]:
        for source in mounts(name).values():
            if source and not source.startswith((".", "/", "~", "$")):
                assert source in declared, f"{name}: volume {source!r} is not declared"


@pytest.mark.parametrize("name", AILAWYER_SERVICES)
def test_compose_passes_only_variables_that_settings_reads(name):
    unknown = set(environment(name)) - _setting_env_names()
    assert not unknown, f"{name}: Settings ignores {sorted(unknown)} (extra='ignore')"


def test_compose_points_the_app_at_its_own_redis_and_postgres():
    env = environment("app")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379")


def test_compose_requires_a_secret_key_instead_of_defaulting_one():
    # `${SECRET_KEY:?message}` stops compose when the key is missing; a default would be public.
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]*\}", environment("app")["SECRET_KEY"])


# --- docker-compose.yml as Compose reads it -----------------------------------------------

# What the test .env gives the variables that only docker-compose.yml reads.
COMPOSE_DOTENV = {
    "POSTGRES_USER": "pg-user",
    "POSTGRES_PASSWORD": "pg-password",
    "POSTGRES_DB": "pg-db",
    "AILAWYER_IMAGE": "registry.example/ailawyer:test",
}


def container_values() -> dict[str, str]:
    """The settings docker-compose.yml itself sets, whatever .env says: the container's
    own layout and the stack's own Redis and PostgreSQL."""
    return {
        "HOST": "0.0.0.0",
        "PORT": "8000",
        "DATA_DIR": final_stage().env()["DATA_DIR"],
        "LOG_DIR": LOG_DIR,
        "DATABASE_URL": "postgresql://pg-user:pg-password@postgres:5432/pg-db",
        "REDIS_URL": "redis://redis:6379/0",
    }


def dotenv_of_every_setting() -> dict[str, str]:
    """A .env that gives every field of Settings (read now, so new ones count) its own value."""
    values = {name.upper(): f"from-dotenv-{name}" for name in Settings.model_fields}
    # Compose publishes it as the app's host port, so it must be a number.
    values["PORT"] = "18123"
    return {**values, **COMPOSE_DOTENV}


def render(directory: Path, dotenv: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` of our compose file beside `dotenv`, as an operator has it."""
    assert shutil.which("docker-compose"), "apt-get install docker-compose (make test-services)"
    shutil.copy(COMPOSE_FILE, directory / "docker-compose.yml")
    (directory / ".env").write_text("".join(f"{k}={v}\n" for k, v in dotenv.items()))
    # Only PATH and HOME: a variable of the test's own shell would win over .env.
    env = {"PATH": os.environ["PATH"], "HOME": str(directory)}
    return subprocess.run(
        ["docker-compose", "config"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = render(tmp_path_factory.mktemp("compose"), dotenv_of_every_setting())
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.mark.parametrize("name", AILAWYER_SERVICES)
def test_every_setting_in_dotenv_reaches_the_container(rendered, name):
    env = {str(k): str(v) for k, v in rendered["services"][name]["environment"].items()}
    fixed = container_values()
    expected = {**dotenv_of_every_setting(), **fixed}
    wrong = {
        setting: (env.get(setting), expected[setting])
        for setting in _setting_env_names()
        if env.get(setting) != expected[setting]
    }
    assert not wrong, f"{name}: setting -> (in the container, expected): {wrong}"


def test_compose_takes_its_own_variables_from_dotenv(rendered):
    services = rendered["services"]
    assert {services[name]["image"] for name in AILAWYER_SERVICES} == {
        COMPOSE_DOTENV["AILAWYER_IMAGE"]
    }
    postgres = {str(k): str(v) for k, v in services["postgres"]["environment"].items()}
    assert postgres == {
        "POSTGRES_USER": "pg-user",
        "POSTGRES_PASSWORD": "pg-password",
        "POSTGRES_DB": "pg-db",
    }
    (port,) = services["app"]["ports"]
    assert (str(port["published"]), str(port["target"])) == ("18123", "8000")


@pytest.mark.parametrize("missing", ["POSTGRES_PASSWORD", "SECRET_KEY"])
def test_compose_refuses_to_start_without_a_password_or_key(tmp_path, missing):
    dotenv = {**dotenv_of_every_setting(), missing: ""}

    result = render(tmp_path, dotenv)

    assert result.returncode != 0, result.stdout
    assert f"set {missing} in .env" in result.stderr


def test_the_copied_env_example_with_a_password_and_key_starts_the_app(tmp_path, monkeypatch):
    """The README's path: `cp .env.example .env`, fill in the two required values."""
    dotenv = dict(ASSIGNMENT.findall(ENV_EXAMPLE.read_text()))
    dotenv.update(SECRET_KEY="k" * 40, POSTGRES_PASSWORD="pg-password")
    result = render(tmp_path, dotenv)
    assert result.returncode == 0, result.stderr
    for name in ("app", "worker"):
        env = yaml.safe_load(result.stdout)["services"][name]["environment"]
        for key in list(os.environ):
            if key.upper() in _setting_env_names():
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(str(key), str(value))
        settings = Settings(_env_file=None)
        assert settings.environment.value == "production"
        assert settings.effective_log_dir == Path(LOG_DIR)


# --- the CLI the image and compose call ---------------------------------------------------


def test_every_subcommand_the_deployment_uses_exists():
    from ailawyer.cli import main  # a click Group; imported here so the file tests start without it

    used = {tuple(exec_form(final_stage().last("CMD").arguments))}
    used |= {tuple(words(service(name)["command"])) for name in AILAWYER_SERVICES}
    # Healthchecks that call the command, such as `ailawyer healthcheck worker`.
    for name in AILAWYER_SERVICES:
        test = words((service(name).get("healthcheck") or {}).get("test") or [])
        if "ailawyer" in test:
            used.add(tuple(test[test.index("ailawyer") + 1 :]))
    # Commands run while the image is built, such as `ailawyer assets`.
    for stage in dockerfile_stages():
        for run in stage.all("RUN"):
            used |= {(name,) for name in re.findall(r"\bailawyer ([a-z][\w-]*)", run.arguments)}

    missing = [" ".join(path) for path in sorted(used) if not _resolves(main, list(path))]
    assert not missing, f"`ailawyer` has no subcommand: {missing}"


def _resolves(group: click.Group, path: list[str]) -> bool:
    context = click.Context(group, info_name="ailawyer")
    command: click.Command = group
    for name in path:
        if name.startswith("-") or not isinstance(command, click.Group):
            break  # options and arguments of a leaf command are not subcommands
        found = command.get_command(context, name)
        if found is None:
            return False
        context = click.Context(found, parent=context, info_name=name)
        command = found
    return True


# --- the build context --------------------------------------------------------------------


def test_the_build_context_leaves_out_secrets_and_local_environments():
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    for required in (".env", ".venv", ".git", "**/node_modules", "var"):
        assert required in patterns, required


def _setting_env_names() -> set[str]:
    # pydantic-settings reads each field from the environment variable of the same name,
    # case-insensitively and without a prefix.
    return {name.upper() for name in Settings.model_fields}
