-- As migrations/sqlite/0007_token_redeemer.sql.
ALTER TABLE loginkit_tokens ADD COLUMN redeemer TEXT;
