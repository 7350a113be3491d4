"""Dependencies inside the library run one way: read from its source with `ast`, nothing is imported.

- no import cycles among `flatfile_relay` modules (imports under `if TYPE_CHECKING:` count too);
- the leaf modules import nothing from the library but other leaves (the error root, `errors`, imports nothing);
- the Flatfile client (`flatfile_relay.flatfile`) imports only itself and the leaf modules; the Platform client
  (`flatfile_relay.platform`) only itself, the Flatfile client (its transport, errors, pagination) and the leaves;
- imports sit at the top of a module; the only imports inside functions are the deferrals listed in
  DEFERRED_IMPORTS, each with its reason (a heavy module a function's common path does not need), and each
  handler's cold import really leaves the modules of COLD_IMPORT_EXCLUDES out (checked in a fresh interpreter).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import flatfile_relay.flatfile as package
from flatfile_relay.flatfile import client, transport

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "layers" / "relay" / "flatfile_relay"
PACKAGE = "flatfile_relay"
CLIENT = f"{PACKAGE}.flatfile"
PLATFORM = f"{PACKAGE}.platform"
LEAVES = frozenset(
    f"{PACKAGE}.{name}"
    for name in ("errors", "deadline", "timestamps", "backoff", "retry", "checks", "redaction", "json_types", "ahead",
                 "ids", "walk", "collection")
)
#: the root of the relay's errors: every module may import it, and it imports nothing
ROOT_ERRORS = f"{PACKAGE}.errors"

_PARSER = "aws_lambda_powertools.utilities.parser"
_BATCH = "aws_lambda_powertools.utilities.batch"
#: (module, what it imports inside a function) -> why the import waits. Nothing else is imported late.
DEFERRED_IMPORTS = {
    (f"{PACKAGE}.flatfile", f"{PACKAGE}.flatfile"):
        "the client's modules import requests: the webhook and the consumer use only the errors and Account",
    (PLATFORM, PLATFORM):
        "the Platform client's modules import requests, and a legacy export needs none of its models: only its "
        "account comes at once",
    (f"{PACKAGE}.poller", f"{PACKAGE}.jobs"):
        "an idle poll queues no job: the job model (pydantic) is imported with the first job",
    (f"{PACKAGE}.sources.legacy", f"{PACKAGE}.jobs"):
        "an idle poll builds no job: the job model (pydantic) is imported with the first job",
    (f"{PACKAGE}.sources.platform", f"{PACKAGE}.jobs"):
        "an idle poll builds no job: the job model (pydantic) is imported with the first job",
    (f"{PACKAGE}.operations", f"{PACKAGE}.operations.dispatch"):
        "operator modes and their request models only for operator events, never for a scheduled poll",
    (f"{PACKAGE}.observability", "aws_lambda_powertools"): "the Tracer imports the X-Ray SDK: only when tracing is on",
    (f"{PACKAGE}.connection", "aws_lambda_powertools.utilities.parameters"): "the secret is read on first use",
    (f"{PACKAGE}.sqs_batch", _BATCH):
        "Powertools' batch utility imports asyncio and every event data class: imported with the first event",
    (f"{PACKAGE}.runtime", f"{PACKAGE}.ledger"): "the consumer has no ledger: it is built (and imported) on first use",
    (f"{PACKAGE}.exporter", f"{PACKAGE}.platform_export"):
        "a legacy export never reads the Platform: its source (and client) come with the first Platform job",
    (f"{PACKAGE}.webhook_tokens", "aws_lambda_powertools.utilities.parameters"): "the secret is read on first use",
}
#: what each handler's cold import (tracing off) must not load: the deferrals above, and what it never needs
COLD_IMPORT_EXCLUDES = {
    "poller": (_PARSER, "pydantic", f"{PACKAGE}.jobs", f"{PACKAGE}.operations.dispatch", "aws_xray_sdk"),
    "exporter": (_PARSER, _BATCH, "asyncio", f"{PACKAGE}.poller", f"{PACKAGE}.operations.dispatch",
                 f"{PACKAGE}.platform_export", f"{PLATFORM}.client", f"{PLATFORM}.models", "aws_xray_sdk"),
    "webhook": (_PARSER, "requests", f"{CLIENT}.client", "aws_xray_sdk"),
    "consumer": (_PARSER, _BATCH, "asyncio", "requests", f"{CLIENT}.client", f"{PACKAGE}.jobs", f"{PACKAGE}.ledger",
                 "aws_xray_sdk"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(LIBRARY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources(root: Path = LIBRARY) -> dict[str, ast.Module]:
    return {module_name(path): ast.parse(path.read_text(), str(path)) for path in sorted(root.rglob("*.py"))}


def imported(node: ast.Import | ast.ImportFrom, modules: set[str], importer: str) -> set[str]:
    """The library modules an import statement names.

    `from package import name` names the module `package.name` when there is one, else `package` itself
    (e.g. `from flatfile_relay import __version__` imports the package's `__init__`).
    """
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: resolved against the importing module's package
            package = importer.split(".") if importer in packages(modules) else importer.split(".")[:-1]
            base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    found = set()
    for name in names:
        while name.split(".")[0] == PACKAGE:
            if name in modules:
                found.add(name)
                break
            name = name.rpartition(".")[0]
    return found


def direct_imports(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    """Module -> the library modules its import statements name, wherever they sit (TYPE_CHECKING too)."""
    modules = set(trees)
    return {
        name: {
            target
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for target in imported(node, modules, name)
        } - {name}
        for name, tree in trees.items()
    }


def packages(modules: set[str]) -> set[str]:
    return {name for name in modules if any(other.startswith(name + ".") for other in modules)}


def late_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports inside functions and classes (docstring examples are strings, not imports)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    yield inner


def graph(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    """Module -> the library modules importing it runs: those it names, and their enclosing packages
    (Python runs a package's `__init__` before any of its modules)."""
    edges = {}
    for name, targets in direct_imports(trees).items():
        enclosing = {".".join(t.split(".")[:i]) for t in targets for i in range(1, t.count(".") + 1)}
        edges[name] = (targets | enclosing) - {name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, each sorted (Tarjan's algorithm).

    Every module of such a component reaches every other one through imports: they form a cycle.

    A package importing its own submodules (an `__init__` re-exporting them) is not a cycle of code: the
    edge from a submodule to its enclosing package is only Python running the `__init__` first.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def follows(name: str) -> set[str]:
        return {t for t in edges[name] if not name.startswith(t + ".")}

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for target in sorted(follows(name)):
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in on_stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == name:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(edges):
        if name not in index:
            visit(name)
    return found


@pytest.fixture(scope="module")
def trees() -> dict[str, ast.Module]:
    return sources()


def test_the_library_is_where_the_test_looks(trees: dict[str, ast.Module]) -> None:
    assert set(trees) >= LEAVES
    assert {PACKAGE, CLIENT, f"{CLIENT}.client", f"{PACKAGE}.poller"} <= set(trees)


def test_no_import_cycles(trees: dict[str, ast.Module]) -> None:
    assert cycles(graph(trees)) == []


def test_leaf_modules_import_nothing_from_the_library_but_leaves(trees: dict[str, ast.Module]) -> None:
    edges = graph(trees)
    outside = {leaf: sorted(set(edges.get(leaf, ())) - LEAVES - {PACKAGE}) for leaf in sorted(LEAVES)}
    assert {leaf: targets for leaf, targets in outside.items() if targets} == {}
    assert not {target for target in edges[ROOT_ERRORS] if target != PACKAGE}  # the root imports nothing


def test_no_module_imports_powertools_parser(trees: dict[str, ast.Module]) -> None:
    """pydantic validates the relay's documents and requests itself: Parser would only wrap it, and its package
    imports every envelope model Powertools has."""
    parser = {
        name for name, tree in trees.items() for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and _source(node).startswith(_PARSER)
    }
    assert sorted(parser) == []


def test_the_flatfile_client_imports_only_itself_and_the_leaves(trees: dict[str, ast.Module]) -> None:
    outside = {
        name: sorted(target for target in targets if not _in_client(target) and target not in LEAVES)
        for name, targets in direct_imports(trees).items()
        if _in_client(name)
    }
    assert {name: targets for name, targets in outside.items() if targets} == {}


def test_the_platform_client_imports_only_itself_the_flatfile_client_and_the_leaves(
        trees: dict[str, ast.Module]) -> None:
    outside = {
        name: sorted(target for target in targets
                     if not _in_client(target) and not _in(target, PLATFORM) and target not in LEAVES)
        for name, targets in direct_imports(trees).items()
        if _in(name, PLATFORM)
    }
    assert {PLATFORM, f"{PLATFORM}.client"} <= set(trees)
    assert {name: targets for name, targets in outside.items() if targets} == {}


def test_the_platform_account_and_models_come_without_requests() -> None:
    code = ("import json, sys; import flatfile_relay.platform as p; p.PlatformAccount, p.Job; "
            "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          check=True)
    loaded = set(json.loads(done.stdout))
    assert "flatfile_relay.platform.models" in loaded
    assert sorted({"requests", f"{PLATFORM}.client"} & loaded) == []


def test_the_only_late_imports_are_the_listed_deferrals(trees: dict[str, ast.Module]) -> None:
    late = {(name, _source(node)) for name, tree in trees.items() for node in late_imports(tree)}
    assert sorted(late - set(DEFERRED_IMPORTS)) == []  # an import inside a function that is not a deferral
    assert sorted(set(DEFERRED_IMPORTS) - late) == []  # a deferral that is gone: drop it from the list


_LOADED = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("function", sorted(COLD_IMPORT_EXCLUDES))
def test_a_cold_handler_import_leaves_the_deferred_modules_out(function: str) -> None:
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1",
           "LAMBDA_TASK_ROOT": str(ROOT / "functions" / function)}
    done = subprocess.run([sys.executable, "-c", _LOADED, str(ROOT / "functions" / function / "app.py")],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=True)
    loaded = set(json.loads(done.stdout))
    assert f"{PACKAGE}.observability" in loaded  # the handler really was imported
    assert sorted(set(COLD_IMPORT_EXCLUDES[function]) & loaded) == []


def _source(node: ast.Import | ast.ImportFrom) -> str:
    """What an import statement imports from: ``from a.b import c`` -> ``a.b``; ``import a.b`` -> ``a.b``."""
    if isinstance(node, ast.ImportFrom):
        return node.module or ""
    return ",".join(alias.name for alias in node.names)


def _in_client(name: str) -> bool:
    return _in(name, CLIENT)


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


# -- the checks themselves, on small made-up libraries --------------------------------------------------


def _parsed(**modules: str) -> dict[str, ast.Module]:
    return {f"{PACKAGE}.{name}" if name else PACKAGE: ast.parse(code) for name, code in modules.items()}


def test_a_cycle_through_type_checking_imports_is_found() -> None:
    trees = _parsed(
        a="from flatfile_relay.b import B\n",
        b="from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from flatfile_relay.a import A\n",
    )
    assert cycles(graph(trees)) == [[f"{PACKAGE}.a", f"{PACKAGE}.b"]]


def test_a_late_import_is_found_and_a_docstring_example_is_not() -> None:
    tree = ast.parse(
        '"""\n>>> from flatfile_relay.a import A\n"""\n'
        "def f():\n    from flatfile_relay.a import A\n    return A\n"
    )
    assert [node.lineno for node in late_imports(tree)] == [5]


def test_from_package_import_name_names_the_module_or_the_package() -> None:
    trees = _parsed(**{"": "", "flatfile": "", "flatfile.client": "from flatfile_relay import credentials\n",
                       "flatfile.auth": "from flatfile_relay import __version__\n",
                       "credentials": "from flatfile_relay.flatfile.client import C\n"})
    direct = direct_imports(trees)
    assert direct[f"{CLIENT}.client"] == {f"{PACKAGE}.credentials"}
    assert direct[f"{CLIENT}.auth"] == {PACKAGE}
    assert cycles(graph(trees)) == [[f"{PACKAGE}.credentials", f"{CLIENT}.client"]]


def test_the_flatfile_package_serves_its_client_names_when_first_asked_for() -> None:
    assert package.FlatfileClient is client.FlatfileClient
    assert package.RequestCounts is transport.RequestCounts
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        package.Nothing  # noqa: B018 - the attribute access is the test
