"""MetadataReader over the MySQL ``csv_metadata`` table (schema: backend/store/migrations)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import pymysql
import pymysql.cursors

from backend.store.records import (
    MetadataRecord,
    ReaderCapabilities,
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
# Left out of a summary read (RecordQuery.summary): the bulk of a row, not needed to draw a table line.
_HEAVY_FIELDS = {"column_names", "columns", "sample_rows"}


def _select_list(*, summary: bool, table: str = "") -> str:
    prefix = f"{table}." if table else ""
    return (
        ", ".join("NULL" if summary and f in _HEAVY_FIELDS else f"{prefix}`{_COLUMN_FOR_FIELD[f]}`" for f in _FIELDS)
        + f", {prefix}deleted"
    )


# Sort key -> the indexed column that serves it (migration 0003; each index is (deleted, column, id)). Names
# sort by their first 190 characters, NULL row/column counts as -1, status as PROCESSED, warnings, then
# FAILED and MISSING together (migration 0004).
SORT_COLUMNS: dict[str, str] = {
    "file_name": "file_name_sort",
    "key": "key_sort",
    "status": "status_rank",
    "row_count": "row_count_sort",
    "column_count": "column_count_sort",
    "size_bytes": "size_bytes",
    "uploaded_at": "uploaded_at",
    "processed_at": "processed_at",
}
_DATETIME_SORTS = {"uploaded_at", "processed_at"}
_INT_SORTS = {"status", "row_count", "column_count", "size_bytes"}
SORT_PREFIX_CHARS = 190
# One indexed column per filter: "name OR key starts with" defeated both indexes (a common prefix sorted by name
# took 80 s at 550,000 rows); a slash says the user is typing a key, as S3 prefixes are written.
TEXT_RULE = "Name starts with…, or a key prefix like folder/ (any case)"
CAPABILITIES = ReaderCapabilities(sort_keys=tuple(SORT_COLUMNS), text_rule=TEXT_RULE, random_access=True)

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


def _record(row: Sequence[Any], *, summary: bool = False) -> MetadataRecord:
    data = dict(zip(_FIELDS, row[: len(_FIELDS)], strict=True))
    for name in _JSON_FIELDS:
        data[name] = _json(data[name])
    updated = data.pop("updated_at")
    revision = int(data.pop("revision"))
    record = MetadataRecord.from_json_dict(
        data, revision=revision, updated_at=updated.replace(tzinfo=UTC) if updated else None
    )
    deleted = bool(row[len(_FIELDS)]) if len(row) > len(_FIELDS) else False
    if deleted or summary:
        record = replace(record, deleted=deleted, complete=not summary)
    return record


# ---------------------------------------------------------------------------------------------- page tokens
def encode_token(sort: str, descending: bool, value: Any, row_id: int) -> str:
    """The opaque ``RecordPage.next``: the last row's sort value and id, and the order they belong to."""
    if isinstance(value, datetime):
        value = _naive_utc(value).isoformat(timespec="microseconds")
    body = json.dumps([sort, 1 if descending else 0, value, int(row_id)], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode("utf-8")).decode("ascii").rstrip("=")


def decode_token(token: str, sort: str, descending: bool) -> tuple[Any, int]:
    """(sort value, id) from a token made by :func:`encode_token` for the same sort and direction."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        got_sort, got_desc, value, row_id = json.loads(raw.decode("utf-8"))
        if not isinstance(row_id, int) or isinstance(row_id, bool):
            raise ValueError("id")
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error):
        raise StoreError("The page token is not one this reader made; start again from the first page.") from None
    if got_sort != sort or bool(got_desc) != descending:
        raise StoreError(
            f"The page token belongs to another order ({got_sort}, {'descending' if got_desc else 'ascending'}); "
            "start again from the first page."
        )
    try:
        if sort in _DATETIME_SORTS:
            value = datetime.fromisoformat(str(value))
        elif sort in _INT_SORTS:
            value = int(value)
        else:
            value = str(value)
    except (ValueError, TypeError):
        raise StoreError("The page token is damaged; start again from the first page.") from None
    return value, row_id


# ---------------------------------------------------------------------------------------------- SQL
def like_prefix(text: str) -> str:
    """A LIKE pattern (ESCAPE '!') matching strings that start with ``text``."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


def where_clause(query: RecordQuery) -> tuple[list[str], list[Any]]:
    """The WHERE conditions (constant SQL) and their parameters: live rows matching the query's filters."""
    where: list[str] = ["deleted = 0"]
    params: list[Any] = []
    if query.status == "FAILED":
        # Every record that was not profiled (FAILED, or MISSING: its object is gone) is rank 2 (migration 0004);
        # an equality on the rank walks ix_live_rank_uploaded in upload order like the status index did.
        where.append("status_rank = 2")
    elif query.status:
        where.append("status = %s")
        params.append(query.status)
    if query.with_warnings:
        where.append("status_rank = 1")
    if query.bucket:
        where.append("bucket = %s")
        params.append(query.bucket)
    if query.name_contains:
        # A plain substring test under a binary collation: LIKE needs escaping, and the table's
        # accent-/case-folding collation treats some characters as ignorable, so a search for one of
        # them would match every row. Not indexed: the CLI's --name, not the browser's filter.
        where.append("LOCATE(LOWER(%s) COLLATE utf8mb4_bin, LOWER(object_key) COLLATE utf8mb4_bin) > 0")
        params.append(query.name_contains)
    if query.text:
        sort_col, full_col = ("key_sort", "object_key") if text_is_key(query.text) else ("file_name_sort", "file_name")
        where.append(f"{sort_col} LIKE %s ESCAPE '!'")
        params.append(like_prefix(query.text[:SORT_PREFIX_CHARS]))
        if len(query.text) > SORT_PREFIX_CHARS:  # the indexed column holds 190 characters: it narrows, this decides
            where.append(f"{full_col} LIKE %s ESCAPE '!'")
            params.append(like_prefix(query.text))
    if query.uploaded_from is not None:
        where.append("uploaded_at >= %s")
        params.append(_naive_utc(query.uploaded_from))
    if query.uploaded_to is not None:
        where.append("uploaded_at < %s")
        params.append(_naive_utc(query.uploaded_to))
    return where, params


def text_is_key(text: str) -> bool:
    """The browser's text filter (TEXT_RULE): a slash makes it a key prefix, else it is a name prefix."""
    return "/" in text


def sort_column(sort: str) -> str:
    try:
        return SORT_COLUMNS[sort]
    except KeyError:
        raise StoreError(
            f"The metadata database cannot sort by {sort} without reading every record; "
            f"sort by one of {', '.join(SORT_COLUMNS)}."
        ) from None


def list_sql(query: RecordQuery) -> tuple[str, list[Any]]:
    """SELECT of one page: a keyset seek after ``query.after``, else a deferred join (the offset walks the
    covering index, and only the page's rows are read in full). The last selected column is the sort value."""
    column = sort_column(query.sort)
    where, params = where_clause(query)
    direction, compare = ("DESC", "<") if query.descending else ("ASC", ">")
    order = f" ORDER BY {{t}}{column} {direction}, {{t}}id {direction}"
    if query.after is not None:
        value, row_id = decode_token(query.after, query.sort, query.descending)
        # Spelled out rather than a row constructor (a, id) < (x, y), which not every version turns into a range.
        # The leading `column <= x` (>= ascending) is implied, but gives the optimizer a plain range to seek to.
        where.append(f"{column} {compare}= %s AND ({column} {compare} %s OR ({column} = %s AND id {compare} %s))")
        params += [value, value, value, row_id]
        sql = (
            f"SELECT {_select_list(summary=query.summary)}, id, {column} FROM csv_metadata"  # noqa: S608
            f" WHERE {' AND '.join(where)}{order.format(t='')} LIMIT %s"
        )
        return sql, [*params, query.limit]
    sql = (
        f"SELECT {_select_list(summary=query.summary, table='m')}, m.id, m.{column} FROM csv_metadata m"  # noqa: S608
        f" JOIN (SELECT id FROM csv_metadata WHERE {' AND '.join(where)}{order.format(t='')}"
        f" LIMIT %s OFFSET %s) page ON page.id = m.id{order.format(t='m.')}"
    )
    return sql, [*params, query.limit, query.offset]


def counts_table_sql(query: RecordQuery) -> tuple[str, list[Any]] | None:
    """The count from csv_metadata_counts when the filters are only status, warnings and bucket; else None."""
    if query.text or query.name_contains or query.uploaded_from is not None or query.uploaded_to is not None:
        return None
    if query.status == "MISSING":
        return None  # shares rank 2 with FAILED: counted by its status index (few rows)
    ranks = {0, 1, 2}
    if query.status == "PROCESSED":
        ranks &= {0, 1}
    elif query.status == "FAILED":
        ranks &= {2}
    if query.with_warnings:
        ranks &= {1}
    if not ranks:
        return "SELECT 0", []
    where = [f"status_rank IN ({', '.join(str(r) for r in sorted(ranks))})"]
    params: list[Any] = []
    if query.bucket:
        where.append("bucket = %s")
        params.append(query.bucket)
    return "SELECT COALESCE(SUM(n), 0) FROM csv_metadata_counts WHERE " + " AND ".join(where), params  # noqa: S608


def count_sql(query: RecordQuery) -> tuple[str, list[Any]]:
    cheap = counts_table_sql(query)
    if cheap is not None:
        return cheap
    where, params = where_clause(query)
    return "SELECT COUNT(*) FROM csv_metadata WHERE " + " AND ".join(where), params  # noqa: S608


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
    @property
    def capabilities(self) -> ReaderCapabilities:
        return CAPABILITIES

    def list(self, query: RecordQuery) -> RecordPage:
        """``total`` is counted only when csv_metadata_counts answers it (filters: status, warnings, bucket);
        with a text or date filter it is -1: call count() (an index walk over the matches) when needed."""
        sql, params = list_sql(query)
        cheap = counts_table_sql(query)

        def action(cur: pymysql.cursors.Cursor) -> RecordPage:
            # sql holds only constant SQL from this module; values are %s parameters.
            cur.execute(sql, params)
            rows = cur.fetchall()
            total = -1
            if cheap is not None:
                cur.execute(cheap[0], cheap[1])
                count_row = cur.fetchone()
                total = int(count_row[0]) if count_row else 0
            records = [_record(r, summary=query.summary) for r in rows]
            following = None
            if len(rows) == query.limit:
                last = rows[-1]
                following = encode_token(query.sort, query.descending, last[-1], int(last[-2]))
            return RecordPage(records, total, following)

        return self._run(action)

    def count(self, query: RecordQuery) -> int:
        sql, params = count_sql(query)

        def action(cur: pymysql.cursors.Cursor) -> int:
            cur.execute(sql, params)
            row = cur.fetchone()
            return max(0, int(row[0])) if row else 0

        return self._run(action)

    def get(self, bucket: str, key: str) -> MetadataRecord | None:
        digest = hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()
        sql = f"SELECT {_select_list(summary=False)} FROM csv_metadata WHERE key_hash = %s AND deleted = 0"  # noqa: S608

        def action(cur: pymysql.cursors.Cursor) -> MetadataRecord | None:
            cur.execute(sql, (digest,))
            row = cur.fetchone()
            return _record(row) if row else None

        return self._run(action)

    def changed_since(self, cursor: str | None, limit: int = 1000, *, summary: bool = False) -> tuple[Records, str]:
        after = decode_cursor(cursor)
        limit = max(1, min(int(limit), 10_000))
        sql = (
            f"SELECT {_select_list(summary=summary)} FROM csv_metadata"  # noqa: S608
            " WHERE revision > %s ORDER BY revision LIMIT %s"
        )

        def action(cur: pymysql.cursors.Cursor) -> Records:
            cur.execute(sql, (after, limit))
            return [_record(r, summary=summary) for r in cur.fetchall()]

        records = self._run(action)
        return records, encode_cursor(records[-1].revision if records else after)

    def latest_cursor(self) -> str:
        def action(cur: pymysql.cursors.Cursor) -> int:
            # the revision column's unique index answers MAX() with one lookup; tombstones included
            cur.execute("SELECT COALESCE(MAX(revision), 0) FROM csv_metadata")
            row = cur.fetchone()
            return int(row[0]) if row else 0

        return encode_cursor(self._run(action))

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> MySqlReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
