-- The audit trail: one row per committed mutation (a store transaction made
-- under an audit context, or an artifact written or deleted), appended in
-- the same transaction as the change it records.
CREATE TABLE audit_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    time          INTEGER NOT NULL,
    -- The authenticated identity (never a header); 'anonymous' with --auth none.
    actor         TEXT    NOT NULL,
    -- password, token, session, local or none.
    method        TEXT    NOT NULL,
    token_id      TEXT,
    client        TEXT,
    request_id    TEXT,
    action        TEXT    NOT NULL,
    resource_kind TEXT    NOT NULL,
    resource_id   TEXT    NOT NULL,
    outcome       TEXT    NOT NULL,
    -- Small JSON documents (capped), for changes small enough to show.
    before        TEXT,
    after         TEXT,
    -- How many things the request changed (metrics, params, models, ...).
    count         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX audit_events_by_actor ON audit_events(actor, id);
CREATE INDEX audit_events_by_action ON audit_events(action, id);
CREATE INDEX audit_events_by_resource ON audit_events(resource_kind, resource_id, id);
CREATE INDEX audit_events_by_request ON audit_events(request_id) WHERE request_id IS NOT NULL;
CREATE INDEX audit_events_by_time ON audit_events(time, id);
