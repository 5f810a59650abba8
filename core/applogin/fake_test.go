package applogin_test

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/pforte-id/pforte/core/applogin"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
)

const issuer = "https://id.kasse.example"

// server is a fake authorization server with the rules of core/authz that
// the app login relies on: pending, expired and completed requests,
// acr_values (eIDAS vocabulary) and max_age on completion, the redirect
// with code, state and iss, and the error redirect.
type server struct {
	mu        sync.Mutex
	now       time.Time
	requests  map[string]grant.AuthRequest
	clients   map[string]client.Client
	completed []loa.Authentication
	err       error // returned by PendingLogin when set (an outage)
}

var _ applogin.Authorizer = (*server)(nil)

func newServer(now time.Time) *server {
	return &server{now: now, requests: map[string]grant.AuthRequest{}, clients: map[string]client.Client{}}
}

func (s *server) add(r grant.AuthRequest, c client.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.ClientID = c.ID
	if r.ExpiresAt.IsZero() {
		r.ExpiresAt = s.now.Add(authz.DefaultAuthRequestTTL)
	}
	s.requests[r.ID] = r
	s.clients[c.ID] = c
}

func (s *server) completions() []loa.Authentication {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]loa.Authentication(nil), s.completed...)
}

func (s *server) PendingLogin(_ context.Context, id string) (grant.AuthRequest, client.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pendingLocked(id)
}

func (s *server) pendingLocked(id string) (grant.AuthRequest, client.Client, error) {
	const op = "fake.PendingLogin"
	if s.err != nil {
		return grant.AuthRequest{}, client.Client{}, s.err
	}
	r, ok := s.requests[id]
	switch {
	case !ok:
		return grant.AuthRequest{}, client.Client{}, fault.New(fault.NotFound, op, "unknown request")
	case !s.now.Before(r.ExpiresAt):
		return grant.AuthRequest{}, client.Client{}, fault.New(fault.Expired, op, "expired request")
	case r.Login != nil:
		return grant.AuthRequest{}, client.Client{}, fault.New(fault.Conflict, op, "completed request")
	}
	return r, s.clients[r.ClientID], nil
}

func (s *server) CompleteLogin(_ context.Context, id string, a loa.Authentication) (string, error) {
	const op = "fake.CompleteLogin"
	s.mu.Lock()
	defer s.mu.Unlock()
	r, _, err := s.pendingLocked(id)
	if err != nil {
		return "", err
	}
	s.completed = append(s.completed, a)
	reached := loa.Reach(a.Proofing, a.AMR)
	fail := func(k fault.Kind, msg string) (string, error) {
		return "", &authz.RedirectError{RedirectURI: r.RedirectURI, State: r.State, Err: fault.New(k, op, msg)}
	}
	want := loa.None
	for _, acr := range r.ACRValues {
		if l, ok := loa.EIDAS.Level(acr); ok && (want == loa.None || l < want) {
			want = l
		}
	}
	if reached.Level < want {
		return fail(fault.Forbidden, "the requested level of assurance cannot be reached with this login")
	}
	if r.MaxAge != nil && s.now.Sub(a.Time) > *r.MaxAge+time.Second {
		return fail(fault.Unauthenticated, "the authentication is older than max_age")
	}
	r.Login = &grant.Login{Subject: a.Subject, AuthTime: a.Time, AMR: reached.AMR, ACR: loa.EIDAS.ACR(reached.Level), BindingID: a.BindingID}
	s.requests[id] = r
	return r.RedirectURI + "?" + url.Values{"code": {"the-code"}, "state": {r.State}, "iss": {issuer}}.Encode(), nil
}

func (s *server) ErrorRedirect(e *authz.RedirectError, code string) string {
	q := url.Values{"error": {code}, "error_description": {fault.PublicOf(e.Err)}, "iss": {issuer}}
	if e.State != "" {
		q.Set("state", e.State)
	}
	return e.RedirectURI + "?" + q.Encode()
}

// phone is a fake of device binding: BeginLogin hands out challenge ids,
// AuthenticateLogin answers with auth or fails with err, and both record
// what they were asked.
type phone struct {
	mu       sync.Mutex
	auth     loa.Authentication
	beginErr error
	err      error
	begun    []string // "binding/request"
	answered []string // "challenge/request"
}

var _ applogin.Devices = (*phone)(nil)

func (p *phone) BeginLogin(_ context.Context, bindingID, authRequestID string) (string, []byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.begun = append(p.begun, bindingID+"/"+authRequestID)
	if p.beginErr != nil {
		return "", nil, p.beginErr
	}
	return "challenge-for-" + authRequestID, []byte(`{"publicKey":{}}`), nil
}

func (p *phone) AuthenticateLogin(_ context.Context, challengeID string, _ []byte, _, _, authRequestID string) (loa.Authentication, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answered = append(p.answered, challengeID+"/"+authRequestID)
	if p.err != nil {
		return loa.Authentication{}, p.err
	}
	return p.auth, nil
}

func (p *phone) calls() (begun, answered []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.begun...), append([]string(nil), p.answered...)
}
