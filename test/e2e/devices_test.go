package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	netmail "net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	mailnotify "github.com/pforte-id/pforte/adapters/notify/mail"
	"github.com/pforte-id/pforte/adapters/notify/mail/mailtest"
	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/throttle"
)

// Device binding and the release PIN over the app API, as the Service-App
// drives them after the letter registration: the app asks for creation
// options, the platform authenticator (here the reference client's
// software P-256 authenticator) makes the key and its attestation, the app
// sends the answer, the member chooses the PIN, and the account becomes
// active. Afterwards every device request carries a proof: an assertion
// by the bound key over a fresh challenge and the PIN.

// ---- the member's phone ----

// phone is the Service-App on one phone: the authenticator holding the
// device key, the binding the server made of it, and the member's PIN.
type phone struct {
	auth    *authenticator.Authenticator
	binding string
	name    string
	pin     string
	// assert is applied to every assertion (authenticator.Counter(0) for
	// a key that does not count signatures).
	assert []authenticator.Option
}

// devicePassword is the own password members in these tests choose.
const devicePassword = "Seehund-Leuchtfeuer-Krabbenkutter"

// origin is the WebAuthn origin the app's client reports for in: the
// relying party of a loopback issuer is localhost (cmd/pforte/server).
func (in *instance) origin(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(in.issuer)
	if err != nil {
		t.Fatal(err)
	}
	return "http://localhost:" + u.Port()
}

func bearerHeader(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// challengeOf checks a 201 challenge answer and returns its id and the
// WebAuthn options.
func challengeOf(t *testing.T, r result) (string, []byte) {
	t.Helper()
	if r.status != http.StatusCreated {
		t.Fatalf("challenge: status %d, want 201: %s", r.status, r.body)
	}
	var body struct {
		ID        string          `json:"challenge_id"`
		Options   json.RawMessage `json:"options"`
		ExpiresIn int             `json:"expires_in"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("challenge answer: %v: %s", err, r.body)
	}
	if len(body.ID) < 16 || len(body.Options) == 0 || body.ExpiresIn != int(device.ChallengeTTL/time.Second) {
		t.Fatalf("challenge answer: %s", r.body)
	}
	return body.ID, body.Options
}

// bindingChallenge asks for creation options, authenticated by header
// (the enrollment token's, usually).
func (in *instance) bindingChallenge(t *testing.T, header map[string]string) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/enrollment/device/challenge", "", header)
}

// bindDevice sends the authenticator's registration response.
func (in *instance) bindDevice(t *testing.T, token, challengeID string, response []byte, name, platform string) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/enrollment/device", map[string]any{
		"challenge_id": challengeID, "response": json.RawMessage(response), "name": name, "platform": platform,
	}, bearerHeader(token))
}

// setPIN sets the release PIN in the enrollment session of token.
func (in *instance) setPIN(t *testing.T, token, p string) result {
	t.Helper()
	return sendJSON(t, http.MethodPut, in.base+"/app/v1/enrollment/pin", map[string]string{"pin": p}, bearerHeader(token))
}

// register makes a new key for the creation options of a fresh challenge
// and returns the challenge id and the registration response.
func (in *instance) register(t *testing.T, token string, a *authenticator.Authenticator, opts ...authenticator.Option) (string, []byte) {
	t.Helper()
	id, options := challengeOf(t, in.bindingChallenge(t, bearerHeader(token)))
	resp, err := a.Register(options, in.origin(t), opts...)
	if err != nil {
		t.Fatalf("authenticator: %v", err)
	}
	return id, resp
}

// bindPhone binds a new phone called name in the session of token.
func (in *instance) bindPhone(t *testing.T, token, name string) *phone {
	t.Helper()
	a, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	id, resp := in.register(t, token, a)
	r := in.bindDevice(t, token, id, resp, name, "software")
	if r.status != http.StatusCreated {
		t.Fatalf("bind device: status %d, want 201: %s", r.status, r.body)
	}
	var d struct {
		ID, Name, Platform, Status string
	}
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatal(err)
	}
	if d.ID == "" || d.Name != name || d.Platform != "software" || d.Status != "active" {
		t.Fatalf("bind device: %s", r.body)
	}
	return &phone{auth: a, binding: d.ID, name: name}
}

// wantActive checks the answer to the PIN that completes an enrollment.
func wantActive(t *testing.T, r result) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("set PIN: status %d, want 200: %s", r.status, r.body)
	}
	if m := r.json(t); m["account_status"] != "active" {
		t.Fatalf("set PIN: %s", r.body)
	}
}

// readyToBind orders m's letter on a new server, activates it and sets
// the password: the enrollment session waits for the device.
func (w *world) readyToBind(t *testing.T, eng engine, m member.Member, opts ...startOption) (*instance, string) {
	t.Helper()
	in, lp := w.letterOrdered(t, eng, m, opts...)
	token := enrollmentToken(t, in.activate(t, m.KVNR.String(), lp.initialPassword, lp.code))
	in.passwordSet(t, token)
	return in, token
}

// passwordSet sets devicePassword in the enrollment session of token.
func (in *instance) passwordSet(t *testing.T, token string) {
	t.Helper()
	if r := in.setPassword(t, token, devicePassword); r.status != http.StatusNoContent {
		t.Fatalf("set password: status %d: %s", r.status, r.body)
	}
}

// enrolled is a member who completed the enrollment with one phone.
type enrolled struct {
	in    *instance
	m     member.Member
	token string // the (completed) enrollment session's
	phone *phone
}

// enroll runs the whole enrollment of m on a new server started with opts:
// letter, activation, password, one phone bound with PIN p.
func (w *world) enroll(t *testing.T, eng engine, m member.Member, p string, opts ...startOption) enrolled {
	t.Helper()
	in, lp := w.letterOrdered(t, eng, m, opts...)
	token := enrollmentToken(t, in.activate(t, m.KVNR.String(), lp.initialPassword, lp.code))
	in.passwordSet(t, token)
	ph := in.bindPhone(t, token, "Telefon von "+m.GivenName)
	wantActive(t, in.setPIN(t, token, p))
	ph.pin = p
	return enrolled{in: in, m: m, token: token, phone: ph}
}

// deviceChallenge asks for a challenge for binding id.
func (in *instance) deviceChallenge(t *testing.T, id string) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/devices/"+url.PathEscape(id)+"/challenge", "", nil)
}

// answer signs challenge id (with options) with ph's key and adds PIN p:
// the proof of a device management request.
func (ph *phone) answer(t *testing.T, in *instance, id string, options []byte, p string, opts ...authenticator.Option) map[string]any {
	t.Helper()
	a, err := ph.auth.Assert(options, in.origin(t), append(slices.Clone(ph.assert), opts...)...)
	if err != nil {
		t.Fatalf("authenticator: %v", err)
	}
	return map[string]any{"challenge_id": id, "assertion": json.RawMessage(a), "pin": p}
}

// proof fetches a fresh challenge for ph and answers it with PIN p.
func (in *instance) proof(t *testing.T, ph *phone, p string, opts ...authenticator.Option) map[string]any {
	t.Helper()
	id, options := challengeOf(t, in.deviceChallenge(t, ph.binding))
	return ph.answer(t, in, id, options, p, opts...)
}

// manage posts a device management request with proof to path (under
// /app/v1/devices).
func (in *instance) manage(t *testing.T, path string, proof map[string]any) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/devices"+path, map[string]any{"proof": proof}, nil)
}

// listed is a device as POST /devices/list shows it.
type listed struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Platform   string     `json:"platform"`
	Status     string     `json:"status"`
	PINSet     bool       `json:"pin_set"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Current    bool       `json:"current"`
}

// devices lists the member's devices with a proof by ph.
func (in *instance) devices(t *testing.T, ph *phone) []listed {
	t.Helper()
	r := in.manage(t, "/list", in.proof(t, ph, ph.pin))
	if r.status != http.StatusOK {
		t.Fatalf("list devices: status %d: %s", r.status, r.body)
	}
	var body struct {
		Devices []listed `json:"devices"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"public_key", "pin_hash", "credential_id", "sign_count"} {
		if strings.Contains(string(r.body), field) {
			t.Errorf("the device list shows %s: %s", field, r.body)
		}
	}
	return body.Devices
}

// resetPIN sets a new PIN with the password and a fresh assertion by ph.
func (in *instance) resetPIN(t *testing.T, ph *phone, pw, newPIN string) result {
	t.Helper()
	id, options := challengeOf(t, in.deviceChallenge(t, ph.binding))
	a, err := ph.auth.Assert(options, in.origin(t), ph.assert...)
	if err != nil {
		t.Fatal(err)
	}
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/pin/reset", map[string]any{
		"challenge_id": id, "assertion": json.RawMessage(a), "password": pw, "new_pin": newPIN,
	}, nil)
}

// stored reads binding id from the store.
func (in *instance) stored(t *testing.T, id string) device.Binding {
	t.Helper()
	b, err := in.srv.Store().BindingByID(t.Context(), id)
	if err != nil {
		t.Fatalf("binding %s: %v", id, err)
	}
	return b
}

func (in *instance) account(t *testing.T, m member.Member) account.Account {
	t.Helper()
	a, err := in.srv.Store().AccountByKVNR(t.Context(), m.KVNR)
	if err != nil {
		t.Fatalf("account of %s: %v", m.KVNR, err)
	}
	return a
}

// auditKinds counts the account's audit events by kind.
func (in *instance) auditKinds(t *testing.T, accountID string) (map[audit.Kind]int, []audit.Event) {
	t.Helper()
	events, err := in.srv.Store().AuditEvents(t.Context(), accountID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := map[audit.Kind]int{}
	for _, e := range events {
		n[e.Kind]++
	}
	return n, events
}

// pinPattern matches the six digits of p not inside a longer number (log
// times carry nanoseconds, which may contain any six digits).
func pinPattern(p string) *regexp.Regexp {
	return regexp.MustCompile(`(^|[^0-9])` + regexp.QuoteMeta(p) + `([^0-9]|$)`)
}

// wantNoSecrets fails when text (named what) contains one of the PINs or
// one of the other secrets.
func wantNoSecrets(t *testing.T, what, text string, pins []string, secrets ...string) {
	t.Helper()
	for _, p := range pins {
		if pinPattern(p).MatchString(text) {
			t.Errorf("%s contains a PIN", what)
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%.4s…)", what, s)
		}
	}
}

// wantPINHeaders checks the attempt headers of a PIN problem; retry is
// the expected Retry-After (0: none).
func wantPINHeaders(t *testing.T, r result, remaining int, retry time.Duration, now time.Time) {
	t.Helper()
	if got := r.header.Get("Pforte-PIN-Attempts-Remaining"); got != strconv.Itoa(remaining) {
		t.Errorf("Pforte-PIN-Attempts-Remaining = %q, want %d", got, remaining)
	}
	ra, at := r.header.Get("Retry-After"), r.header.Get("Pforte-PIN-Retry-At")
	if retry == 0 {
		if ra != "" || at != "" {
			t.Errorf("Retry-After %q, Pforte-PIN-Retry-At %q; want neither", ra, at)
		}
		return
	}
	secs, err := strconv.Atoi(ra)
	if want := int(retry / time.Second); err != nil || secs < want-1 || secs > want {
		t.Errorf("Retry-After = %q, want %d seconds (the server's clock)", ra, want)
	}
	if want := now.Add(retry).UTC().Format(time.RFC3339); at != want {
		t.Errorf("Pforte-PIN-Retry-At = %q, want %s", at, want)
	}
}

// ---- an SMTP relay in the test ----

// mailRelay is a real SMTP server (github.com/emersion/go-smtp) on a
// loopback port that keeps what it receives.
type mailRelay struct {
	port int
	mu   sync.Mutex
	msgs []relayed
}

// relayed is one message as received and decoded.
type relayed struct {
	from    string
	to      []string
	raw     string
	subject string
	body    string
	header  netmail.Header
}

func startMailRelay(t *testing.T) *mailRelay {
	t.Helper()
	r := &mailRelay{}
	r.port = mailtest.Serve(t, "", r, nil)
	return r
}

// notifier is the SMTP notifier of the server, sending through r.
func (r *mailRelay) notifier(t *testing.T) startOption {
	t.Helper()
	n, err := mailnotify.New(mailnotify.Config{
		Host: "127.0.0.1", Port: r.port, From: "Pforte Test-BKK <no-reply@test-bkk.example>",
		StartTLS: mailnotify.StartTLSNone, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return func(o *server.Options) { o.Notifier = n }
}

func (r *mailRelay) NewSession(*smtp.Conn) (smtp.Session, error) { return &relaySession{r: r}, nil }

func (r *mailRelay) messages() []relayed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

type relaySession struct {
	r    *mailRelay
	from string
	to   []string
}

func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *relaySession) Reset()        { s.from, s.to = "", nil }
func (s *relaySession) Logout() error { return nil }

func (s *relaySession) Data(rd io.Reader) error {
	raw, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	m := relayed{from: s.from, to: slices.Clone(s.to), raw: string(raw)}
	// Decoded as a mail program would; what does not decode stays empty
	// and fails the test's checks.
	if msg, err := netmail.ReadMessage(bytes.NewReader(raw)); err == nil {
		m.header = msg.Header
		m.subject, _ = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		var body io.Reader = msg.Body
		if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(msg.Body)
		}
		b, _ := io.ReadAll(body)
		m.body = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.msgs = append(s.r.msgs, m)
	return nil
}

// wantMail checks message m: to the member, plain UTF-8 text, the subject
// and German text expected, in German alone (the requests that caused it
// asked for no language).
func wantMail(t *testing.T, m relayed, to, subject string, german ...string) {
	t.Helper()
	if len(m.to) != 1 || m.to[0] != to {
		t.Errorf("mail %q to %v, want %s", m.subject, m.to, to)
	}
	if m.subject != subject {
		t.Errorf("mail subject %q, want %q", m.subject, subject)
	}
	if ct := m.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || !strings.Contains(strings.ToLower(ct), "utf-8") {
		t.Errorf("mail %q: Content-Type %q", m.subject, ct)
	}
	for _, s := range german {
		if !strings.Contains(m.body, s) {
			t.Errorf("mail %q lacks %q:\n%s", m.subject, s, m.body)
		}
	}
	if strings.Contains(m.body, "\n---\n") || strings.Contains(m.body, "If this was not you") || strings.Contains(m.subject, " / ") ||
		!strings.Contains(m.body, "Wenn Sie das nicht waren") || !strings.HasSuffix(strings.TrimSpace(m.body), "Diese Nachricht wurde automatisch versandt.") {
		t.Errorf("mail %q: not German alone:\n%s", m.subject, m.body)
	}
}

// ---- 1. the whole enrollment, a second phone, a revocation ----

func TestDeviceEnrollmentEndToEnd(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		relay := startMailRelay(t)
		m := applicant("Hilke", "Ahlers", "1973-06-05", w.clock.Now())
		m.Email = "hilke.ahlers@example.org"
		in, first := w.letterOrdered(t, eng, m, relay.notifier(t))

		token1 := enrollmentToken(t, in.activate(t, m.KVNR.String(), first.initialPassword, first.code))
		// The order is password, device, PIN.
		detail := wantProblem(t, in.bindingChallenge(t, bearerHeader(token1)), http.StatusForbidden, "forbidden")
		if !strings.Contains(detail, "zuerst Ihr Passwort") {
			t.Errorf("device before password: %q", detail)
		}
		wantProblem(t, in.setPIN(t, token1, "583920"), http.StatusForbidden, "forbidden")
		in.passwordSet(t, token1)

		// The creation options are for the relying party localhost, a
		// platform key with ES256, and do not show the member number.
		id, options := challengeOf(t, in.bindingChallenge(t, bearerHeader(token1)))
		var pk struct {
			RP struct {
				ID string `json:"id"`
			} `json:"rp"`
			User struct {
				Name string `json:"name"`
			} `json:"user"`
			Challenge string `json:"challenge"`
			Params    []struct {
				Alg int `json:"alg"`
			} `json:"pubKeyCredParams"`
			Selection struct {
				Attachment string `json:"authenticatorAttachment"`
			} `json:"authenticatorSelection"`
		}
		if err := json.Unmarshal(options, &pk); err != nil {
			t.Fatal(err)
		}
		if pk.RP.ID != "localhost" || len(pk.Challenge) < 43 || len(pk.Params) != 1 || pk.Params[0].Alg != -7 ||
			pk.Selection.Attachment != "platform" || strings.Contains(pk.User.Name, m.KVNR.String()[1:7]) {
			t.Errorf("creation options: %s", options)
		}
		a1, err := authenticator.New()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := a1.Register(options, in.origin(t))
		if err != nil {
			t.Fatal(err)
		}
		r := in.bindDevice(t, token1, id, resp, "Hilkes Pixel 8", "software")
		if r.status != http.StatusCreated {
			t.Fatalf("bind: %d %s", r.status, r.body)
		}
		var bound struct{ ID, Status string }
		if err := json.Unmarshal(r.body, &bound); err != nil || bound.ID == "" || bound.Status != "active" {
			t.Fatalf("bind: %s", r.body)
		}
		ph1 := &phone{auth: a1, binding: bound.ID, name: "Hilkes Pixel 8", pin: "583920"}
		// Bound, but without a PIN the account is not active yet and the
		// key cannot authenticate.
		if a := in.account(t, m); a.Status != account.Pending {
			t.Fatalf("account %s after binding, want pending", a.Status)
		}
		wantProblem(t, in.deviceChallenge(t, ph1.binding), http.StatusForbidden, "forbidden")

		wantActive(t, in.setPIN(t, token1, ph1.pin))
		acct := in.account(t, m)
		if acct.Status != account.Active || !acct.CanLogIn() {
			t.Fatalf("account %s after the PIN, want active", acct.Status)
		}
		b1 := in.stored(t, ph1.binding)
		if b1.Status != device.Active || b1.AccountID != acct.ID || b1.PINHash == "" || b1.PINSetAt.IsZero() ||
			!strings.HasPrefix(b1.PINHash, "v1:") || pinPattern(ph1.pin).MatchString(b1.PINHash) ||
			b1.AttestationFormat != "packed" || b1.Platform != device.Software || b1.Name != ph1.name {
			t.Errorf("stored binding %+v", b1)
		}

		ds := in.devices(t, ph1)
		if len(ds) != 1 || ds[0].ID != ph1.binding || !ds[0].Current || !ds[0].PINSet || ds[0].Status != "active" ||
			ds[0].LastUsedAt == nil || !ds[0].LastUsedAt.Equal(w.clock.Now()) {
			t.Fatalf("devices after the first enrollment: %+v", ds)
		}

		// Eight days later the member gets a new phone and orders a new
		// letter: a second enrollment on the same account.
		w.clock.Advance(8 * 24 * time.Hour)
		accepted(t, in.requestLetter(t, m.KVNR.String(), m.BirthDate, nil))
		in.wantWork(t, 1, 1)
		second := w.readLetter(t, in, m.KVNR)
		token2 := enrollmentToken(t, in.activate(t, m.KVNR.String(), second.initialPassword, second.code))
		if a := in.account(t, m); a.ID != acct.ID || a.Status != account.Active {
			t.Fatalf("the second activation changed the account: %+v", a)
		}
		in.passwordSet(t, token2)
		// The first phone's key is excluded: the same phone is not bound twice.
		if _, err := a1.Register(challengeOptions(t, in, token2), in.origin(t)); err == nil || !strings.Contains(err.Error(), "exclude") {
			t.Errorf("the first key registered again in the second enrollment: %v", err)
		}
		ph2 := in.bindPhone(t, token2, "Hilkes Tablet")
		ph2.pin = "907153"
		// This member's app asks for English: the mail this step causes is English.
		wantActive(t, sendJSON(t, http.MethodPut, in.base+"/app/v1/enrollment/pin", map[string]string{"pin": ph2.pin},
			map[string]string{"Authorization": "Bearer " + token2, "Accept-Language": "en"}))

		ds = in.devices(t, ph2)
		if len(ds) != 2 || ds[0].ID != ph1.binding || ds[1].ID != ph2.binding || ds[0].Current || !ds[1].Current ||
			ds[1].Name != "Hilkes Tablet" || !ds[0].CreatedAt.Before(ds[1].CreatedAt) {
			t.Fatalf("devices after the second enrollment: %+v", ds)
		}

		// The new phone holds a challenge when the old one revokes it.
		pendingID, pendingOptions := challengeOf(t, in.deviceChallenge(t, ph2.binding))
		if r := in.manage(t, "/"+ph2.binding+"/revoke", in.proof(t, ph1, ph1.pin)); r.status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		wantProblem(t, in.manage(t, "/list", ph2.answer(t, in, pendingID, pendingOptions, ph2.pin)), http.StatusForbidden, "forbidden")
		wantProblem(t, in.deviceChallenge(t, ph2.binding), http.StatusForbidden, "forbidden")
		if b := in.stored(t, ph2.binding); b.Status != device.Revoked || !b.RevokedAt.Equal(w.clock.Now()) {
			t.Errorf("revoked binding %+v", b)
		}
		if ds := in.devices(t, ph1); len(ds) != 1 || ds[0].ID != ph1.binding {
			t.Errorf("devices after the revocation: %+v", ds)
		}

		// The member was told of each change, in German first.
		msgs := relay.messages()
		if len(msgs) != 5 {
			for _, m := range msgs {
				t.Logf("mail: %s", m.subject)
			}
			t.Fatalf("%d mails, want 5 (two bindings, two completions, one revocation)", len(msgs))
		}
		const notMe = "Wenn Sie das nicht waren, melden Sie sich bitte sofort bei Ihrer Krankenkasse"
		wantMail(t, msgs[0], m.Email, "Neues Gerät verbunden",
			"Das Gerät „Hilkes Pixel 8“ wurde am", "mit Ihrem Zugang verbunden", notMe)
		wantMail(t, msgs[1], m.Email, "Registrierung abgeschlossen",
			"die Freigabe-PIN festgelegt; Ihre Registrierung ist abgeschlossen", notMe)
		wantMail(t, msgs[2], m.Email, "Neues Gerät verbunden", "Das Gerät „Hilkes Tablet“ wurde am")
		if e := msgs[3]; len(e.to) != 1 || e.to[0] != m.Email || e.subject != "Registration completed" || !strings.Contains(e.body, "The release PIN for the device “Hilkes Tablet” was set on") ||
			!strings.Contains(e.body, "If this was not you") || strings.Contains(e.body, "Sie") {
			t.Errorf("mail of the English request: %q\n%s", e.subject, e.body)
		}
		wantMail(t, msgs[4], m.Email, "Gerät entfernt",
			"Das Gerät „Hilkes Tablet“ wurde am", "von Ihrem Zugang entfernt; es kann sich nicht mehr anmelden")
		pins := []string{ph1.pin, ph2.pin}
		secrets := []string{token1, token2, devicePassword, first.code, second.code, first.initialPassword, second.initialPassword}
		for _, msg := range msgs {
			if msg.header.Get("From") == "" || !strings.Contains(msg.from, "no-reply@test-bkk.example") {
				t.Errorf("mail from %q", msg.from)
			}
			wantNoSecrets(t, "mail "+msg.subject, msg.raw+msg.body, pins, secrets...)
		}

		kinds, events := in.auditKinds(t, acct.ID)
		for kind, n := range map[audit.Kind]int{
			audit.DeviceBound: 2, audit.PINSet: 2, audit.EnrollmentCompleted: 2, audit.DeviceRevoked: 1,
		} {
			if kinds[kind] != n {
				t.Errorf("audit: %d × %s, want %d", kinds[kind], kind, n)
			}
		}
		wantCleanAudit(t, events, pins, secrets...)
		wantNoSecrets(t, "the server log", in.logs.String(), pins, secrets...)
	})
}

// challengeOptions returns the creation options of a fresh challenge.
func challengeOptions(t *testing.T, in *instance, token string) []byte {
	t.Helper()
	_, options := challengeOf(t, in.bindingChallenge(t, bearerHeader(token)))
	return options
}

// wantCleanAudit checks that the device events among events are the app
// API's and hold no PIN, no secret and no client address in clear.
func wantCleanAudit(t *testing.T, events []audit.Event, pins []string, secrets ...string) {
	t.Helper()
	for _, e := range events {
		raw, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		wantNoSecrets(t, "audit event "+string(e.Kind), string(raw), pins, secrets...)
		if strings.Contains(string(raw), "127.0.0.1") {
			t.Errorf("audit event %s holds the client address: %s", e.Kind, raw)
		}
		if !strings.HasPrefix(string(e.Kind), "device.") && !strings.HasPrefix(string(e.Kind), "pin.") &&
			e.Kind != audit.EnrollmentCompleted {
			continue
		}
		actor := audit.Member
		if e.Kind == audit.DeviceSuspect {
			actor = audit.System
		}
		if e.ClientID != "app-api" || e.AccountID == "" || e.Time.IsZero() || e.Actor != actor || e.ID == "" {
			t.Errorf("audit event %+v", e)
		}
	}
}

// ---- 2. attestation ----

func TestDeviceBindingRefusesSyncedPasskeys(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Rieke", "Bohlen", "1990-10-02", w.clock.Now())
		in, token := w.readyToBind(t, eng, m)
		for name, opt := range map[string]authenticator.Option{
			"backup eligible": authenticator.BackupEligible(),
			"backed up":       authenticator.BackedUp(),
		} {
			a, err := authenticator.New()
			if err != nil {
				t.Fatal(err)
			}
			id, resp := in.register(t, token, a, opt)
			detail := wantProblem(t, in.bindDevice(t, token, id, resp, "Passkey", "software"), http.StatusForbidden, "forbidden")
			if !strings.Contains(detail, "Synchronisierte Passkeys sind keine Gerätebindung") {
				t.Errorf("%s: detail %q", name, detail)
			}
		}
		if bs, err := in.srv.Store().ListBindings(t.Context(), in.account(t, m).ID); err != nil || len(bs) != 0 {
			t.Fatalf("bindings after refused passkeys: %+v %v", bs, err)
		}
		// The session goes on with a key that stays on the phone.
		ph := in.bindPhone(t, token, "Riekes Telefon")
		wantActive(t, in.setPIN(t, token, "270418"))
		if b := in.stored(t, ph.binding); b.Status != device.Active {
			t.Errorf("binding %+v", b)
		}
	})
}

// production is the attestation policy of production: only the insurer's
// Android app with hardware-backed keys; no self attestation, no "none".
func production(o *server.Options) {
	o.Binding.Device = device.Policy{
		AndroidPackage:     "de.testbkk.serviceapp",
		AndroidCertDigests: []string{strings.Repeat("5a", 32)},
	}
}

func TestDeviceBindingProductionPolicy(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Gesche", "Lübben", "1984-01-20", w.clock.Now())
		in, lp := w.letterOrdered(t, eng, m, production)
		token := enrollmentToken(t, in.activate(t, m.KVNR.String(), lp.initialPassword, lp.code))
		in.passwordSet(t, token)
		a, err := authenticator.New()
		if err != nil {
			t.Fatal(err)
		}
		// The reference client's platform is for development only.
		id, resp := in.register(t, token, a, authenticator.Format(authenticator.FormatPacked))
		wantProblem(t, in.bindDevice(t, token, id, resp, "Software", "software"), http.StatusBadRequest, "invalid")
		// Claiming to be Android does not make a self-attested key one.
		detail := wantProblem(t, in.bindDevice(t, token, id, resp, "Gesches Telefon", "android"), http.StatusForbidden, "forbidden")
		if !strings.Contains(detail, "Selbst-Attestierung ist nur in der Entwicklung erlaubt") {
			t.Errorf("self attestation: detail %q", detail)
		}
		id, resp = in.register(t, token, a, authenticator.Format(authenticator.FormatNone))
		detail = wantProblem(t, in.bindDevice(t, token, id, resp, "Gesches Telefon", "android"), http.StatusForbidden, "forbidden")
		if !strings.Contains(detail, "ohne Attestierung ist nur in der Entwicklung erlaubt") {
			t.Errorf("no attestation: detail %q", detail)
		}
		if bs, err := in.srv.Store().ListBindings(t.Context(), in.account(t, m).ID); err != nil || len(bs) != 0 {
			t.Fatalf("bindings after refused keys: %+v %v", bs, err)
		}
		wantProblem(t, in.setPIN(t, token, "270418"), http.StatusForbidden, "forbidden")
		if a := in.account(t, m); a.Status != account.Pending {
			t.Errorf("account %s, want pending", a.Status)
		}
		if logs := in.logs.String(); !strings.Contains(logs, "device key refused") || !strings.Contains(logs, "device.unattested") || !strings.Contains(logs, "device.self_attested") {
			t.Error("the refusal is not logged with its reason")
		}
	})
}

// ---- 3. bad input ----

func TestPINTrivial(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Tade", "Eilers", "1987-09-23", w.clock.Now())
		in, token := w.readyToBind(t, eng, m)
		ph := in.bindPhone(t, token, "Tades Telefon")
		for _, tc := range []struct{ pin, reason string }{
			{"111111", "nicht aus lauter gleichen Ziffern"},
			{"123456", "keine Zahlenfolge"},
			{"987654", "keine Zahlenfolge"},
			{"890123", "keine Zahlenfolge"},
			{"147258", "zu verbreitet"},
			{"121212", "zu verbreitet"},
			{"230987", "nicht Ihr Geburtsdatum"}, // DDMMYY
			{"870923", "nicht Ihr Geburtsdatum"}, // YYMMDD
			{"230919", "nicht Ihr Geburtsdatum"}, // DDMM and the century
		} {
			code := wantProblemInBothLanguages(t, func(h map[string]string) result {
				return sendJSON(t, http.MethodPut, in.base+"/app/v1/enrollment/pin", map[string]string{"pin": tc.pin},
					map[string]string{"Authorization": "Bearer " + token, "Accept-Language": h["Accept-Language"]})
			}, http.StatusBadRequest, "invalid", tc.reason)
			if !strings.HasPrefix(code, "pin.") {
				t.Errorf("PIN %s: code %q", tc.pin, code)
			}
		}
		if b := in.stored(t, ph.binding); b.PINHash != "" {
			t.Fatal("a refused PIN was stored")
		}
		if a := in.account(t, m); a.Status != account.Pending {
			t.Fatalf("account %s after refused PINs", a.Status)
		}
		wantActive(t, in.setPIN(t, token, "583920"))
	})
}

func TestPINFiveAndSevenDigits(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Frerk", "Gronewold", "1975-12-12", w.clock.Now())
		in, token := w.readyToBind(t, eng, m)
		in.bindPhone(t, token, "Frerks Telefon")
		for _, p := range []string{"58392", "5839201", "", "0583920"} {
			detail := wantProblem(t, in.setPIN(t, token, p), http.StatusBadRequest, "invalid")
			if !strings.Contains(detail, "genau 6 Ziffern") {
				t.Errorf("PIN %q: detail %q", p, detail)
			}
		}
		wantActive(t, in.setPIN(t, token, "583920"))
	})
}

func TestPINNotDigits(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Meike", "Saathoff", "1969-03-30", w.clock.Now())
		in, token := w.readyToBind(t, eng, m)
		in.bindPhone(t, token, "Meikes Telefon")
		for _, p := range []string{"58392a", "５８３９２０", "58 392", " 58392", "58392\n", "-58392", "5839.2", "٥٨٣٩٢٠"} {
			detail := wantProblem(t, in.setPIN(t, token, p), http.StatusBadRequest, "invalid")
			if !strings.Contains(detail, "genau 6 Ziffern") {
				t.Errorf("PIN %q: detail %q", p, detail)
			}
		}
		// A JSON number is not the PIN's string.
		wantProblem(t, sendJSON(t, http.MethodPut, in.base+"/app/v1/enrollment/pin", `{"pin":583920}`, bearerHeader(token)),
			http.StatusBadRequest, "invalid")
		wantActive(t, in.setPIN(t, token, "583920"))
	})
}

func TestDeviceChallengeReplay(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Onno", "Weerts", "1979-05-14", w.clock.Now())
		in, token := w.readyToBind(t, eng, m)
		a, err := authenticator.New()
		if err != nil {
			t.Fatal(err)
		}
		id, resp := in.register(t, token, a)
		if r := in.bindDevice(t, token, id, resp, "Onnos Telefon", "software"); r.status != http.StatusCreated {
			t.Fatalf("bind: %d %s", r.status, r.body)
		}
		detail := wantProblem(t, in.bindDevice(t, token, id, resp, "Onnos Telefon", "software"), http.StatusUnauthorized, "unauthenticated")
		if !strings.Contains(detail, "schon verwendet") {
			t.Errorf("replayed registration: detail %q", detail)
		}
		wantActive(t, in.setPIN(t, token, "583920"))
		bs, err := in.srv.Store().ListBindings(t.Context(), in.account(t, m).ID)
		if err != nil || len(bs) != 1 {
			t.Fatalf("bindings %+v %v", bs, err)
		}
		ph := &phone{auth: a, binding: bs[0].ID, pin: "583920"}

		// A proof answers once.
		proof := in.proof(t, ph, ph.pin)
		if r := in.manage(t, "/list", proof); r.status != http.StatusOK {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		for range 3 {
			detail = wantProblem(t, in.manage(t, "/list", proof), http.StatusUnauthorized, "unauthenticated")
			if !strings.Contains(detail, "schon verwendet") {
				t.Errorf("replayed proof: detail %q", detail)
			}
		}
		// The same challenge with a wrong PIN: no guess is evaluated.
		proof["pin"] = "750913"
		wantProblem(t, in.manage(t, "/list", proof), http.StatusUnauthorized, "unauthenticated")
		if b := in.stored(t, ph.binding); b.PIN.Failures != 0 || b.SignCount != 1 {
			t.Errorf("after replays: failures %d, sign count %d; want 0 and 1", b.PIN.Failures, b.SignCount)
		}
	})
}

func TestDeviceChallengeExpired(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Imke", "Tjarks", "1982-07-07", w.clock.Now())
		in, token := w.readyToBind(t, eng, m)
		a, err := authenticator.New()
		if err != nil {
			t.Fatal(err)
		}
		id, resp := in.register(t, token, a)
		w.clock.Advance(device.ChallengeTTL + time.Second)
		detail := wantProblem(t, in.bindDevice(t, token, id, resp, "Imkes Telefon", "software"), http.StatusGone, "expired")
		if !strings.Contains(detail, "abgelaufen") {
			t.Errorf("expired registration challenge: detail %q", detail)
		}
		// The enrollment session (30 minutes) goes on with a fresh challenge.
		ph := in.bindPhone(t, token, "Imkes Telefon")
		ph.pin = "583920"
		wantActive(t, in.setPIN(t, token, ph.pin))

		// Two challenges at once: one answered just in time, one too late.
		early := in.proof(t, ph, ph.pin)
		late := in.proof(t, ph, ph.pin)
		w.clock.Advance(device.ChallengeTTL - time.Second)
		if r := in.manage(t, "/list", early); r.status != http.StatusOK {
			t.Fatalf("list just in time: %d %s", r.status, r.body)
		}
		w.clock.Advance(time.Second)
		detail = wantProblem(t, in.manage(t, "/list", late), http.StatusGone, "expired")
		if !strings.Contains(detail, "abgelaufen") {
			t.Errorf("expired device challenge: detail %q", detail)
		}
		// Too late even once, it is gone.
		wantProblem(t, in.manage(t, "/list", late), http.StatusUnauthorized, "unauthenticated")
		if b := in.stored(t, ph.binding); b.PIN.Failures != 0 {
			t.Errorf("failures %d after an expired challenge", b.PIN.Failures)
		}
	})
}

func TestDeviceAssertionByAnotherKey(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Jelto", "Hinrichs", "1993-02-11", w.clock.Now())
		in, token := w.readyToBind(t, eng, m)
		other, err := authenticator.New()
		if err != nil {
			t.Fatal(err)
		}
		// A self attestation signed by another key than the one it carries.
		a, err := authenticator.New()
		if err != nil {
			t.Fatal(err)
		}
		id, resp := in.register(t, token, a, authenticator.Format(authenticator.FormatPacked), authenticator.SignedBy(other))
		wantProblem(t, in.bindDevice(t, token, id, resp, "Jeltos Telefon", "software"), http.StatusUnauthorized, "unauthenticated")
		ph := in.bindPhone(t, token, "Jeltos Telefon")
		ph.pin = "583920"
		wantActive(t, in.setPIN(t, token, ph.pin))

		for name, opt := range map[string]authenticator.Option{
			"signed by another key": authenticator.SignedBy(other),
			"corrupt signature":     authenticator.CorruptSignature(),
			"another relying party": authenticator.RPID("evil.example"),
		} {
			detail := wantProblem(t, in.manage(t, "/list", in.proof(t, ph, ph.pin, opt)), http.StatusUnauthorized, "unauthenticated")
			if detail == "" {
				t.Errorf("%s: no detail", name)
			}
		}
		// A wrong PIN behind a forged signature is never compared.
		wantProblem(t, in.manage(t, "/list", in.proof(t, ph, "750913", authenticator.SignedBy(other))), http.StatusUnauthorized, "unauthenticated")
		if b := in.stored(t, ph.binding); b.PIN.Failures != 0 || b.Status != device.Active {
			t.Errorf("after forged assertions: %+v", b.PIN)
		}
		if ds := in.devices(t, ph); len(ds) != 1 {
			t.Errorf("devices %+v", ds)
		}
	})
}

func TestDeviceCounterRollback(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		relay := startMailRelay(t)
		m := applicant("Wübbo", "Janssen", "1971-11-08", w.clock.Now())
		m.Email = "wuebbo@example.org"
		e := w.enroll(t, eng, m, "583920", relay.notifier(t))
		in, ph := e.in, e.phone
		in.devices(t, ph)
		in.devices(t, ph)
		if b := in.stored(t, ph.binding); b.SignCount != 2 {
			t.Fatalf("sign count %d after two proofs, want 2", b.SignCount)
		}
		held, heldOptions := challengeOf(t, in.deviceChallenge(t, ph.binding))
		// A copy of the key answers with its own, older counter.
		wantProblem(t, in.manage(t, "/list", in.proof(t, ph, ph.pin, authenticator.Counter(1))), http.StatusForbidden, "forbidden")
		b := in.stored(t, ph.binding)
		if b.Status != device.Suspect || b.SignCount != 2 {
			t.Fatalf("after the rollback: status %s, sign count %d; want suspect, 2", b.Status, b.SignCount)
		}
		// The phone itself answers correctly (counter 3) and is refused
		// too: which copy is the member's is not known.
		wantProblem(t, in.manage(t, "/list", ph.answer(t, in, held, heldOptions, ph.pin)), http.StatusForbidden, "forbidden")
		wantProblem(t, in.deviceChallenge(t, ph.binding), http.StatusForbidden, "forbidden")

		kinds, events := in.auditKinds(t, in.account(t, m).ID)
		if kinds[audit.DeviceSuspect] != 1 {
			t.Errorf("audit: %d × device.suspect, want 1", kinds[audit.DeviceSuspect])
		}
		for _, ev := range events {
			if ev.Kind == audit.DeviceSuspect && (ev.Detail["stored_count"] != "2" || ev.Detail["reported_count"] != "1") {
				t.Errorf("device.suspect %+v", ev.Detail)
			}
		}
		msgs := relay.messages()
		if len(msgs) != 3 {
			t.Fatalf("%d mails, want 3", len(msgs))
		}
		wantMail(t, msgs[2], m.Email, "Gerät aus Sicherheitsgründen gesperrt",
			"als gäbe es eine Kopie seines Schlüssels")
	})
}

func TestDeviceBindingOutsideEnrollment(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Eilt", "Cassens", "1966-04-04", w.clock.Now())
		in, token := w.readyToBind(t, eng, m)
		a, err := authenticator.New()
		if err != nil {
			t.Fatal(err)
		}
		id, resp := in.register(t, token, a)
		body := map[string]any{"challenge_id": id, "response": json.RawMessage(resp), "name": "Eilts Telefon", "platform": "software"}
		for _, h := range []map[string]string{
			nil,
			{"Authorization": "Bearer " + randomHex(32)},
			{"Authorization": "Bearer"},
			{"Authorization": "Basic " + token},
			{"Authorization": "Bearer " + strings.Repeat("A", 600)},
		} {
			for _, r := range []result{
				in.bindingChallenge(t, h),
				sendJSON(t, http.MethodPost, in.base+"/app/v1/enrollment/device", body, h),
				sendJSON(t, http.MethodPut, in.base+"/app/v1/enrollment/pin", map[string]string{"pin": "583920"}, h),
			} {
				wantProblem(t, r, http.StatusUnauthorized, "unauthenticated")
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 without WWW-Authenticate: %v", r.header)
				}
			}
		}

		// Another member's enrollment session cannot use this session's
		// challenge.
		m2 := applicant("Tomke", "Cassens", "1967-05-05", w.clock.Now())
		in.importMembers(t, m2)
		accepted(t, in.requestLetter(t, m2.KVNR.String(), m2.BirthDate, nil))
		in.wantWork(t, 1, 1)
		l2 := w.readLetter(t, in, m2.KVNR)
		token2 := enrollmentToken(t, in.activate(t, m2.KVNR.String(), l2.initialPassword, l2.code))
		in.passwordSet(t, token2)
		detail := wantProblem(t, in.bindDevice(t, token2, id, resp, "Tomkes Telefon", "software"), http.StatusUnauthorized, "unauthenticated")
		if !strings.Contains(detail, "gehört nicht zu dieser Registrierung") {
			t.Errorf("challenge of another session: detail %q", detail)
		}
		// … and it is used up by the attempt.
		wantProblem(t, in.bindDevice(t, token, id, resp, "Eilts Telefon", "software"), http.StatusUnauthorized, "unauthenticated")
		if bs, err := in.srv.Store().ListBindings(t.Context(), in.account(t, m2).ID); err != nil || len(bs) != 0 {
			t.Fatalf("bindings of the other member: %+v %v", bs, err)
		}

		// After completion the session binds nothing more.
		ph := in.bindPhone(t, token, "Eilts Telefon")
		wantActive(t, in.setPIN(t, token, "583920"))
		for _, r := range []result{
			in.bindingChallenge(t, bearerHeader(token)),
			in.bindDevice(t, token, id, resp, "Noch ein Telefon", "software"),
			in.setPIN(t, token, "264813"),
			in.setPassword(t, token, "Ebbe-und-Flut-am-Deich"),
		} {
			wantProblem(t, r, http.StatusGone, "expired")
		}
		if bs, err := in.srv.Store().ListBindings(t.Context(), in.account(t, m).ID); err != nil || len(bs) != 1 || bs[0].ID != ph.binding {
			t.Fatalf("bindings after completion: %+v %v", bs, err)
		}
		// An expired session, too.
		w.clock.Advance(31 * time.Minute)
		wantProblem(t, in.bindingChallenge(t, bearerHeader(token2)), http.StatusGone, "expired")
	})
}

func TestPINSetTwice(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Hauke", "Haien", "1958-08-18", w.clock.Now())
		e := w.enroll(t, eng, m, "583920")
		in := e.in
		before := in.stored(t, e.phone.binding)
		for _, p := range []string{"264813", "583920"} {
			detail := wantProblem(t, in.setPIN(t, e.token, p), http.StatusGone, "expired")
			if !strings.Contains(detail, "abgelaufen") {
				t.Errorf("second PIN: detail %q", detail)
			}
		}
		after := in.stored(t, e.phone.binding)
		if after.PINHash != before.PINHash || !after.PINSetAt.Equal(before.PINSetAt) {
			t.Fatal("a second PIN replaced the first")
		}
		kinds, _ := in.auditKinds(t, in.account(t, m).ID)
		if kinds[audit.PINSet] != 1 || kinds[audit.EnrollmentCompleted] != 1 {
			t.Errorf("audit %v", kinds)
		}
		// The first PIN still works, the second was never set.
		in.devices(t, e.phone)
		wantProblem(t, in.manage(t, "/list", in.proof(t, e.phone, "264813")), http.StatusUnauthorized, "unauthenticated")
	})
}

// deviceEndpoints are the JSON endpoints of device binding with a
// well-formed body for binding id and proof.
func deviceEndpoints(id string, proof map[string]any) []struct {
	method, path string
	body         map[string]any
} {
	p := map[string]any{"proof": proof}
	return []struct {
		method, path string
		body         map[string]any
	}{
		{http.MethodPost, "/app/v1/enrollment/device", map[string]any{
			"challenge_id": "x", "response": map[string]any{"id": "y"}, "name": "Telefon", "platform": "software"}},
		{http.MethodPut, "/app/v1/enrollment/pin", map[string]any{"pin": "583920"}},
		{http.MethodPost, "/app/v1/devices/list", p},
		{http.MethodPost, "/app/v1/devices/" + id + "/rename", map[string]any{"proof": proof, "name": "Neuer Name"}},
		{http.MethodPost, "/app/v1/devices/" + id + "/revoke", p},
		{http.MethodPost, "/app/v1/devices/revoke-others", p},
		{http.MethodPost, "/app/v1/pin/reset", map[string]any{
			"challenge_id": proof["challenge_id"], "assertion": proof["assertion"], "password": devicePassword, "new_pin": "264813"}},
	}
}

func TestDeviceAPIOversizedBodies(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Antje", "Ubben", "1977-02-28", w.clock.Now())
		e := w.enroll(t, eng, m, "583920")
		in, ph := e.in, e.phone
		proof := in.proof(t, ph, ph.pin)
		for _, ep := range deviceEndpoints(ph.binding, proof) {
			body := map[string]any{"padding": strings.Repeat("x", 17<<10)}
			for k, v := range ep.body {
				body[k] = v
			}
			raw, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			for _, chunked := range []bool{false, true} {
				var rd io.Reader = bytes.NewReader(raw)
				if chunked {
					rd = unsizedReader{rd}
				}
				req, err := http.NewRequest(ep.method, in.base+ep.path, rd)
				if err != nil {
					t.Fatal(err)
				}
				if chunked {
					req.TransferEncoding = []string{"chunked"}
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+e.token)
				wantProblem(t, do(t, req), http.StatusRequestEntityTooLarge, "invalid")
			}
		}
		// Nothing was evaluated: the proof is still good.
		if r := in.manage(t, "/list", proof); r.status != http.StatusOK {
			t.Fatalf("the proof after oversized requests: %d %s", r.status, r.body)
		}
		if b := in.stored(t, ph.binding); b.PIN.Failures != 0 || b.Status != device.Active || b.Name != ph.name {
			t.Errorf("binding after oversized requests: %+v", b)
		}
	})
}

func TestDeviceAPIUnknownFields(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Gesa", "Meyerhoff", "1985-06-16", w.clock.Now())
		e := w.enroll(t, eng, m, "583920")
		in, ph := e.in, e.phone
		proof := in.proof(t, ph, ph.pin)
		for _, ep := range deviceEndpoints(ph.binding, proof) {
			h := bearerHeader(e.token)
			extra := map[string]any{"sign_count": 0}
			for k, v := range ep.body {
				extra[k] = v
			}
			wantProblem(t, sendJSON(t, ep.method, in.base+ep.path, extra, h), http.StatusBadRequest, "invalid")
			raw, err := json.Marshal(ep.body)
			if err != nil {
				t.Fatal(err)
			}
			wantProblem(t, sendJSON(t, ep.method, in.base+ep.path, string(raw)+"{}", h), http.StatusBadRequest, "invalid")
			wantProblem(t, sendJSON(t, ep.method, in.base+ep.path, string(raw), map[string]string{
				"Authorization": h["Authorization"], "Content-Type": "text/plain"}), http.StatusBadRequest, "invalid")
		}
		// An unknown field inside the proof.
		inner := map[string]any{"status": "active"}
		for k, v := range proof {
			inner[k] = v
		}
		wantProblem(t, in.manage(t, "/list", inner), http.StatusBadRequest, "invalid")
		if r := in.manage(t, "/list", proof); r.status != http.StatusOK {
			t.Fatalf("the proof after refused requests: %d %s", r.status, r.body)
		}
		if b := in.stored(t, ph.binding); b.PIN.Failures != 0 || b.Status != device.Active {
			t.Errorf("binding after refused requests: %+v", b)
		}
	})
}

// ---- 4. PIN lockout ----

func TestPINLockout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		relay := startMailRelay(t)
		m := applicant("Okka", "Renken", "1962-09-01", w.clock.Now())
		m.Email = "okka.renken@example.org"
		e := w.enroll(t, eng, m, "583920", relay.notifier(t))
		in, ph := e.in, e.phone
		const wrong = "750913"
		try := func(p string) result { return in.manage(t, "/list", in.proof(t, ph, p)) }
		failures := func() int { return in.stored(t, ph.binding).PIN.Failures }

		// 1st and 2nd wrong PIN: counted, at once.
		for i, remaining := range []int{4, 3} {
			r := try(wrong)
			detail := wantProblem(t, r, http.StatusUnauthorized, "unauthenticated")
			if !strings.Contains(detail, "Die PIN ist falsch. Verbleibende Versuche: "+strconv.Itoa(remaining)) {
				t.Errorf("wrong PIN %d: detail %q", i+1, detail)
			}
			wantPINHeaders(t, r, remaining, 0, w.clock.Now())
		}
		// 3rd: counted, and the next entry waits a minute.
		r := try(wrong)
		wantProblem(t, r, http.StatusUnauthorized, "unauthenticated")
		wantPINHeaders(t, r, 2, time.Minute, w.clock.Now())
		// At once again: not evaluated, not counted — the right PIN neither.
		w.clock.Advance(10 * time.Second)
		for _, p := range []string{wrong, ph.pin} {
			r = try(p)
			detail := wantProblem(t, r, http.StatusTooManyRequests, "rate_limited")
			if !strings.Contains(detail, "Bitte warten Sie") {
				t.Errorf("early entry: detail %q", detail)
			}
			wantPINHeaders(t, r, 2, 50*time.Second, w.clock.Now())
		}
		if n := failures(); n != 3 {
			t.Fatalf("%d failures after early entries, want 3", n)
		}
		// After the minute: the 4th wrong PIN, then five minutes.
		w.clock.Advance(51 * time.Second)
		r = try(wrong)
		wantProblem(t, r, http.StatusUnauthorized, "unauthenticated")
		wantPINHeaders(t, r, 1, 5*time.Minute, w.clock.Now())
		w.clock.Advance(4 * time.Minute)
		wantProblem(t, try(wrong), http.StatusTooManyRequests, "rate_limited")
		w.clock.Advance(time.Minute)
		// The 5th blocks the device.
		r = try(wrong)
		detail := wantProblem(t, r, http.StatusLocked, "locked")
		if !strings.Contains(detail, "dieses Gerät ist gesperrt") || !strings.Contains(detail, "mit Ihrem Passwort eine neue PIN") {
			t.Errorf("blocked: detail %q", detail)
		}
		wantPINHeaders(t, r, 0, 0, w.clock.Now())
		// Blocked is blocked: the right PIN, an hour later, too.
		wantProblem(t, try(ph.pin), http.StatusLocked, "locked")
		w.clock.Advance(time.Hour)
		wantProblem(t, try(ph.pin), http.StatusLocked, "locked")
		b := in.stored(t, ph.binding)
		if b.Status != device.Blocked || !b.PIN.Blocked || b.PIN.Failures != 5 {
			t.Fatalf("after five wrong PINs: status %s, counter %+v", b.Status, b.PIN)
		}

		// The PIN reset: the bound key and the password.
		wantProblem(t, in.resetPIN(t, ph, "Falsches-Passwort-am-Deich", "264813"), http.StatusUnauthorized, "unauthenticated")
		detail = wantProblem(t, in.resetPIN(t, ph, devicePassword, "123456"), http.StatusBadRequest, "invalid")
		if !strings.Contains(detail, "Zahlenfolge") {
			t.Errorf("trivial new PIN: detail %q", detail)
		}
		wantProblem(t, in.resetPIN(t, ph, devicePassword, "26481"), http.StatusBadRequest, "invalid")
		other, err := authenticator.New()
		if err != nil {
			t.Fatal(err)
		}
		forged := &phone{auth: ph.auth, binding: ph.binding, assert: []authenticator.Option{authenticator.SignedBy(other)}}
		wantProblem(t, in.resetPIN(t, forged, devicePassword, "264813"), http.StatusUnauthorized, "unauthenticated")
		if b := in.stored(t, ph.binding); b.Status != device.Blocked {
			t.Fatalf("a refused reset unblocked the device: %s", b.Status)
		}
		if r := in.resetPIN(t, ph, devicePassword, "264813"); r.status != http.StatusNoContent {
			t.Fatalf("PIN reset: %d %s", r.status, r.body)
		}
		b = in.stored(t, ph.binding)
		if b.Status != device.Active || b.PIN != (pin.Counter{}) {
			t.Fatalf("after the reset: status %s, counter %+v", b.Status, b.PIN)
		}
		old := ph.pin
		ph.pin = "264813"
		// The old PIN is a wrong PIN now; the new one works.
		r = try(old)
		wantProblem(t, r, http.StatusUnauthorized, "unauthenticated")
		wantPINHeaders(t, r, 4, 0, w.clock.Now())
		in.devices(t, ph)
		// A correct PIN resets the counter.
		wantProblem(t, try(wrong), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, try(wrong), http.StatusUnauthorized, "unauthenticated")
		if n := failures(); n != 2 {
			t.Fatalf("%d failures, want 2", n)
		}
		in.devices(t, ph)
		if n := failures(); n != 0 {
			t.Fatalf("%d failures after the right PIN, want 0", n)
		}
		r = try(wrong)
		wantPINHeaders(t, r, 4, 0, w.clock.Now())

		kinds, events := in.auditKinds(t, in.account(t, m).ID)
		for kind, n := range map[audit.Kind]int{
			audit.PINFailed: 4 + 1 + 3, audit.PINLocked: 1, audit.DeviceUnblocked: 1, audit.PINSet: 2,
		} {
			if kinds[kind] != n {
				t.Errorf("audit: %d × %s, want %d", kinds[kind], kind, n)
			}
		}
		pins := []string{old, ph.pin, wrong}
		wantCleanAudit(t, events, pins, e.token, devicePassword)

		msgs := relay.messages()
		if len(msgs) != 4 {
			t.Fatalf("%d mails, want 4 (bound, completed, blocked, PIN reset)", len(msgs))
		}
		wantMail(t, msgs[2], m.Email, "Gerät gesperrt",
			"zu oft falsch eingegeben; das Gerät ist gesperrt", "mit Ihrem Passwort neu festlegen")
		wantMail(t, msgs[3], m.Email, "Freigabe-PIN geändert",
			"mit Ihrem Passwort neu festgelegt", "Die Sperre des Geräts ist damit aufgehoben")
		for _, msg := range msgs {
			wantNoSecrets(t, "mail "+msg.subject, msg.raw+msg.body, pins, devicePassword, e.token)
		}
		wantNoSecrets(t, "the server log", in.logs.String(), pins, devicePassword, e.token)
	})
}

// ---- 5. concurrent wrong PINs ----

func TestConcurrentWrongPINs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Harm", "Fokken", "1980-10-10", w.clock.Now())
		noDelays := func(o *server.Options) { o.Binding.PIN = pin.Policy{MaxFailures: 5, DelayFrom: 3} }
		e := w.enroll(t, eng, m, "583920", noDelays)
		in, ph := e.in, e.phone
		// The key does not count signatures (many platform keys do not):
		// the proofs may arrive in any order without looking like a clone.
		ph.assert = []authenticator.Option{authenticator.Counter(0)}

		const n = 50
		bodies := make([][]byte, n)
		for i := range n {
			b, err := json.Marshal(map[string]any{"proof": in.proof(t, ph, "750913")})
			if err != nil {
				t.Fatal(err)
			}
			bodies[i] = b
		}
		// A client of its own, whose connections are closed afterwards:
		// a connection dialled for the burst but never used would hold up
		// the server's graceful shutdown.
		tr := &http.Transport{MaxIdleConnsPerHost: n}
		defer tr.CloseIdleConnections()
		burst := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			results = make([]result, n)
			errs    = make([]error, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				resp, err := burst.Post(in.base+"/app/v1/devices/list", "application/json", bytes.NewReader(bodies[i]))
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
		statuses := map[int]int{}
		var remaining []string
		for i, r := range results {
			if errs[i] != nil {
				t.Fatalf("request %d: %v", i, errs[i])
			}
			statuses[r.status]++
			switch r.status {
			case http.StatusUnauthorized:
				wantProblem(t, r, http.StatusUnauthorized, "unauthenticated")
				remaining = append(remaining, r.header.Get("Pforte-PIN-Attempts-Remaining"))
			case http.StatusLocked:
				wantProblem(t, r, http.StatusLocked, "locked")
			}
		}
		// Exactly five guesses were compared: four answered "wrong", the
		// fifth blocked the device; every other request found it blocked.
		slices.Sort(remaining)
		if statuses[http.StatusUnauthorized] != 4 || statuses[http.StatusLocked] != n-4 || len(statuses) != 2 ||
			!slices.Equal(remaining, []string{"1", "2", "3", "4"}) {
			t.Fatalf("answers %v, remaining attempts %v; want 4 × 401 (4, 3, 2, 1 left) and %d × 423", statuses, remaining, n-4)
		}
		b := in.stored(t, ph.binding)
		if b.PIN.Failures != 5 || !b.PIN.Blocked || b.Status != device.Blocked || b.SignCount != 0 {
			t.Fatalf("stored: status %s, counter %+v, sign count %d; want blocked after exactly 5", b.Status, b.PIN, b.SignCount)
		}
		kinds, _ := in.auditKinds(t, in.account(t, m).ID)
		if kinds[audit.PINFailed] != 4 || kinds[audit.PINLocked] != 1 {
			t.Errorf("audit: %d × pin.failed, %d × pin.locked; want 4 and 1", kinds[audit.PINFailed], kinds[audit.PINLocked])
		}
		if got := strings.Count(in.logs.String(), `"msg":"PIN wrong"`); got != 4 {
			t.Errorf("%d wrong PINs logged as evaluated, want 4", got)
		}
		wantProblem(t, in.manage(t, "/list", in.proof(t, ph, ph.pin)), http.StatusLocked, "locked")
	})
}

// ---- 6. the audit log ----

func TestDeviceAuditLog(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Tjalde", "Onken", "1991-12-24", w.clock.Now())
		noDelays := func(o *server.Options) { o.Binding.PIN = pin.Policy{MaxFailures: 5, DelayFrom: 3} }
		in, lp := w.letterOrdered(t, eng, m, noDelays)
		token := enrollmentToken(t, in.activate(t, m.KVNR.String(), lp.initialPassword, lp.code))
		in.passwordSet(t, token)
		ph := in.bindPhone(t, token, "Tjaldes Telefon")
		ph.pin = "583920"
		wantActive(t, in.setPIN(t, token, ph.pin))
		const wrong = "750913"
		for range 4 {
			wantProblem(t, in.manage(t, "/list", in.proof(t, ph, wrong)), http.StatusUnauthorized, "unauthenticated")
		}
		wantProblem(t, in.manage(t, "/list", in.proof(t, ph, wrong)), http.StatusLocked, "locked")
		if r := in.resetPIN(t, ph, devicePassword, "264813"); r.status != http.StatusNoContent {
			t.Fatalf("PIN reset: %d %s", r.status, r.body)
		}
		old := ph.pin
		ph.pin = "264813"
		if r := sendJSON(t, http.MethodPost, in.base+"/app/v1/devices/"+ph.binding+"/rename",
			map[string]any{"proof": in.proof(t, ph, ph.pin), "name": "Tjaldes altes Telefon"}, nil); r.status != http.StatusNoContent {
			t.Fatalf("rename: %d %s", r.status, r.body)
		}
		if r := in.manage(t, "/"+ph.binding+"/revoke", in.proof(t, ph, ph.pin)); r.status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}

		acct := in.account(t, m)
		kinds, events := in.auditKinds(t, acct.ID)
		for kind, n := range map[audit.Kind]int{
			audit.DeviceBound: 1, audit.PINSet: 2, audit.EnrollmentCompleted: 1, audit.PINFailed: 4,
			audit.PINLocked: 1, audit.DeviceUnblocked: 1, audit.DeviceRenamed: 1, audit.DeviceRevoked: 1,
		} {
			if kinds[kind] != n {
				t.Errorf("audit: %d × %s, want %d", kinds[kind], kind, n)
			}
		}
		// Each names the binding and carries the hash of the client
		// address: one address, one hash.
		ipHashes := map[string]bool{}
		for _, e := range events {
			if e.Detail["binding"] != ph.binding {
				t.Errorf("audit %s names binding %q, want %s", e.Kind, e.Detail["binding"], ph.binding)
			}
			if e.IPHash == "" {
				t.Errorf("audit %s without the client's IP hash", e.Kind)
			}
			ipHashes[e.IPHash] = true
		}
		if len(ipHashes) != 1 {
			t.Errorf("the events from one address carry %d IP hashes, want 1", len(ipHashes))
		}
		wantCleanAudit(t, events, []string{old, ph.pin, wrong}, token, devicePassword, lp.code, lp.initialPassword,
			strings.ReplaceAll(lp.initialPassword, " ", ""))
	})
}

// TestPINResetPasswordThrottled: the PIN reset's password is throttled by
// the login page's rule and counter: after the free wrong passwords the
// app is told to wait (429, Retry-After, code login.wait, the wait in the
// detail) even for the right password, while the device still logs in
// with its PIN; once the wait is over the reset goes through.
func TestPINResetPasswordThrottled(t *testing.T) {
	w := newWorld(t)
	relay := startMailRelay(t)
	m := applicant("Hinrich", "Ahlers", "1971-04-19", w.clock.Now())
	e := w.enroll(t, sqliteEngine, m, "583920", relay.notifier(t))
	in, ph := e.in, e.phone
	for range throttle.DefaultPolicy.Free + 1 {
		wantProblem(t, in.resetPIN(t, ph, "Falsches-Passwort-am-Deich", "264813"), http.StatusUnauthorized, "unauthenticated")
	}
	r := in.resetPIN(t, ph, devicePassword, "264813")
	detail := wantProblem(t, r, http.StatusTooManyRequests, "rate_limited")
	if code := r.json(t)["code"]; code != "login.wait" || r.header.Get("Retry-After") != "1" ||
		detail != "Zu viele Fehlversuche. Bitte warten Sie 1 Sekunde und versuchen Sie es dann erneut." {
		t.Fatalf("the right password during the delay: code %v, Retry-After %q, detail %q", code, r.header.Get("Retry-After"), detail)
	}
	if r := in.manage(t, "/list", in.proof(t, ph, ph.pin)); r.status != http.StatusOK {
		t.Fatalf("the device with its PIN after wrong passwords: %d %s", r.status, r.body)
	}
	w.clock.Advance(time.Second)
	if r := in.resetPIN(t, ph, devicePassword, "264813"); r.status != http.StatusNoContent {
		t.Fatalf("the PIN reset after the wait: %d %s", r.status, r.body)
	}
}
