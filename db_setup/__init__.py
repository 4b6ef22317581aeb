"""Creating the metadata store: MySQL database, migrations and users (``setup_rds``),
the DynamoDB table (``setup_dynamodb``).

Run ``python -m db_setup.setup_rds`` or ``python -m db_setup.setup_dynamodb``; both read ``load_settings()``.
"""
