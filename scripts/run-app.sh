#!/usr/bin/env bash
# One command to use CSV Drop: installs what is missing, brings the local cloud up (no Docker needed),
# and opens the window. Safe to run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
if [ "${QT_QPA_PLATFORM:-}" != offscreen ]; then
    ensure_gui_packages
fi
status=0
"$ROOT/.venv/bin/csvdrop" stack up || status=$?
if [ "$status" -eq 1 ]; then
    # The services run but the environment was not set up again after a restart: the window can repair it.
    echo "run-app: the local cloud is up, but its environment needs Set up environment (in the window)" >&2
elif [ "$status" -ne 0 ]; then
    exit "$status"
fi
exec "$ROOT/.venv/bin/csvdrop-gui" "$@"
