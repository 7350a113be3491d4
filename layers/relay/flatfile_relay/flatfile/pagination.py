"""Pages of the list endpoints, and checks of their envelope.

Flatfile lists share one envelope, `{"pagination": {"totalCount": N, ...}, "data": [...]}`; only `data` and
`totalCount` are relied on (the other pagination fields are hints). The server may return fewer items than
asked, so paging advances by what actually came back.

Example:
    >>> parse_envelope({"pagination": {"totalCount": 1}, "data": [{"id": "a"}]}, "GET /rest/batches")
    ([{'id': 'a'}], 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flatfile_relay.flatfile.errors import ContractError
from flatfile_relay.json_types import json_type


@dataclass(frozen=True)
class BatchPage:
    """One page of `GET /rest/batches`.

    Attributes:
        items: the batches on this page not seen on an earlier page (deduplicated by `id`).
        raw_count: how many batches the page held, duplicates included.
        offset: the `skip` the page was asked for.
        total_count: `totalCount` as this page reported it (it can grow while paging).
        newest_first_so_far: True while every `createdAt` seen so far, in list order, is not newer than the
            one before it (False as soon as one is newer, missing or unreadable).
        newest_created_at: the newest `createdAt` on this page (None if the page is empty or a `createdAt`
            on it is missing or unreadable).
    """

    items: list[dict[str, Any]]
    raw_count: int
    offset: int
    total_count: int
    newest_first_so_far: bool
    newest_created_at: datetime | None = None


@dataclass(frozen=True)
class RowPage:
    """One page of `GET /rest/batch/{id}/rows`.

    Attributes:
        rows: the rows, in the order the server returned them.
        skip: the offset of the first row.
        next_skip: the offset to ask for next (`skip + len(rows)`): a checkpoint to resume from.
        total_count: `totalCount` as this page reported it.
    """

    rows: list[dict[str, Any]]
    skip: int
    next_skip: int
    total_count: int

    @property
    def last(self) -> bool:
        """True if no page follows this one."""
        return not self.rows or self.next_skip >= self.total_count


def parse_envelope(body: Any, what: str) -> tuple[list[Any], int]:
    """`(data, totalCount)` of a list envelope; ContractError if either is missing or of the wrong type.

    A `totalCount` at the top level is accepted when `pagination` is absent.
    """
    if not isinstance(body, dict):
        raise ContractError(f"Flatfile answered {what} with a JSON {json_type(body)} instead of a list envelope.")
    data = body.get("data")
    if not isinstance(data, list):
        raise ContractError(f"Flatfile answered {what} without a `data` list (got a JSON {json_type(data)}).")
    pagination = body.get("pagination")
    source = pagination if isinstance(pagination, dict) else body
    total = source.get("totalCount")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ContractError(
            f"Flatfile answered {what} without an integer `pagination.totalCount` (got a JSON {json_type(total)})."
        )
    return data, total
