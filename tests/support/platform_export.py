"""Helpers of the Platform export's tests: what a row line must be, parts read with a strict JSON parser, the
Platform requests the emulator logged, and the records as the API sends them."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import requests

from support.relay import Relay

#: the manifest's and the notice's fields of a Platform export, on top of the legacy ones
PLATFORM_KEYS = {"workbookId", "spaceId", "environmentId", "sheets"}


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicate keys in a row line: {keys}"
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise AssertionError(f"{name} is not JSON")


def strict_loads(text: str) -> Any:
    """`json.loads` that refuses duplicate keys, NaN and Infinity, and keeps every number's digits."""
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_Float)


@dataclass(frozen=True)
class _Float:
    """A float's JSON text (so equality is on the text, not a rounded float, and never equal to a string)."""

    text: str


def strict_rows(relay: Relay, manifest: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every line of every part of a manifest, as (text, value): each part checked against its entry (bytes,
    sha256, rows), decoded as strict UTF-8, each line parsed by `strict_loads`."""
    lines: list[tuple[str, Any]] = []
    for part in manifest["parts"]:
        data = relay.object_at(part["uri"])
        assert len(data) == part["bytes"], part
        assert hashlib.sha256(data).hexdigest() == part["sha256"], part
        text = gzip.decompress(data).decode("utf-8", errors="strict")
        assert text.endswith("\n")
        texts = text[:-1].split("\n")
        assert len(texts) == part["rows"], part
        lines.extend((line, strict_loads(line)) for line in texts)
    return lines


def api_records(relay: Relay, sheet_id: str) -> list[str]:
    """Every record of a sheet as the API sends it (its JSON text), through plain `requests` with the key (pages
    until an empty one: the emulator may serve fewer records than asked)."""
    from flatfile_relay.flatfile.pagination import split_list_answer

    texts: list[str] = []
    page = 1
    while True:
        answer = requests.get(f"{relay.emu.platform_url}/sheets/{sheet_id}/records", timeout=10, params={
            "pageSize": 10_000, "pageNumber": page, "includeMessages": "true"},
            headers={"Authorization": f"Bearer {relay.emu.platform_secret['platformSecretKey']}"})
        answer.raise_for_status()
        _, found = split_list_answer(answer.content, ("data", "records"))
        assert found is not None
        if not found:
            return texts
        texts.extend(found)
        page += 1


def expected_lines(relay: Relay, job_id: str, workbook_id: str) -> list[Any]:
    """The row lines an export of the workbook must hold, in order, parsed by `strict_loads`: each record as the API
    sends it, plus batchId, sheet, sheetId and mapped."""
    lines = []
    for sheet_id in relay.emu.platform.sheet_ids(workbook_id):
        slug = relay.emu.platform.sheet(sheet_id)["slug"]
        for text in api_records(relay, sheet_id):
            record = strict_loads(text)
            mapped = {key: cell.get("value") for key, cell in record["values"].items()}
            lines.append({**record, "batchId": job_id, "sheet": slug, "sheetId": sheet_id, "mapped": mapped})
    return lines


def platform_requests(relay: Relay) -> list[Any]:
    """The Platform requests the emulator received (under /v1), oldest first."""
    return [record for record in relay.emu.request_log if record.path.startswith("/v1/")]


def calls(relay: Relay, job_id: str | None = None) -> list[str]:
    """The Platform requests as `METHOD route` (route templates), oldest first."""
    return [f"{record.method} {record.route}" for record in platform_requests(relay)]


#: the reads made together before the manifest (`PlatformSource.counts`): their order in the log is the network's
TOGETHER = ("GET /v1/sheets/{sheetId}/counts", "GET /v1/spaces/{spaceId}")


def settled(made: list[str]) -> list[str]:
    """`calls` with each run of the reads made together (`TOGETHER`) in a fixed order: counts first, then space."""
    out: list[str] = []
    run: list[str] = []
    for call in [*made, ""]:
        if call in TOGETHER:
            run.append(call)
            continue
        out += sorted(run, key=TOGETHER.index)
        run = []
        if call:
            out.append(call)
    return out


def job_posts(relay: Relay, job_id: str, verb: str) -> list[Any]:
    """The POSTs to `/v1/jobs/{job_id}/{verb}` the emulator received."""
    return relay.emu.requests_to(f"/v1/jobs/{job_id}/{verb}", "POST")


def unlocked(relay: Relay, workbook_id: str) -> bool:
    """No sheet of the workbook is locked."""
    return all(relay.emu.platform.sheet(sheet_id)["lockedBy"] is None
               for sheet_id in relay.emu.platform.sheet_ids(workbook_id))
