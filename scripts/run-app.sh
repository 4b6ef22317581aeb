#!/usr/bin/env bash
# One command to use CSV Drop: installs what is missing, brings the local cloud up (no Docker needed),
# and opens the window. Safe to run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
if [ "${QT_QPA_PLATFORM:-}" != offscreen ]; then
    ensure_gui_packages
fi
"$ROOT/.venv/bin/csvdrop" stack up
exec "$ROOT/.venv/bin/csvdrop-gui" "$@"
