-- CSV Drop metadata store, version 4: a record can say MISSING, "the object is no longer in S3".
--
-- `csvdrop reconcile` finds live records whose object is gone (LocalStack lost it, an event never came) and
-- the function marks them MISSING with an error saying to upload the file again. Such a record needs the
-- same attention as a FAILED one, so `status_rank` puts it in the same bucket (2): the browser's "Failed"
-- filter, its status sort and csv_metadata_counts treat both alike, and rank 2 stays "not profiled".
--
-- Re-runnable like 0003: the MODIFY is prepared only while the expression does not name MISSING yet (it
-- rebuilds the column and the indexes holding it: ix_live_status, ix_live_rank_uploaded). The counts are
-- recomputed, as rows that were MISSING before this ran (none should be) change rank.

SET @csvdrop_0004 = IF(
    (SELECT COUNT(*) FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'csv_metadata' AND COLUMN_NAME = 'status_rank'
        AND GENERATION_EXPRESSION LIKE '%MISSING%') = 0,
    'ALTER TABLE csv_metadata
        MODIFY COLUMN status_rank TINYINT GENERATED ALWAYS AS
            (CASE WHEN status IN (''FAILED'', ''MISSING'') THEN 2 WHEN warning_count > 0 THEN 1 ELSE 0 END) STORED',
    'DO 0'
);
PREPARE csvdrop_0004 FROM @csvdrop_0004;
EXECUTE csvdrop_0004;
DEALLOCATE PREPARE csvdrop_0004;

DELETE FROM csv_metadata_counts;

INSERT INTO csv_metadata_counts (bucket, status_rank, n)
    SELECT bucket, status_rank, COUNT(*) FROM csv_metadata WHERE deleted = 0 GROUP BY bucket, status_rank;
