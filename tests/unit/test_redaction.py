"""The redaction filter: registered secrets and token-shaped values never reach a log line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from aws_lambda_powertools import Logger

from flatfile_relay.redaction import RedactionFilter, install_redaction, redact, register_secret

SECRET = "pa55-redaction-secret-value"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIiwiZXhwIjoxfQ.c2lnbmF0dXJlLXBhcnQ"


@pytest.fixture(autouse=True)
def _registered() -> None:
    register_secret(SECRET)


@pytest.fixture
def stream_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.redaction.stream")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    install_redaction(logger)
    yield logger, stream
    logger.handlers = []
    logger.filters = []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"value {SECRET} end", "value *** end"),
        (f"twice {SECRET}{SECRET}", "twice ******"),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***"),
        ("authorization: bearer abc", "authorization: bearer ***"),
        (f"token {JWT} ok", "token *** ok"),
        ('{"secretAccessKey": "abc123"}', '{"secretAccessKey": "***"}'),
        ("X-Api-Key: FF00abc+def", "X-Api-Key: ***"),
        ("/hook?token=abcdef&x=1", "/hook?token=***&x=1"),
        ('{"accessToken": "opaque"}', '{"accessToken": "***"}'),
        ("nothing secret here: 42 tokens", "nothing secret here: 42 tokens"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_short_and_empty_values_are_not_registered() -> None:
    register_secret("")
    register_secret(None)
    register_secret("ab")
    assert redact("ab cd") == "ab cd"


def test_longest_secret_wins() -> None:
    register_secret("inner-secret-1")
    register_secret("outer-inner-secret-1-outer")
    assert redact("x outer-inner-secret-1-outer y") == "x *** y"


def test_message_and_args(stream_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = stream_logger
    logger.info("secret %s and %r and %d", SECRET, {"k": SECRET}, 3)
    logger.info("mapping %(a)s", {"a": SECRET})
    logger.warning(f"inline {SECRET} Bearer {JWT}")
    text = stream.getvalue()
    assert SECRET not in text
    assert JWT not in text
    assert "secret *** and {'k': '***'} and 3" in text
    assert "mapping ***" in text


def test_extras_and_exceptions(stream_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = stream_logger
    try:
        raise RuntimeError(f"failed with {SECRET}")
    except RuntimeError:
        logger.exception("boom", extra={"detail": SECRET})
    text = stream.getvalue()
    assert SECRET not in text
    assert "RuntimeError: failed with ***" in text
    assert "Traceback" in text


def test_exception_without_secret_keeps_exc_info(stream_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = stream_logger
    try:
        raise ValueError("plain")
    except ValueError:
        logger.exception("boom")
    assert "ValueError: plain" in stream.getvalue()


def test_bad_format_string_still_logs_redacted(stream_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = stream_logger
    logger.info("%d items", SECRET)
    text = stream.getvalue()
    assert SECRET not in text
    assert "items" in text


def test_filter_never_drops_and_is_idempotent() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a %s", (SECRET,), None)
    assert RedactionFilter().filter(record)
    assert RedactionFilter().filter(record)
    assert record.getMessage() == "a ***"


def test_powertools_logger(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    logger = Logger(service="redaction-test", logger_handler=logging.StreamHandler(stream))
    install_redaction(logger)
    install_redaction(logger)  # twice is harmless
    logger.info({"event": "exchange", "token": SECRET})
    logger.info("sent %s", SECRET, extra={"authorization": f"Bearer {JWT}"})
    try:
        raise RuntimeError(SECRET)
    except RuntimeError:
        logger.exception("failed")
    text = stream.getvalue()
    assert SECRET not in text
    assert JWT not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["message"] == {"event": "exchange", "token": "***"}
    assert lines[1]["message"] == "sent ***"
    assert lines[2]["exception_name"] == "RuntimeError"
    assert "***" in lines[2]["exception"]
    assert sum(isinstance(f, RedactionFilter) for f in logger.handlers[0].filters) == 1


def test_records_propagated_from_library_loggers(caplog: pytest.LogCaptureFixture) -> None:
    # The client's logger has the filter itself, so even the test's capture handler sees redacted text.
    import flatfile_relay.flatfile  # noqa: F401 - installs the filter on its logger

    with caplog.at_level(logging.INFO, logger="flatfile_relay.flatfile"):
        logging.getLogger("flatfile_relay.flatfile").info("token %s", SECRET)
    assert SECRET not in caplog.text
    assert "token ***" in caplog.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://relay.example/#token=abc-123", "https://relay.example/#token=***"),
        ("https%3A%2F%2Frelay.example%2F%3Ftoken%3Dabc-123%26x%3D1", "https%3A%2F%2Frelay.example%2F%3Ftoken%3D***"),
        ("u=https%253A%252F%252Fr%252F%253Ftoken%253Dabc", "u=https%253A%252F%252Fr%252F%253Ftoken%253D***"),
    ],
)
def test_a_token_after_a_hash_or_percent_encoded_is_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_registered_secret_is_found_percent_encoded() -> None:
    register_secret("p+ss/w0rd=enc")
    assert redact("k=p%2Bss%2Fw0rd%3Denc&n=1") == "k=***&n=1"
    assert redact("k=p%2bss%2fw0rd%3denc") == "k=***"
    assert redact("k=p+ss/w0rd=enc") == "k=***"
