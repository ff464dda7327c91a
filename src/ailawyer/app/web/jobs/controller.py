"""The job API users reach from notifications: retry a failed job."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response, post
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.params import FromPath

from ailawyer.app.web.authentication import requires_login
from ailawyer.app.web.dependencies import DbSessionDep, ServicesDep
from ailawyer.jobs.errors import JobAccessDeniedError, JobNotFoundError, JobNotRetryableError
from ailawyer.jobs.retry import retry_job

NOT_FOUND = "Diesen Vorgang gibt es nicht (mehr)."
FORBIDDEN = "Sie dürfen diesen Vorgang nicht erneut starten."
NOT_FAILED = "Dieser Vorgang ist nicht fehlgeschlagen und kann nicht erneut gestartet werden."


@post(
    "/api/jobs/{queue:str}/{job_id:str}/retry",
    guards=[requires_login],
    name="job-retry",
    status_code=200,
)
async def retry_failed_job(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    db: DbSessionDep,
    queue: FromPath[str],
    job_id: FromPath[str],
) -> Response[Any]:
    """Run a failed job again, as `ailawyer.jobs.access.retry_verdict` allows.

    404 for an unknown job, a malformed id and another Kanzlei's job; 403 for a job of the
    caller's Kanzlei (or the installation's) that is not theirs to retry; 409 not failed.
    A failed Dokument's job already removed by retention is enqueued again from the Dokument.
    """
    try:
        await retry_job(services, db, request.user, queue, job_id)
    except JobNotFoundError:
        raise NotFoundException(NOT_FOUND) from None
    except JobAccessDeniedError:
        raise PermissionDeniedException(FORBIDDEN) from None
    except JobNotRetryableError:
        raise HTTPException(status_code=409, detail=NOT_FAILED) from None
    body = {"queue": queue, "jobId": job_id, "state": "waiting"}
    return Response(body, media_type=MediaType.JSON)
