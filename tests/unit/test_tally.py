"""The tally of what an export wrote: counts and per-field quality, in constant memory, kept in the ledger."""

from __future__ import annotations

import sys

import pytest

from flatfile_relay.tally import MESSAGE_CHARS, MESSAGES_KEPT, Tally


def test_a_fields_messages_are_the_first_distinct_ones_cut_and_capped_whatever_the_rows() -> None:
    tally = Tally()
    for index in range(20_000):
        tally.add_records([{"valid": False, "values": {"email": {
            "value": f"x{index}", "valid": False,
            "messages": [{"type": "error", "message": "Must be a valid email address"},
                         {"type": "warn", "message": "just a warning"},
                         {"type": "error", "message": f"row {index % 5}: " + "!" * 500}]}}}])

    stats = tally.field_stats()["email"]
    assert (stats["filled"], stats["invalid"]) == (20_000, 20_000)
    assert len(stats["messages"]) == MESSAGES_KEPT
    assert stats["messages"][0] == "Must be a valid email address"
    assert stats["messages"][1].startswith("row 0: ")
    assert stats["messages"][2].startswith("row 1: ")
    assert all(len(message) <= MESSAGE_CHARS for message in stats["messages"])
    assert "just a warning" not in stats["messages"]  # warnings are not validation errors
    assert sys.getsizeof(tally.fields["email"].messages) < 200  # nothing grows with the rows
    assert tally.counts() == {"rows": 20_000, "valid": 0, "invalid": 20_000, "deleted": 0}


def test_legacy_rows_count_filled_cells_and_flag_no_cell_unless_they_carry_info() -> None:
    tally = Tally()
    tally.add_legacy_rows([{"valid": True, "deleted": False, "mapped": {"sku": "A-1", "qty": "  ", "notes": None}},
                           {"valid": False, "deleted": True, "mapped": {"sku": "A-2", "qty": 0, "notes": "x"}}])

    assert tally.field_stats() == {
        "sku": {"filled": 2, "invalid": None, "messages": []},
        "qty": {"filled": 1, "invalid": None, "messages": []},
        "notes": {"filled": 1, "invalid": None, "messages": []},
    }
    assert tally.counts() == {"rows": 2, "valid": 1, "invalid": 0, "deleted": 1}

    tally.add_legacy_rows([{"valid": False, "mapped": {"sku": "A-3", "qty": "x"},
                            "info": [{"level": "error", "key": "qty", "message": "must be a number"},
                                     {"level": "info", "key": "sku", "message": "trimmed"}]}])
    assert tally.field_stats()["qty"] == {"filled": 2, "invalid": 1, "messages": ["must be a number"]}
    assert tally.field_stats()["sku"]["invalid"] == 0


def test_a_tally_survives_the_ledger_round_trip_and_refuses_what_is_not_one() -> None:
    tally = Tally()
    tally.add_records([{"valid": True, "values": {"a": {"value": 1, "valid": True, "messages": []}}}])

    again = Tally.from_dict(tally.to_dict())

    assert again.to_dict() == tally.to_dict()
    with pytest.raises(ValueError, match="not a tally"):
        Tally.from_dict({"rows": "many"})
