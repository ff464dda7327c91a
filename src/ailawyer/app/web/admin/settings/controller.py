"""`/admin/settings`: every runtime setting by category; save, reset, and who applied it.

Saving validates everything first: one invalid value refuses the whole form (422, German
message next to the field) and changes nothing. Otherwise the changed values are stored
with one audit entry each in one transaction, then published; every process applies them
(see `ailawyer.runtime_settings.service`). HTMX swaps the form; without it the form posts
normally and a success redirects back (303).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import ValidationException
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_422_UNPROCESSABLE_ENTITY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.app.web.client_address import client_address
from ailawyer.app.web.dependencies import DbSessionDep, ServicesDep
from ailawyer.app.web.forms import FormData
from ailawyer.app.web.templating import render
from ailawyer.db.models import SystemSetting, User
from ailawyer.domain.audit import AuditAction, AuditTarget, record_audit
from ailawyer.logs import LoggingStatus
from ailawyer.runtime_settings.registry import RuntimeSettingDefinition
from ailawyer.runtime_settings.service import Acknowledgement, SettingChange
from ailawyer.services import Services

PAGE_PATH = "/admin/settings"


@dataclass(frozen=True)
class SettingRow:
    """One setting as the form shows it."""

    definition: RuntimeSettingDefinition
    # What the field holds: the stored value, the default, or what a refused form sent.
    value: Any
    default: Any
    stored: bool
    updated_at: datetime | None
    updated_by: str | None
    error: str | None

    @property
    def field_id(self) -> str:
        return "setting-" + self.definition.key.replace(".", "-")


@dataclass(frozen=True)
class ProcessRow:
    """A running app or worker process and the settings version it acknowledged."""

    kind: str
    host: str
    pid: int
    acknowledgement: Acknowledgement | None
    current: bool
    # Its effective log level and whether LOG_LEVEL pins it (None: it sends no such field).
    logging: LoggingStatus | None


@get("/settings", name="admin-settings")
async def settings_page(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    db: DbSessionDep,
    gespeichert: FromQuery[bool] = False,
) -> Template:
    """The whole page: the form with the stored values, and the processes."""
    message = "Ihre Änderungen wurden gespeichert." if gespeichert else None
    return await _respond(request, services, await _groups(request, services, db), message=message)


@get("/settings/processes", name="admin-settings-processes")
async def settings_processes(request: Request[Any, Any, Any], services: ServicesDep) -> Template:
    """The processes card alone, polled by the page and refreshed after each save."""
    return render(request, "admin/settings/_processes.html", **await _processes(services))


@post("/settings", name="admin-settings-save")
async def save_settings(
    request: Request[Any, Any, Any], services: ServicesDep, db: DbSessionDep, data: FormData
) -> Template | Redirect:
    """Validate all submitted values; store, audit and publish the changed ones."""
    runtime = services.runtime_settings
    submitted = {key: value.strip() for key, value in data.items() if key in runtime.registry}
    if not submitted:
        raise ValidationException("Das Formular enthält keine Einstellung.")
    values, errors = runtime.check(submitted)
    if errors:
        groups = await _groups(request, services, db, submitted=submitted, errors=errors)
        return await _respond(
            request, services, groups, status_code=HTTP_422_UNPROCESSABLE_ENTITY, errors=errors
        )
    changes = await runtime.store(db, values, user_id=request.user.id)
    await _audit(db, request, services, changes)
    await db.commit()
    await runtime.publish(changes)
    if changes:
        labels = ", ".join(runtime.registry[change.key].label for change in changes)
        message = f"Gespeichert: {labels}."
    else:
        message = "Keine Änderungen: Alle Werte waren bereits gespeichert."
    return await _saved(request, services, db, message)


@post("/settings/reset", name="admin-settings-reset")
async def reset_setting(
    request: Request[Any, Any, Any], services: ServicesDep, db: DbSessionDep, data: FormData
) -> Template | Redirect:
    """Back to the default of one setting (form field `key`), audited and published."""
    runtime = services.runtime_settings
    key = data.get("key", "")
    if key not in runtime.registry:
        raise ValidationException("Unbekannte Einstellung.")
    change = await runtime.store_reset(db, key)
    changes = [change] if change else []
    await _audit(db, request, services, changes)
    await db.commit()
    await runtime.publish(changes)
    label = runtime.registry[key].label
    return await _saved(request, services, db, f"Auf den Standardwert zurückgesetzt: {label}.")


async def _saved(
    request: Request[Any, Any, Any], services: Services, db: AsyncSession, message: str
) -> Template | Redirect:
    """After a save: the form with `message` for HTMX, else back to the page (PRG)."""
    if request.headers.get("hx-request") != "true":
        return Redirect(f"{PAGE_PATH}?gespeichert=1", status_code=HTTP_303_SEE_OTHER)
    response = await _respond(
        request, services, await _groups(request, services, db), message=message
    )
    # The processes card listens for this and shows which processes took the change.
    response.headers["HX-Trigger"] = "runtime-settings-saved"
    return response


async def _respond(
    request: Request[Any, Any, Any],
    services: Services,
    groups: list[tuple[str, list[SettingRow]]],
    *,
    status_code: int = 200,
    message: str | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    """The form alone for HTMX; the whole page (with the processes) for a plain post."""
    context: dict[str, Any] = {"groups": groups, "message": message, "errors": errors or {}}
    if request.headers.get("hx-request") == "true":
        return render(request, "admin/settings/_form.html", status_code=status_code, **context)
    return render(
        request,
        "admin/settings/index.html",
        status_code=status_code,
        **context,
        **await _processes(services),
        nav_active="admin",
        admin_active="einstellungen",
    )


async def _audit(
    db: AsyncSession,
    request: Request[Any, Any, Any],
    services: Services,
    changes: list[SettingChange],
) -> None:
    """One audit entry per change, in the transaction that stores it."""
    ip = client_address(request.scope, services.settings.trusted_proxies)
    for change in changes:
        details: dict[str, Any] = {"old": change.old, "new": change.new}
        if change.reset:
            details["reset"] = True
        await record_audit(
            db,
            user=request.user,
            action=AuditAction.SETTING_CHANGE,
            target_type=AuditTarget.SETTING,
            target_id=change.key,
            details=details,
            ip=ip,
            # Runtime settings act on the whole installation, not on the operator's Kanzlei.
            kanzlei_id=None,
        )


async def _groups(
    request: Request[Any, Any, Any],
    services: Services,
    db: AsyncSession,
    *,
    submitted: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> list[tuple[str, list[SettingRow]]]:
    """Every setting by category, with its stored value (the database is the truth)."""
    runtime = services.runtime_settings
    result = await db.execute(
        select(SystemSetting, User.name, User.kanzlei_id).outerjoin(
            User, User.id == SystemSetting.updated_by_id
        )
    )
    stored = {row.key: (row, name, kanzlei_id) for row, name, kanzlei_id in result.all()}
    submitted = submitted or {}
    errors = errors or {}
    groups = []
    for category, definitions in runtime.registry.categories():
        rows = []
        for definition in definitions:
            key = definition.key
            row, name, kanzlei_id = stored.get(key, (None, None, None))
            # Settings are system-wide, names are not: none crosses to another Kanzlei.
            if kanzlei_id is not None and kanzlei_id != request.user.kanzlei_id:
                name = "einem Administrator einer anderen Kanzlei"
            rows.append(
                SettingRow(
                    definition=definition,
                    value=submitted.get(key, runtime.stored_value(row, key)),
                    default=runtime.default(key),
                    stored=row is not None,
                    updated_at=row.updated_at if row is not None else None,
                    updated_by=name,
                    error=errors.get(key),
                )
            )
        groups.append((category, rows))
    return groups


async def _processes(services: Services) -> dict[str, Any]:
    """The running processes and whether each has applied the latest change."""
    runtime = services.runtime_settings
    apps, workers, version = await asyncio.gather(
        services.apps.alive(), services.workers.alive(), runtime.current_version()
    )
    records = [*apps, *workers]
    acknowledgements = await runtime.acknowledgements(
        (record["host"], record["pid"]) for record in records
    )
    processes = [
        ProcessRow(
            kind="App" if record["kind"] == "app" else "Worker",
            host=record["host"],
            pid=record["pid"],
            acknowledgement=ack,
            current=ack is not None and ack.version == version,
            logging=LoggingStatus.from_record(record.get("logging")),
        )
        for record, ack in zip(records, acknowledgements, strict=True)
    ]
    # Not "version": that name is every page's footer (the app's version, a Jinja global).
    return {"processes": processes, "settings_version": version}
