package fault

import (
	"errors"
	"fmt"
	"time"
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

// Redirect is where an error of an authorization request may be sent: the
// client's redirect URI, validated against the client's registration
// before the error happened, and the request's state. An error without a
// Redirect is shown to the user agent, never redirected: an unvalidated
// redirect URI would make Pforte an open redirector.
type Redirect struct {
	URI   string
	State string
}

// Error is Pforte's error.
//
// Op names the operation ("authz.ExchangeCode"). Code, when set, names what
// happened for the member; the words for it live in the message catalog
// (package catalog), which fills in Params in the order the code's
// constant documents (see Code). Public is a diagnostic for the developer of a client
// (an OAuth error_description: English, printable ASCII) or an operator;
// it is never the text a member reads when the error has a Code.
//
// Remaining, RetryAt and RetryAfter are what a counted or delayed attempt
// tells the caller (the release PIN, a rate limit): Remaining is the number
// of wrong entries left before a lock (meaningful for codes whose doc says
// so); RetryAt is when the next attempt is accepted and RetryAfter the wait
// until then by the service's clock, which computed RetryAt (the caller's
// wall clock may differ from it); both zero when the caller may retry at
// once. Redirect, when not nil, says the error goes to the client.
type Error struct {
	Kind       Kind
	Op         string
	Code       Code
	Params     []any
	Public     string
	Remaining  int
	RetryAt    time.Time
	RetryAfter time.Duration
	Redirect   *Redirect
	cause      error
}

// New returns an error of kind with a public text.
func New(kind Kind, op, public string) *Error {
	return &Error{Kind: kind, Op: op, Public: public}
}

// Coded returns an error of kind with code, whose text for people takes
// params (in the order the code's doc names them).
func Coded(kind Kind, op string, code Code, params ...any) *Error {
	return &Error{Kind: kind, Op: op, Code: code, Params: params}
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

// WithCode returns a copy of e with code and params.
func (e *Error) WithCode(code Code, params ...any) *Error {
	c := *e
	c.Code, c.Params = code, params
	return &c
}

// WithRetry returns a copy of e that may be retried at at, after wait by
// the service's clock.
func (e *Error) WithRetry(at time.Time, wait time.Duration) *Error {
	c := *e
	c.RetryAt, c.RetryAfter = at, wait
	return &c
}

// WithRedirect returns a copy of e that goes to the client at r.
func (e *Error) WithRedirect(r Redirect) *Error {
	c := *e
	c.Redirect = &r
	return &c
}

func (e *Error) Error() string {
	msg := e.Op + ": " + e.Kind.String()
	if e.Code != "" {
		msg += " (" + string(e.Code) + ")"
	}
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

// find returns the outermost *Error in err's chain for which has is true.
func find(err error, has func(*Error) bool) *Error {
	var e *Error
	for cur := err; errors.As(cur, &e); cur = e.cause {
		if has(e) {
			return e
		}
		if e.cause == nil {
			break
		}
	}
	return nil
}

// PublicOf returns the outermost Public text of err's chain: the diagnostic
// for a client's developer; empty when there is none.
func PublicOf(err error) string {
	if e := find(err, func(e *Error) bool { return e.Public != "" }); e != nil {
		return e.Public
	}
	return ""
}

// CodeOf returns the outermost Code of err's chain and its params; empty
// when there is none.
func CodeOf(err error) (Code, []any) {
	if e := find(err, func(e *Error) bool { return e.Code != "" }); e != nil {
		return e.Code, e.Params
	}
	return "", nil
}

// ReasonOf is the machine-readable reason of err for a log line: its
// code ("pin.wrong") when it has one, else its kind ("not_found"). Never a
// text, so a log never carries what a client or member was told.
func ReasonOf(err error) string {
	if c, _ := CodeOf(err); c != "" {
		return string(c)
	}
	return KindOf(err).String()
}

// RetryOf returns the outermost error of err's chain that carries a retry
// time, or nil.
func RetryOf(err error) *Error {
	return find(err, func(e *Error) bool { return e.RetryAfter > 0 || !e.RetryAt.IsZero() })
}

// RedirectOf returns where err goes to the client: the outermost Redirect
// of its chain; false when err is for the user agent.
func RedirectOf(err error) (Redirect, bool) {
	if e := find(err, func(e *Error) bool { return e.Redirect != nil }); e != nil {
		return *e.Redirect, true
	}
	return Redirect{}, false
}

// WithoutRedirect returns err without the Redirect of its outermost *Error:
// the same error, for the user agent. Errors are made with their Redirect
// on the outermost *Error (WithRedirect), so that is the one there is.
func WithoutRedirect(err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Redirect == nil {
		return err
	}
	c := *e
	c.Redirect = nil
	return &c
}

// CodedOf returns the outermost *Error of err's chain that carries a Code,
// or nil: the one whose Params, Remaining and retry times go with it.
func CodedOf(err error) *Error {
	return find(err, func(e *Error) bool { return e.Code != "" })
}
