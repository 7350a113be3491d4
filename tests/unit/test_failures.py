"""classify: what any failure means for a handler (not configured, configuration, transient, contract)."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError, EndpointConnectionError

from flatfile_relay.credentials import Credentials, MalformedSecretError, NotConfiguredError
from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.failures import ErrorKind, classify
from flatfile_relay.flatfile import ContractError, CredentialsRejectedError, NotFoundError, RetriesExhaustedError
from flatfile_relay.jobs import ExportJob, InvalidJobError, JobSendError
from flatfile_relay.ledger import AlreadyExportedError, BatchBusyError
from flatfile_relay.manifest import ManifestError
from flatfile_relay.settings import Settings, SettingsError

CONFIGURATION, TRANSIENT, CONTRACT = ErrorKind.CONFIGURATION, ErrorKind.TRANSIENT, ErrorKind.CONTRACT


def client_error(code: str, operation: str = "GetSecretValue") -> Exception:
    return ClientError({"Error": {"Code": code, "Message": "..."}}, operation)


def wrapped(outer: Exception, inner: Exception) -> Exception:
    """`outer` raised while handling `inner` (implicit chaining, as Powertools' GetParameterError is)."""
    outer.__context__ = inner
    return outer


def is_configuration_error(error: BaseException) -> bool:
    return classify(error) in (ErrorKind.CONFIGURATION, ErrorKind.NOT_CONFIGURED)


# -- moved from test_webhook_tokens.py (it tested webhook.is_configuration_error, which `classify` replaced) --


def test_configuration_problems_need_a_human() -> None:
    assert is_configuration_error(SettingsError("missing configuration: EXPORT_BUCKET"))
    assert is_configuration_error(MalformedSecretError("no 'licenseKey'", key="licenseKey"))
    assert is_configuration_error(client_error("NoSuchBucket", "PutObject"))
    missing = client_error("ResourceNotFoundException")
    assert is_configuration_error(wrapped(GetParameterError("not found"), missing))
    assert is_configuration_error(wrapped(GetParameterError("denied"), client_error("AccessDeniedException")))
    send_error = JobSendError("could not send", queue_url="q", sent=[], failed=[])
    send_error.__cause__ = client_error("AWS.SimpleQueueService.NonExistentQueue", "SendMessageBatch")
    assert is_configuration_error(send_error)


def test_transient_problems_are_not_configuration_problems() -> None:
    assert not is_configuration_error(client_error("ThrottlingException"))
    assert not is_configuration_error(client_error("InternalServerError", "PutObject"))
    assert not is_configuration_error(EndpointConnectionError(endpoint_url="https://sqs.example"))
    assert not is_configuration_error(wrapped(GetParameterError("throttled"), client_error("ThrottlingException")))
    assert not is_configuration_error(RuntimeError("something else"))


# -- one verdict for each kind ---------------------------------------------------------------------------


def test_a_secret_still_holding_its_placeholders_is_not_configured_yet_even_when_wrapped() -> None:
    with pytest.raises(NotConfiguredError) as caught:
        Credentials.from_secret({"accessKeyId": "REPLACE_ME", "secretAccessKey": "REPLACE_ME",
                                 "licenseKey": "REPLACE_ME"})
    assert classify(caught.value) is ErrorKind.NOT_CONFIGURED
    assert classify(wrapped(RuntimeError("while polling"), caught.value)) is ErrorKind.NOT_CONFIGURED


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (SettingsError("missing configuration: EXPORT_BUCKET"), CONFIGURATION),
        (CredentialsRejectedError("Flatfile rejected the access key"), CONFIGURATION),
        (client_error("AccessDenied", "PutObject"), CONFIGURATION),
        (RetriesExhaustedError("Flatfile kept failing", attempts=6), TRANSIENT),
        (BatchBusyError("busy"), TRANSIENT),
        (JobSendError("could not send", queue_url="q", sent=[], failed=[]), TRANSIENT),
        (GetParameterError("An error occurred"), TRANSIENT),
        (client_error("ProvisionedThroughputExceededException", "BatchGetItem"), TRANSIENT),
        (ContractError("Flatfile answered something else"), CONTRACT),
        (NotFoundError("no batch"), CONTRACT),
        (InvalidJobError("job.batchId must be a UUID"), CONTRACT),
        (ManifestError("manifest.rowCount must be a whole number"), CONTRACT),
        (AlreadyExportedError("exported"), CONTRACT),
        (KeyError("a bug"), ErrorKind.UNEXPECTED),
    ],
)
def test_each_kind(error: Exception, kind: ErrorKind) -> None:
    assert classify(error) is kind


def test_the_deadline_is_transient() -> None:
    with pytest.raises(DeadlineExceededError) as caught:
        Deadline.after(-1).check("polling")
    assert classify(caught.value) is TRANSIENT


def test_a_settings_error_raised_by_the_settings_is_a_configuration_problem() -> None:
    """What the exporter's handler missed before (it logged SettingsError as a crash)."""
    with pytest.raises(SettingsError) as caught:
        Settings().require("export_bucket")
    assert classify(caught.value) is CONFIGURATION


def test_a_configuration_problem_anywhere_in_the_chain_decides_else_the_first_known_link() -> None:
    retries = RetriesExhaustedError("kept failing")
    retries.__cause__ = ContractError("a body that is not JSON")
    assert classify(retries) is TRANSIENT  # the first link the relay knows
    assert classify(wrapped(RuntimeError("while exporting"), retries)) is TRANSIENT
    assert classify(wrapped(ContractError("odd answer"), client_error("NoSuchBucket", "PutObject"))) is CONFIGURATION


def test_a_context_hidden_by_raise_from_none_does_not_count() -> None:
    def raise_hidden() -> None:
        try:
            raise SettingsError("EXPORT_BUCKET is missing")
        except SettingsError:
            raise InvalidJobError("job.batchId must be a UUID") from None

    with pytest.raises(InvalidJobError) as caught:
        raise_hidden()
    assert caught.value.__context__ is not None
    assert classify(caught.value) is CONTRACT


def test_a_cyclic_chain_ends() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__context__, second.__context__ = second, first
    assert classify(first) is ErrorKind.UNEXPECTED


def test_a_job_that_is_not_valid_is_a_contract_problem() -> None:
    with pytest.raises(InvalidJobError) as caught:
        ExportJob.from_message("not json")
    assert classify(caught.value) is CONTRACT
