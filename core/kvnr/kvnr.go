package kvnr

import (
	"github.com/pforte-id/pforte/core/fault"
)

// KVNR is a validated member number: one capital letter and nine digits, the
// last of which is a check digit.
type KVNR string

// Parse validates s and returns it as a KVNR. Lower-case letters and
// surrounding spaces are accepted and normalised, because members type it.
// Errors: fault.Invalid with CodeInvalid.
func Parse(s string) (KVNR, error) {
	b := []byte(s)
	// Trim ASCII spaces only; anything else is a typo to report.
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	if len(b) != 10 {
		return "", invalid()
	}
	if b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	if b[0] < 'A' || b[0] > 'Z' {
		return "", invalid()
	}
	for _, c := range b[1:] {
		if c < '0' || c > '9' {
			return "", invalid()
		}
	}
	if checkDigit(b[0], b[1:9]) != b[9]-'0' {
		return "", invalid()
	}
	return KVNR(b), nil
}

// MustParse is Parse for constants in tests and demo data; it panics on error.
func MustParse(s string) KVNR {
	k, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return k
}

// WithCheckDigit completes a letter and eight digits to a valid KVNR. It is
// for generating demo and test data.
func WithCheckDigit(prefix string) (KVNR, error) {
	if len(prefix) != 9 {
		return "", invalid()
	}
	b := []byte(prefix)
	if b[0] < 'A' || b[0] > 'Z' {
		return "", invalid()
	}
	for _, c := range b[1:] {
		if c < '0' || c > '9' {
			return "", invalid()
		}
	}
	return KVNR(append(b, '0'+checkDigit(b[0], b[1:9]))), nil
}

func (k KVNR) String() string { return string(k) }

// checkDigit computes the check digit: the letter becomes its two-digit
// position (A=01 … Z=26), followed by the eight digits; these ten digits are
// weighted 1-2-1-2…, the digit sums of the products are added, mod 10.
func checkDigit(letter byte, digits []byte) byte {
	pos := int(letter-'A') + 1
	all := [10]int{pos / 10, pos % 10}
	for i, c := range digits {
		all[2+i] = int(c - '0')
	}
	sum := 0
	for i, d := range all {
		p := d * (1 + i%2)
		sum += p/10 + p%10
	}
	return byte(sum % 10)
}

// CodeInvalid: the member number is not one letter and nine digits with
// a valid check digit. No parameters.
const CodeInvalid fault.Code = "kvnr.invalid"

func invalid() error {
	return fault.Coded(fault.Invalid, "kvnr.Parse", CodeInvalid)
}
