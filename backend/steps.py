"""The one step runner: setup, teardown and the bring-up after a restart all run their steps here.

The rule, the same for every caller (CLI, GUI, provisioning): steps run in order; the first failed step stops
the plan, and every later step is reported as not run (later steps depend on earlier ones, and a repeated run
is safe because each step is idempotent). A cancel request stops the plan between steps, never inside one.

Progress is a stream of small frozen events, so the CLI can print lines and the GUI can fill a table from
the same run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from backend.config import Settings
from backend.errors import CsvDropError

Status = Literal["created", "found", "updated", "failed", "skipped", "removed", "absent", "passed"]
STATUSES: tuple[Status, ...] = get_args(Status)
NotRunReason = Literal["earlier step failed", "stopped"]


@dataclass(frozen=True)
class StepResult:
    name: str
    status: Status
    detail: str
    seconds: float = 0.0


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    action: Callable[[], tuple[Status, str]]
    settings: Settings

    def run(self) -> StepResult:
        """Never raises: a step that fails returns a failed result whose detail says why and what to do."""
        started = time.monotonic()
        try:
            status, detail = self.action()
        except CsvDropError as exc:
            status, detail = "failed", str(exc)
        except Exception as exc:
            status, detail = "failed", _failure_text(exc, self.settings)
        return StepResult(self.name, status, detail, time.monotonic() - started)


def _failure_text(exc: Exception, settings: Settings) -> str:
    # botocore is imported here, when a step fails, not with this module: the window imports the step events
    # at start-up, and botocore costs most of a second.
    from botocore.exceptions import BotoCoreError, ClientError

    from backend.aws import explain

    if isinstance(exc, (ClientError, BotoCoreError)):
        return explain(exc, settings)
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class PlanStarted:
    titles: tuple[str, ...]


@dataclass(frozen=True)
class StepStarted:
    index: int
    title: str


@dataclass(frozen=True)
class StepFinished:
    index: int
    title: str
    result: StepResult


@dataclass(frozen=True)
class StepNotRun:
    index: int
    title: str
    reason: NotRunReason


StepEvent = PlanStarted | StepStarted | StepFinished | StepNotRun


@dataclass(frozen=True)
class PlanOutcome:
    results: tuple[StepResult, ...]
    not_run: tuple[str, ...]
    stopped: bool

    @property
    def failed(self) -> StepResult | None:
        return next((r for r in self.results if r.status == "failed"), None)

    @property
    def ok(self) -> bool:
        return self.failed is None and not self.stopped

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)


def run_steps(
    steps: Sequence[Step],
    on_event: Callable[[StepEvent], None] | None = None,
    stop: threading.Event | None = None,
) -> PlanOutcome:
    emit = on_event or (lambda _event: None)
    emit(PlanStarted(tuple(step.title for step in steps)))
    results: list[StepResult] = []
    not_run: list[str] = []
    halted: NotRunReason | None = None
    for index, step in enumerate(steps):
        if halted is None and stop is not None and stop.is_set():
            halted = "stopped"
        if halted is not None:
            not_run.append(step.title)
            emit(StepNotRun(index, step.title, halted))
            continue
        emit(StepStarted(index, step.title))
        result = step.run()
        results.append(result)
        emit(StepFinished(index, step.title, result))
        if result.status == "failed":
            halted = "earlier step failed"
    return PlanOutcome(tuple(results), tuple(not_run), halted == "stopped")
