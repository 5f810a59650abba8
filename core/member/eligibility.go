package member

import (
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

// Eligibility says who may register: members insured now, members whose
// insurance starts within Ahead (they need the app before their first day),
// and members whose insurance ended at most Grace ago (they still need their
// documents).
type Eligibility struct {
	Ahead time.Duration
	Grace time.Duration
}

// DefaultEligibility: start at most 21 days ahead, ended at most 31 days ago.
var DefaultEligibility = Eligibility{Ahead: 21 * 24 * time.Hour, Grace: 31 * 24 * time.Hour}

// MaxEligibilityWindow bounds Ahead and Grace: a year.
const MaxEligibilityWindow = 365 * 24 * time.Hour

// Validate checks both windows: between 0 and a year. Errors:
// fault.Invalid whose Op names the field ("member.Eligibility.Ahead").
func (e Eligibility) Validate() error {
	if e.Ahead < 0 || e.Ahead > MaxEligibilityWindow {
		return fault.New(fault.Invalid, "member.Eligibility.Ahead", "must be between 0 and 8760h")
	}
	if e.Grace < 0 || e.Grace > MaxEligibilityWindow {
		return fault.New(fault.Invalid, "member.Eligibility.Grace", "must be between 0 and 8760h")
	}
	return nil
}

// Eligible reports whether m may register at now. Dates are calendar days:
// a member whose insurance ends today is insured today.
func (e Eligibility) Eligible(m Member, now time.Time) bool {
	day := now.UTC().Truncate(24 * time.Hour)
	if m.InsuredFrom.IsZero() {
		return false
	}
	from := m.InsuredFrom.UTC().Truncate(24 * time.Hour)
	if from.Sub(day) > e.Ahead {
		return false
	}
	until := m.EndedOn()
	if until.IsZero() {
		return true
	}
	return !until.Before(from) && day.Sub(until) <= e.Grace
}

// CodeEnded is the refusal of a login of a member whose insurance ended
// more than the grace period ago (no parameters).
const CodeEnded fault.Code = "member.ended"

// MayLogIn reports whether m may still log in at now: the membership has
// not ended, or ended at most Grace ago (the member still needs the
// insurer's documents). Unlike Eligible, a start in the future does not
// matter: whoever could register may log in.
func (e Eligibility) MayLogIn(m Member, now time.Time) bool {
	until := m.EndedOn()
	if until.IsZero() {
		return true
	}
	return now.UTC().Truncate(24*time.Hour).Sub(until) <= e.Grace
}

// CheckLogIn is MayLogIn as an error: nil when m may log in, else
// fault.Forbidden with CodeEnded, whose text tells the member why.
func (e Eligibility) CheckLogIn(op string, m Member, now time.Time) error {
	if e.MayLogIn(m, now) {
		return nil
	}
	return fault.Coded(fault.Forbidden, op, CodeEnded)
}

// BirthDateMatches compares a birth date as the member typed it (YYYY-MM-DD
// or DD.MM.YYYY) with the one on file.
func (m Member) BirthDateMatches(typed string) bool {
	d, ok := ParseDate(typed)
	return ok && m.BirthDate != "" && d == m.BirthDate
}

// ParseDate reads a calendar date as YYYY-MM-DD or the German DD.MM.YYYY and
// returns it as YYYY-MM-DD.
func ParseDate(s string) (string, bool) {
	for _, layout := range []string{"2006-01-02", "02.01.2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01-02"), true
		}
	}
	return "", false
}
