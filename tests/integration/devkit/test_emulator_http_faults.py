"""Every fault kind as a client sees it over real HTTP, and the count/after semantics."""

from __future__ import annotations

import json
import time

import pytest
import requests

from flatfile_relay_devkit.emulator import Emulator, FaultRule


def list_batches(emu: Emulator, session: requests.Session | None = None) -> requests.Response:
    headers = {"X-Api-Key": f"{emu.secret['accessKeyId']}+{emu.secret['secretAccessKey']}"}
    return (session or requests).get(
        f"{emu.url}/rest/batches", params={"licenseKey": emu.secret["licenseKey"]}, headers=headers, timeout=5
    )


def test_429_with_retry_after_then_success(emulator: Emulator) -> None:
    emulator.inject(FaultRule(kind="429", path="/rest/batches", count=2, retry_after=1.5))
    statuses = []
    for _ in range(3):
        response = list_batches(emulator)
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["Retry-After"] == "1.5"
            assert response.json()["statusCode"] == 429
            assert response.json()["error"] == "Too Many Requests"
    assert statuses == [429, 429, 200]
    assert [record.fault for record in emulator.request_log] == ["429", "429", None]


def test_429_without_retry_after(emulator: Emulator) -> None:
    emulator.inject(FaultRule(kind="429", retry_after=None))
    response = list_batches(emulator)
    assert response.status_code == 429
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_answers_with_a_nest_error(emulator: Emulator, status: int) -> None:
    emulator.inject(FaultRule(kind=str(status), path="/rest/"))
    response = list_batches(emulator)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.json()["statusCode"] == status
    assert list_batches(emulator).status_code == 200


def test_drop_closes_the_connection_without_a_response(emulator: Emulator) -> None:
    emulator.inject(FaultRule(kind="drop", after=1, count=1))
    with requests.Session() as session:
        assert list_batches(emulator, session).status_code == 200  # a pooled, kept-alive connection
        with pytest.raises(requests.ConnectionError):
            list_batches(emulator, session)
        assert list_batches(emulator, session).status_code == 200
    assert [record.status for record in emulator.request_log] == [200, 0, 200]


def test_invalid_json_is_a_200_that_does_not_parse(emulator: Emulator) -> None:
    emulator.inject(FaultRule(kind="invalid_json"))
    response = list_batches(emulator)
    assert response.status_code == 200
    assert response.text.startswith("<html>")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_slow_delays_then_answers_normally(emulator: Emulator) -> None:
    emulator.inject(FaultRule(kind="slow", delay=0.4))
    started = time.monotonic()
    response = list_batches(emulator)
    assert time.monotonic() - started >= 0.4
    assert response.status_code == 200
    assert response.json()["pagination"]["totalCount"] > 0


def test_slow_beyond_the_client_timeout_times_out(emulator: Emulator) -> None:
    emulator.inject(FaultRule(kind="slow", delay=0.5, path="/health"))
    with pytest.raises(requests.Timeout):
        requests.get(emulator.url + "/health", timeout=0.1)


def test_truncated_body_is_an_error_for_the_client(emulator: Emulator) -> None:
    emulator.inject(FaultRule(kind="truncated"))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        list_batches(emulator)
    assert list_batches(emulator).status_code == 200


def test_after_and_count_over_http(emulator: Emulator) -> None:
    emulator.inject(FaultRule(kind="500", path="/rest/batches", after=1, count=2))
    assert [list_batches(emulator).status_code for _ in range(5)] == [200, 500, 500, 200, 200]


def test_path_and_method_scoping(emulator: Emulator) -> None:
    emulator.inject(FaultRule(kind="503", path="/auth/", method="POST", count=None))
    assert list_batches(emulator).status_code == 200
    response = requests.post(emulator.url + "/auth/access-key/exchange", json={}, timeout=5)
    assert response.status_code == 503
    emulator.clear_faults()
    assert requests.post(emulator.url + "/auth/access-key/exchange", json={}, timeout=5).status_code == 400


def test_faults_apply_before_auth(emulator: Emulator) -> None:
    emulator.inject(FaultRule(kind="502"))
    assert requests.get(emulator.url + "/rest/batches", timeout=5).status_code == 502
