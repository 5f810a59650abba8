package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/proofing/eid"
	"github.com/pforte-id/pforte/adapters/proofing/eid/devbroker"
	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/dpop"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/member"
)

// Registration with the electronic ID card, as the Service-App and the
// member go through it: POST /app/v1/registrations with method eid (and
// the app's return address and code challenge) gives the app the eID
// service's URL and the token of the enrollment session to come; the
// member confirms the identity at the development eID broker, which sends
// the browser back to Pforte's callback, and Pforte on to the app's return
// address with a one-time code; the app redeems it (POST
// /app/v1/enrollment) with its token and verifier, then sets password,
// device and PIN as after a letter. The login that follows reaches high.

const (
	eidClientID     = "pforte"
	eidClientSecret = "dev-broker-secret"
	// eidAppReturn is the Service-App's return address (its app link).
	eidAppReturn = "de.hkk.serviceapp:/eid"
)

// eidApp is one app's side of a registration with the eID: what it got
// and what it keeps.
type eidApp struct {
	authURL, token, verifier string
}

// cardOf is the identity card of m as the development broker states it.
func cardOf(m member.Member, restrictedID string) devbroker.Identity {
	return devbroker.Identity{
		Label: m.GivenName + " " + m.FamilyName, GivenName: m.GivenName, FamilyName: m.FamilyName, BirthDate: m.BirthDate,
		Address: devbroker.Address{
			Street: m.Address.Street, PostalCode: m.Address.PostalCode, Locality: m.Address.Locality, Country: m.Address.Country,
		},
		RestrictedID: restrictedID,
	}
}

// eidServer is a Pforte instance with the eID method against its own
// development broker, whose identities are cards.
type eidServer struct {
	*instance
	callback string
}

// startWithEID starts the development broker with cards (edit changes
// its configuration) and a server of w that uses it.
func (w *world) startWithEID(t *testing.T, eng engine, cards []devbroker.Identity, edit func(*devbroker.Config), opts ...startOption) eidServer {
	t.Helper()
	ln, base := servertest.Listen(t)
	callback := base + server.EIDCallbackPath
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := devbroker.Config{
		Issuer: "http://" + bl.Addr().String(), Environment: "test",
		Clients:    []devbroker.Client{{ID: eidClientID, Secret: eidClientSecret, RedirectURIs: []string{callback}}},
		Identities: cards,
	}
	if edit != nil {
		edit(&cfg)
	}
	b, err := devbroker.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Serve(ctx, bl) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	withEID := func(o *server.Options) {
		o.EID = &server.EIDOptions{Broker: eid.Config{
			Issuer: cfg.Issuer, ClientID: eidClientID, ClientSecret: eidClientSecret,
			Profile: eid.Profile{Pseudonym: eid.Hex},
		}, AppReturnURIs: []string{eidAppReturn}}
	}
	in := w.serve(t, ln, base, eng.storage(t), append(opts, withEID)...)
	return eidServer{instance: in, callback: callback}
}

// beginEID is the app's POST /app/v1/registrations with method eid; it
// returns the eID service's URL, the enrollment token and the app's
// verifier.
func (in eidServer) beginEID(t *testing.T, k string) eidApp {
	t.Helper()
	verifier, challenge := appclient.NewVerifier()
	r := sendJSON(t, http.MethodPost, in.base+"/app/v1/registrations", map[string]string{
		"kvnr": k, "method": "eid", "return_uri": eidAppReturn, "code_challenge": challenge, "code_challenge_method": "S256",
	}, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("begin eID: status %d, want 201: %s", r.status, r.body)
	}
	var body struct {
		Status    string   `json:"status"`
		URL       string   `json:"authorization_url"`
		Token     string   `json:"enrollment_token"`
		Type      string   `json:"token_type"`
		ExpiresIn int      `json:"expires_in"`
		Next      []string `json:"next_steps"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Status != "redirect" || body.Type != "Bearer" || len(body.Token) < 43 || body.ExpiresIn != 900 ||
		strings.Join(body.Next, " ") != "eid password device pin" {
		t.Fatalf("begin eID: %s", r.body)
	}
	// The token is the app's: the URL the browser opens does not carry it.
	if strings.Contains(body.URL, body.Token) || strings.Contains(body.URL, verifier) {
		t.Fatal("the enrollment token or verifier is in the eID service's URL")
	}
	return eidApp{authURL: body.URL, token: body.Token, verifier: verifier}
}

// codeAtApp is the member tapping "Zurück zur Service-App" on Pforte's
// page after the eID service, and the app link receiving it: it returns
// the one-time code.
func codeAtApp(t *testing.T, page result) string {
	t.Helper()
	m := regexp.MustCompile(`id="return" href="([^"]+)"`).FindSubmatch(page.body)
	if page.status != http.StatusOK || m == nil || !strings.Contains(string(page.body), "Identität bestätigt") {
		t.Fatalf("callback: status %d, want the page linking to the app: %s", page.status, page.body)
	}
	link := html.UnescapeString(string(m[1]))
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, eidAppReturn+"?") || u.Query().Get("code") == "" {
		t.Fatalf("the page links to %q, want the app's return address with a code", link)
	}
	if cc := page.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("callback Cache-Control %q", cc)
	}
	if rp := page.header.Get("Referrer-Policy"); rp != "same-origin" && rp != "no-referrer" {
		t.Fatalf("callback Referrer-Policy %q", rp)
	}
	return u.Query().Get("code")
}

// redeem is the app's POST /app/v1/enrollment.
func (in eidServer) redeem(t *testing.T, token, code, verifier string) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/enrollment", map[string]string{"code": code, "code_verifier": verifier},
		map[string]string{"Authorization": "Bearer " + token, "Accept-Language": "de"})
}

// enrollmentStatus is the app's GET /app/v1/enrollment.
func (in eidServer) enrollmentStatus(t *testing.T, token string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, in.base+"/app/v1/enrollment", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return do(t, req)
}

// atBroker is the member at the development broker's page: it opens the
// authorization URL, picks card pick (or cancels with action "cancel"),
// and returns the URL the broker sends the browser back to.
func atBroker(t *testing.T, authURL, action, pick string) *url.URL {
	t.Helper()
	r := get(t, authURL, nil)
	if r.status != http.StatusFound {
		t.Fatalf("authorize at the broker: status %d: %s", r.status, r.body)
	}
	page, _ := url.Parse(authURL)
	page, _ = page.Parse(r.header.Get("Location"))
	r = get(t, page.String(), nil)
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		t.Fatalf("the broker's page: status %d: %s", r.status, r.body)
	}
	form := url.Values{"id": {string(m[1])}, "identity": {pick}, "action": {action}}
	r = postForm(t, page.ResolveReference(&url.URL{Path: page.Path}).String(), form, nil)
	next, _ := page.Parse(r.header.Get("Location"))
	if action == "confirm" {
		// The provider's own callback issues the code.
		r = get(t, next.String(), nil)
		next, _ = next.Parse(r.header.Get("Location"))
	}
	return next
}

// backAtPforte is the browser arriving at Pforte's callback.
func (in eidServer) backAtPforte(t *testing.T, back *url.URL) result {
	t.Helper()
	if !strings.HasPrefix(back.String(), in.callback+"?") {
		t.Fatalf("the broker sent the browser to %q, want the callback %s", back, in.callback)
	}
	return get(t, back.String(), map[string]string{"Accept-Language": "de"})
}

func TestEIDRegistrationEndToEnd(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Hannelore", "Kückelhahn", "1958-03-14", w.clock.Now())
		in := w.startWithEID(t, eng, []devbroker.Identity{cardOf(m, "c0ffee00112233445566778899aabbcc")}, nil, withServiceApp)
		in.importMembers(t, m)

		app := in.beginEID(t, m.KVNR.String())
		token := app.token
		if r := in.enrollmentStatus(t, token); r.status != http.StatusUnauthorized {
			t.Fatalf("status before the eID: %d: %s", r.status, r.body)
		}
		back := atBroker(t, app.authURL, "confirm", "0")
		page := in.backAtPforte(t, back)
		code := codeAtApp(t, page)
		if strings.Contains(string(page.body), token) || strings.Contains(string(page.body), app.verifier) {
			t.Fatal("the enrollment token or verifier is on the page")
		}
		// The browser's arrival alone opens nothing.
		if r := in.enrollmentStatus(t, token); r.status != http.StatusUnauthorized {
			t.Fatalf("status before the app redeemed the code: %d: %s", r.status, r.body)
		}
		if r := in.redeem(t, token, code, app.verifier); r.status != http.StatusCreated ||
			!strings.Contains(string(r.body), `"next_steps":["password","device","pin"]`) {
			t.Fatalf("redeem: %d: %s", r.status, r.body)
		}
		r := in.enrollmentStatus(t, token)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"next_steps":["password","device","pin"]`) {
			t.Fatalf("status after the eID: %d: %s", r.status, r.body)
		}
		// The code is single use.
		if r := in.redeem(t, token, code, app.verifier); r.status != http.StatusUnauthorized ||
			!strings.Contains(string(r.body), "proofing.confirmation_unknown") {
			t.Fatalf("replayed code: %d: %s", r.status, r.body)
		}
		// The answer is taken once: the same callback again is refused.
		again := in.backAtPforte(t, back)
		if again.status != http.StatusBadRequest || !strings.Contains(string(again.body), "unbekannt oder schon abgeschlossen") {
			t.Fatalf("replayed callback: status %d: %s", again.status, again.body)
		}

		// The enrollment continues as after a letter.
		in.passwordSet(t, token)
		ph := in.bindPhone(t, token, "Telefon von "+m.GivenName)
		wantActive(t, in.setPIN(t, token, appPIN))
		ph.pin = appPIN
		acct := in.account(t, m)
		if acct.Proofing.String() != "high" {
			t.Fatalf("account proofed at %v, want high", acct.Proofing)
		}

		c := in.appClient(t, "de.hkk.serviceapp:/oauth2redirect")
		key := newDPoPKey(t)
		toks, err := c.Login(t.Context(), appclient.LoginRequest{
			Scope: "openid profile verified_claims", ACRValues: "http://eidas.europa.eu/LoA/high", Device: ph.device(t, in.instance), PIN: appPIN, DPoP: key,
		})
		if err != nil {
			t.Fatalf("app login: %v", err)
		}
		if _, claims := verifyWithGoOIDC(t, in.instance, toks.IDToken, toks.AccessToken); claims["acr"] != "http://eidas.europa.eu/LoA/high" {
			t.Fatalf("acr = %v, want high (eID + key + PIN)", claims["acr"])
		}
		// OpenID Connect for Identity Assurance: what the card proved.
		ui, err := c.UserInfo(t.Context(), key, toks.AccessToken)
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		vc, _ := ui["verified_claims"].(map[string]any)
		ver, _ := vc["verification"].(map[string]any)
		vclaims, _ := vc["claims"].(map[string]any)
		ev, _ := ver["evidence"].([]any)
		first, _ := func() (map[string]any, bool) {
			if len(ev) != 1 {
				return nil, false
			}
			m, ok := ev[0].(map[string]any)
			return m, ok
		}()
		if ver["trust_framework"] != "de_aml" || ver["time"] == nil || first["type"] != "electronic_record" ||
			vclaims["given_name"] != m.GivenName || vclaims["family_name"] != m.FamilyName || vclaims["birthdate"] != m.BirthDate {
			t.Fatalf("verified_claims %v", ui["verified_claims"])
		}
	})
}

// TestEIDRegistrationRefusals: every answer that does not prove the
// member's identity at level high is refused in the browser with a text
// the member understands, and opens no enrollment session.
func TestEIDRegistrationRefusals(t *testing.T) {
	eng := sqliteEngine
	for _, tc := range []struct {
		name   string
		edit   func(*devbroker.Config)
		pick   string
		action string
		// tamper changes the callback URL the browser brings back.
		tamper func(u *url.URL)
		want   string
	}{
		{name: "lower level", edit: func(c *devbroker.Config) { c.ACR = "http://eidas.europa.eu/LoA/substantial" }, want: "nicht auf dem nötigen Niveau"},
		{name: "another person's card", pick: "1", want: "passen nicht zu den Daten"},
		{name: "cancelled", action: "cancel", want: "abgebrochen"},
		{name: "wrong state", tamper: func(u *url.URL) {
			q := u.Query()
			q.Set("state", strings.Repeat("A", 43))
			u.RawQuery = q.Encode()
		}, want: "unbekannt oder schon abgeschlossen"},
		{name: "no state", tamper: func(u *url.URL) {
			q := u.Query()
			q.Del("state")
			u.RawQuery = q.Encode()
		}, want: "unbekannt oder schon abgeschlossen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			m := applicant("Hannelore", "Kückelhahn", "1958-03-14", w.clock.Now())
			other := applicant("Wiebke", "Oltmanns", "1990-11-02", w.clock.Now())
			in := w.startWithEID(t, eng, []devbroker.Identity{
				cardOf(m, "c0ffee00112233445566778899aabbcc"), cardOf(other, "0123456789abcdef0123456789abcdef"),
			}, tc.edit)
			in.importMembers(t, m, other)
			app := in.beginEID(t, m.KVNR.String())
			authURL, token := app.authURL, app.token
			pick, action := tc.pick, tc.action
			if pick == "" {
				pick = "0"
			}
			if action == "" {
				action = "confirm"
			}
			back := atBroker(t, authURL, action, pick)
			if tc.tamper != nil {
				tc.tamper(back)
			}
			page := in.backAtPforte(t, back)
			if page.status != http.StatusBadRequest || !strings.Contains(string(page.body), tc.want) {
				t.Fatalf("callback page: status %d, want 400 with %q: %s", page.status, tc.want, page.body)
			}
			if r := in.enrollmentStatus(t, token); r.status != http.StatusUnauthorized {
				t.Fatalf("status after a refused eID: %d: %s", r.status, r.body)
			}
			if strings.Contains(string(page.body), eidAppReturn) {
				t.Fatalf("a refused answer links to the app: %s", page.body)
			}
			for _, k := range []member.Member{m, other} {
				if _, err := in.srv.Store().AccountByKVNR(t.Context(), k.KVNR); err == nil {
					t.Fatalf("an account for %s", k.GivenName)
				}
			}
		})
	}
}

// TestEIDRelayedConfirmationRefused is the relay attack, end to end:
// Mallory begins a registration with Hannelore's member number in Mallory's
// own app and sends the eID service's URL to Hannelore, who confirms her
// identity with her card. Her browser goes to the app link on her own
// phone with the one-time code; Mallory's app, which holds the token and
// the verifier, never sees the code and gets no session; Hannelore's own
// app, which holds the code but not Mallory's token and verifier, cannot
// redeem it either, and its attempt spends the code, so that a code
// leaked later is useless too.
func TestEIDRelayedConfirmationRefused(t *testing.T) {
	w := newWorld(t)
	m := applicant("Hannelore", "Kückelhahn", "1958-03-14", w.clock.Now())
	in := w.startWithEID(t, sqliteEngine, []devbroker.Identity{cardOf(m, "c0ffee00112233445566778899aabbcc")}, nil)
	in.importMembers(t, m)

	mallory := in.beginEID(t, m.KVNR.String())
	// Hannelore opens the relayed URL and confirms with her card.
	code := codeAtApp(t, in.backAtPforte(t, atBroker(t, mallory.authURL, "confirm", "0")))

	// Mallory's app: its token opens nothing, with or without guesses.
	if r := in.enrollmentStatus(t, mallory.token); r.status != http.StatusUnauthorized {
		t.Fatalf("Mallory's status: %d: %s", r.status, r.body)
	}
	for _, guess := range []string{"", "x", strings.Repeat("A", 43)} {
		if r := in.redeem(t, mallory.token, guess, mallory.verifier); r.status == http.StatusCreated {
			t.Fatalf("Mallory redeemed %q: %s", guess, r.body)
		}
	}
	// Hannelore's own app receives the code at its app link, but it did
	// not begin this registration: its token and verifier are not these.
	own := in.beginEID(t, m.KVNR.String())
	r := in.redeem(t, own.token, code, own.verifier)
	if detail := wantProblem(t, r, http.StatusUnauthorized, "unauthenticated"); !strings.Contains(detail, "gehört nicht zu dieser App") {
		t.Fatalf("detail %q", detail)
	}
	// The code is spent: even Mallory, were it leaked to him now, gets
	// nothing.
	if r := in.redeem(t, mallory.token, code, mallory.verifier); r.status != http.StatusUnauthorized {
		t.Fatalf("Mallory with the leaked code: %d: %s", r.status, r.body)
	}
	if r := in.enrollmentStatus(t, mallory.token); r.status != http.StatusUnauthorized {
		t.Fatalf("Mallory's status after all: %d: %s", r.status, r.body)
	}
	if _, err := in.srv.Store().AccountByKVNR(t.Context(), m.KVNR); err == nil {
		t.Fatal("an account was created")
	}
	// The honest path still works for Hannelore's own app.
	code = codeAtApp(t, in.backAtPforte(t, atBroker(t, own.authURL, "confirm", "0")))
	if r := in.redeem(t, own.token, code, own.verifier); r.status != http.StatusCreated {
		t.Fatalf("Hannelore's own registration: %d: %s", r.status, r.body)
	}
}

// TestEIDConfirmationExpires: a code redeemed after 5 minutes is refused.
func TestEIDConfirmationExpires(t *testing.T) {
	w := newWorld(t)
	m := applicant("Hannelore", "Kückelhahn", "1958-03-14", w.clock.Now())
	in := w.startWithEID(t, sqliteEngine, []devbroker.Identity{cardOf(m, "c0ffee00112233445566778899aabbcc")}, nil)
	in.importMembers(t, m)
	app := in.beginEID(t, m.KVNR.String())
	code := codeAtApp(t, in.backAtPforte(t, atBroker(t, app.authURL, "confirm", "0")))
	w.clock.Advance(5 * time.Minute)
	r := in.redeem(t, app.token, code, app.verifier)
	if detail := wantProblem(t, r, http.StatusGone, "expired"); !strings.Contains(detail, "abgelaufen") {
		t.Fatalf("detail %q", detail)
	}
}

// TestEIDBeginNeedsTheAppsBinding: a return address that is not the app's,
// or no S256 challenge, is refused before anything begins.
func TestEIDBeginNeedsTheAppsBinding(t *testing.T) {
	w := newWorld(t)
	m := applicant("Hannelore", "Kückelhahn", "1958-03-14", w.clock.Now())
	in := w.startWithEID(t, sqliteEngine, []devbroker.Identity{cardOf(m, "c0ffee00112233445566778899aabbcc")}, nil)
	_, challenge := appclient.NewVerifier()
	for _, tc := range []struct {
		body map[string]string
		code string
	}{
		{map[string]string{"return_uri": "https://evil.example/eid", "code_challenge": challenge, "code_challenge_method": "S256"}, "proofing.return_uri"},
		{map[string]string{"return_uri": "http://127.0.0.1:9999/eid", "code_challenge": challenge, "code_challenge_method": "S256"}, "proofing.return_uri"},
		{map[string]string{"return_uri": eidAppReturn, "code_challenge": challenge, "code_challenge_method": "plain"}, "proofing.code_challenge"},
		{map[string]string{"return_uri": eidAppReturn}, "proofing.code_challenge"},
	} {
		tc.body["kvnr"], tc.body["method"] = memberKVNR.String(), "eid"
		r := sendJSON(t, http.MethodPost, in.base+"/app/v1/registrations", tc.body, nil)
		wantProblem(t, r, http.StatusBadRequest, "invalid")
		if !strings.Contains(string(r.body), tc.code) {
			t.Fatalf("%v: %s, want %s", tc.body, r.body, tc.code)
		}
	}
}

// TestEIDNotConfigured: without the eID service, method eid is refused as
// before.
func TestEIDNotConfigured(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteStorage(t))
	r := sendJSON(t, http.MethodPost, in.base+"/app/v1/registrations", map[string]string{"kvnr": memberKVNR.String(), "birth_date": memberBirth, "method": "eid"}, nil)
	if detail := wantProblem(t, r, http.StatusBadRequest, "invalid"); !strings.Contains(detail, "kann nicht angefordert") {
		t.Fatalf("detail %q", detail)
	}
	if r := get(t, in.base+server.EIDCallbackPath+"?state=x&code=y", nil); r.status == http.StatusOK {
		t.Fatalf("callback without the eID: %d", r.status)
	}
}

// letterMember is an instance with the eID method (its broker offers m's
// card) on which m registered by letter and bound a phone with PIN
// appPIN: proofed at substantial.
func (w *world) letterMember(t *testing.T, eng engine, m member.Member, opts ...startOption) (eidServer, *phone) {
	t.Helper()
	in := w.startWithEID(t, eng, []devbroker.Identity{cardOf(m, "c0ffee00112233445566778899aabbcc")}, nil, append(opts, withServiceApp)...)
	in.importMembers(t, m)
	accepted(t, in.requestLetter(t, m.KVNR.String(), m.BirthDate, nil))
	in.wantWork(t, 1, 1)
	lp := w.readLetter(t, in.instance, m.KVNR)
	token := enrollmentToken(t, in.activate(t, m.KVNR.String(), lp.initialPassword, lp.code))
	in.passwordSet(t, token)
	ph := in.bindPhone(t, token, "Telefon von "+m.GivenName)
	wantActive(t, in.setPIN(t, token, appPIN))
	ph.pin = appPIN
	if a := in.account(t, m); a.Proofing.String() != "substantial" {
		t.Fatalf("letter account at %v", a.Proofing)
	}
	return in, ph
}

// appLogin is the app's login with ph at acr.
func (in eidServer) appLogin(t *testing.T, ph *phone, scope, acr string) (appclient.Tokens, *dpop.Key, error) {
	t.Helper()
	key := newDPoPKey(t)
	c := in.appClient(t, "de.hkk.serviceapp:/oauth2redirect")
	toks, err := c.Login(t.Context(), appclient.LoginRequest{Scope: scope, ACRValues: acr, Device: ph.device(t, in.instance), PIN: ph.pin, DPoP: key})
	return toks, key, err
}

// TestEIDStepUp: a letter-proofed member's app login asking for high is
// refused with unmet_authentication_requirements (login.step_up_eid); the
// logged-in member (key + PIN) steps up with the eID, bound to the app
// like a registration; the account is then high, and the same login
// reaches acr high with verified_claims.
func TestEIDStepUp(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Tjark", "Oltmanns", "1979-05-21", w.clock.Now())
		in, ph := w.letterMember(t, eng, m)
		const high = "http://eidas.europa.eu/LoA/high"

		_, _, err := in.appLogin(t, ph, "openid", high)
		var ae *appclient.AuthorizationError
		if !errors.As(err, &ae) || ae.Code != "unmet_authentication_requirements" || !strings.Contains(ae.Description, "step-up") {
			t.Fatalf("login for high before the step-up: %v", err)
		}

		verifier, challenge := appclient.NewVerifier()
		begin := func(p map[string]any) result {
			return sendJSON(t, http.MethodPost, in.base+"/app/v1/step-up", map[string]any{
				"proof": p, "return_uri": eidAppReturn, "code_challenge": challenge, "code_challenge_method": "S256",
			}, map[string]string{"Accept-Language": "de"})
		}
		// A wrong PIN begins nothing.
		wantProblem(t, begin(in.proof(t, ph, "000000")), http.StatusUnauthorized, "unauthenticated")
		r := begin(in.proof(t, ph, ph.pin))
		if r.status != http.StatusCreated {
			t.Fatalf("step-up: %d %s", r.status, r.body)
		}
		var begun struct {
			URL   string `json:"authorization_url"`
			Token string `json:"step_up_token"`
		}
		if err := json.Unmarshal(r.body, &begun); err != nil || begun.URL == "" || len(begun.Token) < 43 {
			t.Fatalf("step-up answer %s", r.body)
		}
		code := codeAtApp(t, in.backAtPforte(t, atBroker(t, begun.URL, "confirm", "0")))
		// A registration's endpoint does not take it (and spends it).
		if r := in.redeem(t, begun.Token, code, verifier); r.status != http.StatusUnauthorized {
			t.Fatalf("step-up code at POST /enrollment: %d %s", r.status, r.body)
		}
		r = begin(in.proof(t, ph, ph.pin))
		if err := json.Unmarshal(r.body, &begun); err != nil || r.status != http.StatusCreated {
			t.Fatalf("step-up again: %d %s", r.status, r.body)
		}
		code = codeAtApp(t, in.backAtPforte(t, atBroker(t, begun.URL, "confirm", "0")))
		r = sendJSON(t, http.MethodPost, in.base+"/app/v1/step-up/confirmation", map[string]string{"code": code, "code_verifier": verifier},
			map[string]string{"Authorization": "Bearer " + begun.Token})
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"proofing":"high"`) {
			t.Fatalf("step-up confirmation: %d %s", r.status, r.body)
		}
		if a := in.account(t, m); a.Proofing.String() != "high" {
			t.Fatalf("account at %v after the step-up", a.Proofing)
		}

		toks, key, err := in.appLogin(t, ph, "openid verified_claims", high)
		if err != nil {
			t.Fatalf("login for high after the step-up: %v", err)
		}
		if _, claims := verifyWithGoOIDC(t, in.instance, toks.IDToken, toks.AccessToken); claims["acr"] != high {
			t.Fatalf("acr %v", claims["acr"])
		}
		c := in.appClient(t, "de.hkk.serviceapp:/oauth2redirect")
		ui, err := c.UserInfo(t.Context(), key, toks.AccessToken)
		if err != nil || ui["verified_claims"] == nil {
			t.Fatalf("userinfo %v %v", ui, err)
		}
		// High already: nothing to step up.
		wantProblem(t, begin(in.proof(t, ph, ph.pin)), http.StatusConflict, "conflict")
	})
}

// TestEIDRebindsANewPhone: a member with a new phone (or a forgotten PIN)
// registers again with the eID instead of waiting for a letter: the eID
// proof opens an enrollment session for the existing account, the new
// phone is bound with a new PIN, the old binding stays until the member
// revokes it, and the member is told by mail.
func TestEIDRebindsANewPhone(t *testing.T) {
	w := newWorld(t)
	relay := startMailRelay(t)
	m := applicant("Gesche", "Harms", "1966-12-03", w.clock.Now())
	m.Email = "gesche.harms@example.org"
	in, old := w.letterMember(t, sqliteEngine, m, relay.notifier(t))
	before := len(relay.messages())

	app := in.beginEID(t, m.KVNR.String())
	code := codeAtApp(t, in.backAtPforte(t, atBroker(t, app.authURL, "confirm", "0")))
	if r := in.redeem(t, app.token, code, app.verifier); r.status != http.StatusCreated {
		t.Fatalf("redeem: %d %s", r.status, r.body)
	}
	in.passwordSet(t, app.token)
	ph := in.bindPhone(t, app.token, "Neues Telefon")
	wantActive(t, in.setPIN(t, app.token, "582936"))
	ph.pin = "582936"

	if a := in.account(t, m); a.Proofing.String() != "high" || a.Status != "active" {
		t.Fatalf("account %+v after the eID", a)
	}
	ds := in.devices(t, old)
	byID := map[string]listed{}
	for _, d := range ds {
		byID[d.ID] = d
	}
	if len(ds) != 2 || byID[old.binding].Status != "active" || byID[ph.binding].Status != "active" || !byID[ph.binding].PINSet {
		t.Fatalf("devices after the new phone: %+v", ds)
	}
	// Both phones log in; the new one at high.
	if _, _, err := in.appLogin(t, old, "openid", ""); err != nil {
		t.Fatalf("the old phone: %v", err)
	}
	if _, _, err := in.appLogin(t, ph, "openid", "http://eidas.europa.eu/LoA/high"); err != nil {
		t.Fatalf("the new phone at high: %v", err)
	}
	msgs := relay.messages()[before:]
	if len(msgs) < 1 || msgs[0].subject != "Neues Gerät verbunden" || !strings.Contains(msgs[0].body, "„Neues Telefon“") ||
		len(msgs[0].to) != 1 || msgs[0].to[0] != m.Email {
		for _, msg := range msgs {
			t.Logf("mail: %s", msg.subject)
		}
		t.Fatal("the member was not told of the new phone")
	}
	// The old phone worked until now; the member removes it from the new
	// one, and then it can do nothing, approve a transfer included.
	if r := in.manage(t, "/"+old.binding+"/revoke", in.proof(t, ph, ph.pin)); r.status != http.StatusNoContent {
		t.Fatalf("revoke the old phone: %d %s", r.status, r.body)
	}
	if r := in.deviceChallenge(t, old.binding); r.status != http.StatusForbidden {
		t.Fatalf("the removed phone got a challenge: %d %s", r.status, r.body)
	}
	if ds := in.devices(t, ph); len(ds) != 1 || ds[0].ID != ph.binding {
		t.Fatalf("devices after the removal: %+v", ds)
	}
}

// stepUp is the logged-in member's step-up with ph at the development
// broker, the honest path: it returns when the account is high.
func (in eidServer) stepUp(t *testing.T, ph *phone) {
	t.Helper()
	verifier, challenge := appclient.NewVerifier()
	r := sendJSON(t, http.MethodPost, in.base+"/app/v1/step-up", map[string]any{
		"proof": in.proof(t, ph, ph.pin), "return_uri": eidAppReturn, "code_challenge": challenge, "code_challenge_method": "S256",
	}, nil)
	var begun struct {
		URL   string `json:"authorization_url"`
		Token string `json:"step_up_token"`
	}
	if err := json.Unmarshal(r.body, &begun); err != nil || r.status != http.StatusCreated {
		t.Fatalf("step-up: %d %s", r.status, r.body)
	}
	code := codeAtApp(t, in.backAtPforte(t, atBroker(t, begun.URL, "confirm", "0")))
	r = sendJSON(t, http.MethodPost, in.base+"/app/v1/step-up/confirmation", map[string]string{"code": code, "code_verifier": verifier},
		map[string]string{"Authorization": "Bearer " + begun.Token})
	if r.status != http.StatusOK {
		t.Fatalf("step-up confirmation: %d %s", r.status, r.body)
	}
}

// TestEIDStepUpFromTheLoginPage: an online form asks for high; the
// letter-proofed member's web login ends on the page that explains the
// eID step-up in the app; after the step-up the same login goes on to the
// confirmation in the app, which reaches high.
func TestEIDStepUpFromTheLoginPage(t *testing.T) {
	w := newWorld(t)
	m := applicant("Frauke", "Eilers", "1983-09-14", w.clock.Now())
	in, ph := w.letterMember(t, sqliteEngine, m)
	rp := in.rp(t, w.web, nil)
	login := func() result {
		b := newBrowser(t)
		u := rp.authURL(newAttempt("openid")) + "&acr_values=" + url.QueryEscape("http://eidas.europa.eu/LoA/high")
		return b.submitLogin(t, in.base, b.get(t, u), m.KVNR.String(), devicePassword)
	}
	page := login()
	if page.status != http.StatusForbidden || !strings.Contains(string(page.body), `id="stepup"`) ||
		!strings.Contains(string(page.body), "Identität mit Ausweis bestätigen") {
		t.Fatalf("level page: status %d:\n%s", page.status, page.body)
	}
	in.stepUp(t, ph)
	page = login()
	if page.status != http.StatusOK || !strings.Contains(string(page.body), "Bestätigen Sie die Anmeldung in Ihrer Service-App") {
		t.Fatalf("after the step-up: status %d:\n%s", page.status, page.body)
	}
}

// beginRecovery is the app's POST /app/v1/recovery with ph's key alone;
// it returns the eID service's URL and the recovery token.
func (in eidServer) beginRecovery(t *testing.T, ph *phone, challenge string) (string, string) {
	t.Helper()
	p := in.proof(t, ph, "")
	delete(p, "pin")
	p["return_uri"], p["code_challenge"], p["code_challenge_method"] = eidAppReturn, challenge, "S256"
	r := sendJSON(t, http.MethodPost, in.base+"/app/v1/recovery", p, nil)
	var begun struct {
		URL   string `json:"authorization_url"`
		Token string `json:"recovery_token"`
		Type  string `json:"token_type"`
	}
	if err := json.Unmarshal(r.body, &begun); err != nil || r.status != http.StatusCreated || begun.URL == "" ||
		len(begun.Token) < 43 || begun.Type != "Bearer" {
		t.Fatalf("recovery: %d %s", r.status, r.body)
	}
	return begun.URL, begun.Token
}

// confirmRecovery is the app's POST /app/v1/recovery/confirmation with a
// fresh answer of ph's key and what the member sets.
func (in eidServer) confirmRecovery(t *testing.T, ph *phone, token, code, verifier string, set map[string]string) result {
	t.Helper()
	body := in.proof(t, ph, "")
	delete(body, "pin")
	body["code"], body["code_verifier"] = code, verifier
	for k, v := range set {
		body[k] = v
	}
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/recovery/confirmation", body,
		map[string]string{"Authorization": "Bearer " + token, "Accept-Language": "de"})
}

// TestEIDRecoveryOnABoundDevice: a member whose phone is blocked and who
// forgot the password too proves the identity with the ID card on that
// phone and sets a new PIN and a new password: the phone is active again
// with the new PIN, the web login takes the new password and refuses the
// old one, the account is at level high, and the member is told.
func TestEIDRecoveryOnABoundDevice(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		relay := startMailRelay(t)
		m := applicant("Imke", "Feddersen", "1983-09-14", w.clock.Now())
		m.Email = "imke@example.org"
		in, ph := w.letterMember(t, eng, m, relay.notifier(t))
		for range 5 {
			in.manage(t, "/list", in.proof(t, ph, "000001"))
			w.clock.Advance(10 * time.Minute)
		}
		if b := in.stored(t, ph.binding); b.Status != device.Blocked {
			t.Fatalf("after five wrong PINs: %s", b.Status)
		}
		before := len(relay.messages())
		const newPassword = "Deichschaf-im-Abendrot"

		verifier, challenge := appclient.NewVerifier()
		authURL, token := in.beginRecovery(t, ph, challenge)
		code := codeAtApp(t, in.backAtPforte(t, atBroker(t, authURL, "confirm", "0")))
		// A refused new PIN leaves the code for the corrected request.
		if r := in.confirmRecovery(t, ph, token, code, verifier, map[string]string{"new_pin": "123456"}); r.status != http.StatusBadRequest {
			t.Fatalf("trivial PIN: %d %s", r.status, r.body)
		}
		r := in.confirmRecovery(t, ph, token, code, verifier, map[string]string{"new_pin": "271836", "new_password": newPassword})
		if r.status != http.StatusNoContent {
			t.Fatalf("recovery: %d %s", r.status, r.body)
		}
		// The code is spent.
		if r := in.confirmRecovery(t, ph, token, code, verifier, map[string]string{"new_pin": "582936"}); r.status != http.StatusUnauthorized {
			t.Fatalf("the code again: %d %s", r.status, r.body)
		}
		if b := in.stored(t, ph.binding); b.Status != device.Active || b.PIN.Failures != 0 {
			t.Fatalf("the phone after the recovery: %s %+v", b.Status, b.PIN)
		}
		ph.pin = "271836"
		if ds := in.devices(t, ph); len(ds) != 1 {
			t.Fatalf("devices %+v", ds)
		}
		if a := in.account(t, m); a.Proofing.String() != "high" {
			t.Fatalf("account at %v after the eID", a.Proofing)
		}
		rp := in.rp(t, w.web, nil)
		if in.webLogin(t, rp, newBrowser(t), m.KVNR.String(), devicePassword) {
			t.Fatal("the old password still logs in")
		}
		if !in.webLogin(t, rp, newBrowser(t), m.KVNR.String(), newPassword) {
			t.Fatal("the new password does not log in")
		}
		msgs := relay.messages()[before:]
		var subjects []string
		for _, msg := range msgs {
			subjects = append(subjects, msg.subject)
		}
		if len(msgs) != 2 {
			t.Fatalf("mails %v", subjects)
		}
		wantMail(t, msgs[0], m.Email, "Freigabe-PIN neu festgelegt", "Bestätigung mit dem Personalausweis")
		wantMail(t, msgs[1], m.Email, "Passwort neu festgelegt", "Bestätigung mit dem Personalausweis")
		_, events := in.auditKinds(t, in.account(t, m).ID)
		byEID := map[audit.Kind]bool{}
		for _, ev := range events {
			if ev.Detail["by"] == "eid" || ev.Detail["via"] == "eid" {
				byEID[ev.Kind] = true
			}
		}
		if !byEID[audit.DeviceUnblocked] || !byEID[audit.PINSet] || !byEID[audit.PasswordSet] {
			t.Fatalf("audit by eID: %v", byEID)
		}

		// A revoked phone begins nothing.
		held := in.proof(t, ph, "")
		delete(held, "pin")
		if r := in.manage(t, "/"+ph.binding+"/revoke", in.proof(t, ph, ph.pin)); r.status != http.StatusNoContent {
			t.Fatalf("revoke: %d", r.status)
		}
		held["return_uri"], held["code_challenge"], held["code_challenge_method"] = eidAppReturn, challenge, "S256"
		wantProblem(t, sendJSON(t, http.MethodPost, in.base+"/app/v1/recovery", held, nil), http.StatusForbidden, "forbidden")
	})
}
