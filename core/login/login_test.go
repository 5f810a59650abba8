package login_test

import (
	"context"
	"github.com/pforte-id/pforte/catalog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/login"
	"github.com/pforte-id/pforte/core/password"
)

const annaPassword = coretest.Password

var (
	// now is in German winter time: authentication times must come out UTC.
	now      = time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	annaKVNR = coretest.KVNR("A12345678")
	bodoKVNR = coretest.KVNR("B98765432")
	carlKVNR = coretest.KVNR("C11223344")
	dinaKVNR = coretest.KVNR("D55667788")
	nobody   = coretest.KVNR("Z00000001")
)

// setup returns a login service over accounts for Anna (active), Bodo
// (blocked), Carl (pending) and Dina (no password yet), all with Anna's
// password where they have one.
func setup(t *testing.T) (*login.Service, *accounts) {
	t.Helper()
	h, hash := coretest.Passwords(), coretest.PasswordHash()
	st := newAccounts(t)
	for _, a := range []account.Account{
		{ID: "acc-anna", KVNR: annaKVNR, PasswordHash: hash, Status: account.Active, Proofing: loa.Substantial},
		{ID: "acc-bodo", KVNR: bodoKVNR, PasswordHash: hash, Status: account.Blocked, Proofing: loa.Substantial},
		{ID: "acc-carl", KVNR: carlKVNR, PasswordHash: hash, Status: account.Pending, Proofing: loa.High},
		{ID: "acc-dina", KVNR: dinaKVNR, Status: account.Active, Proofing: loa.Substantial},
	} {
		if err := st.CreateAccount(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	f := newFixture(t, st, h)
	return f.svc, st
}

func TestPasswordSuccess(t *testing.T) {
	for _, raw := range []string{annaKVNR.String(), " " + strings.ToLower(annaKVNR.String()) + " "} {
		t.Run(raw, func(t *testing.T) {
			svc, st := setup(t)
			a, err := svc.Password(context.Background(), raw, annaPassword, web)
			if err != nil {
				t.Fatalf("Password: %v", err)
			}
			want := loa.Authentication{Subject: "acc-anna", Proofing: loa.Substantial, AMR: []string{loa.AMRPassword}, Time: now}
			if a.Subject != want.Subject || a.Proofing != want.Proofing || !slices.Equal(a.AMR, want.AMR) || !a.Time.Equal(want.Time) {
				t.Fatalf("authentication %+v, want %+v", a, want)
			}
			if a.Time.Location() != time.UTC {
				t.Errorf("auth time %v is not UTC", a.Time)
			}
			if st.hashWrites != 0 {
				t.Errorf("the hash was rewritten although its parameters are current")
			}
			// One factor is the low level, whatever the proofing.
			if got := loa.Reach(a.Proofing, a.AMR).Level; got != loa.Low {
				t.Errorf("a password login reaches %v, want low", got)
			}
		})
	}
}

// Every failed login gets the same answer, so the login page cannot be
// used to find out who is a member or whose account is blocked.
func TestPasswordFailuresLookAlike(t *testing.T) {
	tests := []struct {
		name string
		kvnr kvnr.KVNR
		pw   string
	}{
		{"wrong password", annaKVNR, annaPassword + "!"},
		{"unknown KVNR", nobody, annaPassword},
		{"blocked account, right password", bodoKVNR, annaPassword},
		{"pending account, right password", carlKVNR, annaPassword},
		{"account without password", dinaKVNR, annaPassword},
		{"empty password", annaKVNR, ""},
		{"oversized password", annaKVNR, strings.Repeat("p", 1025)},
	}
	svc, _ := setup(t)
	_, ref := svc.Password(context.Background(), annaKVNR.String(), "wrong-password", web)
	wantKind(t, ref, fault.Unauthenticated)
	text := catalog.German.Error(ref)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, st := setup(t)
			a, err := svc.Password(context.Background(), tt.kvnr.String(), tt.pw, web)
			wantKind(t, err, fault.Unauthenticated)
			if a.Subject != "" {
				t.Fatalf("a failed login returned subject %q", a.Subject)
			}
			if catalog.German.Error(err) != text {
				t.Fatalf("public text %q, want %q as for a wrong password", catalog.German.Error(err), text)
			}
			if st.hashWrites != 0 {
				t.Fatal("a failed login rewrote a password hash")
			}
		})
	}
	if code, _ := fault.CodeOf(ref); code != login.CodeFailed || !strings.Contains(text, "Passwort") ||
		!strings.Contains(catalog.English.Error(ref), "password") {
		t.Errorf("code %q, text %q: not the one answer in German and English", code, text)
	}
}

func TestPasswordMalformedKVNR(t *testing.T) {
	good := annaKVNR.String()
	wrongCheck := good[:9] + string('0'+(good[9]-'0'+1)%10)
	for _, raw := range []string{"", "A1234", wrongCheck, "1" + good[1:], good + "0", "A12345678\t"} {
		t.Run(raw, func(t *testing.T) {
			svc, _ := setup(t)
			_, err := svc.Password(context.Background(), raw, annaPassword, web)
			wantKind(t, err, fault.Invalid)
		})
	}
}

func TestPasswordRehash(t *testing.T) {
	// A hash made with other (stronger) parameters, as after a change of
	// configuration, is replaced with one under the current parameters.
	old, err := password.NewHasher(password.Params{MemoryKiB: 19 * 1024, Iterations: 3, Parallelism: 1}, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	oldHash, err := old.Hash(context.Background(), annaPassword)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Run("wrong password keeps the old hash", func(t *testing.T) {
		svc, st := setup(t)
		if err := st.SetPasswordHash(ctx, "acc-anna", oldHash, now); err != nil {
			t.Fatal(err)
		}
		st.hashWrites = 0
		_, err := svc.Password(ctx, annaKVNR.String(), "not-the-password", web)
		wantKind(t, err, fault.Unauthenticated)
		if st.hashWrites != 0 || st.get("acc-anna").PasswordHash != oldHash {
			t.Fatal("a wrong password replaced the hash")
		}
	})
	t.Run("right password replaces it", func(t *testing.T) {
		svc, st := setup(t)
		if err := st.SetPasswordHash(ctx, "acc-anna", oldHash, now); err != nil {
			t.Fatal(err)
		}
		st.hashWrites = 0
		if _, err := svc.Password(ctx, annaKVNR.String(), annaPassword, web); err != nil {
			t.Fatal(err)
		}
		got := st.get("acc-anna").PasswordHash
		if st.hashWrites != 1 || got == oldHash {
			t.Fatalf("hash not replaced (%d writes)", st.hashWrites)
		}
		if !strings.Contains(got, "m=19456,t=2,p=1") {
			t.Fatalf("new hash %q is not under the current parameters", got)
		}
		h := coretest.Passwords()
		ok, rehash, err := h.Verify(ctx, annaPassword, got)
		if err != nil || !ok || rehash {
			t.Fatalf("new hash: ok %v, needs rehash %v, err %v", ok, rehash, err)
		}
	})
	t.Run("a failing upgrade does not fail the login", func(t *testing.T) {
		svc, st := setup(t)
		if err := st.SetPasswordHash(ctx, "acc-anna", oldHash, now); err != nil {
			t.Fatal(err)
		}
		failing := &failingHashWrites{accounts: st}
		h := coretest.Passwords()
		svc = newFixture(t, failing, h).svc
		if _, err := svc.Password(ctx, annaKVNR.String(), annaPassword, web); err != nil {
			t.Fatalf("login failed because the rehash could not be stored: %v", err)
		}
	})
}

// failingHashWrites is a store whose password writes fail.
type failingHashWrites struct{ *accounts }

func (f *failingHashWrites) SetPasswordHash(context.Context, string, string, time.Time) error {
	return fault.New(fault.Unavailable, "fake.SetPasswordHash", "")
}

// A database outage is not a wrong password: it must stay Unavailable
// (a 5xx), or members are told their password is wrong.
func TestPasswordStoreUnavailable(t *testing.T) {
	svc, st := setup(t)
	st.fail = fault.New(fault.Unavailable, "fake.AccountByKVNR", "")
	_, err := svc.Password(context.Background(), annaKVNR.String(), annaPassword, web)
	wantKind(t, err, fault.Unavailable)
}

func TestSteps(t *testing.T) {
	svc, _ := setup(t)
	if got := svc.Steps(); !slices.Equal(got, []login.Step{login.StepPassword}) {
		t.Fatalf("Steps = %v", got)
	}
}

func wantKind(t *testing.T, err error, want fault.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want kind %v", want)
	}
	if got := fault.KindOf(err); got != want {
		t.Fatalf("kind = %v, want %v (err: %v)", got, want, err)
	}
}
