"""The one ASGI application of `ailawyer serve`: Litestar pages and APIs, and Socket.IO."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from litestar import Litestar, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp

from ailawyer import __version__
from ailawyer.alerts.loop import alerts_running
from ailawyer.app.gc_tuning import tune_after_startup
from ailawyer.app.realtime.server import RealtimeServer
from ailawyer.app.web.admin.routes import admin_router
from ailawyer.app.web.akten.controller import akte_page
from ailawyer.app.web.akten.dokumente import dokumente_routes
from ailawyer.app.web.auth.controller import AuthController
from ailawyer.app.web.authentication import SessionAuthMiddleware, requires_operator
from ailawyer.app.web.dashboard.controller import dashboard
from ailawyer.app.web.dependencies import provide_db_session
from ailawyer.app.web.errors import (
    handle_http_exception,
    handle_unexpected,
    load_user_for_error_page,
)
from ailawyer.app.web.health.controller import health
from ailawyer.app.web.jobs.controller import retry_failed_job
from ailawyer.app.web.metrics.controller import metrics
from ailawyer.app.web.metrics.process import ProcessMetrics, timed_requests
from ailawyer.app.web.middleware import request_logging
from ailawyer.app.web.notifications.controller import NotificationsController
from ailawyer.app.web.settings.controller import SettingsController
from ailawyer.app.web.templating import configure_environment
from ailawyer.config import Settings, get_settings
from ailawyer.logs import logging_degraded
from ailawyer.process_registry import new_process_id
from ailawyer.realtime.emitter import Emitter
from ailawyer.runtime_settings.process import follow_runtime_settings
from ailawyer.services import Services

APP_DIR = Path(__file__).parent
STATIC_DIR = APP_DIR / "static"
TEMPLATE_DIR = APP_DIR / "templates"


def create_app(settings: Settings, services: Services | None = None) -> Litestar:
    """The Litestar app; `services` may be given by tests, else it is created at start-up.

    `app.state.realtime` holds the Socket.IO server; `create_asgi_app` mounts it.
    """
    realtime = RealtimeServer(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or Services.create(
            settings, emitter=Emitter.for_server(realtime.sio)
        )
        await realtime.start(app.state.services)
        await follow_runtime_settings(app.state.services.runtime_settings)
        # A heartbeat, so the admin system page lists this process (it marks its own row).
        app.state.process_id = new_process_id()
        started_at = time.time()
        try:
            async with (
                app.state.services.apps.heartbeats(
                    app.state.process_id, lambda: {"startedAt": started_at}
                ),
                alerts_running(app.state.services, app.state.process_id, "app", logging_degraded),
            ):
                yield
        finally:
            await realtime.stop()
            if owned:
                await app.state.services.close()

    def provide_services() -> Services:
        return app.state.services

    app = Litestar(
        route_handlers=[
            AuthController,
            dashboard,
            akte_page,
            *dokumente_routes,
            retry_failed_job,
            health,
            metrics,
            admin_router,
            NotificationsController,
            SettingsController,
            create_static_files_router(path="/static", directories=[STATIC_DIR], name="static"),
        ],
        dependencies={
            "services": Provide(provide_services, sync_to_thread=False),
            "db": Provide(provide_db_session, sync_to_thread=False),
        },
        lifespan=[lifespan],
        state=State(
            {"realtime": realtime, "metrics": ProcessMetrics(lambda: realtime.connection_count)}
        ),
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
            engine_callback=partial(configure_environment, zone=settings.display_zone),
        ),
        exception_handlers={HTTPException: handle_http_exception, Exception: handle_unexpected},
        after_exception=[load_user_for_error_page],
        request_max_body_size=settings.max_upload_bytes + 1024 * 1024,
        # The schema (/schema/openapi.json) is for the operator and tools, not the public:
        # it maps every admin route. No documentation UI: those load their scripts from a
        # CDN (DSGVO) and could not run under our Content-Security-Policy anyway.
        openapi_config=OpenAPIConfig(
            title="AI-Lawyer",
            version=__version__,
            render_plugins=[JsonRenderPlugin()],
            openapi_router=Router(
                "/schema", guards=[requires_operator], route_handlers=[], include_in_schema=False
            ),
        ),
        debug=False,
        # Logging is configured once per process by ailawyer.logs, not by the framework.
        logging_config=None,
    )
    return app


def create_asgi_app() -> ASGIApp:
    """Factory for uvicorn (`ailawyer serve`): web app and Socket.IO on one port, logged."""
    app = create_app(get_settings())
    # Start-up hooks run after the lifespan's set-up: everything the process keeps is built.
    # Here, not in create_app: tests build apps in their own interpreter, which must not
    # freeze its objects or gain a collector callback per app.
    app.on_startup.append(lambda: tune_after_startup(app.state.metrics.registry))
    return request_logging(timed_requests(app.state.realtime.asgi_app(app), app.state.metrics))
