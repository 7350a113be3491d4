"""LocalContext: the Lambda context the local runtime hands to handlers."""

from __future__ import annotations

import time

from flatfile_relay_devkit.local.lambda_runtime import LocalContext


def test_remaining_time_starts_at_the_timeout_and_decreases() -> None:
    context = LocalContext(function_name="ExporterFunction", timeout=900)
    first = context.get_remaining_time_in_millis()
    assert 899_000 < first <= 900_000
    time.sleep(0.02)
    second = context.get_remaining_time_in_millis()
    assert second <= first - 15
    assert isinstance(second, int)


def test_remaining_time_never_goes_below_zero() -> None:
    context = LocalContext(function_name="PollerFunction", timeout=0.01)
    time.sleep(0.03)
    assert context.get_remaining_time_in_millis() == 0


def test_the_context_looks_like_lambdas() -> None:
    context = LocalContext(function_name="PollerFunction", timeout=300)
    other = LocalContext(function_name="PollerFunction", timeout=300)
    assert context.aws_request_id != other.aws_request_id  # one per invocation
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:PollerFunction"
    assert context.log_group_name == "/aws/lambda/PollerFunction"
    assert context.function_version == "$LATEST"
    assert context.memory_limit_in_mb > 0
