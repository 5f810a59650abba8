package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pforte-id/pforte/adapters/sqlstore"
)

// This file holds `pforte backup` and `pforte healthcheck`, the commands
// an operator's tooling runs: a backup job and a container's health check.

func (c *cli) backupCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Copy the SQLite database to FILE, consistent while Pforte serves",
		Long: "Copy the SQLite database to FILE (a new file, mode 0600) while servers keep\n" +
			"serving: the copy holds every transaction committed before it began, and is\n" +
			"checked (SQLite's integrity check, schema version) before the command reports\n" +
			"success. A PostgreSQL database is backed up with pg_dump instead (README,\n" +
			"\"Backup and restore\"). Keep the master key and the PIN peppers with every backup:\n" +
			"the signing keys and the PINs in it cannot be used without them.",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			target := a[0]
			cfg, err := c.config(cmd)
			if err != nil {
				return err
			}
			if cfg.Storage.Type != sqlstore.DriverSQLite {
				return errors.New("backup: the database is PostgreSQL, which pforte backup does not copy: " +
					"back it up with pg_dump, together with the master key and the PIN peppers " +
					"(README, \"Backup and restore\")")
			}
			sc := storageConfig(cfg)
			path := sqlitePath(sc.DSN)
			if path == "" {
				return errors.New("backup: the database is in memory; there is no file to copy")
			}
			// Opening would create an empty database.
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("backup: there is no database at %s", path)
			}
			ctx := cmd.Context()
			st, err := sqlstore.Open(ctx, sc)
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			defer st.Close()
			start := time.Now()
			if err := st.Backup(ctx, target); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			version, size, err := checkBackup(ctx, target)
			if err != nil {
				return fmt.Errorf("backup: the copy in %s is not usable, do not rely on it: %w", target, err)
			}
			fmt.Fprintf(c.stdout, "Backed up %s to %s (%d bytes, schema version %d, integrity checked, %s).\n",
				path, target, size, version, time.Since(start).Round(time.Millisecond))
			fmt.Fprintln(c.stdout, "Keep it with the master key and the PIN peppers: without them its signing keys and PINs cannot be used.")
			return nil
		},
	}
}

// checkBackup opens a backup on its own, as a restore would, and returns
// its schema version and size once SQLite's integrity check passed.
func checkBackup(ctx context.Context, path string) (version int64, size int64, err error) {
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: sqlstore.SQLiteDSN(path)})
	if err != nil {
		return 0, 0, err
	}
	defer st.Close()
	if err := st.IntegrityCheck(ctx); err != nil {
		return 0, 0, err
	}
	ms, err := st.MigrationStatus(ctx)
	if err != nil {
		return 0, 0, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	return ms.Current, fi.Size(), nil
}

func (c *cli) healthcheckCommand() *cobra.Command {
	var target string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the server on this host is ready (a container's health check)",
		Long: "Ask the server's readiness endpoint and exit 0 when it answers 200, 1 otherwise.\n" +
			"Without --url it asks http://<server.admin_addr>/readyz of the configuration (an\n" +
			"address listening on every interface, such as 0.0.0.0:9090, is asked on loopback).\n" +
			"It needs no shell or curl, so it works in an image with nothing but the binary.",
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target == "" {
				cfg, err := c.config(cmd)
				if err != nil {
					return err
				}
				if cfg.Server.AdminAddr == "" {
					return usagef("server.admin_addr is not set: set it, or give --url")
				}
				target = "http://" + loopbackFor(cfg.Server.AdminAddr) + "/readyz"
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err != nil {
				return usagef("--url: %v", err)
			}
			hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := hc.Do(req)
			if err != nil {
				return fmt.Errorf("healthcheck: %s: %w", target, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("healthcheck: %s answered %s", target, resp.Status)
			}
			fmt.Fprintf(c.stdout, "ready (%s)\n", target)
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "url", "", "readiness URL to ask (default http://<server.admin_addr>/readyz)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}

// loopbackFor is addr with a wildcard or empty host replaced by the
// loopback address, so that a listener on every interface is asked on
// this host.
func loopbackFor(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if ip != nil && ip.To4() == nil {
			host = "::1"
		} else {
			host = "127.0.0.1"
		}
	}
	return net.JoinHostPort(host, port)
}
