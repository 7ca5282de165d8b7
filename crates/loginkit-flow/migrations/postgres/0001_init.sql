-- loginkit's tables on PostgreSQL: the same tables, columns and rules as migrations/sqlite.
-- Prefixed so they can live in an application's own database.
-- Times are milliseconds since the Unix epoch (BIGINT). Provider tokens are sealed (AES-256-GCM)
-- by the flow before they reach this database; session and token secrets are stored as SHA-256
-- digests.
-- Emails compare case-insensitively in ASCII only, like SQLite's NOCASE: lower() under the "C"
-- collation folds A-Z and nothing else, whatever the database's locale.

CREATE TABLE loginkit_users (
    id             TEXT PRIMARY KEY NOT NULL,
    email          TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    name           TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX loginkit_users_email ON loginkit_users (lower(email COLLATE "C"));

CREATE TABLE loginkit_identities (
    id                  TEXT PRIMARY KEY NOT NULL,
    user_id             TEXT NOT NULL,
    provider            TEXT NOT NULL,
    provider_uid        TEXT NOT NULL,
    provider_email      TEXT NOT NULL DEFAULT '',
    access_token        TEXT NOT NULL,
    refresh_token       TEXT,
    access_token_expiry BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (provider, provider_uid)
);
CREATE INDEX loginkit_identities_user ON loginkit_identities (user_id);
CREATE INDEX loginkit_identities_email ON loginkit_identities (lower(provider_email COLLATE "C"));

-- `seq` keeps insertion order among sessions created in the same millisecond (SQLite's rowid).
CREATE TABLE loginkit_sessions (
    id                  TEXT PRIMARY KEY NOT NULL,
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY,
    user_id             TEXT NOT NULL,
    secret_digest       TEXT NOT NULL UNIQUE,
    provider            TEXT NOT NULL,
    provider_uid        TEXT NOT NULL,
    access_token        TEXT NOT NULL,
    refresh_token       TEXT,
    access_token_expiry BIGINT,
    expire              BIGINT NOT NULL,
    ip                  TEXT NOT NULL DEFAULT '',
    user_agent          TEXT NOT NULL DEFAULT '',
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX loginkit_sessions_user ON loginkit_sessions (user_id, created_at, seq);

CREATE TABLE loginkit_tokens (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL,
    secret_digest TEXT NOT NULL UNIQUE,
    provider      TEXT NOT NULL,
    expire        BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE loginkit_used_states (
    id     TEXT PRIMARY KEY NOT NULL,
    expire BIGINT NOT NULL
);
CREATE INDEX loginkit_used_states_expire ON loginkit_used_states (expire);
