"""A client of the legacy Flatfile API (Portal v2): REST batches and rows, GraphQL, token exchange.

A self-contained package: besides itself it imports only the library's leaf modules (`deadline`,
`backoff`, `timestamps`, `redaction`), never the relay's own configuration or secrets.

Example:
    from flatfile_relay.deadline import Deadline
    from flatfile_relay.flatfile import Account, FlatfileClient

    account = Account(access_key_id, secret_access_key, license_key)
    with FlatfileClient("https://api.us.flatfile.io", account, user_agent="my-tool/1.0") as client:
        deadline = Deadline.from_lambda_context(context)
        for batch in client.iter_batches(deadline):
            ...
"""

from flatfile_relay.flatfile.account import Account
from flatfile_relay.flatfile.auth import ApiKeyAuth, Auth, TokenAuth, jwt_claims, token_expiry
from flatfile_relay.flatfile.client import FlatfileClient
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
    RetriesExhaustedError,
    TransientError,
)
from flatfile_relay.flatfile.pagination import BatchPage, RowPage
from flatfile_relay.flatfile.transport import Reply, Transport, parse_retry_after

__all__ = [
    "Account",
    "ApiKeyAuth",
    "Auth",
    "BadRequestError",
    "BatchPage",
    "ConfigurationError",
    "ContractError",
    "CredentialsRejectedError",
    "FlatfileClient",
    "FlatfileError",
    "ForbiddenError",
    "GraphQLError",
    "LicenseForbiddenError",
    "NotFoundError",
    "Reply",
    "RetriesExhaustedError",
    "RowPage",
    "TokenAuth",
    "TransientError",
    "Transport",
    "jwt_claims",
    "parse_retry_after",
    "token_expiry",
]
