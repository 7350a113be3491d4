"""FlatfileClient against the emulator over HTTP: batches, paging, order, rows, errors."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import pytest

from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile import BadRequestError, CredentialsRejectedError, LicenseForbiddenError, NotFoundError
from flatfile_relay.timestamps import parse_timestamp
from flatfile_relay_devkit.emulator import Emulator, FaultRule

NEVER = Deadline.never()


def visible_ids(emu: Emulator) -> set[str]:
    return {batch["id"] for batch in emu.state.account_batches()}


def list_requests(emu: Emulator) -> list[Any]:
    return emu.requests_to("/rest/batches")


def test_health(emu: Emulator, make_client: Any) -> None:
    client = make_client()
    assert client.health(NEVER) is True
    emu.inject(FaultRule(kind="503", path="/health"))
    assert client.health(NEVER) is False
    assert [record.auth for record in emu.requests_to("/health")] == [None, None]


@pytest.mark.parametrize(("mode", "kind"), [("token", "bearer"), ("api_key", "api_key")])
def test_lists_every_batch_of_the_license(emu: Emulator, make_client: Any, mode: str, kind: str) -> None:
    batches = list(make_client(auth=mode).iter_batches(NEVER))
    assert len(batches) == 13
    assert {batch["id"] for batch in batches} == visible_ids(emu)
    assert emu.samples["foreign"] not in {batch["id"] for batch in batches}
    assert {record.auth for record in list_requests(emu)} == {kind}
    assert list_requests(emu)[0].query["licenseKey"] == emu.secret["licenseKey"]
    exchanges = emu.requests_to("/auth/access-key/exchange")
    assert len(exchanges) == (1 if mode == "token" else 0)


def test_filters_are_passed(emu: Emulator, make_client: Any) -> None:
    workspace = emu.state.sample("workspace2")["workspaceId"]
    found = list(make_client().iter_batches(NEVER, workspaceId=workspace))
    assert emu.samples["workspace2"] in {batch["id"] for batch in found}
    assert all(batch["workspaceId"] == workspace for batch in found)


def test_paging_under_a_server_cap(emu: Emulator, make_client: Any) -> None:
    emu.set(max_take=3)
    pages = list(make_client().iter_batch_pages(NEVER, page_size=10))
    assert [page.offset for page in pages] == [0, 3, 6, 9, 12]
    assert sum(len(page.items) for page in pages) == 13
    assert [record.query["take"] for record in list_requests(emu)] == ["10"] * 5
    assert all(page.newest_first_so_far for page in pages)


def test_paging_from_an_offset_and_each_pages_ids_in_list_order(emu: Emulator, make_client: Any) -> None:
    everything = [batch["id"] for page in make_client().iter_batch_pages(NEVER, page_size=5) for batch in page.items]
    emu.set(max_take=3)
    pages = list(make_client().iter_batch_pages(NEVER, page_size=5, start=7))
    assert [page.offset for page in pages] == [7, 10]
    assert [batch_id for page in pages for batch_id in page.ids] == everything[7:]
    with pytest.raises(ValueError, match="start"):
        next(make_client().iter_batch_pages(NEVER, start=-1))


def test_default_page_size_is_capped_too(emu: Emulator, make_client: Any) -> None:
    emu.set(max_take=4)
    assert len(list(make_client(batch_page_size=100).iter_batches(NEVER))) == 13
    assert len(list_requests(emu)) == math.ceil(13 / 4)


def test_new_imports_while_paging_are_neither_duplicated_nor_lose_anything(
    emu: Emulator, make_client: Any
) -> None:
    before = visible_ids(emu)
    seen: list[str] = []
    for number, page in enumerate(make_client().iter_batch_pages(NEVER, page_size=4)):
        seen.extend(batch["id"] for batch in page.items)
        if number in (0, 1):  # imports arrive at the top: every later offset shifts down
            for _ in range(3):
                emu.state.add_batch(status=None)
    assert len(seen) == len(set(seen))
    assert before <= set(seen)


def test_early_stop_when_newest_first(emu: Emulator, make_client: Any) -> None:
    newest_first = sorted(emu.state.account_batches(), key=lambda b: (b["createdAt"], b["id"]), reverse=True)
    since = parse_timestamp(newest_first[4]["createdAt"])
    assert since is not None
    found = list(make_client().iter_batches(NEVER, page_size=2, created_since=since))
    expected = {batch["id"] for batch in newest_first if parse_timestamp(batch["createdAt"]) >= since}
    assert {batch["id"] for batch in found} == expected
    # pages [0,1] [2,3] [4,5] hold newer ones; [6,7] is wholly older: stop there, not after 7 pages
    assert len(list_requests(emu)) == 4


@pytest.mark.parametrize("order", ["oldest", "random"])
def test_no_early_stop_unless_newest_first(emu: Emulator, make_client: Any, order: str) -> None:
    emu.set(order=order)
    newest = max(parse_timestamp(b["createdAt"]) for b in emu.state.account_batches())
    client = make_client()
    pages = list(client.iter_batch_pages(NEVER, page_size=2))
    assert not pages[-1].newest_first_so_far
    emu.clear_request_log()
    # pages of 6: a random page looks newest-first by chance once in 720 (pages of 2: one in two)
    found = list(client.iter_batches(NEVER, page_size=6, created_since=newest))
    assert len(list_requests(emu)) == 3  # the whole list, 13 batches in pages of 6
    assert all(parse_timestamp(batch["createdAt"]) == newest for batch in found)  # filtered
    if order == "oldest":
        assert len(found) == 1


def test_get_batch(emu: Emulator, make_client: Any) -> None:
    batch_id = emu.samples["medium"]
    batch = make_client().get_batch(batch_id, NEVER)
    assert batch == json.loads(json.dumps(emu.state.batch_detail(batch_id)))
    assert "__endUser__" in batch


def test_get_batch_not_found_and_bad_id(emu: Emulator, make_client: Any) -> None:
    client = make_client()
    with pytest.raises(NotFoundError):
        client.get_batch(str(uuid.uuid4()), NEVER)
    with pytest.raises(NotFoundError):
        client.get_batch(emu.samples["foreign"], NEVER)
    with pytest.raises(BadRequestError) as caught:
        client.get_batch("not-a-uuid", NEVER)
    assert caught.value.server_message == "Validation failed (uuid is expected)"


def test_rows_stream_every_row_once_in_order(emu: Emulator, make_client: Any) -> None:
    emu.set(max_take=300)
    batch_id = emu.samples["big"]
    pages = list(make_client().iter_row_pages(batch_id, NEVER, page_size=1000))
    assert all(len(page.rows) <= 300 for page in pages)
    assert [page.skip for page in pages] == list(range(0, 2500, 300))
    rows = [row for page in pages for row in page.rows]
    assert [row["sequence"] for row in rows] == list(range(2500))
    assert rows == json.loads(json.dumps(emu.state.rows(batch_id)))


def test_hostile_cells_survive(emu: Emulator, make_client: Any) -> None:
    batch_id = emu.samples["nasty"]
    rows = list(make_client().iter_rows(batch_id, NEVER, page_size=7))
    assert rows == json.loads(json.dumps(emu.state.rows(batch_id)))
    assert any(not row["valid"] for row in rows)
    assert any(row["deleted"] for row in rows)


def test_rows_filters_and_checkpoint(emu: Emulator, make_client: Any) -> None:
    batch_id = emu.samples["nasty"]
    client = make_client()
    valid = list(client.iter_row_pages(batch_id, NEVER, valid=True))
    assert all(row["valid"] for page in valid for row in page.rows)
    resumed = list(client.iter_row_pages(batch_id, NEVER, skip=10, page_size=5))
    assert resumed[0].rows[0]["sequence"] == 10


def test_empty_and_unknown_batches(emu: Emulator, make_client: Any) -> None:
    client = make_client()
    assert list(client.iter_rows(emu.samples["empty"], NEVER)) == []
    with pytest.raises(NotFoundError):
        list(client.iter_rows(str(uuid.uuid4()), NEVER))


def test_license_of_another_account(emu: Emulator, make_client: Any) -> None:
    client = make_client({**emu.secret, "licenseKey": str(uuid.uuid4())})
    with pytest.raises(LicenseForbiddenError, match="licenseKey in the secret"):
        list(client.iter_batches(NEVER))


@pytest.mark.parametrize("mode", ["token", "api_key"])
def test_wrong_credentials(emu: Emulator, make_client: Any, mode: str) -> None:
    client = make_client({**emu.secret, "secretAccessKey": "W" * 40}, auth=mode)
    with pytest.raises(CredentialsRejectedError) as caught:
        list(client.iter_batches(NEVER))
    assert "W" * 40 not in str(caught.value)
    assert "accessKeyId and secretAccessKey" in str(caught.value)
    assert len(emu.request_log) == 1  # no retry of a rejection
