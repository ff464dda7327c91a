"""The app's reader of bullmq's events streams (app/realtime/queue_events.py) goes on after
Redis was away, and stops cleanly."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bullmq import Queue
from tests.integration.test_admin_jobs_live import Recorder
from tests.support.jobs import isolated, wait_until

from ailawyer.app.realtime.queue_events import EventsStreamReader
from ailawyer.config import Settings
from ailawyer.embedded_redis import RedisServer
from ailawyer.jobs.activity import JobActivity
from ailawyer.jobs.options import bull_prefix
from ailawyer.jobs.queues import JobQueues
from ailawyer.realtime import events
from ailawyer.realtime.emitter import Emitter
from ailawyer.realtime.rooms import job_explorer_room
from ailawyer.redis_client import create_redis

QUEUE = "probe-events"


async def named(recorder: Recorder, job_id: str) -> bool:
    return any(
        event == events.JOBS_UPDATE
        and room == job_explorer_room(None)
        and any(job["id"] == job_id for job in data["jobs"])
        for event, data, room in recorder.sent
    )


async def test_the_reader_goes_on_after_a_redis_outage_and_stops_cleanly(
    tmp_path: Path, settings: Settings
) -> None:
    # A Redis of its own: stopping the run's shared one would disturb other tests.
    server = RedisServer(data_dir=tmp_path / "redis")
    server.start()
    own = isolated(settings, redis_url=server.url)
    redis = create_redis(server.url)
    jobs = JobQueues(redis, own)
    recorder = Recorder()
    activity = JobActivity(jobs, Emitter(recorder), metrics_prefix=own.redis_key_prefix)
    reader = EventsStreamReader(
        create_redis(server.url), jobs, activity, lambda: [job_explorer_room(None)]
    )
    # Another client's queue (a Node service's, say): not declared anywhere.
    producer = Queue(QUEUE, {"connection": create_redis(server.url), "prefix": bull_prefix(own)})
    try:
        reader.start()
        await producer.add("sonde", {"n": 0})
        await reader.watch_new_queues()  # as when an explorer page joins
        before = str((await producer.add("sonde", {"n": 1})).id)
        await wait_until(lambda: named(recorder, before), within=5, what="the first job")

        await asyncio.to_thread(server.kill)
        await asyncio.to_thread(server.start)
        await producer.add("sonde", {"n": 2})  # the queue exists again (AOF or anew)

        async def reported_after_the_outage() -> bool:
            job_id = str((await producer.add("sonde", {"n": 3})).id)
            try:
                await wait_until(lambda: named(recorder, job_id), within=1.5, what="a job")
            except AssertionError:
                return False
            return True

        await wait_until(reported_after_the_outage, within=20, what="a job after the outage")

        started = time.monotonic()
        await reader.stop()
        assert time.monotonic() - started < 2
    finally:
        await producer.close()
        await redis.aclose()
        server.stop()
