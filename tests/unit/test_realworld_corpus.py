"""The real-world corpus (tests/data/realworld/: files from released packages, expectations from their
sources) through the Lambda's profiler and the desktop check.

The bar (issue: "never silently wrong"): every file whose table differs from its source's expectation carries
a warning or is FAILED with a reason, and at least 90 % of the files come out exactly right. The files are
downloaded once per machine by ``python tests/data/realworld/corpus.py`` (scripts/run-tests.sh runs it); a
missing download is a failure, never a skip."""

from __future__ import annotations

import pytest
from data.realworld import corpus
from lambda_loader import load_lambda_module

from backend import validation

csv_metadata = load_lambda_module("csv_metadata")
ENTRIES = corpus.entries()


@pytest.fixture(scope="session")
def materialised() -> dict[str, corpus.CorpusFile]:
    return {f.name: f for f in corpus.materialise()}


def read(entry: corpus.CorpusFile) -> tuple[corpus.Verdict, dict | None]:
    try:
        got = csv_metadata.profile_csv(entry.path.read_bytes())
    except csv_metadata.CsvProfileError as exc:
        return corpus.judge(entry.expect, None, None, error=str(exc)), None
    verdict = corpus.judge(
        entry.expect,
        got["row_count"],
        got["column_count"],
        got["has_header"],
        got["column_names"],
        warned=bool(got["warnings"]),
    )
    return verdict, got


def test_the_corpus_is_large_real_and_sourced() -> None:
    assert len(ENTRIES) >= 100
    assert len({e.package for e in ENTRIES}) >= 8
    for entry in ENTRIES:
        assert entry.evidence, entry.name
        assert entry.expect.get("valid") is False or {"rows", "columns"} <= set(entry.expect), entry.name
    assert sum(e.kind == "open-data export" for e in ENTRIES) >= 15


@pytest.mark.parametrize("name", [e.name for e in ENTRIES])
def test_right_or_says_so(name: str, materialised: dict[str, corpus.CorpusFile]) -> None:
    entry = materialised[name]
    verdict, got = read(entry)
    assert not verdict.silently_wrong, f"{name}: {verdict.got}, {verdict.why} and no warning ({entry.evidence})"
    local = validation.validate_file(entry.path, 10**9)
    if got is None:
        return
    assert local.ok, local.reason  # accepted locally <=> processed
    assert (local.encoding, local.delimiter) == (got["encoding"], got["delimiter"])


def test_nine_files_in_ten_exactly_right(materialised: dict[str, corpus.CorpusFile]) -> None:
    verdicts = {name: read(entry)[0] for name, entry in materialised.items()}
    exact = [n for n, v in verdicts.items() if v.outcome == "exact"]
    wrong = {n: f"{v.got} ({v.why})" for n, v in verdicts.items() if v.outcome != "exact"}
    assert len(exact) >= 0.9 * len(verdicts), wrong
