"""What one app process measures itself: request durations per route, its Socket.IO
connections, and the standard process, platform and garbage-collector collectors.

Each app process keeps its own registry (not prometheus_client's global one, so building
several apps in one interpreter, as the tests do, never registers a name twice). Scrape
every app process for these; any one of them for the installation's queue figures
(`installation.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CollectorRegistry,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

# Requests no route answered (scanners, typos) share one label instead of one per path,
# and methods nobody serves one method label: the client must not choose how many series
# there are.
UNMATCHED_ROUTE = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"


class ProcessMetrics:
    """The registry of one app process and the metrics it feeds."""

    def __init__(self, socket_connections: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.http_duration = Histogram(
            "ailawyer_http_request_duration_seconds",
            "Duration of HTTP requests of this app process, by route template.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        connections = Gauge(
            "ailawyer_socketio_connections",
            "Signed-in Socket.IO connections of this app process.",
            registry=self.registry,
        )
        connections.set_function(socket_connections)


def timed_requests(app: ASGIApp, metrics: ProcessMetrics) -> ASGIApp:
    """Observe every HTTP request's duration under its route template (Litestar's
    `path_template`, set on the scope when it routes the request)."""
    histogram = metrics.http_duration
    # One child per (method, route, status): `labels()` validates and locks on every call;
    # the cache keeps a request's cost to a dict lookup and the observation.
    children: dict[tuple[str, str, int], Any] = {}

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            method = scope["method"] if scope["method"] in METHODS else OTHER_METHOD
            key = (method, scope.get("path_template") or UNMATCHED_ROUTE, status)
            child = children.get(key)
            if child is None:
                child = children[key] = histogram.labels(key[0], key[1], str(status))
            child.observe(elapsed)

    return middleware
