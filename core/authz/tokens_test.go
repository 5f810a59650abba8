package authz_test

import (
	"crypto/sha256"
	"encoding/base64"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/grant"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/ports/token"
)

func atHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

func TestExchangeCode(t *testing.T) {
	e := newEnv(t)
	f := e.codeFor("web", webRedirect, "openid profile")
	resp, err := e.exchange(f)
	if err != nil {
		t.Fatalf("ExchangeCode: %v", err)
	}
	now := e.clock.Now()
	if resp.TokenType != "Bearer" || resp.ExpiresIn != authz.DefaultAccessTokenTTL {
		t.Errorf("token_type %q, expires_in %v", resp.TokenType, resp.ExpiresIn)
	}
	if !slices.Equal(resp.Scopes, []string{"openid", "profile"}) {
		t.Errorf("scopes = %q", resp.Scopes)
	}
	if resp.RefreshToken == "" {
		t.Error("no refresh token for a client with the refresh_token grant")
	}

	at := e.accessClaims(resp.AccessToken)
	switch {
	case at.Issuer != issuer, at.Subject != annaID, !slices.Equal(at.Audience, []string{issuer, "svc"}):
		t.Errorf("access token iss %q sub %q aud %q, want the issuer (userinfo) and the registered resource server", at.Issuer, at.Subject, at.Audience)
	case at.ClientID != "web", at.Scope != "openid profile", at.JTI == "":
		t.Errorf("access token client_id %q scope %q jti %q", at.ClientID, at.Scope, at.JTI)
	case at.IssuedAt != now.Unix(), at.Expiry != now.Add(5*time.Minute).Unix():
		t.Errorf("access token iat %d exp %d, want %d and 5 minutes later", at.IssuedAt, at.Expiry, now.Unix())
	case at.ACR != loa.EIDAS.Low, !slices.Equal(at.AMR, []string{"pwd"}), at.AuthTime != f.authTime.Unix():
		t.Errorf("access token acr %q amr %q auth_time %d", at.ACR, at.AMR, at.AuthTime)
	}

	id := e.idClaims(resp.IDToken)
	switch {
	case id.Issuer != issuer, id.Subject != annaID:
		t.Errorf("ID token iss %q sub %q", id.Issuer, id.Subject)
	case !slices.Equal(id.Audience, []string{"web"}), id.AZP != "web":
		t.Errorf("ID token aud %q azp %q, want the client", id.Audience, id.AZP)
	case id.Nonce != f.nonce:
		t.Errorf("ID token nonce %q, want %q", id.Nonce, f.nonce)
	case id.ATHash != atHash(resp.AccessToken):
		t.Errorf("ID token at_hash %q, want %q", id.ATHash, atHash(resp.AccessToken))
	case id.ACR != loa.EIDAS.Low, !slices.Equal(id.AMR, []string{"pwd"}):
		t.Errorf("ID token acr %q amr %q", id.ACR, id.AMR)
	case id.AuthTime != f.authTime.Unix():
		t.Errorf("ID token auth_time %d, want %d", id.AuthTime, f.authTime.Unix())
	case id.IssuedAt != now.Unix(), id.Expiry != now.Add(5*time.Minute).Unix():
		t.Errorf("ID token iat %d exp %d", id.IssuedAt, id.Expiry)
	}
	if !e.active(resp.AccessToken) || !e.active(resp.RefreshToken) {
		t.Error("fresh tokens are not active")
	}
}

func TestExchangeCodeWhatIsIssued(t *testing.T) {
	tests := []struct {
		name, client, redirect, scope string
		wantRefresh, wantID           bool
	}{
		{"client with refresh grant", "web", webRedirect, "openid", true, true},
		{"client without refresh grant", "form", formRedirect, "openid profile", false, true},
		{"without openid", "web", webRedirect, "profile", true, false},
		{"public client", "app", appRedirect, "openid kvnr", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			resp := e.tokens(tt.client, tt.redirect, tt.scope)
			if (resp.RefreshToken != "") != tt.wantRefresh {
				t.Errorf("refresh token issued: %v, want %v", resp.RefreshToken != "", tt.wantRefresh)
			}
			if (resp.IDToken != "") != tt.wantID {
				t.Errorf("ID token issued: %v, want %v", resp.IDToken != "", tt.wantID)
			}
			if resp.AccessToken == "" {
				t.Error("no access token")
			}
		})
	}
}

func TestExchangeCodeRefusals(t *testing.T) {
	other, _ := newPKCE()
	tests := []struct {
		name string
		mod  func(e *env, f *flow)
		kind fault.Kind
		// spent: the code is used up by the refused attempt.
		spent bool
	}{
		{"missing code", func(_ *env, f *flow) { f.code = "" }, fault.Invalid, false},
		{"oversized code", func(_ *env, f *flow) { f.code = strings.Repeat("c", 513) }, fault.Invalid, false},
		{"unknown code", func(_ *env, f *flow) { f.code = "bm90LWEtY29kZQ" }, fault.NotFound, false},
		{"missing verifier", func(_ *env, f *flow) { f.verifier = "" }, fault.Invalid, false},
		{"verifier too short", func(_ *env, f *flow) { f.verifier = f.verifier[:42] }, fault.Invalid, false},
		{"verifier too long", func(_ *env, f *flow) { f.verifier = strings.Repeat("v", 129) }, fault.Invalid, false},
		{"verifier with a bad character", func(_ *env, f *flow) { f.verifier = f.verifier[:42] + "+" }, fault.Invalid, false},
		{"wrong verifier", func(_ *env, f *flow) { f.verifier = other }, fault.Forbidden, true},
		{"the challenge as verifier", func(e *env, f *flow) {
			for _, c := range e.st.codes() {
				f.verifier = c.Request.CodeChallenge
			}
		}, fault.Forbidden, true},
		{"wrong redirect_uri", func(_ *env, f *flow) { f.redirectURI = "http://127.0.0.1:9000/callback" }, fault.Forbidden, true},
		{"missing redirect_uri", func(_ *env, f *flow) { f.redirectURI = "" }, fault.Forbidden, true},
		{"another client's code", func(_ *env, f *flow) { f.client = "form" }, fault.Forbidden, true},
		{"expired code", func(e *env, _ *flow) { e.clock.Advance(authz.DefaultCodeTTL + time.Millisecond) }, fault.Expired, false},
		{"code at exactly 60s", func(e *env, _ *flow) { e.clock.Advance(authz.DefaultCodeTTL) }, fault.Expired, false},
		{"account blocked since the login", func(e *env, _ *flow) {
			if err := e.st.SetAccountStatus(e.ctx, annaID, account.Blocked, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}, fault.Forbidden, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			f := e.codeFor("web", webRedirect, "openid")
			good := f
			tt.mod(e, &f)
			resp, err := e.exchange(f)
			wantKind(t, err, tt.kind)
			if resp.AccessToken != "" || resp.RefreshToken != "" || resp.IDToken != "" {
				t.Fatal("tokens returned with an error")
			}
			if len(e.st.families()) != 0 {
				t.Fatal("a token family was created for a refused exchange")
			}
			if tt.spent {
				// The attempt spent the code: guessing the verifier or
				// trying clients one after another gains nothing.
				_, err := e.exchange(good)
				wantKind(t, err, fault.Conflict)
			}
		})
	}
}

func TestExchangeCodeBeforeExpiry(t *testing.T) {
	e := newEnv(t)
	f := e.codeFor("web", webRedirect, "openid")
	e.clock.Advance(authz.DefaultCodeTTL - time.Second)
	if _, err := e.exchange(f); err != nil {
		t.Fatalf("exchange after 59s: %v", err)
	}
}

// A replayed code revokes what the first exchange issued (RFC 6749
// §4.1.2): one of the two holders is an attacker.
func TestExchangeCodeReplayRevokes(t *testing.T) {
	e := newEnv(t)
	f := e.codeFor("web", webRedirect, "openid profile")
	first, err := e.exchange(f)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Second)
	second, err := e.exchange(f)
	wantKind(t, err, fault.Conflict)
	if second.AccessToken != "" {
		t.Fatal("the replay got tokens")
	}
	if e.active(first.AccessToken) {
		t.Error("the first exchange's access token is still active")
	}
	if e.active(first.RefreshToken) {
		t.Error("the first exchange's refresh token is still active")
	}
	_, err = e.svc.Refresh(e.ctx, e.client("web"), first.RefreshToken, "", noPoP)
	if err == nil {
		t.Fatal("the first exchange's refresh token still refreshes")
	}
	_, err = e.svc.UserInfo(e.ctx, bearer(first.AccessToken))
	wantKind(t, err, fault.Unauthenticated)
}

// A replay after the code's lifetime still revokes (the store reports
// a used code as Conflict, not Expired; see store.AuthRequests.RedeemCode).
func TestExchangeCodeLateReplayRevokes(t *testing.T) {
	e := newEnv(t)
	f := e.codeFor("web", webRedirect, "openid")
	first, err := e.exchange(f)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	_, err = e.exchange(f)
	wantKind(t, err, fault.Conflict)
	if e.active(first.RefreshToken) {
		t.Error("a late replay left the first exchange's refresh token active")
	}
}

// Concurrent exchanges of one code: one redeems it, the others are replays.
// Replays revoke what the code issued, whether they come before the
// winner's tokens are stored or after, so nobody keeps working tokens.
func TestExchangeCodeConcurrent(t *testing.T) {
	e := newEnv(t)
	f := e.codeFor("web", webRedirect, "openid")
	c := e.client("web")
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	resps := make([]authz.TokenResponse, n)
	for i := range n {
		wg.Go(func() { resps[i], errs[i] = e.svc.ExchangeCode(e.ctx, c, f.code, f.redirectURI, f.verifier, noPoP) })
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		if err != nil {
			if fault.KindOf(err) != fault.Conflict {
				t.Errorf("a losing exchange: %v, want Conflict", err)
			}
			continue
		}
		wins++
		if e.active(resps[i].AccessToken) || e.active(resps[i].RefreshToken) {
			t.Errorf("exchange %d kept active tokens although the code was replayed", i)
		}
	}
	if wins > 1 {
		t.Fatalf("%d of %d concurrent exchanges succeeded, want at most 1", wins, n)
	}
	if len(e.st.families()) > 1 {
		t.Fatalf("%d token families, want at most 1", len(e.st.families()))
	}
	for id, fam := range e.st.families() {
		if fam.RevokedAt.IsZero() {
			t.Errorf("family %s of a replayed code is not revoked", id)
		}
	}
}

// A replay that arrives while the winner of the code is between RedeemCode
// and CreateFamily (reading the account, signing) finds no family to
// revoke yet. The winner must not get working tokens afterwards: either its
// exchange fails as a replay, or what it got is revoked.
func TestExchangeCodeReplayBeforeTokensAreStored(t *testing.T) {
	e := newEnv(t)
	f := e.codeFor("web", webRedirect, "openid profile")
	var replayErr error
	ran := false
	e.st.setBeforeCreateFamily(func() {
		ran = true
		_, replayErr = e.exchange(f)
	})
	won, err := e.exchange(f)
	if !ran {
		t.Fatal("the replay did not run between RedeemCode and CreateFamily")
	}
	wantKind(t, replayErr, fault.Conflict)
	if err == nil {
		if e.active(won.AccessToken) {
			t.Error("the winner's access token is active after the replay")
		}
		if e.active(won.RefreshToken) {
			t.Error("the winner's refresh token is active after the replay")
		}
		if _, err := e.svc.Refresh(e.ctx, e.client("web"), won.RefreshToken, "", noPoP); err == nil {
			t.Error("the winner's refresh token still refreshes after the replay")
		}
		return
	}
	// The winner gets the replay's answer (invalid_grant) and nothing else.
	wantKind(t, err, fault.Conflict)
	if got, want := fault.PublicOf(err), fault.PublicOf(replayErr); got != want {
		t.Errorf("the winner is told %q, the replay %q; want the same answer", got, want)
	}
	if won.AccessToken != "" || won.RefreshToken != "" || won.IDToken != "" {
		t.Error("a refused exchange handed out tokens")
	}
	if len(e.st.families()) != 0 || len(e.st.access()) != 0 {
		t.Errorf("a refused exchange stored %d families and %d access tokens", len(e.st.families()), len(e.st.access()))
	}
	// The code stays replayed: another try changes nothing.
	_, err = e.exchange(f)
	wantKind(t, err, fault.Conflict)
}

func TestRefreshRotates(t *testing.T) {
	e := newEnv(t)
	first := e.webTokens()
	c := e.client("web")
	e.clock.Advance(time.Minute)
	second, err := e.svc.Refresh(e.ctx, c, first.RefreshToken, "", noPoP)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatal("the refresh token was not rotated")
	}
	if second.AccessToken == "" || second.AccessToken == first.AccessToken {
		t.Fatal("no new access token")
	}
	if !slices.Equal(second.Scopes, []string{"openid", "profile"}) {
		t.Errorf("scopes = %q, want the granted ones", second.Scopes)
	}
	id := e.idClaims(second.IDToken)
	if id.Nonce != "" || id.ATHash != atHash(second.AccessToken) || id.AuthTime != e.idClaims(first.IDToken).AuthTime ||
		id.ACR != loa.EIDAS.Low || !slices.Equal(id.AMR, []string{"pwd"}) || !slices.Equal(id.Audience, []string{"web"}) {
		t.Errorf("refreshed ID token %+v", id)
	}
	if e.active(first.RefreshToken) {
		t.Error("the rotated refresh token is still active")
	}
	if !e.active(second.RefreshToken) || !e.active(second.AccessToken) {
		t.Error("the new tokens are not active")
	}
	if !e.active(first.AccessToken) {
		t.Error("rotation revoked the earlier access token; only reuse should")
	}
	if _, err := e.svc.Refresh(e.ctx, c, second.RefreshToken, "", noPoP); err != nil {
		t.Fatalf("refreshing with the new token: %v", err)
	}
}

// Reuse of a rotated token is theft or a bug: the whole family goes, the
// new token included (OAuth 2.0 Security BCP §4.14.2).
func TestRefreshReuseRevokesFamily(t *testing.T) {
	e := newEnv(t)
	first := e.webTokens()
	c := e.client("web")
	second, err := e.svc.Refresh(e.ctx, c, first.RefreshToken, "", noPoP)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Refresh(e.ctx, c, first.RefreshToken, "", noPoP)
	wantKind(t, err, fault.Conflict)

	_, err = e.svc.Refresh(e.ctx, c, second.RefreshToken, "", noPoP)
	wantKind(t, err, fault.Expired)
	for name, tok := range map[string]string{
		"new refresh token": second.RefreshToken, "new access token": second.AccessToken, "first access token": first.AccessToken,
	} {
		if e.active(tok) {
			t.Errorf("%s is still active after reuse", name)
		}
	}
}

// A reuse is recorded once, with the family's account and client; a
// further presentation of a token of the revoked family adds nothing.
func TestRefreshReuseAudited(t *testing.T) {
	e := newEnv(t)
	first := e.webTokens()
	c := e.client("web")
	if _, err := e.svc.Refresh(e.ctx, c, first.RefreshToken, "", noPoP); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := e.svc.Refresh(e.ctx, c, first.RefreshToken, "", noPoP)
		wantKind(t, err, fault.Conflict)
	}
	_, fam, err := e.st.RefreshToken(e.ctx, grant.Hash(first.RefreshToken))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := e.st.AuditEvents(e.ctx, fam.Subject, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []audit.Event
	for _, ev := range evs {
		if ev.Kind == audit.RefreshReused {
			got = append(got, ev)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d refresh reuse events, want 1: %+v", len(got), evs)
	}
	if g := got[0]; g.ClientID != "web" || g.Detail["family"] != fam.ID || g.Actor != audit.System {
		t.Errorf("event %+v, want client web, family %s", g, fam.ID)
	}
	for _, v := range got[0].Detail {
		if strings.Contains(v, first.RefreshToken) {
			t.Error("the event holds the refresh token")
		}
	}
}

func TestRefreshConcurrent(t *testing.T) {
	e := newEnv(t)
	first := e.webTokens()
	c := e.client("web")
	const n = 10
	var wg sync.WaitGroup
	resps := make([]authz.TokenResponse, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { resps[i], errs[i] = e.svc.Refresh(e.ctx, c, first.RefreshToken, "", noPoP) })
	}
	wg.Wait()
	var winner string
	for i, err := range errs {
		switch {
		case err == nil && winner != "":
			t.Fatal("two concurrent rotations of one refresh token succeeded")
		case err == nil:
			winner = resps[i].RefreshToken
		case fault.KindOf(err) != fault.Conflict:
			t.Errorf("a losing rotation: %v, want Conflict", err)
		}
	}
	if winner == "" {
		t.Fatal("no rotation succeeded")
	}
	// Every loser is a reuse, so the family is revoked.
	if _, err := e.svc.Refresh(e.ctx, c, winner, "", noPoP); err == nil {
		t.Fatal("the winner's token works after concurrent reuse")
	}
}

func TestRefreshIdleExpiry(t *testing.T) {
	e := newEnv(t)
	tok := e.webTokens().RefreshToken
	c := e.client("web")
	// Each use restarts the idle time.
	for range 3 {
		e.clock.Advance(authz.DefaultRefreshIdleTTL - time.Minute)
		resp, err := e.svc.Refresh(e.ctx, c, tok, "", noPoP)
		if err != nil {
			t.Fatalf("refresh within the idle time: %v", err)
		}
		tok = resp.RefreshToken
	}
	e.clock.Advance(authz.DefaultRefreshIdleTTL)
	_, err := e.svc.Refresh(e.ctx, c, tok, "", noPoP)
	wantKind(t, err, fault.Expired)
	if e.active(tok) {
		t.Error("an idle-expired refresh token introspects active")
	}
}

func TestRefreshAbsoluteExpiry(t *testing.T) {
	e := newEnv(t)
	end := e.clock.Now().Add(authz.DefaultRefreshAbsoluteTTL)
	resp := e.webTokens()
	c := e.client("web")
	refresh := func() error {
		next, err := e.svc.Refresh(e.ctx, c, resp.RefreshToken, "", noPoP)
		if err == nil {
			resp = next
		}
		return err
	}
	// Used every 25 minutes, the family never goes idle.
	const step = 25 * time.Minute
	n := int(authz.DefaultRefreshAbsoluteTTL / step)
	for i := range n {
		e.clock.Advance(step)
		if err := refresh(); err != nil {
			t.Fatalf("refresh %d of %d: %v", i+1, n, err)
		}
	}
	// Two minutes before the end: the new access token must not outlive
	// the family.
	e.clock.Advance(end.Sub(e.clock.Now()) - 2*time.Minute)
	if err := refresh(); err != nil {
		t.Fatalf("refresh before the absolute end: %v", err)
	}
	if exp := time.Unix(e.accessClaims(resp.AccessToken).Expiry, 0); exp.After(end) {
		t.Fatalf("access token expires %v after the family's end", exp.Sub(end))
	}
	e.clock.Advance(2 * time.Minute)
	wantKind(t, refresh(), fault.Expired)
	if e.active(resp.RefreshToken) {
		t.Error("a refresh token past the absolute end introspects active")
	}
}

func TestRefreshScope(t *testing.T) {
	tests := []struct {
		name   string
		scope  string
		want   []string
		kind   fault.Kind
		wantID bool
	}{
		{"same", "openid profile", []string{"openid", "profile"}, 0, true},
		{"narrower", "openid", []string{"openid"}, 0, true},
		{"narrower without openid", "profile", []string{"profile"}, 0, false},
		{"duplicates", "openid openid", []string{"openid"}, 0, true},
		{"wider", "openid profile email", nil, fault.Forbidden, false},
		{"other", "kvnr", nil, fault.Forbidden, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			first := e.webTokens()
			c := e.client("web")
			resp, err := e.svc.Refresh(e.ctx, c, first.RefreshToken, tt.scope, noPoP)
			if tt.kind != 0 {
				wantKind(t, err, tt.kind)
				if _, err := e.svc.Refresh(e.ctx, c, first.RefreshToken, "", noPoP); err != nil {
					t.Fatalf("a refused scope spent the refresh token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(resp.Scopes, tt.want) || e.accessClaims(resp.AccessToken).Scope != strings.Join(tt.want, " ") {
				t.Fatalf("scopes %q / access token scope %q, want %q", resp.Scopes, e.accessClaims(resp.AccessToken).Scope, tt.want)
			}
			if (resp.IDToken != "") != tt.wantID {
				t.Fatalf("ID token issued: %v, want %v", resp.IDToken != "", tt.wantID)
			}
			// The narrower scope is for this access token only; the
			// grant keeps its scope (RFC 6749 §6).
			again, err := e.svc.Refresh(e.ctx, c, resp.RefreshToken, "", noPoP)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(again.Scopes, []string{"openid", "profile"}) {
				t.Fatalf("scopes after a narrower refresh: %q", again.Scopes)
			}
		})
	}
}

func TestRefreshRefusals(t *testing.T) {
	tests := []struct {
		name string
		run  func(e *env, rt string) error
		kind fault.Kind
		// intact: the member's token still works afterwards.
		intact bool
	}{
		{"empty token", func(e *env, _ string) error {
			_, err := e.svc.Refresh(e.ctx, e.client("web"), "", "", noPoP)
			return err
		}, fault.Invalid, true},
		{"unknown token", func(e *env, _ string) error {
			_, err := e.svc.Refresh(e.ctx, e.client("web"), "bm8tc3VjaC10b2tlbg", "", noPoP)
			return err
		}, fault.NotFound, true},
		{"another client's token", func(e *env, rt string) error {
			_, err := e.svc.Refresh(e.ctx, e.client("portal"), rt, "", noPoP)
			return err
		}, fault.Forbidden, true},
		{"oversized token", func(e *env, _ string) error {
			_, err := e.svc.Refresh(e.ctx, e.client("web"), strings.Repeat("r", 513), "", noPoP)
			return err
		}, fault.Invalid, true},
		{"blocked account", func(e *env, rt string) error {
			if err := e.st.SetAccountStatus(e.ctx, annaID, account.Blocked, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			_, err := e.svc.Refresh(e.ctx, e.client("web"), rt, "", noPoP)
			return err
		}, fault.Forbidden, false},
		{"deleted account", func(e *env, rt string) error {
			e.st.hide("account:" + annaID)
			_, err := e.svc.Refresh(e.ctx, e.client("web"), rt, "", noPoP)
			return err
		}, fault.Forbidden, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			rt := e.webTokens().RefreshToken
			wantKind(t, tt.run(e, rt), tt.kind)
			if tt.intact {
				if _, err := e.svc.Refresh(e.ctx, e.client("web"), rt, "", noPoP); err != nil {
					t.Fatalf("the member's token no longer works: %v", err)
				}
			}
		})
	}
}

// The rotation must not be lost to a failure after it: the client would
// retry with its old token, which is then reuse and ends the session.
func TestRefreshSigningFailureKeepsTheToken(t *testing.T) {
	for _, typ := range []string{token.TypeAccess, token.TypeID} {
		t.Run(typ, func(t *testing.T) {
			e := newEnv(t)
			rt := e.webTokens().RefreshToken
			c := e.client("web")
			e.jws.failNextSign(typ, fault.New(fault.Unavailable, "fake.Sign", "no active key"))
			_, err := e.svc.Refresh(e.ctx, c, rt, "", noPoP)
			wantKind(t, err, fault.Unavailable)
			if _, err := e.svc.Refresh(e.ctx, c, rt, "", noPoP); err != nil {
				t.Fatalf("retry with the same refresh token after a signing failure: %v", err)
			}
		})
	}
}

func TestClientCredentials(t *testing.T) {
	tests := []struct {
		name   string
		client string
		scope  string
		want   []string
		kind   fault.Kind
	}{
		{"all scopes by default", "svc", "", []string{"openid", "members.read", "audit.read"}, 0},
		{"requested scopes, unknown dropped", "svc", "audit.read admin", []string{"audit.read"}, 0},
		{"web client with the grant", "batch", "", []string{"audit.read"}, 0},
		{"public client", "app", "", nil, fault.Forbidden},
		{"public client with the grant (invalid registration)", "app-cc", "", nil, fault.Forbidden},
		{"confidential client without the grant", "web", "", nil, fault.Forbidden},
		{"oversized scope", "svc", strings.Repeat("s", 2049), nil, fault.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.client(strings.TrimSuffix(tt.client, "-cc"))
			if strings.HasSuffix(tt.client, "-cc") {
				// client.Validate refuses this; the rule must hold anyway.
				c.GrantTypes = append(c.GrantTypes, client.GrantClientCredentials)
			}
			resp, err := e.svc.ClientCredentials(e.ctx, c, tt.scope, noPoP)
			if tt.kind != 0 {
				wantKind(t, err, tt.kind)
				if len(e.st.access()) != 0 {
					t.Fatal("an access token was recorded for a refused request")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.RefreshToken != "" || resp.IDToken != "" {
				t.Error("client_credentials issued a refresh or ID token")
			}
			if !slices.Equal(resp.Scopes, tt.want) {
				t.Errorf("scopes %q, want %q", resp.Scopes, tt.want)
			}
			cl := e.accessClaims(resp.AccessToken)
			if cl.Subject != tt.client || cl.ClientID != tt.client || cl.Scope != strings.Join(tt.want, " ") || cl.AuthTime != 0 || cl.ACR != "" {
				t.Errorf("access token claims %+v", cl)
			}
			if cl.Expiry != e.clock.Now().Add(authz.DefaultAccessTokenTTL).Unix() {
				t.Errorf("exp %d, want 5 minutes from now", cl.Expiry)
			}
			if !e.active(resp.AccessToken) {
				t.Error("the token does not introspect active")
			}
			if len(e.st.access()) != 0 {
				t.Error("issuing a client's token wrote a record")
			}
			// Not a member's token: no userinfo, even with openid.
			_, err = e.svc.UserInfo(e.ctx, bearer(resp.AccessToken))
			wantKind(t, err, fault.Forbidden)
		})
	}
}

// TestClientCredentialsRevocation: a client's own token, not recorded at
// issue, is recorded by its revocation and stays revoked; only its own
// client can revoke it, and concurrent revocations all succeed.
func TestClientCredentialsRevocation(t *testing.T) {
	e := newEnv(t)
	issue := func() string {
		resp, err := e.svc.ClientCredentials(e.ctx, e.client("svc"), "", noPoP)
		if err != nil {
			t.Fatal(err)
		}
		return resp.AccessToken
	}
	tok, other := issue(), issue()

	if err := e.svc.Revoke(e.ctx, e.client("batch"), tok, ""); err != nil || !e.active(tok) {
		t.Fatalf("another client revoked the token: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Go(func() { errs[i] = e.svc.Revoke(e.ctx, e.client("svc"), tok, "access_token") })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("concurrent revocation: %v", err)
		}
	}
	if e.active(tok) {
		t.Error("the revoked token is still active")
	}
	if !e.active(other) {
		t.Error("revoking one token revoked another")
	}
	cl := e.accessClaims(tok)
	rec := e.st.access()[cl.JTI]
	if rec.RevokedAt.IsZero() || rec.ClientID != "svc" || rec.FamilyID != "" || rec.ExpiresAt.Unix() != cl.Expiry {
		t.Errorf("revocation record %+v", rec)
	}
	first := rec.RevokedAt
	e.clock.Advance(time.Second)
	if err := e.svc.Revoke(e.ctx, e.client("svc"), tok, ""); err != nil || !e.st.access()[cl.JTI].RevokedAt.Equal(first) {
		t.Errorf("a second revocation: %v, revoked at %v, want %v", err, e.st.access()[cl.JTI].RevokedAt, first)
	}
}

// A member's token carries its session as sid; without its record it is
// not active (a client's token without sid would be).
func TestMemberTokenNeedsItsRecord(t *testing.T) {
	e := newEnv(t)
	resp := e.webTokens()
	cl := e.accessClaims(resp.AccessToken)
	if cl.SID == "" {
		t.Fatal("a member's access token carries no sid")
	}
	e.st.hide("access:" + cl.JTI)
	if e.active(resp.AccessToken) {
		t.Error("a member's token without its record is active")
	}
}

// An infrastructure fault is the server's problem (5xx), never the
// client's grant: it must come back as Unavailable, not as NotFound,
// Expired, Conflict or Forbidden, which the HTTP layer maps to
// invalid_grant.
func TestStoreUnavailable(t *testing.T) {
	down := func(op string) error { return unavailable(op) }
	t.Run("ExchangeCode", func(t *testing.T) {
		for _, method := range []string{"RedeemCode", "AccountByID", "CreateFamily"} {
			t.Run(method, func(t *testing.T) {
				e := newEnv(t)
				f := e.codeFor("web", webRedirect, "openid")
				e.st.failWith(method, down("fake."+method))
				_, err := e.exchange(f)
				wantKind(t, err, fault.Unavailable)
			})
		}
		t.Run("RevokeFamiliesOfCode on replay", func(t *testing.T) {
			e := newEnv(t)
			f := e.codeFor("web", webRedirect, "openid")
			if _, err := e.exchange(f); err != nil {
				t.Fatal(err)
			}
			e.st.failWith("RevokeFamiliesOfCode", down("fake.RevokeFamiliesOfCode"))
			_, err := e.exchange(f)
			wantKind(t, err, fault.Unavailable)
		})
		t.Run("signer", func(t *testing.T) {
			e := newEnv(t)
			f := e.codeFor("web", webRedirect, "openid")
			e.jws.failNextSign(token.TypeAccess, fault.New(fault.Unavailable, "fake.Sign", "no active key"))
			_, err := e.exchange(f)
			wantKind(t, err, fault.Unavailable)
		})
	})
	t.Run("Refresh", func(t *testing.T) {
		for _, method := range []string{"RefreshToken", "AccountByID", "RotateRefreshToken"} {
			t.Run(method, func(t *testing.T) {
				e := newEnv(t)
				rt := e.webTokens().RefreshToken
				e.st.failWith(method, down("fake."+method))
				_, err := e.svc.Refresh(e.ctx, e.client("web"), rt, "", noPoP)
				wantKind(t, err, fault.Unavailable)
				e.st.failWith(method, nil)
				if _, err := e.svc.Refresh(e.ctx, e.client("web"), rt, "", noPoP); err != nil {
					t.Fatalf("the token is lost after an outage: %v", err)
				}
			})
		}
		t.Run("RevokeFamily on reuse", func(t *testing.T) {
			e := newEnv(t)
			rt := e.webTokens().RefreshToken
			if _, err := e.svc.Refresh(e.ctx, e.client("web"), rt, "", noPoP); err != nil {
				t.Fatal(err)
			}
			e.st.failWith("RevokeFamily", down("fake.RevokeFamily"))
			_, err := e.svc.Refresh(e.ctx, e.client("web"), rt, "", noPoP)
			wantKind(t, err, fault.Unavailable)
		})
	})
	t.Run("ClientCredentials revocation", func(t *testing.T) {
		for _, method := range []string{"RevokeAccessToken", "CreateAccessToken"} {
			t.Run(method, func(t *testing.T) {
				e := newEnv(t)
				resp, err := e.svc.ClientCredentials(e.ctx, e.client("svc"), "", noPoP)
				if err != nil {
					t.Fatal(err)
				}
				e.st.failWith(method, down("fake."+method))
				err = e.svc.Revoke(e.ctx, e.client("svc"), resp.AccessToken, "access_token")
				wantKind(t, err, fault.Unavailable)
				e.st.failWith(method, nil)
				if !e.active(resp.AccessToken) {
					t.Error("a failed revocation left the token half revoked")
				}
			})
		}
	})
	t.Run("Authorize", func(t *testing.T) {
		for _, method := range []string{"ClientByID", "CreateAuthRequest"} {
			t.Run(method, func(t *testing.T) {
				e := newEnv(t)
				req, _ := request("web", webRedirect, "openid")
				e.st.failWith(method, down("fake."+method))
				_, err := e.svc.Authorize(e.ctx, req)
				wantKind(t, err, fault.Unavailable)
				if redirectErr(err) != nil {
					t.Fatal("an outage is redirected to the client")
				}
			})
		}
	})
	t.Run("CompleteLogin", func(t *testing.T) {
		for _, method := range []string{"AuthRequestByID", "CompleteAuthRequest", "IssueCode"} {
			t.Run(method, func(t *testing.T) {
				e := newEnv(t)
				req, _ := request("web", webRedirect, "openid")
				r, err := e.svc.Authorize(e.ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				e.st.failWith(method, down("fake."+method))
				_, err = e.svc.CompleteLogin(e.ctx, r.ID, e.passwordLogin())
				wantKind(t, err, fault.Unavailable)
			})
		}
	})
}

// A client's own lifetimes apply up to MaxTokenTTL, however long the
// stored definition says: the signing key policy keeps a retired key
// published for MaxTokenTTL, no longer.
func TestClientLifetimesStopAtTheCeiling(t *testing.T) {
	e := newEnv(t)
	for id, ttl := range map[string]time.Duration{"web-30m": 30 * time.Minute, "web-2h": 2 * time.Hour} {
		c := e.client("web")
		c.ID, c.AccessTokenTTL, c.IDTokenTTL = id, ttl, ttl
		if err := e.st.CreateClient(e.ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range map[string]time.Duration{"web-30m": 30 * time.Minute, "web-2h": authz.MaxTokenTTL} {
		f := e.codeFor(id, webRedirect, "openid")
		resp, err := e.exchange(f)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		now := e.clock.Now()
		if resp.ExpiresIn != want {
			t.Errorf("%s: expires_in %v, want %v", id, resp.ExpiresIn, want)
		}
		if exp := e.accessClaims(resp.AccessToken).Expiry; exp != now.Add(want).Unix() {
			t.Errorf("%s: access token exp %d, want %d", id, exp, now.Add(want).Unix())
		}
		if exp := e.idClaims(resp.IDToken).Expiry; exp != now.Add(want).Unix() {
			t.Errorf("%s: ID token exp %d, want %d", id, exp, now.Add(want).Unix())
		}
	}
}
