"""The anchor for bench.http_load: a minimal Litestar app doing the dashboard's reads.

What the stack alone can do (issue 14): the same stack as `ailawyer serve` (uvicorn with
uvloop and httptools, Litestar, SQLAlchemy async with asyncpg, redis-py asyncio, Jinja2)
and the same reads, without our middleware, services and templates. It reads the
sessions our app created (same cookie, same Redis key) and our tables through our ORM
models, so its SQL statements are the ones our pages send. Per request:

- one Redis round trip: the session hash and the renewal of its idle lifetime, pipelined
  (a second `EXPIRE` only in the session's last idle period, to keep its absolute end);
- one database session (one pool checkout with the engine's pre-ping, as ours is
  configured; BEGIN on the first statement, ROLLBACK at the end) shared by all reads;
- the user by id (with its Kanzlei, as our model loads it), then
  - `GET /`: the Akten the user may see (`visible_akten_query`, ordered by Aktenzeichen,
    with Rechtsanwalt and Sachbearbeiter) in a ~3 KB Jinja page;
  - `GET /api/notifications`: the user's last sequence number, the newest 50 notifications
    that are not dismissed, the unread count and the sound preferences, as JSON.

No request logging, CSRF, security headers or no-store rewriting: those are what the
ratio ours/anchor leaves room for. Run by bench.http_load; by hand:

    uv run python -m bench.http_anchor --port 8100 \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/ailawyer \
        --redis-url redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from jinja2 import DictLoader, Environment
from litestar import Litestar, Request, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from ailawyer.auth.sessions import SESSION_COOKIE, session_key
from ailawyer.db.models import Akte, Notification, User, UserSettings
from ailawyer.domain.access import visible_akten_query

RECENT_LIMIT = 50
PAGE = """{% macro person(user) %}{{ user.name if user else "—" }}{% endmacro -%}
<!doctype html>
<html lang="de">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Übersicht – {{ user.kanzlei.name }}</title>
  <link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/css/app.css">
  <script src="/static/vendor/htmx.min.js" defer></script>
  <script src="/static/vendor/socket.io.min.js" defer></script>
  <script type="module" src="/static/js/notifications/main.js"></script>
</head>
<body>
  <a class="skip-link" href="#main">Zum Inhalt springen</a>
  <header class="site-header">
    <a class="brand" href="/"><span class="brand__mark">§</span>{{ user.kanzlei.name }}</a>
    <nav class="main-nav" aria-label="Hauptnavigation">
      <a class="main-nav__link" href="/" aria-current="page">Übersicht</a>
    </nav>
    <div class="user-menu">
      <span class="user-menu__name">{{ user.name }}</span>
      <span class="user-menu__role">{{ user.role_label }}</span>
      <a class="btn btn--ghost btn--sm" href="/einstellungen">Einstellungen</a>
      <form class="logout-form" method="post" action="/abmelden">
        <button type="submit" class="btn btn--ghost btn--sm">Abmelden</button>
      </form>
    </div>
  </header>
  <main id="main" class="page">
    <h1 class="page-header__title">Guten Tag, {{ user.name }}</h1>
    <p class="page-header__subtitle">Hier finden Sie die Akten, die Ihnen zugeordnet sind.</p>
    <section class="card">
      <h2 class="card__title">Ihre Akten <span class="badge">{{ akten | length }} Akten</span></h2>
      <table class="table table--stack">
        <thead>
          <tr><th>Aktenzeichen</th><th>Kurzrubrum</th><th>Rechtsanwalt</th><th>Sachbearbeiter</th></tr>
        </thead>
        <tbody>
          {%- for akte in akten %}
          <tr class="table__row--link">
            <td><a class="row-link" href="/akten/{{ akte.id }}">{{ akte.aktenzeichen }}</a></td>
            <td data-label="Kurzrubrum">{{ akte.kurzrubrum }}</td>
            <td data-label="Rechtsanwalt">{{ person(akte.anwalt) }}</td>
            <td data-label="Sachbearbeiter">{{ person(akte.sachbearbeiter) }}</td>
          </tr>
          {%- endfor %}
        </tbody>
      </table>
    </section>
  </main>
  <footer class="site-footer">{{ user.kanzlei.name }}</footer>
</body>
</html>
"""


async def provide_db(state: State) -> AsyncIterator[AsyncSession]:
    """The request's one database session (closed, i.e. rolled back, after the handler)."""
    async with state.sessionmaker() as session:
        yield session


async def provide_user(request: Request[Any, Any, Any], state: State, db: AsyncSession) -> User:
    """The session's active user, read with one Redis round trip and the request's session."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotAuthorizedException()
    key = f"{state.redis_prefix}:session:{session_key(token)}"  # SessionStore's layout
    async with state.redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(key)
        pipe.expire(key, state.idle_seconds)
        record, _ = await pipe.execute()
    if not record:
        raise NotAuthorizedException()
    remaining = float(record["created_at"]) + state.absolute_seconds - time.time()
    if remaining <= 0:
        raise NotAuthorizedException()
    if remaining < state.idle_seconds:
        await state.redis.expire(key, max(1, int(remaining)))
    user = await db.get(User, int(record["user_id"]))
    if user is None or not user.aktiv:
        raise NotAuthorizedException()
    return user


@get("/")
async def page(user: User, db: AsyncSession) -> Template:
    """The dashboard's reads and a ~3 KB page."""
    akten = (await db.scalars(visible_akten_query(user).order_by(Akte.aktenzeichen))).all()
    return Template("page.html", context={"user": user, "akten": akten})


@get("/api/notifications")
async def notifications(user: User, db: AsyncSession) -> dict[str, Any]:
    """The notification list's reads (the statements NotificationService.recent sends)."""
    last_seq = await db.scalar(select(User.notification_seq).where(User.id == user.id))
    rows = (
        await db.scalars(
            select(Notification)
            .where(Notification.user_id == user.id, Notification.dismissed_at.is_(None))
            .order_by(Notification.seq.desc())
            .limit(RECENT_LIMIT)
        )
    ).all()
    unread_count = (
        select(func.count())
        .select_from(Notification)
        .where(
            Notification.user_id == user.id,
            Notification.read_at.is_(None),
            Notification.dismissed_at.is_(None),
        )
        .scalar_subquery()
    )
    seq = select(User.notification_seq).where(User.id == user.id).scalar_subquery()
    unread = (await db.execute(select(unread_count, seq))).one()
    settings = await db.get(UserSettings, user.id)
    return {
        "items": [
            {
                "id": row.id,
                "seq": row.seq,
                "type": row.type,
                "title": row.title,
                "message": row.message,
                "link": row.link,
                "severity": row.severity.value,
                "data": row.data,
                "action": row.action,
                "created_at": row.created_at.isoformat(),
                "read": row.read_at is not None,
            }
            for row in rows
        ],
        "last_seq": max([int(last_seq or 0), *(row.seq for row in rows)]),
        "unread_count": int(unread[0] or 0),
        "unread_seq": int(unread[1] or 0),
        "preferences": {
            "sounds": settings.sounds if settings else {},
            "system_notifications": settings.system_notifications if settings else True,
            "ask_permission": settings.ask_browser_permission if settings else True,
        },
    }


def create_app(
    database_url: str,
    redis_url: str,
    *,
    redis_prefix: str,
    idle_seconds: int,
    absolute_seconds: int,
) -> Litestar:
    """The anchor app; its clients are created at start-up and closed at shutdown."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = create_async_engine(database_url, pool_size=10, pool_pre_ping=True)
        app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        app.state.redis = Redis.from_url(redis_url, decode_responses=True)
        try:
            yield
        finally:
            await app.state.redis.aclose()
            await engine.dispose()

    templates = Environment(loader=DictLoader({"page.html": PAGE}), autoescape=True)
    return Litestar(
        route_handlers=[page, notifications],
        dependencies={
            "db": Provide(provide_db),
            "user": Provide(provide_user),
        },
        lifespan=[lifespan],
        state=State(
            {
                "redis_prefix": redis_prefix,
                "idle_seconds": idle_seconds,
                "absolute_seconds": absolute_seconds,
            }
        ),
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(templates)),
        logging_config=None,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True, help="postgresql+asyncpg://…")
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--redis-prefix", default="ailawyer", help="REDIS_KEY_PREFIX of the app")
    parser.add_argument("--idle-seconds", type=int, default=3600)
    parser.add_argument("--absolute-seconds", type=int, default=12 * 3600)
    arguments = parser.parse_args()
    uvicorn.run(
        create_app(
            arguments.database_url,
            arguments.redis_url,
            redis_prefix=arguments.redis_prefix,
            idle_seconds=arguments.idle_seconds,
            absolute_seconds=arguments.absolute_seconds,
        ),
        host="127.0.0.1",
        port=arguments.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
    )
