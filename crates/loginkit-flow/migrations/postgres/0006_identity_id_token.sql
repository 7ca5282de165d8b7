-- As migrations/sqlite/0006_identity_id_token.sql.
ALTER TABLE loginkit_identities ADD COLUMN id_token TEXT;
