-- The English form of a client's name, shown to members who read English
-- ('' = the name, which is German, everywhere).

-- +goose Up
ALTER TABLE clients ADD COLUMN name_en TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE clients DROP COLUMN name_en;
