package authz_test

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/ports/store"
)

// testStore is the store the service runs on in these tests: the real one
// (sqlstore on a fresh SQLite database, which the conformance suite
// checks). It adds no behaviour of its own: every call is passed on, after
// failWith (an outage of the named method) and hide (a record gone from
// the database) had their say. It notes what the service stored and the
// store's ports cannot list — the requests, codes, pushed requests, token
// families and access tokens — so that a test can read them back through
// the ports.
type testStore struct {
	*sqlstore.Store

	mu   sync.Mutex
	fail map[string]error
	gone map[string]bool
	// beforeCreateFamily, when set, runs once at the start of the next
	// CreateFamily: a test runs there what may happen concurrently
	// between RedeemCode and CreateFamily.
	beforeCreateFamily func()

	requestIDs []string
	issued     map[string]grant.Code // by hash, as issued
	pushedURIs map[string]string     // request_uri hash → request ID, until consumed
	familyList []grant.Family
	familyRT   map[string]string // family ID → its first refresh token hash
	familyAT   map[string]string // family ID → its first access token JTI
	accessJTIs []string
}

var (
	_ store.Clients      = (*testStore)(nil)
	_ store.AuthRequests = (*testStore)(nil)
	_ store.Tokens       = (*testStore)(nil)
	_ store.Accounts     = (*testStore)(nil)
	_ store.Members      = (*testStore)(nil)
	_ store.Replay       = (*testStore)(nil)
)

func newTestStore(t *testing.T) *testStore {
	return &testStore{
		Store: sqlstoretest.Open(t), fail: map[string]error{}, gone: map[string]bool{},
		issued: map[string]grant.Code{}, pushedURIs: map[string]string{},
		familyRT: map[string]string{}, familyAT: map[string]string{},
	}
}

// failWith makes method return err until cleared with failWith(method, nil).
func (s *testStore) failWith(method string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.fail, method)
		return
	}
	s.fail[method] = err
}

func (s *testStore) injected(method string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fail[method]
}

// hide makes the store answer NotFound for a record, as if it were
// deleted: "access:<jti>", "account:<id>" or "member:<KVNR>".
func (s *testStore) hide(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gone[key] = true
}

func (s *testStore) hidden(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gone[key]
}

// setBeforeCreateFamily makes the next CreateFamily run hook first.
func (s *testStore) setBeforeCreateFamily(hook func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beforeCreateFamily = hook
}

func (s *testStore) beforeFamily() {
	s.mu.Lock()
	hook := s.beforeCreateFamily
	s.beforeCreateFamily = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
}

// note runs f under the lock.
func (s *testStore) note(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func (s *testStore) noteFamily(f grant.Family, rt *grant.RefreshToken, at grant.AccessToken) {
	s.familyList = append(s.familyList, f)
	if rt != nil {
		s.familyRT[f.ID] = rt.Hash
	}
	s.familyAT[f.ID] = at.JTI
	s.accessJTIs = append(s.accessJTIs, at.JTI)
}

// --- what a test reads back, through the ports

func unavailable(op string) error {
	return fault.Wrap(fault.Unavailable, op, context.DeadlineExceeded)
}

// requests returns the pending authorization requests (pushed ones once
// consumed), by ID, as the store returns them.
func (s *testStore) requests() map[string]grant.AuthRequest {
	s.mu.Lock()
	ids := append([]string(nil), s.requestIDs...)
	s.mu.Unlock()
	out := map[string]grant.AuthRequest{}
	for _, id := range ids {
		if r, err := s.Store.AuthRequestByID(context.Background(), id); err == nil {
			out[id] = r
		} else if !errors.Is(err, fault.NotFound) {
			panic(err)
		}
	}
	return out
}

// codes returns the codes the service issued, by hash, as it issued them.
func (s *testStore) codes() map[string]grant.Code {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.issued)
}

// pushed returns the pushed requests not consumed yet: request_uri hash →
// request ID.
func (s *testStore) pushed() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.pushedURIs)
}

// families returns the token families the service created, by ID, with
// their revocation as the store has it now.
func (s *testStore) families() map[string]grant.Family {
	s.mu.Lock()
	list := append([]grant.Family(nil), s.familyList...)
	rts, ats := maps.Clone(s.familyRT), maps.Clone(s.familyAT)
	s.mu.Unlock()
	ctx := context.Background()
	out := map[string]grant.Family{}
	for _, f := range list {
		if h, ok := rts[f.ID]; ok {
			_, stored, err := s.Store.RefreshToken(ctx, h)
			if err != nil {
				continue
			}
			out[f.ID] = stored
			continue
		}
		at, err := s.Store.AccessToken(ctx, ats[f.ID])
		if err != nil {
			continue
		}
		f.RevokedAt = at.RevokedAt
		out[f.ID] = f
	}
	return out
}

// access returns the records of the access tokens the service stored, by
// JTI, as the store has them now.
func (s *testStore) access() map[string]grant.AccessToken {
	s.mu.Lock()
	jtis := append([]string(nil), s.accessJTIs...)
	s.mu.Unlock()
	out := map[string]grant.AccessToken{}
	for _, jti := range jtis {
		if s.hidden("access:" + jti) {
			continue
		}
		if at, err := s.Store.AccessToken(context.Background(), jti); err == nil {
			out[jti] = at
		}
	}
	return out
}

// --- the ports, passed on

func (s *testStore) CreateClient(ctx context.Context, c client.Client) error {
	if err := s.injected("CreateClient"); err != nil {
		return err
	}
	return s.Store.CreateClient(ctx, c)
}

func (s *testStore) PutClient(ctx context.Context, c client.Client) error {
	if err := s.injected("PutClient"); err != nil {
		return err
	}
	return s.Store.PutClient(ctx, c)
}

func (s *testStore) ClientByID(ctx context.Context, id string) (client.Client, error) {
	if err := s.injected("ClientByID"); err != nil {
		return client.Client{}, err
	}
	return s.Store.ClientByID(ctx, id)
}

func (s *testStore) ListClients(ctx context.Context) ([]client.Client, error) {
	if err := s.injected("ListClients"); err != nil {
		return nil, err
	}
	return s.Store.ListClients(ctx)
}

func (s *testStore) DeleteClient(ctx context.Context, id string) error {
	if err := s.injected("DeleteClient"); err != nil {
		return err
	}
	return s.Store.DeleteClient(ctx, id)
}

func (s *testStore) CreateAuthRequest(ctx context.Context, r grant.AuthRequest) error {
	if err := s.injected("CreateAuthRequest"); err != nil {
		return err
	}
	err := s.Store.CreateAuthRequest(ctx, r)
	if err == nil {
		s.note(func() { s.requestIDs = append(s.requestIDs, r.ID) })
	}
	return err
}

func (s *testStore) AuthRequestByID(ctx context.Context, id string) (grant.AuthRequest, error) {
	if err := s.injected("AuthRequestByID"); err != nil {
		return grant.AuthRequest{}, err
	}
	return s.Store.AuthRequestByID(ctx, id)
}

func (s *testStore) CompleteAuthRequest(ctx context.Context, id string, l grant.Login, now time.Time) error {
	if err := s.injected("CompleteAuthRequest"); err != nil {
		return err
	}
	return s.Store.CompleteAuthRequest(ctx, id, l, now)
}

func (s *testStore) IssueCode(ctx context.Context, c grant.Code) error {
	if err := s.injected("IssueCode"); err != nil {
		return err
	}
	err := s.Store.IssueCode(ctx, c)
	if err == nil {
		s.note(func() { s.issued[c.Hash] = c })
	}
	return err
}

func (s *testStore) CreatePushedRequest(ctx context.Context, r grant.AuthRequest, requestURIHash string, expiresAt time.Time) error {
	if err := s.injected("CreatePushedRequest"); err != nil {
		return err
	}
	err := s.Store.CreatePushedRequest(ctx, r, requestURIHash, expiresAt)
	if err == nil {
		s.note(func() { s.pushedURIs[requestURIHash] = r.ID })
	}
	return err
}

func (s *testStore) ConsumePushedRequest(ctx context.Context, requestURIHash, clientID string, now time.Time) (grant.AuthRequest, error) {
	if err := s.injected("ConsumePushedRequest"); err != nil {
		return grant.AuthRequest{}, err
	}
	r0, err := s.Store.ConsumePushedRequest(ctx, requestURIHash, clientID, now)
	if err == nil {
		s.note(func() { s.requestIDs = append(s.requestIDs, r0.ID); delete(s.pushedURIs, requestURIHash) })
	}
	return r0, err
}

func (s *testStore) RedeemCode(ctx context.Context, hash string, now time.Time) (grant.Code, error) {
	if err := s.injected("RedeemCode"); err != nil {
		return grant.Code{}, err
	}
	return s.Store.RedeemCode(ctx, hash, now)
}

func (s *testStore) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	if err := s.injected("DeleteExpired"); err != nil {
		return 0, err
	}
	return s.Store.DeleteExpired(ctx, now)
}

func (s *testStore) CreateFamily(ctx context.Context, f grant.Family, rt *grant.RefreshToken, at grant.AccessToken) error {
	if err := s.injected("CreateFamily"); err != nil {
		return err
	}
	s.beforeFamily()
	err := s.Store.CreateFamily(ctx, f, rt, at)
	if err == nil {
		s.note(func() { s.noteFamily(f, rt, at) })
	}
	return err
}

func (s *testStore) RefreshToken(ctx context.Context, hash string) (grant.RefreshToken, grant.Family, error) {
	if err := s.injected("RefreshToken"); err != nil {
		return grant.RefreshToken{}, grant.Family{}, err
	}
	return s.Store.RefreshToken(ctx, hash)
}

func (s *testStore) RotateRefreshToken(ctx context.Context, oldHash string, next grant.RefreshToken, at grant.AccessToken, now time.Time) error {
	if err := s.injected("RotateRefreshToken"); err != nil {
		return err
	}
	err := s.Store.RotateRefreshToken(ctx, oldHash, next, at, now)
	if err == nil {
		s.note(func() { s.accessJTIs = append(s.accessJTIs, at.JTI) })
	}
	return err
}

func (s *testStore) RevokeFamily(ctx context.Context, id string, now time.Time) error {
	if err := s.injected("RevokeFamily"); err != nil {
		return err
	}
	return s.Store.RevokeFamily(ctx, id, now)
}

func (s *testStore) RevokeFamiliesOfCode(ctx context.Context, codeHash string, now time.Time) (int, error) {
	if err := s.injected("RevokeFamiliesOfCode"); err != nil {
		return 0, err
	}
	return s.Store.RevokeFamiliesOfCode(ctx, codeHash, now)
}

func (s *testStore) RevokeFamiliesOfBinding(ctx context.Context, bindingID string, now time.Time) (int, error) {
	if err := s.injected("RevokeFamiliesOfBinding"); err != nil {
		return 0, err
	}
	return s.Store.RevokeFamiliesOfBinding(ctx, bindingID, now)
}

func (s *testStore) CreateAccessToken(ctx context.Context, at grant.AccessToken) error {
	if err := s.injected("CreateAccessToken"); err != nil {
		return err
	}
	err := s.Store.CreateAccessToken(ctx, at)
	if err == nil {
		s.note(func() { s.accessJTIs = append(s.accessJTIs, at.JTI) })
	}
	return err
}

func (s *testStore) AccessToken(ctx context.Context, jti string) (grant.AccessToken, error) {
	if err := s.injected("AccessToken"); err != nil {
		return grant.AccessToken{}, err
	}
	if s.hidden("access:" + jti) {
		return grant.AccessToken{}, fault.New(fault.NotFound, "test.AccessToken", "")
	}
	return s.Store.AccessToken(ctx, jti)
}

func (s *testStore) RevokeAccessToken(ctx context.Context, jti string, now time.Time) error {
	if err := s.injected("RevokeAccessToken"); err != nil {
		return err
	}
	return s.Store.RevokeAccessToken(ctx, jti, now)
}

func (s *testStore) CreateAccount(ctx context.Context, a account.Account) error {
	if err := s.injected("CreateAccount"); err != nil {
		return err
	}
	return s.Store.CreateAccount(ctx, a)
}

func (s *testStore) AccountByID(ctx context.Context, id string) (account.Account, error) {
	if err := s.injected("AccountByID"); err != nil {
		return account.Account{}, err
	}
	if s.hidden("account:" + id) {
		return account.Account{}, fault.New(fault.NotFound, "test.AccountByID", "")
	}
	return s.Store.AccountByID(ctx, id)
}

func (s *testStore) AccountByKVNR(ctx context.Context, k kvnr.KVNR) (account.Account, error) {
	if err := s.injected("AccountByKVNR"); err != nil {
		return account.Account{}, err
	}
	return s.Store.AccountByKVNR(ctx, k)
}

func (s *testStore) SetPasswordHash(ctx context.Context, id, hash string, now time.Time) error {
	if err := s.injected("SetPasswordHash"); err != nil {
		return err
	}
	return s.Store.SetPasswordHash(ctx, id, hash, now)
}

func (s *testStore) SetAccountStatus(ctx context.Context, id string, st account.Status, now time.Time) error {
	if err := s.injected("SetAccountStatus"); err != nil {
		return err
	}
	return s.Store.SetAccountStatus(ctx, id, st, now)
}

func (s *testStore) UpsertMember(ctx context.Context, m member.Member) error {
	if err := s.injected("UpsertMember"); err != nil {
		return err
	}
	return s.Store.UpsertMember(ctx, m)
}

func (s *testStore) MemberByKVNR(ctx context.Context, k kvnr.KVNR) (member.Member, error) {
	if err := s.injected("MemberByKVNR"); err != nil {
		return member.Member{}, err
	}
	if s.hidden("member:" + k.String()) {
		return member.Member{}, fault.New(fault.NotFound, "test.MemberByKVNR", "")
	}
	return s.Store.MemberByKVNR(ctx, k)
}

func (s *testStore) UseOnce(ctx context.Context, scope, value string, expiresAt, now time.Time) error {
	if err := s.injected("UseOnce"); err != nil {
		return err
	}
	return s.Store.UseOnce(ctx, scope, value, expiresAt, now)
}
