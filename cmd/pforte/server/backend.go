package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/password"
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
	store *sqlstore.Store
	reg   *registration.Service
	bind  *binding.Service
}

// OpenBackend opens the store of o (migrating it when o.AutoMigrate, else
// refusing a schema that is not up to date) and builds the registration
// and device binding use cases from o. Fields of o that only New uses (Keys, Authz, Clients,
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
	err = func() error {
		if err := s.migrate(ctx); err != nil {
			return err
		}
		hasher, err := password.NewHasher(o.PasswordParams, o.HashConcurrency, o.HashMaxWait)
		if err != nil {
			return err
		}
		if s.reg, err = s.newRegistration(hasher); err != nil {
			return err
		}
		// The device binding logs through a handler that is silent until
		// it is built: its start-up warning about a development policy is
		// the server's to give, and an operator command would repeat it
		// on every run. What it logs afterwards goes to o.Log.
		q := &quietStart{Handler: o.Log.Handler(), started: new(atomic.Bool)}
		s.opts.Log = slog.New(q)
		s.bind, err = s.newBinding(hasher)
		s.opts.Log = o.Log
		q.started.Store(true)
		return err
	}()
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return &Backend{store: st, reg: s.reg, bind: s.bind}, nil
}

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
