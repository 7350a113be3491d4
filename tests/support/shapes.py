"""Key sets of Flatfile's documents as ../shared/flatfile-api.md describes them, for the emulator's tests.

Written out here rather than taken from the emulator, so that a test comparing the emulator with them can fail.
"""

from __future__ import annotations

#: the keys of a row from `GET /rest/batch/{id}/rows`
ROW_KEYS = frozenset({"id", "batchId", "raw", "mapped", "valid", "deleted", "sequence", "createdAt", "updatedAt"})

#: the keys of an end user (`__endUser__` of a batch, `customer` of a webhook body)
END_USER_KEYS = frozenset(
    {"id", "userId", "name", "email", "companyId", "companyName", "teamId", "createdAt", "updatedAt"}
)
