package applogin_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/applogin"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/ports/store"
)

const issuer = "https://id.kasse.example"

// server is the authorization server the app login completes requests
// of: core/authz itself, on sqlstore over SQLite, at a clock that stands
// at the fixture's time.
type server struct {
	*authz.Service
	st *requests
	t  *testing.T
	// now is the authorization server's clock.
	now time.Time
}

// requests is the store as authz sees it, with an outage to switch on.
type requests struct {
	*sqlstore.Store
	mu   sync.Mutex
	down error
}

func (r *requests) AuthRequestByID(ctx context.Context, id string) (grant.AuthRequest, error) {
	r.mu.Lock()
	down := r.down
	r.mu.Unlock()
	if down != nil {
		return grant.AuthRequest{}, down
	}
	return r.Store.AuthRequestByID(ctx, id)
}

var _ store.AuthRequests = (*requests)(nil)

// unusedKeys is the signer and assertion verifier: the app login's steps
// sign and verify nothing.
type unusedKeys struct{}

func (unusedKeys) Sign(context.Context, string, any) (string, error) {
	return "", errors.New("applogin test: nothing is signed")
}

func (unusedKeys) Verify(context.Context, string, string, any) error {
	return errors.New("applogin test: nothing is verified")
}

func (unusedKeys) VerifyAssertion(context.Context, string, []byte, any) error {
	return errors.New("applogin test: nothing is verified")
}

func newServer(t *testing.T, now time.Time) *server {
	t.Helper()
	st := &requests{Store: sqlstoretest.Open(t)}
	secrets, err := client.NewSecretHasher([]byte("client-secret-hash-key-of-32-bytes"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := authz.Config{
		Issuer:     issuer,
		DPoPNonces: dpop.NonceSource{Key: []byte("dpop-nonce-key-of-thirty-two-b!!")}, PairwiseKey: []byte("pairwise-sub-key-of-32-bytes-ok!"),
	}
	srv := &server{st: st, t: t, now: now}
	svc, err := authz.New(cfg, authz.Stores{Consents: st, Clients: st, Requests: st, Tokens: st, Accounts: st, Members: st, Replay: st},
		unusedKeys{}, unusedKeys{}, secrets, func() time.Time { return srv.now })
	if err != nil {
		t.Fatal(err)
	}
	srv.Service = svc
	return srv
}

// add stores r as a pending authorization request of client c (stored
// too), as authz.Authorize leaves one: by default it expires after
// authz.DefaultAuthRequestTTL; with r.Login set it is completed.
func (s *server) add(r grant.AuthRequest, c client.Client) {
	s.t.Helper()
	ctx := context.Background()
	if err := s.st.PutClient(ctx, c); err != nil {
		s.t.Fatal(err)
	}
	r.ClientID, r.CreatedAt = c.ID, s.now
	r.Scopes = []string{"openid"}
	r.CodeChallenge, r.CodeChallengeMethod = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256"
	if r.ExpiresAt.IsZero() {
		r.ExpiresAt = s.now.Add(authz.DefaultAuthRequestTTL)
	}
	login := r.Login
	r.Login = nil
	if err := s.st.CreateAuthRequest(ctx, r); err != nil {
		s.t.Fatal(err)
	}
	if login != nil {
		if err := s.st.CompleteAuthRequest(ctx, r.ID, *login, s.now); err != nil {
			s.t.Fatal(err)
		}
	}
}

// setDown makes reading requests fail with err (nil: no outage).
func (s *server) setDown(err error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	s.st.down = err
}

// login returns the login recorded on pending request id (nil: none).
func (s *server) login(id string) *grant.Login {
	s.t.Helper()
	r, err := s.st.Store.AuthRequestByID(context.Background(), id)
	if errors.Is(err, fault.NotFound) {
		return nil
	}
	if err != nil {
		s.t.Fatal(err)
	}
	return r.Login
}

// redeem redeems code as the token endpoint would and returns the login
// it carries.
func (s *server) redeem(code string) grant.Login {
	s.t.Helper()
	c, err := s.st.RedeemCode(context.Background(), grant.Hash(code), s.now)
	if err != nil || c.Request.Login == nil {
		s.t.Fatalf("RedeemCode: %+v, %v", c, err)
	}
	return *c.Request.Login
}

var _ applogin.Authorizer = (*server)(nil)

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

// ReconfirmBy answers the binding's re-confirmation date: a day after the
// login's time.
func (p *phone) ReconfirmBy(_ context.Context, bindingID string) (time.Time, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if bindingID != p.auth.BindingID {
		return time.Time{}, fault.New(fault.NotFound, "phone.ReconfirmBy", "")
	}
	return p.auth.Time.Add(24 * time.Hour), nil
}

func (p *phone) calls() (begun, answered []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.begun...), append([]string(nil), p.answered...)
}

// redirectError is an error that goes to the client, as the tests read it.
type redirectError struct {
	RedirectURI, State string
	Err                error
}

// asRedirect returns err's redirect, or nil when err is for the user agent.
func asRedirect(err error) *redirectError {
	r, ok := fault.RedirectOf(err)
	if err == nil || !ok {
		return nil
	}
	return &redirectError{RedirectURI: r.URI, State: r.State, Err: err}
}
