-- CSV Drop metadata store, version 2: where the header is, what was skipped, the rest of the dialect, and
-- the warnings of a file that was processed with warnings (docs/contracts.md).
--
-- Columns are NULL-able so rows written before this migration stay valid: the reader takes a NULL
-- `warnings` as [] (nothing was checked then) and NULL dialect/skipped fields as unknown. `warning_count`
-- is not a contract key; the writer keeps it equal to the length of `warnings` so "processed with warnings"
-- is a plain indexed filter (rows from before have none: 0).
--
-- Re-runnable like 0001: MySQL commits DDL implicitly, so a run that stopped after the ALTER but before
-- schema_migrations recorded it must be able to run again. MySQL 8 (RDS) has no ADD COLUMN IF NOT EXISTS
-- (MariaDB has), so the ALTER is prepared only while the `warnings` column is missing. It is one ALTER
-- statement, applied as a whole or not at all, so one column answers for all of them.

SET @csvdrop_0002 = IF(
    (SELECT COUNT(*) FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'csv_metadata' AND COLUMN_NAME = 'warnings') = 0,
    'ALTER TABLE csv_metadata
        ADD COLUMN header_line        BIGINT NULL,
        ADD COLUMN skipped_lines      JSON NULL,
        ADD COLUMN escape_char        VARCHAR(16) NULL,
        ADD COLUMN double_quote       BOOLEAN NULL,
        ADD COLUMN skip_initial_space BOOLEAN NULL,
        ADD COLUMN warnings           JSON NULL,
        ADD COLUMN warning_count      INT NOT NULL DEFAULT 0,
        ADD KEY ix_csv_metadata_status_warnings (status, warning_count)',
    'DO 0'
);
PREPARE csvdrop_0002 FROM @csvdrop_0002;
EXECUTE csvdrop_0002;
DEALLOCATE PREPARE csvdrop_0002;
