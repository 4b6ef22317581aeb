"""Helpers for real-stack tests: wait for rows in MySQL, run the CLI and the awscli against a test stack."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
from dataclasses import fields
from pathlib import Path
from typing import Any

from testsupport import ROOT, NotYet, mysql_admin, wait_until

from backend.config import Settings

VENV_BIN = Path(sys.executable).parent


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment that makes `csvdrop` (and the GUI) talk to the given settings' stack."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSVDROP_")}
    for f in fields(settings):
        value = getattr(settings, f.name)
        if value is not None and f.name != "config_path":
            env["CSVDROP_" + f.name.upper()] = str(value)
    env["CSVDROP_CONFIG"] = str(settings.state_dir / "no-config.toml")
    env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION=settings.region)
    return env


def run_cli(settings: Settings, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "csvdrop"), *args],
        env=settings_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def awscli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "aws"), "--endpoint-url", settings.aws_endpoint, *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def mysql_row(settings: Settings, key: str) -> dict[str, Any] | None:
    conn = mysql_admin(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT * FROM csv_metadata WHERE bucket = %s AND object_key = %s", (settings.bucket, key))
            rows = cur.fetchall()
    finally:
        conn.close()
    assert len(rows) <= 1, f"{len(rows)} rows for one key"
    return rows[0] if rows else None


def rows_by_key(settings: Settings, keys: list[str], *, live_only: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Every row of the bucket per key (a duplicate would show up as two); ``live_only``: no tombstones."""
    conn = mysql_admin(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT object_key, status, etag, revision, row_count, deleted FROM csv_metadata WHERE bucket = %s"
                + (" AND deleted = 0" if live_only else ""),
                (settings.bucket,),
            )
            rows = cur.fetchall()
    finally:
        conn.close()
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    for row in rows:
        if row["object_key"] in out:
            out[row["object_key"]].append(row)
    return out


def wait_for_row(settings: Settings, key: str, etag: str | None = None, timeout: float = 60) -> dict[str, Any]:
    """The key's record in MySQL once it exists (with this upload's ETag, when given), JSON columns decoded."""

    def current() -> dict[str, Any] | NotYet:
        row = mysql_row(settings, key)
        if row is None or (etag is not None and row["etag"] != etag):
            return NotYet(row)
        return row

    row = wait_until(current, timeout, f"the record of {key} (etag {etag})")
    for name in ("column_names", "column_profiles", "sample_rows", "duplicate_column_names"):
        if isinstance(row.get(name), (str, bytes)):
            row[name] = json.loads(row[name])
    return row


def deliver_marker(settings: Settings, label: str = "marker") -> dict[str, Any]:
    """Uploads a small marker file and waits for ITS record: evidence that the pipeline has worked through the
    events sent before it (they reach the function in the order they were sent), so that a check that nothing
    more arrived (no second record, no rewrite) made afterwards is not vacuous, as it is after a bare sleep.
    It is no proof against an async retry the function has scheduled for later."""
    from backend import aws

    key = f"{settings.key_prefix}markers/{uuid.uuid4().hex[:12]}-{label}.csv"
    put = aws.client(settings, "s3").put_object(Bucket=settings.bucket, Key=key, Body=b"marker\n1\n")
    return wait_for_row(settings, key, str(put["ETag"]).strip('"'))


def independent_shape(data: bytes, encoding: str, delimiter: str) -> tuple[int, int, list[str]]:
    """Row count, column count and header names by Python's csv module, not by the code under test."""
    text = data.decode(encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if r]
    header = rows[0] if rows else []
    return len(rows) - 1 if rows else 0, len(header), header
