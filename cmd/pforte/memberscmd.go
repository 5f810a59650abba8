package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
)

// maxImportBatch bounds --batch: one transaction per batch must stay
// short enough not to hold up the servers sharing the database.
const maxImportBatch = 100_000

// withMembers loads the configuration, opens the member directory and
// runs f.
func (c *cli) withMembers(cmd *cobra.Command, f func(context.Context, *Config, memberAdmin) error) error {
	cfg, err := c.config(cmd)
	if err != nil {
		return err
	}
	m, err := c.wiring.openMembers(cmd.Context(), cfg, newLogger(c.stderr, cfg.Log))
	if err != nil {
		return err
	}
	defer m.Close()
	return f(cmd.Context(), cfg, m)
}

func (c *cli) membersCommand() *cobra.Command {
	batch := defaultImportBatch
	imp := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Import the insurer's member master data from a CSV file",
		Long: "Import the insurer's member master data from a CSV file: UTF-8, separator ';' or ',',\n" +
			"the first line names the columns. Rows are upserted by member number: importing the\n" +
			"same file again changes nothing, and a corrected file replaces what an earlier one\n" +
			"stored. Rows are stored in transactions of --batch rows; progress goes to stderr.\n\n" +
			"Columns: kvnr, given_name, family_name, birth_date, street, postal_code, locality,\n" +
			"insured_from (required); country (default DE), insured_until (empty: open-ended),\n" +
			"email (optional). Dates are YYYY-MM-DD or DD.MM.YYYY.\n\n" +
			"Rejected rows are not fatal: each is reported with its line number and the reason\n" +
			"and is not stored, the others are, and the command exits 0. It exits 1 only when\n" +
			"the file cannot be read at all (missing, unreadable, unusable header line) or the\n" +
			"database fails; rows stored before a failure stay stored, and importing the file\n" +
			"again completes the import.",
		Example: "  pforte members import members.csv\n\n" +
			"  # members.csv\n" +
			"  kvnr;given_name;family_name;birth_date;street;postal_code;locality;country;insured_from;insured_until;email\n" +
			"  A123456780;Anna;Beispiel;14.03.1985;Hauptstraße 12;28195;Bremen;DE;01.01.2019;;anna@example.org",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if batch < 1 || batch > maxImportBatch {
				return usagef("--batch must be between 1 and %d", maxImportBatch)
			}
			f, err := os.Open(a[0])
			if err != nil {
				return errors.New("members import: " + readError(err))
			}
			defer f.Close()
			if st, err := f.Stat(); err == nil && st.IsDir() {
				return fmt.Errorf("members import: %s is a directory, not a CSV file", a[0])
			}
			return c.withMembers(cmd, func(ctx context.Context, _ *Config, m memberAdmin) error {
				return c.importFile(ctx, a[0], f, m, batch)
			})
		},
	}
	imp.Flags().IntVar(&batch, "batch", defaultImportBatch, fmt.Sprintf("rows per transaction (1-%d)", maxImportBatch))

	show := &cobra.Command{
		Use:   "show KVNR",
		Short: "Show a member's master data, account and latest letter",
		Long: "Show the master data of one member, whether the member is eligible to register now,\n" +
			"the login account if there is one (status and proofing level; never the password\n" +
			"hash) and the member's latest password letter. The member number is checked\n" +
			"(format and check digit) before anything is looked up.",
		Example: "  pforte members show A123456780",
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			k, err := kvnr.Parse(a[0])
			if err != nil {
				return usagef("%q is not a valid member number (a capital letter and nine digits, the last a check digit)", clip(a[0]))
			}
			return c.withMembers(cmd, func(ctx context.Context, cfg *Config, m memberAdmin) error {
				return c.showMember(ctx, cfg, m, k)
			})
		},
	}
	return group("members", "Import, sync, show, find and help members",
		append([]*cobra.Command{imp, c.membersSyncCommand(), show}, c.supportMemberCommands()...)...)
}

// importFile imports the open file f (named name) and prints the report.
func (c *cli) importFile(ctx context.Context, name string, f io.Reader, m memberAdmin, batch int) error {
	rep, err := importMembers(ctx, f, m, c.stderr, batch)
	if err != nil {
		if rep.Rows > 0 {
			rep.write(c.stdout)
		}
		if rep.Accepted > 0 {
			return fmt.Errorf("members import: %s: %w (%d rows stored before the failure; import the file again to complete it)", name, err, rep.Accepted)
		}
		return fmt.Errorf("members import: %s: %w", name, err)
	}
	rep.write(c.stdout)
	if rep.Rejected > 0 {
		fmt.Fprintln(c.stdout, "Rejected rows were not stored. Correct them and import the file again: rows already stored are left as they are.")
	}
	return nil
}

// showMember prints the master data of k, its account and latest letter.
func (c *cli) showMember(ctx context.Context, cfg *Config, m memberAdmin, k kvnr.KVNR) error {
	mb, err := m.MemberByKVNR(ctx, k)
	if errors.Is(err, fault.NotFound) {
		return fmt.Errorf("members show: no member %s in the member directory (import it with `pforte members import`)", k)
	} else if err != nil {
		return fmt.Errorf("members show: %w", err)
	}
	acc, accErr := m.AccountByKVNR(ctx, k)
	if accErr != nil && !errors.Is(accErr, fault.NotFound) {
		return fmt.Errorf("members show: account: %w", accErr)
	}
	lt, ltErr := m.LatestLetter(ctx, k)
	if ltErr != nil && !errors.Is(ltErr, fault.NotFound) {
		return fmt.Errorf("members show: letter: %w", ltErr)
	}

	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("KVNR", string(mb.KVNR))
	row("Name", strings.TrimSpace(mb.GivenName+" "+mb.FamilyName))
	row("Birth date", mb.BirthDate)
	row("Address", formatAddress(mb.Address))
	row("E-mail", orDash(mb.Email))
	row("Insured", formatInsured(mb))
	if !mb.RemovedAt.IsZero() {
		row("Not in the file since", mb.RemovedAt.UTC().Format(time.DateOnly)+" (marked ended by `pforte members sync`)")
	}
	now := time.Now()
	if !cfg.eligibility().MayLogIn(mb, now) {
		row("Login", "refused: the membership ended on "+mb.EndedOn().Format(time.DateOnly)+", more than registration.eligible_grace ago")
	}
	if cfg.eligibility().Eligible(mb, now) {
		row("Eligible", "yes: may request a password letter")
	} else {
		row("Eligible", "no: not insured now, nor within the configured windows")
	}
	row("Updated", timeOr(mb.UpdatedAt, "-"))
	if accErr != nil {
		row("Account", "none: the member has not activated a letter or eID yet")
	} else {
		row("Account", formatAccount(acc))
	}
	if ltErr != nil {
		row("Latest letter", "none")
	} else {
		row("Latest letter", formatLetter(lt, now))
	}
	return tw.Flush()
}

func formatAddress(a member.Address) string {
	country := a.Country
	if country == "" {
		country = "DE"
	}
	return fmt.Sprintf("%s, %s %s, %s", a.Street, a.PostalCode, a.Locality, country)
}

func formatInsured(m member.Member) string {
	until := "open-ended"
	if !m.InsuredUntil.IsZero() {
		until = "until " + m.InsuredUntil.UTC().Format(time.DateOnly)
	}
	return fmt.Sprintf("from %s, %s", m.InsuredFrom.UTC().Format(time.DateOnly), until)
}

// formatAccount describes an account without its password hash: whether a
// password is set is all an operator needs.
func formatAccount(a account.Account) string {
	pw := "no password set"
	if a.PasswordHash != "" {
		pw = "password set"
	}
	return fmt.Sprintf("%s, status %s, proofing level %s, %s, created %s", a.ID, a.Status, a.Proofing, pw, timeOr(a.CreatedAt, "-"))
}

func formatLetter(l letter.Letter, now time.Time) string {
	s := fmt.Sprintf("%s, %s", l.ID, letterState(l))
	if l.State == letter.HandedOver && !l.Activatable(now) {
		s += " (expired)"
	}
	return s + fmt.Sprintf(", created %s, expires %s", timeOr(l.CreatedAt, "-"), timeOr(l.ExpiresAt, "-"))
}

// letterState is the state of l, with the reason of a voided letter.
func letterState(l letter.Letter) string {
	if l.State == letter.Voided && l.VoidReason != "" {
		return string(l.State) + " (" + l.VoidReason + ")"
	}
	return string(l.State)
}
