"""FlatfileClient against an emulator that fails like real networks and gateways do."""

from __future__ import annotations

import time
from typing import Any

import pytest

from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.flatfile import ContractError, RetriesExhaustedError
from flatfile_relay_devkit.emulator import Emulator, FaultRule

NEVER = Deadline.never()


def records_to(emu: Emulator, path: str, count: int) -> list[Any]:
    """The logged requests to `path` in arrival order, once `count` are logged (a slow answer is logged
    when it is written, possibly after the client gave up on it)."""
    give_up = time.monotonic() + 3
    while len(records := emu.requests_to(path)) < count and time.monotonic() < give_up:
        time.sleep(0.02)
    return sorted(records, key=lambda record: record.at)


@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "drop", "invalid_json", "truncated", "slow"])
def test_each_fault_is_retried_and_recovered(emu: Emulator, make_client: Any, kind: str) -> None:
    emu.inject(FaultRule(kind=kind, path="/rest/batches", count=2, retry_after=0.05, delay=0.6))
    client = make_client(timeout=0.3)
    assert len(list(client.iter_batches(NEVER))) == 13
    records = records_to(emu, "/rest/batches", 3)
    assert [record.fault for record in records] == [kind, kind, None]
    assert records[-1].status == 200


@pytest.mark.parametrize("kind", ["503", "drop", "invalid_json"])
def test_faults_on_the_token_exchange(emu: Emulator, make_client: Any, kind: str) -> None:
    emu.inject(FaultRule(kind=kind, path="/auth/access-key/exchange", count=2))
    assert len(list(make_client().iter_batches(NEVER))) == 13
    assert len(emu.requests_to("/auth/access-key/exchange")) == 3


@pytest.mark.parametrize("kind", ["502", "drop", "truncated"])
def test_fault_in_the_middle_of_the_rows(emu: Emulator, make_client: Any, kind: str) -> None:
    batch_id = emu.samples["big"]
    emu.inject(FaultRule(kind=kind, path=f"/rest/batch/{batch_id}/rows", after=1, count=1))
    rows = list(make_client().iter_rows(batch_id, NEVER, page_size=1000))
    assert [row["sequence"] for row in rows] == list(range(2500))


def test_retries_exhausted(emu: Emulator, make_client: Any) -> None:
    emu.inject(FaultRule(kind="503", path="/rest/batches", count=None))
    with pytest.raises(RetriesExhaustedError) as caught:
        list(make_client(max_attempts=3).iter_batches(NEVER))
    assert (caught.value.attempts, caught.value.last_status) == (3, 503)
    assert len(emu.requests_to("/rest/batches")) == 3


def test_retries_exhausted_on_dropped_connections(emu: Emulator, make_client: Any) -> None:
    emu.inject(FaultRule(kind="drop", path="/rest/batches", count=None))
    with pytest.raises(RetriesExhaustedError) as caught:
        list(make_client(max_attempts=2).iter_batches(NEVER))
    assert caught.value.last_status is None
    assert caught.value.last_error.startswith("ConnectionError")


def test_retries_exhausted_on_garbage_keeps_the_contract_error(emu: Emulator, make_client: Any) -> None:
    emu.inject(FaultRule(kind="invalid_json", path="/rest/batches", count=None))
    with pytest.raises(RetriesExhaustedError) as caught:
        list(make_client(max_attempts=2).iter_batches(NEVER))
    assert isinstance(caught.value.__cause__, ContractError)


def test_retry_after_is_honoured(emu: Emulator, make_client: Any) -> None:
    emu.inject(FaultRule(kind="429", path="/rest/batches", count=1, retry_after=0.6))
    client = make_client(backoff_base=0.0)
    started = time.monotonic()
    assert len(list(client.iter_batches(NEVER))) == 13
    assert time.monotonic() - started >= 0.6
    first, second = emu.requests_to("/rest/batches")
    assert second.at - first.at >= 0.6


def test_retry_after_beyond_the_deadline_fails_fast(emu: Emulator, make_client: Any) -> None:
    emu.inject(FaultRule(kind="429", path="/rest/batches", count=1, retry_after=5))
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError, match="HTTP 429"):
        list(make_client().iter_batches(Deadline.after(2)))
    assert time.monotonic() - started < 1.0
    assert len(emu.requests_to("/rest/batches")) == 1


def test_slow_server_is_cut_by_the_deadline(emu: Emulator, make_client: Any) -> None:
    emu.inject(FaultRule(kind="slow", path="/rest/batches", count=None, delay=1.5))
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        list(make_client(timeout=30).iter_batches(Deadline.after(0.5)))
    assert time.monotonic() - started < 1.2  # the read timeout was capped by the time left


def test_deadline_stops_a_long_iteration(emu: Emulator, make_client: Any) -> None:
    emu.set(latency=0.05)
    client = make_client()
    client.token_auth.token(NEVER)
    seen: list[int] = []
    # time runs out once 500 rows are in: a clock that counts the rows, so a slow machine changes nothing
    deadline = Deadline(500.5, clock=lambda: float(len(seen)))

    def consume() -> None:
        for page in client.iter_row_pages(emu.samples["big"], deadline, page_size=100):
            seen.extend(row["sequence"] for row in page.rows)

    with pytest.raises(DeadlineExceededError):
        consume()
    assert 500 <= len(seen) < 2500
    assert seen == list(range(len(seen)))  # what came before the deadline is complete and in order


def test_the_client_counts_requests_retries_and_throttles_as_the_server_saw_them(
    emu: Emulator, make_client: Any
) -> None:
    emu.inject(FaultRule(kind="429", path="/rest/batches", count=2, retry_after=0.05))
    emu.inject(FaultRule(kind="503", path="/auth/access-key/exchange", count=1))
    client = make_client()
    assert len(list(client.iter_batches(NEVER))) == 13
    sent = len(emu.request_log)
    counts = client.transport.counts.take()
    assert counts.requests == sent  # every attempt, the token exchange included
    assert (counts.retries, counts.throttles) == (3, 2)


# -- bounded answers: a body that never ends, or is too large, stops with a clear error -----------------------


def test_a_trickling_body_is_cut_at_the_read_time_cap(emu: Emulator, make_client: Any) -> None:
    """One byte every 50 ms: no socket wait comes near the read timeout, the whole body would take minutes."""
    emu.inject(FaultRule(kind="trickle", path="/rest/batches", count=None, delay=0.05))
    client = make_client(timeout=5.0, max_attempts=2)
    client.transport.max_read_seconds = 0.5
    started = time.monotonic()
    with pytest.raises(RetriesExhaustedError) as raised:
        list(client.iter_batches(NEVER))
    assert time.monotonic() - started < 4
    assert raised.value.attempts == 2
    assert raised.value.last_error == "SlowBodyError"


def test_a_trickling_body_stops_at_the_deadline(emu: Emulator, make_client: Any) -> None:
    emu.inject(FaultRule(kind="trickle", path="/rest/batches", count=None, delay=0.05))
    client = make_client(timeout=30.0)
    started = time.monotonic()
    with pytest.raises((DeadlineExceededError, RetriesExhaustedError)):
        list(client.iter_batches(Deadline.after(1.0)))
    assert time.monotonic() - started < 2


def test_a_body_over_the_size_cap_is_refused_at_once(emu: Emulator, make_client: Any) -> None:
    from flatfile_relay.flatfile.body import BodyTooLargeError

    emu.inject(FaultRule(kind="invalid_json", path="/rest/batches", count=None, body="x" * 300_000))
    client = make_client()
    client.transport.max_body_bytes = 100_000
    with pytest.raises(BodyTooLargeError, match=r"GET /rest/batches with a body of more than 100000 bytes"):
        list(client.iter_batches(NEVER))
    assert len(emu.requests_to("/rest/batches")) == 1  # not retried: the same request gets the same answer


def test_a_row_page_over_the_size_cap_stops_the_export_with_a_contract_error(emu: Emulator, make_client: Any) -> None:
    client = make_client()
    client.transport.max_body_bytes = 20_000
    with pytest.raises(ContractError, match="more than 20000 bytes"):
        list(client.iter_rows(emu.samples["big"], NEVER, page_size=1000))
    client.transport.max_body_bytes = 10_000_000  # the same pages fit a larger cap, byte for byte
    assert len(list(client.iter_rows(emu.samples["big"], NEVER, page_size=1000))) == 2500
