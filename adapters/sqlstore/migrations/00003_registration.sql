-- Registration by password letter: the queue of members' requests, the
-- letters, enrollment sessions, the proofs behind accounts, and rate limit
-- windows. Same conventions as 00001 (times BIGINT UTC ms, NULL = zero;
-- structured values JSON in TEXT).

-- +goose Up

-- A member's request for a letter, queued until a worker decides it.
-- birth_date is what the member typed; the row goes when the request is
-- decided (or, undecided, after a retention period in DeleteExpired).
-- lease_until is set while a worker holds the request (NULL: free).
CREATE TABLE registrations (
    id           TEXT PRIMARY KEY,
    kvnr         TEXT NOT NULL,
    birth_date   TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    lease_until  BIGINT
);
CREATE INDEX registrations_requested_at ON registrations (requested_at);

-- Password letters. recipient is a JSON object (name and the postal
-- address on file when the letter was decided). Letters are never deleted:
-- they are the record of what was sent to whom. lease_until is set while a
-- worker renders and hands over the letter (NULL: free).
CREATE TABLE letters (
    id              TEXT PRIMARY KEY,
    kvnr            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    state           TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    code_hash       TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    rendered_at     BIGINT,
    handed_over_at  BIGINT,
    activated_at    BIGINT,
    voided_at       BIGINT,
    void_reason     TEXT NOT NULL,
    outbox_name     TEXT NOT NULL,
    lease_until     BIGINT
);
CREATE INDEX letters_kvnr_created_at ON letters (kvnr, created_at);
CREATE INDEX letters_state_created_at ON letters (state, created_at);

-- Enrollment sessions, by the hash of the bearer token the app holds.
CREATE TABLE enrollments (
    id              TEXT PRIMARY KEY,
    token_hash      TEXT NOT NULL UNIQUE,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kvnr            TEXT NOT NULL,
    method          TEXT NOT NULL,
    created_at      BIGINT,
    expires_at      BIGINT NOT NULL,
    password_set_at BIGINT,
    completed_at    BIGINT
);
CREATE INDEX enrollments_account_id ON enrollments (account_id);

-- The identity proofs behind an account: method, level and time as
-- columns, the whole proof (attributes, evidence) as JSON. seq orders the
-- proofs of one account as they were recorded.
CREATE TABLE proofs (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    kvnr       TEXT NOT NULL,
    method     TEXT NOT NULL,
    level      TEXT NOT NULL,
    proved_at  BIGINT,
    proof      TEXT NOT NULL,
    PRIMARY KEY (account_id, seq)
);

-- Fixed-window event counters (rate limits) shared by all replicas:
-- window_ms is the window length, window_start its start; expires_at is
-- the end of the window, after which DeleteExpired removes the row.
CREATE TABLE rate_windows (
    rate_key     TEXT NOT NULL,
    window_ms    BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (rate_key, window_ms, window_start)
);
CREATE INDEX rate_windows_expires_at ON rate_windows (expires_at);

-- +goose Down
DROP TABLE rate_windows;
DROP TABLE proofs;
DROP TABLE enrollments;
DROP TABLE letters;
DROP TABLE registrations;
