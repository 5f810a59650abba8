package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/member"
)

// setInsuredUntil records in p's member directory that the test member's
// insurance ends (or ended) on until; zero: open-ended again, as the
// insurer's next import says.
func setInsuredUntil(t *testing.T, p *pforteServer, until time.Time) {
	t.Helper()
	m, err := p.srv.Store().MemberByKVNR(t.Context(), kvnr.MustParse(testKVNR))
	if err != nil {
		t.Fatal(err)
	}
	m.InsuredUntil = until
	if err := p.srv.Store().UpsertMember(t.Context(), m); err != nil {
		t.Fatal(err)
	}
}

// TestLoginAfterTheMembershipEnded: within the grace period after the end
// of the insurance the member still logs in; after it the app login, the
// refresh and the browser login are refused with a message that says
// why; imported again, the member logs in as before.
func TestLoginAfterTheMembershipEnded(t *testing.T) {
	p := startServer(t)
	stateFile := enrolled(t, p)
	today := p.clock.Now().UTC().Truncate(24 * time.Hour)

	setInsuredUntil(t, p, today.Add(-member.DefaultEligibility.Grace))
	wantExit(t, appAt(t, p.clock.Now, stateFile, "", nil, "login", "--pin", testPIN), 0, "login within the grace period")

	setInsuredUntil(t, p, today.Add(-member.DefaultEligibility.Grace-24*time.Hour))
	r := appIn(t, "de_DE.UTF-8", stateFile, "", nil, "token", "--refresh")
	wantStderr(t, r, 1, "refresh after the grace period", "invalid_grant")
	r = appIn(t, "de_DE.UTF-8", stateFile, "", nil, "login", "--pin", testPIN)
	wantStderr(t, r, 1, "app login after the grace period", "Ihre Mitgliedschaft bei uns ist beendet")
	r = appIn(t, "en_US.UTF-8", stateFile, "", nil, "login", "--pin", testPIN)
	wantStderr(t, r, 1, "app login after the grace period (English)", "Your membership with us has ended")

	// The browser login stops after the password, with the same words.
	b := startWebLoginRefused(t, p)
	if !strings.Contains(b, "Ihre Mitgliedschaft bei uns ist beendet") {
		t.Fatalf("the browser login after the grace period:\n%s", b)
	}

	// The insurer's file has the member again: the ended mark goes.
	setInsuredUntil(t, p, time.Time{})
	wantExit(t, appAt(t, p.clock.Now, stateFile, "", nil, "login", "--pin", testPIN), 0, "login after the member resumed")
}

// startWebLoginRefused is startWebLogin for a login that the password
// step refuses: it returns the login page, shown again with the refusal.
func startWebLoginRefused(t *testing.T, p *pforteServer) string {
	t.Helper()
	b := newTestBrowser(t, p)
	q := "client_id=" + webClient.ID + "&response_type=code&scope=openid&redirect_uri=" + webClient.RedirectURIs[0] +
		"&state=st-1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
	f := form(b.get(p.issuer + "/authorize?" + q))
	f.Set("kvnr", testKVNR)
	f.Set("password", testPassword)
	return b.post(p.issuer+"/login", f, http.StatusBadRequest)
}
