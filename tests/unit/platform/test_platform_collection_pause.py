"""Record pages read with exact numbers are decoded with the garbage collector paused, and it always resumes."""

from __future__ import annotations

import gc
import threading

import pytest

from flatfile_relay.platform import client


def test_the_collector_is_paused_while_pages_decode_and_resumed_by_the_last_decoder() -> None:
    assert gc.isenabled()
    inside = threading.Event()
    leave = threading.Event()

    def decode_slowly() -> None:
        with client._collection_paused():
            inside.set()
            leave.wait(5)

    other = threading.Thread(target=decode_slowly)
    other.start()
    assert inside.wait(5)
    with client._collection_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other decoder still runs
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
