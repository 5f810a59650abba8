package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/pforte-id/pforte/core/fault"
)

// Params are the Argon2id cost parameters.
type Params struct {
	MemoryKiB   uint32 // memory in KiB
	Iterations  uint32
	Parallelism uint8
}

// DefaultParams are OWASP's minimum for Argon2id: 19 MiB, t=2, p=1.
var DefaultParams = Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}

// Bounds of Params: the floor is OWASP's minimum (DefaultParams); the
// ceilings keep one hash within what a server can afford per login.
const (
	MaxMemoryKiB  = 2048 * 1024
	MaxIterations = 64
)

// Validate refuses parameters below the floor or above the ceilings.
// Errors: fault.Invalid whose Op names the field ("password.Params.MemoryKiB").
func (p Params) Validate() error {
	field := func(name, msg string) error { return fault.New(fault.Invalid, "password.Params."+name, msg) }
	switch {
	case p.MemoryKiB < DefaultParams.MemoryKiB || p.MemoryKiB > MaxMemoryKiB:
		return field("MemoryKiB", fmt.Sprintf("must be between %d and %d", DefaultParams.MemoryKiB, MaxMemoryKiB))
	case p.Iterations < DefaultParams.Iterations || p.Iterations > MaxIterations:
		return field("Iterations", fmt.Sprintf("must be between %d and %d", DefaultParams.Iterations, MaxIterations))
	case p.Parallelism < 1:
		return field("Parallelism", "must be between 1 and 255")
	}
	return nil
}

// Config is how passwords are hashed: the Argon2id cost and how many
// hashes run at once (NewHasher).
type Config struct {
	Params Params
	// Concurrency bounds parallel hashes; 0: GOMAXPROCS.
	Concurrency int
	// MaxWait bounds the wait for a free hashing slot.
	MaxWait time.Duration
}

// Bounds of Config.MaxWait: a member waits at least a moment under load,
// and never longer than the server's write timeout (30s), after which the
// answer could not be sent anyway.
const (
	MinMaxWait = 100 * time.Millisecond
	MaxMaxWait = 30 * time.Second
)

// DefaultConfig is DefaultParams, GOMAXPROCS hashes at once and
// DefaultMaxWait.
func DefaultConfig() Config { return Config{Params: DefaultParams, MaxWait: DefaultMaxWait} }

// Validate checks c. Errors: fault.Invalid whose Op names the field
// ("password.Config.MaxWait", "password.Params.Iterations").
func (c Config) Validate() error {
	if err := c.Params.Validate(); err != nil {
		return err
	}
	if c.Concurrency < 0 {
		return fault.New(fault.Invalid, "password.Config.Concurrency", "must not be negative (0: GOMAXPROCS)")
	}
	if c.MaxWait < MinMaxWait || c.MaxWait > MaxMaxWait {
		return fault.New(fault.Invalid, "password.Config.MaxWait", "must be between 100ms and 30s (the server's write timeout)")
	}
	return nil
}

const (
	saltLen = 16
	keyLen  = 32
)

// Hasher hashes and verifies passwords. Hashing is bounded to a fixed number
// of concurrent computations so that a burst of logins queues instead of
// allocating 19 MiB each: memory stays flat under any load. The queue is
// bounded in time: a request that cannot get a slot within maxWait is
// refused as Unavailable (503 with Retry-After), instead of holding its
// connection until the server's write timeout while every queued hash is
// still computed for a browser that gave up.
type Hasher struct {
	params  Params
	slots   chan struct{}
	maxWait time.Duration // <= 0: as long as the request's context lives
	dummy   string        // a hash of nothing, verified for unknown members
}

// DefaultMaxWait is how long a password check waits for a free hashing
// slot: with two slots of 17 ms each on two cores that is a queue of some
// 1,100 logins, beyond which members are asked to try again.
const DefaultMaxWait = 10 * time.Second

// ErrBusy is the cause of the Unavailable error of a request that found
// every hashing slot busy for maxWait.
var ErrBusy = errors.New("every password hashing slot stayed busy")

// NewHasher returns a Hasher with params, at most concurrency hashes at a
// time (0: GOMAXPROCS) and at most maxWait waiting for one (0: as long as
// the caller's context lives).
func NewHasher(params Params, concurrency int, maxWait time.Duration) (*Hasher, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{params: params, slots: make(chan struct{}, concurrency), maxWait: maxWait}
	d, err := h.Hash(context.Background(), "pforte-dummy-password-for-equal-work")
	if err != nil {
		return nil, err
	}
	h.dummy = d
	return h, nil
}

// Concurrency is the number of hashes computed at once.
func (h *Hasher) Concurrency() int { return cap(h.slots) }

// Hash returns the PHC-encoded Argon2id hash of pw.
// Errors: fault.Unavailable when ctx ends while waiting for a slot.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fault.Wrap(fault.Internal, "password.Hash", err)
	}
	key, err := h.derive(ctx, pw, salt, h.params)
	if err != nil {
		return "", err
	}
	return encode(h.params, salt, key), nil
}

// Verify checks pw against encoded. needsRehash is true when encoded was made
// with other parameters than the current ones.
// Errors: fault.Unavailable when ctx ends while waiting; fault.Internal for
// an unreadable hash.
func (h *Hasher) Verify(ctx context.Context, pw, encoded string) (ok, needsRehash bool, err error) {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	got, err := h.derive(ctx, pw, salt, p)
	if err != nil {
		return false, false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, p != h.params, nil
}

// VerifyDummy does the work of one Verify and fails. It is called for unknown
// members so that "unknown" and "wrong password" take the same time.
func (h *Hasher) VerifyDummy(ctx context.Context, pw string) error {
	_, _, err := h.Verify(ctx, pw, h.dummy)
	return err
}

func (h *Hasher) derive(ctx context.Context, pw string, salt []byte, p Params) ([]byte, error) {
	select {
	case h.slots <- struct{}{}: // a free slot: no timer needed
	default:
		if err := h.wait(ctx); err != nil {
			return nil, err
		}
	}
	defer func() { <-h.slots }()
	return argon2.IDKey([]byte(pw), salt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLen), nil
}

// wait takes a slot, waiting at most maxWait.
// Errors: Unavailable when ctx ends or maxWait passes first.
func (h *Hasher) wait(ctx context.Context) error {
	const op = "password.derive"
	var timeout <-chan time.Time
	if h.maxWait > 0 {
		t := time.NewTimer(h.maxWait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fault.Wrap(fault.Unavailable, op, ctx.Err())
	case <-timeout:
		return fault.Wrap(fault.Unavailable, op, ErrBusy).WithCode(CodeBusy)
	}
}

func encode(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func decode(s string) (Params, []byte, []byte, error) {
	bad := fault.New(fault.Internal, "password.decode", "")
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return Params{}, nil, nil, bad
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return Params{}, nil, nil, bad
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil {
		return Params{}, nil, nil, bad
	}
	// Refuse absurd stored parameters instead of allocating them.
	if p.MemoryKiB == 0 || p.MemoryKiB > 1<<21 || p.Iterations == 0 || p.Iterations > 64 || p.Parallelism == 0 {
		return Params{}, nil, nil, bad
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 {
		return Params{}, nil, nil, bad
	}
	return p, salt, key, nil
}

// Policy is the rule for passwords chosen by members.
type Policy struct {
	MinLength int // runes
	MaxLength int // runes
}

// DefaultPolicy follows ARCHITECTURE.md: 10 to 128 characters, no composition rules.
var DefaultPolicy = Policy{MinLength: 10, MaxLength: 128}

// Check refuses a password that is too short, too long or too common, or that
// contains the member's own identifiers. Errors: fault.Invalid with one of
// the codes below.
func (p Policy) Check(pw string, personal ...string) error {
	n := utf8.RuneCountInString(pw)
	if !utf8.ValidString(pw) {
		return reject(CodeEncoding)
	}
	if n < p.MinLength {
		return reject(CodeTooShort, p.MinLength)
	}
	if n > p.MaxLength {
		return reject(CodeTooLong, p.MaxLength)
	}
	lower := strings.ToLower(pw)
	if _, common := commonPasswords[lower]; common {
		return reject(CodeCommon)
	}
	if distinctRunes(lower) < 4 {
		return reject(CodeSimple)
	}
	for _, s := range personal {
		if len(s) >= 4 && strings.Contains(lower, strings.ToLower(s)) {
			return reject(CodePersonal)
		}
	}
	return nil
}

func distinctRunes(s string) int {
	seen := map[rune]struct{}{}
	for _, r := range s {
		seen[r] = struct{}{}
	}
	return len(seen)
}

// Codes of a refused password (Check).
const (
	CodeEncoding fault.Code = "password.encoding"  // not valid UTF-8
	CodeTooShort fault.Code = "password.too_short" // params: the least length (int)
	CodeTooLong  fault.Code = "password.too_long"  // params: the greatest length (int)
	CodeCommon   fault.Code = "password.common"    // a frequent password
	CodeSimple   fault.Code = "password.simple"    // fewer than four distinct characters
	CodePersonal fault.Code = "password.personal"  // contains the member's number, name or date of birth
)

// CodeBusy: every hashing slot stayed busy; try again in a few seconds.
// No parameters.
const CodeBusy fault.Code = "password.busy"

func reject(code fault.Code, params ...any) error {
	return fault.Coded(fault.Invalid, "password.Policy", code, params...)
}

// commonPasswords holds frequent passwords of at least 10 characters from
// public breach corpora, German and international.
var commonPasswords = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, s := range strings.Fields(`
1234567890 0123456789 0987654321 1234567891 1111111111 qwertzuiop qwertyuiop
passwort123 password123 passwort1234 password1234 hallo12345 hallo123456
ichliebedich iloveyou123 schatz12345 sommer2024 sommer2025 sommer2026
winter2024 winter2025 winter2026 fussball123 fußball123 asdfghjkl1 asdfghjklö
123456789a a123456789 1q2w3e4r5t 1q2w3e4r5t6z 1q2w3e4r5t6y qwertz1234 qwerty1234
krankenkasse gesundheit1 gesundheit123 versicherung passwort! password!!
abc1234567 abcdefghij 1234512345 1234554321 1122334455 qayxswedcv yxcvbnm123
letmein123 welcome123 willkommen willkommen1 geheim1234 geheimnis1 deutschland
deutschland1 borussia09 schalke0404 bayern1900 hamburg123 berlin1234 muenchen12
`) {
		m[s] = struct{}{}
	}
	return m
}()
