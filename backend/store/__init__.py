"""Read side of the metadata store: records written by the Lambda (lambda/store_writer.py).

``open_reader(settings)`` returns a :class:`MetadataReader` for ``settings.metadata_store``
(mysql | dynamodb).
Every failure surfaces as :class:`StoreError` whose message is meant for the user. Never imports Qt.
"""

from __future__ import annotations

import json
from typing import Any

from backend.config import Settings
from backend.store.dynamodb import DynamoReader
from backend.store.mysql import MySqlReader
from backend.store.records import (
    CONTRACT_KEYS,
    SORT_KEYS,
    ColumnProfile,
    Histogram,
    MetadataReader,
    MetadataRecord,
    ReaderCapabilities,
    RecordPage,
    RecordQuery,
    Records,
    StoreError,
)

__all__ = [
    "CONTRACT_KEYS",
    "SORT_KEYS",
    "ColumnProfile",
    "DynamoReader",
    "Histogram",
    "MetadataReader",
    "MetadataRecord",
    "MySqlReader",
    "ReaderCapabilities",
    "RecordPage",
    "RecordQuery",
    "Records",
    "StoreError",
    "open_reader",
    "reader_credentials",
]


def _hint(settings: Settings) -> str:
    if settings.mode == "local":
        return "Is the local stack up? Run `csvdrop stack up`."
    return "Check that the service is running and reachable from this computer."


def reader_credentials(settings: Settings) -> tuple[str, str]:
    """(user, password) of the read-only MySQL user from Secrets Manager ``settings.reader_secret_name``."""
    from botocore.exceptions import BotoCoreError, ClientError

    from backend.aws import client

    name = settings.reader_secret_name
    try:
        raw = client(settings, "secretsmanager", timeout_s=5, retries=1).get_secret_value(SecretId=name)
        secret: dict[str, Any] = json.loads(raw["SecretString"])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise StoreError(
                f"The database reader secret {name!r} does not exist. Run the provisioning first."
            ) from None
        raise StoreError(f"Cannot read the database reader secret {name!r}: {exc}") from None
    except BotoCoreError as exc:
        where = settings.endpoint_url or "AWS"
        raise StoreError(
            f"Cannot read the database reader secret {name!r} from {where}: {exc}. {_hint(settings)}"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"The database reader secret {name!r} is not the expected JSON: {exc}") from None
    if "password" not in secret:
        raise StoreError(f"The database reader secret {name!r} has no password")
    return str(secret.get("username") or settings.mysql_reader_user), str(secret["password"])


def open_reader(settings: Settings, *, user: str | None = None, password: str | None = None) -> MetadataReader:
    """A reader for ``settings.metadata_store``. For MySQL the read-only user's password comes from Secrets
    Manager unless ``password`` is given (``user`` defaults to ``settings.mysql_reader_user``). Connecting
    is lazy: an unreachable server is reported by the first query, as a :class:`StoreError`."""
    if settings.metadata_store == "dynamodb":
        from backend.aws import client

        return DynamoReader(
            client(settings, "dynamodb", timeout_s=5, retries=2),
            settings.dynamodb_table,
            endpoint=settings.endpoint_url,
            hint=_hint(settings),
        )
    if password is None:
        secret_user, password = reader_credentials(settings)
        user = user or secret_user
    return MySqlReader(
        host=settings.mysql_host,
        port=settings.mysql_port,
        user=user or settings.mysql_reader_user,
        password=password,
        database=settings.mysql_database,
        hint=_hint(settings),
    )
