"""The Flatfile Platform as a source of imports: the submit jobs of one environment, over a `PlatformClient`.

An end user pressing a workbook's submit action makes a job `workbook:<operation>`; once it is `ready`, Flatfile
waits for a listener, and the relay is that listener. So a job of type `workbook` whose `operation` is one of the
configured submit operations (FLATFILE_PLATFORM_OPERATIONS) is exported once `ready`; `created`, `planning` (and
any other status it may still leave for `ready`) are pending; `executing` (a listener acknowledged it: the
relay's own exporter, or someone else's, whose job it is), `complete`, `failed` and `canceled` are closed. Every
other job (a file's extraction, a download, another operation, another environment's) is unrelated: nothing is
recorded. A job the ledger has queued, exporting or exported is the exporter's (the poller does not decide it
again). Ids are job ids (`us_jb_…`), kept as Flatfile writes them; a job 404 on a re-check is gone.

The list is asked newest first (`sortDirection=desc`), so an idle poll reads one page; the walk relies only on the
order it observes. A server that serves fewer jobs than asked is followed at its own page size.

Example:
    >>> source = PlatformSource(client, operations=("submitActionFg",))              # doctest: +SKIP
    >>> source.classify(client.get_job(job_id, deadline))                             # doctest: +SKIP
    <Disposition.EXPORT: 'export'>
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from flatfile_relay.flatfile.errors import NotFoundError
from flatfile_relay.ids import PLATFORM, require_job_id, source_of
from flatfile_relay.platform.models import Job
from flatfile_relay.settings import DEFAULT_PLATFORM_OPERATIONS
from flatfile_relay.sources import Disposition
from flatfile_relay.walk import ListSlice

if TYPE_CHECKING:
    from flatfile_relay.deadline import Deadline
    from flatfile_relay.jobs import ExportJob
    from flatfile_relay.platform.client import PlatformClient

__all__ = ["CLOSED_STATUSES", "JOB_TYPE", "READY", "PlatformSource"]

#: the type of the jobs a workbook's actions create
JOB_TYPE = "workbook"
#: the status of a job waiting for a listener: the relay exports it
READY = "ready"
#: statuses after which a job will not be ready again: someone acknowledged it, or it ended
CLOSED_STATUSES = frozenset({"executing", "complete", "failed", "canceled"})
#: jobs asked for per page of `GET /jobs` by default
DEFAULT_PAGE_SIZE = 100


class PlatformSource:
    """The submit jobs of the client's environment, `page_size` to a page, for `operations` (the workbook actions
    whose jobs the relay exports; default FLATFILE_PLATFORM_OPERATIONS' default).

    Example:
        >>> source = PlatformSource(None, operations=("submitActionFg",), page_size=50)
        >>> source.name, source.page_size
        ('platform', 50)
    """

    name = PLATFORM

    def __init__(self, client: PlatformClient, operations: Iterable[str] = DEFAULT_PLATFORM_OPERATIONS,
                 page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self.client = client
        self.operations = frozenset(operations)
        if not self.operations:
            raise ValueError("a Platform source needs at least one submit operation")
        self.page_size = page_size
        self._served = page_size  # what the server serves to a page (less, when it caps the page size)

    def read_page(self, offset: int, deadline: Deadline) -> ListSlice[Job]:
        """The page of `GET /jobs` (newest first) that contains `offset`, with its real offset and `totalCount`."""
        number = offset // self._served + 1
        page = self.client.list_jobs(deadline, page_number=number, page_size=self.page_size, sort_direction="desc")
        if page.jobs and not page.last and len(page.jobs) < self._served:
            self._served = len(page.jobs)  # a full page shorter than asked: the server's own page size
            if offset >= page.offset + len(page.jobs):
                return self.read_page(offset, deadline)  # (only an offset past the first page asks again)
        total = page.total_count
        if total is None:  # no `pagination`: at least one more job while pages come full
            total = page.offset + len(page.jobs) + (0 if page.last else 1)
        return ListSlice(page.jobs, page.offset, total)

    def read_item(self, item_id: str, deadline: Deadline) -> Job | None:
        """`GET /jobs/{jobId}`; None when the environment no longer has the job (404)."""
        try:
            return self.client.get_job(item_id, deadline)
        except NotFoundError:
            return None

    def list_key(self, item: Job) -> str:
        return item.id

    def item_id(self, item: Job) -> str:
        """The job id; ValueError (naming the value) when it is not one."""
        return require_job_id(item.id)

    def owns(self, item_id: str) -> bool:
        """Job ids (`us_jb_…`), not batch UUIDs."""
        return source_of(item_id) == PLATFORM

    def created_at(self, item: Job) -> datetime | None:
        return item.created_at

    def status(self, item: Job) -> str | None:
        return item.status

    def classify(self, item: Job) -> Disposition:
        """A submit job of this environment: `ready` is exported, `executing` and the ended statuses are closed,
        any other is pending; any other job is unrelated.

        Example:
            >>> source = PlatformSource(None, operations=("submitActionFg",))
            >>> job = lambda **fields: Job.parse({"id": "us_jb_1", "type": "workbook", "operation": "submitActionFg",
            ...                                   "source": "us_wb_1", "status": "ready", **fields})
            >>> [source.classify(job(status=s)).value for s in ("ready", "planning", "executing", "canceled")]
            ['export', 'pending', 'closed', 'closed']
            >>> source.classify(job(operation="downloadCsv")), source.classify(job(type="file"))
            (<Disposition.UNRELATED: 'unrelated'>, <Disposition.UNRELATED: 'unrelated'>)
        """
        if item.type != JOB_TYPE or item.operation not in self.operations or not self._ours(item):
            return Disposition.UNRELATED
        if item.status == READY:
            return Disposition.EXPORT
        if item.status in CLOSED_STATUSES:
            return Disposition.CLOSED
        return Disposition.PENDING

    def export_job(self, item_id: str, item: Job, trigger: str) -> ExportJob:
        """The export job of a submit job (the Platform exporter takes it by its job id)."""
        from flatfile_relay.jobs import ExportJob  # deferred: see DEFERRED_IMPORTS

        return ExportJob.create(item_id, trigger=trigger, source=PLATFORM)

    def _ours(self, item: Job) -> bool:
        """The job is in the client's environment (or does not say: the list is the environment's)."""
        return item.environment_id is None or item.environment_id == self.client.environment_id
