"""Minimal HS256 JSON Web Tokens (RFC 7519), enough for the emulated access-key exchange.

Example:
    >>> token = encode({"sub": "1", "exp": 2_000_000_000}, b"signing-key")
    >>> decode(token, b"signing-key", now=1_700_000_000)["sub"]
    '1'
    >>> unverified_claims(token)["exp"]
    2000000000
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

__all__ = ["JWTError", "b64url_decode", "b64url_encode", "decode", "encode", "unverified_claims"]


class JWTError(ValueError):
    """The token is malformed, wrongly signed or expired."""


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url_encode`; raises :class:`JWTError` on bad input."""
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise JWTError("bad base64url segment") from exc


def _segment(obj: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("utf-8"))


def _sign(signing_input: str, key: bytes) -> bytes:
    return hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()


def encode(claims: dict[str, Any], key: bytes) -> str:
    """Sign ``claims`` with HS256 and return the compact serialisation."""
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT'})}.{_segment(claims)}"
    return f"{signing_input}.{b64url_encode(_sign(signing_input, key))}"


def _json_segment(text: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(text))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JWTError("segment is not JSON") from exc
    if not isinstance(value, dict):
        raise JWTError("segment is not a JSON object")
    return value


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of ``token`` without checking signature or expiry."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JWTError("a JWT has three segments")
    return _json_segment(parts[1])


def decode(token: str, key: bytes, *, now: float | None = None) -> dict[str, Any]:
    """Verify the HS256 signature and ``exp`` of ``token`` and return its claims.

    A token is expired once ``now >= exp`` (RFC 7519 section 4.1.4).
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise JWTError("a JWT has three segments")
    header = _json_segment(parts[0])
    if header.get("alg") != "HS256":
        raise JWTError("unsupported alg")
    expected = _sign(f"{parts[0]}.{parts[1]}", key)
    if not hmac.compare_digest(expected, b64url_decode(parts[2])):
        raise JWTError("bad signature")
    claims = _json_segment(parts[1])
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise JWTError("exp claim missing")
    if (time.time() if now is None else now) >= exp:
        raise JWTError("token expired")
    return claims
