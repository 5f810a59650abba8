package issuer_test

import (
	"errors"
	"testing"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/issuer"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		iss string
		ok  bool
	}{
		{"https://id.kasse.example", true},
		{"https://id.kasse.example/pforte", true},
		{"http://localhost:8080", true},
		{"http://127.0.0.1:8080", true},
		{"http://127.0.0.2", true},
		{"http://[::1]:8080", true},
		{"", false},
		{"/pforte", false},
		{"id.kasse.example", false},
		{"http://id.kasse.example", false},
		{"ftp://id.kasse.example", false},
		{"https://u@id.kasse.example", false},
		{"https://u:p@id.kasse.example", false},
		{"https://id.kasse.example?x=1", false},
		{"https://id.kasse.example?", false},
		{"https://id.kasse.example#x", false},
		{"https://id.kasse.example#", false},
		{"https://id.kasse.example/", false},
	} {
		err := issuer.Check(tc.iss)
		if tc.ok && err != nil {
			t.Errorf("Check(%q) = %v, want nil", tc.iss, err)
		}
		var fe *fault.Error
		if !tc.ok && (!errors.Is(err, fault.Invalid) || !errors.As(err, &fe) || fe.Op != "issuer.Check") {
			t.Errorf("Check(%q) = %v, want fault.Invalid from issuer.Check", tc.iss, err)
		}
	}
}
