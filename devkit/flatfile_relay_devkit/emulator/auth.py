"""Credentials checks and access tokens: ``X-Api-Key``, the access-key exchange, Bearer JWTs, revocation.

Example:
    >>> from .samples import build_account
    >>> authority = TokenAuthority(build_account(7))
    >>> token = authority.issue(3600)
    >>> authority.verify(token)["accessKeyId"] == build_account(7).access_key_id
    True
    >>> authority.revoke_all()
    >>> authority.verify(token) is None
    True
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from typing import Any

from . import jwt
from .samples import Account

__all__ = ["TokenAuthority"]


class TokenAuthority:
    """Checks the account's credentials and issues and verifies its HS256 access tokens.

    Every token carries a serial number (``jti``); :meth:`revoke_all` invalidates every token issued
    so far, on the server side, while tokens issued afterwards work.
    """

    def __init__(self, account: Account, key: bytes | None = None) -> None:
        self.account = account
        self._key = key if key is not None else secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._serial = 0
        self._revoked_up_to = 0

    def check_keys(self, access_key_id: object, secret_access_key: object) -> bool:
        """Whether the pair is the account's access key (constant-time comparison)."""
        if not isinstance(access_key_id, str) or not isinstance(secret_access_key, str):
            return False
        id_ok = hmac.compare_digest(access_key_id.encode(), self.account.access_key_id.encode())
        secret_ok = hmac.compare_digest(secret_access_key.encode(), self.account.secret_access_key.encode())
        return id_ok and secret_ok

    def check_api_key(self, header: str) -> bool:
        """Whether an ``X-Api-Key`` header value (``<AccessKeyId>+<SecretAccessKey>``) is valid."""
        access_key_id, plus, secret = header.strip().partition("+")
        return bool(plus) and self.check_keys(access_key_id, secret)

    def issue(self, lifetime: float, *, now: float | None = None) -> str:
        """A signed token valid for ``lifetime`` seconds (at least one second)."""
        issued_at = int(time.time() if now is None else now)
        with self._lock:
            self._serial += 1
            serial = self._serial
        claims = {
            "username": self.account.user["email"],
            "sub": str(self.account.user["id"]),
            "accessKeyId": self.account.access_key_id,
            "iat": issued_at,
            "exp": issued_at + max(1, int(lifetime)),
            "jti": serial,
        }
        return jwt.encode(claims, self._key)

    def verify(self, token: str, *, now: float | None = None) -> dict[str, Any] | None:
        """The claims of a valid token; ``None`` when malformed, forged, expired or revoked."""
        try:
            claims = jwt.decode(token, self._key, now=now)
        except jwt.JWTError:
            return None
        serial = claims.get("jti")
        with self._lock:
            if not isinstance(serial, int) or serial <= self._revoked_up_to:
                return None
        if claims.get("accessKeyId") != self.account.access_key_id:
            return None
        return claims

    def revoke_all(self) -> None:
        """Invalidate every token issued so far."""
        with self._lock:
            self._revoked_up_to = self._serial
