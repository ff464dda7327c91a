"""The long-lived clients a process needs, created once at start-up (app and worker alike)."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from ailawyer.auth.login_limit import Limit, LoginLimiter
from ailawyer.auth.sessions import SessionStore
from ailawyer.config import ConfigurationError, Settings
from ailawyer.db.session import Database
from ailawyer.jobs.activity import JobActivity
from ailawyer.jobs.queues import JobQueues
from ailawyer.notifications.service import NotificationService
from ailawyer.process_registry import ProcessRegistry
from ailawyer.realtime.emitter import Emitter
from ailawyer.redis_client import create_redis
from ailawyer.runtime_settings.service import RuntimeSettings


@dataclass
class Services:
    settings: Settings
    db: Database
    redis: Redis
    sessions: SessionStore
    login_limiter: LoginLimiter
    # Heartbeats of the worker and app processes (health, admin system page).
    workers: ProcessRegistry
    apps: ProcessRegistry
    emitter: Emitter
    notifications: NotificationService
    jobs: JobQueues
    # Live updates for the job explorer and job metrics; flushed by close().
    job_activity: JobActivity
    # Started by the process (`await services.runtime_settings.start()`), stopped by close().
    runtime_settings: RuntimeSettings

    @classmethod
    def create(cls, settings: Settings, *, emitter: Emitter | None = None) -> Services:
        """Connect lazily to the configured database and Redis (nothing is contacted yet).

        `emitter`: an app process passes one bound to its Socket.IO server; every other
        process gets a write-only emitter that publishes over Redis.
        """
        if not settings.redis_url:
            raise ConfigurationError(
                "REDIS_URL is not set. Use `ailawyer dev` for an embedded Redis, or set REDIS_URL."
            )
        redis = create_redis(settings.redis_url)
        prefix = settings.redis_key_prefix
        db = Database(settings.effective_database_url)
        emitter = emitter or Emitter.write_only(settings.redis_url, prefix)
        jobs = JobQueues(redis, settings)
        job_activity = JobActivity(jobs, emitter, metrics_prefix=prefix)
        jobs.enqueue_listeners.append(job_activity.changed)
        return cls(
            settings=settings,
            db=db,
            redis=redis,
            sessions=SessionStore(
                redis,
                prefix=prefix,
                idle_seconds=settings.session_idle_minutes * 60,
                absolute_seconds=settings.session_absolute_hours * 3600,
            ),
            login_limiter=LoginLimiter(
                redis,
                prefix=prefix,
                account=Limit(settings.login_max_failures, settings.login_window_minutes * 60),
                address=Limit(
                    settings.login_address_max_failures,
                    settings.login_address_window_minutes * 60,
                ),
            ),
            workers=ProcessRegistry(
                redis,
                prefix=prefix,
                kind="worker",
                interval_seconds=settings.worker_heartbeat_seconds,
            ),
            apps=ProcessRegistry(
                redis, prefix=prefix, kind="app", interval_seconds=settings.worker_heartbeat_seconds
            ),
            emitter=emitter,
            notifications=NotificationService(emitter),
            jobs=jobs,
            job_activity=job_activity,
            runtime_settings=RuntimeSettings(db=db, redis=redis, settings=settings),
        )

    async def close(self) -> None:
        await self.runtime_settings.stop()
        await self.job_activity.close()
        await self.emitter.close()
        await self.redis.aclose()
        await self.db.dispose()
