"""The whole pipeline through the local runner: template.yaml's resources in moto, the emulator over HTTP,
handlers invoked like Lambda, SQS delivered like event source mappings (batch size, partial failures, DLQ)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from support.relay import FUNCTIONS, Relay, sqs_event

from flatfile_relay.layout import manifest_key, parse_s3_uri
from flatfile_relay.ledger import EXPORTED, Ledger
from flatfile_relay_devkit.emulator import FaultRule
from flatfile_relay_devkit.local.runner import LocalRun

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def pipeline(moto_server: Any, emulator_factory: Any) -> Any:
    """Start a local run: `pipeline(emulator knobs..., parameters={...}, env={...})`."""

    def start(parameters: dict[str, str] | None = None, env: dict[str, str] | None = None, **knobs: Any) -> LocalRun:
        moto_server.reset()
        emulator = emulator_factory(**knobs)
        return LocalRun(ROOT, emulator, moto_server, parameters=parameters, env_overrides=env)

    return start


def submitted_ids(run: LocalRun) -> set[str]:
    return {bid for bid, batch in run.emulator.state.batches.items() if batch.get("status") == "submitted"}


def manifest(run: LocalRun, batch_id: str) -> dict[str, Any]:
    key = manifest_key(run.settings.export_prefix, batch_id)
    body = run.clients.s3.get_object(Bucket=run.settings.export_bucket, Key=key)["Body"].read()
    return dict(json.loads(body))


def exported_rows(run: LocalRun, batch_id: str) -> list[Any]:
    rows: list[Any] = []
    for part in manifest(run, batch_id)["parts"]:
        bucket, key = parse_s3_uri(part["uri"])
        body = run.clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == part["sha256"]
        rows.extend(json.loads(line) for line in gzip.decompress(body).decode("utf-8").splitlines())
    return rows


def api_rows(run: LocalRun, batch_id: str) -> list[Any]:
    """Every row the rows endpoint returns, paged by what came back."""
    secret = run.emulator.secret
    headers = {"X-Api-Key": f"{secret['accessKeyId']}+{secret['secretAccessKey']}"}
    rows: list[Any] = []
    while True:
        page = requests.get(
            f"{run.emulator.url}/rest/batch/{batch_id}/rows",
            params={"skip": len(rows), "take": 1000}, headers=headers, timeout=10,
        ).json()
        if not page["data"]:
            return rows
        rows.extend(page["data"])


def notices_by_batch(run: LocalRun) -> Counter[str]:
    return Counter(notice["batchId"] for notice in run.result.notices)


def test_first_tick_exports_every_submitted_batch_and_nothing_else(pipeline: Any) -> None:
    run = pipeline()
    run.cycle()
    result = run.collect()

    assert set(result.exported) == submitted_ids(run)
    assert notices_by_batch(run) == Counter(submitted_ids(run))
    assert sum(result.dead_letters.values()) == 0
    ledger = Ledger(run.settings.ledger_table, run.clients.dynamodb)
    assert ledger.get(run.emulator.samples["in_progress"]).state == "pending"  # type: ignore[union-attr]
    assert ledger.get(run.emulator.samples["cancelled"]).state == "closed"  # type: ignore[union-attr]
    for batch_id in submitted_ids(run):
        document = manifest(run, batch_id)
        assert document["rowCount"] == len(run.emulator.state.rows(batch_id))
        assert document["trigger"] == "schedule"


def test_second_tick_exports_nothing_twice(pipeline: Any) -> None:
    run = pipeline()
    run.cycle()
    first = {bid: manifest(run, bid)["exportedAt"] for bid in submitted_ids(run)}
    run.cycle()
    run.collect()

    assert len(run.result.polls[1]["jobs_sent"]) == 0
    assert notices_by_batch(run) == Counter(submitted_ids(run))  # still one notice per batch
    assert {bid: manifest(run, bid)["exportedAt"] for bid in submitted_ids(run)} == first


def test_new_and_late_submitted_batches_are_picked_up(pipeline: Any) -> None:
    run = pipeline()
    run.cycle()
    late = run.emulator.samples["in_progress"]
    run.emulator.state.set_status(late, "submitted")
    new = run.emulator.state.add_batch(status="submitted", rows=[{"sku": "N-1", "qty": "1"}])["id"]
    run.cycle()
    run.collect()

    assert {late, new} <= set(run.result.exported)
    assert manifest(run, late)["rowCount"] == len(run.emulator.state.rows(late))
    assert exported_rows(run, new) == api_rows(run, new)
    assert notices_by_batch(run)[late] == 1
    assert notices_by_batch(run)[new] == 1


def test_empty_batch_has_a_manifest_without_parts(pipeline: Any) -> None:
    run = pipeline()
    run.cycle()
    document = manifest(run, run.emulator.samples["empty"])

    assert document["rowCount"] == 0
    assert document["parts"] == []


def test_page_caps_lose_no_row(pipeline: Any) -> None:
    run = pipeline(default_take=5, max_take=7, parameters={"PartMaxRows": "100"})
    run.cycle()
    big = run.emulator.samples["big"]

    assert exported_rows(run, big) == api_rows(run, big)
    assert len(manifest(run, big)["parts"]) == 25


def test_tricky_cell_values_round_trip(pipeline: Any) -> None:
    run = pipeline()
    run.cycle()
    nasty = run.emulator.samples["nasty"]
    rows = exported_rows(run, nasty)

    assert rows == api_rows(run, nasty)
    assert [row["sequence"] for row in rows] == sorted(row["sequence"] for row in rows)
    cells = json.dumps(rows, ensure_ascii=False)
    for fragment in ('\\"', "\\n", "🧪"):
        assert fragment in cells


def test_crash_between_parts_resumes_without_duplicates(pipeline: Any) -> None:
    # one page at a time, so the requests come in a known order (test_exporter_prefetch.py: pages fetched ahead)
    run = pipeline(parameters={"PartMaxRows": "500", "PageSize": "250", "RowPrefetch": "1"},
                   env={"FLATFILE_MAX_ATTEMPTS": "1"})
    big = run.emulator.samples["big"]
    # the 6th rows request of the big batch fails: parts 0 and 1 (rows 0..999) are finished by then
    run.emulator.inject(FaultRule(kind="500", path=f"/rest/batch/{big}/rows", after=5, count=1))
    run.cycle()
    run.collect()

    fetched = [r.query.get("skip") for r in run.emulator.request_log if r.path == f"/rest/batch/{big}/rows"]
    # parts 0-1 (rows 0..999) were finished before the crash and not fetched again; rows 1000.. were
    assert fetched == ["0", "250", "500", "750", "1000", "1250", "1000", "1250", "1500", "1750", "2000", "2250"]
    rows = exported_rows(run, big)
    assert rows == api_rows(run, big)
    assert len({row["id"] for row in rows}) == len(rows)
    assert notices_by_batch(run)[big] == 1
    exporter = next(d for d in run.result.drains if d.function == "ExporterFunction")
    assert exporter.failed >= 1  # the crash really happened


def test_duplicate_sqs_delivery_exports_once(pipeline: Any) -> None:
    run = pipeline()
    run.poll()
    queue = run.settings.export_jobs_queue_url
    messages = run.clients.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    for message in messages:  # every job delivered twice
        run.clients.sqs.send_message(QueueUrl=queue, MessageBody=message["Body"])
        run.clients.sqs.change_message_visibility(
            QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    run.export()
    run.consume()
    run.collect()

    assert notices_by_batch(run) == Counter(submitted_ids(run))
    ledger = Ledger(run.settings.ledger_table, run.clients.dynamodb)
    assert all(entry.state == EXPORTED for entry in ledger.get_many(submitted_ids(run)).values())


def test_consumer_rejects_a_corrupted_part_and_it_lands_in_the_dlq(pipeline: Any) -> None:
    run = pipeline()
    run.poll()
    run.export()
    medium = run.emulator.samples["medium"]
    bucket, key = parse_s3_uri(manifest(run, medium)["parts"][0]["uri"])
    run.clients.s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(b'{"forged": true}\n'))
    consumer = run.consume()
    result = run.collect()

    assert consumer.failed >= 1
    assert result.dead_letters["ConsumerDLQ"] == 1
    assert result.dead_letters["NoticesDLQ"] == 0  # the notices queue is left to your consumers
    assert consumer.succeeded == len(submitted_ids(run)) - 1


def test_make_run_entry_point_prints_the_summary_and_copies_out(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flatfile_relay_devkit.local", "--root", str(ROOT), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "exported: 11 of 11 submitted batches" in done.stdout  # the samples' 10 and one by webhook
    # the Flatfile Platform: a two-sheet workbook by the schedule, one with invalid records by a forwarded event
    assert "exported: 2 of 2 submitted workbooks' jobs, 67 records (Flatfile Platform)" in done.stdout
    jobs = [line for line in done.stdout.splitlines() if " us_jb_" in line and " exported " in line]
    assert len(jobs) == 2
    assert "42 records  2 part(s)  by schedule: Customers 12 (0 invalid), Orders 30 (0 invalid)" in jobs[0]
    assert "25 records  1 part(s)  by webhook: Products 25 (6 invalid)" in jobs[1]
    assert done.stdout.count('job complete in Flatfile: "Exported 42 records to AWS"') == 1
    assert done.stdout.count('job complete in Flatfile: "Exported 25 records to AWS"') == 1
    assert "; platform: 3 submit jobs listed, 1 export jobs queued" in done.stdout
    assert "(job:ready of us_jb_" in done.stdout
    assert '  sources: {"legacy": "on", "platform": "on"}' in done.stdout
    assert "tick 2" in done.stdout
    assert "webhook: 1 POST(s) for webhook-products.csv, answered [202]" in done.stdout
    lines = done.stdout.splitlines()
    by_name = {line.split()[0]: line for line in lines if line.startswith("  ") and "-products.csv" in line}
    assert "exported       2 rows  1 part(s)  by webhook" in by_name["webhook-products.csv"]
    assert "by schedule" in by_name["big-products.csv"]
    assert "not exported: still in progress in Flatfile" in by_name["in-progress-products.csv"]
    assert "not exported: cancelled in Flatfile" in by_name["cancelled-products.csv"]
    assert "not exported: failed in Flatfile" in by_name["failed-products.csv"]
    assert "check: ok" in lines
    assert "  token exchange: ok" in lines
    assert "status: ok" in lines
    assert '  ledger: {"closed": 4, "exported": 13, "pending": 1}' in lines  # both sources
    assert "Athena example query (docs/output.md), here through DuckDB over ./out: The latest imports" in lines
    assert any(line.startswith("  s3://…/flatfile/rows/submitted_date=") for line in lines)
    manifests = list((tmp_path / "out" / "flatfile" / "manifests").glob("*.json"))
    assert manifests
    assert list((tmp_path / "out" / "notices").glob("*.json"))
    assert list((tmp_path / "out").rglob("*.jsonl"))


# -- the handlers called in-process with template.yaml's environment (tests/support/relay.py) ---------------


def test_every_function_reaches_aws_through_aws_endpoint_url(relay: Relay) -> None:
    relay.share_clients = False  # the clients each function builds itself
    for function in FUNCTIONS:
        relay.cold(function)
        runtime = relay.module(function).runtime
        for client in (runtime.clients.s3, runtime.clients.sqs, runtime.clients.dynamodb):
            assert client.meta.endpoint_url == os.environ["AWS_ENDPOINT_URL"]


def test_upper_case_batch_ids_in_the_api_answer_export_once(relay_factory: Any) -> None:
    """UUIDs are case-insensitive: a server that answers ids in upper case still gets one clean export,
    whose manifest and notice name the batch as the server does (`batchId` equals `batch.id`)."""
    relay = relay_factory(emulator={"samples": False})
    upper = str(uuid.uuid4()).upper()
    relay.emu.state.add_batch("submitted", [{"sku": "U-1"}, {"sku": "U-2"}], id=upper)
    assert relay.api(f"/rest/batch/{upper.lower()}")["id"] == upper
    assert {row["batchId"] for row in relay.api_rows(upper)} == {upper}

    relay.invoke_poller()
    assert relay.webhook_with_token(upper).status == 202  # the webhook names it the same way
    assert relay.webhook_with_token(upper.lower()).status == 202
    relay.export_queued()
    notices = relay.notice_bodies()
    assert [n["batchId"] for n in notices] == [upper]
    assert notices[0]["manifestUri"] == relay.manifest_uri(upper)
    manifest = relay.manifest_dict(upper)
    assert manifest["batchId"] == manifest["batch"]["id"] == upper
    assert manifest["rowCount"] == 2
    assert relay.verified_rows(manifest) == relay.api_rows(upper)
    # the sample consumer accepts the notice
    assert relay.invoke("ConsumerFunction", sqs_event("sqs_notice.json", [json.dumps(notices[0])])) == {
        "batchItemFailures": []}


def test_webhook_parts_and_the_poll_converge_on_one_export(relay_factory: Any) -> None:
    relay = relay_factory(emulator={"samples": False})
    big = relay.add_import(rows=40)
    relay.add_import(rows=1)
    event_id = "3b9c1f0e-6d2a-4e8b-9f7c-51a0d4e2b8c6"
    for index in range(3):
        assert relay.webhook_with_token(big, index=index, length=3, event_id=event_id).status == 202
    relay.invoke_poller()
    relay.export_queued()
    notices = [n for n in relay.notice_bodies() if n["batchId"] == big]
    assert len(notices) == 1
    assert notices[0]["trigger"] == "webhook"
    assert relay.manifest_dict(big)["trigger"] == "webhook"
    stored = [key for key in relay.object_keys() if "webhooks/" in key]
    assert stored == [f"flatfile/webhooks/{big}/{event_id}-{i}.json" for i in range(3)]
    # a late redelivery after the export queues nothing
    late = relay.webhook_with_token(big, event_id=event_id)
    assert late.status == 202
    assert late.body["queued"] is False
    assert relay.jobs() == []
