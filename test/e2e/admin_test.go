package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/client"
)

const adminAgent = "M. Muster, Servicecenter"

// withSupportClient registers the support tool: a service client with the
// admin scope, declared like the others.
func (w *world) withSupportClient(secret string) startOption {
	return func(o *server.Options) {
		h, err := server.SecretHasher(w.master)
		if err != nil {
			panic(err)
		}
		o.Clients = append(o.Clients, client.Client{
			ID: "e2e-support", Name: "E2E Support-Werkzeug", Kind: client.Service, AuthMethod: client.AuthSecretPost,
			SecretHash: h.Hash(secret), GrantTypes: []string{client.GrantClientCredentials}, Scopes: []string{"admin", "claims.read"},
		})
	}
}

// clientToken gets a client_credentials token of id with secret for scope;
// the status of the token endpoint's answer when it refuses.
func (in *instance) clientToken(t *testing.T, id, secret, scope string) (string, int) {
	t.Helper()
	r := postForm(t, in.base+"/token", url.Values{"grant_type": {"client_credentials"}, "scope": {scope},
		"client_id": {id}, "client_secret": {secret}}, nil)
	if r.status != http.StatusOK {
		return "", r.status
	}
	tok, _ := r.json(t)["access_token"].(string)
	return tok, r.status
}

// admin calls the admin API with tok and the agent.
func (in *instance) admin(t *testing.T, method, path, tok string, body any) result {
	t.Helper()
	hdr := map[string]string{"X-Pforte-Agent": adminAgent, "Authorization": "Bearer " + tok}
	if tok == "" {
		hdr["Authorization"] = ""
	}
	if body == nil {
		req, err := http.NewRequest(method, in.base+"/admin/v1"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		return do(t, req)
	}
	return sendJSON(t, method, in.base+"/admin/v1"+path, body, hdr)
}

// The support tool, with a client_credentials token of the admin scope,
// does support's tasks through the real server; other tokens are refused
// and change nothing; every call is in the audit log with the agent.
func TestAdminAPIEndToEnd(t *testing.T) {
	forEachEngine(t, testAdminAPI)
}

func testAdminAPI(t *testing.T, eng engine) {
	w := newWorld(t)
	supportSecret := client.GenerateSecret()
	m := applicant("Hauke", "Rickmers", "1979-03-14", w.clock.Now())
	e := w.enroll(t, eng, m, "583920", w.withSupportClient(supportSecret))
	in := e.in
	member := "/members/" + m.KVNR.String()

	tok, status := in.clientToken(t, "e2e-support", supportSecret, "admin")
	if status != http.StatusOK {
		t.Fatalf("admin token: %d", status)
	}
	// Refused: no token, another client's token, the support client's
	// token without the admin scope, a member's token.
	svcTok, _ := in.clientToken(t, w.svc.ID, w.svc.secret, "claims.read")
	svcAskingAdmin, _ := in.clientToken(t, w.svc.ID, w.svc.secret, "admin claims.read")
	noScope, _ := in.clientToken(t, "e2e-support", supportSecret, "claims.read")
	memberTok := in.rp(t, w.web, nil).login(t, "openid").access
	for _, tc := range []struct {
		name   string
		tok    string
		status int
	}{
		{"no token", "", 401},
		{"garbage", "not-a-token", 401},
		{"another client's token", svcTok, 403},
		{"another client asking for admin", svcAskingAdmin, 403},
		{"without the admin scope", noScope, 403},
		{"a member's token", memberTok, 403},
	} {
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", member, nil},
			{"POST", member + "/lock", map[string]string{"reason": "Test"}},
			{"DELETE", member + "/devices", nil},
		} {
			if r := in.admin(t, c.method, c.path, tc.tok, c.body); r.status != tc.status {
				t.Errorf("%s: %s %s: %d, want %d: %s", tc.name, c.method, c.path, r.status, tc.status, r.body)
			}
		}
	}
	if acc := in.account(t, m); acc.Status != "active" {
		t.Fatalf("a refused call changed the account: %s", acc.Status)
	}
	if len(in.devices(t, e.phone)) != 1 {
		t.Fatal("a refused call revoked the device")
	}

	// Search and status.
	r := in.admin(t, "GET", "/members?family_name=rickmers&birth_date=1979-03-14", tok, nil)
	if r.status != 200 || !strings.Contains(string(r.body), m.KVNR.String()) {
		t.Fatalf("search: %d %s", r.status, r.body)
	}
	r = in.admin(t, "GET", member, tok, nil)
	var st struct {
		Registration string `json:"registration"`
		Devices      []struct {
			ID string `json:"id"`
		} `json:"devices"`
		Letter struct {
			State string `json:"state"`
		} `json:"letter"`
	}
	if err := json.Unmarshal(r.body, &st); err != nil || r.status != 200 || st.Registration != "registered" ||
		len(st.Devices) != 1 || st.Devices[0].ID != e.phone.binding || st.Letter.State != "activated" {
		t.Fatalf("status: %d %s", r.status, r.body)
	}

	// Lock: the phone can no longer act; unlock: it can again.
	if r := in.admin(t, "POST", member+"/lock", tok, map[string]string{"reason": "Missbrauchsverdacht"}); r.status != 200 {
		t.Fatalf("lock: %d %s", r.status, r.body)
	}
	wantProblem(t, in.manage(t, "/list", in.proof(t, e.phone, e.phone.pin)), http.StatusForbidden, "forbidden")
	if r := in.admin(t, "POST", member+"/unlock", tok, map[string]string{"reason": "Mitglied verifiziert"}); r.status != 200 {
		t.Fatalf("unlock: %d %s", r.status, r.body)
	}
	if len(in.devices(t, e.phone)) != 1 {
		t.Fatal("the phone does not work after the unlock")
	}

	// A letter at once, the interval overridden with a reason. (A minute
	// on, so that the new letter is the member's latest by its time, not
	// by a tie with the first one.)
	w.clock.Advance(time.Minute)
	r = in.admin(t, "POST", member+"/letters", tok, map[string]any{"override_interval": false})
	if r.status != http.StatusConflict || r.json(t)["code"] != "support.letter_too_soon" {
		t.Fatalf("letter within the interval: %d %s", r.status, r.body)
	}
	r = in.admin(t, "POST", member+"/letters", tok, map[string]any{"override_interval": true, "reason": "Telefon verloren"})
	if r.status != http.StatusCreated {
		t.Fatalf("letter: %d %s", r.status, r.body)
	}
	ordered, _ := r.json(t)["letter"].(map[string]any)

	// The letter does not arrive: reported lost, it is voided and a new
	// one is produced at once (handed over, or on its way when the
	// server's letter worker took it at the same moment).
	r = in.admin(t, "POST", member+"/letters/lost", tok, map[string]string{"reason": "Brief nicht angekommen"})
	var lost struct {
		Voided struct {
			ID         string `json:"id"`
			State      string `json:"state"`
			VoidReason string `json:"void_reason"`
		} `json:"voided"`
		Replacement *struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"replacement"`
	}
	if err := json.Unmarshal(r.body, &lost); err != nil || r.status != 200 || lost.Voided.ID != ordered["id"] ||
		lost.Voided.State != "voided" || lost.Voided.VoidReason != "lost" || lost.Replacement == nil || lost.Replacement.ID == "" || lost.Replacement.State == "voided" || lost.Replacement.State == "activated" {
		t.Fatalf("letter lost: %d %s", r.status, r.body)
	}

	// End sessions, revoke the phone: it can no longer act.
	if r := in.admin(t, "DELETE", member+"/sessions", tok, nil); r.status != 200 {
		t.Fatalf("end sessions: %d %s", r.status, r.body)
	}
	if r := in.admin(t, "DELETE", member+"/devices/"+e.phone.binding, tok, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := in.deviceChallenge(t, e.phone.binding); r.status == http.StatusOK {
		t.Fatal("the revoked phone still gets challenges")
	}

	// The audit query shows every action with the agent and the client.
	r = in.admin(t, "GET", "/audit?kvnr="+m.KVNR.String()+"&kind=account.locked&kind=account.unlocked&kind=support.letter_ordered&kind=support.letter_lost&kind=device.revoked&kind=support.sessions_ended&kind=support.read", tok, nil)
	var q struct {
		Events []struct {
			Kind     string            `json:"kind"`
			Actor    string            `json:"actor"`
			ClientID string            `json:"client_id"`
			Detail   map[string]string `json:"detail"`
		} `json:"events"`
	}
	if err := json.Unmarshal(r.body, &q); err != nil || r.status != 200 {
		t.Fatalf("audit: %d %s", r.status, r.body)
	}
	seen := map[string]bool{}
	for _, ev := range q.Events {
		seen[ev.Kind] = true
		if ev.Actor != string(audit.Operator) || ev.ClientID != "e2e-support" || ev.Detail["operator"] != adminAgent {
			t.Errorf("event %+v does not name the agent", ev)
		}
	}
	for _, k := range []string{"account.locked", "account.unlocked", "support.letter_ordered", "support.letter_lost", "device.revoked", "support.sessions_ended", "support.read"} {
		if !seen[k] {
			t.Errorf("the audit query has no %s: %s", k, r.body)
		}
	}
	// The request log names no member number.
	if strings.Contains(in.logs.String(), m.KVNR.String()) {
		t.Error("the server's log holds the member number")
	}
}

// Secret rotation through the admin API: both secrets work during the
// rollover, the old one is refused after it; a finished rollover ends it
// at once; a declared client cannot be rotated.
func TestAdminSecretRollover(t *testing.T) {
	w := newWorld(t)
	supportSecret := client.GenerateSecret()
	in := w.start(t, sqliteStorage(t), w.withSupportClient(supportSecret))
	h, err := server.SecretHasher(w.master)
	if err != nil {
		t.Fatal(err)
	}
	old := client.GenerateSecret()
	if err := in.srv.Store().CreateClient(t.Context(), client.Client{ID: "e2e-batch", Name: "Batch", Kind: client.Service,
		AuthMethod: client.AuthSecretPost, SecretHash: h.Hash(old), GrantTypes: []string{client.GrantClientCredentials},
		Scopes: []string{"claims.read"}}); err != nil {
		t.Fatal(err)
	}
	tok, _ := in.clientToken(t, "e2e-support", supportSecret, "admin")
	works := func(secret string) bool {
		_, status := in.clientToken(t, "e2e-batch", secret, "claims.read")
		return status == http.StatusOK
	}
	if !works(old) {
		t.Fatal("the client does not work before the rotation")
	}
	until := w.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r := in.admin(t, "POST", "/clients/e2e-batch/secret", tok, map[string]any{"previous_valid_until": until})
	if r.status != 200 {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	fresh, _ := r.json(t)["client_secret"].(string)
	w.clock.Advance(6 * time.Second) // the client cache's lifetime
	tok, _ = in.clientToken(t, "e2e-support", supportSecret, "admin")
	if !works(old) || !works(fresh) {
		t.Fatalf("during the rollover: old works %v, new works %v", works(old), works(fresh))
	}
	w.clock.Advance(time.Hour)
	if works(old) || !works(fresh) {
		t.Fatalf("after the rollover: old works %v, new works %v", works(old), works(fresh))
	}

	// Again, finished early.
	tok, _ = in.clientToken(t, "e2e-support", supportSecret, "admin")
	r = in.admin(t, "POST", "/clients/e2e-batch/secret", tok, map[string]any{})
	if r.status != 200 {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	third, _ := r.json(t)["client_secret"].(string)
	w.clock.Advance(6 * time.Second)
	if !works(fresh) || !works(third) {
		t.Fatal("both secrets must work during the second rollover")
	}
	tok, _ = in.clientToken(t, "e2e-support", supportSecret, "admin")
	if r := in.admin(t, "DELETE", "/clients/e2e-batch/secret/previous", tok, nil); r.status != 200 {
		t.Fatalf("finish: %d %s", r.status, r.body)
	}
	w.clock.Advance(6 * time.Second)
	if works(fresh) || !works(third) {
		t.Fatalf("after finishing: previous works %v, new works %v", works(fresh), works(third))
	}
	tok, _ = in.clientToken(t, "e2e-support", supportSecret, "admin")
	if r := in.admin(t, "POST", "/clients/"+w.svc.ID+"/secret", tok, map[string]any{}); r.status != http.StatusConflict {
		t.Fatalf("rotating a declared client: %d %s", r.status, r.body)
	}
}
