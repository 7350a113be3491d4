"""The emulated Platform's data: environments, spaces, workbooks, sheets, records, jobs, events and commits.

Every method takes the state's lock. The public methods (what tests and the samples call) return copies; the
``live_*`` ones hand the stored dicts to the API, which encodes them before letting go of the lock (no deep copy
per request). A change emits the events the Platform emits (``job:ready``, ``records:updated``, …).

Example:
    >>> state = PlatformState.with_samples(7)
    >>> job = state.submit(state.sample_id("products"))
    >>> job["status"], job["operation"], [event["topic"] for event in state.events()[-2:]]
    ('ready', 'submitActionFg', ['job:created', 'job:ready'])
    >>> state.acknowledge(job["id"], info="Exporting")["status"]
    'executing'
    >>> state.complete(job["id"], {"message": "Exported 25 records"})["outcome"]["message"]
    'Exported 25 records'
    >>> state.complete(job["id"], {"message": "again"})
    Traceback (most recent call last):
    ...
    flatfile_relay_devkit.emulator.platform.store.PlatformConflict: Job us_jb_... is already complete
"""

from __future__ import annotations

import copy
import itertools
import random
import string
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..samples import iso, parse_time
from .records import Record, RecordGenerator, SheetRecords, cell, record
from .samples import (
    PlatformAccount,
    build_platform_account,
    generated_sheet,
    load_platform_samples,
    submit_action,
)

__all__ = ["JOB_STATUSES", "PlatformConflict", "PlatformState", "SheetLocked"]

#: every status a job can have; `ready` waits for a listener, `executing` has one
JOB_STATUSES = ("created", "planning", "scheduled", "ready", "executing", "complete", "failed", "canceled", "waiting")
_ACKABLE = frozenset({"ready", "executing"})
_FINISHABLE = frozenset({"created", "planning", "scheduled", "ready", "executing", "waiting"})
_ALPHABET = string.ascii_lowercase + string.digits


class PlatformConflict(ValueError):
    """The change is not allowed in the resource's current state (the API answers 400)."""


class SheetLocked(PlatformConflict):
    """The sheet is locked by someone else: its records cannot be edited now."""


def _now() -> str:
    return iso(datetime.now(UTC))


def _moment(value: datetime | str | None) -> str:
    return _now() if value is None else iso(parse_time(value))


class PlatformState:
    """Thread-safe store of one Platform account: its environment (the key's) and a foreign one."""

    def __init__(self, account: PlatformAccount) -> None:
        self.account = account
        self.lock = threading.RLock()
        self.environments: dict[str, dict[str, Any]] = {}
        self.spaces: dict[str, dict[str, Any]] = {}
        self.workbooks: dict[str, dict[str, Any]] = {}
        self.sheets: dict[str, dict[str, Any]] = {}
        self.records: dict[str, SheetRecords] = {}
        self.commits: dict[str, list[dict[str, Any]]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.event_list: list[dict[str, Any]] = []
        self._job_order: dict[str, tuple[str, int]] = {}
        self._serial = itertools.count()
        self._labels: dict[str, str] = {}
        self._rng = random.Random(f"flatfile-emulator:{account.seed}:platform")
        self._page_hooks: list[Callable[[str, int], None]] = []
        self._skews: dict[str, tuple[dict[str, int], int | None]] = {}
        for environment in account.environments():
            self.environments[environment["id"]] = environment

    @classmethod
    def with_samples(cls, seed: int = 7, anchor: datetime | str | None = None) -> PlatformState:
        """A store holding the sample workbooks of ``seed`` (see :mod:`.samples`)."""
        state = cls(build_platform_account(seed))
        state.load_samples(anchor)
        return state

    def load_samples(self, anchor: datetime | str | None = None) -> None:
        """Add the sample spaces, workbooks and jobs, timestamps relative to ``anchor`` (default: today 00:00 UTC)."""
        load_platform_samples(self, parse_time(anchor) if anchor is not None else None)

    # -- ids and labels -------------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        """A fresh id such as ``us_wb_k3v9x0aa`` (deterministic for a seed and an order of creation)."""
        with self.lock:
            return f"us_{prefix}_" + "".join(self._rng.choice(_ALPHABET) for _ in range(8))

    @property
    def samples(self) -> dict[str, str]:
        """Sample label -> id (workbooks, sheets, spaces and jobs; see :data:`.samples.PLATFORM_LABELS`)."""
        with self.lock:
            return dict(self._labels)

    def sample_id(self, label: str) -> str:
        """The id a sample label names (``KeyError`` for an unknown label)."""
        with self.lock:
            return self._labels[label]

    def label(self, name: str, resource_id: str) -> None:
        """Make ``resource_id`` reachable as ``samples[name]``."""
        with self.lock:
            self._labels[name] = resource_id

    # -- containers -----------------------------------------------------------------------------------

    def add_space(self, name: str, *, user_info: Mapping[str, Any] | None = None, environment_id: str | None = None,
                  created_at: datetime | str | None = None, label: str | None = None) -> dict[str, Any]:
        """Create a space (``user_info`` goes to ``metadata.userInfo``, as embeds put it); returns a copy."""
        at = _moment(created_at)
        with self.lock:
            space_id = self.new_id("sp")
            space: dict[str, Any] = {
                "id": space_id, "environmentId": environment_id or self.account.environment_id,
                "name": name, "metadata": {"userInfo": dict(user_info)} if user_info is not None else {},
                "primaryWorkbookId": None, "workbooksCount": 0, "filesCount": 0, "labels": [],
                "guestAuthentication": ["magic_link"], "isCollaborative": False, "namespace": None,
                "createdByUserId": self.account.user_id, "createdAt": at, "updatedAt": at, "lastActivityAt": at,
            }
            self.spaces[space_id] = space
            self._emit("space:created", "space", self._context(space), {}, at)
            if label is not None:
                self._labels[label] = space_id
            return copy.deepcopy(space)

    def add_workbook(self, space_id: str, name: str, sheets: Sequence[Mapping[str, Any]], *,
                     actions: Sequence[Mapping[str, Any]] | None = None, created_at: datetime | str | None = None,
                     label: str | None = None) -> dict[str, Any]:
        """Create a workbook in a space with its sheets, each ``{"name", "slug", "fields", "records",
        "generator", "label"}`` (``records``: how many the generator makes; default: none). ``actions``
        defaults to one submit action (``submitActionFg``, foreground). Returns the workbook as the API shows it.
        """
        at = _moment(created_at)
        with self.lock:
            space = self.spaces[space_id]
            workbook = {
                "id": self.new_id("wb"), "name": name, "spaceId": space_id, "environmentId": space["environmentId"],
                "labels": [], "namespace": None, "metadata": {}, "settings": {"trackChanges": False},
                "actions": [dict(action) for action in (actions if actions is not None else [submit_action()])],
                "createdAt": at, "updatedAt": at,
            }
            self.workbooks[workbook["id"]] = workbook
            workbook["_sheets"] = [self._add_sheet(workbook, spec, at) for spec in sheets]
            space["workbooksCount"] += 1
            space["primaryWorkbookId"] = space["primaryWorkbookId"] or workbook["id"]
            self._emit("workbook:created", "workbook", self._context(workbook), {}, at)
            if label is not None:
                self._labels[label] = workbook["id"]
            return copy.deepcopy(self.live_workbook(workbook["id"]))

    def add_generated_workbook(self, name: str, sheet_records: Sequence[int], *, space_id: str | None = None,
                               invalid_every: int = 40, created_at: datetime | str | None = None,
                               label: str | None = None) -> dict[str, Any]:
        """A workbook of product sheets holding ``sheet_records[i]`` generated records each (built when read:
        200,000 cost nothing up front), every ``invalid_every``-th one invalid, in space ``space_id`` (default:
        the first space of the key's environment, created when there is none).

        Example:
            >>> state = PlatformState.with_samples(7)
            >>> workbook = state.add_generated_workbook("Big", [200_000, 3])
            >>> [sheet["recordCounts"]["total"] for sheet in workbook["sheets"]]
            [200000, 3]
        """
        at = _moment(created_at)
        with self.lock:
            if space_id is None:
                space_id = next((space for space, item in self.spaces.items()
                                 if item["environmentId"] == self.account.environment_id), None)
                space_id = space_id or self.add_space("Generated", created_at=at)["id"]
            sheets = [generated_sheet(f"Products {number}", f"products-{number}", count, at,
                                      invalid_every=invalid_every, salt=number)
                      for number, count in enumerate(sheet_records, start=1)]
            return self.add_workbook(space_id, name, sheets, created_at=at, label=label)

    def _add_sheet(self, workbook: dict[str, Any], spec: Mapping[str, Any], at: str) -> str:
        sheet_id = self.new_id("sh")
        fields = [dict(field) for field in spec["fields"]]
        config = {"name": spec["name"], "slug": spec["slug"], "fields": fields}
        self.sheets[sheet_id] = {
            "id": sheet_id, "workbookId": workbook["id"], "name": spec["name"], "slug": spec["slug"],
            "config": config, "metadata": {}, "namespace": None, "lockedBy": None, "lockedAt": None,
            "createdAt": at, "updatedAt": at,
        }
        generator: RecordGenerator | None = spec.get("generator")
        self.records[sheet_id] = SheetRecords(sheet_id[6:10], generator, int(spec.get("records", 0)))
        self.commits[sheet_id] = []
        self._emit("sheet:created", "sheet", self._context(self.sheets[sheet_id]), {}, at)
        if len(self.records[sheet_id]):
            self._commit(sheet_id, self.account.user_id, at, "records:created")
        if spec.get("label"):
            self._labels[str(spec["label"])] = sheet_id
        return sheet_id

    # -- live views for the API (lock held by the caller) -------------------------------------------

    def live_sheet(self, sheet_id: str) -> dict[str, Any]:
        """The sheet as the API shows it (a shallow copy with its current ``recordCounts``)."""
        return {**self.sheets[sheet_id], "recordCounts": self.records[sheet_id].counts()}

    def live_workbook(self, workbook_id: str) -> dict[str, Any]:
        """The workbook as the API shows it, its sheets in workbook order (a shallow copy)."""
        workbook = self.workbooks[workbook_id]
        view = {key: value for key, value in workbook.items() if key != "_sheets"}
        view["sheets"] = [self.live_sheet(sheet_id) for sheet_id in workbook["_sheets"]]
        return view

    def sheet_ids(self, workbook_id: str) -> list[str]:
        """The workbook's sheet ids, in workbook order."""
        with self.lock:
            return list(self.workbooks[workbook_id]["_sheets"])

    def environment_of(self, resource: Mapping[str, Any]) -> str:
        """The environment a space, workbook, sheet or job belongs to."""
        if "environmentId" in resource:
            return str(resource["environmentId"])
        return str(self.workbooks[resource["workbookId"]]["environmentId"])

    # -- copies for tests ----------------------------------------------------------------------------

    def workbook(self, workbook_id: str) -> dict[str, Any]:
        """A copy of the workbook as ``GET workbooks/{id}`` shows it."""
        with self.lock:
            return copy.deepcopy(self.live_workbook(workbook_id))

    def sheet(self, sheet_id: str) -> dict[str, Any]:
        """A copy of the sheet as ``GET sheets/{id}`` shows it."""
        with self.lock:
            return copy.deepcopy(self.live_sheet(sheet_id))

    def job(self, job_id: str) -> dict[str, Any]:
        """A copy of the job."""
        with self.lock:
            return copy.deepcopy(self.jobs[job_id])

    def events(self, topic: str | None = None) -> list[dict[str, Any]]:
        """Copies of the events emitted so far (of one topic), oldest first."""
        with self.lock:
            return [copy.deepcopy(event) for event in self.event_list if topic is None or event["topic"] == topic]

    def records_of(self, sheet_id: str, start: int = 0, stop: int | None = None) -> list[Record]:
        """Copies of the sheet's records (all, or ``start:stop``)."""
        with self.lock:
            records = self.records[sheet_id]
            return copy.deepcopy(records.page(start, len(records) if stop is None else stop))

    def counts(self, sheet_id: str) -> dict[str, int]:
        """``{"total", "valid", "error"}`` of the sheet."""
        with self.lock:
            return self.records[sheet_id].counts()

    def skew_counts(self, sheet_id: str, *, reads: int | None = None, **deltas: int) -> None:
        """Make ``GET sheets/{id}/counts`` disagree with the records: add ``deltas`` (``total=1``, ``valid=-1``...)
        to the next ``reads`` answers (``None``: for good; 0 ends a skew)."""
        with self.lock:
            self.live_sheet(sheet_id)
            self._skews[sheet_id] = (dict(deltas), reads)

    def served_counts(self, sheet_id: str) -> dict[str, int]:
        """The counts ``GET sheets/{id}/counts`` answers: :meth:`counts`, skewed by :meth:`skew_counts`."""
        with self.lock:
            counts = self.records[sheet_id].counts()
            deltas, reads = self._skews.get(sheet_id, ({}, 0))
            if reads is None or reads > 0:
                counts = {name: value + deltas.get(name, 0) for name, value in counts.items()}
                self._skews[sheet_id] = (deltas, None if reads is None else reads - 1)
            return counts

    def commits_of(self, sheet_id: str) -> list[dict[str, Any]]:
        """Copies of the sheet's commits, oldest first."""
        with self.lock:
            return copy.deepcopy(self.commits[sheet_id])

    # -- jobs ------------------------------------------------------------------------------------------

    def add_job(self, source: str, operation: str, *, type: str = "workbook", status: str = "ready",
                mode: str = "foreground", environment_id: str | None = None, info: str | None = None,
                created_at: datetime | str | None = None, label: str | None = None,
                **fields: Any) -> dict[str, Any]:
        """Create a job on ``source`` (a workbook id for ``type="workbook"``), emitting ``job:created`` and, when
        it is ``ready``, ``job:ready``; ``fields`` override any wire field. Returns a copy."""
        if status not in JOB_STATUSES:
            raise ValueError(f"unknown job status {status!r}; expected one of {JOB_STATUSES}")
        at = _moment(created_at)
        with self.lock:
            environment = environment_id or self._source_environment(type, source)
            job: dict[str, Any] = {
                "id": self.new_id("jb"), "type": type, "operation": operation, "source": source,
                "destination": None, "status": "created", "progress": 0, "info": info, "outcome": None,
                "mode": mode, "trigger": "immediate", "managed": True, "environmentId": environment,
                "input": {}, "subject": {"type": "resource", "id": source}, "metadata": {},
                "createdAt": at, "updatedAt": at, "startedAt": None, "finishedAt": None,
                "outcomeAcknowledgedAt": None,
            }
            job.update(fields)
            self.jobs[job["id"]] = job
            self._job_order[job["id"]] = (at, next(self._serial))
            self._emit_job("job:created", job, at)
            if status != "created":
                self._move(job, status, at)
            if label is not None:
                self._labels[label] = job["id"]
            return copy.deepcopy(job)

    def submit(self, workbook_id: str, operation: str = "submitActionFg", *, ready: bool = True,
               created_at: datetime | str | None = None) -> dict[str, Any]:
        """What pressing the workbook's action ``operation`` does: a job ``workbook:<operation>``, ``ready``
        for a listener (or left ``created`` with ``ready=False``). ``ValueError`` if the workbook has no such
        action."""
        with self.lock:
            workbook = self.workbooks[workbook_id]
            if operation not in {action.get("operation") for action in workbook["actions"]}:
                raise ValueError(f"workbook {workbook_id} has no action with operation {operation!r}")
            mode = next(a.get("mode") for a in workbook["actions"] if a.get("operation") == operation)
            return self.add_job(workbook_id, operation, status="ready" if ready else "created",
                                mode=mode or "foreground", created_at=created_at)

    def set_job_status(self, job_id: str, status: str) -> dict[str, Any]:
        """Move a job to any status (``ready`` emits ``job:ready``); returns a copy."""
        if status not in JOB_STATUSES:
            raise ValueError(f"unknown job status {status!r}; expected one of {JOB_STATUSES}")
        with self.lock:
            job = self.jobs[job_id]
            self._move(job, status, _now())
            return copy.deepcopy(job)

    def acknowledge(self, job_id: str, *, info: str | None = None, progress: int | None = None,
                    estimated_completion_at: str | None = None) -> dict[str, Any]:
        """``POST jobs/{id}/ack``: a ``ready`` job becomes ``executing``; an ``executing`` one takes the new info
        and progress (how a listener reports progress). ``PlatformConflict`` in any other status."""
        with self.lock:
            job = self.jobs[job_id]
            if job["status"] not in _ACKABLE:
                raise PlatformConflict(f"Job {job_id} cannot be acknowledged: it is {job['status']}")
            at = _now()
            if info is not None:
                job["info"] = info
            if progress is not None:
                job["progress"] = progress
            if estimated_completion_at is not None:
                job["estimatedCompletionAt"] = estimated_completion_at
            if job["status"] == "ready":
                job["startedAt"] = at
                job["status"] = "executing"
            job["updatedAt"] = at
            self._emit_job("job:updated", job, at)
            return copy.deepcopy(job)

    def complete(self, job_id: str, outcome: Mapping[str, Any] | None = None, info: str | None = None,
                 ) -> dict[str, Any]:
        """``POST jobs/{id}/complete``: the job ends ``complete`` with this outcome (``job:completed``);
        ``PlatformConflict`` once it has ended."""
        return self._finish(job_id, "complete", outcome, info, "job:completed")

    def fail(self, job_id: str, outcome: Mapping[str, Any] | None = None, info: str | None = None,
             ) -> dict[str, Any]:
        """``POST jobs/{id}/fail``: the job ends ``failed`` with this outcome (``job:failed``)."""
        return self._finish(job_id, "failed", outcome, info, "job:failed")

    def cancel(self, job_id: str, info: str | None = None) -> dict[str, Any]:
        """``POST jobs/{id}/cancel``: the job ends ``canceled`` (``job:updated``)."""
        return self._finish(job_id, "canceled", None, info, "job:updated")

    def _finish(self, job_id: str, status: str, outcome: Mapping[str, Any] | None, info: str | None,
                topic: str) -> dict[str, Any]:
        with self.lock:
            job = self.jobs[job_id]
            if job["status"] not in _FINISHABLE:
                raise PlatformConflict(f"Job {job_id} is already {job['status']}")
            at = _now()
            job.update(status=status, outcome=dict(outcome) if outcome is not None else None,
                       updatedAt=at, finishedAt=at)
            if status == "complete":
                job["progress"] = 100
            if info is not None:
                job["info"] = info
            self._emit_job(topic, job, at)
            return copy.deepcopy(job)

    def _move(self, job: dict[str, Any], status: str, at: str) -> None:
        job["status"] = status
        job["updatedAt"] = at
        if status == "executing" and job.get("startedAt") is None:
            job["startedAt"] = at
        if status in ("complete", "failed", "canceled"):
            job["finishedAt"] = at
        topics = {"ready": "job:ready", "complete": "job:completed", "failed": "job:failed"}
        self._emit_job(topics.get(status, "job:updated"), job, at)

    def _source_environment(self, type: str, source: str) -> str:
        for table in (self.workbooks, self.sheets, self.spaces):
            if source in table:
                return self.environment_of(table[source])
        if type == "workbook":
            raise KeyError(f"no workbook {source}")
        return self.account.environment_id

    def ordered_jobs(self, descending: bool) -> list[dict[str, Any]]:
        """The live jobs by ``createdAt`` (then creation order); lock held by the caller."""
        return sorted(self.jobs.values(), key=lambda job: self._job_order[job["id"]], reverse=descending)

    # -- sheets and records ------------------------------------------------------------------------------

    def lock_sheet(self, sheet_id: str, actor: str | None = None) -> None:
        """``POST sheets/{id}/lock``: end users can no longer edit the sheet (a second lock by the same actor is
        a no-op; ``PlatformConflict`` when another actor holds the lock)."""
        actor = actor or self.account.user_id
        with self.lock:
            sheet = self.sheets[sheet_id]
            if sheet["lockedBy"] not in (None, actor):
                raise PlatformConflict(f"Sheet {sheet_id} is locked by another actor")
            if sheet["lockedBy"] is None:
                sheet.update(lockedBy=actor, lockedAt=_now())

    def unlock_sheet(self, sheet_id: str) -> None:
        """``POST sheets/{id}/unlock``; ``PlatformConflict`` when the sheet is not locked."""
        with self.lock:
            sheet = self.sheets[sheet_id]
            if sheet["lockedBy"] is None:
                raise PlatformConflict(f"Sheet {sheet_id} is not locked")
            sheet.update(lockedBy=None, lockedAt=None)

    def edit_records(self, sheet_id: str, changes: Mapping[str, Mapping[str, Any]], *,
                     actor: str | None = None) -> str:
        """Change cells, as an end user (default) or ``actor`` does: ``{record_id: {field_key: value}}``
        (a value, or ``{"value", "messages"}``). Emits ``records:updated`` and makes a commit, whose id is
        returned. ``SheetLocked`` when someone else locked the sheet; ``KeyError`` for an unknown record."""
        actor = actor or self.account.guest_id
        with self.lock:
            sheet = self.sheets[sheet_id]
            if sheet["lockedBy"] not in (None, actor):
                raise SheetLocked(f"Sheet {sheet_id} is locked: its records cannot be edited now")
            records = self.records[sheet_id]
            indices = {}
            for record_id in changes:
                index = records.find(record_id)
                if index is None:
                    raise KeyError(f"Record {record_id} not found in sheet {sheet_id}")
                indices[record_id] = index
            at = _now()
            for record_id, values in changes.items():
                records.update(indices[record_id], values, at)
            return self._commit(sheet_id, actor, at, "records:updated")

    def add_records(self, sheet_id: str, rows: Sequence[Mapping[str, Any]], *,
                    actor: str | None = None) -> list[Record]:
        """Append records given as ``{field_key: value}`` (or ``{"value", "messages"}`` cells); emits
        ``records:created`` and makes a commit. Returns copies of the new records."""
        actor = actor or self.account.guest_id
        with self.lock:
            sheet = self.sheets[sheet_id]
            if sheet["lockedBy"] not in (None, actor):
                raise SheetLocked(f"Sheet {sheet_id} is locked: records cannot be added now")
            at = _now()
            new = []
            for row in rows:
                cells = {key: cell(value["value"], at, value.get("messages") or [])
                         if isinstance(value, Mapping) and "value" in value else cell(value, at)
                         for key, value in row.items()}
                new.append(record(self.new_id("rc"), cells))
            self.records[sheet_id].append(new)
            self._commit(sheet_id, actor, at, "records:created")
            return copy.deepcopy(new)

    def on_records_page(self, hook: Callable[[str, int], None]) -> None:
        """Call ``hook(sheet_id, page_number)`` whenever ``GET sheets/{id}/records`` is about to build a page (the
        state's lock held: the hook may edit records, as a user editing between two pages of a reader would)."""
        with self.lock:
            self._page_hooks.append(hook)

    def before_records_page(self, sheet_id: str, page_number: int) -> None:
        """Run the :meth:`on_records_page` hooks (the API calls it; lock held by the caller)."""
        for hook in list(self._page_hooks):
            hook(sheet_id, page_number)

    def latest_commit(self, sheet_id: str) -> str | None:
        """The id of the sheet's newest commit (None before any record was written); lock held or not."""
        with self.lock:
            commits = self.commits[sheet_id]
            return str(commits[-1]["id"]) if commits else None

    def _commit(self, sheet_id: str, actor: str, at: str, topic: str) -> str:
        commit = {"id": self.new_id("vr"), "sheetId": sheet_id, "createdBy": actor, "completedBy": actor,
                  "createdAt": at, "completedAt": at}
        self.commits[sheet_id].append(commit)
        sheet = self.sheets[sheet_id]
        sheet["updatedAt"] = at
        context = {**self._context(sheet), "commitId": commit["id"], "actorId": actor}
        self._emit(topic, "sheet", context, {"sheetId": sheet_id, "commitId": commit["id"]}, at)
        self._emit("commit:created", "sheet", context, {"sheetId": sheet_id}, at)
        return str(commit["id"])

    # -- events ----------------------------------------------------------------------------------------

    def _context(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        """The event context of a space, workbook, sheet or job."""
        context: dict[str, Any] = {"accountId": self.account.account_id}
        resource_id = str(resource["id"])
        kind = resource_id.split("_")[1] if resource_id.count("_") >= 2 else ""
        if kind == "sh":
            context["sheetId"] = resource_id
            context["sheetSlug"] = resource.get("slug")
            resource = self.workbooks[resource["workbookId"]]
            kind = "wb"
        if kind == "jb":
            context["jobId"] = resource_id
            source = self.workbooks.get(str(resource["source"]))
            if source is None:
                context["environmentId"] = resource["environmentId"]
                return context
            resource = source
            kind = "wb"
        if kind == "wb":
            context["workbookId"] = resource["id"]
            resource = self.spaces[resource["spaceId"]]
        context["spaceId"] = resource["id"]
        context["environmentId"] = resource["environmentId"]
        return context

    def _emit_job(self, topic: str, job: Mapping[str, Any], at: str) -> None:
        payload = {"job": f"{job['type']}:{job['operation']}", "operation": job["operation"], "type": job["type"],
                   "status": job["status"], "info": job.get("info"), "isPart": False, "input": {},
                   "mode": job.get("mode"), "managed": job.get("managed", True)}
        self._emit(topic, "job", {**self._context(job), "actorId": self.account.user_id}, payload, at)

    def _emit(self, topic: str, domain: str, context: dict[str, Any], payload: dict[str, Any], at: str) -> None:
        self.event_list.append({
            "id": self.new_id("evt"), "topic": topic, "domain": domain, "context": context, "payload": payload,
            "createdAt": at, "acknowledgedAt": None, "acknowledgedBy": None, "namespaces": [],
        })

