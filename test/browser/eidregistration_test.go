package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pforte-id/pforte/adapters/proofing/eid"
	"github.com/pforte-id/pforte/adapters/proofing/eid/devbroker"
	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte/server"
)

// withDevBroker starts the development eID broker on loopback, offering
// the card of the second test member (Max Mustermann), one of somebody
// else and, third, the first member's (Erika Musterfrau's), and points the server's eID method at it; the app's return
// address may be a loopback address (the reference client's).
func withDevBroker(t *testing.T) func(*server.Options) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	return func(o *server.Options) {
		b, err := devbroker.New(devbroker.Config{
			Issuer: issuer, Environment: "test",
			Clients: []devbroker.Client{{ID: "pforte", Secret: "dev-broker-secret", RedirectURIs: []string{o.Issuer + server.EIDCallbackPath}}},
			Identities: []devbroker.Identity{
				{Label: "Max Mustermann (Demo-Mitglied " + otherKVNR.String() + ")", GivenName: "Max", FamilyName: "Mustermann",
					BirthDate: "1971-02-03", RestrictedID: "0a1b2c3d4e5f60718293a4b5c6d7e8f9"},
				{Label: "Jürgen Weiß, Köln", GivenName: "Jürgen", FamilyName: "Weiß", BirthDate: "1970-01-31",
					RestrictedID: "00112233445566778899aabbccddeeff"},
				{Label: "Erika Musterfrau (Demo-Mitglied " + memberKVNR.String() + ")", GivenName: memberGiven, FamilyName: memberFamily,
					BirthDate: memberBirth, RestrictedID: "5e4d3c2b1a0f9e8d7c6b5a4938271605"},
			},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = b.Serve(ctx, ln) }()
		t.Cleanup(func() { cancel(); <-done })
		o.EID = &server.EIDOptions{Broker: eid.Config{
			Issuer: issuer, ClientID: "pforte", ClientSecret: "dev-broker-secret", Profile: eid.Profile{Pseudonym: eid.Hex},
		}, AppLoopback: true}
	}
}

// beginEIDRegistration is the app's POST /app/v1/registrations with the
// eID for the second member, its return address ret and challenge.
func beginEIDRegistration(t *testing.T, in *instance, ret *appclient.EIDReturn, challenge string) (authURL, token string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{
		"kvnr": otherKVNR.String(), "method": "eid", "return_uri": ret.URI, "code_challenge": challenge, "code_challenge_method": "S256",
	})
	resp, err := http.Post(in.issuer+"/app/v1/registrations", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var begun struct {
		URL   string `json:"authorization_url"`
		Token string `json:"enrollment_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&begun); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("begin the eID registration: %s %v", resp.Status, err)
	}
	return begun.URL, begun.Token
}

// TestEIDRegistrationInTheBrowser: one registration with the eID as the
// member sees it in Chromium. The app begins it; the browser opens the
// development broker's page (marked as a development tool, accessible,
// no Content-Security-Policy violations), the member picks the card and
// confirms; the broker sends the browser to Pforte's callback, whose page
// links back to the app's return address with the one-time code, which
// the app redeems with its enrollment token and verifier. A card of another
// person ends on Pforte's page saying so, and the return address gets
// nothing.
func TestEIDRegistrationInTheBrowser(t *testing.T) {
	in := startPforte(t, newRelyingParty(t), withDevBroker(t))

	ret, err := appclient.ListenEIDReturn()
	if err != nil {
		t.Fatal(err)
	}
	defer ret.Close()
	verifier, challenge := appclient.NewVerifier()
	authURL, token := beginEIDRegistration(t, in, ret, challenge)

	p := newPage(t)
	p.run("open the eID service", chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.CSS("fieldset")))
	if banner := p.text("header"); !strings.Contains(banner, "Nur für die Entwicklung") {
		t.Errorf("the broker's page is not marked as a development tool: %q", banner)
	}
	if label := p.text(`label[for="identity-0"]`); !strings.Contains(label, otherKVNR.String()) {
		t.Fatalf("the first card is %q, want the member's", label)
	}
	p.checkPage("eid-registration-broker")
	p.run("pick the member's card and confirm",
		chromedp.Click(chromedp.CSS("#identity-0")),
		chromedp.Click(chromedp.CSS(`button[value="confirm"]`)),
	)
	p.waitAt(in.issuer + server.EIDCallbackPath)
	p.run("wait for Pforte's page", chromedp.WaitVisible(chromedp.CSS("#return")))
	if h := p.text("h1"); h != "Identität bestätigt" {
		t.Errorf("Pforte's page says %q", h)
	}
	p.checkPage("eid-registration-confirmed")
	p.run("back to the app", chromedp.Click(chromedp.CSS("#return")))
	p.waitAt(ret.URI + "?code=")
	p.noCSPViolation()
	p.screenshot("eid-registration-returned")
	if strings.Contains(p.location(), token) || strings.Contains(p.location(), verifier) {
		t.Fatal("the browser saw the enrollment token or the verifier")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	code, err := ret.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"code": code, "code_verifier": verifier})
	req, _ := http.NewRequest(http.MethodPost, in.issuer+"/app/v1/enrollment", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("the app redeems the code: %s", resp.Status)
	}

	// Another person's card: Pforte says why, in the browser.
	ret2, err := appclient.ListenEIDReturn()
	if err != nil {
		t.Fatal(err)
	}
	defer ret2.Close()
	_, challenge2 := appclient.NewVerifier()
	authURL, _ = beginEIDRegistration(t, in, ret2, challenge2)
	p.run("open the eID service again", chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.CSS("fieldset")))
	p.run("pick somebody else's card and confirm",
		chromedp.Click(chromedp.CSS("#identity-1")),
		chromedp.Click(chromedp.CSS(`button[value="confirm"]`)),
	)
	p.waitAt(in.issuer + server.EIDCallbackPath)
	p.run("wait for the refusal", chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)))
	if msg := p.text(`[role="alert"]`); !strings.Contains(msg, "passen nicht zu den Daten") {
		t.Errorf("the refusal says %q", msg)
	}
	p.checkPage("eid-registration-refused")
}
