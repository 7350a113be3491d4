"""No function of the library (layers/relay/flatfile_relay, functions/) is longer than 60 lines, data tables aside.

A function is counted from its `def` line to its last line, docstring included; the lines of a data table in it
(a dict, list, set or tuple literal holding only constants) are not. Read from the source with `ast`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (ROOT / "layers" / "relay" / "flatfile_relay", ROOT / "functions")
MAX_LINES = 60

#: Functions allowed over the limit, each with its reason (none today).
TOO_LONG_FOR_NOW: dict[str, str] = {}


def functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method, by its qualified name (`Class.method`, `outer.inner`)."""

    def visit(node: ast.AST, prefix: str) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield f"{prefix}{child.name}", child
                yield from visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, f"{prefix}{child.name}.")
            else:
                yield from visit(child, prefix)

    yield from visit(tree, "")


def is_data(node: ast.AST) -> bool:
    """A literal holding only constants (and literals holding only constants)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Dict):
        return all(key is not None and is_data(key) for key in node.keys) and all(map(is_data, node.values))
    if isinstance(node, ast.List | ast.Set | ast.Tuple):
        return all(map(is_data, node.elts))
    return False


def length(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from `def` to the end, less those of the data tables in it (outermost tables only)."""
    table_lines: set[int] = set()

    def tables(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Dict | ast.List | ast.Set | ast.Tuple) and is_data(child):
                table_lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
            else:
                tables(child)

    tables(function)
    end = function.end_lineno or function.lineno
    return end - function.lineno + 1 - len(table_lines)


def measured() -> dict[str, int]:
    found = {}
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for name, function in functions(tree):
                found[f"{path.relative_to(source).as_posix()}:{name}"] = length(function)
    return found


def test_the_test_reads_the_library_and_the_handlers() -> None:
    found = measured()
    assert "flatfile/transport.py:Transport.request" in found
    assert "poller/app.py:handler" in found
    assert all(name in found for name in TOO_LONG_FOR_NOW), "an exception that is gone: drop it from the list"


def test_no_function_is_longer_than_60_lines() -> None:
    too_long = {name: lines for name, lines in measured().items() if lines > MAX_LINES}
    assert {name: lines for name, lines in too_long.items() if name not in TOO_LONG_FOR_NOW} == {}


def test_every_exception_to_the_rule_still_needs_it() -> None:
    found = measured()
    assert sorted(name for name in TOO_LONG_FOR_NOW if found.get(name, 0) <= MAX_LINES) == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("def f():\n    return 1\n", 2),
        ('def f():\n    """Doc."""\n    x = 1\n    return x\n', 4),
        ("def f():\n    table = {\n        'a': 1,\n        'b': (2, 3),\n    }\n    return table\n", 2),
        ("def f(x):\n    return [\n        x,\n        1,\n    ]\n", 5),  # not data: it holds a name
    ],
)
def test_lines_are_counted_from_def_to_end_less_data_tables(code: str, expected: int) -> None:
    [(_, function)] = functions(ast.parse(code))
    assert length(function) == expected
