package browser

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pforte-id/pforte/adapters/proofing/eid"
	"github.com/pforte-id/pforte/adapters/proofing/eid/devbroker"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/secret"
	"github.com/pforte-id/pforte/ports/proofing"
)

// TestDevEIDBroker: a developer confirms an identity at the development
// eID broker in Chromium. The page runs no script and breaks none of its
// Content-Security-Policy (the form's redirect back to the relying party
// included), passes axe-core, and the eID adapter turns the broker's
// answer into a proof at level high.
func TestDevEIDBroker(t *testing.T) {
	// Where the broker sends the browser back: a stand-in for Pforte's
	// callback that keeps the answer's parameters.
	cbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	callback := "http://" + cbLn.Addr().String() + "/app/v1/proofing/eid/callback"
	var mu sync.Mutex
	var answer url.Values
	cb := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		answer = r.URL.Query()
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		_, _ = w.Write([]byte(`<!DOCTYPE html><html lang="de"><head><title>Zurück</title></head><body><main><h1>Zurück bei Pforte</h1></main></body></html>`))
	})}
	go func() { _ = cb.Serve(cbLn) }()
	t.Cleanup(func() { _ = cb.Close() })

	brLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + brLn.Addr().String()
	broker, err := devbroker.New(devbroker.Config{
		Issuer: issuer, Environment: "test",
		Clients: []devbroker.Client{{ID: "pforte", Secret: "dev-broker-secret", RedirectURIs: []string{callback}}},
		Identities: []devbroker.Identity{
			{Label: "Erika Musterfrau, Bremen", GivenName: "Erika", FamilyName: "Musterfrau", BirthName: "Gabler",
				BirthDate: "1964-08-12", PlaceOfBirth: "Berlin", RestrictedID: "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
				Address: devbroker.Address{Street: "Heidestraße 17", PostalCode: "28195", Locality: "Bremen", Country: "DE"}},
			{Label: "Jürgen Weiß, Köln", GivenName: "Jürgen", FamilyName: "Weiß", BirthDate: "1970-01-31",
				RestrictedID: "00112233445566778899aabbccddeeff"},
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- broker.Serve(ctx, brLn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("broker: %v", err)
		}
	})

	m, err := eid.New(eid.Config{
		Issuer: issuer, ClientID: "pforte", ClientSecret: "dev-broker-secret", Profile: eid.Profile{Pseudonym: eid.Hex},
	}, eid.Options{})
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	state := secret.String(base64.RawURLEncoding.EncodeToString(raw))
	r, err := m.Begin(t.Context(), proofing.Begin{State: state, CallbackURL: callback, ExpiresAt: time.Now().Add(proof.PendingTTL)})
	if err != nil {
		t.Fatal(err)
	}

	p := newPage(t)
	p.run("open the broker", chromedp.Navigate(r.URL), chromedp.WaitVisible(chromedp.CSS("fieldset")))
	if u := p.location(); !strings.HasPrefix(u, issuer+"/dev/identity?") {
		t.Fatalf("the authorization URL led to %s, want the broker's identity page", u)
	}
	if banner := p.text("header"); !strings.Contains(banner, "Nur für die Entwicklung") || !strings.Contains(banner, "For development only") {
		t.Errorf("the page is not marked as a development tool: %q", banner)
	}
	p.checkPage("eid-dev-broker")

	p.run("pick the first identity and confirm",
		chromedp.Click(chromedp.CSS("#identity-0")),
		chromedp.Click(chromedp.CSS(`button[value="confirm"]`)),
	)
	p.waitAt(callback)
	p.noCSPViolation()

	mu.Lock()
	back := answer
	mu.Unlock()
	if back.Get("state") != state.Reveal() || back.Get("code") == "" {
		t.Fatalf("the broker answered %v", back)
	}
	got, err := m.Finish(t.Context(), r.Data, proofing.Callback{State: state, Params: map[string]string{"code": back.Get("code")}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Level != loa.High || got.Attributes.GivenName != "Erika" || got.Attributes.FamilyName != "Musterfrau" ||
		got.Attributes.BirthName != "Gabler" || got.Attributes.BirthDate != "1964-08-12" || got.Evidence.Subject == "" {
		t.Fatalf("proof %+v", got)
	}
}
