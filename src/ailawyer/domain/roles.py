"""The roles of a Kanzlei's users, with their German labels."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "ADMIN"
    ANWALT = "ANWALT"
    SACHBEARBEITER = "SACHBEARBEITER"
    SEKRETARIAT = "SEKRETARIAT"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "Administrator",
    Role.ANWALT: "Rechtsanwalt",
    Role.SACHBEARBEITER: "Sachbearbeiter",
    Role.SEKRETARIAT: "Sekretariat",
}
