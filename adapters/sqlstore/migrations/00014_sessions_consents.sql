-- Single sign-on sessions (core/session) and remembered consents
-- (core/consent). Same conventions as 00001 (times BIGINT UTC ms, NULL =
-- zero; empty strings for absent text; lists as JSON text).

-- +goose Up

-- A browser's SSO session. secret_hash is the hash of the cookie's secret
-- (the secret itself is kept nowhere); id is the public sid of ID tokens
-- and logout tokens. level is the level of assurance the session's login
-- reached (loa.Level); amr and auth_time are that login's; binding_id the
-- device binding that confirmed it (empty for the password alone). clients
-- are the relying parties the session served (JSON list of client ids).
-- ended_at is set once, by logout or revocation, with end_reason;
-- notified_at once its relying parties' back-channel logouts are queued.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    secret_hash  TEXT NOT NULL UNIQUE,
    account_id   TEXT NOT NULL,
    level        INTEGER NOT NULL,
    amr          TEXT NOT NULL,
    auth_time    BIGINT NOT NULL,
    binding_id   TEXT NOT NULL DEFAULT '',
    browser      TEXT NOT NULL DEFAULT '',
    clients      TEXT NOT NULL DEFAULT '[]',
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    idle_until   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ended_at     BIGINT,
    end_reason   TEXT NOT NULL DEFAULT '',
    notified_at  BIGINT
);
CREATE INDEX sessions_account_id ON sessions (account_id);
CREATE INDEX sessions_binding_id ON sessions (binding_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- The session a login was made in: on the pending request, and on the
-- token families issued from it, so that ending the session revokes them.
ALTER TABLE auth_requests ADD COLUMN login_session_id TEXT;
ALTER TABLE token_families ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
CREATE INDEX token_families_session_id ON token_families (session_id);

-- The member an id_token_hint named (its sub, as the client in its aud
-- received it), checked against the SSO session's member.
ALTER TABLE auth_requests ADD COLUMN hint_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN hint_client_id TEXT NOT NULL DEFAULT '';

-- consent: the client is a third party whose access the member confirms
-- on a consent page (the insurer's own services skip it).
ALTER TABLE clients ADD COLUMN consent BOOLEAN NOT NULL DEFAULT FALSE;

-- What a member allowed a third-party client: the scopes, a JSON list.
CREATE TABLE consents (
    account_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

-- +goose Down
DROP TABLE consents;
ALTER TABLE clients DROP COLUMN consent;
ALTER TABLE auth_requests DROP COLUMN hint_client_id;
ALTER TABLE auth_requests DROP COLUMN hint_subject;
DROP INDEX token_families_session_id;
ALTER TABLE token_families DROP COLUMN session_id;
ALTER TABLE auth_requests DROP COLUMN login_session_id;
DROP TABLE sessions;
