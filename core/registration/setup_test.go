package registration_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/registration/registrationtest"
	"github.com/pforte-id/pforte/ports/proofing"
)

var (
	t0   = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ctx  = context.Background()
	anna = member.Member{
		KVNR: mustKVNR("A12345678"), GivenName: "Anna-Lena", FamilyName: "Schmidt", BirthDate: "1984-07-09",
		Address:     member.Address{Street: "Lindenallee 7", PostalCode: "20259", Locality: "Hamburg", Country: "DE"},
		InsuredFrom: day("2010-01-01"),
	}
	// bodo left the insurer long ago.
	bodo = member.Member{
		KVNR: mustKVNR("B98765432"), GivenName: "Bodo", FamilyName: "Brandt", BirthDate: "1970-01-31",
		Address:     member.Address{Street: "Hafenstraße 1", PostalCode: "28195", Locality: "Bremen"},
		InsuredFrom: day("2000-01-01"), InsuredUntil: day("2025-06-30"),
	}
	// carl has no address on file.
	carl = member.Member{
		KVNR: mustKVNR("C11223344"), GivenName: "Carl", FamilyName: "Cordes", BirthDate: "1991-12-24",
		InsuredFrom: day("2010-01-01"),
	}
	nobody = mustKVNR("Z00000001")
)

const (
	issuer = "https://id.beispiel-bkk.de"
	sender = "Beispiel-BKK · Postfach 10 20 30 · 20001 Hamburg"
)

func mustKVNR(prefix string) kvnr.KVNR {
	k, err := kvnr.WithCheckDigit(prefix)
	if err != nil {
		panic(err)
	}
	return k
}

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

var letterHasher = func() letter.Hasher {
	h, err := letter.NewHasher([]byte(strings.Repeat("letter-key-", 4)))
	if err != nil {
		panic(err)
	}
	return h
}()

var passwordHasher = sync.OnceValue(func() *password.Hasher {
	h, err := password.NewHasher(password.DefaultParams, 2, 0)
	if err != nil {
		panic(err)
	}
	return h
})

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	w *registrationtest.World
	// st is the store under the world, for steps of other use cases.
	st   *sqlstore.Store
	svc  *registration.Service
	logs *syncBuffer
}

type option func(*registration.Config, *registration.Deps)

func withMethods(ms ...proofing.Method) option {
	return func(_ *registration.Config, d *registration.Deps) { d.Methods = ms }
}

func withEstimator(e password.Estimator) option {
	return func(_ *registration.Config, d *registration.Deps) { d.Estimator = e }
}

func setup(t *testing.T, opts ...option) *fixture {
	t.Helper()
	st := sqlstoretest.Open(t)
	w := registrationtest.NewWorld(t0, st)
	for _, m := range []member.Member{anna, bodo, carl} {
		_ = w.UpsertMember(ctx, m)
	}
	logs := &syncBuffer{}
	cfg := registration.Config{Issuer: issuer, Sender: sender}
	d := registration.Deps{
		Members: w, Registrations: w, Letters: w, Enrollments: w, RateLimits: w, Renderer: w, Outbox: w,
		LetterHasher: letterHasher, Passwords: passwordHasher(), Now: w.Clock,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&cfg, &d)
	}
	svc, err := registration.New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{w: w, st: st, svc: svc, logs: logs}
}

// request is a well-formed request from a fresh address.
func request(k kvnr.KVNR, birth string) registration.RequestInput {
	return registration.RequestInput{KVNR: string(k), BirthDate: birth, Method: "letter", ClientIP: "192.0.2.10"}
}

// letterFor runs the whole path to a handed-over letter for m and returns
// it with the secrets printed on it.
func (f *fixture) letterFor(t *testing.T, m member.Member) (letter.Letter, string, string) {
	t.Helper()
	if err := f.svc.Request(ctx, request(m.KVNR, m.BirthDate)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ProcessRegistrations(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ProcessLetters(ctx, 10); err != nil {
		t.Fatal(err)
	}
	ls := f.w.LettersOf(m.KVNR)
	if len(ls) == 0 || ls[0].State != letter.HandedOver {
		t.Fatalf("no handed-over letter for %s: %+v", m.GivenName, ls)
	}
	d, ok := f.w.Outbox()[ls[0].OutboxName]
	if !ok {
		t.Fatal("the letter's file is not in the outbox")
	}
	pw, code := registrationtest.SecretsOf(d)
	return ls[0], pw, code
}
