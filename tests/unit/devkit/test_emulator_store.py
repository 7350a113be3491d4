"""State helpers: add_batch, add_rows, set_status, sample accessors."""

from __future__ import annotations

import pytest
from support.shapes import END_USER_KEYS

from flatfile_relay_devkit.emulator import State

ANCHOR = "2021-03-08T00:00:00.000Z"


@pytest.fixture
def state() -> State:
    return State.with_samples(7, ANCHOR)


def test_add_batch_defaults_to_an_in_progress_import_of_the_account(state: State) -> None:
    batch = state.add_batch()
    assert batch["status"] is None
    assert batch["submittedAt"] is None
    assert state.is_visible(batch)
    assert batch["createdAt"] > ANCHOR
    assert state.rows(batch["id"]) == []


def test_add_batch_with_rows_fields_and_label(state: State) -> None:
    batch = state.add_batch(
        "submitted",
        [{"sku": "A-1", "qty": "3"}, {"sku": "A-2"}],
        "2021-03-01T20:22:52Z",
        label="mine",
        filename="x.csv",
    )
    assert batch["submittedAt"] == batch["createdAt"] == "2021-03-01T20:22:52.000Z"
    assert batch["filename"] == "x.csv"
    assert state.sample("mine")["countRows"] == 2
    rows = state.rows(batch["id"])
    assert [row["mapped"] for row in rows] == [{"sku": "A-1", "qty": "3"}, {"sku": "A-2"}]
    assert rows[0]["raw"] == ["A-1", "", "3", "", "", ""]
    assert [row["sequence"] for row in rows] == [0, 1]


def test_add_batch_of_another_license_is_foreign(state: State) -> None:
    batch = state.add_batch("submitted", licenseId=state.account.foreign_license_id)
    assert batch["id"] in state.foreign_batches
    assert not state.has_batch(batch["id"])
    assert batch["id"] not in {b["id"] for b in state.account_batches()}


def test_add_batch_ids_are_deterministic_for_a_seed() -> None:
    one, other = State.with_samples(7, ANCHOR), State.with_samples(7, ANCHOR)
    assert one.add_batch()["id"] == other.add_batch()["id"]


def test_add_rows_with_flags_updates_counters(state: State) -> None:
    batch_id = state.sample_id("in_progress")
    before = state.sample("in_progress")
    added = state.add_rows(
        batch_id,
        [{"sku": "x"}, {"sku": "y"}, {"sku": "z"}],
        valid=[True, False, True],
        deleted=[False, False, True],
    )
    after = state.sample("in_progress")
    assert [row["sequence"] for row in added] == [30, 31, 32]
    assert after["countRows"] == before["countRows"] + 3
    assert after["countRowsInvalid"] == before["countRowsInvalid"] + 1
    assert after["countRowsAccepted"] == before["countRowsAccepted"] + 1
    assert int(added[0]["id"]) > max(int(row["id"]) for row in state.rows(state.sample_id("foreign")))


def test_add_rows_refuses_mismatched_flags(state: State) -> None:
    with pytest.raises(ValueError, match="valid"):
        state.add_rows(state.sample_id("empty"), [{"sku": "x"}], valid=[True, False])


def test_set_status_submitted_sets_submitted_at(state: State) -> None:
    batch_id = state.sample_id("in_progress")
    batch = state.set_status(batch_id, "submitted")
    assert batch["status"] == "submitted"
    assert batch["submittedAt"] == batch["updatedAt"] > ANCHOR
    assert state.set_status(batch_id, "cancelled")["handledAt"] is not None


def test_returned_batches_are_copies(state: State) -> None:
    copy = state.sample("big")
    copy["status"] = "tampered"
    assert state.sample("big")["status"] == "submitted"


def test_batch_detail_adds_the_extras(state: State) -> None:
    detail = state.batch_detail(state.sample_id("single"))
    assert detail["__has_endUser__"] is True
    assert detail["__endUser__"]["id"] == detail["endUserId"]
    assert set(detail["__endUser__"]) == END_USER_KEYS
    assert detail["__schema__"]["id"] == detail["schemaId"]
    assert detail["__embed__"]["id"] == detail["embedId"]
    assert "__endUser__" not in state.sample("single")


def test_update_and_remove(state: State) -> None:
    batch_id = state.sample_id("old")
    assert state.update_batch(batch_id, memo="hello")["memo"] == "hello"
    state.remove_batch(batch_id)
    assert batch_id not in state.batches
    assert "old" not in state.samples
    with pytest.raises(KeyError):
        state.rows(batch_id)
