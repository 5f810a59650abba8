package registration_test

import (
	"context"
	"errors"
	"github.com/pforte-id/pforte/catalog"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/ports/proofing"
)

// fakeMethod is a secret-checking proofing method that proves whatever it
// is told to.
type fakeMethod struct {
	name  proof.Method
	level loa.Level
	err   error
	// kvnr, when set, is put into the proof instead of the presented one.
	kvnr string
}

var _ proofing.SecretChecker = (*fakeMethod)(nil)

func (m *fakeMethod) Name() proof.Method { return m.name }

func (m *fakeMethod) CheckSecrets(_ context.Context, k kvnr.KVNR, _ proofing.Secrets) (proof.Proof, error) {
	if m.err != nil {
		return proof.Proof{}, m.err
	}
	if m.kvnr != "" {
		k = coretest.KVNR(m.kvnr)
	}
	return proof.Proof{
		Method: m.name, Level: m.level, KVNR: k,
		Attributes: proof.Attributes{GivenName: "Annalena", FamilyName: "Schmidt-Weber", BirthDate: "1984-07-09"},
		Evidence:   proof.Evidence{Type: "test", Reference: "ref-1"},
		Time:       t0,
	}, nil
}

// nameOnly is a proofing method without any capability.
type nameOnly proof.Method

func (n nameOnly) Name() proof.Method { return proof.Method(n) }

func TestActivate(t *testing.T) {
	letterM := &fakeMethod{name: proof.Letter, level: loa.Substantial}
	eid := &fakeMethod{name: proof.EID, level: loa.High}
	f := setup(t, withMethods(letterM, eid))

	token, s, err := f.svc.Activate(ctx, "192.0.2.7", "letter", anna.KVNR, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(token) < 43 || s.TokenHash != grant.Hash(token) || s.TokenHash == token || s.KVNR != anna.KVNR ||
		s.Method != proof.Letter || !s.CreatedAt.Equal(t0) || s.ExpiresAt != t0.Add(30*time.Minute) || s.AccountID == "" {
		t.Fatalf("session %+v", s)
	}
	a, ok := f.w.Account(anna.KVNR)
	if !ok || a.ID != s.AccountID || a.Status != account.Pending || a.Proofing != loa.Substantial || a.ID == string(anna.KVNR) || len(a.ID) < 22 {
		t.Fatalf("account %+v", a)
	}
	if ps, _ := f.w.Proofs(ctx, a.ID); len(ps) != 1 || ps[0].Evidence.Reference != "ref-1" {
		t.Fatalf("proofs %+v", ps)
	}
	if strings.Contains(f.logs.String(), token) {
		t.Fatal("token logged")
	}

	// A second proofing (eID) keeps the account and raises its level.
	token2, s2, err := f.svc.Activate(ctx, "192.0.2.7", "eid", anna.KVNR, nil)
	if err != nil || token2 == token || s2.AccountID != a.ID {
		t.Fatalf("second activation: %+v %v", s2, err)
	}
	if a2, _ := f.w.Account(anna.KVNR); a2.Proofing != loa.High || a2.Status != account.Pending {
		t.Fatalf("account after eID %+v", a2)
	}

	// The number as typed is taken in its normal form.
	_, s3, err := f.svc.Activate(ctx, "192.0.2.7", "letter", kvnr.KVNR(" "+strings.ToLower(string(anna.KVNR))), nil)
	if err != nil || s3.KVNR != anna.KVNR || s3.AccountID != a.ID {
		t.Fatalf("activation with the number as typed: %+v %v", s3, err)
	}
	if _, _, err := f.svc.Activate(ctx, "192.0.2.7", "letter", "A123", nil); !errors.Is(err, fault.Invalid) {
		t.Fatalf("malformed number: %v", err)
	}

	if _, _, err := f.svc.Activate(ctx, "192.0.2.7", "fax", anna.KVNR, nil); !errors.Is(err, fault.Invalid) {
		t.Fatalf("unknown method: %v", err)
	}
	for _, want := range []fault.Kind{fault.Unauthenticated, fault.Locked, fault.Expired, fault.Conflict, fault.Unavailable} {
		letterM.err = fault.New(want, "fake", "")
		if _, _, err := f.svc.Activate(ctx, "192.0.2.7", "letter", anna.KVNR, nil); fault.KindOf(err) != want {
			t.Errorf("method error %v became %v", want, err)
		}
	}
	letterM.err = nil
	letterM.kvnr = "B98765432"
	if _, _, err := f.svc.Activate(ctx, "192.0.2.7", "letter", anna.KVNR, nil); fault.KindOf(err) != fault.Internal {
		t.Fatalf("a proof for someone else: %v", err)
	}
	letterM.kvnr, letterM.level = "", loa.None
	if _, _, err := f.svc.Activate(ctx, "192.0.2.7", "letter", anna.KVNR, nil); fault.KindOf(err) != fault.Internal {
		t.Fatalf("a proof without level: %v", err)
	}
	if n := f.w.SessionCount(); n != 3 {
		t.Fatalf("%d sessions", n)
	}
}

// weakList is a strength estimator that refuses a fixed list.
type weakList []string

func (w weakList) Weak(pw string, inputs []string) (bool, fault.Code) {
	for _, s := range w {
		if strings.Contains(pw, s) {
			return true, "password.guessable_words"
		}
	}
	return false, ""
}

func TestSetPassword(t *testing.T) {
	f := setup(t, withMethods(&fakeMethod{name: proof.Letter, level: loa.Substantial}), withEstimator(weakList{"Sonnenschein"}))
	token, s, err := f.svc.Activate(ctx, "192.0.2.7", "letter", anna.KVNR, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ pw, reason string }{
		{"kurz", "mindestens 10 Zeichen"},
		{strings.Repeat("lang", 40), "höchstens 128"},
		{"passwort123", "zu verbreitet"},
		{"aaaaaaaaaaaaaaa", "zu einfach"},
		{"mein " + string(anna.KVNR) + "!", "Versichertennummer"},
		{"x" + strings.ToLower(string(anna.KVNR)) + "x", "member number"},
		{"nummer " + string(anna.KVNR[1:]), "Versichertennummer"},
		{"ich bin Anna-Lena!", "Namen"},
		{"lena ist toll 2026", "name"},
		{"SCHMIDT ist mein Name", "Namen"},
		{"schmidt-weber aus HH", "Namen"},       // from the proof
		{"ich bin annalena 1x", "name"},         // from the proof
		{"Geburtstag 09071984", "Geburtsdatum"}, // DDMMYYYY
		{"Geburtstag 1984-07-09", "Geburtsdatum"},
		{"Geburtstag 09.07.1984", "date of birth"},
		{"Geburtstag 19840709", "date of birth"},
		{"Geburtstag 09.07.84!", "Geburtsdatum"},
		{"Geburtstag 090784 x", "Geburtsdatum"},
		{"Sonnenschein über Kiel", "zu leicht zu erraten"},
	} {
		err := f.svc.SetPassword(ctx, token, tc.pw)
		if !errors.Is(err, fault.Invalid) || !strings.Contains(bothTexts(err), tc.reason) {
			t.Errorf("SetPassword(%q) = %v (%q), want Invalid with %q", tc.pw, err, bothTexts(err), tc.reason)
		}
	}
	if a, _ := f.w.Account(anna.KVNR); a.PasswordHash != "" {
		t.Fatal("a refused password was stored")
	}

	const good = "Lindenblüten im Juli duften"
	if err := f.svc.SetPassword(ctx, token, good); err != nil {
		t.Fatal(err)
	}
	a, _ := f.w.Account(anna.KVNR)
	if ok, _, err := coretest.Passwords().Verify(ctx, good, a.PasswordHash); err != nil || !ok || !strings.HasPrefix(a.PasswordHash, "$argon2id$") {
		t.Fatalf("stored hash %q: %v %v", a.PasswordHash, ok, err)
	}
	if sess, _ := f.w.EnrollmentByTokenHash(ctx, s.TokenHash); !sess.PasswordSetAt.Equal(t0) {
		t.Fatalf("session %+v", sess)
	}
	if strings.Contains(f.logs.String(), good) {
		t.Fatal("password logged")
	}

	for _, bad := range []string{"", "unknown-token", strings.Repeat("x", 1000)} {
		if err := f.svc.SetPassword(ctx, bad, good); !errors.Is(err, fault.Unauthenticated) {
			t.Errorf("token %.10q: %v", bad, err)
		}
	}

	// Still open until the 30 minutes are over; then expired.
	f.w.Advance(30*time.Minute - time.Second)
	if err := f.svc.SetPassword(ctx, token, good+"!"); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	f.w.Advance(time.Second)
	if err := f.svc.SetPassword(ctx, token, good); !errors.Is(err, fault.Expired) || !strings.Contains(catalog.German.Error(err), "abgelaufen") {
		t.Fatalf("expired session: %v", err)
	}
}

func TestSetPasswordCompletedSessionAndRaces(t *testing.T) {
	f := setup(t, withMethods(&fakeMethod{name: proof.Letter, level: loa.Substantial}))
	// The session ends while the password is hashed: the store's check
	// wins, and the member sees the same text.
	token2, _, _ := f.svc.Activate(ctx, "192.0.2.7", "letter", anna.KVNR, nil)
	f.w.SetInject(func(at string) error {
		if at == "Enrollments.SetEnrollmentPassword:before" {
			return fault.New(fault.Expired, "fake", "")
		}
		return nil
	})
	if err := f.svc.SetPassword(ctx, token2, "Lindenblüten im Juli duften"); !errors.Is(err, fault.Expired) ||
		!strings.Contains(catalog.German.Error(err), "abgelaufen") {
		t.Fatalf("expired during hashing: %v", err)
	}
	if a, _ := f.w.Account(anna.KVNR); a.PasswordHash != "" || enrollment.TTL != 30*time.Minute {
		t.Fatal("password stored in an expired session")
	}
	f.w.SetInject(nil)

	// Completed sessions take no more steps: the member set a password,
	// bound a phone with its PIN and completed, as core/binding does.
	token, s, err := f.svc.Activate(ctx, "192.0.2.7", "letter", anna.KVNR, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := f.w.Now()
	if err := f.st.SetEnrollmentPassword(ctx, s.ID, "hash-of-the-completed-session", now); err != nil {
		t.Fatal(err)
	}
	b := device.Binding{ID: grant.NewID(), EnrollmentID: s.ID, Name: "Phone", Platform: device.Android,
		CredentialID: []byte("cred"), PublicKey: []byte("key"), Status: device.Active, PINHash: "pin-hash", CreatedAt: now}
	if err := f.st.BindDevice(ctx, b, now); err != nil {
		t.Fatal(err)
	}
	done := audit.Event{ID: grant.NewID(), Time: now, Kind: audit.EnrollmentCompleted, Actor: audit.Member}
	if _, err := f.st.CompleteEnrollment(ctx, s.ID, done, now); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetPassword(ctx, token, "Lindenblüten im Juli duften"); !errors.Is(err, fault.Expired) {
		t.Fatalf("completed session: %v", err)
	}
	if a, _ := f.w.Account(anna.KVNR); a.PasswordHash != "hash-of-the-completed-session" {
		t.Fatal("password replaced in a completed session")
	}
}

func TestBirthDateForms(t *testing.T) {
	got := registration.BirthDateForms("1984-07-09")
	want := []string{"09071984", "1984-07-09", "09.07.1984", "19840709", "09.07.84", "090784"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("BirthDateForms = %v", got)
	}
	if registration.BirthDateForms("") != nil || registration.BirthDateForms("09.07.1984") != nil {
		t.Fatal("forms of a malformed date")
	}
}

// TestActivateRateLimitedPerAddress: one address cannot sweep over many
// members' letters; another address is not affected, and the method never
// sees the refused attempts.
func TestActivateRateLimitedPerAddress(t *testing.T) {
	m := &fakeMethod{name: proof.Letter, level: loa.Substantial, err: fault.New(fault.Unauthenticated, "fake", "")}
	f := setup(t, withMethods(m))
	for i := range registration.DefaultActivationsPerIP.Max {
		if _, _, err := f.svc.Activate(ctx, "192.0.2.7", "letter", anna.KVNR, nil); !errors.Is(err, fault.Unauthenticated) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	_, _, err := f.svc.Activate(ctx, "192.0.2.7", "letter", anna.KVNR, nil)
	if e := fault.RetryOf(err); !errors.Is(err, fault.RateLimited) || e == nil || e.RetryAfter <= 0 || e.Code != registration.CodeRateLimited {
		t.Fatalf("attempt over the limit: %v", err)
	}
	if _, _, err := f.svc.Activate(ctx, "198.51.100.1", "letter", anna.KVNR, nil); !errors.Is(err, fault.Unauthenticated) {
		t.Fatalf("another address: %v", err)
	}
	if _, _, err := f.svc.Activate(ctx, "", "letter", anna.KVNR, nil); !errors.Is(err, fault.Internal) {
		t.Fatalf("no address: %v", err)
	}
}
