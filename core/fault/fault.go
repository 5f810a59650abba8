package fault

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it.
// A Kind is itself an error so that errors.Is(err, fault.NotFound) works.
type Kind uint8

const (
	// Internal is a bug or an unexpected state; the zero value, so that an
	// error without a kind is never mistaken for a client error.
	Internal Kind = iota
	// Invalid input: malformed, missing or out of range.
	Invalid
	// Unauthenticated: credentials missing or wrong.
	Unauthenticated
	// Forbidden: authenticated, but not allowed.
	Forbidden
	// NotFound: the thing does not exist (or must look as if it did not).
	NotFound
	// Expired: the thing existed but is no longer valid.
	Expired
	// Locked: blocked until an unlock (PIN lockout, blocked account).
	Locked
	// RateLimited: too many attempts; try again later.
	RateLimited
	// Conflict: already exists, already used, or lost a race.
	Conflict
	// Unavailable: an infrastructure fault (database down, timeout); retryable.
	Unavailable
)

var kindNames = [...]string{
	Internal:        "internal",
	Invalid:         "invalid",
	Unauthenticated: "unauthenticated",
	Forbidden:       "forbidden",
	NotFound:        "not_found",
	Expired:         "expired",
	Locked:          "locked",
	RateLimited:     "rate_limited",
	Conflict:        "conflict",
	Unavailable:     "unavailable",
}

// Kinds lists every kind, for tables that must cover all of them.
func Kinds() []Kind {
	ks := make([]Kind, len(kindNames))
	for i := range kindNames {
		ks[i] = Kind(i)
	}
	return ks
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Error makes a Kind usable as an errors.Is target.
func (k Kind) Error() string { return k.String() }

// Error is Pforte's error. Op names the operation ("authz.ExchangeCode"),
// Public is the text a client may see (empty: the kind's fixed text).
type Error struct {
	Kind   Kind
	Op     string
	Public string
	cause  error
}

// New returns an error of kind with a public text.
func New(kind Kind, op, public string) *Error {
	return &Error{Kind: kind, Op: op, Public: public}
}

// Wrap returns an error of kind that keeps cause for logs and errors.Is, but
// never shows it to a client.
func Wrap(kind Kind, op string, cause error) *Error {
	return &Error{Kind: kind, Op: op, cause: cause}
}

// WithPublic returns a copy of e with a public text.
func (e *Error) WithPublic(public string) *Error {
	c := *e
	c.Public = public
	return &c
}

func (e *Error) Error() string {
	msg := e.Op + ": " + e.Kind.String()
	if e.Public != "" {
		msg += ": " + e.Public
	}
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is e's Kind, so errors.Is(err, fault.Expired) works
// through any number of wraps.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// KindOf returns the kind of the outermost *Error in err's chain, Internal when
// there is none. A nil error has no kind; KindOf(nil) panics to catch misuse.
func KindOf(err error) Kind {
	if err == nil {
		panic("fault.KindOf(nil)")
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// PublicOf returns the text a client may see: the outermost Public text, or
// the fixed text of the kind.
func PublicOf(err error) string {
	var e *Error
	for cur := err; errors.As(cur, &e); cur = e.cause {
		if e.Public != "" {
			return e.Public
		}
		if e.cause == nil {
			break
		}
	}
	return FixedText(KindOf(err))
}

// FixedText is the generic client text of a kind.
func FixedText(k Kind) string {
	switch k {
	case Invalid:
		return "The request is invalid."
	case Unauthenticated:
		return "Authentication failed."
	case Forbidden:
		return "This is not allowed."
	case NotFound:
		return "Not found."
	case Expired:
		return "This has expired."
	case Locked:
		return "This is locked."
	case RateLimited:
		return "Too many attempts. Please try again later."
	case Conflict:
		return "This has already been used or changed."
	case Unavailable:
		return "The service is temporarily unavailable."
	default:
		return "An internal error occurred."
	}
}
