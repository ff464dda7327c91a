"""Search the explorer by what a person knows (issue 12.7): a file name, an Aktenzeichen, a
Kurzrubrum or a person's name finds the jobs whose payload names that row by id, among the
rows the searching administrator may see; Redis still holds only ids."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from tests.support.factories import Factory
from tests.support.http import logged_in
from tests.support.job_explorer import ROW
from tests.support.personas import People, add_dokument, park_dokument_job

from ailawyer.db.models import User
from ailawyer.domain.roles import Role
from ailawyer.services import Services


@dataclass(frozen=True)
class Jobs:
    a: str
    b: str
    aktenzeichen_a: str


@pytest.fixture
async def jobs(services: Services, factory: Factory, people: People) -> Jobs:
    uploader_b = people.staff_b[Role.SACHBEARBEITER]
    akte_a = await factory.akte(people.kanzlei_a, kurzrubrum="Weber ./. Stadtwerke")
    akte_b = await factory.akte(people.kanzlei_b, kurzrubrum="Schmidt ./. Land")
    dokument_a = await add_dokument(
        services, akte_a, people.sachbearbeiter_a, dateiname="Mietvertrag_Weber.pdf"
    )
    dokument_b = await add_dokument(
        services, akte_b, uploader_b, dateiname="Kaufvertrag_Schmidt.pdf"
    )
    return Jobs(
        a=await park_dokument_job(
            services, people.kanzlei_a, akte_a, people.sachbearbeiter_a, dokument_a
        ),
        b=await park_dokument_job(services, people.kanzlei_b, akte_b, uploader_b, dokument_b),
        aktenzeichen_a=akte_a.aktenzeichen,
    )


async def found(live_server: str, user: User, term: str) -> set[str]:
    async with logged_in(live_server, user) as client:
        page = await client.get("/admin/jobs/queues/dokumente", params={"q": term})
    assert page.status_code == 200
    return {job_id for job_id, _ in ROW.findall(page.text)}


async def test_a_file_name_finds_its_job(live_server: str, people: People, jobs: Jobs) -> None:
    assert await found(live_server, people.admin_a, "mietvertrag_weber") == {jobs.a}
    assert await found(live_server, people.operator, "Kaufvertrag_Schmidt.pdf") == {jobs.b}
    # Part of a name, any case: every job naming a matching Dokument the admin may see.
    assert await found(live_server, people.operator, "VERTRAG_") == {jobs.a, jobs.b}


async def test_an_aktenzeichen_a_kurzrubrum_and_a_person_find_their_jobs(
    live_server: str, people: People, jobs: Jobs
) -> None:
    assert await found(live_server, people.admin_a, jobs.aktenzeichen_a) == {jobs.a}
    assert await found(live_server, people.admin_a, "Stadtwerke") == {jobs.a}
    assert jobs.a in await found(live_server, people.admin_a, people.sachbearbeiter_a.name)


async def test_another_kanzleis_rows_find_nothing_for_a_kanzlei_admin(
    live_server: str, people: People, jobs: Jobs
) -> None:
    assert await found(live_server, people.admin_a, "Kaufvertrag_Schmidt") == set()
    assert await found(live_server, people.admin_a, "Schmidt ./. Land") == set()
    assert await found(live_server, people.admin_a, "vertrag_") == {jobs.a}
    assert await found(live_server, people.admin_b, "Mietvertrag_Weber") == set()
