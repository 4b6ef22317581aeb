"""The MySQL batch fast path's pure parts: the count statement standing for a run of +1/-1 statements, and the
grouping of new rows into INSERTs of bounded size."""

from __future__ import annotations

import itertools

import pytest
from store_fixtures import store_writer


def _count_sql(n: int | None, params: tuple[str, int, int, int]) -> int:
    """``_COUNT_SQL``'s effect on a counts row holding ``n`` (None: no row): INSERT value, or n + delta."""
    _, _, insert, delta = params
    return insert if n is None else n + delta


@pytest.mark.parametrize("start", [None, 0, 5])
@pytest.mark.parametrize("length", [1, 2, 3, 4])
def test_one_count_statement_does_what_its_run_of_statements_does(start: int | None, length: int) -> None:
    for deltas in itertools.product((1, -1), repeat=length):
        sequential = start
        for delta in deltas:  # what _upsert_row runs: (b, r, 1, 1) for +1, (b, r, 0, -1) for -1
            sequential = _count_sql(sequential, ("b", 0, 1 if delta > 0 else 0, delta))
        one = store_writer._count_params("b", 0, deltas[0], sum(deltas))
        assert _count_sql(start, one) == sequential, deltas


def test_new_rows_go_in_bounded_inserts_in_batch_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_writer, "_INSERT_CHUNK_CHARS", 10)
    rows = [["aaaa", 1], ["bbbb", None], ["cccc"], ["x" * 25], ["dd"], ["ee"]]
    # A row larger than the bound goes alone; nothing is split, dropped or reordered.
    assert store_writer._chunks(rows) == [[["aaaa", 1], ["bbbb", None]], [["cccc"]], [["x" * 25]], [["dd"], ["ee"]]]
    assert store_writer._chunks([]) == []


def test_the_multi_row_insert_repeats_the_single_row_values() -> None:
    one = store_writer._INSERT_SQL
    three = store_writer._insert_rows_sql(3)
    head, row = one.split(" VALUES ", 1)
    assert three == f"{head} VALUES {row}, {row}, {row}" and store_writer._insert_rows_sql(1) == one
    assert three.count("%s") == 3 * one.count("%s")
