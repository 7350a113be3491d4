"""Reconciliation: before anything is published, what an export wrote must agree with the source's own counts.

A source gives its counts (`SourceCounts`: a legacy batch's `countRows`, `countRowsAccepted`, `countRowsInvalid`;
a Platform sheet's `GET sheets/{id}/counts` `total`, `valid`, `error`) under the names the manifest uses (`rows`,
`valid`, `invalid`, `deleted`; None where the source gives no figure: never guessed, never compared). `check`
compares them with the `Tally` of what was written. A disagreement publishes nothing: `CountsDisagreeError`
(transient: the source may still be settling, the export is read again from its first row on the next delivery),
or on the job's last delivery `ReconciliationFailedError` (a contract error: the job goes to the dead-letter
queue, `ReconciliationFailed` is counted). Both name the figures on each side.

Example:
    >>> tally = Tally()
    >>> tally.add_legacy_rows([{"valid": True}])
    >>> source = SourceCounts({"rows": 2, "valid": 1, "invalid": None, "deleted": None},
    ...                       {"rows": "countRows", "valid": "countRowsAccepted"})
    >>> disagreements({BATCH: source}, {BATCH: tally})
    ['rows: 1 exported, the source counts 2 (countRows)']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from flatfile_relay.errors import ContractError, TransientError
from flatfile_relay.tally import BATCH, Tally

__all__ = [
    "COUNT_NAMES",
    "CountsDisagreeError",
    "ReconciliationFailedError",
    "SourceCounts",
    "disagreements",
    "manifest_counts",
]

#: the manifest's count names (`counts.source` and `counts.exported`)
COUNT_NAMES = ("rows", "valid", "invalid", "deleted")


@dataclass(frozen=True)
class SourceCounts:
    """A source's own counts under the manifest's names (None: no figure), and the source's name for each."""

    values: Mapping[str, int | None]
    names: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, int | None]:
        return {name: self.values.get(name) for name in COUNT_NAMES}


class CountsDisagreeError(TransientError, RuntimeError):
    """What the export wrote disagrees with the source's counts; retried (the source may still be settling)."""


class ReconciliationFailedError(ContractError, RuntimeError):
    """What the export wrote still disagrees with the source's counts on the job's last delivery."""


def disagreements(source: Mapping[str, SourceCounts], tallies: Mapping[str, Tally]) -> list[str]:
    """Each figure the source gives that the tallies do not match, worded with both figures (keys: sheet slugs
    for the Platform, `BATCH` for a legacy batch)."""
    found: list[str] = []
    for group, counts in source.items():
        exported = tallies[group].counts() if group in tallies else Tally().counts()
        prefix = f"sheet {group}: " if group != BATCH else ""
        for name in COUNT_NAMES:
            figure = counts.values.get(name)
            if figure is not None and figure != exported[name]:
                found.append(f"{prefix}{name}: {exported[name]} exported, the source counts {figure} "
                             f"({counts.names.get(name, name)})")
    return found


def manifest_counts(source: Iterable[SourceCounts], tallies: Iterable[Tally]) -> dict[str, dict[str, int | None]]:
    """The manifest's `counts`: the source's figures (summed; None when any part lacks one) and what was written."""
    total: dict[str, int | None] = dict.fromkeys(COUNT_NAMES, 0)
    for counts in source:
        for name in COUNT_NAMES:
            value, before = counts.values.get(name), total[name]
            total[name] = None if value is None or before is None else before + value
    exported = dict.fromkeys(COUNT_NAMES, 0)
    for tally in tallies:
        for name, value in tally.counts().items():
            exported[name] += value
    return {"source": total, "exported": dict(exported)}

