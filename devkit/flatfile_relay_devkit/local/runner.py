"""`make run`: the whole pipeline on this machine — moto for AWS, the bundled emulator for Flatfile.

Steps: create template.yaml's resources in a moto server on 127.0.0.1, start the emulator with its sample
imports (legacy batches and Flatfile Platform workbooks), store both sources' credentials in the secret, then
1. an end user submits the two-sheet Platform workbook "Customers and orders" (its submit action creates a
   ready job);
2. a scheduled tick: invoke the poller with events/schedule.json (both sources), feed the export-jobs queue
   to the exporter (like Lambda's event source mapping); read the notices queue as a user's consumer would;
   feed the sample consumer's own queue, where moto's EventBridge delivers the export events through the
   template's rule, to the consumer;
3. webhook deliveries: a new legacy import is submitted and the emulator posts its webhook to a local
   Function URL (an HTTP server on 127.0.0.1 that invokes the webhook function); the Platform workbook
   "Product catalogue" (with invalid records) is submitted and a listener forwards its `job:ready` event to
   the same URL; then export and consume;
4. a second tick, to show that nothing is exported twice;
5. the operator modes `check` and `status` (events/check.json, events/status.json);
then print a summary (every legacy batch by file name and every Platform submit job by workbook, the
outcome message its end user reads in Flatfile, and why each one not exported was not) and copy what landed
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
from collections.abc import Mapping
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from flatfile_relay.aws import AwsClients
from flatfile_relay.ledger import EXPORTED, Ledger, LedgerEntry
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
    webhooks: list[tuple[str, list[int]]] = field(default_factory=list)  # (batchId or job id, HTTP statuses)
    jobs: list[dict[str, Any]] = field(default_factory=list)  # the Platform's submit jobs (see `_platform_jobs`)
    submitted_jobs: list[str] = field(default_factory=list)  # the jobs this run's end users created
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
        self.deployment.store_credentials({**emulator.secret, **emulator.platform_secret})
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

    def submit_workbook(self, label: str) -> str:
        """An end user presses the submit action of the emulator's sample workbook `label` (e.g.
        "customers_orders"): the ready job's id."""
        job_id = str(self.emulator.platform.submit(self.emulator.platform.sample_id(label))["id"])
        self.result.submitted_jobs.append(job_id)
        return job_id

    def forward_job_ready(self, job_id: str) -> list[int]:
        """What a Flatfile listener that forwards `job:ready` does (docs/platform.md): POST the job's event as
        JSON, the token in the X-Webhook-Token header, to a local Function URL in front of the webhook
        function; return the HTTP statuses."""
        [event] = [e for e in self.emulator.platform.events("job:ready") if e["context"]["jobId"] == job_id]
        body = json.dumps(event).encode("utf-8")
        headers = {"Content-Type": "application/json", "X-Webhook-Token": self.emulator.secret["webhookToken"]}
        with FunctionUrl(lambda request: self.lambdas.invoke("WebhookFunction", request)) as url:
            answer = requests.post(url.url, data=body, headers=headers, timeout=30)
        self.result.webhooks.append((job_id, [answer.status_code]))
        return [answer.status_code]

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
        self.result.jobs = self._platform_jobs(ledger)
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

    def _platform_jobs(self, ledger: Ledger) -> list[dict[str, Any]]:
        """The relay's environment's jobs of the submit operations the relay exports, oldest first: workbook,
        sheets (records, invalid ones), status and outcome message in the emulator, and the ledger's facts."""
        platform = self.emulator.platform
        operations = set(self.settings.platform_operations)
        jobs = [job for job in platform.ordered_jobs(descending=False)
                if job["type"] == "workbook" and job["operation"] in operations
                and job["environmentId"] == platform.account.environment_id]
        entries = ledger.get_many(job["id"] for job in jobs)
        return [_job_facts(platform.workbook(job["source"]), job, entries.get(job["id"]),
                           submitted=job["id"] in self.result.submitted_jobs) for job in jobs]

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


def _job_facts(workbook: Mapping[str, Any], job: Mapping[str, Any], entry: LedgerEntry | None, *,
               submitted: bool) -> dict[str, Any]:
    """One Platform submit job for the summary."""
    sheets = [(sheet["name"], sheet["recordCounts"]["total"], sheet["recordCounts"]["error"])
              for sheet in workbook["sheets"]]
    facts: dict[str, Any] = {"id": job["id"], "workbook": workbook["name"], "sheets": sheets,
                             "status": job["status"], "outcome": (job.get("outcome") or {}).get("message"),
                             "submitted": submitted, "state": entry.state if entry is not None else None}
    if entry is not None and entry.state == EXPORTED:
        facts.update(rows=entry.row_count, parts=len(entry.parts), trigger=entry.trigger)
    return facts


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
        lines.append(f"poll {index}: " + "; ".join(_poll_parts(poll)))
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
        " (legacy API, Portal v2)"
    )
    lines.extend(_batch_lines(result))
    lines.extend(_job_lines(result))
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


#: what each source lists, as the poll line names it
LISTED = {"legacy": "batches", "platform": "submit jobs"}


def _poll_parts(poll: Mapping[str, Any]) -> list[str]:
    """Per source: how many items it listed, export jobs queued, items still in progress."""
    sources = poll.get("sources") or {"legacy": poll}
    return [f"{source}: {report.get('batches_seen', '?')} {LISTED.get(source, 'items')} listed, "
            f"{len(report.get('jobs_sent') or [])} export jobs queued, {report.get('pending', 0)} still in progress"
            for source, report in sources.items()]


def _name(result: RunResult, batch_id: str) -> str:
    """A batch's file name, or the workbook of a Platform job (its id when neither is known)."""
    for batch in result.listed:
        if batch["id"] == batch_id:
            return str(batch.get("filename") or batch.get("originalFile") or batch_id)
    for job in result.jobs:
        if job["id"] == batch_id:
            return f"{job['workbook']} (job:ready of {batch_id})"
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


def _job_lines(result: RunResult) -> list[str]:
    """The Platform's submit jobs: exported (records per sheet, invalid ones, parts, trigger) and the job's end
    in Flatfile with the outcome message its end user reads, or why it was not exported."""
    exported = [job for job in result.jobs if job.get("rows") is not None]
    records = sum(int(job["rows"]) for job in exported)
    lines = [f"exported: {len(exported)} of {len(result.submitted_jobs)} submitted workbooks' jobs, {records} "
             "records (Flatfile Platform)"]
    width = max((len(job["workbook"]) for job in result.jobs), default=0)
    for job in result.jobs:
        name = job["workbook"].ljust(width)
        if job.get("rows") is not None:
            sheets = ", ".join(f"{sheet} {total} ({invalid} invalid)" for sheet, total, invalid in job["sheets"])
            lines.append(f"  {name}  {job['id']}  exported  {job['rows']:>6} records  {job['parts']} part(s)  "
                         f"by {job['trigger']}: {sheets}")
            lines.append(f"  {''.ljust(width)}  job {job['status']} in Flatfile: \"{job['outcome']}\"")
        elif job["submitted"]:
            lines.append(f"  {name}  {job['id']}  not exported: job {job['status']}, ledger {job['state']}")
        else:
            lines.append(f"  {name}  {job['id']}  not exported: {job['status']} in Flatfile before this run "
                         "(the relay exports ready jobs)")
    return lines


def _operation_lines(answer: dict[str, Any]) -> list[str]:
    """The answer of `check` (one line per step) or `status`, as the operator would read it."""
    mode, verdict = answer.get("mode"), "ok" if answer.get("ok") else "PROBLEMS"
    if "error" in answer:
        return [f"{mode}: {verdict}: {answer['error']}"]
    if mode == "check":
        return [f"check: {verdict}", f"  sources: {json.dumps(answer.get('sources'))}",
                *(f"  {step}: {line}" for step, line in answer["steps"].items())]
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
    failures += sum(1 for job in result.jobs if job["submitted"] and (job.get("rows") is None
                                                                       or job["status"] != "complete"))
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
        job = run.submit_workbook("customers_orders")
        say(f"Flatfile Platform: an end user submits the two-sheet workbook Customers and orders (job {job})")
        say("tick 1: scheduled poll of both sources → export → consume")
        run.cycle()
        new = emulator.state.add_batch("submitted", _NEW_ROWS, filename="webhook-products.csv")["id"]
        say(f"webhook: a new import is submitted; the emulator posts its webhook to a local Function URL ({new})")
        run.deliver_webhook(new)
        job = run.submit_workbook("products")
        say(f"webhook: Product catalogue (with invalid records) is submitted in the Platform; a listener forwards "
            f"its job:ready to the same URL (job {job})")
        run.forward_job_ready(job)
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
