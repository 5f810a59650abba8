package password

import "github.com/pforte-id/pforte/core/fault"

// Estimator judges how easy a password is to guess, beyond the fixed rules
// of Policy (an adapter wraps a well-kept strength estimator such as
// zxcvbn). userInputs are words an attacker who knows the member would try
// first: member number, names, dates of birth.
//
// Weak reports whether pw is too weak and, if so, the code of the refusal,
// whose text says why (empty: CodeGuessable); its text in the catalog
// starts as CodeGuessable's. Implementations must be safe for concurrent
// use and must never log pw.
type Estimator interface {
	Weak(pw string, userInputs []string) (weak bool, reason fault.Code)
}

// CodeGuessable: the estimator finds the password too easy to guess. No
// parameters.
const CodeGuessable fault.Code = "password.guessable"

// CheckWith applies Check and then, when est is not nil, est. The personal
// inputs go to both. Errors: fault.Invalid with a code of Check, or the
// estimator's code (CodeGuessable when it gives none).
func (p Policy) CheckWith(est Estimator, pw string, personal ...string) error {
	if err := p.Check(pw, personal...); err != nil {
		return err
	}
	if est == nil {
		return nil
	}
	if weak, reason := est.Weak(pw, personal); weak {
		if reason == "" {
			reason = CodeGuessable
		}
		return fault.Coded(fault.Invalid, "password.Policy", reason)
	}
	return nil
}
