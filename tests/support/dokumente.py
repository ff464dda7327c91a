"""Uploading Dokumente over real HTTP and waiting for their processing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from sqlalchemy import select
from tests.support.http import csrf_token
from tests.support.jobs import wait_until

from ailawyer.db.models import Dokument, DokumentStatus, Notification
from ailawyer.dokumente.storage import DokumentStorage
from ailawyer.services import Services

# Generous on purpose: every attempt starts a PDF reader process, and a busy test machine
# can be slow; a passing test goes on as soon as the state is reached.
PROCESSING_WITHIN = 60.0


async def upload(
    client: httpx.AsyncClient, akte_id: int, files: Sequence[tuple[str, bytes]]
) -> httpx.Response:
    """Upload like the Akte page's script: multipart, JSON answer, CSRF token in the header."""
    token = await csrf_token(client, f"/akten/{akte_id}")
    return await client.post(
        f"/akten/{akte_id}/dokumente",
        files=[("dateien", (name, content, "application/pdf")) for name, content in files],
        headers={"x-csrftoken": token, "Accept": "application/json"},
    )


async def dokumente(services: Services) -> list[Dokument]:
    async with services.db.session() as session:
        return list((await session.scalars(select(Dokument).order_by(Dokument.id))).all())


async def wait_for_status(
    services: Services, dokument_id: int, status: DokumentStatus, *, within: float
) -> Dokument:
    async def reached() -> Dokument | None:
        async with services.db.session() as session:
            dokument = await session.get(Dokument, dokument_id)
        return dokument if dokument is not None and dokument.status is status else None

    return await wait_until(reached, within=within, what=f"Dokument {dokument_id} {status}")


async def notifications_of(services: Services, user_id: int) -> list[Notification]:
    async with services.db.session() as session:
        rows = await session.scalars(
            select(Notification).where(Notification.user_id == user_id).order_by(Notification.seq)
        )
        return list(rows.all())


async def load(services: Services, dokument_id: int) -> Dokument:
    async with services.db.session() as session:
        dokument = await session.get(Dokument, dokument_id)
    assert dokument is not None, f"no Dokument {dokument_id}"
    return dokument


def stored_file(services: Services, dokument: Dokument) -> Path:
    """Where the uploaded file of `dokument` lies."""
    return DokumentStorage(services.settings.upload_dir).path(dokument.storage_key)


@asynccontextmanager
async def queue_held(services: Services, queue: str = "dokumente") -> AsyncIterator[None]:
    """The queue paused for every worker while the block runs (e.g. to hide an uploaded
    file before a worker reads it), resumed after."""
    await services.jobs.queue(queue).pause()
    try:
        yield
    finally:
        await services.jobs.queue(queue).resume()
