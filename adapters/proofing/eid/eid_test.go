package eid_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/proofing/eid"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/secret"
	"github.com/pforte-id/pforte/ports/proofing"
)

const callbackURL = "https://id.beispiel-bkk.de/app/v1/proofing/eid/callback"

func newMethod(t *testing.T, f *fakeOP, edit func(*eid.Config)) *eid.Method {
	t.Helper()
	cfg := eid.Config{Issuer: f.issuer(), ClientID: clientID, ClientSecret: clientSecret}
	if edit != nil {
		edit(&cfg)
	}
	m, err := eid.New(cfg, eid.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newState() secret.String {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return secret.String(base64.RawURLEncoding.EncodeToString(b))
}

// run begins a proofing, lets the member confirm at the fake broker, and
// finishes with the broker's answer; edit may bend the answer first.
func run(t *testing.T, m *eid.Method, f *fakeOP, edit func(state *secret.String, params map[string]string, data *[]byte)) (proof.Proof, error) {
	t.Helper()
	state := newState()
	r, err := m.Begin(t.Context(), proofing.Begin{State: state, CallbackURL: callbackURL, ExpiresAt: time.Now().Add(proof.PendingTTL)})
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	params, _ := f.authorize(r.URL)
	data := r.Data
	if edit != nil {
		edit(&state, params, &data)
	}
	return m.Finish(t.Context(), data, proofing.Callback{State: state, Params: params})
}

func wantProof(f *fakeOP) proof.Proof {
	return proof.Proof{
		Method: proof.EID, Level: loa.High,
		Attributes: proof.Attributes{
			GivenName: "Anna Lena", FamilyName: "Schmidt", BirthName: "Meyer", BirthDate: "1984-07-09",
			PlaceOfBirth: "Bremen, DE",
			Address:      member.Address{Street: "Lindenallee 7", PostalCode: "20259", Locality: "Hamburg", Country: "DE"},
		},
		Evidence: proof.Evidence{
			Type: eid.EvidenceType, Reference: "broker-tx-at-1", Issuer: f.issuer(),
			Subject: eid.PseudonymHash(f.issuer(), []byte("card-pseudonym-1")),
		},
	}
}

func TestProofing(t *testing.T) {
	for _, par := range []bool{false, true} {
		t.Run(map[bool]string{false: "query", true: "pushed"}[par], func(t *testing.T) {
			f := newFakeOP(t)
			f.par, f.issParam = par, par
			m := newMethod(t, f, nil)
			state := newState()
			r, err := m.Begin(t.Context(), proofing.Begin{State: state, CallbackURL: callbackURL, ExpiresAt: time.Now().Add(proof.PendingTTL)})
			if err != nil {
				t.Fatal(err)
			}
			if par && (strings.Contains(r.URL, "nonce") || !strings.Contains(r.URL, "request_uri=")) {
				t.Fatalf("pushed request, but the URL carries its parameters: %s", r.URL)
			}
			if strings.Contains(string(r.Data), state.Reveal()) {
				t.Fatal("the method's data holds the state")
			}
			params, req := f.authorize(r.URL)
			for k, want := range map[string]string{
				"response_type": "code", "client_id": clientID, "redirect_uri": callbackURL, "state": state.Reveal(),
				"code_challenge_method": "S256", "acr_values": eid.DefaultHighACR, "scope": "openid profile address",
			} {
				if got := req.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if len(req.Get("nonce")) < 43 || len(req.Get("code_challenge")) != 43 {
				t.Errorf("nonce %q, code_challenge %q", req.Get("nonce"), req.Get("code_challenge"))
			}
			var claims map[string]map[string]any
			if err := json.Unmarshal([]byte(req.Get("claims")), &claims); err != nil || claims["userinfo"]["birthdate"] == nil {
				t.Errorf("claims request %q", req.Get("claims"))
			}

			// A broker that does not announce the claims parameter does
			// not get it.
			f.noClaimsParam = true
			m2 := newMethod(t, f, nil)
			r2, err := m2.Begin(t.Context(), proofing.Begin{State: newState(), CallbackURL: callbackURL, ExpiresAt: time.Now().Add(proof.PendingTTL)})
			if err != nil {
				t.Fatal(err)
			}
			if _, req2 := f.authorize(r2.URL); req2.Has("claims") || req2.Get("nonce") == "" {
				t.Errorf("request to a broker without the claims parameter: %v", req2)
			}
			f.noClaimsParam = false

			before := time.Now()
			p, err := m.Finish(t.Context(), r.Data, proofing.Callback{State: state, Params: params})
			if err != nil {
				t.Fatal(err)
			}
			want := wantProof(f)
			if p.Time.Before(before) || p.Evidence.IssuedAt.IsZero() || p.Evidence.IssuedAt.After(p.Time) {
				t.Fatalf("times %v %v", p.Time, p.Evidence.IssuedAt)
			}
			want.Time, want.Evidence.IssuedAt = p.Time, p.Evidence.IssuedAt
			if p != want {
				t.Fatalf("proof\n%+v\nwant\n%+v", p, want)
			}

			// The same code again: the broker refuses it.
			_, err = m.Finish(t.Context(), r.Data, proofing.Callback{State: state, Params: params})
			if !errors.Is(err, fault.Unauthenticated) {
				t.Fatalf("replayed code: %v", err)
			}
		})
	}
}

// TestFinishRefuses: every answer that is not the broker's valid,
// high-level answer to this very proofing is refused.
func TestFinishRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   func(f *fakeOP)
		cfg  func(c *eid.Config)
		edit func(state *secret.String, params map[string]string, data *[]byte)
		kind fault.Kind
	}{
		{name: "lower level", op: func(f *fakeOP) { f.acr = "http://eidas.europa.eu/LoA/substantial" }, kind: fault.Forbidden},
		{name: "no level", op: func(f *fakeOP) { f.acr = "" }, kind: fault.Forbidden},
		{name: "a high level not requested", op: func(f *fakeOP) { f.acr = "http://bsi.bund.de/eID/LoA/hoch" },
			cfg: func(c *eid.Config) {
				c.Profile.HighACR = []string{eid.DefaultHighACR, "http://bsi.bund.de/eID/LoA/hoch"}
				c.ACRValues = []string{eid.DefaultHighACR}
			}, kind: fault.Forbidden},
		{name: "a level requested but not high in the profile", op: func(f *fakeOP) { f.acr = "urn:other" }, kind: fault.Forbidden},
		{name: "wrong state", edit: func(state *secret.String, _ map[string]string, _ *[]byte) { *state = newState() }, kind: fault.Unauthenticated},
		{name: "wrong nonce", op: func(f *fakeOP) { f.idToken = func(c map[string]any) { c["nonce"] = "another-nonce" } }, kind: fault.Unauthenticated},
		{name: "no nonce", op: func(f *fakeOP) { f.idToken = func(c map[string]any) { delete(c, "nonce") } }, kind: fault.Unauthenticated},
		{name: "ID token of another issuer", op: func(f *fakeOP) {
			f.idToken = func(c map[string]any) { c["iss"] = "https://eid.example.org" }
		}, kind: fault.Unauthenticated},
		{name: "ID token for another client", op: func(f *fakeOP) { f.idToken = func(c map[string]any) { c["aud"] = "someone-else" } }, kind: fault.Unauthenticated},
		{name: "bad signature", op: func(f *fakeOP) { f.signWithOther = true }, kind: fault.Unauthenticated},
		{name: "expired ID token", op: func(f *fakeOP) {
			f.idToken = func(c map[string]any) {
				c["iat"], c["exp"] = time.Now().Add(-10*time.Minute).Unix(), time.Now().Add(-5*time.Minute).Unix()
			}
		}, kind: fault.Unauthenticated},
		{name: "ID token issued long ago", op: func(f *fakeOP) {
			f.idToken = func(c map[string]any) { c["iat"] = time.Now().Add(-time.Hour).Unix() }
		}, kind: fault.Unauthenticated},
		{name: "answer after the proofing expired", edit: func(_ *secret.String, _ map[string]string, data *[]byte) {
			var d map[string]any
			_ = json.Unmarshal(*data, &d)
			d["expires_at"] = time.Now().Add(-time.Second).Unix()
			*data, _ = json.Marshal(d)
		}, kind: fault.Unauthenticated},
		{name: "wrong PKCE verifier", edit: func(_ *secret.String, _ map[string]string, data *[]byte) {
			var d map[string]any
			_ = json.Unmarshal(*data, &d)
			d["verifier"] = strings.Repeat("v", 43)
			*data, _ = json.Marshal(d)
		}, kind: fault.Unauthenticated},
		{name: "unknown code", edit: func(_ *secret.String, p map[string]string, _ *[]byte) { p["code"] = "code-forged" }, kind: fault.Unauthenticated},
		{name: "no code", edit: func(_ *secret.String, p map[string]string, _ *[]byte) { delete(p, "code") }, kind: fault.Unauthenticated},
		{name: "member cancelled", edit: func(_ *secret.String, p map[string]string, _ *[]byte) {
			delete(p, "code")
			p["error"] = "access_denied"
		}, kind: fault.Forbidden},
		{name: "iss parameter of another issuer", edit: func(_ *secret.String, p map[string]string, _ *[]byte) {
			p["iss"] = "https://eid.example.org"
		}, kind: fault.Unauthenticated},
		{name: "iss parameter missing where announced", op: func(f *fakeOP) { f.issParam = true },
			edit: func(_ *secret.String, p map[string]string, _ *[]byte) { delete(p, "iss") }, kind: fault.Unauthenticated},
		{name: "userinfo of another subject", op: func(f *fakeOP) { f.userinfo["sub"] = "card-pseudonym-2" }, kind: fault.Unauthenticated},
		{name: "no date of birth", op: func(f *fakeOP) { delete(f.userinfo, "birthdate") }, kind: fault.Forbidden},
		{name: "no family name", op: func(f *fakeOP) { f.userinfo["family_name"] = "" }, kind: fault.Forbidden},
		{name: "malformed pseudonym", cfg: func(c *eid.Config) { c.Profile.Pseudonym = eid.Hex }, kind: fault.Forbidden},
		{name: "data not made by Begin", edit: func(_ *secret.String, _ map[string]string, data *[]byte) { *data = []byte("{}") }, kind: fault.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeOP(t)
			if tc.op != nil {
				tc.op(f)
			}
			m := newMethod(t, f, tc.cfg)
			p, err := run(t, m, f, tc.edit)
			if err == nil {
				t.Fatalf("Finish succeeded: %+v", p)
			}
			t.Logf("refused: %v", err)
			if fault.KindOf(err) != tc.kind {
				t.Fatalf("Finish = %v, want %v", err, tc.kind)
			}
			if pub := fault.PublicOf(err); tc.kind != fault.Internal && (pub == "" || strings.ContainsFunc(pub, func(r rune) bool {
				return r < 0x20 || r > 0x7e
			})) {
				t.Fatalf("diagnostic %q is not printable ASCII", pub)
			}
			if strings.Contains(err.Error(), "nonce") && strings.Contains(err.Error(), "expected") {
				t.Fatalf("the error quotes the nonces: %v", err)
			}
		})
	}
}

func TestBrokerProfile(t *testing.T) {
	pseudonym := []byte{0x00, 0xfe, 0x10, 0x80, 0x7f, 0xff, 0x01}
	for _, enc := range []struct {
		e    eid.Encoding
		s    string
		want []byte
	}{
		{eid.Hex, hex.EncodeToString(pseudonym), pseudonym},
		{eid.Hex, strings.ToUpper(hex.EncodeToString(pseudonym)), pseudonym},
		{eid.Base64, base64.StdEncoding.EncodeToString(pseudonym), pseudonym},
		{eid.Base64URL, base64.RawURLEncoding.EncodeToString(pseudonym), pseudonym},
		{eid.Base64URL, base64.URLEncoding.EncodeToString(pseudonym), pseudonym},
		{eid.Opaque, "a1b2:Zz/+", []byte("a1b2:Zz/+")},
	} {
		t.Run(string(enc.e), func(t *testing.T) {
			f := newFakeOP(t)
			const ns = "https://eid.example.de/claims/"
			f.acr = "http://bsi.bund.de/eID/LoA/hoch"
			f.userinfo = map[string]any{
				"given_name": "Jürgen", "family_name": "Müller", ns + "birthname": "Schulze", "birthdate": "1970-00-00",
				ns + "placeOfBirth": "Köln", ns + "restrictedId": enc.s,
			}
			// A claim only in the ID token counts too.
			f.idToken = func(c map[string]any) { c[ns+"birthname"] = "Schulze" }
			delete(f.userinfo, ns+"birthname")
			m := newMethod(t, f, func(c *eid.Config) {
				c.Profile = eid.Profile{
					Claims:    eid.Claims{BirthName: ns + "birthname", PlaceOfBirth: ns + "placeOfBirth", RestrictedID: ns + "restrictedId"},
					HighACR:   []string{"http://bsi.bund.de/eID/LoA/hoch", "urn:grn:authn:de:personalausweis"},
					Pseudonym: enc.e,
				}
			})
			p, err := run(t, m, f, nil)
			if err != nil {
				t.Fatal(err)
			}
			a := p.Attributes
			if a.GivenName != "Jürgen" || a.BirthName != "Schulze" || a.BirthDate != "1970-00-00" || a.PlaceOfBirth != "Köln" ||
				a.Address != (member.Address{}) {
				t.Fatalf("attributes %+v", a)
			}
			if p.Evidence.Subject != eid.PseudonymHash(f.issuer(), enc.want) {
				t.Fatalf("pseudonym hash %q", p.Evidence.Subject)
			}
		})
	}
	// The same pseudonym from another broker is another card holder's.
	if eid.PseudonymHash("https://a.example", pseudonym) == eid.PseudonymHash("https://b.example", pseudonym) {
		t.Fatal("the issuer is not in the hash")
	}
}

// TestNamesReachCoreInNFC: a broker that sends decomposed letters hands
// core the composed ones.
func TestNamesReachCoreInNFC(t *testing.T) {
	f := newFakeOP(t)
	f.userinfo["given_name"], f.userinfo["family_name"] = "Ju\u0308rgen", "Mu\u0308ller"
	p, err := run(t, newMethod(t, f, nil), f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Attributes.GivenName != "Jürgen" || p.Attributes.FamilyName != "Müller" {
		t.Fatalf("names %+q %+q", p.Attributes.GivenName, p.Attributes.FamilyName)
	}
}

func TestBrokerUnavailable(t *testing.T) {
	f := newFakeOP(t)
	m := newMethod(t, f, nil)
	f.srv.Close()
	_, err := m.Begin(t.Context(), proofing.Begin{State: newState(), CallbackURL: callbackURL, ExpiresAt: time.Now().Add(time.Minute)})
	if !errors.Is(err, fault.Unavailable) {
		t.Fatalf("Begin with the broker down: %v", err)
	}

	// A discovery document that names another issuer is not trusted.
	g := newFakeOP(t)
	g.discoveryIssuer = "https://eid.example.org"
	_, err = newMethod(t, g, nil).Begin(t.Context(), proofing.Begin{State: newState(), CallbackURL: callbackURL, ExpiresAt: time.Now().Add(time.Minute)})
	if !errors.Is(err, fault.Unavailable) {
		t.Fatalf("discovery of another issuer: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := eid.Config{Issuer: "https://eid.example.de", ClientID: "pforte", ClientSecret: "s3cret-value"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string
		edit  func(c *eid.Config)
	}{
		{"Issuer", func(c *eid.Config) { c.Issuer = "" }},
		{"Issuer", func(c *eid.Config) { c.Issuer = "eid.example.de" }},
		{"Issuer", func(c *eid.Config) { c.Issuer = "http://eid.example.de" }},
		{"Issuer", func(c *eid.Config) { c.Issuer = "https://eid.example.de/?tenant=1" }},
		{"ClientID", func(c *eid.Config) { c.ClientID = "" }},
		{"ClientID", func(c *eid.Config) { c.ClientID = "two words" }},
		{"ClientSecret", func(c *eid.Config) { c.ClientSecret = "" }},
		{"Scopes", func(c *eid.Config) { c.Scopes = []string{"profile"} }},
		{"Scopes", func(c *eid.Config) { c.Scopes = []string{"openid", "a b"} }},
		{"Profile.Claims.BirthDate", func(c *eid.Config) { c.Profile.Claims.BirthDate = "birth date" }},
		{"Profile.HighACR", func(c *eid.Config) { c.Profile.HighACR = []string{""} }},
		{"ACRValues", func(c *eid.Config) { c.ACRValues = []string{"http://eidas.europa.eu/LoA/substantial"} }},
		{"Profile.Pseudonym", func(c *eid.Config) { c.Profile.Pseudonym = "base32" }},
		{"Timeout", func(c *eid.Config) { c.Timeout = time.Millisecond }},
		{"Timeout", func(c *eid.Config) { c.Timeout = time.Hour }},
	} {
		c := ok
		tc.edit(&c)
		err := c.Validate()
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Op != "eid.Config."+tc.field {
			t.Errorf("%s: %v", tc.field, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error quotes the secret: %v", tc.field, err)
		}
	}
	// http is fine on the loopback interface: the development broker.
	for _, iss := range []string{"http://127.0.0.1:5556", "http://localhost:5556/eid", "http://[::1]:5556"} {
		c := ok
		c.Issuer = iss
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", iss, err)
		}
	}
	if _, err := eid.New(eid.Config{}, eid.Options{}); !errors.Is(err, fault.Invalid) {
		t.Fatalf("New with an empty config: %v", err)
	}
}

// Probe reads the broker's discovery document and refuses one of another
// issuer or a broker that is down.
func TestProbe(t *testing.T) {
	f := newFakeOP(t)
	if err := newMethod(t, f, nil).Probe(t.Context()); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	g := newFakeOP(t)
	g.discoveryIssuer = "https://eid.example.org"
	if err := newMethod(t, g, nil).Probe(t.Context()); !errors.Is(err, fault.Unavailable) {
		t.Errorf("Probe of a broker naming another issuer: %v", err)
	}
	h := newFakeOP(t)
	m := newMethod(t, h, nil)
	h.srv.Close()
	if err := m.Probe(t.Context()); !errors.Is(err, fault.Unavailable) {
		t.Errorf("Probe of a broker that is down: %v", err)
	}
}
