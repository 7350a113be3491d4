"""The exporter's pure parts: how long a lease lasts, and the outcome as logged."""

from __future__ import annotations

import math

from flatfile_relay.deadline import Deadline
from flatfile_relay.exporter import ExportOutcome, _lease_seconds


def test_the_lease_outlives_the_invocation() -> None:
    assert 119 < _lease_seconds(Deadline.after(60)) <= 120
    assert math.isfinite(_lease_seconds(Deadline.never()))


def test_an_outcome_serialises_for_logs() -> None:
    outcome = ExportOutcome("exported", "b-1", rows_written=3, parts_written=1, row_count=3, manifest_uri="s3://b/k")
    assert outcome.to_dict() == {
        "status": "exported", "batchId": "b-1", "rowsWritten": 3, "partsWritten": 1, "rowCount": 3,
        "manifestUri": "s3://b/k", "detail": "", "lagSeconds": None, "schemaChanges": 0,
    }
