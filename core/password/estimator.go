package password

import "github.com/pforte-id/pforte/core/fault"

// Estimator judges how easy a password is to guess, beyond the fixed rules
// of Policy (an adapter wraps a well-kept strength estimator such as
// zxcvbn). userInputs are words an attacker who knows the member would try
// first: member number, names, dates of birth.
//
// Weak reports whether pw is too weak and, if so, a short reason that may be
// shown to the member (empty: the generic text is shown). Implementations
// must be safe for concurrent use and must never log pw.
type Estimator interface {
	Weak(pw string, userInputs []string) (weak bool, reason string)
}

// CheckWith applies Check and then, when est is not nil, est. The personal
// inputs go to both. Errors: fault.Invalid with a reason in German and
// English (the estimator's reason is appended when it gives one).
func (p Policy) CheckWith(est Estimator, pw string, personal ...string) error {
	if err := p.Check(pw, personal...); err != nil {
		return err
	}
	if est == nil {
		return nil
	}
	if weak, reason := est.Weak(pw, personal); weak {
		msg := "Das Passwort ist zu leicht zu erraten. / The password is too easy to guess."
		if reason != "" {
			msg += " (" + reason + ")"
		}
		return fault.New(fault.Invalid, "password.Policy", msg)
	}
	return nil
}
