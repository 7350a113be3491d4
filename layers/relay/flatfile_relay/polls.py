"""Every source at once: one poll of each source the Flatfile secret turns on, each with its own checkpoint.

The legacy API's batches and the Flatfile Platform's submit jobs are polled one after the other, in
`ids.SOURCES` order, each within an equal share of the time left (what one leaves unused goes to the next). A
source that fails — its keys refused, its API down, its keys there only in part — never stops the other: its
error is kept in its `SourcePoll`, and the caller reports each source on its own and raises after all ran
(`Polls.failures`). A secret that cannot be read at all (malformed, or still holding the stack's placeholders)
fails the whole poll before any source runs, as it always did.

Example:
    >>> polls = poll_sources(connection, ledger, clients.sqs, settings, deadline)     # doctest: +SKIP
    >>> polls.as_dict()["sources"]["platform"]["jobs_sent"]                            # doctest: +SKIP
    ['us_jb_4fX2kQ']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flatfile_relay.failures import ErrorKind, classify
from flatfile_relay.ids import PLATFORM, SOURCES
from flatfile_relay.measurements import Measurement
from flatfile_relay.poller import DEFAULT_RESERVE, PollReport, poll_source
from flatfile_relay.redaction import redact
from flatfile_relay.settings import Settings
from flatfile_relay.sources import ImportSource
from flatfile_relay.sources.legacy import LegacySource
from flatfile_relay.sources.platform import PlatformSource

if TYPE_CHECKING:
    from flatfile_relay.connection import FlatfileConnection
    from flatfile_relay.deadline import Deadline
    from flatfile_relay.ledger import Ledger

__all__ = ["TOTALS", "Polls", "SourcePoll", "import_source", "poll_sources"]

#: the counts of `PollReport` the answer adds up over the sources
TOTALS = ("pages", "batches_seen", "pending", "closed", "ignored", "rechecked", "deferred", "errors")


def import_source(name: str, client: Any, settings: Settings) -> ImportSource[Any]:
    """The source `name` reads through `client` (a `FlatfileClient` or a `PlatformClient`), as `settings` say:
    list pages of FLATFILE_BATCH_PAGE_SIZE, the Platform's submit operations.

    Example:
        >>> import_source("platform", None, Settings()).operations
        frozenset({'submitActionFg'})
    """
    if name == PLATFORM:
        return PlatformSource(client, settings.platform_operations, page_size=settings.batch_page_size)
    return LegacySource(client, page_size=settings.batch_page_size)


@dataclass(frozen=True)
class SourcePoll:
    """What one source's poll did (`report`), or why it failed (`error`)."""

    source: str
    report: PollReport | None = None
    error: Exception | None = None

    @property
    def kind(self) -> ErrorKind | None:
        """What the failure is (`flatfile_relay.failures.classify`); None when the poll ran."""
        return None if self.error is None else classify(self.error)

    def as_dict(self) -> dict[str, Any]:
        """The report (`PollReport.as_dict`), or `{"ok": false, "error", "errorKind"}` (the error redacted).

        Example:
            >>> SourcePoll("platform", error=ValueError("no")).as_dict()
            {'ok': False, 'error': 'ValueError: no', 'errorKind': 'unexpected'}
        """
        if self.report is not None:
            return self.report.as_dict()
        kind = self.kind
        return {"ok": False, "error": redact(f"{type(self.error).__name__}: {self.error}"),
                "errorKind": kind.value if kind else None}

    def measurements(self) -> list[Measurement]:
        """The poll's metrics (`PollReport.measurements`), or `PollFailures` (published with a `Source` dimension).

        Example:
            >>> SourcePoll("legacy", error=ValueError("no")).measurements()
            [Measurement(name='PollFailures', value=1, unit='Count')]
        """
        return self.report.measurements() if self.report is not None else [Measurement("PollFailures", 1)]


@dataclass(frozen=True)
class Polls:
    """One poll of every source the secret turns on, in `ids.SOURCES` order."""

    polls: tuple[SourcePoll, ...]

    @property
    def failures(self) -> list[SourcePoll]:
        """The sources whose poll failed."""
        return [poll for poll in self.polls if poll.error is not None]

    @property
    def errors(self) -> list[Exception]:
        """Why they failed, in the same order."""
        return [poll.error for poll in self.polls if poll.error is not None]

    def as_dict(self) -> dict[str, Any]:
        """The answer: `complete` (every source did all it set out to do), every job sent (`jobs_sent`), the
        counts added up over the sources (`TOTALS`), and each source's own (`sources`).

        Example:
            >>> answer = Polls((SourcePoll("legacy", PollReport(pages=1, complete=True)),)).as_dict()
            >>> answer["complete"], answer["pages"], answer["sources"]["legacy"]["pages"]
            (True, 1, 1)
        """
        reports = [poll.report for poll in self.polls if poll.report is not None]
        answer: dict[str, Any] = {
            "complete": not self.failures and all(report.complete for report in reports),
            "jobs_sent": [batch_id for report in reports for batch_id in report.jobs_sent],
        }
        answer.update({name: sum(getattr(report, name) for report in reports) for name in TOTALS})
        answer["sources"] = {poll.source: poll.as_dict() for poll in self.polls}
        return answer

    def measurements(self) -> list[Measurement]:
        """The invocation's own metrics (dimension `service` alone): `PollSucceeded`, the heartbeat the
        stale-poller alarm watches, is 1 once every source the secret turns on polled.

        Example:
            >>> Polls((SourcePoll("legacy", error=ValueError("no")),)).measurements()
            []
        """
        return [] if self.failures or not self.polls else [Measurement("PollSucceeded", 1)]


def poll_sources(
    connection: FlatfileConnection, ledger: Ledger, sqs: Any, settings: Settings, deadline: Deadline, *,
    reserve: float = DEFAULT_RESERVE,
) -> Polls:
    """Poll every source the secret turns on (and report those whose keys are there only in part), each with
    its own checkpoint (`flatfile_relay.poller.poll_source`) and an equal share of the time left.

    Raises (before any source runs): MalformedSecretError, NotConfiguredError — the secret as a whole is unusable.
    A source's own failure is kept in its `SourcePoll`, never raised here.
    """
    secret = connection.secret()
    troubled = {name for name, _ in secret.problems}
    names = [name for name in SOURCES if name in secret.sources or name in troubled]
    polls = []
    for index, name in enumerate(names):
        share = deadline.share(len(names) - index)

        def work(client: Any, name: str = name, share: Deadline = share) -> PollReport:
            source = import_source(name, client, settings)
            return poll_source(source, ledger, sqs, settings, share, reserve=reserve)

        try:
            secret.account(name)  # a set of keys there in part: this source's problem
            polls.append(SourcePoll(name, connection.run(work, source=name)))
        except Exception as error:  # noqa: BLE001 - kept and reported per source; the caller raises after all ran
            polls.append(SourcePoll(name, error=error))
    return Polls(tuple(polls))
