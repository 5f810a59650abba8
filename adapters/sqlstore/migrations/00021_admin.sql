-- Support staff's tasks (the admin API and the operator CLI).
--
-- A client's secret rollover: while previous_secret_until lies in the
-- future, previous_secret_hash (the secret before the last rotation) is
-- accepted beside secret_hash, so that the client's operator can deploy
-- the new secret without an outage. Empty / NULL: no rollover.
--
-- The member search by birth date and name reads members by birth date:
-- the index keeps it from scanning the directory. Audit queries by time
-- range and kind without a member use the time index.

-- +goose Up
ALTER TABLE clients ADD COLUMN previous_secret_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN previous_secret_until BIGINT;
CREATE INDEX members_birth_date ON members (birth_date);
CREATE INDEX audit_events_time ON audit_events (event_time);

-- +goose Down
DROP INDEX audit_events_time;
DROP INDEX members_birth_date;
ALTER TABLE clients DROP COLUMN previous_secret_until;
ALTER TABLE clients DROP COLUMN previous_secret_hash;
