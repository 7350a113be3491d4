"""Export ids: what names one export in the ledger, the jobs, the S3 keys, the manifest and the notice.

The relay exports from two sources (docs/architecture.md, items 5 and 10):

- the legacy API (Portal v2 / Concierge): a batch, named by its UUID, kept in canonical form (lower case,
  hyphenated) so that the poller, the webhook and the exporter use the same key for a batch, and compared by
  `same_batch` wherever Flatfile names one;
- the Flatfile Platform: a submit job, named by its job id (``us_jb_…``; other regions use other two-letter
  prefixes), kept as Flatfile writes it.

The two shapes never overlap, so an id alone tells its source (`source_of`).

Example:
    >>> require_batch_id("0B0E4B8A5B3E4C7E9D598A4D6F0F2A11")
    '0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11'
    >>> require_batch_id("batch-1")
    Traceback (most recent call last):
    ...
    ValueError: batchId 'batch-1' is not a UUID
    >>> source_of("us_jb_4fX2kQ"), source_of("0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11")
    ('platform', 'legacy')
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Final, Literal, get_args

__all__ = [
    "LEGACY",
    "PLATFORM",
    "PLATFORM_JOB_ID",
    "SOURCES",
    "Source",
    "canonical_uuid",
    "require_batch_id",
    "require_export_id",
    "require_job_id",
    "same_batch",
    "source_of",
]

Source = Literal["legacy", "platform"]
"""Where an export comes from: the legacy API (batches) or the Flatfile Platform (submit jobs)."""
SOURCES: tuple[str, ...] = get_args(Source)
LEGACY: Final = "legacy"
PLATFORM: Final = "platform"

PLATFORM_JOB_ID = re.compile(r"[a-z]{2}[a-z0-9]{0,6}_jb_[A-Za-z0-9]{1,64}")
"""A Platform job id: a region prefix (``us``, ``eu``, ...), ``_jb_``, letters and digits."""


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


def require_job_id(value: Any, error: type[ValueError] = ValueError) -> str:
    """A Platform job id as Flatfile writes it; `error` (naming the value, cut to 64 characters) when it is none.

    Example:
        >>> require_job_id(" us_jb_4fX2kQ ")
        'us_jb_4fX2kQ'
    """
    text = value.strip() if isinstance(value, str) else None
    if text is None or not PLATFORM_JOB_ID.fullmatch(text):
        raise error(f"job id {str(value)[:64]!r} is not a Flatfile Platform job id (us_jb_…)")
    return text


def source_of(value: Any) -> Source:
    """Which source an export id belongs to: ``platform`` for a job id, else ``legacy`` (a batch UUID).

    The id is not checked here: `require_export_id` does that.
    """
    return PLATFORM if isinstance(value, str) and PLATFORM_JOB_ID.fullmatch(value.strip()) else LEGACY


def require_export_id(value: Any, source: str | None = None, error: type[ValueError] = ValueError) -> str:
    """The export id in its canonical form: a batch UUID (legacy) or a job id (Platform).

    `source` (None: told by the id's shape) says which one is expected; `error` names a value that is neither.

    Example:
        >>> require_export_id("0B0E4B8A-5B3E-4C7E-9D59-8A4D6F0F2A11")
        '0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11'
        >>> require_export_id("us_jb_4fX2kQ", "legacy")
        Traceback (most recent call last):
        ...
        ValueError: batchId 'us_jb_4fX2kQ' is not a UUID
    """
    if source is None:
        source = source_of(value)
    if source == PLATFORM:
        return require_job_id(value, error)
    if source == LEGACY:
        return require_batch_id(value, error)
    raise error(f"source must be one of {', '.join(SOURCES)}, not {str(source)[:32]!r}")
