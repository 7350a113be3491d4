"""Flatfile batch ids: UUIDs, kept in canonical form (lower case, hyphenated) so that the poller, the webhook
and the exporter use the same key for a batch.

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
