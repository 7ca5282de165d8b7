-- Security round two: the same changes as migrations/sqlite/0002_security.sql.
--
-- Only a verified address is unique among users: an unverified one must never lock its verified
-- owner out.
DROP INDEX loginkit_users_email;
CREATE UNIQUE INDEX loginkit_users_verified_email ON loginkit_users (lower(email COLLATE "C"))
    WHERE email_verified;

-- A session made from a token-flow secret carries the digest of the link cookie of the browser
-- that finished the login; the one-time token carries it until then.
ALTER TABLE loginkit_sessions ADD COLUMN link_binding TEXT;
ALTER TABLE loginkit_tokens ADD COLUMN link_binding TEXT;

-- Pruning expired rows in bounded batches reads them by expiry.
CREATE INDEX loginkit_sessions_expire ON loginkit_sessions (expire);
CREATE INDEX loginkit_tokens_expire ON loginkit_tokens (expire);

-- The `sub` of an identity's last verified ID token: a refreshed ID token must name the same one.
ALTER TABLE loginkit_identities ADD COLUMN subject TEXT;
-- Until when (milliseconds) one refresh of the identity's tokens holds the right to call the
-- provider; others wait for its result instead of sending the same refresh token again.
ALTER TABLE loginkit_identities ADD COLUMN refresh_lease BIGINT;
