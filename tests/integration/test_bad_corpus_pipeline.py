"""The bad-input corpus (tests/data/bad/, outcomes in expected.json) and hostile object keys through the REAL
pipeline: S3 upload -> S3 notification -> Lambda (local executor) -> MySQL row.

Every file, including the generated big ones (a 5 MB line, exactly 10 MiB, 10 MiB + 1), must end as the
record expected.json gives for the Lambda side, exactly one row per key: no crash, no hang, no lost record.
Uploads run in parallel and MySQL is polled once for the whole batch, so the module takes seconds, not minutes.
"""

from __future__ import annotations

import json
import unicodedata
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from data import make_corpus
from testsupport import NotYet, mysql_admin, wait_until

from backend import aws
from backend.config import Settings
from backend.upload import upload_file

pytestmark = [pytest.mark.stack]

EXPECTED: dict[str, dict[str, Any]] = json.loads((make_corpus.BAD_DIR / "expected.json").read_text(encoding="utf-8"))
JSON_COLUMNS = ("column_names", "column_profiles", "sample_rows", "duplicate_column_names", "warnings")
BOOL_COLUMNS = ("has_bom", "has_header")


def _rows_under(settings: Settings, prefix: str) -> list[dict[str, Any]]:
    conn = mysql_admin(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT * FROM csv_metadata WHERE bucket = %s AND object_key LIKE %s",
                (settings.bucket, prefix.replace("%", r"\%").replace("_", r"\_") + "%"),
            )
            rows = list(cur.fetchall())
    finally:
        conn.close()
    for row in rows:
        for name in JSON_COLUMNS:
            if isinstance(row.get(name), (str, bytes)):
                row[name] = json.loads(row[name])
    return rows


def _wait_all(settings: Settings, prefix: str, etags: dict[str, str], timeout: float) -> list[dict[str, Any]]:
    """Every row under prefix, once every key has a row with its upload's ETag (a lost or hung file fails the
    wait, naming the keys still without one)."""

    def all_current() -> list[dict[str, Any]] | NotYet:
        rows = _rows_under(settings, prefix)
        missing = etags.keys() - {r["object_key"] for r in rows if etags.get(r["object_key"]) == r["etag"]}
        return rows if not missing else NotYet(f"{len(missing)} keys without their record: {sorted(missing)}")

    return wait_until(all_current, timeout, f"a record for each of {len(etags)} uploads", interval=0.25)


# ------------------------------------------------------------------------------------------ the corpus
@pytest.fixture(scope="module")
def corpus_rows(provisioned: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Uploads the whole corpus at once under a fresh prefix; returns name -> rows in MySQL for its key."""
    large = make_corpus.write_large(tmp_path_factory.mktemp("bad-large"))
    paths = {p.name: p for p in sorted(make_corpus.BAD_DIR.glob("*.csv"))} | {p.name: p for p in large}
    assert set(paths) == set(EXPECTED)
    prefix = f"badcorpus-{uuid.uuid4().hex[:8]}/"

    def put(name: str) -> tuple[str, str]:
        # The app's own upload path (multipart above 8 MiB); it does not apply the local size limit.
        result = upload_file(provisioned, paths[name], key=prefix + name)
        return prefix + name, result.etag

    with ThreadPoolExecutor(max_workers=8) as pool:
        etags = dict(pool.map(put, sorted(paths)))
    rows = _wait_all(provisioned, prefix, etags, timeout=240)
    by_name: dict[str, list[dict[str, Any]]] = {name: [] for name in paths}
    for row in rows:
        by_name.setdefault(row["object_key"][len(prefix) :], []).append(row)
    for name, key_rows in by_name.items():
        for row in key_rows:
            row["_expected_etag"] = etags.get(prefix + name)
    return by_name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_ends_as_expected(corpus_rows: dict[str, list[dict[str, Any]]], name: str) -> None:
    rows = corpus_rows[name]
    assert len(rows) == 1, f"{name}: {len(rows)} rows (expected exactly one; none = lost or hung)"
    row = rows[0]
    assert row["etag"] == row["_expected_etag"], f"{name}: the record is for another upload"
    assert row["file_name"] == name
    want = dict(EXPECTED[name]["lambda"])
    status = want.pop("status")
    assert row["status"] == status, f"{name}: {row['status']} ({row['error']})"
    if status == "FAILED":
        error = row["error"] or ""
        assert want["error"].lower() in error.lower(), f"{name}: {error!r}"
        assert "Traceback" not in error and len(error) < 600
        assert row["row_count"] is None
        return
    assert row["error"] is None
    for key, value in want.items():
        got = row[key]
        if key in BOOL_COLUMNS and got is not None:
            got = bool(got)
        if key == "warnings":  # expected.json pins each warning's code and lines, not its wording
            got = [{"code": w["code"], "lines": w["lines"]} for w in got]
        assert got == value, f"{name}: {key} = {got!r}, expected {value!r}"
    assert len(row["column_names"]) == len(row["column_profiles"]) == row["column_count"]
    assert row["size_bytes"] > 0 and row["sha256"]


def test_corpus_left_nothing_in_the_failed_events_queues(
    provisioned: Settings, corpus_rows: dict[str, list[dict[str, Any]]]
) -> None:
    """No invocation of the corpus crashed the function: neither the direct trigger's failure destination nor
    the queue trigger's dead-letter queue holds one of its events."""
    from backend.provisioning import dead_letter_queue_name

    prefix = next(r for rows in corpus_rows.values() for r in rows)["object_key"].split("/", 1)[0]
    sqs = aws.client(provisioned, "sqs")
    bodies = []
    for name in (provisioned.function_name + "-failed-events", dead_letter_queue_name(provisioned)):
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        for _ in range(3):
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0)
            bodies += [m["Body"] for m in got.get("Messages", [])]
    assert not [b for b in bodies if prefix in b], bodies


# ------------------------------------------------------------------------------------------ hostile keys
def _hostile_keys(prefix: str) -> list[str]:
    long_stem = "k" * (1000 - len(prefix) - len(".csv"))
    return [
        prefix + "with  spaces and trailing space .csv",
        prefix + "ünïcödé 日本語 😀 ∑.csv",
        prefix + unicodedata.normalize("NFD", "café-decomposed.csv"),
        prefix + "../escape.csv",
        prefix + "a/../../etc/passwd.csv",
        prefix + '"); DROP TABLE x;--.csv',
        prefix + "'; DROP TABLE csv_metadata; --.csv",
        prefix + "<script>alert(1)</script>.csv",
        prefix + "a+b=c&d%20e%2F?#.csv",
        prefix + long_stem + ".csv",
    ]


@pytest.fixture
def canary_table(provisioned: Settings) -> Iterator[None]:
    conn = mysql_admin(provisioned)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS x (id INT PRIMARY KEY)")
            cur.execute("INSERT IGNORE INTO x VALUES (1)")
        yield
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS x")
    finally:
        conn.close()


def test_hostile_keys_round_trip_unchanged(provisioned: Settings, canary_table: None) -> None:
    s3 = aws.client(provisioned, "s3")
    prefix = f"hostile-{uuid.uuid4().hex[:8]}/"
    keys = _hostile_keys(prefix)
    assert len(keys[-1]) == 1000
    conn = mysql_admin(provisioned)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) AS n FROM csv_metadata")
            before = cur.fetchone()["n"]
    finally:
        conn.close()

    def put(key: str) -> tuple[str, str]:
        done = s3.put_object(Bucket=provisioned.bucket, Key=key, Body=b"id,name\n1,a\n2,b\n")
        return key, str(done["ETag"]).strip('"')

    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        etags = dict(pool.map(put, keys))
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=provisioned.bucket, Prefix=prefix).get("Contents", [])}
    listed |= {o["Key"] for o in s3.list_objects_v2(Bucket=provisioned.bucket, Prefix="escape.csv").get("Contents", [])}
    assert set(keys) <= listed, f"S3 did not keep these keys verbatim: {set(keys) - listed}; it has {listed}"

    rows = _wait_all(provisioned, prefix, etags, timeout=90)
    by_key: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_key.setdefault(row["object_key"], []).append(row)
    for key in keys:
        got = by_key.get(key, [])
        assert len(got) == 1, f"{key!r}: {len(got)} rows; keys stored: {sorted(by_key)}"
        row = got[0]
        assert row["object_key"].encode() == key.encode(), "the key changed on its way"
        assert row["file_name"] == key.rsplit("/", 1)[-1]
        assert row["status"] == "PROCESSED", row["error"]
        assert (row["row_count"], row["column_count"]) == (2, 2)
    assert set(by_key) == set(keys), f"unexpected keys: {set(by_key) - set(keys)}"

    conn = mysql_admin(provisioned)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            tables = {next(iter(r.values())) for r in cur.fetchall()}
            assert {"csv_metadata", "csv_metadata_revision", "schema_migrations", "x"} <= tables
            cur.execute("SELECT COUNT(*) AS n FROM csv_metadata")
            after = cur.fetchone()["n"]
            cur.execute("SELECT COUNT(*) AS n FROM x")
            assert cur.fetchone()["n"] == 1
    finally:
        conn.close()
    assert after >= before + len(keys), "rows went missing"
