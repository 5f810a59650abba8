package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/housekeeping"
	"github.com/pforte-id/pforte/ports/store"
)

// This file holds `pforte housekeeping`: the periodic clean-up, run now.

// housekeeper runs the housekeeping of one server built from the config.
type housekeeper interface {
	RunNow(ctx context.Context) (housekeeping.Report, error)
	// Lease is the housekeeping lease as stored (NotFound before the
	// first run).
	Lease(ctx context.Context) (store.Lease, error)
	Close() error
}

func (c *cli) housekeepingCommand() *cobra.Command {
	group := &cobra.Command{
		Use:   "housekeeping",
		Short: "Run the periodic clean-up (expired grants, sessions, letter secrets, …)",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRun,
	}
	group.AddCommand(&cobra.Command{
		Use:   "run",
		Short: "Run every housekeeping task once, now, under the cluster-wide lease",
		Long: "Run every housekeeping task once, now, as the servers do every housekeeping.interval:\n" +
			"under the lease in the database, so that it never runs beside a server's run. When a\n" +
			"server is running housekeeping at this moment, the command says so and fails; run it\n" +
			"again when that run has ended. Each task prints its rows, its duration and its outcome.",
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.config(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			h, err := c.wiring.openHousekeeping(ctx, cfg, newLogger(c.stderr, cfg.Log))
			if err != nil {
				return err
			}
			defer h.Close()
			rep, err := h.RunNow(ctx)
			if errors.Is(err, fault.Conflict) {
				if l, lerr := h.Lease(ctx); lerr == nil && l.Holder != "" {
					return fmt.Errorf("housekeeping: %s is running it (its lease ends at %s at the latest); try again after that run",
						l.Holder, l.Until.Format(time.RFC3339))
				}
				return errors.New("housekeeping: another server is running it; try again after that run")
			}
			if err != nil {
				return fmt.Errorf("housekeeping: %w", err)
			}
			for _, res := range rep.Results {
				line := fmt.Sprintf("%-16s %8d rows  %8s  %s", res.Task, res.Rows, res.Duration.Round(time.Millisecond), res.Outcome)
				if res.Err != nil {
					line += ": " + publicText(res.Err)
				}
				fmt.Fprintln(c.stdout, line)
			}
			fmt.Fprintf(c.stdout, "Housekeeping %s: %d rows in %d tasks.\n", rep.Outcome, rep.Rows(), len(rep.Results))
			if rep.Outcome != "done" {
				return fmt.Errorf("housekeeping: the run ended %s", rep.Outcome)
			}
			return nil
		},
	})
	return group
}

// sqlHousekeeper is the housekeeping of a server built as `pforte serve`
// builds it, without clients, demo members or a listener.
type sqlHousekeeper struct{ srv *server.Server }

func (h sqlHousekeeper) RunNow(ctx context.Context) (housekeeping.Report, error) {
	return h.srv.Housekeeping().RunNow(ctx)
}

func (h sqlHousekeeper) Lease(ctx context.Context) (store.Lease, error) {
	return h.srv.Store().LeaseByName(ctx, housekeeping.LeaseName)
}

func (h sqlHousekeeper) Close() error { return h.srv.Close() }

// openHousekeeping builds the server of cfg (server.New with the operator
// options: no clients, no demo members) for `pforte housekeeping`: its
// tasks need the session and back-channel logout services as the server
// has them.
func openHousekeeping(ctx context.Context, cfg *Config, log *slog.Logger) (housekeeper, error) {
	o, err := baseOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	srv, err := server.New(ctx, o)
	if err != nil {
		return nil, err
	}
	return sqlHousekeeper{srv: srv}, nil
}
