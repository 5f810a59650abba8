package authz_test

import (
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
)

const supportSecret = "support-secret-0123456789abcdefghijklmnopqrstu"

// addSupport registers the support tool's client: a service client with
// the admin scope.
func (e *env) addSupport(id string, scopes ...string) client.Client {
	e.t.Helper()
	c := client.Client{
		ID: id, Name: "Support", Kind: client.Service, AuthMethod: client.AuthSecretBasic,
		SecretHash: e.secrets.Hash(supportSecret), GrantTypes: []string{client.GrantClientCredentials}, Scopes: scopes,
	}
	if err := e.st.CreateClient(e.ctx, c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func TestAdminToken(t *testing.T) {
	tests := []struct {
		name string
		tok  func(e *env) string
		kind fault.Kind // 0: accepted
	}{
		{"support client with the admin scope", func(e *env) string {
			r, err := e.svc.ClientCredentials(e.ctx, e.addSupport("support", "admin"), "admin", noPoP)
			mustOK(t, err)
			return r.AccessToken
		}, 0},
		{"admin scope not requested", func(e *env) string {
			r, err := e.svc.ClientCredentials(e.ctx, e.addSupport("support", "admin", "audit.read"), "audit.read", noPoP)
			mustOK(t, err)
			return r.AccessToken
		}, fault.Forbidden},
		{"client without the admin scope asks for it", func(e *env) string {
			r, err := e.svc.ClientCredentials(e.ctx, e.client("svc"), "admin", noPoP)
			mustOK(t, err)
			return r.AccessToken
		}, fault.Forbidden},
		{"admin scope taken from the client since", func(e *env) string {
			c := e.addSupport("support", "admin")
			r, err := e.svc.ClientCredentials(e.ctx, c, "admin", noPoP)
			mustOK(t, err)
			c.Scopes = []string{"audit.read"}
			mustOK(t, e.st.PutClient(e.ctx, c))
			return r.AccessToken
		}, fault.Forbidden},
		{"a member's token", func(e *env) string { return e.webTokens().AccessToken }, fault.Forbidden},
		{"expired", func(e *env) string {
			r, err := e.svc.ClientCredentials(e.ctx, e.addSupport("support", "admin"), "admin", noPoP)
			mustOK(t, err)
			e.clock.Advance(time.Hour)
			return r.AccessToken
		}, fault.Unauthenticated},
		{"revoked", func(e *env) string {
			c := e.addSupport("support", "admin")
			r, err := e.svc.ClientCredentials(e.ctx, c, "admin", noPoP)
			mustOK(t, err)
			mustOK(t, e.svc.Revoke(e.ctx, c, r.AccessToken, "access_token"))
			return r.AccessToken
		}, fault.Unauthenticated},
		{"client removed", func(e *env) string {
			r, err := e.svc.ClientCredentials(e.ctx, e.addSupport("support", "admin"), "admin", noPoP)
			mustOK(t, err)
			mustOK(t, e.st.DeleteClient(e.ctx, "support"))
			return r.AccessToken
		}, fault.Unauthenticated},
		{"tampered", func(e *env) string {
			r, err := e.svc.ClientCredentials(e.ctx, e.addSupport("support", "admin"), "admin", noPoP)
			mustOK(t, err)
			return r.AccessToken[:len(r.AccessToken)-2] + "xx"
		}, fault.Unauthenticated},
		{"empty", func(*env) string { return "" }, fault.Unauthenticated},
		{"not a JWT", func(*env) string { return "opaque-token" }, fault.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			caller, err := e.svc.AdminToken(e.ctx, tt.tok(e))
			if tt.kind == 0 {
				if err != nil || caller.ClientID != "support" || caller.JTI == "" {
					t.Fatalf("AdminToken = %+v, %v; want the support client", caller, err)
				}
				return
			}
			wantKind(t, err, tt.kind)
			if caller != (authz.AdminCaller{}) {
				t.Fatalf("a refused token returned caller %+v", caller)
			}
		})
	}
}

// During a rollover both secrets authenticate the client; after its end,
// or after it is finished early, only the new one does.
func TestAuthenticateClientRollover(t *testing.T) {
	const newSecret = "svc-new-secret-0123456789abcdefghijklmnopqrs"
	basic := client.AuthSecretBasic
	for _, tt := range []struct {
		name               string
		after              func(e *env)
		oldWorks, newWorks bool
	}{
		{"during the rollover", func(*env) {}, true, true},
		{"at its end", func(e *env) { e.clock.Advance(time.Hour) }, false, true},
		{"finished early", func(e *env) {
			_, err := e.st.UpdateClient(e.ctx, "svc", func(c *client.Client) error {
				*c, _ = c.FinishRollover()
				return nil
			})
			mustOK(t, err)
		}, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			_, err := e.st.UpdateClient(e.ctx, "svc", func(c *client.Client) error {
				var err error
				*c, err = c.RotateSecret(e.secrets.Hash(newSecret), e.clock.Now().Add(time.Hour), e.clock.Now())
				return err
			})
			mustOK(t, err)
			tt.after(e)
			for _, s := range []struct {
				secret string
				works  bool
			}{{svcSecret, tt.oldWorks}, {newSecret, tt.newWorks}, {webSecret, false}} {
				_, err := e.svc.AuthenticateClient(e.ctx, authz.Credentials{ClientID: "svc", Secret: s.secret, Method: basic})
				if s.works && err != nil {
					t.Errorf("secret %.8s… refused: %v", s.secret, err)
				}
				if !s.works {
					wantKind(t, err, fault.Unauthenticated)
				}
			}
		})
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
