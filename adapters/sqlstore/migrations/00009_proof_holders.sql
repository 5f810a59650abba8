-- The holder behind a proofing service's pseudonym (an eID card's
-- restricted identifier, hashed by the method): one member per pseudonym
-- of one service, so that a card linked to one member number cannot
-- register another. Same conventions as 00001.

-- +goose Up

CREATE TABLE proof_holders (
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    kvnr       TEXT NOT NULL,
    created_at BIGINT,
    PRIMARY KEY (issuer, subject)
);

-- +goose Down
DROP TABLE proof_holders;
