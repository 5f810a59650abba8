-- The throttling counters of password checks (core/throttle), one per
-- member number, shared by every replica. Same conventions as 00001 (times
-- BIGINT UTC ms, NULL = zero).

-- +goose Up

-- A row exists only while its counter is not zero; expires_at is when the
-- rule forgets it (its last failure + the policy's Forget), after which
-- DeleteExpired removes it.
CREATE TABLE password_throttles (
    throttle_key TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    not_before   BIGINT,
    last_failure BIGINT,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX password_throttles_expires_at ON password_throttles (expires_at);

-- +goose Down
DROP TABLE password_throttles;
