package letterproof_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/letterproof"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/registration/registrationtest"
	"github.com/pforte-id/pforte/core/secret"
	"github.com/pforte-id/pforte/ports/proofing"
)

var (
	t0   = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ctx  = context.Background()
	anna = coretest.Anna
	// bodo is still insured, at Anna's address.
	bodo = func() member.Member {
		m := coretest.Bodo
		m.Address, m.InsuredUntil = coretest.Anna.Address, time.Time{}
		return m
	}()
	nobody = coretest.Nobody
)

const issuer = "https://id.beispiel-bkk.de"

var hasher = coretest.LetterHasher()

type fixture struct {
	w      *registrationtest.World
	st     *sqlstore.Store
	method *letterproof.Method
	svc    *registration.Service
}

func setup(t *testing.T) *fixture {
	t.Helper()
	st := sqlstoretest.Open(t)
	w := registrationtest.NewWorld(t0, st)
	_ = w.UpsertMember(ctx, anna)
	_ = w.UpsertMember(ctx, bodo)
	m, err := letterproof.New(letterproof.Deps{Letters: w, Members: w, RateLimits: w, Hasher: hasher, Policy: letter.DefaultPolicy, Issuer: issuer,
		Audit: st, Now: w.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := registration.New(registration.Config{Issuer: issuer, Sender: "Beispiel-BKK"}, registration.Deps{
		Members: w, Registrations: w, Letters: w, Enrollments: w, RateLimits: w, Renderer: w, Outbox: w,
		Methods: []proofing.Method{m}, LetterHasher: hasher, Passwords: coretest.Passwords(), Now: w.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{w: w, st: st, method: m, svc: svc}
}

// handedOver runs the registration path for mem and returns its letter
// and the secrets printed on it (as scanned from the document).
func (f *fixture) handedOver(t *testing.T, mem member.Member) (letter.Letter, string, string) {
	t.Helper()
	in := registration.RequestInput{KVNR: string(mem.KVNR), BirthDate: mem.BirthDate, Method: "letter", ClientIP: "192.0.2.1"}
	if err := f.svc.Request(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ProcessRegistrations(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ProcessLetters(ctx, 10); err != nil {
		t.Fatal(err)
	}
	l := f.w.LettersOf(mem.KVNR)[0]
	if l.State != letter.HandedOver {
		t.Fatalf("letter %s", l.State)
	}
	d := f.w.Outbox()[l.OutboxName]
	pw, code := registrationtest.SecretsOf(d)
	if !strings.HasSuffix(d.ActivationURL, "#"+code) {
		t.Fatalf("QR URL %q does not carry the code", d.ActivationURL)
	}
	return l, pw, code
}

// rendered runs the path to a letter for mem that was rendered into the
// outbox but not handed over (the worker stopped before it recorded the
// hand-over) and returns it with the secrets printed on it.
func (f *fixture) rendered(t *testing.T, mem member.Member) (letter.Letter, string, string) {
	t.Helper()
	in := registration.RequestInput{KVNR: string(mem.KVNR), BirthDate: mem.BirthDate, Method: "letter", ClientIP: "192.0.2.1"}
	if err := f.svc.Request(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ProcessRegistrations(ctx, 10); err != nil {
		t.Fatal(err)
	}
	f.w.SetInject(func(at string) error {
		if at == "Letters.MarkHandedOver:before" {
			return registrationtest.ErrCrash
		}
		return nil
	})
	_, _ = f.svc.ProcessLetters(ctx, 10) // fails at the hand-over
	f.w.SetInject(nil)
	l := f.w.LettersOf(mem.KVNR)[0]
	if l.State != letter.Rendered {
		t.Fatalf("letter %s, want rendered", l.State)
	}
	pw, code := registrationtest.SecretsOf(f.w.Outbox()[l.OutboxName])
	return l, pw, code
}

// presentation is what a member presents: their number and the secrets.
type presentation struct {
	k kvnr.KVNR
	s proofing.Secrets
}

func present(k kvnr.KVNR, pw, code string) presentation {
	return presentation{k: k, s: proofing.Secrets{
		letterproof.SecretInitialPassword: secret.String(pw), letterproof.SecretActivationCode: secret.String(code),
	}}
}

// check presents p to the letter method.
func (f *fixture) check(p presentation) (proof.Proof, error) {
	return f.method.CheckSecrets(ctx, p.k, p.s)
}

// activate presents p to the registration service, which asks the letter
// method through the port.
func (f *fixture) activate(p presentation) (string, enrollment.Session, error) {
	return f.svc.Activate(ctx, "192.0.2.7", proof.Letter, p.k, p.s)
}

// wrongPassword returns a well-formed initial password other than pw.
func wrongPassword(pw string) string {
	if pw[0] == 'A' {
		return "B" + pw[1:]
	}
	return "A" + pw[1:]
}

func TestNew(t *testing.T) {
	w := registrationtest.NewWorld(t0, sqlstoretest.Open(t))
	good := letterproof.Deps{Letters: w, Members: w, RateLimits: w, Hasher: hasher, Policy: letter.DefaultPolicy, Issuer: issuer}
	for name, change := range map[string]func(d *letterproof.Deps){
		"no letters":  func(d *letterproof.Deps) { d.Letters = nil },
		"no members":  func(d *letterproof.Deps) { d.Members = nil },
		"no limits":   func(d *letterproof.Deps) { d.RateLimits = nil },
		"no key":      func(d *letterproof.Deps) { d.Hasher = letter.Hasher{} },
		"zero policy": func(d *letterproof.Deps) { d.Policy = letter.Policy{} },
		"no issuer":   func(d *letterproof.Deps) { d.Issuer = "" },
	} {
		d := good
		change(&d)
		if _, err := letterproof.New(d); !errors.Is(err, fault.Invalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	m, err := letterproof.New(good)
	if err != nil || m.Name() != proof.Letter {
		t.Fatalf("New = %v %v", m, err)
	}
}

func TestCheckSecretsProves(t *testing.T) {
	f := setup(t)
	l, pw, code := f.handedOver(t, anna)
	f.w.Advance(3 * 24 * time.Hour)
	// As typed: lower case, in groups, with a dash.
	typedPW := strings.ToLower(letter.Group(pw))
	typedCode := strings.ReplaceAll(letter.Group(code), " ", "-")
	p, err := f.check(present(anna.KVNR, typedPW, typedCode))
	if err != nil {
		t.Fatal(err)
	}
	want := proof.Proof{
		Method: proof.Letter, Level: loa.Substantial, KVNR: anna.KVNR,
		Attributes: proof.Attributes{GivenName: "Anna-Lena", FamilyName: "Schmidt", BirthDate: "1984-07-09", Address: anna.Address},
		Evidence:   proof.Evidence{Type: "postal_letter", Reference: l.ID, Issuer: issuer, IssuedAt: t0, DeliveredTo: anna.Address},
		Time:       t0.Add(3 * 24 * time.Hour),
	}
	if p != want {
		t.Fatalf("proof\n got %+v\nwant %+v", p, want)
	}
	if got := f.w.Letter(l.ID); got.State != letter.Activated || !got.ActivatedAt.Equal(want.Time) {
		t.Fatalf("letter %s", got.State)
	}
}

// TestCheckSecretsSameAnswer: without the right secrets nobody learns whether
// a member or a letter exists, or what state it is in.
func TestCheckSecretsSameAnswer(t *testing.T) {
	type tc struct {
		name    string
		prepare func(f *fixture) (kvnr.KVNR, string, string)
		counted bool
	}
	fresh := letter.NewSecrets()
	cases := []tc{
		{"unknown member", func(f *fixture) (kvnr.KVNR, string, string) {
			return nobody, fresh.InitialPassword, fresh.ActivationCode
		}, false},
		{"member without letter", func(f *fixture) (kvnr.KVNR, string, string) {
			return bodo.KVNR, fresh.InitialPassword, fresh.ActivationCode
		}, false},
		{"letter not handed over yet, right secrets", func(f *fixture) (kvnr.KVNR, string, string) {
			_, pw, code := f.rendered(t, anna)
			return anna.KVNR, pw, code
		}, false},
		{"wrong secrets, expired letter", func(f *fixture) (kvnr.KVNR, string, string) {
			_, pw, code := f.handedOver(t, anna)
			f.w.Advance(60 * 24 * time.Hour)
			return anna.KVNR, wrongPassword(pw), code
		}, false},
		{"wrong secrets, used letter", func(f *fixture) (kvnr.KVNR, string, string) {
			_, pw, code := f.handedOver(t, anna)
			if _, err := f.check(present(anna.KVNR, pw, code)); err != nil {
				t.Fatal(err)
			}
			return anna.KVNR, wrongPassword(pw), code
		}, false},
		{"old letter's secrets after a new letter", func(f *fixture) (kvnr.KVNR, string, string) {
			_, pw, code := f.handedOver(t, anna)
			f.w.Advance(8 * 24 * time.Hour)
			f.handedOver(t, anna)
			return anna.KVNR, pw, code
		}, true},
		{"wrong password, activatable letter", func(f *fixture) (kvnr.KVNR, string, string) {
			_, pw, code := f.handedOver(t, anna)
			return anna.KVNR, wrongPassword(pw), code
		}, true},
		{"wrong code, activatable letter", func(f *fixture) (kvnr.KVNR, string, string) {
			_, pw, _ := f.handedOver(t, anna)
			return anna.KVNR, pw, fresh.ActivationCode
		}, true},
	}
	for _, c := range cases {
		f := setup(t)
		k, pw, code := c.prepare(f)
		f.w.ResetCalls()
		_, err := f.check(present(k, pw, code))
		if !errors.Is(err, fault.Unauthenticated) {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got, _ := fault.CodeOf(err); got != "letter.wrong" {
			t.Errorf("%s: code %q, want the one answer letter.wrong", c.name, got)
		}
		calls := f.w.CallLog()
		// Every wrong attempt is counted per member number, whatever the
		// number; one on an activatable letter also on the letter, unless
		// a guard holds (none does here: no letter was voided).
		want := []string{"Letters.LatestLetter"}
		if !strings.Contains(c.name, "right secrets") {
			want = append(want, "RateLimits.Hit")
		}
		if c.counted {
			want = append(want, "RateLimits.Count", "Letters.FailActivation")
		}
		if !slices.Equal(calls, want) {
			t.Errorf("%s: calls %v, want %v", c.name, calls, want)
		}
	}
}

func TestCheckSecretsMalformed(t *testing.T) {
	f := setup(t)
	_, pw, code := f.handedOver(t, anna)
	f.w.ResetCalls()
	for name, p := range map[string]presentation{
		"short password":    present(anna.KVNR, pw[:11], code),
		"long code":         present(anna.KVNR, pw, code+"A"),
		"ambiguous letter":  present(anna.KVNR, "O"+pw[1:], code),
		"missing code":      {k: anna.KVNR, s: proofing.Secrets{letterproof.SecretInitialPassword: secret.String(pw)}},
		"no secrets":        {k: anna.KVNR},
		"bad member number": present("A123456789", pw, code),
	} {
		if _, err := f.check(p); !errors.Is(err, fault.Invalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if calls := f.w.CallLog(); len(calls) != 0 {
		t.Fatalf("store called for malformed input: %v", calls)
	}
}

func TestFiveWrongAttemptsVoidTheLetter(t *testing.T) {
	f := setup(t)
	l, pw, code := f.handedOver(t, anna)
	// The attempt that voids the letter is answered like the four before
	// it and like a guess for a member without a letter: the same kind and
	// code, so that guessing tells nobody that a letter exists.
	_, none := f.check(present(nobody, wrongPassword(pw), code))
	for i := 1; i <= 5; i++ {
		_, err := f.check(present(anna.KVNR, wrongPassword(pw), code))
		if fault.KindOf(err) != fault.Unauthenticated || codeOf(err) != "letter.wrong" || codeOf(err) != codeOf(none) ||
			fault.PublicOf(err) != fault.PublicOf(none) {
			t.Fatalf("attempt %d: %v; want as for no letter: %v", i, err, none)
		}
	}
	got := f.w.Letter(l.ID)
	if got.State != letter.Voided || got.VoidReason != letter.ReasonAttempts || got.FailedAttempts != 5 {
		t.Fatalf("letter %+v", got)
	}
	_, err := f.check(present(anna.KVNR, pw, code))
	if !errors.Is(err, fault.Locked) || codeOf(err) != "letter.attempts" {
		t.Fatalf("right secrets after voiding: %v", err)
	}
	// Further wrong guesses are no longer counted and look like any other.
	if _, err := f.check(present(anna.KVNR, wrongPassword(pw), code)); !errors.Is(err, fault.Unauthenticated) {
		t.Fatalf("wrong after voiding: %v", err)
	}
	if _, _, err := f.activate(present(anna.KVNR, pw, code)); !errors.Is(err, fault.Locked) {
		t.Fatalf("Activate after voiding: %v", err)
	}
}

func TestConcurrentWrongAttemptsVoidOnce(t *testing.T) {
	f := setup(t)
	l, pw, code := f.handedOver(t, anna)
	var wg sync.WaitGroup
	kinds := make(chan fault.Kind, 12)
	for range 12 {
		wg.Go(func() {
			_, err := f.check(present(anna.KVNR, wrongPassword(pw), code))
			kinds <- fault.KindOf(err)
		})
	}
	wg.Wait()
	close(kinds)
	// Of 12 at once, exactly AttemptsPerKVNR (10) are answered as wrong —
	// the one that voids the letter too — and exactly 2 are throttled.
	got := map[fault.Kind]int{}
	for k := range kinds {
		got[k]++
	}
	if got[fault.Unauthenticated] != 10 || got[fault.RateLimited] != 2 || len(got) != 2 {
		t.Errorf("kinds %v; want 10 × Unauthenticated (the voiding one too) and 2 × RateLimited", got)
	}
	if got := f.w.Letter(l.ID); got.FailedAttempts != 5 || got.State != letter.Voided {
		t.Fatalf("letter %s after %d", got.State, got.FailedAttempts)
	}
}

func TestExpiredLetter(t *testing.T) {
	f := setup(t)
	l, pw, code := f.handedOver(t, anna)
	f.w.Advance(60*24*time.Hour - time.Second)
	if _, err := f.check(present(anna.KVNR, wrongPassword(pw), code)); !errors.Is(err, fault.Unauthenticated) {
		t.Fatalf("wrong, last second: %v", err)
	}
	f.w.Advance(time.Second)
	_, err := f.check(present(anna.KVNR, pw, code))
	if !errors.Is(err, fault.Expired) || codeOf(err) != "letter.expired" {
		t.Fatalf("expired: %v", err)
	}
	if got := f.w.Letter(l.ID); got.State != letter.HandedOver || got.FailedAttempts != 1 {
		t.Fatalf("letter %s, %d attempts", got.State, got.FailedAttempts)
	}
}

func TestReplayedActivation(t *testing.T) {
	f := setup(t)
	_, pw, code := f.handedOver(t, anna)
	if _, _, err := f.activate(present(anna.KVNR, pw, code)); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.activate(present(anna.KVNR, pw, code))
	if !errors.Is(err, fault.Conflict) || codeOf(err) != "letter.used" {
		t.Fatalf("replay: %v", err)
	}
	if n := f.w.SessionCount(); n != 1 {
		t.Fatalf("%d sessions", n)
	}
}

func TestConcurrentActivationsOneSession(t *testing.T) {
	f := setup(t)
	_, pw, code := f.handedOver(t, anna)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	tokens := make(chan string, n)
	for range n {
		wg.Go(func() {
			tok, _, err := f.activate(present(anna.KVNR, pw, code))
			errs <- err
			if err == nil {
				tokens <- tok
			}
		})
	}
	wg.Wait()
	close(errs)
	close(tokens)
	wins := 0
	for err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, fault.Conflict):
			t.Errorf("loser: %v", err)
		}
	}
	if wins != 1 || len(tokens) != 1 || f.w.SessionCount() != 1 {
		t.Fatalf("%d winners, %d sessions", wins, f.w.SessionCount())
	}
}

func TestCheckSecretsStoreFailures(t *testing.T) {
	down := fault.New(fault.Unavailable, "fake", "")
	for _, point := range []string{"Letters.LatestLetter:before", "Letters.FailActivation:before", "Members.MemberByKVNR:before", "Letters.ActivateLetter:before"} {
		f := setup(t)
		l, pw, code := f.handedOver(t, anna)
		f.w.SetInject(func(at string) error {
			if at == point {
				return down
			}
			return nil
		})
		typed := pw
		if point == "Letters.FailActivation:before" {
			typed = wrongPassword(pw)
		}
		if _, err := f.check(present(anna.KVNR, typed, code)); !errors.Is(err, fault.Unavailable) {
			t.Errorf("%s: %v", point, err)
		}
		if got := f.w.Letter(l.ID); got.State != letter.HandedOver || got.FailedAttempts != 0 {
			t.Errorf("%s: letter %s, %d attempts", point, got.State, got.FailedAttempts)
		}
	}
}

func TestMemberLeftTheDirectory(t *testing.T) {
	f := setup(t)
	l, pw, code := f.handedOver(t, anna)
	f.w.DeleteMember(anna.KVNR)
	if _, err := f.check(present(anna.KVNR, pw, code)); !errors.Is(err, fault.Unauthenticated) {
		t.Fatalf("CheckSecrets = %v", err)
	}
	if got := f.w.Letter(l.ID); got.State != letter.HandedOver {
		t.Fatalf("letter %s", got.State)
	}
}

// TestRegistrationByLetter is the member's whole path through core: request,
// the workers, the letter in the outbox, activation, own password.
func TestRegistrationByLetter(t *testing.T) {
	f := setup(t)
	_, pw, code := f.handedOver(t, anna)
	f.w.Advance(2 * 24 * time.Hour) // the post
	token, s, err := f.activate(present(anna.KVNR, letter.Group(pw), letter.Group(code)))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetPassword(ctx, token, "Schmidt aus Hamburg 1984"); !errors.Is(err, fault.Invalid) {
		t.Fatalf("name in password: %v", err)
	}
	if err := f.svc.SetPassword(ctx, token, "Lindenblüten duften im Juli"); err != nil {
		t.Fatal(err)
	}
	a, ok := f.w.Account(anna.KVNR)
	if !ok || a.ID != s.AccountID || a.Status != account.Pending || a.Proofing != loa.Substantial || a.PasswordHash == "" {
		t.Fatalf("account %+v", a)
	}
	ps, _ := f.w.Proofs(ctx, a.ID)
	if len(ps) != 1 || ps[0].Evidence.Type != letterproof.EvidenceType {
		t.Fatalf("proofs %+v", ps)
	}
	f.w.Advance(31 * time.Minute)
	if err := f.svc.SetPassword(ctx, token, "Lindenblüten duften im Juni"); !errors.Is(err, fault.Expired) {
		t.Fatalf("after 31 minutes: %v", err)
	}
}

// codeOf is the code of err.
func codeOf(err error) fault.Code {
	c, _ := fault.CodeOf(err)
	return c
}

// A third party who knows Anna's number voids her letter with five guesses;
// the answers say nothing. Her next letter is produced at once, and further
// guesses neither void it nor keep her out: they are answered as wrong,
// then throttled, and her right secrets still activate.
func TestGuessesLeaveTheNextLetterWorking(t *testing.T) {
	f := setup(t)
	first, pw, code := f.handedOver(t, anna)
	for range 5 {
		if _, err := f.check(present(anna.KVNR, wrongPassword(pw), code)); codeOf(err) != "letter.wrong" {
			t.Fatalf("guess: %v", err)
		}
	}
	if got := f.w.Letter(first.ID); got.State != letter.Voided || got.VoidReason != letter.ReasonAttempts {
		t.Fatalf("first letter %s (%s)", got.State, got.VoidReason)
	}
	f.w.Advance(time.Hour)
	next, pw2, code2 := f.handedOver(t, anna) // within MinInterval: the voided letter does not count
	if next.ID == first.ID {
		t.Fatal("no new letter")
	}
	for i := 6; i <= 10; i++ {
		if _, err := f.check(present(anna.KVNR, wrongPassword(pw2), code2)); codeOf(err) != "letter.wrong" {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if got := f.w.Letter(next.ID); got.State != letter.HandedOver || got.FailedAttempts != 0 {
		t.Fatalf("next letter %s after %d counted attempts; want untouched", got.State, got.FailedAttempts)
	}
	_, err := f.check(present(anna.KVNR, wrongPassword(pw2), code2))
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.RateLimited || codeOf(err) != letterproof.CodeThrottled || fe.RetryAfter <= 0 {
		t.Fatalf("guess 11: %v; want throttled with a wait", err)
	}
	// The throttle is the same for a number without any letter.
	for range 10 {
		_, _ = f.check(present(nobody, wrongPassword(pw2), code2))
	}
	if _, err := f.check(present(nobody, wrongPassword(pw2), code2)); codeOf(err) != letterproof.CodeThrottled {
		t.Fatalf("guess 11 for a number without letter: %v", err)
	}
	if _, _, err := f.activate(present(anna.KVNR, pw2, code2)); err != nil {
		t.Fatalf("Anna's own letter while throttled: %v", err)
	}
}

// The guard lasts at least GuardWindow and ends within twice that: then
// wrong attempts void a letter again.
func TestGuardEnds(t *testing.T) {
	f := setup(t)
	first, pw, code := f.handedOver(t, anna)
	for range 5 {
		_, _ = f.check(present(anna.KVNR, wrongPassword(pw), code))
	}
	if got := f.w.Letter(first.ID); got.State != letter.Voided {
		t.Fatalf("first letter %s", got.State)
	}
	f.w.Advance(2 * letter.DefaultPolicy.GuardWindow)
	later, pw, code := f.handedOver(t, anna)
	for range 5 {
		if _, err := f.check(present(anna.KVNR, wrongPassword(pw), code)); codeOf(err) != "letter.wrong" {
			t.Fatalf("guess: %v", err)
		}
	}
	if got := f.w.Letter(later.ID); got.State != letter.Voided || got.FailedAttempts != 5 {
		t.Fatalf("letter after the guard %s after %d", got.State, got.FailedAttempts)
	}
}
