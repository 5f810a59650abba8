package kvnr_test

import (
	"errors"
	"testing"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want kvnr.KVNR
		ok   bool
	}{
		// A123456780: 0,1 | 1,2,3,4,5,6,7,8 weighted 1,2,... → 0+2+1+4+3+8+5+(1+2)+7+(1+6)=40 → 0
		{"A123456780", "A123456780", true},
		{"a123456780", "A123456780", true},
		{" A123456780 ", "A123456780", true},
		{"A123456781", "", false}, // wrong check digit
		{"A12345678", "", false},  // too short
		{"A1234567800", "", false},
		{"1123456780", "", false},
		{"Ä123456780", "", false},
		{"A12345678X", "", false},
		{"", "", false},
	} {
		got, err := kvnr.Parse(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("Parse(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, fault.Invalid) {
			t.Errorf("Parse(%q) error kind = %v, want Invalid", tc.in, fault.KindOf(err))
		}
	}
}

func TestWithCheckDigitRoundTrip(t *testing.T) {
	for _, p := range []string{"A12345678", "Z99999999", "M00000000", "T01234567"} {
		k, err := kvnr.WithCheckDigit(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kvnr.Parse(string(k)); err != nil {
			t.Errorf("generated %q does not parse: %v", k, err)
		}
		// Every other last digit must be refused.
		for d := byte('0'); d <= '9'; d++ {
			other := p + string(d)
			if other == string(k) {
				continue
			}
			if _, err := kvnr.Parse(other); err == nil {
				t.Errorf("Parse(%q) accepted a wrong check digit", other)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("A123456780")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := kvnr.Parse(s)
		if err != nil {
			return
		}
		if again, err := kvnr.Parse(string(k)); err != nil || again != k {
			t.Fatalf("Parse not idempotent for %q", s)
		}
	})
}
