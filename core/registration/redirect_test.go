package registration_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/registration/registrationtest"
	"github.com/pforte-id/pforte/core/secret"
	"github.com/pforte-id/pforte/ports/proofing"
)

const (
	callbackURL = "https://id.beispiel-bkk.de/app/v1/proofing/eid/callback"
	// appReturn is the Service-App's return address; appVerifier the
	// verifier of the code challenge the app sends when it begins.
	appReturn   = "de.beispiel-bkk.serviceapp:/eid?from=pforte"
	appVerifier = "app-verifier-0123456789-0123456789-0123456789"
)

// challengeOf is the S256 code challenge of verifier.
func challengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// start is what the app sends to begin a proofing.
func start(ip string, method proof.Method, k kvnr.KVNR, callback string) registration.ProofingStart {
	return registration.ProofingStart{
		ClientIP: ip, Method: method, KVNR: k, CallbackURL: callback, ReturnURI: appReturn, CodeChallenge: challengeOf(appVerifier),
	}
}

// fakeRedirector is a redirect method whose service verifies whatever
// attributes it is told to. It records what core gave it.
type fakeRedirector struct {
	name proof.Method
	mu   sync.Mutex
	// begins are the Begin calls, in order.
	begins []proofing.Begin
	// beginErr, when set, is Begin's error; noURL makes Begin return none.
	beginErr error
	noURL    bool
	// finish, when set, replaces the service's answer.
	finish func(data []byte, c proofing.Callback) (proof.Proof, error)
	// verified are the attributes the service reports.
	verified proof.Attributes
}

var _ proofing.Redirector = (*fakeRedirector)(nil)

func (m *fakeRedirector) Name() proof.Method { return m.name }

func (m *fakeRedirector) Begin(_ context.Context, b proofing.Begin) (proofing.Redirect, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.begins = append(m.begins, b)
	if m.beginErr != nil {
		return proofing.Redirect{}, m.beginErr
	}
	if m.noURL {
		return proofing.Redirect{}, nil
	}
	// The data binds the answer to this begin, as a nonce would.
	return proofing.Redirect{
		URL:  "https://eid.example.de/authorize?state=" + b.State.Reveal(),
		Data: []byte("nonce-for-" + b.State.Reveal()),
	}, nil
}

func (m *fakeRedirector) Finish(_ context.Context, data []byte, c proofing.Callback) (proof.Proof, error) {
	if m.finish != nil {
		return m.finish(data, c)
	}
	if string(data) != "nonce-for-"+c.State.Reveal() || c.Params["code"] != "code-1" {
		return proof.Proof{}, fault.New(fault.Unauthenticated, "fake", "")
	}
	return proof.Proof{
		Method: m.name, Level: loa.High, Attributes: m.verified,
		Evidence: proof.Evidence{
			Type: "electronic_id", Reference: "eid-tx-1", Issuer: "https://eid.example.de", Subject: "restricted-id-1", IssuedAt: t0,
		},
		Time: t0,
	}, nil
}

// lastState is the state of the latest Begin.
func (m *fakeRedirector) lastState() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.begins[len(m.begins)-1].State.Reveal()
}

// idCardOf is what an ID card of m verifies: the names and date of birth,
// the address as the card has it.
func idCardOf(m member.Member) proof.Attributes {
	return proof.Attributes{GivenName: m.GivenName, FamilyName: m.FamilyName, BirthDate: m.BirthDate, Address: m.Address}
}

type redirectFixture struct {
	st   *sqlstore.Store
	svc  *registration.Service
	eid  *fakeRedirector
	now  time.Time
	logs *coretest.Log
	// token is the enrollment token of the last begin.
	token string
	// devices records the bindings a step-up confirmed again.
	devices *reconfirms
}

// reconfirms is a registration.Reconfirmer that records its calls and
// answers err.
type reconfirms struct {
	calls []string // "binding/account"
	err   error
}

func (r *reconfirms) ReconfirmWithEID(_ context.Context, bindingID, accountID, _ string) (device.Binding, error) {
	r.calls = append(r.calls, bindingID+"/"+accountID)
	return device.Binding{ID: bindingID, AccountID: accountID}, r.err
}

func (f *redirectFixture) clock() time.Time { return f.now }

// setupRedirect is a registration service on a real store (SQLite) with the
// letter's fake secret method and two redirect methods, eid and other.
func setupRedirect(t *testing.T) *redirectFixture {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), sqlstoretest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, m := range []member.Member{anna, bodo, carl} {
		if err := st.UpsertMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	w := registrationtest.NewWorld(t0, st) // its renderer and outbox
	f := &redirectFixture{st: st, eid: &fakeRedirector{name: proof.EID, verified: idCardOf(anna)}, now: t0, logs: &coretest.Log{},
		devices: &reconfirms{}}
	f.svc, err = registration.New(registration.Config{
		Issuer: issuer, Sender: sender, AppReturnURIs: []string{appReturn}, LoopbackReturn: true,
	}, registration.Deps{
		Members: st, Registrations: st, Letters: st, Enrollments: st, Proofings: st, RateLimits: st, Accounts: st,
		Devices: f.devices, Renderer: w, Outbox: w, LetterHasher: letterHasher, Passwords: coretest.Passwords(), Now: f.clock,
		Methods: []proofing.Method{
			&fakeMethod{name: proof.Letter, level: loa.Substantial}, f.eid, &fakeRedirector{name: "other"},
		},
		Logger: f.logs.Text(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// begin begins an eID proofing of k and returns its state.
func (f *redirectFixture) begin(t *testing.T, k kvnr.KVNR) string {
	t.Helper()
	u, token, err := f.svc.BeginProofing(ctx, start("192.0.2.7", proof.EID, k, callbackURL))
	if err != nil {
		t.Fatal(err)
	}
	if len(token) < 43 || token == f.token {
		t.Fatalf("enrollment token %q", token)
	}
	f.token = token
	state := f.eid.lastState()
	if u != "https://eid.example.de/authorize?state="+state {
		t.Fatalf("redirect URL %q", u)
	}
	return state
}

// finish is the service's answer for state arriving at the callback; it
// returns the one-time code the browser is sent on to the app with.
func (f *redirectFixture) finish(t *testing.T, state string) (string, error) {
	t.Helper()
	next, err := f.svc.FinishProofing(ctx, proof.EID, answer(state))
	if err != nil {
		return "", err
	}
	u, perr := url.Parse(next)
	if perr != nil || !strings.HasPrefix(next, "de.beispiel-bkk.serviceapp:/eid?") || u.Query().Get("from") != "pforte" {
		t.Fatalf("return URL %q", next)
	}
	code := u.Query().Get("code")
	if len(code) < 43 {
		t.Fatalf("return URL %q without a code", next)
	}
	return code, nil
}

// complete is the whole honest path after begin: the answer, and the app
// that began redeeming the code with its token and verifier.
func (f *redirectFixture) complete(t *testing.T, state string) (enrollment.Session, error) {
	t.Helper()
	code, err := f.finish(t, state)
	if err != nil {
		return enrollment.Session{}, err
	}
	return f.svc.RedeemProofing(ctx, f.token, code, appVerifier)
}

// answer is the service's answer for state.
func answer(state string) proofing.Callback {
	return proofing.Callback{State: secret.String(state), Params: map[string]string{"code": "code-1"}}
}

func TestProofingByRedirect(t *testing.T) {
	f := setupRedirect(t)
	state := f.begin(t, anna.KVNR)
	b := f.eid.begins[0]
	if len(state) < 43 || b.CallbackURL != callbackURL || !b.ExpiresAt.Equal(t0.Add(proof.PendingTTL)) {
		t.Fatalf("Begin got %+v", b)
	}

	f.now = t0.Add(3 * time.Minute)
	token := f.token
	// Before the answer, the token opens nothing.
	if _, err := f.svc.EnrollmentStatus(ctx, token); !errors.Is(err, fault.Unauthenticated) {
		t.Fatalf("status before the answer: %v", err)
	}
	code, err := f.finish(t, state)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(f.eid.begins[0].CallbackURL+f.eid.lastState(), token) {
		t.Fatal("the enrollment token reached the proofing service")
	}
	// The accepted answer alone opens nothing: the app redeems the code.
	if _, err := f.svc.EnrollmentStatus(ctx, token); !errors.Is(err, fault.Unauthenticated) {
		t.Fatalf("status before the app redeemed the code: %v", err)
	}
	if _, err := f.st.AccountByKVNR(ctx, anna.KVNR); !errors.Is(err, fault.NotFound) {
		t.Fatalf("an account before the app redeemed the code: %v", err)
	}
	f.now = t0.Add(4 * time.Minute)
	s, err := f.svc.RedeemProofing(ctx, token, code, appVerifier)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.svc.EnrollmentStatus(ctx, token); err != nil || got.ID != s.ID {
		t.Fatalf("status after the answer: %+v %v", got, err)
	}
	if s.KVNR != anna.KVNR || s.Method != proof.EID || !s.CreatedAt.Equal(f.now) || s.AccountID == "" {
		t.Fatalf("session %+v", s)
	}
	a, err := f.st.AccountByKVNR(ctx, anna.KVNR)
	if err != nil || a.ID != s.AccountID || a.Status != account.Pending || a.Proofing != loa.High {
		t.Fatalf("account %+v %v", a, err)
	}
	ps, err := f.st.Proofs(ctx, a.ID)
	want := proof.Proof{
		Method: proof.EID, Level: loa.High, KVNR: anna.KVNR, Attributes: idCardOf(anna),
		Evidence: proof.Evidence{
			Type: "electronic_id", Reference: "eid-tx-1", Issuer: "https://eid.example.de", Subject: "restricted-id-1", IssuedAt: t0,
		},
		Time: t0,
	}
	if err != nil || len(ps) != 1 || ps[0] != want {
		t.Fatalf("proofs %+v %v", ps, err)
	}
	// The password set next must not contain what the card verified.
	if err := f.svc.SetPassword(ctx, token, "Schmidt Lindenblüten im Juli"); !errors.Is(err, fault.Invalid) {
		t.Fatalf("password with the family name: %v", err)
	}

	// Neither the answer nor the code can be replayed.
	if _, err := f.svc.FinishProofing(ctx, proof.EID, answer(state)); !errors.Is(err, fault.Unauthenticated) {
		t.Fatalf("replayed answer: %v", err)
	}
	if _, err := f.svc.RedeemProofing(ctx, token, code, appVerifier); !errors.Is(err, fault.Unauthenticated) ||
		!strings.Contains(bothTexts(err), "schon verwendet") {
		t.Fatalf("replayed code: %v", err)
	}
	if logs := f.logs.String(); strings.Contains(logs, state) || strings.Contains(logs, token) || strings.Contains(logs, code) ||
		strings.Contains(logs, string(anna.KVNR)) {
		t.Fatalf("state, token or member number logged:\n%s", logs)
	}
}

// TestFinishProofingRefuses: every answer that is not a fresh, matching
// proof of the member who began makes no account, and spends the state.
func TestFinishProofingRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		member kvnr.KVNR
		edit   func(f *redirectFixture, c *proofing.Callback)
		method proof.Method
		kind   fault.Kind
		text   string
		// kept: the answer named another state, so this one stays usable.
		kept bool
	}{
		{name: "unknown state", member: anna.KVNR, edit: func(_ *redirectFixture, c *proofing.Callback) {
			c.State = secret.String(strings.Repeat("x", 43))
		}, kind: fault.Unauthenticated, text: "unbekannt", kept: true},
		{name: "no state", member: anna.KVNR, edit: func(_ *redirectFixture, c *proofing.Callback) { c.State = "" },
			kind: fault.Unauthenticated, text: "unbekannt", kept: true},
		{name: "too late", member: anna.KVNR, edit: func(f *redirectFixture, _ *proofing.Callback) {
			f.now = t0.Add(proof.PendingTTL)
		}, kind: fault.Expired, text: "zu lange"},
		{name: "begun for another method", member: anna.KVNR, method: "other", kind: fault.Unauthenticated, text: "unbekannt"},
		{name: "the service refuses the answer", member: anna.KVNR, edit: func(_ *redirectFixture, c *proofing.Callback) {
			c.Params["code"] = "code-forged"
		}, kind: fault.Unauthenticated},
		{name: "the member cancelled", member: anna.KVNR, edit: func(f *redirectFixture, _ *proofing.Callback) {
			f.eid.finish = func([]byte, proofing.Callback) (proof.Proof, error) {
				return proof.Proof{}, fault.New(fault.Forbidden, "fake", "")
			}
		}, kind: fault.Forbidden},
		{name: "another person's card", member: anna.KVNR, edit: func(f *redirectFixture, _ *proofing.Callback) {
			f.eid.verified = idCardOf(carl)
		}, kind: fault.Unauthenticated, text: "passen nicht"},
		{name: "another birth date", member: anna.KVNR, edit: func(f *redirectFixture, _ *proofing.Callback) {
			f.eid.verified.BirthDate = "1984-07-10"
		}, kind: fault.Unauthenticated, text: "passen nicht"},
		{name: "married since (needs review)", member: anna.KVNR, edit: func(f *redirectFixture, _ *proofing.Callback) {
			f.eid.verified.FamilyName, f.eid.verified.BirthName = "Meyer", anna.FamilyName
		}, kind: fault.Unauthenticated, text: "passen nicht"},
		{name: "not a member", member: nobody, kind: fault.Unauthenticated, text: "passen nicht"},
		{name: "a card not the ineligible member's", member: bodo.KVNR, kind: fault.Unauthenticated, text: "passen nicht"},
		{name: "no longer insured", member: bodo.KVNR, edit: func(f *redirectFixture, _ *proofing.Callback) {
			f.eid.verified = idCardOf(bodo)
		}, kind: fault.Forbidden, text: "keine Registrierung"},
		{name: "a proof naming a member", member: anna.KVNR, edit: func(f *redirectFixture, _ *proofing.Callback) {
			f.eid.finish = func([]byte, proofing.Callback) (proof.Proof, error) {
				return proof.Proof{Method: proof.EID, Level: loa.High, KVNR: carl.KVNR, Attributes: idCardOf(carl)}, nil
			}
		}, kind: fault.Internal},
		{name: "a proof without level", member: anna.KVNR, edit: func(f *redirectFixture, _ *proofing.Callback) {
			f.eid.finish = func([]byte, proofing.Callback) (proof.Proof, error) {
				return proof.Proof{Method: proof.EID, Level: loa.None, Attributes: idCardOf(anna)}, nil
			}
		}, kind: fault.Internal},
		{name: "a proof of another method", member: anna.KVNR, edit: func(f *redirectFixture, _ *proofing.Callback) {
			f.eid.finish = func([]byte, proofing.Callback) (proof.Proof, error) {
				return proof.Proof{Method: proof.Letter, Level: loa.High, Attributes: idCardOf(anna)}, nil
			}
		}, kind: fault.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setupRedirect(t)
			state := f.begin(t, tc.member)
			c := answer(state)
			if tc.edit != nil {
				tc.edit(f, &c)
			}
			method := proof.EID
			if tc.method != "" {
				method = tc.method
			}
			_, err := f.svc.FinishProofing(ctx, method, c)
			if err == nil {
				t.Fatalf("FinishProofing succeeded, want %v %q", tc.kind, tc.text)
			}
			if fault.KindOf(err) != tc.kind || !strings.Contains(bothTexts(err), tc.text) {
				t.Fatalf("FinishProofing = %v (%q), want %v %q", err, bothTexts(err), tc.kind, tc.text)
			}
			for _, k := range []kvnr.KVNR{anna.KVNR, bodo.KVNR, carl.KVNR, nobody} {
				if _, err := f.st.AccountByKVNR(ctx, k); !errors.Is(err, fault.NotFound) {
					t.Fatalf("an account for %s: %v", k, err)
				}
			}
			// The state is spent: the right answer after a refused one is
			// refused too (unless the refused one named another state).
			f.now, f.eid.finish, f.eid.verified = t0, nil, idCardOf(anna)
			_, err = f.svc.FinishProofing(ctx, proof.EID, answer(state))
			switch {
			case tc.kept && tc.member == anna.KVNR && err != nil:
				t.Fatalf("the state after an answer for another: %v", err)
			case !tc.kept && !errors.Is(err, fault.Unauthenticated):
				t.Fatalf("the state after a refused answer: %v", err)
			}
		})
	}
}

func TestBeginProofingRefuses(t *testing.T) {
	f := setupRedirect(t)
	for _, tc := range []struct {
		name     string
		ip       string
		method   proof.Method
		k        kvnr.KVNR
		callback string
		kind     fault.Kind
	}{
		{"unknown method", "192.0.2.7", "fax", anna.KVNR, callbackURL, fault.Invalid},
		{"a method that takes secrets", "192.0.2.7", proof.Letter, anna.KVNR, callbackURL, fault.Invalid},
		{"malformed member number", "192.0.2.7", proof.EID, "A123456789", callbackURL, fault.Invalid},
		{"no client address", "", proof.EID, anna.KVNR, callbackURL, fault.Internal},
		{"relative callback", "192.0.2.7", proof.EID, anna.KVNR, "/app/v1/proofing/eid/callback", fault.Internal},
		{"callback without http", "192.0.2.7", proof.EID, anna.KVNR, "app://callback", fault.Internal},
	} {
		if _, _, err := f.svc.BeginProofing(ctx, start(tc.ip, tc.method, tc.k, tc.callback)); err == nil || fault.KindOf(err) != tc.kind {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.kind)
		}
	}
	if len(f.eid.begins) != 0 {
		t.Fatalf("the method saw %d refused begins", len(f.eid.begins))
	}
	// Activate takes no redirect method.
	if _, _, err := f.svc.Activate(ctx, "192.0.2.7", proof.EID, anna.KVNR, nil); !errors.Is(err, fault.Invalid) {
		t.Fatalf("Activate with the eID: %v", err)
	}

	f.eid.beginErr = fault.New(fault.Unavailable, "fake", "")
	if _, _, err := f.svc.BeginProofing(ctx, start("192.0.2.7", proof.EID, anna.KVNR, callbackURL)); !errors.Is(err, fault.Unavailable) {
		t.Fatalf("service down: %v", err)
	}
	f.eid.beginErr, f.eid.noURL = nil, true
	if _, _, err := f.svc.BeginProofing(ctx, start("192.0.2.7", proof.EID, anna.KVNR, callbackURL)); !errors.Is(err, fault.Internal) {
		t.Fatalf("no URL: %v", err)
	}
	// Neither left a proofing behind.
	for _, b := range f.eid.begins {
		if _, err := f.st.TakeProofing(ctx, grant.Hash(b.State.Reveal()), t0); !errors.Is(err, fault.NotFound) {
			t.Fatalf("a failed begin was stored: %v", err)
		}
	}
}

// TestBeginProofingRateLimitedPerAddress: one address cannot fill the
// store with proofings.
func TestBeginProofingRateLimitedPerAddress(t *testing.T) {
	f := setupRedirect(t)
	for i := range registration.DefaultActivationsPerIP.Max {
		if _, _, err := f.svc.BeginProofing(ctx, start("192.0.2.7", proof.EID, anna.KVNR, callbackURL)); err != nil {
			t.Fatalf("begin %d: %v", i+1, err)
		}
	}
	_, _, err := f.svc.BeginProofing(ctx, start("192.0.2.7", proof.EID, anna.KVNR, callbackURL))
	if e := fault.RetryOf(err); !errors.Is(err, fault.RateLimited) || e == nil || e.RetryAfter <= 0 || e.Code != registration.CodeRateLimited {
		t.Fatalf("begin over the limit: %v", err)
	}
	if _, _, err := f.svc.BeginProofing(ctx, start("198.51.100.1", proof.EID, anna.KVNR, callbackURL)); err != nil {
		t.Fatalf("another address: %v", err)
	}
}

func TestNewNeedsProofingStoreForRedirects(t *testing.T) {
	w := registrationtest.NewWorld(t0, sqlstoretest.Open(t))
	d := registration.Deps{
		Members: w, Registrations: w, Letters: w, Enrollments: w, RateLimits: w, Renderer: w, Outbox: w,
		LetterHasher: letterHasher, Passwords: coretest.Passwords(), Methods: []proofing.Method{&fakeRedirector{name: proof.EID}},
	}
	if _, err := registration.New(registration.Config{Issuer: issuer, Sender: sender}, d); !errors.Is(err, fault.Invalid) {
		t.Fatalf("a redirect method without a proofing store: %v", err)
	}
}

// TestFinishProofingLogsReason: a refused match is logged with its outcome
// and reason code, never with the attributes of either side.
func TestFinishProofingLogsReason(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(a *proof.Attributes)
		want string
	}{
		{"name change", func(a *proof.Attributes) { a.FamilyName, a.BirthName = "Meyer", anna.FamilyName }, "outcome=review reason=birth_name"},
		{"partial date of birth, other address", func(a *proof.Attributes) {
			a.BirthDate, a.Address = "1984-07-00", member.Address{Street: "Am Markt 1", PostalCode: "10115"}
		}, "outcome=review reason=partial_birth_date"},
		{"upper case on the card matches", func(a *proof.Attributes) { a.GivenName, a.FamilyName = "ANNA LENA", "SCHMIDT" }, ""},
		{"partial date of birth, same address", func(a *proof.Attributes) { a.BirthDate = "1984-07-00" }, "reason=address_corroborated"},
		{"another given name", func(a *proof.Attributes) { a.GivenName = "Berta" }, "outcome=mismatch reason=given_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setupRedirect(t)
			tc.edit(&f.eid.verified)
			state := f.begin(t, anna.KVNR)
			_, err := f.finish(t, state)
			logs := f.logs.String()
			if tc.want == "" || strings.Contains(tc.want, "corroborated") {
				if err != nil {
					t.Fatalf("FinishProofing: %v", err)
				}
				if !strings.Contains(logs, tc.want) {
					t.Fatalf("log lacks %q:\n%s", tc.want, logs)
				}
				return
			}
			if !errors.Is(err, fault.Unauthenticated) || !strings.Contains(bothTexts(err), "passen nicht") {
				t.Fatalf("FinishProofing = %v", err)
			}
			if !strings.Contains(logs, tc.want) {
				t.Fatalf("log lacks %q:\n%s", tc.want, logs)
			}
			for _, v := range []string{"Meyer", "Berta", "Schmidt", "1984", "Markt", "Anna"} {
				if strings.Contains(logs, v) {
					t.Fatalf("log names %q:\n%s", v, logs)
				}
			}
		})
	}
}

// TestFinishProofingOneCardOneMember: a card that registered one member
// number cannot register another; it can register its own again.
func TestFinishProofingOneCardOneMember(t *testing.T) {
	f := setupRedirect(t)
	if _, err := f.complete(t, f.begin(t, anna.KVNR)); err != nil {
		t.Fatal(err)
	}
	// The same card (the fake service's pseudonym restricted-id-1) with
	// Carl's attributes, for Carl's member number.
	f.eid.verified = idCardOf(carl)
	_, err := f.complete(t, f.begin(t, carl.KVNR))
	if !errors.Is(err, fault.Unauthenticated) || !strings.Contains(bothTexts(err), "passen nicht") {
		t.Fatalf("another member with the same card: %v", err)
	}
	if _, err := f.st.AccountByKVNR(ctx, carl.KVNR); !errors.Is(err, fault.NotFound) {
		t.Fatalf("an account for the second member: %v", err)
	}
	if logs := f.logs.String(); !strings.Contains(logs, "reason=holder_linked") || strings.Contains(logs, "restricted-id-1") {
		t.Fatalf("log:\n%s", logs)
	}
	// Anna's own card again (a new phone, say): fine.
	f.eid.verified = idCardOf(anna)
	if _, err := f.complete(t, f.begin(t, anna.KVNR)); err != nil {
		t.Fatalf("the same card for its own member again: %v", err)
	}
}

// TestFinishProofingWithoutBinding: a proofing stored without the hash of
// an enrollment token, a return address or a code challenge (begun before
// proofings were bound to the app) confirms nothing, since nobody could
// redeem it safely.
func TestFinishProofingWithoutBinding(t *testing.T) {
	for name, edit := range map[string]func(*proof.Pending){
		"token":     func(p *proof.Pending) { p.TokenHash = "" },
		"return":    func(p *proof.Pending) { p.ReturnURI = "" },
		"challenge": func(p *proof.Pending) { p.Challenge = "" },
	} {
		t.Run(name, func(t *testing.T) {
			f := setupRedirect(t)
			state := f.begin(t, anna.KVNR)
			p, err := f.st.TakeProofing(ctx, grant.Hash(state), t0)
			if err != nil {
				t.Fatal(err)
			}
			edit(&p)
			if err := f.st.BeginProofing(ctx, p); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.FinishProofing(ctx, proof.EID, answer(state)); !errors.Is(err, fault.Unauthenticated) {
				t.Fatalf("FinishProofing: %v", err)
			}
			if _, err := f.st.AccountByKVNR(ctx, anna.KVNR); !errors.Is(err, fault.NotFound) {
				t.Fatalf("an account: %v", err)
			}
		})
	}
}

// TestRelayedConfirmationRefused is the relay attack: somebody begins with
// Anna's member number in their own app and gets Anna to confirm at the
// eID service's URL. Anna's browser takes the one-time code to the return
// address on her own device; the app that began holds the token and the
// verifier but not the code, and whoever holds the code lacks them. No
// combination short of all three opens the session, and every attempt
// spends the code.
func TestRelayedConfirmationRefused(t *testing.T) {
	for _, tc := range []struct {
		name            string
		token, verifier func(f *redirectFixture) string
	}{
		{"the code with another app's token and verifier (Anna's own app)",
			func(*redirectFixture) string { return grant.NewSecret() },
			func(*redirectFixture) string { return "annas-own-app-verifier-0123456789-0123456789" }},
		{"the code with the token but another verifier",
			func(f *redirectFixture) string { return f.token },
			func(*redirectFixture) string { return "a-guessed-verifier-0123456789-0123456789-012" }},
		{"the code with the verifier but another token",
			func(*redirectFixture) string { return grant.NewSecret() },
			func(*redirectFixture) string { return appVerifier }},
		{"the code with the challenge instead of the verifier",
			func(f *redirectFixture) string { return f.token },
			func(*redirectFixture) string { return challengeOf(appVerifier) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setupRedirect(t)
			code, err := f.finish(t, f.begin(t, anna.KVNR))
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.RedeemProofing(ctx, tc.token(f), code, tc.verifier(f))
			if !errors.Is(err, fault.Unauthenticated) || !strings.Contains(bothTexts(err), "gehört nicht zu dieser App") {
				t.Fatalf("RedeemProofing = %v", err)
			}
			if !strings.Contains(f.logs.String(), "presented by an app that did not begin") {
				t.Fatalf("log:\n%s", f.logs.String())
			}
			// Spent: the rightful combination afterwards is refused too.
			if _, err := f.svc.RedeemProofing(ctx, f.token, code, appVerifier); !errors.Is(err, fault.Unauthenticated) {
				t.Fatalf("redeem after a foreign attempt: %v", err)
			}
			if _, err := f.st.AccountByKVNR(ctx, anna.KVNR); !errors.Is(err, fault.NotFound) {
				t.Fatalf("an account: %v", err)
			}
			if _, err := f.svc.EnrollmentStatus(ctx, f.token); !errors.Is(err, fault.Unauthenticated) {
				t.Fatalf("the token opens a session: %v", err)
			}
		})
	}
	t.Run("the app that began without the code", func(t *testing.T) {
		f := setupRedirect(t)
		if _, err := f.finish(t, f.begin(t, anna.KVNR)); err != nil {
			t.Fatal(err)
		}
		for _, code := range []string{"", grant.NewSecret(), strings.Repeat("a", 300)} {
			if _, err := f.svc.RedeemProofing(ctx, f.token, code, appVerifier); !errors.Is(err, fault.Unauthenticated) {
				t.Fatalf("code %q: %v", code, err)
			}
		}
		if _, err := f.svc.EnrollmentStatus(ctx, f.token); !errors.Is(err, fault.Unauthenticated) {
			t.Fatalf("the token opens a session: %v", err)
		}
	})
}

// TestConfirmationExpires: a code redeemed after proof.ConfirmTTL is
// refused, and spent.
func TestConfirmationExpires(t *testing.T) {
	f := setupRedirect(t)
	code, err := f.finish(t, f.begin(t, anna.KVNR))
	if err != nil {
		t.Fatal(err)
	}
	f.now = t0.Add(proof.ConfirmTTL)
	_, err = f.svc.RedeemProofing(ctx, f.token, code, appVerifier)
	if !errors.Is(err, fault.Expired) || !strings.Contains(bothTexts(err), "abgelaufen") {
		t.Fatalf("late redeem: %v", err)
	}
	f.now = t0
	if _, err := f.svc.RedeemProofing(ctx, f.token, code, appVerifier); !errors.Is(err, fault.Unauthenticated) {
		t.Fatalf("redeem after the expired attempt: %v", err)
	}
}

// TestConcurrentRedeem: of N redemptions of one code at once, one opens
// the session.
func TestConcurrentRedeem(t *testing.T) {
	f := setupRedirect(t)
	code, err := f.finish(t, f.begin(t, anna.KVNR))
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = f.svc.RedeemProofing(ctx, f.token, code, appVerifier) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, fault.Unauthenticated):
			t.Fatalf("redeem: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d redemptions won, want 1", won)
	}
}

// TestBeginProofingBindsTheApp: the return address must be the app's and
// the challenge an S256 one.
func TestBeginProofingBindsTheApp(t *testing.T) {
	f := setupRedirect(t)
	for _, tc := range []struct {
		name      string
		ret, chal string
		code      string
	}{
		{"no return address", "", challengeOf(appVerifier), "proofing.return_uri"},
		{"an attacker's site", "https://evil.example/eid", challengeOf(appVerifier), "proofing.return_uri"},
		{"the app's address with another query", "de.beispiel-bkk.serviceapp:/eid?from=evil", challengeOf(appVerifier), "proofing.return_uri"},
		{"localhost by name", "http://localhost:8000/eid", challengeOf(appVerifier), "proofing.return_uri"},
		{"loopback without port", "http://127.0.0.1/eid", challengeOf(appVerifier), "proofing.return_uri"},
		{"loopback over https", "https://127.0.0.1:8000/eid", challengeOf(appVerifier), "proofing.return_uri"},
		{"a private address", "http://192.168.1.5:8000/eid", challengeOf(appVerifier), "proofing.return_uri"},
		{"oversized", "http://127.0.0.1:8000/" + strings.Repeat("a", 3000), challengeOf(appVerifier), "proofing.return_uri"},
		{"no challenge", appReturn, "", "proofing.code_challenge"},
		{"a plain verifier as challenge", appReturn, "too-short", "proofing.code_challenge"},
		{"not base64url", appReturn, strings.Repeat("+", 43), "proofing.code_challenge"},
	} {
		in := start("192.0.2.7", proof.EID, anna.KVNR, callbackURL)
		in.ReturnURI, in.CodeChallenge = tc.ret, tc.chal
		_, _, err := f.svc.BeginProofing(ctx, in)
		if c, _ := fault.CodeOf(err); !errors.Is(err, fault.Invalid) || string(c) != tc.code {
			t.Errorf("%s: %v, want Invalid %s", tc.name, err, tc.code)
		}
	}
	for _, ret := range []string{"http://127.0.0.1:49152/eid", "http://[::1]:8000/cb?x=1"} {
		in := start("192.0.2.7", proof.EID, anna.KVNR, callbackURL)
		in.ReturnURI = ret
		if _, _, err := f.svc.BeginProofing(ctx, in); err != nil {
			t.Errorf("loopback %s: %v", ret, err)
		}
	}
	if len(f.eid.begins) != 2 {
		t.Fatalf("the method saw %d begins, want the 2 accepted", len(f.eid.begins))
	}
}

// letterAccount makes anna an active account proofed by letter.
func (f *redirectFixture) letterAccount(t *testing.T) account.Account {
	t.Helper()
	_, sess, err := f.svc.Activate(ctx, "192.0.2.7", proof.Letter, anna.KVNR, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.SetAccountStatus(ctx, sess.AccountID, account.Active, f.now); err != nil {
		t.Fatal(err)
	}
	a, err := f.st.AccountByID(ctx, sess.AccountID)
	if err != nil || a.Proofing != loa.Substantial {
		t.Fatalf("letter account %+v %v", a, err)
	}
	return a
}

// beginStepUp begins a step-up of account id and returns its state.
func (f *redirectFixture) beginStepUp(t *testing.T, id string) string {
	t.Helper()
	_, token, err := f.svc.BeginStepUp(ctx, start("192.0.2.7", proof.EID, "", callbackURL), id)
	if err != nil {
		t.Fatal(err)
	}
	f.token = token
	return f.eid.lastState()
}

// TestStepUp: a letter-proofed member, logged in, proves the identity with
// the eID; the account is raised to high with the proof recorded, and no
// enrollment session is opened.
func TestStepUp(t *testing.T) {
	f := setupRedirect(t)
	a := f.letterAccount(t)
	code, err := f.finish(t, f.beginStepUp(t, a.ID))
	if err != nil {
		t.Fatal(err)
	}
	// A registration's redemption does not take a step-up's code (spent).
	if _, err := f.svc.RedeemProofing(ctx, f.token, code, appVerifier); !errors.Is(err, fault.Unauthenticated) {
		t.Fatalf("step-up code at the registration: %v", err)
	}
	code, err = f.finish(t, f.beginStepUp(t, a.ID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RedeemStepUp(ctx, f.token, code, "another-verifier-0123456789-0123456789-0123"); !errors.Is(err, fault.Unauthenticated) {
		t.Fatalf("step-up with another verifier: %v", err)
	}
	code, err = f.finish(t, f.beginStepUp(t, a.ID))
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.RedeemStepUp(ctx, f.token, code, appVerifier)
	if err != nil || got.ID != a.ID || got.Proofing != loa.High || got.Status != account.Active {
		t.Fatalf("RedeemStepUp = %+v, %v", got, err)
	}
	ps, err := f.st.Proofs(ctx, a.ID)
	if err != nil || len(ps) != 2 || ps[1].Method != proof.EID || ps[1].Level != loa.High {
		t.Fatalf("proofs %+v %v", ps, err)
	}
	if _, err := f.svc.EnrollmentStatus(ctx, f.token); !errors.Is(err, fault.Unauthenticated) {
		t.Fatalf("a step-up opened an enrollment session: %v", err)
	}
	if _, err := f.svc.RedeemStepUp(ctx, f.token, code, appVerifier); !errors.Is(err, fault.Unauthenticated) {
		t.Fatalf("replayed step-up code: %v", err)
	}
	// High now: nothing more to raise.
	_, _, err = f.svc.BeginStepUp(ctx, start("192.0.2.7", proof.EID, "", callbackURL), a.ID)
	if c, _ := fault.CodeOf(err); !errors.Is(err, fault.Conflict) || c != registration.CodeAlreadyHigh {
		t.Fatalf("step-up at high: %v", err)
	}
}

// TestStepUpProvesOnlyTheMember: the card must be the logged-in member's;
// another person's card is refused as a mismatch and the level stays.
func TestStepUpProvesOnlyTheMember(t *testing.T) {
	f := setupRedirect(t)
	a := f.letterAccount(t)
	f.eid.verified = idCardOf(carl)
	_, err := f.finish(t, f.beginStepUp(t, a.ID))
	if !errors.Is(err, fault.Unauthenticated) || !strings.Contains(bothTexts(err), "passen nicht") {
		t.Fatalf("another person's card: %v", err)
	}
	if got, _ := f.st.AccountByID(ctx, a.ID); got.Proofing != loa.Substantial {
		t.Fatalf("level after a refused step-up: %v", got.Proofing)
	}
	// A pending account (enrollment not finished) and unknown accounts
	// cannot step up.
	_, sess, err := f.svc.Activate(ctx, "192.0.2.7", proof.Letter, carl.KVNR, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f.svc.BeginStepUp(ctx, start("192.0.2.7", proof.EID, "", callbackURL), sess.AccountID)
	if c, _ := fault.CodeOf(err); !errors.Is(err, fault.Forbidden) || c != registration.CodeStepUpUnavailable {
		t.Fatalf("step-up of a pending account: %v", err)
	}
	if _, _, err := f.svc.BeginStepUp(ctx, start("192.0.2.7", proof.EID, "", callbackURL), "acct-nope"); !errors.Is(err, fault.Internal) {
		t.Fatalf("step-up of an unknown account: %v", err)
	}
}

// TestStepUpReconfirmsTheDevice: a step-up begun for a device binding
// confirms that binding again once the proof is recorded — also for an
// account at high already, which confirms its devices so; without a
// binding an account at high has nothing to step up.
func TestStepUpReconfirmsTheDevice(t *testing.T) {
	f := setupRedirect(t)
	a := f.letterAccount(t)
	code, err := f.finish(t, f.beginStepUp(t, a.ID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RedeemStepUp(ctx, f.token, code, appVerifier); err != nil {
		t.Fatal(err)
	}
	if len(f.devices.calls) != 0 {
		t.Fatalf("a step-up without a binding confirmed %v", f.devices.calls)
	}
	in := start("192.0.2.7", proof.EID, "", callbackURL)
	in.BindingID = "bind-1"
	_, token, err := f.svc.BeginStepUp(ctx, in, a.ID)
	if err != nil {
		t.Fatalf("step-up for a device of an account at high: %v", err)
	}
	f.token = token
	code, err = f.finish(t, f.eid.lastState())
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.RedeemStepUp(ctx, f.token, code, appVerifier)
	if err != nil || got.Proofing != loa.High {
		t.Fatalf("RedeemStepUp: %+v, %v", got, err)
	}
	if want := []string{"bind-1/" + a.ID}; !slices.Equal(f.devices.calls, want) {
		t.Fatalf("confirmed %v, want %v", f.devices.calls, want)
	}
	// A binding gone meanwhile: the refusal reaches the app.
	f.devices.err = fault.Coded(fault.Forbidden, "binding.ReconfirmWithEID", "device.gone")
	_, f.token, err = f.svc.BeginStepUp(ctx, in, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if code, err = f.finish(t, f.eid.lastState()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RedeemStepUp(ctx, f.token, code, appVerifier); !errors.Is(err, fault.Forbidden) {
		t.Fatalf("RedeemStepUp for a binding gone: %v", err)
	}
	// A registration carries no binding, whatever the app sent.
	reg := start("192.0.2.7", proof.EID, anna.KVNR, callbackURL)
	reg.BindingID = "bind-1"
	if _, _, err := f.svc.BeginProofing(ctx, reg); err != nil {
		t.Fatal(err)
	}
	p, err := f.st.TakeProofing(ctx, grant.Hash(f.eid.lastState()), f.now)
	if err != nil || p.BindingID != "" || p.AccountID != "" {
		t.Fatalf("registration proofing %+v, %v", p, err)
	}
}
