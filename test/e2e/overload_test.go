package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte/server"
)

// TestPasswordLoginShedsLoad: password checks wait for a hashing slot at
// most login.hash_max_wait. With one slot and a wait of a millisecond, a
// burst of logins posted at once is partly refused with 503, Retry-After
// and a text asking the member to try again — the others log in — and a
// refused member logs in on the next attempt.
func TestPasswordLoginShedsLoad(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteStorage(t), func(o *server.Options) {
		o.HashConcurrency, o.HashMaxWait = 1, time.Millisecond
	})
	rp := in.rp(t, w.web, httpClient)

	const n = 16
	browsers, pages := make([]*browser, n), make([]result, n)
	for i := range n {
		browsers[i] = newBrowser(t)
		pages[i] = browsers[i].get(t, rp.authURL(newAttempt("openid")))
	}
	answers := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			answers[i] = browsers[i].submitLogin(t, in.base, pages[i], memberKVNR.String(), memberPassword)
		})
	}
	close(start)
	wg.Wait()

	var ok, busy []int
	for i, a := range answers {
		switch {
		case a.status == http.StatusFound && strings.Contains(a.header.Get("Location"), "code="):
			ok = append(ok, i)
		case a.status == http.StatusServiceUnavailable:
			if a.header.Get("Retry-After") != "5" || !strings.Contains(string(a.body), "versuchen Sie es in einigen Sekunden noch einmal") {
				t.Errorf("503 without Retry-After or the member's text: %v\n%s", a.header, a.body)
			}
			busy = append(busy, i)
		default:
			t.Errorf("login %d: status %d\n%s", i, a.status, a.body)
		}
	}
	if len(ok) == 0 || len(busy) == 0 {
		t.Fatalf("%d logins succeeded and %d were refused as busy; want some of each", len(ok), len(busy))
	}
	if !strings.Contains(in.logs.String(), "every password hashing slot is busy") {
		t.Error("the refusals are not in the log")
	}

	// The refused member tries again and gets in.
	i := busy[0]
	page := browsers[i].get(t, rp.authURL(newAttempt("openid")))
	cb := callback(t, browsers[i].submitLogin(t, in.base, page, memberKVNR.String(), memberPassword))
	if cb.Query().Get("code") == "" {
		t.Errorf("the second attempt: %s", cb)
	}
}
