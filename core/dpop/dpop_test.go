package dpop_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

const (
	tokenURL    = "https://login.example/token"
	userinfoURL = "https://login.example/userinfo"
	accessToken = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.sig"
)

var nonceKey = []byte("0123456789abcdef0123456789abcdef")

// proof is a valid proof for POST tokenURL at t0, without access token.
func proof() dpop.Proof {
	return dpop.Proof{
		JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		JTI: "e1j3V_bKic8-LAEB",
		HTM: "POST",
		HTU: tokenURL,
		IAT: t0,
	}
}

func with(f func(*dpop.Proof)) dpop.Proof {
	p := proof()
	f(&p)
	return p
}

func TestCheckAccepts(t *testing.T) {
	pol := dpop.Policy{}
	for _, tc := range []struct {
		name        string
		p           dpop.Proof
		method, url string
		now         time.Time
		token       string
	}{
		{"plain", proof(), "POST", tokenURL, t0, ""},
		{"query in the request URL is ignored", proof(), "POST", tokenURL + "?a=b", t0, ""},
		{"fragment in htu is ignored", with(func(p *dpop.Proof) { p.HTU = tokenURL + "#f" }), "POST", tokenURL, t0, ""},
		{"scheme and host case", with(func(p *dpop.Proof) { p.HTU = "HTTPS://Login.EXAMPLE/token" }), "POST", tokenURL, t0, ""},
		{"default https port in htu", with(func(p *dpop.Proof) { p.HTU = "https://login.example:443/token" }), "POST", tokenURL, t0, ""},
		{"default https port in the request URL", proof(), "POST", "https://login.example:443/token", t0, ""},
		{"default http port", with(func(p *dpop.Proof) { p.HTU = "http://localhost:80/token" }), "POST", "http://localhost/token", t0, ""},
		{"empty port", with(func(p *dpop.Proof) { p.HTU = "https://login.example:/token" }), "POST", tokenURL, t0, ""},
		{"other port on both sides", with(func(p *dpop.Proof) { p.HTU = "http://127.0.0.1:8080/token" }), "POST", "http://127.0.0.1:08080/token", t0, ""},
		{"IPv6 literal", with(func(p *dpop.Proof) { p.HTU = "https://[::1]:443/token" }), "POST", "https://[::1]/token", t0, ""},
		{"percent-encoded unreserved", with(func(p *dpop.Proof) { p.HTU = "https://login.example/%74oken" }), "POST", tokenURL, t0, ""},
		{"percent-encoding case", with(func(p *dpop.Proof) { p.HTU = "https://login.example/a%2fb" }), "POST", "https://login.example/a%2Fb", t0, ""},
		{"dot segments", with(func(p *dpop.Proof) { p.HTU = "https://login.example/x/../app/./token" }), "POST", "https://login.example/app/token", t0, ""},
		{"empty path is /", with(func(p *dpop.Proof) { p.HTU = "https://login.example" }), "POST", "https://login.example/", t0, ""},
		{"iat MaxAge ago", proof(), "POST", tokenURL, t0.Add(dpop.DefaultMaxAge), ""},
		{"iat MaxFuture ahead", proof(), "POST", tokenURL, t0.Add(-dpop.DefaultMaxFuture), ""},
		{"jti of 256 characters", with(func(p *dpop.Proof) { p.JTI = strings.Repeat("j", 256) }), "POST", tokenURL, t0, ""},
		{"ath with an access token", with(func(p *dpop.Proof) {
			p.HTM, p.HTU, p.ATH = "GET", userinfoURL, dpop.AccessTokenHash(accessToken)
		}), "GET", userinfoURL, t0, accessToken},
		{"ath without an access token is ignored", with(func(p *dpop.Proof) { p.ATH = "whatever" }), "POST", tokenURL, t0, ""},
		{"nonce without RequireNonce is ignored", with(func(p *dpop.Proof) { p.Nonce = "stale" }), "POST", tokenURL, t0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := pol.Check(tc.p, tc.method, tc.url, tc.now, tc.token); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCheckRejects(t *testing.T) {
	pol := dpop.Policy{}
	ath := dpop.AccessTokenHash(accessToken)
	resource := func(f func(*dpop.Proof)) dpop.Proof {
		return with(func(p *dpop.Proof) {
			p.HTM, p.HTU, p.ATH = "GET", userinfoURL, ath
			f(p)
		})
	}
	for _, tc := range []struct {
		name        string
		p           dpop.Proof
		method, url string
		now         time.Time
		token       string
		public      string // a part of the public text
	}{
		{"no jti", with(func(p *dpop.Proof) { p.JTI = "" }), "POST", tokenURL, t0, "", "no jti"},
		{"jti too long", with(func(p *dpop.Proof) { p.JTI = strings.Repeat("j", 257) }), "POST", tokenURL, t0, "", "jti is longer"},
		{"no htm", with(func(p *dpop.Proof) { p.HTM = "" }), "POST", tokenURL, t0, "", "no htm"},
		{"wrong htm", proof(), "GET", tokenURL, t0, "", "htm does not match"},
		{"htm in lower case", with(func(p *dpop.Proof) { p.HTM = "post" }), "POST", tokenURL, t0, "", "htm does not match"},
		{"no htu", with(func(p *dpop.Proof) { p.HTU = "" }), "POST", tokenURL, t0, "", "no htu"},
		{"htu with query only matches without", with(func(p *dpop.Proof) { p.HTU = tokenURL + "?x=1" }), "POST", userinfoURL, t0, "", "htu does not match"},
		{"htu other path", with(func(p *dpop.Proof) { p.HTU = userinfoURL }), "POST", tokenURL, t0, "", "htu does not match"},
		{"htu other host", with(func(p *dpop.Proof) { p.HTU = "https://evil.example/token" }), "POST", tokenURL, t0, "", "htu does not match"},
		{"htu host with a suffix", with(func(p *dpop.Proof) { p.HTU = "https://login.example.evil/token" }), "POST", tokenURL, t0, "", "htu does not match"},
		{"htu other scheme", with(func(p *dpop.Proof) { p.HTU = "http://login.example/token" }), "POST", tokenURL, t0, "", "htu does not match"},
		{"htu other port", with(func(p *dpop.Proof) { p.HTU = "https://login.example:8443/token" }), "POST", tokenURL, t0, "", "htu does not match"},
		{"htu port 80 with https", with(func(p *dpop.Proof) { p.HTU = "https://login.example:80/token" }), "POST", tokenURL, t0, "", "htu does not match"},
		{"htu trailing slash", with(func(p *dpop.Proof) { p.HTU = tokenURL + "/" }), "POST", tokenURL, t0, "", "htu does not match"},
		{"htu path case", with(func(p *dpop.Proof) { p.HTU = "https://login.example/Token" }), "POST", tokenURL, t0, "", "htu does not match"},
		{"htu encoded slash", with(func(p *dpop.Proof) { p.HTU = "https://login.example/a%2Fb" }), "POST", "https://login.example/a/b", t0, "", "htu does not match"},
		{"htu relative", with(func(p *dpop.Proof) { p.HTU = "/token" }), "POST", tokenURL, t0, "", "not an absolute"},
		{"htu other scheme kind", with(func(p *dpop.Proof) { p.HTU = "ftp://login.example/token" }), "POST", tokenURL, t0, "", "not an absolute"},
		{"htu with user information", with(func(p *dpop.Proof) { p.HTU = "https://login.example@evil.example/token" }), "POST", tokenURL, t0, "", "not an absolute"},
		{"htu bad port", with(func(p *dpop.Proof) { p.HTU = "https://login.example:99999/token" }), "POST", tokenURL, t0, "", "not an absolute"},
		{"htu bad percent-encoding", with(func(p *dpop.Proof) { p.HTU = "https://login.example/%zz" }), "POST", tokenURL, t0, "", "not an absolute"},
		{"no iat", with(func(p *dpop.Proof) { p.IAT = time.Time{} }), "POST", tokenURL, t0, "", "no iat"},
		{"iat too old", proof(), "POST", tokenURL, t0.Add(dpop.DefaultMaxAge + time.Second), "", "too old"},
		{"iat in the future", proof(), "POST", tokenURL, t0.Add(-dpop.DefaultMaxFuture - time.Second), "", "in the future"},
		{"no ath with an access token", resource(func(p *dpop.Proof) { p.ATH = "" }), "GET", userinfoURL, t0, accessToken, "no ath"},
		{"ath of another token", resource(func(p *dpop.Proof) { p.ATH = dpop.AccessTokenHash("other") }), "GET", userinfoURL, t0, accessToken, "ath does not match"},
		{"ath of the token in plain", resource(func(p *dpop.Proof) { p.ATH = accessToken }), "GET", userinfoURL, t0, accessToken, "ath does not match"},
		{"ath with padding", resource(func(p *dpop.Proof) { p.ATH = ath + "=" }), "GET", userinfoURL, t0, accessToken, "ath does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := pol.Check(tc.p, tc.method, tc.url, tc.now, tc.token)
			wantInvalid(t, err, tc.public)
		})
	}
}

func wantInvalid(t *testing.T, err error, public string) {
	t.Helper()
	if err == nil {
		t.Fatal("accepted")
	}
	if k := fault.KindOf(err); k != fault.Unauthenticated {
		t.Fatalf("kind %s (%v), want unauthenticated", k, err)
	}
	if got, _ := fault.CodeOf(err); got != dpop.CodeInvalidProof {
		t.Fatalf("%v: code %q, want %q", err, got, dpop.CodeInvalidProof)
	}
	if p := fault.PublicOf(err); !strings.Contains(p, public) || !strings.HasPrefix(p, "DPoP ") {
		t.Fatalf("public text %q, want it to contain %q", p, public)
	}
}

func wantUseNonce(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("accepted")
	}
	if k := fault.KindOf(err); k != fault.Unauthenticated {
		t.Fatalf("kind %s (%v), want unauthenticated", k, err)
	}
	if got, _ := fault.CodeOf(err); got != dpop.CodeUseNonce {
		t.Fatalf("%v: code %q, want %q", err, got, dpop.CodeUseNonce)
	}
	if p := fault.PublicOf(err); !strings.Contains(p, "nonce") {
		t.Fatalf("public text %q", p)
	}
}

func TestCheckBadRequestURLIsInternal(t *testing.T) {
	for _, u := range []string{"", "/token", "token", "ftp://login.example/token", "https://", "https://u:p@login.example/token", "://x"} {
		err := dpop.Policy{}.Check(proof(), "POST", u, t0, "")
		if err == nil || fault.KindOf(err) != fault.Internal || fault.CodedOf(err) != nil {
			t.Errorf("request URL %q: %v, want an internal error", u, err)
		}
	}
}

func TestCheckWindowIsConfigurable(t *testing.T) {
	pol := dpop.Policy{MaxAge: 10 * time.Second, MaxFuture: 2 * time.Second}
	for _, tc := range []struct {
		now time.Time
		ok  bool
	}{
		{t0.Add(10 * time.Second), true},
		{t0.Add(11 * time.Second), false},
		{t0.Add(-2 * time.Second), true},
		{t0.Add(-3 * time.Second), false},
	} {
		err := pol.Check(proof(), "POST", tokenURL, tc.now, "")
		if (err == nil) != tc.ok {
			t.Errorf("now = t0%+v: %v, want ok = %v", tc.now.Sub(t0), err, tc.ok)
		}
	}
}

func TestCheckNonce(t *testing.T) {
	src := dpop.NonceSource{Key: nonceKey}
	pol := dpop.Policy{RequireNonce: true, Nonces: src}
	other := dpop.NonceSource{Key: []byte("another key of thirty-two bytes!")}
	slot := dpop.DefaultNonceLifetime
	nonce := func(n string) dpop.Proof { return with(func(p *dpop.Proof) { p.Nonce = n }) }
	// The proof's iat follows now, so that only the nonce decides.
	at := func(p dpop.Proof, now time.Time) dpop.Proof { p.IAT = now; return p }

	for _, tc := range []struct {
		name string
		p    dpop.Proof
		now  time.Time
		ok   bool
	}{
		{"current", nonce(src.Current(t0)), t0, true},
		{"from the previous slot", nonce(src.Current(t0)), t0.Add(slot), true},
		{"two slots old", nonce(src.Current(t0)), t0.Add(2 * slot), false},
		{"from the next slot (a replica ahead)", nonce(src.Current(t0.Add(slot))), t0, true},
		{"two slots ahead", nonce(src.Current(t0.Add(2 * slot))), t0, false},
		{"missing", proof(), t0, false},
		{"other key", nonce(other.Current(t0)), t0, false},
		{"garbage", nonce("not a nonce"), t0, false},
		{"truncated", nonce(src.Current(t0)[:42]), t0, false},
		{"other lifetime", nonce(dpop.NonceSource{Key: nonceKey, Lifetime: time.Minute}.Current(t0)), t0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := pol.Check(at(tc.p, tc.now), "POST", tokenURL, tc.now, "")
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantUseNonce(t, err)
		})
	}

	t.Run("a bad proof with a missing nonce is reported as bad", func(t *testing.T) {
		wantInvalid(t, pol.Check(proof(), "GET", tokenURL, t0, ""), "htm")
	})
}

func TestNonceSlotRollover(t *testing.T) {
	src := dpop.NonceSource{Key: nonceKey, Lifetime: time.Minute}
	start := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) // a slot boundary
	last := start.Add(-time.Nanosecond)
	if src.Current(last) == src.Current(start) {
		t.Fatal("the nonce did not change at the slot boundary")
	}
	if src.Current(start) != src.Current(start.Add(time.Minute-time.Nanosecond)) {
		t.Fatal("the nonce changed within a slot")
	}
	n := src.Current(last) // issued in the last nanosecond of a slot
	for _, tc := range []struct {
		now time.Time
		ok  bool
	}{
		{last, true},
		{start, true},
		{start.Add(time.Minute - time.Nanosecond), true},
		{start.Add(time.Minute), false},
		{start.Add(-time.Minute), true},                      // the slot it was issued in
		{start.Add(-time.Minute - time.Nanosecond), true},    // a replica one slot behind
		{start.Add(-2*time.Minute - time.Nanosecond), false}, // two slots behind
	} {
		if got := src.Valid(n, tc.now); got != tc.ok {
			t.Errorf("Valid at start%+v = %v, want %v", tc.now.Sub(start), got, tc.ok)
		}
	}
	// Replicas with the same key agree.
	if replica := (dpop.NonceSource{Key: append([]byte(nil), nonceKey...), Lifetime: time.Minute}); !replica.Valid(n, start) {
		t.Error("another replica refused the nonce")
	}
	if len(n) != 43 || strings.ContainsAny(n, "+/=") {
		t.Errorf("nonce %q is not base64url of 32 bytes", n)
	}
	// Before 1970 slots count down correctly too (floor division).
	old := time.Unix(-1, 0)
	if !src.Valid(src.Current(old), time.Unix(-61, 0)) || src.Current(old) == src.Current(time.Unix(0, 0)) {
		t.Error("slots before the epoch are wrong")
	}
}

func TestNonceSourceWithoutKeyPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	dpop.NonceSource{Key: []byte("short")}.Current(t0)
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		pol  dpop.Policy
		ok   bool
	}{
		{"zero", dpop.Policy{}, true},
		{"nonce", dpop.Policy{RequireNonce: true, Nonces: dpop.NonceSource{Key: nonceKey}}, true},
		{"nonce without key", dpop.Policy{RequireNonce: true}, false},
		{"short key", dpop.Policy{RequireNonce: true, Nonces: dpop.NonceSource{Key: nonceKey[:31]}}, false},
		{"short key, nonce not required", dpop.Policy{Nonces: dpop.NonceSource{Key: nonceKey[:31]}}, false},
		{"nonce lifetime too short", dpop.Policy{RequireNonce: true, Nonces: dpop.NonceSource{Key: nonceKey, Lifetime: time.Second}}, false},
		{"nonce lifetime too long", dpop.Policy{RequireNonce: true, Nonces: dpop.NonceSource{Key: nonceKey, Lifetime: 2 * time.Hour}}, false},
		{"negative max age", dpop.Policy{MaxAge: -time.Second}, false},
		{"max age too long", dpop.Policy{MaxAge: 2 * time.Hour}, false},
		{"max future too long", dpop.Policy{MaxFuture: 10 * time.Minute}, false},
	} {
		err := tc.pol.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err != nil && fault.KindOf(err) != fault.Invalid {
			t.Errorf("%s: kind %s", tc.name, fault.KindOf(err))
		}
	}
}

func TestReplay(t *testing.T) {
	p := proof()
	q := with(func(q *dpop.Proof) { q.JKT = "another-thumbprint" })
	if p.ReplayKey() == q.ReplayKey() {
		t.Error("the same jti under two keys has one replay key")
	}
	if p.ReplayKey() != proof().ReplayKey() || len(p.ReplayKey()) != 43 {
		t.Errorf("replay key %q", p.ReplayKey())
	}
	// The jti must be remembered at least as long as Check accepts the proof.
	for _, pol := range []dpop.Policy{{}, {MaxAge: time.Minute}} {
		until := pol.ReplayUntil(p)
		lastAccepted := p.IAT.Add(dpop.DefaultMaxAge)
		if pol.MaxAge != 0 {
			lastAccepted = p.IAT.Add(pol.MaxAge)
		}
		if pol.Check(p, "POST", tokenURL, lastAccepted, "") != nil || !until.After(lastAccepted) {
			t.Errorf("policy %+v: remembered until %v, accepted until %v", pol, until, lastAccepted)
		}
	}
}

func TestBoundTo(t *testing.T) {
	p := proof()
	if !p.BoundTo(p.JKT) || p.BoundTo("other") || p.BoundTo("") || (dpop.Proof{}).BoundTo("") {
		t.Error("BoundTo is wrong")
	}
}

func TestAccessTokenHash(t *testing.T) {
	// RFC 9449 §7.1 example: the access token and its ath.
	const tok = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
	if got := dpop.AccessTokenHash(tok); got != "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo" {
		t.Errorf("ath = %s", got)
	}
}

func TestCode(t *testing.T) {
	if c, _ := fault.CodeOf(fault.New(fault.Unauthenticated, "op", "")); c != "" {
		t.Error("a plain error has a DPoP code")
	}
	if c, _ := fault.CodeOf(dpop.InvalidProof("op", "x")); c != dpop.CodeInvalidProof {
		t.Error("InvalidProof lacks its code")
	}
	if c, _ := fault.CodeOf(dpop.UseNonce("op", "x")); c != dpop.CodeUseNonce {
		t.Error("UseNonce lacks its code")
	}
}
