"""Shared helpers for the metadata-store tests: records, a test database, the writer's environment.

The fixtures built on them (``mysql_db``, ``dynamo_settings``, ``dynamodb_endpoint``) live in
tests/integration/conftest.py. Each test module gets its own database / users / DynamoDB table with random
names, so the store tests never touch what `csvdrop setup` created on the same stack, and clean up after
themselves.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import pymysql
from lambda_loader import load_lambda_module

from backend.config import Settings
from backend.store import CONTRACT_KEYS
from backend.store.schema_dynamodb import counter_table_name

store_writer = load_lambda_module("store_writer")

HOSTILE_KEYS = [
    '"); DROP TABLE x;--',
    "'; DROP TABLE csv_metadata; --.csv",
    "données/日本語 ファイル 😀.csv",
    "a%b_c!d\\e.csv",
    "dir/<script>alert(1)</script>.csv",
    "k" * 996 + ".csv",  # 1,000 characters
    "deep/" + "é" * 500 + ".csv",  # 1,009 bytes in UTF-8, under the 1,024 limit
]
HOSTILE_COLUMNS = [
    "id",
    "",
    "<b>name</b>",
    "'; DROP TABLE t;--",
    'quote"d',
    "tab\tand\nnewline",
    "ünï 😀",
    "%_!",
]


def make_record(
    key: str = "data/a.csv", sequencer: str = "0055AED6DCD90281E5", *, bucket: str = "bkt", **overrides: Any
) -> dict[str, Any]:
    """A complete contract record (as handler.py produces it)."""
    record: dict[str, Any] = {
        "bucket": bucket,
        "key": key,
        "file_name": key.rsplit("/", 1)[-1],
        "status": "PROCESSED",
        "error": None,
        "size_bytes": 1234,
        "etag": "d41d8cd98f00b204e9800998ecf8427e",
        "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sequencer": sequencer,
        "uploaded_at": "2026-11-25T21:00:00.123456+00:00",
        "processed_at": "2026-11-25T21:00:01.654321+00:00",
        "duration_ms": 12.5,
        "encoding": "utf-8",
        "has_bom": False,
        "delimiter": ",",
        "quote_char": '"',
        "has_header": True,
        "line_terminator": "\r\n",
        "row_count": 3,
        "column_count": 2,
        "column_names": ["id", "name"],
        "duplicate_column_names": [],
        "columns": [
            {"name": "id", "type": "integer", "null_count": 0, "distinct_count": 3, "min": 1, "max": 3},
            {"name": "name", "type": "string", "null_count": 1, "distinct_count": 2, "min": None, "max": None},
        ],
        "duplicate_row_count": 0,
        "sample_rows": [["1", "a"], ["2", ""], ["3", "c"]],
        "header_line": 1,
        "skipped_lines": {"preamble": 0, "footnotes": 0, "comments": 0, "empty_rows": 0, "blank_lines": 0},
        "escape_char": None,
        "double_quote": True,
        "skip_initial_space": False,
        "warnings": [],
    }
    record.update(overrides)
    return record


# A record "processed with warnings": every contract-v2 key set to something other than its default.
WARNINGS = [
    {"code": "preamble_skipped", "message": "Skipped 2 title lines before the header.", "lines": [1, 2]},
    {
        "code": "ragged_rows",
        "message": "2 rows have fewer fields than the header; the missing ones are empty.",
        "lines": [9, 14],
    },
    {"code": "hostile", "message": "'; DROP TABLE csv_metadata; -- <b>ünï 😀</b>", "lines": []},
]


def warned_record(key: str = "warned/report.csv", sequencer: str = "0A", **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "delimiter": ";",
        "quote_char": '"',
        "escape_char": "\\",
        "double_quote": False,
        "skip_initial_space": True,
        "header_line": 4,
        "skipped_lines": {"preamble": 3, "footnotes": 2, "comments": 0, "empty_rows": 1, "blank_lines": 5},
        "warnings": WARNINGS,
    }
    return make_record(key, sequencer, **{**fields, **overrides})


def expected_json(record: dict[str, Any]) -> dict[str, Any]:
    """What a reader's ``to_json_dict()`` must give back for a written record."""
    return store_writer.contract_dict(store_writer.normalize_record(record))


def warned_records() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(processed with warnings, FAILED, processed clean): the three kinds a warnings filter must tell apart."""
    failed = make_record(
        key="warned/broken.csv",
        sequencer="0B",
        status="FAILED",
        error="bad",
        header_line=None,
        skipped_lines=None,
        escape_char=None,
        double_quote=None,
        skip_initial_space=None,
    )
    return warned_record(), failed, make_record(key="warned/clean.csv", sequencer="0C")


def assert_warned_record_read_back(got: Any, record: dict[str, Any]) -> None:
    """A reader's MetadataRecord for ``warned_record()`` carries every new key intact."""
    assert got is not None
    out = got.to_json_dict()
    assert out == expected_json(record)
    assert list(out) == list(CONTRACT_KEYS)
    assert out["status"] == "PROCESSED" and got.has_warnings
    assert out["warnings"] == WARNINGS
    assert out["skipped_lines"] == {"preamble": 3, "footnotes": 2, "comments": 0, "empty_rows": 1, "blank_lines": 5}
    assert (out["header_line"], out["escape_char"], out["double_quote"], out["skip_initial_space"]) == (
        4,
        "\\",
        False,
        True,
    )


def hostile_record(key: str, sequencer: str = "01") -> dict[str, Any]:
    cols = HOSTILE_COLUMNS
    return make_record(
        key,
        sequencer,
        status="FAILED",
        error="Row 3: unterminated quote \"x' -- <i>; DROP TABLE y;",
        encoding="utf-16",
        delimiter="\t",
        quote_char="'",
        line_terminator="mixed",
        column_names=cols,
        duplicate_column_names=["%_!"],
        column_count=len(cols),
        columns=[
            {"name": c, "type": "string", "null_count": i, "distinct_count": 1, "min": None, "max": None}
            for i, c in enumerate(cols)
        ]
        + [{"name": "f", "type": "float", "null_count": 0, "distinct_count": 2, "min": -1.5e300, "max": 0.1}],
        sample_rows=[[f"<td>{c}</td>", "😀", "\\", "NULL", "'"] for c in cols[:5]],
        header_line=None,
        skipped_lines=None,
        escape_char=None,
        double_quote=None,
        skip_initial_space=None,
        warnings=[],
    )


# ---------------------------------------------------------------------------------------------- MySQL
def insert_old_rows(cur: Any, prefix: str, rows: list[tuple[str, int]]) -> None:
    """Rows as an older writer stored them, straight into csv_metadata of bucket "bkt" (for migration tests):
    ``rows`` are (status, warning_count); keys ``<prefix><i>.csv``, uploaded a day apart, revisions 1, 2, ..."""
    import datetime as dt

    for i, (status, warnings) in enumerate(rows):
        key = f"{prefix}{i}.csv"
        cur.execute(
            "INSERT INTO csv_metadata (key_hash, bucket, object_key, file_name, status, size_bytes, etag,"
            " sequencer, uploaded_at, processed_at, duration_ms, has_bom, row_count, column_names,"
            " duplicate_column_names, column_profiles, sample_rows, revision, created_at, updated_at,"
            " warnings, warning_count) VALUES (%s, 'bkt', %s, %s, %s, 10, 'e', '01', %s, %s, 1, 0, NULL,"
            " '[]', '[]', '[]', '[]', %s, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), '[]', %s)",
            (
                store_writer.key_hash("bkt", key),
                key,
                f"{i}.csv",
                status,
                dt.datetime(2026, 1, 1) + dt.timedelta(days=i),
                dt.datetime(2026, 1, 2),
                i + 1,
                warnings,
            ),
        )


@dataclass
class MySqlTestDb:
    settings: Settings  # points at the test database; writer/reader user names are this module's own
    writer_password: str
    reader_password: str
    setup_report: list[str]

    def admin(self, database: str | None = "") -> pymysql.connections.Connection[Any]:
        s = self.settings
        return pymysql.connect(
            host=s.mysql_host,
            port=s.mysql_port,
            user=s.mysql_admin_user,
            password=s.mysql_admin_password,
            charset="utf8mb4",
            autocommit=True,
            database=s.mysql_database if database == "" else database,
        )

    def connect_as(self, who: str) -> pymysql.connections.Connection[Any]:
        s = self.settings
        user, password = (
            (s.mysql_writer_user, self.writer_password)
            if who == "writer"
            else (s.mysql_reader_user, self.reader_password)
        )
        return pymysql.connect(
            host=s.mysql_host,
            port=s.mysql_port,
            user=user,
            password=password,
            database=s.mysql_database,
            charset="utf8mb4",
            autocommit=True,
        )

    def writer(self) -> Any:
        s = self.settings
        return store_writer.MySqlWriter(
            host=s.mysql_host,
            port=s.mysql_port,
            user=s.mysql_writer_user,
            password=self.writer_password,
            database=s.mysql_database,
        )

    def reader(self) -> Any:
        from backend.store import open_reader

        return open_reader(self.settings, password=self.reader_password)

    def truncate(self) -> None:
        with self.admin() as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM csv_metadata")
            cur.execute("DELETE FROM csv_metadata_counts")  # migration 0003: the writer keeps it with the rows


def create_mysql_test_db(stack: Settings) -> Generator[MySqlTestDb, None, None]:
    from backend.store.schema_mysql import ensure_database_and_users

    tag = uuid.uuid4().hex[:8]
    settings = stack.replace(
        mysql_database=f"csvdrop_t_{tag}",
        mysql_writer_user=f"tw_{tag}",
        mysql_reader_user=f"tr_{tag}",
        metadata_store="mysql",
    )
    db = MySqlTestDb(settings, "w-" + secrets.token_urlsafe(12), "r-" + secrets.token_urlsafe(12), [])
    db.setup_report = ensure_database_and_users(
        settings, writer_password=db.writer_password, reader_password=db.reader_password
    )
    try:
        yield db
    finally:
        with db.admin(None) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{settings.mysql_database}`")
            for user in (settings.mysql_writer_user, settings.mysql_reader_user):
                for host in ("127.0.0.1", "%"):
                    cur.execute("DROP USER IF EXISTS %s@%s", (user, host))


# ---------------------------------------------------------------------------------------------- DynamoDB
def dynamo_writer_env(settings: Settings) -> dict[str, str]:
    return {
        "METADATA_STORE": "dynamodb",
        "DYNAMODB_TABLE": settings.dynamodb_table,
        "DYNAMODB_COUNTER_TABLE": counter_table_name(settings.dynamodb_table),
        "AWS_ENDPOINT_URL": settings.aws_endpoint,
        "AWS_REGION": settings.region,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
