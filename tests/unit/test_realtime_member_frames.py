"""A role notification's frames are built from the shared part encoded once; each must be
the very frame python-socketio would encode for that member's payload (the client parses it)."""

from __future__ import annotations

from typing import Any

import pytest
from socketio import AsyncServer
from socketio import packet as socketio_packet

from ailawyer.app.realtime.manager import MemberFrames
from ailawyer.realtime.emitter import each_user, per_user

SHARED: dict[str, Any] = {
    "type": "job.failed.admin",
    "title": "Verarbeitung endgültig fehlgeschlagen ✓",
    "message": 'ValueError: "kaputt" </script>\n\ttab',
    "link": None,
    "severity": "error",
    "data": {"akte": 42, "liste": [1, 2.5, True, None], "leer": {}},
    "action": {"label": "Erneut versuchen", "url": "/api/jobs/1/retry", "method": "POST"},
    "created_at": "2026-12-03T19:53:14.123456+00:00",
    "read": False,
    "sound": None,
}


def socketio_frame(event: str, payload: dict[str, Any]) -> str:
    """What the server's own packet class encodes for one emit to one room."""
    packet_class = AsyncServer().packet_class
    frame = packet_class(socketio_packet.EVENT, data=[event, payload], namespace="/").encode()
    assert isinstance(frame, str)
    return frame


@pytest.mark.parametrize(
    ("shared", "personal"),
    [
        (SHARED, [(7, {"id": 101, "seq": 1}), (8, {"id": 9_007_199_254_740_993, "seq": 12})]),
        # The cases the concatenation cannot build, encoded whole instead.
        ({}, [(7, {"id": 1, "seq": 2})]),
        (SHARED, [(7, {})]),
        ({**SHARED, "seq": 0, "id": 0}, [(7, {"id": 3, "seq": 4})]),
        (SHARED, [(7, {"title": "Eigener Titel", "id": 5})]),
    ],
)
def test_each_members_frame_is_the_frame_socketio_encodes_for_its_payload(
    shared: dict[str, Any], personal: list[tuple[int, dict[str, Any]]]
) -> None:
    data = per_user(shared, personal)
    frames = MemberFrames("notification", data["shared"], AsyncServer().packet_class.json.dumps)

    built = [frames.frame(fields) for _, fields in data["users"]]

    assert built == [socketio_frame("notification", p) for _, p in each_user(data)]
