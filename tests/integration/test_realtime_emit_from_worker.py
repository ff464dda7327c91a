"""Emitting from a separate process (as the worker does) reaches the right user only."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import process_env
from tests.support.factories import Factory
from tests.support.notifications import notify
from tests.support.realtime import SocketClient, session_token

from ailawyer.config import Settings
from ailawyer.domain.roles import Role
from ailawyer.realtime import events
from ailawyer.services import Services

REPOSITORY = Path(__file__).resolve().parents[2]


async def run_notify_process(settings: Settings, *arguments: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.notify_process",
        *arguments,
        cwd=REPOSITORY,
        env=process_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, output.decode(errors="replace")[-4000:]


async def test_a_notification_created_in_another_process_reaches_only_its_user(
    live_server: str,
    settings: Settings,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
) -> None:
    kanzlei = await factory.kanzlei()
    recipient = await factory.user(Role.ANWALT, kanzlei=kanzlei)
    colleague = await factory.user(Role.ANWALT, kanzlei=kanzlei)
    recipient_socket = await sockets().connect(
        live_server, await session_token(live_server, recipient.email)
    )
    colleague_socket = await sockets().connect(
        live_server, await session_token(live_server, colleague.email)
    )

    await run_notify_process(settings, str(recipient.id), "Dokument verarbeitet")

    received = await recipient_socket.wait_for(events.NOTIFICATION)
    assert received["title"] == "Dokument verarbeitet"
    assert received["seq"] == 1
    # The colleague's socket hears of its own notification, never of the other one.
    await notify(services.db, services.notifications, colleague.id, type="info", title="Für Sie")
    mine = await colleague_socket.wait_for(events.NOTIFICATION)
    assert mine["title"] == "Für Sie"
    assert [n["title"] for n in colleague_socket.received(events.NOTIFICATION)] == ["Für Sie"]
    assert len(recipient_socket.received(events.NOTIFICATION)) == 1


async def test_a_role_event_from_another_process_stays_in_its_kanzlei(
    live_server: str,
    settings: Settings,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
) -> None:
    kanzlei, other = await factory.kanzlei(), await factory.kanzlei()
    admin = await factory.user(Role.ADMIN, kanzlei=kanzlei)
    foreign_admin = await factory.user(Role.ADMIN, kanzlei=other)
    admin_socket = await sockets().connect(
        live_server, await session_token(live_server, admin.email)
    )
    foreign_socket = await sockets().connect(
        live_server, await session_token(live_server, foreign_admin.email)
    )

    await run_notify_process(
        settings,
        "0",
        "Warteschlange voll",
        "--kanzlei",
        str(kanzlei.id),
        "--role",
        Role.ADMIN.value,
    )

    assert await admin_socket.wait_for("probe") == {"title": "Warteschlange voll"}
    await services.emitter.to_user(foreign_admin.id).emit("sentinel", {})
    await foreign_socket.wait_for("sentinel")
    assert foreign_socket.received("probe") == []
