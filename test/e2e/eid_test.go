package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/adapters/proofing/eid"
	"github.com/pforte-id/pforte/adapters/proofing/eid/devbroker"
	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/member"
)

// Registration with the electronic ID card, as the Service-App and the
// member go through it: POST /app/v1/registrations with method eid gives
// the app the eID service's URL and the token of the enrollment session to
// come; the member confirms the identity at the development eID broker,
// which sends the browser back to Pforte's callback; the app asks
// GET /app/v1/enrollment until the session is open, then sets password,
// device and PIN as after a letter. The login that follows reaches high.

const (
	eidClientID     = "pforte"
	eidClientSecret = "dev-broker-secret"
)

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
		}}
	}
	in := w.serve(t, ln, base, eng.storage(t), append(opts, withEID)...)
	return eidServer{instance: in, callback: callback}
}

// beginEID is the app's POST /app/v1/registrations with method eid; it
// returns the eID service's URL and the enrollment token.
func (in eidServer) beginEID(t *testing.T, k string) (string, string) {
	t.Helper()
	r := sendJSON(t, http.MethodPost, in.base+"/app/v1/registrations", map[string]string{"kvnr": k, "method": "eid"}, nil)
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
	if strings.Contains(body.URL, body.Token) {
		t.Fatal("the enrollment token is in the eID service's URL")
	}
	return body.URL, body.Token
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

		authURL, token := in.beginEID(t, m.KVNR.String())
		if r := in.enrollmentStatus(t, token); r.status != http.StatusUnauthorized {
			t.Fatalf("status before the eID: %d: %s", r.status, r.body)
		}
		back := atBroker(t, authURL, "confirm", "0")
		page := in.backAtPforte(t, back)
		if page.status != http.StatusOK || !strings.Contains(string(page.body), "Identität bestätigt") ||
			strings.Contains(string(page.body), token) {
			t.Fatalf("callback page: status %d: %s", page.status, page.body)
		}
		r := in.enrollmentStatus(t, token)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"next_steps":["password","device","pin"]`) {
			t.Fatalf("status after the eID: %d: %s", r.status, r.body)
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
			Scope: "openid profile", ACRValues: "http://eidas.europa.eu/LoA/high", Device: ph.device(t, in.instance), PIN: appPIN, DPoP: key,
		})
		if err != nil {
			t.Fatalf("app login: %v", err)
		}
		if _, claims := verifyWithGoOIDC(t, in.instance, toks.IDToken, toks.AccessToken); claims["acr"] != "http://eidas.europa.eu/LoA/high" {
			t.Fatalf("acr = %v, want high (eID + key + PIN)", claims["acr"])
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
			authURL, token := in.beginEID(t, m.KVNR.String())
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
			for _, k := range []member.Member{m, other} {
				if _, err := in.srv.Store().AccountByKVNR(t.Context(), k.KVNR); err == nil {
					t.Fatalf("an account for %s", k.GivenName)
				}
			}
		})
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
