"""The logged-in user of a connection, as pages, APIs and sockets see it."""

from __future__ import annotations

from dataclasses import dataclass

from ailawyer.db.models import User
from ailawyer.domain.roles import Role


@dataclass(frozen=True)
class CurrentUser:
    id: int
    email: str
    name: str
    role: Role
    kanzlei_id: int
    kanzlei_name: str
    session_key: str
    aktiv: bool = True
    is_operator: bool = False

    @classmethod
    def from_user(cls, user: User, session_key: str) -> CurrentUser:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            kanzlei_id=user.kanzlei_id,
            kanzlei_name=user.kanzlei.name,
            session_key=session_key,
            aktiv=user.aktiv,
            is_operator=user.is_operator,
        )

    @property
    def role_label(self) -> str:
        return self.role.label

    @property
    def is_admin(self) -> bool:
        """A Kanzlei's ADMIN (manages its own Kanzlei); see `is_operator` for the installation."""
        return self.role is Role.ADMIN

    @property
    def may_enter_administration(self) -> bool:
        """The administration area is for a Kanzlei's ADMIN and for the operator."""
        return self.is_admin or self.is_operator
