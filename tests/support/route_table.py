"""The real app's HTTP routes, read from an app that is built but never started."""

from __future__ import annotations

from pathlib import Path

from litestar.routes import HTTPRoute
from tests.conftest import TEST_SECRET_KEY

from ailawyer.app.asgi import create_app
from ailawyer.config import Environment, Settings

# Every route answers OPTIONS and static files HEAD; neither reads an object.
AUTOMATIC_METHODS = frozenset({"OPTIONS", "HEAD"})


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
