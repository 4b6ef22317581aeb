"""A private MySQL-compatible server (MariaDB or MySQL, whichever is installed), no Docker.

Own data dir under the state folder, 127.0.0.1 only, its own port (default 3307); created on the first
``up`` and kept across ``down``/``up``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pymysql

from backend.config import Settings
from backend.stack.processes import (
    StackError,
    port_is_open,
    port_owner,
    read_pid,
    spawn,
    tail,
    terminate_tree,
    wait_until,
)

_SBIN = ("/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin")


def _which(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in _SBIN:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


@dataclass(frozen=True)
class MySqlBinaries:
    server: str
    flavour: str  # "mariadb" | "mysql"
    install_db: str | None


def find_binaries() -> MySqlBinaries | None:
    server = _which("mariadbd")
    if server:
        return MySqlBinaries(server, "mariadb", _which("mariadb-install-db") or _which("mysql_install_db"))
    server = _which("mysqld")
    if server:
        install_db = _which("mariadb-install-db") or _which("mysql_install_db")
        flavour = "mariadb" if install_db and "mariadb" in Path(install_db).name else "mysql"
        return MySqlBinaries(server, flavour, install_db)
    return None


class MySqlService:
    name = "mysql"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.state_dir / "mysql"
        self.datadir = self.home / "data"
        self.socket = self.home / "mysqld.sock"
        self.pid_file = self.home / "mysqld.pid"
        self.log_file = self.home / "mysqld.log"

    @property
    def endpoint(self) -> str:
        return f"{self.settings.mysql_host}:{self.settings.mysql_port}"

    def healthy(self) -> bool:
        try:
            conn = pymysql.connect(
                host=self.settings.mysql_host,
                port=self.settings.mysql_port,
                user=self.settings.mysql_admin_user,
                password=self.settings.mysql_admin_password,
                connect_timeout=2,
                read_timeout=3,
                write_timeout=3,
            )
        except pymysql.err.OperationalError as exc:
            # Access denied still proves a MySQL server answers there.
            return exc.args[0] in (1044, 1045)
        conn.close()
        return True

    def managed_pid(self) -> int | None:
        return read_pid(self.pid_file)

    def _initialise(self, binaries: MySqlBinaries) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        if binaries.flavour == "mariadb" and binaries.install_db:
            argv = [
                binaries.install_db,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ]
        else:
            argv = [
                binaries.server,
                "--no-defaults",
                "--initialize-insecure",
                f"--datadir={self.datadir}",
                "--user=root",
            ]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            shutil.rmtree(self.datadir, ignore_errors=True)
            raise StackError(
                f"Could not create the MySQL data directory {self.datadir} with {argv[0]}:\n"
                f"{(result.stderr or result.stdout)[-2000:]}"
            )

    def start(self) -> str:
        """Start (or find) the server; returns what was done."""
        if self.managed_pid():
            if wait_until(self.healthy, 15):
                return "already running"
            raise StackError(
                f"MySQL (pid {self.managed_pid()}) is running but not answering. Log:\n{tail(self.log_file)}"
            )
        if port_is_open(self.settings.mysql_host, self.settings.mysql_port):
            if self.healthy():
                return f"found a MySQL server already answering at {self.endpoint} (not managed by csvdrop)"
            raise StackError(
                f"Port {self.settings.mysql_port} on {self.settings.mysql_host} is taken by "
                f"{port_owner(self.settings.mysql_port)}, which is not a MySQL server. Stop it, or choose "
                f"another port with CSVDROP_MYSQL_PORT."
            )
        binaries = find_binaries()
        if binaries is None:
            raise StackError(
                "No MySQL-compatible server is installed (looked for mariadbd and mysqld). Install one "
                "(Debian/Ubuntu: sudo apt-get install mariadb-server), or point CSVDROP_MYSQL_HOST and "
                "CSVDROP_MYSQL_PORT at a running server."
            )
        created = not (self.datadir / "mysql").is_dir()
        if created:
            self._initialise(binaries)
        self.home.mkdir(parents=True, exist_ok=True)
        argv = [
            binaries.server,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--pid-file={self.pid_file}",
            f"--port={self.settings.mysql_port}",
            "--bind-address=127.0.0.1",
            "--user=root",
            "--skip-name-resolve",
            f"--log-error={self.log_file}",
            "--character-set-server=utf8mb4",
            "--max-connections=500",
        ]
        spawn(argv, env=dict(os.environ), log_file=self.home / "mysqld.out", cwd=self.home)
        if not wait_until(self.healthy, 30):
            raise StackError(f"MySQL did not become ready within 30 s. Log {self.log_file}:\n{tail(self.log_file)}")
        return "created and started" if created else "started"

    def stop(self) -> str:
        pid = self.managed_pid()
        if pid is None:
            return "not running"
        terminate_tree(pid, timeout_s=20)
        return "stopped"
