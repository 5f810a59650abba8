-- Proofings by redirect are bound to the app that began them: the app
-- names its return address and a PKCE-like code challenge when it begins
-- (kept with the proofing), and an accepted answer becomes a confirmation
-- that only that app redeems, with a one-time code the browser hands to the
-- return address, the enrollment token and the verifier. account_id is
-- set for a step-up of an existing account (empty: a registration). Same
-- conventions as 00001 (times BIGINT UTC ms, NULL = zero).

-- +goose Up
ALTER TABLE proofings ADD COLUMN return_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE proofings ADD COLUMN code_challenge TEXT NOT NULL DEFAULT '';
ALTER TABLE proofings ADD COLUMN account_id TEXT NOT NULL DEFAULT '';

-- code_hash is the hash of the one-time code (the code is kept nowhere);
-- proof is the proven identity as in proofs.proof. A row is deleted when
-- it is redeemed (single use, whatever the outcome) or, unredeemed, by
-- DeleteExpired.
CREATE TABLE proofing_confirmations (
    code_hash      TEXT PRIMARY KEY,
    token_hash     TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    proof          TEXT NOT NULL,
    created_at     BIGINT,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX proofing_confirmations_expires_at ON proofing_confirmations (expires_at);

-- +goose Down
DROP TABLE proofing_confirmations;
ALTER TABLE proofings DROP COLUMN account_id;
ALTER TABLE proofings DROP COLUMN code_challenge;
ALTER TABLE proofings DROP COLUMN return_uri;
