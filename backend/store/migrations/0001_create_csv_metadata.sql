-- CSV Drop metadata store, version 1: one row per S3 object (bucket + key).
-- Works on MySQL 8 (RDS) and MariaDB 10.6+. Statements end with ";" at the end of a line (the runner splits there).
--
-- S3 keys can be 1,024 bytes, too long for a unique index in utf8mb4, so uniqueness is on key_hash =
-- sha256(bucket + "/" + key) as lower-case hex. `revision` comes from the one-row csv_metadata_revision
-- counter, bumped inside the writer's transaction: revisions are committed in increasing order, so
-- "WHERE revision > cursor" never skips a row that commits later.

CREATE TABLE IF NOT EXISTS csv_metadata (
    id                     BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    key_hash               CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    bucket                 VARCHAR(255) NOT NULL,
    object_key             VARCHAR(1024) NOT NULL,
    file_name              VARCHAR(1024) NOT NULL,
    status                 VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    error                  TEXT NULL,
    size_bytes             BIGINT NOT NULL,
    etag                   VARCHAR(255) NOT NULL,
    sha256                 CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    sequencer              VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    uploaded_at            DATETIME(6) NOT NULL,
    processed_at           DATETIME(6) NOT NULL,
    duration_ms            DOUBLE NOT NULL,
    `encoding`             VARCHAR(64) NULL,
    has_bom                BOOLEAN NOT NULL,
    `delimiter`            VARCHAR(16) NULL,
    quote_char             VARCHAR(16) NULL,
    has_header             BOOLEAN NULL,
    line_terminator        VARCHAR(8) NULL,
    row_count              BIGINT NULL,
    column_count           INT NULL,
    column_names           JSON NOT NULL,
    duplicate_column_names JSON NOT NULL,
    column_profiles        JSON NOT NULL,
    duplicate_row_count    BIGINT NULL,
    sample_rows            JSON NOT NULL,
    revision               BIGINT UNSIGNED NOT NULL,
    created_at             DATETIME(6) NOT NULL,
    updated_at             DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_csv_metadata_key_hash (key_hash),
    UNIQUE KEY uq_csv_metadata_revision (revision),
    KEY ix_csv_metadata_status_uploaded (status, uploaded_at),
    KEY ix_csv_metadata_uploaded (uploaded_at),
    KEY ix_csv_metadata_file_name (file_name(255)),
    KEY ix_csv_metadata_updated (updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS csv_metadata_revision (
    id       TINYINT UNSIGNED NOT NULL,
    revision BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO csv_metadata_revision (id, revision) VALUES (1, 0);
