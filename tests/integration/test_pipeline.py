"""The whole pipeline through the local runner: template.yaml's resources in moto, the emulator over HTTP,
handlers invoked like Lambda, SQS delivered like event source mappings (batch size, partial failures, DLQ)."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from flatfile_relay.layout import parse_s3_uri
from flatfile_relay.ledger import EXPORTED, Ledger
from flatfile_relay_devkit.emulator import FaultRule
from flatfile_relay_devkit.local.runner import LocalRun

ROOT = Path(__file__).resolve().parents[2]


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
    key = f"{run.settings.export_prefix}batches/{batch_id}/manifest.json"
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
    run = pipeline(parameters={"PartMaxRows": "500", "PageSize": "250"}, env={"FLATFILE_MAX_ATTEMPTS": "1"})
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
    assert result.dead_letters["NoticesDLQ"] == 1
    assert consumer.succeeded == len(submitted_ids(run)) - 1


def test_make_run_entry_point_prints_the_summary_and_copies_out(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flatfile_relay_devkit.local", "--root", str(ROOT), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "exported: 11 of 11 submitted batches" in done.stdout  # the samples' 10 and one by webhook
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
    assert '  ledger: {"closed": 2, "exported": 11, "pending": 1}' in lines
    manifests = list((tmp_path / "out").rglob("manifest.json"))
    assert manifests
    assert list((tmp_path / "out" / "notices").glob("*.json"))
    assert list((tmp_path / "out").rglob("*.jsonl"))
