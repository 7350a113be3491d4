"""Row lines of Platform records: the record's own text with four fields spliced in, every number as the API wrote
it (in the record and in `mapped`), valid strict JSON whatever the record holds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flatfile_relay.flatfile.pagination import split_list_answer
from flatfile_relay.platform.records import EXACT_DECODER
from flatfile_relay.platform_rows import ADDED_FIELDS, row_lines, sheet_tail

TAIL = sheet_tail("us_jb_1", "orders", "us_sh_1")


def lines_of(*records: str) -> list[str]:
    """The row lines of records given as their JSON texts, read as the Platform client reads a page."""
    page = ('{"data":{"records":[' + ",".join(records) + '],"commitId":"us_vr_1"}}').encode("utf-8")
    body, texts = split_list_answer(page, ("data", "records"), decoder=EXACT_DECODER)
    return row_lines(body["data"]["records"], texts, TAIL)


def strict(line: str) -> dict[str, Any]:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        assert len({key for key, _ in pairs}) == len(pairs), pairs
        return dict(pairs)

    value: dict[str, Any] = json.loads(line, object_pairs_hook=unique, parse_float=lambda text: ("float", text))
    return value


@pytest.mark.parametrize("number", ["0.1000000000000000000001", "1e400", "-0.0", "12.30", "1.5E-7",
                                    "123456789012345678901234567890", "-0", "3"])
def test_every_number_keeps_its_text_in_the_record_and_in_mapped(number: str) -> None:
    record = f'{{"id":"us_rc_1","values":{{"n":{{"value":{number},"valid":true,"messages":[]}}}},"valid":true}}'
    [line] = lines_of(record)
    assert line == record[:-1] + TAIL + f'{{"n":{number}}}}}'
    assert strict(line)["mapped"]["n"] == strict(record)["values"]["n"]["value"]


def test_the_record_text_is_kept_as_sent_spaces_and_key_order_included() -> None:
    record = '{ "valid": false, "id": "us_rc_2", "values": { "a": { "valid": false, "value": 2.50, "messages": [' \
             '{"type": "error", "message": "too small"}] }, "b": {"value": null}, "c": {"messages": []} } }'
    [line] = lines_of(record)
    assert line.startswith(record[:-1])
    row = strict(line)
    assert row["mapped"] == {"a": ("float", "2.50"), "b": None, "c": None}
    assert (row["batchId"], row["sheet"], row["sheetId"]) == ("us_jb_1", "orders", "us_sh_1")
    assert list(row)[-4:] == list(ADDED_FIELDS)


def test_a_record_holding_one_of_the_added_fields_is_written_without_duplicate_keys() -> None:
    record = '{"id":"us_rc_3","sheetId":"old","mapped":1,"values":{"x":{"value":1.10}},"valid":true}'
    [line] = lines_of(record)
    row = strict(line)
    assert (row["sheetId"], row["mapped"], row["values"]["x"]["value"]) == ("us_sh_1", {"x": ("float", "1.10")},
                                                                           ("float", "1.10"))


def test_strings_holding_u0000_are_never_taken_for_numbers() -> None:
    record = '{"id":"us_rc_4","values":{"s":{"value":"\\u00001.5"},"n":{"value":2.50}},"valid":true}'
    [line] = lines_of(record)
    row = strict(line)
    assert row["mapped"] == {"s": "\x001.5", "n": ("float", "2.50")}
    assert row["values"]["s"]["value"] == "\x001.5"


def test_cells_that_are_not_objects_map_to_null() -> None:
    [line] = lines_of('{"id":"us_rc_5","values":{"odd":"text","n":{"value":7.0}},"valid":true}')
    assert strict(line)["mapped"] == {"odd": None, "n": ("float", "7.0")}


def test_without_texts_the_record_is_written_whole_its_numbers_exact() -> None:
    record = EXACT_DECODER.decode('{"id":"us_rc_6","values":{"n":{"value":0.30000000000000000001}},"valid":true}')
    [line] = row_lines([record], None, TAIL)
    row = strict(line)
    assert row["values"]["n"]["value"] == row["mapped"]["n"] == ("float", "0.30000000000000000001")


def test_a_page_of_many_records_gives_one_line_each_in_order() -> None:
    records = [f'{{"id":"us_rc_{n}","values":{{"n":{{"value":{n}.5}}}},"valid":true}}' for n in range(50)]
    lines = lines_of(*records)
    assert [strict(line)["id"] for line in lines] == [f"us_rc_{n}" for n in range(50)]
    assert all("\n" not in line for line in lines)


def test_an_integer_of_thousands_of_digits_is_kept_as_text() -> None:
    digits = "7" * 5000  # more than Python reads into an int
    record = f'{{"id":"us_rc_7","values":{{"n":{{"value":{digits}}}}},"valid":true}}'
    [line] = lines_of(record)
    assert line == record[:-1] + TAIL + f'{{"n":{digits}}}}}'
