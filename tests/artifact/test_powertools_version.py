"""Development runs on the Powertools the template deploys: requirements/runtime.in's pin and the version of
AWS's public layer in template.yaml are a recorded pair (docs/development.md, "Powertools version", says how
to move)."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

from flatfile_relay_devkit.local.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]
# AWS's public layer AWSLambdaPowertoolsPythonV3-<python>-<arch>, built from aws-lambda-powertools[all]:
# layer version -> the Powertools release inside it. One row per layer version the template has used.
PUBLIC_LAYER_RELEASES = {27: "3.23.0"}
PUBLIC_LAYER_EXTRAS = "all"
PUBLIC_LAYER = re.compile(
    r":017000801446:layer:AWSLambdaPowertoolsPythonV3-(python3\d+)-(x86_64|arm64|\$\{Architecture\}):(\d+)\b"
)


def _public_layer() -> tuple[str, str, int]:
    """(runtime, architecture, layer version) of the one public Powertools layer ARN in template.yaml.

    The architecture is `${Architecture}` when the ARN follows the template's `Architecture` parameter.
    """
    found = PUBLIC_LAYER.findall((ROOT / "template.yaml").read_text(encoding="utf-8"))
    assert len(found) == 1, f"template.yaml names AWS's public Powertools layer {len(found)} times, expected once"
    runtime, architecture, layer_version = found[0]
    return runtime, architecture, int(layer_version)


def test_the_pinned_powertools_is_the_release_inside_the_deployed_layer(powertools_pin: tuple[str, str]) -> None:
    extras, pinned = powertools_pin
    *_, layer_version = _public_layer()
    assert layer_version in PUBLIC_LAYER_RELEASES, f"no recorded Powertools release for public layer {layer_version}"
    assert pinned == PUBLIC_LAYER_RELEASES[layer_version], (
        f"requirements/runtime.in pins Powertools {pinned}, the template deploys layer {layer_version} "
        f"= Powertools {PUBLIC_LAYER_RELEASES[layer_version]}: move both together"
    )
    assert extras == PUBLIC_LAYER_EXTRAS


def test_the_public_layer_is_built_for_the_functions_runtime_and_architecture() -> None:
    runtime, architecture, _ = _public_layer()
    function = load_yaml(ROOT / "template.yaml")["Globals"]["Function"]
    assert runtime == function["Runtime"].replace(".", "")
    expected = {"Ref": "Architecture"} if architecture == "${Architecture}" else architecture
    assert function["Architectures"] == [expected]


def test_development_runs_on_the_pinned_powertools(powertools_pin: tuple[str, str]) -> None:
    assert version("aws-lambda-powertools") == powertools_pin[1]
