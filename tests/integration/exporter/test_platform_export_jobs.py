"""The listener's side of a Platform job during its export, against the emulator over HTTP: who may acknowledge,
complete or fail it, lost answers, redeliveries, replays, jobs that are not the relay's, and giving up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support.platform_export import calls, job_posts, unlocked
from support.relay import Relay

from flatfile_relay.errors import ContractError
from flatfile_relay.flatfile import RetriesExhaustedError
from flatfile_relay.ledger import CLOSED, EXPORTED, EXPORTING, PENDING
from flatfile_relay.platform_export import ACKNOWLEDGED_INFO, GIVE_UP_MESSAGE
from flatfile_relay_devkit.emulator import FaultRule


@pytest.fixture
def relay(platform_relay: Callable[..., Relay]) -> Relay:
    """The exporter's relay (parts of up to 1,000 rows) with both sources' keys and the emulator's samples."""
    return platform_relay(part_max_rows=1000)


def test_a_job_another_listener_acknowledged_is_left_alone(relay: Relay) -> None:
    job_id = relay.submit("products")
    relay.emu.platform.acknowledge(job_id, info="Sending to the CRM")

    outcome = relay.export_job(job_id)

    assert outcome.status == "left-alone"
    assert calls(relay)[-1:] == ["GET /v1/jobs/{jobId}"]  # read, nothing sent
    assert relay.emu.requests_to("/v1/sheets/") == []
    job = relay.emu.platform.job(job_id)
    assert (job["status"], job["info"], job["outcome"]) == ("executing", "Sending to the CRM", None)
    entry = relay.entry(job_id)
    assert (entry.state, entry.batch_status, entry.lease_owner) == (CLOSED, "executing", None)
    assert relay.object_keys() == []
    assert relay.notices() == []


def test_a_job_showing_the_relays_info_without_the_ledgers_mark_is_another_listeners(relay: Relay) -> None:
    """Another stack of the relay listening to the same environment shows the same info line."""
    job_id = relay.submit("products")
    relay.emu.platform.acknowledge(job_id, info=ACKNOWLEDGED_INFO)

    assert relay.export_job(job_id).status == "left-alone"
    assert relay.emu.platform.job(job_id)["status"] == "executing"
    assert job_posts(relay, job_id, "complete") == []


@pytest.mark.parametrize("status", ["created", "planning", "scheduled"])
def test_a_job_not_ready_yet_goes_back_to_the_poller(relay: Relay, status: str) -> None:
    job_id = relay.submit("products")
    relay.emu.platform.set_job_status(job_id, status)

    assert relay.export_job(job_id).status == "not-submitted"

    entry = relay.entry(job_id)
    assert (entry.state, entry.batch_status) == (PENDING, status)
    assert relay.emu.requests_to("/v1/jobs/", "POST") == []


def test_a_job_flatfile_does_not_know_goes_back_to_the_poller(relay: Relay) -> None:
    assert relay.export_job("us_jb_gone0000").status == "not-found"
    assert relay.entry("us_jb_gone0000").state == PENDING


def test_a_job_someone_else_ended_is_left_alone_and_what_was_written_removed(relay: Relay) -> None:
    relay = relay.with_settings(part_max_rows=5)
    job_id = relay.submit("customers_orders")
    relay.emu.inject(FaultRule(kind="500", path="/v1/sheets/*/records", after=1, count=None))
    with pytest.raises(RetriesExhaustedError):
        relay.export_job(job_id, client=relay.platform_client(max_attempts=1, record_prefetch=1))
    assert len(relay.entry(job_id).parts) == 3
    assert relay.object_keys("flatfile/rows/")
    relay.emu.clear_faults()
    relay.emu.platform.cancel(job_id)  # the end user cancels the job

    assert relay.export_job(job_id).status == "left-alone"

    assert relay.object_keys() == []
    entry = relay.entry(job_id)
    assert (entry.state, entry.batch_status, entry.parts) == (CLOSED, "canceled", ())
    assert relay.emu.platform.job(job_id)["status"] == "canceled"
    assert unlocked(relay, relay.emu.platform.sample_id("customers_orders"))


def test_a_redelivery_after_the_export_completes_nothing_twice(relay: Relay) -> None:
    job_id = relay.submit("products")
    assert relay.export_job(job_id).status == "exported"
    relay.emu.clear_request_log()

    assert relay.export_job(job_id).status == "skipped"  # the same job, delivered again

    assert relay.emu.request_log == []
    assert len(relay.notices()) == 1
    assert relay.emu.platform.job(job_id)["outcome"] == {"message": "Exported 25 records to AWS"}


def test_a_crash_after_completing_finishes_the_ledger_without_a_second_completion(relay: Relay) -> None:
    job_id = relay.submit("products")
    ledger_client = relay.deployment.clients.dynamodb
    refuse = _refuse(ledger_client, "UpdateItem", lambda params: "manifestUri = :uri" in params.get(
        "UpdateExpression", ""))
    with pytest.raises(ClientError, match="injected"):
        relay.export_job(job_id)  # completed, then the ledger's mark fails (a crash there)
    ledger_client.meta.events.unregister("before-parameter-build.dynamodb.UpdateItem", refuse)
    assert relay.emu.platform.job(job_id)["status"] == "complete"
    assert relay.entry(job_id).state == EXPORTING

    assert relay.export_job(job_id).status == "exported"  # the redelivery

    assert len(job_posts(relay, job_id, "complete")) == 1
    assert job_posts(relay, job_id, "fail") == []
    assert len(relay.notices()) == 1
    assert relay.entry(job_id).state == EXPORTED


def test_lost_answers_to_the_acknowledgement_and_the_completion_are_read_back(relay: Relay) -> None:
    job_id = relay.submit("products")
    relay.emu.inject(FaultRule(kind="lost", path=f"/v1/jobs/{job_id}/ack"),
                     FaultRule(kind="lost", path=f"/v1/jobs/{job_id}/complete"))

    assert relay.export_job(job_id).status == "exported"

    assert [record.fault for record in job_posts(relay, job_id, "ack")] == ["lost", None]
    assert [record.fault for record in job_posts(relay, job_id, "complete")] == ["lost", None]
    job = relay.emu.platform.job(job_id)
    assert (job["status"], job["outcome"]) == ("complete", {"message": "Exported 25 records to AWS"})
    assert job_posts(relay, job_id, "fail") == []


def test_a_replay_exports_again_without_touching_the_job(relay: Relay) -> None:
    job_id = relay.submit("products")
    assert relay.export_job(job_id).status == "exported"
    before = relay.emu.platform.job(job_id)
    relay.emu.clear_request_log()

    assert relay.export_job(job_id, trigger="replay").status == "exported"

    assert relay.emu.requests_to("/v1/", "POST") == []  # no ack, progress, lock, complete or fail
    assert relay.emu.platform.job(job_id) == before
    assert relay.manifest_dict(job_id)["trigger"] == "replay"
    assert len(relay.notices()) == 2


def test_a_backfill_exports_a_job_completed_before_without_touching_it(relay: Relay) -> None:
    job_id = relay.emu.platform.sample_id("job_history")  # completed by another listener, days ago
    before = relay.emu.platform.job(job_id)

    assert relay.export_job(job_id, trigger="backfill").row_count == 42

    assert relay.emu.requests_to("/v1/", "POST") == []
    assert relay.emu.platform.job(job_id) == before


def test_a_replay_of_a_job_nobody_answered_leaves_it_ready(relay: Relay) -> None:
    job_id = relay.submit("products")

    assert relay.export_job(job_id, trigger="replay").status == "exported"

    assert relay.emu.platform.job(job_id)["status"] == "ready"
    assert relay.emu.requests_to("/v1/", "POST") == []


@pytest.mark.parametrize("label", ["job_other_operation"])
def test_a_job_of_another_operation_is_a_contract_error_and_stays_untouched(relay: Relay, label: str) -> None:
    job_id = relay.emu.platform.sample_id(label)
    with pytest.raises(ContractError, match=r"workbook:downloadCsv job; the relay exports only .*submitActionFg"):
        relay.export_job(job_id)
    assert relay.emu.requests_to("/v1/", "POST") == []
    job_id = relay.submit("products")
    with pytest.raises(ContractError, match="FLATFILE_PLATFORM_OPERATIONS"):
        relay.with_settings(platform_operations=("exportToAws",)).export_job(job_id)
    assert relay.emu.platform.job(job_id)["status"] == "ready"


def test_the_last_delivery_fails_the_job_with_the_data_safe_in_flatfile(relay: Relay) -> None:
    job_id = relay.submit("customers_orders")
    relay.emu.inject(FaultRule(kind="503", path="/v1/sheets/*/records", count=None))
    fragile = relay.platform_client(max_attempts=2)
    with pytest.raises(RetriesExhaustedError):
        relay.export_job(job_id, client=fragile)  # an earlier delivery: retried later, the job untouched
    assert relay.emu.platform.job(job_id)["status"] == "executing"

    with pytest.raises(RetriesExhaustedError):
        relay.export_job(job_id, client=fragile, last_delivery=True)

    job = relay.emu.platform.job(job_id)
    assert (job["status"], job["outcome"]) == ("failed", {"message": GIVE_UP_MESSAGE})
    assert "safe in Flatfile" in GIVE_UP_MESSAGE
    assert "Error" not in GIVE_UP_MESSAGE
    assert unlocked(relay, relay.emu.platform.sample_id("customers_orders"))
    assert relay.notices() == []
    # the team redrives it: exported then, the failed job left as it is
    relay.emu.clear_faults()
    assert relay.export_job(job_id).status == "exported"
    assert relay.emu.platform.job(job_id)["status"] == "failed"
    assert len(job_posts(relay, job_id, "fail")) == 1
    assert job_posts(relay, job_id, "complete") == []


def test_a_contract_error_fails_the_job_at_once(relay: Relay) -> None:
    job_id = relay.submit("products")
    relay.emu.inject(FaultRule(kind="invalid_json", path="/v1/sheets/*/records", count=None,
                               body='{"data": {"records": [{"id": 1}]}}'))

    with pytest.raises(ContractError, match="string `id` and `values`"):
        relay.export_job(job_id)

    assert relay.emu.platform.job(job_id)["outcome"] == {"message": GIVE_UP_MESSAGE}
    assert unlocked(relay, relay.emu.platform.sample_id("products"))


def _refuse(client: Any, operation: str, when: Callable[[dict[str, Any]], bool]) -> Callable[..., None]:
    """Make `client`'s `operation` fail like AWS would whenever `when(params)`; returns the handler to unregister."""

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if when(params):
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "injected"}}, operation)

    client.meta.events.register(f"before-parameter-build.{client.meta.service_model.endpoint_prefix}.{operation}",
                                refuse)
    return refuse


def test_a_job_canceled_during_its_export_is_left_alone_when_the_progress_shows_it(
    platform_relay: Callable[..., Relay],
) -> None:
    relay = platform_relay(emulator={"platform_max_page_size": 10}, part_max_rows=10)
    platform = relay.emu.platform
    workbook = platform.add_generated_workbook("Canceled", [120])
    job_id = relay.submit(workbook["id"])
    platform.on_records_page(lambda sheet_id, page: platform.cancel(job_id) if page == 3 else None)

    outcome = relay.export_job(job_id, client=relay.platform_client(record_prefetch=1))

    assert outcome.status == "left-alone"
    assert relay.object_keys() == []  # the parts written before are removed
    entry = relay.entry(job_id)
    assert (entry.state, entry.batch_status) == (CLOSED, "canceled")
    assert job_posts(relay, job_id, "complete") == []
    assert job_posts(relay, job_id, "fail") == []
    assert unlocked(relay, workbook["id"])
    assert relay.notices() == []
