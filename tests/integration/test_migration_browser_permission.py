"""Migration 0004: the stored browser answer becomes the person's choice, so browsers that
were never asked ask; "Nicht anzeigen" (stored as "denied") stays off."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from ailawyer.db.migrate import downgrade, upgrade

ANSWERS = {1: "granted", 2: "denied", 3: "default", 4: None}


def _stored_answers(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO kanzlei (id, name, created_at) VALUES (1, 'K', '2026-12-01')")
        for user_id, answer in ANSWERS.items():
            db.execute(
                "INSERT INTO users (id, kanzlei_id, email, name, password_hash, role, aktiv,"
                " notification_seq, created_at) VALUES (?, 1, ?, 'U', 'x', 'ANWALT', 1, 0,"
                " '2026-12-01')",
                (user_id, f"u{user_id}@example.org"),
            )
            db.execute(
                "INSERT INTO user_settings (user_id, browser_notifications, sounds, updated_at)"
                " VALUES (?, ?, '{}', '2026-12-01')",
                (user_id, answer),
            )


def _rows(path: Path, columns: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT user_id, {columns} FROM user_settings ORDER BY 1").fetchall()


async def test_denied_becomes_off_and_every_other_answer_asks_each_browser(tmp_path: Path) -> None:
    path = tmp_path / "ailawyer.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url, "0003")
    _stored_answers(path)

    await asyncio.to_thread(upgrade, url, "0004")

    assert _rows(path, "system_notifications, ask_browser_permission") == [
        (1, 1, 1),
        (2, 0, 1),
        (3, 1, 1),
        (4, 1, 1),
    ]

    await asyncio.to_thread(downgrade, url, "0003")

    assert _rows(path, "browser_notifications") == [(1, None), (2, "denied"), (3, None), (4, None)]
