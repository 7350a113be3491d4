"""The curl examples of the emulator's routes (docs/local.md) work as written against a running emulator: the
legacy API's block, then the Platform's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from support.docs import blocks
from support.functions import ROOT

from flatfile_relay_devkit.emulator import Emulator


def routes_blocks() -> list[str]:
    """The bash blocks of the section "The emulator's routes", in order."""
    return [found.text for found in blocks("docs/local.md", "### The emulator's routes", "bash")]


def run(block: str, emu: Emulator) -> list[str]:
    script = "set -euo pipefail\n" + block.replace("http://127.0.0.1:8765", emu.url).replace(
        ".venv/bin/python", sys.executable)
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_curl_examples_work(emulator_factory: object) -> None:
    emu = emulator_factory()  # type: ignore[operator]
    block = routes_blocks()[0]
    assert "E=http://127.0.0.1:8765" in block  # where `make emulator` listens
    lines = run(block, emu)
    assert lines[0] == '{"status":"ok"}'
    assert '"totalCount":13' in lines[1]
    assert lines[2] == "403"  # a license of another account
    assert lines[-2].startswith('{"data":{"getBatch":{"id":')
    assert lines[-1] == "401"  # a wrong secret access key
    assert emu.requests_to("/rest/batch/")  # the batch and its rows were asked for


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_platform_examples_work(emulator_factory: object) -> None:
    emu = emulator_factory()  # type: ignore[operator]
    block = routes_blocks()[1]
    assert "P=http://127.0.0.1:8765/v1" in block
    environment, workbook, records, counts, jobs, ack, complete, events, refused, wrong = run(block, emu)
    assert json.loads(environment)["data"]["id"] == emu.platform_secret["platformEnvironmentId"]
    assert [sheet["slug"] for sheet in json.loads(workbook)["data"]["sheets"]] == ["customers", "orders"]
    page = json.loads(records)["data"]
    assert (len(page["records"]), page["counts"]["total"]) == (2, 25)
    assert json.loads(counts) == {"data": {"counts": {"total": 25, "valid": 19, "error": 6}, "success": True}}
    job = json.loads(jobs)["data"][0]
    assert (job["status"], json.loads(jobs)["pagination"]["totalCount"]) == ("ready", 4)
    assert json.loads(ack)["data"]["status"] == "executing"
    assert json.loads(complete)["data"]["outcome"] == {"message": "Exported 25 records to AWS"}
    assert json.loads(events)["data"][-1]["context"]["jobId"] == job["id"]
    assert (refused, wrong) == ("400", "401")
    assert {record.route for record in emu.request_log} >= {"/v1/jobs/{jobId}/ack", "/v1/sheets/{sheetId}/records"}
