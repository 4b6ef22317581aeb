"""MetadataReader over the MySQL ``csv_metadata`` table (schema: backend/store/migrations)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import pymysql
import pymysql.cursors

from backend.store.records import (
    MetadataRecord,
    RecordPage,
    RecordQuery,
    Records,
    StoreError,
    decode_cursor,
    encode_cursor,
)

T = TypeVar("T")

# Record field -> column (all constants: the only text ever put into SQL besides %s placeholders).
_COLUMN_FOR_FIELD = {
    "bucket": "bucket",
    "key": "object_key",
    "file_name": "file_name",
    "status": "status",
    "error": "error",
    "size_bytes": "size_bytes",
    "etag": "etag",
    "sha256": "sha256",
    "sequencer": "sequencer",
    "uploaded_at": "uploaded_at",
    "processed_at": "processed_at",
    "duration_ms": "duration_ms",
    "encoding": "encoding",
    "has_bom": "has_bom",
    "delimiter": "delimiter",
    "quote_char": "quote_char",
    "has_header": "has_header",
    "line_terminator": "line_terminator",
    "row_count": "row_count",
    "column_count": "column_count",
    "column_names": "column_names",
    "duplicate_column_names": "duplicate_column_names",
    "columns": "column_profiles",
    "duplicate_row_count": "duplicate_row_count",
    "sample_rows": "sample_rows",
    # migration 0002
    "warnings": "warnings",
    "escape_char": "escape_char",
    "double_quote": "double_quote",
    "skip_initial_space": "skip_initial_space",
    "header_line": "header_line",
    "skipped_lines": "skipped_lines",
    "revision": "revision",
    "updated_at": "updated_at",
}
_JSON_FIELDS = {"column_names", "duplicate_column_names", "columns", "sample_rows", "warnings", "skipped_lines"}
_FIELDS = tuple(_COLUMN_FOR_FIELD)
_SELECT = "SELECT " + ", ".join(f"`{_COLUMN_FOR_FIELD[f]}`" for f in _FIELDS) + " FROM csv_metadata"  # noqa: S608

_DISCONNECTED = {0, 2006, 2013, 2014, 2045, 2055, 4031, 1927}
_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\]\s*(.+?)\)?$")


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _json(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    return json.loads(value) if isinstance(value, str) else value


def _record(row: Sequence[Any]) -> MetadataRecord:
    data = dict(zip(_FIELDS, row, strict=True))
    for name in _JSON_FIELDS:
        data[name] = _json(data[name])
    updated = data.pop("updated_at")
    revision = int(data.pop("revision"))
    return MetadataRecord.from_json_dict(
        data, revision=revision, updated_at=updated.replace(tzinfo=UTC) if updated else None
    )


class MySqlReader:
    """Reads records with one lazily opened, autocommit connection (each query sees the latest commits).
    A dropped connection is re-opened once per call; every failure becomes a :class:`StoreError`."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        user: str,
        password: str,
        database: str,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        hint: str = "",
    ) -> None:
        self.host, self.port, self.user, self.database = host, port, user, database
        self._password = password
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._hint = hint
        self._conn: pymysql.connections.Connection[pymysql.cursors.Cursor] | None = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ connection and errors
    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def _connect(self) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
        if self._conn is None:
            self._conn = pymysql.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self._password,
                database=self.database,
                charset="utf8mb4",
                autocommit=True,
                connect_timeout=int(self._connect_timeout),
                read_timeout=int(self._read_timeout),
                write_timeout=int(self._read_timeout),
            )
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already closed or broken: nothing to release
                pass

    def _error(self, exc: BaseException) -> StoreError:
        errno = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        text = str(exc.args[-1]) if exc.args else str(exc)
        hint = f" {self._hint}" if self._hint else ""
        if errno in (2003, 2002):
            match = _ERRNO_TEXT.search(text)
            reason = match.group(1).strip().rstrip(")").lower() if match else "no answer"
            if "timed out" in text.lower():
                reason = "timed out"
            return StoreError(f"Cannot reach the metadata database at {self.where}: {reason}.{hint}")
        if errno == 1045:
            return StoreError(
                f"The metadata database at {self.where} refused user {self.user!r} (wrong password?). "
                "Re-run the setup so the app gets the current credentials."
            )
        if errno == 1049:
            return StoreError(
                f"The metadata database {self.database!r} does not exist on {self.where}. "
                "Run `csvdrop setup` (or `python -m db_setup.setup_rds`) first."
            )
        if errno == 1146:
            return StoreError(
                f"The metadata database {self.database!r} on {self.where} has no csv_metadata table. "
                "Run `csvdrop setup` (or `python -m db_setup.setup_rds`) first."
            )
        if errno in (1044, 1142, 1143):
            return StoreError(f"User {self.user!r} may not read the metadata at {self.where}: {text}")
        if errno in _DISCONNECTED or isinstance(exc, pymysql.err.InterfaceError):
            return StoreError(f"Lost the connection to the metadata database at {self.where}.{hint}")
        return StoreError(f"The metadata database at {self.where} reported an error: {text}")

    def _run(self, action: Callable[[pymysql.cursors.Cursor], T]) -> T:
        with self._lock:
            for attempt in (1, 2):
                try:
                    conn = self._connect()
                    with conn.cursor() as cur:
                        return action(cur)
                except (pymysql.err.OperationalError, pymysql.err.InterfaceError) as exc:
                    errno = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
                    was_open = self._conn is not None
                    self._drop()
                    gone = errno in _DISCONNECTED or isinstance(exc, pymysql.err.InterfaceError)
                    if attempt == 1 and was_open and gone:
                        continue  # the server dropped an idle connection: one fresh try
                    raise self._error(exc) from None
                except pymysql.err.MySQLError as exc:
                    raise self._error(exc) from None
            raise AssertionError("unreachable")

    # ------------------------------------------------------------------ MetadataReader
    def list(self, query: RecordQuery) -> RecordPage:
        where: list[str] = []
        params: list[Any] = []
        if query.status:
            where.append("status = %s")
            params.append(query.status)
        if query.with_warnings:
            where.append("status = %s AND warning_count > 0")
            params.append("PROCESSED")
        if query.bucket:
            where.append("bucket = %s")
            params.append(query.bucket)
        if query.name_contains:
            # A plain substring test under a binary collation: LIKE needs escaping, and the table's
            # accent-/case-folding collation treats some characters as ignorable, so a search for one of
            # them would match every row.
            where.append("LOCATE(LOWER(%s) COLLATE utf8mb4_bin, LOWER(object_key) COLLATE utf8mb4_bin) > 0")
            params.append(query.name_contains)
        if query.uploaded_from is not None:
            where.append("uploaded_at >= %s")
            params.append(_naive_utc(query.uploaded_from))
        if query.uploaded_to is not None:
            where.append("uploaded_at < %s")
            params.append(_naive_utc(query.uploaded_to))
        where_sql = (" WHERE " + " AND ".join(where)) if where else ""
        direction = "DESC" if query.descending else "ASC"
        order_sql = f" ORDER BY `{_COLUMN_FOR_FIELD[query.sort]}` {direction}, id {direction}"

        def action(cur: pymysql.cursors.Cursor) -> RecordPage:
            # where_sql/order_sql hold only constant SQL from this module; values are %s parameters.
            cur.execute("SELECT COUNT(*) FROM csv_metadata" + where_sql, params)  # noqa: S608
            count_row = cur.fetchone()
            cur.execute(_SELECT + where_sql + order_sql + " LIMIT %s OFFSET %s", [*params, query.limit, query.offset])
            return RecordPage([_record(r) for r in cur.fetchall()], int(count_row[0]) if count_row else 0)

        return self._run(action)

    def get(self, bucket: str, key: str) -> MetadataRecord | None:
        import hashlib

        digest = hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()

        def action(cur: pymysql.cursors.Cursor) -> MetadataRecord | None:
            cur.execute(_SELECT + " WHERE key_hash = %s", (digest,))
            row = cur.fetchone()
            return _record(row) if row else None

        return self._run(action)

    def changed_since(self, cursor: str | None, limit: int = 1000) -> tuple[Records, str]:
        after = decode_cursor(cursor)
        limit = max(1, min(int(limit), 10_000))

        def action(cur: pymysql.cursors.Cursor) -> Records:
            cur.execute(_SELECT + " WHERE revision > %s ORDER BY revision LIMIT %s", (after, limit))
            return [_record(r) for r in cur.fetchall()]

        records = self._run(action)
        return records, encode_cursor(records[-1].revision if records else after)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> MySqlReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
