"""The MySQL ("RDS") side of the metadata store: database, versioned migrations, least-privileged users.

* :func:`apply_migrations` applies ``backend/store/migrations/NNNN_*.sql`` in order and records each one in
  ``schema_migrations`` (version, name, sha256 checksum). An applied migration whose file later changed is an
  error, never silently re-run.
* :func:`ensure_database_and_users` (idempotent) creates the database, applies migrations, and creates or
  updates the writer user (the Lambda: SELECT, INSERT, UPDATE on ``csv_metadata`` plus SELECT, UPDATE on the
  one-row ``csv_metadata_revision`` counter it bumps, SELECT, INSERT, UPDATE on the ``csv_metadata_counts``
  it keeps) and the read-only user (the app: SELECT on ``csv_metadata`` and ``csv_metadata_counts``), each
  for host ``127.0.0.1`` and ``%``. Passwords are the caller's (provisioning keeps
  them in Secrets Manager); running again with new passwords rotates them.
* :func:`create_db_instance` creates a real RDS MySQL instance (LocalStack community has no RDS).

Values always travel as query parameters (pymysql quotes them, so ``CREATE USER %s@%s`` is safe). The database
name, which DDL needs as an identifier, is checked against a strict pattern first; so are user names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pymysql.cursors

from backend.config import Settings
from backend.errors import CsvDropError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
USER_HOSTS = ("127.0.0.1", "%")
METADATA_TABLE = "csv_metadata"
REVISION_TABLE = "csv_metadata_revision"
COUNTS_TABLE = "csv_metadata_counts"  # migration 0003: live rows per bucket and status_rank

_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_USER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
_MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_NAME = "csvdrop_schema_migrations"


class SetupError(CsvDropError, RuntimeError):
    """Setup cannot continue; the message says why and what to do."""


def check_database_name(name: str) -> str:
    if not _DB_NAME.fullmatch(name):
        raise SetupError(f"database name {name!r} is not allowed: use letters, digits and _ (max 64)")
    return name


def check_user_name(name: str) -> str:
    if not _USER_NAME.fullmatch(name):
        raise SetupError(f"MySQL user name {name!r} is not allowed: use letters, digits and _ (max 32)")
    return name


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()

    def statements(self) -> list[str]:
        """Statements of the file: comment lines dropped, split at a ';' that ends a line."""
        body = "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        return [s.strip() for s in re.split(r";[ \t]*$", body, flags=re.MULTILINE) if s.strip()]


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_FILE.fullmatch(path.name)
        if not match:
            raise SetupError(f"migration file name {path.name!r} must look like 0002_add_something.sql")
        found.append(Migration(match.group(1), match.group(2), path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise SetupError(f"two migrations share a version number in {directory}")
    return found


_SCHEMA_MIGRATIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version CHAR(4) CHARACTER SET ascii NOT NULL PRIMARY KEY,"
    " name VARCHAR(200) NOT NULL,"
    " checksum CHAR(64) CHARACTER SET ascii NOT NULL,"
    " applied_at DATETIME(6) NOT NULL"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
)


def apply_migrations(conn: pymysql.connections.Connection[Any], directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the migrations not yet recorded in ``schema_migrations``; return their ``NNNN_name``.

    ``conn`` must have the target database selected. A named lock serialises concurrent runs. MySQL commits
    DDL implicitly, so each migration is written to be re-runnable (IF NOT EXISTS / INSERT IGNORE) and is
    recorded only after all its statements succeeded.
    """
    migrations = load_migrations(directory)
    applied_now: list[str] = []
    with conn.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, %s)", (_LOCK_NAME, 60))
        row = cur.fetchone()
        if not row or row[0] != 1:
            raise SetupError("another setup run holds the migration lock; try again in a minute")
        try:
            cur.execute(_SCHEMA_MIGRATIONS_DDL)
            cur.execute("SELECT version, name, checksum FROM schema_migrations")
            done = {str(v): (str(n), str(c)) for v, n, c in cur.fetchall()}
            for migration in migrations:
                if migration.version in done:
                    name, checksum = done[migration.version]
                    if checksum != migration.checksum:
                        raise SetupError(
                            f"migration {migration.version}_{migration.name} was changed after it was "
                            f"applied (recorded as {name}); add a new migration instead of editing it"
                        )
                    continue
                for statement in migration.statements():
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
                    " VALUES (%s, %s, %s, UTC_TIMESTAMP(6))",
                    (migration.version, migration.name, migration.checksum),
                )
                conn.commit()
                applied_now.append(f"{migration.version}_{migration.name}")
        finally:
            cur.execute("SELECT RELEASE_LOCK(%s)", (_LOCK_NAME,))
    return applied_now


def admin_connect(
    settings: Settings, password: str | None = None, database: str | None = None, *, connect_timeout: float = 10
) -> pymysql.connections.Connection[Any]:
    try:
        return pymysql.connect(
            host=settings.mysql_host,
            port=settings.mysql_port,
            user=settings.mysql_admin_user,
            password=settings.mysql_admin_password if password is None else password,
            database=database,
            charset="utf8mb4",
            connect_timeout=int(connect_timeout),
            autocommit=True,
        )
    except pymysql.err.OperationalError as exc:
        raise SetupError(
            f"cannot connect to MySQL at {settings.mysql_host}:{settings.mysql_port} as "
            f"{settings.mysql_admin_user!r}: {exc.args[-1] if exc.args else exc}"
        ) from exc


def _user_exists(cur: pymysql.cursors.Cursor, user: str, host: str) -> bool:
    cur.execute("SELECT COUNT(*) FROM mysql.user WHERE User = %s AND Host = %s", (user, host))
    row = cur.fetchone()
    return bool(row and row[0])


def _ensure_user(
    cur: pymysql.cursors.Cursor, user: str, password: str, grants: list[tuple[str, str]], database: str
) -> Iterator[str]:
    """Create or re-password ``user`` on every host in USER_HOSTS and set exactly ``grants``."""
    for host in USER_HOSTS:
        if _user_exists(cur, user, host):
            cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password))
            yield f"found user '{user}'@'{host}' (password set)"
        else:
            cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (user, host, password))
            yield f"created user '{user}'@'{host}'"
        # Start from nothing so a re-run also removes privileges someone added by hand.
        cur.execute("REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@%s", (user, host))
        for privileges, table in grants:
            # Identifiers below are constants or check_database_name()-validated, never user data.
            cur.execute(f"GRANT {privileges} ON `{database}`.`{table}` TO %s@%s", (user, host))
        yield f"granted '{user}'@'{host}': " + "; ".join(f"{p} ON {database}.{t}" for p, t in grants)


def _ensure_database(conn: pymysql.connections.Connection[Any], database: str) -> str:
    """Create the (validated) database if missing and select it."""
    check_database_name(database)
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,))
        row = cur.fetchone()
        found = bool(row and row[0])
        if not found:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    conn.select_db(database)
    return f"{'found' if found else 'created'} database {database}"


WRITER_GRANTS = [
    ("SELECT, INSERT, UPDATE", METADATA_TABLE),
    ("SELECT, UPDATE", REVISION_TABLE),
    ("SELECT, INSERT, UPDATE", COUNTS_TABLE),
]
READER_GRANTS = [("SELECT", METADATA_TABLE), ("SELECT", COUNTS_TABLE)]


def ensure_database_and_users(
    settings: Settings, *, admin_password: str | None = None, writer_password: str, reader_password: str
) -> list[str]:
    """Create what is missing (database, schema, users); return one line per thing created or found."""
    database = check_database_name(settings.mysql_database)
    writer = check_user_name(settings.mysql_writer_user)
    reader = check_user_name(settings.mysql_reader_user)
    if writer == reader:
        raise SetupError("the writer and reader MySQL users must have different names")
    for label, password in (("writer", writer_password), ("reader", reader_password)):
        if not password:
            raise SetupError(f"the {label} user needs a non-empty password")
    report: list[str] = []
    conn = admin_connect(settings, admin_password)
    try:
        report.append(_ensure_database(conn, database))
        applied = apply_migrations(conn)
        report += [f"applied migration {name}" for name in applied] or ["schema up to date"]
        with conn.cursor() as cur:
            report += _ensure_user(cur, writer, writer_password, WRITER_GRANTS, database)
            report += _ensure_user(cur, reader, reader_password, READER_GRANTS, database)
    except pymysql.err.MySQLError as exc:
        raise SetupError(f"MySQL setup failed: {exc.args[-1] if exc.args else exc}") from exc
    finally:
        conn.close()
    return report


def drop_database_and_users(settings: Settings, *, admin_password: str | None = None) -> str:
    """Teardown: drop the database (every record) and the writer/reader users; idempotent. Says what went."""
    database = check_database_name(settings.mysql_database)
    users = [check_user_name(settings.mysql_writer_user), check_user_name(settings.mysql_reader_user)]
    removed: list[str] = []
    conn = admin_connect(settings, admin_password)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,))
            row = cur.fetchone()
            if row and row[0]:
                cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
                removed.append(f"database {database}")
            for user in users:
                for host in USER_HOSTS:
                    if _user_exists(cur, user, host):
                        cur.execute("DROP USER %s@%s", (user, host))
                        removed.append(f"user '{user}'@'{host}'")
    except pymysql.err.MySQLError as exc:
        raise SetupError(f"MySQL teardown failed: {exc.args[-1] if exc.args else exc}") from exc
    finally:
        conn.close()
    return ("dropped " + ", ".join(removed)) if removed else f"nothing to drop on {settings.mysql_host}"


def create_db_instance(
    settings: Settings,
    *,
    admin_password: str,
    instance_id: str = "csvdrop-metadata",
    instance_class: str = "db.t4g.micro",
    allocated_storage_gb: int = 20,
    engine_version: str | None = None,
    publicly_accessible: bool = False,
    wait: bool = True,
    rds_client: Any = None,
    waiter_delay_s: int = 30,
    waiter_max_attempts: int = 60,
) -> dict[str, Any]:
    """Create (or find) an RDS MySQL instance and, with ``wait``, block until it is available.

    Returns ``{"instance_id", "status", "host", "port", "created"}``; ``host`` is None until available.
    Real AWS only: LocalStack community answers RDS calls with HTTP 501.
    """
    rds = rds_client
    if rds is None:
        from backend.aws import client

        rds = client(settings, "rds")
    check_user_name(settings.mysql_admin_user)
    created = False
    try:
        instance = rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
    except rds.exceptions.DBInstanceNotFoundFault:
        kwargs: dict[str, Any] = {
            "DBInstanceIdentifier": instance_id,
            "DBInstanceClass": instance_class,
            "Engine": "mysql",
            "AllocatedStorage": allocated_storage_gb,
            "MasterUsername": settings.mysql_admin_user,
            "MasterUserPassword": admin_password,
            "DBName": check_database_name(settings.mysql_database),
            "PubliclyAccessible": publicly_accessible,
            "StorageEncrypted": True,
            "BackupRetentionPeriod": 1,
            "Tags": [{"Key": "app", "Value": "csvdrop"}],
        }
        if engine_version:
            kwargs["EngineVersion"] = engine_version
        instance = rds.create_db_instance(**kwargs)["DBInstance"]
        created = True
    if wait and instance.get("DBInstanceStatus") != "available":
        rds.get_waiter("db_instance_available").wait(
            DBInstanceIdentifier=instance_id,
            WaiterConfig={"Delay": waiter_delay_s, "MaxAttempts": waiter_max_attempts},
        )
        instance = rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
    endpoint = instance.get("Endpoint") or {}
    return {
        "instance_id": instance_id,
        "status": instance.get("DBInstanceStatus"),
        "host": endpoint.get("Address"),
        "port": endpoint.get("Port"),
        "created": created,
    }


def migrate(settings: Settings) -> list[str]:
    """Only create the database and apply migrations (no users): what was done, one line each."""
    database = check_database_name(settings.mysql_database)
    conn = admin_connect(settings)
    try:
        lines = [_ensure_database(conn, database)]
        return lines + ([f"applied migration {n}" for n in apply_migrations(conn)] or ["schema up to date"])
    finally:
        conn.close()


def metadata_table_exists(settings: Settings) -> bool:
    """True when the local MySQL holds the metadata table, i.e. this environment had been set up."""
    if settings.metadata_store != "mysql":
        return False
    try:
        conn = admin_connect(settings, connect_timeout=5)
    except SetupError:
        return False
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                (settings.mysql_database, METADATA_TABLE),
            )
            return cur.fetchone() is not None
    except pymysql.err.MySQLError:
        return False
    finally:
        conn.close()
