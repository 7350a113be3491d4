"""split_list_answer: a list answer decoded once, with the exact text of every item of its `data`."""

from __future__ import annotations

import json

import pytest

from flatfile_relay.flatfile.pagination import split_list_answer


@pytest.mark.parametrize(
    "answer",
    [
        '{"pagination": {"totalCount": 2}, "data": [{"a": 1}, {"b": [1, 2]}]}',
        '{"data":[{"a":1},{"b":[1,2]}],"pagination":{"totalCount":2}}',
        ' \n{ "data" :\t[ {"a": 1} ,\n {"b": [1, 2]} ] , "pagination" : {"data": [9]} }\r\n',
    ],
)
def test_the_texts_are_the_items_as_sent_and_the_value_is_json_loads(answer: str) -> None:
    body, texts = split_list_answer(answer.encode("utf-8"))
    assert body == json.loads(answer)
    assert texts is not None
    assert [json.loads(text) for text in texts] == body["data"]
    assert all(text in answer for text in texts)


def test_numbers_keep_their_digits_in_the_texts() -> None:
    answer = b'{"data": [{"n": 1e400, "d": 0.30000000000000000001, "i": 123456789012345678901}]}'
    body, texts = split_list_answer(answer)
    assert texts == ['{"n": 1e400, "d": 0.30000000000000000001, "i": 123456789012345678901}']
    assert body["data"][0]["i"] == 123456789012345678901


@pytest.mark.parametrize(
    "answer", [b"[1, 2]", b'{"data": {"a": 1}}', b'{"total": 0}', b"{}", '{"data": []}'.encode("utf-16")]
)
def test_other_json_gives_no_texts(answer: bytes) -> None:
    body, texts = split_list_answer(answer)
    assert body == json.loads(answer)
    assert texts is None or texts == []


@pytest.mark.parametrize("answer", [b"", b"<html>", b'{"data": [1,]}', b'{"data": [1]} trailing', b'{"data": [1'])
def test_what_is_not_json_is_a_value_error(answer: bytes) -> None:
    with pytest.raises(json.JSONDecodeError):  # a ValueError: the transport retries an unreadable answer
        split_list_answer(answer)


@pytest.mark.parametrize(
    "answer",
    [
        '{"data": {"success": true, "records": [{"id": "a", "values": {"n": {"value": 1e400}}}, {"id": "b"}],'
        ' "commitId": "us_vr_1"}}',
        '{"data":{"records":[{"id":"a","values":{"n":{"value":1e400}}},{"id":"b"}]},"extra":[1]}',
        ' {\n "records": [9], "data" : {\t"counts": {"records": [1]},\n "records" : [ {"id": "a", "values": {"n": '
        '{"value": 1e400}}} ,\n{"id": "b"} ] } }\n',
    ],
)
def test_a_nested_list_is_split_at_its_path(answer: str) -> None:
    body, texts = split_list_answer(answer.encode("utf-8"), ("data", "records"))
    assert body == json.loads(answer)
    assert texts == ['{"id": "a", "values": {"n": {"value": 1e400}}}', '{"id": "b"}'] or texts == [
        '{"id":"a","values":{"n":{"value":1e400}}}', '{"id":"b"}']


@pytest.mark.parametrize(
    "answer", [b'{"data": {"records": {"a": 1}}}', b'{"data": [{"records": []}]}', b'{"records": [1]}', b"{}"]
)
def test_no_list_at_the_path_gives_no_texts(answer: bytes) -> None:
    body, texts = split_list_answer(answer, ("data", "records"))
    assert body == json.loads(answer)
    assert texts is None


def test_a_nested_answer_that_is_not_json_is_a_value_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        split_list_answer(b'{"data": {"records": [1,]}}', ("data", "records"))
