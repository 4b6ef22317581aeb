"""Stores one metadata record per S3 object, in MySQL (default) or DynamoDB (env ``METADATA_STORE``).

Used by ``handler.py`` inside the Lambda; stdlib + pymysql + boto3 only. See docs/contracts.md for the record.

Semantics, the same for both stores (``Writer.upsert(record) -> bool``):

* one record per (bucket, key): the same S3 event delivered twice leaves one record and the second call
  returns False;
* ordered by the S3 event ``sequencer`` (hex; compared after left-padding to equal length): an event
  older than the stored one changes nothing (False); a newer upload of the same key replaces the record
  (True). An *equal* sequencer with a *different* ETag also replaces it (True): emulators send a constant
  sequencer, so handler.ordering_token() can tie, and the handler read the bytes with IfMatch, so they were
  current. Equal sequencer and equal ETag is a duplicate (False);
* a re-process (``upsert(record, reprocess=True)``, `csvdrop reprocess KEY`) stores the fresh profile even
  when sequencer and ETag equal the stored ones: an equal-or-older stored version is replaced, a newer one
  still wins;
* a deletion (``delete(bucket, key, sequencer)``, S3 ``ObjectRemoved:*``) leaves a tombstone: the row stays,
  marked deleted, with a new revision, so readers polling "changed since" learn of it. A deletion older than
  the stored version changes nothing (a newer upload keeps its record). A later upload revives the row: an
  upload whose sequencer is not older than the stored one replaces a tombstone (the handler read the object
  with IfMatch, so it exists now);
* a batch (``upsert_many(records) -> list[bool | Exception]``, the SQS trigger's batch) applies the same rule
  to each record in ONE transaction; a record the database refuses (a constraint, a trigger) is that record's
  entry (the exception) while the others commit. MySQL writes the batch in a few statements, and when the
  database refuses one of them, does the batch again with each record in a savepoint to learn which record it
  refuses. Failing to reach the database at all raises StoreWriteError for the whole batch;
* a lost object (``mark_missing(bucket, key)``, `csvdrop reconcile` found the record but not the object) sets
  the live record's status to MISSING with an error saying what to do, keeping its metadata (it says what
  was lost); a later upload replaces it as usual (its sequencer is newer);
* every change gets the next value of a store-wide ``revision`` counter (and ``updated_at``), which the app
  polls with "changed since". The counter is bumped in the same transaction as the row, so revisions become
  visible in increasing order and a reader's cursor never skips a row.

MySQL: credentials from the Secrets Manager secret named by env ``DB_SECRET_ARN`` (JSON ``host, port,
username, password, dbname``), fetched once per process; env ``DB_HOST``/``DB_PORT`` override the secret's
host/port. One connection is kept per process and re-opened once when the server dropped it.
DynamoDB: table env ``DYNAMODB_TABLE`` (keyed by ``FileName`` = the full object key) holds records only; the
revision counter is one item of its own table, env ``DYNAMODB_COUNTER_TABLE`` (see backend/store/schema_dynamodb.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

STATUSES = ("PROCESSED", "FAILED")  # what a profiled record may carry; MISSING is only set by mark_missing()
MISSING = "MISSING"
_HEX = re.compile(r"^[0-9A-Fa-f]{1,128}$")
SEQUENCER_WIDTH = 128  # DynamoDB compares strings, so sequencers are stored left-padded to this width

# MySQL error numbers meaning "the connection is gone": try once more on a new connection.
_DISCONNECT_ERRNOS = {0, 2006, 2013, 2014, 2045, 2055, 4031, 1927}
_RETRY_TXN_ERRNOS = {1205, 1213}  # lock wait timeout, deadlock: the whole transaction can be retried

_SECRET_CACHE: dict[str, dict[str, Any]] = {}
_SECRET_LOCK = threading.Lock()


class StoreWriteError(RuntimeError):
    """The record could not be stored; the message says why in plain words."""


# ---------------------------------------------------------------------------------------------- records
def sequencer_key(sequencer: str, width: int | None = None) -> str:
    """Upper-case hex, left-padded with zeros (to ``width`` if given): comparable as plain strings."""
    text = str(sequencer).strip()
    if not _HEX.fullmatch(text):
        raise ValueError(f"S3 event sequencer {sequencer!r} is not a hex string")
    text = text.upper()
    return text.rjust(width, "0") if width else text


def sequencer_newer(candidate: str, stored: str) -> bool:
    """True when ``candidate`` is strictly newer than ``stored``."""
    a, b = sequencer_key(candidate), sequencer_key(stored)
    width = max(len(a), len(b))
    return a.rjust(width, "0") > b.rjust(width, "0")


def should_replace(new_sequencer: str, new_etag: str, stored_sequencer: str, stored_etag: str) -> bool:
    """The store's ordering rule: a newer sequencer wins; an equal one wins only with a different ETag."""
    if sequencer_newer(new_sequencer, stored_sequencer):
        return True
    if sequencer_newer(stored_sequencer, new_sequencer):
        return False
    return new_etag != stored_etag


def should_store(
    new_sequencer: str,
    new_etag: str,
    stored_sequencer: str,
    stored_etag: str,
    *,
    stored_deleted: bool = False,
    reprocess: bool = False,
) -> bool:
    """Whether an upload's record replaces the stored row: the ordering rule, except that a re-process or a
    tombstone yields to anything not older than it (equal sequencers included)."""
    if reprocess or stored_deleted:
        return not sequencer_newer(stored_sequencer, new_sequencer)
    return should_replace(new_sequencer, new_etag, stored_sequencer, stored_etag)


def should_tombstone(delete_sequencer: str, stored_sequencer: str, *, stored_deleted: bool) -> bool:
    """Whether a deletion event marks the stored row deleted: not when it already is, nor when the stored
    version is newer than the deletion (the object was uploaded again after it)."""
    return not stored_deleted and not sequencer_newer(stored_sequencer, delete_sequencer)


def status_rank(status: str, warning_count: int) -> int:
    """The sort/count bucket of a record, as the database's generated ``status_rank`` computes it: PROCESSED
    0, processed with warnings 1, FAILED (and MISSING, migration 0004) 2."""
    if status in ("FAILED", MISSING):
        return 2
    return 1 if warning_count > 0 else 0


def missing_error(bucket: str, key: str) -> str:
    """The error a MISSING record carries: what happened and what to do."""
    return (
        f"The object s3://{bucket}/{key} is no longer in S3 (it was lost, e.g. by a local cloud that stopped "
        "without saving it); upload the file again."
    )


def key_hash(bucket: str, key: str) -> str:
    return hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()


def _utc(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"record field {field!r} is not an ISO 8601 time: {value!r}") from exc
    else:
        raise ValueError(f"record field {field!r} must be an ISO 8601 time, got {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _clean_json(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become None, tuples lists, other objects their str()."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _opt(value: Any, kind: type) -> Any:
    if value is None:
        return None
    if kind is bool:
        return bool(value)
    return kind(value)


SKIPPED_LINE_KINDS = ("preamble", "footnotes", "comments", "empty_rows", "blank_lines")
# Caps that keep one record inside DynamoDB's 400 KB item and a MySQL row of sane size, whatever a file holds:
# the first MAX_WARNINGS warnings are kept, each with its first MAX_WARNING_LINES line numbers.
MAX_WARNINGS = 50
MAX_WARNING_LINES = 100
MAX_WARNING_MESSAGE = 1000


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _skipped_lines(value: Any) -> dict[str, int] | None:
    """``skipped_lines`` as {kind: count} with the contract's kinds always present (None stays None).

    Lenient on purpose, like ``_warnings``: a malformed value from the profiler must not cost the record
    (normalize errors fail the invocation, and a retry would fail the same way)."""
    if not isinstance(value, Mapping):
        return None
    out = dict.fromkeys(SKIPPED_LINE_KINDS, 0)
    for kind, count in value.items():
        out[str(kind)] = _int_or_none(count) or 0
    return out


def _warnings(value: Any) -> list[dict[str, Any]]:
    """``warnings`` as a list of {"code": str, "message": str, "lines": [int]} (None -> []), capped."""
    if not isinstance(value, (list, tuple)):
        return []
    out = []
    for item in value[:MAX_WARNINGS]:
        warning = item if isinstance(item, Mapping) else {"code": "warning", "message": str(item)}
        message = str(warning.get("message") or "")
        if len(message) > MAX_WARNING_MESSAGE:
            message = message[:MAX_WARNING_MESSAGE] + "…"
        raw_lines = warning.get("lines") or []
        lines = [
            n for n in map(_int_or_none, raw_lines if isinstance(raw_lines, (list, tuple)) else []) if n is not None
        ][:MAX_WARNING_LINES]
        out.append({"code": str(warning.get("code") or "warning"), "message": message, "lines": lines})
    return out


def _column_profile(column: Any) -> Any:
    """A column profile with the contract-v3 distribution keys present (a profile from before has neither)."""
    if not isinstance(column, dict):
        return column
    return {**column, "histogram": column.get("histogram"), "top_values": column.get("top_values") or []}


def normalize_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The contract record with types checked and defaults filled; times as aware UTC datetimes."""
    for name in ("bucket", "key", "sequencer"):
        if not isinstance(record.get(name), str) or not record.get(name):
            raise ValueError(f"record field {name!r} is required (a non-empty string)")
    sequencer_key(record["sequencer"])
    status = record.get("status")
    if status not in STATUSES:
        raise ValueError(f"record field 'status' must be one of {STATUSES}, got {status!r}")
    key = record["key"]
    out: dict[str, Any] = {
        "bucket": record["bucket"],
        "key": key,
        "file_name": record.get("file_name") or key.rsplit("/", 1)[-1],
        "status": status,
        "error": _opt(record.get("error"), str),
        "warnings": _warnings(record.get("warnings")),
        "size_bytes": int(record.get("size_bytes") or 0),
        "etag": str(record.get("etag") or "").strip('"'),
        "sha256": _opt(record.get("sha256"), str),
        "sequencer": str(record["sequencer"]).strip(),
        "uploaded_at": _utc(record.get("uploaded_at"), "uploaded_at"),
        "processed_at": _utc(record.get("processed_at") or datetime.now(UTC), "processed_at"),
        "duration_ms": float(record.get("duration_ms") or 0.0),
        "encoding": _opt(record.get("encoding"), str),
        "has_bom": bool(record.get("has_bom") or False),
        "delimiter": _opt(record.get("delimiter"), str),
        "quote_char": _opt(record.get("quote_char"), str),
        "escape_char": _opt(record.get("escape_char"), str),
        "double_quote": _opt(record.get("double_quote"), bool),
        "skip_initial_space": _opt(record.get("skip_initial_space"), bool),
        "has_header": _opt(record.get("has_header"), bool),
        "header_line": _opt(record.get("header_line"), int),
        "line_terminator": _opt(record.get("line_terminator"), str),
        "skipped_lines": _skipped_lines(record.get("skipped_lines")),
        "row_count": _opt(record.get("row_count"), int),
        "column_count": _opt(record.get("column_count"), int),
        "column_names": _clean_json(list(record.get("column_names") or [])),
        "duplicate_column_names": _clean_json(list(record.get("duplicate_column_names") or [])),
        "columns": [_column_profile(c) for c in _clean_json(list(record.get("columns") or []))],
        "duplicate_row_count": _opt(record.get("duplicate_row_count"), int),
        "sample_rows": _clean_json(list(record.get("sample_rows") or [])),
    }
    if not math.isfinite(out["duration_ms"]):
        out["duration_ms"] = 0.0
    return out


def contract_dict(norm: Mapping[str, Any]) -> dict[str, Any]:
    """A normalized record as contract JSON values (times as ISO strings)."""
    out = dict(norm)
    out["uploaded_at"] = iso(norm["uploaded_at"])
    out["processed_at"] = iso(norm["processed_at"])
    return out


# ---------------------------------------------------------------------------------------------- AWS
def _boto_client(service: str, env: Mapping[str, str]) -> Any:
    import boto3
    from botocore.config import Config

    endpoint_var = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")
    kwargs: dict[str, Any] = {
        "region_name": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        "config": Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 3, "mode": "standard"}),
    }
    endpoint = env.get(endpoint_var) or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        kwargs["aws_access_key_id"] = env["AWS_ACCESS_KEY_ID"]
        kwargs["aws_secret_access_key"] = env["AWS_SECRET_ACCESS_KEY"]
        if env.get("AWS_SESSION_TOKEN"):
            kwargs["aws_session_token"] = env["AWS_SESSION_TOKEN"]
    return boto3.client(service, **kwargs)


def get_db_secret(secret_id: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The DB secret as a dict, fetched from Secrets Manager once per process."""
    with _SECRET_LOCK:
        if secret_id in _SECRET_CACHE:
            return _SECRET_CACHE[secret_id]
        try:
            raw = _boto_client("secretsmanager", env).get_secret_value(SecretId=secret_id)["SecretString"]
            secret: dict[str, Any] = json.loads(raw)
        except Exception as exc:  # botocore errors, missing secret, bad JSON
            raise StoreWriteError(f"cannot read the database secret {secret_id!r}: {exc}") from exc
        missing = [k for k in ("host", "username", "password") if k not in secret]
        if missing:
            raise StoreWriteError(f"database secret {secret_id!r} lacks {', '.join(missing)}")
        _SECRET_CACHE[secret_id] = secret
        return secret


def clear_secret_cache() -> None:
    with _SECRET_LOCK:
        _SECRET_CACHE.clear()


# ---------------------------------------------------------------------------------------------- writers
class Writer:
    """Stores records; ``upsert`` returns False when the stored record is newer or the same event, ``delete``
    False when there is nothing (newer) to delete (see the module docstring for the exact rule)."""

    def upsert(self, record: Mapping[str, Any], *, reprocess: bool = False) -> bool:
        raise NotImplementedError

    def delete(self, bucket: str, key: str, sequencer: str) -> bool:
        raise NotImplementedError

    def upsert_many(self, records: list[Mapping[str, Any]], *, reprocess: bool = False) -> list[bool | Exception]:
        """Each record's ``upsert`` result, or the exception that refused that record (a malformed record, a
        record the store rejects). Raises StoreWriteError when the store cannot be reached at all."""
        out: list[bool | Exception] = []
        for record in records:
            try:
                out.append(self.upsert(record, reprocess=reprocess))
            except Exception as exc:
                if not self._record_error(exc):
                    raise
                out.append(exc)
        return out

    def mark_missing(self, bucket: str, key: str) -> bool:
        """Marks the live record of ``bucket/key`` MISSING (see the module docstring); False when there is no
        live record or it already is."""
        raise NotImplementedError

    @staticmethod
    def _record_error(exc: Exception) -> bool:
        """Whether ``exc`` concerns one record only (so a batch goes on without it)."""
        return isinstance(exc, ValueError)

    def close(self) -> None:
        pass

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_MYSQL_COLUMNS = (
    "bucket",
    "object_key",
    "file_name",
    "status",
    "error",
    "size_bytes",
    "etag",
    "sha256",
    "sequencer",
    "uploaded_at",
    "processed_at",
    "duration_ms",
    "encoding",
    "has_bom",
    "delimiter",
    "quote_char",
    "has_header",
    "line_terminator",
    "row_count",
    "column_count",
    "column_names",
    "duplicate_column_names",
    "column_profiles",
    "duplicate_row_count",
    "sample_rows",
    # migration 0002
    "header_line",
    "skipped_lines",
    "escape_char",
    "double_quote",
    "skip_initial_space",
    "warnings",
    "warning_count",
)
_FIELD_FOR_COLUMN = {"object_key": "key", "column_profiles": "columns"}
_JSON_COLUMNS = {
    "column_names",
    "duplicate_column_names",
    "column_profiles",
    "sample_rows",
    "skipped_lines",
    "warnings",
}
_COLS_SQL = ", ".join(f"`{c}`" for c in _MYSQL_COLUMNS)
# Built from the constant column names above only; every value is a %s parameter.
_INSERT_SQL = (
    f"INSERT INTO csv_metadata (key_hash, {_COLS_SQL}, revision, created_at, updated_at) "  # noqa: S608
    f"VALUES (%s, {', '.join(['%s'] * len(_MYSQL_COLUMNS))}, %s, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))"
)
_UPDATE_SQL = (
    "UPDATE csv_metadata SET "  # noqa: S608
    + ", ".join(f"`{c}` = %s" for c in _MYSQL_COLUMNS)
    + ", deleted = 0, revision = %s, updated_at = UTC_TIMESTAMP(6) WHERE key_hash = %s"
)
_MISSING_SQL = (
    "UPDATE csv_metadata SET status = %s, error = %s, revision = %s, updated_at = UTC_TIMESTAMP(6) WHERE key_hash = %s"
)
_TOMBSTONE_SQL = "UPDATE csv_metadata SET deleted = 1, revision = %s, updated_at = UTC_TIMESTAMP(6) WHERE key_hash = %s"
# Live rows per (bucket, status_rank), kept in the writer's transaction (migration 0003).
_COUNT_SQL = (
    "INSERT INTO csv_metadata_counts (bucket, status_rank, n) VALUES (%s, %s, %s) ON DUPLICATE KEY UPDATE n = n + %s"
)


def _mysql_values(norm: Mapping[str, Any]) -> list[Any]:
    values: list[Any] = []
    for column in _MYSQL_COLUMNS:
        if column == "warning_count":  # not a contract key: lets readers filter without parsing JSON
            values.append(len(norm["warnings"]))
            continue
        value = norm[_FIELD_FOR_COLUMN.get(column, column)]
        if column in _JSON_COLUMNS:
            value = None if value is None else json.dumps(value, ensure_ascii=False, allow_nan=False)
        elif isinstance(value, datetime):
            value = value.astimezone(UTC).replace(tzinfo=None)
        values.append(value)
    return values


# A multi-row INSERT of the batch's new rows stays well under max_allowed_packet (16 MiB on MariaDB, 64 MiB on
# MySQL 8): rows are grouped up to this many characters of values (up to 4 bytes each in UTF-8, more when
# escaped), and a larger row goes alone, as it would by itself.
_INSERT_CHUNK_CHARS = 1 << 20
_INSERT_ROWS_SQL: dict[int, str] = {}


def _insert_rows_sql(n: int) -> str:
    """``_INSERT_SQL`` with ``n`` rows of values."""
    sql = _INSERT_ROWS_SQL.get(n)
    if sql is None:
        head, row = _INSERT_SQL.split(" VALUES ", 1)
        sql = _INSERT_ROWS_SQL[n] = f"{head} VALUES {', '.join([row] * n)}"
    return sql


def _chunks(rows: list[list[Any]]) -> list[list[list[Any]]]:
    out: list[list[list[Any]]] = []
    size = 0
    for row in rows:
        row_size = sum(len(v) for v in row if isinstance(v, str))
        if not out or size + row_size > _INSERT_CHUNK_CHARS:
            out.append([])
            size = 0
        out[-1].append(row)
        size += row_size
    return out


def _count_params(bucket: str, rank: int, first: int, net: int) -> tuple[str, int, int, int]:
    """One ``_COUNT_SQL`` with the effect of its +1/-1 statements in order, ``first`` being the first of them.

    On a present row they add up to ``net``. On an absent one the first statement inserts (1 for +1, 0 for
    -1) and the rest add up: ``net + 1`` after a first -1. So a zero net is still a statement: on an absent
    row it inserts a row, as the statements it stands for would."""
    return (bucket, rank, net + 1 if first < 0 else net, net)


def _stored_row_wins(existing: Any, norm: Mapping[str, Any], reprocess: bool) -> bool:
    """Whether the stored row ``(sequencer, etag, deleted, ...)`` (None: there is none) stays, by the ordering rule."""
    return existing is not None and not should_store(
        norm["sequencer"],
        norm["etag"],
        existing[0],
        existing[1],
        stored_deleted=bool(existing[2]),
        reprocess=reprocess,
    )


def _transaction_lost(exc: Exception) -> bool:
    """Whether a MySQL error inside a transaction means the connection or the whole transaction is gone (a
    deadlock rolls back everything), rather than one statement refused (a constraint, a trigger's SIGNAL)."""
    import pymysql

    if isinstance(exc, pymysql.err.InterfaceError):
        return True
    if not isinstance(exc, pymysql.err.OperationalError):
        return False
    errno = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    return errno in _DISCONNECT_ERRNOS or errno in _RETRY_TXN_ERRNOS


class MySqlWriter(Writer):
    def __init__(
        self, *, host: str, port: int, user: str, password: str, database: str, connect_timeout: int = 5
    ) -> None:
        self._params: dict[str, Any] = {
            "host": host,
            "port": port,
            "user": user,
            "password": password,
            "database": database,
            "connect_timeout": connect_timeout,
        }
        self._conn: Any = None

    def _connection(self) -> Any:
        import pymysql

        if self._conn is None:
            p = self._params
            try:
                self._conn = pymysql.connect(
                    host=p["host"],
                    port=int(p["port"]),
                    user=p["user"],
                    password=p["password"],
                    database=p["database"],
                    charset="utf8mb4",
                    autocommit=False,
                    connect_timeout=p["connect_timeout"],
                    read_timeout=30,
                    write_timeout=30,
                )
            except pymysql.err.MySQLError as exc:
                raise StoreWriteError(
                    f"cannot connect to the metadata database {p['database']} at {p['host']}:{p['port']} "
                    f"as {p['user']}: {exc.args[-1] if exc.args else exc}"
                ) from exc
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def upsert(self, record: Mapping[str, Any], *, reprocess: bool = False) -> bool:
        norm = normalize_record(record)
        return self._transaction(
            f"s3://{norm['bucket']}/{norm['key']}", lambda conn: self._upsert_once(conn, norm, reprocess)
        )

    def delete(self, bucket: str, key: str, sequencer: str) -> bool:
        sequencer_key(sequencer)
        return self._transaction(f"s3://{bucket}/{key}", lambda conn: self._delete_once(conn, bucket, key, sequencer))

    def upsert_many(self, records: list[Mapping[str, Any]], *, reprocess: bool = False) -> list[bool | Exception]:
        out: list[bool | Exception | None] = [None] * len(records)
        valid: list[tuple[int, dict[str, Any]]] = []
        for index, record in enumerate(records):
            try:
                valid.append((index, normalize_record(record)))
            except ValueError as exc:
                out[index] = exc
        if valid:
            first = valid[0][1]
            what = f"{len(valid)} records (s3://{first['bucket']}/{first['key']}, ...)"
            stored = self._run(what, lambda conn: self._upsert_many_once(conn, valid, reprocess))
            for (index, _), result in zip(valid, stored, strict=True):
                out[index] = result
        return [r for r in out if r is not None]

    def mark_missing(self, bucket: str, key: str) -> bool:
        return self._transaction(f"s3://{bucket}/{key}", lambda conn: self._mark_missing_once(conn, bucket, key))

    def _transaction(self, what: str, once: Any) -> bool:
        return bool(self._run(what, once))

    def _run(self, what: str, once: Any) -> Any:
        """Runs ``once(conn)`` (one transaction), again after a deadlock or a dropped connection."""
        import pymysql

        reconnected = False
        txn_retries = 0
        while True:
            conn = self._connection()
            try:
                return once(conn)
            except (pymysql.err.OperationalError, pymysql.err.InterfaceError) as exc:
                errno = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
                self._rollback_quietly(conn)
                if errno in _RETRY_TXN_ERRNOS and txn_retries < 3:
                    txn_retries += 1
                    time.sleep(0.05 * txn_retries)
                    continue
                gone = errno in _DISCONNECT_ERRNOS or isinstance(exc, pymysql.err.InterfaceError)
                if gone and not reconnected:
                    reconnected = True
                    self._drop()
                    continue
                raise StoreWriteError(
                    f"storing metadata for {what} failed: {exc.args[-1] if exc.args else exc}"
                ) from exc
            except pymysql.err.MySQLError as exc:
                self._rollback_quietly(conn)
                raise StoreWriteError(
                    f"storing metadata for {what} failed: {exc.args[-1] if exc.args else exc}"
                ) from exc

    @staticmethod
    def _rollback_quietly(conn: Any) -> None:
        try:
            conn.rollback()
        except Exception:
            pass

    @staticmethod
    def _lock_counter(cur: Any, *, bump: bool = True) -> int:
        """The next revision, counted (``bump``), or the current one, left for the caller to move."""
        # Every writer locks the counter row first: writers serialise there (no gap-lock deadlocks on new
        # keys), revisions commit in increasing order, and the counts table needs no locking order of its own.
        cur.execute("SELECT revision FROM csv_metadata_revision WHERE id = %s FOR UPDATE", (1,))
        counter = cur.fetchone()
        if counter is None:
            raise StoreWriteError("the metadata database is not migrated (no revision counter row)")
        if not bump:
            return int(counter[0])
        revision = int(counter[0]) + 1
        cur.execute("UPDATE csv_metadata_revision SET revision = %s WHERE id = %s", (revision, 1))
        return revision

    def _upsert_once(self, conn: Any, norm: Mapping[str, Any], reprocess: bool) -> bool:
        with conn.cursor() as cur:
            conn.begin()
            revision = self._lock_counter(cur)
            if not self._upsert_row(cur, norm, reprocess, revision):
                conn.rollback()
                return False
        conn.commit()
        return True

    def _upsert_many_once(
        self, conn: Any, norms: list[tuple[int, dict[str, Any]]], reprocess: bool
    ) -> list[bool | Exception]:
        """One transaction for the batch: the set-based fast path, or, when the database refuses any of its
        statements, the per-record savepoint path, which tells which record it refuses."""
        try:
            return self._upsert_many_set(conn, norms, reprocess)
        except Exception as exc:
            if _transaction_lost(exc):
                raise
            # Nothing of the fast path may survive into the savepoint path: it starts a transaction of its own.
            conn.rollback()
        return self._upsert_many_savepoints(conn, norms, reprocess)

    def _upsert_many_set(
        self, conn: Any, norms: list[tuple[int, dict[str, Any]]], reprocess: bool
    ) -> list[bool | Exception]:
        """The batch in a few statements whatever its size, with the effect of ``_upsert_many_savepoints`` when
        no record is refused: one locking read of every key, the ordering rule applied in Python in batch
        order (a record is judged against what an earlier record of the batch wrote for its key), then each
        key's last write, and one count change per (bucket, rank)."""
        results: list[bool | Exception] = []
        digests = [key_hash(norm["bucket"], norm["key"]) for _, norm in norms]
        with conn.cursor() as cur:
            conn.begin()
            base = self._lock_counter(cur, bump=False)
            unique = list(dict.fromkeys(digests))
            cur.execute(
                "SELECT key_hash, sequencer, etag, deleted, bucket, status_rank FROM csv_metadata "  # noqa: S608
                f"WHERE key_hash IN ({', '.join(['%s'] * len(unique))}) FOR UPDATE",
                unique,
            )
            # key_hash -> (sequencer, etag, deleted, bucket, status_rank): the stored row, then what the batch
            # wrote over it so far.
            rows: dict[str, tuple[Any, ...]] = {row[0]: tuple(row[1:]) for row in cur.fetchall()}
            stored_before = set(rows)
            # key_hash -> (norm, revision) of its last write; a dict keeps the position of the key's first write,
            # so new rows are inserted (and numbered by AUTO_INCREMENT) in the order the sequential path uses.
            writes: dict[str, tuple[Mapping[str, Any], int]] = {}
            # (bucket, rank) -> [first delta, net delta]: see _count_params.
            counts: dict[tuple[str, int], list[int]] = {}
            revision = base
            for digest, (_, norm) in zip(digests, norms, strict=True):
                existing = rows.get(digest)
                if _stored_row_wins(existing, norm, reprocess):
                    results.append(False)
                    continue
                revision += 1
                new_rank = status_rank(norm["status"], len(norm["warnings"]))
                old = None if existing is None or existing[2] else (existing[3], int(existing[4]))
                if old != (norm["bucket"], new_rank):
                    if old is not None:
                        counts.setdefault(old, [-1, 0])[1] -= 1
                    counts.setdefault((norm["bucket"], new_rank), [1, 0])[1] += 1
                rows[digest] = (norm["sequencer"], norm["etag"], 0, norm["bucket"], new_rank)
                writes[digest] = (norm, revision)
                results.append(True)
            inserts = [[d, *_mysql_values(n), r] for d, (n, r) in writes.items() if d not in stored_before]
            for chunk in _chunks(inserts):
                cur.execute(_insert_rows_sql(len(chunk)), [v for row in chunk for v in row])
            for digest, (written, rev) in writes.items():
                if digest in stored_before:
                    cur.execute(_UPDATE_SQL, [*_mysql_values(written), rev, digest])
            for (bucket, rank), (first, net) in counts.items():
                cur.execute(_COUNT_SQL, _count_params(bucket, rank, first, net))
            if revision != base:
                cur.execute("UPDATE csv_metadata_revision SET revision = %s WHERE id = %s", (revision, 1))
        conn.commit()
        return results

    def _upsert_many_savepoints(
        self, conn: Any, norms: list[tuple[int, dict[str, Any]]], reprocess: bool
    ) -> list[bool | Exception]:
        """One transaction for the batch. The counter is locked once and moved once: the stored records get
        consecutive revisions in batch order, all visible at the commit. A record the database refuses is
        rolled back to its savepoint and is its own entry; an error meaning the connection or the transaction
        is gone propagates, and ``_run`` retries or raises for the whole batch."""
        results: list[bool | Exception] = []
        with conn.cursor() as cur:
            conn.begin()
            base = self._lock_counter(cur, bump=False)
            revision = base
            for _, norm in norms:
                cur.execute("SAVEPOINT csvdrop_record")
                try:
                    stored = self._upsert_row(cur, norm, reprocess, revision + 1)
                except Exception as exc:
                    if _transaction_lost(exc):
                        raise
                    cur.execute("ROLLBACK TO SAVEPOINT csvdrop_record")
                    message = exc.args[-1] if exc.args else exc
                    results.append(
                        StoreWriteError(f"storing metadata for s3://{norm['bucket']}/{norm['key']} failed: {message}")
                    )
                    continue
                if stored:
                    revision += 1
                results.append(stored)
            if revision != base:
                cur.execute("UPDATE csv_metadata_revision SET revision = %s WHERE id = %s", (revision, 1))
        conn.commit()
        return results

    @staticmethod
    def _upsert_row(cur: Any, norm: Mapping[str, Any], reprocess: bool, revision: int) -> bool:
        """Writes one record's row and its count inside the caller's transaction; False (nothing written) when
        the stored row wins by the ordering rule."""
        digest = key_hash(norm["bucket"], norm["key"])
        cur.execute(
            "SELECT sequencer, etag, deleted, bucket, status_rank FROM csv_metadata WHERE key_hash = %s FOR UPDATE",
            (digest,),
        )
        existing = cur.fetchone()
        if _stored_row_wins(existing, norm, reprocess):
            return False
        values = _mysql_values(norm)
        if existing is None:
            cur.execute(_INSERT_SQL, [digest, *values, revision])
        else:
            cur.execute(_UPDATE_SQL, [*values, revision, digest])
        new_rank = status_rank(norm["status"], len(norm["warnings"]))
        old = None if existing is None or existing[2] else (existing[3], int(existing[4]))
        if old != (norm["bucket"], new_rank):
            if old is not None:
                cur.execute(_COUNT_SQL, (old[0], old[1], 0, -1))
            cur.execute(_COUNT_SQL, (norm["bucket"], new_rank, 1, 1))
        return True

    def _mark_missing_once(self, conn: Any, bucket: str, key: str) -> bool:
        digest = key_hash(bucket, key)
        with conn.cursor() as cur:
            conn.begin()
            revision = self._lock_counter(cur)
            cur.execute(
                "SELECT status, deleted, status_rank FROM csv_metadata WHERE key_hash = %s FOR UPDATE", (digest,)
            )
            existing = cur.fetchone()
            if existing is None or existing[1] or existing[0] == MISSING:
                conn.rollback()
                return False
            cur.execute(_MISSING_SQL, (MISSING, missing_error(bucket, key), revision, digest))
            # The rank is the database's generated column: read it back rather than assume what the schema
            # version in place (0003, or 0004 which ranks MISSING with FAILED) makes of MISSING.
            cur.execute("SELECT status_rank FROM csv_metadata WHERE key_hash = %s", (digest,))
            new_rank = int(cur.fetchone()[0])
            if new_rank != int(existing[2]):
                cur.execute(_COUNT_SQL, (bucket, int(existing[2]), 0, -1))
                cur.execute(_COUNT_SQL, (bucket, new_rank, 1, 1))
        conn.commit()
        return True

    def _delete_once(self, conn: Any, bucket: str, key: str, sequencer: str) -> bool:
        digest = key_hash(bucket, key)
        with conn.cursor() as cur:
            conn.begin()
            revision = self._lock_counter(cur)
            cur.execute(
                "SELECT sequencer, deleted, status_rank FROM csv_metadata WHERE key_hash = %s FOR UPDATE", (digest,)
            )
            existing = cur.fetchone()
            if existing is None or not should_tombstone(sequencer, existing[0], stored_deleted=bool(existing[1])):
                conn.rollback()
                return False
            cur.execute(_TOMBSTONE_SQL, (revision, digest))
            cur.execute(_COUNT_SQL, (bucket, int(existing[2]), 0, -1))
        conn.commit()
        return True

    def close(self) -> None:
        self._drop()


# The store-wide revision counter: one item in a table of its own, so the records table holds records only
# (a user scanning MetadataTable, as the seed's instructions do, meets nothing else).
COUNTER_KEY = {"Counter": {"S": "revision"}}


# The sparse GSIs the reader pages with (backend/store/schema_dynamodb.py): only live records carry their keys,
# so a tombstone drops out of both indexes when the writer removes these two attributes.
LIVE_PARTITION = "LivePartition"
LIVE_STATUS = "LiveStatus"


class DynamoWriter(Writer):
    """Records as items keyed by FileName (= full object key). ``Record`` holds the contract JSON; a few
    attributes are duplicated at top level for the console, for filters and for the reader's indexes."""

    def __init__(self, table: str, client: Any, counter_table: str) -> None:
        self.table = table
        self.counter_table = counter_table
        self._ddb = client

    def _current(self, key: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._ddb.get_item(
            TableName=self.table,
            Key={"FileName": {"S": key}},
            ConsistentRead=True,
            ProjectionExpression="SequencerKey, ETag, Deleted, #b",
            ExpressionAttributeNames={"#b": "Bucket"},  # a reserved word
        ).get("Item")
        return item

    def upsert(self, record: Mapping[str, Any], *, reprocess: bool = False) -> bool:
        norm = normalize_record(record)
        seq_key = sequencer_key(norm["sequencer"], SEQUENCER_WIDTH)
        what = f"s3://{norm['bucket']}/{norm['key']}"
        current = self._guard(what, lambda: self._current(norm["key"]))
        if current and not should_store(
            seq_key,
            norm["etag"],
            current.get("SequencerKey", {}).get("S", "0"),
            current.get("ETag", {}).get("S", ""),
            stored_deleted=current.get("Deleted", {}).get("BOOL", False),
            reprocess=reprocess,
        ):
            return False
        # The same rule again on the server, against a writer that got in between.
        condition = "attribute_not_exists(FileName) OR SequencerKey < :seq OR (SequencerKey = :seq AND ETag <> :etag)"
        values: dict[str, Any] = {":seq": {"S": seq_key}, ":etag": {"S": norm["etag"]}}
        if reprocess:
            condition = "attribute_not_exists(FileName) OR SequencerKey <= :seq"
            values = {":seq": {"S": seq_key}}
        else:
            condition += " OR (Deleted = :deleted AND SequencerKey <= :seq)"
            values[":deleted"] = {"BOOL": True}

        def put(revision: int) -> dict[str, Any]:
            return {
                "Put": {
                    "TableName": self.table,
                    "Item": self._item(norm, seq_key, revision),
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": values,
                }
            }

        return self._with_revision(what, put)

    def delete(self, bucket: str, key: str, sequencer: str) -> bool:
        seq_key = sequencer_key(sequencer, SEQUENCER_WIDTH)
        what = f"s3://{bucket}/{key}"
        current = self._guard(what, lambda: self._current(key))
        if (
            not current
            or current.get("Bucket", {}).get("S") != bucket
            or not should_tombstone(
                seq_key,
                current.get("SequencerKey", {}).get("S", "0"),
                stored_deleted=current.get("Deleted", {}).get("BOOL", False),
            )
        ):
            return False

        def tombstone(revision: int) -> dict[str, Any]:
            return {
                "Update": {
                    "TableName": self.table,
                    "Key": {"FileName": {"S": key}},
                    "UpdateExpression": f"SET Deleted = :deleted, Revision = :rev, UpdatedAt = :now"
                    f" REMOVE {LIVE_PARTITION}, {LIVE_STATUS}",
                    "ConditionExpression": "attribute_exists(FileName) AND SequencerKey <= :seq"
                    " AND (attribute_not_exists(Deleted) OR Deleted = :live)",
                    "ExpressionAttributeValues": {
                        ":deleted": {"BOOL": True},
                        ":live": {"BOOL": False},
                        ":rev": {"N": str(revision)},
                        ":now": {"S": iso(datetime.now(UTC))},
                        ":seq": {"S": seq_key},
                    },
                }
            }

        return self._with_revision(what, tombstone)

    def mark_missing(self, bucket: str, key: str) -> bool:
        what = f"s3://{bucket}/{key}"
        current: dict[str, Any] | None = self._guard(
            what,
            lambda: self._ddb.get_item(
                TableName=self.table,
                Key={"FileName": {"S": key}},
                ConsistentRead=True,
                ProjectionExpression="#b, #s, Deleted, Revision, #r",
                ExpressionAttributeNames={"#b": "Bucket", "#s": "Status", "#r": "Record"},
            ).get("Item"),
        )
        if (
            not current
            or current.get("Bucket", {}).get("S") != bucket
            or current.get("Deleted", {}).get("BOOL", False)
            or current.get("Status", {}).get("S") == MISSING
        ):
            return False
        error = missing_error(bucket, key)
        record = json.loads(current.get("Record", {}).get("S") or "{}")
        record.update(status=MISSING, error=error)

        def mark(revision: int) -> dict[str, Any]:
            # The revision read above must still be the item's: a record replaced meanwhile (a new upload) is
            # not the one found missing.
            return {
                "Update": {
                    "TableName": self.table,
                    "Key": {"FileName": {"S": key}},
                    # Kept in FAILED's status partition, so the browser's "Failed" filter shows it as on MySQL
                    # (where status_rank puts MISSING with FAILED).
                    "UpdateExpression": f"SET #s = :missing, {LIVE_STATUS} = :failed, #r = :record, Revision = :rev,"
                    " UpdatedAt = :now",
                    "ConditionExpression": "Revision = :old",
                    "ExpressionAttributeNames": {"#s": "Status", "#r": "Record"},
                    "ExpressionAttributeValues": {
                        ":missing": {"S": MISSING},
                        ":failed": {"S": "FAILED"},
                        ":record": {"S": json.dumps(record, ensure_ascii=False, allow_nan=False)},
                        ":rev": {"N": str(revision)},
                        ":now": {"S": iso(datetime.now(UTC))},
                        ":old": current["Revision"],
                    },
                }
            }

        return self._with_revision(what, mark)

    @staticmethod
    def _record_error(exc: Exception) -> bool:
        # DynamoDB refuses one item (too large, an invalid value) with a ValidationException.
        cause = exc.__cause__
        code = getattr(cause, "response", {}).get("Error", {}).get("Code") if cause is not None else None
        return isinstance(exc, ValueError) or (isinstance(exc, StoreWriteError) and code == "ValidationException")

    def _guard(self, what: str, action: Any) -> Any:
        try:
            return action()
        except Exception as exc:
            if exc.__class__.__module__.startswith("botocore"):
                raise StoreWriteError(
                    f"storing metadata for {what} in DynamoDB table {self.table} failed: {exc}"
                ) from exc
            raise

    def _with_revision(self, what: str, change: Any) -> bool:
        """Writes ``change(revision)`` (one transact item) together with the counter's next revision; False
        when the change's condition failed (a newer or the same event was stored meanwhile)."""
        ddb = self._ddb

        def attempt_all() -> bool:
            for attempt in range(20):
                counter = ddb.get_item(TableName=self.counter_table, Key=COUNTER_KEY, ConsistentRead=True).get("Item")
                old = int(counter["Revision"]["N"]) if counter and "Revision" in counter else 0
                new = old + 1
                counter_update: dict[str, Any] = {
                    "TableName": self.counter_table,
                    "Key": COUNTER_KEY,
                    "UpdateExpression": "SET Revision = :new",
                    "ExpressionAttributeValues": {":new": {"N": str(new)}},
                }
                if old:
                    counter_update["ConditionExpression"] = "Revision = :old"
                    counter_update["ExpressionAttributeValues"][":old"] = {"N": str(old)}
                else:
                    counter_update["ConditionExpression"] = "attribute_not_exists(Revision)"
                try:
                    ddb.transact_write_items(TransactItems=[{"Update": counter_update}, change(new)])
                    return True
                except ddb.exceptions.TransactionCanceledException as exc:
                    reasons = exc.response.get("CancellationReasons") or []
                    codes = [r.get("Code") for r in reasons]
                    if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                        return False
                    time.sleep(0.01 * (attempt + 1))  # counter moved or conflict: try the next revision
            raise StoreWriteError("storing metadata failed: the DynamoDB revision counter stayed contended")

        return bool(self._guard(what, attempt_all))

    @staticmethod
    def _item(norm: Mapping[str, Any], seq_key: str, revision: int) -> dict[str, Any]:
        record = contract_dict(norm)
        item: dict[str, Any] = {
            "FileName": {"S": norm["key"]},
            "ItemType": {"S": "record"},
            "Bucket": {"S": norm["bucket"]},
            "BaseName": {"S": norm["file_name"]},
            "Status": {"S": norm["status"]},
            "Sequencer": {"S": norm["sequencer"]},
            "SequencerKey": {"S": seq_key},
            "UploadedAt": {"S": record["uploaded_at"]},
            "ProcessedAt": {"S": record["processed_at"]},
            "ETag": {"S": norm["etag"]},
            "SizeBytes": {"N": str(norm["size_bytes"])},
            "WarningCount": {"N": str(len(norm["warnings"]))},
            "Revision": {"N": str(revision)},
            "UpdatedAt": {"S": iso(datetime.now(UTC))},
            "Record": {"S": json.dumps(record, ensure_ascii=False, allow_nan=False)},
            "Deleted": {"BOOL": False},
            LIVE_PARTITION: {"S": "live"},
            LIVE_STATUS: {"S": norm["status"]},
            # DynamoDB compares case-sensitively: the text filter matches these lower-cased copies.
            "NameFold": {"S": norm["file_name"].lower()},
            "KeyFold": {"S": norm["key"].lower()},
        }
        if norm["row_count"] is not None:
            item["RowCount"] = {"N": str(norm["row_count"])}
        if norm["column_count"] is not None:
            item["ColumnCount"] = {"N": str(norm["column_count"])}
        return item


def open_writer(env: Mapping[str, str]) -> Writer:
    """The writer chosen by env ``METADATA_STORE`` (mysql | dynamodb; default mysql)."""
    kind = (env.get("METADATA_STORE") or "mysql").strip().lower()
    if kind == "dynamodb":
        table = env.get("DYNAMODB_TABLE") or "MetadataTable"
        counter_table = env.get("DYNAMODB_COUNTER_TABLE")
        if not counter_table:
            raise StoreWriteError("env DYNAMODB_COUNTER_TABLE (the revision counter's table) is not set")
        return DynamoWriter(table, _boto_client("dynamodb", env), counter_table)
    if kind != "mysql":
        raise StoreWriteError(f"METADATA_STORE must be 'mysql' or 'dynamodb', not {kind!r}")
    secret_id = env.get("DB_SECRET_ARN")
    if not secret_id:
        raise StoreWriteError("env DB_SECRET_ARN (the database secret) is not set")
    secret = get_db_secret(secret_id, env)
    return MySqlWriter(
        host=env.get("DB_HOST") or str(secret["host"]),
        port=int(env.get("DB_PORT") or secret.get("port") or 3306),
        user=str(secret["username"]),
        password=str(secret["password"]),
        database=str(secret.get("dbname") or env.get("DB_NAME") or "csvdrop"),
    )
