"""Fault injection on the real stack: every part of the pipeline fails once, and the pipeline heals.

These tests stop, kill and restart services, so they run on their OWN private stack (free ports, temporary
state folder, the shared LocalStack venv), never on the session stack other tests share. The tests that need
no restart come first; the LocalStack restarts (upload cut off, `stack down` with uploads in flight) come last.

Reproduce one fault: ``.venv/bin/pytest tests/integration/test_faults.py -q -k <name>``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import termios
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
from botocore.exceptions import BotoCoreError, ClientError
from pipeline_helpers import deliver_marker, mysql_row, rows_by_key, wait_for_row
from private_stack import setup_or_fail
from testsupport import mysql_admin, wait_until

from backend import aws
from backend.config import Settings
from backend.environment import bring_up
from backend.notices import NoticeReader, QueueMissing
from backend.provisioning import FAILED_EVENTS_QUEUE_SUFFIX
from backend.reconcile import reconcile, synthetic_event
from backend.stack import stack_down
from backend.stack.localstack import LocalStackService
from backend.stack.mysql import MySqlService
from backend.store import StoreError, open_reader
from backend.upload import UploadError, upload_file

pytestmark = [pytest.mark.stack, pytest.mark.slow]

CHILD_MODULE = "csvdrop_lambda_executor/child.py"  # what the executor runs per execution environment
LOG_GROUP_PREFIX = "/aws/lambda/"


# ---------------------------------------------------------------------------------------------- the stack
@pytest.fixture(scope="module")
def fstack(restartable_stack: Settings) -> Settings:
    """The session's restartable stack (tests/conftest.py; it gets stopped and restarted here). The direct
    trigger: these faults are its own (Lambda's async retries, its failure destination); the queue trigger's
    (the function or the database away while files wait, a poison file) are in test_queue_trigger.py."""
    assert restartable_stack.trigger == "direct"
    return restartable_stack


def _unique(name: str) -> str:
    return f"faults-{uuid.uuid4().hex[:8]}/{name}"


def _csv_bytes(target_bytes: int, seed: str = "") -> bytes:
    """A CSV of about target_bytes with typed columns (enough work for the profiler)."""
    header = b"id,when,amount,flag,city,note\n"
    row = "{i},2026-01-{d:02d},{a:.2f},{f},City{c},note {seed} {i}\n"
    lines = [header]
    size, i = len(header), 0
    while size < target_bytes:
        line = row.format(i=i, d=i % 28 + 1, a=i * 1.25, f="true" if i % 2 else "false", c=i % 97, seed=seed).encode()
        lines.append(line)
        size += len(line)
        i += 1
    return b"".join(lines)


def _all_rows(settings: Settings) -> dict[str, dict[str, Any]]:
    conn = mysql_admin(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT object_key, etag, revision, status FROM csv_metadata WHERE bucket = %s", (settings.bucket,)
            )
            return {row["object_key"]: row for row in cur.fetchall()}
    finally:
        conn.close()


def _log_text(settings: Settings, since_ms: int) -> str:
    """Every log line the function wrote since since_ms (CloudWatch Logs, as `aws logs` would show)."""
    logs = aws.client(settings, "logs")
    group = LOG_GROUP_PREFIX + settings.function_name
    lines: list[str] = []
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": since_ms}
    try:
        while True:
            page = logs.filter_log_events(**kwargs)
            lines += [e["message"] for e in page.get("events", [])]
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    except logs.exceptions.ResourceNotFoundException:
        return ""
    return "\n".join(lines)


def _failed_events(settings: Settings) -> list[dict[str, Any]]:
    """Drains the function's on-failure destination queue; returns the destination records."""
    sqs = aws.client(settings, "sqs")
    url = sqs.get_queue_url(QueueName=settings.function_name + FAILED_EVENTS_QUEUE_SUFFIX)["QueueUrl"]
    out: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return out
        for message in messages:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _event_keys(destination_records: list[dict[str, Any]]) -> set[str]:
    keys = set()
    for record in destination_records:
        payload = record.get("requestPayload") or {}
        for r in payload.get("Records", []):
            import urllib.parse

            keys.add(urllib.parse.unquote_plus(r["s3"]["object"]["key"]))
    return keys


def _lambda_children(settings: Settings) -> list[psutil.Process]:
    """The executor's child processes (one per execution environment) under the private LocalStack."""
    pid = LocalStackService(settings).managed_pid()
    assert pid, "the private LocalStack is not running"
    children = []
    for proc in psutil.Process(pid).children(recursive=True):
        try:
            if any(CHILD_MODULE in part for part in proc.cmdline()):
                children.append(proc)
        except psutil.Error:
            continue
    return children


def _unread_invocation_bytes(child: psutil.Process) -> int:
    """Bytes the executor wrote into the child's invocation pipe that the child has not read yet (a frozen
    child holding an invocation has some). That pipe is the child's only read-only pipe: stdin is /dev/null,
    stdout/stderr and the answer channel are write ends. FIONREAD on a second handle to it consumes nothing."""
    unread = 0
    for fd in Path(f"/proc/{child.pid}/fd").iterdir():
        try:
            if not os.readlink(fd).startswith("pipe:"):
                continue
            info = Path(f"/proc/{child.pid}/fdinfo/{fd.name}").read_text()
            if int(info.split("flags:", 1)[1].split()[0], 8) & os.O_ACCMODE != os.O_RDONLY:
                continue
            handle = os.open(fd, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:  # closed meanwhile
            continue
        try:
            count = bytearray(4)
            fcntl.ioctl(handle, termios.FIONREAD, count)
            unread += int.from_bytes(count, "little")
        finally:
            os.close(handle)
    return unread


# ---------------------------------------------------------------------------------------------- no restarts
def test_old_event_after_new_upload_and_duplicate_delivery_change_nothing(fstack: Settings) -> None:
    """Fault 4: the same S3 event twice, and an older upload's event after the newer one was processed."""
    s3, lam = aws.client(fstack, "s3"), aws.client(fstack, "lambda")
    key = _unique("out-of-order.csv")
    old_body, new_body = b"a\n1\n", b"a,b,c\n1,2,3\n4,5,6\n"
    old = s3.put_object(Bucket=fstack.bucket, Key=key, Body=old_body)
    old_etag = old["ETag"].strip('"')
    wait_for_row(fstack, key, old_etag)
    new = s3.put_object(Bucket=fstack.bucket, Key=key, Body=new_body)
    new_etag = new["ETag"].strip('"')
    newest = wait_for_row(fstack, key, new_etag)
    assert (newest["row_count"], newest["column_count"]) == (2, 3)

    def deliver(etag: str, size: int) -> dict[str, Any]:
        payload = json.dumps(synthetic_event(fstack.bucket, key, etag, size)).encode()
        response = lam.invoke(FunctionName=fstack.function_name, Payload=payload)
        body = response["Payload"].read()
        assert "FunctionError" not in response, body
        result: dict[str, Any] = json.loads(body)
        return result

    late = deliver(old_etag, len(old_body))  # the old upload's event, arriving late
    assert late["results"][0].get("skipped"), late  # IfMatch: the old bytes are gone, nothing profiled
    for _ in range(2):  # the new upload's event, delivered again (twice)
        again = deliver(new_etag, len(new_body))
        assert again["results"][0].get("stored") is False, again
    rows = rows_by_key(fstack, [key])[key]
    assert len(rows) == 1, rows
    assert (rows[0]["etag"], rows[0]["row_count"]) == (new_etag, 2)
    assert rows[0]["revision"] == newest["revision"], "a late or duplicate event rewrote the record"


def test_deleted_notice_queue_says_run_setup_and_setup_brings_notices_back(fstack: Settings, tmp_path: Path) -> None:
    """Fault 5: the app's notices queue is deleted under a running reader."""
    sqs = aws.client(fstack, "sqs")
    reader = NoticeReader(fstack)
    try:
        reader.receive(wait_seconds=0)  # the reader knows its queue
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=reader.queue_name)["QueueUrl"])
        with pytest.raises(QueueMissing) as missing:
            wait_until(lambda: reader.receive(wait_seconds=0) and False, 30, "QueueMissing", interval=0.25)
        message = str(missing.value)
        assert "setup" in message.lower() and fstack.queue_name in message and "Traceback" not in message
        assert reader.receive(wait_seconds=0) == []  # asking again creates the reader's queue again

        setup_or_fail(fstack)
        path = tmp_path / "after-queue-came-back.csv"
        path.write_bytes(b"x,y\n1,2\n3,4\n")
        key = _unique(path.name)
        upload_file(fstack, path, key=key)
        seen: dict[str, Any] = {}

        def notice_arrived() -> bool:
            for notice in reader.receive(wait_seconds=1):  # the same reader recovers
                seen[notice.key] = notice
            return key in seen

        wait_until(notice_arrived, 60, f"the notice for {key}", interval=0)
        assert (seen[key].status, seen[key].row_count) == ("PROCESSED", 2)
    finally:
        reader.close()


def test_reader_connection_killed_while_polling_loses_and_duplicates_nothing(fstack: Settings, tmp_path: Path) -> None:
    """Fault 6: the app's database connection is killed server-side between (and during) polls."""
    reader = open_reader(fstack)  # the app's own read-only user, password from Secrets Manager
    s3 = aws.client(fstack, "s3")
    prefix = _unique("")
    keys = [f"{prefix}poll-{i}.csv" for i in range(6)]
    seen: dict[str, list[int]] = {}
    passed: set[str] = set()  # every key the reader returned, this test's or not
    errors: list[str] = []
    _, cursor = reader.changed_since(None)
    while True:  # start from the current end: only this test's records count
        more, cursor = reader.changed_since(cursor)
        if not more:
            break

    def poll() -> None:
        nonlocal cursor
        try:
            records, cursor = reader.changed_since(cursor)
        except StoreError as exc:  # allowed once per kill, with a clear message; the next call recovers
            errors.append(str(exc))
            return
        for record in records:
            passed.add(record.key)
            if record.key in keys:
                seen.setdefault(record.key, []).append(record.revision)

    def kill_reader_connection() -> int:
        conn = reader._conn  # type: ignore[attr-defined]  # the reader's own connection, to kill it
        assert conn is not None, "the reader has no open connection to kill"
        thread_id = conn.thread_id()
        admin = mysql_admin(fstack)
        try:
            with admin.cursor() as cur:
                cur.execute("KILL CONNECTION %s", (thread_id,))
        finally:
            admin.close()
        return int(thread_id)

    def every_key_seen() -> bool:
        poll()
        return set(keys) <= seen.keys()

    def passed_through(wanted: str) -> bool:
        poll()
        return wanted in passed

    try:
        killed = []
        for i, key in enumerate(keys):
            poll()
            killed.append(kill_reader_connection())
            s3.put_object(Bucket=fstack.bucket, Key=key, Body=f"n,i\n{i},{i * 2}\n".encode())
            poll()  # the first query after the kill runs on a dead connection
        wait_until(every_key_seen, 60, "every record through the killed reader")
        # A record handed out twice would come in a later poll: read on until the reader has passed a record
        # written after all of them, and only then count.
        marker = deliver_marker(fstack, "reader")["object_key"]
        wait_until(lambda: passed_through(marker), 30, "the marker record through the reader")
    finally:
        reader.close()
    assert len(set(killed)) == len(killed), "the reader did not open a new connection after a kill"
    assert not errors, f"a killed connection escaped as an error instead of a transparent reconnect: {errors}"
    duplicated = {k: v for k, v in seen.items() if len(v) != 1}
    assert not duplicated, f"records delivered more than once: {duplicated}"
    rows = rows_by_key(fstack, keys)
    assert all(len(r) == 1 and r[0]["status"] == "PROCESSED" for r in rows.values()), rows


def test_lambda_child_killed_mid_invocation_is_retried_into_one_record(fstack: Settings) -> None:
    """Fault 3: SIGKILL of the executor's child process while it holds the invocation of a ~10 MB file.

    Every child is frozen (SIGSTOP) before the upload, so the invocation is handed to a frozen child and cannot
    finish before the kill: the fault lands mid-invocation every time, whatever the machine's speed.
    """
    s3 = aws.client(fstack, "s3")
    # Warm up: a child exists and is idle, so LocalStack hands the next invocation to it.
    warm = _unique("warm.csv")
    s3.put_object(Bucket=fstack.bucket, Key=warm, Body=b"a\n1\n")
    wait_for_row(fstack, warm)
    frozen = _lambda_children(fstack)
    assert frozen, "no executor child process found under LocalStack"
    for child in frozen:
        child.send_signal(signal.SIGSTOP)
    try:
        key = _unique("big-killed.csv")
        body = _csv_bytes(10 * 1000 * 1000, seed="kill")
        started_ms = int(time.time() * 1000) - 1000
        etag = s3.put_object(Bucket=fstack.bucket, Key=key, Body=body)["ETag"].strip('"')

        def held_by_a_frozen_child() -> bool:
            assert mysql_row(fstack, key) is None, "the file was stored by a child that was not frozen"
            return any(_unread_invocation_bytes(child) for child in frozen)

        wait_until(held_by_a_frozen_child, 30, "the S3 event's invocation to wait in a frozen child's pipe")
    finally:
        for child in frozen:  # SIGKILL ends a stopped process too; its parent may reap it at once
            with contextlib.suppress(psutil.NoSuchProcess):
                child.send_signal(signal.SIGKILL)

    row = wait_for_row(fstack, key, etag, timeout=90)
    assert row["status"] == "PROCESSED", row["error"]
    assert row["row_count"] == body.count(b"\n") - 1
    logs = wait_until(
        lambda: t if "Runtime.ExitError" in (t := _log_text(fstack, started_ms)) else "",
        30,
        "Runtime.ExitError in the function's log",
        interval=0.5,
    )
    assert "signal: killed" in logs
    assert not {c.pid for c in frozen} & {c.pid for c in _lambda_children(fstack)}
    deliver_marker(fstack, "after-kill")  # a duplicate delivery sent before it has been handled by now
    rows = rows_by_key(fstack, [key])[key]
    assert len(rows) == 1 and rows[0]["revision"] == row["revision"], rows


def test_mysql_down_briefly_the_async_retry_stores_the_record(fstack: Settings) -> None:
    """Fault 2a: MariaDB stopped while the Lambda runs; it is back before the retries run out."""
    s3 = aws.client(fstack, "s3")
    mysql = MySqlService(fstack)
    key = _unique("db-down-briefly.csv")
    started_ms = int(time.time() * 1000) - 1000
    try:
        assert mysql.stop() == "stopped"
        put = s3.put_object(Bucket=fstack.bucket, Key=key, Body=b"k,v\n1,one\n2,two\n")
        failure = f"could not store the record of s3://{fstack.bucket}/{key}"
        logs = wait_until(
            lambda: t if failure in (t := _log_text(fstack, started_ms)) else "",
            40,
            "the failed invocation's error in the function's log",
            interval=0.5,
        )
        assert "StoreWriteError: cannot connect to the metadata database" in logs
    finally:
        mysql.start()
    row = wait_for_row(fstack, key, put["ETag"].strip('"'), timeout=60)  # retries after 5 s and 10 s
    assert row["status"] == "PROCESSED" and row["row_count"] == 2
    assert len(rows_by_key(fstack, [key])[key]) == 1


def test_mysql_down_past_the_retries_reconcile_stores_the_record_once(fstack: Settings) -> None:
    """Fault 2b: MariaDB down longer than the async retries: the event lands in the failed-events queue and
    `reconcile` (safe to run any time) stores it; running it again changes nothing."""
    s3 = aws.client(fstack, "s3")
    mysql = MySqlService(fstack)
    _failed_events(fstack)  # start from an empty failure queue
    key = _unique("db-down-long.csv")
    try:
        assert mysql.stop() == "stopped"
        put = s3.put_object(Bucket=fstack.bucket, Key=key, Body=b"k,v\n1,one\n2,two\n3,three\n")
        failed: list[dict[str, Any]] = []

        def event_failed() -> bool:
            failed.extend(_failed_events(fstack))
            return key in _event_keys(failed)

        wait_until(
            event_failed,
            60,
            "the event in the failed-events queue after the retries",
            interval=0.5,
        )
    finally:
        mysql.start()
    assert mysql_row(fstack, key) is None
    condition = failed[-1].get("requestContext", {}).get("condition")
    assert condition == "RetriesExhausted", failed[-1]
    before = _all_rows(fstack)
    report = reconcile(fstack)
    assert key in report.keys
    row = wait_for_row(fstack, key, put["ETag"].strip('"'), timeout=60)
    assert row["status"] == "PROCESSED" and row["row_count"] == 3
    for redriven in report.keys:  # every invocation reconcile sent has landed
        wait_for_row(fstack, redriven, s3.head_object(Bucket=fstack.bucket, Key=redriven)["ETag"].strip('"'))
    settled = _all_rows(fstack)
    assert {k: v["revision"] for k, v in settled.items() if k in before and k != key} == {
        k: v["revision"] for k, v in before.items() if k != key
    }, "reconcile rewrote records that were fine"
    for _ in range(2):  # nothing missing now: reconcile must be a no-op
        again = reconcile(fstack)
        assert again.missing == 0 and again.redriven == 0, again
    marker = deliver_marker(fstack, "after-reconcile")["object_key"]
    assert {k: v for k, v in _all_rows(fstack).items() if k != marker} == settled
    assert len(rows_by_key(fstack, [key])[key]) == 1


# ---------------------------------------------------------------------------------------------- restarts
MIB = 1024 * 1024


def _message_is_for_people(message: str) -> None:
    assert "Traceback" not in message and 'File "' not in message, message


def test_localstack_stopped_mid_upload_says_so_and_the_retry_completes(fstack: Settings, tmp_path: Path) -> None:
    """Fault 1: LocalStack stops while a multipart upload is on the wire."""
    path = tmp_path / "cut-off.csv"
    path.write_bytes(_csv_bytes(9 * MIB, seed="cut-off"))  # above the 8 MiB multipart threshold
    key = _unique(path.name)
    progressed, stopped = threading.Event(), threading.Event()

    def on_progress(_sent: int, _total: int) -> None:
        progressed.set()
        stopped.wait(60)  # the transfer stalls here until LocalStack is gone: the stop is surely mid-way

    def stop_localstack() -> None:
        try:
            if progressed.wait(60):
                LocalStackService(fstack).stop()
        finally:
            stopped.set()

    stopper = threading.Thread(target=stop_localstack, name="stop-localstack")
    stopper.start()
    try:
        with pytest.raises(UploadError) as failure:
            upload_file(fstack, path, key=key, on_progress=on_progress)
    finally:
        stopped.set()
        stopper.join(60)
    message = str(failure.value)
    _message_is_for_people(message)
    assert "cannot reach LocalStack" in message and "csvdrop stack up" in message and "retry" in message, message
    assert not LocalStackService(fstack).healthy()

    bring_up(fstack, print, use_docker=False)
    result = upload_file(fstack, path, key=key)
    row = wait_for_row(fstack, key, result.etag, timeout=90)
    assert row["status"] == "PROCESSED", row["error"]
    assert row["size_bytes"] == path.stat().st_size
    deliver_marker(fstack, "after-cut-off")  # the cut-off upload, were it to land late, has landed by now
    rows = rows_by_key(fstack, [key])[key]
    assert len(rows) == 1 and (rows[0]["etag"], rows[0]["revision"]) == (result.etag, row["revision"]), rows


def _s3_writes_refused(s3: Any, settings: Settings) -> bool:
    """True once `stack down` has its write barrier up (an S3 write answers 503) or LocalStack is gone. The
    probe deletes a key that never exists: a write the barrier counts, with no S3 event and no record."""
    try:
        s3.delete_object(Bucket=settings.bucket, Key="faults-probe/never-exists.csv")
    except ClientError as exc:
        return exc.response.get("Error", {}).get("Code") in ("ServiceUnavailable", "503")
    except BotoCoreError:  # connection refused or reset: stopped
        return True
    return False


def test_stack_down_with_uploads_in_flight_then_up_loses_nothing(fstack: Settings, tmp_path: Path) -> None:
    """Fault 7: `csvdrop stack down` while 20 uploads run, then `stack up` (restore + setup + reconcile).

    The first uploads finish; the ones the pool starts next are held mid-transfer (in their progress
    callback) until `stack down` refuses writes, so uploads are surely on the wire when it comes."""
    before = _all_rows(fstack)
    assert before, "earlier tests left no records to check for loss"
    prefix = _unique("")
    paths = []
    for i in range(20):
        path = tmp_path / f"in-flight-{i:02d}.csv"
        path.write_bytes(_csv_bytes(2 * MIB, seed=f"in-flight {i}"))
        paths.append(path)
    keys = {p: prefix + p.name for p in paths}
    outcomes: dict[Path, Any] = {}
    on_the_wire: set[Path] = set()
    lock = threading.Lock()
    finish_first = 4
    workers = fstack.parallel_uploads + 1
    writes_refused = threading.Event()

    def upload(path: Path) -> None:
        held = paths.index(path) >= finish_first

        def hold(sent: int, total: int) -> None:
            if held and sent < total and not writes_refused.is_set():
                with lock:
                    on_the_wire.add(path)
                writes_refused.wait(120)

        try:
            outcome: Any = upload_file(fstack, path, key=keys[path], on_progress=hold)
        except UploadError as exc:
            outcome = exc
        with lock:
            outcomes[path] = outcome

    probe = aws.client(fstack, "s3", timeout_s=5, retries=1)
    probe_failures: list[BaseException] = []

    def release_when_writes_are_refused() -> None:
        try:
            wait_until(lambda: _s3_writes_refused(probe, fstack), 60, "`stack down` to refuse S3 writes", interval=0.05)
        except BaseException as exc:
            probe_failures.append(exc)
        finally:
            writes_refused.set()

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(upload, p) for p in paths]
        wait_until(
            lambda: len(outcomes) >= finish_first and len(on_the_wire) >= workers,
            60,
            f"{finish_first} uploads done and {workers} held mid-transfer",
        )
        releaser = threading.Thread(target=release_when_writes_are_refused, name="release-uploads")
        releaser.start()
        try:
            stack_down(fstack, print)
        finally:
            releaser.join(90)
        for future in futures:
            future.result(timeout=120)
    assert not probe_failures, probe_failures
    failed = [p for p, o in outcomes.items() if isinstance(o, UploadError)]
    succeeded = [p for p, o in outcomes.items() if not isinstance(o, UploadError)]
    print(f"stack down mid-way: {len(succeeded)} uploads had finished, {len(failed)} were cut off")
    assert failed, "every upload finished before the stack went down: nothing was in flight"
    for path in failed:
        _message_is_for_people(str(outcomes[path]))

    bring_up(fstack, print, use_docker=False)
    s3 = aws.client(fstack, "s3")
    lost = []
    for path in succeeded:  # reported as uploaded: the object must have survived down/up
        try:
            s3.head_object(Bucket=fstack.bucket, Key=keys[path])
        except s3.exceptions.ClientError:
            lost.append(path.name)
    assert not lost, f"uploads reported as done but gone after stack down/up: {lost}"
    for path in failed:  # the user presses Retry
        upload_file(fstack, path, key=keys[path])
    revisions = {}
    for path in paths:
        etag = s3.head_object(Bucket=fstack.bucket, Key=keys[path])["ETag"].strip('"')
        row = wait_for_row(fstack, keys[path], etag, timeout=90)
        assert row["status"] == "PROCESSED", (path.name, row["error"])
        revisions[keys[path]] = row["revision"]
    deliver_marker(fstack, "after-retries")  # a cut-off upload landing late, or a second delivery, has by now
    rows = rows_by_key(fstack, list(keys.values()))
    rewritten = {k: r for k, r in rows.items() if [x["revision"] for x in r] != [revisions[k]]}
    assert not rewritten, rewritten
    after = _all_rows(fstack)
    assert before.keys() <= after.keys(), f"records lost: {sorted(before.keys() - after.keys())}"
