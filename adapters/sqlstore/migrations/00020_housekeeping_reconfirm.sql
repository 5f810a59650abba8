-- confirmed_at of a device binding is when the member last confirmed it
-- (core/device.Reconfirm): NULL until the first re-confirmation, when the
-- binding's creation counts. binding_id of a proofing and its
-- confirmation names the binding an eID step-up confirms again (empty:
-- none).
--
-- Leases: named locks with an expiry that the replicas share, so that
-- one of them at a time does the work a lease guards (core/housekeeping).
-- holder is empty when nobody holds it; until_at ends a hold by itself
-- (a holder that died); due_at is when the next scheduled run is due.
-- Same conventions as 00001 (times BIGINT UTC ms).

-- +goose Up
ALTER TABLE device_bindings ADD COLUMN confirmed_at BIGINT;
ALTER TABLE proofings ADD COLUMN binding_id TEXT NOT NULL DEFAULT '';
ALTER TABLE proofing_confirmations ADD COLUMN binding_id TEXT NOT NULL DEFAULT '';

CREATE TABLE leases (
    name     TEXT PRIMARY KEY,
    holder   TEXT NOT NULL,
    until_at BIGINT NOT NULL,
    due_at   BIGINT NOT NULL
);

-- +goose Down
DROP TABLE leases;
ALTER TABLE proofing_confirmations DROP COLUMN binding_id;
ALTER TABLE proofings DROP COLUMN binding_id;
ALTER TABLE device_bindings DROP COLUMN confirmed_at;
