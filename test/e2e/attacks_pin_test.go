package e2e

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/pin"
)

// Attacks on the release PIN by someone who holds the member's phone (or
// a copy of its answers): guessing it, fast, in parallel, on several
// replicas, over every request that checks it and on both of the
// member's devices. Five wrong PINs block the device, whatever the path.

func init() {
	addAttacks(
		attack{id: "PIN-01", name: "PIN brute force on one device until the lockout", source: "Pforte: PIN brute force", run: attackPINBruteForce},
		attack{id: "PIN-02", name: "PIN entries during the delay after the 3rd wrong PIN", source: "Pforte: PIN brute force (delays)", run: attackPINDuringDelay},
		attack{id: "PIN-03", name: "40 wrong PINs at once (SQLite and PostgreSQL)", source: "Pforte: PIN brute force (race)", run: attackPINConcurrent},
		attack{id: "PIN-04", name: "PIN guessing across two replicas on one PostgreSQL", source: "Pforte: PIN brute force (replicas)", run: attackPINAcrossReplicas},
		attack{id: "PIN-05", name: "PIN guessing spread over every request that checks the PIN", source: "Pforte: PIN brute force (every path)", run: attackPINEveryPath},
		attack{id: "PIN-06", name: "PIN guessing on both of the member's devices", source: "Pforte: PIN brute force (per device)", run: attackPINTwoDevices},
		attack{id: "PIN-07", name: "PIN guessing without the device key", source: "Pforte: PIN brute force (possession first)", run: attackPINWithoutKey},
		attack{id: "PIN-08", name: "PIN change with a guessed current PIN", source: "Pforte: PIN change", run: attackPINChangeGuess},
		attack{id: "PIN-09", name: "One device answer with 20 PIN guesses at once", source: "Pforte: PIN brute force (challenge reuse)", run: attackPINOneChallengeManyGuesses},
		attack{id: "PIN-10", name: "Challenges fetched ahead answered after the lockout", source: "Pforte: PIN lockout", run: attackPINHeldChallenges},
		attack{id: "PIN-11", name: "30 wrong PINs at once over two replicas on one PostgreSQL", source: "Pforte: PIN brute force (race, replicas)", run: attackPINBurstAcrossReplicas},
	)
}

// wrongPINs are guesses of the attacker, none of them the member's
// 583920.
var wrongPINs = []string{"750913", "204816", "391758", "862047", "517390", "640281", "093715", "318604", "275049", "906182", "481736"}

// noPINDelays is the PIN rule without waits: five wrong PINs block.
func noPINDelays(o *server.Options) { o.Binding.PIN = pin.Policy{MaxFailures: 5, DelayFrom: 3} }

// pinVictim is a member enrolled with one phone (PIN 583920) on a fresh
// server on eng started with opts.
func pinVictim(t *testing.T, eng engine, opts ...startOption) (*world, enrolled) {
	t.Helper()
	w := newWorld(t)
	m := applicant("Heike", "Tammen", "1974-05-21", w.clock.Now())
	return w, w.enroll(t, eng, m, "583920", opts...)
}

// wantBlocked checks that ph's binding is blocked after exactly failures
// wrong PINs, and that the right PIN is refused.
func (in *instance) wantBlocked(t *testing.T, ph *phone, failures int) {
	t.Helper()
	if b := in.stored(t, ph.binding); b.Status != device.Blocked || !b.PIN.Blocked || b.PIN.Failures != failures {
		t.Fatalf("binding %s: %s, %+v; want blocked after %d", ph.name, b.Status, b.PIN, failures)
	}
	r := in.manage(t, "/list", in.proof(t, ph, ph.pin))
	wantCode(t, r, http.StatusLocked, "locked", string(pin.CodeBlocked))
	wantPINHeaders(t, r, 0, 0, in.clock.Now())
}

// wantPINAudit checks the account's count of wrong and blocking PINs.
func (in *instance) wantPINAudit(t *testing.T, e enrolled, failed, locked int) {
	t.Helper()
	kinds, _ := in.auditKinds(t, in.account(t, e.m).ID)
	if kinds[audit.PINFailed] != failed || kinds[audit.PINLocked] != locked {
		t.Fatalf("audit: %d × pin.failed, %d × pin.locked; want %d and %d", kinds[audit.PINFailed], kinds[audit.PINLocked], failed, locked)
	}
}

// resetsWithPassword checks the member's way back: the password sets a
// new PIN on the blocked phone, which then works.
func (in *instance) resetsWithPassword(t *testing.T, ph *phone) {
	t.Helper()
	if r := in.resetPIN(t, ph, devicePassword, "264813"); r.status != http.StatusNoContent {
		t.Fatalf("PIN reset with the password: %d %s", r.status, r.body)
	}
	ph.pin = "264813"
	in.devices(t, ph)
}

func attackPINBruteForce(t *testing.T) {
	w, e := pinVictim(t, sqliteEngine)
	in, ph := e.in, e.phone
	before := in.fingerprint(t)
	// Each guess as soon as the rule lets it be evaluated: four wrong
	// ones (the 3rd and 4th start waits of 1 and 5 minutes), the fifth
	// blocks the phone.
	waits := []time.Duration{0, 0, time.Minute, 5 * time.Minute}
	for i, guess := range wrongPINs[:4] {
		r := in.manage(t, "/list", in.proof(t, ph, guess))
		wantCode(t, r, http.StatusUnauthorized, "unauthenticated", string(pin.CodeWrong))
		wantPINHeaders(t, r, 4-i, waits[i], w.clock.Now())
		w.clock.Advance(waits[i])
	}
	wantCode(t, in.manage(t, "/list", in.proof(t, ph, wrongPINs[4])), http.StatusLocked, "locked", string(pin.CodeBlocked))
	// Blocked is blocked: the right PIN a day later, too.
	w.clock.Advance(24 * time.Hour)
	in.wantBlocked(t, ph, 5)
	in.unchanged(t, before, "device_bindings", "audit_events")
	in.wantPINAudit(t, e, 4, 1)
	in.resetsWithPassword(t, ph)
}

func attackPINDuringDelay(t *testing.T) {
	w, e := pinVictim(t, sqliteEngine)
	in, ph := e.in, e.phone
	for _, guess := range wrongPINs[:3] {
		wantCode(t, in.manage(t, "/list", in.proof(t, ph, guess)), http.StatusUnauthorized, "unauthenticated", string(pin.CodeWrong))
	}
	before := in.fingerprint(t)
	// Within the minute, every entry — the right PIN among them — is
	// refused unread, with the wait.
	for i, guess := range append(slices.Clone(wrongPINs[3:9]), ph.pin) {
		w.clock.Advance(5 * time.Second)
		r := in.manage(t, "/list", in.proof(t, ph, guess))
		wantCode(t, r, http.StatusTooManyRequests, "rate_limited", string(pin.CodeWait))
		wantPINHeaders(t, r, 2, time.Minute-time.Duration(i+1)*5*time.Second, w.clock.Now())
	}
	in.unchanged(t, before)
	if b := in.stored(t, ph.binding); b.PIN.Failures != 3 || b.Status != device.Active {
		t.Fatalf("after entries during the delay: %s %+v; want 3 failures", b.Status, b.PIN)
	}
	// Once the minute is over, the member's PIN works and the count ends.
	w.clock.Advance(25 * time.Second)
	in.devices(t, ph)
	if b := in.stored(t, ph.binding); b.PIN != (pin.Counter{}) {
		t.Fatalf("counter %+v after the right PIN", b.PIN)
	}
}

// wrongPINBurst sends n wrong PINs of ph at once, the challenge of the
// i-th from replica rs[i], its answer to the next, and checks that
// exactly five were compared: 4, 3, 2, 1 attempts left, then blocked.
func wrongPINBurst(t *testing.T, rs []*instance, ph *phone, n int) {
	t.Helper()
	// A key that does not count signatures: the answers may arrive in any
	// order without looking like a copy.
	ph.assert = []authenticator.Option{authenticator.Counter(0)}
	reqs := make([]burstRequest, n)
	for i := range reqs {
		body, err := json.Marshal(map[string]any{"proof": rs[i%len(rs)].proof(t, ph, wrongPINs[i%len(wrongPINs)])})
		if err != nil {
			t.Fatal(err)
		}
		reqs[i] = burstRequest{req: newRequest(t, http.MethodPost, rs[(i+1)%len(rs)].base+"/app/v1/devices/list", "application/json", body, nil)}
	}
	var remaining []string
	for _, r := range burst(t, reqs) {
		if r.status == http.StatusUnauthorized {
			wantCode(t, r, http.StatusUnauthorized, "unauthenticated", string(pin.CodeWrong))
			remaining = append(remaining, r.header.Get("Pforte-PIN-Attempts-Remaining"))
			continue
		}
		wantCode(t, r, http.StatusLocked, "locked", string(pin.CodeBlocked))
	}
	slices.Sort(remaining)
	if !slices.Equal(remaining, []string{"1", "2", "3", "4"}) {
		t.Fatalf("attempts left %v; want 4 wrong PINs answered, the rest blocked", remaining)
	}
}

func attackPINConcurrent(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		_, e := pinVictim(t, eng, noPINDelays)
		in, ph := e.in, e.phone
		before := in.fingerprint(t)
		wrongPINBurst(t, []*instance{in}, ph, 40)
		in.unchanged(t, before, "device_bindings", "audit_events")
		in.wantBlocked(t, ph, 5)
		in.wantPINAudit(t, e, 4, 1)
	})
}

func attackPINBurstAcrossReplicas(t *testing.T) {
	w := newWorld(t)
	rs := w.replicas(t, 2, noPINDelays)
	m := applicant("Focke", "Janssen", "1972-12-01", w.clock.Now())
	ph := w.enrollAcross(t, rs, m, "583920")
	before := rs[0].fingerprint(t)
	wrongPINBurst(t, rs, ph, 30)
	rs[1].unchanged(t, before, "device_bindings", "audit_events")
	for _, r := range rs {
		r.wantBlocked(t, ph, 5)
	}
	rs[0].wantPINAudit(t, enrolled{m: m}, 4, 1)
}

func attackPINAcrossReplicas(t *testing.T) {
	w := newWorld(t)
	rs := w.replicas(t, 2)
	ph := w.enrollAcross(t, rs, applicant("Gerke", "Hinrichs", "1970-02-14", w.clock.Now()), "583920")
	before := rs[0].fingerprint(t)
	// guess takes the challenge from one replica and answers at the other.
	guess := func(i int, p string) result {
		return rs[(i+1)%2].manage(t, "/list", rs[i%2].proof(t, ph, p))
	}
	for i, p := range wrongPINs[:3] {
		wantCode(t, guess(i, p), http.StatusUnauthorized, "unauthenticated", string(pin.CodeWrong))
	}
	// The wait the 3rd guess started holds at both replicas.
	for i := range 2 {
		r := guess(i, wrongPINs[3])
		wantCode(t, r, http.StatusTooManyRequests, "rate_limited", string(pin.CodeWait))
		wantPINHeaders(t, r, 2, time.Minute, w.clock.Now())
	}
	w.clock.Advance(time.Minute)
	wantCode(t, guess(1, wrongPINs[3]), http.StatusUnauthorized, "unauthenticated", string(pin.CodeWrong))
	w.clock.Advance(5 * time.Minute)
	wantCode(t, guess(0, wrongPINs[4]), http.StatusLocked, "locked", string(pin.CodeBlocked))
	for _, r := range rs {
		r.wantBlocked(t, ph, 5)
	}
	rs[1].unchanged(t, before, "device_bindings", "audit_events")
}

// pinPath is one request that checks the release PIN: it fetches its own
// challenge and answers it with the PIN it is given.
type pinPath struct {
	name string
	try  func(p string) result
}

// answered answers challenge answer r with ph's key and PIN p and sends
// the proof with send; a refused challenge is the answer itself.
func (in *instance) answered(t *testing.T, ph *phone, r result, p string, send func(proof map[string]any) result) result {
	t.Helper()
	if r.status != http.StatusCreated {
		return r
	}
	id, options := challengeOf(t, r)
	return send(ph.answer(t, in, id, options, p))
}

// pendingApproval starts a web login of e's member that needs the app's
// confirmation and returns the approval's id.
func (in *instance) pendingApproval(t *testing.T, w *world, e enrolled) string {
	t.Helper()
	rp := in.rp(t, w.web, nil)
	b := newBrowser(t)
	page := rp.authorize(t, b, newAttempt("openid"), url.Values{"acr_values": {"http://eidas.europa.eu/LoA/substantial"}})
	page = b.submitLogin(t, in.base, page, e.m.KVNR.String(), devicePassword)
	id := approvalInput.FindSubmatch(page.body)
	if id == nil {
		t.Fatalf("want the approval page, got %d:\n%s", page.status, page.body)
	}
	return html.UnescapeString(string(id[1]))
}

// pinPaths are every request of the app API that checks e's PIN.
func (in *instance) pinPaths(t *testing.T, w *world, e enrolled) []pinPath {
	t.Helper()
	ph := e.phone
	login := in.rp(t, w.app, nil).appAuthorize(t, newAttempt(appLoginScopes...), nil)
	approval := in.pendingApproval(t, w, e)
	transfer := sendJSON(t, http.MethodPost, in.base+"/app/v1/transfers", map[string]string{"kvnr": e.m.KVNR.String()}, nil)
	if transfer.status != http.StatusCreated {
		t.Fatalf("transfer: %d %s", transfer.status, transfer.body)
	}
	device := func(path string, extra map[string]any) func(string) result {
		return func(p string) result {
			return in.answered(t, ph, in.deviceChallenge(t, ph.binding), p, func(proof map[string]any) result {
				body := map[string]any{"proof": proof}
				for k, v := range extra {
					body[k] = v
				}
				return sendJSON(t, http.MethodPost, in.base+"/app/v1"+path, body, nil)
			})
		}
	}
	return []pinPath{
		{"device list", device("/devices/list", nil)},
		{"rename", device("/devices/"+ph.binding+"/rename", map[string]any{"name": "Neuer Name"})},
		{"revoke", device("/devices/"+ph.binding+"/revoke", nil)},
		{"revoke others", device("/devices/revoke-others", nil)},
		{"PIN change", device("/pin/change", map[string]any{"new_pin": "264813"})},
		{"password reset", device("/password/reset", map[string]any{"new_password": forgottenReset})},
		{"password change", device("/password/change", map[string]any{"current_password": devicePassword, "new_password": forgottenReset})},
		{"reconfirm", device("/devices/reconfirm", map[string]any{"password": devicePassword})},
		{"account deletion", device("/account/delete", map[string]any{"confirm": true})},
		{"transfer approval", device("/transfers/approval", map[string]any{"transfer_code": transfer.json(t)["transfer_code"]})},
		{"app login", func(p string) result {
			return in.answered(t, ph, in.loginChallenge(t, login, ph.binding), p, func(proof map[string]any) result {
				return in.completeLogin(t, login, proof)
			})
		}},
		{"web login approval", func(p string) result {
			ch := sendJSON(t, http.MethodPost, in.base+"/app/v1/approvals/"+approval+"/challenge", map[string]string{"binding_id": ph.binding}, nil)
			return in.answered(t, ph, ch, p, func(proof map[string]any) result {
				return sendJSON(t, http.MethodPost, in.base+"/app/v1/approvals/"+approval, map[string]any{
					"decision": "approve", "number": 1, "binding_id": ph.binding, "proof": proof}, nil)
			})
		}},
	}
}

func attackPINEveryPath(t *testing.T) {
	const limit = 10
	w, e := pinVictim(t, sqliteEngine, func(o *server.Options) { o.Binding.PIN = pin.Policy{MaxFailures: limit, DelayFrom: limit} })
	in, ph := e.in, e.phone
	paths := in.pinPaths(t, w, e)
	before := in.fingerprint(t)
	// One wrong PIN on each path: all count on the phone's one counter.
	for i, path := range paths {
		r := path.try(wrongPINs[i%len(wrongPINs)])
		if i < limit-1 {
			wantCode(t, r, http.StatusUnauthorized, "unauthenticated", string(pin.CodeWrong))
			wantPINHeaders(t, r, limit-1-i, 0, w.clock.Now())
			continue
		}
		wantCode(t, r, http.StatusLocked, "locked", string(pin.CodeBlocked))
	}
	// Blocked on every path, for the right PIN as well.
	for _, path := range paths {
		if r := path.try(ph.pin); r.status != http.StatusLocked {
			t.Fatalf("%s with the right PIN on a blocked phone: %d %s", path.name, r.status, r.body)
		}
	}
	in.unchanged(t, before, "device_bindings", "audit_events")
	if b := in.stored(t, ph.binding); b.PIN.Failures != limit || b.Status != device.Blocked {
		t.Fatalf("binding %s %+v; want blocked after %d", b.Status, b.PIN, limit)
	}
	in.wantPINAudit(t, e, limit-1, 1)
	in.resetsWithPassword(t, ph)
}

func attackPINTwoDevices(t *testing.T) {
	w, e := pinVictim(t, sqliteEngine)
	in, ph := e.in, e.phone
	tablet := w.secondPhone(t, e, "907153")
	before := in.fingerprint(t)
	// Pforte's rule: each device counts its own PIN. Five guesses block
	// the phone and leave the tablet's count alone; five more block the
	// tablet: ten guesses in all, then nothing.
	for k, d := range []*phone{ph, tablet} {
		for i, guess := range wrongPINs[:5] {
			r := in.manage(t, "/list", in.proof(t, d, guess))
			if i < 4 {
				wantCode(t, r, http.StatusUnauthorized, "unauthenticated", string(pin.CodeWrong))
			} else {
				wantCode(t, r, http.StatusLocked, "locked", string(pin.CodeBlocked))
			}
			w.clock.Advance(5 * time.Minute)
		}
		if k == 0 {
			if b := in.stored(t, tablet.binding); b.PIN.Failures != 0 || b.Status != device.Active {
				t.Fatalf("the tablet after the phone's lockout: %s %+v", b.Status, b.PIN)
			}
		}
	}
	in.wantBlocked(t, ph, 5)
	in.wantBlocked(t, tablet, 5)
	in.unchanged(t, before, "device_bindings", "audit_events")
	in.wantPINAudit(t, e, 8, 2)
	if !in.webLogin(t, in.rp(t, w.web, nil), newBrowser(t), e.m.KVNR.String(), devicePassword) {
		t.Fatal("the password no longer logs in")
	}
	in.resetsWithPassword(t, tablet)
}

func attackPINWithoutKey(t *testing.T) {
	_, e := pinVictim(t, sqliteEngine)
	in, ph := e.in, e.phone
	other, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	before := in.fingerprint(t)
	// The binding id is known (it is in the app's storage, in logs); the
	// key is not. Answers signed by another key are refused before any
	// PIN is compared — the right one among the guesses included.
	for _, guess := range append(slices.Clone(wrongPINs), ph.pin) {
		r := in.manage(t, "/list", in.proof(t, ph, guess, authenticator.SignedBy(other)))
		wantCode(t, r, http.StatusUnauthorized, "unauthenticated", "device.key_unverified")
		if r.header.Get("Pforte-PIN-Attempts-Remaining") != "" {
			t.Fatalf("a forged answer tells the attempts left: %v", r.header)
		}
	}
	in.unchanged(t, before)
	if b := in.stored(t, ph.binding); b.PIN.Failures != 0 {
		t.Fatalf("counter %+v after forged answers", b.PIN)
	}
	in.devices(t, ph)
}

// changePIN sends a PIN change with a fresh proof of ph and PIN p.
func (in *instance) changePIN(t *testing.T, ph *phone, p, newPIN string) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/pin/change", map[string]any{"proof": in.proof(t, ph, p), "new_pin": newPIN}, nil)
}

func attackPINChangeGuess(t *testing.T) {
	_, e := pinVictim(t, sqliteEngine)
	in, ph := e.in, e.phone
	before := in.fingerprint(t)
	// A guessed current PIN counts as any wrong PIN and sets nothing.
	r := in.changePIN(t, ph, wrongPINs[0], "264813")
	wantCode(t, r, http.StatusUnauthorized, "unauthenticated", string(pin.CodeWrong))
	wantPINHeaders(t, r, 4, 0, in.clock.Now())
	// A refused new PIN is refused before the current one is looked at:
	// no attempt spent, nothing learnt of it.
	wantCode(t, in.changePIN(t, ph, wrongPINs[1], "123456"), http.StatusBadRequest, "invalid", string(pin.CodeSequence))
	in.unchanged(t, before, "device_bindings", "audit_events")
	if b := in.stored(t, ph.binding); b.PIN.Failures != 1 {
		t.Fatalf("counter %+v; want exactly 1 failure", b.PIN)
	}
	// The new PIN was never set: it is a wrong PIN; the member's works.
	wantCode(t, in.manage(t, "/list", in.proof(t, ph, "264813")), http.StatusUnauthorized, "unauthenticated", string(pin.CodeWrong))
	in.devices(t, ph)
}

func attackPINOneChallengeManyGuesses(t *testing.T) {
	_, e := pinVictim(t, sqliteEngine)
	in, ph := e.in, e.phone
	before := in.fingerprint(t)
	// One answer of the key, captured, sent 20 times at once with 20
	// guesses: the challenge answers once, so one guess is compared.
	proof := in.proof(t, ph, "")
	reqs := make([]burstRequest, 20)
	for i := range reqs {
		proof["pin"] = wrongPINs[i%len(wrongPINs)]
		body, err := json.Marshal(map[string]any{"proof": proof})
		if err != nil {
			t.Fatal(err)
		}
		reqs[i] = burstRequest{req: newRequest(t, http.MethodPost, in.base+"/app/v1/devices/list", "application/json", body, nil)}
	}
	wrong := 0
	for _, r := range burst(t, reqs) {
		if r.json(t)["code"] == string(pin.CodeWrong) {
			wrong++
			continue
		}
		wantCode(t, r, http.StatusUnauthorized, "unauthenticated", "challenge.unknown")
	}
	if wrong != 1 {
		t.Fatalf("%d guesses of one answer compared, want 1", wrong)
	}
	in.unchanged(t, before, "device_bindings", "audit_events")
	if b := in.stored(t, ph.binding); b.PIN.Failures != 1 {
		t.Fatalf("counter %+v; want exactly 1 failure", b.PIN)
	}
	in.devices(t, ph)
}

func attackPINHeldChallenges(t *testing.T) {
	w, e := pinVictim(t, sqliteEngine, noPINDelays)
	in, ph := e.in, e.phone
	// Challenges fetched before the guessing, to be answered after it.
	var held []result
	for range 3 {
		held = append(held, in.deviceChallenge(t, ph.binding))
	}
	login := in.rp(t, w.app, nil).appAuthorize(t, newAttempt(appLoginScopes...), nil)
	heldLogin := in.loginChallenge(t, login, ph.binding)
	for _, guess := range wrongPINs[:5] {
		in.manage(t, "/list", in.proof(t, ph, guess))
	}
	before := in.fingerprint(t)
	for _, r := range held {
		wantCode(t, in.answered(t, ph, r, ph.pin, func(proof map[string]any) result { return in.manage(t, "/list", proof) }),
			http.StatusLocked, "locked", string(pin.CodeBlocked))
	}
	wantCode(t, in.answered(t, ph, heldLogin, ph.pin, func(proof map[string]any) result { return in.completeLogin(t, login, proof) }),
		http.StatusLocked, "locked", string(pin.CodeBlocked))
	in.unchanged(t, before, "challenges")
	in.wantBlocked(t, ph, 5)
	in.wantPINAudit(t, e, 4, 1)
}
