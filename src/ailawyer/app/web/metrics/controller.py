"""`GET /metrics`: the Prometheus text format, for a scraper holding METRICS_TOKEN.

Without METRICS_TOKEN the route answers 404 as if it did not exist; a missing or wrong
bearer token 401. The token is compared in constant time. No session or role is asked:
the token alone decides (README, "Metrics").
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import MediaType, Request, Response, get
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from ailawyer.app.web.dependencies import ServicesDep
from ailawyer.app.web.metrics.installation import InstallationCollector, read_installation

_BEARER = "bearer "


def _token_matches(authorization: str | None, token: str) -> bool:
    given = authorization or ""
    if given[: len(_BEARER)].lower() != _BEARER:
        return False
    return hmac.compare_digest(given[len(_BEARER) :].strip().encode(), token.encode())


@get("/metrics", name="metrics", include_in_schema=False)
async def metrics(request: Request[Any, Any, Any], services: ServicesDep) -> Response[bytes]:
    """This process's metrics, then the installation's (read from Redis now)."""
    token = services.settings.metrics_token
    if token is None:
        return Response(b"Not Found\n", status_code=404, media_type=MediaType.TEXT)
    if not _token_matches(request.headers.get("authorization"), token.get_secret_value()):
        return Response(
            b"Unauthorized\n",
            status_code=401,
            media_type=MediaType.TEXT,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    figures = await read_installation(services)
    body = generate_latest(request.app.state.metrics.registry) + generate_latest(
        InstallationCollector(figures)
    )
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
