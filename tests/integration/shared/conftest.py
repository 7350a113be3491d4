"""Fixtures for the shared library's integration tests.

`aws` is the root fixture made cheaper: moto is still reset for every test, but the boto3 clients (about
0.25 s to build a set) are built once per module and reused, as a warm Lambda would. `module_deployment`
creates template.yaml's resources once per module, for tests that clean up what they use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flatfile_relay.aws import AwsClients
from flatfile_relay_devkit.local.deployment import LocalDeployment
from flatfile_relay_devkit.local.template import Template

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def warm_clients(moto_server: Any) -> AwsClients:
    return AwsClients()


@pytest.fixture
def aws(moto_server: Any, warm_clients: AwsClients) -> AwsClients:
    """Fresh AWS state for one test, and clients bound to it."""
    moto_server.reset()
    return warm_clients


@pytest.fixture(scope="module")
def module_deployment(moto_server: Any, warm_clients: AwsClients) -> LocalDeployment:
    """template.yaml's resources in a freshly reset moto, created once for the module."""
    moto_server.reset()
    return LocalDeployment.create(Template.load(ROOT / "template.yaml"), warm_clients)
