"""Batch ids: canonical UUIDs, and the one equality of a batch id and what Flatfile writes for it."""

from __future__ import annotations

from typing import Any

import pytest

from flatfile_relay.ids import canonical_uuid, require_batch_id, same_batch

BATCH = "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27"


@pytest.mark.parametrize(
    "value",
    [BATCH, BATCH.upper(), BATCH.replace("-", ""), "{" + BATCH + "}", f"urn:uuid:{BATCH}"],
)
def test_the_same_uuid_in_any_form_names_the_batch(value: str) -> None:
    assert same_batch(value, BATCH)
    assert same_batch(BATCH, value)
    assert canonical_uuid(value) == BATCH


@pytest.mark.parametrize("value", [None, 7, "", "0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11", "batch-1", [BATCH]])
def test_anything_else_does_not(value: Any) -> None:
    assert not same_batch(value, BATCH)


def test_ids_that_are_no_uuids_compare_as_text_without_surrounding_blanks() -> None:
    assert same_batch(" b-1 ", "b-1")
    assert not same_batch("b-1", "B-1")


def test_require_batch_id_names_the_value() -> None:
    assert require_batch_id(BATCH.upper()) == BATCH
    with pytest.raises(ValueError, match="batchId 'batch-1' is not a UUID"):
        require_batch_id("batch-1")
