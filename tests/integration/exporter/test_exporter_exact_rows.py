"""Rows are written as Flatfile sent them: numbers beyond a double's range or precision keep every digit."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import requests
from support.relay import Relay

from flatfile_relay_devkit.emulator import FaultRule

EXACT = {"big": "123456789012345678901234567890", "long": "0.1000000000000000000000000000000000001",
         "huge": "1e400", "tiny": "-2.5E-400"}


def test_numbers_keep_their_digits_from_the_api_to_the_part(relay: Relay) -> None:
    batch_id = relay.add_batch([{"sku": "A"}, {"sku": "B"}])
    rows = relay.api_rows(batch_id)
    numbers = ", ".join(f'"{name}": {digits}' for name, digits in EXACT.items())
    texts = [json.dumps(row)[:-1] + f', "cells": {{{numbers}}}}}' for row in rows]
    # as a server may send it: spread over lines, with a line separator inside a string
    texts[1] = texts[1].replace(", ", ",\r\n  ").replace('"B"', '"B\u2028C"')
    body = '{"pagination": {"totalCount": 2},\n "data": [\n' + ",\n".join(texts) + "\n]}"
    relay.emu.inject(FaultRule(kind="invalid_json", path=f"/rest/batch/{batch_id}/rows", body=body))

    outcome = relay.export(batch_id)

    assert (outcome.status, outcome.row_count) == ("exported", 2)
    (part,) = relay.manifest_dict(batch_id)["parts"]
    lines = gzip.decompress(relay.object_at(part["uri"])).decode("utf-8").split("\n")
    assert len(lines) == 3
    assert lines[-1] == ""
    for line, text in zip(lines, texts, strict=False):
        for digits in EXACT.values():
            assert f": {digits}" in line  # the very characters, not a float's rendering
        exact = json.loads(line, parse_float=Decimal, parse_constant=lambda name: name)
        assert exact == json.loads(text.replace("\u2028", "\\u2028"), parse_float=Decimal)
        assert exact["cells"]["big"] == int(EXACT["big"])
        assert exact["cells"]["long"] == Decimal(EXACT["long"])
    assert "\u2028" not in lines[1]
    assert "B\\u2028C" in lines[1]


def strict(text: str) -> Any:
    """JSON.parse: NaN, Infinity and -Infinity are not JSON."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_nan_and_infinity_become_null_in_strict_json_with_their_text_kept(
    relay_factory: Callable[..., Relay],
) -> None:
    relay = relay_factory("ExporterFunction", part_max_rows=3, page_size=2)  # 7 rows: 4 pages, 3 parts
    cells = [{"sku": "A", "price": float("nan")}, {"sku": "NaN Infinity", "qty": "1"},
             {"sku": "C", "range": [float("-inf"), 0, float("inf")]}, {"sku": "D"}, {"sku": "E", "w": float("nan")},
             {"sku": "F"}, {"sku": "G", "a/b~c": float("inf")}]
    batch_id = relay.add_batch(cells)
    secret = relay.emu.secret
    page = requests.get(f"{relay.emu.url}/rest/batch/{batch_id}/rows", params={"take": 7}, timeout=10,
                        headers={"X-Api-Key": f"{secret['accessKeyId']}+{secret['secretAccessKey']}"}).text
    assert ":NaN" in page  # the API's answer holds the tokens JSON lacks
    assert "[-Infinity," in page

    outcome = relay.export(batch_id)

    assert (outcome.status, outcome.row_count) == ("exported", 7)
    manifest = relay.manifest_dict(batch_id)
    assert len(manifest["parts"]) == 3
    assert manifest["nonFiniteRows"] == 4
    rows = [strict(line) for part in manifest["parts"]
            for line in gzip.decompress(relay.object_at(part["uri"])).decode("utf-8").splitlines()]
    assert [row["mapped"]["sku"] for row in rows] == ["A", "NaN Infinity", "C", "D", "E", "F", "G"]
    assert [row.get("nonFinite") for row in rows] == [
        {"/mapped/price": "NaN"}, None, {"/mapped/range/0": "-Infinity", "/mapped/range/2": "Infinity"}, None,
        {"/mapped/w": "NaN"}, None, {"/mapped/a~1b~0c": "Infinity"},
    ]
    assert rows[0]["mapped"]["price"] is None
    assert rows[2]["mapped"]["range"] == [None, 0, None]
