"""The DynamoDB side of the metadata store: one table, ``settings.dynamodb_table``.

The partition key is ``FileName`` (string) because the seed design keys its MetadataTable by FileName.
We store the *full object key* there (``reports/2026/a.csv``, not ``a.csv``): the bare file name would make
two uploads with the same name in different folders overwrite each other. The bucket is an ordinary
attribute, so one table serves one bucket (the same key in a second bucket would collide; use MySQL for many
buckets).

Besides the records the table holds one bookkeeping item, the revision counter (see
``lambda/store_writer.py``), whose FileName is longer than any S3 key can be, so it never clashes with a
record.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from backend.config import Settings

PARTITION_KEY = "FileName"


def ensure_table(
    settings: Settings, *, dynamodb_client: Any = None, wait_delay_s: int = 1, wait_max_attempts: int = 60
) -> str:
    """Create the table (on-demand billing) if missing and wait until it is ACTIVE; say what happened."""
    from backend.aws import client

    ddb = dynamodb_client if dynamodb_client is not None else client(settings, "dynamodb")
    name = settings.dynamodb_table
    try:
        try:
            table = ddb.describe_table(TableName=name)["Table"]
            action = "found"
            key_schema = table.get("KeySchema", [])
            if [k.get("AttributeName") for k in key_schema] != [PARTITION_KEY]:
                raise RuntimeError(
                    f"DynamoDB table {name} exists but is keyed by "
                    f"{[k.get('AttributeName') for k in key_schema]}, not [{PARTITION_KEY!r}]"
                )
        except ddb.exceptions.ResourceNotFoundException:
            try:
                ddb.create_table(
                    TableName=name,
                    AttributeDefinitions=[{"AttributeName": PARTITION_KEY, "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
                    BillingMode="PAY_PER_REQUEST",
                    Tags=[{"Key": "app", "Value": "csvdrop"}],
                )
                action = "created"
            except ddb.exceptions.ResourceInUseException:
                action = "found"  # created concurrently by someone else
        ddb.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": wait_delay_s, "MaxAttempts": wait_max_attempts}
        )
        status = ddb.describe_table(TableName=name)["Table"].get("TableStatus")
    except (BotoCoreError, ClientError) as exc:
        raise RuntimeError(f"cannot set up DynamoDB table {name}: {exc}") from exc
    return f"{action} DynamoDB table {name} ({status})"
