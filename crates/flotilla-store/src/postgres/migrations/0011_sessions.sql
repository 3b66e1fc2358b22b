-- UI sessions (SQLite's migration 11). Only a SHA-256 of the cookie's secret is kept.
CREATE TABLE auth_sessions (
    id_hash      BYTEA PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX auth_sessions_by_user ON auth_sessions (user_id);

-- A new password ends every session of its user, whichever code path sets it.
CREATE FUNCTION auth_sessions_end_on_password() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM auth_sessions WHERE user_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER auth_sessions_end_on_password AFTER UPDATE OF password_hash ON auth_users
    FOR EACH ROW WHEN (NEW.password_hash IS DISTINCT FROM OLD.password_hash)
    EXECUTE FUNCTION auth_sessions_end_on_password();
