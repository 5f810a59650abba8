package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
)

// appAPI is the client of one issuer's Service-App API under /app/v1
// (adapters/httpapi/openapi.yaml).
type appAPI struct {
	issuer string
	hc     *http.Client
}

// maxResponseSize bounds what the client reads of an answer.
const maxResponseSize = 64 << 10

// newAppAPI checks issuer and returns its API client. The API carries
// initial passwords, activation codes and enrollment tokens, so the issuer
// must use https; plain http only on the loopback interface, for a
// development instance (the same rule the server applies to itself).
//
// lang is the language the server words its answers in (the
// Accept-Language header of every request); empty: none is sent, and the
// server answers in German.
func newAppAPI(issuer, lang string) (*appAPI, error) {
	issuer = strings.TrimRight(issuer, "/")
	u, err := url.Parse(issuer)
	switch {
	case issuer == "" || err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, usageError{fmt.Errorf("--issuer %q is not an absolute URL without query or fragment", issuer)}
	case u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname())):
		return nil, usageError{fmt.Errorf("--issuer must use https (http only for localhost): %s", issuer)}
	}
	return &appAPI{issuer: issuer, hc: &http.Client{
		Timeout:   30 * time.Second,
		Transport: languageTransport{lang: lang, next: http.DefaultTransport},
		// A redirect would resend the body (a secret) somewhere the
		// member did not choose.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// languageTransport asks for answers in lang.
type languageTransport struct {
	lang string
	next http.RoundTripper
}

func (t languageTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.lang != "" {
		req = req.Clone(req.Context())
		req.Header.Set("Accept-Language", t.lang)
	}
	return t.next.RoundTrip(req)
}

// language is the language the member reads: PFORTE_APP_LANG, else the
// locale (LC_ALL, LC_MESSAGES, LANG), as "de" or "en"; empty for any
// other (the server's German).
func (e *env) language() string {
	for _, k := range []string{"PFORTE_APP_LANG", "LC_ALL", "LC_MESSAGES", "LANG"} {
		v := strings.ToLower(e.getenv(k))
		if v == "" {
			continue
		}
		switch {
		case strings.HasPrefix(v, "en"):
			return "en"
		case strings.HasPrefix(v, "de"):
			return "de"
		}
		return ""
	}
	return ""
}

func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// problemError is an RFC 9457 problem document the API answered with
// (appclient.Problem: the login shares it).
type problemError = appclient.Problem

// call sends a JSON request (in may be nil) with an optional bearer token
// and expects the status want; out (may be nil) receives the JSON answer.
// An error answer is a *problemError when it is a problem document.
func (a *appAPI) call(ctx context.Context, method, path, token string, in any, want int, out any) error {
	endpoint := a.issuer + "/app/v1" + path
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
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		// The URL holds no secret, but the transport's error repeats it
		// with noise; name the endpoint once.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s %s: %w", method, endpoint, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, endpoint, err)
	}
	if resp.StatusCode == want {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: the answer is not the expected JSON: %w", method, endpoint, err)
		}
		return nil
	}
	if p := appclient.ReadProblem(resp.StatusCode, resp.Header, raw); p != nil {
		return p
	}
	return fmt.Errorf("%s %s: unexpected answer HTTP %d (%s)", method, endpoint, resp.StatusCode, orNone(resp.Header.Get("Content-Type")))
}

func orNone(s string) string {
	if s == "" {
		return "no content type"
	}
	return s
}
