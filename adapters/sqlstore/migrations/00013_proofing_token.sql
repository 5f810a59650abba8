-- The hash of the enrollment token a proofing by redirect opens its
-- session with: handed to the app that began, never to the browser that
-- brings the service's answer back. Proofings begun before this migration
-- have none and are refused as unknown.

-- +goose Up
ALTER TABLE proofings ADD COLUMN token_hash TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE proofings DROP COLUMN token_hash;
