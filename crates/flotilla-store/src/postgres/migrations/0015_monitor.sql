-- Serving telemetry (SQLite's migration 15; see its comments): windows per
-- model version and grain (0 base, 1 hour, 2 day), the versions that have
-- any, and the predictions kept for the label join.
CREATE TABLE monitor_windows (
    grain              BIGINT NOT NULL,
    rm_id              BIGINT NOT NULL,
    version            BIGINT NOT NULL,
    start_ms           BIGINT NOT NULL,
    length_ms          BIGINT NOT NULL,
    requests           BIGINT NOT NULL DEFAULT 0,
    rows               BIGINT NOT NULL DEFAULT 0,
    errors_client      BIGINT NOT NULL DEFAULT 0,
    errors_unavailable BIGINT NOT NULL DEFAULT 0,
    errors_too_large   BIGINT NOT NULL DEFAULT 0,
    errors_server      BIGINT NOT NULL DEFAULT 0,
    fingerprint        BIGINT,
    stats              BYTEA NOT NULL,
    PRIMARY KEY (grain, rm_id, version, start_ms),
    FOREIGN KEY (rm_id, version) REFERENCES model_versions (rm_id, version) ON DELETE CASCADE
);
CREATE INDEX monitor_windows_by_time ON monitor_windows (grain, start_ms);

CREATE TABLE monitor_versions (
    rm_id       BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    first_ms    BIGINT NOT NULL,
    last_ms     BIGINT NOT NULL,
    inputs      BIGINT NOT NULL DEFAULT 0,
    columns     TEXT COLLATE "C" NOT NULL DEFAULT '',
    PRIMARY KEY (rm_id, version),
    FOREIGN KEY (rm_id, version) REFERENCES model_versions (rm_id, version) ON DELETE CASCADE
);

CREATE TABLE monitor_predictions (
    rm_id     BIGINT NOT NULL,
    version   BIGINT NOT NULL,
    id        TEXT COLLATE "C" NOT NULL,
    start_ms  BIGINT NOT NULL,
    length_ms BIGINT NOT NULL,
    score     DOUBLE PRECISION,
    class     TEXT COLLATE "C",
    PRIMARY KEY (rm_id, version, id),
    FOREIGN KEY (rm_id, version) REFERENCES model_versions (rm_id, version) ON DELETE CASCADE
);
CREATE INDEX monitor_predictions_by_time ON monitor_predictions (start_ms);
CREATE INDEX monitor_predictions_by_version_time ON monitor_predictions (rm_id, version, start_ms);
