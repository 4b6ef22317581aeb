"""`csvdrop get | url | reprocess | logs | rm` on the session's real stack, in-process as a user's shell runs them
(settings in CSVDROP_* variables). What they print is checked against S3, the metadata store and the function's
CloudWatch log lines. The uploads are shared by the module's tests; each test that changes one has its own."""

from __future__ import annotations

import json
import os
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pipeline_helpers import settings_env, wait_for_row
from testsupport import NotYet, wait_until

from backend import aws
from backend.cli import csvdrop
from backend.config import Settings
from backend.files import DownloadCancelled, Invocation, download, log_lines
from backend.store import MetadataRecord, open_reader
from backend.upload import upload_file

pytestmark = [pytest.mark.stack]

Invoke = Callable[..., Result]
CSV = "city,visits,open\nOslo,12,true\nLima,7,false\n"


@dataclass(frozen=True)
class Uploaded:
    key: str
    data: bytes
    etag: str


@pytest.fixture(scope="module")
def files(provisioned: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Uploaded]:
    """Three files uploaded through the backend and processed: "kept" (read by get, url and logs), "again" (for
    reprocess) and "doomed" (for rm). Keys hold a space, as users' file names do."""
    folder = tmp_path_factory.mktemp("file-actions")
    tag = uuid.uuid4().hex[:8]
    uploaded: dict[str, Uploaded] = {}
    for name in ("kept", "again", "doomed"):
        path = folder / f"{name} {tag}.csv"
        path.write_bytes(f"{CSV}{name},1,true\n".encode())
        key = f"file-actions/{name} {tag}.csv"
        result = upload_file(provisioned, path, key=key)
        uploaded[name] = Uploaded(key, path.read_bytes(), result.etag)
    for item in uploaded.values():
        wait_for_row(provisioned, item.key, item.etag)
    return uploaded


def _environment_of(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CSVDROP_"):
            monkeypatch.delenv(name)
    for name, value in settings_env(settings).items():
        if name.startswith(("CSVDROP_", "AWS_")):
            monkeypatch.setenv(name, value)


@pytest.fixture()
def cli(provisioned: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    _environment_of(provisioned, monkeypatch)
    yield lambda *args: CliRunner().invoke(csvdrop, list(args), catch_exceptions=False)


def _record(settings: Settings, key: str) -> MetadataRecord | None:
    reader = open_reader(settings)
    try:
        return reader.get(settings.bucket, key)
    finally:
        reader.close()


def _object_exists(settings: Settings, key: str) -> bool:
    try:
        aws.client(settings, "s3").head_object(Bucket=settings.bucket, Key=key)
    except Exception as exc:
        if aws.error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _invocations_naming(settings: Settings, key: str, request_id: str | None = None) -> list[Invocation] | NotYet:
    """The function's invocations about the key (with this request id, when given); log delivery lags a second."""
    found = [
        invocation
        for invocation in log_lines(settings, settings.bucket, key)
        if request_id is None or invocation.request_id == request_id
    ]
    return found or NotYet(found)


# ------------------------------------------------------------------------------------------ get
def test_get_writes_the_uploaded_bytes_and_never_replaces_a_file_unasked(
    cli: Invoke, provisioned: Settings, files: dict[str, Uploaded], tmp_path: Path
) -> None:
    kept = files["kept"]
    name = kept.key.rsplit("/", 1)[-1]
    done = cli("get", kept.key, "-o", str(tmp_path))
    assert done.exit_code == 0, done.output
    assert (tmp_path / name).read_bytes() == kept.data
    assert (
        done.stdout
        == f"downloaded s3://{provisioned.bucket}/{kept.key} -> {tmp_path / name} ({len(kept.data)} bytes)\n"
    )

    (tmp_path / name).write_bytes(b"mine")
    refused = cli("get", f"s3://{provisioned.bucket}/{kept.key}", "-o", str(tmp_path / name))
    assert refused.exit_code == 2
    assert f"{tmp_path / name} already exists" in refused.stderr and "--force" in refused.stderr
    assert (tmp_path / name).read_bytes() == b"mine"
    assert cli("get", kept.key, "-o", str(tmp_path / name), "--force").exit_code == 0
    assert (tmp_path / name).read_bytes() == kept.data
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left beside it


def test_get_on_a_terminal_draws_progress_and_ends_with_the_same_line(
    cli: Invoke, provisioned: Settings, files: dict[str, Uploaded], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("backend.cli._common.stdout_is_terminal", lambda: True)
    kept = files["kept"]
    done = cli("get", kept.key, "-o", str(tmp_path / "copy.csv"))
    assert done.exit_code == 0, done.output
    assert (tmp_path / "copy.csv").read_bytes() == kept.data
    assert f"-> {tmp_path / 'copy.csv'} ({len(kept.data)} bytes)" in done.stdout


def test_a_cancelled_or_missing_download_leaves_no_file(
    cli: Invoke, provisioned: Settings, files: dict[str, Uploaded], tmp_path: Path
) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(DownloadCancelled, match="cancelled"):
        download(provisioned, provisioned.bucket, files["kept"].key, tmp_path, cancel=cancel)
    missing = cli("get", f"file-actions/none-{uuid.uuid4().hex[:6]}.csv", "-o", str(tmp_path))
    assert missing.exit_code == 2
    assert "no object s3://" in missing.stderr and "nothing to download" in missing.stderr
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------ url
def test_url_is_a_link_that_downloads_the_bytes_without_credentials(
    cli: Invoke, provisioned: Settings, files: dict[str, Uploaded]
) -> None:
    kept = files["kept"]
    done = cli("url", kept.key, "--expires", "10m")
    assert done.exit_code == 0, done.output
    url = done.stdout.strip()
    assert "X-Amz-Expires=600" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == kept.data
    assert cli("url", kept.key, "--s3").stdout == f"s3://{provisioned.bucket}/{kept.key}\n"


# ------------------------------------------------------------------------------------------ reprocess
def test_reprocess_stores_a_fresh_profile_under_a_new_revision(
    cli: Invoke, provisioned: Settings, files: dict[str, Uploaded]
) -> None:
    again = files["again"]
    before = _record(provisioned, again.key)
    assert before is not None
    gone = f"file-actions/none-{uuid.uuid4().hex[:6]}.csv"
    done = cli("reprocess", again.key, gone)
    assert done.exit_code == 1, done.output  # the missing key; the other is still re-processed
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"re-processed s3://{provisioned.bucket}/{again.key}: PROCESSED (request ")
    assert lines[1] == f"s3://{provisioned.bucket}/{gone} was deleted; nothing to re-process"
    after = _record(provisioned, again.key)
    assert after is not None
    assert after.revision > before.revision
    assert after.processed_at > before.processed_at
    assert (after.etag, after.row_count, after.status) == (again.etag, 3, "PROCESSED")
    # the request id it printed is the invocation's: its log lines carry it
    request_id = lines[0].rsplit("(request ", 1)[1].rstrip(")")
    [invocation] = wait_until(
        lambda: _invocations_naming(provisioned, again.key, request_id), 30, f"the log lines of request {request_id}"
    )
    assert any(f"PROCESSED {provisioned.bucket}/{again.key} rows=3" in line for line in invocation.lines)


# ------------------------------------------------------------------------------------------ logs
def test_logs_show_every_line_of_the_invocation_that_processed_the_file(
    cli: Invoke, provisioned: Settings, files: dict[str, Uploaded]
) -> None:
    kept = files["kept"]
    wait_until(lambda: _invocations_naming(provisioned, kept.key), 30, f"log lines about {kept.key}")
    done = cli("logs", kept.key, "--json", "--since", "1h")
    assert done.exit_code == 0, done.output
    invocations = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(invocations) == 1, invocations  # its upload's invocation, and not the other files'
    [shown] = invocations
    request_id = shown["request_id"]
    assert shown["lines"][0].startswith(f"START RequestId: {request_id}")
    assert shown["lines"][-1].startswith(f"REPORT RequestId: {request_id}")
    processed = [line for line in shown["lines"] if f"PROCESSED {provisioned.bucket}/{kept.key} rows=3" in line]
    assert len(processed) == 1 and f"\t{request_id}\t" in processed[0]

    plain = cli("logs", kept.key)
    assert plain.exit_code == 0, plain.output
    assert f" UTC  request {request_id}" in plain.stdout.splitlines()[0]
    nothing = cli("logs", f"file-actions/none-{uuid.uuid4().hex[:6]}.csv")
    assert nothing.exit_code == 1
    assert nothing.stdout.startswith(f"no invocation of {provisioned.function_name} names s3://")


# ------------------------------------------------------------------------------------------ rm
def test_rm_removes_the_object_and_its_record_and_names_a_key_without_object(
    cli: Invoke, provisioned: Settings, files: dict[str, Uploaded]
) -> None:
    doomed = files["doomed"]
    gone = f"file-actions/none-{uuid.uuid4().hex[:6]}.csv"
    done = cli("rm", "--yes", doomed.key, gone)
    assert done.exit_code == 1, done.output  # the key without an object
    assert done.stdout.splitlines() == [
        f"deleted s3://{provisioned.bucket}/{doomed.key} and its record",
        f"no object s3://{provisioned.bucket}/{gone}: nothing deleted (`csvdrop list` shows the keys)",
    ]
    assert not _object_exists(provisioned, doomed.key)
    assert _record(provisioned, doomed.key) is None
    assert _object_exists(provisioned, files["kept"].key)  # and nothing else
    assert _record(provisioned, files["kept"].key) is not None
