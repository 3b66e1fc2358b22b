-- The audit trail (SQLite's migration 10): one row per committed mutation,
-- appended in the same transaction as the change it records.
CREATE TABLE audit_events (
    -- ALWAYS: ids are never given by hand, and never reused.
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time          BIGINT NOT NULL,
    -- The authenticated identity (never a header); 'anonymous' with --auth none.
    actor         TEXT COLLATE "C" NOT NULL,
    -- password, token, session, local or none.
    method        TEXT COLLATE "C" NOT NULL,
    token_id      TEXT COLLATE "C",
    client        TEXT COLLATE "C",
    request_id    TEXT COLLATE "C",
    action        TEXT COLLATE "C" NOT NULL,
    resource_kind TEXT COLLATE "C" NOT NULL,
    resource_id   TEXT COLLATE "C" NOT NULL,
    outcome       TEXT COLLATE "C" NOT NULL,
    -- Small JSON documents (capped), for changes small enough to show.
    before        TEXT COLLATE "C",
    after         TEXT COLLATE "C",
    -- How many things the request changed (metrics, params, models, ...).
    count         BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX audit_events_by_actor ON audit_events (actor, id);
CREATE INDEX audit_events_by_action ON audit_events (action, id);
CREATE INDEX audit_events_by_resource ON audit_events (resource_kind, resource_id, id);
CREATE INDEX audit_events_by_request ON audit_events (request_id) WHERE request_id IS NOT NULL;
CREATE INDEX audit_events_by_time ON audit_events (time, id);
