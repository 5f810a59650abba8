package appclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Config says which issuer and client the app talks to.
type Config struct {
	// Issuer is the issuer URL, exactly as Pforte names itself.
	Issuer string
	// ClientID is the app's client id (pforte-app in development).
	ClientID string
	// RedirectURI is the redirect URI registered for the app; the server
	// sends the code to it, and the app reads it from the answer of the
	// login request without opening it.
	RedirectURI string
	// HTTP is the HTTP client (nil: a client with a 30 second timeout).
	// Whatever it is, the app follows no redirect: the authorization
	// endpoint answers with one that the app reads, and a redirect would
	// resend a request body with secrets where the member did not choose.
	HTTP *http.Client
	// Now is the clock the DPoP proofs are dated and the ID token is
	// checked with (nil: time.Now).
	Now func() time.Time
	// DPoPNonce is the last server nonce the app knows (from its state
	// file); empty when none.
	DPoPNonce string
}

// Metadata is the part of the discovery document the app uses.
type Metadata struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	PAREndpoint           string   `json:"pushed_authorization_request_endpoint"`
	IssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	DPoPSigningAlgs       []string `json:"dpop_signing_alg_values_supported"`
}

// Client is the app's client of one issuer. It is safe for concurrent
// use; the only state it changes is the last DPoP nonce.
type Client struct {
	cfg      Config
	hc       *http.Client
	ctx      func(context.Context) context.Context
	provider *oidc.Provider
	md       Metadata

	mu    sync.Mutex
	nonce string
}

// maxResponseSize bounds what the client reads of an answer.
const maxResponseSize = 64 << 10

// Discover fetches the issuer's metadata (go-oidc checks that the issuer
// in it is cfg.Issuer exactly) and returns its client. The app needs the
// pushed authorization request, token, userinfo and revocation endpoints.
func Discover(ctx context.Context, cfg Config) (*Client, error) {
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	if cfg.ClientID == "" || cfg.RedirectURI == "" {
		return nil, errors.New("appclient: client id and redirect URI are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if cfg.HTTP != nil {
		c := *cfg.HTTP
		hc = &c
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &Client{cfg: cfg, hc: hc, nonce: cfg.DPoPNonce}
	c.ctx = func(ctx context.Context) context.Context { return oidc.ClientContext(ctx, hc) }
	p, err := oidc.NewProvider(c.ctx(ctx), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", cfg.Issuer, err)
	}
	c.provider = p
	if err := p.Claims(&c.md); err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", cfg.Issuer, err)
	}
	var missing []string
	for _, ep := range []struct{ name, url string }{
		{"pushed_authorization_request_endpoint", c.md.PAREndpoint}, {"authorization_endpoint", c.md.AuthorizationEndpoint},
		{"token_endpoint", c.md.TokenEndpoint}, {"userinfo_endpoint", c.md.UserinfoEndpoint},
		{"revocation_endpoint", c.md.RevocationEndpoint},
	} {
		if ep.url == "" {
			missing = append(missing, ep.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the issuer %s does not offer what the app needs: no %s", cfg.Issuer, strings.Join(missing, ", "))
	}
	return c, nil
}

// Metadata returns what discovery found.
func (c *Client) Metadata() Metadata { return c.md }

// Issuer is the issuer URL.
func (c *Client) Issuer() string { return c.cfg.Issuer }

// DPoPNonce returns the last nonce the server sent in a DPoP-Nonce header
// (the app keeps it for its next run).
func (c *Client) DPoPNonce() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nonce
}

// noteNonce remembers the DPoP-Nonce of an answer (RFC 9449 §8.2: the
// server may send a new one with any answer).
func (c *Client) noteNonce(h http.Header) (fresh bool) {
	n := h.Get("DPoP-Nonce")
	if n == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fresh = n != c.nonce
	c.nonce = n
	return fresh
}

// OAuthError is an error answer of an OAuth endpoint (RFC 6749 §5.2, RFC
// 6750 §3, RFC 9449 §7.1).
type OAuthError struct {
	// Endpoint names the endpoint: "pushed authorization", "authorization",
	// "token", "userinfo" or "revocation".
	Endpoint    string
	Status      int
	Code        string
	Description string
}

func (e *OAuthError) Error() string {
	s := "the " + e.Endpoint + " endpoint refused the request: " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	return s
}

// AuthorizationError is an error the issuer sent to the redirect URI
// (RFC 6749 §4.1.2.1): the login was refused, e.g. because the member
// cannot reach the requested acr.
type AuthorizationError struct {
	Code        string
	Description string
}

func (e *AuthorizationError) Error() string {
	s := "Die Anmeldung wurde abgelehnt. / The issuer refused the login: " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Code == "unmet_authentication_requirements" {
		// The account is proofed by letter and the service asks for
		// high: the eID step-up raises it.
		s += " (pforte-app step-up: Identität mit dem Ausweis bestätigen / confirm the identity with the ID card)"
	}
	return s
}

// answer is a finished HTTP exchange.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (c *Client) do(req *http.Request) (answer, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		// The transport's error repeats the URL with noise; name the
		// endpoint once.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return answer{}, fmt.Errorf("%s %s: %w", req.Method, redact(req.URL), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize))
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: reading the answer: %w", req.Method, redact(req.URL), err)
	}
	c.noteNonce(resp.Header)
	return answer{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// redact drops the query of u: it may hold a request_uri.
func redact(u *url.URL) string {
	v := *u
	v.RawQuery, v.Fragment = "", ""
	return v.String()
}

// postForm posts form to endpoint with the extra headers.
func (c *Client) postForm(ctx context.Context, endpoint string, form url.Values, header map[string]string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return c.do(req)
}

// oauthError reads the error answer a of endpoint: the JSON error body,
// else the WWW-Authenticate challenge, else the status alone.
func oauthError(endpoint string, a answer) *OAuthError {
	e := &OAuthError{Endpoint: endpoint, Status: a.status}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if mt, _, _ := mime.ParseMediaType(a.header.Get("Content-Type")); mt == "application/json" &&
		json.Unmarshal(a.body, &body) == nil && body.Error != "" {
		e.Code, e.Description = body.Error, body.Description
	}
	if ch := challengeParams(a.header.Values("WWW-Authenticate")); ch["error"] != "" {
		// The challenge is the resource server's word (RFC 6750 §3); it
		// names use_dpop_nonce there (RFC 9449 §9).
		e.Code = ch["error"]
		if d := ch["error_description"]; d != "" {
			e.Description = d
		}
	}
	if e.Code == "" {
		e.Code = "unexpected answer"
		if p := ReadProblem(a.status, a.header, a.body); p != nil {
			e.Description = p.Detail
		} else if t := pageText(a.body); t != "" {
			e.Description = t
		}
	}
	return e
}

// challengeParam matches one auth-param of a WWW-Authenticate challenge
// (quoted values, as RFC 6750 and RFC 9449 write them).
var challengeParam = regexp.MustCompile(`([A-Za-z_]+)="((?:[^"\\]|\\.)*)"`)

// challengeStart matches where a challenge begins: its scheme, then a
// space (RFC 9110 §11.6.1).
var challengeStart = regexp.MustCompile(`(?:^|,)\s*([A-Za-z][A-Za-z0-9._~+/-]*)\s+[A-Za-z_]+=`)

// challengeParams returns the parameters of the DPoP challenge among the
// WWW-Authenticate values, else of the first challenge.
func challengeParams(vals []string) map[string]string {
	all := strings.Join(vals, ", ")
	starts := challengeStart.FindAllStringSubmatchIndex(all, -1)
	if len(starts) == 0 {
		return map[string]string{}
	}
	pick := 0
	for i, m := range starts {
		if strings.EqualFold(all[m[2]:m[3]], "DPoP") {
			pick = i
			break
		}
	}
	end := len(all)
	if pick+1 < len(starts) {
		end = starts[pick+1][0]
	}
	out := map[string]string{}
	for _, m := range challengeParam.FindAllStringSubmatch(all[starts[pick][3]:end], -1) {
		k := strings.ToLower(m[1])
		if _, dup := out[k]; !dup {
			out[k] = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(m[2])
		}
	}
	return out
}

var pagePara = regexp.MustCompile(`(?s)<h1>(.*?)</h1>.*?<p>(.*?)</p>`)

// pageText is the title and text of one of Pforte's error pages.
func pageText(body []byte) string {
	m := pagePara.FindSubmatch(body)
	if m == nil {
		return ""
	}
	title, text := html.UnescapeString(string(m[1])), html.UnescapeString(string(m[2]))
	if text == "" {
		return title
	}
	return title + ": " + text
}

// appCall sends a JSON request to the app API and decodes a 200 or 201
// answer into out. An error answer is a *Problem when it is a problem
// document.
func (c *Client) appCall(ctx context.Context, path string, in, out any) error {
	return c.appRequest(ctx, http.MethodPost, path, nil, in, out)
}

// appRequest is appCall for any method, with extra headers; in is sent
// as JSON unless it is nil.
func (c *Client) appRequest(ctx context.Context, method, path string, header map[string]string, in, out any) error {
	endpoint := c.cfg.Issuer + "/app/v1" + path
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	a, err := c.do(req)
	if err != nil {
		return err
	}
	if a.status == http.StatusNoContent && out == nil {
		return nil
	}
	if a.status == http.StatusOK || a.status == http.StatusCreated {
		if err := json.Unmarshal(a.body, out); err != nil {
			return fmt.Errorf("%s %s: the answer is not the expected JSON: %w", method, endpoint, err)
		}
		return nil
	}
	if p := ReadProblem(a.status, a.header, a.body); p != nil {
		return p
	}
	ct := a.header.Get("Content-Type")
	if ct == "" {
		ct = "no content type"
	}
	return fmt.Errorf("%s %s: unexpected answer HTTP %d (%s)", method, endpoint, a.status, ct)
}
