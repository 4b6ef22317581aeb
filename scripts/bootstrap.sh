#!/usr/bin/env bash
# Installs what CSV Drop needs on a fresh machine and is safe to run again: a Python >= 3.12,
# uv, the project's locked virtual environment (.venv) and, if no MySQL-compatible server is
# found, MariaDB from the OS packages. Sourced by run-app.sh and run-tests.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf 'csvdrop bootstrap: %s\n' "$*" >&2; }

# uv must never try to download an interpreter: this machine's network reaches package registries only.
export UV_PYTHON_DOWNLOADS=never

find_python() {
    # .python-version asks for 3.13; pyenv honours it inside the repo, and uv reads the same file.
    local candidate
    for candidate in python3.13 python3.12 python3 python; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
            "$candidate" -c 'import sys; print(sys.executable)'
            return 0
        fi
    done
    local found
    for found in "$HOME"/.pyenv/versions/3.1[3-9]*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3 \
        /usr/bin/python3.1[2-9] /usr/local/bin/python3.1[2-9]; do
        [ -x "$found" ] && { echo "$found"; return 0; }
    done
    return 1
}

PY="$(find_python)" || {
    say "no Python >= 3.12 found. Install one (e.g. 'pyenv install 3.13' or 'apt-get install python3.13') and run this again."
    exit 1
}

if ! "$PY" -m uv --version >/dev/null 2>&1; then
    say "installing uv into $PY"
    "$PY" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore uv 2>/dev/null ||
        "$PY" -m pip install --quiet --disable-pip-version-check uv
fi
UV=("$PY" -m uv)

"${UV[@]}" sync --quiet --frozen --python "$PY"

if ! command -v mariadbd >/dev/null 2>&1 && ! command -v mysqld >/dev/null 2>&1 &&
    [ ! -x /usr/sbin/mariadbd ] && [ ! -x /usr/sbin/mysqld ] && [ -z "${CSVDROP_MYSQL_HOST_EXTERNAL:-}" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "no MySQL-compatible server found: installing MariaDB from the OS packages (apt-get, about a minute)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq mariadb-server >/dev/null
    elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
        say "no MySQL-compatible server found: installing MariaDB with sudo apt-get"
        sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
    else
        say "no MySQL-compatible server (mariadbd or mysqld) found and no way to install one here."
        say "Install MariaDB or MySQL, or point CSVDROP_MYSQL_HOST/CSVDROP_MYSQL_PORT at a running server."
        exit 1
    fi
fi

apt_install() {
    # Debian/Ubuntu packages, as root or through sudo; returns non-zero where neither is possible.
    command -v apt-get >/dev/null 2>&1 || return 1
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || return 1
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq >/dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_gui_packages() {
    # The window's system libraries (Qt's X11 plugin needs libxcb-cursor0, libxcb-icccm4, ... which a fresh
    # machine may lack), plus any extra packages named (the test command's X server and xdotool).
    [ "$(uname -s)" = Linux ] || return 0
    local wanted=("$@") package
    while IFS= read -r package; do
        [ -n "$package" ] && wanted+=("$package")
    done < <("$ROOT/.venv/bin/python" -m gui.display_check)
    local missing=()
    for package in "${wanted[@]}"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    say "installing the desktop window's system packages: ${missing[*]} (apt-get)"
    apt_install "${missing[@]}" || say "could not install ${missing[*]}: install them with your package manager."
}
