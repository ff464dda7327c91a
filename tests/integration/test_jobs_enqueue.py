"""Enqueueing checks payloads against the queue's declared type and its Kanzlei rule; queues
can be listed."""

from __future__ import annotations

import pytest
from bullmq import Queue

from ailawyer.jobs.catalog import QUEUES
from ailawyer.jobs.errors import InvalidPayloadError, UnknownQueueError
from ailawyer.jobs.payloads import AdminTestPayload, DokumentPayload
from ailawyer.services import Services


async def test_a_valid_payload_is_stored_as_camel_case_ids_with_the_default_options(
    isolated_services: Services,
) -> None:
    job = await isolated_services.jobs.enqueue(
        "dokumente", DokumentPayload(dokument_id=7, akte_id=3, user_id=5, kanzlei_id=2)
    )

    stored = await isolated_services.jobs.get_job("dokumente", job.id)
    assert stored is not None
    assert stored.data == {"kanzleiId": 2, "dokumentId": 7, "akteId": 3, "userId": 5}
    assert stored.opts["attempts"] == 4
    assert stored.opts["backoff"] == {"type": "ailawyer-steps"}


async def test_a_payload_given_as_a_mapping_is_validated_too(isolated_services: Services) -> None:
    data = {"dokumentId": 7, "akteId": 3, "kanzleiId": 2}
    job = await isolated_services.jobs.enqueue("dokumente", data)

    assert job.data == {"kanzleiId": 2, "dokumentId": 7, "akteId": 3}


@pytest.mark.parametrize(
    "payload",
    [
        {"dokumentId": "sieben", "akteId": 3, "kanzleiId": 2},
        {"akteId": 3, "kanzleiId": 2},
        # Personal data has no field to go into: unknown keys are refused.
        {"dokumentId": 7, "akteId": 3, "kanzleiId": 2, "dateiname": "Scheidung Müller.pdf"},
        AdminTestPayload(),
        # A Kanzlei's job must say whose it is: its ADMIN's explorer is decided by it.
        {"dokumentId": 7, "akteId": 3},
    ],
    ids=["wrong-type", "missing-field", "extra-field", "other-queues-model", "no-kanzlei"],
)
async def test_a_bad_payload_is_refused_and_nothing_is_enqueued(
    isolated_services: Services, payload: object
) -> None:
    with pytest.raises(InvalidPayloadError, match="dokumente"):
        await isolated_services.jobs.enqueue("dokumente", payload)  # type: ignore[arg-type]

    counts = await isolated_services.jobs.queue("dokumente").getJobCounts()
    assert sum(counts.values()) == 0


async def test_a_queue_of_the_installation_takes_no_kanzleis_job(
    isolated_services: Services,
) -> None:
    with pytest.raises(InvalidPayloadError, match="no Kanzlei"):
        await isolated_services.jobs.enqueue("test", AdminTestPayload(kanzlei_id=2))

    counts = await isolated_services.jobs.queue("test").getJobCounts()
    assert sum(counts.values()) == 0


async def test_an_unknown_queue_is_refused(isolated_services: Services) -> None:
    with pytest.raises(UnknownQueueError, match="nicht-da"):
        await isolated_services.jobs.enqueue("nicht-da", {"userId": 1})


async def test_queues_only_found_in_redis_are_listed_with_the_declared_ones(
    isolated_services: Services,
) -> None:
    # bullmq has no API to list queues; a queue some other code created must still show.
    jobs = isolated_services.jobs
    foreign = Queue("fremd", {"connection": isolated_services.redis, "prefix": jobs.prefix})
    await foreign.add("irgendwas", {"x": 1})

    assert await jobs.discover() == sorted({*QUEUES, "fremd"})


async def test_known_queues_reuse_the_last_scan_until_asked_for_a_fresh_one(
    isolated_services: Services,
) -> None:
    jobs = isolated_services.jobs
    assert await jobs.known() == sorted(QUEUES)
    later = Queue("spaeter", {"connection": isolated_services.redis, "prefix": jobs.prefix})
    await later.add("irgendwas", {"x": 1})

    assert await jobs.known() == sorted(QUEUES)  # the scan of a moment ago
    assert await jobs.known(fresh=True) == sorted({*QUEUES, "spaeter"})
    assert await jobs.known() == sorted({*QUEUES, "spaeter"})
