package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

// This file is the composition root: it builds the server and the operator
// back end from the configuration by plain constructor calls. The functions
// below are placeholders until the adapters are wired; each says what the
// real one must do.

// errNotWired is returned by the placeholders.
var errNotWired = errors.New("not wired yet")

// defaultWiring is the wiring run uses.
func defaultWiring() wiring {
	return wiring{serve: serve, openMigrator: openMigrator, openAdmin: openAdmin}
}

// serve builds the server from cfg (already validated), listens on
// cfg.Server.Addr and blocks until ctx ends, then shuts down gracefully
// within cfg.Server.ShutdownTimeout.
//
// To do when wired: resolveMasterKey; open the store (cfg.Storage) and
// migrate when cfg.Storage.AutoMigrate, else refuse a database that is not
// up to date; ensure signing keys (cfg.KeyPolicy()); apply loadClients and,
// in development, loadMembers; start the HTTP server; log the discovery
// URL and the demo client ids for a newcomer.
func serve(ctx context.Context, cfg *Config, log *slog.Logger, stdout io.Writer) error {
	return errors.New("serve: " + errNotWired.Error())
}

// openMigrator opens the database of cfg for `pforte migrate`. It must not
// need the master key.
func openMigrator(ctx context.Context, cfg *Config, log *slog.Logger) (migrator, error) {
	return nil, errors.New("migrate: " + errNotWired.Error())
}

// openAdmin opens the store and the signing keys of cfg for `pforte
// clients` and `pforte keys` (resolveMasterKey for the key material and the
// client secret hash key).
func openAdmin(ctx context.Context, cfg *Config, log *slog.Logger) (admin, error) {
	return nil, errors.New("admin: " + errNotWired.Error())
}
