"""Hostile uploads on the Akte page: refused with a German message, or contained.

Not a PDF, too big, too many, file names that try to leave the upload directory or to
disguise themselves: refused, or stored under a generated key with the name shown only as
cleaned text. Nothing is ever written outside the upload directory.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.support.dokumente import dokumente
from tests.support.factories import Factory
from tests.support.http import csrf_token, logged_in
from tests.support.pdfs import numbered_pdf
from tests.support.security_headers import response_header_problems

from ailawyer.app.web.akten.dokumente import UNREADABLE
from ailawyer.db.models import Akte, User
from ailawyer.domain.roles import Role
from ailawyer.services import Services

STORAGE_KEY = re.compile(r"^\d+/[0-9a-f]{32}\.pdf$")
BOUNDARY = "----sicherheitstest"


@pytest.fixture
async def anwalt(factory: Factory) -> User:
    return await factory.user(Role.ANWALT)


@pytest.fixture
async def akte(factory: Factory, anwalt: User) -> Akte:
    return await factory.akte(anwalt.kanzlei_id, anwalt=anwalt)


@pytest.fixture
async def uploader(
    live_server: str, anwalt: User, services: Services
) -> AsyncIterator[httpx.AsyncClient]:
    """Logged in, with the queue paused: no worker of the run processes these uploads."""
    async with logged_in(live_server, anwalt) as client:
        queue = services.jobs.queue("dokumente")
        await queue.pause()
        yield client
        await queue.resume()


def multipart(filename: bytes, content: bytes) -> bytes:
    """One file part with the file name exactly as given (a browser would escape some bytes)."""
    return (
        f"--{BOUNDARY}\r\n".encode()
        + b'Content-Disposition: form-data; name="dateien"; filename="'
        + filename
        + b'"\r\nContent-Type: application/pdf\r\n\r\n'
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


async def send(client: httpx.AsyncClient, akte: Akte, body: bytes) -> httpx.Response:
    token = await csrf_token(client, f"/akten/{akte.id}")
    return await client.post(
        f"/akten/{akte.id}/dokumente",
        content=body,
        headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "x-csrftoken": token,
            "Accept": "application/json",
        },
    )


def files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()}


NOT_PDFS = {
    "html": b"<html><script>alert(1)</script></html>",
    "exe": b"MZ\x90\x00" + b"\x00" * 2000,
    "empty": b"",
    "signature-too-late": b" " * 1024 + b"%PDF-1.7\n",
    "zip": b"PK\x03\x04" + b"\x00" * 100,
}
# File names as sent (bytes, as a client may send them) and as they must be shown.
HOSTILE_NAMES = {
    "traversal": (b"../../etc/passwd.pdf", "passwd.pdf"),
    "absolute": (b"/etc/passwd.pdf", "passwd.pdf"),
    "windows-traversal": (b"..\\..\\Windows\\win.ini.pdf", "win.ini.pdf"),
    "windows-absolute": (b"C:\\Users\\Public\\akte.pdf", "akte.pdf"),
    "nul": (b"akte\x00.pdf.exe", "akte.pdf.exe"),
    "rtl-override": ("Rechnung\u202efdp.exe".encode(), "Rechnungfdp.exe"),
    "bidi-isolate": ("Vertrag\u2066gpj.pdf".encode(), "Vertraggpj.pdf"),
    "very-long": (b"a" * 1000 + b".pdf", "a" * 255),
    "dot-dot": (b"..", ".."),
    "blank": (b"   ", "Dokument.pdf"),
}


async def test_a_file_that_is_not_a_pdf_is_refused_in_german(
    uploader: httpx.AsyncClient, services: Services, akte: Akte
) -> None:
    answers = {
        kind: await send(uploader, akte, multipart(b"Klageschrift.pdf", content))
        for kind, content in NOT_PDFS.items()
    }

    refusal = "„Klageschrift.pdf“: Die Datei ist kein PDF."
    assert {kind: (a.status_code, a.json()["detail"]) for kind, a in answers.items()} == {
        kind: (400, refusal) for kind in NOT_PDFS
    }
    assert await dokumente(services) == []


async def test_an_oversized_file_is_refused_with_413_in_german_and_nothing_is_kept(
    uploader: httpx.AsyncClient, services: Services, akte: Akte
) -> None:
    upload_dir = services.settings.upload_dir
    before = files_under(upload_dir) if upload_dir.exists() else set()
    big = b"%PDF-1.4\n" + b"0" * services.settings.max_upload_bytes

    response = await send(uploader, akte, multipart(b"riesig.pdf", big))

    assert response.status_code == 413
    limit = services.settings.max_upload_mb
    expected = f"„riesig.pdf“: Die Datei ist zu groß (höchstens {limit} MB)."
    assert response.json()["detail"] == expected
    assert response_header_problems(response) == []
    assert await dokumente(services) == []
    assert (files_under(upload_dir) if upload_dir.exists() else set()) == before


async def test_too_many_files_at_once_are_refused_in_german(
    uploader: httpx.AsyncClient, services: Services, akte: Akte
) -> None:
    count = services.settings.max_upload_files + 1
    files = [("dateien", (f"{n}.pdf", numbered_pdf(1), "application/pdf")) for n in range(count)]
    token = await csrf_token(uploader, f"/akten/{akte.id}")

    response = await uploader.post(
        f"/akten/{akte.id}/dokumente",
        files=files,
        headers={"x-csrftoken": token, "Accept": "application/json"},
    )

    assert response.status_code == 400
    assert "Bitte laden Sie höchstens" in response.json()["detail"]
    assert await dokumente(services) == []


async def test_a_hostile_file_name_is_contained(
    uploader: httpx.AsyncClient, services: Services, akte: Akte
) -> None:
    data_dir = services.settings.data_dir.resolve()
    upload_dir = services.settings.upload_dir.resolve()
    outside_before = files_under(data_dir) - files_under(upload_dir)
    problems: list[str] = []

    for kind, (filename, shown) in HOSTILE_NAMES.items():
        response = await send(uploader, akte, multipart(filename, numbered_pdf(1)))
        if response.status_code != 201:
            problems.append(f"{kind}: {response.status_code} {response.text[:200]}")
            continue
        [created] = response.json()["dokumente"]
        [row] = [d for d in await dokumente(services) if d.id == created["id"]]
        stored = (upload_dir / row.storage_key).resolve()
        if not (created["dateiname"] == row.dateiname == shown):
            problems.append(f"{kind}: shown as {row.dateiname!r}")
        if not STORAGE_KEY.match(row.storage_key) or not stored.is_relative_to(upload_dir):
            problems.append(f"{kind}: stored as {row.storage_key!r}")
        # On the Akte page the name is text.
        if f"<span>{shown}</span>" not in (await uploader.get(f"/akten/{akte.id}")).text:
            problems.append(f"{kind}: not on the Akte page as text")

    assert problems == []
    assert files_under(data_dir) - files_under(upload_dir) == outside_before


async def test_a_file_name_beyond_the_parsers_limits_is_refused_in_german(
    uploader: httpx.AsyncClient, services: Services, akte: Akte
) -> None:
    response = await send(uploader, akte, multipart(b"a" * 20_000 + b".pdf", numbered_pdf(1)))

    assert response.status_code == 400
    assert response.json()["detail"] == UNREADABLE
    assert await dokumente(services) == []


async def test_a_header_injection_in_the_file_name_is_contained(
    uploader: httpx.AsyncClient, services: Services, akte: Akte
) -> None:
    filename = b'x.pdf"\r\nContent-Type: text/html\r\nX-Injected: 1\r\n\r\n<b>'

    response = await send(uploader, akte, multipart(filename, numbered_pdf(1)))

    assert response.status_code in (201, 400), response.text
    assert "x-injected" not in response.headers
    if response.status_code == 400:
        assert await dokumente(services) == []
