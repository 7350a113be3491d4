"""An in-memory stand-in for the one S3 call the reader makes, for unit tests of what it does with the bytes.

Integration tests use moto; this is for what moto cannot do: count the reads before iteration, or serve a
body that disagrees with its announced length (subclass and override `get_object`).
"""

from __future__ import annotations

import io
from typing import Any


class MemoryS3:
    """get_object over a dict; its Body has read(n)/close(), like botocore's."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.gets: list[str] = []

    def put(self, uri: str, data: bytes) -> None:
        bucket, key = uri[len("s3://"):].split("/", 1)
        self.objects[(bucket, key)] = data

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> dict[str, Any]:
        self.objects[(Bucket, Key)] = Body
        return {}

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.gets.append(Key)
        data = self.objects[(Bucket, Key)]
        return {"Body": io.BytesIO(data), "ContentLength": len(data)}
