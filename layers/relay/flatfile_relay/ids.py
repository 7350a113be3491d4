"""Flatfile batch ids: UUIDs, kept in canonical form (lower case, hyphenated) so that the poller, the webhook
and the exporter use the same key for a batch, and compared by `same_batch` wherever Flatfile names one.

Example:
    >>> require_batch_id("0B0E4B8A5B3E4C7E9D598A4D6F0F2A11")
    '0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11'
    >>> require_batch_id("batch-1")
    Traceback (most recent call last):
    ...
    ValueError: batchId 'batch-1' is not a UUID
"""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["canonical_uuid", "require_batch_id", "same_batch"]


def canonical_uuid(value: str) -> str:
    """`value` as a canonical (lower-case, hyphenated) UUID; ValueError when it is none."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID") from None


def require_batch_id(value: Any, error: type[ValueError] = ValueError) -> str:
    """The batch id in canonical form; `error` (naming the value, cut to 64 characters) when it is no UUID."""
    try:
        return canonical_uuid(value)
    except (ValueError, TypeError, AttributeError):
        raise error(f"batchId {str(value)[:64]!r} is not a UUID") from None


def same_batch(value: Any, batch_id: str) -> bool:
    """True when `value` (what Flatfile wrote: a row's `batchId`, a batch's `id`) names the batch `batch_id`: the
    same text, or the same UUID whatever its letter case or form.

    Example:
        >>> same_batch("8F14E45F-CEEA-4E67-A2B5-0C8D6F1E3A27", "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27")
        True
        >>> same_batch(" b-1 ", "b-1"), same_batch("b-2", "b-1"), same_batch(None, "b-1")
        (True, False, False)
    """
    if value == batch_id:  # the usual case, without parsing a UUID for every row
        return True
    if not isinstance(value, str) or not isinstance(batch_id, str):
        return False
    try:
        return canonical_uuid(value) == canonical_uuid(batch_id)
    except ValueError:
        return value.strip() == batch_id.strip()
