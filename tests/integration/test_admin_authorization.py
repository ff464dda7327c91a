"""Every admin page and admin API, read from the app's real route table, is for ADMIN only.

Routes added later are covered without touching this file: the table is read at run time.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from litestar.routes import HTTPRoute
from tests.conftest import TEST_SECRET_KEY
from tests.support.factories import Factory
from tests.support.http import csrf_token, csrf_token_from, login
from tests.support.personas import build_operator

from ailawyer.app.asgi import create_app
from ailawyer.config import Environment, Settings
from ailawyer.domain.roles import Role

ADMIN_PREFIXES = ("/admin", "/api/admin")
OTHER_ROLES = (Role.ANWALT, Role.SACHBEARBEITER, Role.SEKRETARIAT)
SAFE_METHODS = frozenset({"GET", "HEAD"})
# Plausible values for typed path parameters, so a request reaches the route's guard.
PATH_VALUES: dict[type, str] = {
    int: "1",
    str: "test",
    uuid.UUID: "00000000-0000-4000-8000-000000000001",
    Path: "test",
    float: "1.5",
}


def is_admin_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in ADMIN_PREFIXES)


def concrete_path(route: HTTPRoute) -> str:
    """The route's path with each `{name:type}` filled with a plausible value."""
    path = route.path
    for name, parameter in route.path_parameters.items():
        value = PATH_VALUES.get(parameter.type)
        assert value is not None, f"no test value for {name}: {parameter.type} in {route.path}"
        path = path.replace("{" + parameter.full + "}", value)
    return path


def admin_requests() -> list[tuple[str, str]]:
    """(method, path) of every admin route of the app, as the route table declares them."""
    settings = Settings(
        _env_file=None,
        environment=Environment.TEST,
        secret_key=TEST_SECRET_KEY,
        redis_url="redis://127.0.0.1:1/0",  # never contacted: the app is only built
        data_dir=Path("/nonexistent"),
    )
    requests = []
    for route in create_app(settings).routes:
        if not is_admin_path(route.path):
            continue
        assert isinstance(route, HTTPRoute), f"{route.path}: test non-HTTP admin routes too"
        # Including OPTIONS, which Litestar adds to every route (guarded like the rest).
        for method in sorted(route.methods):
            requests.append((method, concrete_path(route)))
    return requests


ADMIN_REQUESTS = admin_requests()


def test_the_route_table_is_read_and_holds_the_admin_pages() -> None:
    paths = {path for _, path in ADMIN_REQUESTS}

    assert {"/admin", "/admin/benutzer", "/admin/system", "/admin/audit"} <= paths


async def test_every_admin_route_refuses_other_roles_and_anonymous_users(
    live_server: str, factory: Factory
) -> None:
    kanzlei = await factory.kanzlei()
    failures: list[str] = []

    for role in OTHER_ROLES:
        user = await factory.user(role, kanzlei=kanzlei)
        async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
            assert (await login(client, user.email)).status_code in (302, 303)
            # A valid token, so the refusal comes from the role guard, not from CSRF.
            token = await csrf_token(client, "/")
            for method, path in ADMIN_REQUESTS:
                response = await client.request(method, path, headers={"x-csrftoken": token})
                if response.status_code != 403:
                    failures.append(f"{role.value} {method} {path}: {response.status_code}")

    async with httpx.AsyncClient(base_url=live_server, timeout=10) as anonymous:
        token = csrf_token_from((await anonymous.get("/anmelden")).text)
        for method, path in ADMIN_REQUESTS:
            response = await anonymous.request(method, path, headers={"x-csrftoken": token})
            location = response.headers.get("location", "")
            if path.startswith("/api/"):
                ok = response.status_code == 401
            else:
                ok = response.is_redirect and location.startswith("/anmelden")
            if not ok:
                failures.append(f"anonymous {method} {path}: {response.status_code} {location}")

    assert failures == []


async def test_the_operator_reaches_every_admin_page(live_server: str, factory: Factory) -> None:
    admin = await build_operator(factory)
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        await login(client, admin.email)
        # Only reading methods: the others would change things.
        answers = {
            path: (await client.get(path)).status_code
            for method, path in ADMIN_REQUESTS
            if method in SAFE_METHODS
        }

    # 404 is fine for a path filled with a made-up id; refusal is not.
    assert {path: status for path, status in answers.items() if status in (401, 403, 500)} == {}
