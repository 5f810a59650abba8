package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/pforte-id/pforte/adapters/adminapi"
	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/lifecycle"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/sso"
	"github.com/pforte-id/pforte/core/support"
	"github.com/pforte-id/pforte/core/throttle"
)

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

const (
	adminToken  = "admin.token.ok"
	agentName   = "M. Muster, Servicecenter"
	supportTool = "support-tool"
)

// tokens answers AdminToken from a fixed table, as core/authz would for
// those tokens (authz's own tests check the rules; the e2e test checks
// them with real tokens).
type tokens map[string]error

func (t tokens) AdminToken(_ context.Context, raw string) (authz.AdminCaller, error) {
	err, known := t[raw]
	if !known {
		return authz.AdminCaller{}, fault.New(fault.Unauthenticated, "test", "invalid token")
	}
	if err != nil {
		return authz.AdminCaller{}, err
	}
	return authz.AdminCaller{ClientID: supportTool, JTI: "jti-1"}, nil
}

var knownTokens = tokens{
	adminToken:       nil,
	"member.token.x": fault.New(fault.Forbidden, "test", "a member's token cannot call the admin API"),
	"other.client.x": fault.New(fault.Forbidden, "test", "the token lacks the admin scope"),
	"expired.token.": fault.New(fault.Unauthenticated, "test", "expired"),
}

// bindings and letters record what support asked of them.
type bindings struct{ calls []string }

func (b *bindings) UnblockDeviceBy(_ context.Context, id, op, c string) error {
	b.calls = append(b.calls, "unblock "+id)
	return nil
}

func (b *bindings) RevokeDeviceBy(_ context.Context, acct, id, op, c string) error {
	b.calls = append(b.calls, "revoke "+id)
	return nil
}

type letters struct{ orders int }

func (l *letters) OrderLetter(_ context.Context, k kvnr.KVNR, override bool) (letter.Letter, error) {
	l.orders++
	return letter.Letter{ID: "letter-1", KVNR: k, State: letter.Requested, CreatedAt: t0}, nil
}

// ReportLostByOperator counts as an order: a refused call must reach
// neither.
func (l *letters) ReportLostByOperator(_ context.Context, rep registration.LostReport) (registration.LostResult, error) {
	l.orders++
	return registration.LostResult{
		Voided:      letter.Letter{ID: "letter-1", State: letter.Voided, VoidReason: letter.ReasonLost, CreatedAt: t0, VoidedAt: t0},
		Replacement: letter.Letter{ID: "letter-2", State: letter.HandedOver, CreatedAt: t0, HandedOverAt: t0, ExpiresAt: t0.Add(60 * 24 * time.Hour)},
	}, nil
}

type noLockouts struct{}

func (noLockouts) PasswordLockout(context.Context, kvnr.KVNR) (throttle.Counter, error) {
	return throttle.Counter{}, nil
}

type world struct {
	st *sqlstore.Store
	h  http.Handler
	b  *bindings
	l  *letters
}

func newWorld(t *testing.T) *world {
	t.Helper()
	st := sqlstoretest.Open(t)
	clock := coretest.NewClock(t0)
	w := &world{st: st, b: &bindings{}, l: &letters{}}
	secrets, err := client.NewSecretHasher([]byte("client-secret-hash-key-of-32-bytes"))
	if err != nil {
		t.Fatal(err)
	}
	end, err := sso.NewEnder(sso.Deps{Sessions: st, Audit: st, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	deleter, err := lifecycle.New(lifecycle.Config{}, lifecycle.Deps{Store: st, Sessions: end, Pseudonyms: coretest.LetterHasher(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := support.New(support.Deps{
		Accounts: st, Members: st, Search: st, LatestLetters: st, Devices: st, Families: st, ActiveSessions: st,
		Audit: st, AuditQuery: st, Bindings: w.b, Sessions: end, Letters: w.l, Lockouts: noLockouts{},
		Clients: st, Deleter: deleter, Secrets: secrets, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.h = adminapi.New(adminapi.Config{MaxBodyBytes: 1024}, knownTokens, svc, nil).Handler()
	ctx := t.Context()
	for _, m := range []member.Member{coretest.Anna, coretest.Bodo, coretest.Carl} {
		if err := st.UpsertMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []member.Member{coretest.Anna, coretest.Bodo} {
		sess := enrollment.Session{ID: "enr-" + string(m.KVNR), TokenHash: "th-" + string(m.KVNR), KVNR: m.KVNR,
			Method: proof.Letter, CreatedAt: t0, ExpiresAt: t0.Add(enrollment.TTL)}
		acc, err := st.StartEnrollment(ctx, sess, account.Account{ID: "acct-" + string(m.KVNR), KVNR: m.KVNR,
			Status: account.Pending, Proofing: loa.Substantial, CreatedAt: t0}, proof.Proof{Method: proof.Letter, Level: loa.Substantial, KVNR: m.KVNR, Time: t0})
		if err != nil {
			t.Fatal(err)
		}
		id := "dev-" + m.GivenName
		if err := st.BindDevice(ctx, device.Binding{ID: id, AccountID: acc.ID, EnrollmentID: sess.ID, Name: "Phone",
			Platform: device.Android, CredentialID: []byte(id), PublicKey: []byte("k"), Status: device.Active, CreatedAt: t0}, t0); err != nil {
			t.Fatal(err)
		}
		if err := st.SetAccountStatus(ctx, acc.ID, account.Active, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateClient(ctx, client.Client{ID: "web", Name: "Web", Kind: client.Web, AuthMethod: client.AuthSecretBasic,
		SecretHash: secrets.Hash("x"), RedirectURIs: []string{"https://web.example/cb"}, GrantTypes: []string{client.GrantCode}}); err != nil {
		t.Fatal(err)
	}
	return w
}

// call makes a request with the admin token and the agent unless the
// header map overrides them ("" removes one).
func (w *world) call(t *testing.T, method, path, body string, hdr map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	r.Header.Set("Authorization", "Bearer "+adminToken)
	r.Header.Set(adminapi.AgentHeader, agentName)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, r)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, rec.Body.String(), err)
		}
	}
	return rec.Code, out, rec.Header()
}

func (w *world) auditCount(t *testing.T) int {
	t.Helper()
	es, err := w.st.QueryAudit(t.Context(), audit.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

var (
	anna = "/admin/v1/members/" + string(coretest.Anna.KVNR)
	bodo = "/admin/v1/members/" + string(coretest.Bodo.KVNR)
)

// endpoints is every endpoint with a valid body, for the checks that
// apply to all.
var endpoints = []struct{ method, path, body string }{
	{"GET", "/admin/v1/members?kvnr=" + string(coretest.Anna.KVNR), ""},
	{"GET", anna, ""},
	{"POST", anna + "/letters", `{"override_interval":true,"reason":"Brief verloren"}`},
	{"POST", anna + "/letters/lost", `{"reason":"Brief nicht angekommen"}`},
	{"POST", anna + "/devices/dev-Anna-Lena/unblock", ""},
	{"DELETE", anna + "/devices/dev-Anna-Lena", ""},
	{"DELETE", anna + "/devices", ""},
	{"DELETE", anna + "/sessions", ""},
	{"POST", anna + "/lock", `{"reason":"Missbrauchsverdacht"}`},
	{"POST", anna + "/unlock", `{"reason":"verifiziert"}`},
	{"GET", "/admin/v1/audit?kvnr=" + string(coretest.Anna.KVNR), ""},
	{"GET", "/admin/v1/clients/web", ""},
	{"PATCH", "/admin/v1/clients/web", `{"name":"Neu"}`},
	{"POST", "/admin/v1/clients/web/secret", `{}`},
	{"DELETE", "/admin/v1/clients/web/secret/previous", ""},
	// Last: the member's account is gone afterwards.
	{"DELETE", anna, `{"reason":"Wunsch des Mitglieds"}`},
}

// Without an admin token, with a member's or another client's token, or
// without the agent, every endpoint refuses and nothing changes.
func TestRefusedCallsChangeNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		status int
	}{
		{"no token", map[string]string{"Authorization": ""}, 401},
		{"not bearer", map[string]string{"Authorization": "Basic " + adminToken}, 401},
		{"unknown token", map[string]string{"Authorization": "Bearer forged.token.x"}, 401},
		{"expired token", map[string]string{"Authorization": "Bearer expired.token."}, 401},
		{"member's token", map[string]string{"Authorization": "Bearer member.token.x"}, 403},
		{"client without the admin scope", map[string]string{"Authorization": "Bearer other.client.x"}, 403},
		{"no agent", map[string]string{adminapi.AgentHeader: ""}, 400},
		{"agent with a newline", map[string]string{adminapi.AgentHeader: "a\tb"}, 400},
		{"agent too long", map[string]string{adminapi.AgentHeader: strings.Repeat("x", 101)}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			before := w.auditCount(t)
			for _, e := range endpoints {
				status, body, hdr := w.call(t, e.method, e.path, e.body, tc.hdr)
				if status != tc.status {
					t.Errorf("%s %s: %d, want %d (%v)", e.method, e.path, status, tc.status, body)
				}
				if status == 401 && !strings.Contains(hdr.Get("WWW-Authenticate"), `realm="pforte-admin"`) {
					t.Errorf("%s %s: 401 without WWW-Authenticate", e.method, e.path)
				}
			}
			if n := w.auditCount(t); n != before {
				t.Fatalf("refused calls wrote %d audit events", n-before)
			}
			if len(w.b.calls) != 0 || w.l.orders != 0 {
				t.Fatalf("refused calls reached the use case: %v, %d letters", w.b.calls, w.l.orders)
			}
			if acc, _ := w.st.AccountByKVNR(t.Context(), coretest.Anna.KVNR); acc.Status != account.Active {
				t.Fatalf("a refused call changed the account: %s", acc.Status)
			}
			if c, _ := w.st.ClientByID(t.Context(), "web"); c.Name != "Web" || c.PreviousSecretHash != "" {
				t.Fatalf("a refused call changed the client: %+v", c)
			}
		})
	}
}

// Every endpoint works with the admin token and the agent, and each call
// is audited with the agent and the client.
func TestEveryEndpointAuditedWithTheAgent(t *testing.T) {
	w := newWorld(t)
	want := map[string]int{"GET": 200, "POST": 200, "DELETE": 200, "PATCH": 200}
	for _, e := range endpoints {
		before, _ := w.st.QueryAudit(t.Context(), audit.Query{Limit: 1000})
		status, body, _ := w.call(t, e.method, e.path, e.body, nil)
		exp := want[e.method]
		switch {
		case strings.HasSuffix(e.path, "/letters"):
			exp = 201
		case e.method == "DELETE" && strings.HasSuffix(e.path, "/dev-Anna-Lena"):
			exp = 204
		}
		if status != exp {
			t.Fatalf("%s %s: %d, want %d: %v", e.method, e.path, status, exp, body)
		}
		after, _ := w.st.QueryAudit(t.Context(), audit.Query{Limit: 1000})
		if strings.Contains(e.path, "/devices") {
			continue // audited by device binding (core/binding's tests)
		}
		if len(after) <= len(before) {
			t.Fatalf("%s %s: not audited", e.method, e.path)
		}
		ev := after[0]
		if ev.Actor != audit.Operator || ev.ClientID != supportTool || ev.Detail["operator"] != agentName {
			t.Fatalf("%s %s: audited as %+v", e.method, e.path, ev)
		}
	}
	if strings.Join(w.b.calls, ",") != "unblock dev-Anna-Lena,revoke dev-Anna-Lena,revoke dev-Anna-Lena" {
		t.Fatalf("device calls %v", w.b.calls)
	}
}

// A member's path reaches only that member's devices.
func TestAnotherMembersDevice(t *testing.T) {
	w := newWorld(t)
	for _, e := range []struct{ method, path string }{
		{"POST", anna + "/devices/dev-Bodo/unblock"},
		{"DELETE", anna + "/devices/dev-Bodo"},
		{"POST", bodo + "/devices/dev-Anna-Lena/unblock"},
	} {
		status, body, _ := w.call(t, e.method, e.path, "", nil)
		if status != 404 || body["code"] != string(support.CodeUnknownDevice) {
			t.Errorf("%s %s: %d %v, want 404 %s", e.method, e.path, status, body, support.CodeUnknownDevice)
		}
	}
	if len(w.b.calls) != 0 {
		t.Fatalf("another member's device was acted on: %v", w.b.calls)
	}
}

func TestBadRequests(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		name, method, path, body string
		ct                       string
		status                   int
		code                     string
	}{
		{"unknown member", "GET", "/admin/v1/members/" + string(coretest.KVNR("Z99999999")), "", "", 404, string(support.CodeUnknownMember)},
		{"member without account", "POST", "/admin/v1/members/" + string(coretest.Carl.KVNR) + "/lock", `{"reason":"x"}`, "", 404, string(support.CodeNoAccount)},
		{"malformed kvnr", "GET", "/admin/v1/members/A1", "", "", 400, string(support.CodeQuery)},
		{"search without anything", "GET", "/admin/v1/members", "", "", 400, string(support.CodeQuery)},
		{"search by name without date", "GET", "/admin/v1/members?family_name=Schmidt", "", "", 400, string(support.CodeQuery)},
		{"bad limit", "GET", "/admin/v1/members?kvnr=" + string(coretest.Anna.KVNR) + "&limit=-1", "", "", 400, string(support.CodeQuery)},
		{"not JSON", "POST", anna + "/lock", `{"reason":`, "", 400, "api.json"},
		{"unknown field", "POST", anna + "/lock", `{"reason":"x","force":true}`, "", 400, "api.json"},
		{"trailing data", "POST", anna + "/lock", `{"reason":"x"} {}`, "", 400, "api.trailing"},
		{"wrong content type", "POST", anna + "/lock", `{"reason":"x"}`, "text/plain", 400, "api.content_type"},
		{"too large", "POST", anna + "/lock", `{"reason":"` + strings.Repeat("x", 2000) + `"}`, "", 413, "api.too_large"},
		{"no reason", "POST", anna + "/lock", `{"reason":" "}`, "", 400, string(support.CodeReason)},
		{"override without reason", "POST", anna + "/letters", `{"override_interval":true}`, "", 400, string(support.CodeReason)},
		{"unlock an unlocked account", "POST", anna + "/unlock", `{"reason":"x"}`, "", 409, string(support.CodeNotLocked)},
		{"unknown audit kind", "GET", "/admin/v1/audit?kind=nope", "", "", 400, string(support.CodeQuery)},
		{"malformed from", "GET", "/admin/v1/audit?from=yesterday", "", "", 400, string(support.CodeQuery)},
		{"unknown client", "GET", "/admin/v1/clients/nope", "", "", 404, string(support.CodeUnknownClient)},
		{"invalid redirect", "PATCH", "/admin/v1/clients/web", `{"redirect_uris":["not a uri"]}`, "", 400, string(support.CodeClientInvalid)},
		{"rollover too long", "POST", "/admin/v1/clients/web/secret", `{"previous_valid_until":"2027-12-31T00:00:00Z"}`, "", 400, ""},
		{"rollover and immediately", "POST", "/admin/v1/clients/web/secret", `{"previous_valid_until":"2026-12-08T00:00:00Z","immediately":true}`, "", 400, string(support.CodeQuery)},
		{"unknown path", "GET", "/admin/v1/nope", "", "", 404, "api.unknown_path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.auditCount(t)
			hdr := map[string]string{}
			if tc.ct != "" {
				hdr["Content-Type"] = tc.ct
			}
			status, body, _ := w.call(t, tc.method, tc.path, tc.body, hdr)
			if status != tc.status || (tc.code != "" && body["code"] != tc.code) {
				t.Fatalf("%d %v, want %d %s", status, body, tc.status, tc.code)
			}
			if body["detail"] == "" || body["kind"] == "" {
				t.Fatalf("problem without detail or kind: %v", body)
			}
			if n := w.auditCount(t); n != before && status != 404 {
				t.Fatalf("a refused call wrote %d audit events", n-before)
			}
		})
	}
	if acc, _ := w.st.AccountByKVNR(t.Context(), coretest.Anna.KVNR); acc.Status != account.Active {
		t.Fatalf("a refused call changed the account: %s", acc.Status)
	}
	if c, _ := w.st.ClientByID(t.Context(), "web"); len(c.RedirectURIs) != 1 || c.PreviousSecretHash != "" {
		t.Fatalf("a refused call changed the client: %+v", c)
	}
}

func TestStatusHoldsNoSecret(t *testing.T) {
	w := newWorld(t)
	status, body, _ := w.call(t, "GET", anna, "", nil)
	if status != 200 || body["registration"] != "registered" {
		t.Fatalf("%d %v", status, body)
	}
	raw, _ := json.Marshal(body)
	for _, s := range []string{"hash", "secret", "pin_hash", "public_key", "credential"} {
		if bytes.Contains(bytes.ToLower(raw), []byte(`"`+s)) {
			t.Errorf("the status has a field %q: %s", s, raw)
		}
	}
	devices, _ := body["devices"].([]any)
	if len(devices) != 1 {
		t.Fatalf("devices %v", body["devices"])
	}
}

func TestSecretRotationAnswer(t *testing.T) {
	w := newWorld(t)
	status, body, _ := w.call(t, "POST", "/admin/v1/clients/web/secret", `{"previous_valid_until":"2026-12-08T09:00:00Z"}`, nil)
	secret, _ := body["client_secret"].(string)
	c, _ := body["client"].(map[string]any)
	if status != 200 || len(secret) < client.MinSecretLength || c["previous_secret_valid_until"] != "2026-12-08T09:00:00Z" {
		t.Fatalf("%d %v", status, body)
	}
	es, _ := w.st.QueryAudit(t.Context(), audit.Query{Kinds: []audit.Kind{audit.ClientChanged}, Limit: 10})
	raw, _ := json.Marshal(es)
	if len(es) != 1 || bytes.Contains(raw, []byte(secret)) {
		t.Fatalf("rotation audited as %s", raw)
	}
	status, body, _ = w.call(t, "DELETE", "/admin/v1/clients/web/secret/previous", "", nil)
	if status != 200 || body["changed"] != true {
		t.Fatalf("finish: %d %v", status, body)
	}
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(adminapi.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	routes := map[string]string{"/openapi.yaml": "get", "/members": "get", "/members/{kvnr}": "get delete",
		"/members/{kvnr}/letters": "post", "/members/{kvnr}/letters/lost": "post", "/members/{kvnr}/devices/{id}/unblock": "post",
		"/members/{kvnr}/devices/{id}": "delete", "/members/{kvnr}/devices": "delete", "/members/{kvnr}/sessions": "delete",
		"/members/{kvnr}/lock": "post", "/members/{kvnr}/unlock": "post", "/audit": "get",
		"/clients/{id}": "get patch", "/clients/{id}/secret": "post", "/clients/{id}/secret/previous": "delete"}
	for path, methods := range routes {
		for _, m := range strings.Fields(methods) {
			if _, ok := doc.Paths[path][m]; !ok {
				t.Errorf("openapi.yaml does not describe %s %s", strings.ToUpper(m), path)
			}
		}
	}
	if len(doc.Paths) != len(routes) {
		t.Errorf("openapi.yaml describes %d paths, the handler serves %d", len(doc.Paths), len(routes))
	}
	if len(endpoints)+1 != len(strings.Fields(strings.Join(mapValues(routes), " "))) {
		t.Errorf("the endpoint table of these tests misses a route")
	}
	rec := httptest.NewRecorder()
	newWorld(t).h.ServeHTTP(rec, httptest.NewRequest("GET", adminapi.Prefix+"openapi.yaml", nil))
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), adminapi.OpenAPI) {
		t.Fatalf("serving openapi.yaml: %d", rec.Code)
	}
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
