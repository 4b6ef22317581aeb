#!/usr/bin/env bash
# One command for the whole test suite: lint, types, the GUI/core import contract, then pytest
# (unit, real-stack integration, GUI offscreen). Installs what is missing first. Safe to run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
# The real-display test opens the window on an X server of its own and drives it with xdotool.
ensure_gui_packages xvfb xdotool x11-apps
cd "$ROOT"
export QT_QPA_PLATFORM=offscreen
# The real-world CSV corpus: pinned package releases, downloaded once per machine (tests/data/realworld/).
"$PY" tests/data/realworld/corpus.py
.venv/bin/ruff format --check .
.venv/bin/ruff check .
.venv/bin/mypy
# The run above leaves out the conftest.py of each test folder: with tests/conftest.py they are modules all named
# "conftest", which one mypy run cannot hold. Each is checked in a run of its own, with the same settings (whose
# overrides for other modules go unused there: no note about it).
for conftest in tests/*/conftest.py; do
    .venv/bin/mypy --no-warn-unused-configs "$conftest"
done
.venv/bin/lint-imports
exec .venv/bin/pytest "$@"
