-- Device binding and release PIN: the members' bound app keys with their
-- PIN attempt counters, the issued WebAuthn challenges, and the audit log.
-- Same conventions as 00001 (times BIGINT UTC ms, NULL = zero; binary
-- values BYTEA; structured values JSON in TEXT).

-- +goose Up

-- One bound key of a member's app. credential_id is the WebAuthn
-- credential id (unique: a key is bound once); enrollment_id the
-- enrollment session it was bound in (at most one key per session; no
-- foreign key, so that the binding outlives the session's row). The PIN
-- attempt counter is pin_failures / pin_not_before / pin_blocked, changed
-- only under the row's lock (Devices.UpdateBinding).
CREATE TABLE device_bindings (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    enrollment_id      TEXT NOT NULL,
    name               TEXT NOT NULL,
    platform           TEXT NOT NULL,
    credential_id      BYTEA NOT NULL,
    public_key         BYTEA NOT NULL,
    sign_count         BIGINT NOT NULL,
    aaguid             BYTEA,
    attestation_format TEXT NOT NULL,
    status             TEXT NOT NULL,
    pin_hash           TEXT NOT NULL,
    pin_failures       INTEGER NOT NULL,
    pin_not_before     BIGINT,
    pin_blocked        BOOLEAN NOT NULL,
    created_at         BIGINT,
    last_used_at       BIGINT,
    pin_set_at         BIGINT,
    revoked_at         BIGINT
);
CREATE UNIQUE INDEX device_bindings_credential_id ON device_bindings (credential_id);
CREATE INDEX device_bindings_account_id ON device_bindings (account_id, created_at);
CREATE UNIQUE INDEX device_bindings_enrollment_id ON device_bindings (enrollment_id) WHERE enrollment_id <> '';

-- Issued, not yet answered WebAuthn challenges; a challenge row is deleted
-- when it is answered (single use) or, unanswered, by DeleteExpired.
-- state is the key verifier's opaque ceremony state.
CREATE TABLE challenges (
    id         TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    subject    TEXT NOT NULL,
    state      BYTEA,
    created_at BIGINT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX challenges_expires_at ON challenges (expires_at);

-- The audit log: append-only (the adapter has no UPDATE or DELETE of it).
-- account_id has no foreign key: the record of what happened stays.
-- detail is a JSON object of non-secret facts.
CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY,
    event_time BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    account_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    ip_hash    TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX audit_events_account_time ON audit_events (account_id, event_time);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE challenges;
DROP TABLE device_bindings;
