"""The notification API of the signed-in user: list, catch-up, unread count, read, dismiss.

Every route works on the user's own notifications only; writes need the CSRF header.
Read and dismiss are announced to all of the user's tabs by the service.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK, HTTP_409_CONFLICT

from ailawyer.app.web.authentication import requires_login
from ailawyer.app.web.dependencies import DbSessionDep, ServicesDep
from ailawyer.notifications.preferences import load_preferences
from ailawyer.notifications.service import CursorInvalid, NotificationNotFound
from ailawyer.notifications.sounds import SOUND_FILES, SoundEvent

CURSOR_INVALID = "cursor_invalid"


def sound_url(event: SoundEvent) -> str:
    """Where the browser fetches a sound (built by `ailawyer assets`)."""
    return f"/static/vendor/sounds/{SOUND_FILES[event]}"


class NotificationsController(Controller):
    path = "/api/notifications"
    guards = (requires_login,)

    @get("/")
    async def recent(
        self, request: Request[Any, Any, Any], services: ServicesDep, db: DbSessionDep
    ) -> dict[str, Any]:
        """The last 50 (newest first, without dismissed), the cursor and the preferences."""
        page = await services.notifications.recent(db, request.user.id)
        preferences = await load_preferences(db, request.user.id)
        return {
            **page.as_payload(),
            "preferences": {
                **preferences.as_payload(),
                "sound_urls": {event.value: sound_url(event) for event in SoundEvent},
            },
        }

    @get("/unread-count")
    async def unread_count(
        self, request: Request[Any, Any, Any], services: ServicesDep, db: DbSessionDep
    ) -> dict[str, int]:
        """How many are neither read nor dismissed (as of `unread_seq`)."""
        return (await services.notifications.unread(db, request.user.id)).as_payload()

    @get("/after/{seq:int}")
    async def after(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        db: DbSessionDep,
        seq: FromPath[int],
    ) -> dict[str, Any]:
        """Everything after `seq`, oldest first; 409 tells the client to reload the list."""
        try:
            page = await services.notifications.after(db, request.user.id, seq)
        except CursorInvalid as error:
            raise HTTPException(status_code=HTTP_409_CONFLICT, detail=CURSOR_INVALID) from error
        return page.as_payload()

    @post("/{notification_id:int}/read", status_code=HTTP_200_OK)
    async def mark_read(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        db: DbSessionDep,
        notification_id: FromPath[int],
    ) -> dict[str, int]:
        """Mark one read (idempotent)."""
        try:
            unread = await services.notifications.mark_read(db, request.user.id, notification_id)
        except NotificationNotFound as error:
            raise NotFoundException("Notification not found") from error
        return unread.as_payload()

    @post("/read-all", status_code=HTTP_200_OK)
    async def mark_all_read(
        self, request: Request[Any, Any, Any], services: ServicesDep, db: DbSessionDep
    ) -> dict[str, int]:
        """Mark every notification read."""
        return (await services.notifications.mark_all_read(db, request.user.id)).as_payload()

    @post("/{notification_id:int}/dismiss", status_code=HTTP_200_OK)
    async def dismiss(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        db: DbSessionDep,
        notification_id: FromPath[int],
    ) -> dict[str, int]:
        """Remove one from the lists (idempotent)."""
        try:
            unread = await services.notifications.dismiss(db, request.user.id, notification_id)
        except NotificationNotFound as error:
            raise NotFoundException("Notification not found") from error
        return unread.as_payload()
