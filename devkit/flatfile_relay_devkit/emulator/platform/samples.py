"""Deterministic Platform samples: one account, its environment (and a foreign one), spaces, workbooks, jobs.

Everything derives from the seed and the anchor time, like the legacy samples. Labels (see
:data:`PLATFORM_LABELS`):

- spaces ``acme`` and ``nordic`` (each with ``metadata.userInfo``, as an embed sets it) and ``internal`` (none);
- workbook ``customers_orders`` (space ``acme``): two sheets, ``customers`` (12 records) and ``orders`` (30; some
  cells absent or null), a submit action and a ``downloadCsv`` action;
- workbook ``products`` (space ``nordic``): one sheet, ``products_sheet`` (25 records, 6 of them invalid: cells
  with ``valid: false`` and error messages; hostile values; a number no float holds);
- workbook ``returns`` (space ``internal``): one empty sheet, ``returns_sheet``;
- jobs ``job_history`` (a submit of ``customers_orders``, complete), ``job_other_operation`` (``downloadCsv``,
  complete) and ``job_failed`` (a submit of ``products``, failed): no job is ``ready`` until someone submits;
- ``foreign_workbook`` and its ``foreign_job`` (ready) live in another environment: the key never sees them.

Example:
    >>> account = build_platform_account(7)
    >>> account.secret_key.startswith("sk_"), account.environment_id.startswith("us_env_")
    (True, True)
    >>> sorted(account.secret())
    ['platformEnvironmentId', 'platformSecretKey']
"""

from __future__ import annotations

import hmac
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..samples import default_anchor, iso
from .records import Fixed, Products, cell, error_message

if TYPE_CHECKING:
    from .store import PlatformState

__all__ = [
    "PLATFORM_LABELS",
    "PRODUCT_FIELDS",
    "PlatformAccount",
    "build_platform_account",
    "generated_sheet",
    "load_platform_samples",
    "submit_action",
]

PLATFORM_LABELS = (
    "acme", "nordic", "internal", "customers_orders", "customers", "orders", "products", "products_sheet",
    "returns", "returns_sheet", "job_history", "job_other_operation", "job_failed", "foreign_workbook",
    "foreign_job",
)

#: the fields of the ``products`` sheets (the sample's and generated ones)
PRODUCT_FIELDS: tuple[dict[str, Any], ...] = (
    {"key": "sku", "type": "string", "label": "SKU", "constraints": [{"type": "required"}]},
    {"key": "name", "type": "string", "label": "Product name"},
    {"key": "price", "type": "number", "label": "Unit price"},
    {"key": "qty", "type": "number", "label": "Quantity"},
    {"key": "supplierEmail", "type": "string", "label": "Supplier e-mail"},
)
_CUSTOMER_FIELDS = (
    {"key": "customerId", "type": "string", "label": "Customer ID", "constraints": [{"type": "unique"}]},
    {"key": "name", "type": "string", "label": "Name"},
    {"key": "email", "type": "string", "label": "E-mail"},
    {"key": "vip", "type": "boolean", "label": "VIP"},
    {"key": "signedUp", "type": "date", "label": "Signed up"},
)
_ORDER_FIELDS = (
    {"key": "orderId", "type": "string", "label": "Order"},
    {"key": "customerId", "type": "string", "label": "Customer ID"},
    {"key": "amount", "type": "number", "label": "Amount"},
    {"key": "currency", "type": "enum", "label": "Currency", "config": {"options": [
        {"value": "USD", "label": "US dollar"}, {"value": "EUR", "label": "Euro"},
        {"value": "NOK", "label": "Norwegian krone"}]}},
    {"key": "shipped", "type": "boolean", "label": "Shipped"},
    {"key": "notes", "type": "string", "label": "Notes"},
)
_ADJECTIVES = ("Red", "Blue", "Steel", "Tiny", "Heavy", "Quiet", "Smart", "Green", "Ultra", "Basic")
_NOUNS = ("Widget", "Bolt", "Lamp", "Drill", "Cable", "Mug", "Chair", "Router", "Brush", "Valve")
_HOSTILE = ('He said "hi", then left', "line one\nline two", "🧪𝄞 lab kit 👩‍👩‍👧 🇳🇴", "שלום עולם", "=SUM(A1:A2)",
            "null", "  padded  ", "\\", "</script><script>alert(1)</script>", "")
#: a price no float holds: the relay must keep its digits
HUGE_NUMBER = 123456789012345678901234567890


@dataclass(frozen=True)
class PlatformAccount:
    """The emulated Platform account: its environment and secret key, and a foreign environment with its own."""

    seed: int
    account_id: str
    environment_id: str
    secret_key: str
    foreign_environment_id: str
    foreign_secret_key: str
    user_id: str
    guest_id: str

    def secret(self) -> dict[str, str]:
        """The Platform keys as the relay's secret holds them."""
        return {"platformSecretKey": self.secret_key, "platformEnvironmentId": self.environment_id}

    def foreign_secret(self) -> dict[str, str]:
        """The keys of the foreign environment (its resources are invisible to :attr:`secret_key`)."""
        return {"platformSecretKey": self.foreign_secret_key, "platformEnvironmentId": self.foreign_environment_id}

    def environment_of_key(self, key: str) -> str | None:
        """The environment a secret key belongs to (None for an unknown key; constant-time comparisons)."""
        found = None
        for secret, environment in ((self.secret_key, self.environment_id),
                                    (self.foreign_secret_key, self.foreign_environment_id)):
            if hmac.compare_digest(key.encode(), secret.encode()):
                found = environment
        return found

    def environments(self) -> list[dict[str, Any]]:
        """The account's environments as ``GET environments/{id}`` shows them."""
        return [
            {"id": environment_id, "accountId": self.account_id, "name": name, "isProd": is_prod,
             "guestAuthentication": ["magic_link"], "features": {}, "metadata": {}, "namespaces": [],
             "translationsPath": None, "languageOverride": None}
            for environment_id, name, is_prod in ((self.environment_id, "Production", True),
                                                  (self.foreign_environment_id, "Development", False))
        ]


def build_platform_account(seed: int) -> PlatformAccount:
    """The account of ``seed`` (ids and keys are fake, deterministic values)."""
    rng = random.Random(f"flatfile-emulator:{seed}:platform-account")
    alphabet = string.ascii_lowercase + string.digits

    def token(length: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(length))

    return PlatformAccount(
        seed=seed, account_id=f"us_acc_{token(8)}", environment_id=f"us_env_{token(8)}",
        secret_key=f"sk_{token(32)}", foreign_environment_id=f"us_env_{token(8)}",
        foreign_secret_key=f"sk_{token(32)}", user_id=f"us_usr_{token(8)}", guest_id=f"us_g_{token(8)}",
    )


def submit_action(operation: str = "submitActionFg", label: str = "Submit") -> dict[str, Any]:
    """A workbook's submit button: a foreground action whose press creates a job ``workbook:<operation>``."""
    return {
        "operation": operation, "mode": "foreground", "label": label, "type": "string", "primary": True,
        "description": "Send the data to our systems", "confirm": True, "constraints": [{"type": "hasData"}],
    }


def generated_sheet(name: str, slug: str, records: int, updated_at: str, *, invalid_every: int = 40, salt: int = 0,
                    label: str | None = None) -> dict[str, Any]:
    """A sheet spec for :meth:`PlatformState.add_workbook` with ``records`` generated product records (every
    ``invalid_every``-th one with an invalid e-mail): built when read, so 200,000 cost nothing up front."""
    generator = Products(updated_at, salt=salt, invalid_every=invalid_every)
    return {"name": name, "slug": slug, "fields": PRODUCT_FIELDS, "records": records, "generator": generator,
            "label": label}


def _customers(rng: random.Random, at: str) -> list[dict[str, Any]]:
    people = ("Ada Lovelace", "Søren Kierkegaard", "Zoë O'Neil", "Grace Hopper", "Alan Turing", "Hedy Lamarr",
              "Katherine Johnson", "Tim Berners-Lee", "Margaret Hamilton", "Linus Torvalds", "Radia Perlman",
              "Dennis Ritchie")
    rows = []
    for index, person in enumerate(people):
        handle = person.split()[0].lower().replace("ø", "o").replace("ë", "e")
        rows.append({
            "customerId": cell(f"C-{1001 + index}", at), "name": cell(person, at),
            "email": cell(f"{handle}@example.com", at), "vip": cell(rng.random() < 0.3, at),
            "signedUp": cell(f"2023-{1 + index % 12:02d}-{1 + rng.randrange(28):02d}", at),
        })
    return rows


def _orders(rng: random.Random, at: str) -> list[dict[str, Any]]:
    rows = []
    for index in range(30):
        row = {
            "orderId": cell(f"O-{50001 + index}", at), "customerId": cell(f"C-{1001 + rng.randrange(12)}", at),
            "amount": cell(rng.randrange(100, 500_000) / 100, at),
            "currency": cell(("USD", "EUR", "NOK")[index % 3], at),
            "shipped": cell(index % 4 != 0, at),
        }
        if index % 7 == 3:
            row["notes"] = cell(None, at)  # a null cell
        elif index % 5 != 2:  # else: no cell at all for notes
            row["notes"] = cell(("gift wrap", "leave at door", "", "call first")[index % 4], at)
        rows.append(row)
    return rows


def _products(rng: random.Random, at: str) -> list[dict[str, Any]]:
    email = error_message("Must be a valid email address")
    rows = []
    for index in range(25):
        row = {
            "sku": cell(f"P-{index + 1:03d}", at),
            "name": cell(_HOSTILE[index % len(_HOSTILE)] if index % 3 == 1 else
                         f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}", at),
            "price": cell(HUGE_NUMBER if index == 10 else rng.randrange(1, 100_000) / 100, at),
            "qty": cell(rng.randrange(0, 500), at),
            "supplierEmail": cell(f"supplier{index}@example.no", at),
        }
        if index % 5 == 4:
            row["supplierEmail"] = cell("not-an-email", at, [email])
        if index == 7:
            row["sku"] = cell("", at, [error_message("SKU is required", "required-constraint")])
        if index == 12:
            row["qty"] = cell(-3, at, [{"type": "warn", "source": "custom-logic", "message": "Negative stock?"}])
        rows.append(row)
    return rows


def load_platform_samples(state: PlatformState, anchor: datetime | None = None) -> None:
    """Add the samples of the module docstring to ``state`` (same seed and anchor: same ids and data)."""
    anchor = anchor if anchor is not None else default_anchor()
    rng = random.Random(f"flatfile-emulator:{state.account.seed}:platform-samples")

    def ago(**delta: float) -> str:
        return iso(anchor - timedelta(**delta) + timedelta(milliseconds=rng.randrange(600_000)))

    acme = state.add_space("Acme Ltd", created_at=ago(days=30), label="acme", user_info={
        "userId": "cust-48213", "name": "Ada Lovelace", "email": "ada@example.com", "companyId": "co-1",
        "companyName": "Acme Ltd"})
    nordic = state.add_space("Nordic Tools AS", created_at=ago(days=20), label="nordic", user_info={
        "userId": "cust-77120", "name": "Søren Kierkegaard", "companyId": "co-2", "companyName": "Nordic Tools AS"})
    internal = state.add_space("Internal", created_at=ago(days=15), label="internal")
    at = ago(days=4)
    orders = state.add_workbook(acme["id"], "Customers and orders", [
        {"name": "Customers", "slug": "customers", "fields": _CUSTOMER_FIELDS, "label": "customers",
         "records": 12, "generator": Fixed(_customers(rng, at))},
        {"name": "Orders", "slug": "orders", "fields": _ORDER_FIELDS, "label": "orders",
         "records": 30, "generator": Fixed(_orders(rng, at))},
    ], actions=[submit_action(), {"operation": "downloadCsv", "mode": "background", "label": "Download CSV"}],
        created_at=at, label="customers_orders")
    at = ago(days=3)
    products = state.add_workbook(nordic["id"], "Product catalogue", [
        {"name": "Products", "slug": "products", "fields": PRODUCT_FIELDS, "label": "products_sheet",
         "records": 25, "generator": Fixed(_products(rng, at))},
    ], created_at=at, label="products")
    state.add_workbook(internal["id"], "Returns", [
        {"name": "Returns", "slug": "returns", "fields": PRODUCT_FIELDS[:2], "label": "returns_sheet"},
    ], created_at=ago(days=2), label="returns")
    _load_jobs(state, orders["id"], products["id"], ago)
    _load_foreign(state, ago)


def _load_jobs(state: PlatformState, orders: str, products: str, ago: Callable[..., str]) -> None:
    state.add_job(orders, "submitActionFg", status="complete", created_at=ago(days=3, hours=12),
                  label="job_history", info="Exported", outcome={"message": "Exported 42 records to AWS"})
    state.add_job(orders, "downloadCsv", status="complete", mode="background", created_at=ago(days=2, hours=6),
                  label="job_other_operation", outcome={"message": "Your CSV is ready"})
    state.add_job(products, "submitActionFg", status="failed", created_at=ago(days=1, hours=4), label="job_failed",
                  outcome={"message": "The export failed; your data is still here. Please try again."})


def _load_foreign(state: PlatformState, ago: Callable[..., str]) -> None:
    environment = state.account.foreign_environment_id
    space = state.add_space("Development sandbox", environment_id=environment, created_at=ago(days=9))
    at = ago(days=1)
    workbook = state.add_workbook(space["id"], "Sandbox products", [
        generated_sheet("Products", "products", 3, at, invalid_every=0),
    ], created_at=at, label="foreign_workbook")
    state.add_job(workbook["id"], "submitActionFg", created_at=ago(hours=5), label="foreign_job")
