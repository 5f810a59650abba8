package weblogin_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/weblogin"
	"github.com/pforte-id/pforte/ports/notify"
)

const issuer = "https://id.kasse.example"

var (
	ctx = context.Background()
	t0  = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

	form = client.Client{ID: "online-forms", Name: "Online-Formulare", Kind: client.Web, AuthMethod: client.AuthSecretBasic,
		RedirectURIs: []string{"https://forms.kasse.example/cb"}}
)

// world is what the service runs on: the real store (sqlstore over
// SQLite), core/authz on it, a clock the test moves, a notifier that keeps
// its messages, and a fake of the device step (the key and PIN checks are
// core/binding's, tested there): it answers with the binding the test
// says answered, or an error.
type world struct {
	*sqlstore.Store
	t   *testing.T
	mu  sync.Mutex
	now time.Time
	az  *authz.Service
	svc *weblogin.Service

	// answering is the binding whose key and PIN answer the next
	// device step; devErr, when set, fails it instead.
	answering device.Binding
	devErr    error
	begun     []string // "binding/approval"
	messages  []notify.Message
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
}

func (w *world) BeginApproval(_ context.Context, bindingID, approvalID string) (string, []byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.begun = append(w.begun, bindingID+"/"+approvalID)
	return "challenge-" + approvalID, []byte(`{"publicKey":{}}`), nil
}

func (w *world) AuthenticateApproval(_ context.Context, challengeID string, _ []byte, _, _, approvalID string) (device.Binding, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if challengeID != "challenge-"+approvalID {
		return device.Binding{}, fault.New(fault.Unauthenticated, "test", "challenge of another approval")
	}
	if w.devErr != nil {
		return device.Binding{}, w.devErr
	}
	return w.answering, nil
}

func (w *world) AuthenticateKey(context.Context, string, []byte, string) (device.Binding, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.devErr != nil {
		return device.Binding{}, w.devErr
	}
	return w.answering, nil
}

func (w *world) Notify(_ context.Context, m notify.Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.messages = append(w.messages, m)
	return nil
}

func (w *world) answeredBy(b device.Binding, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.answering, w.devErr = b, err
}

func mailText(_ context.Context, code fault.Code, params ...any) (string, string) {
	return string(code), fmt.Sprint(params...)
}

type noKeys struct{}

func (noKeys) Sign(context.Context, string, any) (string, error) { return "", errors.New("unused") }
func (noKeys) Verify(context.Context, string, string, any) error { return errors.New("unused") }
func (noKeys) VerifyAssertion(context.Context, string, []byte, any) error {
	return errors.New("unused")
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{Store: sqlstoretest.Open(t), t: t, now: t0}
	secrets, err := client.NewSecretHasher([]byte("client-secret-hash-key-of-32-bytes"))
	if err != nil {
		t.Fatal(err)
	}
	w.az, err = authz.New(authz.Config{
		Issuer:      issuer,
		DPoPNonces:  dpop.NonceSource{Key: []byte("dpop-nonce-key-of-thirty-two-b!!")},
		PairwiseKey: []byte("pairwise-sub-key-of-32-bytes-ok!"),
	}, authz.Stores{Consents: w, Clients: w, Requests: w, Tokens: w, Accounts: w, Members: w, Replay: w},
		noKeys{}, noKeys{}, secrets, w.clock)
	if err != nil {
		t.Fatal(err)
	}
	w.svc, err = weblogin.New(weblogin.Config{IPKey: []byte("audit-ip-key-audit-ip-key-audit-ip-key")}, weblogin.Deps{
		Approvals: w, Bindings: w, Accounts: w, Clients: w, Members: w, Audit: w, Authz: w.az, Devices: w,
		Notifier: w, Mail: mailText, Now: w.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.PutClient(ctx, form); err != nil {
		t.Fatal(err)
	}
	return w
}

// member stores member k (with an e-mail address) and an active account
// proofed at level with one bound device that has a PIN (usable: false
// leaves it without one), and returns the account and binding.
func (w *world) member(k string, level loa.Level, usable bool) (account.Account, device.Binding) {
	w.t.Helper()
	kv, err := kvnr.Parse(k)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.UpsertMember(ctx, member.Member{KVNR: kv, GivenName: "Anna", FamilyName: "Schmidt",
		BirthDate: "1984-07-09", Email: "m-" + k + "@example.de"}); err != nil {
		w.t.Fatal(err)
	}
	sess := enrollment.Session{ID: "enr-" + k, TokenHash: "token-" + k, KVNR: kv, Method: proof.Letter,
		CreatedAt: t0, ExpiresAt: t0.Add(enrollment.TTL)}
	a, err := w.StartEnrollment(ctx, sess, account.Account{ID: "acct-" + k, KVNR: kv, Status: account.Pending, Proofing: level,
		CreatedAt: t0}, proof.Proof{Method: proof.Letter, Level: level, KVNR: kv, Time: t0})
	if err != nil {
		w.t.Fatal(err)
	}
	b := device.Binding{ID: "bind-" + k, AccountID: a.ID, EnrollmentID: sess.ID, Name: "Phone", Platform: device.Android,
		CredentialID: []byte("cred-" + k), PublicKey: []byte("key-" + k), Status: device.Active, CreatedAt: t0}
	if err := w.BindDevice(ctx, b, t0); err != nil {
		w.t.Fatal(err)
	}
	if usable {
		if b, err = w.UpdateBinding(ctx, b.ID, func(b *device.Binding) error { b.PINHash = "v1:hash"; return nil }); err != nil {
			w.t.Fatal(err)
		}
	}
	if err := w.SetAccountStatus(ctx, a.ID, account.Active, t0); err != nil {
		w.t.Fatal(err)
	}
	a.Status = account.Active
	return a, b
}

// request stores a pending authorization request of the form client.
func (w *world) request(id string) {
	w.t.Helper()
	if err := w.CreateAuthRequest(ctx, grant.AuthRequest{
		ID: id, ClientID: form.ID, RedirectURI: form.RedirectURIs[0], State: "st-" + id, Scopes: []string{"openid"},
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
		CreatedAt: w.clock(), ExpiresAt: w.clock().Add(authz.DefaultAuthRequestTTL),
	}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) auditKinds(accountID string) []audit.Kind {
	w.t.Helper()
	es, err := w.AuditEvents(ctx, accountID, 100)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []audit.Kind
	for _, e := range es {
		out = append(out, e.Kind)
	}
	return out
}

func (w *world) sent() []notify.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]notify.Message(nil), w.messages...)
}

func wantCode(t *testing.T, what string, err error, k fault.Kind, code fault.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v %s", what, k, code)
	}
	var fe *fault.Error
	if !errors.Is(err, k) || !errors.As(err, &fe) || fe.Code != code {
		t.Fatalf("%s: %v (kind %v), want %v %s", what, err, fault.KindOf(err), k, code)
	}
}
