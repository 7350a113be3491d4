"""FaultRule validation and FaultPlan consumption semantics (count, after, order, matching)."""

from __future__ import annotations

import threading

import pytest

from flatfile_relay_devkit.emulator import FAULT_KINDS, FaultRule
from flatfile_relay_devkit.emulator.faults import FaultPlan


def kinds(plan: FaultPlan, n: int, method: str = "GET", path: str = "/rest/batches") -> list[str | None]:
    return [getattr(plan.take(method, path), "kind", None) for _ in range(n)]


def test_count_limits_the_faulted_requests() -> None:
    plan = FaultPlan()
    plan.add(FaultRule(kind="500", count=2))
    assert kinds(plan, 4) == ["500", "500", None, None]
    assert plan.pending() == []


def test_after_lets_the_first_requests_pass() -> None:
    plan = FaultPlan()
    plan.add(FaultRule(kind="503", after=2, count=1))
    assert kinds(plan, 4) == [None, None, "503", None]


def test_count_none_faults_forever() -> None:
    plan = FaultPlan()
    plan.add(FaultRule(kind="drop", count=None))
    assert kinds(plan, 50) == ["drop"] * 50
    plan.clear()
    assert kinds(plan, 1) == [None]


def test_rules_are_consumed_in_order() -> None:
    plan = FaultPlan()
    plan.add(FaultRule(kind="429", count=2), FaultRule(kind="500", count=1))
    assert kinds(plan, 4) == ["429", "429", "500", None]


def test_a_request_passed_by_after_is_offered_to_later_rules() -> None:
    plan = FaultPlan()
    plan.add(FaultRule(kind="429", after=1, count=1), FaultRule(kind="502", count=1))
    assert kinds(plan, 3) == ["502", "429", None]


def test_path_prefix_and_method_matching() -> None:
    plan = FaultPlan()
    plan.add(FaultRule(kind="500", path="/rest/batch/", method="get", count=None))
    assert plan.take("GET", "/rest/batches") is None
    assert plan.take("POST", "/rest/batch/x/rows") is None
    assert plan.take("GET", "/rest/batch/x/rows") is not None
    assert plan.take("GET", "/rest/batch/x") is not None


def test_path_none_matches_everything() -> None:
    rule = FaultRule(kind="slow", delay=0.1)
    assert rule.matches("GET", "/health")
    assert rule.matches("POST", "/auth/access-key/exchange")


def test_statuses_of_kinds() -> None:
    assert FaultRule(kind="429").status == 429
    assert FaultRule(kind=503).kind == "503"  # type: ignore[arg-type]
    assert FaultRule(kind="drop").status is None
    assert FaultRule(kind="invalid_json").status == 200
    assert {"429", "500", "502", "503", "drop", "invalid_json", "slow", "truncated", "trickle"} <= FAULT_KINDS


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "418"},
        {"kind": "500", "count": -1},
        {"kind": "500", "after": -1},
        {"kind": "slow", "delay": -1},
    ],
)
def test_invalid_rules_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"kind|count|after|delay"):
        FaultRule(**kwargs)  # type: ignore[arg-type]


def test_concurrent_takes_fire_exactly_count_times() -> None:
    plan = FaultPlan()
    plan.add(FaultRule(kind="500", count=100))
    fired: list[object] = []

    def worker() -> None:
        for _ in range(50):
            if plan.take("GET", "/x") is not None:
                fired.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fired) == 100


def test_a_lost_answer_has_no_status_and_a_glob_path_matches_any_id() -> None:
    rule = FaultRule(kind="lost", path="/v1/jobs/*/complete", method="post")
    assert "lost" in FAULT_KINDS
    assert rule.status is None
    assert rule.matches("POST", "/v1/jobs/us_jb_1/complete")
    assert not rule.matches("POST", "/v1/jobs/us_jb_1/fail")
    assert not rule.matches("GET", "/v1/jobs/us_jb_1/complete")
    assert FaultRule(kind="503", path="/v1/jobs").matches("GET", "/v1/jobs/us_jb_1")  # a prefix, as before
