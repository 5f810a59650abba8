package eid_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/proofing/eid"
	"github.com/pforte-id/pforte/adapters/proofing/eid/devbroker"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/proofing"
)

// devIdentities are the made-up card holders of the tests.
var devIdentities = []devbroker.Identity{
	{
		Label: "Anna-Lena Schmidt, Hamburg", GivenName: "Anna-Lena", FamilyName: "Schmidt", BirthDate: "1984-07-09",
		Address:      devbroker.Address{Street: "Lindenallee 7", PostalCode: "20259", Locality: "Hamburg", Country: "DE"},
		RestrictedID: "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
	},
	{
		Label: "Jürgen Weiß, Bremen", GivenName: "Jürgen Karl", FamilyName: "Weiß", BirthName: "Müller", BirthDate: "1970-01-31",
		PlaceOfBirth: "Köln",
		Address:      devbroker.Address{Street: "Hafenstraße 1", PostalCode: "28195", Locality: "Bremen", Country: "DE"},
		RestrictedID: "ffeeddccbbaa99887766554433221100",
	},
}

const devCallback = "http://127.0.0.1:1/app/v1/proofing/eid/callback"

// startDevBroker runs the development broker on a loopback port.
func startDevBroker(t *testing.T, edit func(*devbroker.Config)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := devbroker.Config{
		Issuer: "http://" + l.Addr().String(), Environment: "test",
		Clients:    []devbroker.Client{{ID: clientID, Secret: clientSecret, RedirectURIs: []string{devCallback}}},
		Identities: devIdentities,
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
	go func() { done <- b.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return cfg.Issuer
}

// noRedirects is a browser that shows each redirect instead of following it.
var noRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// confirmAtBroker is the developer at the broker's page: it opens the
// authorization URL, picks identity pick (or cancels) in the page's form,
// and returns the parameters of the redirect back to Pforte.
func confirmAtBroker(t *testing.T, authURL, action, pick string) url.Values {
	t.Helper()
	resp, err := noRedirects.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	page, err := url.Parse(authURL)
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %v %s", err, resp.Status)
	}
	page, _ = page.Parse(resp.Header.Get("Location"))
	resp, err = noRedirects.Get(page.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	html := string(body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(html, "Nur für die Entwicklung") || strings.Contains(html, "<script") {
		t.Fatalf("page %s:\n%s", resp.Status, html)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Fatalf("CSP %q", csp)
	}
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no request id in the page:\n%s", html)
	}
	form := url.Values{"id": {m[1]}, "identity": {pick}, "action": {action}}
	resp, err = noRedirects.PostForm(page.ResolveReference(&url.URL{Path: page.Path}).String(), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	next, _ := page.Parse(resp.Header.Get("Location"))
	if action == "confirm" {
		// The provider's callback issues the code.
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("confirm: %s", resp.Status)
		}
		resp, err = noRedirects.Get(next.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		next, _ = next.Parse(resp.Header.Get("Location"))
	}
	if !strings.HasPrefix(next.String(), devCallback+"?") {
		t.Fatalf("back to %q (%s)", next, resp.Status)
	}
	return next.Query()
}

func devMethod(t *testing.T, issuer string, edit func(*eid.Config)) *eid.Method {
	t.Helper()
	cfg := eid.Config{Issuer: issuer, ClientID: clientID, ClientSecret: clientSecret, Profile: eid.Profile{Pseudonym: eid.Hex}}
	if edit != nil {
		edit(&cfg)
	}
	m, err := eid.New(cfg, eid.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// proofAtDevBroker runs one proofing through the development broker.
func proofAtDevBroker(t *testing.T, m *eid.Method, action, pick string) (proof.Proof, error) {
	t.Helper()
	state := newState()
	r, err := m.Begin(t.Context(), proofing.Begin{State: state, CallbackURL: devCallback, ExpiresAt: time.Now().Add(proof.PendingTTL)})
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	back := confirmAtBroker(t, r.URL, action, pick)
	if back.Get("state") != state.Reveal() {
		t.Fatalf("state %q back", back.Get("state"))
	}
	params := map[string]string{}
	for k := range back {
		if k != "state" {
			params[k] = back.Get(k)
		}
	}
	return m.Finish(t.Context(), r.Data, proofing.Callback{State: state, Params: params})
}

// TestDevBrokerEndToEnd: Begin → the developer confirms an identity at
// the development broker → callback → Finish gives the proof.
func TestDevBrokerEndToEnd(t *testing.T) {
	issuer := startDevBroker(t, nil)
	m := devMethod(t, issuer, nil)
	p, err := proofAtDevBroker(t, m, "confirm", "1")
	if err != nil {
		t.Fatal(err)
	}
	want := proof.Attributes{
		GivenName: "Jürgen Karl", FamilyName: "Weiß", BirthName: "Müller", BirthDate: "1970-01-31", PlaceOfBirth: "Köln",
		Address: member.Address{Street: "Hafenstraße 1", PostalCode: "28195", Locality: "Bremen", Country: "DE"},
	}
	pseudonym := []byte{0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00}
	if p.Method != proof.EID || p.Level != loa.High || p.Attributes != want || p.KVNR != "" ||
		p.Evidence.Type != eid.EvidenceType || p.Evidence.Issuer != issuer || p.Evidence.Reference == "" ||
		p.Evidence.Subject != eid.PseudonymHash(issuer, pseudonym) {
		t.Fatalf("proof %+v", p)
	}
	// The card's record at the insurer matches (Weiß / WEISS, first given
	// name only).
	rec := member.Member{GivenName: "Jürgen", FamilyName: "WEISS", BirthDate: "1970-01-31"}
	if r := proof.Compare(rec, p.Attributes); r.Outcome != proof.Match {
		t.Fatalf("Compare = %+v", r)
	}

	// The same card again gives the same pseudonym hash.
	p2, err := proofAtDevBroker(t, m, "confirm", "1")
	if err != nil || p2.Evidence.Subject != p.Evidence.Subject {
		t.Fatalf("second proofing: %v %q", err, p2.Evidence.Subject)
	}
}

func TestDevBrokerCancel(t *testing.T) {
	m := devMethod(t, startDevBroker(t, nil), nil)
	if _, err := proofAtDevBroker(t, m, "cancel", "0"); !errors.Is(err, fault.Forbidden) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestDevBrokerLowerLevel: a broker that signs substantial is refused.
func TestDevBrokerLowerLevel(t *testing.T) {
	issuer := startDevBroker(t, func(c *devbroker.Config) { c.ACR = "http://eidas.europa.eu/LoA/substantial" })
	if _, err := proofAtDevBroker(t, devMethod(t, issuer, nil), "confirm", "0"); !errors.Is(err, fault.Forbidden) {
		t.Fatalf("substantial: %v", err)
	}
}

// TestDevBrokerProfile: the broker writes the claims under a broker's
// own names, and the adapter's profile reads them.
func TestDevBrokerProfile(t *testing.T) {
	const ns = "https://eid.example.de/claims/"
	claims := devbroker.Claims{BirthName: ns + "birthName", PlaceOfBirth: ns + "placeOfBirth", RestrictedID: ns + "restrictedId"}
	issuer := startDevBroker(t, func(c *devbroker.Config) {
		c.Claims, c.ACR = claims, "urn:grn:authn:de:personalausweis"
	})
	m := devMethod(t, issuer, func(c *eid.Config) {
		c.Profile = eid.Profile{
			Claims:    eid.Claims{BirthName: claims.BirthName, PlaceOfBirth: claims.PlaceOfBirth, RestrictedID: claims.RestrictedID},
			HighACR:   []string{"urn:grn:authn:de:personalausweis"},
			Pseudonym: eid.Hex,
		}
	})
	p, err := proofAtDevBroker(t, m, "confirm", "1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Attributes.BirthName != "Müller" || p.Attributes.PlaceOfBirth != "Köln" {
		t.Fatalf("attributes %+v", p.Attributes)
	}
}
