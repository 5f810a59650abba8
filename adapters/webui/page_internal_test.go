package webui

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/client"
)

// TestClientNameInTheMembersLanguage: the login page names the client once,
// in the page's language when the client has a name in it; a German name on
// an English page is marked lang="de" (and nothing is marked when the
// languages agree).
func TestClientNameInTheMembersLanguage(t *testing.T) {
	both := client.Client{ID: "forms", Name: "Online-Formulare", NameEN: "Online forms"}
	german := client.Client{ID: "portal", Name: "Partnerportal"}
	for _, tc := range []struct {
		c          client.Client
		accept     string
		want, mark string
	}{
		{both, "", "Online-Formulare", ""},
		{both, "de-DE", "Online-Formulare", ""},
		{both, "en-GB,en;q=0.9", "Online forms", ""},
		{german, "en", "Partnerportal", ` lang="de"`},
		{german, "de", "Partnerportal", ""},
		{client.Client{ID: "no-name"}, "en", "no-name", ` lang="de"`},
	} {
		r := httptest.NewRequest("GET", "/login", nil)
		r.Header.Set("Accept-Language", tc.accept)
		var v view
		v.setClient(tc.c, r)
		p := catalog.Match(tc.accept)
		v.T, v.Lang = p.Text, p.Lang()
		var b bytes.Buffer
		if err := templates.ExecuteTemplate(&b, "login.html", v); err != nil {
			t.Fatal(err)
		}
		want := "<strong" + tc.mark + ">" + tc.want + "</strong>"
		if got := b.String(); !strings.Contains(got, want) || strings.Count(got, tc.want) != 1 {
			t.Errorf("%s for %q: the page does not name it once as %s:\n%s", tc.c.ID, tc.accept, want, got)
		}
	}
}

// TestLevelPageOffersTheStepUp: with the eID step-up offered, the page for
// an unreachable level tells a letter-proofed member how to reach high in
// the app; otherwise it explains the levels only.
func TestLevelPageOffersTheStepUp(t *testing.T) {
	for _, tc := range []struct {
		stepUp    bool
		accept    string
		want, not string
	}{
		{true, "de", "Identität mit Ausweis bestätigen", "noch nicht"},
		{true, "en", "Confirm identity with ID card", "Identität"},
		{false, "de", "Passwortbrief bestätigt", "Identität mit Ausweis bestätigen"},
	} {
		p := catalog.Match(tc.accept)
		v := view{Message: "…", StepUp: tc.stepUp, T: p.Text, Lang: p.Lang()}
		var b bytes.Buffer
		if err := templates.ExecuteTemplate(&b, "level.html", v); err != nil {
			t.Fatal(err)
		}
		page := b.String()
		if !strings.Contains(page, tc.want) || strings.Contains(page, tc.not) || strings.Contains(page, `id="stepup"`) != tc.stepUp {
			t.Errorf("step-up %v, %s: page lacks %q or has %q:\n%s", tc.stepUp, tc.accept, tc.want, tc.not, page)
		}
	}
}
