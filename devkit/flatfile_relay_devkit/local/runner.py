"""`make run`: the whole pipeline on this machine — moto for AWS, the bundled emulator for Flatfile.

Steps: create template.yaml's resources in a moto server on 127.0.0.1, start the emulator with its sample
imports, store the sample credentials in the secret, invoke the poller with events/schedule.json, feed the
export-jobs queue to the exporter and the notices queue to the consumer (like Lambda's event source
mappings), poll once more to show nothing is exported twice, then print a summary and copy what landed
to ./out/.

Example:
    $ python -m flatfile_relay_devkit.local --out out
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import time
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from flatfile_relay.aws import AwsClients
from flatfile_relay.ledger import EXPORTED, Ledger
from flatfile_relay_devkit.emulator import Emulator, EmulatorConfig
from flatfile_relay_devkit.local.deployment import LocalDeployment
from flatfile_relay_devkit.local.lambda_runtime import DrainReport, LocalLambda
from flatfile_relay_devkit.local.moto import MotoServer
from flatfile_relay_devkit.local.template import Template


@dataclass
class RunResult:
    """What one local run did, for the summary and for tests."""

    polls: list[dict[str, Any]] = field(default_factory=list)
    drains: list[DrainReport] = field(default_factory=list)
    exported: dict[str, dict[str, Any]] = field(default_factory=dict)  # batchId -> ledger facts
    objects: list[tuple[str, int]] = field(default_factory=list)  # (key, size)
    notices: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: dict[str, int] = field(default_factory=dict)
    submitted_in_emulator: int = 0
    seconds: float = 0.0


class LocalRun:
    """One deployment in moto plus one emulator; poll, export and consume as often as asked."""

    def __init__(self, root: Path, emulator: Emulator, moto: MotoServer, parameters: dict[str, str] | None = None,
                 timeout: float | None = None, env_overrides: dict[str, str] | None = None) -> None:
        os.environ.update(moto.environment())
        self.root = root
        self.emulator = emulator
        self.clients = AwsClients()
        params = {"FlatfileBaseUrl": emulator.url, **(parameters or {})}
        self.deployment = LocalDeployment.create(Template.load(root / "template.yaml"), self.clients, params)
        self.lambdas = LocalLambda(self.deployment, root, timeout=timeout, env_overrides=env_overrides)
        self.settings = self.deployment.settings("PollerFunction")
        self.clients.secretsmanager.put_secret_value(
            SecretId=self.settings.secret_id, SecretString=json.dumps(emulator.secret)
        )
        self.result = RunResult()

    def poll(self, event: Any | None = None) -> dict[str, Any]:
        """Invoke the poller once (with events/schedule.json unless given an event)."""
        if event is None:
            event = json.loads((self.root / "events" / "schedule.json").read_text(encoding="utf-8"))
        report = self.lambdas.invoke("PollerFunction", event) or {}
        self.result.polls.append(report)
        return dict(report)

    def export(self) -> DrainReport:
        """Feed the export-jobs queue to the exporter until it is empty."""
        report = self.lambdas.drain("ExporterFunction")
        self.result.drains.append(report)
        return report

    def consume(self) -> DrainReport:
        """Copy the notices aside for the summary, then feed the notices queue to the consumer."""
        self._tap_notices()
        report = self.lambdas.drain("ConsumerFunction")
        self.result.drains.append(report)
        return report

    def cycle(self) -> None:
        """One scheduled tick end to end: poll, export, consume."""
        self.poll()
        self.export()
        self.consume()

    def collect(self) -> RunResult:
        """Read back what landed: ledger, S3 objects, dead-letter queues."""
        ledger = Ledger(self.settings.ledger_table, self.clients.dynamodb)
        batch_ids = list(self.emulator.state.batches)
        self.result.submitted_in_emulator = sum(
            1 for b in self.emulator.state.batches.values() if b.get("status") == "submitted"
        )
        for batch_id, entry in ledger.get_many(batch_ids).items():
            if entry.state == EXPORTED:
                self.result.exported[batch_id] = {
                    "rows": entry.row_count, "parts": len(entry.parts), "manifest": entry.manifest_uri,
                }
        paginator = self.clients.s3.get_paginator("list_objects_v2")
        self.result.objects = [
            (obj["Key"], obj["Size"])
            for page in paginator.paginate(Bucket=self.settings.export_bucket)
            for obj in page.get("Contents", [])
        ]
        for name in self.deployment.template.of_type("AWS::SQS::Queue"):
            if "dlq" in name.lower() or "deadletter" in name.lower():
                attributes = self.clients.sqs.get_queue_attributes(
                    QueueUrl=self.deployment.refs[name], AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]
                self.result.dead_letters[name] = int(attributes["ApproximateNumberOfMessages"])
        return self.result

    def copy_out(self, out: Path) -> None:
        """Copy every exported object to `out` (and a decompressed .jsonl beside each part), plus the notices."""
        for key, _size in self.result.objects:
            target = out / key
            target.parent.mkdir(parents=True, exist_ok=True)
            body = self.clients.s3.get_object(Bucket=self.settings.export_bucket, Key=key)["Body"].read()
            target.write_bytes(body)
            if key.endswith(".jsonl.gz"):
                target.with_suffix("").write_bytes(gzip.decompress(body))
        notices = out / "notices"
        notices.mkdir(parents=True, exist_ok=True)
        for notice in self.result.notices:
            (notices / f"{notice.get('batchId', 'unknown')}.json").write_text(
                json.dumps(notice, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )

    def _tap_notices(self) -> None:
        """Peek at the notices before the consumer takes them (made visible again at once)."""
        url = self.settings.notices_queue_url
        seen: dict[str, dict[str, Any]] = {}
        handles = []
        while True:
            messages = self.clients.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                seen[message["MessageId"]] = json.loads(message["Body"])
                handles.append(message["ReceiptHandle"])
        for handle in handles:
            self.clients.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
        self.result.notices.extend(seen.values())


def summary(result: RunResult, out: Path | None) -> str:
    """The text `make run` prints at the end."""
    lines = ["", "flatfile-relay — local run", "=" * 26]
    for index, poll in enumerate(result.polls, 1):
        queued = poll.get("jobs_sent") or poll.get("queued") or []
        count = len(queued) if isinstance(queued, list) else queued
        lines.append(
            f"poll {index}: {poll.get('batches_seen', '?')} batches listed, {count} export jobs queued, "
            f"{len(poll.get('pending') or []) if isinstance(poll.get('pending'), list) else poll.get('pending', 0)}"
            " still in progress"
        )
    for drain in result.drains:
        lines.append(
            f"{drain.function}: {drain.invocations} invocations, {drain.delivered} messages, "
            f"{drain.succeeded} ok, {drain.failed} failed"
            + (f" ({'; '.join(drain.errors[:3])})" if drain.errors else "")
        )
    total_rows = sum(int(facts["rows"] or 0) for facts in result.exported.values())
    lines.append(
        f"exported: {len(result.exported)} of {result.submitted_in_emulator} submitted batches, {total_rows} rows"
    )
    for batch_id, facts in sorted(result.exported.items()):
        lines.append(f"  {batch_id}  {facts['rows']:>6} rows  {facts['parts']} part(s)  {facts['manifest']}")
    lines.append(f"S3 objects: {len(result.objects)}")
    for key, size in result.objects:
        lines.append(f"  s3://…/{key}  ({size} bytes)")
    lines.append(f"notices: {len(result.notices)} (one per exported batch)")
    lines.append("dead-letter queues: " + ", ".join(f"{k}={v}" for k, v in sorted(result.dead_letters.items())))
    if out is not None:
        lines.append(f"copied to {out}/ (manifests, parts, decompressed .jsonl, notices/)")
        lines.append(f"function logs: {out}/logs.jsonl")
    lines.append(f"took {result.seconds:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m flatfile_relay_devkit.local` (what `make run` calls)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m flatfile_relay_devkit.local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project folder holding template.yaml")
    parser.add_argument("--out", type=Path, default=Path("out"), help="where to copy what landed (default ./out)")
    parser.add_argument("--seed", type=int, default=7, help="emulator sample data seed")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    terminal: IO[str] = sys.stdout
    saved_environment = dict(os.environ)
    try:
        result = _run(args, terminal)
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)
    result.seconds = time.monotonic() - started
    print(summary(result, args.out), file=terminal)
    failures = sum(result.dead_letters.values()) + sum(d.failed for d in result.drains)
    return 1 if failures or len(result.exported) != result.submitted_in_emulator else 0


def _run(args: Any, terminal: IO[str]) -> RunResult:
    with MotoServer() as moto, Emulator(EmulatorConfig(seed=args.seed)) as emulator, \
            (args.out / "logs.jsonl").open("w", encoding="utf-8") as logs, redirect_stdout(logs):
        print(f"moto on {moto.url}, Flatfile emulator on {emulator.url}", file=terminal)
        run = LocalRun(args.root, emulator, moto)
        print("tick 1: poll → export → consume", file=terminal)
        run.cycle()
        print("tick 2: the same again — nothing new, so nothing is exported twice", file=terminal)
        run.cycle()
        result = run.collect()
        run.copy_out(args.out)
    return result
