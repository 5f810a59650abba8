package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/support"
)

// This file is support staff's tasks in the CLI: `pforte members search,
// status, letter, lock, unlock, end-sessions`, `pforte devices revoke`,
// `pforte audit` and `pforte clients edit, rotate-secret,
// finish-rollover`. They run the same use case as the admin API
// (core/support) on the database directly, as the person --operator names
// through the client binding.OperatorClientID: every action is audited
// with both, as the admin API's are with its client and X-Pforte-Agent.

// supportAdmin is what those commands need: core/support.Service.
type supportAdmin interface {
	SearchMembers(ctx context.Context, a support.Agent, q support.Search) ([]support.Found, error)
	MemberStatus(ctx context.Context, a support.Agent, k kvnr.KVNR) (support.Status, error)
	OrderLetter(ctx context.Context, a support.Agent, k kvnr.KVNR, override bool, reason string) (letter.Letter, error)
	RevokeDevice(ctx context.Context, a support.Agent, k kvnr.KVNR, id string) error
	RevokeAllDevices(ctx context.Context, a support.Agent, k kvnr.KVNR) (int, error)
	EndSessions(ctx context.Context, a support.Agent, k kvnr.KVNR) (int, error)
	Lock(ctx context.Context, a support.Agent, k kvnr.KVNR, reason string) (bool, error)
	Unlock(ctx context.Context, a support.Agent, k kvnr.KVNR, reason string) error
	DeleteMember(ctx context.Context, a support.Agent, k kvnr.KVNR, reason string) error
	Audit(ctx context.Context, a support.Agent, q support.AuditQuery) ([]audit.Event, error)
	Client(ctx context.Context, a support.Agent, id string) (support.Client, error)
	EditClient(ctx context.Context, a support.Agent, id string, e support.ClientEdit) (support.Client, error)
	RotateSecret(ctx context.Context, a support.Agent, id string, oldValidUntil time.Time, immediately bool) (string, support.Client, error)
	FinishRollover(ctx context.Context, a support.Agent, id string) (bool, error)
	Close() error
}

// sqlSupport is the support use case of a server.Backend.
type sqlSupport struct {
	*support.Service
	backend *server.Backend
}

func (s sqlSupport) Close() error { return s.backend.Close() }

// openSupport builds the support use case of cfg as `pforte serve` builds
// it (server.OpenBackend), with the clients the configuration declares,
// which support may not edit.
func openSupport(ctx context.Context, cfg *Config, log *slog.Logger) (supportAdmin, error) {
	o, err := baseOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	secrets, err := server.SecretHasher(o.MasterKey)
	if err != nil {
		return nil, err
	}
	if o.Clients, err = loadClients(cfg, secrets, time.Now()); err != nil {
		return nil, err
	}
	b, err := server.OpenBackend(ctx, o)
	if err != nil {
		return nil, err
	}
	svc, err := b.Support()
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	return sqlSupport{Service: svc, backend: b}, nil
}

// withSupport checks --operator, loads the configuration, builds the
// support back end and runs f as the operator.
func (c *cli) withSupport(cmd *cobra.Command, operator string, f func(context.Context, support.Agent, supportAdmin) error) error {
	if err := operatorOK(operator); err != nil {
		return err
	}
	cfg, err := c.config(cmd)
	if err != nil {
		return err
	}
	s, err := c.wiring.openSupport(cmd.Context(), cfg, newLogger(c.stderr, cfg.Log))
	if err != nil {
		return err
	}
	defer s.Close()
	return f(cmd.Context(), support.Agent{ClientID: binding.OperatorClientID, Name: operator}, s)
}

// supportError is err of command cmd as the operator reads it: the
// catalog's English text of its code; a malformed input is a usage error.
func supportError(cmd string, err error) error {
	if fault.CodedOf(err) == nil && !errors.Is(err, fault.Invalid) {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	text := catalog.English.Error(err)
	if c := fault.CodedOf(err); c != nil && (c.Code == support.CodeQuery || c.Code == support.CodeReason || c.Code == support.CodeAgent) {
		return usageError{fmt.Errorf("%s: %s", cmd, text)}
	}
	return fmt.Errorf("%s: %s", cmd, text)
}

// kvnrFlag parses --kvnr when given.
func kvnrFlag(s string) (kvnr.KVNR, error) { return parseKVNRFlag(s) }

func (c *cli) supportMemberCommands() []*cobra.Command {
	var operator, kv, family, given, birth, reason string
	var limit int
	var override bool
	operatorFlag := func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&operator, "operator", "", "who acts, for the audit log (required)")
	}
	search := &cobra.Command{
		Use:   "search (--kvnr KVNR | --family-name NAME --birth-date YYYY-MM-DD [--given-name NAME]) --operator NAME",
		Short: "Find members by member number, or by family name and date of birth",
		Long: "Find members in the directory: by member number, or by family name and date of birth,\n" +
			"optionally narrowed by the beginning of the given name. Names match without regard to\n" +
			"case. Shows the member number, name, date of birth and where the member stands\n" +
			"(not_registered, pending, registered, locked). The search is audited (support.read).",
		Example: "  pforte members search --family-name Beispiel --birth-date 1985-03-14 --operator mmuster",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withSupport(cmd, operator, func(ctx context.Context, a support.Agent, s supportAdmin) error {
				fs, err := s.SearchMembers(ctx, a, support.Search{KVNR: kv, FamilyName: family, GivenName: given, BirthDate: birth, Limit: limit})
				if err != nil {
					return supportError("members search", err)
				}
				if len(fs) == 0 {
					fmt.Fprintln(c.stdout, "No member found.")
					return nil
				}
				tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KVNR\tNAME\tBORN\tREGISTRATION")
				for _, f := range fs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.KVNR, orDash(strings.TrimSpace(f.GivenName+" "+f.FamilyName)), orDash(f.BirthDate), f.Registration)
				}
				return tw.Flush()
			})
		},
	}
	fl := search.Flags()
	fl.StringVar(&kv, "kvnr", "", "the member number")
	fl.StringVar(&family, "family-name", "", "the family name (with --birth-date)")
	fl.StringVar(&given, "given-name", "", "the beginning of the given name")
	fl.StringVar(&birth, "birth-date", "", "the date of birth, YYYY-MM-DD")
	fl.IntVar(&limit, "limit", support.DefaultSearchLimit, fmt.Sprintf("at most this many (1-%d)", support.MaxSearchLimit))
	operatorFlag(search)

	status := &cobra.Command{
		Use:   "status --kvnr KVNR --operator NAME",
		Short: "Show a member's status: registration, devices, lockouts, letter, last logins",
		Long: "Show where a member stands: the directory entry, the account (status, proofing level,\n" +
			"whether a password is set), every device with its PIN counter, the lockouts (wrong\n" +
			"passwords, blocked devices, a locked account), the latest letter, the last logins and\n" +
			"the active browser sessions. Never a password, PIN, code, key or hash. Reading it is\n" +
			"audited on the member's account (support.read).",
		Example: "  pforte members status --kvnr A123456780 --operator mmuster",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := kvnrFlag(kv)
			if err != nil {
				return err
			}
			return c.withSupport(cmd, operator, func(ctx context.Context, a support.Agent, s supportAdmin) error {
				st, err := s.MemberStatus(ctx, a, k)
				if err != nil {
					return supportError("members status", err)
				}
				c.printStatus(st)
				return nil
			})
		},
	}
	status.Flags().StringVar(&kv, "kvnr", "", "the member number (required)")
	operatorFlag(status)

	order := &cobra.Command{
		Use:   "letter --kvnr KVNR --operator NAME [--override-interval --reason TEXT]",
		Short: "Order a password letter for a member now",
		Long: "Order a password letter for the member at once (the worker of a running server\n" +
			"produces it): to the address on file, voiding the member's earlier live letter. The\n" +
			"letter interval (registration.letter_min_interval) applies unless --override-interval,\n" +
			"which needs --reason (a lost letter, a member on the phone). Audited as\n" +
			"support.letter_ordered with the reason.",
		Example: "  pforte members letter --kvnr A123456780 --operator mmuster --override-interval --reason 'Brief verloren'",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := kvnrFlag(kv)
			if err != nil {
				return err
			}
			return c.withSupport(cmd, operator, func(ctx context.Context, a support.Agent, s supportAdmin) error {
				l, err := s.OrderLetter(ctx, a, k, override, reason)
				if err != nil {
					return supportError("members letter", err)
				}
				fmt.Fprintf(c.stdout, "Letter %s ordered for member %s (valid until %s); a running server's worker produces it.\n",
					l.ID, k, timeOr(l.ExpiresAt, "-"))
				return nil
			})
		},
	}
	order.Flags().StringVar(&kv, "kvnr", "", "the member number (required)")
	order.Flags().BoolVar(&override, "override-interval", false, "set the letter interval aside (needs --reason)")
	order.Flags().StringVar(&reason, "reason", "", "why (required with --override-interval)")
	operatorFlag(order)

	lock := &cobra.Command{
		Use:   "lock --kvnr KVNR --operator NAME --reason TEXT",
		Short: "Lock a member's account: no login anywhere, sessions end",
		Long: "Lock the account: the member cannot log in anywhere (app, browser, account page; refresh\n" +
			"tokens are refused), the browser sessions end (relying parties are told by a running\n" +
			"server within about a minute) and the devices' app logins are revoked. Devices stay\n" +
			"bound; `members unlock` lets the member in again. Audited as account.locked.",
		Example: "  pforte members lock --kvnr A123456780 --operator mmuster --reason 'Missbrauchsverdacht'",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := kvnrFlag(kv)
			if err != nil {
				return err
			}
			return c.withSupport(cmd, operator, func(ctx context.Context, a support.Agent, s supportAdmin) error {
				changed, err := s.Lock(ctx, a, k, reason)
				if err != nil {
					return supportError("members lock", err)
				}
				if !changed {
					fmt.Fprintf(c.stdout, "The account of member %s was locked already.\n", k)
					return nil
				}
				fmt.Fprintf(c.stdout, "The account of member %s is locked.\n", k)
				return nil
			})
		},
	}
	lock.Flags().StringVar(&kv, "kvnr", "", "the member number (required)")
	lock.Flags().StringVar(&reason, "reason", "", "why (required)")
	operatorFlag(lock)

	unlock := &cobra.Command{
		Use:     "unlock --kvnr KVNR --operator NAME --reason TEXT",
		Short:   "Unlock a locked account",
		Long:    "Unlock a locked account: the member may log in again with their devices and password.\nAudited as account.unlocked.",
		Example: "  pforte members unlock --kvnr A123456780 --operator mmuster --reason 'Mitglied verifiziert'",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := kvnrFlag(kv)
			if err != nil {
				return err
			}
			return c.withSupport(cmd, operator, func(ctx context.Context, a support.Agent, s supportAdmin) error {
				if err := s.Unlock(ctx, a, k, reason); err != nil {
					return supportError("members unlock", err)
				}
				fmt.Fprintf(c.stdout, "The account of member %s is unlocked.\n", k)
				return nil
			})
		},
	}
	unlock.Flags().StringVar(&kv, "kvnr", "", "the member number (required)")
	unlock.Flags().StringVar(&reason, "reason", "", "why (required)")
	operatorFlag(unlock)

	end := &cobra.Command{
		Use:   "end-sessions --kvnr KVNR --operator NAME",
		Short: "End every browser session of a member",
		Long: "End every browser session of the member (reason support). The relying parties get\n" +
			"back-channel logout from a running server within about a minute. Audited as\n" +
			"support.sessions_ended.",
		Example: "  pforte members end-sessions --kvnr A123456780 --operator mmuster",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := kvnrFlag(kv)
			if err != nil {
				return err
			}
			return c.withSupport(cmd, operator, func(ctx context.Context, a support.Agent, s supportAdmin) error {
				n, err := s.EndSessions(ctx, a, k)
				if err != nil {
					return supportError("members end-sessions", err)
				}
				fmt.Fprintf(c.stdout, "%d browser sessions of member %s ended.\n", n, k)
				return nil
			})
		},
	}
	end.Flags().StringVar(&kv, "kvnr", "", "the member number (required)")
	operatorFlag(end)

	del := &cobra.Command{
		Use:   "delete --kvnr KVNR --operator NAME --reason TEXT",
		Short: "Delete a member's account at their request",
		Long: "Delete the member's account after support verified the request: devices, browser sessions\n" +
			"(relying parties are told by a running server within about a minute), tokens, consents,\n" +
			"proofs and the names and addresses of letters go; open letters are voided. The audit log\n" +
			"stays, pseudonymised; the master data stays while the member is insured. Audited as\n" +
			"account.deleted (reason support) with --operator and --reason.",
		Example: "  pforte members delete --kvnr A123456780 --operator mmuster --reason 'Wunsch des Mitglieds, Brief vom 1.12.'",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := kvnrFlag(kv)
			if err != nil {
				return err
			}
			return c.withSupport(cmd, operator, func(ctx context.Context, a support.Agent, s supportAdmin) error {
				if err := s.DeleteMember(ctx, a, k, reason); err != nil {
					return supportError("members delete", err)
				}
				fmt.Fprintf(c.stdout, "The account of member %s is deleted.\n", k)
				return nil
			})
		},
	}
	del.Flags().StringVar(&kv, "kvnr", "", "the member number (required)")
	del.Flags().StringVar(&reason, "reason", "", "why (required)")
	operatorFlag(del)
	return []*cobra.Command{search, status, order, lock, unlock, end, del}
}

// printStatus prints a member's status for the operator.
func (c *cli) printStatus(st support.Status) {
	w := c.stdout
	fmt.Fprintf(w, "Member:        %s (%s)\n", st.KVNR, st.Registration)
	if st.InDirectory {
		m := st.Member
		fmt.Fprintf(w, "Name:          %s %s, born %s\n", m.GivenName, m.FamilyName, m.BirthDate)
		fmt.Fprintf(w, "Address:       %s\n", formatAddress(m.Address))
		fmt.Fprintf(w, "E-mail:        %s\n", orDash(m.Email))
		fmt.Fprintf(w, "Insured:       %s\n", formatInsured(m))
	} else {
		fmt.Fprintln(w, "Name:          - (not in the member directory)")
	}
	if st.HasAccount {
		fmt.Fprintf(w, "Account:       %s, proofing %s, password %s, since %s\n", st.AccountID, st.Proofing,
			map[bool]string{true: "set", false: "not set"}[st.PasswordSet], timeOr(st.CreatedAt, "-"))
	} else {
		fmt.Fprintln(w, "Account:       none")
	}
	lockout := "none"
	if st.PasswordFailures > 0 {
		lockout = strconv.Itoa(st.PasswordFailures) + " wrong passwords"
		if st.PasswordNotBefore.After(time.Now()) {
			lockout += ", next attempt from " + timeOr(st.PasswordNotBefore, "")
		}
	}
	fmt.Fprintf(w, "Lockout:       %s (password checks)\n", lockout)
	if st.HasLetter {
		l := st.Letter
		state := string(l.State)
		if l.VoidReason != "" {
			state += " (" + l.VoidReason + ")"
		}
		fmt.Fprintf(w, "Latest letter: %s %s, ordered %s, valid until %s, %d wrong attempts\n", l.ID, state,
			timeOr(l.CreatedAt, "-"), timeOr(l.ExpiresAt, "-"), l.FailedAttempts)
	} else {
		fmt.Fprintln(w, "Latest letter: none")
	}
	fmt.Fprintf(w, "Sessions:      %d active in the browser\n", st.ActiveSessions)
	if len(st.Devices) == 0 {
		fmt.Fprintln(w, "Devices:       none")
	} else {
		fmt.Fprintln(w, "Devices:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tNAME\tSTATUS\tPIN\tWRONG PINS\tLAST USED")
		for _, d := range st.Devices {
			wrong := strconv.Itoa(d.PINFailures)
			if d.PINBlocked {
				wrong += " (blocked)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Name, d.Status,
				map[bool]string{true: "set", false: "not set"}[d.PINSet], wrong, timeOr(d.LastUsedAt, "never"))
		}
		_ = tw.Flush()
	}
	if len(st.LastLogins) == 0 {
		fmt.Fprintln(w, "Last logins:   none")
		return
	}
	fmt.Fprintln(w, "Last logins:")
	for _, e := range st.LastLogins {
		fmt.Fprintf(w, "  %s  %s  %s\n", timeOr(e.Time, "-"), e.Kind, orDash(e.ClientID))
	}
}

// devicesRevokeCommand is `pforte devices revoke`.
func (c *cli) devicesRevokeCommand() *cobra.Command {
	var operator, kv string
	var all bool
	cmd := &cobra.Command{
		Use:   "revoke (DEVICE_ID | --all) --kvnr KVNR --operator NAME",
		Short: "Revoke one or every device of a member (lost or stolen phone)",
		Long: "Revoke a device binding of the member --kvnr names, or with --all every one: the device\n" +
			"cannot log in any more, its app logins end at once, the browser sessions it confirmed\n" +
			"end, the member is told. The device must belong to that member. Audited as\n" +
			"device.revoked with the operator.\n\n" + deviceIDNote,
		Example: "  pforte devices revoke d6xMNJH7MENPX4u0Z1Y3cQ --kvnr A123456780 --operator mmuster\n" +
			"  pforte devices revoke --all --kvnr A123456780 --operator mmuster",
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if all == (len(a) == 1) {
				return usagef("name one device id, or --all")
			}
			k, err := kvnrFlag(kv)
			if err != nil {
				return err
			}
			return c.withSupport(cmd, operator, func(ctx context.Context, ag support.Agent, s supportAdmin) error {
				if all {
					n, err := s.RevokeAllDevices(ctx, ag, k)
					if err != nil {
						return supportError("devices revoke", err)
					}
					fmt.Fprintf(c.stdout, "%d devices of member %s revoked.\n", n, k)
					return nil
				}
				if err := s.RevokeDevice(ctx, ag, k, a[0]); err != nil {
					return supportError("devices revoke", err)
				}
				fmt.Fprintf(c.stdout, "Device %s of member %s is revoked.\n", a[0], k)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&kv, "kvnr", "", "the member number (required)")
	cmd.Flags().BoolVar(&all, "all", false, "revoke every device of the member")
	cmd.Flags().StringVar(&operator, "operator", "", "who revokes, for the audit log (required)")
	return cmd
}

// clientSupportCommands are `pforte clients edit, rotate-secret,
// finish-rollover`.
func (c *cli) clientSupportCommands() []*cobra.Command {
	var operator, name, nameEN, until string
	var redirects, logouts []string
	var validFor time.Duration
	var immediately bool
	edit := &cobra.Command{
		Use:   "edit CLIENT_ID --operator NAME [--name N] [--name-en N] [--redirect-uri U ...] [--post-logout-redirect-uri U ...]",
		Short: "Change a client's names or redirect URIs",
		Long: "Change the display names or the redirect URIs of a client registered in the database\n" +
			"(`pforte clients add`). The flags given replace the stored values; --redirect-uri and\n" +
			"--post-logout-redirect-uri are repeatable and replace the whole list. A client of the\n" +
			"clients file is refused: the file is applied at every start, change it there.\n" +
			"Audited as client.changed.",
		Example: "  pforte clients edit antrag --operator mmuster --redirect-uri https://antrag.example/cb",
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			var e support.ClientEdit
			fl := cmd.Flags()
			if fl.Changed("name") {
				e.Name = &name
			}
			if fl.Changed("name-en") {
				e.NameEN = &nameEN
			}
			if fl.Changed("redirect-uri") {
				e.RedirectURIs = &redirects
			}
			if fl.Changed("post-logout-redirect-uri") {
				e.PostLogoutRedirectURIs = &logouts
			}
			if e == (support.ClientEdit{}) {
				return usagef("nothing to change: give --name, --name-en, --redirect-uri or --post-logout-redirect-uri")
			}
			return c.withSupport(cmd, operator, func(ctx context.Context, ag support.Agent, s supportAdmin) error {
				cl, err := s.EditClient(ctx, ag, a[0], e)
				if err != nil {
					return supportError("clients edit", err)
				}
				fmt.Fprintf(c.stdout, "Client %s changed: name %q, redirect URIs %s.\n", cl.ID, cl.Name, orDash(strings.Join(cl.RedirectURIs, " ")))
				return nil
			})
		},
	}
	edit.Flags().StringVar(&name, "name", "", "display name, German")
	edit.Flags().StringVar(&nameEN, "name-en", "", "display name for members who read English")
	edit.Flags().StringArrayVar(&redirects, "redirect-uri", nil, "redirect URI (repeatable; replaces the list)")
	edit.Flags().StringArrayVar(&logouts, "post-logout-redirect-uri", nil, "post-logout redirect URI (repeatable; replaces the list)")
	edit.Flags().StringVar(&operator, "operator", "", "who acts, for the audit log (required)")

	rotate := &cobra.Command{
		Use:   "rotate-secret CLIENT_ID --operator NAME [--previous-valid-for D | --previous-valid-until T | --immediately]",
		Short: "Issue a new client secret; the old one stays valid during a rollover",
		Long: "Issue a new secret for a client that authenticates with one, print it once (Pforte\n" +
			"keeps only its hash), and keep the current secret valid beside it until the rollover\n" +
			"ends: --previous-valid-for (default 24h, at most 720h) or --previous-valid-until\n" +
			"(RFC 3339). During the rollover the client may authenticate with either; afterwards\n" +
			"only with the new one. --immediately ends the old secret at once (a leaked secret).\n" +
			"A rollover still open is replaced: the oldest secret stops. `clients finish-rollover`\n" +
			"ends a rollover early. Clients of the clients file are refused (change the file).\n" +
			"Audited as client.changed, never the secret.",
		Example: "  pforte clients rotate-secret leistungsservice --operator mmuster --previous-valid-for 48h",
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			fl := cmd.Flags()
			set := 0
			for _, f := range []string{"previous-valid-for", "previous-valid-until", "immediately"} {
				if fl.Changed(f) {
					set++
				}
			}
			if set > 1 {
				return usagef("give at most one of --previous-valid-for, --previous-valid-until and --immediately")
			}
			var t time.Time
			switch {
			case fl.Changed("previous-valid-until"):
				var err error
				if t, err = time.Parse(time.RFC3339, until); err != nil {
					return usagef("--previous-valid-until must be an RFC 3339 time such as 2026-12-31T18:00:00Z")
				}
			case fl.Changed("previous-valid-for"):
				if validFor <= 0 {
					return usagef("--previous-valid-for must be positive")
				}
				t = time.Now().Add(validFor)
			}
			return c.withSupport(cmd, operator, func(ctx context.Context, ag support.Agent, s supportAdmin) error {
				secret, cl, err := s.RotateSecret(ctx, ag, a[0], t, immediately)
				if err != nil {
					return supportError("clients rotate-secret", err)
				}
				fmt.Fprintf(c.stdout, "client_secret: %s\n", secret)
				if cl.PreviousSecretUntil.IsZero() {
					fmt.Fprintln(c.stdout, "The old secret no longer works.")
				} else {
					fmt.Fprintf(c.stdout, "The old secret works until %s.\n", timeOr(cl.PreviousSecretUntil, ""))
				}
				fmt.Fprintln(c.stdout, "Give the secret to the client's operator now: Pforte keeps only its hash and cannot show it again.")
				return nil
			})
		},
	}
	rotate.Flags().DurationVar(&validFor, "previous-valid-for", 0, "how long the old secret stays valid (default 24h)")
	rotate.Flags().StringVar(&until, "previous-valid-until", "", "until when the old secret stays valid (RFC 3339)")
	rotate.Flags().BoolVar(&immediately, "immediately", false, "end the old secret at once")
	rotate.Flags().StringVar(&operator, "operator", "", "who acts, for the audit log (required)")

	finish := &cobra.Command{
		Use:     "finish-rollover CLIENT_ID --operator NAME",
		Short:   "End a client's secret rollover now: the old secret stops working",
		Long:    "End the rollover of `clients rotate-secret` before its time: the previous secret stops\nworking (on every server within a few seconds: their client cache). Audited as client.changed.",
		Example: "  pforte clients finish-rollover leistungsservice --operator mmuster",
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return c.withSupport(cmd, operator, func(ctx context.Context, ag support.Agent, s supportAdmin) error {
				had, err := s.FinishRollover(ctx, ag, a[0])
				if err != nil {
					return supportError("clients finish-rollover", err)
				}
				if !had {
					fmt.Fprintf(c.stdout, "Client %s has no rollover: nothing to do.\n", a[0])
					return nil
				}
				fmt.Fprintf(c.stdout, "The rollover of client %s is finished: only the new secret works.\n", a[0])
				return nil
			})
		},
	}
	finish.Flags().StringVar(&operator, "operator", "", "who acts, for the audit log (required)")
	return []*cobra.Command{edit, rotate, finish}
}
