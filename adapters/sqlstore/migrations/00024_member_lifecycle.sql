-- The end of a membership and the deletion of accounts. removed_at is set
-- when a full member sync (MemberLifecycle.SyncMembers) no longer finds
-- the member in the insurer's file, and cleared when a later import has
-- the member again; the membership counts as ended on that day unless
-- insured_until says earlier. Same conventions as 00001 (times BIGINT UTC
-- ms, NULL = zero).

-- +goose Up
ALTER TABLE members ADD COLUMN removed_at BIGINT;
CREATE INDEX members_removed_at ON members (removed_at);
CREATE INDEX members_insured_until ON members (insured_until);
CREATE INDEX token_families_subject ON token_families (subject);
CREATE INDEX consents_account_id ON consents (account_id);
CREATE INDEX proof_holders_kvnr ON proof_holders (kvnr);

-- +goose Down
DROP INDEX proof_holders_kvnr;
DROP INDEX consents_account_id;
DROP INDEX token_families_subject;
DROP INDEX members_insured_until;
DROP INDEX members_removed_at;
ALTER TABLE members DROP COLUMN removed_at;
