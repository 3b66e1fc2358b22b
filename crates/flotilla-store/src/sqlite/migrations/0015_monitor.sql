-- Serving telemetry (issue 15): windows per model version and grain, the
-- versions that have any, and the predictions kept for the label join.
--
-- A window is one model version's traffic over one interval of a grain:
-- 0 = the base window (`--monitor-window` long, `length_ms`), 1 = hour,
-- 2 = day (UTC). Requests, rows and errors by kind are columns (roll-up
-- queries add them in SQL); everything else (latency histogram, per-column
-- figures, the drift counts against the reference, performance, the day's
-- full profile) is `stats`, an encoded blob the application layer defines
-- (`flotilla_app::monitor::telemetry::stats`) and merges. `fingerprint`
-- is the reference the drift counts were binned against (NULL: none).
CREATE TABLE monitor_windows (
    grain              INTEGER NOT NULL,
    rm_id              INTEGER NOT NULL,
    version            INTEGER NOT NULL,
    start_ms           INTEGER NOT NULL,
    length_ms          INTEGER NOT NULL,
    requests           INTEGER NOT NULL DEFAULT 0,
    rows               INTEGER NOT NULL DEFAULT 0,
    errors_client      INTEGER NOT NULL DEFAULT 0,
    errors_unavailable INTEGER NOT NULL DEFAULT 0,
    errors_too_large   INTEGER NOT NULL DEFAULT 0,
    errors_server      INTEGER NOT NULL DEFAULT 0,
    fingerprint        INTEGER,
    stats              BLOB NOT NULL,
    PRIMARY KEY (grain, rm_id, version, start_ms),
    FOREIGN KEY (rm_id, version) REFERENCES model_versions (rm_id, version) ON DELETE CASCADE
) WITHOUT ROWID;
-- Retention prunes by time per grain.
CREATE INDEX monitor_windows_by_time ON monitor_windows (grain, start_ms);

-- One row per version that has telemetry: the span it covers (first
-- window's start, last window's end: what a fleet-wide job pages through,
-- by primary key) and its column names (inputs then outputs, '\n'-joined;
-- the stats blob refers to columns by position).
CREATE TABLE monitor_versions (
    rm_id       INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    first_ms    INTEGER NOT NULL,
    last_ms     INTEGER NOT NULL,
    inputs      INTEGER NOT NULL DEFAULT 0,
    columns     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (rm_id, version),
    FOREIGN KEY (rm_id, version) REFERENCES model_versions (rm_id, version) ON DELETE CASCADE
) WITHOUT ROWID;

-- Predictions posted with an id, waiting for their label: the base window
-- they fell in and what was predicted (a number: the value, or the
-- positive class's score; a class: the predicted label). Claimed (deleted)
-- when the label arrives; pruned with the base windows' retention.
CREATE TABLE monitor_predictions (
    rm_id    INTEGER NOT NULL,
    version  INTEGER NOT NULL,
    id       TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    length_ms INTEGER NOT NULL,
    score    REAL,
    class    TEXT,
    PRIMARY KEY (rm_id, version, id),
    FOREIGN KEY (rm_id, version) REFERENCES model_versions (rm_id, version) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX monitor_predictions_by_time ON monitor_predictions (start_ms);
CREATE INDEX monitor_predictions_by_version_time ON monitor_predictions (rm_id, version, start_ms);
