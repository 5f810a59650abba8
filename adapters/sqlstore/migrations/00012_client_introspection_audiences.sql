-- The resource servers a client's access tokens are for (a JSON list of
-- client IDs, as redirect_uris): they are in the tokens' aud and may see
-- them at introspection. Clients stored before this migration have none,
-- so only the client itself sees its tokens there.

-- +goose Up
ALTER TABLE clients ADD COLUMN introspection_audiences TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE clients DROP COLUMN introspection_audiences;
