"""The poller near its Lambda deadline: a hanging Flatfile cannot keep it past it; the next poll finishes."""

from __future__ import annotations

import json
import time
from types import ModuleType
from typing import Any

import pytest
from support.functions import lambda_context

from flatfile_relay.ledger import Ledger
from flatfile_relay_devkit.emulator import FaultRule

TIMEOUT = 8.0  # the invocation's whole time; the handler keeps 2 s of it back (a quarter)
HANG = 60.0  # how long the emulator holds the second page


@pytest.mark.slow
def test_a_hanging_page_ends_the_poll_cleanly_before_the_lambda_timeout(
    poller_app: ModuleType, deployment: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLATFILE_BATCH_PAGE_SIZE", "5")
    settings = deployment.settings("PollerFunction")
    deployment.clients.secretsmanager.put_secret_value(SecretId=settings.secret_id,
                                                       SecretString=json.dumps(emulator.secret))
    for index in range(10):
        emulator.state.add_batch("submitted", [{"sku": f"D-{index}"}])
    submitted = {b["id"] for b in emulator.state.account_batches() if b["status"] == "submitted"}
    emulator.inject(FaultRule(kind="slow", path="/rest/batches", after=1, count=1, delay=HANG))

    started = time.monotonic()
    first = poller_app.handler({}, lambda_context("PollerFunction", timeout=TIMEOUT))
    took = time.monotonic() - started

    # Flatfile hung for a minute; the poll gave up at its deadline (6 s) and answered. The bound is loose on
    # purpose: on a shared machine wall time is noisy, and the deadline arithmetic has unit tests of its own.
    assert took < HANG / 3
    assert first["complete"] is False
    assert len(first["jobs_sent"]) == 5  # the first page's jobs went out and were recorded
    ledger = Ledger(settings.ledger_table, deployment.clients.dynamodb)
    assert ledger.checkpoint().baseline_completed_at is None  # the baseline is not claimed

    second = poller_app.handler({}, lambda_context("PollerFunction"))

    assert second["complete"] is True
    assert set(first["jobs_sent"]).isdisjoint(second["jobs_sent"])
    assert set(first["jobs_sent"]) | set(second["jobs_sent"]) == submitted
    assert ledger.checkpoint().baseline_completed_at
