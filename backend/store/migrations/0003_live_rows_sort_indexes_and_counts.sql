-- CSV Drop metadata store, version 3: the browser pages through a million records without loading them.
--
-- * `deleted` marks a tombstone: the S3 object was removed. The writer sets it with a new revision, so
--   "changed since" reports the deletion; list/count/get never return such a row.
-- * Every sort the browser offers is an index walk, `deleted` first (live rows only) and `id` last (ties):
--   VARCHAR(1024) names cannot be indexed whole and a prefix index cannot serve ORDER BY, so the sort uses
--   stored generated columns holding the first 190 characters; NULL row/column counts (FAILED files) sort
--   as -1 so keyset comparisons never meet a NULL; `status_rank` orders PROCESSED (0), processed with
--   warnings (1), FAILED (2) and doubles as the "with warnings" filter (= 1).
-- * csv_metadata_counts keeps the number of live rows per bucket and status_rank, maintained by the writer
--   inside its transaction, so the unfiltered and status counts do not walk a million index entries.
-- The indexes of 0001/0002 these replace are dropped (each one costs every write).
--
-- Re-runnable like 0002: one ALTER, prepared only while `deleted` is missing; the counts are recomputed.

SET @csvdrop_0003 = IF(
    (SELECT COUNT(*) FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'csv_metadata' AND COLUMN_NAME = 'deleted') = 0,
    'ALTER TABLE csv_metadata
        ADD COLUMN deleted           BOOLEAN NOT NULL DEFAULT 0,
        ADD COLUMN file_name_sort    VARCHAR(190) GENERATED ALWAYS AS (LEFT(file_name, 190)) STORED,
        ADD COLUMN key_sort          VARCHAR(190) GENERATED ALWAYS AS (LEFT(object_key, 190)) STORED,
        ADD COLUMN status_rank       TINYINT GENERATED ALWAYS AS
            (CASE WHEN status = ''FAILED'' THEN 2 WHEN warning_count > 0 THEN 1 ELSE 0 END) STORED,
        ADD COLUMN row_count_sort    BIGINT GENERATED ALWAYS AS (COALESCE(row_count, -1)) STORED,
        ADD COLUMN column_count_sort INT GENERATED ALWAYS AS (COALESCE(column_count, -1)) STORED,
        DROP KEY ix_csv_metadata_status_uploaded,
        DROP KEY ix_csv_metadata_uploaded,
        DROP KEY ix_csv_metadata_file_name,
        DROP KEY ix_csv_metadata_status_warnings,
        ADD KEY ix_live_file_name (deleted, file_name_sort, id),
        ADD KEY ix_live_key (deleted, key_sort, id),
        ADD KEY ix_live_status (deleted, status_rank, id),
        ADD KEY ix_live_row_count (deleted, row_count_sort, id),
        ADD KEY ix_live_column_count (deleted, column_count_sort, id),
        ADD KEY ix_live_size (deleted, size_bytes, id),
        ADD KEY ix_live_uploaded (deleted, uploaded_at, id),
        ADD KEY ix_live_processed (deleted, processed_at, id),
        ADD KEY ix_live_status_uploaded (deleted, status, uploaded_at, id),
        ADD KEY ix_live_rank_uploaded (deleted, status_rank, uploaded_at, id)',
    'DO 0'
);
PREPARE csvdrop_0003 FROM @csvdrop_0003;
EXECUTE csvdrop_0003;
DEALLOCATE PREPARE csvdrop_0003;

CREATE TABLE IF NOT EXISTS csv_metadata_counts (
    bucket      VARCHAR(255) NOT NULL,
    status_rank TINYINT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (bucket, status_rank)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

DELETE FROM csv_metadata_counts;

INSERT INTO csv_metadata_counts (bucket, status_rank, n)
    SELECT bucket, status_rank, COUNT(*) FROM csv_metadata WHERE deleted = 0 GROUP BY bucket, status_rank;
