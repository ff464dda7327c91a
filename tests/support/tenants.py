"""Kanzleien full of data for the security suite: one attacks, another is the victim.

Each Kanzlei has a user per role, a colleague without any Akte, an Akte with a processed
Dokument, a notification and a job. Every text of those objects carries the Kanzlei's
`secret`, and its people's names and addresses a `tag`, so a response that leaks any of
them is caught by searching for it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tests.support.factories import Factory
from tests.support.notifications import notify

from ailawyer.db.models import Akte, Dokument, DokumentStatus, Kanzlei, User
from ailawyer.dokumente.upload import dokument_job_id
from ailawyer.domain.roles import Role
from ailawyer.jobs.payloads import DokumentPayload
from ailawyer.notifications.types import JOB_COMPLETED
from ailawyer.services import Services

ROLES = (Role.ADMIN, Role.ANWALT, Role.SACHBEARBEITER, Role.SEKRETARIAT)
# A job that stays delayed for the whole test: no worker of the run touches it.
PARKED_MS = 3600 * 1000


@dataclass(frozen=True)
class Tenant:
    kanzlei: Kanzlei
    secret: str
    tag: str
    users: dict[Role, User]
    # Same Kanzlei, role ANWALT, but neither anwalt nor sachbearbeiter of any Akte.
    kollege: User
    akte: Akte
    dokument: Dokument
    # Of users[ANWALT]: a notification and a job (for their Akte).
    notification_id: int
    job_id: str

    @property
    def leaked(self) -> list[str]:
        """What no other Kanzlei may ever see: the objects' secret and the people's tag."""
        return [self.secret, self.tag.lower(), self.tag]


async def build_tenant(factory: Factory, services: Services, label: str) -> Tenant:
    """A Kanzlei with its people, an Akte, a processed Dokument, a notification and a job."""
    secret = f"Geheim{label}{uuid.uuid4().hex[:8]}"
    tag = f"Person{label}{uuid.uuid4().hex[:8]}"
    kanzlei = await factory.kanzlei(f"Kanzlei {tag}")
    users = {
        role: await factory.user(
            role,
            kanzlei=kanzlei,
            name=f"{role.label} {tag}",
            email=f"{role.value.lower()}.{tag.lower()}@test.example",
        )
        for role in ROLES
    }
    kollege = await factory.user(
        Role.ANWALT,
        kanzlei=kanzlei,
        name=f"Kollege {tag}",
        email=f"kollege.{tag.lower()}@test.example",
    )
    anwalt = users[Role.ANWALT]
    akte = await factory.akte(
        kanzlei,
        anwalt=anwalt,
        sachbearbeiter=users[Role.SACHBEARBEITER],
        kurzrubrum=f"{secret} ./. Gegner",
    )
    async with services.db.session() as session:
        dokument = Dokument(
            akte_id=akte.id,
            dateiname=f"Vertrag {secret}.pdf",
            storage_key=f"{akte.id}/{uuid.uuid4().hex}.pdf",
            size_bytes=1,
            sha256="0" * 64,
            status=DokumentStatus.ABGESCHLOSSEN,
            page_count=1,
            extracted_text=f"Vertraulicher Text {secret}",
            uploaded_by_id=anwalt.id,
        )
        session.add(dokument)
        await session.commit()
    notification = await notify(
        services.db,
        services.notifications,
        anwalt.id,
        type=JOB_COMPLETED,
        title=f"Nachricht {secret}",
        message=f"Inhalt {secret}",
        link=f"/akten/{akte.id}",
    )
    job = await services.jobs.enqueue(
        "dokumente",
        DokumentPayload(
            dokument_id=dokument.id, akte_id=akte.id, user_id=anwalt.id, kanzlei_id=kanzlei.id
        ),
        job_id=dokument_job_id(dokument.id),
        delay_ms=PARKED_MS,
    )
    return Tenant(
        kanzlei=kanzlei,
        secret=secret,
        tag=tag,
        users=users,
        kollege=kollege,
        akte=akte,
        dokument=dokument,
        notification_id=notification.id,
        job_id=str(job.id),
    )
