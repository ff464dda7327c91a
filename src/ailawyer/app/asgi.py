"""The one ASGI application of `ailawyer serve`: Litestar pages and APIs (Socket.IO joins later)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp

from ailawyer.admin.routes import admin_router
from ailawyer.app.web.akten.controller import akte_page
from ailawyer.app.web.auth.controller import AuthController
from ailawyer.app.web.authentication import SessionAuthMiddleware
from ailawyer.app.web.dashboard.controller import dashboard
from ailawyer.app.web.errors import handle_http_exception, handle_unexpected
from ailawyer.app.web.health.controller import health
from ailawyer.app.web.middleware import request_logging
from ailawyer.app.web.templating import configure_environment
from ailawyer.config import Settings, get_settings
from ailawyer.services import Services

APP_DIR = Path(__file__).parent
STATIC_DIR = APP_DIR / "static"
TEMPLATE_DIR = APP_DIR / "templates"


def create_app(settings: Settings, services: Services | None = None) -> Litestar:
    """The Litestar app; `services` may be given by tests, else it is created at start-up."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or Services.create(settings)
        try:
            yield
        finally:
            if owned:
                await app.state.services.close()

    def provide_services() -> Services:
        return app.state.services

    app = Litestar(
        route_handlers=[
            AuthController,
            dashboard,
            akte_page,
            health,
            admin_router,
            create_static_files_router(path="/static", directories=[STATIC_DIR], name="static"),
        ],
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        lifespan=[lifespan],
        middleware=[SessionAuthMiddleware()],
        csrf_config=CSRFConfig(
            secret=settings.signing_key(),
            cookie_secure=settings.cookies_secure,
            cookie_samesite="lax",
            # Scripts read the token from the page, never from the cookie.
            cookie_httponly=True,
            exclude=["/static"],
        ),
        template_config=TemplateConfig(
            directory=TEMPLATE_DIR,
            engine=JinjaTemplateEngine,
            engine_callback=configure_environment,
        ),
        exception_handlers={HTTPException: handle_http_exception, Exception: handle_unexpected},
        request_max_body_size=settings.max_upload_bytes + 1024 * 1024,
        debug=False,
        # Logging is configured once per process by ailawyer.logs, not by the framework.
        logging_config=None,
    )
    return app


def create_asgi_app() -> ASGIApp:
    """Factory for uvicorn (`ailawyer serve`): the app wrapped in request logging."""
    return request_logging(create_app(get_settings()))
