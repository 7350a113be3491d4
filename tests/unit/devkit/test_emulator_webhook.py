"""Portal v2 webhook bodies built from a batch (no HTTP)."""

from __future__ import annotations

import math

import pytest

from flatfile_relay_devkit.emulator import State, build_payloads
from flatfile_relay_devkit.emulator.webhook import EVENT_TYPE, with_token


@pytest.fixture(scope="module")
def state() -> State:
    return State.with_samples(7, "2021-03-08T00:00:00Z")


def test_big_batch_is_split_in_parts_of_at_most_1000_rows(state: State) -> None:
    batch_id = state.sample_id("big")
    kept = [row for row in state.rows(batch_id) if not row["deleted"]]
    parts = build_payloads(state, batch_id)
    assert len(parts) == math.ceil(len(kept) / 1000) == 3
    assert {part["event"]["id"] for part in parts} == {parts[0]["event"]["id"]}
    assert [part["event"]["sequence"] for part in parts] == [{"length": 3, "index": i} for i in range(3)]
    for part in parts:
        data = part["data"]
        assert part["event"]["type"] == EVENT_TYPE
        assert len(data["validRows"]) + len(data["invalidRows"]) <= 1000
        assert data["meta"] == {"batch": {"id": batch_id}, "settings": {"id": None}, "length": len(kept)}
        assert data["customer"]["id"] == state.sample("big")["endUserId"]
    delivered = [row for part in parts for row in part["data"]["validRows"] + part["data"]["invalidRows"]]
    assert sorted(map(str, delivered)) == sorted(str(row["mapped"]) for row in kept)
    assert sum(len(part["data"]["invalidRows"]) for part in parts) == sum(not row["valid"] for row in kept)


def test_empty_batch_still_gets_one_part(state: State) -> None:
    (part,) = build_payloads(state, state.sample_id("empty"))
    assert part["event"]["sequence"] == {"length": 1, "index": 0}
    assert part["data"]["meta"]["length"] == 0
    assert part["data"]["validRows"] == part["data"]["invalidRows"] == []


def test_rows_per_post_and_event_id(state: State) -> None:
    parts = build_payloads(state, state.sample_id("in_progress"), 7, event_id="e-1")
    assert [len(p["data"]["validRows"]) + len(p["data"]["invalidRows"]) for p in parts] == [7, 7, 7, 7, 2]
    assert {p["event"]["id"] for p in parts} == {"e-1"}
    with pytest.raises(ValueError, match="rows_per_post"):
        build_payloads(state, state.sample_id("in_progress"), 0)


def test_with_token_sets_the_query_parameter() -> None:
    assert with_token("http://h/hook", "a b") == "http://h/hook?token=a+b"
    assert with_token("http://h/hook?x=1&token=old", "new") == "http://h/hook?x=1&token=new"
