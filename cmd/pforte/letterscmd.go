package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/registration"
)

// letterStates are the states `letters list --state` accepts, in the
// order a letter passes them.
var letterStates = []letter.State{letter.Requested, letter.Rendered, letter.HandedOver, letter.Activated, letter.Voided}

// withLetters loads the configuration, builds the registration back end
// and runs f.
func (c *cli) withLetters(cmd *cobra.Command, f func(context.Context, *Config, letterAdmin) error) error {
	cfg, err := c.config(cmd)
	if err != nil {
		return err
	}
	l, err := c.wiring.openLetters(cmd.Context(), cfg, newLogger(c.stderr, cfg.Log))
	if err != nil {
		return err
	}
	defer l.Close()
	return f(cmd.Context(), cfg, l)
}

func (c *cli) lettersCommand() *cobra.Command {
	var state string
	limit := registration.DefaultListLimit
	list := &cobra.Command{
		Use:   "list",
		Short: "List password letters, newest first",
		Long: "List password letters, newest first: id, member (masked member number), state,\n" +
			"when created and handed over, the end of validity, wrong activation attempts and\n" +
			"the file name in the outbox. The secrets are never shown: Pforte keeps only hashes.\n\n" +
			"States: requested (decided, not yet rendered) → rendered (secrets drawn, PDF being\n" +
			"written) → handed_over (the PDF is in the outbox) → activated (used), or voided\n" +
			"(superseded by a newer letter, or too many wrong attempts).",
		Example: "  pforte letters list --state requested",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := parseLetterState(state)
			if err != nil {
				return err
			}
			if limit < 1 || limit > registration.MaxListLimit {
				return usagef("--limit must be between 1 and %d", registration.MaxListLimit)
			}
			return c.withLetters(cmd, func(ctx context.Context, _ *Config, l letterAdmin) error {
				ls, err := l.ListLetters(ctx, st, limit)
				if err != nil {
					return fmt.Errorf("letters list: %w", err)
				}
				if len(ls) == 0 {
					if st == "" {
						fmt.Fprintln(c.stdout, "No letters.")
					} else {
						fmt.Fprintf(c.stdout, "No letters in state %s.\n", st)
					}
					return nil
				}
				tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tMEMBER\tSTATE\tCREATED\tHANDED OVER\tEXPIRES\tATTEMPTS\tOUTBOX FILE")
				for _, x := range ls {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", x.ID, maskKVNR(x.KVNR), letterState(x),
						timeOr(x.CreatedAt, "-"), timeOr(x.HandedOverAt, "-"), timeOr(x.ExpiresAt, "-"),
						x.FailedAttempts, orDash(x.OutboxName))
				}
				return tw.Flush()
			})
		},
	}
	fl := list.Flags()
	fl.StringVar(&state, "state", "", "only letters in this state: "+stateNames())
	fl.IntVar(&limit, "limit", registration.DefaultListLimit, fmt.Sprintf("at most this many letters (1-%d)", registration.MaxListLimit))

	render := &cobra.Command{
		Use:   "render LETTER_ID",
		Short: "Render a requested letter now and hand it to the outbox",
		Long: "Render a letter that is requested or rendered (its worker has not finished it, e.g.\n" +
			"after a renderer failure) now, without waiting for the worker: new secrets are drawn,\n" +
			"the PDF is written into the outbox and the letter is handed over. Safe while servers\n" +
			"run: when a worker renders the same letter at the same moment, one of them gives up.\n\n" +
			idNote,
		Example: "  pforte letters render d6xMNJH7MENPX4u0Z1Y3cQ\n  pforte letters render -- -Bvc4qW4BxLZCZ3DdbmMQQ",
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			id := a[0]
			return c.withLetters(cmd, func(ctx context.Context, cfg *Config, l letterAdmin) error {
				got, err := l.RenderLetter(ctx, id)
				if err != nil {
					return letterError("letters render", id, err)
				}
				fmt.Fprintf(c.stdout, "Letter %s is handed over: %s\n", got.ID, filepath.Join(cfg.Letters.OutboxDir, got.OutboxName))
				return nil
			})
		},
	}

	retry := &cobra.Command{
		Use:   "retry LETTER_ID",
		Short: "Make sure a letter reaches the member: finish it, or replace a lost one",
		Long: "Make sure a letter reaches the member:\n\n" +
			"  requested, rendered   render it now (as render does)\n" +
			"  handed_over           still in the outbox: nothing to do, the print service has not\n" +
			"                        collected it yet; collected (the member says it never arrived):\n" +
			"                        a replacement with new secrets goes to the address on file now,\n" +
			"                        and the old letter is voided in the same transaction\n" +
			"  activated, voided     refused: the member requests a new letter in the app\n\n" +
			"A replacement ignores the interval between letters, but the member must still be\n" +
			"eligible and have a deliverable address on file.\n\n" +
			idNote,
		Example: "  pforte letters retry d6xMNJH7MENPX4u0Z1Y3cQ\n  pforte letters retry -- -Bvc4qW4BxLZCZ3DdbmMQQ",
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			id := a[0]
			return c.withLetters(cmd, func(ctx context.Context, cfg *Config, l letterAdmin) error {
				got, err := l.RetryLetter(ctx, id)
				if err != nil {
					return letterError("letters retry", id, err)
				}
				path := filepath.Join(cfg.Letters.OutboxDir, got.OutboxName)
				if got.ID != id {
					fmt.Fprintf(c.stdout, "Letter %s is voided; replacement letter %s with new secrets is handed over: %s\n", id, got.ID, path)
					return nil
				}
				fmt.Fprintf(c.stdout, "Letter %s is handed over: %s\n", got.ID, path)
				return nil
			})
		},
	}
	var lostKVNR, operator, reason string
	lost := &cobra.Command{
		Use:   "lost (LETTER_ID | --kvnr KVNR) --operator NAME --reason TEXT",
		Short: "Void a letter the member reports lost and send a new one at once",
		Long: "Void a letter the member reports lost (\"Brief verloren / nicht angekommen\") and send a\n" +
			"new one at once: the letter by its number (Brief-Nr., as printed or as `pforte letters\n" +
			"list` shows it), or the member's current letter by member number. The letter must be\n" +
			"requested, rendered or handed over; it is voided in any case (reason lost), since it may\n" +
			"be in other hands, and the voiding is written to the audit log with --operator and\n" +
			"--reason. The lost letter does not hold back the new one (the interval between\n" +
			"letters does not apply to it).\n\n" +
			"The new letter goes to the address on file now and is rendered into the outbox at once,\n" +
			"if the member is still eligible and has a deliverable address, and if no other letter of\n" +
			"the member was reported lost within letters.min_interval (in the app or here: the guard\n" +
			"against mass mailing). Otherwise the command says why, or from when a new letter is\n" +
			"possible.\n\n" +
			"Verify the caller first, as for every change to a member's access.\n\n" + idNote,
		Example: "  pforte letters lost K7QM3XPA9RTW2HZC --operator \"Erika Muster\" --reason \"not arrived after 10 days\"\n" +
			"  pforte letters lost --kvnr A123456780 --operator \"Erika Muster\" --reason \"letter thrown away\"",
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			rep := registration.LostReport{KVNR: lostKVNR, Operator: operator, Reason: reason}
			if len(a) == 1 {
				// A letter number as printed, in groups of four.
				rep.LetterID = strings.ReplaceAll(a[0], " ", "")
			}
			switch {
			case (rep.LetterID == "") == (rep.KVNR == ""):
				return usagef("name the letter (LETTER_ID) or the member (--kvnr), one of them")
			case strings.TrimSpace(operator) == "":
				return usagef("--operator is required: who reports the letter lost goes into the audit log")
			case strings.TrimSpace(reason) == "":
				return usagef("--reason is required: what the member said goes into the audit log")
			}
			return c.withLetters(cmd, func(ctx context.Context, cfg *Config, l letterAdmin) error {
				res, err := l.ReportLostByOperator(ctx, rep)
				which := rep.LetterID
				if which == "" {
					which = "of " + maskKVNR(kvnr.KVNR(strings.ToUpper(strings.TrimSpace(rep.KVNR))))
				}
				switch {
				case errors.Is(err, fault.NotFound) && rep.LetterID == "":
					return fmt.Errorf("letters lost: the member %s has no letter", maskKVNR(kvnr.KVNR(strings.ToUpper(strings.TrimSpace(rep.KVNR)))))
				case errors.Is(err, fault.Invalid):
					return usagef("%s", publicText(err))
				case err != nil && res.Voided.ID == "":
					return letterError("letters lost", which, err)
				case err != nil:
					return fmt.Errorf("letters lost: letter %s is voided, but the new letter failed: %w", res.Voided.ID, err)
				}
				fmt.Fprintf(c.stdout, "Letter %s is voided (lost).\n", res.Voided.ID)
				switch {
				case res.Replacement.State == letter.HandedOver:
					fmt.Fprintf(c.stdout, "New letter %s with new secrets is handed over: %s\n", res.Replacement.ID,
						filepath.Join(cfg.Letters.OutboxDir, res.Replacement.OutboxName))
				case res.Replacement.ID != "":
					fmt.Fprintf(c.stdout, "New letter %s with new secrets is being produced by a worker (%s).\n", res.Replacement.ID, letterState(res.Replacement))
				case !res.NextPossible.IsZero():
					fmt.Fprintf(c.stdout, "No new letter now: a letter of the member was reported lost within letters.min_interval. The member can have a new letter from %s (a request in the app).\n",
						timeOr(res.NextPossible, "-"))
				default:
					fmt.Fprintf(c.stdout, "No new letter: %s.\n", res.Refused)
				}
				return nil
			})
		},
	}
	lfl := lost.Flags()
	lfl.StringVar(&lostKVNR, "kvnr", "", "the member number, for the member's current letter (instead of LETTER_ID)")
	lfl.StringVar(&operator, "operator", "", "who reports the letter lost (required; recorded in the audit log)")
	lfl.StringVar(&reason, "reason", "", "what the member said, one line (required; recorded in the audit log)")

	for _, cmd := range []*cobra.Command{render, retry, lost} {
		cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
			return usagef("%v; a letter id that starts with '-' goes after '--'", err)
		})
	}
	return group("letters", "List, render, retry or report lost password letters", list, render, retry, lost)
}

// idNote explains the ids that look like flags: letter ids are random
// base64url and may start with '-'.
const idNote = "Letter ids are as `pforte letters list` prints them; one that starts with '-' goes\n" +
	"after '--', so that it is not read as a flag."

// parseLetterState reads --state; empty is every state.
func parseLetterState(s string) (letter.State, error) {
	if s == "" {
		return "", nil
	}
	for _, st := range letterStates {
		if strings.EqualFold(s, string(st)) {
			return st, nil
		}
	}
	return "", usagef("--state %q is not a letter state: use %s", clip(s), stateNames())
}

func stateNames() string {
	names := make([]string, len(letterStates))
	for i, st := range letterStates {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}

// letterError is the one line an operator sees for a failed render or
// retry: the operator text of a refusal, or the cause of a failure.
func letterError(cmd, id string, err error) error {
	switch {
	case errors.Is(err, fault.NotFound):
		return fmt.Errorf("%s: no letter %q", cmd, clip(id))
	case errors.Is(err, fault.Conflict), errors.Is(err, fault.Forbidden):
		return fmt.Errorf("%s: letter %s: %s", cmd, id, publicText(err))
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

// maskKVNR shows enough of a member number to match it with the one a
// caller reads out, and not enough to look the member up: A12*****80.
func maskKVNR(k kvnr.KVNR) string {
	s := string(k)
	if len(s) != 10 {
		return "**********"
	}
	return s[:3] + "*****" + s[8:]
}
