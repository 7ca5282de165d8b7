-- As migrations/sqlite/0005_token_lifecycle.sql: identities keep the verified ID token's
-- claims and the avatar; revocations owed to providers wait in loginkit_revocations until a
-- provider confirms them.
ALTER TABLE loginkit_identities ADD COLUMN claims TEXT, ADD COLUMN avatar_url TEXT;

CREATE TABLE loginkit_revocations (
    id         TEXT PRIMARY KEY NOT NULL,
    provider   TEXT NOT NULL,
    token      TEXT NOT NULL,
    hint       TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX loginkit_revocations_due ON loginkit_revocations (next_at);
