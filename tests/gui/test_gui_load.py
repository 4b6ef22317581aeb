"""50 files queued at once: the window keeps its event loop turning while they validate and upload.

Validation is the real backend.validation; the network boundary is the fake, with realistic pacing (64 KiB
chunks every 5 ms, i.e. ~12 MB/s per upload, like a local S3) and a record per upload as the Lambda would.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from gui_fakes import BUCKET, EventLoopGaps, FakeBackend

from backend.config import MB, Settings, load_settings
from gui.uploads import UploadState

FILES = 50


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The shared ``window`` fixture's settings, with three parallel uploads and the real 10 MB limit."""
    return load_settings(
        env={},
        config_path=tmp_path / "config" / "config.toml",
        state_dir=tmp_path / "state",
        bucket=BUCKET,
        poll_interval_ms=50,
        parallel_uploads=3,
        max_file_bytes=10 * MB,
    )


def _csv(i: int, rows: int) -> str:
    return "id,name,amount,day\n" + "".join(
        f"{r},name {i} {r},{r * 0.5:.1f},2026-01-{1 + r % 28:02d}\n" for r in range(rows)
    )


def test_50_files_at_once_keep_the_event_loop_turning(
    qtbot: Any, window: Any, backend: FakeBackend, tmp_path: Path
) -> None:
    backend.chunk, backend.chunk_delay = 64 * 1024, 0.005
    backend.auto_process = True
    folder = tmp_path / "drop"
    folder.mkdir()
    for i in range(FILES):  # 10 KB .. ~1.5 MB: validation reads real bytes
        (folder / f"f{i:02d}.csv").write_text(_csv(i, 300 + (i % 10) * 4000), encoding="utf-8")

    with EventLoopGaps() as loop:
        started = time.monotonic()
        window.add_paths(sorted(folder.glob("*.csv")))
        qtbot.waitUntil(lambda: sum(i.state == UploadState.DONE for i in window.uploads.items) == FILES, timeout=60000)
        elapsed = time.monotonic() - started
        qtbot.wait(200)

    assert len(window.uploads.items) == FILES
    assert sorted(backend.uploaded) == sorted(f"f{i:02d}.csv" for i in range(FILES))
    # Large files 3 at a time, small ones (under 1 MiB) in their own lane of 12.
    assert backend.max_parallel_seen <= 3 + window.settings.small_uploads_at_once == 15
    assert len(loop.gaps) > 50
    worst = loop.worst
    print(f"\n{FILES} files done in {elapsed:.1f} s; {len(loop.gaps)} ticks, worst gap {worst:.0f} ms")
    assert worst < 100, f"the GUI thread stalled for {worst:.0f} ms"
