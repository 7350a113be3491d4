"""Every function's handler has the same shape: one decorator order, Powertools' LambdaContext type."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py"))


def handler_of(function: str) -> tuple[ast.FunctionDef, ast.Module]:
    tree = ast.parse((ROOT / "functions" / function / "app.py").read_text(encoding="utf-8"))
    [handler] = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "handler"]
    return handler, tree


def test_the_four_functions_are_there() -> None:
    assert FUNCTIONS == ["consumer", "exporter", "poller", "webhook"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_decorators_come_in_one_order(function: str) -> None:
    handler, _ = handler_of(function)
    decorators = [ast.unparse(node) for node in handler.decorator_list]
    assert len(decorators) == 3, decorators
    # the Logger's context outermost (it clears the keys of the previous invocation), Metrics innermost
    # (with Powertools' ColdStart metric, which the dashboard shows)
    assert decorators[0].startswith("logger.inject_lambda_context(clear_state=True"), decorators
    assert decorators[1:] == ["traced", "metrics.log_metrics(capture_cold_start_metric=True)"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_handlers_are_typed_with_the_lambda_context(function: str) -> None:
    handler, tree = handler_of(function)
    annotations = [ast.unparse(arg.annotation) if arg.annotation else None for arg in handler.args.args]
    assert annotations == ["dict[str, Any]", "LambdaContext"]
    imports = {(node.module, alias.name) for node in tree.body if isinstance(node, ast.ImportFrom)
               for alias in node.names}
    assert ("aws_lambda_powertools.utilities.typing", "LambdaContext") in imports


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_handler_tells_failures_apart_by_the_one_classify(function: str) -> None:
    """What a failure is (configuration, not configured yet, transient, contract) is decided in one place,
    `flatfile_relay.failures.classify`, never by a handler's own ladder of except clauses."""
    _, tree = handler_of(function)
    imports = {(node.module, alias.name) for node in tree.body if isinstance(node, ast.ImportFrom)
               for alias in node.names}
    assert ("flatfile_relay.failures", "classify") in imports
    caught = {ast.unparse(node.type) for node in ast.walk(tree) if isinstance(node, ast.ExceptHandler) and node.type}
    kinds = {"ConfigurationError", "NotConfiguredError", "SettingsError", "TransientError", "ContractError"}
    assert not {name for clause in caught for name in kinds if name in clause}, caught
