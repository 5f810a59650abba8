package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/registration"
)

// Backend is the registration use case on its own, with the store it runs
// on: what the operator commands for letters need. Unlike New it loads no
// signing keys, applies no clients or members and builds no HTTP handler,
// so running an operator command next to live servers changes nothing but
// what the command does. It hashes and renders letters exactly as the
// server does (same master key, same outbox), so a letter rendered here
// activates there.
type Backend struct {
	store *sqlstore.Store
	reg   *registration.Service
}

// OpenBackend opens the store of o (migrating it when o.AutoMigrate, else
// refusing a schema that is not up to date) and builds the registration
// use case from o. Fields of o that only New uses (Keys, Authz, Clients,
// Members, intervals, TrustedProxies) are ignored. Close releases the
// store.
func OpenBackend(ctx context.Context, o Options) (*Backend, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	o.Issuer = strings.TrimSuffix(o.Issuer, "/")
	if err := keys.CheckMaster(o.MasterKey); err != nil {
		return nil, err
	}
	st, err := sqlstore.Open(ctx, o.Storage)
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", o.Storage.Driver, err)
	}
	s := &Server{opts: o, store: st, log: o.Log}
	reg, err := func() (*registration.Service, error) {
		if err := s.migrate(ctx); err != nil {
			return nil, err
		}
		hasher, err := password.NewHasher(o.PasswordParams, o.HashConcurrency)
		if err != nil {
			return nil, err
		}
		return s.newRegistration(hasher)
	}()
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return &Backend{store: st, reg: reg}, nil
}

// Registration is the registration use case.
func (b *Backend) Registration() *registration.Service { return b.reg }

// Store is the storage adapter.
func (b *Backend) Store() *sqlstore.Store { return b.store }

// Close releases the store.
func (b *Backend) Close() error { return b.store.Close() }
