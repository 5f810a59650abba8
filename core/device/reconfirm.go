package device

import (
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

// Reconfirm is the rule of re-confirmation: a binding that has not been
// confirmed for Period may not log in to the app or approve a web login
// until the member confirms it again — with the password, or, where the
// identity was proven with the eID card (level high) and the eID is
// offered, with the eID. A phone that changed hands without the member
// revoking it (sold, passed on with its PIN) thus stops working within
// Period, and the member is reminded that the device is bound.
type Reconfirm struct {
	// Period is how long a confirmation lasts; zero takes
	// DefaultReconfirmPeriod.
	Period time.Duration
}

// DefaultReconfirmPeriod is six months (183 days). The bounds: at least a
// week, at most two years.
const (
	DefaultReconfirmPeriod = 183 * 24 * time.Hour
	MinReconfirmPeriod     = 7 * 24 * time.Hour
	MaxReconfirmPeriod     = 730 * 24 * time.Hour
)

// Codes of re-confirmation; no parameters.
const (
	// CodeReconfirmPassword: the binding must be confirmed again with the
	// password (POST /app/v1/devices/{id}/reconfirm) before it logs in
	// or approves.
	CodeReconfirmPassword fault.Code = "device.reconfirm_password"
	// CodeReconfirmEID: the binding must be confirmed again with the eID
	// (the eID step-up from this device) before it logs in or approves.
	CodeReconfirmEID fault.Code = "device.reconfirm_eid"
	// CodeReconfirmNotPassword: a password does not confirm this binding
	// again; the account's identity was proven with the eID, which
	// confirms it (the eID step-up from this device).
	CodeReconfirmNotPassword fault.Code = "device.reconfirm_not_password"
)

func (r Reconfirm) withDefaults() Reconfirm {
	if r.Period == 0 {
		r.Period = DefaultReconfirmPeriod
	}
	return r
}

// Validate checks the rule after defaults are applied. Errors:
// fault.Invalid whose Op is "device.Reconfirm.Period".
func (r Reconfirm) Validate() error {
	r = r.withDefaults()
	if r.Period < MinReconfirmPeriod || r.Period > MaxReconfirmPeriod {
		return fault.New(fault.Invalid, "device.Reconfirm.Period",
			"must be between "+MinReconfirmPeriod.String()+" and "+MaxReconfirmPeriod.String())
	}
	return nil
}

// Since is when binding b was last confirmed: its ConfirmedAt, or its
// creation when that is later (a binding is confirmed when it is bound).
func Since(b Binding) time.Time {
	if b.ConfirmedAt.After(b.CreatedAt) {
		return b.ConfirmedAt
	}
	return b.CreatedAt
}

// By is the time from which binding b needs a re-confirmation.
func (r Reconfirm) By(b Binding) time.Time { return Since(b).Add(r.withDefaults().Period).UTC() }

// Due reports whether binding b needs a re-confirmation at now.
func (r Reconfirm) Due(b Binding, now time.Time) bool { return !now.Before(r.By(b)) }

// WithEID reports whether a binding of an account whose identity was
// proven at high confirms with the eID rather than the password: only
// where the eID is offered (eidOffered), so that no member is left
// without a way back when it is not.
func WithEID(high, eidOffered bool) bool { return high && eidOffered }
