"""Every `csvdrop` command without a stack: the backend functions it calls are replaced by fakes, so these tests
check what the command asks for, what it prints (plain lines for scripts, rich on a terminal) and its exit code.
The same commands against a real stack: tests/integration/test_cli_pipeline.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result
from store_fixtures import expected_json, make_record, warned_record

from backend.cli import csvdrop
from backend.cli.setup import NOT_RUN_SYMBOL, STEP_STYLES, STEP_SYMBOLS
from backend.config import Settings
from backend.environment import BringUp
from backend.notices import Notice
from backend.stack import ServiceStatus
from backend.steps import STATUSES, PlanOutcome, Status, Step, StepResult
from backend.store import MetadataRecord, RecordPage, RecordQuery
from backend.upload import UploadError, UploadResult

Invoke = Callable[..., Result]
CSV = "when,amount\n2026-01-02,1.5\n2026-01-03,2.5\n"


@pytest.fixture()
def invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    """Runs `csvdrop ARGS` in-process with settings of the test's own (never the developer's)."""
    for name in list(os.environ):
        if name.startswith("CSVDROP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CSVDROP_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("CSVDROP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CSVDROP_BUCKET", "bkt")
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(csvdrop, list(args), input=input, catch_exceptions=False)

    return run


@pytest.fixture()
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands believe stdout is a terminal, 120 columns wide, and render with rich (into the runner's
    capture)."""
    monkeypatch.setattr("backend.cli._common.stdout_is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "120")


def record(key: str = "data/a.csv", **overrides: Any) -> MetadataRecord:
    return MetadataRecord.from_json_dict(expected_json(make_record(key, **overrides)), revision=1)


class FakeReader:
    """The metadata store: ``records`` by key; remembers every query and whether it was closed."""

    def __init__(self, records: list[MetadataRecord] | None = None, total: int | None = None) -> None:
        self.records = {r.key: r for r in records or []}
        self.total = total
        self.queries: list[RecordQuery] = []
        self.gets: list[tuple[str, str]] = []
        self.closed = False

    def list(self, query: RecordQuery) -> RecordPage:
        self.queries.append(query)
        found = list(self.records.values())
        return RecordPage(found, len(found) if self.total is None else self.total)

    def get(self, bucket: str, key: str) -> MetadataRecord | None:
        self.gets.append((bucket, key))
        return self.records.get(key)

    def close(self) -> None:
        self.closed = True


@pytest.fixture()
def reader(monkeypatch: pytest.MonkeyPatch) -> FakeReader:
    fake = FakeReader()
    monkeypatch.setattr("backend.store.open_reader", lambda _settings: fake)
    return fake


# ------------------------------------------------------------------------------------------ stack
SERVICES = [
    ServiceStatus("localstack", "http://127.0.0.1:4566", True, "version 4; running: s3", True),
    ServiceStatus("mysql", "127.0.0.1:3307", False, "not answering", False),
]


def test_stack_status_exits_3_when_a_service_is_down(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("backend.stack.stack_status", lambda _settings: SERVICES)
    done = invoke("stack", "status")
    assert done.exit_code == 3
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["localstack", "healthy", "http://127.0.0.1:4566"]
    assert lines[1].split()[:2] == ["mysql", "DOWN"] and "external" in lines[1]
    listed = invoke("stack", "status", "--json")
    assert listed.exit_code == 3
    assert json.loads(listed.stdout) == [dataclasses.asdict(service) for service in SERVICES]
    monkeypatch.setattr("backend.stack.stack_status", lambda _settings: SERVICES[:1])
    assert invoke("stack", "status").exit_code == 0


def test_stack_status_on_a_terminal_is_a_table(invoke: Invoke, monkeypatch: pytest.MonkeyPatch, terminal: None) -> None:
    monkeypatch.setattr("backend.stack.stack_status", lambda _settings: SERVICES)
    done = invoke("stack", "status")
    assert done.exit_code == 3 and "SERVICE" in done.stdout and "DOWN" in done.stdout
    assert json.loads(invoke("stack", "status", "--json").stdout)[1]["healthy"] is False


def test_stack_up_brings_the_environment_up_then_shows_the_services(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[Settings] = []
    restored = BringUp("started")

    def bring_up(settings: Settings, say: Callable[[str], None]) -> BringUp:
        asked.append(settings)
        say("localstack: already running")
        return restored

    monkeypatch.setattr("backend.environment.bring_up", bring_up)
    monkeypatch.setattr("backend.stack.stack_status", lambda _settings: SERVICES)
    done = invoke("stack", "up")
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0] == "localstack: already running"
    assert lines[1].startswith("localstack") and lines[-1].startswith("stack up in ")
    assert [settings.bucket for settings in asked] == ["bkt"]
    # A restart whose re-setup failed leaves the services running but the environment broken: exit 1.
    failed = StepResult("function", "failed", "the function failed to deploy")
    restored = BringUp("started", setup=PlanOutcome((failed,), ("S3 -> Lambda trigger",), stopped=False))
    assert invoke("stack", "up").exit_code == 1


def test_stack_down_and_logs(invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("backend.stack.stack_down", lambda _settings, say: say("localstack: stopped"))
    assert invoke("stack", "down").stdout == "localstack: stopped\n"
    asked: list[tuple[str, int]] = []

    def stack_logs(_settings: Settings, service: str, lines: int) -> tuple[Path, str]:
        asked.append((service, lines))
        return tmp_path / f"{service}.log", "last line"

    monkeypatch.setattr("backend.stack.stack_logs", stack_logs)
    done = invoke("stack", "logs")
    assert (done.exit_code, done.stdout) == (0, f"==> {tmp_path / 'localstack.log'} <==\nlast line\n")
    assert invoke("stack", "logs", "--service", "mysql", "--lines", "7").exit_code == 0
    assert asked == [("localstack", 50), ("mysql", 7)]


# ------------------------------------------------------------------------------------------ setup, teardown
def test_every_step_status_has_a_symbol_and_a_style() -> None:
    assert set(STEP_SYMBOLS) == set(STATUSES)
    assert set(STEP_STYLES) == set(STATUSES)
    symbols = list(STEP_SYMBOLS.values())
    assert len(set(symbols)) == len(symbols) and all(len(symbol) == 1 for symbol in symbols)
    assert NOT_RUN_SYMBOL not in symbols


class FakePlan:
    """Steps whose actions return the given statuses, in order; remembers which ran."""

    def __init__(self, settings: Settings, *statuses: Status) -> None:
        self.ran: list[str] = []
        self.steps = [
            Step(f"step{index}", f"Step number {index}", self._action(f"step{index}", status), settings)
            for index, status in enumerate(statuses)
        ]

    def _action(self, name: str, status: Status) -> Callable[[], tuple[Status, str]]:
        def action() -> tuple[Status, str]:
            self.ran.append(name)
            return status, f"{name} is {status}"

        return action


@pytest.fixture()
def plan_settings(tmp_path: Path) -> Settings:
    from testsupport import isolated_settings

    return isolated_settings(tmp_path)


def test_setup_stops_at_the_first_failed_step_and_prints_the_steps_not_run(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, plan_settings: Settings
) -> None:
    plan = FakePlan(plan_settings, "found", "created", "failed", "passed", "skipped")
    emails: list[str | None] = []

    def setup_steps(_settings: Settings, notify_email: str | None = None) -> list[Step]:
        emails.append(notify_email)
        return plan.steps

    monkeypatch.setattr("backend.provisioning.setup_steps", setup_steps)
    done = invoke("setup", "--notify-email", "ops@example.com")
    assert done.exit_code == 1
    assert plan.ran == ["step0", "step1", "step2"] and emails == ["ops@example.com"]
    lines = done.stdout.splitlines()
    assert [line[0] for line in lines[:5]] == ["=", "+", "!", NOT_RUN_SYMBOL, NOT_RUN_SYMBOL]
    assert lines[2].split()[4:7] == ["failed", "step2", "is"]
    assert lines[3].split()[:6] == [NOT_RUN_SYMBOL, "Step", "number", "3", "not", "run"]
    assert "(earlier step failed)" in lines[3]
    assert lines[-1].startswith("setup failed: fix the step above and run `csvdrop setup` again")


def test_setup_that_finds_everything_exits_0(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, plan_settings: Settings
) -> None:
    plan = FakePlan(plan_settings, "found", "skipped", "passed")
    monkeypatch.setattr("backend.provisioning.setup_steps", lambda _settings, _email=None: plan.steps)
    done = invoke("setup")
    assert done.exit_code == 0, done.output
    assert [line[0] for line in done.stdout.splitlines()] == ["=", "-", "✓", "e"]
    assert done.stdout.splitlines()[-1] == "environment ready"


def test_setup_on_a_terminal_is_a_live_table(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, plan_settings: Settings, terminal: None
) -> None:
    plan = FakePlan(plan_settings, "created", "failed", "passed")
    monkeypatch.setattr("backend.provisioning.setup_steps", lambda _settings, _email=None: plan.steps)
    done = invoke("setup")
    assert done.exit_code == 1
    for text in ("STEP", "Step number 0", "created", "step1 is failed", "Step number 2", "not run", "setup failed"):
        assert text in done.stdout, text


def test_teardown_without_yes_and_without_a_terminal_refuses(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, plan_settings: Settings
) -> None:
    plan = FakePlan(plan_settings, "removed")
    monkeypatch.setattr("backend.provisioning.teardown_steps", lambda _settings: plan.steps)
    done = invoke("teardown", input="yes\n")  # stdin is not a terminal: a piped "yes" is not a confirmation
    assert done.exit_code == 2
    assert done.stderr == "csvdrop: teardown deletes the bucket, its objects and the metadata: pass --yes to confirm\n"
    assert plan.ran == []


def test_teardown_asks_on_a_terminal(invoke: Invoke, monkeypatch: pytest.MonkeyPatch, plan_settings: Settings) -> None:
    plan = FakePlan(plan_settings, "removed", "absent")
    monkeypatch.setattr("backend.provisioning.teardown_steps", lambda _settings: plan.steps)
    monkeypatch.setattr("backend.cli.setup.stdin_is_terminal", lambda: True)
    declined = invoke("teardown", input="no\n")
    assert declined.exit_code == 1 and "Delete s3://bkt with every object" in declined.stdout
    assert declined.stdout.splitlines()[-1] == "nothing removed" and plan.ran == []
    confirmed = invoke("teardown", input="yes\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert plan.ran == ["step0", "step1"]
    assert [line[0] for line in confirmed.stdout.splitlines()[1:3]] == ["x", "."]


def test_teardown_stops_at_the_first_failed_step(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, plan_settings: Settings
) -> None:
    plan = FakePlan(plan_settings, "removed", "failed", "absent")
    monkeypatch.setattr("backend.provisioning.teardown_steps", lambda _settings: plan.steps)
    done = invoke("teardown", "--yes")
    assert done.exit_code == 1
    assert plan.ran == ["step0", "step1"]
    assert [line[0] for line in done.stdout.splitlines()] == ["x", "!", NOT_RUN_SYMBOL, "t"]


# ------------------------------------------------------------------------------------------ upload
class FakeUploads:
    """backend.upload.upload_file: reports progress in two chunks and returns an ETag per file."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.fail = fail or set()
        self.keys: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, settings: Settings, path: Path, *, key: str, on_progress: Any, cancel: Any) -> UploadResult:
        if path.name in self.fail:
            raise UploadError(f"{path.name}: the bucket 'bkt' does not exist; run Set up environment.")
        size = path.stat().st_size
        on_progress(size // 2, size)
        on_progress(size, size)
        with self.lock:
            self.keys.append(key)
        return UploadResult(key, f"etag-{path.name}", size, 0.01)


@pytest.fixture()
def uploads(monkeypatch: pytest.MonkeyPatch) -> FakeUploads:
    fake = FakeUploads()
    monkeypatch.setattr("backend.upload.upload_file", fake)
    return fake


@pytest.fixture()
def files(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "files"
    folder.mkdir()
    for name in ("a.csv", "b.csv", "c.csv"):
        (folder / name).write_text(CSV)
    (folder / "notes.txt").write_text("not picked from a folder")
    yield folder


def test_upload_of_a_folder_takes_its_csv_files(invoke: Invoke, uploads: FakeUploads, files: Path) -> None:
    done = invoke("upload", str(files))
    assert done.exit_code == 0, done.output
    assert sorted(uploads.keys) == ["a.csv", "b.csv", "c.csv"]
    uploaded = sorted(line for line in done.stdout.splitlines() if line.startswith("uploaded "))
    assert uploaded[0].startswith(f"uploaded {files / 'a.csv'} -> s3://bkt/a.csv (0.00 MB, ")


def test_upload_wait_prints_each_record(invoke: Invoke, uploads: FakeUploads, reader: FakeReader, files: Path) -> None:
    reader.records = {
        "a.csv": record("a.csv", etag="etag-a.csv", row_count=2, column_count=2),
        "b.csv": MetadataRecord.from_json_dict(expected_json(warned_record("b.csv", etag="etag-b.csv")), revision=1),
    }
    done = invoke("upload", str(files / "a.csv"), str(files / "b.csv"), "--wait")
    assert done.exit_code == 0, done.output
    assert f"processed {files / 'a.csv'}: 2 rows x 2 columns" in done.stdout.splitlines()
    assert f"processed {files / 'b.csv'}: 3 rows x 2 columns, 3 warnings (see `csvdrop show b.csv`)" in done.stdout
    assert reader.closed


def test_upload_wait_exits_1_for_a_failed_record_or_none(
    invoke: Invoke, uploads: FakeUploads, reader: FakeReader, files: Path
) -> None:
    reader.records = {"a.csv": record("a.csv", etag="etag-a.csv", status="FAILED", error="Line 3 has 4 fields.")}
    done = invoke("upload", str(files / "a.csv"), str(files / "b.csv"), "--wait", "--timeout", "0.3")
    assert done.exit_code == 1
    lines = done.stdout.splitlines()
    assert f"FAILED   {files / 'a.csv'}: Line 3 has 4 fields." in lines
    assert f"timeout  {files / 'b.csv'}: no record for s3://bkt/b.csv after 0.3 s" in lines
    # A record of an earlier upload of the same key (another ETag) is not this upload's record.
    reader.records = {"a.csv": record("a.csv", etag="an-older-upload")}
    assert "timeout  " in invoke("upload", str(files / "a.csv"), "--wait", "--timeout", "0.2").stdout


def test_upload_rejects_invalid_files_and_uploads_the_rest(
    invoke: Invoke, uploads: FakeUploads, files: Path, tmp_path: Path
) -> None:
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    done = invoke("upload", str(binary), str(tmp_path / "missing.csv"), str(files / "a.csv"))
    assert done.exit_code == 1
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["rejected", "rejected", "uploaded"]
    assert lines[0].startswith(f"rejected {binary}: image.csv: ")
    assert uploads.keys == ["a.csv"]


def test_upload_failure_is_a_line_and_exit_1(invoke: Invoke, monkeypatch: pytest.MonkeyPatch, files: Path) -> None:
    monkeypatch.setattr("backend.upload.upload_file", FakeUploads(fail={"b.csv"}))
    done = invoke("upload", str(files / "a.csv"), str(files / "b.csv"))
    assert done.exit_code == 1
    assert "failed   b.csv: the bucket 'bkt' does not exist; run Set up environment." in done.stdout.splitlines()
    assert any(line.startswith("uploaded ") for line in done.stdout.splitlines())


def test_upload_of_nothing_is_a_user_error(invoke: Invoke, tmp_path: Path) -> None:
    done = invoke("upload", str(tmp_path))
    assert (done.exit_code, done.stderr) == (2, "csvdrop: no CSV files found in what you named\n")


def _counting_uploads(monkeypatch: pytest.MonkeyPatch, together: int) -> list[int]:
    """Fakes upload_file: each upload waits until `together` are under way at once (a barrier, which breaks
    after 5 s: a lane narrower than that fails the uploads). Returns [most under way at once]."""
    running, most = [0], [0]
    lock = threading.Lock()
    meet = threading.Barrier(together, timeout=5)

    def upload_file(settings: Settings, path: Path, **_kwargs: Any) -> UploadResult:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        meet.wait()
        with lock:
            running[0] -= 1
        return UploadResult(path.name, "e", 1, 0.1)

    monkeypatch.setattr("backend.upload.upload_file", upload_file)
    return most


def test_upload_runs_large_files_settings_parallel_uploads_at_once(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    most = _counting_uploads(monkeypatch, together=2)
    monkeypatch.setenv("CSVDROP_PARALLEL_UPLOADS", "2")
    large = "a,b\n" + "1,2\n" * 262_144  # over 1 MiB: uploaded in parts
    for name in ("a.csv", "b.csv", "c.csv", "d.csv"):
        (tmp_path / name).write_text(large)
    assert invoke("upload", str(tmp_path)).exit_code == 0
    assert most == [2]


def test_upload_runs_small_files_in_a_wider_lane(invoke: Invoke, monkeypatch: pytest.MonkeyPatch, files: Path) -> None:
    most = _counting_uploads(monkeypatch, together=4)  # one parallel upload: 4 small files at once
    monkeypatch.setenv("CSVDROP_PARALLEL_UPLOADS", "1")
    (files / "d.csv").write_text(CSV)
    assert invoke("upload", str(files)).exit_code == 0
    assert most == [4]


def test_upload_on_a_terminal_draws_progress_and_keeps_the_result_lines(
    invoke: Invoke, uploads: FakeUploads, reader: FakeReader, files: Path, terminal: None
) -> None:
    reader.records = {"a.csv": record("a.csv", etag="etag-a.csv", row_count=2, column_count=2)}
    done = invoke("upload", str(files / "a.csv"), "--wait")
    assert done.exit_code == 0, done.output
    assert "all files" in done.stdout and "waiting for records" in done.stdout
    assert f"processed {files / 'a.csv'}: 2 rows x 2 columns" in done.stdout


# ------------------------------------------------------------------------------------------ list, show
def test_list_passes_every_filter_and_prints_an_aligned_table(invoke: Invoke, reader: FakeReader) -> None:
    reader.records = {
        "in/ok file.csv": record("in/ok file.csv", row_count=1200, column_count=4, size_bytes=98765),
        "in/bad.csv": record("in/bad.csv", status="FAILED", error="x", row_count=None, column_count=None),
    }
    reader.total = 7
    args = ("--status", "PROCESSED", "--warnings", "--name", "ok", "--limit", "5", "--sort", "size_bytes")
    done = invoke("list", *args, "--ascending")
    assert done.exit_code == 0, done.output
    (query,) = reader.queries
    assert (query.status, query.with_warnings, query.name_contains, query.limit, query.sort, query.descending) == (
        "PROCESSED",
        True,
        "ok",
        5,
        "size_bytes",
        False,
    )
    assert reader.closed
    header, first, second, total = done.stdout.splitlines()
    assert header.split() == ["STATUS", "WARN", "ROWS", "COLS", "SIZE", "UPLOADED", "(UTC)", "KEY"]
    assert first.split() == ["PROCESSED", "-", "1200", "4", "98765", "2026-11-25", "21:00:00", "in/ok", "file.csv"]
    assert second.split()[:4] == ["FAILED", "-", "-", "-"] and second.endswith("  in/bad.csv")
    assert header.index("KEY") == first.index("in/ok file.csv") == second.index("in/bad.csv")
    assert total == "2 of 7 records"
    invoke("list")
    assert (reader.queries[1].sort, reader.queries[1].descending, reader.queries[1].limit) == ("uploaded_at", True, 100)


def test_list_json_is_one_object_per_line(invoke: Invoke, reader: FakeReader) -> None:
    records = [record("a.csv"), record("b.csv", status="FAILED", error="bad")]
    reader.records = {r.key: r for r in records}
    done = invoke("list", "--json")
    assert done.exit_code == 0
    assert [json.loads(line) for line in done.stdout.splitlines()] == [r.to_json_dict() for r in records]


def test_list_says_when_there_is_nothing(invoke: Invoke, reader: FakeReader) -> None:
    assert invoke("list").stdout == "no records yet: upload a CSV with `csvdrop upload FILE`\n"
    assert invoke("list", "--status", "FAILED").stdout == "no records match\n"
    assert invoke("list", "--json").stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--sort", "colour"), "cannot sort by 'colour'; choose one of file_name, key,"), (("--limit", "0"), "limit")],
)
def test_list_refuses_a_query_the_store_cannot_run(
    invoke: Invoke, reader: FakeReader, args: tuple[str, ...], message: str
) -> None:
    done = invoke("list", *args)
    assert done.exit_code == 2 and done.stderr.startswith(f"csvdrop: {message}"), done.stderr
    assert reader.queries == []


def test_list_on_a_terminal_is_a_rich_table(invoke: Invoke, reader: FakeReader, terminal: None) -> None:
    reader.records = {"[brackets] stay.csv": record("[brackets] stay.csv")}
    done = invoke("list")
    assert done.exit_code == 0
    assert "[brackets] stay.csv" in done.stdout and "1 of 1 records" in done.stdout and "─" in done.stdout
    assert invoke("list", "--json").stdout.startswith("{")


def test_show_prints_the_record_for_people_and_for_scripts(invoke: Invoke, reader: FakeReader) -> None:
    shown = record("in/a.csv")
    reader.records = {"in/a.csv": shown}
    done = invoke("show", "in/a.csv")
    assert done.exit_code == 0
    assert done.stdout.splitlines()[:3] == [
        "bucket               bkt",
        "key                  in/a.csv",
        "status               PROCESSED",
    ]
    assert json.loads(invoke("show", "in/a.csv", "--json").stdout) == shown.to_json_dict()
    invoke("show", "in/a.csv", "--bucket", "other")
    assert reader.gets == [("bkt", "in/a.csv")] * 2 + [("other", "in/a.csv")]


def test_show_of_an_unknown_key_is_a_user_error(invoke: Invoke, reader: FakeReader) -> None:
    done = invoke("show", "nope.csv")
    assert done.exit_code == 2
    assert done.stderr == "csvdrop: no metadata for s3://bkt/nope.csv (not uploaded, or not processed yet)\n"
    assert reader.closed


# ------------------------------------------------------------------------------------------ notices, reconcile
def notice(name: str, minute: int, status: str = "PROCESSED") -> Notice:
    return Notice(
        message_id=f"m-{name}",
        bucket="bkt",
        key=name,
        file_name=name,
        status=status,
        row_count=2 if status == "PROCESSED" else None,
        column_count=3 if status == "PROCESSED" else None,
        error=None if status == "PROCESSED" else "Line 3 has 4 fields.",
        sent_at=dt.datetime(2026, 1, 2, 3, minute, tzinfo=dt.UTC),
    )


class FakeNoticeReader:
    """Hands out the given batches (newest first, as NoticeReader does), then Ctrl-C."""

    batches: ClassVar[list[list[Notice]]] = []
    waits: ClassVar[list[int]] = []
    closed: ClassVar[bool] = False

    def __init__(self, _settings: Settings, **_reader: object) -> None:
        pass

    def receive(self, wait_seconds: int = 1, max_messages: int = 10) -> list[Notice]:
        type(self).waits.append(wait_seconds)
        if not type(self).batches:
            raise KeyboardInterrupt
        return type(self).batches.pop(0)

    def close(self) -> None:
        type(self).closed = True


@pytest.fixture()
def notices(monkeypatch: pytest.MonkeyPatch) -> type[FakeNoticeReader]:
    monkeypatch.setattr(FakeNoticeReader, "batches", [[notice("b.csv", 5, "FAILED"), notice("a.csv", 4)]])
    monkeypatch.setattr(FakeNoticeReader, "waits", [])
    monkeypatch.setattr(FakeNoticeReader, "closed", False)
    monkeypatch.setattr("backend.notices.NoticeReader", FakeNoticeReader)
    return FakeNoticeReader


def test_notices_prints_oldest_first(invoke: Invoke, notices: type[FakeNoticeReader]) -> None:
    done = invoke("notices")
    assert done.exit_code == 0
    assert done.stdout.splitlines() == [
        "03:04:00 PROCESSED a.csv: 2 rows x 3 columns",
        "03:05:00 FAILED    b.csv: Line 3 has 4 fields.",
    ]
    assert notices.waits == [1] and notices.closed


def test_notices_json_is_one_object_per_line(invoke: Invoke, notices: type[FakeNoticeReader]) -> None:
    lines = [json.loads(line) for line in invoke("notices", "--json").stdout.splitlines()]
    assert [(n["key"], n["status"], n["sent_at"]) for n in lines] == [
        ("a.csv", "PROCESSED", "2026-01-02T03:04:00+00:00"),
        ("b.csv", "FAILED", "2026-01-02T03:05:00+00:00"),
    ]
    assert lines[0]["warning_codes"] == [] and lines[1]["error"] == "Line 3 has 4 fields."


def test_notices_follow_runs_until_ctrl_c(
    invoke: Invoke, notices: type[FakeNoticeReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FakeNoticeReader, "batches", [[notice("a.csv", 4)], [], [notice("c.csv", 6)]])
    done = invoke("notices", "-f")
    assert done.exit_code == 130
    assert [line.split()[2] for line in done.stdout.splitlines()] == ["a.csv:", "c.csv:"]
    assert notices.waits == [2, 2, 2, 2] and notices.closed


def test_notices_on_a_terminal(invoke: Invoke, notices: type[FakeNoticeReader], terminal: None) -> None:
    done = invoke("notices")
    assert "a.csv: 2 rows x 3 columns" in done.stdout and "\x1b[" in done.stdout


def test_reconcile_reports_what_it_did(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.reconcile import ReconcileReport

    asked: list[bool] = []

    def reconcile(_settings: Settings, *, dry_run: bool, on_message: Callable[[str], None]) -> ReconcileReport:
        asked.append(dry_run)
        if not dry_run:
            on_message("re-processing s3://bkt/x.csv")
        return ReconcileReport(4, 1, 0 if dry_run else 1, ("x.csv",))

    monkeypatch.setattr("backend.reconcile.reconcile", reconcile)
    dry = invoke("reconcile", "--dry-run")
    assert (dry.exit_code, dry.stdout) == (0, "4 objects, 1 without an up-to-date record, 0 re-processed\n")
    done = invoke("reconcile")
    assert done.stdout.splitlines() == [
        "re-processing s3://bkt/x.csv",
        "4 objects, 1 without an up-to-date record, 1 re-processed",
    ]
    assert asked == [True, False]
