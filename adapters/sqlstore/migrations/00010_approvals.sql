-- The web login's approvals: a browser login waiting for the member's
-- decision in the app (core/approval). Same conventions as 00001 (times
-- BIGINT UTC ms, NULL = zero; empty strings for absent text; binary values
-- BYTEA).

-- +goose Up

-- number is what the browser shows; choice_1..3 what the app offers, in
-- order. session_hash is the hash of the browser session's secret (the
-- secret itself is kept nowhere). status: pending, approved, denied, used;
-- reason, binding_id and decided_at are set by the decision. No foreign
-- keys: an approval lives two minutes and DeleteExpired removes it, and
-- the decision checks the account and binding it names itself.
CREATE TABLE approvals (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    browser      TEXT NOT NULL,
    number       INTEGER NOT NULL,
    choice_1     INTEGER NOT NULL,
    choice_2     INTEGER NOT NULL,
    choice_3     INTEGER NOT NULL,
    session_hash BYTEA NOT NULL,
    created_at   BIGINT,
    expires_at   BIGINT NOT NULL,
    status       TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    binding_id   TEXT NOT NULL DEFAULT '',
    decided_at   BIGINT
);
CREATE INDEX approvals_account_id ON approvals (account_id, expires_at);
CREATE INDEX approvals_expires_at ON approvals (expires_at);

-- +goose Down
DROP TABLE approvals;
