"""Upload limits: files and megabytes per user and hour (429) and the storage of each Kanzlei
(413), runtime settings that hold across app processes; a refused upload leaves nothing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import process_env
from tests.support.dokumente import dokumente, upload
from tests.support.factories import Factory
from tests.support.http import csrf_token, logged_in
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http
from tests.support.runtime_settings import wait_until_applied

from ailawyer.config import Settings
from ailawyer.db.models import Akte, Kanzlei, User
from ailawyer.dokumente.storage import DokumentStorage
from ailawyer.dokumente.upload_limits import MB
from ailawyer.domain.roles import Role
from ailawyer.runtime_settings.definitions import (
    UPLOAD_FILES_PER_HOUR,
    UPLOAD_KANZLEI_QUOTA_MB,
    UPLOAD_MB_PER_HOUR,
)
from ailawyer.services import Services

pytestmark = pytest.mark.usefixtures("defaults_restored")

RATE_REFUSED = re.compile(
    r"Sie haben in dieser Stunde bereits (\d+) Dateien \([\d.,]+ MB\) hochgeladen; "
    r"erlaubt sind höchstens \d+ Dateien und [\d.,]+ MB pro Stunde\. "
    r"Bitte versuchen Sie es in (einer Minute|\d+ Minuten) erneut\."
)
QUOTA_REFUSED = "Der Speicherplatz Ihrer Kanzlei reicht für diese Dateien nicht aus"


def padded_pdf(size: int) -> bytes:
    """A file of exactly `size` bytes that passes the upload's content check."""
    return b"%PDF-1.4\n" + b"0" * (size - 9)


def stored_files(settings: Settings) -> set[Path]:
    root = settings.upload_dir
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


async def set_limits(services: Services, processes: int = 1, **values: int) -> None:
    """Store upload limits and wait until every running app (and worker) applied them."""
    for key, value in values.items():
        await services.runtime_settings.set(key, value)
    await wait_until_applied(services, at_least=processes, within=10)


@pytest.fixture(scope="module")
def second_app(settings: Settings, tmp_root: Path) -> Iterator[str]:
    """Another `ailawyer serve` on the same Redis and database: limits must hold across both."""
    port = free_port()
    process = AilawyerProcess(
        ["serve", "--port", str(port)], process_env(settings), tmp_root / f"serve-{port}.out"
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base_url}/api/health", process=process)
        yield base_url
    finally:
        assert process.stop() == 0, process.output()[-4000:]


@pytest.fixture
async def kanzlei(factory: Factory) -> Kanzlei:
    return await factory.kanzlei()


@pytest.fixture
async def sachbearbeiter(factory: Factory, kanzlei: Kanzlei) -> User:
    return await factory.user(Role.SACHBEARBEITER, kanzlei=kanzlei)


@pytest.fixture
async def akte(factory: Factory, sachbearbeiter: User) -> Akte:
    return await factory.akte(sachbearbeiter.kanzlei_id, sachbearbeiter=sachbearbeiter)


@pytest.fixture
async def paused(services: Services) -> AsyncIterator[None]:
    """No worker of the run processes these uploads (they are not PDFs a reader could open)."""
    queue = services.jobs.queue("dokumente")
    await queue.pause()
    yield
    await queue.resume()


@pytest.fixture
async def client(
    live_server: str, sachbearbeiter: User, paused: None
) -> AsyncIterator[httpx.AsyncClient]:
    async with logged_in(live_server, sachbearbeiter) as client:
        yield client


async def post_form(client: httpx.AsyncClient, akte: Akte, content: bytes) -> httpx.Response:
    """The upload form without JavaScript: the whole Akte page comes back."""
    token = await csrf_token(client, f"/akten/{akte.id}")
    return await client.post(
        f"/akten/{akte.id}/dokumente",
        data={"_csrf_token": token},
        files=[("dateien", ("akte.pdf", content, "application/pdf"))],
    )


async def parallel_uploads(base_url: str, person: User, akte: Akte, sizes: list[int]) -> list[int]:
    """One upload per size, all at once, as `person` on the app at `base_url`; the statuses."""
    async with logged_in(base_url, person) as client:
        token = await csrf_token(client, f"/akten/{akte.id}")

        async def one(n: int, size: int) -> int:
            response = await client.post(
                f"/akten/{akte.id}/dokumente",
                files=[("dateien", (f"{n}.pdf", padded_pdf(size), "application/pdf"))],
                headers={"x-csrftoken": token, "Accept": "application/json"},
            )
            return response.status_code

        return list(await asyncio.gather(*(one(n, size) for n, size in enumerate(sizes))))


def upload_error(page: str) -> str:
    """The text of the error next to the upload form."""
    match = re.search(r'id="dokument-upload-error">.*?<p>(.*?)</p>', page, re.DOTALL)
    assert match, "no error next to the upload form"
    return match.group(1)


async def test_more_files_than_the_hour_allows_are_refused_with_429_next_to_the_form(
    client: httpx.AsyncClient, services: Services, akte: Akte
) -> None:
    await set_limits(services, **{UPLOAD_FILES_PER_HOUR: 2})

    accepted = await upload(
        client, akte.id, [("a.pdf", padded_pdf(1000)), ("b.pdf", padded_pdf(1000))]
    )
    page = await post_form(client, akte, padded_pdf(1000))
    api = await upload(client, akte.id, [("c.pdf", padded_pdf(1000))])

    assert accepted.status_code == 201, accepted.text
    assert page.status_code == 429
    message = upload_error(page.text)
    assert (found := RATE_REFUSED.search(message)), message
    assert found.group(1) == "2"
    assert 3000 < int(page.headers["retry-after"]) <= 3600
    assert api.status_code == 429
    assert RATE_REFUSED.fullmatch(api.json()["detail"])
    assert int(api.headers["retry-after"]) <= 3600
    assert len(await dokumente(services)) == 2


async def test_the_megabytes_of_the_hour_are_counted_too(
    client: httpx.AsyncClient, services: Services, akte: Akte
) -> None:
    await set_limits(services, **{UPLOAD_MB_PER_HOUR: 1})

    first = await upload(client, akte.id, [("a.pdf", padded_pdf(600_000))])
    second = await upload(client, akte.id, [("b.pdf", padded_pdf(600_000))])
    at_once = await upload(client, akte.id, [("c.pdf", padded_pdf(MB + 1))])

    assert first.status_code == 201
    assert second.status_code == 429
    assert RATE_REFUSED.fullmatch(second.json()["detail"])
    # More than a whole hour allows: waiting would not help, and the answer says so.
    assert at_once.status_code == 429
    assert at_once.json()["detail"].startswith("So viel können Sie nicht auf einmal hochladen")
    assert "retry-after" not in at_once.headers


async def test_an_upload_beyond_the_kanzlei_storage_is_refused_with_413_and_leaves_nothing(
    client: httpx.AsyncClient, services: Services, akte: Akte, factory: Factory
) -> None:
    await set_limits(services, **{UPLOAD_KANZLEI_QUOTA_MB: 1, UPLOAD_FILES_PER_HOUR: 2})
    assert (await upload(client, akte.id, [("a.pdf", padded_pdf(700_000))])).status_code == 201
    files_before = stored_files(services.settings)

    api = await upload(client, akte.id, [("b.pdf", padded_pdf(400_000))])
    page = await post_form(client, akte, padded_pdf(400_000))

    assert api.status_code == 413
    assert api.json()["detail"] == (
        "Der Speicherplatz Ihrer Kanzlei reicht für diese Dateien nicht aus: belegt sind "
        "0,7 MB von 1,0 MB, die Dateien brauchen 0,4 MB. "
        "Bitte wenden Sie sich an Ihre Administration."
    )
    assert page.status_code == 413
    assert QUOTA_REFUSED in upload_error(page.text)
    assert stored_files(services.settings) == files_before
    assert [d.dateiname for d in await dokumente(services)] == ["a.pdf"]
    # Refused uploads do not count against the user's hour (2 files): this is the second.
    assert (await upload(client, akte.id, [("c.pdf", padded_pdf(1000))])).status_code == 201
    # The storage is each Kanzlei's own.
    other = await factory.user(Role.ANWALT)
    other_akte = await factory.akte(other.kanzlei_id, anwalt=other)
    async with logged_in(str(client.base_url), other) as other_client:
        elsewhere = await upload(other_client, other_akte.id, [("d.pdf", padded_pdf(700_000))])
    assert elsewhere.status_code == 201


async def test_parallel_uploads_on_two_app_processes_stay_within_the_kanzlei_storage(
    live_server: str,
    second_app: str,
    services: Services,
    factory: Factory,
    kanzlei: Kanzlei,
    akte: Akte,
    paused: None,
) -> None:
    """Each upload checks the storage after inserting its row, with the Kanzlei locked:
    of 12 parallel uploads of 400,000 bytes against 2 MiB exactly 5 fit, none more."""
    await set_limits(services, processes=2, **{UPLOAD_KANZLEI_QUOTA_MB: 2})
    people = [await factory.user(Role.SEKRETARIAT, kanzlei=kanzlei) for _ in range(4)]
    files_before = stored_files(services.settings)

    servers = [live_server, second_app, live_server, second_app]
    answers = await asyncio.gather(
        *(
            parallel_uploads(server, person, akte, [400_000] * 3)
            for person, server in zip(people, servers, strict=True)
        )
    )

    statuses = sorted(status for answer in answers for status in answer)
    assert statuses == [201] * 5 + [413] * 7
    rows = await dokumente(services)
    assert sum(d.size_bytes for d in rows) == 5 * 400_000 <= 2 * MB
    storage = DokumentStorage(services.settings.upload_dir)
    assert stored_files(services.settings) - files_before == {
        storage.path(d.storage_key) for d in rows
    }


async def test_parallel_uploads_on_two_app_processes_stay_within_the_users_hour(
    live_server: str,
    second_app: str,
    services: Services,
    sachbearbeiter: User,
    akte: Akte,
    paused: None,
) -> None:
    await set_limits(services, processes=2, **{UPLOAD_FILES_PER_HOUR: 3})

    answers = await asyncio.gather(
        parallel_uploads(live_server, sachbearbeiter, akte, [1000] * 5),
        parallel_uploads(second_app, sachbearbeiter, akte, [1000] * 5),
    )

    assert sorted(status for answer in answers for status in answer) == [201] * 3 + [429] * 7
    assert len(await dokumente(services)) == 3
