"""What `sam build` produced (.aws-sam/build) and the interpreter Lambda would run it with (.venv-lambda).

Both come from `make test` (`make build` and the .venv-lambda target). Outside CI a missing one skips the
artifact tests with the command that makes it; with CI set it fails them: CI must test the artifact.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".aws-sam" / "build"
LAMBDA_VENV = ROOT / ".venv-lambda"


def _require(path: Path, what: str, make: str) -> Path:
    if path.exists():
        return path
    message = f"{what} not found at {path.relative_to(ROOT)}: run `{make}` first (`make test` does)"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def build() -> Path:
    """.aws-sam/build: one folder per function and RelayLayer/python."""
    return _require(BUILD / "template.yaml", "sam build output", "make build").parent


@pytest.fixture(scope="session")
def lambda_venv() -> Path:
    """.venv-lambda: Python 3.13 with boto3 and the deployed Powertools version only."""
    return _require(LAMBDA_VENV / ".installed", "the Lambda interpreter", "make .venv-lambda/.installed").parent


@pytest.fixture(scope="session")
def powertools_pin() -> tuple[str, str]:
    """requirements/runtime.in's Powertools: (extras, version), e.g. ("all", "3.23.0")."""
    text = (ROOT / "requirements" / "runtime.in").read_text(encoding="utf-8")
    pins = re.findall(r"^aws-lambda-powertools\[([a-z,-]+)\]==([0-9.]+)$", text, re.MULTILINE)
    assert len(pins) == 1, "requirements/runtime.in must pin aws-lambda-powertools[extras]==version once"
    return pins[0]
