"""`GET /api/health`: for load balancers, compose and monitoring; no login, no secrets, no
error texts (the operator reads those on /admin/system)."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Response, get

from ailawyer.app.web.dependencies import DbSessionDep, ServicesDep
from ailawyer.health import check_health, public_report


@get("/api/health", media_type=MediaType.JSON, name="health")
async def health(services: ServicesDep, db: DbSessionDep) -> Response[dict[str, Any]]:
    # The ping checks out a connection of its own: the request's (a signed-in caller's user
    # was read with it) goes back to the pool first, or parallel checks would each hold two.
    await db.commit()
    report = public_report(await check_health(services.db, services.redis, services.workers))
    return Response(report, status_code=503 if report["status"] == "unhealthy" else 200)
