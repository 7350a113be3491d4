"""The poller when SQS, Flatfile or the secret fail: clear errors, nothing recorded that did not happen."""

from __future__ import annotations

import json

import pytest
from support.recorders import counting_secrets
from support.relay import Relay

from flatfile_relay.checkpoint import Checkpoint
from flatfile_relay.connection import FlatfileConnection
from flatfile_relay.credentials import MalformedSecretError
from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile import CredentialsRejectedError
from flatfile_relay.jobs import JobSendError, send_jobs
from flatfile_relay.ledger import PENDING, QUEUED
from flatfile_relay.poller import poll
from flatfile_relay_devkit.emulator import FaultRule


def test_a_missing_queue_is_a_clear_error_and_nothing_is_marked_queued(relay: Relay) -> None:
    missing = relay.queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    relay.configure(export_jobs_queue_url=missing)

    with pytest.raises(JobSendError) as caught:
        relay.poll()

    assert missing in str(caught.value)
    assert caught.value.sent == []
    entries = relay.ledger.get_many(relay.submitted_ids())
    assert not [e for e in entries.values() if e.state == QUEUED]
    assert relay.ledger.checkpoint() == Checkpoint()  # the walk did not complete

    relay.configure(export_jobs_queue_url=relay.deployment.refs["ExportJobsQueue"])
    assert sorted(relay.poll().jobs_sent) == sorted(relay.submitted_ids())


def test_send_jobs_to_a_real_queue(relay: Relay) -> None:
    from flatfile_relay.jobs import ExportJob

    jobs = [ExportJob.create(batch_id, trigger="schedule") for batch_id in sorted(relay.submitted_ids())]
    jobs += jobs[:3]  # a job sent twice is two messages: the exporter deduplicates
    assert send_jobs(relay.sqs, relay.queue_url, jobs, Deadline.after(30)) == jobs
    assert sorted(job.batch_id for job in relay.drain_jobs()) == sorted(job.batch_id for job in jobs)


def test_flatfile_failing_mid_walk_propagates_after_recording_what_was_done(relay: Relay) -> None:
    relay.add_batches(10)
    relay.emu.inject(FaultRule(kind="503", path="/rest/batches", after=1, count=None))

    with pytest.raises(Exception, match="503") as caught:
        relay.poll()

    assert type(caught.value).__name__ == "RetriesExhaustedError"
    first_page = relay.drain_jobs()
    assert len(first_page) == 5  # the first page's jobs went out and are recorded
    for job in first_page:
        assert relay.entry(job.batch_id).state == QUEUED
    relay.emu.clear_faults()
    report = relay.poll()
    assert set(report.jobs_sent).isdisjoint(job.batch_id for job in first_page)
    assert set(report.jobs_sent) | {job.batch_id for job in first_page} == relay.submitted_ids()


def _connection(relay: Relay, secret: dict[str, str]) -> tuple[FlatfileConnection, object]:
    relay.deployment.clients.secretsmanager.put_secret_value(
        SecretId=relay.settings.secret_id, SecretString=json.dumps(secret)
    )
    secrets = counting_secrets()
    return FlatfileConnection(relay.settings, secrets=secrets), secrets


def _poll_with(relay: Relay, connection: FlatfileConnection) -> object:
    settings = relay.settings
    return connection.run(lambda client: poll(client, relay.ledger, relay.sqs, settings, Deadline.after(30)))


def test_rejected_credentials_are_read_again_once_then_the_error_propagates(relay: Relay) -> None:
    wrong = {**relay.emu.secret, "secretAccessKey": "W" * 40}
    connection, secrets = _connection(relay, wrong)

    with pytest.raises(CredentialsRejectedError):
        _poll_with(relay, connection)
    assert secrets.reads == 2  # type: ignore[attr-defined]
    assert relay.drain_jobs() == []

    # fixed in Secrets Manager: the next invocation reads it again (no 5-minute cache) and works
    _connection(relay, relay.emu.secret)
    report = _poll_with(relay, connection)
    assert secrets.reads == 3  # type: ignore[attr-defined]
    assert sorted(report.jobs_sent) == sorted(relay.submitted_ids())  # type: ignore[attr-defined]


def test_credentials_rotated_while_cached_are_picked_up_within_the_same_run(relay: Relay) -> None:
    stale = {**relay.emu.secret, "secretAccessKey": "S" * 40}
    connection, secrets = _connection(relay, stale)
    connection.credentials()  # the stale value is now cached
    _connection(relay, relay.emu.secret)

    report = _poll_with(relay, connection)

    assert secrets.reads == 2  # type: ignore[attr-defined]
    assert sorted(report.jobs_sent) == sorted(relay.submitted_ids())  # type: ignore[attr-defined]


def test_a_malformed_secret_names_the_key_and_is_not_cached(relay: Relay) -> None:
    broken = {key: value for key, value in relay.emu.secret.items() if key != "licenseKey"}
    connection, secrets = _connection(relay, broken)

    with pytest.raises(MalformedSecretError) as caught:
        _poll_with(relay, connection)
    assert caught.value.key == "licenseKey"
    assert "licenseKey" in str(caught.value)
    assert relay.emu.secret["secretAccessKey"] not in str(caught.value)

    _connection(relay, relay.emu.secret)
    report = _poll_with(relay, connection)
    assert secrets.reads == 2  # type: ignore[attr-defined]
    assert report.jobs_sent  # type: ignore[attr-defined]
    assert relay.entry(relay.emu.samples["in_progress"]).state == PENDING
