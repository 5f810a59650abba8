package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
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
func newAppAPI(issuer string) (*appAPI, error) {
	issuer = strings.TrimRight(issuer, "/")
	u, err := url.Parse(issuer)
	switch {
	case issuer == "" || err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, usageError{fmt.Errorf("--issuer %q is not an absolute URL without query or fragment", issuer)}
	case u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname())):
		return nil, usageError{fmt.Errorf("--issuer must use https (http only for localhost): %s", issuer)}
	}
	return &appAPI{issuer: issuer, hc: &http.Client{
		Timeout: 30 * time.Second,
		// A redirect would resend the body (a secret) somewhere the
		// member did not choose.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// problemError is an RFC 9457 problem document the API answered with.
type problemError struct {
	Status     int
	Kind       string
	Detail     string
	RetryAfter string // the Retry-After header, if any
	// PINAttemptsRemaining and PINRetryAt are the headers of a refused
	// release PIN (Pforte-PIN-Attempts-Remaining, Pforte-PIN-Retry-At):
	// the wrong entries left before the device is blocked, and when the
	// next entry is evaluated.
	PINAttemptsRemaining string
	PINRetryAt           string
}

// Error is what the member sees: the server's text (German / English),
// the kind and the status, then what the PIN headers say.
func (p *problemError) Error() string {
	s := fmt.Sprintf("%s (%s, HTTP %d)", p.Detail, p.Kind, p.Status)
	if n, err := strconv.Atoi(p.PINAttemptsRemaining); err == nil {
		s += fmt.Sprintf("; PIN attempts left before the device is blocked: %d", n)
	}
	retry := ""
	if p.RetryAfter != "" {
		if n, err := strconv.Atoi(p.RetryAfter); err == nil {
			retry = fmt.Sprintf("%d seconds", n)
		} else {
			retry = p.RetryAfter
		}
	}
	if t, err := time.Parse(time.RFC3339, p.PINRetryAt); err == nil {
		s += "; next PIN entry from " + t.Local().Format("2006-01-02 15:04:05 MST")
		if retry != "" {
			s += " (in " + retry + ")"
		}
	} else if retry != "" {
		s += "; retry after " + retry
	}
	return s
}

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
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/problem+json" {
		var p struct {
			Title  string `json:"title"`
			Status int    `json:"status"`
			Detail string `json:"detail"`
			Kind   string `json:"kind"`
		}
		if json.Unmarshal(raw, &p) == nil {
			pe := &problemError{Status: resp.StatusCode, Kind: p.Kind, Detail: p.Detail, RetryAfter: resp.Header.Get("Retry-After"),
				PINAttemptsRemaining: resp.Header.Get("Pforte-PIN-Attempts-Remaining"), PINRetryAt: resp.Header.Get("Pforte-PIN-Retry-At")}
			if pe.Detail == "" {
				pe.Detail = p.Title
			}
			if pe.Kind == "" {
				pe.Kind = "unknown"
			}
			return pe
		}
	}
	return fmt.Errorf("%s %s: unexpected answer HTTP %d (%s)", method, endpoint, resp.StatusCode, orNone(resp.Header.Get("Content-Type")))
}

func orNone(s string) string {
	if s == "" {
		return "no content type"
	}
	return s
}
