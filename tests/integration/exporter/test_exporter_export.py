"""export_batch against the emulator (HTTP) and moto (HTTP): what lands in S3 and SQS, per the contract."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from support.relay import MANIFEST_KEYS, NOTICE_KEYS, PART_KEYS, Relay

from flatfile_relay.ledger import EXPORTED
from flatfile_relay_devkit.emulator import LONG_CELL


def canonical(rows: list[dict[str, Any]]) -> list[str]:
    """Rows as canonical JSON text: equal only when the JSON values are equal (True is not 1)."""
    return [json.dumps(row, sort_keys=True, ensure_ascii=False) for row in rows]


def check_exported_at(value: str) -> None:
    assert value.endswith("Z")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert moment.tzinfo is not None
    assert moment.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - moment).total_seconds()) < 120


def test_a_submitted_batch_exports_every_row_exactly_with_manifest_and_notice(relay: Relay) -> None:
    batch_id = relay.emu.samples["nasty"]
    expected_rows = relay.api_rows(batch_id)

    outcome = relay.export(batch_id, trigger="webhook")

    assert outcome.status == "exported"
    prefix = relay.rows_folder(batch_id)
    assert relay.object_keys() == [f"flatfile/manifests/{batch_id}.json", prefix + "part-00000.jsonl.gz",
                                   relay.manifest_dict(batch_id)["schema"]["uri"].split("/", 3)[3]]
    assert prefix.startswith("flatfile/rows/submitted_date=")
    # the manifest: exactly the contract's fields
    manifest = relay.manifest_dict(batch_id)
    assert set(manifest) == MANIFEST_KEYS
    assert manifest["schemaVersion"] == 1
    assert manifest["batchId"] == batch_id
    assert manifest["batch"] == relay.api_batch(batch_id)
    assert "__endUser__" in manifest["batch"]
    assert manifest["rowCount"] == len(expected_rows) == 31
    assert manifest["trigger"] == "webhook"
    check_exported_at(manifest["exportedAt"])
    [part] = manifest["parts"]
    assert set(part) == PART_KEYS
    assert part["uri"] == f"s3://{relay.bucket}/{prefix}part-00000.jsonl.gz"
    assert part["rows"] == 31
    stored = relay.object_bytes(prefix + "part-00000.jsonl.gz")
    assert part["bytes"] == len(stored)
    assert part["sha256"] == hashlib.sha256(stored).hexdigest()
    head = relay.clients.s3.head_object(Bucket=relay.bucket, Key=prefix + "part-00000.jsonl.gz")
    assert head["ContentType"] == "application/gzip"
    assert "ContentEncoding" not in head
    # the rows: the same JSON values as the endpoint returned, in sequence order, nothing filtered
    rows = relay.exported_rows(batch_id)
    assert canonical(rows) == canonical(expected_rows)
    assert [row["sequence"] for row in rows] == sorted(row["sequence"] for row in rows)
    assert any(not row["valid"] for row in rows)
    assert any(row["deleted"] for row in rows)
    assert {(row["valid"], row["deleted"]) for row in rows} == {(True, False), (False, False), (True, True),
                                                                (False, True)}
    notes = [row["mapped"].get("notes") for row in rows]
    assert LONG_CELL in notes
    assert "line one\nline two" in notes
    assert 'He said "hi", then left' in notes
    assert "🧪𝄞 lab kit 👩‍👩‍👧 🇳🇴" in notes
    # one JSON object per line, even with U+2028 / newlines in cells
    lines = gzip.decompress(stored).split(b"\n")
    assert lines[-1] == b""
    assert len(lines) == 32
    # exactly one notice, per the contract
    [message] = relay.notices()
    notice = json.loads(message["Body"])
    assert set(notice) == NOTICE_KEYS
    assert notice == {
        "type": "flatfile.batch.exported", "schemaVersion": 1, "source": "legacy", "batchId": batch_id,
        "manifestUri": f"s3://{relay.bucket}/flatfile/manifests/{batch_id}.json", "rowCount": 31,
        "trigger": "webhook", "exportedAt": manifest["exportedAt"], "filename": manifest["batch"]["filename"],
        "submittedAt": manifest["batch"]["submittedAt"], "customer": manifest["batch"]["__endUser__"],
        "schema": manifest["schema"],
    }
    assert notice["filename"]
    assert notice["submittedAt"]
    assert notice["customer"]["id"]
    assert message["MessageAttributes"]["batchId"]["StringValue"] == batch_id
    # the ledger
    entry = relay.ledger.get(batch_id)
    assert entry is not None
    assert entry.state == EXPORTED
    assert entry.manifest_uri == notice["manifestUri"]
    assert entry.row_count == 31
    assert entry.lease_owner is None


def test_an_empty_batch_has_row_count_zero_and_no_parts(relay: Relay) -> None:
    batch_id = relay.emu.samples["empty"]

    outcome = relay.export(batch_id)

    assert outcome.status == "exported"
    assert outcome.row_count == 0
    assert relay.object_keys("flatfile/rows/") == []
    manifest = relay.manifest_dict(batch_id)
    assert manifest["rowCount"] == 0
    assert manifest["parts"] == []
    [message] = relay.notices()
    assert json.loads(message["Body"])["rowCount"] == 0


def test_a_large_batch_is_split_into_parts_in_row_order(relay: Relay) -> None:
    relay = relay.with_settings(part_max_rows=700, page_size=300)
    batch_id = relay.emu.samples["big"]

    outcome = relay.export(batch_id)

    assert outcome.status == "exported"
    assert (outcome.rows_written, outcome.parts_written, outcome.row_count) == (2500, 4, 2500)
    manifest = relay.manifest_dict(batch_id)
    prefix = f"s3://{relay.bucket}/{relay.rows_folder(batch_id)}"
    assert [p["uri"] for p in manifest["parts"]] == [f"{prefix}part-{i:05d}.jsonl.gz" for i in range(4)]
    assert [p["rows"] for p in manifest["parts"]] == [700, 700, 700, 400]
    last_sequence = -1
    for part in manifest["parts"]:
        stored = relay.object_bytes(part["uri"].split("/", 3)[3])
        assert part["bytes"] == len(stored)
        assert part["sha256"] == hashlib.sha256(stored).hexdigest()
        # deterministic gzip: no file name, mtime 0
        assert stored[:4] == b"\x1f\x8b\x08\x00"
        assert stored[4:8] == b"\x00\x00\x00\x00"
        rows = relay.part_rows(part["uri"])
        assert len(rows) == part["rows"]
        assert rows[0]["sequence"] > last_sequence
        last_sequence = rows[-1]["sequence"]
    assert canonical(relay.exported_rows(batch_id)) == canonical(relay.api_rows(batch_id))
    assert len(relay.notices()) == 1


def test_huge_and_unusual_cells_keep_their_json_value(relay: Relay) -> None:
    cells: list[Any] = [
        "x" * 1_500_000, "🧪" * 5000, "\u2028\u2029", "\ud800 lone surrogate", "\x00\x1f control", 2**70,
        -0.0, 1e-7, 1.5e300, [], {}, {"deep": [[[[{"a": None}]]]]}, False,
    ]
    batch_id = relay.add_batch([{"sku": f"S-{i}", "notes": value} for i, value in enumerate(cells)])
    assert relay.export(batch_id).status == "exported"
    rows = relay.verified_rows(relay.manifest_dict(batch_id))
    assert rows == relay.api_rows(batch_id)
    assert [row["mapped"]["notes"] for row in rows] == cells


def test_a_huge_filename_with_control_characters_is_cleaned_and_the_notice_still_fits(relay: Relay) -> None:
    """A 300 KB file name with NUL, ESC and U+2028 in it, and an end user as odd: manifest, notice and event are
    cleaned; the notice and the event are cut below SQS's 256 KiB and EventBridge's 256 KB, the manifest keeps
    every character."""
    nasty = "report\x00\x1b[2J\u2028\u202e" + "ä" * 150_000 + ".csv"  # 300 KB of UTF-8
    end_user = relay.emu.state.account.end_users[0]
    end_user.update({"name": "Ann\x1b]0;pwned\x07", "companyName": "Co\u2029" + "x" * 400_000,
                     "notes": {"a": {"b": {"c": {"d": {"e": "deep"}}}}}})
    batch_id = relay.add_batch([{"sku": "A"}], filename=nasty, endUserId=end_user["id"])

    assert relay.export(batch_id).status == "exported"

    [message] = relay.notices()
    body = message["Body"]
    assert len(body.encode("utf-8")) < 64 * 1024  # far below SQS's 256 KiB
    notice = json.loads(body)
    filename = notice["filename"]
    assert filename.startswith("report\ufffd\ufffd[2J\ufffd\ufffdää")
    assert filename.endswith("ä… [truncated: see the manifest]")
    assert not any(ord(char) < 32 or char in "\x7f\u2028\u2029\u202e" for char in json.dumps(notice,
                                                                                              ensure_ascii=False))
    assert notice["customer"]["name"] == "Ann\ufffd]0;pwned\ufffd"
    assert notice["customer"]["id"] == end_user["id"]
    [event] = relay.export_events()
    assert event["detail"] == notice
    assert len(json.dumps(event).encode("utf-8")) < 64 * 1024  # far below EventBridge's 256 KB
    manifest = relay.manifest_dict(batch_id)
    assert manifest["batch"]["filename"] == nasty  # Flatfile's object, as it came
    assert manifest["filename"] == "report\ufffd\ufffd[2J\ufffd\ufffd" + "ä" * 150_000 + ".csv"  # whole, cleaned
    assert manifest["customer"]["companyName"] == "Co\ufffd" + "x" * 400_000
    assert relay.entry(batch_id).state == EXPORTED
