-- Proofings by redirect (an eID service) between their begin and the
-- service's answer. Same conventions as 00001 (times BIGINT UTC ms, NULL =
-- zero; binary values BYTEA).

-- +goose Up

-- state_hash is the hash of the state the service hands back (the state
-- itself is kept nowhere); data is the method's own (a nonce, a PKCE
-- verifier). A row is deleted when the answer comes (single use) or,
-- unanswered, by DeleteExpired.
CREATE TABLE proofings (
    state_hash TEXT PRIMARY KEY,
    method     TEXT NOT NULL,
    kvnr       TEXT NOT NULL,
    data       BYTEA,
    created_at BIGINT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX proofings_expires_at ON proofings (expires_at);

-- +goose Down
DROP TABLE proofings;
