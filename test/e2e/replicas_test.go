package e2e

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/backchannel"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/throttle"
)

// Three replicas on one PostgreSQL database, as production runs them
// behind a load balancer: one issuer, three servers, each with its own
// connection pool, caches and key ring, nothing shared but the database
// (and the test's clock). Every limit and every single-use state is
// exercised with requests spread round-robin over the three and sent at
// once, and must hold exactly once for the replica set: what one replica
// counted, the next one sees; what one replica used, no other can use
// again.

// replicas starts n servers of w on st behind the issuer of the first.
func (w *world) replicas(t *testing.T, n int, opts ...startOption) []*instance {
	t.Helper()
	st := postgresStorage(t)
	rs := []*instance{w.start(t, st, opts...)}
	for len(rs) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, w.serve(t, ln, rs[0].issuer, st, opts...))
	}
	return rs
}

// at is u, an address under the issuer, sent to replica r instead (what a
// load balancer decides).
func at(r *instance, u string) string {
	if !strings.HasPrefix(u, r.issuer) {
		panic("not an address of the issuer: " + u)
	}
	return r.base + strings.TrimPrefix(u, r.issuer)
}

// pinnedTo is an HTTP client whose requests to the issuer all go to
// replica r: a client (the app, a relying party) that a load balancer
// happened to send to r.
func pinnedTo(r *instance) *http.Client {
	issuer := mustHost(r.issuer)
	to := mustHost(r.base)
	return &http.Client{
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.URL.Host == issuer {
				req = req.Clone(req.Context())
				req.URL.Host, req.Host = to, to
			}
			return http.DefaultTransport.RoundTrip(req)
		}),
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func mustHost(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u.Host
}

// burstRequest is one request of a burst: built before the burst, sent
// by the client given (the member's browser) or a plain one.
type burstRequest struct {
	req    *http.Request
	client *http.Client
}

// burst sends all requests at once and returns their answers in order.
func burst(t *testing.T, reqs []burstRequest) []result {
	t.Helper()
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]result, len(reqs))
		errs    = make([]error, len(reqs))
	)
	// Its own connections, closed afterwards: a connection dialled for the
	// burst but never used would hold up the servers' graceful shutdown.
	tr := &http.Transport{MaxIdleConnsPerHost: len(reqs)}
	defer tr.CloseIdleConnections()
	plain := &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i, br := range reqs {
		c := br.client
		if c == nil {
			c = plain
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Not do: t.Fatal belongs to the test's goroutine.
			resp, err := c.Do(br.req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			results[i], errs[i] = result{status: resp.StatusCode, header: resp.Header, body: b}, err
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d of the burst (%s %s): %v", i, reqs[i].req.Method, reqs[i].req.URL, err)
		}
	}
	return results
}

func newRequest(t *testing.T, method, u, contentType string, body []byte, header map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// statuses counts the answers by status.
func statuses(rs []result) map[int]int {
	out := map[int]int{}
	for _, r := range rs {
		out[r.status]++
	}
	return out
}

// enrollAcross enrolls m with PIN p, every step on the next replica: the
// letter ordered on one, decided and rendered by another's worker,
// activated, password, device and PIN each on the next.
func (w *world) enrollAcross(t *testing.T, rs []*instance, m member.Member, p string) *phone {
	t.Helper()
	next := 0
	r := func() *instance { next++; return rs[(next-1)%len(rs)] }
	r().importMembers(t, m)
	accepted(t, r().requestLetter(t, m.KVNR.String(), m.BirthDate, nil))
	worker := r()
	worker.wantWork(t, 1, 1)
	lp := w.readLetter(t, worker, m.KVNR)
	token := enrollmentToken(t, r().activate(t, m.KVNR.String(), lp.initialPassword, lp.code))
	r().passwordSet(t, token)
	ph := r().bindPhone(t, token, "Telefon von "+m.GivenName)
	wantActive(t, r().setPIN(t, token, p))
	ph.pin = p
	return ph
}

func TestThreeReplicasOnPostgreSQL(t *testing.T) {
	w := newWorld(t)
	w.web.PostLogoutRedirectURIs = []string{webBye}
	var rs []*instance
	// The web form takes back-channel logout tokens at an endpoint of the
	// test's, which verifies each against the replicas' keys.
	logoutRP := newLogoutRP(t, w.web.ID, func() *instance { return rs[0] })
	w.web.BackchannelLogoutURI = logoutRP.uri()
	// The PIN policy without waits, so that a burst of wrong PINs reaches
	// the block at once; X-Forwarded-For from the loopback proxy is
	// believed, so each case counts against client addresses of its own.
	// Every replica runs the back-channel logout worker, as pforte serve
	// does, often and in small batches, so that they compete for the jobs.
	pinPolicy := pin.Policy{MaxFailures: 5, DelayFrom: 3}
	rs = w.replicas(t, 3, trustLoopback, func(o *server.Options) {
		o.Binding.PIN = pinPolicy
		o.Logout, o.LogoutInterval = backchannel.Config{Batch: 3}, 50*time.Millisecond
	})
	rr := func(i int) *instance { return rs[i%len(rs)] }

	t.Run("password throttle", func(t *testing.T) {
		rp := rs[0].rp(t, w.web, nil)
		// post builds the login of one browser: the page opened on one
		// replica, the form posted to the next.
		post := func(i int, pw string) burstRequest {
			br := newBrowser(t)
			form := loginForm(t, br.get(t, at(rr(i), rp.authURL(newAttempt("openid")))))
			form.Set("kvnr", memberKVNR.String())
			form.Set("password", pw)
			return burstRequest{client: br.c, req: newRequest(t, http.MethodPost, rr(i+1).base+"/login",
				"application/x-www-form-urlencoded", []byte(form.Encode()), map[string]string{"Accept-Language": "en"})}
		}
		const n = 15
		reqs := make([]burstRequest, n)
		for i := range n {
			reqs[i] = post(i, "falsch-falsch-falsch")
		}
		got := burst(t, reqs)
		// Counted before it is checked: the free failures and the one that
		// starts the delay are evaluated, whichever replica they reached;
		// every other guess of the burst waits.
		free := throttle.DefaultPolicy.Free
		if s := statuses(got); s[http.StatusUnauthorized] != free+1 || s[http.StatusTooManyRequests] != n-free-1 || len(s) != 2 {
			t.Fatalf("answers %v; want %d × 401 and %d × 429", s, free+1, n-free-1)
		}
		// During the delay the right password is refused on every replica.
		for i := range rs {
			r := burst(t, []burstRequest{post(i, memberPassword)})[0]
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" {
				t.Fatalf("the right password during the delay on replica %d: status %d, Retry-After %q", i+1, r.status, r.header.Get("Retry-After"))
			}
		}
		w.clock.Advance(time.Second)
		a := newAttempt("openid")
		br := newBrowser(t)
		page := br.get(t, at(rs[1], rp.authURL(a)))
		rp.checkCallback(t, callback(t, br.submitLogin(t, rs[2].base, page, memberKVNR.String(), memberPassword)), a)
	})

	t.Run("letter requests per client address", func(t *testing.T) {
		limit := registration.DefaultPerIP.Max
		n := 3 * limit
		reqs := make([]burstRequest, n)
		for i := range n {
			body, _ := json.Marshal(map[string]string{"kvnr": randomKVNR().String(), "birth_date": "1970-01-01", "method": "letter"})
			reqs[i] = burstRequest{req: newRequest(t, http.MethodPost, rr(i).base+"/app/v1/registrations", "application/json", body,
				map[string]string{"X-Forwarded-For": "198.51.100.7"})}
		}
		got := burst(t, reqs)
		if s := statuses(got); s[http.StatusAccepted] != limit || s[http.StatusTooManyRequests] != n-limit || len(s) != 2 {
			t.Fatalf("answers %v; want %d × 202 and %d × 429", s, limit, n-limit)
		}
		for _, r := range got {
			if r.status == http.StatusTooManyRequests {
				wantRetryAfter(t, r, registration.DefaultPerIP.Window)
			}
		}
		// Exactly the accepted ones are queued, whichever worker decides.
		rs[2].wantWork(t, limit, 0)
	})

	t.Run("activations per client address", func(t *testing.T) {
		limit := registration.DefaultActivationsPerIP.Max
		n := 2 * limit
		reqs := make([]burstRequest, n)
		for i := range n {
			body, _ := json.Marshal(map[string]string{
				"kvnr": randomKVNR().String(), "initial_password": "ABCD EFGH JKLM", "activation_code": "ABCDEFGHJKLMNPQRSTUVWXYZ23",
			})
			reqs[i] = burstRequest{req: newRequest(t, http.MethodPost, rr(i).base+"/app/v1/activations", "application/json", body,
				map[string]string{"X-Forwarded-For": "198.51.100.8"})}
		}
		got := burst(t, reqs)
		if s := statuses(got); s[http.StatusUnauthorized] != limit || s[http.StatusTooManyRequests] != n-limit || len(s) != 2 {
			t.Fatalf("answers %v; want %d × 401 and %d × 429", s, limit, n-limit)
		}
	})

	t.Run("PIN lockout through the app login", func(t *testing.T) {
		m := applicant("Harm", "Fokken", "1980-10-10", w.clock.Now())
		ph := w.enrollAcross(t, rs, m, "583920")
		// The key does not count signatures (many platform keys do not): the
		// proofs may arrive in any order without looking like a clone.
		ph.assert = []authenticator.Option{authenticator.Counter(0)}
		rp := rs[0].rp(t, w.app, nil)
		const n = 12
		reqs := make([]burstRequest, n)
		for i := range n {
			// Authorization request, challenge and answer each on another
			// replica; the answers with a wrong PIN go out at once.
			r := get(t, at(rr(i), rp.authURL(newAttempt(appLoginScopes...))), nil)
			loc, err := url.Parse(r.header.Get("Location"))
			if r.status != http.StatusFound || err != nil || loc.Query().Get("id") == "" {
				t.Fatalf("authorize: status %d, Location %q", r.status, r.header.Get("Location"))
			}
			id := loc.Query().Get("id")
			body, err := json.Marshal(rr(i+1).loginProof(t, ph, id, "750913"))
			if err != nil {
				t.Fatal(err)
			}
			reqs[i] = burstRequest{req: newRequest(t, http.MethodPost, rr(i+2).base+"/app/v1/logins/"+url.PathEscape(id), "application/json", body, nil)}
		}
		got := burst(t, reqs)
		var remaining []string
		for _, r := range got {
			switch r.status {
			case http.StatusUnauthorized:
				wantProblem(t, r, http.StatusUnauthorized, "unauthenticated")
				remaining = append(remaining, r.header.Get("Pforte-PIN-Attempts-Remaining"))
			case http.StatusLocked:
				wantProblem(t, r, http.StatusLocked, "locked")
			}
		}
		// Exactly MaxFailures guesses were compared: four answered "wrong"
		// with 4, 3, 2, 1 attempts left, the fifth blocked the binding, and
		// every other request found it blocked.
		slices.Sort(remaining)
		if s := statuses(got); s[http.StatusUnauthorized] != pinPolicy.MaxFailures-1 || s[http.StatusLocked] != n-pinPolicy.MaxFailures+1 ||
			len(s) != 2 || !slices.Equal(remaining, []string{"1", "2", "3", "4"}) {
			t.Fatalf("answers %v, attempts left %v; want 4 × 401 (4, 3, 2, 1 left) and %d × 423", s, remaining, n-4)
		}
		b := rs[1].stored(t, ph.binding)
		if b.PIN.Failures != pinPolicy.MaxFailures || !b.PIN.Blocked || b.Status != device.Blocked {
			t.Fatalf("stored: status %s, counter %+v; want blocked after exactly %d", b.Status, b.PIN, pinPolicy.MaxFailures)
		}
		kinds, _ := rs[2].auditKinds(t, rs[2].account(t, m).ID)
		if kinds[audit.PINFailed] != 4 || kinds[audit.PINLocked] != 1 {
			t.Errorf("audit: %d × pin.failed, %d × pin.locked; want 4 and 1", kinds[audit.PINFailed], kinds[audit.PINLocked])
		}
		// The right PIN is refused on every replica now.
		for i := range rs {
			a := newAttempt(appLoginScopes...)
			r := get(t, at(rs[i], rp.authURL(a)), nil)
			id := mustURL(t, r.header.Get("Location")).Query().Get("id")
			wantProblem(t, rs[i].loginChallenge(t, id, ph.binding), http.StatusLocked, "locked")
		}
	})

	t.Run("web login approval", func(t *testing.T) {
		m := applicant("Anke", "Janssen", "1975-04-04", w.clock.Now())
		ph := w.enrollAcross(t, rs, m, "296174")
		rp := rs[0].rp(t, w.web, nil)
		substantial := url.Values{"acr_values": {"http://eidas.europa.eu/LoA/substantial"}}

		// approve lets the app, at replica r, find the approval the page
		// shows and confirm it with the number, its key and the PIN.
		approve := func(r *instance, page result) {
			t.Helper()
			num, id := approvalNumber.FindSubmatch(page.body), approvalInput.FindSubmatch(page.body)
			if page.status != http.StatusOK || num == nil || id == nil {
				t.Fatalf("want the approval page, got %d:\n%s", page.status, page.body)
			}
			number, _ := strconv.Atoi(string(num[1]))
			app, err := appclient.Discover(t.Context(), appclient.Config{
				Issuer: r.issuer, ClientID: w.app.ID, RedirectURI: w.app.RedirectURIs[0], HTTP: pinnedTo(r), Now: r.clock.Now,
			})
			if err != nil {
				t.Fatal(err)
			}
			dev := ph.device(t, r)
			as, err := app.Approvals(t.Context(), dev)
			if err != nil {
				t.Fatalf("the app lists the approvals at replica %s: %v", r.base, err)
			}
			k := slices.IndexFunc(as, func(a appclient.Approval) bool { return a.ID == html.UnescapeString(string(id[1])) })
			if k < 0 || !slices.Contains(as[k].Choices[:], number) {
				t.Fatalf("the app does not list the browser's approval with number %d: %+v", number, as)
			}
			d, err := app.Approve(t.Context(), dev, as[k].ID, number, ph.pin)
			if err != nil || d.Status != "approved" {
				t.Fatalf("approve: %+v, %v", d, err)
			}
		}
		// startLogin runs the browser to the approval page on replica 1.
		startLogin := func(a attempt) (*browser, result) {
			b := newBrowser(t)
			page := rp.authorize(t, b, a, substantial)
			return b, b.submitLogin(t, rs[0].base, page, m.KVNR.String(), devicePassword)
		}
		// weiter is the browser's "Weiter" on the approval page, posted to r.
		weiter := func(b *browser, r *instance, page result) burstRequest {
			form := url.Values{}
			for _, f := range hiddenInput.FindAllStringSubmatch(string(page.body), -1) {
				form.Set(f[1], html.UnescapeString(f[2]))
			}
			return burstRequest{client: b.c, req: newRequest(t, http.MethodPost, r.base+"/login/approval",
				"application/x-www-form-urlencoded", []byte(form.Encode()), nil)}
		}

		// Started at replica 1, approved by the app at replica 2, finished
		// at replica 3.
		a := newAttempt("openid", "profile")
		b, page := startLogin(a)
		approve(rs[1], page)
		done := burst(t, []burstRequest{weiter(b, rs[2], page)})[0]
		tok := rp.exchange(t, rp.checkCallback(t, callback(t, done), a), a)
		var cl appIDClaims
		if err := tok.idToken.Claims(&cl); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(cl.AMR, "hwk") || !slices.Contains(cl.AMR, "pin") || !slices.Contains(cl.AMR, "pwd") {
			t.Fatalf("amr %v after the approval, want pwd hwk pin", cl.AMR)
		}

		// "Weiter" sent twice at once, to replicas 2 and 3: one finishes the
		// login, the other is refused and carries no code.
		a = newAttempt("openid", "profile")
		b, page = startLogin(a)
		approve(rs[2], page)
		race := burst(t, []burstRequest{weiter(b, rs[1], page), weiter(b, rs[2], page)})
		var codes []string
		for _, r := range race {
			switch {
			case r.status == http.StatusFound:
				codes = append(codes, rp.checkCallback(t, callback(t, r), a))
			case r.status < 400 || r.header.Get("Location") != "":
				t.Fatalf("the second use of the approval: status %d, Location %q", r.status, r.header.Get("Location"))
			}
		}
		if len(codes) != 1 {
			t.Fatalf("%d of two racing finishes of one approval gave a code, want exactly 1 (statuses %v)", len(codes), statuses(race))
		}
		rp.exchange(t, codes[0], a)
	})

	t.Run("single sign-on and logout", func(t *testing.T) {
		rp := rs[0].rp(t, w.web, nil)
		b := newBrowser(t)
		// Login at replica 1.
		first := rp.logIn(t, b, "openid", "offline_access")
		sid := sidOf(t, first)
		cookies := b.c.Jar.Cookies(mustURL(t, rs[0].base))
		w.clock.Advance(time.Minute)
		// The answer from the session at replica 2.
		a := newAttempt("openid", "offline_access")
		r := b.get(t, at(rs[1], rp.authURL(a)+"&prompt=none"))
		second := rp.exchange(t, rp.checkCallback(t, callback(t, r), a), a)
		if sidOf(t, second) != sid {
			t.Fatalf("replica 2 answered with sid %q, want the session's %q", sidOf(t, second), sid)
		}
		// Logout at replica 3.
		r = b.getNoFollow(t, rs[2].base+"/end_session?"+url.Values{
			"id_token_hint": {second.id}, "post_logout_redirect_uri": {webBye}, "state": {"s-3"},
		}.Encode())
		if r.status != http.StatusFound || r.header.Get("Location") != webBye+"?state=s-3" {
			t.Fatalf("logout at replica 3: status %d, Location %q", r.status, r.header.Get("Location"))
		}
		// The old cookie replayed at replica 1 finds no session.
		replay := newBrowser(t)
		replay.c.Jar.SetCookies(mustURL(t, rs[0].base), cookies)
		a = newAttempt("openid")
		rp.wantAuthError(t, replay.get(t, rp.authURL(a)+"&prompt=none"), a, "login_required")
		// The form's endpoint gets the session's logout token exactly once,
		// though three replicas run the worker.
		waitDelivered(t, rs[0], logoutRP, 1)
		if got := logoutRP.received(); len(got) != 1 || got[0].SID != sid || got[0].Sub != first.idToken.Subject {
			t.Fatalf("logout tokens %+v; want one for session %s and member %s", got, sid, first.idToken.Subject)
		}
		// Both refresh tokens of the session are dead at every replica, and
		// so are the access tokens.
		for i, in := range rs {
			onR := *rp
			onR.conf.Endpoint.TokenURL = in.base + "/token"
			for name, tok := range map[string]tokens{"first": first, "second": second} {
				if _, err := onR.refresh(tok.refresh); err == nil {
					t.Errorf("the %s refresh token works at replica %d after the logout", name, i+1)
				} else if code, _ := oauthError(t, err); code != "invalid_grant" {
					t.Errorf("the %s refresh token at replica %d: %s, want invalid_grant", name, i+1, code)
				}
				if st := userinfo(t, in, tok.access).status; st != http.StatusUnauthorized {
					t.Errorf("the %s access token at userinfo on replica %d after the logout: %d", name, i+1, st)
				}
			}
		}
	})

	t.Run("back-channel logout of many sessions", func(t *testing.T) {
		// Sessions ended on the three replicas at once, as many members
		// logging out do: each token is delivered once, by whichever
		// replica's worker claimed it.
		before := len(logoutRP.received())
		const n = 30
		var (
			wg   sync.WaitGroup
			errs = make([]error, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = rr(i).srv.Logout().EnqueueSession(t.Context(), "e2e-replicas-"+strconv.Itoa(i), memberID, []string{w.web.ID})
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("end a session: %v", err)
			}
		}
		waitDelivered(t, rs[1], logoutRP, before+n)
		seen := map[string]int{}
		for _, c := range logoutRP.received()[before:] {
			seen[c.SID]++
		}
		for i := range n {
			if sid := "e2e-replicas-" + strconv.Itoa(i); seen[sid] != 1 {
				t.Errorf("%d logout tokens for %s, want 1", seen[sid], sid)
			}
		}
		if len(seen) != n {
			t.Errorf("tokens for %d sessions, want %d", len(seen), n)
		}
	})

	t.Run("code redemption", func(t *testing.T) {
		rp := rs[0].rp(t, w.web, nil)
		for round := range 3 {
			a := newAttempt("openid", "offline_access")
			code := rp.code(t, a)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {w.web.RedirectURIs[0]}, "code_verifier": {a.verifier}}
			reqs := make([]burstRequest, len(rs))
			for i, in := range rs {
				req := newRequest(t, http.MethodPost, in.base+"/token", "application/x-www-form-urlencoded", []byte(form.Encode()), nil)
				basic(w.web.ID, w.web.secret)(req)
				reqs[i] = burstRequest{req: req}
			}
			got := burst(t, reqs)
			// Exactly one exchange redeems the code; the others are replays,
			// and a replay revokes what the code issued (RFC 6749 §4.1.2) —
			// even the winner's answer when the replay overtakes it. So at
			// most one answer carries tokens, and none of them works.
			var won []map[string]any
			for _, r := range got {
				if r.status == http.StatusOK {
					won = append(won, r.json(t))
					continue
				}
				wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
			}
			if len(won) > 1 {
				t.Fatalf("round %d: %d exchanges of one code gave tokens, want at most 1", round, len(won))
			}
			for _, body := range won {
				access, _ := body["access_token"].(string)
				refresh, _ := body["refresh_token"].(string)
				for i, in := range rs {
					if m := w.introspect(t, in, access); active(m) {
						t.Errorf("round %d: the access token of a replayed code is active at replica %d", round, i+1)
					}
					if m := w.introspect(t, in, refresh); active(m) {
						t.Errorf("round %d: the refresh token of a replayed code is active at replica %d", round, i+1)
					}
				}
			}
			// And the code stays spent.
			req := newRequest(t, http.MethodPost, rs[round%len(rs)].base+"/token", "application/x-www-form-urlencoded", []byte(form.Encode()), nil)
			basic(w.web.ID, w.web.secret)(req)
			wantOAuthError(t, do(t, req), http.StatusBadRequest, "invalid_grant")
			t.Logf("round %d: %d of %d racing exchanges answered with tokens (revoked by the replays)", round, len(won), len(rs))
		}
	})
}

// waitDelivered waits until the logout queue is empty and rp has received
// at least n tokens (each replica's worker polls; the deadline only stops
// a hung test), then checks that rp refused none.
func waitDelivered(t *testing.T, in *instance, rp *logoutRP, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for queued(t, in) > 0 || len(rp.received()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("not delivered: %d queued, %d received, want %d", queued(t, in), len(rp.received()), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rp.checkNoProblems(t)
}

// approvalInput is the approval page's hidden approval id (its number:
// approvalNumber).
var approvalInput = regexp.MustCompile(`<input type="hidden" name="approval" value="([^"]*)">`)
