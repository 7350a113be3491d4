"""Speed and memory benchmark of the relay (`make bench`): ratios measured in one run, never absolute timings.

Everything is real and on 127.0.0.1: template.yaml's resources in a moto server, the bundled Flatfile emulator
over HTTP, and the library's own `export_batch` and `poll`. The emulator and moto run in this process; every
exporter measurement runs in a fresh child process (this file with `--worker`), so the child's memory holds
the exporter's work only — not the emulator's rows nor moto's stored objects. Each child first replays a
tiny batch (every import, connection, token and code path warmed), then measures.

1. Memory: a child per batch size exports N and then 10 N realistic rows (PART_MAX_ROWS = N/4, so 4 and 40
   parts); `tracemalloc` runs only around `export_batch`, and its peak is what the export itself allocated
   on top of the warm process. Bounded memory means a peak ratio close to 1 while the rows grow tenfold;
   the extra peak bytes per extra row show how much, if anything, grows with the batch (a row kept in
   memory would cost hundreds of bytes; a few bytes are per-part records and garbage awaiting the
   cycle collector).
2. Speed: a child reads the big batch through `FlatfileClient.iter_row_pages` (the API read alone) and
   exports it again (a replay), alternately, ROUNDS times, untraced; the best of each is kept. The ratio
   export ÷ read is the cost of JSON Lines + gzip + sha256 + S3 uploads + ledger on top of the read.
3. Idle poll: a baseline poll walks 500 batches (pages of 100) with a fresh client; a second poll with the
   same client (a warm container) and nothing new must stop after the first page. The emulator's request
   log counts the list requests of each.

Prints a table (metric, value, target, ok); exits 1 when a target is missed. Not part of `make test`.

    .venv/bin/python -m tests.bench        # from the project folder (what `make bench` runs)
"""

from __future__ import annotations

import gc
import json
import os
import random
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flatfile_relay.aws import AwsClients
from flatfile_relay.credentials import Credentials
from flatfile_relay.deadline import Deadline
from flatfile_relay.exporter import EXPORTED, export_batch
from flatfile_relay.flatfile import FlatfileClient
from flatfile_relay.jobs import ExportJob
from flatfile_relay.ledger import Ledger
from flatfile_relay.poller import poll
from flatfile_relay.settings import Settings
from flatfile_relay_devkit.emulator import Emulator, EmulatorConfig
from flatfile_relay_devkit.local.moto import MotoServer
from flatfile_relay_devkit.local.runner import LocalRun

ROOT = Path(__file__).resolve().parents[1]

SMALL_ROWS = 20_000
BIG_ROWS = 10 * SMALL_ROWS
PART_MAX_ROWS = SMALL_ROWS // 4
PAGE_SIZE = 1000
ROUNDS = 2
POLL_BATCHES = 500
POLL_PAGE_SIZE = 100
WORKER_TIMEOUT = 120.0

MAX_PEAK_RATIO = 2.0
MAX_IDLE_LIST_REQUESTS = 1
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


# -- the exporter's child process ------------------------------------------------------------------------


def run_worker(stack: LocalRun, warmup: str, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run `tasks` in a fresh process (this file with --worker) and return its results."""
    spec = {
        "env": function_env(stack, "ExporterFunction", PART_MAX_ROWS=str(PART_MAX_ROWS),
                                  FLATFILE_PAGE_SIZE=str(PAGE_SIZE)),
        "secret": stack.emulator.secret,
        "warmup": warmup,
        "tasks": tasks,
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


def worker() -> int:
    """The child side: warm up with a replay of the tiny batch, then run each task and print the results."""
    spec = json.loads(sys.stdin.read())
    settings = Settings.from_env(spec["env"])
    clients = AwsClients()
    ledger = Ledger(settings.ledger_table, clients.dynamodb)
    with FlatfileClient(settings.flatfile_base_url, Credentials.from_secret(spec["secret"]), auth=settings.auth_mode,
                        timeout=settings.request_timeout) as client:

        def export(batch_id: str, trigger: str) -> dict[str, Any]:
            job = ExportJob.create(batch_id, trigger=trigger)
            started = time.perf_counter()
            outcome = export_batch(job, client, clients.s3, clients.sqs, ledger, settings, Deadline.never(),
                                   owner=f"bench-{uuid.uuid4()}", events=clients.events)
            seconds = time.perf_counter() - started
            if outcome.status != EXPORTED:
                raise BenchError(f"export of {batch_id} ended {outcome.status!r}: {outcome.detail}")
            return {"seconds": seconds, "rows": outcome.row_count, "parts": outcome.parts_written}

        def fetch(batch_id: str) -> dict[str, Any]:
            started = time.perf_counter()
            rows = sum(len(page.rows) for page in
                       client.iter_row_pages(batch_id, Deadline.never(), page_size=settings.page_size))
            return {"seconds": time.perf_counter() - started, "rows": rows}

        export(spec["warmup"], "replay")
        results = []
        for task in spec["tasks"]:
            gc.collect()
            if task["kind"] == "fetch":
                results.append(fetch(task["batch"]))
            elif task["kind"] == "export":
                results.append(export(task["batch"], task["trigger"]))
            else:  # "export-traced": peak of what the export allocates, on top of the warm process
                tracemalloc.start()
                result = export(task["batch"], task["trigger"])
                result["peak"] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                results.append(result)
    print(json.dumps(results))
    return 0


# -- the measurements ------------------------------------------------------------------------------------


def measure_export_memory(stack: LocalRun, warmup: str, small: str, big: str) -> list[Check]:
    """Peak allocations of export_batch for N and 10 N rows, each in a fresh process."""
    sized = []
    for batch_id in (small, big):
        (result,) = run_worker(stack, warmup, [{"kind": "export-traced", "batch": batch_id, "trigger": "schedule"}])
        sized.append(result)
    low, high = sized
    ratio = high["peak"] / low["peak"]
    per_row = (high["peak"] - low["peak"]) / (high["rows"] - low["rows"])
    rows_ratio = high["rows"] / low["rows"]
    return [
        Check(f"exporter peak memory, {low['rows']:,} rows ({low['parts']} parts)", f"{low['peak'] / MiB:.1f} MiB"),
        Check(f"exporter peak memory, {high['rows']:,} rows ({high['parts']} parts)",
              f"{high['peak'] / MiB:.1f} MiB"),
        Check(f"peak memory ratio (rows x{rows_ratio:g})", f"{ratio:.2f}", f"< {MAX_PEAK_RATIO:g}",
              ratio < MAX_PEAK_RATIO),
        Check("peak growth per extra row", f"{per_row:+.1f} B"),
    ]


def measure_export_speed(stack: LocalRun, warmup: str, big: str) -> list[Check]:
    """Rows/s of the big export, and its time relative to merely reading the same rows from the API."""
    tasks = [{"kind": "fetch", "batch": big}, {"kind": "export", "batch": big, "trigger": "replay"}] * ROUNDS
    results = run_worker(stack, warmup, tasks)
    fetch = min(r["seconds"] for r in results[0::2])
    export = min(r["seconds"] for r in results[1::2])
    rows = results[1]["rows"]
    return [
        Check(f"exporter throughput, {rows:,} rows", f"{rows / export:,.0f} rows/s"),
        Check("API read alone (iter_row_pages)", f"{rows / fetch:,.0f} rows/s"),
        Check("export time ÷ API read time", f"{export / fetch:.2f}"),
    ]


def measure_idle_poll(stack: LocalRun) -> list[Check]:
    """List requests of a baseline poll over POLL_BATCHES batches, and of an idle poll after it."""
    rng = random.Random(5)
    statuses: list[str | None] = ["submitted"] * (POLL_BATCHES - 20) + [None] * 10 + ["cancelled"] * 10
    rng.shuffle(statuses)
    now = datetime.now(UTC)
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
    (baseline, baseline_all), (idle, idle_all) = counts
    pages = -(-POLL_BATCHES // POLL_PAGE_SIZE)
    return [
        Check(f"baseline poll: list requests ({POLL_BATCHES} batches, pages of {POLL_PAGE_SIZE})", f"{baseline}"),
        Check("idle poll: list requests", f"{idle}", f"≤ {MAX_IDLE_LIST_REQUESTS}", idle <= MAX_IDLE_LIST_REQUESTS),
        Check("idle ÷ baseline list requests", f"{idle / baseline:.2f}", f"≤ 1/{pages}", idle * pages <= baseline),
        Check("all Flatfile requests, baseline / idle (token, pending re-checks)", f"{baseline_all} / {idle_all}"),
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


def main() -> int:
    started = time.monotonic()
    try:
        checks = measure_all()
    except BenchError as error:
        print(f"bench: could not measure: {error}", file=sys.stderr)
        return 1
    print(table(checks))
    print(f"\ntook {time.monotonic() - started:.0f} s; PART_MAX_ROWS={PART_MAX_ROWS}, FLATFILE_PAGE_SIZE={PAGE_SIZE}, "
          f"speed: best of {ROUNDS}")
    missed = [c.metric for c in checks if c.ok is False]
    if missed:
        print(f"missed: {'; '.join(missed)}", file=sys.stderr)
    return 1 if missed else 0


def measure_all() -> list[Check]:
    with local_run() as stack:
        note("idle poll")
        checks = measure_idle_poll(stack)
        note(f"adding {SMALL_ROWS + BIG_ROWS:,} rows to the emulator")
        warmup = add_submitted_batch(stack.emulator, 100, seed=1)
        small = add_submitted_batch(stack.emulator, SMALL_ROWS, seed=2)
        big = add_submitted_batch(stack.emulator, BIG_ROWS, seed=3)
        note("exporter memory (a process per batch)")
        checks += measure_export_memory(stack, warmup, small, big)
        note("exporter speed")
        checks += measure_export_speed(stack, warmup, big)
    return checks


if __name__ == "__main__":
    sys.exit(worker() if sys.argv[1:] == ["--worker"] else main())
