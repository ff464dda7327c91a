"""The Engine.IO writer's `poll` without a task per packet (ailawyer.app.realtime.engineio_poll):
it must stay a copy of python-engineio's own, and behave like it."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from types import SimpleNamespace
from typing import Any

import pytest
from engineio import exceptions, packet
from engineio.async_socket import AsyncSocket

from ailawyer.app.realtime import engineio_poll


def test_the_copied_poll_is_still_python_engineios_own() -> None:
    # Fails after an upgrade that changed upstream's poll: compare the two, then update
    # `engineio_poll.poll` (or drop it) and the hash.
    source = inspect.getsource(engineio_poll.UPSTREAM_POLL)
    assert hashlib.sha256(source.encode()).hexdigest() == engineio_poll.UPSTREAM_POLL_SHA256


def test_install_replaces_the_method_of_every_socket() -> None:
    engineio_poll.install()
    engineio_poll.install()
    assert AsyncSocket.poll is engineio_poll.poll


def a_socket(timeout: float) -> Any:
    # `poll` reads only the socket's queue and the server's two ping settings.
    server = SimpleNamespace(ping_interval=timeout, ping_timeout=0)
    return SimpleNamespace(server=server, queue=asyncio.Queue())


@pytest.mark.parametrize("poll", [engineio_poll.UPSTREAM_POLL, engineio_poll.poll])
async def test_poll_behaves_as_upstreams(poll: Any) -> None:
    socket = a_socket(timeout=0.05)
    first, second = packet.Packet(packet.MESSAGE, "a"), packet.Packet(packet.MESSAGE, "b")

    # Waits for the first packet, then takes whatever else is queued.
    waiting = asyncio.ensure_future(poll(socket))
    await asyncio.sleep(0.01)
    socket.queue.put_nowait(first)
    socket.queue.put_nowait(second)
    assert await waiting == [first, second]
    # Nothing queued within the ping interval and timeout: the socket is gone.
    with pytest.raises(exceptions.QueueEmpty):
        await poll(socket)
    # Cancelled (the connection is closing): the same.
    waiting = asyncio.ensure_future(poll(a_socket(timeout=5)))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(exceptions.QueueEmpty):
        await waiting
    # Packets before the close sentinel go out; the sentinel stays for the next poll,
    # which then reports the close.
    socket.queue.put_nowait(first)
    socket.queue.put_nowait(None)
    assert await poll(socket) == [first]
    assert await poll(socket) == []
    assert socket.queue.empty()
