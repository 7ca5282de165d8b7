-- The account's last ID token (sealed like its other tokens), for Appwrite's Identity.providerIdToken.
ALTER TABLE loginkit_identities ADD COLUMN id_token TEXT;
