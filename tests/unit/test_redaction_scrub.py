"""`scrub`: secrets out of documents the relay stores (the manifest's batch object), nothing else changed."""

from __future__ import annotations

from flatfile_relay.credentials import Credentials
from flatfile_relay.redaction import REDACTED, scrub

SECRET = {"accessKeyId": "FF00" + "A" * 36, "secretAccessKey": "s3cr3t-" + "x" * 33,
          "licenseKey": "00000000-0000-0000-0000-000000000000", "webhookToken": "tok-old-1234, tok-new-5678"}


def test_every_secret_value_is_replaced_wherever_it_sits() -> None:
    credentials = Credentials.from_secret(SECRET)
    batch = {
        "legacyWebhookUrl": "https://relay.example/hook?token=tok-new-5678&x=1",
        "__embed__": {"webhookUrl": "https://relay.example/?token=tok-old-1234", "ids": [1, "tok-new-5678"]},
        "tok-old-1234": "as a key too",
        "memo": f"key {SECRET['accessKeyId']}+{SECRET['secretAccessKey']}",
        "countRows": 3, "manual": False, "status": None,
    }

    cleaned = scrub(batch, [*credentials.secret_values, *SECRET["webhookToken"].split(", ")])

    text = repr(cleaned)
    for value in ("tok-new-5678", "tok-old-1234", SECRET["secretAccessKey"]):
        assert value not in text
    assert cleaned["legacyWebhookUrl"] == f"https://relay.example/hook?token={REDACTED}&x=1"
    assert cleaned["__embed__"]["ids"] == [1, REDACTED]
    assert cleaned["memo"] == f"key {REDACTED}"  # the whole API key header, not only its secret half
    assert (cleaned["countRows"], cleaned["manual"], cleaned["status"]) == (3, False, None)
    assert batch["legacyWebhookUrl"].endswith("tok-new-5678&x=1")  # a copy: the input is left alone


def test_nothing_to_scrub_leaves_the_document_as_it_is() -> None:
    batch = {"id": "b", "filename": "products.csv", "n": [1, 2.5, None]}
    assert scrub(batch, Credentials.from_secret(SECRET).secret_values) == batch
    assert scrub(batch, ["", "ab"]) == batch  # empty and very short values are not secrets


def test_every_token_url_parameter_is_scrubbed_whatever_its_value() -> None:
    # the webhook's tokens live in a secret the exporter does not read: any token= value goes
    batch = {"legacyWebhookUrl": "https://abc.lambda-url.us-east-1.on.aws/?token=unknown-to-the-exporter-1234",
             "other": "https://x.example/hook?a=1&TOKEN=zzz&b=2#frag", "note": "token is a word", "n": 1}
    assert scrub(batch, []) == {"legacyWebhookUrl": "https://abc.lambda-url.us-east-1.on.aws/?token=***",
                                "other": "https://x.example/hook?a=1&TOKEN=***&b=2#frag",
                                "note": "token is a word", "n": 1}


def test_a_token_in_a_fragment_or_in_an_encoded_url_is_scrubbed() -> None:
    batch = {"fragment": "https://relay.example/hook#token=frag-token-1234&x=1",
             "encoded": "https://app.example/?next=https%3A%2F%2Frelay.example%2F%3Ftoken%3Denc-token-1234%26a%3D1",
             "twice": "r=https%253A%252F%252Fr%252F%253Fa%253D1%2526token%253Dtwice-1234%2526b%253D2",
             "lower": "next=%3ftoken%3dlow-token-1234"}
    assert scrub(batch, []) == {
        "fragment": f"https://relay.example/hook#token={REDACTED}&x=1",
        "encoded": f"https://app.example/?next=https%3A%2F%2Frelay.example%2F%3Ftoken%3D{REDACTED}%26a%3D1",
        "twice": f"r=https%253A%252F%252Fr%252F%253Fa%253D1%2526token%253D{REDACTED}%2526b%253D2",
        "lower": f"next=%3ftoken%3d{REDACTED}",
    }


def test_a_secret_is_scrubbed_percent_encoded_too() -> None:
    assert scrub({"u": "https://x.example/?k=a%2Bb%2Fc%3D%3D"}, ["a+b/c=="]) == {"u": f"https://x.example/?k={REDACTED}"}
