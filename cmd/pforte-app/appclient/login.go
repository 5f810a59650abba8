package appclient

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte-app/dpop"
)

// Device is the phone's bound device key.
type Device struct {
	// BindingID is the id Pforte gave the binding.
	BindingID string
	Key       *authenticator.Authenticator
	// Origin is the origin the key's client data carry.
	Origin string
	// Signed, when set, is called after the key signed and before the
	// assertion is sent: the key's counter grew, and the app must keep it
	// whatever the server makes of the assertion (a counter that went
	// back would mark the key as a possible copy).
	Signed func() error
}

// LoginRequest is one native login.
type LoginRequest struct {
	// Scope is the space-separated scope (openid is added when missing).
	Scope string
	// ACRValues are the requested acr values, space-separated (optional).
	ACRValues string
	Device    Device
	PIN       string
	// DPoP is the key the tokens are bound to.
	DPoP *dpop.Key
}

// Tokens are the tokens of a session.
type Tokens struct {
	AccessToken string
	// TokenType is DPoP: the access token is bound to the key.
	TokenType    string
	ExpiresAt    time.Time
	RefreshToken string
	IDToken      string
	Scope        string
	// Claims are the verified ID token's claims (nil when none came).
	Claims map[string]any
	// ReconfirmBy, from the app login's answer, is when the device needs
	// a re-confirmation (zero: not said, e.g. after a refresh).
	ReconfirmBy time.Time
}

// Steps of the login, for errors and timings.
const (
	StepPAR       = "pushed authorization request"
	StepAuthorize = "authorization request"
	StepChallenge = "login challenge"
	StepAssertion = "device key and PIN"
	StepToken     = "code exchange"
)

// LoginError says at which step a login failed; Err is the cause (a
// *Problem, *OAuthError or *AuthorizationError for the server's refusals).
type LoginError struct {
	Step string
	Err  error
}

func (e *LoginError) Error() string {
	var ae *AuthorizationError
	if errors.As(e.Err, &ae) {
		// The steps went through; the issuer refused the result.
		return e.Err.Error()
	}
	return e.Step + ": " + e.Err.Error()
}
func (e *LoginError) Unwrap() error { return e.Err }

// randomString is n random bytes, base64url.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Login runs the native login and returns the verified tokens. Trace,
// when not nil, is told when each step ends (for benchmarks).
func (c *Client) Login(ctx context.Context, r LoginRequest) (Tokens, error) {
	return c.LoginTraced(ctx, r, nil)
}

// LoginTraced is Login, calling trace(step) as each step ends.
func (c *Client) LoginTraced(ctx context.Context, r LoginRequest, trace func(step string)) (Tokens, error) {
	if r.DPoP == nil || r.Device.Key == nil || r.Device.BindingID == "" {
		return Tokens{}, errors.New("appclient: a DPoP key and a bound device are required")
	}
	done := func(step string) {
		if trace != nil {
			trace(step)
		}
	}
	fail := func(step string, err error) (Tokens, error) { return Tokens{}, &LoginError{Step: step, Err: err} }
	scope := r.Scope
	if !hasWord(scope, "openid") {
		scope = strings.TrimSpace("openid " + scope)
	}
	// PKCE (RFC 7636): 32 random bytes give a 43-character verifier.
	verifier := randomString(32)
	sum := sha256.Sum256([]byte(verifier))
	state, nonce := randomString(16), randomString(16)

	// 1. Push the authorization request (RFC 9126) with the DPoP key's
	// thumbprint, so that the code can only be redeemed with that key
	// (RFC 9449 §10).
	form := url.Values{
		"client_id": {c.cfg.ClientID}, "response_type": {"code"}, "redirect_uri": {c.cfg.RedirectURI},
		"scope": {scope}, "state": {state}, "nonce": {nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"dpop_jkt": {r.DPoP.Thumbprint()},
	}
	if r.ACRValues != "" {
		form.Set("acr_values", r.ACRValues)
	}
	a, err := c.postForm(ctx, c.md.PAREndpoint, form, nil)
	if err != nil {
		return fail(StepPAR, err)
	}
	var pushed struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
	}
	if a.status != http.StatusCreated && a.status != http.StatusOK {
		return fail(StepPAR, oauthError("pushed authorization", a))
	}
	if err := json.Unmarshal(a.body, &pushed); err != nil || pushed.RequestURI == "" {
		return fail(StepPAR, fmt.Errorf("the answer holds no request_uri (HTTP %d)", a.status))
	}
	done(StepPAR)

	// 2. The authorization request by reference. A native app would open
	// it in the browser; Pforte answers with the login it waits for,
	// which the app completes through its API without a page.
	cb, loginID, err := c.authorize(ctx, pushed.RequestURI)
	var reconfirmBy time.Time
	if err != nil {
		return fail(StepAuthorize, err)
	}
	done(StepAuthorize)

	if cb == nil {
		// 3. A challenge bound to this authorization request.
		var ch struct {
			ID        string          `json:"challenge_id"`
			Options   json.RawMessage `json:"options"`
			ExpiresIn int             `json:"expires_in"`
		}
		err = c.appCall(ctx, "/logins/"+url.PathEscape(loginID)+"/challenge", map[string]string{"binding_id": r.Device.BindingID}, &ch)
		if err != nil {
			return fail(StepChallenge, err)
		}
		if ch.ID == "" || len(ch.Options) == 0 {
			return fail(StepChallenge, errors.New("the answer holds no challenge"))
		}
		done(StepChallenge)

		// 4. The device key signs it; the PIN goes with the assertion.
		assertion, err := r.Device.Key.Assert(ch.Options, r.Device.Origin)
		if err != nil {
			return fail(StepAssertion, fmt.Errorf("the device key refused the issuer's options: %w", err))
		}
		if r.Device.Signed != nil {
			if err := r.Device.Signed(); err != nil {
				return fail(StepAssertion, fmt.Errorf("the device key's counter could not be kept: %w", err))
			}
		}
		var out struct {
			RedirectURI string     `json:"redirect_uri"`
			ReconfirmBy *time.Time `json:"reconfirm_by"`
		}
		err = c.appCall(ctx, "/logins/"+url.PathEscape(loginID), map[string]any{
			"challenge_id": ch.ID, "assertion": json.RawMessage(assertion), "pin": r.PIN,
		}, &out)
		if err != nil {
			return fail(StepAssertion, err)
		}
		if cb, err = c.callback(out.RedirectURI); err != nil {
			return fail(StepAssertion, err)
		}
		if out.ReconfirmBy != nil {
			reconfirmBy = *out.ReconfirmBy
		}
	}
	done(StepAssertion)

	// 5. The redirect: state and iss first (RFC 9207), then the code.
	code, err := c.checkCallback(cb, state)
	if err != nil {
		return fail(StepAssertion, err)
	}

	// 6. The code exchange with a proof of the key.
	toks, err := c.tokenRequest(ctx, r.DPoP, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.cfg.RedirectURI},
		"client_id": {c.cfg.ClientID}, "code_verifier": {verifier},
	})
	if err != nil {
		return fail(StepToken, err)
	}
	if toks.IDToken == "" {
		return fail(StepToken, errors.New("the token response holds no ID token"))
	}
	if toks.Claims, err = c.verifyIDToken(ctx, toks.IDToken, nonce, toks.AccessToken); err != nil {
		return fail(StepToken, err)
	}
	done(StepToken)
	toks.ReconfirmBy = reconfirmBy
	return toks, nil
}

func hasWord(list, w string) bool {
	for f := range strings.FieldsSeq(list) {
		if f == w {
			return true
		}
	}
	return false
}

// authorize sends the authorization request by reference and reads the
// redirect: to the login (its id), or straight back to the app (an error
// or, with a session, a code).
func (c *Client) authorize(ctx context.Context, requestURI string) (*url.URL, string, error) {
	u, err := url.Parse(c.md.AuthorizationEndpoint)
	if err != nil {
		return nil, "", err
	}
	u.RawQuery = url.Values{"client_id": {c.cfg.ClientID}, "request_uri": {requestURI}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", err
	}
	a, err := c.do(req)
	if err != nil {
		return nil, "", err
	}
	loc := a.header.Get("Location")
	if a.status < 300 || a.status > 399 || loc == "" {
		return nil, "", oauthError("authorization", a)
	}
	to, err := u.Parse(loc)
	if err != nil {
		return nil, "", fmt.Errorf("the redirect %q is not a URL", loc)
	}
	if c.toApp(to) {
		return to, "", nil
	}
	iss, _ := url.Parse(c.cfg.Issuer)
	id := to.Query().Get("id")
	if to.Scheme != iss.Scheme || to.Host != iss.Host || id == "" {
		return nil, "", fmt.Errorf("the authorization endpoint redirected to %s, not to a login of the issuer", redact(to))
	}
	return nil, id, nil
}

// toApp reports whether to is the app's redirect URI (the loopback
// redirect in any port, RFC 8252 §7.3).
func (c *Client) toApp(to *url.URL) bool {
	mine, err := url.Parse(c.cfg.RedirectURI)
	if err != nil {
		return false
	}
	return to.Scheme == mine.Scheme && to.Host == mine.Host && to.Opaque == mine.Opaque && to.Path == mine.Path
}

// callback parses the redirect URI the login answered with.
func (c *Client) callback(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return nil, errors.New("the answer holds no redirect_uri")
	}
	if !c.toApp(u) {
		return nil, fmt.Errorf("the issuer redirected to %s, not to the app's redirect URI %s", redact(u), c.cfg.RedirectURI)
	}
	return u, nil
}

// checkCallback checks iss and state of the redirect (RFC 9207 §2.4: iss
// before anything else, against mix-up attacks) and returns its code, or
// the error the issuer sent.
func (c *Client) checkCallback(cb *url.URL, state string) (string, error) {
	q := cb.Query()
	// An issuer that does not promise iss may omit it; Pforte promises it.
	if iss := q.Get("iss"); iss != c.cfg.Issuer && (iss != "" || c.md.IssParameterSupported) {
		return "", fmt.Errorf("the redirect names the issuer %q, not %q (RFC 9207): refused", iss, c.cfg.Issuer)
	}
	if q.Get("state") != state {
		return "", errors.New("the redirect's state is not this login's: refused")
	}
	if e := q.Get("error"); e != "" {
		return "", &AuthorizationError{Code: e, Description: q.Get("error_description")}
	}
	code := q.Get("code")
	if code == "" {
		return "", errors.New("the redirect holds neither a code nor an error")
	}
	return code, nil
}
