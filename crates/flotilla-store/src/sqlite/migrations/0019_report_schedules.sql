-- Scheduled fleet reports (issue 16): a rule (how often, the report's scope
-- as its query string, the webhook told of each report) and each report
-- made from it (where its HTML is in the artifact store, and what the
-- webhook answered). Rules given with `flotilla server --report` are kept
-- by name (`origin` 'flag'); those made through the API have 'api'.
CREATE TABLE report_schedules (
    schedule_id INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    every       TEXT NOT NULL,          -- daily, weekly
    query       TEXT NOT NULL,          -- family=..&partition=.. | tag=..
    -- The scope's family ('' for the fleet and tags): who may see its reports.
    family      TEXT NOT NULL DEFAULT '',
    webhook_url TEXT NOT NULL DEFAULT '',
    secret      TEXT NOT NULL DEFAULT '',
    origin      TEXT NOT NULL,          -- api, flag
    created     INTEGER NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    next_run    INTEGER NOT NULL
);
CREATE INDEX report_schedules_due ON report_schedules (next_run);

CREATE TABLE report_runs (
    run_id      INTEGER PRIMARY KEY,
    schedule_id INTEGER REFERENCES report_schedules (schedule_id) ON DELETE SET NULL,
    name        TEXT NOT NULL,
    query       TEXT NOT NULL,
    family      TEXT NOT NULL DEFAULT '',
    time        INTEGER NOT NULL,
    path        TEXT NOT NULL DEFAULT '',  -- in the artifact store; '' when it failed
    bytes       INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    notified    TEXT                       -- the webhook's answer, or why none
);
CREATE INDEX report_runs_by_schedule ON report_runs (schedule_id, run_id);
