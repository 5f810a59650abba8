package binding_test

import (
	"slices"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/proof"
)

// Authorization request ids as core/authz issues them (opaque here).
const (
	loginRequest = "authreq-0001"
	otherRequest = "authreq-0002"
)

// loginChallenge runs BeginLogin for request and lets ph answer it.
func (f *fixture) loginChallenge(t *testing.T, ph *phone, bindingID, request string) (string, []byte) {
	t.Helper()
	id, opts, err := f.svc.BeginLogin(ctx, bindingID, request)
	if err != nil {
		t.Fatalf("BeginLogin: %v", err)
	}
	return id, ph.assert(opts)
}

func TestAuthenticateLogin(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	f.w.clock.Advance(time.Minute)
	id, resp := f.loginChallenge(t, ph, b.ID, loginRequest)
	c, ok := f.w.challenge(id)
	if !ok || c.Purpose != device.Login || c.Subject != b.ID || c.Context != loginRequest ||
		!c.ExpiresAt.Equal(t0.Add(time.Minute+device.ChallengeTTL)) {
		t.Fatalf("stored challenge %+v", c)
	}
	f.w.clock.Advance(10 * time.Second)
	got, err := f.svc.AuthenticateLogin(ctx, id, resp, goodPIN, clientIP, loginRequest)
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Minute + 10*time.Second)
	want := loa.Authentication{
		Subject: b.AccountID, Proofing: loa.Substantial, AMR: []string{loa.AMRHardware, loa.AMRPIN}, Time: now, BindingID: b.ID,
	}
	if got.Subject != want.Subject || got.Proofing != want.Proofing || !slices.Equal(got.AMR, want.AMR) ||
		!got.Time.Equal(want.Time) || got.BindingID != want.BindingID {
		t.Fatalf("authentication %+v, want %+v", got, want)
	}
	if r := loa.Reach(got.Proofing, got.AMR); r.Level != loa.Substantial || !slices.Equal(r.AMR, []string{"hwk", "pin", "mfa"}) {
		t.Fatalf("a letter-proofed app login reaches %v %v", r.Level, r.AMR)
	}
	if x := f.w.binding(b.ID); x.SignCount != 1 || !x.LastUsedAt.Equal(now) || x.PIN != (pin.Counter{}) {
		t.Fatalf("binding after the login: %+v", x)
	}
	if kinds := f.w.auditKinds(); len(kinds) == 0 || kinds[len(kinds)-1] != audit.AppLogin {
		t.Fatalf("audit after the login: %v", kinds)
	}
}

func TestBeginLoginRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(f *fixture, b device.Binding) (bindingID, request string)
		kind    fault.Kind
		text    string
	}{
		{"unknown binding", func(*fixture, device.Binding) (string, string) { return "no-such-binding", loginRequest },
			fault.Forbidden, "nicht (mehr)"},
		{"revoked binding", func(f *fixture, b device.Binding) (string, string) {
			b.Status, b.RevokedAt = device.Revoked, t0
			f.w.setBinding(b)
			return b.ID, loginRequest
		}, fault.Forbidden, "nicht (mehr)"},
		{"suspect binding", func(f *fixture, b device.Binding) (string, string) {
			b.Status = device.Suspect
			f.w.setBinding(b)
			return b.ID, loginRequest
		}, fault.Forbidden, "nicht (mehr)"},
		{"blocked binding", func(f *fixture, b device.Binding) (string, string) {
			b.Status, b.PIN = device.Blocked, pin.Counter{Failures: 5, Blocked: true}
			f.w.setBinding(b)
			return b.ID, loginRequest
		}, fault.Locked, "gesperrt"},
		{"no authorization request", func(_ *fixture, b device.Binding) (string, string) { return b.ID, "" },
			fault.Invalid, "unbekannt"},
		{"oversized authorization request id", func(_ *fixture, b device.Binding) (string, string) {
			return b.ID, string(make([]byte, 129))
		}, fault.Invalid, "unbekannt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			_, b := f.enrolled(t, anna, "Phone")
			id, request := tc.prepare(f, b)
			_, _, err := f.svc.BeginLogin(ctx, id, request)
			wantKind(t, tc.name, err, tc.kind)
			wantPublic(t, tc.name, err, tc.text)
		})
	}
}

func TestAuthenticateLoginRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, f *fixture, ph *phone, b device.Binding) error
		kind fault.Kind
		text string
		// failures is the PIN counter afterwards.
		failures int
	}{
		{"assertion for another authorization request", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.loginChallenge(t, ph, b.ID, loginRequest)
			_, err := f.svc.AuthenticateLogin(ctx, id, resp, goodPIN, clientIP, otherRequest)
			wantKind(t, "other request", err, fault.Unauthenticated)
			wantPublic(t, "other request", err, "anderen Anmeldung")
			// The challenge is used up: its own request cannot have it either.
			_, err = f.svc.AuthenticateLogin(ctx, id, resp, goodPIN, clientIP, loginRequest)
			return err
		}, fault.Unauthenticated, "schon verwendet", 0},
		{"another request with a wrong PIN", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.loginChallenge(t, ph, b.ID, loginRequest)
			_, err := f.svc.AuthenticateLogin(ctx, id, resp, otherPIN, clientIP, otherRequest)
			return err
		}, fault.Unauthenticated, "anderen Anmeldung", 0},
		{"no authorization request", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.loginChallenge(t, ph, b.ID, loginRequest)
			_, err := f.svc.AuthenticateLogin(ctx, id, resp, goodPIN, clientIP, "")
			return err
		}, fault.Unauthenticated, "anderen Anmeldung", 0},
		{"replayed challenge", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.loginChallenge(t, ph, b.ID, loginRequest)
			if _, err := f.svc.AuthenticateLogin(ctx, id, resp, goodPIN, clientIP, loginRequest); err != nil {
				t.Fatal(err)
			}
			_, err := f.svc.AuthenticateLogin(ctx, id, resp, goodPIN, clientIP, loginRequest)
			return err
		}, fault.Unauthenticated, "schon verwendet", 0},
		{"expired challenge", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.loginChallenge(t, ph, b.ID, loginRequest)
			f.w.clock.Advance(device.ChallengeTTL)
			_, err := f.svc.AuthenticateLogin(ctx, id, resp, goodPIN, clientIP, loginRequest)
			return err
		}, fault.Expired, "abgelaufen", 0},
		{"device management challenge used for a login", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.challenge(t, ph, b.ID)
			_, err := f.svc.AuthenticateLogin(ctx, id, resp, goodPIN, clientIP, loginRequest)
			return err
		}, fault.Unauthenticated, "unbekannt", 0},
		{"login challenge used for device management", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.loginChallenge(t, ph, b.ID, loginRequest)
			_, err := f.svc.AuthenticateDevice(ctx, id, resp, goodPIN, clientIP)
			return err
		}, fault.Unauthenticated, "unbekannt", 0},
		{"login challenge used for a PIN reset", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.loginChallenge(t, ph, b.ID, loginRequest)
			return f.svc.ResetPIN(ctx, id, resp, userPassword, thirdPIN, clientIP)
		}, fault.Unauthenticated, "unbekannt", 0},
		{"signed by another key", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, opts, err := f.svc.BeginLogin(ctx, b.ID, loginRequest)
			if err != nil {
				t.Fatal(err)
			}
			thief := newPhone()
			thief.credID = ph.credID
			_, err = f.svc.AuthenticateLogin(ctx, id, thief.assert(opts), goodPIN, clientIP, loginRequest)
			return err
		}, fault.Unauthenticated, "", 0},
		{"revoked between challenge and answer", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.loginChallenge(t, ph, b.ID, loginRequest)
			x := f.w.binding(b.ID)
			x.Status, x.RevokedAt = device.Revoked, t0
			f.w.setBinding(x)
			_, err := f.svc.AuthenticateLogin(ctx, id, resp, goodPIN, clientIP, loginRequest)
			return err
		}, fault.Forbidden, "nicht (mehr)", 0},
		{"blocked between challenge and answer", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.loginChallenge(t, ph, b.ID, loginRequest)
			x := f.w.binding(b.ID)
			x.Status, x.PIN = device.Blocked, pin.Counter{Failures: 5, Blocked: true}
			f.w.setBinding(x)
			_, err := f.svc.AuthenticateLogin(ctx, id, resp, goodPIN, clientIP, loginRequest)
			if pe := pinErr(t, "blocked", err, fault.Locked); pe.Remaining != 0 {
				t.Errorf("remaining %d on a blocked binding", pe.Remaining)
			}
			return err
		}, fault.Locked, "gesperrt", 5},
		{"wrong PIN", func(t *testing.T, f *fixture, ph *phone, b device.Binding) error {
			id, resp := f.loginChallenge(t, ph, b.ID, loginRequest)
			_, err := f.svc.AuthenticateLogin(ctx, id, resp, otherPIN, clientIP, loginRequest)
			if pe := pinErr(t, "wrong PIN", err, fault.Unauthenticated); pe.Remaining != 4 {
				t.Errorf("remaining %d after one wrong PIN, want 4", pe.Remaining)
			}
			if ks := f.w.auditKinds(); ks[len(ks)-1] != audit.PINFailed {
				t.Errorf("audit %v, want pin.failed last", ks)
			}
			if got := f.w.binding(b.ID).SignCount; got != 1 {
				t.Errorf("sign count %d: the key answered, its counter must be stored", got)
			}
			return err
		}, fault.Unauthenticated, "Verbleibende Versuche: 4", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			ph, b := f.enrolled(t, anna, "Phone")
			err := tc.run(t, f, ph, b)
			wantKind(t, tc.name, err, tc.kind)
			wantPublic(t, tc.name, err, tc.text)
			if got := f.w.binding(b.ID).PIN.Failures; got != tc.failures {
				t.Fatalf("PIN failures %d, want %d", got, tc.failures)
			}
		})
	}
}

// TestLoginPINLockout: five wrong PINs in logins block the binding, as
// they do in device management: the one path counts both.
func TestLoginPINLockout(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	// Two wrong entries in device management, three in logins.
	for range 2 {
		_, err := f.auth(t, ph, b.ID, otherPIN)
		pinErr(t, "management", err, fault.Unauthenticated)
	}
	for i := range 3 {
		id, resp := f.loginChallenge(t, ph, b.ID, loginRequest)
		_, err := f.svc.AuthenticateLogin(ctx, id, resp, otherPIN, clientIP, loginRequest)
		if i < 2 {
			if pe := pinErr(t, "login", err, fault.Unauthenticated); pe.Remaining != 2-i {
				t.Fatalf("remaining %d, want %d", pe.Remaining, 2-i)
			}
			continue
		}
		pinErr(t, "fifth", err, fault.Locked)
	}
	if x := f.w.binding(b.ID); x.Status != device.Blocked || !x.PIN.Blocked {
		t.Fatalf("binding after five wrong PINs: %+v", x)
	}
	_, _, err := f.svc.BeginLogin(ctx, b.ID, loginRequest)
	pinErr(t, "login after the lockout", err, fault.Locked)
	// The PIN reset still gets its challenge and unblocks.
	id, resp := f.challenge(t, ph, b.ID)
	if err := f.svc.ResetPIN(ctx, id, resp, userPassword, thirdPIN, clientIP); err != nil {
		t.Fatal(err)
	}
	id, resp = f.loginChallenge(t, ph, b.ID, loginRequest)
	if _, err := f.svc.AuthenticateLogin(ctx, id, resp, thirdPIN, clientIP, loginRequest); err != nil {
		t.Fatalf("login after the reset: %v", err)
	}
}

// TestLoginOfEIDProofedAccount: the proofing level is the account's.
func TestLoginOfEIDProofedAccount(t *testing.T) {
	f := setup(t)
	ph, b := f.enrolled(t, anna, "Phone")
	// The member proves their identity again with the eID card.
	a := f.w.account(b.AccountID)
	now := f.w.clock.Now()
	sess := enrollment.Session{ID: grant.NewID(), TokenHash: grant.Hash(grant.NewSecret()), KVNR: a.KVNR,
		Method: proof.EID, CreatedAt: now, ExpiresAt: now.Add(enrollment.TTL)}
	eid := proof.Proof{Method: proof.EID, Level: loa.High, KVNR: a.KVNR, Time: now}
	if stored, err := f.w.StartEnrollment(ctx, sess, a, eid); err != nil || stored.Proofing != loa.High {
		t.Fatalf("StartEnrollment with the eID: %+v, %v", stored, err)
	}
	id, resp := f.loginChallenge(t, ph, b.ID, loginRequest)
	got, err := f.svc.AuthenticateLogin(ctx, id, resp, goodPIN, clientIP, loginRequest)
	if err != nil {
		t.Fatal(err)
	}
	if got.Proofing != loa.High {
		t.Fatalf("proofing %v, want high", got.Proofing)
	}
}
