"""The root of the relay's errors: every error the library raises says what to do about it by its kind.

    RelayError                               the root (never raised itself)
    ├── ConfigurationError                   a human must fix the configuration; retrying will not help
    │   ├── settings.SettingsError               (also ValueError) an environment variable the relay cannot use
    │   ├── exporter.ExportStalledError          (also RuntimeError) no part fits in an invocation: PART_MAX_ROWS
    │   └── flatfile.ConfigurationError          Flatfile's base URL, auth mode or token lifetime; 404 at the base URL
    │       ├── flatfile.RefusedError                Flatfile refused what the secret holds: re-read it, uncached
    │       │   ├── flatfile.CredentialsRejectedError    the access key (401, or 401/403 from the exchange)
    │       │   ├── flatfile.ForbiddenError              403
    │       │   │   └── flatfile.LicenseForbiddenError       the licenseKey is not a license of the account
    │       │   └── flatfile.BadRequestError             400
    │       └── credentials.MalformedSecretError     a secret (Flatfile's or the webhook's) is malformed
    │           └── credentials.NotConfiguredError       still the stack's placeholders: "not configured yet"
    ├── TransientError                       try again later: the next invocation (or delivery) resumes the work
    │   ├── deadline.DeadlineExceededError       the Lambda's time is nearly up: stop cleanly, resume next time
    │   ├── redaction.RedactedError              stands in for an error leaving a handler whose text held a secret
    │   ├── flatfile.TransientError
    │   │   ├── flatfile.RetriesExhaustedError       429, 5xx, network, garbage body until the attempts ran out
    │   │   └── flatfile.SlowBodyError               (also a requests ReadTimeout) a body slower than the cap: retried
    │   ├── jobs.JobSendError                    (also RuntimeError) SQS did not take some export jobs
    │   ├── ledger.LedgerReadError               DynamoDB left ledger reads unprocessed; an entry vanished
    │   ├── ledger.BatchBusyError                another invocation holds the batch's export lease
    │   ├── ledger.LeaseLostError                another invocation took the lease over: stop writing
    │   ├── exporter.EventNotPublishedError      (also RuntimeError) EventBridge refused the export's event
    │   ├── exporter.StaleObjectsError           (also RuntimeError) old row parts could not be deleted
    │   ├── reconcile.CountsDisagreeError        (also RuntimeError) rows and the source's counts disagree: retried
    │   ├── schema_drift.SchemaMovingError       (also RuntimeError) other exports kept moving a slug's last schema
    │   └── export_source.SourceChangedError     (also RuntimeError) rows changed while read: read them again
    │       └── platform_export.SheetsChangedError   a Platform workbook's records changed during its export
    └── ContractError                        the input breaks the contract: retrying will not help, the item is given up
        ├── flatfile.ContractError               Flatfile answered something the relay does not understand
        │   ├── flatfile.NotFoundError               Flatfile does not know the batch (404): nothing to export
        │   ├── flatfile.GraphQLError                the GraphQL answer holds `errors`
        │   └── flatfile.BodyTooLargeError           an answer larger than the relay reads (MAX_BODY_BYTES)
        ├── export_source.HandbackError          a source hands the export back while reading (the run catches it)
        ├── reconcile.ReconciliationFailedError  (also RuntimeError) counts still disagree on the last delivery
        ├── ledger.AlreadyExportedError          the batch was exported: only a replay exports it again
        ├── ledger.InconsistentEntryError        a ledger entry breaks the ledger's own rules: replay the batch
        ├── models.InvalidDocumentError          (also ValueError) a JSON document does not fit its model
        ├── jobs.InvalidJobError                 (also ValueError) a message on the export-jobs queue is no job
        ├── parts.RowEncodingError               (also ValueError) a row that cannot be written as strict JSON
        ├── manifest.ManifestError               (also ValueError) a manifest or notice breaks the contract
        │   └── manifest.UnsupportedSchemaError      another schemaVersion or notice type
        ├── reader.ReaderError                   (also RuntimeError) an export cannot be read back
        │   └── reader.CorruptPartError              a part does not match its manifest entry
        ├── layout.UndatedBatchError             (also ValueError) a batch with no date to partition its rows by
        ├── webhook.WebhookError                 (also ValueError) a delivery the webhook refuses
        │   ├── webhook.InvalidPayloadError          not a Portal v2 payload nor a Platform event (400)
        │   ├── webhook.PayloadTooLargeError         too large (413)
        │   └── webhook.UnsupportedMediaTypeError    not said to be JSON (415)
        └── operations.requests.InvalidRequestError  (also ValueError) an operator's request the poller refuses

Two bases group errors by where they come from and are never raised themselves: `flatfile.FlatfileError`
(every error of the Flatfile client: a redacted message and the HTTP `status`) and `ledger.LedgerError` (the
ledger's). Each error below them is also one of the three kinds. `ValueError` and `RuntimeError` stay extra
bases where callers catch them. This module imports nothing: the Flatfile client and the leaf modules build
on it. `flatfile_relay.failures.classify` tells the handlers what any exception means, these and AWS's.

Example:
    >>> class QueueGoneError(ConfigurationError):
    ...     '''The export-jobs queue does not exist.'''
    >>> isinstance(QueueGoneError("no queue"), RelayError)
    True
"""

from __future__ import annotations

__all__ = ["ConfigurationError", "ContractError", "RelayError", "TransientError"]


class RelayError(Exception):
    """The root of every error the relay raises; raise one of the three kinds below, never this one."""


class ConfigurationError(RelayError):
    """A human must fix the configuration (a setting, a secret, a resource, a permission); retrying will not help."""


class TransientError(RelayError):
    """Try again later: the failure is expected to pass (the next invocation, delivery or poll resumes the work)."""


class ContractError(RelayError):
    """The input breaks the contract the relay relies on (an answer, a message, a document, a request): retrying
    the same input will not help and the configuration is not at fault, so the item is given up (a DLQ, the log)."""
