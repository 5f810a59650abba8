package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/support"
)

// This file is `pforte devices` and `pforte audit`: what support sees of a
// member's device bindings and audit trail, and the unblock after support
// verified the member. The back end is the device binding use case of a
// server.Backend, as for `pforte letters`.

// deviceAdmin is what `pforte devices` and `pforte audit` need.
type deviceAdmin interface {
	MemberByKVNR(ctx context.Context, k kvnr.KVNR) (member.Member, error)
	AccountByKVNR(ctx context.Context, k kvnr.KVNR) (account.Account, error)
	AccountByID(ctx context.Context, id string) (account.Account, error)
	// Devices returns every binding of the account, revoked ones
	// included, oldest first, with its PIN attempt counter.
	Devices(ctx context.Context, accountID string) ([]operatorDevice, error)
	// Device returns binding id. Errors: NotFound.
	Device(ctx context.Context, id string) (operatorDevice, error)
	// UnblockDevice and AuditLog are core/binding.Service's.
	UnblockDevice(ctx context.Context, bindingID, operator string) error
	AuditLog(ctx context.Context, accountID string, limit int) ([]audit.Event, error)
	Close() error
}

// operatorDevice is a binding as support sees it: the member's view
// (binding.Device) and the PIN attempt counter, which the member's view
// leaves out; never the key or the PIN hash.
type operatorDevice struct {
	binding.Device
	AccountID   string
	PINFailures int
	// PINBlocked: the counter reached the maximum.
	PINBlocked bool
	// PINRetryAt is when the next PIN entry is evaluated (zero: at once).
	PINRetryAt time.Time
}

func operatorView(b device.Binding) operatorDevice {
	return operatorDevice{
		Device: binding.Device{
			ID: b.ID, Name: b.Name, Platform: b.Platform, Status: b.Status, PINSet: b.PINHash != "",
			CreatedAt: b.CreatedAt, LastUsedAt: b.LastUsedAt, RevokedAt: b.RevokedAt,
		},
		AccountID: b.AccountID, PINFailures: b.PIN.Failures, PINBlocked: b.PIN.Blocked, PINRetryAt: b.PIN.NotBefore,
	}
}

// blocked reports whether the binding needs an unblock.
func (d operatorDevice) blocked() bool { return d.Status == device.Blocked || d.PINBlocked }

// sqlDevices is the device binding use case of a server.Backend, with its
// store for what the use case's views leave out (the PIN counters).
type sqlDevices struct {
	*binding.Service
	backend *server.Backend
}

func (d sqlDevices) MemberByKVNR(ctx context.Context, k kvnr.KVNR) (member.Member, error) {
	return d.backend.Store().MemberByKVNR(ctx, k)
}

func (d sqlDevices) AccountByKVNR(ctx context.Context, k kvnr.KVNR) (account.Account, error) {
	return d.backend.Store().AccountByKVNR(ctx, k)
}

func (d sqlDevices) AccountByID(ctx context.Context, id string) (account.Account, error) {
	return d.backend.Store().AccountByID(ctx, id)
}

func (d sqlDevices) Devices(ctx context.Context, accountID string) ([]operatorDevice, error) {
	bs, err := d.backend.Store().ListBindings(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]operatorDevice, len(bs))
	for i, b := range bs {
		out[i] = operatorView(b)
	}
	return out, nil
}

func (d sqlDevices) Device(ctx context.Context, id string) (operatorDevice, error) {
	b, err := d.backend.Store().BindingByID(ctx, id)
	if err != nil {
		return operatorDevice{}, err
	}
	return operatorView(b), nil
}

func (d sqlDevices) Close() error { return d.backend.Close() }

// openDevices builds the device binding use case of cfg for `pforte
// devices` and `pforte audit`: the store (as openStore opens it), the PIN
// peppers, the policies and the notifier exactly as `pforte serve` builds
// them, without signing keys, clients, demo members or a listener
// (server.OpenBackend).
func openDevices(ctx context.Context, cfg *Config, log *slog.Logger) (deviceAdmin, error) {
	o, err := baseOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	b, err := server.OpenBackend(ctx, o)
	if err != nil {
		return nil, err
	}
	return sqlDevices{Service: b.Binding(), backend: b}, nil
}

// withDevices loads the configuration, builds the device back end and
// runs f.
func (c *cli) withDevices(cmd *cobra.Command, f func(context.Context, deviceAdmin) error) error {
	cfg, err := c.config(cmd)
	if err != nil {
		return err
	}
	d, err := c.wiring.openDevices(cmd.Context(), cfg, newLogger(c.stderr, cfg.Log))
	if err != nil {
		return err
	}
	defer d.Close()
	return f(cmd.Context(), d)
}

// parseKVNRFlag checks --kvnr before anything is opened.
func parseKVNRFlag(s string) (kvnr.KVNR, error) {
	if s == "" {
		return "", usagef("--kvnr is required")
	}
	k, err := kvnr.Parse(s)
	if err != nil {
		return "", usagef("%q is not a valid member number (a capital letter and nine digits, the last a check digit)", clip(s))
	}
	return k, nil
}

// accountOf finds the account of k, with an operator's message when there
// is none: an unknown member, or a member who never activated a letter.
func accountOf(ctx context.Context, cmd string, d deviceAdmin, k kvnr.KVNR) (account.Account, error) {
	acc, err := d.AccountByKVNR(ctx, k)
	if err == nil {
		return acc, nil
	}
	if !errors.Is(err, fault.NotFound) {
		return acc, fmt.Errorf("%s: %w", cmd, err)
	}
	if _, merr := d.MemberByKVNR(ctx, k); errors.Is(merr, fault.NotFound) {
		return acc, fmt.Errorf("%s: no member %s: neither an account nor an entry in the member directory", cmd, k)
	} else if merr != nil {
		return acc, fmt.Errorf("%s: %w", cmd, merr)
	}
	return acc, fmt.Errorf("%s: member %s has no account: they have not activated a letter or eID yet", cmd, k)
}

// deviceIDNote explains binding ids that look like flags.
const deviceIDNote = "Device ids are as `pforte devices list` prints them; one that starts with '-' goes\n" +
	"after '--', so that it is not read as a flag."

func (c *cli) devicesCommand() *cobra.Command {
	var kv string
	list := &cobra.Command{
		Use:   "list --kvnr KVNR",
		Short: "List a member's device bindings, revoked ones included",
		Long: "List every device binding of a member's account, oldest first, revoked ones included:\n" +
			"id, name, platform, status, whether the release PIN is set, wrong PIN entries (and\n" +
			"until when the next entry waits, or that the device is blocked), when it was bound and\n" +
			"last used. Never a key or a PIN hash.\n\n" +
			"Statuses: active; blocked (five wrong PINs: the member resets the PIN with password\n" +
			"and device, or support unblocks after verifying the member); suspect (the key's\n" +
			"signature counter went backwards, it may have been copied: final, the member binds\n" +
			"the phone anew); revoked (final).",
		Example: "  pforte devices list --kvnr A123456780",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := parseKVNRFlag(kv)
			if err != nil {
				return err
			}
			return c.withDevices(cmd, func(ctx context.Context, d deviceAdmin) error {
				acc, err := accountOf(ctx, "devices list", d, k)
				if err != nil {
					return err
				}
				ds, err := d.Devices(ctx, acc.ID)
				if err != nil {
					return fmt.Errorf("devices list: %w", err)
				}
				fmt.Fprintf(c.stdout, "Member %s, account %s (%s)\n", k, acc.ID, acc.Status)
				if len(ds) == 0 {
					fmt.Fprintln(c.stdout, "No devices bound.")
					return nil
				}
				tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tPLATFORM\tSTATUS\tPIN\tWRONG PINS\tCREATED\tLAST USED")
				for _, x := range ds {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.Name, x.Platform, deviceStatus(x),
						pinState(x), wrongPINs(x), timeOr(x.CreatedAt, "-"), timeOr(x.LastUsedAt, "never"))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&kv, "kvnr", "", "the member number (required)")

	var operator string
	unblock := &cobra.Command{
		Use:   "unblock DEVICE_ID --operator NAME",
		Short: "Unblock a device after support verified the member",
		Long: "Unblock a device binding that five wrong PINs blocked, or reset its wrong PIN entries,\n" +
			"after support verified the member by other means (a call-back to the number on file,\n" +
			"the questions of the insurer's identification procedure). The member keeps their PIN;\n" +
			"the device may log in again at once. --operator names the person acting: it goes into\n" +
			"the audit log (actor operator). The member is told by e-mail when one is on file.\n\n" +
			"Revoked and suspect devices cannot be unblocked: the member binds the phone anew (a\n" +
			"new letter or eID). A member who still knows their password needs no support: the\n" +
			"app's PIN reset (password + device) unblocks as well.\n\n" +
			deviceIDNote,
		Example: "  pforte devices unblock d6xMNJH7MENPX4u0Z1Y3cQ --operator 'M. Muster, Servicecenter'\n" +
			"  pforte devices unblock --operator mmuster -- -Bvc4qW4BxLZCZ3DdbmMQQ",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			id := a[0]
			if err := operatorOK(operator); err != nil {
				return err
			}
			return c.withDevices(cmd, func(ctx context.Context, d deviceAdmin) error {
				return c.unblock(ctx, d, id, operator)
			})
		},
	}
	unblock.Flags().StringVar(&operator, "operator", "", "who unblocks, for the audit log (required)")
	unblock.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usagef("%v; a device id that starts with '-' goes after '--'", err)
	})
	return group("devices", "List a member's devices, unblock or revoke them", list, unblock, c.devicesRevokeCommand())
}

// operatorOK checks --operator before anything is opened, as
// binding.UnblockDevice will: a name of at most 100 printable characters.
func operatorOK(name string) error {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return usagef("--operator is required: the name of the person acting, for the audit log")
	case len(name) > 100 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return usagef("--operator: name the operator (at most 100 printable characters)")
	}
	return nil
}

// unblock unblocks binding id and says what it did.
func (c *cli) unblock(ctx context.Context, d deviceAdmin, id, operator string) error {
	const cmd = "devices unblock"
	before, err := d.Device(ctx, id)
	if errors.Is(err, fault.NotFound) {
		return fmt.Errorf("%s: no device %q", cmd, clip(id))
	} else if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	switch err := d.UnblockDevice(ctx, id, operator); {
	case errors.Is(err, fault.Invalid):
		return usageError{fmt.Errorf("--operator: %s", publicText(err))}
	case errors.Is(err, fault.NotFound):
		return fmt.Errorf("%s: no device %q", cmd, clip(id))
	case errors.Is(err, fault.Conflict):
		return fmt.Errorf("%s: device %s (%s): %s", cmd, id, before.Status, publicText(err))
	case err != nil:
		return fmt.Errorf("%s: %w", cmd, err)
	}
	who := "account " + before.AccountID
	if acc, err := d.AccountByID(ctx, before.AccountID); err == nil {
		who = "member " + string(acc.KVNR)
	}
	switch {
	case before.blocked():
		fmt.Fprintf(c.stdout, "Device %s (%q of %s) is unblocked: the wrong PIN entries are reset and it may log in again with its PIN.\n",
			id, before.Name, who)
	case before.PINFailures > 0:
		fmt.Fprintf(c.stdout, "Device %s (%q of %s) was not blocked; its %d wrong PIN entries are reset.\n",
			id, before.Name, who, before.PINFailures)
	default:
		fmt.Fprintf(c.stdout, "Device %s (%q of %s) is not blocked and has no wrong PIN entries: nothing to do.\n",
			id, before.Name, who)
	}
	return nil
}

func deviceStatus(d operatorDevice) string {
	if d.Status == device.Revoked && !d.RevokedAt.IsZero() {
		return "revoked " + timeOr(d.RevokedAt, "")
	}
	return string(d.Status)
}

func pinState(d operatorDevice) string {
	if d.PINSet {
		return "set"
	}
	return "not set"
}

// wrongPINs is the PIN attempt counter as support reads it.
func wrongPINs(d operatorDevice) string {
	switch {
	case d.PINBlocked:
		return strconv.Itoa(d.PINFailures) + " (blocked)"
	case d.PINFailures == 0:
		return "0"
	case !d.PINRetryAt.IsZero() && d.PINRetryAt.After(time.Now()):
		return fmt.Sprintf("%d (next entry from %s)", d.PINFailures, timeOr(d.PINRetryAt, ""))
	}
	return strconv.Itoa(d.PINFailures)
}

func (c *cli) auditCommand() *cobra.Command {
	var kv, from, to, operator string
	var kinds []string
	limit := support.DefaultAuditLimit
	cmd := &cobra.Command{
		Use:   "audit [--kvnr KVNR] [--from T] [--to T] [--kind K ...] [--limit N] --operator NAME",
		Short: "Query the audit log by member, time range and kind, newest first",
		Long: "Show audit events, newest first: of one member (--kvnr) or of everyone, from --from\n" +
			"(inclusive) to --to (exclusive), both RFC 3339 or YYYY-MM-DD, of the kinds --kind names\n" +
			"(repeatable: login.web, device.revoked, account.locked, ...). Each line: when, what,\n" +
			"who acted (member, operator, system), through which client, and the details (device\n" +
			"id and name, remaining attempts, the operator's name). The log is append-only and holds\n" +
			"no secret: never a PIN, password, code or token, and client addresses only as keyed\n" +
			"hashes (not shown). The query itself is audited (support.read) with --operator.",
		Example: "  pforte audit --kvnr A123456780 --limit 20 --operator mmuster\n" +
			"  pforte audit --kind account.locked --kind account.unlocked --from 2026-12-01 --operator mmuster",
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if kv != "" {
				if _, err := parseKVNRFlag(kv); err != nil {
					return err
				}
			}
			if limit < 1 || limit > support.MaxAuditLimit {
				return usagef("--limit must be between 1 and %d", support.MaxAuditLimit)
			}
			var q support.AuditQuery
			for _, t := range []struct {
				flag, v string
				dst     *time.Time
			}{{"--from", from, &q.From}, {"--to", to, &q.To}} {
				if t.v == "" {
					continue
				}
				v, err := parseTimeFlag(t.v)
				if err != nil {
					return usagef("%s must be an RFC 3339 time or a date (YYYY-MM-DD)", t.flag)
				}
				*t.dst = v
			}
			q.KVNR, q.Kinds, q.Limit = kv, kinds, limit
			return c.withSupport(cmd, operator, func(ctx context.Context, a support.Agent, s supportAdmin) error {
				es, err := s.Audit(ctx, a, q)
				if err != nil {
					return supportError("audit", err)
				}
				if len(es) == 0 {
					fmt.Fprintln(c.stdout, "No audit events.")
					return nil
				}
				tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
				if kv == "" {
					fmt.Fprintln(tw, "TIME\tACCOUNT\tKIND\tACTOR\tCLIENT\tDETAIL")
				} else {
					fmt.Fprintln(tw, "TIME\tKIND\tACTOR\tCLIENT\tDETAIL")
				}
				for _, e := range es {
					if kv == "" {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", timeOr(e.Time, "-"), orDash(e.AccountID), e.Kind, e.Actor, orDash(e.ClientID), detailText(e.Detail))
					} else {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", timeOr(e.Time, "-"), e.Kind, e.Actor, orDash(e.ClientID), detailText(e.Detail))
					}
				}
				return tw.Flush()
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&kv, "kvnr", "", "the member number (default: every member)")
	fl.StringVar(&from, "from", "", "events at or after this time (RFC 3339 or YYYY-MM-DD, UTC)")
	fl.StringVar(&to, "to", "", "events before this time (RFC 3339 or YYYY-MM-DD, UTC)")
	fl.StringArrayVar(&kinds, "kind", nil, "only events of this kind (repeatable)")
	fl.IntVar(&limit, "limit", support.DefaultAuditLimit, fmt.Sprintf("at most this many events (1-%d)", support.MaxAuditLimit))
	fl.StringVar(&operator, "operator", "", "who queries, for the audit log (required)")
	return cmd
}

// parseTimeFlag reads an RFC 3339 time or a date (midnight UTC).
func parseTimeFlag(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

// secretDetailKeys are detail keys that would name a secret. Audit events
// never carry one (core/audit.Event); should a future event do so by
// mistake, the operator's terminal does not show it.
var secretDetailKeys = []string{"pin", "new_pin", "password", "token", "code", "secret", "challenge"}

// detailText is an event's details as key=value, sorted by key; values
// with spaces or unprintable characters are quoted.
func detailText(d map[string]string) string {
	if len(d) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := d[k]
		switch {
		case slices.Contains(secretDetailKeys, strings.ToLower(k)):
			v = "[redacted]"
		case v == "" || strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '"' }):
			v = strconv.Quote(v)
		}
		parts[i] = k + "=" + v
	}
	return strings.Join(parts, " ")
}
