package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/lifecycle"
	"github.com/pforte-id/pforte/core/member"
)

// collected gathers the rows importMembers accepts instead of storing
// them: a sync needs the whole file before it decides anything.
type collected struct{ ms []member.Member }

func (c *collected) UpsertMembers(_ context.Context, ms []member.Member) error {
	c.ms = append(c.ms, slices.Clone(ms)...)
	return nil
}

func (c *cli) membersSyncCommand() *cobra.Command {
	var force bool
	var reason string
	cmd := &cobra.Command{
		Use:   "sync FILE.csv",
		Short: "Make the member directory the insurer's full member file: members no longer in it are marked ended",
		Long: "Read the insurer's full member file (the format of `pforte members import`) and make the\n" +
			"member directory match it, in one transaction: members in the file are stored as the\n" +
			"import stores them (a member marked ended before resumes), members missing from the\n" +
			"file are marked ended today. A member whose insurance ended more than\n" +
			"registration.eligible_grace ago can no longer log in; after members.retention the\n" +
			"account and the master data are deleted by the server's housekeeping.\n\n" +
			"Safeguards: a file with rejected rows changes nothing (a rejected row would end that\n" +
			"member's membership); an empty file changes nothing; a file that would end more than\n" +
			"members.sync_max_drop (default 5 %) of the present members changes nothing unless\n" +
			"--force is given with --reason (recorded in the audit log). Syncing the same file\n" +
			"again changes nothing: members marked before keep their first date.",
		Example: "  pforte members sync members-full.csv\n" +
			"  pforte members sync --force --reason \"Kassenfusion: Bestand der BKK übernommen\" members-full.csv",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if force && reason == "" {
				return usagef("--force needs --reason: why so many memberships end (it goes into the audit log)")
			}
			f, err := os.Open(a[0])
			if err != nil {
				return errors.New("members sync: " + readError(err))
			}
			defer f.Close()
			if st, err := f.Stat(); err == nil && st.IsDir() {
				return fmt.Errorf("members sync: %s is a directory, not a CSV file", a[0])
			}
			return c.withMembers(cmd, func(ctx context.Context, cfg *Config, m memberAdmin) error {
				return c.syncFile(ctx, cfg, a[0], f, m, lifecycle.SyncOptions{Force: force, Reason: reason, Operator: operatorName()})
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "end more memberships than members.sync_max_drop allows (needs --reason)")
	cmd.Flags().StringVar(&reason, "reason", "", "why the limit is overridden (recorded in the audit log)")
	return cmd
}

// operatorName names the operator in the audit log: the login name of
// the shell that runs the command.
func operatorName() string {
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

// syncFile reads f (named name) whole and syncs the directory with it.
func (c *cli) syncFile(ctx context.Context, cfg *Config, name string, f io.Reader, m memberAdmin, opts lifecycle.SyncOptions) error {
	var rows collected
	rep, err := importMembers(ctx, f, &rows, c.stderr, maxImportBatch)
	if err != nil {
		return fmt.Errorf("members sync: %s: %w (nothing was changed)", name, err)
	}
	rep.write(c.stdout)
	if rep.Rejected > 0 {
		return fmt.Errorf("members sync: %s: %d rows rejected; a sync would end their members' memberships, so nothing was changed. Correct the rows and sync again", name, rep.Rejected)
	}
	svc, err := lifecycle.New(lifecycle.Config{SyncMaxDrop: cfg.Members.SyncMaxDrop, Retention: cfg.Members.Retention},
		lifecycle.Deps{Store: m, Now: time.Now})
	if err != nil {
		return err
	}
	n, err := svc.Sync(ctx, rows.ms, opts)
	if err != nil {
		if fault.CodedOf(err) != nil {
			return fmt.Errorf("members sync: %s: %s Nothing was changed", name, catalog.Match("en").Error(err))
		}
		return fmt.Errorf("members sync: %s: %w (nothing was changed)", name, err)
	}
	fmt.Fprintf(c.stdout, "%d members were present: %d in the file, %d no longer in it and marked ended today, %d back in the file and resumed\n",
		n.Present, n.Present-n.Removing, n.Removing, n.Resuming)
	return nil
}
