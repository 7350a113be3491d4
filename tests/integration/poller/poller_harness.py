"""Poller test helpers: a moto deployment wired to the emulator, counting secrets, captured log records."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile import FlatfileClient
from flatfile_relay.jobs import ExportJob
from flatfile_relay.ledger import Ledger, LedgerEntry
from flatfile_relay.poller import PollReport, poll
from flatfile_relay.settings import Settings

#: small pages, so a few dozen batches make a multi-page list
PAGE = 5


@dataclass
class Relay:
    """One deployment in moto pointed at one emulator, with helpers to poll and to look at the results."""

    emu: Any
    deployment: Any
    settings: Settings
    client: FlatfileClient
    ledger: Ledger
    sqs: Any
    received: list[ExportJob] = field(default_factory=list)

    @property
    def queue_url(self) -> str:
        return self.settings.export_jobs_queue_url

    def poll(self, deadline: Deadline | None = None, **kwargs: Any) -> PollReport:
        settings = kwargs.pop("settings", self.settings)
        return poll(self.client, self.ledger, self.sqs, settings, deadline or Deadline.never(), **kwargs)

    def configure(self, **changes: Any) -> Settings:
        self.settings = dataclasses.replace(self.settings, **changes)
        return self.settings

    def drain(self) -> list[ExportJob]:
        """Receive and delete every message on the export-jobs queue; each must be a valid job."""
        jobs: list[ExportJob] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                job = ExportJob.from_message(message["Body"])
                assert message["MessageAttributes"]["batchId"]["StringValue"] == job.batch_id
                jobs.append(job)
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.received.extend(jobs)
        return jobs

    def entry(self, batch_id: str) -> LedgerEntry:
        found = self.ledger.get(batch_id)
        assert found is not None, f"the ledger has no entry for {batch_id}"
        return found

    def submitted_ids(self) -> set[str]:
        return {b["id"] for b in self.emu.state.account_batches() if b["status"] == "submitted"}

    def list_requests(self) -> int:
        return len(self.emu.requests_to("/rest/batches"))

    def add_batches(self, count: int, status: str | None = "submitted") -> list[str]:
        return [self.emu.state.add_batch(status, [{"sku": f"N-{i}"}])["id"] for i in range(count)]


def counting_secrets() -> Any:
    """A Powertools SecretsProvider that counts its reads of Secrets Manager (cache hits are not reads)."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    class CountingSecrets(SecretsProvider):
        reads = 0

        def _get(self, name: str, **sdk_options: Any) -> str | bytes:
            self.reads += 1
            return super()._get(name, **sdk_options)

    return CountingSecrets()


class Records(logging.Handler):
    """Collects the log records a logger emits."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at(self, level: str) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelname == level]
