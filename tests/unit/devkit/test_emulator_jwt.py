"""HS256 tokens of the emulator's access-key exchange."""

from __future__ import annotations

import pytest

from flatfile_relay_devkit.emulator import jwt

KEY = b"k" * 32


def test_round_trip_keeps_claims() -> None:
    claims = {"sub": "1", "username": "owner@example.com", "iat": 100, "exp": 200}
    assert jwt.decode(jwt.encode(claims, KEY), KEY, now=150) == claims


def test_token_is_three_base64url_segments_with_hs256_header() -> None:
    token = jwt.encode({"exp": 10}, KEY)
    header, _payload, signature = token.split(".")
    assert "=" not in token
    assert jwt.b64url_decode(header) == b'{"alg":"HS256","typ":"JWT"}'
    assert len(jwt.b64url_decode(signature)) == 32
    assert jwt.unverified_claims(token) == {"exp": 10}


@pytest.mark.parametrize("now", [200, 201, 10_000])
def test_expired_at_and_after_exp(now: int) -> None:
    with pytest.raises(jwt.JWTError, match="expired"):
        jwt.decode(jwt.encode({"exp": 200}, KEY), KEY, now=now)


def test_wrong_key_and_tampered_payload_are_rejected() -> None:
    token = jwt.encode({"sub": "1", "exp": 200}, KEY)
    with pytest.raises(jwt.JWTError, match="signature"):
        jwt.decode(token, b"other", now=0)
    header, _, signature = token.split(".")
    payload = jwt.b64url_encode(b'{"sub":"2","exp":200}')
    forged = f"{header}.{payload}.{signature}"
    with pytest.raises(jwt.JWTError, match="signature"):
        jwt.decode(forged, KEY, now=0)


def test_alg_none_is_rejected() -> None:
    header = jwt.b64url_encode(b'{"alg":"none"}')
    payload = jwt.b64url_encode(b'{"exp":200}')
    unsigned = f"{header}.{payload}."
    with pytest.raises(jwt.JWTError):
        jwt.decode(unsigned, KEY, now=0)


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "###.###.###", "e30.e30.", "W10.W10.sig"])
def test_malformed_tokens_raise_jwt_error(token: str) -> None:
    with pytest.raises(jwt.JWTError):
        jwt.decode(token, KEY, now=0)


def test_missing_exp_is_rejected() -> None:
    with pytest.raises(jwt.JWTError, match="exp"):
        jwt.decode(jwt.encode({"sub": "1"}, KEY), KEY, now=0)
