"""The curl examples of the emulator's routes (docs/local.md) work as written against a running emulator."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from support.docs import block
from support.functions import ROOT


def routes_block() -> str:
    return block("docs/local.md", "### The emulator's routes", "bash").text


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_curl_examples_work(emulator_factory: object) -> None:
    emu = emulator_factory()  # type: ignore[operator]
    block = routes_block()
    assert "E=http://127.0.0.1:8765" in block  # where `make emulator` listens
    script = "set -euo pipefail\n" + block.replace("E=http://127.0.0.1:8765", f"E={emu.url}").replace(
        ".venv/bin/python", sys.executable
    )

    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == '{"status":"ok"}'
    assert '"totalCount":13' in lines[1]
    assert lines[2] == "403"  # a license of another account
    assert lines[-2].startswith('{"data":{"getBatch":{"id":')
    assert lines[-1] == "401"  # a wrong secret access key
    assert emu.requests_to("/rest/batch/")  # the batch and its rows were asked for
