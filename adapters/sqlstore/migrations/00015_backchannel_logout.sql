-- Back-channel logout (OpenID Connect Back-Channel Logout 1.0): where a
-- client takes logout tokens, and the durable queue of the tokens owed.
-- Same conventions as 00001 (times BIGINT UTC ms, NULL = zero; empty
-- strings for absent text).

-- +goose Up

-- '' for a client that takes no logout tokens: clients stored before this
-- migration are not told.
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';

-- One logout token owed to one client for one ended session
-- (core/logoutjob). due_at is the earliest next attempt; lease_until and
-- claim are set while a worker holds the job (a worker that died leaves
-- a lease that runs out, and then another takes the job over); attempts
-- counts the deliveries begun. No foreign keys: a client removed while a
-- job waits is dropped by the worker, and the account is only named for
-- the audit trail. The unique index keeps one job per session, client
-- and subject while it is queued.
CREATE TABLE logout_jobs (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    due_at      BIGINT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    lease_until BIGINT,
    claim       TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX logout_jobs_target ON logout_jobs (session_id, client_id, subject);
CREATE INDEX logout_jobs_due_at ON logout_jobs (due_at);

-- +goose Down
DROP TABLE logout_jobs;
ALTER TABLE clients DROP COLUMN backchannel_logout_uri;
