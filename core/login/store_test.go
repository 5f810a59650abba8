package login_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/ports/store"
)

// accounts is the account store of these tests: the real one (sqlstore on
// a fresh SQLite database, which the conformance suite checks), passed on
// after fail (an outage of every method, when set), counting the password
// hashes it stored.
type accounts struct {
	*sqlstore.Store
	mu   sync.Mutex
	fail error
	// hashWrites counts successful SetPasswordHash calls.
	hashWrites int
}

var _ store.Accounts = (*accounts)(nil)

func newAccounts(t *testing.T) *accounts {
	return &accounts{Store: sqlstoretest.Open(t)}
}

func (a *accounts) down() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fail
}

func (a *accounts) CreateAccount(ctx context.Context, x account.Account) error {
	if err := a.down(); err != nil {
		return err
	}
	return a.Store.CreateAccount(ctx, x)
}

func (a *accounts) AccountByID(ctx context.Context, id string) (account.Account, error) {
	if err := a.down(); err != nil {
		return account.Account{}, err
	}
	return a.Store.AccountByID(ctx, id)
}

func (a *accounts) AccountByKVNR(ctx context.Context, k kvnr.KVNR) (account.Account, error) {
	if err := a.down(); err != nil {
		return account.Account{}, err
	}
	return a.Store.AccountByKVNR(ctx, k)
}

func (a *accounts) SetPasswordHash(ctx context.Context, id, hash string, now time.Time) error {
	if err := a.down(); err != nil {
		return err
	}
	err := a.Store.SetPasswordHash(ctx, id, hash, now)
	if err == nil {
		a.mu.Lock()
		a.hashWrites++
		a.mu.Unlock()
	}
	return err
}

func (a *accounts) SetAccountStatus(ctx context.Context, id string, s account.Status, now time.Time) error {
	if err := a.down(); err != nil {
		return err
	}
	return a.Store.SetAccountStatus(ctx, id, s, now)
}

// get returns account id as stored (the zero account when there is none).
func (a *accounts) get(id string) account.Account {
	x, _ := a.Store.AccountByID(context.Background(), id)
	return x
}
