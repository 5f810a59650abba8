package weblogin_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/approval"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/weblogin"
)

const (
	annaKVNR = "A123456780"
	bodoKVNR = "B987654320"
	session  = "browser-session-secret-of-anna-0001"
	ip       = "203.0.113.7"
)

// started is a world with Anna (letter-proofed, one usable device), a
// pending request of the form client, and Anna's password step done in
// the browser with session: the approval waits.
func started(t *testing.T) (*world, device.Binding, approval.Approval) {
	t.Helper()
	w := newWorld(t)
	acct, b := w.member(annaKVNR, loa.Substantial, true)
	w.request("req-1")
	a, err := w.svc.Start(ctx, "req-1", loa.Authentication{Subject: acct.ID, Proofing: acct.Proofing,
		AMR: []string{loa.AMRPassword}, Time: t0}, "Firefox unter Linux", session)
	if err != nil {
		t.Fatal(err)
	}
	w.answeredBy(b, nil)
	return w, b, a
}

// decide lets binding b's app decide approval a.
func (w *world) decide(b device.Binding, a approval.Approval, approve bool, number int) (approval.Approval, error) {
	w.t.Helper()
	ch, _, err := w.svc.Begin(ctx, a.ID, b.ID)
	if err != nil {
		return approval.Approval{}, err
	}
	return w.svc.Decide(ctx, a.ID, weblogin.Decision{
		Approve: approve, Number: number, BindingID: b.ID, ChallengeID: ch, Assertion: []byte("{}"), PIN: "583920",
	}, ip)
}

func wrongNumber(a approval.Approval) int {
	for _, c := range a.Choices {
		if c != a.Number {
			return c
		}
	}
	panic("no wrong number")
}

func TestApproveAndFinish(t *testing.T) {
	w, b, a := started(t)
	if a.Status != approval.Pending || a.RequestID != "req-1" || a.ClientID != form.ID || !slices.Contains(a.Choices[:], a.Number) {
		t.Fatalf("started approval %+v", a)
	}
	if out, err := w.svc.Status(ctx, a.ID, session); err != nil || out != weblogin.Waiting {
		t.Fatalf("Status before the decision: %q, %v", out, err)
	}
	got, list, err := w.svc.List(ctx, "challenge", []byte("{}"), ip)
	if err != nil || got.ID != b.ID || len(list) != 1 {
		t.Fatalf("List: %v, %+v, %v", got.ID, list, err)
	}
	want := weblogin.Pending{ID: a.ID, ClientID: form.ID, ClientName: "Online-Formulare", Browser: "Firefox unter Linux",
		Choices: a.Choices, CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Minute)}
	if p := list[0]; p.ID != want.ID || p.ClientName != want.ClientName || p.Browser != want.Browser || p.Choices != want.Choices ||
		!p.CreatedAt.Equal(want.CreatedAt) || !p.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("listed %+v, want %+v", p, want)
	}

	w.advance(20 * time.Second)
	d, err := w.decide(b, a, true, a.Number)
	if err != nil || d.Status != approval.Approved || d.BindingID != b.ID {
		t.Fatalf("Decide: %+v, %v", d, err)
	}
	if kinds := w.auditKinds(b.AccountID); !slices.Contains(kinds, audit.WebLoginApproved) {
		t.Fatalf("audit after approving: %v", kinds)
	}
	if _, list, _ := w.svc.List(ctx, "challenge", []byte("{}"), ip); len(list) != 0 {
		t.Fatalf("a decided approval is still listed: %+v", list)
	}
	if out, err := w.svc.Status(ctx, a.ID, session); err != nil || out != weblogin.Ready {
		t.Fatalf("Status after approving: %q, %v", out, err)
	}

	w.advance(5 * time.Second)
	to, err := w.svc.Finish(ctx, a.ID, session)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(to)
	if err != nil || !strings.HasPrefix(to, form.RedirectURIs[0]+"?") || u.Query().Get("state") != "st-req-1" {
		t.Fatalf("redirect %q", to)
	}
	c, err := w.RedeemCode(ctx, grant.Hash(u.Query().Get("code")), w.clock())
	if err != nil || c.Request.Login == nil {
		t.Fatalf("RedeemCode: %+v, %v", c, err)
	}
	l := c.Request.Login
	if l.Subject != b.AccountID || l.ACR != "http://eidas.europa.eu/LoA/substantial" ||
		!slices.Equal(l.AMR, []string{"pwd", "hwk", "pin", "mfa"}) || l.BindingID != b.ID ||
		!l.AuthTime.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("login %+v", l)
	}

	// Used once: a second finish, a replayed decision and a late status.
	_, err = w.svc.Finish(ctx, a.ID, session)
	wantCode(t, "Finish again", err, fault.Conflict, weblogin.CodeDecided)
	_, err = w.decide(b, a, true, a.Number)
	wantCode(t, "Decide again", err, fault.Conflict, weblogin.CodeDecided)
	if out, _ := w.svc.Status(ctx, a.ID, session); out != weblogin.Over {
		t.Fatalf("Status after use: %q", out)
	}
}

func TestDeny(t *testing.T) {
	w, b, a := started(t)
	d, err := w.decide(b, a, false, 0)
	if err != nil || d.Status != approval.Denied || d.Reason != approval.ReasonMember {
		t.Fatalf("deny: %+v, %v", d, err)
	}
	if out, _ := w.svc.Status(ctx, a.ID, session); out != weblogin.Refused {
		t.Fatalf("Status after the denial: %q", out)
	}
	_, err = w.svc.Finish(ctx, a.ID, session)
	wantCode(t, "Finish of a denied approval", err, fault.Forbidden, weblogin.CodeDenied)
	if kinds := w.auditKinds(b.AccountID); !slices.Contains(kinds, audit.WebLoginDenied) {
		t.Fatalf("audit after the denial: %v", kinds)
	}
	m := w.sent()
	if len(m) != 1 || m[0].To != "m-"+annaKVNR+"@example.de" || m[0].Subject != "mail.web_login_denied" ||
		!strings.Contains(m[0].Body, "Online-Formulare") || !strings.Contains(m[0].Body, "Firefox unter Linux") {
		t.Fatalf("notifications after the denial: %+v", m)
	}
	// The request stays pending: a new password step may start again.
	if _, _, err := w.az.PendingLogin(ctx, "req-1"); err != nil {
		t.Fatalf("request after the denial: %v", err)
	}
}

func TestWrongNumberDenies(t *testing.T) {
	w, b, a := started(t)
	d, err := w.decide(b, a, true, wrongNumber(a))
	if err != nil || d.Status != approval.Denied || d.Reason != approval.ReasonWrongNumber {
		t.Fatalf("wrong number: %+v, %v", d, err)
	}
	_, err = w.svc.Finish(ctx, a.ID, session)
	wantCode(t, "Finish after a wrong number", err, fault.Forbidden, weblogin.CodeWrongNumber)
	// A guess cannot be corrected: the approval is decided.
	_, err = w.decide(b, a, true, a.Number)
	wantCode(t, "the right number after a wrong one", err, fault.Conflict, weblogin.CodeDecided)
	if len(w.sent()) != 1 {
		t.Fatalf("notifications: %+v", w.sent())
	}
}

// A device of another member neither sees nor decides the approval, even
// when the app names Anna's binding and only the key answers as Bodo's.
func TestAnotherMembersDevice(t *testing.T) {
	w, annaBinding, a := started(t)
	_, bodoBinding := w.member(bodoKVNR, loa.Substantial, true)
	w.answeredBy(bodoBinding, nil)
	_, list, err := w.svc.List(ctx, "challenge", []byte("{}"), ip)
	if err != nil || len(list) != 0 {
		t.Fatalf("Bodo's device lists %+v, %v", list, err)
	}
	_, _, err = w.svc.Begin(ctx, a.ID, bodoBinding.ID)
	wantCode(t, "Begin with Bodo's device", err, fault.NotFound, weblogin.CodeUnknown)
	// The app claims Anna's binding, the answering key is Bodo's.
	ch, _, err := w.svc.Begin(ctx, a.ID, annaBinding.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.Decide(ctx, a.ID, weblogin.Decision{Approve: true, Number: a.Number, BindingID: annaBinding.ID,
		ChallengeID: ch, PIN: "583920"}, ip)
	wantCode(t, "Decide answered by Bodo's key", err, fault.NotFound, weblogin.CodeUnknown)
	if out, _ := w.svc.Status(ctx, a.ID, session); out != weblogin.Waiting {
		t.Fatalf("Status after another member's attempts: %q", out)
	}
	w.answeredBy(annaBinding, nil)
	if _, err := w.decide(annaBinding, a, true, a.Number); err != nil {
		t.Fatalf("Anna's own decision afterwards: %v", err)
	}
}

// Only the browser that started the approval learns its outcome and
// completes the login with it.
func TestAnotherBrowser(t *testing.T) {
	w, b, a := started(t)
	if _, err := w.decide(b, a, true, a.Number); err != nil {
		t.Fatal(err)
	}
	other := "browser-session-secret-of-mallory"
	_, err := w.svc.Status(ctx, a.ID, other)
	wantCode(t, "Status in another browser", err, fault.NotFound, weblogin.CodeUnknown)
	_, err = w.svc.Finish(ctx, a.ID, other)
	wantCode(t, "Finish in another browser", err, fault.NotFound, weblogin.CodeUnknown)
	_, err = w.svc.Finish(ctx, a.ID, "")
	wantCode(t, "Finish without a session", err, fault.NotFound, weblogin.CodeUnknown)
	if _, err := w.svc.Finish(ctx, a.ID, session); err != nil {
		t.Fatalf("Finish in the right browser afterwards: %v", err)
	}
}

func TestFinishBeforeDecision(t *testing.T) {
	w, _, a := started(t)
	_, err := w.svc.Finish(ctx, a.ID, session)
	wantCode(t, "Finish while pending", err, fault.Conflict, weblogin.CodePending)
}

func TestExpiry(t *testing.T) {
	w, b, a := started(t)
	w.advance(2 * time.Minute)
	_, _, err := w.svc.Begin(ctx, a.ID, b.ID)
	wantCode(t, "Begin at expiry", err, fault.Expired, weblogin.CodeExpired)
	if out, _ := w.svc.Status(ctx, a.ID, session); out != weblogin.Over {
		t.Fatalf("Status at expiry: %q", out)
	}
	_, err = w.svc.Finish(ctx, a.ID, session)
	wantCode(t, "Finish at expiry", err, fault.Expired, weblogin.CodeExpired)

	// Approved in time, used too late.
	w2, b2, a2 := started(t)
	w2.advance(time.Minute)
	if _, err := w2.decide(b2, a2, true, a2.Number); err != nil {
		t.Fatal(err)
	}
	w2.advance(time.Minute)
	_, err = w2.svc.Finish(ctx, a2.ID, session)
	wantCode(t, "Finish of an approval after its expiry", err, fault.Expired, weblogin.CodeExpired)
}

// A wrong PIN (binding's refusal) decides nothing: the member may try
// again until the device is blocked.
func TestWrongPINDecidesNothing(t *testing.T) {
	w, b, a := started(t)
	wrong := pin.DefaultPolicy.Try(pin.Counter{}, t0, func() bool { return false })
	w.answeredBy(b, wrong.Err("binding.AuthenticateApproval", t0))
	_, err := w.decide(b, a, true, a.Number)
	wantCode(t, "wrong PIN", err, fault.Unauthenticated, pin.CodeWrong)
	if out, _ := w.svc.Status(ctx, a.ID, session); out != weblogin.Waiting {
		t.Fatalf("Status after a wrong PIN: %q", out)
	}
	w.answeredBy(b, nil)
	if _, err := w.decide(b, a, true, a.Number); err != nil {
		t.Fatalf("the right PIN afterwards: %v", err)
	}
}

func TestNoUsableDevice(t *testing.T) {
	w := newWorld(t)
	acct, _ := w.member(annaKVNR, loa.Substantial, false)
	w.request("req-1")
	_, err := w.svc.Start(ctx, "req-1", loa.Authentication{Subject: acct.ID, AMR: []string{loa.AMRPassword}}, "Firefox", session)
	wantCode(t, "Start without a usable device", err, fault.Forbidden, weblogin.CodeNoDevice)
	_, err = w.svc.Start(ctx, "req-1", loa.Authentication{Subject: acct.ID}, "Firefox", "short")
	wantKind(t, "Start without a session secret", err, fault.Invalid)
}

func wantKind(t *testing.T, what string, err error, k fault.Kind) {
	t.Helper()
	if !errors.Is(err, k) {
		t.Fatalf("%s: %v (kind %v), want %v", what, err, fault.KindOf(err), k)
	}
}

// TestTooManyWaiting: a stolen password starts at most
// approval.Policy.MaxPending approvals at once; the next one waits until
// the oldest expires, or until the member decided one in the app.
func TestTooManyWaiting(t *testing.T) {
	w, b, first := started(t)
	pw := loa.Authentication{Subject: first.AccountID, Proofing: loa.Substantial, AMR: []string{loa.AMRPassword}, Time: t0}
	for i := 2; i <= approval.DefaultPolicy.MaxPending; i++ {
		if _, err := w.svc.Start(ctx, "req-1", pw, "Firefox", session); err != nil {
			t.Fatalf("approval %d: %v", i, err)
		}
	}
	_, err := w.svc.Start(ctx, "req-1", pw, "Firefox", session)
	wantCode(t, "one approval too many", err, fault.RateLimited, weblogin.CodeTooMany)
	if e := fault.RetryOf(err); e == nil || e.RetryAfter != approval.DefaultPolicy.TTL {
		t.Fatalf("retry %+v, want when the oldest expires", e)
	}
	if _, err := w.decide(b, first, false, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Start(ctx, "req-1", pw, "Firefox", session); err != nil {
		t.Fatalf("after a denial: %v", err)
	}
}
