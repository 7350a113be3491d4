"""PlatformAccount keeps its key out of sight; the models read what the relay decides on, or say what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from flatfile_relay.flatfile.errors import ConfigurationError, ContractError
from flatfile_relay.platform import Job, PlatformAccount, RecordPage, Sheet, SheetCounts, Space, Workbook
from flatfile_relay.redaction import redact

KEY = "sk_" + "s3cr3t" * 5


def test_the_account_never_shows_its_key_and_registers_it_for_redaction() -> None:
    account = PlatformAccount(KEY, "us_env_a1b2c3d4")
    assert KEY not in repr(account)
    assert KEY not in str(account)
    assert repr(account) == "PlatformAccount(secret_key='sk_s…', environment_id='us_env_a1b2c3d4')"
    assert redact(f"key={KEY} header {account.authorization}") == "key=*** header Bearer ***"


@pytest.mark.parametrize(("key", "environment", "named"), [
    ("", "us_env_1", "platformSecretKey"), ("sk_with space", "us_env_1", "platformSecretKey"),
    ("sk_ok\n", "us_env_1", "platformSecretKey"), ("sk_ok", "", "platformEnvironmentId"),
    ("sk_ok", "us_env_ö", "platformEnvironmentId"),
])
def test_a_value_that_cannot_travel_in_a_header_names_its_key_never_its_value(key: str, environment: str,
                                                                              named: str) -> None:
    with pytest.raises(ConfigurationError, match=named) as caught:
        PlatformAccount(key, environment)
    assert not key.strip() or key.strip() not in str(caught.value)


def job(**changes: Any) -> dict[str, Any]:
    return {"id": "us_jb_1", "type": "workbook", "operation": "submitActionFg", "source": "us_wb_1",
            "status": "ready", "createdAt": "2024-03-01T10:00:00.000Z", **changes}


def test_a_job_reads_its_outcome_progress_and_info() -> None:
    parsed = Job.parse(job(status="complete", progress=100, info="Done", outcome={"message": "Exported 3"}))
    assert (parsed.name, parsed.progress, parsed.info, parsed.outcome_message, parsed.ended) == (
        "workbook:submitActionFg", 100, "Done", "Exported 3", True)
    bare = Job.parse(job(progress=True, outcome="odd", createdAt="yesterday"))
    assert (bare.progress, bare.outcome_message, bare.created_at, bare.ended) == (None, None, None, False)


@pytest.mark.parametrize("broken", [job(id=None), job(status=3), job(source=""), [job()], "job"])
def test_a_job_without_what_the_relay_needs_is_a_contract_error(broken: Any) -> None:
    with pytest.raises(ContractError, match="GET /jobs"):
        Job.parse(broken)


def sheet(**changes: Any) -> dict[str, Any]:
    return {"id": "us_sh_1", "workbookId": "us_wb_1", "name": "Orders", "slug": "orders",
            "config": {"name": "Orders", "slug": "orders", "fields": [{"key": "a", "type": "string"}]}, **changes}


def test_a_workbook_keeps_its_sheets_order_and_its_operations() -> None:
    parsed = Workbook.parse({"id": "us_wb_1", "name": "W", "spaceId": "us_sp_1", "environmentId": "us_env_1",
                             "sheets": [sheet(), sheet(id="us_sh_2", slug="b", lockedAt="2024-01-01T00:00:00Z")],
                             "actions": [{"operation": "submitActionFg"}, {"label": "no operation"}]})
    assert [(item.id, item.slug, item.locked) for item in parsed.sheets] == [("us_sh_1", "orders", False),
                                                                           ("us_sh_2", "b", True)]
    assert parsed.operations == {"submitActionFg"}
    assert Workbook.parse({"id": "w", "spaceId": "s", "environmentId": "e"}).sheets == ()


@pytest.mark.parametrize("broken", [
    sheet(config=None), sheet(config={"fields": "a"}), sheet(config={"fields": [{"type": "string"}]}),
    sheet(slug=None, config={"fields": []}), sheet(workbookId=None),
])
def test_a_sheet_without_fields_slug_or_workbook_is_a_contract_error(broken: dict[str, Any]) -> None:
    with pytest.raises(ContractError):
        Sheet.parse(broken)


def test_counts_space_and_a_record_page() -> None:
    assert SheetCounts.parse({"total": 3, "valid": 2, "error": 1}) == SheetCounts(3, 2, 1)
    with pytest.raises(ContractError, match="`error`"):
        SheetCounts.parse({"total": 3, "valid": 2, "error": -1})
    assert Space.parse({"id": "us_sp_1", "metadata": {"userInfo": {"name": "Ada"}}}).user_info == {"name": "Ada"}
    assert Space.parse({"id": "us_sp_1", "metadata": {"userInfo": "Ada"}}).user_info is None
    page = RecordPage([{"id": "a"}], None, 3, 2, 4)
    assert (page.last, page.next_offset) == (True, 5)


def test_the_package_serves_its_client_names_when_first_asked_for() -> None:
    import flatfile_relay.platform as package
    from flatfile_relay.platform import client, records

    assert package.PlatformClient is client.PlatformClient
    assert package.record_pages is records.record_pages
    assert package.MAX_RECORD_PAGE_SIZE == 10_000
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        package.Nothing  # noqa: B018 - the attribute access is the test
