"""Einstellungen: the user's notification sounds and the browser-notification answer."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post, put
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from msgspec import Struct

from ailawyer.app.web.authentication import requires_login
from ailawyer.app.web.dependencies import DbSessionDep
from ailawyer.app.web.forms import FormData
from ailawyer.app.web.notifications.controller import sound_url
from ailawyer.app.web.templating import render
from ailawyer.notifications.preferences import (
    SOUND_LABELS,
    BrowserPermission,
    load_preferences,
    save_browser_permission,
    save_sounds,
)
from ailawyer.notifications.sounds import SoundEvent


class PermissionAnswer(Struct):
    permission: BrowserPermission


class SettingsController(Controller):
    guards = (requires_login,)

    @get("/einstellungen", name="einstellungen")
    async def page(
        self,
        request: Request[Any, Any, Any],
        db: DbSessionDep,
        gespeichert: FromQuery[bool] = False,
    ) -> Template:
        """The settings form, filled with what is stored."""
        preferences = await load_preferences(db, request.user.id)
        sounds = [
            {
                "event": event.value,
                "label": SOUND_LABELS[event],
                "url": sound_url(event),
                "on": preferences.sounds[event],
            }
            for event in SoundEvent
        ]
        return render(
            request,
            "einstellungen/index.html",
            sounds=sounds,
            browser_notifications=preferences.browser_notifications,
            saved=gespeichert,
            nav_active="einstellungen",
        )

    @post("/einstellungen")
    async def save(
        self,
        request: Request[Any, Any, Any],
        db: DbSessionDep,
        data: FormData,
    ) -> Redirect:
        """Store the form; unchecked boxes are simply absent from it."""
        sounds = {event: data.get(f"sound-{event.value}") == "on" for event in SoundEvent}
        answer = data.get("browser_notifications")
        await save_sounds(db, request.user.id, sounds)
        if answer in set(BrowserPermission):
            await save_browser_permission(db, request.user.id, BrowserPermission(answer))
        await db.commit()
        return Redirect("/einstellungen?gespeichert=1", status_code=HTTP_303_SEE_OTHER)

    @put("/api/settings/browser-notifications")
    async def remember_permission(
        self,
        request: Request[Any, Any, Any],
        db: DbSessionDep,
        data: Annotated[PermissionAnswer, Body()],
    ) -> dict[str, str]:
        """Remember the answer to the in-page question, so it is asked only once."""
        await save_browser_permission(db, request.user.id, data.permission)
        await db.commit()
        return {"browser_notifications": data.permission.value}
