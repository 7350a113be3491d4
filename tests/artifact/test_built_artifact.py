"""The built artifact: the layer holds the runtime library and requests only, and every built handler imports
in an interpreter that has nothing but what Lambda gives it (the built layer, boto3, the deployed Powertools)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from email.parser import HeaderParser
from pathlib import Path

import pytest

from flatfile_relay_devkit.local.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]
# Development code and development dependencies: none of it may reach Lambda.
DEVELOPMENT_MODULES = (
    "flatfile_relay_devkit", "moto", "yaml", "pytest", "flatfile_relay.emulator", "flatfile_relay.local",
)
DEVELOPMENT_NAMES = {"emulator", "local", "tests"}
# SAM copies the layer's source folder as it is: its requirements.txt comes along.
SAM_COPIES = {"requirements.txt"}
REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

# Runs in .venv-lambda's interpreter with -I -S: no site-packages, no PYTHONPATH, no .pth file; sys.path is
# set as Lambda sets it (function code, then /opt/python, then the runtime's boto3 and the Powertools layer).
# -B: no __pycache__ written into the build, which `sam deploy` would upload.
IMPORT_HANDLER = """
import importlib.util, json, sys
function_dir, layer_dir, site_packages, development = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
sys.path[:0] = [function_dir, layer_dir, site_packages]
import app
import aws_lambda_powertools.shared.version as powertools
print(json.dumps({
    "handler": callable(getattr(app, "handler", None)),
    "powertools": powertools.VERSION,
    "origins": {name: sys.modules[name].__file__ for name in ("app", "flatfile_relay", "aws_lambda_powertools")},
    "visible": [name for name in development if importlib.util.find_spec(name) is not None],
}))
"""


def _distributions(site: Path) -> dict[str, tuple[list[str], set[str]]]:
    """Every distribution installed in `site`: normalised name -> (required names, top-level entries it owns)."""
    found = {}
    for info in site.glob("*.dist-info"):
        metadata = HeaderParser().parsestr((info / "METADATA").read_text(encoding="utf-8"))
        requires = [
            _normalise(REQUIREMENT_NAME.match(spec).group())  # type: ignore[union-attr]
            for spec in metadata.get_all("Requires-Dist") or []
            if not re.search(r"\bextra\s*==", spec)
        ]
        owned = {line.split(",")[0].split("/")[0] for line in (info / "RECORD").read_text().splitlines() if line}
        found[_normalise(metadata["Name"])] = (requires, owned)
    return found


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _closure(distributions: dict[str, tuple[list[str], set[str]]], root: str) -> set[str]:
    needed, todo = set(), [root]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(distributions[name][0])
    return needed


def test_the_layer_holds_the_library_and_requests_with_its_dependencies_only(build: Path) -> None:
    layer = build / "RelayLayer" / "python"
    distributions = _distributions(layer)
    assert set(distributions) == _closure(distributions, "requests")
    owned = set().union(*(entries for _, entries in distributions.values()))
    assert {entry.name for entry in layer.iterdir()} - owned - SAM_COPIES == {"flatfile_relay"}


def test_the_library_in_the_layer_has_no_development_module_and_imports_none(build: Path) -> None:
    library = build / "RelayLayer" / "python" / "flatfile_relay"
    modules = sorted(library.rglob("*.py"))
    assert modules, "the built layer has no flatfile_relay modules"
    names = {part for path in modules for part in (*path.relative_to(library).parts[:-1], path.stem)}
    assert names & DEVELOPMENT_NAMES == set()
    imported = {
        (str(path.relative_to(library)), name)
        for path in modules
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        for name in _imported_names(node)
        if any(name == module or name.startswith(f"{module}.") for module in DEVELOPMENT_MODULES)
    }
    assert imported == set()


#: the bytecode flags of `compileall --invalidation-mode unchecked-hash` (PEP 552): hash-based, source not checked
UNCHECKED_HASH = 0b01


def test_every_module_of_the_layer_ships_bytecode_that_lambda_uses_as_it_is(build: Path) -> None:
    """/opt is read-only in Lambda: a module without bytecode there is compiled again at every cold start."""
    layer = build / "RelayLayer" / "python"
    sources = sorted(layer.rglob("*.py"))
    assert len([path for path in sources if "flatfile_relay" in path.parts]) > 40
    flags = {}
    for source in sources:
        cached = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        flags[str(source.relative_to(layer))] = (
            int.from_bytes(cached.read_bytes()[4:8], "little") if cached.exists() else None)
    assert {name: flag for name, flag in flags.items() if flag != UNCHECKED_HASH} == {}


def _imported_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []


def _functions() -> list[str]:
    template = load_yaml(ROOT / "template.yaml")
    names = sorted(
        name for name, resource in template["Resources"].items() if resource["Type"] == "AWS::Serverless::Function"
    )
    assert names, "template.yaml declares no function"
    return names


def test_every_built_handler_imports_with_only_the_layer_boto3_and_the_deployed_powertools(
    build: Path, lambda_venv: Path, powertools_pin: tuple[str, str]
) -> None:
    layer = build / "RelayLayer" / "python"
    (site_packages,) = lambda_venv.glob("lib/python3.*/site-packages")
    for function in _functions():
        function_dir = build / function
        assert (function_dir / "app.py").is_file(), f"{function} was not built"
        environment = {
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": function,
            "POWERTOOLS_SERVICE_NAME": "flatfile-relay",
            "POWERTOOLS_METRICS_NAMESPACE": "FlatfileRelay",
        }
        run = subprocess.run(
            [lambda_venv / "bin" / "python", "-I", "-S", "-B", "-c", IMPORT_HANDLER, function_dir, layer, site_packages,
             *DEVELOPMENT_MODULES],
            capture_output=True, text=True, env=environment, timeout=60, check=False,
        )
        assert run.returncode == 0, f"{function} does not import in Lambda's environment:\n{run.stderr}"
        result = json.loads(run.stdout.splitlines()[-1])
        assert result["handler"], f"{function}: app.handler is missing"
        assert result["powertools"] == powertools_pin[1]
        assert Path(result["origins"]["app"]).parent == function_dir
        assert Path(result["origins"]["flatfile_relay"]).is_relative_to(layer)
        assert Path(result["origins"]["aws_lambda_powertools"]).is_relative_to(site_packages)
        assert result["visible"] == [], f"{function} can see development code: {result['visible']}"


@pytest.mark.parametrize("module", [module for module in DEVELOPMENT_MODULES if "." not in module])
def test_the_lambda_interpreter_cannot_see_the_development_environment(lambda_venv: Path, module: str) -> None:
    run = subprocess.run(
        [lambda_venv / "bin" / "python", "-I", "-c", f"import {module}"],
        capture_output=True, text=True, env={}, timeout=60, check=False,
    )
    assert run.returncode != 0
    assert f"No module named '{module}'" in run.stderr
