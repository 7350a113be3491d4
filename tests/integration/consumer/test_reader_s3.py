"""reader.iter_rows / load_manifest on real exports in moto (over HTTP)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from support.relay import Relay

from flatfile_relay.layout import parse_s3_uri
from flatfile_relay.manifest import ManifestError
from flatfile_relay.reader import CorruptPartError, iter_rows, load_manifest
from flatfile_relay_devkit import reader as kit


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


def local_copy(relay: Relay, root: Path) -> Path:
    """Every object of the bucket as the file root/<key>, as `make run` copies it to ./out."""
    for key in relay.object_keys():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(relay.object_bytes(key))
    return root


def test_the_kit_reads_what_the_layer_reads_from_s3_and_from_a_local_copy(
    exported: tuple[Relay, str, str], tmp_path: Path,
) -> None:
    """flatfile_relay_devkit.reader (standard library only, for downstream teams) and the layer's reader
    answer alike; the kit also reads a local copy, given as a directory or a LocalS3."""
    relay, _batch_id, uri = exported
    copy = local_copy(relay, tmp_path / "out")
    rows = list(iter_rows(uri, relay.clients.s3))

    assert list(kit.iter_rows(uri, relay.clients.s3)) == rows
    assert list(kit.iter_rows(uri, copy)) == rows
    assert list(kit.iter_rows(uri, str(copy))) == rows
    assert list(kit.iter_rows(uri, kit.LocalS3(copy))) == rows
    manifest = kit.load_manifest(uri, copy)
    assert (manifest.batch_id, manifest.row_count) == (load_manifest(uri, relay.clients.s3).batch_id, 250)
    assert [part.uri for part in manifest.parts] == [part.uri for part in load_manifest(uri, relay.clients.s3).parts]
    with pytest.raises(TypeError, match="source must be an S3 client"):
        list(kit.iter_rows(uri, 42))  # type: ignore[arg-type]


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "replace"])
def test_the_kit_and_the_layer_refuse_a_damaged_part_alike(
    exported: tuple[Relay, str, str], tmp_path: Path, damage: str,
) -> None:
    relay, _batch_id, uri = exported
    part = load_manifest(uri, relay.clients.s3).parts[1]
    original = relay.object_at(part.uri)
    overwrite(relay, part.uri, {"flip a byte": original[:-1] + bytes([original[-1] ^ 0xFF]),
                                "truncate": original[:-10],
                                "replace": gzip.compress(b'{"id": "forged"}\n', mtime=0)}[damage])
    copy = local_copy(relay, tmp_path / "out")

    with pytest.raises(CorruptPartError) as layer:
        list(iter_rows(uri, relay.clients.s3))
    for source in (relay.clients.s3, copy):
        with pytest.raises(kit.CorruptPartError) as caught:
            list(kit.iter_rows(uri, source))
        assert (caught.value.uri, caught.value.reason) == (layer.value.uri, layer.value.reason)


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
