"""python -m flatfile_relay_devkit.emulator: serve, samples and send-webhook."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from flatfile_relay_devkit.emulator import State
from flatfile_relay_devkit.emulator.platform import PlatformState, build_platform_account

ROOT = Path(__file__).resolve().parents[3]
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(ROOT / "devkit"), os.environ.get("PYTHONPATH", "")]),
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flatfile_relay_devkit.emulator", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=30,
        check=False,
    )


def test_serve_prints_url_and_secret_then_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "flatfile_relay_devkit.emulator", "--port", "0", "--seed", "9", "--max-take", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        secret = json.loads(process.stdout.readline())
        platform = json.loads(process.stdout.readline())
        assert url.startswith("http://127.0.0.1:")
        assert secret == State.with_samples(9).account.secret()
        assert platform == build_platform_account(9).secret()
        jobs = requests.get(f"{url}/v1/jobs", headers={"Authorization": f"Bearer {platform['platformSecretKey']}"},
                            timeout=5)
        assert jobs.json()["pagination"]["totalCount"] == 3
        assert requests.get(url + "/health", timeout=5).json() == {"status": "ok"}
        page = requests.get(
            f"{url}/rest/batches",
            params={"licenseKey": secret["licenseKey"], "take": 50},
            headers={"X-Api-Key": f"{secret['accessKeyId']}+{secret['secretAccessKey']}"},
            timeout=5,
        )
        assert page.json()["pagination"]["limit"] == 3
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_samples_prints_labels_and_ids() -> None:
    result = run("samples", "--seed", "7")
    assert result.returncode == 0
    assert json.loads(result.stdout) == State.with_samples(7).samples
    platform = run("samples", "--seed", "7", "--platform")
    assert json.loads(platform.stdout) == PlatformState.with_samples(7).samples


def test_secret_prints_both_sources_keys() -> None:
    values = json.loads(run("secret", "--seed", "7").stdout)
    assert values == {**State.with_samples(7).account.secret(), **build_platform_account(7).secret()}
    shell = run("secret", "--seed", "7", "--shell").stdout
    assert f"export PLATFORM_SECRET_KEY={values['platformSecretKey']}" in shell.splitlines()
    assert f"export PLATFORM_ENVIRONMENT_ID={values['platformEnvironmentId']}" in shell.splitlines()


def test_send_webhook_posts_a_sample_batch() -> None:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        result = run(
            "send-webhook", "--to", url, "--batch", "medium", "--rows-per-post", "100", "--token", "t"
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "batchId": State.with_samples(7).sample_id("medium"),
        "statuses": [200, 200, 200],
    }
    assert [body["event"]["sequence"]["index"] for body in received] == [0, 1, 2]


def test_send_webhook_refuses_an_unknown_batch() -> None:
    bad = run("send-webhook", "--to", "http://127.0.0.1:9/hook", "--batch", "nope")
    assert bad.returncode == 2
    assert "unknown batch" in bad.stderr
