"""`csvdrop teardown` on the real stack: every step of a real environment removed, and it is really gone."""

from __future__ import annotations

import re

import pytest
from pipeline_helpers import run_cli
from testsupport import assert_environment_gone

from backend.config import Settings

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def test_teardown_removes_a_real_environment_and_says_so_per_step(separate_environment: Settings) -> None:
    done = run_cli(separate_environment, "teardown", "--yes", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _statuses(done.stdout) == ["removed"] * 6, done.stdout
    assert_environment_gone(separate_environment)
    again = run_cli(separate_environment, "teardown", "--yes", timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _statuses(again.stdout) == ["absent"] * 6, again.stdout


def _statuses(output: str) -> list[str]:
    """The status word of each step line (`<symbol> <title padded> <status> <detail>  (<seconds> s)`)."""
    found = (STEP_LINE.match(line) for line in output.splitlines())
    return [match.group(1) for match in found if match]


STEP_LINE = re.compile(r"^\S+ .*? (removed|absent|failed|skipped|not run) ")
