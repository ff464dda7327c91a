"""`GET /api/health`: for load balancers, compose and monitoring; no login, no secrets, no
error texts (the operator reads those on /admin/system)."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Response, get

from ailawyer.app.web.dependencies import ServicesDep
from ailawyer.health import check_health, public_report


@get("/api/health", media_type=MediaType.JSON, name="health")
async def health(services: ServicesDep) -> Response[dict[str, Any]]:
    report = public_report(await check_health(services.db, services.redis, services.workers))
    return Response(report, status_code=503 if report["status"] == "unhealthy" else 200)
