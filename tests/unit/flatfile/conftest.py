"""Fixtures for the Flatfile client's unit tests (the fakes live in tests/support/flatfile_fakes.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.flatfile_fakes import FakeFlatfile


@pytest.fixture
def fake() -> Iterator[FakeFlatfile]:
    flatfile = FakeFlatfile()
    yield flatfile
    flatfile.session.close()


@pytest.fixture
def sleeps() -> list[float]:
    """Collects the waits a transport asked for (pass `sleep=sleeps.append`)."""
    return []
