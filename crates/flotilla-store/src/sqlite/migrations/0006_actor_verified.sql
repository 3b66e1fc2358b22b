-- Whether an alias batch's actor was established by authentication. Until
-- then every actor is what the caller claimed (`X-Flotilla-Actor`, a CLI flag,
-- the UI's "web"), and the audit log says so.
ALTER TABLE alias_batches ADD COLUMN actor_verified INTEGER NOT NULL DEFAULT 0;
