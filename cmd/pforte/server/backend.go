package server

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/registration"
)

// Backend is the registration and device binding use cases on their own,
// with the store they run on: what the operator commands for letters,
// devices and the audit log need. Unlike New it loads no
// signing keys, applies no clients or members and builds no HTTP handler,
// so running an operator command next to live servers changes nothing but
// what the command does. It hashes and renders letters exactly as the
// server does (same master key, same outbox), so a letter rendered here
// activates there; its device binding has the server's policies, PIN
// peppers, audit IP key and notifier, so an operator's unblock is recorded
// and told as the server's own actions are.
type Backend struct {
	store   *sqlstore.Store
	reg     *registration.Service
	bind    *binding.Service
	s       *Server
	secrets client.SecretHasher
}

// OpenBackend opens the store of o (migrating it when o.AutoMigrate, else
// refusing a schema that is not up to date) and builds the registration
// and device binding use cases from o, along the same path as New (open)
// but without what only serving needs: signing keys, clients, members,
// the HTTP handler. Options only New uses (Clients, Members, intervals,
// TrustedProxies) are validated but not applied. Close releases the store.
func OpenBackend(ctx context.Context, o Options) (*Backend, error) {
	s, _, err := open(ctx, o, true)
	if err != nil {
		return nil, err
	}
	secrets, err := SecretHasher(s.opts.MasterKey)
	if err != nil {
		_ = s.store.Close()
		return nil, err
	}
	return &Backend{store: s.store, reg: s.reg, bind: s.bind, s: s, secrets: secrets}, nil
}

// OpenStore opens the store of o as New does (o.Storage; migrated when
// o.AutoMigrate, else refused when its schema is not up to date) and
// builds nothing else: what the operator commands on master data need.
// Only Storage, AutoMigrate and Log of o are used, so no master key is
// needed. Close the store when done.
func OpenStore(ctx context.Context, o Options) (*sqlstore.Store, error) {
	return openStore(ctx, o.withDefaults())
}

// Admin is the store with the server's client secret hash and signing key
// ring: what the operator commands for clients and keys need. Like
// Backend it applies no clients or members and builds no handler or use
// case; the key ring is loaded only when asked for (Keys).
type Admin struct {
	store   *sqlstore.Store
	secrets client.SecretHasher
	opts    Options
	parts   parts
}

// OpenAdmin validates o as New does and opens its store (see OpenStore).
// A secret hashed by its SecretHasher is one the server accepts, and its
// Keys are sealed and rotated as the server's. Close releases the store.
func OpenAdmin(ctx context.Context, o Options) (*Admin, error) {
	o, p, err := prepare(o)
	if err != nil {
		return nil, err
	}
	secrets, err := SecretHasher(o.MasterKey)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, o)
	if err != nil {
		return nil, err
	}
	return &Admin{store: st, secrets: secrets, opts: o, parts: p}, nil
}

// Store is the storage adapter.
func (a *Admin) Store() *sqlstore.Store { return a.store }

// SecretHasher is the keyed hash client secrets are stored under.
func (a *Admin) SecretHasher() client.SecretHasher { return a.secrets }

// Keys loads the signing key ring as New does: it creates the first keys
// of a new database and applies a rotation that is due, as a starting
// server would. Listing the keys needs no ring (Store().ListSigningKeys).
func (a *Admin) Keys(ctx context.Context) (*keys.Ring, error) {
	return newRing(ctx, a.store, a.opts, a.parts)
}

// Close releases the store.
func (a *Admin) Close() error { return a.store.Close() }

// Registration is the registration use case.
func (b *Backend) Registration() *registration.Service { return b.reg }

// Binding is the device binding use case (its operator methods:
// AccountDevices, UnblockDevice, AuditLog).
func (b *Backend) Binding() *binding.Service { return b.bind }

// Store is the storage adapter.
func (b *Backend) Store() *sqlstore.Store { return b.store }

// Close releases the store.
func (b *Backend) Close() error { return b.store.Close() }

// quietStart is a slog.Handler that drops every record until started is
// set, and then passes them on to Handler.
type quietStart struct {
	slog.Handler
	started *atomic.Bool
}

func (h *quietStart) Enabled(ctx context.Context, l slog.Level) bool {
	return h.started.Load() && h.Handler.Enabled(ctx, l)
}

func (h *quietStart) Handle(ctx context.Context, r slog.Record) error {
	if !h.started.Load() {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h *quietStart) WithAttrs(as []slog.Attr) slog.Handler {
	return &quietStart{Handler: h.Handler.WithAttrs(as), started: h.started}
}

func (h *quietStart) WithGroup(name string) slog.Handler {
	return &quietStart{Handler: h.Handler.WithGroup(name), started: h.started}
}
