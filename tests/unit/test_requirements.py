"""Every dependency is locked with hashes (`make lock`), the locks agree with their inputs and with each other,
every install checks the hashes, and the layer pins requests and everything it needs at the tested versions."""

from __future__ import annotations

import re
from importlib.metadata import requires, version
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
INPUTS = ROOT / "requirements"
LAYER_LOCK = ROOT / "layers" / "relay" / "requirements.txt"
# Where `make lock` writes each input's lock: requirements/<name>.txt, but the layer's lock is what `sam build` reads
LOCKS = {path.stem: LAYER_LOCK if path.stem == "layer" else path.with_suffix(".txt") for path in INPUTS.glob("*.in")}
# These take runtime.txt's versions (`make lock` constrains them by it): tests and .venv-lambda run what Lambda runs
CONSTRAINED_BY_RUNTIME = ("dev", "lambda", "layer")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
PYTHONS = ("3.11", "3.13")


def locked(path: Path) -> list[tuple[Requirement, list[str]]]:
    """A lock's entries: (requirement with its marker, its hashes), e.g. (Requirement("idna==3.20"), ["--hash=..."])."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    entries = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()  # uv writes its comments ("# via ...") on lines of their own
        if line:
            spec, *hashes = re.split(r"\s+(?=--hash=)", line)
            assert all(HASH.fullmatch(found) for found in hashes), f"{path.name}: {line!r} has a malformed hash"
            entries.append((Requirement(spec.strip()), hashes))
    return entries


def pins(path: Path, python: str = "3.13") -> dict[str, str]:
    """A lock's pins for one Python on Linux: normalised name -> version, e.g. {"idna": "3.20"}."""
    environment = {
        **default_environment(), "python_version": python, "python_full_version": f"{python}.0",
        "sys_platform": "linux", "implementation_name": "cpython", "platform_python_implementation": "CPython",
    }
    found: dict[str, str] = {}
    for requirement, _ in locked(path):
        if requirement.marker is None or requirement.marker.evaluate(environment):
            name = canonicalize_name(requirement.name)
            assert name not in found, f"{path.name} pins {name} twice for Python {python}"
            (specifier,) = requirement.specifier
            found[name] = specifier.version
    return found


def inputs(path: Path) -> list[Requirement]:
    """An input's requirements, those of the inputs it includes with `-r` too (`-c` lines constrain, add none)."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found += inputs(path.parent / line.removeprefix("-r ").strip())
        elif line:
            found.append(Requirement(line))
    return found


def test_every_input_has_its_lock_and_the_lock_target_writes_each() -> None:
    assert set(LOCKS) == {"runtime", "dev", "lambda", "layer", "sam", "checkov", "uv", "pip"}
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for name, lock in LOCKS.items():
        assert lock.exists(), f"requirements/{name}.in has no lock at {lock.relative_to(ROOT)}: run `make lock`"
        written = rf"^\t@\$\(LOCK\) requirements/{name}\.in .*-o {re.escape(str(lock.relative_to(ROOT)))}$"
        assert re.search(written, makefile, re.MULTILINE), f"`make lock` does not write {lock.relative_to(ROOT)}"


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_every_pin_is_exact_and_has_hashes(name: str) -> None:
    entries = locked(LOCKS[name])
    assert entries
    for requirement, hashes in entries:
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{name}: {requirement} is not pinned with =="
        assert hashes, f"{name}: {requirement} has no --hash: pip's --require-hashes would refuse the lock"


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("name", sorted(LOCKS))
def test_each_lock_covers_its_input_on_every_supported_python(name: str, python: str) -> None:
    lock = pins(LOCKS[name], python)
    for requirement in inputs(INPUTS / f"{name}.in"):
        pinned = lock.get(canonicalize_name(requirement.name))
        assert pinned, f"{name}.in needs {requirement.name}, its lock has none: run `make lock`"
        assert requirement.specifier.contains(pinned), f"{name}.in asks for {requirement}, the lock pins {pinned}"


@pytest.mark.parametrize("name", CONSTRAINED_BY_RUNTIME)
def test_locks_share_the_runtime_versions(name: str) -> None:
    runtime, lock = pins(LOCKS["runtime"]), pins(LOCKS[name])
    shared = runtime.keys() & lock.keys()
    assert shared
    assert {package: lock[package] for package in shared} == {package: runtime[package] for package in shared}


def test_the_layer_pins_requests_and_everything_it_needs_at_the_tested_versions() -> None:
    layer = pins(LAYER_LOCK)
    needed = {"requests"} | {
        canonicalize_name(Requirement(text).name) for text in requires("requests") or [] if "extra ==" not in text
    }
    assert set(layer) == needed
    assert {name: version(name) for name in layer} == layer


def test_every_install_checks_the_hashes_of_a_lock() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    variables = dict(re.findall(r"^([A-Z_]+)\s*:?=\s*(.*)$", makefile, re.MULTILINE))
    installs = [
        re.sub(r"\$\((\w+)\)", lambda found: variables.get(found[1], found[0]), line)
        for line in makefile.splitlines()
        if re.search(r"pip\b.*\binstall\b|PIP_LOCKED", line) and not line.startswith("PIP_LOCKED")
    ]
    assert len(installs) == 6  # pip and setuptools; .venv, .venv-sam, .venv-checkov, .venv-lambda, .venv-uv
    for line in installs:
        assert "--require-hashes" in line, f"the Makefile installs without --require-hashes: {line.strip()}"
        (lock,) = re.findall(r"-r (\S+)", line)
        assert ROOT / lock in LOCKS.values(), f"{lock} is not a lock"


def recipes() -> dict[str, list[str]]:
    """The Makefile's rules: target -> its recipe lines (tabs stripped)."""
    found: dict[str, list[str]] = {}
    target = None
    for line in (ROOT / "Makefile").read_text(encoding="utf-8").splitlines():
        if line.startswith("\t") and target is not None:
            found[target].append(line.strip())
        elif re.match(r"^[^\s#=][^=]*:(?!=)", line):
            target = line.split(":", 1)[0].strip()
            found[target] = []
        elif not line.startswith("\t"):
            target = None
    return found


def test_every_venv_gets_the_pinned_pip_and_setuptools_before_its_lock() -> None:
    """Each venv the Makefile creates with pip installs requirements/pip.txt (pip, setuptools) first."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^PIP_PINNED := -m pip install .*--require-hashes -r requirements/pip\.txt$", makefile, re.M)
    assert set(pins(LOCKS["pip"])) == {"pip", "setuptools"}
    created = {target: lines for target, lines in recipes().items() if any("-m venv" in line for line in lines)}
    assert len(created) == 5, sorted(created)
    for target, lines in created.items():
        venv = next(line for line in lines if "-m venv" in line)
        if "--without-pip" in venv:  # .venv-lambda: no pip at all, as in Lambda
            continue
        after = lines[lines.index(venv) + 1:]
        installs = [line for line in after if "PIP_PINNED" in line or "PIP_LOCKED" in line]
        assert installs, f"{target} installs nothing"
        assert "PIP_PINNED" in installs[0], f"{target} installs its lock before the pinned pip"
        prerequisites = makefile.split(f"\n{target}:", 1)[1].splitlines()[0]
        assert "requirements/pip.txt" in prerequisites, f"{target} is not rebuilt when requirements/pip.txt changes"


def test_a_failing_pip_fails_the_target() -> None:
    """No `|| true`: every recipe line that pipes pip's output into a filter runs with pipefail."""
    for target, lines in recipes().items():
        for line in lines:
            assert "|| true" not in line, f"{target}: {line!r} hides a failure"
            if re.search(r"PIP_LOCKED|PIP_PINNED|pip\b.*\binstall", line) and "|" in line.replace("||", ""):
                assert line.lstrip("@").startswith("set -o pipefail;"), f"{target}: {line!r} loses pip's status"


def test_the_dependency_docs_record_the_exact_python_it_was_tested_with() -> None:
    """The dependency section (docs/development.md) names the CPython patch release; the tests run on that very
    release."""
    import sys

    development = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    section = development.split("\n## Dependencies", 1)[1].split("\n## ", 1)[0]
    (recorded,) = set(re.findall(r"CPython \*\*(3\.13\.\d+)\*\*", section))
    if sys.version_info[:2] != (3, 13):
        pytest.skip(f"the tests run on Python {sys.version_info[0]}.{sys.version_info[1]}, not 3.13")
    running = ".".join(map(str, sys.version_info[:3]))
    assert running == recorded, (f"docs/development.md records CPython {recorded}, the tests ran on {running}: "
                                 "record the release the locks and tests were run with")
