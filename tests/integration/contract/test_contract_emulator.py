"""The bundled emulator against flatfile-api.md: the list envelope, paging by what came back, id case."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from contract_stack import Stack


def _list(stack: Stack, **params: Any) -> dict[str, Any]:
    answer: dict[str, Any] = stack.api("/rest/batches", licenseKey=stack.emulator.secret["licenseKey"], **params)
    return answer


def test_the_batch_list_envelope_matches_the_documented_example(stack: Stack) -> None:
    state = stack.emulator.state
    for _ in range(137 - len(state.batches)):
        state.add_batch("submitted")
    first = _list(stack, skip=0, take=50)
    assert first["pagination"] == {"totalCount": 137, "limit": 50, "offset": 0, "onPage": 50, "pageCount": 3,
                                   "currentPage": 1, "nextOffset": 50, "previousOffset": None}
    last = _list(stack, skip=100, take=50)
    assert last["pagination"] == {"totalCount": 137, "limit": 50, "offset": 100, "onPage": 37, "pageCount": 3,
                                  "currentPage": 3, "nextOffset": None, "previousOffset": 50}
    assert len(last["data"]) == 37
    ids = [b["id"] for page in range(0, 137, 50) for b in _list(stack, skip=page, take=50)["data"]]
    assert sorted(ids) == sorted(state.batches)


def test_the_server_may_return_fewer_than_asked(stack_factory: Any) -> None:
    stack = stack_factory(max_take=5)
    page = _list(stack, skip=0, take=50)
    assert len(page["data"]) == 5
    assert page["pagination"]["totalCount"] == len(stack.emulator.state.batches)


def test_batch_ids_match_whatever_their_letter_case(stack: Stack) -> None:
    single = stack.emulator.samples["single"]
    assert stack.api(f"/rest/batch/{single.upper()}")["id"] == single
    assert stack.api_rows(single.upper()) == stack.api_rows(single)


def test_licence_key_problems_answer_400_and_403(stack: Stack) -> None:
    secret = stack.emulator.secret
    headers = {"X-Api-Key": f"{secret['accessKeyId']}+{secret['secretAccessKey']}"}
    url = f"{stack.emulator.url}/rest/batches"
    assert requests.get(url, headers=headers, timeout=10).status_code == 400
    other = {"licenseKey": str(uuid.uuid4())}
    assert requests.get(url, params=other, headers=headers, timeout=10).status_code == 403


@pytest.mark.parametrize("path", ["/rest/batches", "/rest/batch/{id}", "/rest/batch/{id}/rows"])
def test_rest_needs_credentials(stack: Stack, path: str) -> None:
    url = stack.emulator.url + path.replace("{id}", stack.emulator.samples["single"])
    assert requests.get(url, params={"licenseKey": stack.emulator.secret["licenseKey"]}, timeout=10).status_code == 401
