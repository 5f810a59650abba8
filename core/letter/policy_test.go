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
	for _, tc := range []struct {
		name  string
		p     letter.Policy
		field string // "": valid
	}{
		{"default", letter.DefaultPolicy, ""},
		{"a day", letter.Policy{Validity: day, MaxAttempts: 1}, ""},
		{"90 days", letter.Policy{Validity: 90 * day, MinInterval: 90 * day, MaxAttempts: 10}, ""},
		{"shorter than a day", letter.Policy{Validity: day - time.Second, MaxAttempts: 5}, "letter.Policy.Validity"},
		{"longer than 90 days", letter.Policy{Validity: 90*day + time.Second, MaxAttempts: 5}, "letter.Policy.Validity"},
		{"negative interval", letter.Policy{Validity: day, MinInterval: -time.Second, MaxAttempts: 5}, "letter.Policy.MinInterval"},
		{"interval beyond validity", letter.Policy{Validity: day, MinInterval: 2 * day, MaxAttempts: 5}, "letter.Policy.MinInterval"},
		{"no attempts", letter.Policy{Validity: day}, "letter.Policy.MaxAttempts"},
		{"11 attempts", letter.Policy{Validity: day, MaxAttempts: 11}, "letter.Policy.MaxAttempts"},
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
