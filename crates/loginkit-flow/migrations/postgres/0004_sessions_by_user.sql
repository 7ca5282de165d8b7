-- As migrations/sqlite/0004_sessions_by_user.sql: an authenticated request names its user, so
-- sessions are found through the (user_id, slot) key and the secret's digest needs no index of
-- its own; the (user_id, created_at, seq) index and `seq` are gone (sessions are ordered by
-- created_at, then slot). Fewer indexes, fewer pages written per login.
ALTER TABLE loginkit_sessions DROP CONSTRAINT loginkit_sessions_secret_digest_key;
DROP INDEX loginkit_sessions_user;
ALTER TABLE loginkit_sessions DROP COLUMN seq;
