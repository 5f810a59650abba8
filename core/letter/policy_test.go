package letter_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/letter"
)

// The bounds of a letter policy, each refusal naming its field.
func TestPolicyValidate(t *testing.T) {
	day := 24 * time.Hour
	// valid is a policy of validity v and the least of everything else.
	valid := func(v time.Duration, attempts int) letter.Policy {
		return letter.Policy{Validity: v, MaxAttempts: attempts, AttemptsPerKVNR: attempts, AttemptWindow: time.Hour, GuardWindow: v}
	}
	with := func(p letter.Policy, f func(*letter.Policy)) letter.Policy { f(&p); return p }
	for _, tc := range []struct {
		name  string
		p     letter.Policy
		field string // "": valid
	}{
		{"default", letter.DefaultPolicy, ""},
		{"a day", valid(day, 1), ""},
		{"90 days", with(valid(90*day, 10), func(p *letter.Policy) {
			p.MinInterval, p.AttemptsPerKVNR, p.AttemptWindow, p.GuardWindow = 90*day, 100, 7*day, 365*day
		}), ""},
		{"shorter than a day", valid(day-time.Second, 5), "letter.Policy.Validity"},
		{"longer than 90 days", valid(90*day+time.Second, 5), "letter.Policy.Validity"},
		{"negative interval", with(valid(day, 5), func(p *letter.Policy) { p.MinInterval = -time.Second }), "letter.Policy.MinInterval"},
		{"interval beyond validity", with(valid(day, 5), func(p *letter.Policy) { p.MinInterval = 2 * day }), "letter.Policy.MinInterval"},
		{"no attempts", valid(day, 0), "letter.Policy.MaxAttempts"},
		{"11 attempts", valid(day, 11), "letter.Policy.MaxAttempts"},
		{"fewer per number than per letter", with(valid(day, 5), func(p *letter.Policy) { p.AttemptsPerKVNR = 4 }), "letter.Policy.AttemptsPerKVNR"},
		{"101 per number", with(valid(day, 5), func(p *letter.Policy) { p.AttemptsPerKVNR = 101 }), "letter.Policy.AttemptsPerKVNR"},
		{"attempt window under an hour", with(valid(day, 5), func(p *letter.Policy) { p.AttemptWindow = time.Hour - time.Second }), "letter.Policy.AttemptWindow"},
		{"attempt window over a week", with(valid(day, 5), func(p *letter.Policy) { p.AttemptWindow = 7*day + time.Second }), "letter.Policy.AttemptWindow"},
		{"guard shorter than the validity", with(valid(2*day, 5), func(p *letter.Policy) { p.GuardWindow = 2*day - time.Second }), "letter.Policy.GuardWindow"},
		{"guard over a year", with(valid(day, 5), func(p *letter.Policy) { p.GuardWindow = 365*day + time.Second }), "letter.Policy.GuardWindow"},
	} {
		err := tc.p.Validate()
		var fe *fault.Error
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (!errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Op != tc.field):
			t.Errorf("%s: got %v, want Invalid naming %s", tc.name, err, tc.field)
		}
	}
}
