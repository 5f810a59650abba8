package authz_test

import (
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/member"
)

// endAnna records that Anna's insurance ended ago (as the member import
// or a sync would).
func (e *env) endAnna(ago time.Duration) {
	e.t.Helper()
	m, err := e.st.MemberByKVNR(e.ctx, annaKVNR)
	if err != nil {
		e.t.Fatal(err)
	}
	m.InsuredUntil = e.clock.Now().Add(-ago).Truncate(24 * time.Hour)
	if err := e.st.UpsertMember(e.ctx, m); err != nil {
		e.t.Fatal(err)
	}
}

func wantEnded(t *testing.T, what string, err error) {
	t.Helper()
	code, _ := fault.CodeOf(err)
	if err == nil || fault.KindOf(err) != fault.Forbidden || code != member.CodeEnded {
		t.Fatalf("%s: %v (code %q), want Forbidden with %s", what, err, code, member.CodeEnded)
	}
	if _, toClient := fault.RedirectOf(err); toClient {
		t.Fatalf("%s: the refusal goes to the client; the member must be told by Pforte", what)
	}
}

// A member whose insurance ended more than the grace period ago gets no
// login and no refreshed token; within the grace period nothing changes.
func TestMembershipEnd(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ago     time.Duration
		refused bool
	}{
		{"ended yesterday", 24 * time.Hour, false},
		{"ended 31 days ago", 31 * 24 * time.Hour, false},
		{"ended 33 days ago", 33 * 24 * time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			first := e.webTokens()
			e.endAnna(tc.ago)

			_, err := e.svc.Refresh(e.ctx, e.client("web"), first.RefreshToken, "", noPoP)
			if tc.refused {
				wantEnded(t, "Refresh", err)
			} else if err != nil {
				t.Fatalf("Refresh within the grace period: %v", err)
			}

			req, _ := request("web", webRedirect, "openid")
			r, err := e.svc.Authorize(e.ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.svc.CompleteLogin(e.ctx, r.ID, e.confirmedLogin())
			if tc.refused {
				wantEnded(t, "CompleteLogin", err)
				wantEnded(t, "MemberMayLogIn", e.svc.MemberMayLogIn(e.ctx, annaID))
			} else if err != nil {
				t.Fatalf("CompleteLogin within the grace period: %v", err)
			}
		})
	}
}

// A code issued before the grace period ran out is not exchanged after.
func TestMembershipEndRefusesCodeExchange(t *testing.T) {
	e := newEnv(t)
	f := e.codeFor("web", webRedirect, "openid")
	e.endAnna(40 * 24 * time.Hour)
	_, err := e.exchange(f)
	wantEnded(t, "ExchangeCode", err)
}

// The grace period is configured with the registration's (one rule).
func TestMembershipGraceConfigured(t *testing.T) {
	zero := member.Eligibility{}
	e := newEnvWith(t, func(c *authz.Config) { c.Membership = &zero })
	e.webTokens()
	e.endAnna(24 * time.Hour)
	wantEnded(t, "MemberMayLogIn with no grace", e.svc.MemberMayLogIn(e.ctx, annaID))
	bad := member.Eligibility{Grace: -time.Hour}
	if err := (authz.Config{Membership: &bad}).Validate(); err == nil {
		t.Fatal("a negative grace was accepted")
	}
}
