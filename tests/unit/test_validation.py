"""backend.validation: the desktop app's pre-upload check and folder expansion."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from testsupport import validate_as_nobody

from backend import validation
from backend.validation import ValidationResult, expand_paths, validate_file

LIMIT = 10 * 1024 * 1024


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_ok_result_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "sales.csv", "id;price\n1;2,5\n")
    got = validate_file(path, LIMIT)
    assert got == ValidationResult(path, True, None, 15, "utf-8", ";", 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.ok = False  # type: ignore[misc]


def test_missing_file(tmp_path: Path) -> None:
    got = validate_file(tmp_path / "gone.csv", LIMIT)
    assert not got.ok and got.size_bytes == 0
    assert got.reason is not None and got.reason.startswith("gone.csv: ") and "does not exist" in got.reason


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    got = validate_file(tmp_path, LIMIT)
    assert not got.ok and got.reason is not None and "folder" in got.reason


def _reason_seen_by_an_unprivileged_user(path: Path) -> str | None:
    """validate_file(path) in a child process that dropped to user `nobody`: root reads any file, and CI runs
    as root, so this is how the permission check meets a real "permission denied" there. The child comes from a
    fork server (a fresh, single-threaded process), never a fork of the threaded test process."""
    context = multiprocessing.get_context("forkserver")
    with context.Pool(1) as pool:
        return pool.apply(validate_as_nobody, (path, LIMIT))


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_unreadable_file() -> None:
    # A folder of its own under the system temp folder, which every user can traverse (pytest's tmp_path
    # is private to its user, so `nobody` could not even reach the file).
    folder = Path(tempfile.mkdtemp(prefix="csvdrop-unreadable-"))
    folder.chmod(0o711)
    path = write(folder, "secret.csv", "a,b\n1,2\n")
    path.chmod(0)
    try:
        reason = _reason_seen_by_an_unprivileged_user(path) if os.geteuid() == 0 else validate_file(path, LIMIT).reason
    finally:
        shutil.rmtree(folder)
    assert reason == (
        "secret.csv: the file cannot be read (permission denied); check its permissions or copy it elsewhere."
    )


def test_size_limit_is_inclusive_and_message_says_what_to_change(tmp_path: Path) -> None:
    body = "a,b\n" + "1,2\n" * 30
    at = write(tmp_path, "at.csv", body)
    over = write(tmp_path, "over.csv", body + "\n")
    limit = len(body)
    assert validate_file(at, limit).ok
    got = validate_file(over, limit)
    assert not got.ok and got.size_bytes == limit + 1
    assert got.reason is not None
    assert f"{limit + 1:,} bytes" in got.reason and f"{limit:,} bytes" in got.reason
    assert "max_file_bytes" in got.reason and "CSVDROP_MAX_FILE_BYTES" in got.reason


def test_a_ragged_minority_is_accepted_and_no_consistent_table_is_rejected(tmp_path: Path) -> None:
    """The Lambda pads or cuts a minority of ragged rows (with a warning); only no consistent table is refused."""
    got = validate_file(write(tmp_path, "r.csv", 'a,b\n1,2\n"x\ny",2\n3,4,5\n'), LIMIT)
    assert got.ok and got.column_count == 2, got.reason
    got = validate_file(write(tmp_path, "chaos.csv", "a,b\n1,2,3\n4,5,6,7\n8,9,10,11,12\n1,2,3,4,5,6\n"), LIMIT)
    assert got.reason is not None
    assert "only 20% of the 5 rows have the table's 2 fields" in got.reason
    assert "no consistent table" in got.reason.lower() and "line 2" in got.reason


def test_only_the_first_records_are_checked(tmp_path: Path) -> None:
    """Documented limit: the Lambda checks every row, the app only a sample of SAMPLE_RECORDS records."""
    chaos = "".join(f"{','.join(['1'] * (3 + i % 5))}\n" for i in range(3 * validation.SAMPLE_RECORDS))
    rows = "a,b\n" + "1,2\n" * (validation.SAMPLE_RECORDS + 10) + chaos
    assert validate_file(write(tmp_path, "late.csv", rows), LIMIT).ok
    rows = "a,b\n" + "1,2\n" * 20 + chaos
    assert not validate_file(write(tmp_path, "early.csv", rows), LIMIT).ok


def test_unterminated_quote(tmp_path: Path) -> None:
    got = validate_file(write(tmp_path, "q.csv", 'a,b\n1,"open\n2,3\n'), LIMIT)
    assert got.reason is not None and "line 2 is never closed" in got.reason


def test_stray_quote_is_read_leniently(tmp_path: Path) -> None:
    got = validate_file(write(tmp_path, "s.csv", 'a,b\n5" tv,1\n"x"y,2\n'), LIMIT)
    assert got.ok and got.column_count == 2


def test_single_column(tmp_path: Path) -> None:
    got = validate_file(write(tmp_path, "one.csv", "name\nSmith, John\nDoe, Jane\n"), LIMIT)
    assert (got.ok, got.delimiter, got.column_count) == (True, None, 1)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"\x1f\x8b\x08\x00xx", "gzip"),
        (b"PK\x03\x04xx", "Excel workbook or ZIP archive renamed .csv; export it as CSV"),
        (b"a,b\n1,\x002\n", "NUL byte at offset 6"),
        (b"\xff\xfe" + b"a\x00" + b"\x00\xd8", "not valid UTF-16"),
        (b"\n\n", "only empty lines"),
    ],
)
def test_rejections_name_the_file(tmp_path: Path, data: bytes, words: str) -> None:
    got = validate_file(write(tmp_path, "f.csv", data), LIMIT)
    assert not got.ok and got.reason is not None
    assert got.reason.startswith("f.csv: ") and words in got.reason


def test_expand_paths(tmp_path: Path) -> None:
    top = tmp_path / "drop"
    (top / "sub" / "deeper").mkdir(parents=True)
    (top / ".hidden").mkdir()
    for rel in ["b.csv", "a.CSV", "notes.txt", "sub/c.csv", "sub/deeper/d.csv", ".hidden/x.csv", "._mac.csv"]:
        (top / rel).write_text("a\n1\n")
    single = tmp_path / "single.txt"
    single.write_text("x")
    got = expand_paths([single, top, top / "b.csv", top / "sub" / ".." / "b.csv", single])
    assert got == [single, top / "a.CSV", top / "b.csv", top / "sub" / "c.csv", top / "sub" / "deeper" / "d.csv"]


def test_expand_paths_keeps_missing_files_for_the_validator_to_report(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    assert expand_paths(iter([missing])) == [missing]
    assert not validate_file(missing, LIMIT).ok


@pytest.mark.skipif(not hasattr(os, "nice"), reason="no process priorities on this system")
def test_isolated_checks_run_below_the_app_priority() -> None:
    """The check workers yield the CPU to the app: on a 2-core machine two busy workers at the same priority
    left the GUI process waiting for a core while a drop of 50 files was checked."""
    worker_niceness = validation._pool().submit(os.nice, 0).result(timeout=60)
    assert worker_niceness >= min(19, os.nice(0) + 10)
