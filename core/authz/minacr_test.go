package authz_test

import (
	"errors"
	"net/url"
	"slices"
	"testing"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/ports/token"
)

// A client that states no minimum accepts substantial (client.DefaultMinACR):
// a password login never reaches it, not even when the request asks for
// low; a login confirmed in the app does.
func TestMinACRNeverLowerThanTheClients(t *testing.T) {
	eidas := loa.EIDAS
	for _, acr := range []string{"", eidas.Low, eidas.Low + " " + eidas.Substantial} {
		t.Run("acr_values "+acr, func(t *testing.T) {
			e := newEnv(t)
			req, _ := request("strict", strictRedirect, "openid")
			req.ACRValues = acr
			r, err := e.svc.Authorize(e.ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			to, err := e.svc.CompleteLogin(e.ctx, r.ID, e.passwordLogin())
			if to != "" || !errors.Is(err, fault.Forbidden) {
				t.Fatalf("password login: %q, %v; want Forbidden and no code", to, err)
			}
			if back, ok := fault.RedirectOf(err); !ok || back.URI != strictRedirect {
				t.Fatalf("the refusal goes to %+v, want the client's redirect URI", back)
			}
			if got := e.svc.RequiredLevel(r, e.client("strict")); got != loa.Substantial {
				t.Fatalf("RequiredLevel = %v, want substantial", got)
			}
			to, err = e.svc.CompleteLogin(e.ctx, r.ID, e.confirmedLogin())
			if err != nil {
				t.Fatalf("confirmed login: %v", err)
			}
			u, _ := url.Parse(to)
			if u.Query().Get("code") == "" {
				t.Fatalf("confirmed login: no code in %s", to)
			}
		})
	}
}

// acr_values raises a client's stated minimum, never lowers it.
func TestACRValuesRaiseTheMinimum(t *testing.T) {
	e := newEnv(t)
	req, _ := request("web", webRedirect, "openid")
	req.ACRValues = loa.EIDAS.Substantial
	r, err := e.svc.Authorize(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.svc.RequiredLevel(r, e.client("web")); got != loa.Substantial {
		t.Fatalf("RequiredLevel of a low client asked for substantial = %v", got)
	}
	if _, err := e.svc.CompleteLogin(e.ctx, r.ID, e.passwordLogin()); !errors.Is(err, fault.Forbidden) {
		t.Fatalf("password login for acr substantial: %v, want Forbidden", err)
	}
}

// kvnr, address and birthdate are released only at substantial or above,
// whatever the client may ask for: a password login of a client that
// accepts low gets a token without them.
func TestPersonalScopesNeedSubstantial(t *testing.T) {
	e := newEnv(t)
	resp := e.tokens("web", webRedirect, "openid profile kvnr address birthdate")
	for _, sc := range []string{"kvnr", "address", "birthdate"} {
		if slices.Contains(resp.Scopes, sc) {
			t.Errorf("a low token has scope %s (%q)", sc, resp.Scopes)
		}
	}
	if !slices.Contains(resp.Scopes, "profile") {
		t.Errorf("scope %q lost profile", resp.Scopes)
	}
	cl, err := e.svc.UserInfo(e.ctx, bearer(resp.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kvnr", "urn:telematik:claims:id", "address", "birthdate"} {
		if _, ok := cl[k]; ok {
			t.Errorf("userinfo of a low token releases %s: %v", k, cl)
		}
	}
	if cl["name"] != "Anna Schmidt" {
		t.Errorf("userinfo of a low token: name %v", cl["name"])
	}
	id := e.idClaimsMap(resp.IDToken)
	for _, k := range []string{"kvnr", "address", "birthdate"} {
		if _, ok := id[k]; ok {
			t.Errorf("the ID token of a low login carries %s", k)
		}
	}

	resp = e.confirmedTokens("web", webRedirect, "openid kvnr address birthdate")
	cl, err = e.svc.UserInfo(e.ctx, bearer(resp.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kvnr", "address", "birthdate"} {
		if _, ok := cl[k]; !ok {
			t.Errorf("userinfo of a substantial token lacks %s: %v", k, cl)
		}
	}
}

// idClaimsMap is every claim of ID token raw.
func (e *env) idClaimsMap(raw string) map[string]any {
	e.t.Helper()
	cl := map[string]any{}
	if err := e.jws.Verify(e.ctx, raw, token.TypeID, &cl); err != nil {
		e.t.Fatalf("ID token does not verify: %v", err)
	}
	return cl
}
