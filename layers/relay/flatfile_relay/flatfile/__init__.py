"""A client of the legacy Flatfile API (Portal v2): REST batches and rows, GraphQL, token exchange.

Example:
    from flatfile_relay.credentials import Credentials
    from flatfile_relay.flatfile import Deadline, FlatfileClient, TransientError

    credentials = Credentials.from_secret(secret_text)
    with FlatfileClient("https://api.us.flatfile.io", credentials) as client:
        deadline = Deadline.from_lambda_context(context)
        for batch in client.iter_batches(deadline):
            ...
"""

from flatfile_relay.flatfile.auth import ApiKeyAuth, Auth, TokenAuth, jwt_claims, token_expiry
from flatfile_relay.flatfile.client import FlatfileClient
from flatfile_relay.flatfile.deadline import Deadline
from flatfile_relay.flatfile.errors import (
    BadRequestError,
    ConfigurationError,
    ContractError,
    CredentialsRejectedError,
    DeadlineExceededError,
    FlatfileError,
    ForbiddenError,
    GraphQLError,
    LicenseForbiddenError,
    MalformedSecretError,
    NotConfiguredError,
    NotFoundError,
    RetriesExhaustedError,
    TransientError,
)
from flatfile_relay.flatfile.pagination import BatchPage, RowPage
from flatfile_relay.flatfile.transport import Reply, RequestCounts, Transport, backoff_delay, parse_retry_after

__all__ = [
    "ApiKeyAuth",
    "Auth",
    "BadRequestError",
    "BatchPage",
    "ConfigurationError",
    "ContractError",
    "CredentialsRejectedError",
    "Deadline",
    "DeadlineExceededError",
    "FlatfileClient",
    "FlatfileError",
    "ForbiddenError",
    "GraphQLError",
    "LicenseForbiddenError",
    "MalformedSecretError",
    "NotConfiguredError",
    "NotFoundError",
    "Reply",
    "RequestCounts",
    "RetriesExhaustedError",
    "RowPage",
    "TokenAuth",
    "TransientError",
    "Transport",
    "backoff_delay",
    "jwt_claims",
    "parse_retry_after",
    "token_expiry",
]
