-- App login, DPoP and pushed authorization requests. Same conventions as
-- 00001 (times BIGINT UTC ms, NULL = zero; empty strings for absent text).

-- +goose Up

-- The device binding an app login was made with ('' for a password login):
-- revoking the binding revokes its families. dpop_jkt is the JWK
-- thumbprint the family's refresh tokens are bound to ('' unbound).
ALTER TABLE token_families ADD COLUMN binding_id TEXT NOT NULL DEFAULT '';
ALTER TABLE token_families ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
CREATE INDEX token_families_binding_id ON token_families (binding_id);

-- cnf.jkt of a DPoP-bound access token ('' for a bearer token).
ALTER TABLE access_tokens ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';

-- dpop_jkt: the authorization request parameter (RFC 9449 §10).
-- login_binding_id: the device binding of the login, NULL with the other
-- login_* columns until the member has logged in.
-- A pushed request (RFC 9126) has request_uri_hash (the hash of its
-- request_uri) and request_uri_expires_at; it is hidden from everything
-- but AuthRequests.ConsumePushedRequest until request_uri_used_at is set,
-- after which it is an ordinary pending request. A plain request has all
-- three NULL.
ALTER TABLE auth_requests ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN login_binding_id TEXT;
ALTER TABLE auth_requests ADD COLUMN request_uri_hash TEXT;
ALTER TABLE auth_requests ADD COLUMN request_uri_expires_at BIGINT;
ALTER TABLE auth_requests ADD COLUMN request_uri_used_at BIGINT;
CREATE UNIQUE INDEX auth_requests_request_uri_hash ON auth_requests (request_uri_hash);

-- What else a challenge is bound to (an authorization request id; '' none).
ALTER TABLE challenges ADD COLUMN context TEXT NOT NULL DEFAULT '';

ALTER TABLE clients ADD COLUMN require_par BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN require_dpop BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN sector_identifier TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE clients DROP COLUMN sector_identifier;
ALTER TABLE clients DROP COLUMN require_dpop;
ALTER TABLE clients DROP COLUMN require_par;
ALTER TABLE challenges DROP COLUMN context;
DROP INDEX auth_requests_request_uri_hash;
ALTER TABLE auth_requests DROP COLUMN request_uri_used_at;
ALTER TABLE auth_requests DROP COLUMN request_uri_expires_at;
ALTER TABLE auth_requests DROP COLUMN request_uri_hash;
ALTER TABLE auth_requests DROP COLUMN login_binding_id;
ALTER TABLE auth_requests DROP COLUMN dpop_jkt;
ALTER TABLE access_tokens DROP COLUMN dpop_jkt;
DROP INDEX token_families_binding_id;
ALTER TABLE token_families DROP COLUMN dpop_jkt;
ALTER TABLE token_families DROP COLUMN binding_id;
