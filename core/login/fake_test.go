package login_test

import (
	"context"
	"sync"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/ports/store"
)

// fakeAccounts is an in-memory store.Accounts guarded by a mutex.
type fakeAccounts struct {
	mu       sync.Mutex
	accounts map[string]account.Account
	// fail makes every method return the error (fault injection).
	fail error
	// hashWrites counts SetPasswordHash calls.
	hashWrites int
}

var _ store.Accounts = (*fakeAccounts)(nil)

func newFakeAccounts() *fakeAccounts {
	return &fakeAccounts{accounts: map[string]account.Account{}}
}

func (f *fakeAccounts) CreateAccount(_ context.Context, a account.Account) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	for _, x := range f.accounts {
		if x.ID == a.ID || x.KVNR == a.KVNR {
			return fault.New(fault.Conflict, "fake.CreateAccount", "")
		}
	}
	f.accounts[a.ID] = a
	return nil
}

func (f *fakeAccounts) AccountByID(_ context.Context, id string) (account.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return account.Account{}, f.fail
	}
	a, ok := f.accounts[id]
	if !ok {
		return account.Account{}, fault.New(fault.NotFound, "fake.AccountByID", "")
	}
	return a, nil
}

func (f *fakeAccounts) AccountByKVNR(_ context.Context, k kvnr.KVNR) (account.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return account.Account{}, f.fail
	}
	for _, a := range f.accounts {
		if a.KVNR == k {
			return a, nil
		}
	}
	return account.Account{}, fault.New(fault.NotFound, "fake.AccountByKVNR", "")
}

func (f *fakeAccounts) SetPasswordHash(_ context.Context, id, hash string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	a, ok := f.accounts[id]
	if !ok {
		return fault.New(fault.NotFound, "fake.SetPasswordHash", "")
	}
	a.PasswordHash, a.UpdatedAt = hash, now.UTC().Truncate(time.Millisecond)
	f.accounts[id] = a
	f.hashWrites++
	return nil
}

func (f *fakeAccounts) SetAccountStatus(_ context.Context, id string, s account.Status, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	a, ok := f.accounts[id]
	if !ok {
		return fault.New(fault.NotFound, "fake.SetAccountStatus", "")
	}
	a.Status, a.UpdatedAt = s, now.UTC().Truncate(time.Millisecond)
	f.accounts[id] = a
	return nil
}

func (f *fakeAccounts) get(id string) account.Account {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accounts[id]
}
