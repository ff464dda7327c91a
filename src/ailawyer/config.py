"""Infrastructure settings: one typed object read from the environment and `.env`.

Runtime settings that admins change while the system runs live in the database
(`ailawyer.runtime_settings`); this module holds only what a process needs to start.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PositiveFloat, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The level of a process without LOG_LEVEL until an admin saves another (runtime setting).
DEFAULT_LOG_LEVEL = "INFO"
INSECURE_SECRET_KEYS = frozenset({"", "changethis", "change-me", "secret"})


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ConfigurationError(RuntimeError):
    """A setting is missing or invalid; the process must not start."""


class Settings(BaseSettings):
    """Every infrastructure setting; documented one by one in `.env.example`."""

    # env_ignore_empty: `NAME=` (as .env.example lists the optional ones, and as compose's
    # env_file hands them on) means "the default", not an empty value to parse.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    environment: Environment = Environment.PRODUCTION
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    data_dir: Path = Path("./var")
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str = ""
    # Given (environment or .env), LOG_LEVEL pins the process's level; unset, the process
    # follows the level an admin saves, INFO until then (see `log_level_pinned`).
    log_level: str = DEFAULT_LOG_LEVEL
    # What stdout gets: "json" (the lines the files get) or "console" (readable, coloured
    # lines for a person at a terminal; `ailawyer dev` sets it for its app and worker).
    log_stdout_format: Literal["json", "console"] = "json"
    log_dir: Path | None = None
    log_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    log_backup_count: int = Field(default=10, ge=1)
    # The scheduled maintenance deletes log files of ended processes this long after their
    # last line (ailawyer.worker.log_retention).
    log_retention_days: int = Field(default=14, ge=1)
    # The most one log viewer request reads when its filters match few lines.
    log_viewer_scan_mb: int = Field(default=64, ge=1)
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    session_idle_minutes: int = Field(default=60, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    secure_cookies: bool | None = None
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_upload_mb: int = Field(default=25, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    # Failed logins per client address across all e-mails (ailawyer.auth.login_limit).
    login_address_max_failures: int = Field(default=30, ge=1)
    login_address_window_minutes: int = Field(default=15, ge=1)
    redis_key_prefix: str = "ailawyer"
    worker_heartbeat_seconds: float = Field(default=5.0, gt=0)
    shutdown_grace_seconds: float = Field(default=25.0, ge=0)
    # Jobs (see ailawyer.jobs.options): 4 attempts = the first run plus 3 retries after
    # 10 s, 60 s and 300 s; tests scale the delays down.
    job_attempts: int = Field(default=4, ge=1, le=20)
    job_backoff_seconds: Annotated[list[PositiveFloat], NoDecode] = Field(
        default_factory=lambda: [10.0, 60.0, 300.0], min_length=1
    )
    # Defaults of the runtime settings for retention; admins change them while running.
    job_keep_completed_seconds: int = Field(default=24 * 3600, ge=1)
    job_keep_failed_seconds: int = Field(default=7 * 24 * 3600, ge=1)
    # Maintenance: the retention cleanup (jobs, log files, notifications, audit log).
    job_cleanup_interval_seconds: float = Field(default=15 * 60, gt=0)
    # How often Dokumente whose job is gone are enqueued again (ailawyer.dokumente.recovery);
    # short, because a Redis that lost writes leaves accepted uploads waiting until then.
    dokumente_recovery_seconds: float = Field(default=15.0, gt=0)
    # A killed worker's jobs run again after at most lock + stalled interval (~20 s); on
    # the same host (pid space) within about a second (ailawyer.worker.dead_workers).
    job_lock_seconds: float = Field(default=15.0, gt=0)
    job_stalled_interval_seconds: float = Field(default=5.0, gt=0)
    job_max_stalled_count: int = Field(default=1, ge=0)
    # How long a worker waits before trying Redis again after a connection error.
    worker_reconnect_seconds: float = Field(default=2.0, gt=0)
    max_upload_files: int = Field(default=10, ge=1)
    # Reading one uploaded PDF in the worker (ailawyer.dokumente.pdf): a file of a few KB
    # can inflate to gigabytes of text or keep pypdf busy for hours. Beyond these the
    # Dokument fails for good and the uploader is told why, in German.
    pdf_max_pages: int = Field(default=2000, ge=1)
    pdf_max_text_chars: int = Field(default=10_000_000, ge=1)
    pdf_max_seconds: float = Field(default=300.0, gt=0)
    pdf_max_memory_mb: int = Field(default=1024, ge=64)
    kanzlei_name: str = "Kanzlei"
    # The wall clock of every time a person reads: pages, job logs and what the browser
    # renders itself (ailawyer.app.web.templating, static/js/format.js).
    time_zone: str = "Europe/Berlin"
    # Alerts to the operators (ailawyer.alerts): every process ticks this often, and one of
    # them evaluates the installation's checks per tick.
    alert_interval_seconds: float = Field(default=10.0, gt=0)
    # GET /metrics answers only `Authorization: Bearer <this>`; unset (or empty): 404.
    metrics_token: SecretStr | None = None

    @field_validator("allowed_origins", "trusted_proxies", "job_backoff_seconds", mode="before")
    @classmethod
    def _split_comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin"
            ) from None
        return value

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            if self.secret_key in INSECURE_SECRET_KEYS or len(self.secret_key) < 32:
                raise ValueError(
                    "SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production; create one with `python -c "
                    "'import secrets; print(secrets.token_hex(32))'`"
                )
            if not self.database_url:
                raise ValueError("DATABASE_URL must be set in production")
            if not self.redis_url:
                raise ValueError("REDIS_URL must be set in production")
        return self

    @property
    def effective_database_url(self) -> str:
        """The configured database, or the embedded SQLite file in DATA_DIR."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'ailawyer.sqlite3').resolve()}"

    @property
    def display_zone(self) -> ZoneInfo:
        """The time zone people read times in (TIME_ZONE)."""
        return ZoneInfo(self.time_zone)

    @property
    def log_level_pinned(self) -> bool:
        """Whether LOG_LEVEL was given to this process: then it wins over the saved level.

        An empty LOG_LEVEL= counts as not given (`env_ignore_empty`), so a copied
        .env.example leaves the level to the administrators.
        """
        return "log_level" in self.model_fields_set

    @property
    def effective_log_dir(self) -> Path:
        return self.log_dir if self.log_dir is not None else self.data_dir / "log"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def cookies_secure(self) -> bool:
        """Secure cookies unless explicitly disabled; plain HTTP is only normal in development."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.environment is Environment.PRODUCTION

    def signing_key(self) -> str:
        """The secret key; in development a random one is created once and kept in DATA_DIR."""
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret_key"
        if not key_file.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        return key_file.read_text().strip()


def normalize_database_url(url: str) -> str:
    """Accept the URLs operators write and pick the async driver for them."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, loaded once; a bad value stops the process with its reason."""
    try:
        return Settings()
    except ValueError as error:
        raise ConfigurationError(f"Invalid configuration: {error}") from error
