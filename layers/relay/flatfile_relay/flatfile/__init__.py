"""A client of the legacy Flatfile API (Portal v2): REST batches and rows, GraphQL, token exchange.

A self-contained package: besides itself it imports only the library's leaf modules (`errors`, the root of
its errors, `deadline`, `retry`, `timestamps`, `redaction`, ...), never the relay's own configuration or
secrets. Its errors and `Account` come at once; the HTTP side (`FlatfileClient` and the names of `auth`,
`pagination`, `transport`) when first asked for, so a function that only needs the errors never imports
`requests`.

Example:
    from flatfile_relay.deadline import Deadline
    from flatfile_relay.flatfile import Account, FlatfileClient

    account = Account(access_key_id, secret_access_key, license_key)
    with FlatfileClient("https://api.us.flatfile.io", account, user_agent="my-tool/1.0") as client:
        deadline = Deadline.from_lambda_context(context)
        for batch in client.iter_batches(deadline):   # the whole list, once each (flatfile_relay.walk)
            ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flatfile_relay.flatfile.account import Account
from flatfile_relay.flatfile.errors import (
    BadRequestError,
    ConfigurationError,
    ContractError,
    CredentialsRejectedError,
    FlatfileError,
    ForbiddenError,
    GraphQLError,
    LicenseForbiddenError,
    NotFoundError,
    RefusedError,
    RetriesExhaustedError,
    TransientError,
)

if TYPE_CHECKING:
    from flatfile_relay.flatfile.auth import ApiKeyAuth, Auth, TokenAuth, jwt_claims, token_expiry
    from flatfile_relay.flatfile.client import FlatfileClient
    from flatfile_relay.flatfile.pagination import RowPage
    from flatfile_relay.flatfile.transport import Reply, RequestCounts, Transport, parse_retry_after

#: the names that live in the modules built on `requests`, served on first use (PEP 562): importing the package
#: for its errors or `Account` (the webhook, the consumer) does not import `requests`
_CLIENT_NAMES = frozenset({
    "ApiKeyAuth", "Auth", "TokenAuth", "jwt_claims", "token_expiry", "FlatfileClient", "RowPage",
    "Reply", "RequestCounts", "Transport", "parse_retry_after",
})


def __getattr__(name: str) -> Any:
    """`FlatfileClient` and the other names of the HTTP side, imported when first asked for."""
    if name not in _CLIENT_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from flatfile_relay.flatfile import auth, client, pagination, transport  # deferred: see DEFERRED_IMPORTS

    for module in (auth, client, pagination, transport):
        if name in vars(module):
            value = vars(module)[name]
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")  # pragma: no cover - names above


__all__ = [
    "Account",
    "ApiKeyAuth",
    "Auth",
    "BadRequestError",
    "ConfigurationError",
    "ContractError",
    "CredentialsRejectedError",
    "FlatfileClient",
    "FlatfileError",
    "ForbiddenError",
    "GraphQLError",
    "LicenseForbiddenError",
    "NotFoundError",
    "RefusedError",
    "Reply",
    "RequestCounts",
    "RetriesExhaustedError",
    "RowPage",
    "TokenAuth",
    "TransientError",
    "Transport",
    "jwt_claims",
    "parse_retry_after",
    "token_expiry",
]
