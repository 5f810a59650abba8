package e2e

import (
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/loa"
)

// The negative cases: each is refused the way the protocol says, and none
// of them is a server error.

// exchangeRaw redeems code as the web client with an explicit verifier
// ("" leaves it out).
func (w *world) exchangeRaw(t *testing.T, in *instance, code, verifier, redirect string) result {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return postForm(t, in.base+"/token", form, basic(w.web.ID, w.web.secret))
}

func TestMissingCodeVerifier(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		a := newAttempt("openid")
		code := rp.code(t, a)
		// A confidential client must send the verifier too: its secret does
		// not replace PKCE.
		wantOAuthError(t, w.exchangeRaw(t, in, code, "", rp.conf.RedirectURL), http.StatusBadRequest, "invalid_request")
		// x/oauth2 without VerifierOption is the same request.
		_, err := rp.conf.Exchange(rp.ctx, code)
		if c, _ := oauthError(t, err); c != "invalid_request" {
			t.Errorf("exchange without verifier: %s, want invalid_request", c)
		}
	})
}

func TestWrongCodeVerifier(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		a := newAttempt("openid")
		code := rp.code(t, a)
		wantOAuthError(t, w.exchangeRaw(t, in, code, oauth2.GenerateVerifier(), rp.conf.RedirectURL), http.StatusBadRequest, "invalid_grant")
		// The failed attempt spent the code: guessing verifiers is one try.
		wantOAuthError(t, w.exchangeRaw(t, in, code, a.verifier, rp.conf.RedirectURL), http.StatusBadRequest, "invalid_grant")
	})
}

// authorizeErrorAtClient checks an error sent to the client's redirect
// URI: the error code, the state and iss (RFC 9207).
func authorizeErrorAtClient(t *testing.T, r result, redirect, state, issuer, code string) {
	t.Helper()
	cb := callback(t, r)
	if got := cb.Scheme + "://" + cb.Host + cb.Path; got != redirect {
		t.Fatalf("error redirected to %s, want %s", got, redirect)
	}
	q := cb.Query()
	if q.Get("error") != code || q.Get("state") != state || q.Get("iss") != issuer || q.Get("code") != "" {
		t.Fatalf("error redirect %s; want error=%s, the state and iss=%s", cb, code, issuer)
	}
}

func TestConfidentialClientWithoutCodeChallenge(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		conf := rp.conf
		conf.Scopes = []string{"openid"}
		state := randomHex(8)
		// x/oauth2 without S256ChallengeOption: no PKCE at all.
		r := newBrowser(t).get(t, conf.AuthCodeURL(state, oauth2.SetAuthURLParam("nonce", "n")))
		authorizeErrorAtClient(t, r, rp.conf.RedirectURL, state, in.issuer, "invalid_request")
	})
}

func TestPlainCodeChallengeRefused(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		for _, rp := range []*relyingParty{in.rp(t, w.web, nil), in.rp(t, w.app, nil)} {
			verifier := oauth2.GenerateVerifier()
			for name, params := range map[string][]oauth2.AuthCodeOption{
				"plain": {oauth2.SetAuthURLParam("code_challenge", verifier), oauth2.SetAuthURLParam("code_challenge_method", "plain")},
				// RFC 7636 §4.3: no method means plain.
				"no method": {oauth2.SetAuthURLParam("code_challenge", oauth2.S256ChallengeFromVerifier(verifier))},
			} {
				conf := rp.conf
				conf.Scopes = []string{"openid"}
				state := randomHex(8)
				r := newBrowser(t).get(t, conf.AuthCodeURL(state, params...))
				t.Run(rp.c.ID+"/"+name, func(t *testing.T) {
					authorizeErrorAtClient(t, r, rp.conf.RedirectURL, state, in.issuer, "invalid_request")
				})
			}
		}
	})
}

func TestCodeReplayRevokesItsTokens(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		a := newAttempt("openid", "profile")
		code := rp.code(t, a)
		first := rp.exchange(t, code, a)
		if !active(w.introspect(t, in, first.access)) {
			t.Fatal("the first exchange's access token is not active")
		}

		_, err := rp.conf.Exchange(rp.ctx, code, oauth2.VerifierOption(a.verifier))
		if c, status := oauthError(t, err); c != "invalid_grant" || status != http.StatusBadRequest {
			t.Fatalf("replayed code: %s %d, want invalid_grant 400", c, status)
		}
		// Someone else holds a copy of the code: what it issued is revoked.
		if active(w.introspect(t, in, first.access)) {
			t.Error("the access token of a replayed code is still active")
		}
		if r := userinfo(t, in, first.access); r.status != http.StatusUnauthorized {
			t.Errorf("userinfo with the replayed code's token: %d", r.status)
		}
		_, err = rp.refresh(first.refresh)
		if c, _ := oauthError(t, err); c != "invalid_grant" {
			t.Errorf("refresh token of a replayed code: %s, want invalid_grant", c)
		}
	})
}

func TestRedirectURIMismatchShowsAPage(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		for _, redirect := range []string{
			"https://evil.example/callback",
			"https://forms.example/callback/",
			"https://forms.example/callback?x=1",
			"http://forms.example/callback",
			"https://forms.example/Callback",
			"https://forms.example.evil.example/callback",
			"",
		} {
			name := redirect
			if name == "" {
				name = "missing"
			}
			t.Run(name, func(t *testing.T) {
				conf := rp.conf
				conf.RedirectURL = redirect
				conf.Scopes = []string{"openid"}
				r := newBrowser(t).getNoFollow(t, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
				wantErrorPage(t, r, http.StatusBadRequest)
			})
		}
	})
}

// wantErrorPage checks an HTML error page for the member, without a
// redirect anywhere.
func wantErrorPage(t *testing.T, r result, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if loc := r.header.Get("Location"); loc != "" {
		t.Fatalf("redirected to %s; an unvalidated redirect URI must never be followed", loc)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type %q, want an HTML page", ct)
	}
	if !strings.Contains(string(r.body), "<h1>") {
		t.Fatalf("not an error page: %s", r.body)
	}
}

func TestUnknownClientAtAuthorize(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		conf := rp.conf
		conf.ClientID = "no-such-client"
		conf.Scopes = []string{"openid"}
		r := newBrowser(t).getNoFollow(t, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		wantErrorPage(t, r, http.StatusBadRequest)
	})
}

func TestWrongSecretAndUnknownClientAtToken(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"whatever"}}
		wrong := postForm(t, in.base+"/token", form, basic(w.web.ID, w.web.secret+"x"))
		unknown := postForm(t, in.base+"/token", form, basic("no-such-client", w.web.secret))
		wantOAuthError(t, wrong, http.StatusUnauthorized, "invalid_client")
		wantOAuthError(t, unknown, http.StatusUnauthorized, "invalid_client")
		if string(wrong.body) != string(unknown.body) {
			t.Errorf("a wrong secret and an unknown client answer differently:\n%s\n%s", wrong.body, unknown.body)
		}
		// The same with client_secret_post.
		postWrong := postForm(t, in.base+"/token", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {w.svc.ID}, "client_secret": {w.svc.secret + "x"},
		}, nil)
		postUnknown := postForm(t, in.base+"/token", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {"no-such-service"}, "client_secret": {w.svc.secret},
		}, nil)
		wantOAuthError(t, postWrong, http.StatusUnauthorized, "invalid_client")
		wantOAuthError(t, postUnknown, http.StatusUnauthorized, "invalid_client")
		if string(postWrong.body) != string(postUnknown.body) || string(postWrong.body) != string(wrong.body) {
			t.Errorf("client_secret_post answers differ:\n%s\n%s", postWrong.body, postUnknown.body)
		}
	})
}

func TestExpiredCode(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		a := newAttempt("openid")
		code := rp.code(t, a)
		in.clock.Advance(61 * time.Second)
		_, err := rp.conf.Exchange(rp.ctx, code, oauth2.VerifierOption(a.verifier))
		if c, status := oauthError(t, err); c != "invalid_grant" || status != http.StatusBadRequest {
			t.Fatalf("code after 61 s: %s %d, want invalid_grant 400", c, status)
		}
	})
}

func TestReusedRefreshToken(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		tok := rp.login(t, "openid")
		next, err := rp.refresh(tok.refresh)
		if err != nil {
			t.Fatal(err)
		}
		r := postForm(t, in.base+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}},
			basic(w.web.ID, w.web.secret))
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		if active(w.introspect(t, in, next.RefreshToken)) || active(w.introspect(t, in, next.AccessToken)) {
			t.Error("the tokens rotated from a reused refresh token are still active")
		}
		// Another client cannot use the refresh token at all, nor learn
		// about it by introspection.
		other := postForm(t, in.base+"/token", url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}, "client_id": {w.app.ID},
		}, nil)
		if other.status == http.StatusOK {
			t.Error("another client refreshed the web client's token")
		}
	})
}

// A client may have token lifetimes of its own up to authz.MaxTokenTTL,
// longer than the server's defaults. A retired signing key stays
// published until the last token it signed has expired, so a relying
// party that fetches the key set then still verifies it; only after that
// is the key dropped. (That a token whose key is no longer published is
// refused is adapters/keys' test: the key policy leaves no such token.)
func TestRetiredKeyOutlivesTheLongestClientToken(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		w.web.AccessTokenTTL, w.web.IDTokenTTL = authz.MaxTokenTTL, authz.MaxTokenTTL
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		tok := rp.login(t, "openid")
		kid := idKid(t, tok.access)
		_, p := jwtParts(t, tok.access)
		exp := time.Unix(int64(p["exp"].(float64)), 0)
		if got := exp.Sub(in.clock.Now()); got < authz.MaxTokenTTL-time.Second {
			t.Fatalf("the access token lives %s, want the client's %s", got, authz.MaxTokenTTL)
		}

		for range 2 {
			if _, err := in.srv.Keys().Rotate(t.Context(), true); err != nil {
				t.Fatal(err)
			}
		}
		// A minute before the tokens expire, long after the server's
		// default lifetimes: the key is still published.
		in.clock.Advance(authz.MaxTokenTTL - time.Minute)
		// The ring reloads on its timer; Rotate applies the due plan now.
		plan, err := in.srv.Keys().Rotate(t.Context(), false)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(plan.Drop, kid) || !slices.Contains(jwksKids(t, in), kid) {
			t.Fatalf("the retired key is dropped (plan %+v) while a token it signed lives until %s", plan, exp)
		}
		if r := userinfo(t, in, tok.access); r.status != http.StatusOK {
			t.Fatalf("userinfo with a retired key's token: %d %s", r.status, r.body)
		}
		// A relying party that fetches the key set only now verifies it.
		if _, err := in.rp(t, w.web, nil).verifier.Verify(t.Context(), tok.id); err != nil {
			t.Fatalf("go-oidc with a fresh key set: %v", err)
		}

		// Once every token it signed has expired, the key is dropped.
		in.clock.Advance(3 * time.Minute)
		if !in.clock.Now().After(exp) {
			t.Fatalf("the access token still lives (%s)", exp)
		}
		plan, err = in.srv.Keys().Rotate(t.Context(), false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(plan.Drop, kid) || slices.Contains(jwksKids(t, in), kid) {
			t.Fatalf("plan %+v does not drop %s after its tokens expired", plan, kid)
		}
		if r := userinfo(t, in, tok.access); r.status != http.StatusUnauthorized {
			t.Errorf("userinfo with an expired token of a dropped key: %d", r.status)
		}
	})
}

func TestAlgNoneRefused(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		tok := rp.login(t, "openid", "profile")
		if r := userinfo(t, in, tok.access); r.status != http.StatusOK {
			t.Fatalf("the genuine token: %d", r.status)
		}
		h, _ := jwtParts(t, tok.access)
		parts := strings.Split(tok.access, ".")
		enc := base64.RawURLEncoding.EncodeToString
		forged := map[string]string{
			// The genuine claims under an unsecured header (RFC 7515 §A.5).
			"alg none, no signature": enc([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + parts[1] + ".",
			"alg none with kid":      enc([]byte(`{"alg":"none","typ":"at+jwt","kid":"`+h["kid"].(string)+`"}`)) + "." + parts[1] + ".",
			"alg none, old sig":      enc([]byte(`{"alg":"none","typ":"at+jwt","kid":"`+h["kid"].(string)+`"}`)) + "." + parts[1] + "." + parts[2],
			"alg NONE":               enc([]byte(`{"alg":"NONE","typ":"at+jwt"}`)) + "." + parts[1] + ".",
			// An ID token is not an access token.
			"ID token as bearer": tok.id,
		}
		for name, raw := range forged {
			t.Run(name, func(t *testing.T) {
				r := userinfo(t, in, raw)
				wantOAuthError(t, r, http.StatusUnauthorized, "invalid_token")
				if wa := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer ") || !strings.Contains(wa, `error="invalid_token"`) {
					t.Errorf("WWW-Authenticate = %q", wa)
				}
				if active(w.introspect(t, in, raw)) {
					t.Error("introspection calls the forged token active")
				}
			})
		}
	})
}

func TestOversizedRequestBody(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		big := url.Values{"grant_type": {"client_credentials"}, "padding": {strings.Repeat("a", 64<<10)}}.Encode()
		for _, path := range []string{"/token", "/introspect", "/revoke"} {
			t.Run(path, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodPost, in.base+path, strings.NewReader(big))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(w.svc.ID, w.svc.secret)
				wantOAuthError(t, do(t, req), http.StatusRequestEntityTooLarge, "invalid_request")

				// Without a Content-Length (chunked) the limit holds while
				// reading: a client error, never a server error.
				req, _ = http.NewRequest(http.MethodPost, in.base+path, io.NopCloser(strings.NewReader(big)))
				req.ContentLength = -1
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(w.svc.ID, w.svc.secret)
				r := do(t, req)
				if r.status != http.StatusRequestEntityTooLarge && r.status != http.StatusBadRequest {
					t.Fatalf("chunked oversized body: status %d: %s", r.status, r.body)
				}
				wantOAuthError(t, r, r.status, "invalid_request")
			})
		}
	})
}

func TestMalformedRequests(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		form := "application/x-www-form-urlencoded"
		cases := []struct {
			name, path, ctype, body, auth string
		}{
			{"bad percent escape", "/token", form, "grant_type=authorization_code&code=%zz", "basic"},
			{"semicolon separator", "/token", form, "grant_type=refresh_token;refresh_token=x", "basic"},
			{"no grant type", "/token", form, "code=abc", "basic"},
			{"unknown grant type", "/token", form, "grant_type=password&username=a&password=b", "basic"},
			{"implicit grant type", "/token", form, "grant_type=implicit", "basic"},
			{"JSON body", "/token", "application/json", `{"grant_type":"client_credentials"}`, "basic"},
			{"garbage Basic", "/token", form, "grant_type=client_credentials", "Basic !!!not-base64!!!"},
			{"Basic without colon", "/token", form, "grant_type=client_credentials", "Basic " + base64.StdEncoding.EncodeToString([]byte("just-an-id"))},
			{"Basic with bad escape", "/token", form, "grant_type=client_credentials", "Basic " + base64.StdEncoding.EncodeToString([]byte("e2e-web:%zz"))},
			{"Bearer at the token endpoint", "/token", form, "grant_type=client_credentials", "Bearer abc.def.ghi"},
			{"empty Authorization", "/token", form, "grant_type=client_credentials", " "},
			{"binary body", "/token", form, "\x00\xff\xfe grant_type=\x01", "basic"},
			{"two auth methods", "/token", form, "grant_type=client_credentials&client_id=e2e-web&client_secret=x", "basic"},
			{"bad assertion type", "/token", form, "grant_type=client_credentials&client_assertion=a.b.c&client_assertion_type=x", ""},
			{"garbage assertion", "/token", form, "grant_type=client_credentials&client_assertion=%00%01&client_assertion_type=" + url.QueryEscape(assertionType), ""},
			{"introspect garbage Basic", "/introspect", form, "token=abc", "Basic ###"},
			{"introspect bad escape", "/introspect", form, "token=%zz", "basic"},
			{"revoke garbage Basic", "/revoke", form, "token=abc", "Basic ###"},
			{"revoke bad escape", "/revoke", form, "token=%zz", "basic"},
			{"userinfo garbage Authorization", "/userinfo", form, "", "Negotiate xyz"},
			{"userinfo empty Bearer", "/userinfo", form, "", "Bearer "},
			{"userinfo garbage token", "/userinfo", form, "", "Bearer @@@.###.!!!"},
			{"userinfo bad form", "/userinfo", form, "access_token=%zz", ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				req, err := http.NewRequest(http.MethodPost, in.base+c.path, strings.NewReader(c.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", c.ctype)
				switch c.auth {
				case "":
				case "basic":
					req.SetBasicAuth(w.web.ID, w.web.secret)
				default:
					req.Header["Authorization"] = []string{c.auth}
				}
				r := do(t, req)
				if r.status != http.StatusBadRequest && r.status != http.StatusUnauthorized {
					t.Fatalf("status %d, want 400 or 401: %s", r.status, r.body)
				}
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Fatalf("Content-Type %q, want a JSON OAuth error: %s", ct, r.body)
				}
				if e, _ := r.json(t)["error"].(string); e == "" {
					t.Fatalf("no error code: %s", r.body)
				}
			})
		}
	})
}

// TestAuthorizationErrorsCarryIss: errors that reach the client after the
// redirect URI is validated carry iss (RFC 9207), before and after the
// login page.
func TestAuthorizationErrorsCarryIss(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		conf := rp.conf
		conf.Scopes = []string{"openid"}
		pkce := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())

		// prompt=none: Pforte keeps no session yet, so a login is required.
		r := newBrowser(t).get(t, conf.AuthCodeURL("st-1", pkce, oauth2.SetAuthURLParam("prompt", "none")))
		authorizeErrorAtClient(t, r, rp.conf.RedirectURL, "st-1", in.issuer, "login_required")

		// acr_values above what the member's proofing reaches (high, for a
		// letter-proofed member): after the password, a page says why, and
		// its way back is the error for the client, with iss.
		b := newBrowser(t)
		page := b.get(t, conf.AuthCodeURL("st-2", pkce, oauth2.SetAuthURLParam("acr_values", "http://eidas.europa.eu/LoA/high")))
		r = b.submitLogin(t, in.base, page, memberKVNR.String(), memberPassword)
		if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "Vertrauensniveau") {
			t.Fatalf("a level the member cannot reach: status %d, want the page that says why:\n%s", r.status, r.body)
		}
		m := backLink.FindSubmatch(r.body)
		if m == nil {
			t.Fatalf("the page has no way back to the client:\n%s", r.body)
		}
		authorizeErrorAtClient(t, result{status: http.StatusFound, header: http.Header{"Location": {html.UnescapeString(string(m[1]))}}},
			rp.conf.RedirectURL, "st-2", in.issuer, "access_denied")
	})
}

// backLink is the level page's way back to the client.
var backLink = regexp.MustCompile(`<a id="back" href="([^"]+)"`)

// TestMinACRRefusesPasswordAlone: a client that states no minimum level
// accepts substantial; a password alone never gets it a code, with or
// without acr_values low. The member here has no device, so the login
// ends on the page that says how to bind one.
func TestMinACRRefusesPasswordAlone(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		w.web.MinACR = loa.None
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		conf := rp.conf
		conf.Scopes = []string{"openid", "kvnr"}
		for i, acr := range []string{"", "http://eidas.europa.eu/LoA/low"} {
			b := newBrowser(t)
			state := "st-" + strconv.Itoa(i)
			page := b.get(t, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
				oauth2.SetAuthURLParam("acr_values", acr)))
			r := b.submitLogin(t, in.base, page, memberKVNR.String(), memberPassword)
			if r.status != http.StatusForbidden || strings.Contains(r.header.Get("Location"), "code=") ||
				!strings.Contains(string(r.body), "Kein Gerät") {
				t.Fatalf("acr_values %q: status %d, Location %q; want the no-device page and no code:\n%s",
					acr, r.status, r.header.Get("Location"), r.body)
			}
		}
	})
}

// TestLoginFormReplay: a login form posted twice issues one code; the
// second post is a page, not another redirect with a code.
func TestLoginFormReplay(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		a := newAttempt("openid")
		b := newBrowser(t)
		page := b.get(t, rp.authURL(a))
		rp.checkCallback(t, callback(t, b.submitLogin(t, in.base, page, memberKVNR.String(), memberPassword)), a)
		again := b.submitLogin(t, in.base, page, memberKVNR.String(), memberPassword)
		if again.status < 400 || again.status >= 500 || again.header.Get("Location") != "" {
			t.Fatalf("second post of the login form: %d, Location %q", again.status, again.header.Get("Location"))
		}
		// A wrong password shows the page again, with the same answer for
		// an unknown member.
		b = newBrowser(t)
		wrong := b.submitLogin(t, in.base, b.get(t, rp.authURL(newAttempt("openid"))), memberKVNR.String(), "falsch-falsch-falsch")
		b = newBrowser(t)
		unknown := b.submitLogin(t, in.base, b.get(t, rp.authURL(newAttempt("openid"))), coretest.KVNR("Z99999999").String(), "falsch-falsch-falsch")
		if wrong.status != http.StatusUnauthorized || unknown.status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d, unknown member %d; want 401 both", wrong.status, unknown.status)
		}
		msg := regexp.MustCompile(`<p class="msg" role="alert">([^<]*)</p>`)
		mw, mu := msg.FindSubmatch(wrong.body), msg.FindSubmatch(unknown.body)
		if mw == nil || mu == nil || string(mw[1]) != string(mu[1]) {
			t.Errorf("a wrong password and an unknown member read differently: %q / %q", mw, mu)
		}
	})
}
