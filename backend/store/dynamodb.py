"""MetadataReader over the DynamoDB table written by lambda/store_writer.py.

Items are keyed by ``FileName`` (= the full object key); ``Record`` holds the contract JSON, ``Revision`` the
store-wide change counter. Listing scans the table and filters/sorts in the client: fine for the thousands of
records a CSV drop holds, and it keeps one code path for every sort key.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from backend.store.records import (
    MetadataRecord,
    RecordPage,
    RecordQuery,
    Records,
    StoreError,
    decode_cursor,
    encode_cursor,
    parse_utc,
)

T = TypeVar("T")


def _item_record(item: dict[str, Any]) -> MetadataRecord | None:
    if item.get("ItemType", {}).get("S") != "record" or "Record" not in item:
        return None
    data = json.loads(item["Record"]["S"])
    updated = item.get("UpdatedAt", {}).get("S")
    return MetadataRecord.from_json_dict(
        data,
        revision=int(item.get("Revision", {}).get("N", "0")),
        updated_at=parse_utc(updated) if updated else None,
    )


def _sort_key(value: Any) -> tuple[int, Any]:
    """None first (as MySQL sorts NULL), strings case-insensitively."""
    if value is None:
        return (0, 0)
    if isinstance(value, str):
        return (1, value.casefold())
    if isinstance(value, datetime):
        return (1, value.timestamp())
    return (1, value)


class DynamoReader:
    def __init__(self, client: Any, table: str, *, endpoint: str | None = None, hint: str = "") -> None:
        self._ddb = client
        self.table = table
        self._endpoint = endpoint
        self._hint = hint
        self._lock = threading.Lock()

    def _error(self, exc: Exception) -> StoreError:
        where = self._endpoint or "AWS"
        hint = f" {self._hint}" if self._hint else ""
        if isinstance(exc, EndpointConnectionError):
            return StoreError(f"Cannot reach DynamoDB at {where}: connection refused.{hint}")
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", "")
            if code == "ResourceNotFoundException":
                return StoreError(
                    f"The DynamoDB table {self.table!r} does not exist at {where}. "
                    "Run `csvdrop setup` (or `python -m db_setup.setup_dynamodb`) first."
                )
            if code in ("AccessDeniedException", "UnrecognizedClientException"):
                return StoreError(f"Not allowed to read DynamoDB table {self.table!r}: {message}")
            return StoreError(f"DynamoDB at {where} reported an error ({code}): {message}")
        return StoreError(f"Cannot read DynamoDB table {self.table!r} at {where}: {exc}")

    def _run(self, action: Callable[[], T]) -> T:
        try:
            with self._lock:
                return action()
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc) from None

    def _scan(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        paginator = self._ddb.get_paginator("scan")
        for page in paginator.paginate(TableName=self.table, ConsistentRead=True, **kwargs):
            yield from page.get("Items", [])

    def _all(self, **kwargs: Any) -> Records:
        out: Records = []
        for item in self._scan(**kwargs):
            record = _item_record(item)
            if record is not None:
                out.append(record)
        return out

    def list(self, query: RecordQuery) -> RecordPage:
        def action() -> RecordPage:
            records = self._all()
            needle = query.name_contains.casefold() if query.name_contains else None
            start = parse_utc(query.uploaded_from) if query.uploaded_from else None
            end = parse_utc(query.uploaded_to) if query.uploaded_to else None
            kept = [
                r
                for r in records
                if (query.status is None or r.status == query.status)
                and (not query.with_warnings or r.has_warnings)
                and (query.bucket is None or r.bucket == query.bucket)
                and (needle is None or needle in r.key.casefold())
                and (start is None or r.uploaded_at >= start)
                and (end is None or r.uploaded_at < end)
            ]
            kept.sort(key=lambda r: (_sort_key(r.sort_value(query.sort)), r.key, r.bucket), reverse=query.descending)
            return RecordPage(kept[query.offset : query.offset + query.limit], len(kept))

        return self._run(action)

    def get(self, bucket: str, key: str) -> MetadataRecord | None:
        def action() -> MetadataRecord | None:
            item = self._ddb.get_item(TableName=self.table, Key={"FileName": {"S": key}}, ConsistentRead=True).get(
                "Item"
            )
            record = _item_record(item) if item else None
            return record if record is not None and record.bucket == bucket else None

        return self._run(action)

    def changed_since(self, cursor: str | None, limit: int = 1000) -> tuple[Records, str]:
        after = decode_cursor(cursor)
        limit = max(1, min(int(limit), 10_000))

        def action() -> Records:
            records = self._all(
                FilterExpression="ItemType = :record AND Revision > :after",
                ExpressionAttributeValues={":record": {"S": "record"}, ":after": {"N": str(after)}},
            )
            records.sort(key=lambda r: r.revision)
            return records[:limit]

        records = self._run(action)
        return records, encode_cursor(records[-1].revision if records else after)

    def close(self) -> None:
        close = getattr(self._ddb, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> DynamoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
