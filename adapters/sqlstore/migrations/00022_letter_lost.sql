-- A queued request can be a report that the member's letter was lost: the
-- worker voids the member's live letter (void_reason 'lost') before it
-- decides the request like any other. Requests queued before this
-- migration are ordinary requests.

-- +goose Up
ALTER TABLE registrations ADD COLUMN lost BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE registrations DROP COLUMN lost;
