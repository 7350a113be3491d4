"""The public surface: `__all__` in every public module of the library, and docs/public-api.md equal to them."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "layers" / "relay" / "flatfile_relay"
DOC = ROOT / "docs" / "public-api.md"


def public_modules() -> dict[str, Path]:
    """Module name -> file, for every module whose name has no part starting with `_` (packages count)."""
    found = {}
    for path in sorted(LIBRARY.rglob("*.py")):
        parts = path.relative_to(LIBRARY.parent).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        if not any(part.startswith("_") for part in parts):
            found[".".join(parts)] = path
    return found


def declared_all(path: Path) -> list[str] | None:
    """The module's `__all__`, read from its source (None when it has none)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            value = ast.literal_eval(node.value)
            assert isinstance(value, list)
            return [str(name) for name in value]
    return None


def documented() -> dict[str, list[str]]:
    """Module -> the names docs/public-api.md lists under its heading (`## \\`module\\`` then `- \\`name\\`: ...`)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"## `([\w.]+)`", line)
        if heading:
            current = sections.setdefault(heading.group(1), [])
        elif line.startswith("- ") and current is not None:
            name = re.match(r"- `([\w]+)`: \S", line)
            assert name, f"not a name and its meaning: {line!r}"
            current.append(name.group(1))
    return sections


MODULES = public_modules()


def test_the_test_finds_the_library() -> None:
    assert {"flatfile_relay", "flatfile_relay.flatfile", "flatfile_relay.errors", "flatfile_relay.poller"} <= set(
        MODULES
    )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_public_module_says_what_it_exports(module: str) -> None:
    names = declared_all(MODULES[module])
    assert names is not None, f"{module} has no __all__"
    assert len(names) == len(set(names)), f"{module}.__all__ names something twice"
    imported = importlib.import_module(module)
    assert [name for name in names if not hasattr(imported, name)] == []


def test_the_public_api_document_lists_exactly_the_names_of_every_all() -> None:
    expected = {module: sorted(declared_all(path) or []) for module, path in MODULES.items()}
    listed = documented()
    assert {module: names for module, names in listed.items() if len(names) != len(set(names))} == {}
    assert {module: sorted(names) for module, names in listed.items()} == expected
