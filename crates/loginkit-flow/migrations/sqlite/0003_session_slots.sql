-- Sessions by slot: each of a user's sessions takes a slot, and (user, slot) is unique. A login
-- takes a free slot below the session limit, or the oldest session's; a concurrent login that
-- took the same slot makes it start over. This is how the limit holds without a lock shared by
-- every login. Existing sessions are numbered by age.
ALTER TABLE loginkit_sessions ADD COLUMN slot INTEGER NOT NULL DEFAULT 0;
UPDATE loginkit_sessions SET slot = (
    SELECT COUNT(*) FROM loginkit_sessions AS older
    WHERE older.user_id = loginkit_sessions.user_id
      AND (older.created_at < loginkit_sessions.created_at
           OR (older.created_at = loginkit_sessions.created_at AND older.rowid < loginkit_sessions.rowid))
);
CREATE UNIQUE INDEX loginkit_sessions_slot ON loginkit_sessions (user_id, slot);
