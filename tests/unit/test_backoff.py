"""backoff_delay: full jitter under an exponential cap."""

from __future__ import annotations

import pytest

from flatfile_relay.backoff import backoff_delay


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    for attempt in range(1, 12):
        ceiling = min(20.0, 0.5 * 2 ** (attempt - 1))
        assert backoff_delay(attempt, base=0.5, cap=20.0, rand=lambda: 0.0) == 0.0
        assert backoff_delay(attempt, base=0.5, cap=20.0, rand=lambda: 0.9999) == pytest.approx(ceiling * 0.9999)
        assert 0 <= backoff_delay(attempt, base=0.5, cap=20.0) < ceiling
    assert backoff_delay(10_000, base=0.5, cap=20.0, rand=lambda: 1.0) == 20.0  # no overflow on absurd attempts


def test_backoff_parameters() -> None:
    assert backoff_delay(1, base=2.0, cap=3.0, rand=lambda: 1.0) == 2.0
    assert backoff_delay(2, base=2.0, cap=3.0, rand=lambda: 1.0) == 3.0
