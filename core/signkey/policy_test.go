package signkey_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/signkey"
)

// The bounds of the rotation policy, each refusal naming its field.
func TestPolicyValidate(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		name  string
		p     signkey.Policy
		field string // "": valid
	}{
		{"default", signkey.DefaultPolicy, ""},
		{"rotation by command only", signkey.Policy{Publish: time.Hour, MaxTokenLifetime: time.Minute}, ""},
		{"a year", signkey.Policy{Publish: day, Lifetime: 365 * day, MaxTokenLifetime: time.Minute}, ""},
		{"more than a year", signkey.Policy{Publish: day, Lifetime: 366 * day, MaxTokenLifetime: time.Minute}, "signkey.Policy.Lifetime"},
		{"negative lifetime", signkey.Policy{Publish: day, Lifetime: -1, MaxTokenLifetime: time.Minute}, "signkey.Policy.Lifetime"},
		{"published under an hour", signkey.Policy{Publish: 59 * time.Minute, MaxTokenLifetime: time.Minute}, "signkey.Policy.Publish"},
		{"published as long as it signs", signkey.Policy{Publish: day, Lifetime: day, MaxTokenLifetime: time.Minute}, "signkey.Policy.Publish"},
		{"no token lifetime", signkey.Policy{Publish: day}, "signkey.Policy.MaxTokenLifetime"},
		{"signs shorter than tokens live", signkey.Policy{Publish: time.Hour, Lifetime: 2 * time.Hour, MaxTokenLifetime: 3 * time.Hour}, "signkey.Policy.Lifetime"},
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
