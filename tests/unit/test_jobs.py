"""ExportJob messages: round trip, canonical batch ids, and refusals that say what is wrong."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from flatfile_relay.jobs import JOB_TYPE, MAX_FILENAME, BatchSnapshot, ExportJob, InvalidJobError, require_batch_id
from flatfile_relay.models import TRIGGERS
from flatfile_relay.timestamps import parse_timestamp

BATCH = "0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11"


def message(**fields: Any) -> str:
    body: dict[str, Any] = {"type": JOB_TYPE, "schemaVersion": 1, "batchId": BATCH, "trigger": "webhook",
                            "requestedAt": "2024-05-01T10:00:00.000Z", "resume": False}
    body.update(fields)
    return json.dumps({key: value for key, value in body.items() if value is not _DROP})


_DROP = object()


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_create_and_round_trip(trigger: str) -> None:
    job = ExportJob.create(BATCH, trigger=trigger)
    assert job.trigger == trigger
    assert job.resume is False
    parse_timestamp(job.requested_at)  # an ISO timestamp
    assert ExportJob.from_message(job.to_message()) == job


def test_a_new_job_is_requested_at_the_time_of_the_clock_it_is_given() -> None:
    job = ExportJob.create(BATCH, trigger="webhook", clock=lambda: 1_614_630_172.0)
    assert job.requested_at == "2021-03-01T20:22:52.000Z"


def test_message_is_the_documented_compact_json() -> None:
    job = ExportJob(batch_id=BATCH, trigger="schedule", requested_at="2024-05-01T10:00:00.000Z", resume=True)
    text = job.to_message()
    assert " " not in text
    assert json.loads(text) == {
        "type": "flatfile.export.job", "schemaVersion": 1, "source": "legacy", "batchId": BATCH, "trigger": "schedule",
        "requestedAt": "2024-05-01T10:00:00.000Z", "resume": True,
    }


def test_from_message_accepts_bytes_and_fills_defaults() -> None:
    job = ExportJob.from_message(json.dumps({"batchId": BATCH}).encode())
    assert (job.batch_id, job.trigger, job.resume) == (BATCH, "schedule", False)
    parse_timestamp(job.requested_at)


JOB = "us_jb_4fX2kQ9z"


def test_a_platform_job_is_named_by_its_job_id_and_round_trips() -> None:
    job = ExportJob.create(JOB, trigger="webhook")
    assert (job.source, job.batch_id) == ("platform", JOB)
    assert json.loads(job.to_message())["source"] == "platform"
    assert ExportJob.from_message(job.to_message()) == job
    assert ExportJob.create(" eu_jb_Q1 ", trigger="replay", source="platform").batch_id == "eu_jb_Q1"


def test_a_message_without_source_is_told_by_its_id() -> None:
    assert ExportJob.from_message(json.dumps({"batchId": BATCH})).source == "legacy"
    assert ExportJob.from_message(json.dumps({"batchId": JOB})).source == "platform"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (message(source="platform"), "job.batchId must be a Flatfile Platform job id"),
        (message(source="legacy", batchId=JOB), "job.batchId must be a UUID"),
        (message(source="ftp"), "job.source must be 'legacy' or 'platform'"),
        (message(batchId="us_jb_../x"), "job.batchId must be a UUID"),
    ],
)
def test_a_job_whose_id_does_not_fit_its_source_is_refused(body: str, expected: str) -> None:
    with pytest.raises(InvalidJobError) as caught:
        ExportJob.from_message(body)
    assert expected in str(caught.value)


def test_batch_ids_are_canonical() -> None:
    upper = BATCH.upper()
    assert ExportJob.from_message(message(batchId=upper)).batch_id == BATCH
    assert ExportJob.create("{" + upper + "}", trigger="replay").batch_id == BATCH
    assert require_batch_id(BATCH.replace("-", "")) == BATCH


def test_continuation_resumes_the_same_request() -> None:
    job = ExportJob.create(BATCH, trigger="replay")
    following = job.continuation()
    assert following.resume is True
    assert (following.batch_id, following.trigger, following.requested_at) == (
        job.batch_id, job.trigger, job.requested_at
    )
    assert ExportJob.from_message(following.to_message()) == following


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{not json", "job is not valid JSON (line 1, column 2)"),
        ("", "job is not valid JSON"),
        (b"\xff\xfe", "job is not"),
        ("[1, 2]", "job must be a JSON object"),
        ('"text"', "job must be a JSON object"),
        ('{"batchId": NaN}', "job is not valid JSON"),
        (message(type="flatfile.batch.exported"), "job.type must be 'flatfile.export.job'"),
        (message(schemaVersion=2), "job.schemaVersion is 2"),
        (message(schemaVersion=True), "job.schemaVersion must be a whole number"),
        (message(batchId=_DROP), "job.batchId is missing"),
        (message(batchId=42), "job.batchId must be a string"),
        (message(batchId="42"), "job.batchId must be a UUID"),
        (message(batchId=""), "job.batchId must be a UUID"),
        (message(trigger="cron"), "job.trigger must be 'schedule', 'webhook', 'replay' or 'backfill'"),
        (message(trigger=None), "job.trigger must be"),
        (message(resume="yes"), "job.resume must be true or false"),
        (message(requestedAt=""), "job.requestedAt must be a non-empty string"),
    ],
)
def test_invalid_messages_are_refused_with_a_clear_reason(body: str | bytes, expected: str) -> None:
    with pytest.raises(InvalidJobError) as caught:
        ExportJob.from_message(body)
    assert expected in str(caught.value)
    assert caught.value.__cause__ is None  # nothing chained: messages never drag the body along


def test_create_refuses_what_from_message_would() -> None:
    with pytest.raises(InvalidJobError, match="batchId must be a UUID"):
        ExportJob.create("batch-1", trigger="schedule")
    with pytest.raises(InvalidJobError, match="trigger"):
        ExportJob.create(BATCH, trigger="manual")


def test_require_batch_id_raises_the_requested_error_type_and_truncates() -> None:
    class Custom(ValueError):
        pass

    with pytest.raises(Custom) as caught:
        require_batch_id("x" * 500, error=Custom)
    assert len(str(caught.value)) < 120
    for value in (None, 12, b"bytes", ["list"]):
        with pytest.raises(InvalidJobError):
            require_batch_id(value)  # type: ignore[arg-type]
    assert require_batch_id(str(uuid.UUID(int=1))) == "00000000-0000-0000-0000-000000000001"


def test_jobs_are_values() -> None:
    first = ExportJob(batch_id=BATCH, trigger="webhook", requested_at="t")
    assert first == ExportJob(batch_id=BATCH, trigger="webhook", requested_at="t")
    assert len({first, ExportJob(batch_id=BATCH, trigger="webhook", requested_at="t")}) == 1
    with pytest.raises(ValidationError, match="frozen"):
        first.resume = True  # type: ignore[misc]


# -- the batch snapshot -----------------------------------------------------------------------------------


def test_a_job_with_a_snapshot_round_trips_and_its_continuation_keeps_it() -> None:
    snapshot = BatchSnapshot.of_batch({"status": "submitted", "countRows": 2000, "filename": "orders.csv",
                                       "submittedAt": "2024-05-01T10:00:00.000Z", "__endUser__": {"id": "u"}})
    job = ExportJob.create(BATCH, trigger="schedule", batch=snapshot)
    body = json.loads(job.to_message())
    assert body["batch"] == {"status": "submitted", "countRows": 2000, "filename": "orders.csv",
                             "submittedAt": "2024-05-01T10:00:00.000Z"}
    assert ExportJob.from_message(job.to_message()) == job
    assert job.continuation().batch == snapshot


def test_a_job_without_a_snapshot_keeps_its_old_shape() -> None:
    job = ExportJob.from_message(message())
    assert job.batch is None
    assert "batch" not in json.loads(job.to_message())
    assert ExportJob.from_message(message(batch=None)).batch is None


def test_a_listed_batch_with_odd_values_gives_a_snapshot_without_them() -> None:
    snapshot = BatchSnapshot.of_batch({"status": 3, "countRows": "12", "filename": "x" * (MAX_FILENAME + 5),
                                       "submittedAt": None})
    assert (snapshot.status, snapshot.count_rows, snapshot.submitted_at) == (None, None, None)
    assert snapshot.filename == "x" * MAX_FILENAME
    assert BatchSnapshot.of_batch({"countRows": True}).count_rows is None
    assert BatchSnapshot.of_batch({"countRows": -1}).count_rows is None


@pytest.mark.parametrize(("batch", "field"), [({"countRows": "12"}, "job.batch.countRows"),
                                              ({"countRows": -1}, "job.batch.countRows"),
                                              ("submitted", "job.batch")])
def test_a_message_with_a_bad_snapshot_is_refused_by_name(batch: Any, field: str) -> None:
    with pytest.raises(InvalidJobError, match=field.replace(".", r"\.")):
        ExportJob.from_message(message(batch=batch))
