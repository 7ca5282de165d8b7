-- Security round two.
--
-- Only a verified address is unique among users: an unverified one (a provider that does not
-- vouch for it, or says it is unverified) must never lock its verified owner out. SQLite cannot
-- drop the column's UNIQUE constraint in place, so the table is rebuilt.
CREATE TABLE loginkit_users_v2 (
    id             TEXT PRIMARY KEY NOT NULL,
    email          TEXT COLLATE NOCASE,
    email_verified INTEGER NOT NULL DEFAULT 0,
    name           TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
INSERT INTO loginkit_users_v2 (id, email, email_verified, name, created_at, updated_at)
    SELECT id, email, email_verified, name, created_at, updated_at FROM loginkit_users;
DROP TABLE loginkit_users;
ALTER TABLE loginkit_users_v2 RENAME TO loginkit_users;
CREATE UNIQUE INDEX loginkit_users_verified_email ON loginkit_users (email COLLATE NOCASE)
    WHERE email_verified = 1;

-- A session made from a token-flow secret carries the digest of the link cookie of the browser
-- that finished the login; the one-time token carries it until then.
ALTER TABLE loginkit_sessions ADD COLUMN link_binding TEXT;
ALTER TABLE loginkit_tokens ADD COLUMN link_binding TEXT;

-- Pruning expired rows in bounded batches reads them by expiry.
CREATE INDEX loginkit_sessions_expire ON loginkit_sessions (expire);
CREATE INDEX loginkit_tokens_expire ON loginkit_tokens (expire);
CREATE INDEX loginkit_used_states_expire ON loginkit_used_states (expire);

-- The `sub` of an identity's last verified ID token: a refreshed ID token must name the same one.
ALTER TABLE loginkit_identities ADD COLUMN subject TEXT;
-- Until when (milliseconds) one refresh of the identity's tokens holds the right to call the
-- provider; others wait for its result instead of sending the same refresh token again.
ALTER TABLE loginkit_identities ADD COLUMN refresh_lease INTEGER;
