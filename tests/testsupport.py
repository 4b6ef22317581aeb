"""Helpers shared by test modules (not fixtures): import them from here, never from a conftest
(two conftest modules exist, and `from conftest import` would pick whichever was imported first)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from backend.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def shared_localstack_venv() -> Path:
    """One LocalStack venv for every test session (installing it costs ~10-30 s; its inputs are hashed)."""
    return load_settings(env={}).localstack_venv_dir


def mysql_admin(settings: Settings) -> Any:
    """A direct admin connection, for asserting on rows in MySQL independently of the app's reader."""
    import pymysql

    return pymysql.connect(
        host=settings.mysql_host,
        port=settings.mysql_port,
        user=settings.mysql_admin_user,
        password=settings.mysql_admin_password,
        database=settings.mysql_database,
        autocommit=True,
        cursorclass=pymysql.cursors.DictCursor,
    )
