"""Einstellungen: the user's notification sounds and system notifications."""

from __future__ import annotations

from typing import Annotated, Any, Literal

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
    load_preferences,
    save_preferences,
    stop_asking,
)
from ailawyer.notifications.sounds import SoundEvent


class StopAsking(Struct):
    # The question only ever says "Nicht mehr fragen"; asking again is switched back on in
    # the Einstellungen form. Each browser keeps its own permission.
    ask_permission: Literal[False]


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
            preferences=preferences,
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
        await save_preferences(
            db,
            request.user.id,
            sounds={event: data.get(f"sound-{event.value}") == "on" for event in SoundEvent},
            system_notifications=data.get("system_notifications") == "on",
            ask_permission=data.get("ask_permission") == "on",
        )
        await db.commit()
        return Redirect("/einstellungen?gespeichert=1", status_code=HTTP_303_SEE_OTHER)

    @put("/api/settings/browser-notifications")
    async def never_ask(
        self,
        request: Request[Any, Any, Any],
        db: DbSessionDep,
        data: Annotated[StopAsking, Body()],
    ) -> dict[str, bool]:
        """The in-page question's "Nicht mehr fragen": no browser of this user asks again."""
        await stop_asking(db, request.user.id)
        await db.commit()
        return {"ask_permission": False}
