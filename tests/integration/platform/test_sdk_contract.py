"""The emulator is the Platform, not our guess of it: every call the relay's Platform client makes, made through
Flatfile's official SDK (`flatfile` 1.0.0, the oracle), parses into the SDK's own types.

The SDK's models accept extra fields and its enums are open (`Union[Literal[...], Any]`), so parsing alone would
let a renamed field or a misspelled status through. Each answer is therefore also checked strictly: no field the
SDK does not know (a renamed one shows up there), every enum value one the SDK lists, nested objects parsed into
models (never left as raw dicts), the model valid again from its own dump, and the fields the relay reads present.

`test_the_contract_makes_every_call_of_the_client` ties the contract to the client: the calls made here (from the
emulator's request log) are exactly `CONTRACT_CALLS`, and the client's own integration tests fail on any call
outside it (tests/integration/platform/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pydantic
import pytest
from flatfile import Flatfile
from flatfile.commons import Errors
from flatfile.core.api_error import ApiError
from flatfile.jobs import JobAckDetails, JobCancelDetails, JobCompleteDetails, JobOutcome
from flatfile.records import CellValue, Record
from support.platform_contract import CONTRACT_CALLS, platform_calls

from flatfile_relay_devkit.emulator import Emulator, EmulatorConfig

#: fields the emulator sends that Flatfile's answers hold but the SDK 1.0.0 does not declare (none so far)
KNOWN_EXTRAS: frozenset[tuple[str, str]] = frozenset()


@dataclass
class Context:
    sdk: Flatfile
    emu: Emulator

    @property
    def environment_id(self) -> str:
        return self.emu.platform_secret["platformEnvironmentId"]

    def label(self, name: str) -> str:
        return self.emu.platform.sample_id(name)

    def ready_job(self) -> str:
        return str(self.emu.platform.submit(self.label("products"))["id"])

    def executing_job(self) -> str:
        job = self.ready_job()
        self.emu.platform.acknowledge(job, info="Exporting to AWS")
        return job


Answer = tuple[pydantic.BaseModel, tuple[str, ...]]
"""An SDK answer and the fields the relay reads from it (dotted paths; `*` = every item of a list or dict)."""


def _environment(c: Context) -> list[Answer]:
    return [(c.sdk.environments.get(c.environment_id), ("data.id", "data.name"))]


def _jobs(c: Context) -> list[Answer]:
    page = c.sdk.jobs.list(environment_id=c.environment_id, page_size=2, page_number=1, sort_direction="asc",
                           exclude_child_jobs=True)
    fields = ("pagination.current_page", "pagination.page_count", "pagination.total_count", "data.*.id",
              "data.*.type", "data.*.operation", "data.*.source", "data.*.status", "data.*.created_at",
              "data.*.environment_id")
    job = c.sdk.jobs.get(c.label("job_history"))
    return [(page, fields), (job, ("data.id", "data.status", "data.outcome.message", "data.info", "data.progress",
                                   "data.created_at", "data.source", "data.operation"))]


def _ack(c: Context) -> list[Answer]:
    job = c.ready_job()
    acked = c.sdk.jobs.ack(job, request=JobAckDetails(info="Exporting to AWS", progress=0))
    progress = c.sdk.jobs.ack(job, request=JobAckDetails(progress=40))
    assert (acked.data.status, progress.data.progress, progress.data.info) == ("executing", 40, "Exporting to AWS")
    return [(acked, ("data.status", "data.info", "data.started_at")), (progress, ("data.progress",))]


def _end(c: Context) -> list[Answer]:
    answers: list[Answer] = []
    for end in (c.sdk.jobs.complete, c.sdk.jobs.fail):
        for info in (None, "Done"):
            job = c.executing_job()
            outcome = JobOutcome(message="Exported 25 records to AWS")
            # an `info=None` would be sent as `"info": null`: the client leaves the key out
            details = JobCompleteDetails(outcome=outcome, **({} if info is None else {"info": info}))
            answers.append((end(job, request=details), ("data.status", "data.outcome.message", "data.finished_at")))
    with pytest.raises(ApiError) as refused:  # a second complete: 400 in the Platform's error envelope
        c.sdk.jobs.complete(job, request=JobCompleteDetails(outcome=JobOutcome(message="again")))
    assert refused.value.status_code == 400
    answers.append((Errors.model_validate(refused.value.body), ("errors.*.message",)))
    return answers


def _containers(c: Context) -> list[Answer]:
    sheet_fields = ("id", "workbook_id", "slug", "name", "config.name", "config.fields.*.key", "config.fields.*.type")
    workbook = c.sdk.workbooks.get(c.label("customers_orders"))
    return [
        (c.sdk.spaces.get(c.label("acme")), ("data.id", "data.metadata.userInfo.companyName")),
        (workbook, ("data.id", "data.name", "data.space_id", "data.environment_id", "data.actions.*.operation",
                    "data.actions.*.mode", *(f"data.sheets.*.{field}" for field in sheet_fields))),
        (c.sdk.sheets.list(workbook_id=c.label("customers_orders")), tuple(f"data.*.{f}" for f in sheet_fields)),
        (c.sdk.sheets.get(c.label("orders")), tuple(f"data.{field}" for field in sheet_fields)),
        (c.sdk.sheets.get_record_counts(c.label("products_sheet")),
         ("data.counts.total", "data.counts.valid", "data.counts.error")),
    ]


def _commits_and_locks(c: Context) -> list[Answer]:
    sheet = c.label("products_sheet")
    record = c.emu.platform.records_of(sheet, 0, 1)[0]["id"]
    c.emu.platform.edit_records(sheet, {record: {"qty": 7}})
    fields = ("data.*.id", "data.*.sheet_id", "data.*.created_at", "data.*.completed_at")
    return [
        (c.sdk.sheets.get_sheet_commits(sheet), fields),
        (c.sdk.sheets.get_sheet_commits(sheet, completed=True), fields),
        (c.sdk.sheets.lock_sheet(sheet), ("data.success",)),
        (c.sdk.sheets.unlock_sheet(sheet), ("data.success",)),
    ]


def _records(c: Context) -> list[Answer]:
    sheet = c.label("products_sheet")
    cells = ("data.records.*.values.*.value", "data.records.*.values.*.valid", "data.records.*.values.*.messages",
             "data.records.*.values.*.updated_at")
    first = c.sdk.records.get(sheet, page_size=20, page_number=1, include_messages=True, include_length=True)
    second = c.sdk.records.get(sheet, page_size=20, page_number=2, include_messages=True)
    assert len(first.data.records) + len(second.data.records) == 25
    invalid = [record for record in first.data.records if not record.valid]
    assert invalid
    assert all(cell.messages for record in invalid for cell in record.values.values() if cell.valid is False)
    common = ("data.success", "data.commit_id", "data.records.*.id", "data.records.*.valid", *cells)
    return [(first, (*common, "data.counts.total")), (second, common)]


def _events(c: Context) -> list[Answer]:
    c.ready_job()
    since = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    fields = ("data.*.id", "data.*.topic", "data.*.created_at", "data.*.context.environment_id",
              "data.*.context.account_id")
    job_fields = (*fields, "data.*.context.job_id", "data.*.context.workbook_id", "data.*.payload.job")
    # few events a page: the SDK takes about 0.1 s to read each one (its alias conversion walks every event type)
    common = {"environment_id": c.environment_id, "page_size": 3, "page_number": 1, "include_acknowledged": True}
    return [
        (c.sdk.events.list(**common), fields),
        (c.sdk.events.list(**common, topic="job:ready"), job_fields),
        (c.sdk.events.list(**common, since=since), fields),
        (c.sdk.events.list(**common, since=since, topic="job:ready"), job_fields),
    ]


CASES: dict[str, Callable[[Context], list[Answer]]] = {
    "environment": _environment, "jobs": _jobs, "ack": _ack, "complete and fail": _end,
    "spaces, workbooks, sheets, counts": _containers, "commits and locks": _commits_and_locks,
    "records": _records, "events": _events,
}


@pytest.fixture
def context() -> Iterator[Context]:
    with Emulator(EmulatorConfig(seed=7)) as emu:
        sdk = Flatfile(token=emu.platform_secret["platformSecretKey"], base_url=emu.platform_url, timeout=10)
        yield Context(sdk, emu)
    assert not emu.errors, emu.errors


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_answer_parses_strictly_into_the_sdks_types(context: Context, case: str) -> None:
    for answer, fields in CASES[case](context):
        problems = strict(answer, type(answer).__name__)
        problems += [f"{type(answer).__name__}.{path} is missing" for path in fields if not present(answer, path)]
        assert problems == []
        assert type(answer).model_validate(answer.model_dump(by_alias=True)) == answer


def _emulator_only(c: Context) -> list[Answer]:
    """Routes the client never calls but tests drive (edits during an export, a job made by hand, lists)."""
    sheet = c.label("customers")
    record = c.emu.platform.records_of(sheet, 0, 1)[0]["id"]
    edited = c.sdk.records.update(sheet, request=[Record(id=record, values={"name": CellValue(value="Ed")})])
    inserted = c.sdk.records.insert(sheet, request=[{"name": CellValue(value="New")}])
    created = c.sdk.jobs.create(type="workbook", operation="submitActionFg", source=c.label("products"))
    canceled = c.sdk.jobs.cancel(created.data.id, request=JobCancelDetails(info="Not now"))
    assert (created.data.status, canceled.data.status) == ("ready", "canceled")
    return [
        (edited, ("data.version_id",)), (inserted, ("data.records.*.id", "data.records.*.values")),
        (created, ("data.id", "data.status")), (canceled, ("data.status",)),
        (c.sdk.environments.list(), ("data.*.id", "pagination.total_count")),
        (c.sdk.spaces.list(environment_id=c.environment_id), ("data.*.id", "pagination.total_count")),
        (c.sdk.workbooks.list(space_id=c.label("acme")), ("data.*.id", "data.*.sheets")),
    ]


def test_the_emulators_other_routes_parse_strictly_too(context: Context) -> None:
    for answer, fields in _emulator_only(context):
        problems = strict(answer, type(answer).__name__)
        problems += [f"{type(answer).__name__}.{path} is missing" for path in fields if not present(answer, path)]
        assert problems == []


def test_the_contract_makes_every_call_of_the_client(context: Context) -> None:
    for case in CASES.values():
        case(context)
    made = platform_calls(context.emu.request_log)
    assert made == CONTRACT_CALLS, (f"made here only: {sorted(made - CONTRACT_CALLS)}; "
                                    f"listed only: {sorted(CONTRACT_CALLS - made)}")


# -- the strict check ---------------------------------------------------------------------------------------


def strict(value: Any, where: str, annotation: Any = None) -> list[str]:
    """What the SDK's lenient parsing let through in `value` (a model, or what a field of one holds)."""
    problems: list[str] = []
    if isinstance(value, pydantic.BaseModel):
        extras = {name for name in (value.model_extra or {}) if (type(value).__name__, name) not in KNOWN_EXTRAS}
        problems += [f"{where} has a field the SDK does not know: {name!r}" for name in sorted(extras)]
        for name, info in type(value).model_fields.items():
            problems += strict(getattr(value, name), f"{where}.{name}", info.annotation)
        return problems
    options = _literals(annotation)
    if options is not None and value is not None and not isinstance(value, (list, dict)) and value not in options:
        problems.append(f"{where} is {value!r}, not one of the SDK's {sorted(map(str, options))}")
    if isinstance(value, dict) and _models(annotation) and not _is_mapping_of_models(annotation):
        problems.append(f"{where} stayed a raw dict where the SDK has a model")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    inner = _item_annotation(annotation, isinstance(value, dict))
    for key, item in items:
        problems += strict(item, f"{where}[{key!r}]", inner)
    return problems


def present(value: Any, path: str) -> bool:
    """Whether every value `path` names is there and not None (`*`: every item, and at least one)."""
    head, _, rest = path.partition(".")
    if head == "*":
        items = list(value.values() if isinstance(value, dict) else value if isinstance(value, list) else [])
        return bool(items) and all(present(item, rest) if rest else item is not None for item in items)
    found = value.get(head) if isinstance(value, dict) else getattr(value, head, None)
    return found is not None and (not rest or present(found, rest))


def _args(annotation: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return tuple(arg for sub in typing.get_args(annotation)[: 1 if origin is typing.Annotated else None]
                     for arg in _args(sub))
    return (annotation,)


def _literals(annotation: Any) -> set[Any] | None:
    found = [arg for arg in _args(annotation) if typing.get_origin(arg) is typing.Literal]
    return {option for arg in found for option in typing.get_args(arg)} if found else None


def _models(annotation: Any) -> bool:
    return any(isinstance(arg, type) and issubclass(arg, pydantic.BaseModel) for arg in _args(annotation))


def _is_mapping_of_models(annotation: Any) -> bool:
    return any(typing.get_origin(arg) is dict for arg in _args(annotation))


def _item_annotation(annotation: Any, mapping: bool) -> Any:
    for arg in _args(annotation):
        if typing.get_origin(arg) in ((dict,) if mapping else (list, tuple)):
            return typing.get_args(arg)[-1]
    return None
