"""Transport: retries, backoff, Retry-After, deadline caps, body checks, URL checks."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
from support.flatfile_fakes import Call, FakeFlatfile

from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.flatfile import (
    ConfigurationError,
    ContractError,
    RequestCounts,
    RetriesExhaustedError,
    Transport,
    parse_retry_after,
)

NEVER = Deadline.never()
OK = (200, {"ok": True})


def make(fake: FakeFlatfile, sleeps: list[float], **options: Any) -> Transport:
    options.setdefault("rand", lambda: 0.5)
    return Transport(fake.base_url, session=fake.session, sleep=sleeps.append, **options)


# -- backoff and Retry-After ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        (" 0.25 ", 0.25),
        ("0", 0.0),
        ("-4", 0.0),
        ("inf", None),
        ("nan", None),
        ("", None),
        (None, None),
        ("later", None),
        ("Wed, 21 Oct 2015 07:28:00", None),  # an HTTP-date is GMT: without a zone it is not one
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    future = datetime.now(UTC) + timedelta(seconds=30)
    assert 28 < (parse_retry_after(format_datetime(future, usegmt=True)) or 0) <= 30
    past = datetime.now(UTC) - timedelta(seconds=30)
    assert parse_retry_after(format_datetime(past, usegmt=True)) == 0.0


# -- construction ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "ftp://api.example",
        "https://",
        "api.us.flatfile.io",
        "https://user:pw@api.example",
        "https://api.example?x=1",
        "https://api.example#top",
        "https://api.example:99999",
    ],
)
def test_unusable_base_url(url: str) -> None:
    with pytest.raises(ConfigurationError, match="FLATFILE_BASE_URL") as caught:
        Transport(url)
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://api.us.flatfile.io", "http://10.0.0.5:8765", "http://127.0.0.2", "http://localhost.example",
            "HTTP://api.example", "http://[::2]:80", "http://host.docker.internal:8765"],
)
def test_plain_http_to_anything_but_a_loopback_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="must use https://") as caught:
        Transport(url)
    assert "FLATFILE_BASE_URL" in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8765", "http://localhost:8765/", "http://LOCALHOST", "http://[::1]:8765",
            "https://api.eu.flatfile.io", "https://127.0.0.1:8443"],
)
def test_https_anywhere_and_plain_http_to_a_loopback_host_are_accepted(url: str) -> None:
    transport = Transport(url)  # a refused base URL raises ConfigurationError here
    assert transport.url_for("/rest/batches") == url.rstrip("/") + "/rest/batches"
    transport.close()


def test_base_url_is_normalised() -> None:
    transport = Transport(" https://api.example/prefix/ ")
    assert transport.url_for("/rest/batches") == "https://api.example/prefix/rest/batches"
    assert transport.url_for("health") == "https://api.example/prefix/health"
    transport.close()


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": 0},
        {"connect_timeout": -1},
        {"max_attempts": 0},
        {"max_attempts": True},
        {"backoff_base": -1},
    ],
)
def test_bad_options(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the option, checked below
        Transport("https://api.example", **options)


# -- retries --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses(fake: FakeFlatfile, sleeps: list[float], status: int) -> None:
    fake.queue("/x", (status, {"statusCode": status}), (status, "gateway says no"))
    fake.route("/x", lambda call: OK)
    reply = make(fake, sleeps).request("GET", "/x", deadline=NEVER)
    assert reply.status == 200
    assert reply.body == {"ok": True}
    assert len(fake.calls) == 3
    assert sleeps == [0.25, 0.5]  # rand 0.5 x 0.5 s, then 0.5 x 1 s


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_other_statuses_are_returned(fake: FakeFlatfile, sleeps: list[float], status: int) -> None:
    fake.queue("/x", (status, {"statusCode": status, "message": "no"}))
    reply = make(fake, sleeps).request("GET", "/x", deadline=NEVER)
    assert (reply.status, reply.body, reply.ok) == (status, {"statusCode": status, "message": "no"}, False)
    assert len(fake.calls) == 1
    assert sleeps == []


def test_error_status_with_garbage_body(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.queue("/x", (404, "<html>nope</html>"))
    reply = make(fake, sleeps).request("GET", "/x", deadline=NEVER)
    assert (reply.status, reply.body) == (404, None)


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectionError(
            "HTTPConnectionPool(host='h', port=1): Max retries exceeded with url: "
            "/x?licenseKey=abc (Caused by NewConnectionError('[Errno 111] Connection refused'))"
        ),
        requests.ConnectTimeout("connect timed out for /x?licenseKey=abc"),
        requests.ReadTimeout("read timed out for /x?licenseKey=abc"),
        requests.exceptions.ChunkedEncodingError("IncompleteRead(5 bytes read)"),
    ],
)
def test_network_errors_are_retried(fake: FakeFlatfile, sleeps: list[float], error: Exception) -> None:
    fake.queue("/x", error)
    fake.route("/x", lambda call: OK)
    assert make(fake, sleeps).request("GET", "/x", deadline=NEVER).status == 200
    assert len(fake.calls) == 2


def test_unreadable_2xx_body_is_retried(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.queue("/x", (200, "<html>502 Bad Gateway</html>"), (200, b""), (200, b'{"cut": '))
    fake.route("/x", lambda call: OK)
    assert make(fake, sleeps).request("GET", "/x", deadline=NEVER).body == {"ok": True}
    assert len(fake.calls) == 4


def test_204_and_unparsed_bodies(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.queue("/x", (204, b""))
    assert make(fake, sleeps).request("GET", "/x", deadline=NEVER).body is None
    fake.queue("/x", (200, "OK"))
    reply = make(fake, sleeps).request("GET", "/x", deadline=NEVER, parse_json=False)
    assert (reply.status, reply.body) == (200, None)
    assert len(fake.calls) == 2


def test_retries_exhausted_on_status(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.route("/x", lambda call: (503, {"statusCode": 503}))
    with pytest.raises(RetriesExhaustedError) as caught:
        make(fake, sleeps, max_attempts=4).request(
            "GET", "/x", deadline=NEVER, params={"licenseKey": "lic-123"}
        )
    error = caught.value
    assert (error.attempts, error.last_status, error.last_error) == (4, 503, "HTTP 503")
    assert len(fake.calls) == 4
    assert len(sleeps) == 3
    assert "GET /x" in str(error)
    assert "lic-123" not in str(error)
    assert "Try again later" in str(error)


def test_retries_exhausted_on_network_error_hides_the_url(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.route(
        "/x",
        lambda call: requests.ConnectionError(
            "HTTPConnectionPool(host='h', port=1): Max retries exceeded with url: /x?licenseKey=lic-123 "
            "(Caused by NewConnectionError('<conn>: Failed to establish a new connection: "
            "[Errno 111] Connection refused'))"
        ),
    )
    with pytest.raises(RetriesExhaustedError) as caught:
        make(fake, sleeps, max_attempts=2).request("GET", "/x", deadline=NEVER)
    assert caught.value.last_status is None
    assert caught.value.last_error == "ConnectionError: [Errno 111] Connection refused"
    assert "lic-123" not in str(caught.value)
    assert caught.value.__cause__ is None


def test_retries_exhausted_on_garbage_has_a_contract_error_cause(
    fake: FakeFlatfile, sleeps: list[float]
) -> None:
    fake.route("/x", lambda call: (200, "<html>oops</html>"))
    with pytest.raises(RetriesExhaustedError) as caught:
        make(fake, sleeps, max_attempts=2).request("GET", "/x", deadline=NEVER)
    assert isinstance(caught.value.__cause__, ContractError)
    assert "not JSON" in str(caught.value.__cause__)


def test_retry_after_is_honoured(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.queue("/x", (429, {"statusCode": 429}, {"Retry-After": "3"}), (503, {}, {"Retry-After": "0.5"}))
    fake.route("/x", lambda call: OK)
    make(fake, sleeps).request("GET", "/x", deadline=NEVER)
    assert sleeps == [3.0, 0.5]


def test_a_retry_after_date_is_read_against_the_transports_clock(fake: FakeFlatfile, sleeps: list[float]) -> None:
    now = 1_445_412_470.0  # Wed, 21 Oct 2015 07:27:50 GMT
    fake.queue("/x", (503, {}, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    fake.route("/x", lambda call: OK)
    make(fake, sleeps, clock=lambda: now).request("GET", "/x", deadline=NEVER)
    assert sleeps == [10.0]


def test_retry_after_beyond_the_deadline_fails_at_once(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.queue("/x", (429, {"statusCode": 429}, {"Retry-After": "30"}))
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError) as caught:
        make(fake, sleeps).request("GET", "/x", deadline=Deadline.after(5))
    assert time.monotonic() - started < 1
    assert sleeps == []
    assert "HTTP 429" in str(caught.value)
    assert "next invocation" in str(caught.value)


def test_retry_after_beyond_the_maximum_gives_up(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.queue("/x", (429, {}, {"Retry-After": "3600"}))
    with pytest.raises(RetriesExhaustedError, match="asked to wait 3600s"):
        make(fake, sleeps).request("GET", "/x", deadline=NEVER)
    assert sleeps == []


def test_backoff_beyond_the_deadline_fails_at_once(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.queue("/x", (500, {}))
    with pytest.raises(DeadlineExceededError):
        make(fake, sleeps, backoff_base=10, rand=lambda: 1.0).request("GET", "/x", deadline=Deadline.after(2))
    assert sleeps == []


def test_expired_deadline_sends_nothing(fake: FakeFlatfile, sleeps: list[float]) -> None:
    with pytest.raises(DeadlineExceededError, match="GET /x"):
        make(fake, sleeps).request("GET", "/x", deadline=Deadline.after(0))
    assert fake.calls == []


def test_timeouts_are_set_and_capped_by_the_deadline(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.route("/x", lambda call: OK)
    transport = make(fake, sleeps, timeout=30, connect_timeout=5)
    transport.request("GET", "/x", deadline=NEVER)
    transport.request("GET", "/x", deadline=Deadline.after(2))
    assert fake.calls[0].timeout == (5.0, 30.0)
    connect, read = fake.calls[1].timeout
    assert 1.5 < connect <= 2
    assert 1.5 < read <= 2


def test_headers_are_rebuilt_for_every_attempt(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.queue("/x", (503, {}), (503, {}))
    fake.route("/x", lambda call: OK)
    counter = iter(range(100))
    make(fake, sleeps).request(
        "GET", "/x", deadline=NEVER, headers=lambda: {"Authorization": f"Bearer t{next(counter)}"}
    )
    assert [call.headers["Authorization"] for call in fake.calls] == ["Bearer t0", "Bearer t1", "Bearer t2"]
    assert fake.calls[0].headers["Accept"] == "application/json"


def test_user_agent_names_the_caller_before_the_http_library(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.route("/x", lambda call: OK)
    make(fake, sleeps, user_agent="flatfile-relay/9.9").request("GET", "/x", deadline=NEVER)
    make(fake, sleeps).request("GET", "/x", deadline=NEVER)
    named, anonymous = (call.headers["User-Agent"] for call in fake.calls)
    assert named == f"flatfile-relay/9.9 {anonymous}"
    assert anonymous == requests.utils.default_user_agent()


def test_post_body_and_retries(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.queue("/graphql", (502, "bad gateway"))
    fake.route("/graphql", lambda call: (200, {"echo": call.body}))
    reply = make(fake, sleeps).request("POST", "/graphql", deadline=NEVER, json_body={"query": "q"})
    assert reply.body == {"echo": {"query": "q"}}
    assert [call.body for call in fake.calls] == [{"query": "q"}, {"query": "q"}]


def test_redirects_are_not_followed(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.queue("/x", (301, b"", {"Location": "https://elsewhere.example/x?secret=1"}))
    with pytest.raises(ConfigurationError) as caught:
        make(fake, sleeps).request("GET", "/x", deadline=NEVER, headers=lambda: {"X-Api-Key": "k+s"})
    assert "https://elsewhere.example" in str(caught.value)
    assert "secret=1" not in str(caught.value)
    assert len(fake.calls) == 1


def test_invalid_url_error_is_a_configuration_error(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.queue("/x", requests.exceptions.InvalidURL("bad"))
    with pytest.raises(ConfigurationError, match="FLATFILE_BASE_URL"):
        make(fake, sleeps).request("GET", "/x", deadline=NEVER)


def test_retries_are_logged_with_the_path_only(
    fake: FakeFlatfile, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    fake.queue("/rest/batches", (429, {}, {"Retry-After": "1"}), requests.ReadTimeout("timed out"))
    fake.route("/rest/batches", lambda call: OK)
    with caplog.at_level(logging.WARNING, logger="flatfile_relay.flatfile"):
        make(fake, sleeps).request("GET", "/rest/batches", deadline=NEVER, params={"licenseKey": "lic-777"})
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert [record.getMessage() for record in warnings] == [
        "Flatfile GET /rest/batches failed (HTTP 429, attempt 1/6); retrying in 1.00s",
        "Flatfile GET /rest/batches failed (ReadTimeout, attempt 2/6); retrying in 0.50s",
    ]
    assert warnings[0].attempt == 1  # type: ignore[attr-defined]
    assert warnings[0].flatfile_status == 429  # type: ignore[attr-defined]
    assert "lic-777" not in caplog.text
    assert all(call.query == {"licenseKey": "lic-777"} for call in fake.calls)


def test_scripted_calls_are_recorded(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.route("/x", lambda call: OK)
    make(fake, sleeps).request("GET", "/x", deadline=NEVER, params={"a": "1"})
    assert fake.calls[0] == Call("GET", "/x", {"a": "1"}, fake.calls[0].headers, None, (5.0, 30.0))


# -- counts ---------------------------------------------------------------------------------------------


def test_every_attempt_retry_and_throttle_is_counted(fake: FakeFlatfile, sleeps: list[float]) -> None:
    fake.queue("/x", (429, {"statusCode": 429}), (503, "busy"), (429, {"statusCode": 429}))
    fake.route("/x", lambda call: OK)
    transport = make(fake, sleeps)
    transport.request("GET", "/x", deadline=NEVER)
    transport.request("GET", "/x", deadline=NEVER)

    assert transport.counts.take() == RequestCounts(requests=5, retries=3, throttles=2)
    assert transport.counts == RequestCounts()  # taken: the next invocation starts from zero


def test_a_request_that_gives_up_counts_its_attempts_but_no_retry_after_the_last(
    fake: FakeFlatfile, sleeps: list[float]
) -> None:
    fake.queue("/x", *[(429, {"statusCode": 429})] * 3)
    counts = RequestCounts()
    transport = make(fake, sleeps, max_attempts=3, counts=counts)
    with pytest.raises(RetriesExhaustedError):
        transport.request("GET", "/x", deadline=NEVER)
    assert counts == RequestCounts(requests=3, retries=2, throttles=3)
    assert transport.counts is counts  # shared: a client made after a secret change counts on
