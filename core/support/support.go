package support

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/core/throttle"
	"github.com/pforte-id/pforte/ports/store"
)

// Codes of support's answers; support's tools word them from the
// catalog.
const (
	// CodeUnknownMember: the KVNR is in neither the directory nor an
	// account.
	CodeUnknownMember fault.Code = "support.unknown_member"
	// CodeNoAccount: the member is in the directory but has not activated
	// a letter or an eID yet: there is nothing to act on.
	CodeNoAccount fault.Code = "support.no_account"
	// CodeUnknownDevice: the member has no device of that id (another
	// member's device is the same answer).
	CodeUnknownDevice fault.Code = "support.unknown_device"
	// CodeNotActive: only an active account can be locked (a pending one
	// cannot log in yet).
	CodeNotActive fault.Code = "support.not_active"
	// CodeNotLocked: only a locked account can be unlocked.
	CodeNotLocked fault.Code = "support.not_locked"
	// CodeReason: an override, a lock or an unlock needs a reason (1 to
	// MaxReasonLength printable characters).
	CodeReason fault.Code = "support.reason"
	// CodeAgent: the person acting is not named (1 to 100 printable
	// characters), or the client is missing.
	CodeAgent fault.Code = "support.agent"
	// CodeQuery: a search or audit query is malformed (the text names
	// what).
	CodeQuery fault.Code = "support.query"
	// CodeUnknownClient: no client of that id.
	CodeUnknownClient fault.Code = "support.unknown_client"
	// CodeClientDeclared: the client is declared in the clients file,
	// which is applied at every start: change it there.
	CodeClientDeclared fault.Code = "support.client_declared"
	// CodeClientInvalid: the edit would make the client invalid (the text
	// names why).
	CodeClientInvalid fault.Code = "support.client_invalid"
)

// Bounds.
const (
	// MaxReasonLength bounds a reason.
	MaxReasonLength = 200
	// DefaultSearchLimit and MaxSearchLimit bound a member search's
	// answer.
	DefaultSearchLimit = 20
	MaxSearchLimit     = 100
	// searchScan is how many members of one birth date a name search
	// reads: far more than are born on one day in any insurer's file.
	searchScan = 5000
	// LastLogins is how many logins a member's status lists.
	LastLogins = 5
	// DefaultAuditLimit and MaxAuditLimit bound an audit query.
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// Agent is who acts: the person (Name, recorded as "operator") and the
// client they act through (ClientID). The admin API takes the client from
// the access token and the name from the request (its trust model: the
// name is what the support tool, which holds the admin client's secret,
// says; it is recorded, not proven); the CLI takes --operator and
// binding.OperatorClientID.
type Agent struct {
	ClientID string
	Name     string
}

func (a Agent) check(op string) (Agent, error) {
	a.Name = strings.TrimSpace(a.Name)
	if a.ClientID == "" || !binding.OperatorOK(a.Name) {
		return a, fault.Coded(fault.Invalid, op, CodeAgent)
	}
	return a, nil
}

// Bindings is what support needs of device binding (core/binding).
type Bindings interface {
	UnblockDeviceBy(ctx context.Context, bindingID, operator, clientID string) error
	RevokeDeviceBy(ctx context.Context, accountID, id, operator, clientID string) error
}

// Sessions ends a member's browser sessions (core/sso.Service or, in the
// CLI, sso.Ender).
type Sessions interface {
	EndAll(ctx context.Context, accountID string, reason session.EndReason) (int, error)
}

// Letters orders a letter, or reports one lost (core/registration).
type Letters interface {
	OrderLetter(ctx context.Context, k kvnr.KVNR, override bool) (letter.Letter, error)
	ReportLostByOperator(ctx context.Context, rep registration.LostReport) (registration.LostResult, error)
}

// Lockouts reads a member's password failure counter (core/login).
type Lockouts interface {
	PasswordLockout(ctx context.Context, k kvnr.KVNR) (throttle.Counter, error)
}

// ClientStore is what support needs of the clients.
type ClientStore interface {
	ClientByID(ctx context.Context, id string) (client.Client, error)
	store.ClientUpdates
}

// Deps are what the service needs; all but Now and Logger are required.
type Deps struct {
	Accounts interface {
		AccountByKVNR(ctx context.Context, k kvnr.KVNR) (account.Account, error)
		SetAccountStatus(ctx context.Context, id string, s account.Status, now time.Time) error
	}
	Members interface {
		MemberByKVNR(ctx context.Context, k kvnr.KVNR) (member.Member, error)
	}
	Search        store.MemberSearch
	LatestLetters interface {
		LatestLetter(ctx context.Context, k kvnr.KVNR) (letter.Letter, error)
	}
	Devices interface {
		ListBindings(ctx context.Context, accountID string) ([]device.Binding, error)
	}
	Families       store.BindingFamilies
	ActiveSessions interface {
		ActiveSessions(ctx context.Context, accountID string, now time.Time) ([]session.Session, error)
	}
	Audit      store.Audit
	AuditQuery store.AuditQuery
	Bindings   Bindings
	Sessions   Sessions
	Letters    Letters
	Lockouts   Lockouts
	Clients    ClientStore
	// Deleter deletes accounts (DeleteMember).
	Deleter Deleter
	// Secrets hashes new client secrets.
	Secrets client.SecretHasher
	// Declared reports whether a client is declared in the clients file
	// (or built in): those are refused an edit, since every start puts
	// them back as declared. nil: none is.
	Declared func(clientID string) bool
	Now      func() time.Time
	Logger   *slog.Logger
}

// Service is support's use case. It keeps no state of its own.
type Service struct {
	d   Deps
	log *slog.Logger
}

// New returns a Service. Errors: Invalid.
func New(d Deps) (*Service, error) {
	if d.Accounts == nil || d.Members == nil || d.Search == nil || d.LatestLetters == nil || d.Devices == nil ||
		d.Families == nil || d.ActiveSessions == nil || d.Audit == nil || d.AuditQuery == nil || d.Bindings == nil ||
		d.Sessions == nil || d.Letters == nil || d.Lockouts == nil || d.Clients == nil || d.Deleter == nil {
		return nil, fault.New(fault.Invalid, "support.New", "a dependency is missing")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Declared == nil {
		d.Declared = func(string) bool { return false }
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{d: d, log: d.Logger}, nil
}

func (s *Service) clock() time.Time { return s.d.Now().UTC() }

// record appends the audit event of an action by a. The action has been
// carried out and cannot be taken back: a failure is logged as an error.
// It is not cancelled with the request: a support tool that goes away
// once the action is done must not take its record along.
func (s *Service) record(ctx context.Context, a Agent, kind audit.Kind, accountID string, detail map[string]string) {
	ctx = context.WithoutCancel(ctx)
	if detail == nil {
		detail = map[string]string{}
	}
	detail["operator"] = a.Name
	e := audit.Event{
		ID: grant.NewID(), Time: s.clock(), Kind: kind, Actor: audit.Operator, AccountID: accountID,
		ClientID: a.ClientID, Detail: detail,
	}
	if err := s.d.Audit.AppendAudit(ctx, e); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "audit event lost", slog.String("kind", string(kind)),
			slog.String("account", accountID), slog.Any("error", err))
	}
}

// reasonOK checks a reason: 1 to MaxReasonLength printable characters.
func reasonOK(op, reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > MaxReasonLength || strings.ContainsFunc(reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", fault.Coded(fault.Invalid, op, CodeReason)
	}
	return reason, nil
}

// memberOf returns the directory entry and account of k; hasAccount is
// false for a member without one, and m is zero for an account whose
// member left the directory. Errors: NotFound coded CodeUnknownMember
// when neither exists; Unavailable.
func (s *Service) memberOf(ctx context.Context, op string, k kvnr.KVNR) (m member.Member, inDirectory bool, acc account.Account, hasAccount bool, err error) {
	m, err = s.d.Members.MemberByKVNR(ctx, k)
	switch {
	case err == nil:
		inDirectory = true
	case !errors.Is(err, fault.NotFound):
		return
	}
	acc, err = s.d.Accounts.AccountByKVNR(ctx, k)
	switch {
	case err == nil:
		hasAccount = true
	case !errors.Is(err, fault.NotFound):
		return
	}
	err = nil
	if !inDirectory && !hasAccount {
		err = fault.Coded(fault.NotFound, op, CodeUnknownMember)
	}
	return
}

// accountOf returns the account of k. Errors: NotFound coded
// CodeUnknownMember or CodeNoAccount; Unavailable.
func (s *Service) accountOf(ctx context.Context, op string, k kvnr.KVNR) (account.Account, error) {
	_, _, acc, ok, err := s.memberOf(ctx, op, k)
	if err != nil {
		return account.Account{}, err
	}
	if !ok {
		return account.Account{}, fault.Coded(fault.NotFound, op, CodeNoAccount)
	}
	return acc, nil
}
