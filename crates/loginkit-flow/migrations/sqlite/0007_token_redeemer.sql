-- Who may redeem a token-flow secret: NULL for whoever holds it, else the backend (an API key's
-- name) that started the login for a browser.
ALTER TABLE loginkit_tokens ADD COLUMN redeemer TEXT;
