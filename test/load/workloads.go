package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
)

// httpError is an answer with an unexpected status; Code is the OAuth
// error code or problem kind when the body names one.
type httpError struct {
	Status int
	Code   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d %s", e.Status, e.Code) }

// classify names the kind of err for the error table: a bounded set of
// keys (status and error code, or the transport failure), never a message.
func classify(err error) string {
	prefix := ""
	var le *appclient.LoginError
	var se *stepError
	if errors.As(err, &le) {
		prefix = le.Step + ": "
	} else if errors.As(err, &se) {
		prefix = se.Step + ": "
	}
	var he *httpError
	var oe *appclient.OAuthError
	var pe *appclient.Problem
	var ae *appclient.AuthorizationError
	var ne net.Error
	switch {
	case errors.As(err, &he):
		return strings.TrimSpace(fmt.Sprintf("%sHTTP %d %s", prefix, he.Status, he.Code))
	case errors.As(err, &oe):
		return strings.TrimSpace(fmt.Sprintf("%sHTTP %d %s", prefix, oe.Status, oe.Code))
	case errors.As(err, &pe):
		return strings.TrimSpace(fmt.Sprintf("%sHTTP %d %s", prefix, pe.Status, pe.Kind))
	case errors.As(err, &ae):
		return prefix + "authorization error " + ae.Code
	case errors.Is(err, errNoLetter):
		return prefix + "no letter in the outbox in time"
	case errors.Is(err, syscall.ECONNREFUSED):
		return prefix + "transport: connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return prefix + "transport: connection reset"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return prefix + "transport: timeout"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return prefix + "transport: connection closed"
	case errors.As(err, &ne):
		return prefix + "transport: other"
	}
	return prefix + "other"
}

// discovery is the part of the discovery document the workloads use.
type discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	EndSessionEndpoint    string `json:"end_session_endpoint"`
}

// env is what every workload shares: the HTTP client and the issuer.
type env struct {
	cfg   Config
	hc    *http.Client
	md    discovery
	steps stepTimes // the steps of the measured operations, where a workload times them
}

func (e *env) discoveryURL() string {
	return strings.TrimRight(e.cfg.Issuer, "/") + "/.well-known/openid-configuration"
}

// discover fetches the discovery document once.
func (e *env) discover(ctx context.Context) error {
	body, err := e.get(ctx, e.discoveryURL())
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	if err := json.Unmarshal(body, &e.md); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	if strings.TrimRight(e.md.Issuer, "/") != strings.TrimRight(e.cfg.Issuer, "/") {
		return fmt.Errorf("discovery: the document names issuer %q", e.md.Issuer)
	}
	return nil
}

// get fetches u and wants 200.
func (e *env) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return e.send(req)
}

// send does req, wants 200 and returns the body.
func (e *env) send(req *http.Request) ([]byte, error) {
	resp, err := e.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var o struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &o)
		if len(o.Error) > 40 {
			o.Error = o.Error[:40]
		}
		return nil, &httpError{Status: resp.StatusCode, Code: o.Error}
	}
	return body, nil
}

// postClient posts form to endpoint, authenticated as the configured
// client (client_secret_basic or client_secret_post).
func (e *env) postClient(ctx context.Context, endpoint string, form url.Values) ([]byte, error) {
	if e.cfg.ClientID == "" {
		return nil, errors.New("--client-id and --client-secret are required for this workload")
	}
	if e.cfg.AuthMethod == "client_secret_post" {
		form.Set("client_id", e.cfg.ClientID)
		form.Set("client_secret", e.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if e.cfg.AuthMethod != "client_secret_post" {
		req.SetBasicAuth(url.QueryEscape(e.cfg.ClientID), url.QueryEscape(e.cfg.ClientSecret))
	}
	return e.send(req)
}

// discoveryLoad GETs the discovery document.
type discoveryLoad struct{ *env }

func (w discoveryLoad) Setup(ctx context.Context) error { return w.discover(ctx) }
func (w discoveryLoad) Do(ctx context.Context) error {
	_, err := w.get(ctx, w.discoveryURL())
	return err
}

// jwksLoad GETs jwks_uri.
type jwksLoad struct{ *env }

func (w jwksLoad) Setup(ctx context.Context) error {
	if err := w.discover(ctx); err != nil {
		return err
	}
	if w.md.JWKSURI == "" {
		return errors.New("the discovery document names no jwks_uri")
	}
	return nil
}
func (w jwksLoad) Do(ctx context.Context) error {
	_, err := w.get(ctx, w.md.JWKSURI)
	return err
}

// clientCredentialsLoad asks the token endpoint for a client_credentials
// token.
type clientCredentialsLoad struct{ *env }

func (w clientCredentialsLoad) Setup(ctx context.Context) error {
	if err := w.discover(ctx); err != nil {
		return err
	}
	_, err := w.token(ctx)
	return err
}

func (w clientCredentialsLoad) token(ctx context.Context) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if w.cfg.Scope != "" {
		form.Set("scope", w.cfg.Scope)
	}
	body, err := w.postClient(ctx, w.md.TokenEndpoint, form)
	if err != nil {
		return "", err
	}
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return "", &httpError{Status: http.StatusOK, Code: "no access_token"}
	}
	return t.AccessToken, nil
}

func (w clientCredentialsLoad) Do(ctx context.Context) error {
	_, err := w.token(ctx)
	return err
}

// introspectLoad asks the introspection endpoint about one client
// credentials token obtained in Setup; an inactive answer is an error.
type introspectLoad struct {
	*env
	token string
}

func (w *introspectLoad) Setup(ctx context.Context) error {
	if err := w.discover(ctx); err != nil {
		return err
	}
	if w.md.IntrospectionEndpoint == "" {
		return errors.New("the discovery document names no introspection_endpoint")
	}
	tok, err := clientCredentialsLoad{w.env}.token(ctx)
	if err != nil {
		return fmt.Errorf("client credentials token for introspection: %w", err)
	}
	w.token = tok
	return w.Do(ctx)
}

func (w *introspectLoad) Do(ctx context.Context) error {
	body, err := w.postClient(ctx, w.md.IntrospectionEndpoint, url.Values{"token": {w.token}})
	if err != nil {
		return err
	}
	var r struct {
		Active bool `json:"active"`
	}
	if err := json.Unmarshal(body, &r); err != nil || !r.Active {
		return &httpError{Status: http.StatusOK, Code: "inactive"}
	}
	return nil
}
