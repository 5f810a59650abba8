package main

import (
	"context"
	"log/slog"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/lifecycle"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/ports/store"
)

// This file is the back end of `pforte members` and `pforte letters`: what
// the commands need, as interfaces, and how run.go's wiring provides them.

// memberAdmin is what `pforte members` needs from the store. The methods
// have the signatures of ports/store, so the SQL store provides them
// directly; no master key is needed to read or import master data.
type memberAdmin interface {
	store.MemberImport
	// lifecycle.Store: the full sync (members sync).
	lifecycle.Store
	MemberByKVNR(ctx context.Context, k kvnr.KVNR) (member.Member, error)
	LatestLetter(ctx context.Context, k kvnr.KVNR) (letter.Letter, error)
	Close() error
}

// letterAdmin is what `pforte letters` needs: the operator methods of the
// registration use case (core/registration.Service), which return letters
// with their hashes cleared.
type letterAdmin interface {
	ListLetters(ctx context.Context, state letter.State, limit int) ([]letter.Letter, error)
	RenderLetter(ctx context.Context, id string) (letter.Letter, error)
	RetryLetter(ctx context.Context, id string) (letter.Letter, error)
	ReportLostByOperator(ctx context.Context, rep registration.LostReport) (registration.LostResult, error)
	Close() error
}

// openMembers opens the store of cfg for `pforte members` as `pforte
// serve` opens it (server.OpenStore: the same storage and schema check).
// It needs no master key: master data is neither sealed nor hashed.
func openMembers(ctx context.Context, cfg *Config, log *slog.Logger) (memberAdmin, error) {
	return openStore(ctx, cfg, log)
}

// openStore opens the store of cfg alone, as `pforte serve` opens it.
func openStore(ctx context.Context, cfg *Config, log *slog.Logger) (*sqlstore.Store, error) {
	if err := prepareStorage(storageConfig(cfg)); err != nil {
		return nil, err
	}
	// The whole mapping, so that the storage options are serve's; only
	// they are used.
	o, err := serverOptions(cfg, nil, nil)
	if err != nil {
		return nil, err
	}
	o.Log = log
	return server.OpenStore(ctx, o)
}

// sqlLetters is the registration use case of a server.Backend.
type sqlLetters struct {
	*registration.Service
	backend *server.Backend
}

func (l sqlLetters) Close() error { return l.backend.Close() }

// openLetters builds the registration use case of cfg for `pforte
// letters`: the store (as openStore opens it), the letter hash key derived
// from the master key, the renderer and the outbox, exactly as `pforte
// serve` builds them, but without signing keys, clients, demo members or
// a listener (server.OpenBackend).
func openLetters(ctx context.Context, cfg *Config, log *slog.Logger) (letterAdmin, error) {
	o, err := baseOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	b, err := server.OpenBackend(ctx, o)
	if err != nil {
		return nil, err
	}
	return sqlLetters{Service: b.Registration(), backend: b}, nil
}

// eligibility is who may register, from the registration section.
func (c *Config) eligibility() member.Eligibility {
	return member.Eligibility{Ahead: c.Registration.EligibleAhead, Grace: c.Registration.EligibleGrace}
}
