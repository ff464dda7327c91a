"""A credential some library logs (a header or cookie dump) never reaches a log file."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from ailawyer.logs import configure_logging, get_logger

TOKEN = "J0ul5P6BNCkJN5roIMHJWiDK_SJHlSwlY_yEAjdwCOs"


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield configure_logging("app", level="DEBUG", log_dir=tmp_path, stdout=False)
    # Back to how pytest had it: other tests log through its handlers.
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize(
    "line",
    [
        f"< cookie: ailawyer_session={TOKEN}; csrftoken=abc",
        f"> Set-Cookie: ailawyer_session={TOKEN}; HttpOnly",
        f"Authorization: Bearer {TOKEN}",
        f"request headers x-csrftoken={TOKEN}",
        # Python reprs of header dicts and lists, as libraries log them.
        f"headers: {{'host': 'kanzlei.example', 'cookie': 'ailawyer_session={TOKEN}'}}",
        f"scope: [(b'host', b'kanzlei.example'), (b'cookie', b'ailawyer_session={TOKEN}')]",
        f"response: [(b'set-cookie', b'ailawyer_session={TOKEN}; HttpOnly; Path=/')]",
        f"{{'Authorization': 'Bearer {TOKEN}', 'X-CSRFToken': '{TOKEN}'}}",
        f"environ {{'HTTP_COOKIE': 'ailawyer_session={TOKEN}', 'REMOTE_ADDR': '127.0.0.1'}}",
        f'json {{"cookie": "ailawyer_session={TOKEN}", "x-csrf-token": "{TOKEN}"}}',
        f"multi {{'set-cookie': ['ailawyer_session={TOKEN}', 'csrftoken={TOKEN}']}}",
        f"escaped {{'cookie': 'a\\'b; ailawyer_session={TOKEN}'}}",
    ],
)
def test_a_logged_credential_is_replaced(log_file: Path, line: str) -> None:
    logging.getLogger("websockets.server").warning(line)
    try:
        raise RuntimeError(line)
    except RuntimeError:
        logging.getLogger("ailawyer.test").exception("failed")

    written = log_file.read_text()
    assert TOKEN not in written
    records = [json.loads(entry) for entry in written.splitlines()]
    assert "[entfernt]" in records[0]["message"]
    assert "[entfernt]" in records[1]["exception"]


def test_a_repr_keeps_the_fields_around_the_credential(log_file: Path) -> None:
    headers = {"host": "kanzlei.example", "cookie": f"ailawyer_session={TOKEN}", "accept": "*/*"}
    logging.getLogger("engineio.server").info("handshake headers %r", headers)

    message = json.loads(log_file.read_text())["message"]
    assert message == (
        "handshake headers {'host': 'kanzlei.example', 'cookie': '[entfernt]', 'accept': '*/*'}"
    )


def test_headers_passed_as_structured_log_fields_are_replaced(log_file: Path) -> None:
    scope_headers = [(b"host", b"kanzlei.example"), (b"cookie", f"s={TOKEN}".encode())]
    get_logger("ailawyer.test").warning(
        "request", headers=scope_headers, response={"Set-Cookie": f"s={TOKEN}"}
    )

    written = log_file.read_text()
    assert TOKEN not in written
    record = json.loads(written)
    assert record["response"] == {"Set-Cookie": "[entfernt]"}
    assert ["b'cookie'", "[entfernt]"] in record["headers"]


def test_websocket_frame_dumps_stay_out_even_at_debug(log_file: Path) -> None:
    logging.getLogger("uvicorn.error").debug('< TEXT \'{"title": "Mandant Müller"}\'')
    logging.getLogger("ailawyer.test").debug("written after it")

    written = log_file.read_text()
    assert "Mandant" not in written
    assert "written after it" in written
