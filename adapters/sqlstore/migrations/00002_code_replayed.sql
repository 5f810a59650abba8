-- A replayed authorization code is marked, so that tokens for it can no
-- longer be stored (Tokens.CreateFamily checks the mark under the code's row
-- lock; Tokens.RevokeFamiliesOfCode sets it). NULL: not replayed.

-- +goose Up
ALTER TABLE auth_codes ADD COLUMN replayed_at BIGINT;

-- +goose Down
ALTER TABLE auth_codes DROP COLUMN replayed_at;
