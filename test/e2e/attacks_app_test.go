package e2e

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/member"
)

// Attacks on what the member's phone confirms: the move to a new phone
// (device transfer) and the browser login confirmed in the app
// (approval), by a third party who holds a stolen code or password, and
// by another member with a phone of their own.

func init() {
	addAttacks(
		attack{id: "TRANSFER-01", name: "A third party's phone redeems a transfer the member did not approve", source: "Pforte: device transfer (core/binding)", run: attackTransferUnapproved},
		attack{id: "TRANSFER-02", name: "A transfer code seen over the shoulder redeemed without the secret", source: "Pforte: device transfer, code and secret", run: attackTransferCodeAsSecret},
		attack{id: "TRANSFER-03", name: "A transfer secret redeemed twice", source: "Pforte: device transfer, one redemption", run: attackTransferRedeemedTwice},
		attack{id: "TRANSFER-04", name: "A transfer code approved twice", source: "Pforte: device transfer, one approval", run: attackTransferApprovedTwice},
		attack{id: "TRANSFER-05", name: "Transfer secrets and codes guessed", source: "Pforte: device transfer; RFC 8628 §5.1", run: attackTransferGuessed},
		attack{id: "TRANSFER-06", name: "An expired transfer approved and redeemed", source: "Pforte: device transfer, five minutes", run: attackTransferExpired},
		attack{id: "TRANSFER-07", name: "Another member's phone approves the member's transfer", source: "Pforte: device transfer, the member's own device", run: attackTransferOtherMember},
		attack{id: "TRANSFER-08", name: "Transfers begun in bulk from one address", source: "Pforte: transfers per client address", run: attackTransferFlood},
		attack{id: "TRANSFER-09", name: "A transfer's enrollment session changes the member's password", source: "Pforte: a transfer binds a device, nothing else", run: attackTransferSetsPassword},
		attack{id: "APPROVAL-01", name: "A member talked into choosing a number the browser does not show", source: "Pforte: web login number matching (core/approval)", run: attackApprovalWrongNumber},
		attack{id: "APPROVAL-02", name: "An approved approval used for a second login", source: "Pforte: web login, one use per approval", run: attackApprovalUsedTwice},
		attack{id: "APPROVAL-03", name: "A decision posted twice", source: "Pforte: web login, one decision per approval", run: attackApprovalDecidedTwice},
		attack{id: "APPROVAL-04", name: "Another member's phone decides the member's approval", source: "Pforte: web login, the member's own device", run: attackApprovalOtherDevice},
		attack{id: "APPROVAL-05", name: "Another member's phone lists the member's approvals", source: "Pforte: web login, the member's own device", run: attackApprovalOtherList},
		attack{id: "APPROVAL-06", name: "The attacker's browser finishes the member's approved login", source: "Pforte: approval bound to the browser that started it", run: attackApprovalOtherBrowser},
		attack{id: "APPROVAL-07", name: "An approval decided after it expired", source: "Pforte: web login, two minutes", run: attackApprovalExpired},
		attack{id: "APPROVAL-09", name: "A stolen phone without the PIN approves a login", source: "Pforte: web login, key and release PIN", run: attackApprovalWrongPIN},
		attack{id: "APPROVAL-10", name: "The member's proof for one approval carried to the attacker's", source: "Pforte: approval challenge bound to one approval", run: attackApprovalProofCarried},
		attack{id: "APPROVAL-08", name: "Approval fatigue: the member's app flooded with logins by a stolen password", source: "Pforte: web login, approvals waiting per member", run: attackApprovalFatigue},
	)
}

// seededPhone is a phone a test member starts with (server.Member.Device).
func seededPhone(t *testing.T, id string) *phone {
	t.Helper()
	a, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	return &phone{auth: a, binding: id, name: "Telefon " + id, pin: appPIN}
}

func (ph *phone) seed() *server.Device {
	return &server.Device{ID: ph.binding, Name: ph.name, CredentialID: ph.auth.CredentialID(), PublicKey: ph.auth.PublicKey(), PIN: ph.pin}
}

// appVictim is a server whose member (the world's) has a phone, and a
// second member, the attacker, has one too.
type appVictim struct {
	w      *world
	in     *instance
	relay  *mailRelay
	rp     *relyingParty
	member *phone
	other  *phone
}

func newAppVictim(t *testing.T) appVictim {
	t.Helper()
	w := newWorld(t)
	v := appVictim{w: w, relay: startMailRelay(t), member: seededPhone(t, "e2e-phone-erika"), other: seededPhone(t, "e2e-phone-max")}
	v.in = w.start(t, sqliteEngine.storage(t), v.relay.notifier(t), trustLoopback, func(o *server.Options) {
		o.Members[0].Device = v.member.seed()
		m := servertest.Member(otherID, member.Member{
			KVNR: otherKVNR, GivenName: "Max", FamilyName: "Mustermann", BirthDate: "1971-02-03",
			InsuredFrom: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC),
		}, w.clock.Now())
		m.Device = v.other.seed()
		o.Members = append(o.Members, m)
	})
	v.rp = v.in.rp(t, w.web, nil)
	return v
}

// ---- the device transfer over HTTP ----

// begunTransfer is what the new phone keeps of POST /app/v1/transfers.
type begunTransfer struct{ code, secret string }

// beginTransfer begins a transfer for member number k on a new phone.
// approvedTransfer is a transfer the member began on a new phone and
// approved on the bound one, ready to be redeemed.
func (v appVictim) approvedTransfer(t *testing.T) begunTransfer {
	t.Helper()
	own := v.in.beginTransfer(t, memberKVNR.String())
	approved(t, v.in.approveTransfer(t, v.member, own.code, appPIN))
	return own
}

func (in *instance) beginTransfer(t *testing.T, k string) begunTransfer {
	t.Helper()
	r := sendJSON(t, http.MethodPost, in.base+"/app/v1/transfers", map[string]string{"kvnr": k}, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("begin transfer: %d %s", r.status, r.body)
	}
	m := r.json(t)
	code, _ := m["transfer_code"].(string)
	secret, _ := m["transfer_secret"].(string)
	if code == "" || secret == "" {
		t.Fatalf("begin transfer: %s", r.body)
	}
	return begunTransfer{code: code, secret: secret}
}

// approveTransfer approves code with ph's key and PIN p.
func (in *instance) approveTransfer(t *testing.T, ph *phone, code, p string) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/transfers/approval",
		map[string]any{"transfer_code": code, "proof": in.proof(t, ph, p)}, nil)
}

// redeemTransfer redeems secret on the new phone.
func (in *instance) redeemTransfer(t *testing.T, secret string) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/transfers/redemption", map[string]string{"transfer_secret": secret}, nil)
}

// wantCode checks a problem and its code.
func wantCode(t *testing.T, r result, status int, kind, code string) {
	t.Helper()
	wantProblem(t, r, status, kind)
	if got := r.json(t)["code"]; got != code {
		t.Fatalf("problem code %v, want %s: %s", got, code, r.body)
	}
}

// approved checks a transfer's approval.
func approved(t *testing.T, r result) {
	t.Helper()
	if r.status != http.StatusOK || r.json(t)["status"] != "approved" {
		t.Fatalf("approve transfer: %d %s", r.status, r.body)
	}
}

// transferToken checks a redemption and returns its enrollment token (a
// session without the password step).
func transferToken(t *testing.T, r result) string {
	t.Helper()
	m := r.json(t)
	token, _ := m["enrollment_token"].(string)
	if r.status != http.StatusCreated || len(token) < 32 {
		t.Fatalf("redeem transfer: %d %s", r.status, r.body)
	}
	return token
}

// movedTo finishes the member's transfer of secret: the new phone binds
// its key and sets its PIN.
func (in *instance) movedTo(t *testing.T, secret string) {
	t.Helper()
	token := transferToken(t, in.redeemTransfer(t, secret))
	in.bindPhone(t, token, "Neues Telefon")
	wantActive(t, in.setPIN(t, token, newPIN))
}

func attackTransferUnapproved(t *testing.T) {
	v := newAppVictim(t)
	// The third party begins a transfer for the member's number on its
	// own phone and tries to redeem it before (without) an approval.
	stolen := v.in.beginTransfer(t, memberKVNR.String())
	before := v.in.fingerprint(t)
	for range 3 {
		r := v.in.redeemTransfer(t, stolen.secret)
		wantCode(t, r, http.StatusConflict, "conflict", "transfer.pending")
	}
	v.in.unchanged(t, before)
	// The member's own transfer goes through.
	own := v.approvedTransfer(t)
	v.in.movedTo(t, own.secret)
}

func attackTransferCodeAsSecret(t *testing.T) {
	v := newAppVictim(t)
	own := v.approvedTransfer(t)
	before := v.in.fingerprint(t)
	// The photographed QR code holds the code, not the secret.
	wantCode(t, v.in.redeemTransfer(t, own.code), http.StatusUnauthorized, "unauthenticated", "transfer.unknown")
	v.in.unchanged(t, before)
	v.in.movedTo(t, own.secret)
}

func attackTransferRedeemedTwice(t *testing.T) {
	v := newAppVictim(t)
	own := v.approvedTransfer(t)
	token := transferToken(t, v.in.redeemTransfer(t, own.secret))
	before := v.in.fingerprint(t)
	// A copy of the new phone's secret gets no second session.
	wantCode(t, v.in.redeemTransfer(t, own.secret), http.StatusConflict, "conflict", "transfer.used")
	v.in.unchanged(t, before)
	v.in.bindPhone(t, token, "Neues Telefon")
	wantActive(t, v.in.setPIN(t, token, newPIN))
}

func attackTransferApprovedTwice(t *testing.T) {
	v := newAppVictim(t)
	own := v.approvedTransfer(t)
	// The approval is replayed, by the member's own phone even: the code
	// is looked at before the proof, so no PIN attempt is spent.
	proof := v.in.proof(t, v.member, "000000")
	before := v.in.fingerprint(t)
	r := sendJSON(t, http.MethodPost, v.in.base+"/app/v1/transfers/approval", map[string]any{"transfer_code": own.code, "proof": proof}, nil)
	wantCode(t, r, http.StatusConflict, "conflict", "transfer.used")
	v.in.unchanged(t, before)
	if b := v.in.stored(t, v.member.binding); b.PIN.Failures != 0 {
		t.Fatalf("the replay spent %d PIN attempts", b.PIN.Failures)
	}
	v.in.movedTo(t, own.secret)
}

func attackTransferGuessed(t *testing.T) {
	v := newAppVictim(t)
	own := v.approvedTransfer(t)
	before := v.in.fingerprint(t)
	// Secrets (256 bits) and codes (128 bits) of the issued form, guessed.
	for range 20 {
		wantCode(t, v.in.redeemTransfer(t, randomSecretLike(own.secret)), http.StatusUnauthorized, "unauthenticated", "transfer.unknown")
	}
	for range 5 {
		r := sendJSON(t, http.MethodPost, v.in.base+"/app/v1/transfers/approval",
			map[string]any{"transfer_code": randomSecretLike(own.code), "proof": v.in.proof(t, v.other, appPIN)}, nil)
		wantCode(t, r, http.StatusUnauthorized, "unauthenticated", "transfer.unknown")
	}
	v.in.unchanged(t, before, "challenges")
	v.in.movedTo(t, own.secret)
}

func attackTransferExpired(t *testing.T) {
	v := newAppVictim(t)
	late := v.in.beginTransfer(t, memberKVNR.String())
	v.in.clock.Advance(5 * time.Minute)
	proof := v.in.proof(t, v.member, appPIN)
	before := v.in.fingerprint(t)
	r := sendJSON(t, http.MethodPost, v.in.base+"/app/v1/transfers/approval", map[string]any{"transfer_code": late.code, "proof": proof}, nil)
	wantCode(t, r, http.StatusGone, "expired", "transfer.expired")
	wantCode(t, v.in.redeemTransfer(t, late.secret), http.StatusGone, "expired", "transfer.expired")
	v.in.unchanged(t, before)
	// A fresh transfer works.
	own := v.approvedTransfer(t)
	v.in.movedTo(t, own.secret)
}

func attackTransferOtherMember(t *testing.T) {
	v := newAppVictim(t)
	own := v.in.beginTransfer(t, memberKVNR.String())
	// Another member scans the member's code with their own phone and
	// confirms it with their own key and PIN.
	proof := v.in.proof(t, v.other, appPIN)
	before := v.in.fingerprint(t)
	r := sendJSON(t, http.MethodPost, v.in.base+"/app/v1/transfers/approval", map[string]any{"transfer_code": own.code, "proof": proof}, nil)
	wantCode(t, r, http.StatusForbidden, "forbidden", "transfer.other_member")
	wantCode(t, v.in.redeemTransfer(t, own.secret), http.StatusConflict, "conflict", "transfer.pending")
	// The other member's key signed (its counter and the spent challenge).
	v.in.unchanged(t, before, "challenges", "device_bindings")
	approved(t, v.in.approveTransfer(t, v.member, own.code, appPIN))
	v.in.movedTo(t, own.secret)
}

func attackTransferFlood(t *testing.T) {
	v := newAppVictim(t)
	from := map[string]string{"X-Forwarded-For": "203.0.113.7"}
	n := 0
	var last result
	for ; n < 100; n++ {
		last = sendJSON(t, http.MethodPost, v.in.base+"/app/v1/transfers", map[string]string{"kvnr": memberKVNR.String()}, from)
		if last.status != http.StatusCreated {
			break
		}
	}
	before := v.in.fingerprint(t)
	r := sendJSON(t, http.MethodPost, v.in.base+"/app/v1/transfers", map[string]string{"kvnr": randomKVNR().String()}, from)
	wantCode(t, r, http.StatusTooManyRequests, "rate_limited", "transfer.rate_limited")
	if n == 0 || n >= 100 || last.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("%d transfers begun, then %d; Retry-After %q", n, last.status, r.header.Get("Retry-After"))
	}
	v.in.unchanged(t, before, "rate_windows")
	// The member's own phone, elsewhere, begins one.
	v.approvedTransfer(t)
}

func attackTransferSetsPassword(t *testing.T) {
	v := newAppVictim(t)
	// The member was talked into approving the code of the attacker's
	// phone; the session it redeems binds a device, and changes nothing
	// else of the account.
	stolen := v.in.beginTransfer(t, memberKVNR.String())
	approved(t, v.in.approveTransfer(t, v.member, stolen.code, appPIN))
	token := transferToken(t, v.in.redeemTransfer(t, stolen.secret))
	before := v.in.fingerprint(t)
	wantCode(t, v.in.setPassword(t, token, "Ganz-anderes-Passwort-42"), http.StatusForbidden, "forbidden", "enrollment.transfer_password")
	v.in.unchanged(t, before)
	// The member's password still logs in.
	v.rp.login(t, "openid")
}

// randomSecretLike is a random string of the length of s, from the
// alphabet of base64url.
func randomSecretLike(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := []byte(randomHex(len(s)))
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:len(s)])
}

// ---- the web login's approval over HTTP ----

// webApproval is a browser login of the member waiting for the app: the
// browser, its attempt and the approval page.
type webApproval struct {
	b      *browser
	a      attempt
	page   result
	id     string
	number int
}

// startApproval logs the member in at the web form at level substantial
// in a new browser, with password pw, up to the approval page.
func (v appVictim) startApproval(t *testing.T, pw string) webApproval {
	t.Helper()
	b, a := newBrowser(t), newAttempt("openid", "profile")
	page := v.rp.authorize(t, b, a, url.Values{"acr_values": {"http://eidas.europa.eu/LoA/substantial"}})
	page = b.submitLogin(t, v.in.base, page, memberKVNR.String(), pw)
	num, id := approvalNumber.FindSubmatch(page.body), approvalInput.FindSubmatch(page.body)
	if page.status != http.StatusOK || num == nil || id == nil {
		t.Fatalf("want the approval page, got %d:\n%s", page.status, page.body)
	}
	n, _ := strconv.Atoi(string(num[1]))
	return webApproval{b: b, a: a, page: page, id: string(id[1]), number: n}
}

// decide posts ph's decision ("approve" with number, or "deny") on
// approval id: a challenge bound to the approval, answered by ph's key and
// PIN p.
func (in *instance) decide(t *testing.T, ph *phone, id, decision string, number int, p string) result {
	t.Helper()
	ch := sendJSON(t, http.MethodPost, in.base+"/app/v1/approvals/"+url.PathEscape(id)+"/challenge", map[string]string{"binding_id": ph.binding}, nil)
	cid, options := challengeOf(t, ch)
	return in.postDecision(t, ph, id, decision, number, ph.answer(t, in, cid, options, p))
}

// postDecision posts a decision on approval id with proof, as ph's.
func (in *instance) postDecision(t *testing.T, ph *phone, id, decision string, number int, proof map[string]any) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/approvals/"+url.PathEscape(id), map[string]any{
		"decision": decision, "number": number, "binding_id": ph.binding, "proof": proof,
	}, nil)
}

// decided checks a decision's answer.
func decided(t *testing.T, r result, status, reason string) {
	t.Helper()
	if m := r.json(t); r.status != http.StatusOK || m["status"] != status || (reason != "" && m["reason"] != reason) {
		t.Fatalf("decision: %d %s, want %s %s", r.status, r.body, status, reason)
	}
}

// finish is the browser's "Weiter" on the approval page.
func (wa webApproval) finish(t *testing.T, base string) result {
	t.Helper()
	return wa.b.post(t, base+"/login/approval", hiddenFields(wa.page))
}

// loggedIn checks that wa's browser reached the web form with a code that
// redeems.
func (v appVictim) loggedIn(t *testing.T, wa webApproval, r result) {
	t.Helper()
	tok := v.rp.exchange(t, v.rp.checkCallback(t, callback(t, r), wa.a), wa.a)
	if !active(v.w.introspect(t, v.in, tok.access)) {
		t.Fatal("the member's token is not active")
	}
}

// otherNumber is one of the app's choices that the browser does not show.
func otherNumber(n int) int {
	if n == 99 {
		return 98
	}
	return n + 1
}

func attackApprovalWrongNumber(t *testing.T) {
	v := newAppVictim(t)
	wa := v.startApproval(t, memberPassword) // the attacker's browser, with the stolen password
	before := v.in.fingerprint(t)
	decided(t, v.in.decide(t, v.member, wa.id, "approve", otherNumber(wa.number), appPIN), "denied", "wrong_number")
	r := wa.finish(t, v.in.base)
	if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
		t.Fatalf("the attacker's browser after a wrong number: %d %q", r.status, r.header.Get("Location"))
	}
	// The right number afterwards is too late.
	ch := sendJSON(t, http.MethodPost, v.in.base+"/app/v1/approvals/"+url.PathEscape(wa.id)+"/challenge", map[string]string{"binding_id": v.member.binding}, nil)
	wantCode(t, ch, http.StatusConflict, "conflict", "approval.decided")
	v.in.unchanged(t, before, "approvals", "audit_events", "challenges", "device_bindings")
	if msgs := v.relay.messages(); len(msgs) != 1 || msgs[0].to[0] != memberEmail {
		t.Fatalf("mails %+v; want the member told of the denied login", msgs)
	}
	// The member's own login works.
	own := v.startApproval(t, memberPassword)
	decided(t, v.in.decide(t, v.member, own.id, "approve", own.number, appPIN), "approved", "")
	v.loggedIn(t, own, own.finish(t, v.in.base))
}

func attackApprovalUsedTwice(t *testing.T) {
	v := newAppVictim(t)
	wa := v.startApproval(t, memberPassword)
	decided(t, v.in.decide(t, v.member, wa.id, "approve", wa.number, appPIN), "approved", "")
	done := wa.finish(t, v.in.base)
	before := v.in.fingerprint(t)
	// The same "Weiter" again, from the same browser: no second code.
	r := wa.finish(t, v.in.base)
	if r.status != http.StatusConflict || r.header.Get("Location") != "" {
		t.Fatalf("second use: %d %q", r.status, r.header.Get("Location"))
	}
	v.in.unchanged(t, before)
	v.loggedIn(t, wa, done)
}

func attackApprovalDecidedTwice(t *testing.T) {
	v := newAppVictim(t)
	wa := v.startApproval(t, memberPassword)
	ch := sendJSON(t, http.MethodPost, v.in.base+"/app/v1/approvals/"+url.PathEscape(wa.id)+"/challenge", map[string]string{"binding_id": v.member.binding}, nil)
	cid, options := challengeOf(t, ch)
	proof := v.member.answer(t, v.in, cid, options, appPIN)
	decided(t, v.in.postDecision(t, v.member, wa.id, "deny", 0, proof), "denied", "member")
	before := v.in.fingerprint(t)
	// The recorded request, replayed as an approval.
	wantCode(t, v.in.postDecision(t, v.member, wa.id, "approve", wa.number, proof), http.StatusConflict, "conflict", "approval.decided")
	v.in.unchanged(t, before)
	if r := wa.finish(t, v.in.base); r.status != http.StatusBadRequest {
		t.Fatalf("the denied login: %d", r.status)
	}
}

func attackApprovalOtherDevice(t *testing.T) {
	v := newAppVictim(t)
	wa := v.startApproval(t, memberPassword)
	before := v.in.fingerprint(t)
	// The other member's phone asks for a challenge on the member's
	// approval, by its own binding and by the member's.
	for _, binding := range []string{v.other.binding, v.member.binding + "x"} {
		r := sendJSON(t, http.MethodPost, v.in.base+"/app/v1/approvals/"+url.PathEscape(wa.id)+"/challenge", map[string]string{"binding_id": binding}, nil)
		wantCode(t, r, http.StatusNotFound, "not_found", "approval.unknown")
	}
	// A challenge of the member's binding, answered with the other
	// member's key (and PIN).
	ch := sendJSON(t, http.MethodPost, v.in.base+"/app/v1/approvals/"+url.PathEscape(wa.id)+"/challenge", map[string]string{"binding_id": v.member.binding}, nil)
	cid, options := challengeOf(t, ch)
	proof := v.member.answer(t, v.in, cid, options, appPIN, authenticator.SignedBy(v.other.auth))
	wantProblem(t, v.in.postDecision(t, v.member, wa.id, "approve", wa.number, proof), http.StatusUnauthorized, "unauthenticated")
	v.in.unchanged(t, before, "challenges", "audit_events")
	decided(t, v.in.decide(t, v.member, wa.id, "approve", wa.number, appPIN), "approved", "")
	v.loggedIn(t, wa, wa.finish(t, v.in.base))
}

func attackApprovalOtherList(t *testing.T) {
	v := newAppVictim(t)
	wa := v.startApproval(t, memberPassword)
	list := func(ph *phone) result {
		cid, options := challengeOf(t, v.in.deviceChallenge(t, ph.binding))
		a, err := ph.auth.Assert(options, v.in.origin(t))
		if err != nil {
			t.Fatal(err)
		}
		return get(t, v.in.base+"/app/v1/approvals", map[string]string{
			"Pforte-Device-Challenge": cid, "Pforte-Device-Assertion": base64.RawURLEncoding.EncodeToString(a),
		})
	}
	before := v.in.fingerprint(t)
	r := list(v.other)
	if r.status != http.StatusOK || len(r.json(t)["approvals"].([]any)) != 0 {
		t.Fatalf("the other member's list: %d %s", r.status, r.body)
	}
	v.in.unchanged(t, before, "challenges", "device_bindings")
	if r := list(v.member); len(r.json(t)["approvals"].([]any)) != 1 {
		t.Fatalf("the member's list: %s", r.body)
	}
	decided(t, v.in.decide(t, v.member, wa.id, "approve", wa.number, appPIN), "approved", "")
}

func attackApprovalOtherBrowser(t *testing.T) {
	v := newAppVictim(t)
	wa := v.startApproval(t, memberPassword)
	decided(t, v.in.decide(t, v.member, wa.id, "approve", wa.number, appPIN), "approved", "")
	// The attacker has the page's form and its CSRF cookie (not the
	// HttpOnly login session cookie) and posts "Weiter" from a browser
	// with a login session of its own.
	attacker := v.startApproval(t, memberPassword).b
	u, _ := url.Parse(v.in.base)
	for _, c := range wa.b.c.Jar.Cookies(u) {
		if c.Name != "pforte_login" {
			attacker.c.Jar.SetCookies(u, []*http.Cookie{c})
		}
	}
	before := v.in.fingerprint(t)
	r := attacker.post(t, v.in.base+"/login/approval", hiddenFields(wa.page))
	if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
		t.Fatalf("the attacker's browser: %d %q:\n%s", r.status, r.header.Get("Location"), r.body)
	}
	if s := attacker.get(t, v.in.base+"/login/approval/status?id="+url.QueryEscape(wa.id)); s.status != http.StatusNotFound {
		t.Fatalf("status for the attacker's browser: %d %s", s.status, s.body)
	}
	v.in.unchanged(t, before)
	v.loggedIn(t, wa, wa.finish(t, v.in.base))
}

func attackApprovalExpired(t *testing.T) {
	v := newAppVictim(t)
	wa := v.startApproval(t, memberPassword)
	ch := sendJSON(t, http.MethodPost, v.in.base+"/app/v1/approvals/"+url.PathEscape(wa.id)+"/challenge", map[string]string{"binding_id": v.member.binding}, nil)
	cid, options := challengeOf(t, ch)
	proof := v.member.answer(t, v.in, cid, options, appPIN)
	v.in.clock.Advance(2 * time.Minute)
	before := v.in.fingerprint(t)
	wantCode(t, v.in.postDecision(t, v.member, wa.id, "approve", wa.number, proof), http.StatusGone, "expired", "approval.expired")
	if r := wa.finish(t, v.in.base); r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
		t.Fatalf("the expired login: %d", r.status)
	}
	v.in.unchanged(t, before)
}

func attackApprovalFatigue(t *testing.T) {
	v := newAppVictim(t)
	// The attacker logs in again and again with the stolen password: three
	// logins wait for the app at once, no more.
	var flood []webApproval
	for range 3 {
		flood = append(flood, v.startApproval(t, memberPassword))
	}
	b := newBrowser(t)
	page := v.rp.authorize(t, b, newAttempt("openid"), url.Values{"acr_values": {"http://eidas.europa.eu/LoA/substantial"}})
	before := v.in.fingerprint(t)
	r := b.submitLogin(t, v.in.base, page, memberKVNR.String(), memberPassword)
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); r.status != http.StatusTooManyRequests || err != nil || secs < 1 || secs > 120 {
		t.Fatalf("the fourth login: %d, Retry-After %q:\n%s", r.status, r.header.Get("Retry-After"), r.body)
	}
	v.in.unchanged(t, before, "password_throttles", "audit_events")
	// The member denies them in the app and is told of each; then the
	// member's own login goes through.
	for _, wa := range flood {
		decided(t, v.in.decide(t, v.member, wa.id, "deny", 0, appPIN), "denied", "member")
	}
	if msgs := v.relay.messages(); len(msgs) != len(flood) {
		t.Fatalf("%d mails for %d denied logins", len(msgs), len(flood))
	}
	own := v.startApproval(t, memberPassword)
	decided(t, v.in.decide(t, v.member, own.id, "approve", own.number, appPIN), "approved", "")
	v.loggedIn(t, own, own.finish(t, v.in.base))
}

func attackApprovalWrongPIN(t *testing.T) {
	v := newAppVictim(t)
	wa := v.startApproval(t, memberPassword)
	before := v.in.fingerprint(t)
	// The thief has the phone (its key signs) but not the release PIN.
	r := v.in.decide(t, v.member, wa.id, "approve", wa.number, "000000")
	wantProblem(t, r, http.StatusUnauthorized, "unauthenticated")
	if got := r.header.Get("Pforte-PIN-Attempts-Remaining"); got != "4" {
		t.Fatalf("attempts remaining %q, want 4", got)
	}
	// The wrong PIN counts; the approval still waits.
	v.in.unchanged(t, before, "device_bindings", "challenges", "audit_events")
	if b := v.in.stored(t, v.member.binding); b.PIN.Failures != 1 {
		t.Fatalf("PIN failures %d, want 1", b.PIN.Failures)
	}
	decided(t, v.in.decide(t, v.member, wa.id, "approve", wa.number, appPIN), "approved", "")
	v.loggedIn(t, wa, wa.finish(t, v.in.base))
}

func attackApprovalProofCarried(t *testing.T) {
	v := newAppVictim(t)
	own := v.startApproval(t, memberPassword)
	theirs := v.startApproval(t, memberPassword) // the attacker's, with the stolen password
	// The member's app answers a challenge for the member's own approval;
	// whoever sees the request carries the proof to the attacker's.
	ch := sendJSON(t, http.MethodPost, v.in.base+"/app/v1/approvals/"+url.PathEscape(own.id)+"/challenge", map[string]string{"binding_id": v.member.binding}, nil)
	cid, options := challengeOf(t, ch)
	proof := v.member.answer(t, v.in, cid, options, appPIN)
	before := v.in.fingerprint(t)
	wantCode(t, v.in.postDecision(t, v.member, theirs.id, "approve", theirs.number, proof), http.StatusUnauthorized, "unauthenticated", "challenge.other_approval")
	// The challenge is spent, no PIN attempt counted, nothing decided.
	v.in.unchanged(t, before, "challenges", "audit_events")
	if b := v.in.stored(t, v.member.binding); b.PIN.Failures != 0 {
		t.Fatalf("PIN failures %d", b.PIN.Failures)
	}
	if r := theirs.finish(t, v.in.base); r.status != http.StatusOK || r.header.Get("Location") != "" {
		t.Fatalf("the attacker's login after the carried proof: %d %q", r.status, r.header.Get("Location"))
	}
	decided(t, v.in.decide(t, v.member, own.id, "approve", own.number, appPIN), "approved", "")
	v.loggedIn(t, own, own.finish(t, v.in.base))
}
