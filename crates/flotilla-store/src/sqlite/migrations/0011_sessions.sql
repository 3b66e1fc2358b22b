-- UI sessions (issue 13): a browser's login, shared by every replica through
-- the store. Only a SHA-256 of the cookie's secret is kept. Numbers 9 and 10
-- are reserved for other branches.
CREATE TABLE auth_sessions (
    -- SHA-256 of the secret the cookie carries.
    id_hash      BLOB    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    -- The absolute end, whatever the use.
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX auth_sessions_by_user ON auth_sessions(user_id);

-- A new password ends every session of its user, whichever code path sets it.
CREATE TRIGGER auth_sessions_end_on_password AFTER UPDATE OF password_hash ON auth_users
WHEN NEW.password_hash IS NOT OLD.password_hash
BEGIN
    DELETE FROM auth_sessions WHERE user_id = NEW.id;
END;
