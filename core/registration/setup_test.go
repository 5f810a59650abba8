package registration_test

import (
	"context"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/registration/registrationtest"
	"github.com/pforte-id/pforte/ports/proofing"
)

var (
	t0     = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ctx    = context.Background()
	anna   = coretest.Anna
	bodo   = coretest.Bodo // left the insurer long ago
	carl   = coretest.Carl // has no address on file
	nobody = coretest.Nobody
)

const (
	issuer = "https://id.beispiel-bkk.de"
	sender = "Beispiel-BKK · Postfach 10 20 30 · 20001 Hamburg"
)

var letterHasher = coretest.LetterHasher()

type fixture struct {
	w *registrationtest.World
	// st is the store under the world, for steps of other use cases.
	st   *sqlstore.Store
	svc  *registration.Service
	logs *coretest.Log
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
	logs := &coretest.Log{}
	cfg := registration.Config{Issuer: issuer, Sender: sender}
	d := registration.Deps{
		Members: w, Registrations: w, Letters: w, Enrollments: w, RateLimits: w, Renderer: w, Outbox: w,
		LetterHasher: letterHasher, Passwords: coretest.Passwords(), Audit: st, Now: w.Now,
		Logger: logs.Text(),
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
