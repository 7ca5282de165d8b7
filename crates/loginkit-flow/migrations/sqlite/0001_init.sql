-- loginkit's tables. Prefixed so they can live in an application's own database.
-- Times are milliseconds since the Unix epoch. Provider tokens are sealed (AES-256-GCM) by the
-- flow before they reach this database; session and token secrets are stored as SHA-256 digests.

CREATE TABLE loginkit_users (
    id             TEXT PRIMARY KEY NOT NULL,
    email          TEXT COLLATE NOCASE UNIQUE,
    email_verified INTEGER NOT NULL DEFAULT 0,
    name           TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE loginkit_identities (
    id                  TEXT PRIMARY KEY NOT NULL,
    user_id             TEXT NOT NULL,
    provider            TEXT NOT NULL,
    provider_uid        TEXT NOT NULL,
    provider_email      TEXT NOT NULL DEFAULT '',
    access_token        TEXT NOT NULL,
    refresh_token       TEXT,
    access_token_expiry INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (provider, provider_uid)
);
CREATE INDEX loginkit_identities_user ON loginkit_identities (user_id);
CREATE INDEX loginkit_identities_email ON loginkit_identities (provider_email COLLATE NOCASE);

CREATE TABLE loginkit_sessions (
    id                  TEXT PRIMARY KEY NOT NULL,
    user_id             TEXT NOT NULL,
    secret_digest       TEXT NOT NULL UNIQUE,
    provider            TEXT NOT NULL,
    provider_uid        TEXT NOT NULL,
    access_token        TEXT NOT NULL,
    refresh_token       TEXT,
    access_token_expiry INTEGER,
    expire              INTEGER NOT NULL,
    ip                  TEXT NOT NULL DEFAULT '',
    user_agent          TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX loginkit_sessions_user ON loginkit_sessions (user_id, created_at);

CREATE TABLE loginkit_tokens (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL,
    secret_digest TEXT NOT NULL UNIQUE,
    provider      TEXT NOT NULL,
    expire        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE loginkit_used_states (
    id     TEXT PRIMARY KEY NOT NULL,
    expire INTEGER NOT NULL
);
