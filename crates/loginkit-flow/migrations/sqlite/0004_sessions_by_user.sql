-- Sessions stored by user: the table's key is (user_id, slot), so a user's sessions sit together
-- and a login's read of them, an authenticated request's lookup and the replacement of a session
-- in its slot each touch one page. An authenticated request names its user (the cookie carries
-- the user id), so the secret's digest needs no index of its own; the session id keeps a unique
-- one. The (user_id, created_at) index is gone: the key serves every lookup by user. Used states
-- are kept in their key's order too (one b-tree, not a table and an index).
CREATE TABLE loginkit_sessions_v4 (
    user_id             TEXT NOT NULL,
    slot                INTEGER NOT NULL,
    id                  TEXT NOT NULL,
    secret_digest       TEXT NOT NULL,
    provider            TEXT NOT NULL,
    provider_uid        TEXT NOT NULL,
    access_token        TEXT NOT NULL,
    refresh_token       TEXT,
    access_token_expiry INTEGER,
    expire              INTEGER NOT NULL,
    ip                  TEXT NOT NULL DEFAULT '',
    user_agent          TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    link_binding        TEXT,
    PRIMARY KEY (user_id, slot)
) WITHOUT ROWID;
INSERT INTO loginkit_sessions_v4 (user_id, slot, id, secret_digest, provider, provider_uid, access_token,
                                  refresh_token, access_token_expiry, expire, ip, user_agent, created_at,
                                  updated_at, link_binding)
    SELECT user_id, slot, id, secret_digest, provider, provider_uid, access_token, refresh_token,
           access_token_expiry, expire, ip, user_agent, created_at, updated_at, link_binding
    FROM loginkit_sessions;
DROP TABLE loginkit_sessions;
ALTER TABLE loginkit_sessions_v4 RENAME TO loginkit_sessions;
CREATE UNIQUE INDEX loginkit_sessions_id ON loginkit_sessions (id);
CREATE INDEX loginkit_sessions_expire ON loginkit_sessions (expire);

CREATE TABLE loginkit_used_states_v4 (
    id     TEXT PRIMARY KEY NOT NULL,
    expire INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO loginkit_used_states_v4 (id, expire) SELECT id, expire FROM loginkit_used_states;
DROP TABLE loginkit_used_states;
ALTER TABLE loginkit_used_states_v4 RENAME TO loginkit_used_states;
CREATE INDEX loginkit_used_states_expire ON loginkit_used_states (expire);
