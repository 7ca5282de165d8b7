-- The provider-token lifecycle. Identities keep the verified ID token's claims (JSON text) and
-- the avatar the profile named. Revocations owed to providers (on sign-out and unlink) wait here
-- until a provider confirms them: one row per token, sealed and bound to its row id, tried
-- again with backoff while the provider is down, dropped after its last attempt.
ALTER TABLE loginkit_identities ADD COLUMN claims TEXT;
ALTER TABLE loginkit_identities ADD COLUMN avatar_url TEXT;

CREATE TABLE loginkit_revocations (
    id         TEXT PRIMARY KEY NOT NULL,
    provider   TEXT NOT NULL,
    token      TEXT NOT NULL,
    hint       TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX loginkit_revocations_due ON loginkit_revocations (next_at);
