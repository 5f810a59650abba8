package applogin_test

import (
	"context"
	"errors"
	"github.com/pforte-id/pforte/catalog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/applogin"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

	app    = client.Client{ID: "service-app", Kind: client.Native, AuthMethod: client.AuthNone, RedirectURIs: []string{"http://127.0.0.1/callback"}}
	form   = client.Client{ID: "online-form", Kind: client.Web, AuthMethod: client.AuthSecretBasic, RedirectURIs: []string{"https://forms.kasse.example/cb"}}
	portal = client.Client{ID: "partner-portal", Kind: client.Portal, AuthMethod: client.AuthPrivateKeyJWT, RedirectURIs: []string{"https://portal.partner.example/cb"}}
)

const (
	requestID = "req-app-1"
	bindingID = "binding-1"
	pin       = "583920"
	ip        = "203.0.113.7"
)

// letterLogin is what core/binding proves for a letter-proofed member.
var letterLogin = loa.Authentication{
	Subject: "account-anna", Proofing: loa.Substantial, AMR: []string{loa.AMRHardware, loa.AMRPIN}, Time: t0, BindingID: bindingID,
}

type fixture struct {
	srv   *server
	phone *phone
	opts  applogin.Options
	svc   *applogin.Service
}

// setup has one pending request of the app, with state, and a phone that
// authenticates as a letter-proofed member.
func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{srv: newServer(t, t0), phone: &phone{auth: letterLogin}}
	f.srv.add(grant.AuthRequest{ID: requestID, RedirectURI: app.RedirectURIs[0], State: "st-1", Nonce: "n-1"}, app)
	svc, err := applogin.New(f.srv, f.phone, f.opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

func wantKind(t *testing.T, what string, err error, k fault.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, k)
	}
	if !errors.Is(err, k) {
		t.Fatalf("%s: %v (kind %v), want %v", what, err, fault.KindOf(err), k)
	}
}

func TestAppLogin(t *testing.T) {
	f := setup(t)
	challenge, options, err := f.svc.Begin(ctx, requestID, bindingID)
	if err != nil {
		t.Fatal(err)
	}
	if challenge == "" || len(options) == 0 {
		t.Fatalf("challenge %q, options %s", challenge, options)
	}
	to, err := f.svc.Complete(ctx, requestID, challenge, []byte(`{"assertion":1}`), pin, ip)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme+"://"+u.Host+u.Path != app.RedirectURIs[0] || q.Get("code") == "" || q.Get("state") != "st-1" || q.Get("iss") != issuer {
		t.Fatalf("redirect %s", to)
	}
	begun, answered := f.phone.calls()
	if !slices.Equal(begun, []string{bindingID + "/" + requestID}) || !slices.Equal(answered, []string{challenge + "/" + requestID}) {
		t.Fatalf("device calls: begun %v, answered %v", begun, answered)
	}
	// The code carries the login, with the binding it was made with.
	if l := f.srv.redeem(q.Get("code")); l.BindingID != bindingID || l.Subject != letterLogin.Subject {
		t.Fatalf("login in the code %+v", l)
	}
	// The request is done — its code took its place — so neither step
	// works again.
	_, _, err = f.svc.Begin(ctx, requestID, bindingID)
	wantKind(t, "Begin after the login", err, fault.NotFound)
	_, err = f.svc.Complete(ctx, requestID, challenge, nil, pin, ip)
	wantKind(t, "Complete after the login", err, fault.NotFound)
}

// TestRequestRefusals: requests the app may not complete are refused by
// both steps before the device is asked anything, so that no challenge is
// issued and no PIN attempt is spent for them.
func TestRequestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(f *fixture) string
		kind    fault.Kind
		text    string
	}{
		{"unknown request", func(*fixture) string { return "no-such-request" }, fault.NotFound, ""},
		{"empty request id", func(*fixture) string { return "" }, fault.NotFound, "unbekannt"},
		{"oversized request id", func(*fixture) string { return strings.Repeat("r", 129) }, fault.NotFound, "unbekannt"},
		{"expired request", func(f *fixture) string {
			f.srv.add(grant.AuthRequest{ID: "req-old", RedirectURI: app.RedirectURIs[0], ExpiresAt: t0}, app)
			return "req-old"
		}, fault.Expired, ""},
		{"completed request", func(f *fixture) string {
			f.srv.add(grant.AuthRequest{ID: "req-done", RedirectURI: app.RedirectURIs[0], Login: &grant.Login{Subject: "x"}}, app)
			return "req-done"
		}, fault.Conflict, ""},
		{"web client refused", func(f *fixture) string {
			f.srv.add(grant.AuthRequest{ID: "req-form", RedirectURI: form.RedirectURIs[0]}, form)
			return "req-form"
		}, fault.Forbidden, "im Browser"},
		{"partner portal refused", func(f *fixture) string {
			f.srv.add(grant.AuthRequest{ID: "req-portal", RedirectURI: portal.RedirectURIs[0]}, portal)
			return "req-portal"
		}, fault.Forbidden, "im Browser"},
		{"store unavailable", func(f *fixture) string {
			f.srv.setDown(fault.New(fault.Unavailable, "test", ""))
			return requestID
		}, fault.Unavailable, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			id := tc.prepare(f)
			_, _, err := f.svc.Begin(ctx, id, bindingID)
			wantKind(t, "Begin", err, tc.kind)
			_, err = f.svc.Complete(ctx, id, "challenge-for-"+id, []byte(`{}`), pin, ip)
			wantKind(t, "Complete", err, tc.kind)
			if !strings.Contains(catalog.German.Error(err), tc.text) {
				t.Errorf("text %q lacks %q", catalog.German.Error(err), tc.text)
			}
			if re := asRedirect(err); re != nil {
				t.Errorf("a request the app may not complete must not redirect to its client: %v", err)
			}
			if begun, answered := f.phone.calls(); len(begun)+len(answered) != 0 {
				t.Fatalf("the device was asked: begun %v, answered %v", begun, answered)
			}
			if l := f.srv.login(id); l != nil && l.Subject == letterLogin.Subject {
				t.Fatalf("completed %+v", l)
			}
		})
	}
}

// TestDeviceRefusals: what core/binding refuses reaches the caller
// unchanged (the HTTP layer reads the PIN code, Remaining and RetryAt from it), and the
// request is not completed.
func TestDeviceRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"wrong PIN", fault.New(fault.Unauthenticated, "binding.AuthenticateLogin", "Die PIN ist falsch. Verbleibende Versuche: 4.")},
		{"blocked binding", fault.New(fault.Locked, "binding.AuthenticateLogin", "gesperrt")},
		{"revoked binding", fault.New(fault.Forbidden, "binding.AuthenticateLogin", "nicht (mehr)")},
		{"assertion for another authorization request", fault.New(fault.Unauthenticated, "binding.AuthenticateLogin", "anderen Anmeldung")},
		{"replayed challenge", fault.New(fault.Unauthenticated, "binding.AuthenticateLogin", "schon verwendet")},
		{"expired challenge", fault.New(fault.Expired, "binding.AuthenticateLogin", "abgelaufen")},
		{"management challenge", fault.New(fault.Unauthenticated, "binding.AuthenticateLogin", "unbekannt")},
		{"PIN entered too early", fault.New(fault.RateLimited, "binding.AuthenticateLogin", "warten")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			f.phone.err = tc.err
			_, err := f.svc.Complete(ctx, requestID, "challenge-for-"+requestID, []byte(`{}`), pin, ip)
			if err != tc.err {
				t.Fatalf("error %v, want %v unchanged", err, tc.err)
			}
			if l := f.srv.login(requestID); l != nil {
				t.Fatalf("completed after a refused device step: %+v", l)
			}
			// The request is still pending: the app may try again.
			f.phone.err = nil
			if _, err := f.svc.Complete(ctx, requestID, "challenge-for-"+requestID, []byte(`{}`), pin, ip); err != nil {
				t.Fatalf("second try: %v", err)
			}
		})
	}
	for _, k := range []fault.Kind{fault.Locked, fault.Forbidden} {
		f := setup(t)
		f.phone.beginErr = fault.New(k, "binding.BeginLogin", "")
		_, _, err := f.svc.Begin(ctx, requestID, bindingID)
		if err != f.phone.beginErr {
			t.Fatalf("Begin: %v, want the binding's %v unchanged", err, k)
		}
	}
}

// TestLevelNotReachable: acr_values asking for more than the account's
// proofing gives ends in an error for the client, with a text that says
// why; other acr_values and max_age are met.
func TestLevelNotReachable(t *testing.T) {
	zero := time.Duration(0)
	for _, tc := range []struct {
		name     string
		acr      []string
		maxAge   *time.Duration
		proofing loa.Level
		kind     fault.Kind // 0: the login completes
		text     string
	}{
		{"acr high for a letter-proofed account", []string{loa.EIDAS.High}, nil, loa.Substantial, fault.Forbidden, "eID"},
		{"acr high, then substantial", []string{loa.EIDAS.High, loa.EIDAS.Substantial}, nil, loa.Substantial, 0, ""},
		{"acr substantial", []string{loa.EIDAS.Substantial}, nil, loa.Substantial, 0, ""},
		{"acr high for an eID-proofed account", []string{loa.EIDAS.High}, nil, loa.High, 0, ""},
		{"acr substantial for an unproofed account", []string{loa.EIDAS.Substantial}, nil, loa.Low, fault.Forbidden, "identity proofing"},
		{"unknown acr values are voluntary", []string{"urn:example:gold"}, nil, loa.Substantial, 0, ""},
		{"max_age 0: the PIN is always fresh", nil, &zero, loa.Substantial, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			f.srv.add(grant.AuthRequest{ID: "req-acr", RedirectURI: app.RedirectURIs[0], State: "st-acr", ACRValues: tc.acr, MaxAge: tc.maxAge}, app)
			f.phone.auth.Proofing = tc.proofing
			to, err := f.svc.Complete(ctx, "req-acr", "challenge-for-req-acr", []byte(`{}`), pin, ip)
			if tc.kind == 0 {
				if err != nil || !strings.Contains(to, "code=") {
					t.Fatalf("redirect %q, error %v", to, err)
				}
				return
			}
			re := asRedirect(err)
			if re == nil {
				t.Fatalf("error %v, want an error for the client", err)
			}
			wantKind(t, tc.name, re.Err, tc.kind)
			if re.RedirectURI != app.RedirectURIs[0] || re.State != "st-acr" {
				t.Fatalf("redirect error to %q, state %q", re.RedirectURI, re.State)
			}
			text := fault.PublicOf(re.Err)
			if !strings.Contains(text, tc.text) {
				t.Fatalf("text %q lacks %q", text, tc.text)
			}
			for _, r := range text {
				if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
					t.Fatalf("error_description must be printable ASCII without quote and backslash (RFC 6749 §4.1.2.1): %q", text)
				}
			}
			u, err := url.Parse(f.svc.ErrorRedirect(fault.Redirect{URI: re.RedirectURI, State: re.State}, "access_denied", text))
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			if q.Get("error") != "access_denied" || q.Get("error_description") != text || q.Get("state") != "st-acr" || q.Get("iss") != issuer {
				t.Fatalf("error redirect %s", u)
			}
			// The request stays pending until it expires.
			if _, _, err := f.svc.Begin(ctx, "req-acr", bindingID); err != nil {
				t.Fatalf("Begin after the refusal: %v", err)
			}
		})
	}
}

// TestStepUpCode: with the eID step-up offered, a letter-proofed member's
// login asking for high carries login.step_up_eid, which tells the app to
// run the step-up; without it, or for an unproofed account, it does not.
func TestStepUpCode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		offered  bool
		proofing loa.Level
		want     fault.Code
		text     string
	}{
		{"offered, letter-proofed", true, loa.Substantial, applogin.CodeStepUpEID, "/app/v1/step-up"},
		{"not offered", false, loa.Substantial, "", "not available here"},
		{"offered, unproofed", true, loa.Low, "", "identity proofing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fixture{srv: newServer(t, t0), phone: &phone{auth: letterLogin}, opts: applogin.Options{StepUpEID: tc.offered}}
			svc, err := applogin.New(f.srv, f.phone, f.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			f.srv.add(grant.AuthRequest{ID: "req-acr", RedirectURI: app.RedirectURIs[0], State: "st", ACRValues: []string{loa.EIDAS.High}}, app)
			f.phone.auth.Proofing = tc.proofing
			_, err = svc.Complete(ctx, "req-acr", "challenge-for-req-acr", []byte(`{}`), pin, ip)
			if _, ok := fault.RedirectOf(err); !ok || !errors.Is(err, fault.Forbidden) {
				t.Fatalf("error %v, want Forbidden for the client", err)
			}
			if code, _ := fault.CodeOf(err); code != tc.want {
				t.Fatalf("code %q, want %q", code, tc.want)
			}
			if !strings.Contains(fault.PublicOf(err), tc.text) {
				t.Fatalf("text %q lacks %q", fault.PublicOf(err), tc.text)
			}
		})
	}
}

// TestMaxAgePassesThrough: should the authorization server refuse a
// login for max_age, the app gets that error redirect unchanged.
func TestMaxAgePassesThrough(t *testing.T) {
	f := setup(t)
	zero := time.Duration(0)
	f.srv.add(grant.AuthRequest{ID: "req-age", RedirectURI: app.RedirectURIs[0], MaxAge: &zero}, app)
	f.phone.auth.Time = t0.Add(-time.Hour) // never so in core/binding
	_, err := f.svc.Complete(ctx, "req-age", "challenge-for-req-age", []byte(`{}`), pin, ip)
	re := asRedirect(err)
	if re == nil {
		t.Fatalf("error %v, want an error for the client", err)
	}
	wantKind(t, "max_age", re.Err, fault.Unauthenticated)
	if !strings.Contains(fault.PublicOf(re.Err), "max_age") {
		t.Fatalf("text %q", fault.PublicOf(re.Err))
	}
}

func TestNew(t *testing.T) {
	if _, err := applogin.New(nil, &phone{}, applogin.Options{}, nil); !errors.Is(err, fault.Invalid) {
		t.Fatalf("without authorization server: %v", err)
	}
	if _, err := applogin.New(newServer(t, t0), nil, applogin.Options{}, nil); !errors.Is(err, fault.Invalid) {
		t.Fatalf("without devices: %v", err)
	}
}
