"""Contract items 5-7: what gets exported, the manifest, the parts and the notice, exactly-once per batch."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

from contract_stack import MANIFEST_KEYS, NOTICE_KEYS, PART_KEYS, Stack, is_iso_utc, sqs_event


def test_first_poll_exports_every_submitted_batch_with_the_documented_output(stack: Stack) -> None:
    report = stack.poll()
    assert set(report["jobs_sent"]) == stack.submitted_ids()
    exported = stack.export_queued()
    assert sorted(exported) == sorted(stack.submitted_ids())

    notices = stack.notices()
    assert Counter(n["batchId"] for n in notices) == Counter(stack.submitted_ids())
    for notice in notices:
        batch_id = notice["batchId"]
        manifest = stack.manifest(batch_id)
        assert set(manifest) == MANIFEST_KEYS
        assert manifest["schemaVersion"] == 1
        assert manifest["batchId"] == batch_id
        assert manifest["batch"] == stack.api(f"/rest/batch/{batch_id}")
        assert manifest["trigger"] == "schedule"
        assert is_iso_utc(manifest["exportedAt"]), manifest["exportedAt"]
        for part in manifest["parts"]:
            assert set(part) == PART_KEYS
            assert part["uri"].startswith(f"s3://{stack.bucket}/")
        rows = stack.exported_rows(manifest)
        assert rows == stack.api_rows(batch_id)  # same JSON values, unfiltered, in sequence order
        assert manifest["rowCount"] == len(rows) == sum(p["rows"] for p in manifest["parts"])

        assert set(notice) >= NOTICE_KEYS
        assert notice["type"] == "flatfile.batch.exported"
        assert notice["schemaVersion"] == 1
        assert notice["manifestUri"] == stack.manifest_uri(batch_id)
        assert notice["rowCount"] == manifest["rowCount"]
        assert notice["trigger"] == "schedule"
        assert notice["exportedAt"] == manifest["exportedAt"]


def test_invalid_and_deleted_rows_are_exported_with_their_flags(stack: Stack) -> None:
    nasty = stack.emulator.samples["nasty"]
    stack.export(nasty)
    rows = stack.exported_rows(stack.manifest(nasty))
    assert {(row["valid"], row["deleted"]) for row in rows} == {(True, False), (False, False), (True, True),
                                                                (False, True)}
    assert [row["sequence"] for row in rows] == sorted(row["sequence"] for row in rows)


def test_an_empty_batch_has_row_count_0_and_no_parts(stack: Stack) -> None:
    empty = stack.emulator.samples["empty"]
    stack.export(empty)
    manifest = stack.manifest(empty)
    assert manifest["rowCount"] == 0
    assert manifest["parts"] == []
    assert [(n["batchId"], n["rowCount"]) for n in stack.notices()] == [(empty, 0)]


def test_parts_follow_row_order_and_hold_what_the_rows_endpoint_returned(stack_factory: Any) -> None:
    stack = stack_factory(env={"PART_MAX_ROWS": "300", "FLATFILE_PAGE_SIZE": "70"}, max_take=64)
    big = stack.emulator.samples["big"]
    stack.export(big)
    manifest = stack.manifest(big)
    assert [p["rows"] for p in manifest["parts"]] == [300] * 8 + [100]
    assert [p["uri"].rsplit("/", 1)[1] for p in manifest["parts"]] == [
        f"part-{i:05d}.jsonl.gz" for i in range(9)
    ]
    assert stack.exported_rows(manifest) == stack.api_rows(big)


def test_huge_and_unusual_cells_keep_their_json_value(stack: Stack) -> None:
    cells: list[Any] = [
        "x" * 1_500_000, "🧪" * 5000, "\u2028\u2029", "\ud800 lone surrogate", "\x00\x1f control", 2**70,
        -0.0, 1e-7, 1.5e300, [], {}, {"deep": [[[[{"a": None}]]]]}, False,
    ]
    batch_id = stack.emulator.state.add_batch("submitted", [{"sku": f"S-{i}", "notes": v} for i, v in
                                                            enumerate(cells)])["id"]
    stack.export(batch_id)
    rows = stack.exported_rows(stack.manifest(batch_id))
    assert rows == stack.api_rows(batch_id)
    assert [row["mapped"]["notes"] for row in rows] == cells


def test_a_second_poll_exports_nothing_and_a_replay_exports_again(stack_factory: Any) -> None:
    stack = stack_factory(samples=False)
    for rows in (0, 1, 30):
        stack.add_batch(rows=rows)
    single = stack.add_batch(rows=3)
    stack.poll()
    stack.export_queued()
    first = {bid: stack.manifest(bid) for bid in stack.submitted_ids()}
    assert len(stack.notices()) == 4

    again = stack.poll(event={})
    assert again["jobs_sent"] == []
    assert stack.jobs() == []
    # a duplicate job (SQS redelivery, a webhook after the poll) exports nothing either
    duplicate = json.dumps({"type": "flatfile.export.job", "schemaVersion": 1, "batchId": single,
                            "trigger": "webhook"})
    assert stack.run_exporter([duplicate]) == {"batchItemFailures": []}
    assert stack.notices() == []
    assert {bid: stack.manifest(bid) for bid in stack.submitted_ids()} == first

    replay = json.dumps({"type": "flatfile.export.job", "schemaVersion": 1, "batchId": single,
                         "trigger": "replay"})
    assert stack.run_exporter([replay]) == {"batchItemFailures": []}
    notices = stack.notices()
    assert [(n["batchId"], n["trigger"]) for n in notices] == [(single, "replay")]
    manifest = stack.manifest(single)
    assert manifest["trigger"] == "replay"
    assert stack.exported_rows(manifest) == stack.api_rows(single)


def test_upper_case_batch_ids_in_the_api_answer_export_once(stack_factory: Any) -> None:
    """UUIDs are case-insensitive: a server that answers ids in upper case still gets one clean export,
    whose manifest and notice name the batch as the server does (`batchId` equals `batch.id`)."""
    stack = stack_factory(samples=False)
    upper = str(uuid.uuid4()).upper()
    stack.emulator.state.add_batch("submitted", [{"sku": "U-1"}, {"sku": "U-2"}], id=upper)
    assert stack.api(f"/rest/batch/{upper.lower()}")["id"] == upper
    assert {row["batchId"] for row in stack.api_rows(upper)} == {upper}

    stack.poll()
    status, _ = stack.webhook_with_token(upper)  # the webhook names it the same way
    assert status == 202
    status, _ = stack.webhook_with_token(upper.lower())
    assert status == 202
    stack.export_queued()
    notices = stack.notices()
    assert [n["batchId"] for n in notices] == [upper]
    assert notices[0]["manifestUri"] == stack.manifest_uri(upper)
    manifest = stack.manifest(upper)
    assert manifest["batchId"] == manifest["batch"]["id"] == upper
    assert manifest["rowCount"] == 2
    assert stack.exported_rows(manifest) == stack.api_rows(upper)
    # the sample consumer accepts the notice
    assert stack.invoke("ConsumerFunction", sqs_event("sqs_notice.json", [json.dumps(notices[0])])) == {
        "batchItemFailures": []}
