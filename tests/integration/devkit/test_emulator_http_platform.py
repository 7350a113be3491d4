"""The Platform side over real HTTP: the same process, faults, latency and request log as the legacy side."""

from __future__ import annotations

import time

import pytest
import requests

from flatfile_relay_devkit.emulator import Emulator, FaultRule


def headers(emu: Emulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {emu.platform_secret['platformSecretKey']}"}


def test_both_apis_answer_from_one_process(emulator: Emulator) -> None:
    assert emulator.platform_url == emulator.url + "/v1"
    legacy = requests.get(f"{emulator.url}/health", timeout=5)
    jobs = requests.get(f"{emulator.platform_url}/jobs", headers=headers(emulator), timeout=5)
    assert (legacy.status_code, jobs.status_code) == (200, 200)
    assert emulator.platform_secret["platformEnvironmentId"] == emulator.platform.account.environment_id
    assert [record.route for record in emulator.request_log] == [None, "/v1/jobs"]


@pytest.mark.parametrize("status", ["429", "500", "503"])
def test_a_status_fault_on_a_platform_route_answers_in_the_platform_envelope(emulator: Emulator, status: str) -> None:
    emulator.inject(FaultRule(kind=status, path="/v1/jobs", retry_after=2))
    answer = requests.get(f"{emulator.platform_url}/jobs", headers=headers(emulator), timeout=5)
    assert answer.status_code == int(status)
    assert list(answer.json()) == ["errors"]
    assert ("Retry-After" in answer.headers) == (status == "429")


def test_a_lost_answer_carries_the_request_out_and_drops_the_connection(emulator: Emulator) -> None:
    job = emulator.platform.submit(emulator.platform.sample_id("products"))["id"]
    emulator.inject(FaultRule(kind="lost", path="/v1/jobs/*/complete", method="POST"))
    url = f"{emulator.platform_url}/jobs/{job}/complete"
    body = {"outcome": {"message": "Exported"}}
    with pytest.raises(requests.ConnectionError):
        requests.post(url, json=body, headers=headers(emulator), timeout=5)
    assert emulator.platform.job(job)["status"] == "complete"  # it happened, the answer never came
    again = requests.post(url, json=body, headers=headers(emulator), timeout=5)
    assert again.status_code == 400
    lost, resent = emulator.requests_to("/v1/jobs/", "POST")
    assert (lost.fault, lost.status, lost.route, lost.body_keys) == ("lost", 200, "/v1/jobs/{jobId}/complete",
                                                                     ("outcome",))
    assert (resent.fault, resent.status) == (None, 400)


def test_a_glob_fault_matches_any_id_and_a_prefix_still_works(emulator: Emulator) -> None:
    sheet = emulator.platform.sample_id("orders")
    emulator.inject(FaultRule(kind="503", path="/v1/sheets/*/records", count=None))
    assert requests.get(f"{emulator.platform_url}/sheets/{sheet}", headers=headers(emulator), timeout=5).ok
    records = requests.get(f"{emulator.platform_url}/sheets/{sheet}/records", headers=headers(emulator), timeout=5)
    assert records.status_code == 503


def test_latency_and_the_page_cap_knob_apply_to_platform_routes(emulator_factory: object) -> None:
    emu: Emulator = emulator_factory(latency=0.2, platform_max_page_size=7)  # type: ignore[operator]
    sheet = emu.platform.sample_id("orders")
    started = time.monotonic()
    answer = requests.get(f"{emu.platform_url}/sheets/{sheet}/records", params={"pageSize": 100},
                          headers=headers(emu), timeout=5)
    assert time.monotonic() - started >= 0.2
    assert len(answer.json()["data"]["records"]) == 7
    emu.set(platform_max_page_size=50)
    answer = requests.get(f"{emu.platform_url}/sheets/{sheet}/records", params={"pageSize": 100},
                          headers=headers(emu), timeout=5)
    assert len(answer.json()["data"]["records"]) == 30


def test_the_request_log_keeps_routes_and_body_keys_never_values(emulator: Emulator) -> None:
    job = emulator.platform.submit(emulator.platform.sample_id("products"))["id"]
    requests.post(f"{emulator.platform_url}/jobs/{job}/ack", json={"info": "secret-looking", "progress": 1},
                  headers=headers(emulator), timeout=5)
    record = emulator.request_log[-1]
    assert (record.method, record.route, record.body_keys, record.auth) == (
        "POST", "/v1/jobs/{jobId}/ack", ("info", "progress"), "bearer")
    assert "secret-looking" not in repr(record)
