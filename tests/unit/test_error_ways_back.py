"""Which ways back an error page offers: the login to a visitor, the fitting pages to a user."""

from __future__ import annotations

from typing import Any

from litestar import Request

from ailawyer.app.web.errors import ways_back
from ailawyer.app.web.identity import CurrentUser
from ailawyer.domain.roles import Role


def user(role: Role, *, operator: bool = False) -> CurrentUser:
    return CurrentUser(
        id=1,
        email="a@test.example",
        name="A",
        role=role,
        kanzlei_id=1,
        kanzlei_name="Kanzlei A",
        session_key="k",
        is_operator=operator,
    )


def request(path: str, who: CurrentUser | None, method: str = "GET") -> Request[Any, Any, Any]:
    path, _, query = path.partition("?")
    return Request(
        {
            "type": "http",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "scheme": "http",
            "server": ("127.0.0.1", 8000),
            "headers": [],
            "user": who,
        }  # type: ignore[arg-type]
    )


def test_a_visitor_is_offered_the_login() -> None:
    assert ways_back(request("/gibtsnicht", None), 404) == [("Zur Anmeldung", "/anmelden")]


def test_a_signed_in_user_goes_to_the_overview_never_to_the_login() -> None:
    assert ways_back(request("/akten/99", user(Role.ANWALT)), 404) == [("Zur Übersicht", "/")]


def test_an_administrator_inside_the_administration_goes_back_into_it() -> None:
    assert ways_back(request("/admin/system", user(Role.ADMIN)), 403) == [
        ("Zur Administration", "/admin"),
        ("Zur Übersicht", "/"),
    ]
    # Someone who may not enter it is not sent there.
    assert ways_back(request("/admin/benutzer", user(Role.SEKRETARIAT)), 403) == [
        ("Zur Übersicht", "/")
    ]


def test_after_a_passing_fault_the_same_page_may_be_tried_again() -> None:
    assert ways_back(request("/akten/3?seite=2", user(Role.ANWALT)), 503) == [
        ("Erneut versuchen", "/akten/3?seite=2"),
        ("Zur Übersicht", "/"),
    ]
    # A form sent again by a link would be a GET to an address that only takes the form.
    assert ways_back(request("/einstellungen", user(Role.ANWALT), "POST"), 500) == [
        ("Zur Übersicht", "/")
    ]
