package signkey

import (
	"sort"
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

// State is where a key is in its life.
type State string

const (
	// Next: published in JWKS, not yet signing. Verifiers fetch it before it is used.
	Next State = "next"
	// Active: signs new tokens; exactly one key is active.
	Active State = "active"
	// Retired: no longer signs, still published until RetiredAt + the longest token lifetime.
	Retired State = "retired"
)

// Key is one signing key. The private part is stored encrypted; core never
// sees it in the clear.
type Key struct {
	ID        string
	Algorithm string // "ES256"
	State     State
	// PublicJWK is the public key as a JSON Web Key.
	PublicJWK []byte
	// Sealed is the private key encrypted under the master key.
	Sealed    []byte
	CreatedAt time.Time
	// ActivatedAt is when the key started signing (zero while Next).
	ActivatedAt time.Time
	// RetiredAt is when it stopped signing (zero unless Retired).
	RetiredAt time.Time
}

// Policy sets how keys rotate.
type Policy struct {
	// Publish is how long a next key is published before it may sign, so
	// that relying parties with cached JWKS have fetched it.
	Publish time.Duration
	// Lifetime is how long a key signs before it is rotated automatically
	// (0: only by the operator).
	Lifetime time.Duration
	// MaxTokenLifetime is the longest lifetime of any token signed; a
	// retired key is kept this long (plus skew) after retirement.
	MaxTokenLifetime time.Duration
}

// DefaultPolicy: a next key is published for 24 h; keys sign for 30 days.
var DefaultPolicy = Policy{Publish: 24 * time.Hour, Lifetime: 30 * 24 * time.Hour, MaxTokenLifetime: 5 * time.Minute}

// Bounds of a Policy.
const (
	// MinPublish gives relying parties that cache the JWKS for an hour
	// the chance to fetch a next key before it signs.
	MinPublish = time.Hour
	// MaxLifetime is a year: a key that signs longer is a key whose
	// compromise reaches back further.
	MaxLifetime = 365 * 24 * time.Hour
)

// Validate checks the policy: the one place its bounds are written.
// Errors: fault.Invalid whose Op names the field ("signkey.Policy.Publish").
func (p Policy) Validate() error {
	field := func(name, msg string) error { return fault.New(fault.Invalid, "signkey.Policy."+name, msg) }
	switch {
	case p.Lifetime < 0 || p.Lifetime > MaxLifetime:
		return field("Lifetime", "must be between 0 (rotate only by command) and 365 days")
	case p.Publish < MinPublish:
		return field("Publish", "must be at least 1h, so that relying parties fetch a key before it signs")
	case p.Lifetime > 0 && p.Publish >= p.Lifetime:
		return field("Publish", "must be shorter than the key lifetime")
	case p.MaxTokenLifetime <= 0:
		return field("MaxTokenLifetime", "must be positive")
	case p.Lifetime > 0 && p.Lifetime < p.MaxTokenLifetime:
		return field("Lifetime", "must be at least the longest token lifetime")
	}
	return nil
}

// Plan is what must change so that the key set obeys the policy at now.
type Plan struct {
	// NeedNext: create a new next key.
	NeedNext bool
	// Activate is the next key that becomes active (empty: none).
	Activate string
	// Retire is the currently active key that stops signing (empty: none).
	Retire string
	// Drop are retired keys no token can still depend on.
	Drop []string
}

// Empty reports whether nothing must change.
func (p Plan) Empty() bool {
	return !p.NeedNext && p.Activate == "" && p.Retire == "" && len(p.Drop) == 0
}

// Decide computes the plan for keys at now. With force, the next key is
// activated even before its publish time has passed (operator rotation on
// a suspected compromise); without a next key it is created first.
func (p Policy) Decide(keys []Key, now time.Time, force bool) Plan {
	var plan Plan
	var active, next *Key
	for i := range keys {
		k := &keys[i]
		switch k.State {
		case Active:
			if active == nil || k.ActivatedAt.After(active.ActivatedAt) {
				active = k
			}
		case Next:
			if next == nil || k.CreatedAt.Before(next.CreatedAt) {
				next = k
			}
		case Retired:
			if now.Sub(k.RetiredAt) > p.MaxTokenLifetime+time.Minute {
				plan.Drop = append(plan.Drop, k.ID)
			}
		}
	}
	sort.Strings(plan.Drop)
	if next == nil {
		plan.NeedNext = true
	}
	due := active == nil || force || (p.Lifetime > 0 && now.Sub(active.ActivatedAt) >= p.Lifetime)
	if due && next != nil && (force || active == nil || now.Sub(next.CreatedAt) >= p.Publish) {
		plan.Activate = next.ID
		plan.NeedNext = true // the activated key leaves a gap to fill
		if active != nil {
			plan.Retire = active.ID
		}
	}
	return plan
}
