"""What the library measures: the poll's and the export's metrics, and how the export lag is counted."""

from __future__ import annotations

import pytest

from flatfile_relay.exporter import BUSY, CONTINUED, EXPORTED, ExportOutcome, export_lag
from flatfile_relay.flatfile import RequestCounts
from flatfile_relay.measurements import Measurement, request_measurements
from flatfile_relay.poller import PollReport
from flatfile_relay.timestamps import parse_timestamp

SUBMITTED = "2026-03-01T10:00:00.000Z"
EXPORTED_AT = "2026-03-01T10:04:30.000Z"


def values(measurements: list[Measurement]) -> dict[str, float]:
    return {m.name: m.value for m in measurements}


@pytest.mark.parametrize(
    ("complete", "baseline", "incomplete", "after_baseline"),
    [
        (True, True, 0, 0),
        (False, True, 1, 0),  # the first copy of a large account spans several polls: expected
        (True, False, 0, 0),
        (False, False, 1, 1),  # cut short after the first copy: counts toward IncompletePollsAlarm
    ],
)
def test_incomplete_polls_count_after_the_first_copy_only(
    complete: bool, baseline: bool, incomplete: int, after_baseline: int
) -> None:
    measured = values(PollReport(complete=complete, baseline=baseline).measurements())
    assert measured["PollIncomplete"] == incomplete
    assert measured["PollIncompleteAfterBaseline"] == after_baseline
    assert measured["PollSucceeded"] == 1  # the heartbeat of every poll that returned a report


def test_a_poll_reports_what_it_did() -> None:
    report = PollReport(pages=3, batches_seen=40, jobs_sent=["a", "b"], pending=4, closed=1, ignored=2,
                        rechecked=5, errors=1, complete=True)
    assert values(report.measurements()) == {
        "PollSucceeded": 1, "BatchesQueued": 2, "PendingBatches": 4, "Pages": 3, "BatchesSeen": 40,
        "PendingRechecked": 5, "BatchesClosed": 3, "BatchesSkipped": 1, "PollIncomplete": 0,
        "PollIncompleteAfterBaseline": 0,
    }
    assert {m.unit for m in report.measurements()} == {"Count"}


def test_an_export_reports_rows_parts_batches_and_its_lag_in_seconds() -> None:
    exported = ExportOutcome(EXPORTED, "b", rows_written=250, parts_written=3, lag_seconds=270.0).measurements()
    assert values(exported) == {"RowsExported": 250, "PartsWritten": 3, "BatchesExported": 1, "SchemaChanged": 0,
                                "ExportLag": 270.0}
    assert [m.unit for m in exported if m.name == "ExportLag"] == ["Seconds"]
    assert values(ExportOutcome(CONTINUED, "b", 100, 1).measurements()) == {
        "RowsExported": 100, "PartsWritten": 1, "BatchesExported": 0, "SchemaChanged": 0,
    }
    assert "ExportLag" not in values(ExportOutcome(BUSY, "b").measurements())


def test_the_lag_of_a_webhook_export_counts_from_the_submission() -> None:
    assert export_lag(SUBMITTED, EXPORTED_AT, "webhook", None) == 270.0


def test_the_lag_of_a_scheduled_export_counts_from_the_end_of_the_first_copy_at_the_earliest() -> None:
    assert export_lag(SUBMITTED, EXPORTED_AT, "schedule", parse_timestamp("2026-02-01T00:00:00.000Z")) == 270.0
    # submitted years before the relay existed, exported by the first copy: not a lag of years
    first_copy_done = parse_timestamp("2026-03-01T10:04:00.000Z")
    assert export_lag("2019-05-05T00:00:00Z", EXPORTED_AT, "schedule", first_copy_done) == 30.0
    assert export_lag(SUBMITTED, EXPORTED_AT, "schedule", None) is None  # the first copy is still running


@pytest.mark.parametrize("trigger", ["replay", "backfill"])
def test_replays_and_backfills_have_no_lag(trigger: str) -> None:
    assert export_lag(SUBMITTED, EXPORTED_AT, trigger, parse_timestamp("2026-02-01T00:00:00.000Z")) is None


@pytest.mark.parametrize("submitted", [None, "", "yesterday", 42])
def test_no_readable_submission_time_means_no_lag(submitted: object) -> None:
    assert export_lag(submitted, EXPORTED_AT, "webhook", None) is None


def test_a_clock_skew_never_gives_a_negative_lag() -> None:
    assert export_lag("2026-03-01T10:05:00Z", EXPORTED_AT, "webhook", None) == 0.0


def test_request_counts_become_three_metrics() -> None:
    assert values(request_measurements(RequestCounts(requests=7, retries=2, throttles=1))) == {
        "FlatfileRequests": 7, "FlatfileRetries": 2, "FlatfileThrottles": 1,
    }
