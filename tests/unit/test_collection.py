"""The cyclic collector paused while pages are decoded and written (`flatfile_relay.collection`), always resumed."""

from __future__ import annotations

import gc
import threading

import pytest

from flatfile_relay.collection import collection_paused
from flatfile_relay.platform import client


def test_pauses_are_shared_between_threads_and_the_last_one_out_resumes_the_collector() -> None:
    assert gc.isenabled()
    inside = threading.Event()
    leave = threading.Event()

    def decode_slowly() -> None:
        with collection_paused():
            inside.set()
            leave.wait(5)

    other = threading.Thread(target=decode_slowly)
    other.start()
    assert inside.wait(5)
    with collection_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread still holds its pause
    leave.set()
    other.join(5)
    assert gc.isenabled()


def test_a_page_that_does_not_decode_leaves_the_collector_running() -> None:
    with pytest.raises(ValueError, match="Expecting value"):
        client._split_exact_records(b"not json")
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_application_stays_off() -> None:
    gc.disable()
    try:
        _, texts = client._split_exact_records(b'{"data": {"records": [{"id": "r", "values": {}}]}}')
        assert texts == ['{"id": "r", "values": {}}']
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_block_that_raises_still_resumes_the_collector() -> None:
    with pytest.raises(RuntimeError, match="boom"), collection_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
