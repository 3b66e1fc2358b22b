-- The grant log (issue 13): one row per change to auth_grants, in commit
-- order, so permission snapshots apply what changed instead of reading every
-- grant again, and a grant no longer moves the credentials generation
-- (auth_state.generation), so a create's creator grant leaves every cached
-- credential valid. Numbers 13 and 14 are reserved for other branches.
CREATE TABLE auth_grant_log (
    -- AUTOINCREMENT: a number is never reused, even after pruning.
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    -- NULL: a reset (read every grant again).
    user_id       INTEGER,
    resource_kind TEXT,
    resource_id   TEXT,
    -- NULL: the grant was removed.
    level         TEXT
);
-- The first entry is a reset: a snapshot starts from the whole table.
INSERT INTO auth_grant_log (user_id) VALUES (NULL);
