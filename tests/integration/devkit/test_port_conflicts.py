"""`make emulator` and `make local-env` beside a process that already holds their port: one line that names
the port and the command holding it, exit status 1, no traceback (and no hang: moto's server thread would
otherwise wait forever for a port it cannot bind)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from support.docs import block, matches
from support.functions import ROOT

#: a process holding a port on 127.0.0.1, recognisable by the last word of its command line
HOLDER = ("import socket, sys, time; s = socket.create_server(('127.0.0.1', 0)); "
          "print(s.getsockname()[1], flush=True); time.sleep(120)")


@pytest.fixture
def held_port() -> Iterator[int]:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, "port-holder-for-the-test"], stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None
        yield int(process.stdout.readline())
    finally:
        process.kill()
        process.wait(timeout=10)


def make(*arguments: str) -> subprocess.CompletedProcess[str]:
    """`make ...` in the repository, as a user runs it (outside any make this test may run under)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    return subprocess.run(["make", "--no-print-directory", *arguments], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False, env=env)


def assert_named(done: subprocess.CompletedProcess[str], port: int, holder: str = "port-holder-for-the-test") -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    [line] = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith(f"error: port {port} on 127.0.0.1 is already in use by `")
    assert f"{holder}" in line
    assert "` (pid " in line


def test_make_emulator_names_the_port_and_its_holder(held_port: int) -> None:
    done = make("emulator", f"PORT={held_port}")

    assert_named(done, held_port)
    assert "make emulator PORT=N" in done.stderr


@pytest.mark.parametrize("server", ["moto", "emulator"])
def test_make_local_env_names_the_port_and_its_holder(held_port: int, server: str, tmp_path: object) -> None:
    ports = {"moto": "0", "emulator": "0", server: str(held_port)}
    arguments = f"--moto-port {ports['moto']} --emulator-port {ports['emulator']} --env-file {tmp_path}/env.json"

    done = make("local-env", f"LOCAL_ENV_ARGS={arguments}")

    assert_named(done, held_port)
    assert "make local-env LOCAL_ENV_ARGS=" in done.stderr


def test_the_documented_message_is_what_make_emulator_prints_beside_a_running_emulator() -> None:
    """docs/local.md, "When a port is taken": `make emulator` while another emulator holds the port."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    running = subprocess.Popen([sys.executable, "-m", "flatfile_relay_devkit.emulator", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert running.stdout is not None
        assert running.stdout.readline().strip() == f"http://127.0.0.1:{port}"
        done = make("emulator", f"PORT={port}")
    finally:
        running.terminate()
        running.wait(timeout=10)

    assert_named(done, port, holder="-m flatfile_relay_devkit.emulator --port")
    documented = block("docs/local.md", "## When a port is taken", "text").text
    assert matches(documented, done.stderr.replace(str(port), "8765")) == []
