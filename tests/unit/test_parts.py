"""PartWriter: deterministic gzip JSON Lines with the size and sha256 of the stored bytes."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from typing import Any

import pytest

from flatfile_relay.parts import PartWriter, RowEncodingError, encode_row
from flatfile_relay_devkit.emulator import NASTY_VALUES


def nasty_rows() -> list[dict[str, Any]]:
    return [
        {"id": str(i), "sequence": i, "valid": i % 2 == 0, "deleted": i % 5 == 0, "mapped": {"notes": value},
         "raw": [value]}
        for i, value in enumerate(NASTY_VALUES)
    ]


def write(rows: list[dict[str, Any]], **options: Any) -> tuple[bytes, int, str, int]:
    with PartWriter(**options) as writer:
        for start in range(0, len(rows), 4):  # a page at a time
            writer.write_rows(rows[start:start + 4])
        part = writer.finish()
        data = part.file.read()
    return data, part.size, part.sha256, part.rows


def test_every_value_survives_one_json_object_per_line() -> None:
    rows = nasty_rows()

    data, size, sha256, count = write(rows)

    lines = gzip.decompress(data).split(b"\n")
    assert lines[-1] == b""
    assert len(lines) == len(rows) + 1
    decoded = [json.loads(line) for line in lines[:-1]]
    assert [json.dumps(r, sort_keys=True) for r in decoded] == [json.dumps(r, sort_keys=True) for r in rows]
    assert (size, sha256, count) == (len(data), hashlib.sha256(data).hexdigest(), len(rows))


def test_the_gzip_bytes_are_deterministic_without_name_or_time() -> None:
    rows = nasty_rows()

    first, *_ = write(rows)
    second, *_ = write(rows, spool_size=64)  # spilled to disk: same bytes

    assert first == second
    assert first[:4] == b"\x1f\x8b\x08\x00"  # deflate, no FNAME / FEXTRA / FCOMMENT flags
    assert first[4:8] == b"\x00\x00\x00\x00"  # mtime 0


def test_line_separators_are_escaped_and_lone_surrogates_fall_back_to_ascii_escapes() -> None:
    line = encode_row({"a": "x\u2028y\u2029z", "b": "é"})
    assert line == '{"a":"x\\u2028y\\u2029z","b":"é"}\n'.encode()
    assert json.loads(line)["a"] == "x\u2028y\u2029z"
    broken = {"a": "bad \ud800 surrogate"}
    assert json.loads(encode_row(broken)) == broken
    assert encode_row(broken).isascii()


def test_an_empty_part_is_a_valid_gzip_stream() -> None:
    data, size, _sha256, count = write([])
    assert gzip.decompress(data) == b""
    assert count == 0
    assert size == len(data)


def test_a_finished_part_takes_no_more_rows() -> None:
    with PartWriter() as writer:
        writer.write({"id": "1"})
        writer.finish()
        with pytest.raises(RuntimeError, match="finished"):
            writer.write({"id": "2"})
        with pytest.raises(RuntimeError, match="already finished"):
            writer.finish()


def test_closing_an_unfinished_part_discards_it_quietly() -> None:
    writer = PartWriter(spool_size=16)
    writer.write_rows([{"id": str(i), "noise": os.urandom(32).hex()} for i in range(2000)])
    spool = writer._file
    assert spool._rolled  # type: ignore[attr-defined]  # spilled to a file on disk
    writer.close()
    writer.close()  # a second close is quiet too
    assert spool.closed  # the temporary file is gone
    with pytest.raises(RuntimeError, match="finished"):
        writer.write({"id": "late"})


# -- NaN and Infinity: not JSON, so never written as they came ---------------------------------------------


def strict(line: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(line, parse_constant=refuse)


def test_non_finite_tokens_from_the_api_become_null_and_are_named() -> None:
    texts = ['{"id": "1", "v": NaN}', '{"id": "2", "v": "NaN, Infinity and \\"-Infinity\\""}',
             '{"id": "3", "v": [Infinity , -Infinity], "n": 1.000000000000000000001}']
    with PartWriter() as writer:
        writer.write_rows([json.loads(text) for text in texts], texts)
        part = writer.finish()
        lines = gzip.decompress(part.file.read()).decode("utf-8").splitlines()
    assert part.non_finite_rows == 2
    rows = [strict(line) for line in lines]
    assert rows[0] == {"id": "1", "v": None, "nonFinite": {"/v": "NaN"}}
    assert lines[1] == texts[1]  # the words inside a string are text, left alone
    assert rows[2]["nonFinite"] == {"/v/0": "Infinity", "/v/1": "-Infinity"}
    assert "1.000000000000000000001" in lines[2]  # every other character as it came


def test_non_finite_floats_of_parsed_rows_become_null_and_are_named() -> None:
    with PartWriter() as writer:
        writer.write_rows([{"id": "1", "mapped": {"x": float("nan")}}, {"id": "2"}])
        part = writer.finish()
        lines = gzip.decompress(part.file.read()).decode("utf-8").splitlines()
    assert part.non_finite_rows == 1
    assert strict(lines[0]) == {"id": "1", "mapped": {"x": None}, "nonFinite": {"/mapped/x": "NaN"}}


def test_a_row_that_already_has_the_field_is_refused_rather_than_lose_a_value() -> None:
    text = '{"id": "1", "v": NaN, "nonFinite": "mine"}'
    with PartWriter() as writer, pytest.raises(RowEncodingError, match="already has a 'nonFinite' field"):
        writer.write_rows([json.loads(text)], [text])
    with pytest.raises(RowEncodingError):
        encode_row({"v": float("inf"), "nonFinite": 1})
