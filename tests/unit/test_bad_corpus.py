"""Every file of tests/data/bad/ through both the desktop validator and the Lambda profiler.

Outcomes come from tests/data/bad/expected.json (written by hand from the CSV rules, not from the code's
output); big files are generated per session by tests/data/make_corpus.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from data import make_corpus
from lambda_loader import load_lambda_module

from backend import validation
from backend.config import MB, Settings

csv_metadata = load_lambda_module("csv_metadata")
BAD = make_corpus.BAD_DIR
EXPECTED: dict[str, dict] = json.loads((BAD / "expected.json").read_text(encoding="utf-8"))
LIMIT = Settings.max_file_bytes


@pytest.fixture(scope="session")
def large_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_corpus.write_large(tmp_path_factory.mktemp("bad-large"))[0].parent


def corpus_path(name: str, large_dir: Path) -> Path:
    return large_dir / name if EXPECTED[name].get("generated") else BAD / name


def test_limit_is_10_mib() -> None:
    assert LIMIT == 10 * MB == 10 * 1024 * 1024


def test_corpus_is_complete_and_committed_files_are_current() -> None:
    committed = {p.name for p in BAD.glob("*.csv")}
    assert committed == set(make_corpus.SMALL)
    assert set(EXPECTED) == set(make_corpus.SMALL) | set(make_corpus.LARGE)
    assert len(EXPECTED) >= 30
    for name, make in make_corpus.SMALL.items():
        assert (BAD / name).read_bytes() == make(), f"{name} differs: run python tests/data/make_corpus.py"
        assert (BAD / name).stat().st_size < 1_000_000


def test_generated_sizes() -> None:
    assert len(make_corpus.LARGE["exactly_10mib.csv"]()) == 10 * 1024 * 1024
    assert len(make_corpus.LARGE["10mib_plus_1.csv"]()) == 10 * 1024 * 1024 + 1
    line = make_corpus.LARGE["single_5mb_line.csv"]().split(b"\n")[1]
    assert len(line) > 5_000_000


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_validator(name: str, large_dir: Path) -> None:
    path = corpus_path(name, large_dir)
    want = EXPECTED[name]["validator"]
    got = validation.validate_file(path, LIMIT)
    assert got.path == path
    assert got.size_bytes == path.stat().st_size
    if want["ok"]:
        assert got.ok, got.reason
        assert got.reason is None
        for key in ("column_count", "encoding", "delimiter"):
            assert getattr(got, key) == want[key], key
    else:
        assert not got.ok
        assert got.reason is not None
        assert got.reason.startswith(f"{name}: ")
        assert want["reason"].lower() in got.reason.lower()
        assert "Traceback" not in got.reason


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_lambda(name: str, large_dir: Path) -> None:
    data = corpus_path(name, large_dir).read_bytes()
    want = dict(EXPECTED[name]["lambda"])
    status = want.pop("status")
    if status == "FAILED":
        with pytest.raises(csv_metadata.CsvProfileError) as info:
            csv_metadata.profile_csv(data)
        message = str(info.value)
        assert want["error"].lower() in message.lower()
        assert "Traceback" not in message and len(message) < 600
        return
    got = csv_metadata.profile_csv(data)
    json.dumps(got, allow_nan=False)  # the record must be plain JSON
    warned = [{"code": w["code"], "lines": w["lines"]} for w in got["warnings"]]
    assert warned == want.pop("warnings", [])
    for key, value in want.items():
        assert got[key] == value, key
    assert len(got["column_names"]) == len(got["columns"]) == got["column_count"]
    assert len(got["sample_rows"]) == min(5, got["row_count"])
    assert all(len(r) == got["column_count"] for r in got["sample_rows"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_validator_and_lambda_agree(name: str, large_dir: Path) -> None:
    """Accepted locally <=> PROCESSED (except the size limit, which only the app applies)."""
    path = corpus_path(name, large_dir)
    local = validation.validate_file(path, 10**9)
    try:
        remote = csv_metadata.profile_csv(path.read_bytes())
    except csv_metadata.CsvProfileError:
        assert not local.ok
        return
    assert local.ok, local.reason
    assert (local.encoding, local.delimiter, local.column_count) == (
        remote["encoding"],
        remote["delimiter"],
        remote["column_count"],
    )


def test_one_set_of_rules() -> None:
    """The desktop check and the Lambda decide with the same module (shipped in the function zip)."""
    # csvtable is the module validation imported, not a name it exports: reached for on purpose.
    assert validation.csvtable is csv_metadata.csvtable  # type: ignore[attr-defined]
    for p in sorted(BAD.glob("*.csv")):
        data = p.read_bytes()
        assert validation.check_magic(data) == csv_metadata.check_magic(data), p.name
