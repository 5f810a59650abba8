package login

import (
	"context"
	"errors"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/ports/store"
)

// Step is one thing the member must do in a browser login.
type Step string

const (
	// StepPassword: member number and password.
	StepPassword Step = "password"
)

// Service authenticates members.
type Service struct {
	accounts store.Accounts
	hasher   *password.Hasher
	now      func() time.Time
}

// New returns a Service.
func New(accounts store.Accounts, hasher *password.Hasher, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{accounts: accounts, hasher: hasher, now: now}
}

// Steps returns the steps a browser login needs, in order. Today a password
// is enough for the low level; the app confirmation joins here as a second
// step when web two-factor login exists.
func (s *Service) Steps() []Step { return []Step{StepPassword} }

// CodeFailed: the member number or the password is wrong (never which).
// No parameters.
const CodeFailed fault.Code = "login.failed"

// errFailed is the one answer for every failed password login.
func errFailed(op string) error {
	return fault.Coded(fault.Unauthenticated, op, CodeFailed)
}

// Password authenticates a member by KVNR and password.
//
// An unknown KVNR, an inactive account and a wrong password give the same
// kind, the same text and the same work (one Argon2id verification), so the
// login cannot be used to find out who is a member. A malformed KVNR is
// reported as such: it reveals nothing about membership.
// When the stored hash was made with other parameters it is replaced.
// Errors: Invalid (malformed KVNR or password length); Unauthenticated;
// Unavailable.
func (s *Service) Password(ctx context.Context, rawKVNR, pw string) (loa.Authentication, error) {
	const op = "login.Password"
	k, err := kvnr.Parse(rawKVNR)
	if err != nil {
		return loa.Authentication{}, err
	}
	if pw == "" || len(pw) > 1024 {
		return loa.Authentication{}, errFailed(op)
	}
	a, err := s.accounts.AccountByKVNR(ctx, k)
	switch {
	case errors.Is(err, fault.NotFound):
		if err := s.hasher.VerifyDummy(ctx, pw); err != nil {
			return loa.Authentication{}, err
		}
		return loa.Authentication{}, errFailed(op)
	case err != nil:
		return loa.Authentication{}, err
	}
	if a.PasswordHash == "" {
		if err := s.hasher.VerifyDummy(ctx, pw); err != nil {
			return loa.Authentication{}, err
		}
		return loa.Authentication{}, errFailed(op)
	}
	ok, rehash, err := s.hasher.Verify(ctx, pw, a.PasswordHash)
	if err != nil {
		return loa.Authentication{}, err
	}
	if !ok || a.Status != account.Active {
		return loa.Authentication{}, errFailed(op)
	}
	now := s.now().UTC()
	if rehash {
		if h, err := s.hasher.Hash(ctx, pw); err == nil {
			// Best effort: the login stands even if the upgrade fails.
			_ = s.accounts.SetPasswordHash(ctx, a.ID, h, now)
		}
	}
	return loa.Authentication{Subject: a.ID, Proofing: a.Proofing, AMR: []string{loa.AMRPassword}, Time: now}, nil
}
