-- Pforte's schema, the same DDL for SQLite and PostgreSQL:
--   times      BIGINT milliseconds since the Unix epoch, UTC; NULL = zero time
--   durations  BIGINT nanoseconds
--   lists      TEXT holding a JSON array of strings
--   binary     BYTEA (SQLite stores a BLOB under any type name)

-- +goose Up
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    kvnr          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    status        TEXT NOT NULL,
    proofing      TEXT NOT NULL,
    created_at    BIGINT,
    updated_at    BIGINT
);

CREATE TABLE members (
    kvnr          TEXT PRIMARY KEY,
    given_name    TEXT NOT NULL,
    family_name   TEXT NOT NULL,
    birth_date    TEXT NOT NULL,
    street        TEXT NOT NULL,
    postal_code   TEXT NOT NULL,
    locality      TEXT NOT NULL,
    country       TEXT NOT NULL,
    email         TEXT NOT NULL,
    insured_from  BIGINT,
    insured_until BIGINT,
    updated_at    BIGINT
);

CREATE TABLE clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    kind                      TEXT NOT NULL,
    auth_method               TEXT NOT NULL,
    secret_hash               TEXT NOT NULL,
    jwks                      BYTEA,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grant_types               TEXT NOT NULL,
    scopes                    TEXT NOT NULL,
    access_token_ttl          BIGINT NOT NULL,
    id_token_ttl              BIGINT NOT NULL,
    created_at                BIGINT
);

-- A pending authorization request; login_* are NULL until the member has
-- logged in (login_subject IS NULL means "no login yet").
CREATE TABLE auth_requests (
    id                    TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL,
    redirect_uri          TEXT NOT NULL,
    scopes                TEXT NOT NULL,
    state                 TEXT NOT NULL,
    nonce                 TEXT NOT NULL,
    code_challenge        TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    prompt                TEXT NOT NULL,
    max_age               BIGINT,
    acr_values            TEXT NOT NULL,
    ui_locales            TEXT NOT NULL,
    login_hint            TEXT NOT NULL,
    created_at            BIGINT,
    expires_at            BIGINT NOT NULL,
    login_subject         TEXT,
    login_auth_time       BIGINT,
    login_amr             TEXT,
    login_acr             TEXT
);
CREATE INDEX auth_requests_expires_at ON auth_requests (expires_at);

-- An issued authorization code, by hash; request is a JSON snapshot of the
-- authorization request it was issued for.
CREATE TABLE auth_codes (
    hash       TEXT PRIMARY KEY,
    request    TEXT NOT NULL,
    created_at BIGINT,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

CREATE TABLE token_families (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    auth_time  BIGINT,
    amr        TEXT NOT NULL,
    acr        TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    created_at BIGINT,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
-- A replayed code revokes the families issued for it.
CREATE INDEX token_families_code_hash ON token_families (code_hash);
CREATE INDEX token_families_expires_at ON token_families (expires_at);

CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    created_at BIGINT,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- Issued access tokens by JWT ID; family_id is NULL for client_credentials.
-- Revoking the family revokes its access tokens when they are read.
CREATE TABLE access_tokens (
    jti        TEXT PRIMARY KEY,
    family_id  TEXT REFERENCES token_families (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    issued_at  BIGINT,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX access_tokens_family_id ON access_tokens (family_id);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

CREATE TABLE signing_keys (
    id           TEXT PRIMARY KEY,
    algorithm    TEXT NOT NULL,
    state        TEXT NOT NULL,
    public_jwk   BYTEA,
    sealed       BYTEA,
    created_at   BIGINT,
    activated_at BIGINT,
    retired_at   BIGINT
);
-- At most one next and one active key: two replicas rotating at once cannot
-- both add a next key or both activate one.
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next';
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';

-- One-time values (client assertion JWT IDs, DPoP proof IDs) per scope.
CREATE TABLE replay_values (
    scope      TEXT NOT NULL,
    value      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (scope, value)
);
CREATE INDEX replay_values_expires_at ON replay_values (expires_at);

-- +goose Down
DROP TABLE replay_values;
DROP TABLE signing_keys;
DROP TABLE access_tokens;
DROP TABLE refresh_tokens;
DROP TABLE token_families;
DROP TABLE auth_codes;
DROP TABLE auth_requests;
DROP TABLE clients;
DROP TABLE members;
DROP TABLE accounts;
