"""The people of the trust model, in one place: the operator and the Kanzleien with their staff.

- the operator ("Betreiber") of the installation, an ADMIN of a Kanzlei of its own;
- a Kanzlei's staff: one user per role and a colleague (ANWALT) who is on no Akte;
- `People`: the operator and two Kanzleien, A and B. A's SACHBEARBEITER (no admin rights)
  works on A's Akte, uploaded its Dokument and has a notification; B must see nothing of A;
- `Tenant`: a Kanzlei full of data for the security suite. Every text of its objects carries
  the Kanzlei's `secret`, and its people's names and addresses a `tag`, so a response that
  leaks any of them is caught by searching for it.

Tests that need Kanzleien and their people take them from here (fixtures in tests/conftest.py).
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

ROLES = (Role.ADMIN, Role.ANWALT, Role.SACHBEARBEITER, Role.SEKRETARIAT)
# A job that stays delayed for the whole test: no worker of the run touches it.
PARKED_MS = 3600 * 1000


async def build_operator(factory: Factory) -> User:
    """The installation's operator: an ADMIN of a Kanzlei of its own with the operator flag."""
    betrieb = await factory.kanzlei(f"Betrieb {uuid.uuid4().hex[:6]}")
    return await factory.user(Role.ADMIN, kanzlei=betrieb, is_operator=True)


async def build_admin(factory: Factory) -> User:
    """An ADMIN of a Kanzlei of its own, without the operator flag."""
    return await factory.user(Role.ADMIN)


@dataclass(frozen=True)
class Staff:
    kanzlei: Kanzlei
    users: dict[Role, User]
    # Same Kanzlei, role ANWALT, but neither anwalt nor sachbearbeiter of any Akte.
    kollege: User

    def __getitem__(self, role: Role) -> User:
        return self.users[role]


async def build_staff(factory: Factory, label: str, *, tag: str | None = None) -> Staff:
    """A Kanzlei with one user per role and a colleague; `tag` goes into every name and address."""
    kanzlei = await factory.kanzlei(f"Kanzlei {tag or label + ' ' + uuid.uuid4().hex[:6]}")

    async def member(role: Role, name: str, mailbox: str) -> User:
        if tag is None:
            return await factory.user(role, kanzlei=kanzlei)
        return await factory.user(
            role,
            kanzlei=kanzlei,
            name=f"{name} {tag}",
            email=f"{mailbox}.{tag.lower()}@test.example",
        )

    users = {role: await member(role, role.label, role.value.lower()) for role in ROLES}
    kollege = await member(Role.ANWALT, "Kollege", "kollege")
    return Staff(kanzlei=kanzlei, users=users, kollege=kollege)


@dataclass(frozen=True)
class People:
    operator: User
    staff_a: Staff
    staff_b: Staff
    akte_a: Akte
    dokument_a: Dokument
    # Of sachbearbeiter_a.
    notification_id: int

    @property
    def kanzlei_a(self) -> Kanzlei:
        return self.staff_a.kanzlei

    @property
    def kanzlei_b(self) -> Kanzlei:
        return self.staff_b.kanzlei

    @property
    def admin_a(self) -> User:
        return self.staff_a[Role.ADMIN]

    @property
    def anwalt_a(self) -> User:
        """On no Akte of the personas: tests give them Akten of their own."""
        return self.staff_a[Role.ANWALT]

    @property
    def sachbearbeiter_a(self) -> User:
        """Works on akte_a and uploaded dokument_a; no admin rights."""
        return self.staff_a[Role.SACHBEARBEITER]

    @property
    def admin_b(self) -> User:
        return self.staff_b[Role.ADMIN]

    def by_name(self) -> dict[str, User]:
        """The personas of the trust model under their names, as test tables refer to them."""
        return {
            "operator": self.operator,
            "admin_a": self.admin_a,
            "admin_b": self.admin_b,
            "sachbearbeiter_a": self.sachbearbeiter_a,
        }


async def build_people(factory: Factory, services: Services) -> People:
    """The operator, Kanzlei A (staff, an Akte with a Dokument, a notification), Kanzlei B."""
    operator = await build_operator(factory)
    staff_a = await build_staff(factory, "A")
    staff_b = await build_staff(factory, "B")
    sachbearbeiter_a = staff_a[Role.SACHBEARBEITER]
    akte_a = await factory.akte(staff_a.kanzlei, sachbearbeiter=sachbearbeiter_a)
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
        staff_a=staff_a,
        staff_b=staff_b,
        akte_a=akte_a,
        dokument_a=dokument_a,
        notification_id=notification.id,
    )


@dataclass(frozen=True)
class Tenant(Staff):
    secret: str
    tag: str
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
    """Staff carrying a tag, an Akte, a processed Dokument, a notification and a job (secret)."""
    secret = f"Geheim{label}{uuid.uuid4().hex[:8]}"
    tag = f"Person{label}{uuid.uuid4().hex[:8]}"
    staff = await build_staff(factory, label, tag=tag)
    anwalt = staff[Role.ANWALT]
    akte = await factory.akte(
        staff.kanzlei,
        anwalt=anwalt,
        sachbearbeiter=staff[Role.SACHBEARBEITER],
        kurzrubrum=f"{secret} ./. Gegner",
    )
    dokument = await add_dokument(
        services,
        akte,
        anwalt,
        dateiname=f"Vertrag {secret}.pdf",
        extracted_text=f"Vertraulicher Text {secret}",
    )
    notification = await notify(
        services.db,
        services.notifications,
        anwalt.id,
        type=JOB_COMPLETED,
        title=f"Nachricht {secret}",
        message=f"Inhalt {secret}",
        link=f"/akten/{akte.id}",
    )
    job_id = await park_dokument_job(services, staff.kanzlei, akte, anwalt, dokument)
    return Tenant(
        kanzlei=staff.kanzlei,
        users=staff.users,
        kollege=staff.kollege,
        secret=secret,
        tag=tag,
        akte=akte,
        dokument=dokument,
        notification_id=notification.id,
        job_id=job_id,
    )


async def add_dokument(
    services: Services,
    akte: Akte,
    uploader: User,
    *,
    dateiname: str = "Vertrag.pdf",
    extracted_text: str | None = None,
) -> Dokument:
    """A processed Dokument of `akte` (no file behind it: nothing reads it)."""
    async with services.db.session() as session:
        dokument = Dokument(
            akte_id=akte.id,
            dateiname=dateiname,
            storage_key=f"{akte.id}/{uuid.uuid4().hex}.pdf",
            size_bytes=1,
            sha256="0" * 64,
            status=DokumentStatus.ABGESCHLOSSEN,
            page_count=1,
            extracted_text=extracted_text,
            uploaded_by_id=uploader.id,
        )
        session.add(dokument)
        await session.commit()
        return dokument


async def park_dokument_job(
    services: Services, kanzlei: Kanzlei, akte: Akte, user: User, dokument: Dokument
) -> str:
    """A delayed `dokumente` job for `dokument` (by `user`) that no worker touches in the test."""
    payload = DokumentPayload(
        dokument_id=dokument.id, akte_id=akte.id, user_id=user.id, kanzlei_id=kanzlei.id
    )
    job = await services.jobs.enqueue(
        "dokumente", payload, job_id=dokument_job_id(dokument.id), delay_ms=PARKED_MS
    )
    return str(job.id)


async def park_kanzlei_job(services: Services, people: People) -> str:
    """A new delayed `dokumente` job of Kanzlei A (its own Dokument), by sachbearbeiter_a."""
    uploader = people.sachbearbeiter_a
    dokument = await add_dokument(services, people.akte_a, uploader)
    return await park_dokument_job(services, people.kanzlei_a, people.akte_a, uploader, dokument)


async def park_system_job(services: Services) -> str:
    """A new delayed job of the `system` queue: it belongs to no Kanzlei."""
    job = await services.jobs.enqueue(
        "system", SystemTaskPayload(task="retention-cleanup"), delay_ms=PARKED_MS
    )
    return str(job.id)
