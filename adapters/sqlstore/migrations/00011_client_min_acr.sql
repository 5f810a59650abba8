-- The lowest level of assurance a client accepts ('low', 'substantial',
-- 'high'; '' none). Clients stored before this migration accept
-- substantial, Pforte's default for every kind: a password alone no
-- longer reaches them unless their definition lowers it.

-- +goose Up
ALTER TABLE clients ADD COLUMN min_acr TEXT NOT NULL DEFAULT 'substantial';

-- +goose Down
ALTER TABLE clients DROP COLUMN min_acr;
