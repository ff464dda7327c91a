"""What `ailawyer backup create/restore` print: German lines for the operator."""

from __future__ import annotations

from ailawyer.backup.create import BackupResult
from ailawyer.backup.database import KIND_LABELS
from ailawyer.backup.manifest import Manifest
from ailawyer.backup.restore import RestoreResult


def megabytes(size_bytes: int) -> str:
    return f"{size_bytes / 1_000_000:.1f} MB".replace(".", ",")


def contents(manifest: Manifest) -> list[str]:
    """What the backup holds."""
    database = manifest.database
    tables = database.tables
    return [
        f"  Datenbank: {KIND_LABELS[database.kind]} {database.server_version}, "
        f"Schema-Revision {manifest.schema_revision}, {megabytes(database.file.size_bytes)} "
        f"({tables.get('akte', 0)} Akten, {tables.get('dokument', 0)} Dokumente, "
        f"{tables.get('users', 0)} Benutzer, {tables.get('audit_log', 0)} Protokolleinträge)",
        f"  Dateien: {len(manifest.files)} "
        f"({megabytes(sum(entry.size_bytes for entry in manifest.files))})",
        f"  Laufzeit-Einstellungen: {manifest.runtime_settings.rows} geänderte, "
        "in der Datenbank gesichert",
    ]


def backup_lines(result: BackupResult, directory: str) -> list[str]:
    manifest = result.manifest
    lines = [f"Sicherung erstellt in {directory} (AI-Lawyer {manifest.app_version}):"]
    lines += contents(manifest)
    if manifest.dropped_dokumente:
        lines.append(
            "  Nicht gesichert (Hochladen währenddessen zurückgenommen): Dokumente "
            + ", ".join(map(str, manifest.dropped_dokumente))
        )
    return lines


def restore_lines(result: RestoreResult, directory: str) -> list[str]:
    manifest = result.manifest
    lines = [
        f"Wiederhergestellt aus {directory} (erstellt {manifest.created_at:%d.%m.%Y %H:%M} UTC, "
        f"AI-Lawyer {manifest.app_version}):"
    ]
    lines += contents(manifest)
    if result.schema_revision != manifest.schema_revision:
        lines.append(
            f"  Schema aktualisiert: {manifest.schema_revision} → {result.schema_revision}"
        )
    if result.requeued is None:
        lines.append(
            f"  Unfertige Dokumente: {result.redis_note}; die Worker nehmen sie nach dem "
            "Start wieder auf."
        )
    else:
        lines.append(f"  Unfertige Dokumente zur Verarbeitung eingereiht: {len(result.requeued)}")
    return lines
