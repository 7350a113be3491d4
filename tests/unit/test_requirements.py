"""The layer's dependencies are pinned, transitive ones included, to the versions the tests run with."""

from __future__ import annotations

from importlib.metadata import requires, version
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            assert pinned, f"{path.name}: {line!r} is not pinned with =="
            found[name.strip().lower()] = pinned.strip()
    return found


def test_the_layer_pins_requests_and_everything_it_needs_at_the_tested_versions() -> None:
    layer = pins(ROOT / "layers" / "relay" / "requirements.txt")
    needed = {"requests"} | {
        Requirement(text).name.lower().replace("_", "-")
        for text in requires("requests") or [] if "extra ==" not in text
    }
    assert set(layer) == needed
    assert {name: version(name) for name in layer} == layer
