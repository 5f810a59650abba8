package authz_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/proof"
)

// boundDevice stores an active device binding id of Anna's, made in an
// enrollment session of its own, as core/binding makes one.
func (e *env) boundDevice(t *testing.T, id string) {
	t.Helper()
	now := e.clock.Now()
	sess := enrollment.Session{ID: "enr-" + id, TokenHash: grant.Hash(grant.NewSecret()), KVNR: annaKVNR,
		Method: proof.Letter, CreatedAt: now, ExpiresAt: now.Add(enrollment.TTL)}
	letter := proof.Proof{Method: proof.Letter, Level: loa.Substantial, KVNR: annaKVNR, Time: now}
	a, err := e.st.StartEnrollment(e.ctx, sess, account.Account{ID: annaID, KVNR: annaKVNR}, letter)
	if err != nil || a.ID != annaID {
		t.Fatalf("StartEnrollment: %+v, %v", a, err)
	}
	b := device.Binding{ID: id, AccountID: annaID, EnrollmentID: sess.ID, Name: "Phone", Platform: device.Android,
		CredentialID: []byte("cred-" + id), PublicKey: []byte("key-" + id), Status: device.Active,
		CreatedAt: now.Add(-time.Minute)}
	if err := e.st.BindDevice(e.ctx, b, now); err != nil {
		t.Fatalf("BindDevice: %v", err)
	}
}

// The device binding a login was made with travels from the
// authentication through the code into the token family, so that revoking
// the binding can revoke what the login issued.
func TestBindingIDReachesTheFamily(t *testing.T) {
	for _, tt := range []struct{ name, binding string }{
		{"device login", "bind-1"},
		{"password login", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.binding != "" {
				e.boundDevice(t, tt.binding)
			}
			req, v := request("web", webRedirect, "openid")
			r, err := e.svc.Authorize(e.ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			a := loa.Authentication{Subject: annaID, Proofing: loa.Substantial, Time: e.clock.Now(),
				AMR: []string{loa.AMRHardware, loa.AMRPIN}, BindingID: tt.binding}
			if tt.binding == "" {
				a.AMR = []string{loa.AMRPassword}
			}
			to, err := e.svc.CompleteLogin(e.ctx, r.ID, a)
			if err != nil {
				t.Fatalf("CompleteLogin: %v", err)
			}
			u, err := url.Parse(to)
			if err != nil {
				t.Fatal(err)
			}
			code := u.Query().Get("code")
			c, ok := e.st.codes()[hash(code)]
			if !ok || c.Request.Login == nil {
				t.Fatalf("no code with a login stored")
			}
			if c.Request.Login.BindingID != tt.binding {
				t.Errorf("login BindingID = %q, want %q", c.Request.Login.BindingID, tt.binding)
			}
			if _, err := e.svc.ExchangeCode(e.ctx, e.client("web"), code, webRedirect, v, noPoP); err != nil {
				t.Fatalf("ExchangeCode: %v", err)
			}
			if n := len(e.st.families()); n != 1 {
				t.Fatalf("%d families, want 1", n)
			}
			for _, f := range e.st.families() {
				if f.BindingID != tt.binding {
					t.Errorf("family BindingID = %q, want %q", f.BindingID, tt.binding)
				}
			}
		})
	}
}
