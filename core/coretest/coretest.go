package coretest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/password"
)

// KVNR returns the KVNR of prefix (a letter and eight digits) with its
// check digit. It panics on a malformed prefix: fixtures are constants.
func KVNR(prefix string) kvnr.KVNR {
	k, err := kvnr.WithCheckDigit(prefix)
	if err != nil {
		panic(err)
	}
	return k
}

// The fixture members. Tests may copy and change them; they must not
// assign to these variables.
var (
	// Anna is insured, has an address and an e-mail address on file.
	Anna = member.Member{
		KVNR: KVNR("A12345678"), GivenName: "Anna-Lena", FamilyName: "Schmidt", BirthDate: "1984-07-09",
		Email:       "anna@example.de",
		Address:     member.Address{Street: "Lindenallee 7", PostalCode: "20259", Locality: "Hamburg", Country: "DE"},
		InsuredFrom: day("2010-01-01"),
	}
	// Bodo left the insurer long ago and has no e-mail address on file.
	Bodo = member.Member{
		KVNR: KVNR("B98765432"), GivenName: "Bodo", FamilyName: "Brandt", BirthDate: "1970-01-31",
		Address:     member.Address{Street: "Hafenstraße 1", PostalCode: "28195", Locality: "Bremen"},
		InsuredFrom: day("2000-01-01"), InsuredUntil: day("2025-06-30"),
	}
	// Carl is insured and has no address on file.
	Carl = member.Member{
		KVNR: KVNR("C11223344"), GivenName: "Carl", FamilyName: "Cordes", BirthDate: "1991-12-24",
		InsuredFrom: day("2010-01-01"),
	}
	// Nobody is a valid KVNR of no member.
	Nobody = KVNR("Z00000001")
)

// day parses a date of a fixture (midnight UTC).
func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Password is the fixture members' password.
const Password = "Lindenblüte im Hafenbecken"

// Argon2id at the floor costs 19 MiB and tens of milliseconds per hash, so
// a test binary shares one hasher and hashes Password once.
var (
	passwords = sync.OnceValue(func() *password.Hasher {
		// Two hashes at a time: the machines running the tests are small
		// and every hash holds 19 MiB.
		h, err := password.NewHasher(password.DefaultParams, 2, 0)
		if err != nil {
			panic(err)
		}
		return h
	})
	passwordHash = sync.OnceValue(func() string {
		h, err := Passwords().Hash(context.Background(), Password)
		if err != nil {
			panic(err)
		}
		return h
	})
)

// Passwords returns the test binary's password hasher (password.DefaultParams,
// two hashes at a time, waiting as long as the caller's context lives).
// It is safe for concurrent use.
func Passwords() *password.Hasher { return passwords() }

// PasswordHash returns the PHC string of Password under
// password.DefaultParams, computed once per test binary; every hasher with
// those parameters verifies it.
func PasswordHash() string { return passwordHash() }

// LetterHasher returns a letter.Hasher under a fixed key, for tests that
// print letters and read their secrets back.
func LetterHasher() letter.Hasher {
	h, err := letter.NewHasher([]byte(strings.Repeat("letter-key-", 4)))
	if err != nil {
		panic(err)
	}
	return h
}

// Log collects log output from concurrent goroutines (a service's, a
// server's); String returns everything written so far. The zero Log is
// ready to use.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it never fails.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// JSON returns a logger that writes JSON lines from level debug up into l.
func (l *Log) JSON() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Text returns a logger that writes key=value lines from level debug up
// into l.
func (l *Log) Text() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Clock is a clock the test moves; pass its Now where a service takes
// `now func() time.Time`. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
