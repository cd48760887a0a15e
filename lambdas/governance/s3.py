"""Ranged reads of one S3 object, so that a Parquet footer and one column are fetched without
the rest of the file (erase-subject reads only what it must)."""

from __future__ import annotations

import io
from typing import Any


class RangedObject(io.RawIOBase):
    """A seekable, read-only view of one S3 object version that GETs only the ranges read."""

    def __init__(self, s3: Any, bucket: str, key: str, *, size: int, version_id: str) -> None:
        super().__init__()
        self._s3, self._bucket, self._key, self._version = s3, bucket, key, version_id
        self._size, self._position = size, 0
        self.requests = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def read(self, size: int = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._position + size)
        if end <= self._position:
            return b""
        self.requests += 1
        body = self._s3.get_object(
            Bucket=self._bucket,
            Key=self._key,
            VersionId=self._version,
            Range=f"bytes={self._position}-{end - 1}",
        )["Body"].read()
        self._position += len(body)
        return bytes(body)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def delete_other_versions(s3: Any, bucket: str, key: str, keep: str | None) -> int:
    """Delete every version and delete marker of `key` but `keep` (a rewrite's new version), so
    that no old version still holds what the rewrite took out; returns how many were deleted.
    Raises if S3 did not confirm every deletion."""
    stale = [
        {"Key": key, "VersionId": entry["VersionId"]}
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key)
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        if entry["Key"] == key and entry["VersionId"] != keep
    ]
    for start in range(0, len(stale), 1000):
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": stale[start : start + 1000]})
        if answer.get("Errors"):
            raise RuntimeError(f"{len(answer['Errors'])} old versions were not deleted")
    return len(stale)
