"""The DynamoDB side of the metadata store: one table, ``settings.dynamodb_table``.

The partition key is ``FileName`` (string) because the seed design keys its MetadataTable by FileName.
We store the *full object key* there (``reports/2026/a.csv``, not ``a.csv``): the bare file name would make
two uploads with the same name in different folders overwrite each other. The bucket is an ordinary
attribute, so one table serves one bucket (the same key in a second bucket would collide; use MySQL for many
buckets).

The table holds records only. The store-wide revision counter the app polls with "changed since" is one item
of a table of its own, ``<table>-revision`` (key ``Counter``), bumped in the same transaction as the record
(``lambda/store_writer.py``). Older versions kept it as an item of the records table with a 1,000-character
FileName of ``#``; ``ensure_table`` moves it across and deletes it.

Two sparse GSIs page the browser (backend/store/dynamodb.py): ``LiveByUploaded`` (LivePartition = "live",
UploadedAt) and ``LiveByStatus`` (LiveStatus = the status, UploadedAt). The writer sets their key attributes on
live records and removes them on a tombstone. ``ensure_table`` adds the indexes to an older table (one
UpdateTable at a time, as DynamoDB requires) and gives its records the attributes they lack.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from backend.config import Settings

PARTITION_KEY = "FileName"


COUNTER_TABLE_SUFFIX = "-revision"
COUNTER_KEY_ATTRIBUTE = "Counter"
COUNTER_KEY = {COUNTER_KEY_ATTRIBUTE: {"S": "revision"}}
LEGACY_COUNTER_FILE_NAME = "#csvdrop-revision-counter#" + "#" * 1024


LIVE_INDEXES = (("LiveByUploaded", "LivePartition"), ("LiveByStatus", "LiveStatus"))


def _gsi(name: str, partition: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": partition, "KeyType": "HASH"},
            {"AttributeName": "UploadedAt", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


_GSI_ATTRIBUTES = [
    {"AttributeName": "LivePartition", "AttributeType": "S"},
    {"AttributeName": "LiveStatus", "AttributeType": "S"},
    {"AttributeName": "UploadedAt", "AttributeType": "S"},
]


def counter_table_name(table: str) -> str:
    """The revision counter's table for the records table ``table`` (the function gets it in its environment)."""
    return table + COUNTER_TABLE_SUFFIX


def ensure_table(
    settings: Settings, *, dynamodb_client: Any = None, wait_delay_s: int = 1, wait_max_attempts: int = 60
) -> str:
    """Create the records table and the revision counter's table (on-demand billing) if missing, wait until
    both are ACTIVE, move a counter left in the records table by an older version; say what happened."""
    from backend.aws import client

    ddb = dynamodb_client if dynamodb_client is not None else client(settings, "dynamodb")
    name = settings.dynamodb_table
    waiter = {"Delay": wait_delay_s, "MaxAttempts": wait_max_attempts}
    try:
        action, status = _ensure_one(ddb, name, PARTITION_KEY, waiter, indexes=True)
        counter_action, _ = _ensure_one(ddb, counter_table_name(name), COUNTER_KEY_ATTRIBUTE, waiter)
        moved = _move_legacy_counter(ddb, name)
        added = _ensure_indexes(ddb, name, wait_delay_s, wait_max_attempts)
        filled = _backfill_live_attributes(ddb, name) if added else 0
    except (BotoCoreError, ClientError) as exc:
        raise RuntimeError(f"cannot set up DynamoDB table {name}: {exc}") from exc
    said = f"{action} DynamoDB table {name} ({status})"
    if counter_action == "created" and action == "found":
        said += f"; created its revision counter table {counter_table_name(name)}"
    if moved:
        said += f"; moved the revision counter ({moved}) out of {name}"
    if added:
        said += f"; added index {', '.join(added)} ({filled} records brought up to date)"
    return said


def _ensure_one(ddb: Any, name: str, key: str, waiter: dict[str, int], *, indexes: bool = False) -> tuple[str, str]:
    try:
        table = ddb.describe_table(TableName=name)["Table"]
        action = "found"
        key_schema = table.get("KeySchema", [])
        if [k.get("AttributeName") for k in key_schema] != [key]:
            raise RuntimeError(
                f"DynamoDB table {name} exists but is keyed by {[k.get('AttributeName') for k in key_schema]}, "
                f"not [{key!r}]"
            )
    except ddb.exceptions.ResourceNotFoundException:
        extra: dict[str, Any] = {}
        if indexes:
            extra["GlobalSecondaryIndexes"] = [_gsi(n, p) for n, p in LIVE_INDEXES]
        try:
            ddb.create_table(
                TableName=name,
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}]
                + (_GSI_ATTRIBUTES if indexes else []),
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
                Tags=[{"Key": "app", "Value": "csvdrop"}],
                **extra,
            )
            action = "created"
        except ddb.exceptions.ResourceInUseException:
            action = "found"  # created concurrently by someone else
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig=waiter)
    return action, str(ddb.describe_table(TableName=name)["Table"].get("TableStatus"))


def _move_legacy_counter(ddb: Any, table: str) -> int:
    """The revision an older version's counter item had reached (0 when there was none), carried over so
    revisions keep growing, and the item removed from the records table."""
    legacy_key = {PARTITION_KEY: {"S": LEGACY_COUNTER_FILE_NAME}}
    legacy = ddb.get_item(TableName=table, Key=legacy_key, ConsistentRead=True).get("Item")
    if not legacy:
        return 0
    revision = int(legacy.get("Revision", {}).get("N", "0"))
    try:
        ddb.update_item(
            TableName=counter_table_name(table),
            Key=COUNTER_KEY,
            UpdateExpression="SET Revision = :legacy",
            ConditionExpression="attribute_not_exists(Revision) OR Revision < :legacy",
            ExpressionAttributeValues={":legacy": {"N": str(revision)}},
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        pass  # the new counter is already past it
    ddb.delete_item(TableName=table, Key=legacy_key)
    return revision


def _ensure_indexes(ddb: Any, table: str, delay_s: int, max_attempts: int) -> list[str]:
    """Adds the live-record GSIs a table made by an older version lacks; the names of those added."""
    import time

    added: list[str] = []
    for name, partition in LIVE_INDEXES:
        have = {i["IndexName"] for i in ddb.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])}
        if name in have:
            continue
        ddb.update_table(
            TableName=table,
            AttributeDefinitions=_GSI_ATTRIBUTES,
            GlobalSecondaryIndexUpdates=[{"Create": _gsi(name, partition)}],
        )
        added.append(name)
        # One index at a time: DynamoDB refuses a second UpdateTable while the first index is building.
        for _ in range(max_attempts):
            described = ddb.describe_table(TableName=table)["Table"]
            states = [i.get("IndexStatus") for i in described.get("GlobalSecondaryIndexes", [])]
            if described.get("TableStatus") == "ACTIVE" and all(s in (None, "ACTIVE") for s in states):
                break
            time.sleep(delay_s)
    return added


def _backfill_live_attributes(ddb: Any, table: str) -> int:
    """Gives records written before the indexes existed their index keys and lower-cased name copies."""
    filled = 0
    paginator = ddb.get_paginator("scan")
    pages = paginator.paginate(
        TableName=table,
        FilterExpression="ItemType = :record AND attribute_not_exists(LivePartition) AND attribute_not_exists(Deleted)",
        ExpressionAttributeValues={":record": {"S": "record"}},
        ProjectionExpression="FileName, BaseName, #s",
        ExpressionAttributeNames={"#s": "Status"},
    )
    for page in pages:
        for item in page.get("Items", []):
            key = item["FileName"]["S"]
            try:
                ddb.update_item(
                    TableName=table,
                    Key={PARTITION_KEY: {"S": key}},
                    UpdateExpression="SET LivePartition = :live, LiveStatus = :status, NameFold = :name,"
                    " KeyFold = :key, Deleted = :no",
                    ConditionExpression="attribute_not_exists(Deleted)",
                    ExpressionAttributeValues={
                        ":live": {"S": "live"},
                        ":status": item.get("Status", {"S": "PROCESSED"}),
                        ":name": {"S": item.get("BaseName", {}).get("S", key.rsplit("/", 1)[-1]).lower()},
                        ":key": {"S": key.lower()},
                        ":no": {"BOOL": False},
                    },
                )
                filled += 1
            except ddb.exceptions.ConditionalCheckFailedException:
                pass  # the writer got there first
    return filled
