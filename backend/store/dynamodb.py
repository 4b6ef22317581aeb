"""MetadataReader over the DynamoDB table written by lambda/store_writer.py.

Items are keyed by ``FileName`` (= the full object key); ``Record`` holds the contract JSON, ``Revision`` the
store-wide change counter. Listing pages through a sparse GSI that holds live records only, ordered by upload
time (``LiveByUploaded``; ``LiveByStatus`` when a status is asked for), with Query + Limit + ExclusiveStartKey.
DynamoDB sorts only by an index's sort key, so upload time is the one order served (capabilities say so);
the text and bucket filters are FilterExpressions, read page by page. "Changed since" scans the table.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from backend.store.records import (
    NOT_PROFILED,
    MetadataRecord,
    ReaderCapabilities,
    RecordPage,
    RecordQuery,
    Records,
    StoreError,
    decode_cursor,
    encode_cursor,
    iso_utc,
    parse_utc,
)

T = TypeVar("T")


# The sparse GSIs (backend/store/schema_dynamodb.py; the writer sets their keys on live items only).
INDEX_ALL = "LiveByUploaded"
INDEX_STATUS = "LiveByStatus"
INDEX_KEYS = {INDEX_ALL: "LivePartition", INDEX_STATUS: "LiveStatus"}
CAPABILITIES = ReaderCapabilities(
    sort_keys=("uploaded_at",),
    text_rule="Name starts with…, or a key prefix like folder/ (any case)",
    random_access=False,
    notes=(
        "DynamoDB lists records by upload time only; other orders are not available.",
        "Jumping far down the list reads every page before it.",
        "The text and bucket filters read the whole list page by page on the server.",
    ),
)


def _item_record(item: dict[str, Any], *, summary: bool = False) -> MetadataRecord | None:
    if item.get("ItemType", {}).get("S") != "record" or "Record" not in item:
        return None
    data = json.loads(item["Record"]["S"])
    updated = item.get("UpdatedAt", {}).get("S")
    record = MetadataRecord.from_json_dict(
        data,
        revision=int(item.get("Revision", {}).get("N", "0")),
        updated_at=parse_utc(updated) if updated else None,
    )
    deleted = bool(item.get("Deleted", {}).get("BOOL", False))
    if summary:
        return replace(record, columns=(), column_names=(), sample_rows=(), complete=False, deleted=deleted)
    return replace(record, deleted=True) if deleted else record


def encode_token(index: str, key: dict[str, Any]) -> str:
    return json.dumps({"index": index, "key": key}, separators=(",", ":"))


def decode_token(token: str, index: str) -> dict[str, Any]:
    try:
        data = json.loads(token)
        key = data["key"]
        ok = data["index"] == index and isinstance(key, dict) and {"FileName", "UploadedAt"} <= set(key)
    except (ValueError, TypeError, KeyError):
        ok = False
    if not ok:
        raise StoreError("The page token does not belong to this list; start again from the first page.")
    return dict(key)


def query_params(query: RecordQuery) -> dict[str, Any] | None:
    """Query arguments (index, key condition, filter) for the query's filters; None when nothing can match."""
    if query.sort != "uploaded_at":
        raise StoreError(
            f"DynamoDB cannot sort the records by {query.sort}: it lists them by upload time only. "
            "Sort by upload time, or use the MySQL metadata store for other orders."
        )
    status = query.status
    if query.with_warnings:
        if status in NOT_PROFILED:
            return None
        status = "PROCESSED"
    filters: list[str] = []
    values: dict[str, Any] = {}
    if status == "MISSING":
        # Read from the all-records index and filtered, so the answer does not depend on which LiveStatus
        # partition a MISSING record is kept in (FAILED's, for the "FAILED" filter to cover it; or its own).
        filters.append("#s = :status")
        values[":status"] = {"S": status}
        status = None
    index = INDEX_STATUS if status else INDEX_ALL
    names = {"#p": INDEX_KEYS[index]}
    if filters:
        names["#s"] = "Status"
    values[":p"] = {"S": status or "live"}
    key_condition = "#p = :p"
    start = iso_utc(query.uploaded_from) if query.uploaded_from is not None else None
    end = iso_utc(query.uploaded_to) if query.uploaded_to is not None else None
    if start and end:
        key_condition += " AND #u BETWEEN :from AND :to"
        filters.append("#u < :to")
        values[":from"], values[":to"] = {"S": start}, {"S": end}
    elif start:
        key_condition += " AND #u >= :from"
        values[":from"] = {"S": start}
    elif end:
        key_condition += " AND #u < :to"
        values[":to"] = {"S": end}
    if start or end:  # DynamoDB refuses a name no expression uses
        names["#u"] = "UploadedAt"
    if query.with_warnings:
        filters.append("WarningCount > :zero")
        values[":zero"] = {"N": "0"}
    if query.bucket:
        filters.append("Bucket = :bucket")
        values[":bucket"] = {"S": query.bucket}
    if query.text:
        # the same rule as MySQL's (mysql.TEXT_RULE): a slash makes it a key prefix
        filters.append("begins_with(KeyFold, :text)" if "/" in query.text else "begins_with(NameFold, :text)")
        values[":text"] = {"S": query.text.lower()}
    if query.name_contains:
        filters.append("contains(KeyFold, :part)")
        values[":part"] = {"S": query.name_contains.lower()}
    params: dict[str, Any] = {
        "IndexName": index,
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": not query.descending,
    }
    if filters:
        params["FilterExpression"] = " AND ".join(filters)
    return params


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

    def _all(self, *, summary: bool = False, **kwargs: Any) -> Records:
        out: Records = []
        for item in self._scan(**kwargs):
            record = _item_record(item, summary=summary)
            if record is not None:
                out.append(record)
        return out

    @property
    def capabilities(self) -> ReaderCapabilities:
        return CAPABILITIES

    def list(self, query: RecordQuery) -> RecordPage:
        """One page from the live-records index; ``total`` is -1 (counting walks the index: see count())."""
        params = query_params(query)
        if params is None:
            return RecordPage([], 0, None)
        index = params["IndexName"]
        start_key = decode_token(query.after, index) if query.after is not None else None
        skip = 0 if query.after is not None else query.offset

        def action() -> RecordPage:
            kept: list[dict[str, Any]] = []
            exclusive = start_key
            to_skip = skip
            while len(kept) < query.limit:
                want = query.limit - len(kept) + to_skip
                call = dict(params, TableName=self.table, Limit=max(25, min(want, 1000)))
                if exclusive is not None:
                    call["ExclusiveStartKey"] = exclusive
                page = self._ddb.query(**call)
                items = page.get("Items", [])
                if to_skip:
                    dropped = min(to_skip, len(items))
                    items, to_skip = items[dropped:], to_skip - dropped
                kept += items[: query.limit - len(kept)]
                exclusive = page.get("LastEvaluatedKey")
                if exclusive is None:
                    break
            records = [r for r in (_item_record(i, summary=query.summary) for i in kept) if r is not None]
            following = None
            if len(kept) == query.limit:
                last = kept[-1]
                following = encode_token(
                    index, {k: last[k] for k in ("FileName", "UploadedAt", INDEX_KEYS[index]) if k in last}
                )
            return RecordPage(records, -1, following)

        return self._run(action)

    def count(self, query: RecordQuery) -> int:
        params = query_params(query)
        if params is None:
            return 0

        def action() -> int:
            total = 0
            paginator = self._ddb.get_paginator("query")
            for page in paginator.paginate(TableName=self.table, Select="COUNT", **params):
                total += int(page.get("Count", 0))
            return total

        return self._run(action)

    def get(self, bucket: str, key: str) -> MetadataRecord | None:
        def action() -> MetadataRecord | None:
            item = self._ddb.get_item(TableName=self.table, Key={"FileName": {"S": key}}, ConsistentRead=True).get(
                "Item"
            )
            record = _item_record(item) if item else None
            return record if record is not None and record.bucket == bucket and not record.deleted else None

        return self._run(action)

    def changed_since(self, cursor: str | None, limit: int = 1000, *, summary: bool = False) -> tuple[Records, str]:
        after = decode_cursor(cursor)
        limit = max(1, min(int(limit), 10_000))

        def action() -> Records:
            records = self._all(
                summary=summary,
                FilterExpression="ItemType = :record AND Revision > :after",
                ExpressionAttributeValues={":record": {"S": "record"}, ":after": {"N": str(after)}},
            )
            records.sort(key=lambda r: r.revision)
            return records[:limit]

        records = self._run(action)
        return records, encode_cursor(records[-1].revision if records else after)

    def latest_cursor(self) -> str:
        from backend.store.schema_dynamodb import COUNTER_KEY, counter_table_name

        def action() -> int:
            # the writer's revision counter: every record and tombstone took its revision from it
            item = self._ddb.get_item(
                TableName=counter_table_name(self.table), Key=COUNTER_KEY, ConsistentRead=True
            ).get("Item")
            return int(item["Revision"]["N"]) if item and "Revision" in item else 0

        return encode_cursor(self._run(action))

    def close(self) -> None:
        close = getattr(self._ddb, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> DynamoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
