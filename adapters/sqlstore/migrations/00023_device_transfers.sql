-- Device transfers: a new phone bound with the approval of the member's
-- old phone (core/device.Transfer). code_hash and secret_hash are hashes
-- of the transfer code (the QR code) and of the redemption secret the new
-- phone keeps; neither secret is stored. account_id, approved_by (a
-- binding id) and approved_at are set by the approval; redeemed_at and
-- enrollment_id by the redemption. Rows go with DeleteExpired. Same
-- conventions as 00001 (times BIGINT UTC ms, NULL = zero).
--
-- enrollments.transfer_id names the transfer that opened a session
-- (empty: a proofing did): such a session takes no password and leaves the
-- account's status as it is when it completes.

-- +goose Up
CREATE TABLE device_transfers (
    id            TEXT PRIMARY KEY,
    code_hash     TEXT NOT NULL UNIQUE,
    secret_hash   TEXT NOT NULL UNIQUE,
    kvnr          TEXT NOT NULL,
    created_at    BIGINT,
    expires_at    BIGINT NOT NULL,
    account_id    TEXT NOT NULL DEFAULT '',
    approved_by   TEXT NOT NULL DEFAULT '',
    approved_at   BIGINT,
    redeemed_at   BIGINT,
    enrollment_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX device_transfers_expires_at ON device_transfers (expires_at);

ALTER TABLE enrollments ADD COLUMN transfer_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE enrollments DROP COLUMN transfer_id;
DROP TABLE device_transfers;
