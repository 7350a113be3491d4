"""Manifest and notice: the contract's schemas, and clear validation errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic.alias_generators import to_camel

from flatfile_relay.manifest import (
    Manifest,
    ManifestError,
    Notice,
    Part,
    UnsupportedSchemaError,
    event_entry,
    routing,
)

BATCH = "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27"
ROWS = f"flatfile/rows/submitted_date=2021-03-01/{BATCH}"
SHA = "ab" * 32


def manifest_dict(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schemaVersion": 1,
        "source": "legacy",
        "batchId": BATCH,
        "batch": {"id": BATCH, "status": "submitted", "filename": "Søren's.csv"},
        "rowCount": 3,
        "parts": [
            {"uri": f"s3://b/{ROWS}/part-00000.jsonl.gz", "rows": 2, "bytes": 50, "sha256": SHA},
            {"uri": f"s3://b/{ROWS}/part-00001.jsonl.gz", "rows": 1, "bytes": 30, "sha256": SHA},
        ],
        "exportedAt": "2021-03-01T20:23:04.512Z",
        "trigger": "schedule",
        "filename": "Søren's.csv",
        "submittedAt": None,
        "customer": None,
    }
    data.update(changes)
    return data


def test_a_manifest_round_trips_with_exactly_the_contract_fields() -> None:
    manifest = Manifest.from_json(json.dumps(manifest_dict()))

    assert manifest.parts[1] == Part(uri=f"s3://b/{ROWS}/part-00001.jsonl.gz", rows=1,
                                     bytes=30, sha256=SHA)
    data = json.loads(manifest.to_json())
    assert data == manifest_dict()
    assert list(data) == ["schemaVersion", "source", "batchId", "batch", "rowCount", "parts", "exportedAt", "trigger",
                          "filename", "submittedAt", "customer"]
    assert list(data["parts"][0]) == ["uri", "rows", "bytes", "sha256"]
    assert "Søren" in manifest.to_json()  # UTF-8, not escaped
    assert manifest.to_json().count("\n") == 1  # one line per manifest
    assert manifest.to_json().endswith("}\n")


def test_unknown_extra_fields_are_ignored_by_readers() -> None:
    data = manifest_dict(futureField=1)
    data["parts"][0]["compression"] = "gzip"
    assert Manifest.from_json(json.dumps(data)).row_count == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"schemaVersion": 2}, "schemaVersion is 2"),
        ({"schemaVersion": True}, "manifest.schemaVersion must be a whole number"),
        ({"batchId": ""}, "manifest.batchId must be a non-empty string"),
        ({"batch": []}, "manifest.batch must be a JSON object"),
        ({"batch": {"id": "other"}}, "differs from batchId"),
        ({"rowCount": 4}, "rowCount 4 differs from the sum of its parts' rows 3"),
        ({"rowCount": "3"}, "manifest.rowCount must be a whole number"),
        ({"rowCount": True}, "manifest.rowCount must be a whole number"),
        ({"parts": {}}, "manifest.parts must be a list"),
        ({"trigger": "manual"}, "manifest.trigger must be 'schedule', 'webhook', 'replay' or 'backfill'"),
        ({"exportedAt": None}, "manifest.exportedAt must be a string"),
        ({"exportedAt": ""}, "manifest.exportedAt must be a non-empty string"),
    ],
)
def test_an_invalid_manifest_names_what_is_wrong(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Manifest.from_json(json.dumps(manifest_dict(**changes)))


@pytest.mark.parametrize(
    ("part", "message"),
    [
        ({"uri": "https://x/y", "rows": 3, "bytes": 1, "sha256": SHA}, r"parts\[0\]\.uri must be an s3://"),
        ({"uri": "s3://b/k", "rows": -3, "bytes": 1, "sha256": SHA}, r"parts\[0\]\.rows must be greater"),
        ({"uri": "s3://b/k", "rows": 3, "bytes": 1.5, "sha256": SHA}, r"parts\[0\]\.bytes must be a whole"),
        ({"uri": "s3://b/k", "rows": 3, "bytes": 1, "sha256": SHA.upper()}, r"sha256 must match pattern '\^\[0-9a-f\]"),
        ({"uri": "s3://b/k", "rows": 3, "bytes": 1}, r"parts\[0\]\.sha256 is missing"),
        ("s3://b/k", r"parts\[0\] must be a JSON object"),
    ],
)
def test_an_invalid_part_names_the_part_and_field(part: Any, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        Manifest.from_json(json.dumps(manifest_dict(parts=[part])))


def test_not_json_and_not_an_object_are_refused() -> None:
    with pytest.raises(ManifestError, match="not valid JSON"):
        Manifest.from_json(b"{")
    with pytest.raises(ManifestError, match="must be a JSON object"):
        Manifest.from_json("[]")


def notice_dict(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "flatfile.batch.exported", "schemaVersion": 1, "source": "legacy", "batchId": BATCH,
        "manifestUri": f"s3://b/flatfile/manifests/{BATCH}.json", "rowCount": 3, "trigger": "webhook",
        "exportedAt": "2021-03-01T20:23:04.512Z", "filename": "Søren's.csv", "submittedAt": None, "customer": None,
    }
    data.update(changes)
    return data


def test_a_notice_is_built_from_its_manifest_with_exactly_the_contract_fields() -> None:
    manifest = Manifest.from_dict(manifest_dict(trigger="webhook"))

    notice = Notice.for_manifest(manifest, f"s3://b/flatfile/manifests/{BATCH}.json")

    assert json.loads(notice.to_json()) == notice_dict()
    assert Notice.from_json(notice.to_json()) == notice


def routing_fields(batch: dict[str, Any]) -> dict[str, Any]:
    """The manifest's copies of the batch's routing fields, as the exporter writes them (`manifest.routing`)."""
    return {to_camel(name): value for name, value in routing(batch).items()}


def test_a_notice_names_the_file_submission_and_end_user_so_consumers_route_without_the_manifest() -> None:
    end_user = {"id": "u-1", "name": "Ada", "companyName": "Acme", "email": None}
    batch = {"id": BATCH, "filename": "stock.csv", "submittedAt": "2021-03-01T20:22:52.000Z", "__endUser__": end_user}
    manifest = Manifest.from_dict(manifest_dict(batch=batch, **routing_fields(batch)))

    notice = json.loads(Notice.for_manifest(manifest, f"s3://b/flatfile/manifests/{BATCH}.json").to_json())

    assert (notice["filename"], notice["submittedAt"], notice["customer"]) == (
        "stock.csv", "2021-03-01T20:22:52.000Z", end_user
    )


def test_a_notice_from_before_the_routing_fields_still_parses() -> None:
    old = {k: v for k, v in notice_dict().items() if k not in ("filename", "submittedAt", "customer")}
    notice = Notice.from_json(json.dumps(old))
    assert (notice.filename, notice.submitted_at, notice.customer, notice.extra) == (None, None, None, {})


def test_a_notice_with_more_fields_is_accepted_and_keeps_them() -> None:
    notice = Notice.from_json(json.dumps(notice_dict(region="eu-west-1")))
    assert notice.extra == {"region": "eu-west-1"}


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"type": "flatfile.export.job"}, UnsupportedSchemaError, "notice.type must be 'flatfile.batch.exported'"),
        ({"schemaVersion": 2}, UnsupportedSchemaError, "notice.schemaVersion is 2"),
        ({"manifestUri": "/tmp/manifest.json"}, ManifestError, "notice.manifestUri must be an s3://"),
        ({"rowCount": -1}, ManifestError, "notice.rowCount must be greater than or equal to 0"),
        ({"rowCount": 1.0}, ManifestError, "notice.rowCount must be a whole number"),
        ({"batchId": None}, ManifestError, "notice.batchId must be a string"),
    ],
)
def test_an_invalid_notice_names_what_is_wrong(changes: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        Notice.from_json(json.dumps(notice_dict(**changes)))


def test_a_message_is_a_notice_or_the_export_event_carrying_it() -> None:
    event = {"version": "0", "source": "flatfile-relay", "detail-type": "flatfile.batch.exported",
             "detail": notice_dict()}
    assert Notice.from_message(json.dumps(event)) == Notice.from_message(json.dumps(notice_dict()))
    entry = event_entry(Notice.from_message(json.dumps(event)), "my-bus")
    assert (entry["EventBusName"], json.loads(entry["Detail"])) == ("my-bus", notice_dict())


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}, UnsupportedSchemaError,
         "event source and detail-type must be 'flatfile-relay' and 'flatfile.batch.exported'"),
        ({"source": "flatfile-relay", "detail-type": "flatfile.batch.exported", "detail": {"batchId": BATCH}},
         ManifestError, "event.detail.manifestUri is missing"),
        ("{", ManifestError, "notice is not valid JSON"),
    ],
)
def test_a_message_that_is_neither_is_refused_by_name(body: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        Notice.from_message(body if isinstance(body, str) else json.dumps(body))


def test_a_manifest_or_notice_without_source_is_legacy_and_writes_no_platform_fields() -> None:
    data = manifest_dict()
    del data["source"]
    manifest = Manifest.from_dict(data)
    assert manifest.source == "legacy"
    assert "workbookId" not in manifest.to_json()
    assert "sheet" not in manifest.to_dict()["parts"][0]
    notice = dict(notice_dict())
    del notice["source"]
    assert Notice.from_json(json.dumps(notice)).source == "legacy"


PLATFORM_JOB = "us_jb_4fX2kQ9z"


def platform_manifest_dict(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schemaVersion": 1, "source": "platform", "batchId": PLATFORM_JOB,
        "batch": {"job": {"id": PLATFORM_JOB, "status": "executing"}, "workbook": {"id": "us_wb_1", "name": "Stock"}},
        "rowCount": 3,
        "parts": [
            {"uri": "s3://b/r/part-00000.jsonl.gz", "rows": 2, "bytes": 50, "sha256": SHA, "sheet": "contacts"},
            {"uri": "s3://b/r/part-00001.jsonl.gz", "rows": 1, "bytes": 30, "sha256": SHA, "sheet": "orders"},
        ],
        "exportedAt": "2021-03-01T20:23:04.512Z", "trigger": "webhook", "filename": "Stock",
        "submittedAt": "2021-03-01T20:22:52.000Z", "customer": {"id": "u-1"},
        "workbookId": "us_wb_1", "spaceId": "us_sp_1", "environmentId": "us_env_1",
        "sheets": [{"id": "us_sh_1", "slug": "contacts", "name": "Contacts", "rowCount": 2},
                   {"id": "us_sh_2", "slug": "orders", "name": "Orders", "rowCount": 1}],
    }
    data.update(changes)
    return data


def test_a_platform_manifest_round_trips_and_its_notice_names_the_workbook_and_sheets() -> None:
    manifest = Manifest.from_dict(platform_manifest_dict())
    assert json.loads(manifest.to_json()) == platform_manifest_dict()
    assert [part.sheet for part in manifest.parts] == ["contacts", "orders"]

    notice = json.loads(Notice.for_manifest(manifest, "s3://b/m/us_jb_4fX2kQ9z.json").to_json())

    assert notice["source"] == "platform"
    assert (notice["workbookId"], notice["spaceId"], notice["environmentId"]) == ("us_wb_1", "us_sp_1", "us_env_1")
    assert notice["sheets"] == platform_manifest_dict()["sheets"]
    assert (notice["filename"], notice["submittedAt"], notice["customer"]) == (
        "Stock", "2021-03-01T20:22:52.000Z", {"id": "u-1"})


def test_a_platform_manifest_whose_sheets_do_not_add_up_is_refused() -> None:
    data = platform_manifest_dict()
    data["sheets"][1]["rowCount"] = 5
    with pytest.raises(ManifestError, match="sum of its sheets' rowCount"):
        Manifest.from_dict(data)
