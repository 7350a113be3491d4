"""The operator's requests: the poller's event when it holds a `mode`, parsed with pydantic.

Example:
    >>> request = {"mode": "replay", "batchIds": ["0B0E4B8A-5B3E-4C7E-9D59-8A4D6F0F2A11", "us_jb_4fX2kQ"]}
    >>> parse_request(request).batch_ids
    ['0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11', 'us_jb_4fX2kQ']
    >>> parse_request({"mode": "backfill", "since": "2024-01-31"}).since.isoformat()
    '2024-01-31T00:00:00+00:00'
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from flatfile_relay.errors import ContractError
from flatfile_relay.ids import Source, require_export_id
from flatfile_relay.models import describe_problems
from flatfile_relay.timestamps import parse_timestamp

__all__ = [
    "MAX_REPLAY_IDS",
    "MODES",
    "BackfillRequest",
    "CheckRequest",
    "InvalidRequestError",
    "OperatorRequest",
    "ReplayRequest",
    "StatusRequest",
    "parse_request",
]

MODES = ("check", "status", "replay", "backfill")
#: ids one replay accepts (the jobs are sent within one invocation)
MAX_REPLAY_IDS = 1000


class InvalidRequestError(ContractError, ValueError):
    """The operator's event is not a request the poller understands; the message names the problem."""


class _Request(BaseModel):
    # a misspelt field (`dryrun`, `batchIDs`) is an error, not silently a different request
    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckRequest(_Request):
    """`{"mode": "check"}`: verify the configuration, write nothing."""

    mode: Literal["check"]


class StatusRequest(_Request):
    """`{"mode": "status"}`: what the ledger and the queues hold."""

    mode: Literal["status"]


class ReplayRequest(_Request):
    """`{"mode": "replay", "batchIds": [...]}`: export these batches (UUIDs) and Platform jobs (`us_jb_…`) again."""

    mode: Literal["replay"]
    batch_ids: list[str] = Field(alias="batchIds", min_length=1, max_length=MAX_REPLAY_IDS)

    @field_validator("batch_ids")
    @classmethod
    def _canonical(cls, values: list[str]) -> list[str]:
        try:
            return list(dict.fromkeys(require_export_id(value) for value in values))
        except ValueError as error:
            raise ValueError(f"{error} (nor a Flatfile Platform job id, us_jb_…)") from None


class BackfillRequest(_Request):
    """`{"mode": "backfill", "since": ..., "until": ..., "dryRun": false, "source": ...}`: queue the submitted
    batches and the completed Platform submit jobs created in [since, until) that are neither exported nor
    queued, of every source the secret turns on (or of `source` alone: `legacy` or `platform`). Dates are
    ISO-8601, UTC when no offset is given."""

    mode: Literal["backfill"]
    since: datetime
    until: datetime | None = None
    dry_run: bool = Field(default=False, alias="dryRun", strict=True)
    source: Source | None = None

    @field_validator("since", "until", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> Any:
        if value is None or isinstance(value, datetime):
            return value
        if not isinstance(value, str):
            raise ValueError("must be an ISO-8601 date or date-time string such as 2024-01-31")
        try:
            return parse_timestamp(value)
        except ValueError:
            raise ValueError(f"must be an ISO-8601 date or date-time such as 2024-01-31, not {value[:64]!r}") from None

    @model_validator(mode="after")
    def _window(self) -> BackfillRequest:
        if self.until is not None and self.until <= self.since:
            raise ValueError("until must be later than since (since is inclusive, until exclusive)")
        return self


OperatorRequest = CheckRequest | StatusRequest | ReplayRequest | BackfillRequest
#: the parser: one of the requests, told apart by `mode`
_REQUESTS: TypeAdapter[OperatorRequest] = TypeAdapter(Annotated[OperatorRequest, Field(discriminator="mode")])


def parse_request(event: Any) -> OperatorRequest:
    """The request in `event`; InvalidRequestError names every problem (unknown mode, bad or extra field)."""
    if isinstance(event, dict) and event.get("mode") not in MODES:
        raise InvalidRequestError(
            f"unknown mode {str(event.get('mode'))[:64]!r}: use one of {', '.join(MODES)} "
            "(an event without a mode is a scheduled poll)"
        )
    try:
        request = _REQUESTS.validate_python(event)
    except ValidationError as error:
        raise InvalidRequestError(f"bad {event.get('mode')} request: {_problems(error)}") from None
    return request


def _problems(error: ValidationError) -> str:
    """pydantic's errors as one line: `batchIds: ...; dryRun: ...` (the field as the operator spelt it)."""
    problems = describe_problems(error, skip=1)
    return "; ".join(f"{path.lstrip('.') or 'request'}: {wording}" for path, wording in problems)
