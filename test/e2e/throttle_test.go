package e2e

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/throttle"
)

// TestPasswordGuessingAcrossReplicas: wrong passwords spread over two
// replicas on one database count as one series; after the free ones, the
// right password is refused on either replica with 429, Retry-After and
// the wait in the member's language, and accepted once the delay is over.
func TestPasswordGuessingAcrossReplicas(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		st := eng.storage(t)
		a := w.start(t, st)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		b := w.serve(t, ln, a.issuer, st)
		rp := a.rp(t, w.web, nil)
		replicas := []*instance{a, b}

		// attempt opens a login page on A and posts pw to replica r.
		attempt := func(r *instance, pw, lang string, at attempt) result {
			t.Helper()
			br := newBrowser(t)
			form := loginForm(t, br.get(t, rp.authURL(at)))
			form.Set("kvnr", memberKVNR.String())
			form.Set("password", pw)
			req, err := http.NewRequest(http.MethodPost, r.base+"/login", strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept-Language", lang)
			return br.do(t, req)
		}
		for i := range throttle.DefaultPolicy.Free + 1 {
			if r := attempt(replicas[i%2], "falsch-falsch-falsch", "de", newAttempt("openid")); r.status != http.StatusUnauthorized {
				t.Fatalf("wrong password %d: status %d", i+1, r.status)
			}
		}
		for _, tc := range []struct {
			r          *instance
			lang, text string
		}{
			{b, "de", "Zu viele Fehlversuche. Bitte warten Sie 1 Sekunde und versuchen Sie es dann erneut."},
			{a, "en", "Too many failed attempts. Please wait 1 second and then try again."},
		} {
			r := attempt(tc.r, memberPassword, tc.lang, newAttempt("openid"))
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" || r.header.Get("Location") != "" ||
				!strings.Contains(string(r.body), tc.text) {
				t.Fatalf("the right password during the delay (%s): status %d, Retry-After %q:\n%s",
					tc.lang, r.status, r.header.Get("Retry-After"), r.body)
			}
		}
		w.clock.Advance(time.Second)
		at := newAttempt("openid")
		rp.checkCallback(t, callback(t, attempt(b, memberPassword, "de", at)), at)
	})
}
