package e2e

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/login"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/throttle"
)

// Attacks on the member's password: guessing it on every request that
// checks it, fast, in parallel, from many networks and on several
// replicas. Every check runs under one rule and counts on the member's
// one counter: after the free failures the next check waits (429,
// Retry-After), the right password included, whichever path it takes.

func init() {
	addAttacks(
		attack{id: "PW-01", name: "Password guessing at the web login page", source: "Pforte: password guessing; OWASP ASVS 5.0 V6.3.1", run: attackPasswordWebLogin},
		attack{id: "PW-02", name: "Password guessing through the PIN reset with the phone", source: "Pforte: password guessing (PIN reset)", run: attackPasswordPINReset},
		attack{id: "PW-03", name: "Password guessing through the password change in the app", source: "Pforte: password guessing (app password change)", run: attackPasswordAppChange},
		attack{id: "PW-04", name: "Password guessing through the device re-confirmation", source: "Pforte: password guessing (re-confirmation)", run: attackPasswordReconfirm},
		attack{id: "PW-05", name: "Password guessing through the account page's password change", source: "Pforte: password guessing (account page)", run: attackPasswordAccountPage},
		attack{id: "PW-06", name: "Password guessing spread over every request that checks it", source: "Pforte: password guessing (every path)", run: attackPasswordEveryPath},
		attack{id: "PW-07", name: "Password guessing from a new network for every guess", source: "Pforte: password guessing (distributed)", run: attackPasswordManyNetworks},
		attack{id: "PW-08", name: "Password spraying over many member numbers from one network", source: "Pforte: password spraying; OWASP ASVS 5.0 V6.3.1", run: attackPasswordSpraying},
		attack{id: "PW-09", name: "20 password guesses at once (SQLite and PostgreSQL)", source: "Pforte: password guessing (race)", run: attackPasswordConcurrent},
		attack{id: "PW-10", name: "Password guessing across two replicas on one PostgreSQL", source: "Pforte: password guessing (replicas)", run: attackPasswordAcrossReplicas},
		attack{id: "PW-11", name: "Unblocking a blocked phone by guessing the password", source: "Pforte: PIN reset with the password", run: attackPasswordUnblock},
		attack{id: "PW-12", name: "Password spraying from one network, all guesses at once (SQLite and PostgreSQL)", source: "Pforte: password spraying (race)", run: attackPasswordSprayingConcurrent},
		attack{id: "PW-13", name: "Password guessing under other spellings of the member number", source: "Pforte: password guessing (one counter per member)", run: attackPasswordKVNRSpellings},
	)
}

// wrongPasswords are guesses of the attacker.
var wrongPasswords = []string{"Sommer2024!", "Passwort123", "Nordsee-Krabbe-7", "Hallo1234567", "Deichgraf-1888", "Ostfriesland1"}

// passwordFailures reads the counter of failed password checks of member
// number k (core/login keeps one per number), leaving it as it is.
func (in *instance) passwordFailures(t *testing.T, m member.Member) int {
	t.Helper()
	var got throttle.Counter
	_, err := in.srv.Store().UpdatePasswordThrottle(t.Context(), "password:"+m.KVNR.String(),
		func(throttle.Counter) time.Time { return time.Now().Add(time.Hour) },
		func(c *throttle.Counter) error { got = *c; return errPeek })
	if !errors.Is(err, errPeek) {
		t.Fatalf("read the password counter: %v", err)
	}
	return got.Failures
}

// wantPasswordFailures checks the member's count of failed checks.
func (in *instance) wantPasswordFailures(t *testing.T, m member.Member, n int) {
	t.Helper()
	if got := in.passwordFailures(t, m); got != n {
		t.Fatalf("%d failed password checks counted, want %d", got, n)
	}
}

// wantWait checks the answer to a password check while checks wait: 429
// with Retry-After, as a problem of the app API (code login.wait) or as
// the login page.
func wantWait(t *testing.T, r result, retry string) {
	t.Helper()
	if r.header.Get("Content-Type") == "application/problem+json" {
		wantCode(t, r, http.StatusTooManyRequests, "rate_limited", string(login.CodeWait))
	} else if r.status != http.StatusTooManyRequests || r.header.Get("Location") != "" {
		t.Fatalf("status %d, Location %q; want 429 and no redirect:\n%s", r.status, r.header.Get("Location"), r.body)
	}
	if got := r.header.Get("Retry-After"); got != retry {
		t.Fatalf("Retry-After %q, want %q", got, retry)
	}
}

// loginGuess is a login page of the web form open in a browser, on which
// passwords are tried for a member number.
type loginGuess struct {
	br   *browser
	form url.Values
	base string
}

// openLogin opens the web form's login page on in for member number k.
func (in *instance) openLogin(t *testing.T, w *world, k string) loginGuess {
	t.Helper()
	br := newBrowser(t)
	form := loginForm(t, br.get(t, in.rp(t, w.web, nil).authURL(newAttempt("openid"))))
	form.Set("kvnr", k)
	return loginGuess{br: br, form: form, base: in.base}
}

// try posts pw on the page, with extra headers.
func (g loginGuess) try(t *testing.T, pw string, header map[string]string) result {
	t.Helper()
	g.form.Set("password", pw)
	return g.br.do(t, newRequest(t, http.MethodPost, g.base+"/login", "application/x-www-form-urlencoded", []byte(g.form.Encode()), header))
}

// tryRefused posts a wrong password and checks the 401.
func (g loginGuess) tryRefused(t *testing.T, pw string, header map[string]string) {
	t.Helper()
	if r := g.try(t, pw, header); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d, want 401", r.status)
	}
}

// passwordLogsIn checks that the member's password logs in on the web.
func (in *instance) passwordLogsIn(t *testing.T, w *world, m member.Member, pw string) {
	t.Helper()
	if !in.webLogin(t, in.rp(t, w.web, nil), newBrowser(t), m.KVNR.String(), pw) {
		t.Fatal("the member's password does not log in")
	}
}

// phoneUntouched checks that password guesses left ph's PIN counter and
// status alone, and that the phone works.
func (in *instance) phoneUntouched(t *testing.T, ph *phone) {
	t.Helper()
	if b := in.stored(t, ph.binding); b.PIN.Failures != 0 || b.Status != device.Active {
		t.Fatalf("the phone after password guesses: %s %+v", b.Status, b.PIN)
	}
	in.devices(t, ph)
}

// guessedOver are the tables a refused password check may change: the
// member's counter, the network's count, the audit log.
var guessedOver = []string{"password_throttles", "rate_windows", "audit_events"}

func attackPasswordWebLogin(t *testing.T) {
	w, e := pinVictim(t, sqliteEngine)
	in := e.in
	page := in.openLogin(t, w, e.m.KVNR.String())
	before := in.fingerprint(t)
	for _, pw := range wrongPasswords[:throttle.DefaultPolicy.Free+1] {
		page.tryRefused(t, pw, nil)
	}
	wantWait(t, page.try(t, devicePassword, nil), "1")
	in.unchanged(t, before, guessedOver...)
	in.wantPasswordFailures(t, e.m, throttle.DefaultPolicy.Free+1)
	in.phoneUntouched(t, e.phone)
	w.clock.Advance(time.Second)
	in.passwordLogsIn(t, w, e.m, devicePassword)
}

func attackPasswordPINReset(t *testing.T) {
	w, e := pinVictim(t, sqliteEngine)
	in, ph := e.in, e.phone
	before := in.fingerprint(t)
	// The phone is the attacker's; the password stands in for the PIN.
	for _, pw := range wrongPasswords[:throttle.DefaultPolicy.Free+1] {
		wantCode(t, in.resetPIN(t, ph, pw, "264813"), http.StatusUnauthorized, "unauthenticated", "password.wrong")
	}
	wantWait(t, in.resetPIN(t, ph, devicePassword, "264813"), "1")
	in.unchanged(t, before, guessedOver...)
	in.wantPasswordFailures(t, e.m, throttle.DefaultPolicy.Free+1)
	// The PIN is the member's still.
	in.phoneUntouched(t, ph)
	w.clock.Advance(time.Second)
	in.passwordLogsIn(t, w, e.m, devicePassword)
}

// changePassword sends the app's password change with a fresh proof of ph.
func (in *instance) changePassword(t *testing.T, ph *phone, current, next string) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/password/change", map[string]any{
		"proof": in.proof(t, ph, ph.pin), "current_password": current, "new_password": next}, nil)
}

func attackPasswordAppChange(t *testing.T) {
	w, e := pinVictim(t, sqliteEngine)
	in, ph := e.in, e.phone
	before := in.fingerprint(t)
	// Phone and PIN are the attacker's; the password change asks for the
	// current password as well.
	for _, pw := range wrongPasswords[:throttle.DefaultPolicy.Free+1] {
		wantCode(t, in.changePassword(t, ph, pw, forgottenReset), http.StatusUnauthorized, "unauthenticated", "password.wrong")
	}
	wantWait(t, in.changePassword(t, ph, devicePassword, forgottenReset), "1")
	// The binding records the key's uses (sign counter, last use).
	in.unchanged(t, before, append(guessedOver, "device_bindings")...)
	in.wantPasswordFailures(t, e.m, throttle.DefaultPolicy.Free+1)
	if !in.passwordIs(t, e.m, devicePassword) {
		t.Fatal("the password changed")
	}
	w.clock.Advance(time.Second)
	in.passwordLogsIn(t, w, e.m, devicePassword)
}

// reconfirm sends the device re-confirmation with a fresh proof of ph.
func (in *instance) reconfirm(t *testing.T, ph *phone, pw string) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/devices/reconfirm", map[string]any{"proof": in.proof(t, ph, ph.pin), "password": pw}, nil)
}

func attackPasswordReconfirm(t *testing.T) {
	w, e := pinVictim(t, sqliteEngine)
	in, ph := e.in, e.phone
	confirmed := in.stored(t, ph.binding).ConfirmedAt
	before := in.fingerprint(t)
	for _, pw := range wrongPasswords[:throttle.DefaultPolicy.Free+1] {
		wantCode(t, in.reconfirm(t, ph, pw), http.StatusUnauthorized, "unauthenticated", "password.wrong")
	}
	wantWait(t, in.reconfirm(t, ph, devicePassword), "1")
	in.unchanged(t, before, append(guessedOver, "device_bindings")...)
	in.wantPasswordFailures(t, e.m, throttle.DefaultPolicy.Free+1)
	if b := in.stored(t, ph.binding); !b.ConfirmedAt.Equal(confirmed) {
		t.Fatalf("the refused re-confirmations confirmed the device: %v", b.ConfirmedAt)
	}
	w.clock.Advance(time.Second)
	if r := in.reconfirm(t, ph, devicePassword); r.status != http.StatusOK {
		t.Fatalf("re-confirmation after the wait: %d %s", r.status, r.body)
	}
}

// accountPasswordLogin logs in to the account page in a new browser and
// begins its password change: the login page that asks for the current
// password.
func (aw *accountWorld) accountPasswordLogin(t *testing.T) loginGuess {
	t.Helper()
	b := newBrowser(t)
	p := aw.logIn(t, b)
	m := csrfOfForm("change-password").FindSubmatch(p.body)
	if m == nil {
		t.Fatalf("no password form:\n%s", p.body)
	}
	page := b.post(t, aw.in.base+"/account/password", url.Values{"csrf": {html.UnescapeString(string(m[1]))}, "action": {"begin"}})
	form := loginForm(t, page)
	form.Set("kvnr", memberKVNR.String())
	return loginGuess{br: b, form: form, base: aw.in.base}
}

func attackPasswordAccountPage(t *testing.T) {
	aw := newAccountWorld(t)
	in := aw.in
	// The member left the account page open; the attacker at the browser
	// wants to set a password of their own.
	page := aw.accountPasswordLogin(t)
	before := in.fingerprint(t)
	for _, pw := range wrongPasswords[:throttle.DefaultPolicy.Free+1] {
		page.tryRefused(t, pw, nil)
	}
	wantWait(t, page.try(t, memberPassword, nil), "1")
	in.unchanged(t, before, guessedOver...)
	if got := in.passwordFailures(t, member.Member{KVNR: memberKVNR}); got != throttle.DefaultPolicy.Free+1 {
		t.Fatalf("%d failures counted, want %d", got, throttle.DefaultPolicy.Free+1)
	}
	// After the wait the member's password goes on to the app's step.
	aw.w.clock.Advance(time.Second)
	if r := page.try(t, memberPassword, nil); approvalNumber.Find(r.body) == nil {
		t.Fatalf("the right password after the wait: %d\n%s", r.status, r.body)
	}
}

func attackPasswordEveryPath(t *testing.T) {
	aw := newAccountWorld(t)
	in, w := aw.in, aw.w
	ph := &phone{auth: aw.phone.Key, binding: aw.phone.BindingID, name: "Telefon von Erika", pin: appPIN}
	web, account := in.openLogin(t, w, memberKVNR.String()), aw.accountPasswordLogin(t)
	paths := []func(pw string) result{
		func(pw string) result { return web.try(t, pw, nil) },
		func(pw string) result { return account.try(t, pw, nil) },
		func(pw string) result { return in.resetPIN(t, ph, pw, "264813") },
		func(pw string) result { return in.changePassword(t, ph, pw, forgottenReset) },
		func(pw string) result { return in.reconfirm(t, ph, pw) },
	}
	before := in.fingerprint(t)
	// One wrong password on each path; the 4th starts a wait of 1
	// second, which the attacker waits out for the 5th (then 2 seconds).
	for i, path := range paths {
		if i == throttle.DefaultPolicy.Free+1 {
			w.clock.Advance(time.Second)
		}
		if r := path(wrongPasswords[i]); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password on path %d: status %d: %s", i+1, r.status, r.body)
		}
	}
	for _, path := range paths {
		wantWait(t, path(memberPassword), "2")
	}
	in.unchanged(t, before, append(guessedOver, "device_bindings")...)
	if got := in.passwordFailures(t, member.Member{KVNR: memberKVNR}); got != len(paths) {
		t.Fatalf("%d failures counted, want %d", got, len(paths))
	}
	in.phoneUntouched(t, ph)
}

func attackPasswordManyNetworks(t *testing.T) {
	w, e := pinVictim(t, sqliteEngine, trustLoopback)
	in := e.in
	page := in.openLogin(t, w, e.m.KVNR.String())
	before := in.fingerprint(t)
	// Each guess from another network (a botnet): the member's counter
	// counts them all.
	for i, pw := range wrongPasswords[:throttle.DefaultPolicy.Free+1] {
		page.tryRefused(t, pw, map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i+1)})
	}
	wantWait(t, page.try(t, devicePassword, map[string]string{"X-Forwarded-For": "203.0.113.77"}), "1")
	in.unchanged(t, before, guessedOver...)
	in.wantPasswordFailures(t, e.m, throttle.DefaultPolicy.Free+1)
	w.clock.Advance(time.Second)
	in.passwordLogsIn(t, w, e.m, devicePassword)
}

// smallNetworkBudget is production's password rule with a budget of
// budget failed checks per network and hour, so that a case is short.
func smallNetworkBudget(budget int) startOption {
	policy := throttle.DefaultPolicy
	policy.NetworkBudget = budget
	return func(o *server.Options) { o.Login.Throttle = policy }
}

func attackPasswordSpraying(t *testing.T) {
	const budget = 5
	w, e := pinVictim(t, sqliteEngine, trustLoopback, smallNetworkBudget(budget))
	in := e.in
	from := map[string]string{"X-Forwarded-For": "198.51.100.23"}
	page := in.openLogin(t, w, e.m.KVNR.String())
	before := in.fingerprint(t)
	// One common password for each of many member numbers, once each:
	// no member's counter reaches a delay, the network's budget runs out.
	for range budget {
		page.form.Set("kvnr", randomKVNR().String())
		page.tryRefused(t, wrongPasswords[0], from)
	}
	page.form.Set("kvnr", e.m.KVNR.String())
	// The wait is the network window, and up to a tenth longer (the
	// window's buckets, core/ratelimit).
	r := page.try(t, devicePassword, from)
	wantWait(t, r, r.header.Get("Retry-After"))
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 3600 || secs > 3600*11/10 {
		t.Fatalf("Retry-After %q, want the hour and at most a tenth more", r.header.Get("Retry-After"))
	}
	in.unchanged(t, before, guessedOver...)
	in.wantPasswordFailures(t, e.m, 0)
	// The member, from another network, is not held up by it.
	if r := page.try(t, devicePassword, map[string]string{"X-Forwarded-For": "203.0.113.5"}); r.status != http.StatusFound {
		t.Fatalf("the member from another network: %d", r.status)
	}
}

func attackPasswordConcurrent(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w, e := pinVictim(t, eng)
		in := e.in
		const n = 20
		reqs := make([]burstRequest, n)
		for i := range reqs {
			g := in.openLogin(t, w, e.m.KVNR.String())
			g.form.Set("password", wrongPasswords[i%len(wrongPasswords)])
			reqs[i] = burstRequest{client: g.br.c, req: newRequest(t, http.MethodPost, in.base+"/login",
				"application/x-www-form-urlencoded", []byte(g.form.Encode()), nil)}
		}
		before := in.fingerprint(t)
		// Counted before they are checked: the free ones and the one that
		// starts the delay are evaluated, every other guess waits.
		got := statuses(burst(t, reqs))
		free := throttle.DefaultPolicy.Free
		if got[http.StatusUnauthorized] != free+1 || got[http.StatusTooManyRequests] != n-free-1 || len(got) != 2 {
			t.Fatalf("answers %v; want %d × 401 and %d × 429", got, free+1, n-free-1)
		}
		wantWait(t, in.openLogin(t, w, e.m.KVNR.String()).try(t, devicePassword, nil), "1")
		in.unchanged(t, before, append(guessedOver, "auth_requests")...)
		in.wantPasswordFailures(t, e.m, free+1)
		w.clock.Advance(time.Second)
		in.passwordLogsIn(t, w, e.m, devicePassword)
	})
}

func attackPasswordAcrossReplicas(t *testing.T) {
	w := newWorld(t)
	rs := w.replicas(t, 2)
	m := applicant("Wilke", "Saathoff", "1968-09-09", w.clock.Now())
	ph := w.enrollAcross(t, rs, m, "583920")
	// A login page open at each replica; the PIN reset at either.
	pages := []loginGuess{rs[0].openLogin(t, w, m.KVNR.String()), rs[1].openLogin(t, w, m.KVNR.String())}
	before := rs[0].fingerprint(t)
	for i, pw := range wrongPasswords[:throttle.DefaultPolicy.Free+1] {
		if i%2 == 0 {
			pages[i/2%2].tryRefused(t, pw, nil)
			continue
		}
		wantCode(t, rs[i/2%2].resetPIN(t, ph, pw, "264813"), http.StatusUnauthorized, "unauthenticated", "password.wrong")
	}
	for i, r := range rs {
		wantWait(t, pages[i].try(t, devicePassword, nil), "1")
		wantWait(t, r.resetPIN(t, ph, devicePassword, "264813"), "1")
	}
	rs[1].unchanged(t, before, guessedOver...)
	rs[1].wantPasswordFailures(t, m, throttle.DefaultPolicy.Free+1)
	w.clock.Advance(time.Second)
	rs[1].passwordLogsIn(t, w, m, devicePassword)
}

func attackPasswordUnblock(t *testing.T) {
	w, e := pinVictim(t, sqliteEngine, noPINDelays)
	in, ph := e.in, e.phone
	// The attacker blocked the phone with wrong PINs and now tries its
	// way back, the PIN reset, without the password.
	for _, guess := range wrongPINs[:5] {
		in.manage(t, "/list", in.proof(t, ph, guess))
	}
	before := in.fingerprint(t)
	for _, pw := range wrongPasswords[:throttle.DefaultPolicy.Free+1] {
		wantCode(t, in.resetPIN(t, ph, pw, "264813"), http.StatusUnauthorized, "unauthenticated", "password.wrong")
	}
	wantWait(t, in.resetPIN(t, ph, devicePassword, "264813"), "1")
	in.unchanged(t, before, guessedOver...)
	in.wantBlocked(t, ph, 5)
	in.wantPasswordFailures(t, e.m, throttle.DefaultPolicy.Free+1)
	// The member, with the password, after the wait.
	w.clock.Advance(time.Second)
	in.resetsWithPassword(t, ph)
}

func attackPasswordSprayingConcurrent(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		const budget, n = 5, 30
		w, e := pinVictim(t, eng, trustLoopback, smallNetworkBudget(budget))
		in := e.in
		from := map[string]string{"X-Forwarded-For": "198.51.100.23"}
		// One common password for each of n member numbers, sent at once
		// from one network: the budget holds for the burst as for guesses
		// one by one.
		reqs := make([]burstRequest, n)
		for i := range reqs {
			g := in.openLogin(t, w, randomKVNR().String())
			g.form.Set("password", wrongPasswords[0])
			reqs[i] = burstRequest{client: g.br.c, req: newRequest(t, http.MethodPost, in.base+"/login",
				"application/x-www-form-urlencoded", []byte(g.form.Encode()), from)}
		}
		before := in.fingerprint(t)
		if got := statuses(burst(t, reqs)); got[http.StatusUnauthorized] != budget || got[http.StatusTooManyRequests] != n-budget || len(got) != 2 {
			t.Fatalf("answers %v; want %d × 401 (the budget) and %d × 429", got, budget, n-budget)
		}
		page := in.openLogin(t, w, e.m.KVNR.String())
		r := page.try(t, devicePassword, from)
		wantWait(t, r, r.header.Get("Retry-After"))
		in.unchanged(t, before, append(guessedOver, "auth_requests")...)
		if r := page.try(t, devicePassword, map[string]string{"X-Forwarded-For": "203.0.113.5"}); r.status != http.StatusFound {
			t.Fatalf("the member from another network: %d", r.status)
		}
	})
}

func attackPasswordKVNRSpellings(t *testing.T) {
	w, e := pinVictim(t, sqliteEngine)
	in := e.in
	k := e.m.KVNR.String()
	page := in.openLogin(t, w, k)
	before := in.fingerprint(t)
	// The form takes the number in lower case and with spaces around it:
	// each spelling is the same member, and the same counter.
	for i, spelling := range []string{strings.ToLower(k[:1]) + k[1:], "  " + k, k + " ", " " + strings.ToLower(k) + " "} {
		page.form.Set("kvnr", spelling)
		page.tryRefused(t, wrongPasswords[i], nil)
	}
	page.form.Set("kvnr", k)
	wantWait(t, page.try(t, devicePassword, nil), "1")
	in.unchanged(t, before, guessedOver...)
	in.wantPasswordFailures(t, e.m, throttle.DefaultPolicy.Free+1)
	w.clock.Advance(time.Second)
	in.passwordLogsIn(t, w, e.m, devicePassword)
}
