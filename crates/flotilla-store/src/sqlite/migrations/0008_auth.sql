-- Authentication and permissions (issue 13): users, API tokens, grants, and
-- the generation every auth write bumps so caches and replicas see changes.
-- Number 7 is reserved for another branch.
CREATE TABLE auth_users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    -- Argon2id PHC string; never the password.
    password_hash TEXT    NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE auth_tokens (
    -- The public part of `flt_<id>_<secret>`.
    id           TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    scope        TEXT    NOT NULL CHECK (scope IN ('read', 'write')),
    -- SHA-256 of the secret part; the token itself is shown once and never stored.
    secret_hash  BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX auth_tokens_by_user ON auth_tokens(user_id);

-- One grant per (user, resource kind, resource id or '*'); read by the
-- permission checks.
CREATE TABLE auth_grants (
    user_id       INTEGER NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
    resource_kind TEXT    NOT NULL,
    resource_id   TEXT    NOT NULL,
    level         TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (user_id, resource_kind, resource_id)
) WITHOUT ROWID;
CREATE INDEX auth_grants_by_resource ON auth_grants(resource_kind, resource_id);

CREATE TABLE auth_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO auth_state (id, generation) VALUES (1, 1);
