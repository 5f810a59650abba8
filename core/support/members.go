package support

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
)

// Registration is where a member stands with Pforte.
type Registration string

const (
	// NotRegistered: in the directory, no account yet.
	NotRegistered Registration = "not_registered"
	// Pending: a letter or an eID was activated, the app is not set up.
	Pending Registration = "pending"
	// Registered: the account is active.
	Registered Registration = "registered"
	// Locked: the account is blocked.
	Locked Registration = "locked"
)

func registrationOf(acc account.Account, has bool) Registration {
	switch {
	case !has:
		return NotRegistered
	case acc.Status == account.Active:
		return Registered
	case acc.Status == account.Blocked:
		return Locked
	}
	return Pending
}

// Found is one member a search found.
type Found struct {
	KVNR         kvnr.KVNR
	GivenName    string
	FamilyName   string
	BirthDate    string
	Registration Registration
}

// Search is a member search: by KVNR, or by family name and date of birth
// (YYYY-MM-DD), optionally narrowed by the given name. Names match
// without regard to case; a given name matches by its beginning.
type Search struct {
	KVNR       string
	FamilyName string
	GivenName  string
	BirthDate  string
	// Limit bounds the answer (<= 0: DefaultSearchLimit; at most
	// MaxSearchLimit).
	Limit int
}

// SearchMembers finds members. A search by KVNR finds at most one; a
// member with an account but no directory entry any more is found by KVNR
// only. The search is audited (SupportRead, "what" search, how many were
// found; never the names or the date searched for).
// Errors: Invalid coded CodeQuery (neither KVNR nor family name and
// date, a malformed KVNR or date) or CodeAgent; Unavailable.
func (s *Service) SearchMembers(ctx context.Context, a Agent, q Search) ([]Found, error) {
	const op = "support.SearchMembers"
	a, err := a.check(op)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	limit = min(limit, MaxSearchLimit)
	var out []Found
	switch {
	case q.KVNR != "":
		k, err := kvnr.Parse(strings.TrimSpace(q.KVNR))
		if err != nil {
			return nil, fault.Coded(fault.Invalid, op, CodeQuery, "kvnr")
		}
		m, inDir, acc, has, err := s.memberOf(ctx, op, k)
		if errors.Is(err, fault.NotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		f := Found{KVNR: k, Registration: registrationOf(acc, has)}
		if inDir {
			f.GivenName, f.FamilyName, f.BirthDate = m.GivenName, m.FamilyName, m.BirthDate
		}
		out = append(out, f)
	default:
		family, given := strings.TrimSpace(q.FamilyName), strings.TrimSpace(q.GivenName)
		if family == "" || len(family) > 200 || len(given) > 200 {
			return nil, fault.Coded(fault.Invalid, op, CodeQuery, "family_name")
		}
		if _, err := time.Parse(time.DateOnly, q.BirthDate); err != nil {
			return nil, fault.Coded(fault.Invalid, op, CodeQuery, "birth_date")
		}
		ms, err := s.d.Search.MembersByBirthDate(ctx, q.BirthDate, searchScan)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if len(out) == limit {
				break
			}
			if !strings.EqualFold(strings.TrimSpace(m.FamilyName), family) ||
				(given != "" && !hasPrefixFold(strings.TrimSpace(m.GivenName), given)) {
				continue
			}
			acc, err := s.d.Accounts.AccountByKVNR(ctx, m.KVNR)
			has := err == nil
			if err != nil && !errors.Is(err, fault.NotFound) {
				return nil, err
			}
			out = append(out, Found{KVNR: m.KVNR, GivenName: m.GivenName, FamilyName: m.FamilyName,
				BirthDate: m.BirthDate, Registration: registrationOf(acc, has)})
		}
	}
	by := "name_birth_date"
	if q.KVNR != "" {
		by = "kvnr"
	}
	s.record(ctx, a, audit.SupportRead, "", map[string]string{"what": "search", "by": by, "found": strconv.Itoa(len(out))})
	return out, nil
}

func hasPrefixFold(s, prefix string) bool {
	r := []rune(s)
	p := []rune(prefix)
	return len(r) >= len(p) && strings.EqualFold(string(r[:len(p)]), prefix)
}

// Status is what support sees of a member: never a password, PIN, code,
// key or hash.
type Status struct {
	KVNR kvnr.KVNR
	// Member is the directory entry; InDirectory false when the member
	// has left it (an account remains).
	Member       member.Member
	InDirectory  bool
	Registration Registration
	// Account is set when HasAccount.
	HasAccount  bool
	AccountID   string
	Proofing    loa.Level
	PasswordSet bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Devices are every binding, revoked ones included, oldest first.
	Devices []Device
	// Password is the password failure counter (a lockout while
	// NotBefore lies ahead).
	PasswordFailures  int
	PasswordNotBefore time.Time
	// Letter is the latest letter, when HasLetter.
	HasLetter bool
	Letter    Letter
	// LastLogins are the newest logins (app and browser), newest first.
	LastLogins []audit.Event
	// ActiveSessions is how many browser sessions are active.
	ActiveSessions int
}

// Device is a binding as support sees it.
type Device struct {
	ID          string
	Name        string
	Platform    device.Platform
	Status      device.Status
	PINSet      bool
	PINFailures int
	PINBlocked  bool
	PINRetryAt  time.Time
	CreatedAt   time.Time
	LastUsedAt  time.Time
	RevokedAt   time.Time
}

// Letter is a letter as support sees it.
type Letter struct {
	ID             string
	State          letter.State
	VoidReason     string
	FailedAttempts int
	CreatedAt      time.Time
	HandedOverAt   time.Time
	ExpiresAt      time.Time
	ActivatedAt    time.Time
	VoidedAt       time.Time
}

// MemberStatus returns member k's status. Reading it is audited
// (SupportRead, "what" status) on the member's account.
// Errors: NotFound coded CodeUnknownMember; Invalid coded CodeAgent;
// Unavailable.
func (s *Service) MemberStatus(ctx context.Context, a Agent, k kvnr.KVNR) (Status, error) {
	const op = "support.MemberStatus"
	a, err := a.check(op)
	if err != nil {
		return Status{}, err
	}
	m, inDir, acc, has, err := s.memberOf(ctx, op, k)
	if err != nil {
		return Status{}, err
	}
	now := s.clock()
	st := Status{KVNR: k, InDirectory: inDir, Registration: registrationOf(acc, has), HasAccount: has}
	if inDir {
		st.Member = m
	}
	if l, err := s.d.LatestLetters.LatestLetter(ctx, k); err == nil {
		st.HasLetter = true
		st.Letter = Letter{
			ID: l.ID, State: l.State, VoidReason: l.VoidReason, FailedAttempts: l.FailedAttempts, CreatedAt: l.CreatedAt,
			HandedOverAt: l.HandedOverAt, ExpiresAt: l.ExpiresAt, ActivatedAt: l.ActivatedAt, VoidedAt: l.VoidedAt,
		}
	} else if !errors.Is(err, fault.NotFound) {
		return Status{}, err
	}
	c, err := s.d.Lockouts.PasswordLockout(ctx, k)
	if err != nil {
		return Status{}, err
	}
	st.PasswordFailures, st.PasswordNotBefore = c.Failures, c.NotBefore
	if has {
		st.AccountID, st.Proofing, st.PasswordSet = acc.ID, acc.Proofing, acc.PasswordHash != ""
		st.CreatedAt, st.UpdatedAt = acc.CreatedAt, acc.UpdatedAt
		bs, err := s.d.Devices.ListBindings(ctx, acc.ID)
		if err != nil {
			return Status{}, err
		}
		for _, b := range bs {
			st.Devices = append(st.Devices, Device{
				ID: b.ID, Name: b.Name, Platform: b.Platform, Status: b.Status, PINSet: b.PINHash != "",
				PINFailures: b.PIN.Failures, PINBlocked: b.PIN.Blocked, PINRetryAt: b.PIN.NotBefore,
				CreatedAt: b.CreatedAt, LastUsedAt: b.LastUsedAt, RevokedAt: b.RevokedAt,
			})
		}
		if st.LastLogins, err = s.d.AuditQuery.QueryAudit(ctx, audit.Query{
			AccountID: acc.ID, Kinds: []audit.Kind{audit.AppLogin, audit.WebLogin}, Limit: LastLogins,
		}); err != nil {
			return Status{}, err
		}
		ss, err := s.d.ActiveSessions.ActiveSessions(ctx, acc.ID, now)
		if err != nil {
			return Status{}, err
		}
		st.ActiveSessions = len(ss)
	}
	s.record(ctx, a, audit.SupportRead, acc.ID, map[string]string{"what": "status"})
	return st, nil
}

// Kinds parses audit kind names; an unknown one is Invalid coded
// CodeQuery.
func Kinds(names []string) ([]audit.Kind, error) {
	out := make([]audit.Kind, 0, len(names))
	for _, n := range names {
		k := audit.Kind(strings.TrimSpace(n))
		if !slices.Contains(audit.Kinds, k) {
			return nil, fault.Coded(fault.Invalid, "support.Kinds", CodeQuery, "kind")
		}
		out = append(out, k)
	}
	return out, nil
}
