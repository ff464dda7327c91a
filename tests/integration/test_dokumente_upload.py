"""Uploading PDFs on the Akte page: checked by content and size, stored, recorded, enqueued."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from tests.support.dokumente import dokumente, upload
from tests.support.factories import Factory
from tests.support.http import csrf_token, login
from tests.support.pdfs import numbered_pdf

from ailawyer.db.models import Akte, DokumentStatus, Kanzlei, User
from ailawyer.dokumente.storage import DokumentStorage
from ailawyer.domain.roles import Role
from ailawyer.services import Services

MB = 1024 * 1024


@pytest.fixture
async def kanzlei(factory: Factory) -> Kanzlei:
    return await factory.kanzlei()


@pytest.fixture
async def anwalt(factory: Factory, kanzlei: Kanzlei) -> User:
    return await factory.user(Role.ANWALT, kanzlei=kanzlei)


@pytest.fixture
async def akte(factory: Factory, anwalt: User) -> Akte:
    return await factory.akte(anwalt.kanzlei_id, anwalt=anwalt)


@pytest.fixture
async def logged_in(
    client: httpx.AsyncClient, anwalt: User, services: Services
) -> AsyncIterator[httpx.AsyncClient]:
    """Logged in, with the queue paused: a worker of the run must not process these yet."""
    await login(client, anwalt.email)
    queue = services.jobs.queue("dokumente")
    await queue.pause()
    yield client
    await queue.resume()


async def test_a_pdf_is_stored_recorded_as_pending_and_enqueued_with_ids_only(
    logged_in: httpx.AsyncClient, services: Services, akte: Akte, anwalt: User
) -> None:
    content = numbered_pdf(2)

    response = await upload(logged_in, akte.id, [("Klageschrift Müller.pdf", content)])

    assert response.status_code == 201, response.text
    [created] = response.json()["dokumente"]
    [row] = await dokumente(services)
    assert created == {"id": row.id, "dateiname": "Klageschrift Müller.pdf", "status": "AUSSTEHEND"}
    assert row.status is DokumentStatus.AUSSTEHEND
    assert (row.akte_id, row.uploaded_by_id, row.size_bytes) == (akte.id, anwalt.id, len(content))
    stored = DokumentStorage(services.settings.upload_dir).path(row.storage_key)
    assert stored.read_bytes() == content
    assert "Müller" not in row.storage_key
    job = await services.jobs.get_job("dokumente", row.job_id or "")
    assert job is not None
    assert job.data == {
        "dokumentId": row.id,
        "akteId": akte.id,
        "userId": anwalt.id,
        "kanzleiId": akte.kanzlei_id,
    }


async def test_several_pdfs_can_be_uploaded_at_once(
    logged_in: httpx.AsyncClient, services: Services, akte: Akte
) -> None:
    response = await upload(
        logged_in, akte.id, [("a.pdf", numbered_pdf(1)), ("b.pdf", numbered_pdf(2))]
    )

    assert response.status_code == 201
    assert [d.dateiname for d in await dokumente(services)] == ["a.pdf", "b.pdf"]


async def test_a_file_is_judged_by_its_content_not_its_name(
    logged_in: httpx.AsyncClient, services: Services, akte: Akte
) -> None:
    refused = await upload(logged_in, akte.id, [("bericht.pdf", b"Nur Text, kein PDF.")])
    accepted = await upload(logged_in, akte.id, [("scan.bin", numbered_pdf(1))])

    assert refused.status_code == 400
    assert refused.json()["detail"] == "„bericht.pdf“: Die Datei ist kein PDF."
    assert accepted.status_code == 201
    assert [d.dateiname for d in await dokumente(services)] == ["scan.bin"]


async def test_one_bad_file_refuses_the_whole_upload(
    logged_in: httpx.AsyncClient, services: Services, akte: Akte
) -> None:
    response = await upload(
        logged_in, akte.id, [("gut.pdf", numbered_pdf(1)), ("schlecht.pdf", b"GIF89a")]
    )

    assert response.status_code == 400
    assert await dokumente(services) == []


@pytest.mark.parametrize(
    "size", [25 * MB + 1, 27 * MB], ids=["just-over-the-limit", "over-the-request-limit"]
)
async def test_a_too_large_file_is_refused_with_413(
    logged_in: httpx.AsyncClient, services: Services, akte: Akte, size: int
) -> None:
    big = b"%PDF-1.4\n" + b"0" * (size - 9)

    response = await upload(logged_in, akte.id, [("gross.pdf", big)])

    assert response.status_code == 413
    assert "Die Datei ist zu groß (höchstens 25 MB)." in response.json()["detail"]
    assert await dokumente(services) == []


async def test_a_user_without_access_to_the_akte_cannot_upload(
    client: httpx.AsyncClient, factory: Factory, services: Services, akte: Akte, kanzlei: Kanzlei
) -> None:
    # Same Kanzlei, but neither the Akte's anwalt nor its sachbearbeiter.
    colleague = await factory.user(Role.ANWALT, kanzlei=kanzlei)
    await login(client, colleague.email)
    own_akte = await factory.akte(colleague.kanzlei_id, anwalt=colleague)
    token = await csrf_token(client, f"/akten/{own_akte.id}")

    response = await client.post(
        f"/akten/{akte.id}/dokumente",
        files=[("dateien", ("x.pdf", numbered_pdf(1), "application/pdf"))],
        headers={"x-csrftoken": token, "Accept": "application/json"},
    )

    assert response.status_code == 404
    assert await dokumente(services) == []


async def test_without_javascript_the_form_post_returns_to_the_akte_page(
    logged_in: httpx.AsyncClient, services: Services, akte: Akte
) -> None:
    token = await csrf_token(logged_in, f"/akten/{akte.id}")
    form = {"_csrf_token": token}

    done = await logged_in.post(
        f"/akten/{akte.id}/dokumente",
        data=form,
        files=[("dateien", ("a.pdf", numbered_pdf(1), "application/pdf"))],
    )
    refused = await logged_in.post(
        f"/akten/{akte.id}/dokumente",
        data=form,
        files=[("dateien", ("b.pdf", b"kein pdf", "application/pdf"))],
    )

    assert done.status_code == 303
    assert done.headers["location"] == f"/akten/{akte.id}"
    assert refused.status_code == 400
    assert "„b.pdf“: Die Datei ist kein PDF." in refused.text
    assert [d.dateiname for d in await dokumente(services)] == ["a.pdf"]
