package authz_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/ports/store"
	"github.com/pforte-id/pforte/ports/token"
)

// fakeStore is an in-memory implementation of the storage ports authz
// needs. One mutex guards everything, so each method is atomic, as the
// port contracts require of the real adapters (one redemption of a code,
// one rotation of a refresh token, one use of a jti). Times are stored in
// UTC truncated to milliseconds, the weakest precision the port allows.
type fakeStore struct {
	mu       sync.Mutex
	clients  map[string]client.Client
	requests map[string]grant.AuthRequest
	codes    map[string]grant.Code
	// replayed holds the hashes of codes RevokeFamiliesOfCode marked; a
	// mark goes with its code.
	replayed map[string]bool
	families map[string]grant.Family
	refresh  map[string]grant.RefreshToken
	access   map[string]grant.AccessToken
	accounts map[string]account.Account
	members  map[kvnr.KVNR]member.Member
	replay   map[string]time.Time
	// pushed holds pushed authorization requests by request_uri hash
	// until ConsumePushedRequest moves them to requests.
	pushed map[string]pushedRequest
	// fail makes the named method return the error (fault injection).
	fail map[string]error
	// beforeCreateFamily, when set, runs once at the start of the next
	// CreateFamily, before it takes the lock: a test runs there what may
	// happen concurrently between RedeemCode and CreateFamily.
	beforeCreateFamily func()
}

var (
	_ store.Clients      = (*fakeStore)(nil)
	_ store.AuthRequests = (*fakeStore)(nil)
	_ store.Tokens       = (*fakeStore)(nil)
	_ store.Accounts     = (*fakeStore)(nil)
	_ store.Members      = (*fakeStore)(nil)
	_ store.Replay       = (*fakeStore)(nil)
)

func newFakeStore() *fakeStore {
	return &fakeStore{
		clients:  map[string]client.Client{},
		requests: map[string]grant.AuthRequest{},
		codes:    map[string]grant.Code{},
		replayed: map[string]bool{},
		families: map[string]grant.Family{},
		refresh:  map[string]grant.RefreshToken{},
		access:   map[string]grant.AccessToken{},
		accounts: map[string]account.Account{},
		members:  map[kvnr.KVNR]member.Member{},
		replay:   map[string]time.Time{},
		pushed:   map[string]pushedRequest{},
		fail:     map[string]error{},
	}
}

// failWith makes method return err until cleared with failWith(method, nil).
func (f *fakeStore) failWith(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.fail, method)
		return
	}
	f.fail[method] = err
}

// injected is called with f.mu held.
func (f *fakeStore) injected(method string) error { return f.fail[method] }

func unavailable(op string) error {
	return fault.Wrap(fault.Unavailable, op, context.DeadlineExceeded)
}

func ms(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Millisecond)
}

func notFound(op string) error { return fault.New(fault.NotFound, op, "") }
func conflict(op string) error { return fault.New(fault.Conflict, op, "") }

// --- copies, so that callers never share memory with the store ---

func cloneRequest(r grant.AuthRequest) grant.AuthRequest {
	r.Scopes = slices.Clone(r.Scopes)
	r.Prompt = slices.Clone(r.Prompt)
	r.ACRValues = slices.Clone(r.ACRValues)
	r.UILocales = slices.Clone(r.UILocales)
	if r.MaxAge != nil {
		d := *r.MaxAge
		r.MaxAge = &d
	}
	if r.Login != nil {
		l := *r.Login
		l.AMR = slices.Clone(l.AMR)
		l.AuthTime = ms(l.AuthTime)
		r.Login = &l
	}
	r.CreatedAt, r.ExpiresAt = ms(r.CreatedAt), ms(r.ExpiresAt)
	return r
}

func cloneCode(c grant.Code) grant.Code {
	c.Request = cloneRequest(c.Request)
	c.CreatedAt, c.ExpiresAt, c.UsedAt = ms(c.CreatedAt), ms(c.ExpiresAt), ms(c.UsedAt)
	return c
}

func cloneFamily(f grant.Family) grant.Family {
	f.Scopes = slices.Clone(f.Scopes)
	f.AMR = slices.Clone(f.AMR)
	f.AuthTime, f.CreatedAt, f.ExpiresAt, f.RevokedAt = ms(f.AuthTime), ms(f.CreatedAt), ms(f.ExpiresAt), ms(f.RevokedAt)
	return f
}

func cloneRefresh(r grant.RefreshToken) grant.RefreshToken {
	r.CreatedAt, r.ExpiresAt, r.UsedAt = ms(r.CreatedAt), ms(r.ExpiresAt), ms(r.UsedAt)
	return r
}

func cloneAccess(a grant.AccessToken) grant.AccessToken {
	a.Scopes = slices.Clone(a.Scopes)
	a.IssuedAt, a.ExpiresAt, a.RevokedAt = ms(a.IssuedAt), ms(a.ExpiresAt), ms(a.RevokedAt)
	return a
}

func cloneClient(c client.Client) client.Client {
	c.JWKS = slices.Clone(c.JWKS)
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	c.GrantTypes = slices.Clone(c.GrantTypes)
	c.Scopes = slices.Clone(c.Scopes)
	c.CreatedAt = ms(c.CreatedAt)
	return c
}

// --- Clients ---

func (f *fakeStore) CreateClient(_ context.Context, c client.Client) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("CreateClient"); err != nil {
		return err
	}
	if _, ok := f.clients[c.ID]; ok {
		return conflict("fake.CreateClient")
	}
	f.clients[c.ID] = cloneClient(c)
	return nil
}

func (f *fakeStore) PutClient(_ context.Context, c client.Client) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("PutClient"); err != nil {
		return err
	}
	f.clients[c.ID] = cloneClient(c)
	return nil
}

func (f *fakeStore) ClientByID(_ context.Context, id string) (client.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("ClientByID"); err != nil {
		return client.Client{}, err
	}
	c, ok := f.clients[id]
	if !ok {
		return client.Client{}, notFound("fake.ClientByID")
	}
	return cloneClient(c), nil
}

func (f *fakeStore) ListClients(_ context.Context) ([]client.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("ListClients"); err != nil {
		return nil, err
	}
	out := make([]client.Client, 0, len(f.clients))
	for _, c := range f.clients {
		out = append(out, cloneClient(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f *fakeStore) DeleteClient(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("DeleteClient"); err != nil {
		return err
	}
	if _, ok := f.clients[id]; !ok {
		return notFound("fake.DeleteClient")
	}
	delete(f.clients, id)
	return nil
}

// --- AuthRequests ---

func (f *fakeStore) CreateAuthRequest(_ context.Context, r grant.AuthRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("CreateAuthRequest"); err != nil {
		return err
	}
	if _, ok := f.requests[r.ID]; ok {
		return conflict("fake.CreateAuthRequest")
	}
	f.requests[r.ID] = cloneRequest(r)
	return nil
}

func (f *fakeStore) AuthRequestByID(_ context.Context, id string) (grant.AuthRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("AuthRequestByID"); err != nil {
		return grant.AuthRequest{}, err
	}
	r, ok := f.requests[id]
	if !ok {
		return grant.AuthRequest{}, notFound("fake.AuthRequestByID")
	}
	return cloneRequest(r), nil
}

func (f *fakeStore) CompleteAuthRequest(_ context.Context, id string, l grant.Login, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("CompleteAuthRequest"); err != nil {
		return err
	}
	r, ok := f.requests[id]
	switch {
	case !ok:
		return notFound("fake.CompleteAuthRequest")
	case !r.ExpiresAt.After(now):
		return fault.New(fault.Expired, "fake.CompleteAuthRequest", "")
	case r.Login != nil:
		return conflict("fake.CompleteAuthRequest")
	}
	r.Login = &l
	f.requests[id] = cloneRequest(r)
	return nil
}

func (f *fakeStore) IssueCode(_ context.Context, c grant.Code) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("IssueCode"); err != nil {
		return err
	}
	r, ok := f.requests[c.Request.ID]
	switch {
	case !ok:
		return notFound("fake.IssueCode")
	case r.Login == nil:
		return fault.New(fault.Forbidden, "fake.IssueCode", "")
	}
	if _, dup := f.codes[c.Hash]; dup {
		return conflict("fake.IssueCode")
	}
	delete(f.requests, c.Request.ID)
	f.codes[c.Hash] = cloneCode(c)
	return nil
}

type pushedRequest struct {
	r         grant.AuthRequest
	expiresAt time.Time
	used      bool
}

func (f *fakeStore) CreatePushedRequest(_ context.Context, r grant.AuthRequest, requestURIHash string, expiresAt time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("CreatePushedRequest"); err != nil {
		return err
	}
	if requestURIHash == "" || r.Login != nil || expiresAt.After(r.ExpiresAt) {
		return fault.New(fault.Invalid, "fake.CreatePushedRequest", "")
	}
	if _, dup := f.pushed[requestURIHash]; dup {
		return conflict("fake.CreatePushedRequest")
	}
	if _, dup := f.requests[r.ID]; dup {
		return conflict("fake.CreatePushedRequest")
	}
	for _, p := range f.pushed {
		if p.r.ID == r.ID {
			return conflict("fake.CreatePushedRequest")
		}
	}
	f.pushed[requestURIHash] = pushedRequest{r: cloneRequest(r), expiresAt: ms(expiresAt)}
	return nil
}

func (f *fakeStore) ConsumePushedRequest(_ context.Context, requestURIHash, clientID string, now time.Time) (grant.AuthRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("ConsumePushedRequest"); err != nil {
		return grant.AuthRequest{}, err
	}
	p, ok := f.pushed[requestURIHash]
	switch {
	case !ok || p.used:
		return grant.AuthRequest{}, notFound("fake.ConsumePushedRequest")
	case p.r.ClientID != clientID:
		return grant.AuthRequest{}, fault.New(fault.Forbidden, "fake.ConsumePushedRequest", "")
	case !p.expiresAt.After(now):
		return grant.AuthRequest{}, fault.New(fault.Expired, "fake.ConsumePushedRequest", "")
	}
	p.used = true
	f.pushed[requestURIHash] = p
	f.requests[p.r.ID] = cloneRequest(p.r)
	return cloneRequest(p.r), nil
}

// RedeemCode reports a used code as Conflict even after it expired: a
// replay is worth detecting (and revoking for) whenever it comes.
func (f *fakeStore) RedeemCode(_ context.Context, hash string, now time.Time) (grant.Code, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("RedeemCode"); err != nil {
		return grant.Code{}, err
	}
	c, ok := f.codes[hash]
	switch {
	case !ok:
		return grant.Code{}, notFound("fake.RedeemCode")
	case !c.UsedAt.IsZero():
		return cloneCode(c), conflict("fake.RedeemCode")
	case !c.ExpiresAt.After(now):
		return grant.Code{}, fault.New(fault.Expired, "fake.RedeemCode", "")
	}
	c.UsedAt = ms(now)
	f.codes[hash] = c
	return cloneCode(c), nil
}

// deleteExpiredRequests removes requests that expired before now and codes
// store.CodeRetention after their expiry, with their replay marks.
func (f *fakeStore) deleteExpiredRequests(now time.Time) int64 {
	var n int64
	for id, r := range f.requests {
		if r.ExpiresAt.Before(now) {
			delete(f.requests, id)
			n++
		}
	}
	for h, c := range f.codes {
		if c.ExpiresAt.Add(store.CodeRetention).Before(now) {
			delete(f.codes, h)
			delete(f.replayed, h)
			n++
		}
	}
	return n
}

// --- Tokens ---

// setBeforeCreateFamily makes the next CreateFamily run hook first.
func (f *fakeStore) setBeforeCreateFamily(hook func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beforeCreateFamily = hook
}

// otherFamily reports a token that names a family other than id.
func otherFamily(tokenFamily, id string) bool { return tokenFamily != "" && tokenFamily != id }

// CreateFamily refuses a replayed code under the same lock as the insert,
// so that no RevokeFamiliesOfCode can come between check and insert.
func (f *fakeStore) CreateFamily(_ context.Context, fam grant.Family, rt *grant.RefreshToken, at grant.AccessToken) error {
	f.mu.Lock()
	hook := f.beforeCreateFamily
	f.beforeCreateFamily = nil
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("CreateFamily"); err != nil {
		return err
	}
	if otherFamily(at.FamilyID, fam.ID) || (rt != nil && otherFamily(rt.FamilyID, fam.ID)) {
		return fault.New(fault.Invalid, "fake.CreateFamily", "")
	}
	if fam.CodeHash != "" && f.replayed[fam.CodeHash] {
		return conflict("fake.CreateFamily")
	}
	if _, dup := f.families[fam.ID]; dup {
		return conflict("fake.CreateFamily")
	}
	if _, dup := f.access[at.JTI]; dup {
		return conflict("fake.CreateFamily")
	}
	if rt != nil {
		if _, dup := f.refresh[rt.Hash]; dup {
			return conflict("fake.CreateFamily")
		}
		r := cloneRefresh(*rt)
		r.FamilyID = fam.ID
		f.refresh[rt.Hash] = r
	}
	a := cloneAccess(at)
	a.FamilyID = fam.ID
	f.families[fam.ID] = cloneFamily(fam)
	f.access[at.JTI] = a
	return nil
}

func (f *fakeStore) RefreshToken(_ context.Context, hash string) (grant.RefreshToken, grant.Family, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("RefreshToken"); err != nil {
		return grant.RefreshToken{}, grant.Family{}, err
	}
	rt, ok := f.refresh[hash]
	if !ok {
		return grant.RefreshToken{}, grant.Family{}, notFound("fake.RefreshToken")
	}
	fam, ok := f.families[rt.FamilyID]
	if !ok {
		return grant.RefreshToken{}, grant.Family{}, notFound("fake.RefreshToken")
	}
	return cloneRefresh(rt), cloneFamily(fam), nil
}

func (f *fakeStore) RotateRefreshToken(_ context.Context, oldHash string, next grant.RefreshToken, at grant.AccessToken, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("RotateRefreshToken"); err != nil {
		return err
	}
	old, ok := f.refresh[oldHash]
	if !ok {
		return notFound("fake.RotateRefreshToken")
	}
	fam, ok := f.families[old.FamilyID]
	switch {
	case !ok:
		return notFound("fake.RotateRefreshToken")
	case !old.UsedAt.IsZero():
		return conflict("fake.RotateRefreshToken")
	case !fam.RevokedAt.IsZero():
		return fault.New(fault.Forbidden, "fake.RotateRefreshToken", "")
	case !now.Before(old.ExpiresAt) || !now.Before(fam.ExpiresAt):
		return fault.New(fault.Expired, "fake.RotateRefreshToken", "")
	case otherFamily(next.FamilyID, fam.ID) || otherFamily(at.FamilyID, fam.ID):
		return fault.New(fault.Invalid, "fake.RotateRefreshToken", "")
	}
	next.FamilyID, at.FamilyID = fam.ID, fam.ID
	if _, dup := f.refresh[next.Hash]; dup {
		return conflict("fake.RotateRefreshToken")
	}
	if _, dup := f.access[at.JTI]; dup {
		return conflict("fake.RotateRefreshToken")
	}
	old.UsedAt = ms(now)
	f.refresh[oldHash] = old
	f.refresh[next.Hash] = cloneRefresh(next)
	f.access[at.JTI] = cloneAccess(at)
	return nil
}

func (f *fakeStore) RevokeFamily(_ context.Context, id string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("RevokeFamily"); err != nil {
		return err
	}
	if !f.revokeFamilyLocked(id, now) {
		return notFound("fake.RevokeFamily")
	}
	return nil
}

func (f *fakeStore) revokeFamilyLocked(id string, now time.Time) bool {
	fam, ok := f.families[id]
	if !ok {
		return false
	}
	if fam.RevokedAt.IsZero() {
		fam.RevokedAt = ms(now)
		f.families[id] = fam
	}
	return true
}

// RevokeFamiliesOfCode marks the code replayed (when the store holds it)
// and revokes its families, under one lock; it counts the families newly
// revoked.
func (f *fakeStore) RevokeFamiliesOfCode(_ context.Context, codeHash string, now time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("RevokeFamiliesOfCode"); err != nil {
		return 0, err
	}
	if _, ok := f.codes[codeHash]; ok {
		f.replayed[codeHash] = true
	}
	n := 0
	for id, fam := range f.families {
		if fam.CodeHash == codeHash && fam.CodeHash != "" && fam.RevokedAt.IsZero() {
			f.revokeFamilyLocked(id, now)
			n++
		}
	}
	return n, nil
}

// RevokeFamiliesOfBinding revokes the families of a device binding and
// counts those newly revoked.
func (f *fakeStore) RevokeFamiliesOfBinding(_ context.Context, bindingID string, now time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("RevokeFamiliesOfBinding"); err != nil {
		return 0, err
	}
	if bindingID == "" {
		return 0, fault.New(fault.Invalid, "fake.RevokeFamiliesOfBinding", "")
	}
	n := 0
	for id, fam := range f.families {
		if fam.BindingID == bindingID && fam.RevokedAt.IsZero() {
			f.revokeFamilyLocked(id, now)
			n++
		}
	}
	return n, nil
}

func (f *fakeStore) CreateAccessToken(_ context.Context, at grant.AccessToken) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("CreateAccessToken"); err != nil {
		return err
	}
	if _, dup := f.access[at.JTI]; dup {
		return conflict("fake.CreateAccessToken")
	}
	f.access[at.JTI] = cloneAccess(at)
	return nil
}

// AccessToken reports a token as revoked when its family is.
func (f *fakeStore) AccessToken(_ context.Context, jti string) (grant.AccessToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("AccessToken"); err != nil {
		return grant.AccessToken{}, err
	}
	at, ok := f.access[jti]
	if !ok {
		return grant.AccessToken{}, notFound("fake.AccessToken")
	}
	if fam, ok := f.families[at.FamilyID]; ok && at.RevokedAt.IsZero() {
		at.RevokedAt = fam.RevokedAt
	}
	return cloneAccess(at), nil
}

func (f *fakeStore) RevokeAccessToken(_ context.Context, jti string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("RevokeAccessToken"); err != nil {
		return err
	}
	at, ok := f.access[jti]
	if !ok {
		return notFound("fake.RevokeAccessToken")
	}
	if at.RevokedAt.IsZero() {
		at.RevokedAt = ms(now)
		f.access[jti] = at
	}
	return nil
}

// DeleteExpired serves both AuthRequests and Tokens; the fake clears all.
func (f *fakeStore) DeleteExpired(_ context.Context, now time.Time) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("DeleteExpired"); err != nil {
		return 0, err
	}
	n := f.deleteExpiredRequests(now)
	for h, rt := range f.refresh {
		if rt.ExpiresAt.Before(now) {
			delete(f.refresh, h)
			n++
		}
	}
	for j, at := range f.access {
		if at.ExpiresAt.Before(now) {
			delete(f.access, j)
			n++
		}
	}
	for id, fam := range f.families {
		if fam.ExpiresAt.Before(now) {
			delete(f.families, id)
			n++
		}
	}
	return n, nil
}

// --- Accounts and Members ---

func (f *fakeStore) CreateAccount(_ context.Context, a account.Account) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("CreateAccount"); err != nil {
		return err
	}
	for _, x := range f.accounts {
		if x.ID == a.ID || x.KVNR == a.KVNR {
			return conflict("fake.CreateAccount")
		}
	}
	a.CreatedAt, a.UpdatedAt = ms(a.CreatedAt), ms(a.UpdatedAt)
	f.accounts[a.ID] = a
	return nil
}

func (f *fakeStore) AccountByID(_ context.Context, id string) (account.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("AccountByID"); err != nil {
		return account.Account{}, err
	}
	a, ok := f.accounts[id]
	if !ok {
		return account.Account{}, notFound("fake.AccountByID")
	}
	return a, nil
}

func (f *fakeStore) AccountByKVNR(_ context.Context, k kvnr.KVNR) (account.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("AccountByKVNR"); err != nil {
		return account.Account{}, err
	}
	for _, a := range f.accounts {
		if a.KVNR == k {
			return a, nil
		}
	}
	return account.Account{}, notFound("fake.AccountByKVNR")
}

func (f *fakeStore) SetPasswordHash(_ context.Context, id, hash string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("SetPasswordHash"); err != nil {
		return err
	}
	a, ok := f.accounts[id]
	if !ok {
		return notFound("fake.SetPasswordHash")
	}
	a.PasswordHash, a.UpdatedAt = hash, ms(now)
	f.accounts[id] = a
	return nil
}

func (f *fakeStore) SetAccountStatus(_ context.Context, id string, s account.Status, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("SetAccountStatus"); err != nil {
		return err
	}
	a, ok := f.accounts[id]
	if !ok {
		return notFound("fake.SetAccountStatus")
	}
	a.Status, a.UpdatedAt = s, ms(now)
	f.accounts[id] = a
	return nil
}

func (f *fakeStore) UpsertMember(_ context.Context, m member.Member) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("UpsertMember"); err != nil {
		return err
	}
	f.members[m.KVNR] = m
	return nil
}

func (f *fakeStore) MemberByKVNR(_ context.Context, k kvnr.KVNR) (member.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("MemberByKVNR"); err != nil {
		return member.Member{}, err
	}
	m, ok := f.members[k]
	if !ok {
		return member.Member{}, notFound("fake.MemberByKVNR")
	}
	return m, nil
}

// --- Replay ---

func (f *fakeStore) UseOnce(_ context.Context, scope, value string, expiresAt, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("UseOnce"); err != nil {
		return err
	}
	key := scope + "\x00" + value
	if exp, ok := f.replay[key]; ok && exp.After(now) {
		return conflict("fake.UseOnce")
	}
	f.replay[key] = ms(expiresAt)
	return nil
}

// --- token.Signer and token.AssertionVerifier ---

// fakeJWS signs compact JWS-shaped tokens, base64url(header) "."
// base64url(payload) "." base64url(HMAC-SHA-256), under a test key. It is
// not ES256 (adapters/keys tests that); it gives authz the same contract:
// Verify checks the signature and the typ header and nothing else.
type fakeJWS struct {
	key []byte
	mu  sync.Mutex
	// failNext makes the next Sign of a typ fail with the error.
	failNext map[string]error
}

var (
	_ token.Signer            = (*fakeJWS)(nil)
	_ token.AssertionVerifier = (*fakeJWS)(nil)
)

type jwsHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

func signJWS(key []byte, h jwsHeader, claims any) (string, error) {
	hb, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	pb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(hb) + "." + enc.EncodeToString(pb)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return input + "." + enc.EncodeToString(m.Sum(nil)), nil
}

// verifyJWS checks the HMAC under key and returns header and payload.
func verifyJWS(key []byte, raw string) (jwsHeader, []byte, bool) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return jwsHeader{}, nil, false
	}
	enc := base64.RawURLEncoding
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return jwsHeader{}, nil, false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return jwsHeader{}, nil, false
	}
	hb, err1 := enc.DecodeString(parts[0])
	pb, err2 := enc.DecodeString(parts[1])
	var h jwsHeader
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &h) != nil {
		return jwsHeader{}, nil, false
	}
	return h, pb, true
}

func (s *fakeJWS) Sign(_ context.Context, typ string, claims any) (string, error) {
	s.mu.Lock()
	err := s.failNext[typ]
	delete(s.failNext, typ)
	s.mu.Unlock()
	if err != nil {
		return "", err
	}
	return signJWS(s.key, jwsHeader{Alg: "HS256", Typ: typ, Kid: "test"}, claims)
}

func (s *fakeJWS) failNextSign(typ string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext == nil {
		s.failNext = map[string]error{}
	}
	s.failNext[typ] = err
}

func (s *fakeJWS) Verify(_ context.Context, raw, typ string, claims any) error {
	h, payload, ok := verifyJWS(s.key, raw)
	if !ok || h.Typ != typ || json.Unmarshal(payload, claims) != nil {
		return fault.New(fault.Unauthenticated, "fake.Verify", "invalid token")
	}
	return nil
}

// VerifyAssertion treats the client's JWKS bytes as its HMAC key, so an
// assertion verifies only for the client whose "key set" signed it.
func (s *fakeJWS) VerifyAssertion(_ context.Context, raw string, jwks []byte, claims any) error {
	if len(jwks) == 0 {
		return fault.New(fault.Unauthenticated, "fake.VerifyAssertion", "no keys")
	}
	_, payload, ok := verifyJWS(jwks, raw)
	if !ok || json.Unmarshal(payload, claims) != nil {
		return fault.New(fault.Unauthenticated, "fake.VerifyAssertion", "invalid assertion")
	}
	return nil
}

// --- clock ---

// clock is the injected now: it moves only when a test advances it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
