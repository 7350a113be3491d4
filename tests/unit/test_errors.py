"""One error root: every exception the library defines is a RelayError of exactly one kind (configuration,
transient, contract), and the tree in `flatfile_relay.errors` names every one of them."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import flatfile_relay
from flatfile_relay import errors
from flatfile_relay.deadline import DeadlineExceededError
from flatfile_relay.flatfile import FlatfileError
from flatfile_relay.ledger import LedgerError

LIBRARY = Path(flatfile_relay.__file__).parent
KINDS = (errors.ConfigurationError, errors.TransientError, errors.ContractError)
#: bases that group errors by where they come from, never raised themselves: no kind of their own
FAMILIES = {errors.RelayError, FlatfileError, LedgerError}


def library_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of the library, by its qualified name."""
    found: dict[str, type[BaseException]] = {}
    for module in pkgutil.walk_packages(flatfile_relay.__path__, "flatfile_relay."):
        for _, value in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("flatfile_relay."):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


EXCEPTIONS = library_exceptions()


def test_the_library_defines_the_exceptions_this_test_looks_at() -> None:
    assert len(EXCEPTIONS) > 30
    assert set(FAMILIES) | set(KINDS) <= set(EXCEPTIONS.values())


@pytest.mark.parametrize("name", sorted(EXCEPTIONS))
def test_every_exception_is_a_relay_error_of_exactly_one_kind(name: str) -> None:
    error = EXCEPTIONS[name]
    assert issubclass(error, errors.RelayError), f"{name} is not a RelayError"
    kinds = [kind.__name__ for kind in KINDS if issubclass(error, kind)]
    if error in FAMILIES or error in KINDS:
        assert len(kinds) == (1 if error in KINDS else 0), kinds
    else:
        assert len(kinds) == 1, f"{name} is of the kinds {kinds}"


def test_the_families_are_never_raised_themselves() -> None:
    names = {family.__name__ for family in FAMILIES}
    raised = set()
    for path in LIBRARY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if name in names:
                    raised.add(f"{path.name}:{node.lineno} {name}")
    assert sorted(raised) == []


@pytest.mark.parametrize("name", sorted(EXCEPTIONS))
def test_the_tree_in_the_errors_module_names_every_exception(name: str) -> None:
    tree = errors.__doc__ or ""
    module, _, cls = name.removeprefix("flatfile_relay.").rpartition(".")
    # the tree names the client's errors as the package exports them (`flatfile.NotFoundError`)
    shown = cls if module == "errors" else f"flatfile.{cls}" if module.startswith("flatfile.") else f"{module}.{cls}"
    assert shown in tree, f"{shown} is missing from the tree in flatfile_relay.errors"


def test_the_deadline_is_a_transient_error() -> None:
    assert issubclass(DeadlineExceededError, errors.TransientError)


def test_value_and_runtime_errors_stay_where_callers_catch_them() -> None:
    from flatfile_relay.jobs import InvalidJobError, JobSendError
    from flatfile_relay.settings import SettingsError

    assert issubclass(SettingsError, ValueError)
    assert issubclass(SettingsError, errors.ConfigurationError)
    assert issubclass(InvalidJobError, ValueError)
    assert issubclass(JobSendError, RuntimeError)
