"""Speed and memory benchmark of the relay (`make bench`): ratios measured in one run, at several API latencies.

Everything is real and on 127.0.0.1: template.yaml's resources in a moto server, the bundled Flatfile emulator
over HTTP, and the library's own `export_batch` and `poll`. The emulator and moto run in this process; every
exporter measurement runs in a fresh child process (this file with `--worker`), so the child's memory holds
the exporter's work only. Each child first replays a tiny batch (imports, connections, token warmed).

For each latency in LATENCIES (the emulator answers every request that much later):

1. Speed: one batch of 200,000 rows, and 50 batches of 2,000 rows. The export (`export_batch`, with the
   template's FLATFILE_ROW_PREFETCH, of jobs carrying the batch snapshot the poller puts in them) against a plain
   sequential `requests` loop over the same pages (the most naive puller: it only reads and discards). Flatfile
   requests per exported batch come from the emulator's request log; at 0 ms also those of a one-page batch.
2. Memory: `tracemalloc` peak of `export_batch` on 20,000 and on 200,000 rows (PART_MAX_ROWS = 5,000), each
   in a fresh process: bounded memory means a ratio close to 1 while the rows grow tenfold.

Once: the requests of an idle poll (nothing pending) after a baseline poll over 500 batches; late imports:
1,000 abandoned imports (in progress, created over 90 days) below 500 submitted batches, polled on a
simulated 5-minute schedule for two hours (`poll(now=...)`), with the default batch-list pages of 100 and
with pages of 10 (a list that takes 10 times more pages to walk): the Flatfile requests per idle poll and the
worst-case delay, i.e. the longest time a pending batch went without a look (a re-check, or a full walk),
and then the delay of a late import: the batch looked at longest ago is submitted and polled until queued;
and each handler's import time (plus creating its AWS clients) against a bare `import boto3` creating the
same clients, with tracing off and on (fresh interpreters, the median of IMPORT_ROUNDS).

At 0 ms the emulator, moto and the exporter share this machine's cores: the export competes with the API it
reads. Prints a table (metric, value, target, ok), writes bench/results.json; exits 1 when a target is missed.
Not part of `make test`.

    .venv/bin/python -m tests.bench        # from the project folder (what `make bench` runs)
"""

from __future__ import annotations

import compileall
import gc
import json
import os
import platform
import py_compile
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from flatfile_relay.aws import AwsClients
from flatfile_relay.credentials import Credentials
from flatfile_relay.deadline import Deadline
from flatfile_relay.exporter import EXPORTED, export_batch, export_platform_job
from flatfile_relay.flatfile import FlatfileClient
from flatfile_relay.jobs import BatchSnapshot, ExportJob
from flatfile_relay.ledger import Ledger
from flatfile_relay.platform import PlatformAccount, PlatformClient
from flatfile_relay.platform_export import PROGRESS_PAGES
from flatfile_relay.poller import poll
from flatfile_relay.settings import Settings
from flatfile_relay_devkit.emulator import Emulator, EmulatorConfig
from flatfile_relay_devkit.local.moto import MotoServer
from flatfile_relay_devkit.local.runner import LocalRun

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"

LATENCIES = (0.0, 0.05, 0.2)
SMALL_ROWS = 20_000
BIG_ROWS = 10 * SMALL_ROWS
FEW_ROWS = 2_000
FEW_BATCHES = 50
PART_MAX_ROWS = SMALL_ROWS // 4
PAGE_SIZE = 1000
POLL_BATCHES = 500
POLL_PAGE_SIZE = 100
WORKER_TIMEOUT = 600.0
IMPORT_ROUNDS = 9
#: the AWS clients each handler creates (the bare boto3 baseline creates the same ones)
HANDLER_CLIENTS = {
    "poller": ("secretsmanager", "dynamodb", "sqs"),
    "exporter": ("secretsmanager", "dynamodb", "s3", "sqs"),
    "webhook": ("secretsmanager", "dynamodb", "s3", "sqs"),
    "consumer": ("s3",),
}

#: export at least this many times faster than the sequential loop, per latency (0 ms: see MAX_READ_RATIO)
MIN_SPEEDUP = {0.05: 2.0, 0.2: 4.0}
#: at 0 ms, export time ÷ the loop's time
MAX_READ_RATIO = 1.5
#: the 50 small batches with one exporter: at least the loop's speed, at these latencies (one exporter; Lambda runs
#: several side by side)
MIN_FEW_SPEEDUP = {0.2: 1.0}
#: a one-page batch: the batch read and its one row page
ONE_PAGE_ROWS = 500
MAX_ONE_PAGE_REQUESTS = 2
MAX_PEAK_RATIO = 2.0
MAX_IDLE_REQUESTS = 1
LATE_ABANDONED = 1000
LATE_DAYS = 90
LATE_SUBMITTED = 500
LATE_PAGE_SIZES = (100, 10)
SCHEDULE = timedelta(minutes=5)
LATE_POLLS = 24  # two hours of the default schedule
MAX_LATE_DELAY = timedelta(hours=1)
MAX_IMPORT_RATIO = 1.5
#: the Platform job: one sheet of BIG_ROWS records (and SMALL_ROWS for memory), record pages of 10,000
PLATFORM_PAGE_SIZE = 10_000
#: the Platform rows export with template.yaml's PartMaxRows (a part of 5,000 records would cost an upload every
#: half page)
PLATFORM_PART_MAX_ROWS = 50_000
#: Platform requests of a one-sheet job besides its record pages and progress reports: job, ack, workbook, lock,
#: counts (reconciliation), space, unlock, complete
PLATFORM_JOB_REQUESTS = 8
#: the Platform requests of a one-sheet job of one record page, at most (issue 15)
MAX_ONE_PAGE_JOB_REQUESTS = 8
MiB = 1024 * 1024


class BenchError(RuntimeError):
    """The benchmark could not measure what it set out to (a broken export or poll, a failed worker)."""


@dataclass(frozen=True)
class Check:
    """One line of the table; `ok` is None for a figure printed for information only."""

    metric: str
    value: str
    target: str = ""
    ok: bool | None = None


@contextmanager
def local_run() -> Iterator[LocalRun]:
    """The devkit's local run: template.yaml's resources in moto, the emulator (no sample imports) holding the
    batches to export, its credentials in the secret."""
    with MotoServer() as moto, Emulator(EmulatorConfig(samples=False), host="127.0.0.1", port=0) as emulator:
        moto.reset()  # moto's backends live in the process: start empty
        yield LocalRun(ROOT, emulator, moto)


def function_env(run: LocalRun, function: str, emulator: Emulator | None = None, **overrides: str) -> dict[str, str]:
    """The function's Lambda environment from template.yaml, pointed at an emulator."""
    return {**run.deployment.environment(function), "FLATFILE_BASE_URL": (emulator or run.emulator).url,
            **overrides}


# -- data ------------------------------------------------------------------------------------------------

_NAMES = ("Desk lamp", "Office chair", "USB-C cable 2 m", "Notebook A5", "Standing desk", "Café mug 350 ml")
_NOTES = ("", "", "", "", "rush order, call before delivery", "gift wrap", "backorder — ship when complete")


def mapped_rows(count: int, seed: int) -> Iterator[dict[str, Any]]:
    """Mapped rows shaped like the emulator's template (sku, name, qty, price, email, notes), all distinct."""
    rng = random.Random(seed)
    for i in range(count):
        yield {
            "sku": f"SKU-{seed:02d}-{i:07d}",
            "name": f"{rng.choice(_NAMES)} #{rng.randrange(10_000)}",
            "qty": str(rng.randrange(1, 500)),
            "price": f"{rng.randrange(100, 500_000) / 100:.2f}",
            "email": f"buyer{rng.randrange(100_000)}@example.com",
            "notes": rng.choice(_NOTES),
        }


def add_submitted_batch(emulator: Emulator, rows: int, seed: int, chunk: int = 10_000) -> str:
    """A submitted batch with `rows` rows (added in chunks: add_rows returns a copy of what it added)."""
    batch_id: str = emulator.state.add_batch(status="submitted")["id"]
    source = mapped_rows(rows, seed)
    for start in range(0, rows, chunk):
        emulator.state.add_rows(batch_id, [next(source) for _ in range(min(chunk, rows - start))])
    return batch_id


@dataclass(frozen=True)
class Batches:
    warmup: str
    small: str
    big: str
    few: tuple[str, ...]
    one_page: str


def add_batches(emulator: Emulator) -> Batches:
    return Batches(
        warmup=add_submitted_batch(emulator, 100, seed=1),
        small=add_submitted_batch(emulator, SMALL_ROWS, seed=2),
        big=add_submitted_batch(emulator, BIG_ROWS, seed=3),
        few=tuple(add_submitted_batch(emulator, FEW_ROWS, seed=10 + i) for i in range(FEW_BATCHES)),
        one_page=add_submitted_batch(emulator, ONE_PAGE_ROWS, seed=4),
    )


def snapshots(emulator: Emulator, batch_ids: list[str]) -> dict[str, Any]:
    """What the poller's job says of each batch (`BatchSnapshot`), as JSON: the worker's jobs carry it."""
    return {batch_id: BatchSnapshot.of_batch(emulator.state.batch(batch_id)).to_dict() for batch_id in batch_ids}


# -- the exporter's child process ------------------------------------------------------------------------


def run_worker(stack: LocalRun, warmup: str, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run `tasks` in a fresh process (this file with --worker) and return its results."""
    spec = {
        "env": function_env(stack, "ExporterFunction", PART_MAX_ROWS=str(PART_MAX_ROWS),
                            FLATFILE_PAGE_SIZE=str(PAGE_SIZE)),
        "secret": stack.emulator.secret,
        "warmup": warmup,
        "tasks": tasks,
        "snapshots": snapshots(stack.emulator, sorted({b for task in tasks for b in task["batches"]})),
    }
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker"],
        input=json.dumps(spec), capture_output=True, text=True, timeout=WORKER_TIMEOUT, check=False,
        env=dict(os.environ), cwd=ROOT,  # LocalRun pointed AWS_ENDPOINT_URL at moto
    )
    if done.returncode != 0:
        raise BenchError(f"worker failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    results: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def sequential_loop(base_url: str, secret: dict[str, str], batch_ids: list[str]) -> dict[str, Any]:
    """The naive puller: one `requests` session, one page after the other, each parsed and discarded."""
    with requests.Session() as session:
        answer = session.post(f"{base_url}/auth/access-key/exchange", timeout=30, json={
            "accessKeyId": secret["accessKeyId"], "secretAccessKey": secret["secretAccessKey"], "expiresIn": 3600})
        headers = {"Authorization": f"Bearer {answer.json()['accessToken']}"}
        started = time.perf_counter()
        rows = 0
        for batch_id in batch_ids:
            skip = 0
            while True:
                page = session.get(f"{base_url}/rest/batch/{batch_id}/rows", params={"skip": skip, "take": PAGE_SIZE},
                                   headers=headers, timeout=30).json()
                rows += len(page["data"])
                skip += len(page["data"])
                if not page["data"] or skip >= page["pagination"]["totalCount"]:
                    break
        return {"seconds": time.perf_counter() - started, "rows": rows}


def worker() -> int:
    """The child side: warm up with a replay of the tiny batch (or the Platform's warm-up job), then run each task
    and print the results."""
    spec = json.loads(sys.stdin.read())
    if spec.get("source") == "platform":
        print(json.dumps(platform_worker(spec)))
        return 0
    settings = Settings.from_env(spec["env"])
    clients = AwsClients()
    ledger = Ledger(settings.ledger_table, clients.dynamodb)
    with FlatfileClient(settings.flatfile_base_url, Credentials.from_secret(spec["secret"]), auth=settings.auth_mode,
                        timeout=settings.request_timeout, row_prefetch=settings.row_prefetch) as client:

        def export(batch_ids: list[str]) -> dict[str, Any]:
            started = time.perf_counter()
            rows = parts = 0
            for batch_id in batch_ids:
                snapshot = spec["snapshots"].get(batch_id)
                job = ExportJob.create(batch_id, trigger="replay",
                                       batch=BatchSnapshot.model_validate(snapshot) if snapshot else None)
                outcome = export_batch(job, client, clients.s3, clients.sqs, ledger, settings, Deadline.never(),
                                       owner=f"bench-{uuid.uuid4()}", events=clients.events)
                if outcome.status != EXPORTED:
                    raise BenchError(f"export of {batch_id} ended {outcome.status!r}: {outcome.detail}")
                rows += outcome.row_count or 0
                parts += outcome.parts_written
            return {"seconds": time.perf_counter() - started, "rows": rows, "parts": parts}

        export([spec["warmup"]])
        results = []
        for task in spec["tasks"]:
            gc.collect()
            if task["kind"] == "loop":
                results.append(sequential_loop(settings.flatfile_base_url, spec["secret"], task["batches"]))
            elif task["kind"] == "export":
                results.append(export(task["batches"]))
            else:  # "export-traced": peak of what the export allocates, on top of the warm process
                tracemalloc.start()
                result = export(task["batches"])
                result["peak"] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                results.append(result)
    print(json.dumps(results))
    return 0


# -- the Flatfile Platform's side ----------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformSheets:
    """The generated workbooks of the Platform rows (one sheet each) and the space they live in."""

    space: str
    small: str
    big: str
    ten_thousand: str


def add_platform_workbooks(emulator: Emulator) -> PlatformSheets:
    platform = emulator.platform
    space = platform.add_space("Bench")["id"]

    def workbook(name: str, records: int) -> str:
        return str(platform.add_generated_workbook(name, [records], space_id=space)["id"])

    return PlatformSheets(space, workbook("Small", SMALL_ROWS), workbook("Big", BIG_ROWS),
                          workbook("Ten thousand", PLATFORM_PAGE_SIZE))


def warmup_job(emulator: Emulator) -> str:
    """A ready job of a tiny workbook in a space of its own (each worker exports one first)."""
    platform = emulator.platform
    space = platform.add_space("Warm-up")["id"]
    return str(platform.submit(platform.add_generated_workbook("Warm-up", [100], space_id=space)["id"])["id"])


def run_platform_worker(stack: LocalRun, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`run_worker` for Platform tasks (a fresh process that first exports a warm-up job)."""
    spec = {
        "source": "platform",
        "env": function_env(stack, "ExporterFunction", PART_MAX_ROWS=str(PLATFORM_PART_MAX_ROWS),
                            FLATFILE_PLATFORM_URL=stack.emulator.platform_url),
        "secret": stack.emulator.platform_secret,
        "warmup": warmup_job(stack.emulator),
        "tasks": tasks,
    }
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker"], input=json.dumps(spec), capture_output=True,
        text=True, timeout=WORKER_TIMEOUT, check=False, env=dict(os.environ), cwd=ROOT,
    )
    if done.returncode != 0:
        raise BenchError(f"Platform worker failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    results: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def platform_loop(base_url: str, secret_key: str, sheet_id: str) -> dict[str, Any]:
    """The naive puller on the Platform: one `requests` session, the sheet's record pages one after the other (of
    10,000, messages included, as the export asks), each parsed and discarded, until the length the first page
    announced is read."""
    with requests.Session() as session:
        headers = {"Authorization": f"Bearer {secret_key}"}
        started, cpu = time.perf_counter(), time.process_time()
        records, number, total = 0, 1, None
        while total is None or records < total:
            params: dict[str, Any] = {"pageSize": PLATFORM_PAGE_SIZE, "pageNumber": number, "includeMessages": "true"}
            if number == 1:
                params["includeLength"] = "true"
            data = session.get(f"{base_url}/sheets/{sheet_id}/records", params=params, headers=headers,
                               timeout=120).json()["data"]
            total = data["counts"]["total"] if number == 1 else total
            if not data["records"]:
                break
            records += len(data["records"])
            number += 1
        return {"seconds": time.perf_counter() - started, "rows": records, "cpu": time.process_time() - cpu}


def platform_worker(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The child side of the Platform rows: export the warm-up job, then run each task."""
    settings = Settings.from_env(spec["env"])
    clients = AwsClients()
    ledger = Ledger(settings.ledger_table, clients.dynamodb)
    secret = spec["secret"]
    account = PlatformAccount(secret["platformSecretKey"], secret["platformEnvironmentId"])
    with PlatformClient(settings.platform_base_url, account, timeout=settings.request_timeout,
                        record_prefetch=settings.row_prefetch) as client:

        def export(job_ids: list[str]) -> dict[str, Any]:
            started, cpu = time.perf_counter(), time.process_time()
            rows = 0
            for job_id in job_ids:
                outcome = export_platform_job(ExportJob.create(job_id, trigger="schedule"), client, clients.s3,
                                              clients.sqs, ledger, settings, Deadline.never(),
                                              owner=f"bench-{uuid.uuid4()}", events=clients.events)
                if outcome.status != EXPORTED:
                    raise BenchError(f"export of job {job_id} ended {outcome.status!r}: {outcome.detail}")
                rows += outcome.row_count or 0
            return {"seconds": time.perf_counter() - started, "rows": rows, "cpu": time.process_time() - cpu}

        export([spec["warmup"]])
        results = []
        for task in spec["tasks"]:
            gc.collect()
            if task["kind"] == "loop":
                results.append(platform_loop(settings.platform_base_url, account.secret_key, task["sheet"]))
            elif task["kind"] == "export":
                results.append(export(task["jobs"]))
            else:  # "export-traced"
                tracemalloc.start()
                result = export(task["jobs"])
                result["peak"] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                results.append(result)
    return results


def measure_platform(stack: LocalRun, sheets: PlatformSheets, latency: float, results: dict[str, Any]) -> list[Check]:
    """Speed, requests per job and memory of a Platform export at one latency."""
    emulator, platform = stack.emulator, stack.emulator.platform
    emulator.set(latency=latency)
    label = f"{latency * 1000:.0f} ms: Platform"
    big_sheet = platform.sheet_ids(sheets.big)[0]
    [loop] = run_platform_worker(stack, [{"kind": "loop", "sheet": big_sheet}])
    job = str(platform.submit(sheets.big)["id"])
    [export] = run_platform_worker(stack, [{"kind": "export", "jobs": [job]}])
    requests_per_job = _requests_of(emulator, job, sheets.big, sheets.space)
    jobs = [str(platform.submit(workbook)["id"]) for workbook in (sheets.small, sheets.big)]
    peaks = [run_platform_worker(stack, [{"kind": "export-traced", "jobs": [job_id]}])[0] for job_id in jobs]
    speedup = loop["seconds"] / export["seconds"]
    ratio = peaks[1]["peak"] / peaks[0]["peak"]
    pages = -(-BIG_ROWS // PLATFORM_PAGE_SIZE)
    reports = (pages - 1) // PROGRESS_PAGES
    results[label] = {"latencySeconds": latency, "records": BIG_ROWS, "exportSeconds": export["seconds"],
                      "loopSeconds": loop["seconds"], "exportCpuSeconds": export["cpu"], "loopCpuSeconds": loop["cpu"],
                      "requestsPerJob": requests_per_job,
                      "peakBytes": {str(SMALL_ROWS): peaks[0]["peak"], str(BIG_ROWS): peaks[1]["peak"]}}
    checks = [
        Check(f"{label} export {BIG_ROWS:,} records", f"{BIG_ROWS / export['seconds']:,.0f} records/s "
              f"({export['seconds']:.1f} s)"),
        Check(f"{label} sequential loop, same pages", f"{BIG_ROWS / loop['seconds']:,.0f} records/s "
              f"({loop['seconds']:.1f} s)"),
        Check(f"{label} process CPU time: export / loop", f"{export['cpu']:.1f} / {loop['cpu']:.1f} s"),
        _speed_check(label, latency, speedup),
        Check(f"{label} requests per job (one sheet of {BIG_ROWS:,})", f"{requests_per_job}",
              f"= {PLATFORM_JOB_REQUESTS} + {pages} pages + {reports} progress",
              requests_per_job == PLATFORM_JOB_REQUESTS + pages + reports),
        Check(f"{label} peak memory {SMALL_ROWS:,} / {BIG_ROWS:,} records",
              f"{peaks[0]['peak'] / MiB:.1f} / {peaks[1]['peak'] / MiB:.1f} MiB"),
        Check(f"{label} peak memory ratio (records x{BIG_ROWS // SMALL_ROWS})", f"{ratio:.2f}",
              f"< {MAX_PEAK_RATIO:g}", ratio < MAX_PEAK_RATIO),
    ]
    if latency == 0:
        checks.append(measure_one_page_job(stack, sheets, results))
    return checks


def measure_one_page_job(stack: LocalRun, sheets: PlatformSheets, results: dict[str, Any]) -> Check:
    """The requests of a one-sheet job of 10,000 records (one record page, read without a lock): at most 8 in all
    (issue 15's budget; 7 today: job, ack, workbook, records, counts, space, complete)."""
    job = str(stack.emulator.platform.submit(sheets.ten_thousand)["id"])
    run_platform_worker(stack, [{"kind": "export", "jobs": [job]}])
    count = _requests_of(stack.emulator, job, sheets.ten_thousand, sheets.space)
    results["platformOnePageJobRequests"] = count
    return Check(f"Platform requests per job (one sheet of {PLATFORM_PAGE_SIZE:,} records)", f"{count}",
                 f"<= {MAX_ONE_PAGE_JOB_REQUESTS}", count <= MAX_ONE_PAGE_JOB_REQUESTS)


def _requests_of(emulator: Emulator, job_id: str, workbook_id: str, space_id: str) -> int:
    """The Platform requests of one job's export: to its job, its workbook, its sheets (records, locks) and its
    space, from the job's first request to its last (workers export one job at a time)."""
    platform = emulator.platform
    own = (f"/v1/jobs/{job_id}", f"/v1/workbooks/{workbook_id}", f"/v1/spaces/{space_id}",
           *(f"/v1/sheets/{sheet_id}" for sheet_id in platform.sheet_ids(workbook_id)))
    log = [record for record in emulator.request_log if record.path.startswith(own)]
    moments = [record.at for record in log if record.path.startswith(f"/v1/jobs/{job_id}")]
    return sum(1 for record in log if min(moments) <= record.at <= max(moments))


def _speed_check(label: str, latency: float, speedup: float) -> Check:
    if latency in MIN_SPEEDUP:
        minimum = MIN_SPEEDUP[latency]
        return Check(f"{label} export speed ÷ loop speed", f"{speedup:.2f}x", f">= {minimum:g}x", speedup >= minimum)
    read_ratio = 1 / speedup
    return Check(f"{label} export time ÷ API read time (shared cores)", f"{read_ratio:.2f}", f"<= {MAX_READ_RATIO:g}",
                 read_ratio <= MAX_READ_RATIO)


# -- the measurements ------------------------------------------------------------------------------------


def measure_latency(stack: LocalRun, batches: Batches, latency: float, results: dict[str, Any]) -> list[Check]:
    """Speed, requests per batch and memory of the export at one latency."""
    stack.emulator.set(latency=latency)
    label = f"{latency * 1000:.0f} ms"
    few = list(batches.few)
    loop_big, loop_few = run_worker(stack, batches.warmup, [{"kind": "loop", "batches": [batches.big]},
                                                             {"kind": "loop", "batches": few}])
    stack.emulator.clear_request_log()
    export_big, export_few = run_worker(stack, batches.warmup, [{"kind": "export", "batches": [batches.big]},
                                                                 {"kind": "export", "batches": few}])
    requests_per_batch = sum(len(stack.emulator.requests_to(f"/rest/batch/{batch_id}")) for batch_id in few) / len(few)
    peaks = [run_worker(stack, batches.warmup, [{"kind": "export-traced", "batches": [batch_id]}])[0]
             for batch_id in (batches.small, batches.big)]
    speedup = loop_big["seconds"] / export_big["seconds"]
    speedup_few = loop_few["seconds"] / export_few["seconds"]
    ratio = peaks[1]["peak"] / peaks[0]["peak"]
    pages = -(-FEW_ROWS // PAGE_SIZE)
    results[label] = {
        "latencySeconds": latency,
        "bigBatch": {"rows": BIG_ROWS, "exportSeconds": export_big["seconds"], "loopSeconds": loop_big["seconds"]},
        "fewBatches": {"batches": FEW_BATCHES, "rowsEach": FEW_ROWS, "exportSeconds": export_few["seconds"],
                       "loopSeconds": loop_few["seconds"], "requestsPerBatch": requests_per_batch},
        "peakBytes": {str(SMALL_ROWS): peaks[0]["peak"], str(BIG_ROWS): peaks[1]["peak"]},
    }
    checks = [
        Check(f"{label}: export {BIG_ROWS:,} rows", f"{BIG_ROWS / export_big['seconds']:,.0f} rows/s "
              f"({export_big['seconds']:.1f} s)"),
        Check(f"{label}: sequential loop, same pages", f"{BIG_ROWS / loop_big['seconds']:,.0f} rows/s "
              f"({loop_big['seconds']:.1f} s)"),
    ]
    if latency in MIN_SPEEDUP:
        minimum = MIN_SPEEDUP[latency]
        checks.append(Check(f"{label}: export speed ÷ loop speed", f"{speedup:.2f}x", f">= {minimum:g}x",
                            speedup >= minimum))
    else:
        read_ratio = 1 / speedup
        checks.append(Check(f"{label}: export time ÷ API read time (shared cores)", f"{read_ratio:.2f}",
                            f"<= {MAX_READ_RATIO:g}", read_ratio <= MAX_READ_RATIO))
    few_minimum = MIN_FEW_SPEEDUP.get(latency)
    checks += [
        Check(f"{label}: {FEW_BATCHES} x {FEW_ROWS:,} rows, one exporter, export ÷ loop speed",
              f"{speedup_few:.2f}x ({export_few['seconds']:.1f} s vs {loop_few['seconds']:.1f} s)",
              f">= {few_minimum:g}x" if few_minimum is not None else "",
              speedup_few >= few_minimum if few_minimum is not None else None),
        Check(f"{label}: Flatfile requests per {FEW_ROWS:,}-row batch", f"{requests_per_batch:.2f}",
              f"= 1 + {pages} pages", requests_per_batch == 1 + pages),
        Check(f"{label}: peak memory {SMALL_ROWS:,} / {BIG_ROWS:,} rows",
              f"{peaks[0]['peak'] / MiB:.1f} / {peaks[1]['peak'] / MiB:.1f} MiB"),
        Check(f"{label}: peak memory ratio (rows x{BIG_ROWS // SMALL_ROWS})", f"{ratio:.2f}", f"< {MAX_PEAK_RATIO:g}",
              ratio < MAX_PEAK_RATIO),
    ]
    if latency == 0:
        checks.append(measure_one_page_batch(stack, batches, results))
    return checks


def measure_one_page_batch(stack: LocalRun, batches: Batches, results: dict[str, Any]) -> Check:
    """The Flatfile requests of a one-page batch's export (a job with the poller's snapshot): at most 2."""
    stack.emulator.clear_request_log()
    run_worker(stack, batches.warmup, [{"kind": "export", "batches": [batches.one_page]}])
    count = len(stack.emulator.requests_to(f"/rest/batch/{batches.one_page}"))
    results["onePageBatchRequests"] = count
    return Check(f"Flatfile requests per one-page batch ({ONE_PAGE_ROWS:,} rows)", f"{count}",
                 f"<= {MAX_ONE_PAGE_REQUESTS}", count <= MAX_ONE_PAGE_REQUESTS)


def measure_idle_poll(stack: LocalRun, results: dict[str, Any]) -> list[Check]:
    """Requests of a baseline poll over POLL_BATCHES batches, and of an idle poll after it (nothing pending)."""
    rng = random.Random(5)
    statuses: list[str | None] = ["submitted"] * (POLL_BATCHES - 20) + ["cancelled"] * 20
    rng.shuffle(statuses)
    now = datetime.now(UTC)
    stack.deployment.empty()
    with Emulator(EmulatorConfig(seed=11, samples=False), host="127.0.0.1", port=0) as emulator:
        for index, status in enumerate(statuses):
            emulator.state.add_batch(status=status, created_at=now - timedelta(minutes=5 * (index + 1)))
        env = function_env(stack, "PollerFunction", emulator, FLATFILE_BATCH_PAGE_SIZE=str(POLL_PAGE_SIZE))
        settings = Settings.from_env(env)
        clients = AwsClients()
        ledger = Ledger(settings.ledger_table, clients.dynamodb)
        with FlatfileClient(emulator.url, Credentials.from_secret(emulator.secret), auth=settings.auth_mode,
                            batch_page_size=settings.batch_page_size) as client:
            counts = []
            for label in ("baseline", "idle"):
                emulator.clear_request_log()
                report = poll(client, ledger, clients.sqs, settings, Deadline.never())
                counts.append((len(emulator.requests_to("/rest/batches")), len(emulator.request_log)))
                expected = statuses.count("submitted") if label == "baseline" else 0
                walked = report.reached_end if label == "baseline" else report.complete
                if not walked or len(report.jobs_sent) != expected:
                    raise BenchError(f"{label} poll: {report.as_dict()} (expected {expected} jobs)")
    stack.deployment.empty()
    (baseline, baseline_all), (idle, idle_all) = counts
    results["poll"] = {"baselineListRequests": baseline, "idleListRequests": idle,
                       "baselineRequests": baseline_all, "idleRequests": idle_all}
    return [
        Check(f"baseline poll: list requests ({POLL_BATCHES} batches, pages of {POLL_PAGE_SIZE})", f"{baseline}"),
        Check("idle poll, nothing pending: Flatfile requests", f"{idle_all}", f"<= {MAX_IDLE_REQUESTS}",
              idle_all <= MAX_IDLE_REQUESTS),
    ]


def measure_late_imports(stack: LocalRun, results: dict[str, Any]) -> list[Check]:
    """Requests per idle poll and the worst-case delay of a late import, with LATE_ABANDONED imports pending."""
    checks = []
    results["lateImports"] = {"abandoned": LATE_ABANDONED, "createdOverDays": LATE_DAYS,
                              "submittedAbove": LATE_SUBMITTED, "scheduleMinutes": SCHEDULE.total_seconds() / 60,
                              "polls": LATE_POLLS, "byPageSize": {}}
    for page_size in LATE_PAGE_SIZES:
        found = late_imports(stack, page_size)
        results["lateImports"]["byPageSize"][str(page_size)] = found
        label = f"{LATE_ABANDONED:,} abandoned, list pages of {page_size}"
        worst = timedelta(seconds=found["worstDelaySeconds"])
        checks += [
            Check(f"{label}: Flatfile requests per idle poll, mean / max",
                  f"{found['meanRequests']:.1f} / {found['maxRequests']}"),
            Check(f"{label}: worst-case delay (longest time a pending batch went unseen)", _minutes(worst),
                  f"<= {_minutes(MAX_LATE_DELAY)}", worst <= MAX_LATE_DELAY),
            Check(f"{label}: that batch submitted late, queued after", _minutes(timedelta(
                seconds=found["lateImportDelaySeconds"])), f"<= {_minutes(MAX_LATE_DELAY)}",
                  found["lateImportDelaySeconds"] <= MAX_LATE_DELAY.total_seconds()),
        ]
    return checks


def late_imports(stack: LocalRun, page_size: int) -> dict[str, Any]:
    """One simulated run of LATE_POLLS polls (see the module docstring) with batch-list pages of `page_size`."""
    rng = random.Random(17)
    start = datetime.now(UTC)
    stack.deployment.empty()
    with Emulator(EmulatorConfig(seed=17, samples=False), host="127.0.0.1", port=0) as emulator:
        abandoned = [emulator.state.add_batch(None, created_at=start - timedelta(days=LATE_DAYS * rng.random()))["id"]
                     for _ in range(LATE_ABANDONED)]
        for index in range(LATE_SUBMITTED):  # newer than every abandoned import
            emulator.state.add_batch("submitted", created_at=start - timedelta(minutes=index + 1))
        env = function_env(stack, "PollerFunction", emulator, FLATFILE_BATCH_PAGE_SIZE=str(page_size))
        settings = Settings.from_env(env)
        clients = AwsClients()
        ledger = Ledger(settings.ledger_table, clients.dynamodb)
        with FlatfileClient(emulator.url, Credentials.from_secret(emulator.secret), auth=settings.auth_mode,
                            batch_page_size=page_size, row_prefetch=settings.row_prefetch) as client:

            def poll_at(moment: datetime) -> Any:
                emulator.clear_request_log()
                report = poll(client, ledger, clients.sqs, settings, Deadline.never(), now=moment)
                if not report.complete:
                    raise BenchError(f"poll at {moment}: {report.as_dict()}")
                looked = set(abandoned) if report.reached_end else {
                    record.path.rsplit("/", 1)[1] for record in emulator.requests_to("/rest/batch/")}
                return report, looked, len(emulator.request_log)

            baseline, _, _ = poll_at(start)
            note(f"  pages of {page_size}: baseline poll done ({baseline.pages} pages)")
            if baseline.pending != LATE_ABANDONED:
                raise BenchError(f"baseline poll: {baseline.as_dict()}")
            last_look = dict.fromkeys(abandoned, start)
            gaps: list[timedelta] = []
            requests_per_poll: list[int] = []
            walks = 0
            moment = start
            for number in range(1, LATE_POLLS + 1):
                moment = start + number * SCHEDULE
                report, looked, requests = poll_at(moment)
                requests_per_poll.append(requests)
                walks += bool(report.reached_end)
                for batch_id in looked & last_look.keys():
                    gaps.append(moment - last_look[batch_id])
                    last_look[batch_id] = moment
            note(f"  pages of {page_size}: {LATE_POLLS} polls done ({walks} full walks)")
            gaps += [moment - at for at in last_look.values()]  # still waiting at the end: at least that long
            late = min(last_look, key=last_look.__getitem__)  # the batch looked at longest ago
            emulator.state.set_status(late, "submitted")
            while True:
                moment += SCHEDULE
                report, _, _ = poll_at(moment)
                if late in report.jobs_sent:
                    break
                if moment - last_look[late] > 2 * MAX_LATE_DELAY:
                    raise BenchError(f"late import {late} not queued by {moment}")
    stack.deployment.empty()
    return {"listPages": baseline.pages, "meanRequests": sum(requests_per_poll) / len(requests_per_poll),
            "maxRequests": max(requests_per_poll), "fullWalks": walks,
            "worstDelaySeconds": max(gaps).total_seconds(),
            "lateImportDelaySeconds": (moment - last_look[late]).total_seconds()}


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:.0f} min"


_IMPORT_CODE = """
import importlib.util, sys, time
started = time.perf_counter()
if sys.argv[1] != "-":
    spec = importlib.util.spec_from_file_location("app", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
import boto3
for name in sys.argv[2:]:
    boto3.client(name)
print(time.perf_counter() - started)
"""


def import_seconds(stack: LocalRun, function: str | None, clients: tuple[str, ...], tracing: bool,
                   layer: Path | None = None) -> float:
    """The median of IMPORT_ROUNDS fresh interpreters: import the handler (or nothing) and boto3, create `clients`;
    the library from `layer` when given (`compiled_library`)."""
    name = f"{function.capitalize()}Function" if function else "ExporterFunction"
    env = {**os.environ, **function_env(stack, name), "AWS_DEFAULT_REGION": "us-east-1",
           "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true"}
    if layer is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(layer), env.get("PYTHONPATH"))))
    app = "-"
    if function:
        app = str(ROOT / "functions" / function / "app.py")
        env["LAMBDA_TASK_ROOT"] = str(ROOT / "functions" / function)  # as in Lambda: tracing applies
    seconds = []
    for _ in range(IMPORT_ROUNDS + 1):  # the first run warms the file cache
        done = subprocess.run([sys.executable, "-c", _IMPORT_CODE, app, *clients], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=120, check=False)
        if done.returncode != 0:
            raise BenchError(f"importing {function or 'boto3'} failed:\n{done.stderr[-2000:]}")
        seconds.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(seconds[1:])


@contextmanager
def compiled_library() -> Iterator[Path]:
    """The library as the built layer ships it (layers/relay/Makefile): a copy with `unchecked-hash` bytecode."""
    with tempfile.TemporaryDirectory(prefix="flatfile-relay-layer-") as folder:
        shutil.copytree(ROOT / "layers" / "relay" / "flatfile_relay", Path(folder) / "flatfile_relay",
                        ignore=shutil.ignore_patterns("__pycache__"))
        if not compileall.compile_dir(folder, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH):
            raise BenchError("the library does not compile")
        yield Path(folder)


def measure_imports(stack: LocalRun, results: dict[str, Any]) -> list[Check]:
    checks = []
    results["imports"] = {}
    with compiled_library() as layer:
        for function, clients in HANDLER_CLIENTS.items():
            checks += _import_checks(stack, function, clients, layer, results)
    return checks


def _import_checks(stack: LocalRun, function: str, clients: tuple[str, ...], layer: Path, results: dict[str, Any]
                   ) -> list[Check]:
    bare = import_seconds(stack, None, clients, tracing=False)
    off = import_seconds(stack, function, clients, tracing=False, layer=layer)
    on = import_seconds(stack, function, clients, tracing=True, layer=layer)
    results["imports"][function] = {"bareBoto3Seconds": bare, "tracingOffSeconds": off, "tracingOnSeconds": on}
    return [
        Check(f"{function} import ÷ bare boto3 + {len(clients)} client(s), tracing off",
              f"{off / bare:.2f} ({off * 1000:.0f} vs {bare * 1000:.0f} ms)", f"<= {MAX_IMPORT_RATIO:g}",
              off / bare <= MAX_IMPORT_RATIO),
        Check(f"{function} import ÷ bare boto3, tracing on", f"{on / bare:.2f} ({on * 1000:.0f} ms)"),
    ]


# -- the report ------------------------------------------------------------------------------------------


def table(checks: list[Check]) -> str:
    rows = [("metric", "value", "target", "ok")]
    rows += [(c.metric, c.value, c.target or "(info)", "" if c.ok is None else "ok" if c.ok else "NOT OK")
             for c in checks]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def note(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version()}


def main(platform_only: bool = False) -> int:
    """The whole benchmark (bench/results.json written), or only its Platform rows (`--platform`: printed)."""
    started = time.monotonic()
    results: dict[str, Any] = {}
    try:
        checks = measure_platform_only(results) if platform_only else measure_all(results)
    except BenchError as error:
        print(f"bench: could not measure: {error}", file=sys.stderr)
        return 1
    seconds = time.monotonic() - started
    prefetch = Settings.from_env({}).row_prefetch
    print(table(checks))
    print(f"\ntook {seconds:.0f} s on {machine()['cpus']} CPU(s); FLATFILE_ROW_PREFETCH={prefetch}, "
          f"FLATFILE_PAGE_SIZE={PAGE_SIZE}, PART_MAX_ROWS={PART_MAX_ROWS}; Platform: record pages of "
          f"{PLATFORM_PAGE_SIZE:,}, PART_MAX_ROWS={PLATFORM_PART_MAX_ROWS:,}")
    missed = [c.metric for c in checks if c.ok is False]
    if platform_only:
        return 1 if missed else 0
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "measuredAt": datetime.now(UTC).isoformat(timespec="seconds"), "seconds": round(seconds),
        "machine": machine(), "rowPrefetch": prefetch, "pageSize": PAGE_SIZE, "partMaxRows": PART_MAX_ROWS,
        "results": results, "table": [asdict(check) for check in checks],
    }, indent=2) + "\n")
    if missed:
        print(f"missed: {'; '.join(missed)}", file=sys.stderr)
    return 1 if missed else 0


def measure_all(results: dict[str, Any]) -> list[Check]:
    with local_run() as stack:
        note("idle poll")
        checks = measure_idle_poll(stack, results)
        note(f"late imports: {LATE_ABANDONED:,} abandoned, {LATE_POLLS} polls at each page size")
        checks += measure_late_imports(stack, results)
        note("handler imports")
        checks += measure_imports(stack, results)
        note(f"adding {SMALL_ROWS + BIG_ROWS + FEW_BATCHES * FEW_ROWS:,} rows to the emulator")
        batches = add_batches(stack.emulator)
        for latency in LATENCIES:
            note(f"export at {latency * 1000:.0f} ms per request")
            checks += measure_latency(stack, batches, latency, results)
        checks += measure_platform_latencies(stack, results)
    return checks


def measure_platform_only(results: dict[str, Any]) -> list[Check]:
    with local_run() as stack:
        return measure_platform_latencies(stack, results)


def measure_platform_latencies(stack: LocalRun, results: dict[str, Any]) -> list[Check]:
    sheets = add_platform_workbooks(stack.emulator)
    checks: list[Check] = []
    for latency in LATENCIES:
        note(f"Platform export at {latency * 1000:.0f} ms per request")
        checks += measure_platform(stack, sheets, latency, results)
    return checks


if __name__ == "__main__":
    arguments = sys.argv[1:]
    sys.exit(worker() if arguments == ["--worker"] else main(platform_only=arguments == ["--platform"]))
