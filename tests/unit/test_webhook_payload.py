"""WebhookDelivery.parse: the Portal v2 payload, checked field by field."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from flatfile_relay.webhook import (
    MAX_BODY_BYTES,
    InvalidPayloadError,
    PayloadTooLargeError,
    WebhookDelivery,
)

BATCH = "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27"
EVENT = "3b9c1f0e-6d2a-4e8b-9f7c-51a0d4e2b8c6"


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event": {"type": "batch:v1:upload", "id": EVENT, "sequence": {"length": 3, "index": 1}},
        "data": {
            "customer": {"id": str(uuid.uuid4()), "userId": "u-1", "name": "Jane", "email": None,
                         "companyId": None, "companyName": None, "teamId": 6607,
                         "createdAt": "2021-02-11T09:14:03.000Z", "updatedAt": "2021-03-01T20:21:07.000Z"},
            "meta": {"batch": {"id": BATCH}, "settings": {"id": None}, "length": 2500},
            "validRows": [{"sku": "A-1"}, {"sku": "B-2"}],
            "invalidRows": [{"sku": ""}],
        },
    }
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for name in parents:
            target = target[name]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value
    return data


_DELETE = object()


def parse(data: Any) -> WebhookDelivery:
    return WebhookDelivery.parse(json.dumps(data).encode())


def test_a_documented_payload_parses() -> None:
    delivery = parse(body())
    assert delivery.batch_id == BATCH
    assert delivery.event_id == EVENT
    assert delivery.event_type == "batch:v1:upload"
    assert (delivery.index, delivery.length, delivery.part) == (1, 3, "2/3")
    assert delivery.total_rows == 2500
    assert delivery.rows == 3
    assert delivery.size == len(json.dumps(body()).encode())


def test_ids_are_canonicalised_and_the_key_is_deterministic() -> None:
    delivery = parse(body(data__meta__batch__id=BATCH.upper(), event__id=EVENT.upper()))
    assert delivery.batch_id == BATCH
    assert delivery.storage_key("flatfile/") == f"flatfile/webhooks/{BATCH}/{EVENT}-1.json"
    assert delivery.storage_key("") == f"webhooks/{BATCH}/{EVENT}-1.json"


def test_str_bodies_and_unicode_are_accepted() -> None:
    data = body(data__validRows=[{"sku": "Zoë 🚀 \"quoted\"\nnext line"}])
    delivery = WebhookDelivery.parse(json.dumps(data, ensure_ascii=False))
    assert delivery.batch_id == BATCH


def test_missing_sequence_is_one_part() -> None:
    delivery = parse(body(event__sequence=_DELETE))
    assert (delivery.index, delivery.length) == (0, 1)


def test_optional_row_fields_may_be_absent() -> None:
    delivery = parse(body(data__validRows=_DELETE, data__invalidRows=_DELETE, data__meta__length=_DELETE))
    assert delivery.rows == 0
    assert delivery.total_rows is None


def test_a_safe_non_uuid_event_id_is_kept() -> None:
    assert parse(body(event__id="evt_2021.03-01")).event_id == "evt_2021.03-01"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"not json", "not valid JSON (line 1, column 1)"),
        (b'{"event": ', "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[]", "body must be a JSON object"),
        (b'"text"', "body must be a JSON object"),
        (b"null", "body must be a JSON object"),
        (b'{"event": NaN}', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_bodies_that_are_not_json_objects_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidPayloadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        WebhookDelivery.parse(raw)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"event": _DELETE}, "event is missing"),
        ({"event": "batch:v1:upload"}, "body.event must be a JSON object"),
        ({"event__type": _DELETE}, "event.type is missing"),
        ({"event__type": 7}, "body.event.type must be a string"),
        ({"event__type": "   "}, "event.type must be a non-empty string"),
        ({"event__type": "batch upload with spaces"}, "event.type must be a short word"),
        ({"event__id": _DELETE}, "event.id is missing"),
        ({"event__id": "../../etc/passwd"}, "event.id must be a UUID"),
        ({"event__id": "a/b"}, "event.id must be a UUID"),
        ({"event__id": "x" * 129}, "event.id must be a UUID"),
        ({"event__sequence": [0, 1]}, "event.sequence must be a JSON object"),
        ({"event__sequence__length": 0}, "event.sequence.length"),
        ({"event__sequence__length": "3"}, "event.sequence.length"),
        ({"event__sequence__length": True}, "event.sequence.length"),
        ({"event__sequence__length": 10**9}, "event.sequence.length"),
        ({"event__sequence__index": 3}, "event.sequence.index"),
        ({"event__sequence__index": -1}, "event.sequence.index"),
        ({"event__sequence__index": 1.5}, "event.sequence.index"),
        ({"event__sequence__index": _DELETE}, "event.sequence.index"),
        ({"data": _DELETE}, "data is missing"),
        ({"data": []}, "data must be a JSON object"),
        ({"data__meta": _DELETE}, "data.meta is missing"),
        ({"data__meta__batch": _DELETE}, "data.meta.batch is missing"),
        ({"data__meta__batch__id": _DELETE}, "data.meta.batch.id is missing"),
        ({"data__meta__batch__id": "batch-42"}, "body.data.meta.batch.id must be a UUID"),
        ({"data__meta__batch__id": 42}, "body.data.meta.batch.id must be a string"),
        ({"data__meta__batch__id": ""}, "data.meta.batch.id must be a non-empty string"),
        ({"data__meta__length": -1}, "data.meta.length"),
        ({"data__meta__length": "2500"}, "data.meta.length"),
        ({"data__validRows": {"sku": "A"}}, "data.validRows must be a list"),
        ({"data__invalidRows": "none"}, "data.invalidRows must be a list"),
    ],
)
def test_payloads_of_the_wrong_shape_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        parse(body(**changes))
    assert message in str(caught.value)


def test_a_bad_batch_id_is_never_quoted() -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        parse(body(data__meta__batch__id="z" * 5000))
    assert str(caught.value) == "body.data.meta.batch.id must be a UUID"


def test_too_large_bodies_are_refused_before_parsing() -> None:
    raw = json.dumps(body()).encode()
    assert WebhookDelivery.parse(raw, max_bytes=len(raw)).size == len(raw)
    with pytest.raises(PayloadTooLargeError) as caught:
        WebhookDelivery.parse(raw, max_bytes=len(raw) - 1)
    assert str(len(raw) - 1) in str(caught.value)
    with pytest.raises(PayloadTooLargeError):
        WebhookDelivery.parse(b"x" * (MAX_BODY_BYTES + 1))


def test_a_thousand_row_post_fits_comfortably() -> None:
    rows = [{f"field_{i}": "a fairly long cell value " * 8 for i in range(12)} for _ in range(1000)]
    raw = json.dumps(body(data__validRows=rows)).encode()
    assert len(raw) < MAX_BODY_BYTES // 2
    assert WebhookDelivery.parse(raw).rows == 1001


def test_describe_holds_ids_and_sizes_only() -> None:
    described = parse(body()).describe()
    assert described == {"batchId": BATCH, "eventId": EVENT, "eventType": "batch:v1:upload", "part": "2/3",
                         "rows": 3, "bytes": described["bytes"]}
