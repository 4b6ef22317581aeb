"""`python -m db_setup.setup_rds`: the metadata database, its migrations and users, on their own.

The work is :mod:`backend.store.schema_mysql` (what `csvdrop setup` runs as its "database" step); this is a
thin entry point for a database administrator who provisions the database apart from the rest.
"""

from __future__ import annotations

import argparse
import os
import sys

from backend.config import load_settings
from backend.store.schema_mysql import SetupError, create_db_instance, ensure_database_and_users, migrate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m db_setup.setup_rds",
        description="Create the CSV Drop metadata database, apply migrations, create its users.",
    )
    parser.add_argument("--writer-password", help="writer password (else env CSVDROP_WRITER_PASSWORD)")
    parser.add_argument("--reader-password", help="reader password (else env CSVDROP_READER_PASSWORD)")
    parser.add_argument("--migrations-only", action="store_true", help="only create the database and migrate")
    parser.add_argument(
        "--create-instance",
        metavar="INSTANCE_ID",
        help="first create (or find) this RDS MySQL instance and wait for it (real AWS only; "
        "admin password from CSVDROP_MYSQL_ADMIN_PASSWORD)",
    )
    args = parser.parse_args(argv)

    settings = load_settings()
    try:
        if args.create_instance:
            instance = create_db_instance(
                settings, admin_password=settings.mysql_admin_password, instance_id=args.create_instance
            )
            print(
                f"RDS instance {instance['instance_id']}: {instance['status']} at {instance['host']}:"
                f"{instance['port']} (set CSVDROP_MYSQL_HOST / CSVDROP_MYSQL_PORT to it)"
            )
            if instance["host"]:
                settings = settings.replace(mysql_host=instance["host"], mysql_port=int(instance["port"]))
        if args.migrations_only:
            lines = migrate(settings)
        else:
            writer = args.writer_password or os.environ.get("CSVDROP_WRITER_PASSWORD", "")
            reader = args.reader_password or os.environ.get("CSVDROP_READER_PASSWORD", "")
            lines = ensure_database_and_users(settings, writer_password=writer, reader_password=reader)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
