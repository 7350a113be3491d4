"""Seeded sample data: determinism, coverage of the awkward cases, cheap start-up."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
from support.shapes import ROW_KEYS

from flatfile_relay_devkit.emulator import FIELD_KEYS, LONG_CELL, NASTY_VALUES, SAMPLE_LABELS, State
from flatfile_relay_devkit.emulator.samples import build_account

ANCHOR = "2021-03-08T00:00:00.000Z"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def snapshot(state: State) -> dict[str, object]:
    return {
        "secret": state.account.secret(),
        "samples": state.samples,
        "batches": state.batches,
        "foreign": state.foreign_batches,
        "rows": {batch_id: state.rows(batch_id) for batch_id in [*state.batches, *state.foreign_batches]},
    }


def test_same_seed_and_anchor_give_identical_data() -> None:
    assert snapshot(State.with_samples(7, ANCHOR)) == snapshot(State.with_samples(7, ANCHOR))


def test_other_seed_gives_other_ids_and_credentials() -> None:
    one, other = State.with_samples(7, ANCHOR), State.with_samples(8, ANCHOR)
    assert one.account.secret() != other.account.secret()
    assert set(one.batches).isdisjoint(other.batches)


def test_ids_do_not_depend_on_the_anchor() -> None:
    assert State.with_samples(7, ANCHOR).samples == State.with_samples(7, "2030-01-01T00:00:00Z").samples


def test_credentials_have_the_documented_shape() -> None:
    secret = build_account(7).secret()
    assert len(secret["accessKeyId"]) == 40
    assert secret["accessKeyId"].startswith("FF00")
    assert len(secret["secretAccessKey"]) == 40
    assert "+" not in secret["secretAccessKey"]
    assert str(uuid.UUID(secret["licenseKey"])) == secret["licenseKey"]
    assert secret["webhookToken"]


def test_every_label_exists_with_the_expected_status_and_size() -> None:
    state = State.with_samples(7, ANCHOR)
    assert set(state.samples) == set(SAMPLE_LABELS)
    expected = {
        "empty": ("submitted", 0),
        "single": ("submitted", 1),
        "medium": ("submitted", 250),
        "big": ("submitted", 2500),
        "in_progress": (None, 30),
        "cancelled": ("cancelled", 4),
        "failed": ("failed", 2),
    }
    for label, (status, count) in expected.items():
        batch = state.sample(label)
        assert (batch["status"], batch["countRows"], len(state.rows(batch["id"]))) == (status, count, count)
    assert state.sample("failed")["failureReason"]
    assert state.sample("in_progress")["submittedAt"] is None
    assert state.sample("tie_a")["createdAt"] == state.sample("tie_b")["createdAt"]
    assert state.sample("workspace2")["workspaceId"] != state.sample("big")["workspaceId"]
    assert not state.is_visible(state.sample("foreign"))
    assert list(state.foreign_batches) == [state.sample_id("foreign")]
    assert state.sample_id("foreign") not in state.batches
    late = state.sample("late_submitted")
    assert late["submittedAt"] > state.sample("nasty")["createdAt"] > late["createdAt"]


def test_counters_match_the_rows() -> None:
    state = State.with_samples(7, ANCHOR)
    for batch_id, batch in {**state.batches, **state.foreign_batches}.items():
        rows = state.rows(batch_id)
        kept = [row for row in rows if not row["deleted"]]
        assert batch["countRows"] == len(rows)
        assert batch["countRowsAccepted"] == sum(row["valid"] for row in kept)
        assert batch["countRowsInvalid"] == sum(not row["valid"] for row in kept)


def test_the_big_batch_has_invalid_and_deleted_rows() -> None:
    rows = State.with_samples(7, ANCHOR).rows(State.with_samples(7, ANCHOR).sample_id("big"))
    assert any(not row["valid"] for row in rows)
    assert any(row["deleted"] for row in rows)


def test_rows_have_the_wire_shape_and_unique_digit_ids() -> None:
    state = State.with_samples(7, ANCHOR)
    ids: list[str] = []
    for batch_id in state.batches:
        rows = state.rows(batch_id)
        assert [row["sequence"] for row in rows] == list(range(len(rows)))
        for row in rows:
            assert set(row) == ROW_KEYS
            assert row["batchId"] == batch_id
            assert row["id"].isdigit()
            assert isinstance(row["raw"], list)
            assert all(isinstance(cell, str) for cell in row["raw"])
            assert set(row["mapped"]) <= set(FIELD_KEYS)
            ids.append(row["id"])
    assert len(ids) == len(set(ids))


def test_timestamps_are_iso_utc_with_milliseconds() -> None:
    state = State.with_samples(7, ANCHOR)
    for batch in state.batches.values():
        for key in ("createdAt", "updatedAt", "matchedAt", "submittedAt", "failedAt", "handledAt"):
            assert batch[key] is None or ISO_MS.match(batch[key]), (key, batch[key])
        assert batch["createdAt"] < ANCHOR


def test_nasty_values_are_all_in_the_nasty_batch() -> None:
    state = State.with_samples(7, ANCHOR)
    rows = state.rows(state.sample_id("nasty"))
    cells = [value for row in rows for value in row["mapped"].values()]
    for value in NASTY_VALUES:
        assert any(type(cell) is type(value) and cell == value for cell in cells), value
    assert len(LONG_CELL) >= 50_000
    assert any(not row["valid"] for row in rows)
    assert any(row["deleted"] for row in rows)
    assert any("notes" not in row["mapped"] for row in rows)
    text = json.dumps(rows, ensure_ascii=False)
    for needle in ('\\"hi\\"', "\\r\\n", "\\t", "🧪𝄞", "שלום", "</script>", "\\\\"):
        assert needle in text


def test_rows_survive_a_json_round_trip() -> None:
    state = State.with_samples(7, ANCHOR)
    rows = state.rows(state.sample_id("nasty"))
    assert json.loads(json.dumps(rows, ensure_ascii=False)) == rows


def test_start_up_is_cheap_and_rows_are_built_lazily() -> None:
    started = time.perf_counter()
    state = State.with_samples(7)
    assert time.perf_counter() - started < 0.5
    assert state._rows == {}  # nothing materialised until read
    assert len(state.rows(state.sample_id("big"))) == 2500


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_any_seed_builds(seed: int) -> None:
    state = State.with_samples(seed, ANCHOR)
    assert len(state.account_batches()) == len(SAMPLE_LABELS) - 1
