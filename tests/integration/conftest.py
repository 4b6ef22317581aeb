"""Fixtures of the metadata-store tests (test modules just name them; the helpers are in store_fixtures.py).

Module-scoped: each test module gets its own MySQL database and users, or its own DynamoDB table, with random
names, dropped again afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from store_fixtures import MySqlTestDb, create_mysql_test_db

from backend.config import Settings


@pytest.fixture(scope="module")
def mysql_db(stack: Settings) -> Iterator[MySqlTestDb]:
    yield from create_mysql_test_db(stack)


def _dynamodb_works(settings: Settings) -> str | None:
    """None when DynamoDB answers at settings' endpoint, else why not."""
    from backend.aws import client

    try:
        client(settings, "dynamodb", timeout_s=5, retries=1).list_tables(Limit=1)
    except Exception as exc:
        return str(exc)[:300]
    return None


@pytest.fixture(scope="session")
def dynamodb_endpoint(stack: Settings) -> str:
    """The endpoint that serves DynamoDB: the stack's LocalStack, or CSVDROP_TEST_DYNAMODB_ENDPOINT when set.
    A LocalStack whose DynamoDB does not answer is a failure of the stack under test, never a skip."""
    external = os.environ.get("CSVDROP_TEST_DYNAMODB_ENDPOINT")
    if external:
        return external
    problem = _dynamodb_works(stack)
    if problem is not None:
        pytest.fail(f"the stack's LocalStack does not serve DynamoDB: {problem}")
    return stack.aws_endpoint


@pytest.fixture(scope="module")
def dynamo_settings(stack: Settings, dynamodb_endpoint: str) -> Iterator[Settings]:
    from backend.aws import client
    from backend.store.schema_dynamodb import counter_table_name, ensure_table

    settings = stack.replace(
        aws_endpoint=dynamodb_endpoint, metadata_store="dynamodb", dynamodb_table=f"CsvDropTest{uuid.uuid4().hex[:8]}"
    )
    ensure_table(settings)
    try:
        yield settings
    finally:
        for table in (settings.dynamodb_table, counter_table_name(settings.dynamodb_table)):
            try:
                client(settings, "dynamodb").delete_table(TableName=table)
            except Exception:
                pass
