"""`make run`: the whole pipeline on this machine — moto for AWS, the bundled emulator for Flatfile.

Steps: create template.yaml's resources in a moto server on 127.0.0.1, start the emulator with its sample
imports, store the sample credentials in the secret, then
1. a scheduled tick: invoke the poller with events/schedule.json, feed the export-jobs queue to the
   exporter (like Lambda's event source mapping); read the notices queue as a user's consumer would; feed
   the sample consumer's own queue, where moto's EventBridge delivers the export events through the
   template's rule, to the consumer;
2. a webhook delivery: a new import is submitted and the emulator posts its webhook to a local Function
   URL (an HTTP server on 127.0.0.1 that invokes the webhook function), then export and consume;
3. a second tick, to show that nothing is exported twice;
4. the operator modes `check` and `status` (events/check.json, events/status.json);
then print a summary (every batch by file name, and why each one not exported was not) and copy what
landed to ./out/.

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
from flatfile_relay_devkit.emulator import Emulator, EmulatorConfig, send_webhook
from flatfile_relay_devkit.local.deployment import LocalDeployment
from flatfile_relay_devkit.local.function_url import FunctionUrl
from flatfile_relay_devkit.local.lambda_runtime import DrainReport, LocalLambda
from flatfile_relay_devkit.local.moto import MotoServer
from flatfile_relay_devkit.local.tables import EXAMPLES, connect, example_queries
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
    listed: list[dict[str, Any]] = field(default_factory=list)  # id, file name, status of each batch listed
    states: dict[str, str] = field(default_factory=dict)  # batchId -> ledger state
    webhooks: list[tuple[str, list[int]]] = field(default_factory=list)  # (batchId, HTTP statuses)
    operations: list[dict[str, Any]] = field(default_factory=list)  # answers of the operator modes
    query: tuple[str, list[str], list[tuple[Any, ...]]] | None = None  # (title, columns, rows) of an example query
    seconds: float = 0.0


class LocalRun:
    """One deployment in moto plus one emulator; poll, export and consume as often as asked."""

    def __init__(self, root: Path, emulator: Emulator, moto: MotoServer, parameters: dict[str, str] | None = None,
                 timeout: float | None = None, env_overrides: dict[str, str] | None = None,
                 stack: str = "flatfile-relay") -> None:
        """`stack` names the stack, as `sam deploy --stack-name` would: several runs with different stack names
        share one moto, like stacks one account."""
        os.environ.update(moto.environment())
        self.root = root
        self.emulator = emulator
        self.clients = AwsClients()
        params = {"FlatfileBaseUrl": emulator.url, "FlatfilePlatformUrl": emulator.platform_url, **(parameters or {})}
        self.deployment = LocalDeployment.create(Template.load(root / "template.yaml"), self.clients, params,
                                                 stack=stack)
        self.lambdas = LocalLambda(self.deployment, root, timeout=timeout, env_overrides=env_overrides)
        self.settings = self.deployment.settings("PollerFunction")
        self.deployment.store_credentials(emulator.secret)
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
        """Take the notices for the summary, then feed the sample consumer's queue (export events) to it."""
        self._take_notices()
        report = self.lambdas.drain("ConsumerFunction")
        self.result.drains.append(report)
        return report

    def cycle(self) -> None:
        """One scheduled tick end to end: poll, export, consume."""
        self.poll()
        self.export()
        self.consume()

    def deliver_webhook(self, batch_id: str) -> list[int]:
        """Post the batch's webhook through a local Function URL in front of the webhook function, the way
        Flatfile does (token in the query string); return the HTTP statuses."""
        with FunctionUrl(lambda event: self.lambdas.invoke("WebhookFunction", event)) as url:
            statuses = send_webhook(self.emulator, batch_id, url.url, token=self.emulator.secret["webhookToken"])
        self.result.webhooks.append((batch_id, statuses))
        return statuses

    def operate(self, name: str) -> dict[str, Any]:
        """Invoke the poller with the operator event events/<name>.json (e.g. check, status)."""
        event = json.loads((self.root / "events" / f"{name}.json").read_text(encoding="utf-8"))
        answer = dict(self.lambdas.invoke("PollerFunction", event))
        self.result.operations.append(answer)
        return answer

    def collect(self) -> RunResult:
        """Read back what landed: ledger, S3 objects, dead-letter queues."""
        ledger = Ledger(self.settings.ledger_table, self.clients.dynamodb)
        # only what the summary shows: a batch echoes its webhook URL, token included
        self.result.listed = [
            {key: batch.get(key) for key in ("id", "filename", "originalFile", "status", "createdAt")}
            for batch in self.emulator.state.account_batches()
        ]
        self.result.submitted_in_emulator = sum(1 for b in self.result.listed if b.get("status") == "submitted")
        for batch_id, entry in ledger.get_many(b["id"] for b in self.result.listed).items():
            self.result.states[batch_id] = entry.state
            if entry.state == EXPORTED:
                self.result.exported[batch_id] = {
                    "rows": entry.row_count, "parts": len(entry.parts), "manifest": entry.manifest_uri,
                    "trigger": entry.trigger,
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

    def example_query(self, out: Path, number: int = 4) -> tuple[str, list[str], list[tuple[Any, ...]]]:
        """Run example query `number` of docs/output.md over the copy in `out`, through template.yaml's Glue
        tables (DuckDB standing in for Athena): (title, column names, rows)."""
        title, sql = example_queries((self.root / EXAMPLES).read_text(encoding="utf-8"))[number - 1]
        db = connect(self.deployment.template, out, self.deployment.ref, self.deployment.getatt)
        answer = db.execute(sql)
        return title, [column[0] for column in answer.description], answer.fetchall()

    def _take_notices(self) -> None:
        """Read the notices queue as a user's consumer would (the sample consumer has its own queue, fed by
        the export events): keep each notice for the summary and delete it."""
        url = self.settings.notices_queue_url
        while messages := self.clients.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
        ).get("Messages", []):
            self.result.notices.extend(json.loads(message["Body"]) for message in messages)
            self.clients.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )


#: why a batch Flatfile lists was not exported, by its status there
NOT_EXPORTED = {
    None: "still in progress in Flatfile (status null): each poll re-checks it until it is submitted",
    "cancelled": "cancelled in Flatfile: nothing to export",
    "failed": "failed in Flatfile: nothing to export",
}


def summary(result: RunResult, out: Path | None) -> str:
    """The text `make run` prints at the end."""
    lines = ["", "flatfile-relay — local run", "=" * 26]
    for index, poll in enumerate(result.polls, 1):
        lines.append(
            f"poll {index}: {poll.get('batches_seen', '?')} batches listed, {len(poll.get('jobs_sent') or [])} "
            f"export jobs queued, {poll.get('pending', 0)} still in progress"
        )
    for batch_id, statuses in result.webhooks:
        lines.append(f"webhook: {len(statuses)} POST(s) for {_name(result, batch_id)}, answered {statuses}")
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
    lines.extend(_batch_lines(result))
    for answer in result.operations:
        lines.extend(_operation_lines(answer))
    lines.append(f"S3 objects: {len(result.objects)}")
    for key, size in result.objects:
        lines.append(f"  s3://…/{key}  ({size} bytes)")
    lines.append(f"notices: {len(result.notices)} (one per export)")
    if result.query is not None:
        title, columns, rows = result.query
        lines.append(f"Athena example query ({EXAMPLES}), here through DuckDB over ./out: {title}")
        lines.append("  " + " | ".join(columns))
        lines.extend("  " + " | ".join(str(value) for value in row) for row in rows)
    lines.append("dead-letter queues: " + ", ".join(f"{k}={v}" for k, v in sorted(result.dead_letters.items())))
    if out is not None:
        lines.append(f"copied to {out}/ (manifests, parts, decompressed .jsonl, notices/)")
        lines.append(f"function logs: {out}/logs.jsonl")
        lines.append("next: make query EXAMPLE=1 (SQL over ./out), make invoke FUNCTION=PollerFunction "
                     "EVENT=events/status.json (one function, one event): docs/local.md")
    lines.append(f"took {result.seconds:.1f} s")
    return "\n".join(lines)


def _name(result: RunResult, batch_id: str) -> str:
    for batch in result.listed:
        if batch["id"] == batch_id:
            return str(batch.get("filename") or batch.get("originalFile") or batch_id)
    return batch_id


def _batch_lines(result: RunResult) -> list[str]:
    """One line per batch Flatfile lists: exported (rows, parts, trigger), or why not."""
    lines = []
    width = max((len(_name(result, b["id"])) for b in result.listed), default=0)
    for batch in sorted(result.listed, key=lambda b: str(b.get("createdAt"))):
        batch_id, name = batch["id"], _name(result, batch["id"]).ljust(width)
        facts = result.exported.get(batch_id)
        if facts is not None:
            what = f"exported  {facts['rows']:>6} rows  {facts['parts']} part(s)  by {facts['trigger']}"
        elif batch.get("status") in NOT_EXPORTED:
            what = f"not exported: {NOT_EXPORTED[batch.get('status')]}"
        else:
            what = f"not exported: status {batch.get('status')!r}, ledger {result.states.get(batch_id, 'unknown')}"
        lines.append(f"  {name}  {batch_id}  {what}")
    return lines


def _operation_lines(answer: dict[str, Any]) -> list[str]:
    """The answer of `check` (one line per step) or `status`, as the operator would read it."""
    mode, verdict = answer.get("mode"), "ok" if answer.get("ok") else "PROBLEMS"
    if "error" in answer:
        return [f"{mode}: {verdict}: {answer['error']}"]
    if mode == "check":
        return [f"check: {verdict}", *(f"  {step}: {line}" for step, line in answer["steps"].items())]
    return [f"{mode}: {verdict}", *(f"  {key}: {json.dumps(value)}" for key, value in answer.items()
                                    if key not in ("mode", "ok"))]


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
    failures += sum(1 for answer in result.operations if not answer.get("ok"))
    failures += sum(1 for _, statuses in result.webhooks for status in statuses if status != 202)
    return 1 if failures or len(result.exported) != result.submitted_in_emulator else 0


def _run(args: Any, terminal: IO[str]) -> RunResult:
    def say(text: str) -> None:
        print(text, file=terminal, flush=True)

    say("starting moto (AWS) and the Flatfile emulator on 127.0.0.1 ...")
    with MotoServer() as moto, Emulator(EmulatorConfig(seed=args.seed)) as emulator, \
            (args.out / "logs.jsonl").open("w", encoding="utf-8") as logs, redirect_stdout(logs):
        say(f"moto on {moto.url}, Flatfile emulator on {emulator.url}")
        say("creating template.yaml's buckets, queues, table and secret in moto ...")
        run = LocalRun(args.root, emulator, moto)
        say("tick 1: scheduled poll → export → consume")
        run.cycle()
        new = emulator.state.add_batch("submitted", _NEW_ROWS, filename="webhook-products.csv")["id"]
        say(f"webhook: a new import is submitted; the emulator posts its webhook to a local Function URL ({new})")
        run.deliver_webhook(new)
        run.export()
        run.consume()
        say("tick 2: the same again — nothing new, so nothing is exported twice")
        run.cycle()
        say("operator modes: check, then status")
        run.operate("check")
        run.operate("status")
        result = run.collect()
        run.copy_out(args.out)
        result.query = run.example_query(args.out)
    return result


_NEW_ROWS = [{"sku": "W-1", "name": "Webhook widget", "qty": "2"}, {"sku": "W-2", "name": "Webhook gadget", "qty": "5"}]
