"""The mixed load: PDF uploads through the real upload API and admin test jobs that fail and retry.

Both go to a random app process, as a load balancer would send them. A request the system
answered with success is "acknowledged": its job must finish whatever happens next. A
request that failed (an app killed mid-request, Redis or PostgreSQL away) may or may not
have created a job; the check finds those in Redis and holds them to the same standard.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from tests.support.pdfs import corrupt_pdf, numbered_pdf

from ailawyer.auth.sessions import SESSION_COOKIE

CSRF_COOKIE = "csrftoken"
# At most this many requests of each kind in flight; a stalled system must not make
# the generator pile up thousands of waiting requests.
MAX_IN_FLIGHT = 8
REQUEST_TIMEOUT_SECONDS = 15.0
# Share of uploads that are no readable PDF: they fail on every attempt, so the uploader
# gets the friendly failure and every ADMIN the technical one.
CORRUPT_SHARE = 0.08
# Test jobs: how they end, and how long a run takes (long enough to be hit by a kill).
TEST_FAILURES = (("never", 0.5), ("first-attempt", 0.3), ("always", 0.2))
TEST_DURATION_SECONDS = (0.2, 3.0)
_JOB_ID = re.compile(r"/admin/jobs/queues/test/jobs/([^/?]+)")


@dataclass(frozen=True)
class Person:
    user_id: int
    token: str
    is_admin: bool
    akten: tuple[int, ...]


@dataclass
class LoadRecord:
    """What the generators sent and what the system answered."""

    # Dokument id -> uploader, for uploads answered 201.
    dokumente: dict[int, int] = field(default_factory=dict)
    # Test job ids from answered test-job requests.
    test_jobs: set[str] = field(default_factory=set)
    # Outcomes by kind: "upload 201", "upload 503", "test-job error ConnectError", ...
    outcomes: Counter[str] = field(default_factory=Counter)


class LoadGenerator:
    """Open-loop generators at fixed rates until stopped."""

    def __init__(
        self,
        people: list[Person],
        app_urls: list[str],
        http: httpx.AsyncClient,
        csrf_token: str,
        rng: random.Random,
    ) -> None:
        self.people = people
        self.admins = [p for p in people if p.is_admin]
        self.app_urls = app_urls
        self.http = http
        self.csrf_token = csrf_token
        self.rng = rng
        self.record = LoadRecord()
        self._stop = asyncio.Event()
        self._valid_pdfs = [numbered_pdf(pages) for pages in range(1, 5)]
        self._corrupt_pdf = corrupt_pdf()

    def stop(self) -> None:
        self._stop.set()

    async def run(self, uploads_per_second: float, test_jobs_per_second: float) -> None:
        """Generate until `stop()`; returns when every request has been answered."""
        await asyncio.gather(
            self._at_rate(uploads_per_second, self._upload),
            self._at_rate(test_jobs_per_second, self._test_job),
        )

    async def _at_rate(self, rate: float, send: Callable[[], Awaitable[None]]) -> None:
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        pending: set[asyncio.Task[None]] = set()

        async def one() -> None:
            try:
                await send()
            finally:
                slots.release()

        started = time.monotonic()
        sent = 0
        while not self._stop.is_set():
            due = started + sent / rate
            try:
                await asyncio.wait_for(self._stop.wait(), max(0.0, due - time.monotonic()))
                break
            except TimeoutError:
                pass
            await slots.acquire()
            sent += 1
            task = asyncio.ensure_future(one())
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)

    def _headers(self, person: Person) -> dict[str, str]:
        return {
            "Cookie": f"{SESSION_COOKIE}={person.token}; {CSRF_COOKIE}={self.csrf_token}",
            "x-csrftoken": self.csrf_token,
            "Accept": "application/json",
        }

    async def _upload(self) -> None:
        person = self.rng.choice(self.people)
        akte_id = self.rng.choice(person.akten)
        corrupt = self.rng.random() < CORRUPT_SHARE
        content = self._corrupt_pdf if corrupt else self.rng.choice(self._valid_pdfs)
        name = "kaputt.pdf" if corrupt else f"schriftsatz-{self.rng.randrange(10**6)}.pdf"
        try:
            response = await self.http.post(
                f"{self.rng.choice(self.app_urls)}/akten/{akte_id}/dokumente",
                files=[("dateien", (name, content, "application/pdf"))],
                headers=self._headers(person),
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as error:
            self.record.outcomes[f"upload {type(error).__name__}"] += 1
            return
        self.record.outcomes[f"upload {response.status_code}"] += 1
        if response.status_code == 201:
            for dokument in response.json()["dokumente"]:
                self.record.dokumente[int(dokument["id"])] = person.user_id

    async def _test_job(self) -> None:
        admin = self.rng.choice(self.admins)
        failures, weights = zip(*TEST_FAILURES, strict=True)
        form = {
            "dauer": f"{self.rng.uniform(*TEST_DURATION_SECONDS):.1f}",
            "schritte": str(self.rng.randint(2, 5)),
            "ergebnis": self.rng.choices(failures, weights)[0],
        }
        try:
            response = await self.http.post(
                f"{self.rng.choice(self.app_urls)}/admin/jobs/test-job",
                data=form,
                headers=self._headers(admin),
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as error:
            self.record.outcomes[f"test-job {type(error).__name__}"] += 1
            return
        self.record.outcomes[f"test-job {response.status_code}"] += 1
        found = _JOB_ID.search(response.headers.get("location", ""))
        if response.status_code == 303 and found:
            self.record.test_jobs.add(found.group(1))
