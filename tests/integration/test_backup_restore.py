"""A backup made while app and worker run restores into a fresh installation, on PostgreSQL
and on SQLite: every Kanzlei, user, Akte, Dokument (with its file), notification, runtime
setting and audit row of the snapshot; Dokumente unfinished at the backup are processed
after the restore; files uploaded after the snapshot are not in the backup."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.conftest import process_env
from tests.integration.test_cli import ailawyer
from tests.support.dokumente import PROCESSING_WITHIN, upload
from tests.support.factories import Factory
from tests.support.http import csrf_token, logged_in
from tests.support.installations import (
    KINDS,
    app_and_worker,
    installation,
    sha256_of,
    table_rows,
)
from tests.support.jobs import job_services, running_pool, wait_until
from tests.support.pdfs import numbered_pdf
from tests.support.personas import build_operator, park_dokument_job

from ailawyer.config import Settings
from ailawyer.db.models import Akte, Dokument, DokumentStatus, Kanzlei, User
from ailawyer.dokumente.storage import DokumentStorage
from ailawyer.dokumente.upload import dokument_job_id
from ailawyer.domain.audit import AuditAction
from ailawyer.domain.roles import Role
from ailawyer.runtime_settings.definitions import MAINTENANCE_BANNER
from ailawyer.services import Services

FINISHED = {DokumentStatus.ABGESCHLOSSEN, DokumentStatus.FEHLGESCHLAGEN}
# Enough to overlap the backup; few, so the source worker has little to do meanwhile.
MAX_UPLOADS_DURING_BACKUP = 10


async def all_finished(services: Services) -> bool:
    async with services.db.session() as session:
        statuses = (await session.scalars(select(Dokument.status))).all()
    return bool(statuses) and set(statuses) <= FINISHED


async def stored_dokument(
    services: Services, akte: Akte, uploader: User, status: DokumentStatus
) -> Dokument:
    """A Dokument with its file stored, in `status`, as an upload and the worker leave it."""
    storage = DokumentStorage(services.settings.upload_dir)
    stored = await asyncio.to_thread(storage.save, akte.id, io.BytesIO(numbered_pdf(1)))
    async with services.db.session() as session:
        dokument = Dokument(
            akte_id=akte.id,
            dateiname=f"{status.value.lower()}.pdf",
            storage_key=stored.key,
            size_bytes=stored.size_bytes,
            sha256=stored.sha256,
            status=status,
            error="Die Datei ist beschädigt." if status is DokumentStatus.FEHLGESCHLAGEN else None,
            uploaded_by_id=uploader.id,
        )
        session.add(dokument)
        await session.flush()
        dokument.job_id = dokument_job_id(dokument.id)
        await session.commit()
    return dokument


async def waiting_dokument(services: Services, akte: Akte, uploader: User) -> Dokument:
    """A Dokument still waiting at the backup: its job is parked (delayed) in the source's
    Redis, so the source's worker leaves it alone during the test."""
    dokument = await stored_dokument(services, akte, uploader, DokumentStatus.AUSSTEHEND)
    async with services.db.session() as session:
        kanzlei = await session.get(Kanzlei, akte.kanzlei_id)
    assert kanzlei is not None
    await park_dokument_job(services, kanzlei, akte, uploader, dokument)
    return dokument


async def change_the_banner(base_url: str, operator: User) -> None:
    """A runtime setting saved on /admin/settings (a system_setting row and an audit row)."""
    async with logged_in(base_url, operator) as client:
        token = await csrf_token(client, "/admin/settings")
        response = await client.post(
            "/admin/settings",
            data={MAINTENANCE_BANNER: "Wartung am Freitag"},
            headers={"x-csrftoken": token, "hx-request": "true"},
        )
        assert response.status_code == 200, response.text[:500]


async def keep_uploading(client: httpx.AsyncClient, akte_id: int, stop: asyncio.Event) -> int:
    """Upload one PDF after the other until `stop`; how many were accepted."""
    accepted = 0
    while not stop.is_set() and accepted < MAX_UPLOADS_DURING_BACKUP:
        response = await upload(client, akte_id, [(f"laufend-{accepted}.pdf", numbered_pdf(1))])
        assert response.status_code == 201, response.text[:500]
        accepted += 1
    return accepted


def without(row: dict[str, Any], *columns: str) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name not in columns}


@pytest.mark.parametrize("kind", KINDS)
async def test_a_backup_made_while_app_and_worker_run_restores_into_a_fresh_installation(
    kind: str, settings: Settings, tmp_path: Path
) -> None:
    backup_dir = tmp_path / "sicherung"
    async with (
        installation(kind, settings, tmp_path / "quelle") as source,
        job_services(source) as services,
    ):
        factory = Factory(services.db)
        operator = await build_operator(factory)
        anwalt = await factory.user(Role.ANWALT)
        akte = await factory.akte(anwalt.kanzlei_id, anwalt=anwalt)
        await factory.akte(operator.kanzlei_id, kurzrubrum="Andere Kanzlei ./. Gegner")
        async with (
            app_and_worker(source, tmp_path / "quelle") as base_url,
            logged_in(base_url, anwalt) as client,
        ):
            files = [("a.pdf", numbered_pdf(2)), ("b.pdf", numbered_pdf(3))]
            response = await upload(client, akte.id, files)
            assert response.status_code == 201, response.text[:500]
            await wait_until(
                lambda: all_finished(services), within=PROCESSING_WITHIN, what="processing"
            )
            waiting = await waiting_dokument(services, akte, anwalt)
            failed = await stored_dokument(services, akte, anwalt, DokumentStatus.FEHLGESCHLAGEN)
            await change_the_banner(base_url, operator)
            before = await table_rows(services.db)

            stop = asyncio.Event()
            uploading = asyncio.create_task(keep_uploading(client, akte.id, stop))
            created = await asyncio.to_thread(
                ailawyer, ["backup", "create", str(backup_dir)], process_env(source)
            )
            stop.set()
            uploaded_meanwhile = await uploading
            # One more, surely after the snapshot: its file must not be in the backup.
            assert (await upload(client, akte.id, [("danach.pdf", numbered_pdf(1))])).is_success
        after = await table_rows(services.db)

        assert created.returncode == 0, created.stderr
        assert uploaded_meanwhile > 0
        manifest = json.loads((backup_dir / "manifest.json").read_text())
        assert manifest["database"]["kind"] == kind
        assert manifest["runtime_settings"] == {
            "stored_in": "database",
            "table": "system_setting",
            "rows": 1,
        }

        async with (
            installation(kind, settings, tmp_path / "ziel") as target,
            job_services(target) as restored_services,
        ):
            restored_run = await asyncio.to_thread(
                ailawyer, ["backup", "restore", str(backup_dir)], process_env(target)
            )
            assert restored_run.returncode == 0, restored_run.stderr
            restored = await table_rows(restored_services.db)

            _assert_the_snapshot_came_back(before, restored, after)
            dokumente = restored["dokument"]
            assert len(dokumente) < len(after["dokument"]), "a later upload is not in it"
            # Every Dokument of the snapshot has its file, byte for byte; no other file is there.
            for row in dokumente.values():
                restored_file = target.upload_dir / row["storage_key"]
                assert sha256_of(restored_file) == row["sha256"]
                assert (
                    restored_file.read_bytes()
                    == (source.upload_dir / row["storage_key"]).read_bytes()
                )
            backed_up = {
                p.relative_to(backup_dir / "uploads").as_posix()
                for p in (backup_dir / "uploads").rglob("*.pdf")
            }
            assert backed_up == {row["storage_key"] for row in dokumente.values()}

            unfinished = {key[0] for key, row in dokumente.items() if row["status"] not in FINISHED}
            assert waiting.id in unfinished
            assert f"zur Verarbeitung eingereiht: {len(unfinished)}" in restored_run.stdout
            jobs = restored_services.jobs
            for dokument_id in unfinished:
                job = await jobs.get_job("dokumente", dokument_job_id(dokument_id))
                assert job is not None, f"the restore enqueued Dokument {dokument_id}"
            async with running_pool(restored_services):
                await wait_until(
                    lambda: all_finished(restored_services),
                    within=PROCESSING_WITHIN,
                    what="the restored Dokumente processed",
                )
            final = (await table_rows(restored_services.db))["dokument"]
            assert final[(waiting.id,)]["status"] is DokumentStatus.ABGESCHLOSSEN
            assert final[(failed.id,)] == dokumente[(failed.id,)], "a failed one is not rerun"


def _assert_the_snapshot_came_back(
    before: dict[str, dict[Any, dict[str, Any]]],
    restored: dict[str, dict[Any, dict[str, Any]]],
    after: dict[str, dict[Any, dict[str, Any]]],
) -> None:
    """Everything made before the backup began is restored as it was; nothing is restored
    that the source did not have; the snapshot is consistent across tables."""
    # What changes while the backup runs: a user's notification counter, and the processing
    # state of the Dokumente uploaded meanwhile.
    changing = {
        "users": ("notification_seq",),
        "dokument": ("status", "page_count", "extracted_text", "error", "updated_at"),
    }
    for table, rows_before in before.items():
        rows = restored[table]
        columns = changing.get(table, ())
        assert set(rows_before) <= set(rows), f"{table}: rows made before the backup are missing"
        assert set(rows) <= set(after[table]), f"{table}: rows the source never had"
        for key, row in rows.items():
            assert without(row, *columns) == without(after[table][key], *columns), (table, key)
            if key in rows_before and not columns:
                assert row == rows_before[key], (table, key)
    for key, row in before["dokument"].items():
        if row["status"] in FINISHED:
            assert restored["dokument"][key] == row, "a finished Dokument comes back as it was"
    assert restored["system_setting"][(MAINTENANCE_BANNER,)]["value"] == "Wartung am Freitag"
    assert AuditAction.SETTING_CHANGE.value in {
        row["action"] for row in restored["audit_log"].values()
    }
    assert restored["notification"], "processing told the uploader"
    # Consistent: each user's counter is the sequence number of their last notification.
    for (user_id,), user in restored["users"].items():
        sequences = [n["seq"] for n in restored["notification"].values() if n["user_id"] == user_id]
        assert user["notification_seq"] == max(sequences, default=0), user["email"]
