"""reader.iter_rows / load_manifest on real exports in moto (over HTTP)."""

from __future__ import annotations

import gzip
import json

import pytest
from support.relay import Relay

from flatfile_relay.layout import parse_s3_uri
from flatfile_relay.manifest import ManifestError
from flatfile_relay.reader import CorruptPartError, iter_rows, load_manifest


def canonical(rows: list[dict[str, object]]) -> list[str]:
    return [json.dumps(row, sort_keys=True, ensure_ascii=False) for row in rows]


@pytest.fixture
def exported(relay: Relay) -> tuple[Relay, str, str]:
    """The `medium` sample (250 rows) exported in 3 parts; (relay, batch id, manifest URI)."""
    relay = relay.with_settings(part_max_rows=100)
    batch_id = relay.emu.samples["medium"]
    outcome = relay.export(batch_id)
    assert outcome.manifest_uri is not None
    return relay, batch_id, outcome.manifest_uri


def test_the_reader_streams_every_row_in_order_after_verifying_each_part(exported: tuple[Relay, str, str]) -> None:
    relay, batch_id, uri = exported

    manifest = load_manifest(uri, relay.clients.s3)
    rows = list(iter_rows(uri, relay.clients.s3))

    assert manifest.batch_id == batch_id
    assert manifest.row_count == 250
    assert len(manifest.parts) == 3
    assert canonical(rows) == canonical(relay.api_rows(batch_id))
    assert canonical(list(iter_rows(manifest, relay.clients.s3))) == canonical(rows)


def test_the_reader_builds_a_standard_s3_client_when_none_is_given(exported: tuple[Relay, str, str]) -> None:
    _relay, _batch_id, uri = exported  # AWS_ENDPOINT_URL points the standard client at moto

    assert sum(1 for _ in iter_rows(uri)) == 250


def overwrite(relay: Relay, uri: str, data: bytes) -> None:
    bucket, key = parse_s3_uri(uri)
    relay.clients.s3.put_object(Bucket=bucket, Key=key, Body=data)


def test_a_part_overwritten_with_other_bytes_of_the_same_size_is_rejected_before_decompressing(
    exported: tuple[Relay, str, str],
) -> None:
    relay, _batch_id, uri = exported
    part = load_manifest(uri, relay.clients.s3).parts[1]
    bucket, key = parse_s3_uri(part.uri)
    original = relay.clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    overwrite(relay, part.uri, original[:-1] + bytes([original[-1] ^ 0xFF]))

    rows = iter_rows(uri, relay.clients.s3)
    first_part = [next(rows) for _ in range(100)]
    with pytest.raises(CorruptPartError) as caught:
        next(rows)

    assert len(first_part) == 100
    assert caught.value.uri == part.uri
    assert part.uri in str(caught.value)
    assert "sha256" in str(caught.value)


def test_a_truncated_or_replaced_part_is_rejected_naming_the_mismatch(exported: tuple[Relay, str, str]) -> None:
    relay, _batch_id, uri = exported
    part = load_manifest(uri, relay.clients.s3).parts[0]
    overwrite(relay, part.uri, gzip.compress(b'{"id": "forged"}\n', mtime=0))

    with pytest.raises(CorruptPartError, match=r"bytes, the manifest says"):
        list(iter_rows(uri, relay.clients.s3))


def test_a_missing_or_broken_manifest_is_a_clear_error(exported: tuple[Relay, str, str]) -> None:
    relay, _batch_id, uri = exported
    overwrite(relay, uri, b'{"schemaVersion": 1, "batchId": "x"}')

    with pytest.raises(ManifestError, match=r"manifest\.batch is missing; manifest\.rowCount is missing"):
        load_manifest(uri, relay.clients.s3)
    with pytest.raises(ManifestError, match="not an s3:// URI"):
        load_manifest("https://example.com/manifest.json", relay.clients.s3)
