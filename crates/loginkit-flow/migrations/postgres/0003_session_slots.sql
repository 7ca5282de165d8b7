-- Sessions by slot, as in migrations/sqlite/0003_session_slots.sql: each of a user's sessions
-- takes a slot, and (user, slot) is unique; existing sessions are numbered by age.
ALTER TABLE loginkit_sessions ADD COLUMN slot BIGINT NOT NULL DEFAULT 0;
UPDATE loginkit_sessions AS s SET slot = numbered.n
FROM (SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY created_at, seq) - 1 AS n
      FROM loginkit_sessions) AS numbered
WHERE numbered.id = s.id;
CREATE UNIQUE INDEX loginkit_sessions_slot ON loginkit_sessions (user_id, slot);

-- A login's writes are one statement that ends by calling this when one of its parts did not
-- touch the row it had to: the whole statement is undone, and SQLSTATE 40001 (serialization
-- failure) tells the store to look up and decide again.
CREATE FUNCTION loginkit_conflict() RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'loginkit: a concurrent login changed what this one read' USING ERRCODE = '40001';
END
$$;
