package lifecycle

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/ports/notify"
	"github.com/pforte-id/pforte/ports/store"
)

// Config holds the rules. Zero values take the defaults.
type Config struct {
	// SyncMaxDrop is the largest share of the present members one sync
	// may mark removed (0.05: 5 %); a sync that would remove more is
	// refused unless forced.
	SyncMaxDrop float64
	// Retention is how long a member's data is kept after the membership
	// ended (member.Member.EndedOn); then PurgeExpired deletes the account
	// and the directory record.
	Retention time.Duration
	// IPKey keys the hash of client addresses in audit events
	// (audit.IPHash); derive it from the master key.
	IPKey []byte
}

// Defaults and bounds (Validate).
const (
	DefaultSyncMaxDrop = 0.05
	// DefaultRetention: six years, the retention period of business
	// records (§ 257 HGB, § 147 AO), which the insurer's records of who
	// had access to its services fall under.
	DefaultRetention = 6 * 365 * 24 * time.Hour
	// MinRetention is the grace period's ceiling (member.MaxEligibilityWindow):
	// data is never deleted while the member may still log in.
	MinRetention = member.MaxEligibilityWindow
	MaxRetention = 30 * 365 * 24 * time.Hour
)

func (c Config) withDefaults() Config {
	if c.SyncMaxDrop == 0 {
		c.SyncMaxDrop = DefaultSyncMaxDrop
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	return c
}

// WithDefaults returns c with the defaults applied, as New applies them.
func (c Config) WithDefaults() Config { return c.withDefaults() }

// Validate checks c after defaults are applied. Errors: fault.Invalid
// whose Op names the field ("lifecycle.Config.SyncMaxDrop").
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.SyncMaxDrop <= 0 || c.SyncMaxDrop > 1:
		return fault.New(fault.Invalid, "lifecycle.Config.SyncMaxDrop", "must be more than 0 and at most 1 (a share: 0.05 is 5 %)")
	case c.Retention < MinRetention || c.Retention > MaxRetention:
		return fault.New(fault.Invalid, "lifecycle.Config.Retention", "must be between 8760h (a year) and 262800h (30 years)")
	}
	return nil
}

// Store is what the service needs of the store.
type Store interface {
	store.MemberLifecycle
	store.Accounts
	store.Audit
	MemberByKVNR(ctx context.Context, k kvnr.KVNR) (member.Member, error)
}

// Sessions ends an account's single sign-on sessions with back-channel
// logout (core/sso.Service).
type Sessions interface {
	EndAll(ctx context.Context, accountID string, reason session.EndReason) (int, error)
}

// Pseudonyms computes the keyed pseudonym of a member number that the
// audit log names members by (letter.Hasher).
type Pseudonyms interface {
	Pseudonym(k kvnr.KVNR) string
}

// Deps are the ports the service uses. Sessions and Pseudonyms are needed
// by DeleteAccount and PurgeExpired only (nil: they refuse); Sync needs
// neither, so that the operator's sync runs without the master key.
type Deps struct {
	Store      Store
	Sessions   Sessions
	Pseudonyms Pseudonyms
	// Notifier tells the member that the account was deleted (by the
	// member or by support; not the purge of ended memberships), at the
	// e-mail address on file; nil: nobody is told. Mail words it in the
	// language of ctx's request (required with a Notifier).
	Notifier notify.Notifier
	Mail     func(ctx context.Context, code fault.Code, params ...any) (subject, body string)
	Now      func() time.Time
	Logger   *slog.Logger
}

// mailDeleted tells the member that the account was deleted. Params: the
// time (time.Time).
const mailDeleted fault.Code = "mail.account_deleted"

// Service is the use case.
type Service struct {
	cfg Config
	d   Deps
	log *slog.Logger
}

// New returns the service. Errors: Invalid for a bad cfg or no store.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Store == nil {
		return nil, fault.New(fault.Invalid, "lifecycle.New", "no store")
	}
	if d.Notifier != nil && d.Mail == nil {
		return nil, fault.New(fault.Invalid, "lifecycle.New", "a notifier needs the mail texts")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg.withDefaults(), d: d, log: log}, nil
}

// Config returns the rules in use, defaults applied.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) clock() time.Time { return s.d.Now().UTC() }

// Codes of the use case.
const (
	// CodeSyncTooMany: the sync would remove more members than allowed.
	// Params: removing (int), present (int), the limit in percent
	// (string).
	CodeSyncTooMany fault.Code = "members.sync_too_many"
	// CodeSyncEmpty: the file has no members (no params).
	CodeSyncEmpty fault.Code = "members.sync_empty"
	// CodeForceReason: a forced sync needs a reason (no params).
	CodeForceReason fault.Code = "members.sync_force_reason"
	// CodeAlreadyDeleted: the account was deleted before (no params).
	CodeAlreadyDeleted fault.Code = "account.already_deleted"
	// CodeNoAccount: there is no such account (no params).
	CodeNoAccount fault.Code = "account.not_found"
)

// SyncOptions are an operator's choices for one sync.
type SyncOptions struct {
	// Force overrides the SyncMaxDrop limit; Reason is then required and
	// recorded.
	Force  bool
	Reason string
	// Operator names who ran the sync, for the audit log.
	Operator string
}

// Sync makes the member directory the insurer's full file ms: members in
// ms are stored (and resume if they were marked removed), members not in
// ms are marked removed today, in one transaction (store.SyncMembers). It
// is refused, and nothing changes, when it would remove more than
// Config.SyncMaxDrop of the present members, unless opts.Force with a
// reason; an empty file is refused even then. Syncing the same file again
// changes nothing. Returns the counts.
// Errors: Invalid (CodeSyncEmpty, CodeForceReason; a duplicate member);
// Conflict (CodeSyncTooMany); Unavailable.
func (s *Service) Sync(ctx context.Context, ms []member.Member, opts SyncOptions) (store.SyncCount, error) {
	const op = "lifecycle.Sync"
	if len(ms) == 0 {
		return store.SyncCount{}, fault.Coded(fault.Invalid, op, CodeSyncEmpty)
	}
	opts.Reason = strings.TrimSpace(opts.Reason)
	if opts.Force && opts.Reason == "" {
		return store.SyncCount{}, fault.Coded(fault.Invalid, op, CodeForceReason)
	}
	now := s.clock()
	n, err := s.d.Store.SyncMembers(ctx, ms, now, func(c store.SyncCount) error {
		if !opts.Force && tooMany(c, s.cfg.SyncMaxDrop) {
			return fault.Coded(fault.Conflict, op, CodeSyncTooMany, c.Removing, c.Present, percent(s.cfg.SyncMaxDrop))
		}
		return nil
	})
	if err != nil {
		return store.SyncCount{}, err
	}
	detail := map[string]string{
		"present": strconv.Itoa(n.Present), "removing": strconv.Itoa(n.Removing), "resuming": strconv.Itoa(n.Resuming),
	}
	if opts.Operator != "" {
		detail["operator"] = opts.Operator
	}
	if opts.Force {
		detail["forced"], detail["reason"] = "true", opts.Reason
	}
	s.record(ctx, audit.Event{ID: grant.NewID(), Time: now, Kind: audit.MembersSynced, Actor: audit.Operator, Detail: detail})
	s.log.LogAttrs(ctx, slog.LevelInfo, "members synced", slog.Int("present", n.Present),
		slog.Int("removing", n.Removing), slog.Int("resuming", n.Resuming), slog.Bool("forced", opts.Force))
	return n, nil
}

// tooMany reports whether c removes more than maxDrop of the present
// members. A directory without present members (the first sync) has
// nothing to lose.
func tooMany(c store.SyncCount, maxDrop float64) bool {
	if c.Present == 0 {
		return false
	}
	return float64(c.Removing) > maxDrop*float64(c.Present)
}

// percent prints a share as a percentage ("5 %").
func percent(share float64) string {
	return strconv.FormatFloat(share*100, 'f', -1, 64) + " %"
}

// Deletion says who deletes an account and why.
type Deletion struct {
	AccountID string
	// Actor is audit.Member (on request), audit.Operator (support) or
	// audit.System (retention).
	Actor audit.Actor
	// ClientID is where the request came from (the app API, the account
	// page's client, the admin client); IP the client address (hashed into
	// the audit event with Config.IPKey).
	ClientID string
	IP       string
	// Operator names the support agent (audit.Operator), Reason why.
	Operator string
	Reason   string
}

// reason is the audit detail "reason" of a deletion by actor.
func reasonOf(a audit.Actor) string {
	switch a {
	case audit.Operator:
		return "support"
	case audit.System:
		return "retention"
	}
	return "request"
}

// DeleteAccount deletes account d.AccountID and what belongs to it: its
// bindings, sessions, tokens, consents, proofs, enrollment sessions, the
// links of eID cards to its member number and the names and addresses of
// its letters. First the account is blocked, so that no new login
// starts; then its sessions end, and the relying parties they served are
// told by back-channel logout; then the store deletes, in one transaction
// with the audit entry (audit.AccountDeleted). The member directory's
// record stays while the member is insured (the member may register
// again); the record of a membership that has ended goes too
// (audit.MemberRemoved). The audit log stays, naming the account id and
// the member number's pseudonym.
//
// Of concurrent deletions of one account exactly one deletes; the others,
// and every later one, get NotFound with CodeAlreadyDeleted and change
// nothing. When it fails with Unavailable, calling it again completes it.
// Errors: NotFound (CodeAlreadyDeleted; CodeNoAccount); Invalid (no
// Sessions or Pseudonyms); Unavailable.
func (s *Service) DeleteAccount(ctx context.Context, d Deletion) (account.Account, error) {
	return s.deleteAccount(ctx, d, true)
}

// deleteAccount is DeleteAccount; forget says whether the record of an
// ended membership goes too (PurgeExpired removes it itself).
func (s *Service) deleteAccount(ctx context.Context, d Deletion, forget bool) (account.Account, error) {
	const op = "lifecycle.DeleteAccount"
	if s.d.Sessions == nil || s.d.Pseudonyms == nil {
		return account.Account{}, fault.New(fault.Invalid, op, "deletion needs the sessions and the pseudonyms")
	}
	a, err := s.d.Store.AccountByID(ctx, d.AccountID)
	switch {
	case errors.Is(err, fault.NotFound):
		return account.Account{}, s.gone(ctx, op, d.AccountID)
	case err != nil:
		return account.Account{}, err
	}
	if a.Status != account.Blocked {
		if err := s.d.Store.SetAccountStatus(ctx, a.ID, account.Blocked, s.clock()); errors.Is(err, fault.NotFound) {
			return account.Account{}, s.gone(ctx, op, d.AccountID)
		} else if err != nil {
			return account.Account{}, err
		}
	}
	if _, err := s.d.Sessions.EndAll(ctx, a.ID, session.EndDeleted); err != nil {
		// A session that vanished between listing and ending was deleted
		// with its account by a concurrent deletion.
		if errors.Is(err, fault.NotFound) {
			if _, aerr := s.d.Store.AccountByID(ctx, a.ID); errors.Is(aerr, fault.NotFound) {
				return account.Account{}, s.gone(ctx, op, d.AccountID)
			}
		}
		return account.Account{}, err
	}
	// The address on file, read before the deletion, which may take the
	// directory record of an ended membership with it.
	to := s.address(ctx, a, d.Actor)
	now := s.clock()
	detail := map[string]string{"member": s.d.Pseudonyms.Pseudonym(a.KVNR), "reason": reasonOf(d.Actor)}
	if d.Operator != "" {
		detail["operator"] = d.Operator
	}
	if r := strings.TrimSpace(d.Reason); r != "" && d.Actor == audit.Operator {
		detail["note"] = r
	}
	e := audit.Event{ID: grant.NewID(), Time: now, Kind: audit.AccountDeleted, Actor: d.Actor, AccountID: a.ID,
		ClientID: d.ClientID, IPHash: audit.IPHash(s.cfg.IPKey, d.IP), Detail: detail}
	deleted, err := s.d.Store.DeleteAccount(ctx, a.ID, e, now)
	switch {
	case errors.Is(err, fault.NotFound):
		return account.Account{}, s.gone(ctx, op, d.AccountID)
	case err != nil:
		return account.Account{}, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "account deleted", slog.String("account", a.ID),
		slog.String("reason", detail["reason"]))
	s.tellDeleted(ctx, to, now)
	if !forget {
		deleted.PasswordHash = ""
		return deleted, nil
	}
	if err := s.forgetEnded(ctx, a.KVNR, now); err != nil {
		// The account is deleted; the record goes with the next purge.
		s.log.LogAttrs(ctx, slog.LevelWarn, "the ended member's record stays after the deletion", slog.Any("error", err))
	}
	deleted.PasswordHash = ""
	return deleted, nil
}

// address is the e-mail address a deletion of a by actor is told to: the
// member's on file, for a deletion by the member or by support ("" for
// the purge of ended memberships, without a notifier, or without one on
// file).
func (s *Service) address(ctx context.Context, a account.Account, actor audit.Actor) string {
	if s.d.Notifier == nil || actor == audit.System {
		return ""
	}
	m, err := s.d.Store.MemberByKVNR(ctx, a.KVNR)
	if err != nil {
		if !errors.Is(err, fault.NotFound) {
			s.log.LogAttrs(ctx, slog.LevelWarn, "the deletion notice will not be sent", slog.Any("error", err))
		}
		return ""
	}
	return strings.TrimSpace(m.Email)
}

// tellDeleted sends the notice of a deletion at to, if there is one;
// failures are logged: the account is deleted either way.
func (s *Service) tellDeleted(ctx context.Context, to string, at time.Time) {
	// Not cancelled with the request: the change is made, and a client
	// that goes away must not take the notice along (the notifier bounds
	// its own time).
	ctx = context.WithoutCancel(ctx)

	if to == "" {
		return
	}
	subject, body := s.d.Mail(ctx, mailDeleted, at)
	msg := notify.Message{To: to, Subject: subject, Body: body, Kind: string(audit.AccountDeleted)}
	if err := s.d.Notifier.Notify(ctx, msg); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "the deletion notice was not sent", slog.Any("error", err))
	}
}

// forgetEnded removes the directory record of member k when the
// membership has ended before now: the member asked for the deletion and
// cannot register again, so nothing is left to keep it for. A member
// still insured keeps the record (the insurer's master data) and may
// register again.
func (s *Service) forgetEnded(ctx context.Context, k kvnr.KVNR, now time.Time) error {
	m, err := s.d.Store.MemberByKVNR(ctx, k)
	switch {
	case errors.Is(err, fault.NotFound):
		return nil
	case err != nil:
		return err
	}
	// Calendar days: a member whose insurance ends today is insured today.
	today := now.UTC().Truncate(24 * time.Hour)
	if end := m.EndedOn(); end.IsZero() || !end.Before(today) {
		return nil
	}
	err = s.d.Store.DeleteMember(ctx, k, today, now)
	switch {
	case errors.Is(err, fault.NotFound) || errors.Is(err, fault.Conflict) || errors.Is(err, fault.Forbidden):
		return nil
	case err != nil:
		return err
	}
	s.record(ctx, audit.Event{ID: grant.NewID(), Time: now, Kind: audit.MemberRemoved, Actor: audit.System,
		Detail: map[string]string{"member": s.d.Pseudonyms.Pseudonym(k), "reason": "deleted"}})
	return nil
}

// gone explains why account id is not there: deleted before (the audit
// log has its deletion), or never there.
func (s *Service) gone(ctx context.Context, op, id string) error {
	if id != "" {
		evs, err := s.d.Store.AuditEvents(ctx, id, 50)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Kind == audit.AccountDeleted {
				return fault.Coded(fault.NotFound, op, CodeAlreadyDeleted)
			}
		}
	}
	return fault.Coded(fault.NotFound, op, CodeNoAccount)
}

// purgeBatch is how many expired members one round of PurgeExpired takes.
const purgeBatch = 100

// PurgeExpired deletes the members whose membership ended more than
// Config.Retention before now: their account (as DeleteAccount does, by
// the system, reason retention) and then their directory record with the
// names and addresses of their letters. A member imported again
// meanwhile stays. Several replicas may run it at once: each member is
// deleted once. Returns how many members were removed.
// Errors: Invalid (no Sessions or Pseudonyms); Unavailable (those removed
// so far stay removed; calling again continues).
func (s *Service) PurgeExpired(ctx context.Context, now time.Time) (int, error) {
	const op = "lifecycle.PurgeExpired"
	if s.d.Sessions == nil || s.d.Pseudonyms == nil {
		return 0, fault.New(fault.Invalid, op, "purging needs the sessions and the pseudonyms")
	}
	cut := now.UTC().Add(-s.cfg.Retention)
	n := 0
	for {
		ks, err := s.d.Store.ExpiredMembers(ctx, cut, purgeBatch)
		if err != nil {
			return n, err
		}
		progress := 0
		for _, k := range ks {
			done, err := s.purge(ctx, k, cut, now)
			if err != nil {
				return n, err
			}
			if done {
				n++
				progress++
			}
		}
		if len(ks) < purgeBatch || progress == 0 || ctx.Err() != nil {
			if n > 0 {
				s.log.LogAttrs(ctx, slog.LevelInfo, "expired members removed", slog.Int("members", n))
			}
			return n, ctx.Err()
		}
	}
}

// purge removes member k if it is still expired at cut, and reports
// whether this call removed it.
func (s *Service) purge(ctx context.Context, k kvnr.KVNR, cut, now time.Time) (bool, error) {
	a, err := s.d.Store.AccountByKVNR(ctx, k)
	switch {
	case errors.Is(err, fault.NotFound):
	case err != nil:
		return false, err
	default:
		if _, err := s.deleteAccount(ctx, Deletion{AccountID: a.ID, Actor: audit.System}, false); err != nil && !errors.Is(err, fault.NotFound) {
			return false, err
		}
	}
	err = s.d.Store.DeleteMember(ctx, k, cut, now)
	switch {
	case errors.Is(err, fault.NotFound) || errors.Is(err, fault.Conflict) || errors.Is(err, fault.Forbidden):
		// Removed by another replica, imported again, or a new account
		// appeared meanwhile (it goes in the next run).
		return false, nil
	case err != nil:
		return false, err
	}
	s.record(ctx, audit.Event{ID: grant.NewID(), Time: now, Kind: audit.MemberRemoved, Actor: audit.System,
		Detail: map[string]string{"member": s.d.Pseudonyms.Pseudonym(k)}})
	return true, nil
}

// record appends e; a lost audit entry is logged, never fails the use
// case, whose effect has happened.
func (s *Service) record(ctx context.Context, e audit.Event) {
	if err := s.d.Store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "audit event lost", slog.String("kind", string(e.Kind)), slog.Any("error", err))
	}
}
