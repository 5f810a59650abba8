package e2e

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/pforte-id/pforte/core/coretest"
)

// TestDatabaseOutage: when the database is gone, every endpoint answers a
// server error. A client told invalid_grant would throw away a valid grant
// and send the member through a new login for Pforte's hiccup.
func TestDatabaseOutage(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		tok := rp.login(t, "openid", "profile")
		a := newAttempt("openid")
		code := rp.code(t, a)

		if err := in.srv.Store().Close(); err != nil {
			t.Fatal(err)
		}

		var bodies []string
		_, err := rp.conf.Exchange(rp.ctx, code, oauth2.VerifierOption(a.verifier))
		if c, status := oauthError(t, err); c != "server_error" || status < 500 {
			t.Errorf("code exchange during the outage: %s %d, want server_error 5xx", c, status)
		}
		bodies = append(bodies, string(err.(*oauth2.RetrieveError).Body))
		_, err = rp.refresh(tok.refresh)
		if c, status := oauthError(t, err); c != "server_error" || status < 500 {
			t.Errorf("refresh during the outage: %s %d, want server_error 5xx", c, status)
		}
		jsonError := func(what string, r result) {
			t.Helper()
			if r.status < 500 || r.json(t)["error"] != "server_error" {
				t.Errorf("%s during the outage: %d %s, want server_error 5xx", what, r.status, r.body)
			}
			bodies = append(bodies, string(r.body))
		}
		jsonError("userinfo", userinfo(t, in, tok.access))
		jsonError("introspection", postForm(t, in.base+"/introspect", url.Values{"token": {tok.access}}, basic(w.web.ID, w.web.secret)))
		jsonError("revocation", postForm(t, in.base+"/revoke", url.Values{"token": {tok.refresh}}, basic(w.web.ID, w.web.secret)))
		jsonError("client_credentials", postForm(t, in.base+"/token", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {w.svc.ID}, "client_secret": {w.svc.secret},
		}, nil))

		// The member's browser gets a page, not a redirect.
		b := newBrowser(t)
		r := b.getNoFollow(t, rp.authURL(newAttempt("openid")))
		if r.status < 500 || r.header.Get("Location") != "" {
			t.Errorf("authorize during the outage: %d, Location %q", r.status, r.header.Get("Location"))
		}
		bodies = append(bodies, string(r.body))
		if r := get(t, in.base+"/readyz", nil); r.status != http.StatusServiceUnavailable {
			t.Errorf("/readyz during the outage: %d", r.status)
		}
		if r := get(t, in.base+"/healthz", nil); r.status != http.StatusOK {
			t.Errorf("/healthz during the outage: %d (the process is alive)", r.status)
		}
		// The operator learns why; the clients do not.
		if logs := in.logs.String(); !strings.Contains(logs, `"msg":"token endpoint failed","kind":"unavailable"`) {
			t.Errorf("the token endpoint's outage is not logged with its cause:\n%s", logs)
		}
		// Nothing internal leaks into the answers.
		for _, body := range bodies {
			for _, leak := range []string{"sql", "closed", "pgx", "driver", "connection"} {
				if strings.Contains(strings.ToLower(body), leak) {
					t.Errorf("an error answer mentions %q: %s", leak, body)
				}
			}
		}
	})
}

// TestTwoInstancesOnOnePostgreSQL: stateless replicas behind one issuer
// share everything through the database.
func TestTwoInstancesOnOnePostgreSQL(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	st := postgresStorage(t)
	a := w.start(t, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := w.serve(t, ln, a.issuer, st) // the same issuer: replicas behind one name
	if b.base == a.base {
		t.Fatal("the instances share an address")
	}

	// The relying party knows the issuer (instance A's URL); its requests
	// land on whichever instance the load balancer picks.
	rp := a.rp(t, w.web, nil)
	at := newAttempt("openid", "profile")
	br := newBrowser(t)
	start := br.getNoFollow(t, rp.authURL(at)) // authorize on A
	loc, err := url.Parse(start.header.Get("Location"))
	if start.status != http.StatusFound || err != nil || !strings.HasPrefix(loc.Path, "/login") {
		t.Fatalf("authorize on A: %d, Location %q", start.status, start.header.Get("Location"))
	}
	page := br.get(t, b.base+loc.RequestURI()) // the login page on B
	cb := callback(t, br.submitLogin(t, b.base, page, memberKVNR.String(), memberPassword))
	code := rp.checkCallback(t, cb, at)

	// The code is redeemed on B; the ID token B signs verifies against the
	// key set A publishes.
	onB := *rp
	onB.conf.Endpoint.TokenURL = b.base + "/token"
	tok := onB.exchange(t, code, at)

	// A refresh token rotated on A is reuse when presented on B, and the
	// family ends on both.
	rotated, err := rp.refresh(tok.refresh)
	if err != nil {
		t.Fatalf("refresh on A: %v", err)
	}
	_, err = onB.refresh(tok.refresh)
	if c, _ := oauthError(t, err); c != "invalid_grant" {
		t.Fatalf("old refresh token on B: %s, want invalid_grant", c)
	}
	_, err = rp.refresh(rotated.RefreshToken)
	if c, _ := oauthError(t, err); c != "invalid_grant" {
		t.Fatalf("newest refresh token on A after reuse on B: %s, want invalid_grant", c)
	}
	if active(w.introspect(t, a, rotated.AccessToken)) || active(w.introspect(t, b, rotated.AccessToken)) {
		t.Error("the revoked family's access token is active on an instance")
	}

	// A key rotated on A is used by B after B reloads, and both publish it.
	if _, err := a.srv.Keys().Rotate(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if _, err := b.srv.Keys().Rotate(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if ja, jb := get(t, a.base+"/jwks", nil), get(t, b.base+"/jwks", nil); string(ja.body) != string(jb.body) {
		t.Errorf("the instances publish different key sets:\n%s\n%s", ja.body, jb.body)
	}
	at = newAttempt("openid")
	br = newBrowser(t)
	page = br.get(t, b.base+"/authorize?"+mustQuery(t, rp.authURL(at)).Encode())
	code = rp.checkCallback(t, callback(t, br.submitLogin(t, b.base, page, memberKVNR.String(), memberPassword)), at)
	rp.exchange(t, code, at) // redeemed on A, verified with the keys A publishes
}

// TestLogsHoldNoSecrets runs the code flow, refresh rotation and reuse,
// a failed login and a wrong client secret with every log line captured —
// the server's and the libraries' (the default logger, as `pforte serve`
// sets it) — and looks for every secret of the run in them.
func TestLogsHoldNoSecrets(t *testing.T) {
	// Not parallel: it owns the process's default logger meanwhile.
	buf := &coretest.Log{}
	prev := slog.Default()
	slog.SetDefault(buf.JSON())
	t.Cleanup(func() { slog.SetDefault(prev) })

	for _, eng := range []engine{sqliteEngine, postgresEngine} {
		t.Run(eng.name, func(t *testing.T) {
			w := newWorld(t)
			in := w.start(t, eng.storage(t))
			rp := in.rp(t, w.web, nil)

			b := newBrowser(t)
			failed := b.submitLogin(t, in.base, b.get(t, rp.authURL(newAttempt("openid"))), memberKVNR.String(), "Falsch-"+memberPassword)
			if failed.status != http.StatusUnauthorized {
				t.Fatalf("wrong password: %d", failed.status)
			}
			wrongSecret := w.web.secret[:20] + "WRONG" + w.web.secret[25:]
			postForm(t, in.base+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, basic(w.web.ID, wrongSecret))

			a := newAttempt("openid", "profile", "email")
			code := rp.code(t, a)
			tok := rp.exchange(t, code, a)
			if r := userinfo(t, in, tok.access); r.status != http.StatusOK {
				t.Fatal(r.status)
			}
			next, err := rp.refresh(tok.refresh)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rp.refresh(tok.refresh); err == nil {
				t.Fatal("reuse was accepted")
			}
			if _, err := rp.conf.Exchange(rp.ctx, code, oauth2.VerifierOption(a.verifier)); err == nil {
				t.Fatal("code replay was accepted")
			}
			nextID, _ := next.Extra("id_token").(string)

			logs := in.logs.String() + buf.String()
			if !strings.Contains(logs, `"path":"/token"`) || !strings.Contains(logs, `"request error"`) {
				t.Fatalf("the logs did not capture the run:\n%s", logs)
			}
			sc := bufio.NewScanner(strings.NewReader(logs))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if !json.Valid(sc.Bytes()) {
					t.Errorf("a log line is not JSON: %s", sc.Text())
				}
			}
			secrets := map[string]string{
				"password": memberPassword, "wrong password": "Falsch-" + memberPassword,
				"client secret": w.web.secret, "wrong client secret": wrongSecret,
				"code": code, "code_verifier": a.verifier, "nonce": a.nonce, "state": a.state,
			}
			for name, jwt := range map[string]string{"access token": tok.access, "ID token": tok.id,
				"rotated access token": next.AccessToken, "rotated ID token": nextID} {
				// The payload and signature alone are as telling as the whole.
				parts := strings.Split(jwt, ".")
				secrets[name+" payload"], secrets[name+" signature"] = parts[1], parts[2]
			}
			secrets["refresh token"], secrets["rotated refresh token"] = tok.refresh, next.RefreshToken
			for name, s := range secrets {
				if s == "" {
					t.Fatalf("%s is empty", name)
				}
				if strings.Contains(logs, s) {
					t.Errorf("the logs contain the %s", name)
				}
			}
			if t.Failed() {
				t.Logf("logs:\n%s", logs)
			}
		})
	}
}
