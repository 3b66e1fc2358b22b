-- Whether an alias batch's actor was established by authentication (SQLite's migration 6).
ALTER TABLE alias_batches ADD COLUMN actor_verified BOOLEAN NOT NULL DEFAULT FALSE;
