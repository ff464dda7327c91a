"""The real app's HTTP routes, read from an app that is built but never started."""

from __future__ import annotations

from pathlib import Path

from litestar.routes import HTTPRoute
from tests.conftest import TEST_SECRET_KEY
from tests.support.personas import Tenant

from ailawyer.app.asgi import create_app
from ailawyer.config import Environment, Settings

# Every route answers OPTIONS and static files HEAD; neither reads an object.
AUTOMATIC_METHODS = frozenset({"OPTIONS", "HEAD"})

# Path parameters that name an object a Kanzlei or a user owns.
OWNED = ("akte_id", "dokument_id", "notification_id", "job_id")
# Path parameters that name nothing of a Kanzlei, with the one value they get.
SHARED = {
    "queue": "dokumente",  # queues belong to the installation; the jobs in them are owned
    "seq": "0",  # a cursor into the caller's own notification stream
    "scheduler_id": "wartung",  # schedulers belong to the installation (operator only)
}
# Routes whose parameters name nothing that can be another Kanzlei's, with their values.
NOT_TENANT_DATA = {
    "/static/{file_path:path}": "public files (CSS, scripts, sounds)",
    "/schema/{path:str}": "unknown OpenAPI files, always 404",
}
PUBLIC_VALUES = {"file_path": "css/app.css", "path": "openapi.json"}


def http_routes() -> list[HTTPRoute]:
    """Every HTTP route of the app, as its route table declares them."""
    settings = Settings(
        _env_file=None,
        environment=Environment.TEST,
        secret_key=TEST_SECRET_KEY,
        redis_url="redis://127.0.0.1:1/0",  # never contacted: the app is only built
        data_dir=Path("/nonexistent"),
    )
    return [route for route in create_app(settings).routes if isinstance(route, HTTPRoute)]


def methods_of(route: HTTPRoute) -> list[str]:
    """The methods a route's own handlers serve."""
    return sorted(set(route.methods) - AUTOMATIC_METHODS)


def fill(route: HTTPRoute, values: dict[str, str]) -> str:
    """The route's path with each `{name:type}` replaced by `values[name]`."""
    path = route.path
    for name, parameter in route.path_parameters.items():
        path = path.replace("{" + parameter.full + "}", values[name])
    return path


def owned_values(tenant: Tenant) -> dict[str, str]:
    """The `OWNED` parameters naming `tenant`'s own objects."""
    return {
        "akte_id": str(tenant.akte.id),
        "dokument_id": str(tenant.dokument.id),
        "notification_id": str(tenant.notification_id),
        "job_id": tenant.job_id,
    }


def path_values(tenant: Tenant) -> dict[str, str]:
    """A value for every path parameter of the app: `tenant`'s own objects, the shared
    values and the public files'."""
    return {**owned_values(tenant), **SHARED, **PUBLIC_VALUES}
