"""End users' text in manifests and notices: cleaned of characters that hurt readers, bounded for messages."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from flatfile_relay.manifest import Manifest, Notice
from flatfile_relay.sanitise import (
    MAX_CUSTOMER_BYTES,
    MAX_TEXT_CHARS,
    TRUNCATED,
    bound_customer,
    bound_text,
    clean_customer,
    clean_text,
)

UNSAFE = "\x00\x07\x1b\t\n\r\x7f\x85\x9b\u2028\u2029\u202a\u202e\u2066\u2069\u200f\ud800"


def test_every_unsafe_character_is_replaced_one_for_one() -> None:
    assert clean_text(f"a{UNSAFE}b") == "a" + "\ufffd" * len(UNSAFE) + "b"
    assert clean_text("Zoë O'Neil — 東京 🚀 \u200d") == "Zoë O'Neil — 東京 🚀 \u200d"  # letters, emoji, ZWJ stay


@given(st.text(max_size=3000))
def test_cleaning_and_bounding_twice_changes_nothing_more(text: str) -> None:
    once = bound_text(text)
    assert bound_text(once) == once
    assert len(once) <= MAX_TEXT_CHARS
    assert clean_text(clean_text(text)) == clean_text(text)
    once.encode("utf-8")  # no lone surrogate left


def test_a_long_text_is_cut_with_the_marker() -> None:
    cut = bound_text("x" * 300_000)
    assert len(cut) == MAX_TEXT_CHARS
    assert cut.endswith(TRUNCATED)


@given(st.dictionaries(st.text(max_size=30), st.one_of(st.text(max_size=2000), st.integers(), st.none(),
                                                        st.lists(st.text(max_size=50), max_size=5)), max_size=40))
def test_a_bounded_customer_fits_its_budget_and_stays_put(customer: dict[str, Any]) -> None:
    bounded = bound_customer(customer)
    assert len(json.dumps(bounded, ensure_ascii=False, separators=(",", ":")).encode()) <= MAX_CUSTOMER_BYTES
    assert bound_customer(bounded) == bounded


def test_the_usual_fields_are_kept_first_when_an_end_user_is_too_large() -> None:
    customer = {"padding": "p" * 900, "more": "m" * 900, "id": "u-1", "email": "a@b.example", "name": "Ann"}
    bounded = bound_customer(customer, budget=300)
    assert bounded == {"id": "u-1", "name": "Ann", "email": "a@b.example", "truncated": True}


def test_a_manifest_keeps_the_whole_text_cleaned_and_its_notice_a_bounded_copy() -> None:
    name = "a\x1b" * 100_000
    manifest = Manifest(batch_id="b-1", batch={"id": "b-1", "filename": name}, row_count=0, parts=(),
                        exported_at="2021-03-01T20:23:04.512Z", trigger="schedule", filename=name,
                        customer={"name\x00": "\u2028"})
    assert manifest.filename == "a\ufffd" * 100_000
    assert manifest.batch["filename"] == name  # Flatfile's object as it came
    assert manifest.customer == {"name\ufffd": "\ufffd"}
    notice = Notice.for_manifest(manifest, "s3://b/m.json")
    assert notice.filename == bound_text(name)
    assert Notice.from_json(notice.to_json()) == notice
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert clean_customer({"x": {"y": ["\x00"]}}) == {"x": {"y": ["\ufffd"]}}
