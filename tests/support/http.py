"""Log in over real HTTP the way a browser does (CSRF cookie + form field)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from tests.support.factories import PASSWORD

from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.db.models import User

_CSRF_INPUT = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = _CSRF_INPUT.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Log `client` in; returns the response to the login POST (a redirect on success)."""
    page = await client.get("/anmelden")
    token = csrf_token_from(page.text)
    return await client.post(
        "/anmelden", data={"email": email, "password": password, "_csrf_token": token}
    )


async def csrf_token(client: httpx.AsyncClient, path: str = "/") -> str:
    """The CSRF token a logged-in page carries, for API writes (header x-csrftoken)."""
    page = await client.get(path)
    return csrf_token_from(page.text)


@asynccontextmanager
async def logged_in(base_url: str, user: User) -> AsyncIterator[httpx.AsyncClient]:
    """A client with `user`'s session, like a browser after the login form; fails loudly if
    the login is refused."""
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        response = await login(client, user.email)
        assert response.status_code in (302, 303), response.text[:500]
        assert SESSION_COOKIE in client.cookies
        yield client
