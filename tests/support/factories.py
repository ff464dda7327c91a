"""Create Kanzleien, users and Akten directly in the test database."""

from __future__ import annotations

import itertools

from ailawyer.db.models import Akte, Kanzlei, User
from ailawyer.db.session import Database
from ailawyer.domain.passwords import hash_password
from ailawyer.domain.roles import Role

PASSWORD = "richtig-geheim-42"
# Hashing with argon2 is slow on purpose; every test user shares one hash.
PASSWORD_HASH = hash_password(PASSWORD)
_counter = itertools.count(1)


class Factory:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def kanzlei(self, name: str | None = None) -> Kanzlei:
        async with self.db.session() as session:
            kanzlei = Kanzlei(name=name or f"Kanzlei {next(_counter)}")
            session.add(kanzlei)
            await session.commit()
            return kanzlei

    async def user(
        self,
        role: Role = Role.ANWALT,
        *,
        kanzlei: Kanzlei | None = None,
        email: str | None = None,
        name: str | None = None,
        aktiv: bool = True,
        is_operator: bool = False,
    ) -> User:
        kanzlei = kanzlei or await self.kanzlei()
        number = next(_counter)
        async with self.db.session() as session:
            user = User(
                kanzlei_id=kanzlei.id,
                email=email or f"{role.value.lower()}{number}@test.example",
                name=name or f"{role.label} {number}",
                role=role,
                password_hash=PASSWORD_HASH,
                aktiv=aktiv,
                is_operator=is_operator,
                notification_seq=0,
            )
            session.add(user)
            await session.commit()
            return user

    async def akte(
        self,
        kanzlei: Kanzlei | int,
        *,
        anwalt: User | None = None,
        sachbearbeiter: User | None = None,
        kurzrubrum: str | None = None,
    ) -> Akte:
        number = next(_counter)
        async with self.db.session() as session:
            akte = Akte(
                kanzlei_id=kanzlei if isinstance(kanzlei, int) else kanzlei.id,
                aktenzeichen=f"{number}/26",
                kurzrubrum=kurzrubrum or f"Sache {number}",
                anwalt_id=anwalt.id if anwalt else None,
                sachbearbeiter_id=sachbearbeiter.id if sachbearbeiter else None,
            )
            session.add(akte)
            await session.commit()
            return akte
