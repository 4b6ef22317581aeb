"""`python -m db_setup.setup_dynamodb`: the DynamoDB metadata table on its own.

The work is :mod:`backend.store.schema_dynamodb` (what `csvdrop setup` runs when the store is DynamoDB).
"""

from __future__ import annotations

import argparse
import sys

from backend.config import load_settings
from backend.store.schema_dynamodb import ensure_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m db_setup.setup_dynamodb",
        description="Create the CSV Drop DynamoDB metadata table (settings.dynamodb_table).",
    )
    parser.parse_args(argv)
    try:
        print(ensure_table(load_settings()))
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
