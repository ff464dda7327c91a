"""The people of the trust model, in one place: the operator and two Kanzleien.

- the operator ("Betreiber") of the installation, an ADMIN of a Kanzlei of its own;
- the ADMIN of Kanzlei A and a SACHBEARBEITER of Kanzlei A (no admin rights) who works on
  A's Akte, uploaded its Dokument and has a notification;
- the ADMIN of Kanzlei B, who must see nothing of A.

Tests that need Kanzleien and their people take them from here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tests.support.factories import Factory
from tests.support.notifications import notify

from ailawyer.db.models import Akte, Dokument, DokumentStatus, Kanzlei, User
from ailawyer.dokumente.upload import dokument_job_id
from ailawyer.domain.roles import Role
from ailawyer.jobs.payloads import DokumentPayload, SystemTaskPayload
from ailawyer.notifications.types import JOB_COMPLETED
from ailawyer.services import Services

# A job that stays delayed for the whole test: no worker of the run touches it.
PARKED_MS = 3600 * 1000


@dataclass(frozen=True)
class People:
    operator: User
    admin_a: User
    sachbearbeiter_a: User
    admin_b: User
    kanzlei_a: Kanzlei
    kanzlei_b: Kanzlei
    akte_a: Akte
    dokument_a: Dokument
    # Of sachbearbeiter_a.
    notification_id: int

    def by_name(self) -> dict[str, User]:
        """Every persona under its name, as test tables refer to them."""
        return {
            "operator": self.operator,
            "admin_a": self.admin_a,
            "admin_b": self.admin_b,
            "sachbearbeiter_a": self.sachbearbeiter_a,
        }


async def build_people(factory: Factory, services: Services) -> People:
    """The operator, Kanzlei A (ADMIN, SACHBEARBEITER, an Akte with a Dokument), Kanzlei B."""
    betrieb = await factory.kanzlei(f"Betrieb {uuid.uuid4().hex[:6]}")
    operator = await factory.user(Role.ADMIN, kanzlei=betrieb, is_operator=True)
    kanzlei_a = await factory.kanzlei(f"Kanzlei A {uuid.uuid4().hex[:6]}")
    kanzlei_b = await factory.kanzlei(f"Kanzlei B {uuid.uuid4().hex[:6]}")
    admin_a = await factory.user(Role.ADMIN, kanzlei=kanzlei_a)
    sachbearbeiter_a = await factory.user(Role.SACHBEARBEITER, kanzlei=kanzlei_a)
    admin_b = await factory.user(Role.ADMIN, kanzlei=kanzlei_b)
    akte_a = await factory.akte(kanzlei_a, sachbearbeiter=sachbearbeiter_a)
    dokument_a = await add_dokument(services, akte_a, sachbearbeiter_a)
    notification = await notify(
        services.db,
        services.notifications,
        sachbearbeiter_a.id,
        type=JOB_COMPLETED,
        title="Fertig",
        link=f"/akten/{akte_a.id}",
    )
    return People(
        operator=operator,
        admin_a=admin_a,
        sachbearbeiter_a=sachbearbeiter_a,
        admin_b=admin_b,
        kanzlei_a=kanzlei_a,
        kanzlei_b=kanzlei_b,
        akte_a=akte_a,
        dokument_a=dokument_a,
        notification_id=notification.id,
    )


async def add_dokument(services: Services, akte: Akte, uploader: User) -> Dokument:
    """A processed Dokument of `akte` (no file behind it: nothing reads it)."""
    async with services.db.session() as session:
        dokument = Dokument(
            akte_id=akte.id,
            dateiname="Vertrag.pdf",
            storage_key=f"{akte.id}/{uuid.uuid4().hex}.pdf",
            size_bytes=1,
            sha256="0" * 64,
            status=DokumentStatus.ABGESCHLOSSEN,
            page_count=1,
            uploaded_by_id=uploader.id,
        )
        session.add(dokument)
        await session.commit()
        return dokument


async def park_kanzlei_job(services: Services, people: People) -> str:
    """A new delayed `dokumente` job of Kanzlei A (its own Dokument), by sachbearbeiter_a."""
    dokument = await add_dokument(services, people.akte_a, people.sachbearbeiter_a)
    payload = DokumentPayload(
        dokument_id=dokument.id,
        akte_id=people.akte_a.id,
        user_id=people.sachbearbeiter_a.id,
        kanzlei_id=people.kanzlei_a.id,
    )
    job = await services.jobs.enqueue(
        "dokumente", payload, job_id=dokument_job_id(dokument.id), delay_ms=PARKED_MS
    )
    return str(job.id)


async def park_system_job(services: Services) -> str:
    """A new delayed job of the `system` queue: it belongs to no Kanzlei."""
    job = await services.jobs.enqueue(
        "system", SystemTaskPayload(task="retention-cleanup"), delay_ms=PARKED_MS
    )
    return str(job.id)
