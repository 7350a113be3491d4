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

    cleaned = scrub(batch, credentials.secret_values)

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
