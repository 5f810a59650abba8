package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// ssoLoginLoad is a relying party's login answered from an existing
// single sign-on session: the authorization request with PKCE S256, the
// redirect through the login page that the browser's session answers
// without showing it, the redirect back with the code, the code exchange,
// and the ID token verified (signature, issuer, audience, nonce, at_hash,
// sid present). Before the timer every seeded member logs in once with
// KVNR and password in a browser of its own, which keeps the session
// cookie; each operation then logs a random member's browser in again.
// No operation computes a password hash.
type ssoLoginLoad struct {
	*passwordLoginLoad
	browsers []*http.Client
	locks    []sync.Mutex
}

// Steps of an SSO login besides the password login's.
const stepSSO = "authorization answered from the session"

func (w *ssoLoginLoad) Setup(ctx context.Context) error {
	if err := w.setup(ctx); err != nil {
		return err
	}
	start := time.Now()
	w.browsers = make([]*http.Client, len(w.members))
	w.locks = make([]sync.Mutex, len(w.members))
	for i, m := range w.members {
		browser, f, back, err := w.password(ctx, m)
		if err != nil {
			return fmt.Errorf("the first login of %s: %w", m.KVNR, err)
		}
		if err := w.complete(ctx, back, f, stepPassword, nil); err != nil {
			return fmt.Errorf("the first login of %s: %w", m.KVNR, err)
		}
		w.browsers[i] = browser
	}
	fmt.Fprintf(w.progress, "%d members logged in with their password (one session each) in %v\n", len(w.members), time.Since(start).Round(time.Millisecond))
	return w.Do(ctx)
}

func (w *ssoLoginLoad) Do(ctx context.Context) error {
	i := mrand.IntN(len(w.browsers))
	// A browser does one thing at a time, as a member's would.
	w.locks[i].Lock()
	defer w.locks[i].Unlock()
	f := flow{state: randomString(), nonce: randomString(), verifier: randomString()}
	sum := sha256.Sum256([]byte(f.verifier))
	q := url.Values{
		"client_id": {w.cfg.ClientID}, "response_type": {"code"}, "scope": {w.scope},
		"redirect_uri": {w.cfg.WebRedirectURI}, "state": {f.state}, "nonce": {f.nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"prompt": {"none"},
	}
	authURL, err := url.Parse(w.md.AuthorizationEndpoint)
	if err != nil {
		return err
	}
	authURL.RawQuery = q.Encode()
	t := time.Now()
	back, _, err := w.browse(ctx, w.browsers[i], http.MethodGet, authURL, nil)
	if err != nil {
		return inStep(stepSSO, err)
	}
	w.steps.record(stepSSO, time.Since(t))
	return w.complete(ctx, back, f, stepSSO, nil)
}
