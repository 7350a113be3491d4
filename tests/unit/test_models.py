"""models.parse_json: errors name every bad field and never carry a value, whatever the document."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from flatfile_relay.jobs import ExportJob
from flatfile_relay.manifest import Manifest, Notice
from flatfile_relay.models import Count, Document, InvalidDocumentError, parse_json
from flatfile_relay.webhook import WebhookDelivery

SECRET = "s3cr3t-5d0c9a7e4b1f4e2a8c6d3b9f0a7e1c42"  # fixed: test ids must be the same in every xdist worker
BATCH = "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27"
SHA = "0" * 64


def job(**fields: Any) -> str:
    return json.dumps({"batchId": BATCH, **fields})


def manifest(**fields: Any) -> str:
    part = {"uri": "s3://b/k", "rows": 1, "bytes": 1, "sha256": SHA}
    return json.dumps({"schemaVersion": 1, "batchId": BATCH, "batch": {}, "rowCount": 1, "parts": [part],
                       "exportedAt": "2021-03-01T20:23:04.512Z", "trigger": "schedule", **fields})


def notice(**fields: Any) -> str:
    return json.dumps({"type": "flatfile.batch.exported", "schemaVersion": 1, "batchId": BATCH,
                       "manifestUri": "s3://b/m.json", "rowCount": 1, "trigger": "webhook",
                       "exportedAt": "2021-03-01T20:23:04.512Z", **fields})


def webhook(event: dict[str, Any] | None = None, batch_id: Any = BATCH, meta_length: Any = 1) -> str:
    return json.dumps({"event": {"type": "batch:v1:upload", "id": "e-1", **(event or {})},
                       "data": {"meta": {"batch": {"id": batch_id}, "length": meta_length}}})


PART = {"uri": "s3://b/k", "rows": 1, "bytes": 1, "sha256": SHA}
CASES: list[tuple[Callable[[str], Any], str, str]] = [
    (ExportJob.from_message, job(batchId=SECRET), "job.batchId"),
    (ExportJob.from_message, job(trigger=SECRET), "job.trigger"),
    (ExportJob.from_message, job(type=SECRET), "job.type"),
    (ExportJob.from_message, job(resume=SECRET), "job.resume"),
    (ExportJob.from_message, job(schemaVersion=SECRET), "job.schemaVersion"),
    (ExportJob.from_message, '{"batchId": "' + SECRET, "job is not valid JSON"),
    (Manifest.from_json, manifest(rowCount=SECRET), "manifest.rowCount"),
    (Manifest.from_json, manifest(batch=SECRET), "manifest.batch"),
    (Manifest.from_json, manifest(trigger=SECRET), "manifest.trigger"),
    (Manifest.from_json, manifest(parts=[{**PART, "uri": SECRET}]), "manifest.parts[0].uri"),
    (Manifest.from_json, manifest(parts=[{**PART, "sha256": SECRET}]), "manifest.parts[0].sha256"),
    (Manifest.from_json, manifest(parts=[SECRET]), "manifest.parts[0]"),
    (Manifest.from_json, manifest(batch={"id": SECRET}), "manifest: batch.id differs"),
    (Notice.from_json, notice(manifestUri=SECRET), "notice.manifestUri"),
    (Notice.from_json, notice(type=SECRET), "notice.type"),
    (Notice.from_json, notice(rowCount=SECRET), "notice.rowCount"),
    (WebhookDelivery.parse, webhook(batch_id=SECRET), "body.data.meta.batch.id"),
    (WebhookDelivery.parse, webhook(event={"id": f"../{SECRET}"}), "body.event.id"),
    (WebhookDelivery.parse, webhook(event={"type": f"a b {SECRET}"}), "body.event.type"),
    (WebhookDelivery.parse, webhook(event={"sequence": {"length": SECRET, "index": 0}}),
     "body.event.sequence.length"),
    (WebhookDelivery.parse, webhook(meta_length=SECRET), "body.data.meta.length"),
]


@pytest.mark.parametrize(("parse", "text", "field"), CASES)
def test_errors_name_the_field_and_never_the_value(
    parse: Callable[[str], Any], text: str, field: str, caplog: pytest.LogCaptureFixture,
) -> None:
    assert SECRET in text
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - each parser raises its own ValueError
        parse(text)
    assert field in str(caught.value)
    shown = "".join(traceback.format_exception(caught.value))  # what logger.exception would print
    assert SECRET not in shown
    with caplog.at_level(logging.ERROR, logger="flatfile_relay.test"):
        logging.getLogger("flatfile_relay.test").exception("rejected: %s", caught.value, exc_info=caught.value)
    assert field in caplog.text
    assert SECRET not in caplog.text


def test_pydantic_alone_would_have_shown_the_value() -> None:
    # why parse_json rewrites the errors: pydantic's own text carries input_value=...
    with pytest.raises(ValueError, match=SECRET):
        Notice.model_validate_json(notice(manifestUri=SECRET))


class Sample(Document):
    row_count: Count
    first_name: str = ""


def test_every_bad_field_is_named_with_its_path_and_camel_case_name() -> None:
    with pytest.raises(InvalidDocumentError) as caught:
        parse_json(Sample, '{"rowCount": -1, "firstName": 7}', "sample")
    assert str(caught.value) == ("sample.rowCount must be greater than or equal to 0; "
                                 "sample.firstName must be a string")
    assert caught.value.fields == ("rowCount", "firstName")


def test_long_lists_of_problems_are_cut_short() -> None:
    class Many(Document):
        a: int
        b: int
        c: int
        d: int
        e: int
        f: int
        g: int

    with pytest.raises(InvalidDocumentError) as caught:
        parse_json(Many, "{}", "many")
    assert str(caught.value).endswith("many.e is missing; and 2 more")
    assert len(caught.value.fields) == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"\xff{}", "sample is not UTF-8"),
        ("{", "sample is not valid JSON (line 1, column 2)"),
        ('{"rowCount": NaN}', "sample is not valid JSON"),
        ('{"rowCount": Infinity}', "sample is not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "sample is not valid JSON"),
        ("[]", "sample must be a JSON object"),
        ('"text"', "sample must be a JSON object"),
    ],
)
def test_what_is_not_a_json_object_is_refused_first(text: str | bytes, message: str) -> None:
    with pytest.raises(InvalidDocumentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_json(Sample, text, "sample")


def test_camel_case_and_snake_case_both_build_a_document() -> None:
    assert parse_json(Sample, '{"rowCount": 3}') == Sample(row_count=3)
    assert Sample(row_count=3).to_dict() == {"rowCount": 3, "firstName": ""}
