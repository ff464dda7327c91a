"""python-engineio's socket writer, woken without a task per packet.

Each WebSocket of python-engineio (4.15) has a writer task that waits for the socket's next
packet in `AsyncSocket.poll` with `asyncio.wait_for(queue.get(), timeout)`. On Python 3.11
`wait_for` wraps the `get()` in a task of its own, so every packet costs a task, its
done-callback and one more event-loop pass before the writer runs. A role notification
sends a thousand packets at once (one per member's socket), and for a thousand writers
woken that way the loop's share was 11.5 ms against 8.1 ms with `asyncio.timeout`
(bench/RESULTS.md, issue 15).

`poll` here is upstream's with that one change, and behaves the same: the same packets,
`QueueEmpty` on timeout or cancellation, `[]` once the socket is closed (the `None`
sentinel). `install()` replaces the method once, at import of the socket server; a test
fails when python-engineio's own `poll` changes, so an upgrade is looked at, not patched
blindly (upstream 4.15.1 is what this was written against).
"""

from __future__ import annotations

import asyncio
from typing import Any

from engineio import exceptions
from engineio.async_socket import AsyncSocket

# SHA-256 of the source of python-engineio 4.15.1's `AsyncSocket.poll`, which `poll` copies
# (tests/unit/test_engineio_poll.py compares it with the installed one).
UPSTREAM_POLL_SHA256 = "826f58a9f3606db208e5d1266f075ad655b6eeda47b0a5616748624899ca5954"


async def poll(self: AsyncSocket) -> list[Any]:
    """Wait for packets to send to the client (upstream's, with `asyncio.timeout`)."""
    try:
        async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
            packets = [await self.queue.get()]
        self.queue.task_done()
    except (TimeoutError, asyncio.CancelledError):
        raise exceptions.QueueEmpty() from None
    if packets == [None]:
        return []
    while True:
        try:
            pkt = self.queue.get_nowait()
            self.queue.task_done()
            if pkt is None:
                self.queue.put_nowait(None)
                break
            packets.append(pkt)
        except asyncio.QueueEmpty:
            break
    return packets


# python-engineio's own, kept before `install()` replaces it.
UPSTREAM_POLL = AsyncSocket.poll


def install() -> None:
    """Use `poll` for every Engine.IO socket of this process (idempotent)."""
    AsyncSocket.poll = poll  # type: ignore[method-assign]
