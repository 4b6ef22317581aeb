"""Entry points for setting up the metadata store on its own, apart from `csvdrop setup`:
``python -m db_setup.setup_rds`` (MySQL database, migrations, users; optionally the RDS instance) and
``python -m db_setup.setup_dynamodb`` (the DynamoDB table). The work itself lives in ``backend.store``
(``schema_mysql``, ``schema_dynamodb`` and ``migrations/``), so the backend never imports this package.
"""
