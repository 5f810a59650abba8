package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/approval"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/weblogin"
)

// fakeApprovals answers with what a test sets and records what it was
// asked.
type fakeApprovals struct {
	list    []weblogin.Pending
	decided approval.Approval
	err     error
	got     []string
}

func (f *fakeApprovals) List(_ context.Context, challengeID string, assertion []byte, ip string) (device.Binding, []weblogin.Pending, error) {
	f.got = append(f.got, "list "+challengeID+" "+string(assertion)+" "+ip)
	return device.Binding{ID: "b-1"}, f.list, f.err
}

func (f *fakeApprovals) Begin(_ context.Context, id, bindingID string) (string, []byte, error) {
	f.got = append(f.got, "begin "+id+" "+bindingID)
	return "challenge-1", []byte(`{"publicKey":{}}`), f.err
}

func (f *fakeApprovals) Decide(_ context.Context, id string, d weblogin.Decision, ip string) (approval.Approval, error) {
	b, _ := json.Marshal(d)
	f.got = append(f.got, "decide "+id+" "+string(b)+" "+ip)
	return f.decided, f.err
}

func serveApprovals(t *testing.T, f *fakeApprovals, method, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, Prefix+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	req.RemoteAddr = "203.0.113.9:4711"
	rec := httptest.NewRecorder()
	New(Config{}, nil, nil, nil, f, nil, quiet).Handler().ServeHTTP(rec, req)
	return rec
}

func TestListApprovals(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	f := &fakeApprovals{list: []weblogin.Pending{{ID: "a-1", ClientID: "forms", ClientName: "Online-Formulare",
		Browser: "Firefox, Linux", Choices: [3]int{12, 47, 83}, CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Minute)}}}
	assertion := base64.RawURLEncoding.EncodeToString([]byte(`{"id":"x"}`))
	rec := serveApprovals(t, f, http.MethodGet, "approvals", "",
		"Pforte-Device-Challenge", "ch-1", "Pforte-Device-Assertion", assertion)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var out struct {
		BindingID string        `json:"binding_id"`
		Approvals []approvalOut `json:"approvals"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if out.BindingID != "b-1" || len(out.Approvals) != 1 || out.Approvals[0].Choices != [3]int{12, 47, 83} ||
		out.Approvals[0].ClientName != "Online-Formulare" || strings.Contains(rec.Body.String(), `"number"`) {
		t.Fatalf("answer %s", rec.Body)
	}
	if len(f.got) != 1 || f.got[0] != `list ch-1 {"id":"x"} 203.0.113.9` {
		t.Fatalf("asked %q", f.got)
	}

	// Without the key's answer, or with one that is not base64url, the
	// use case is not even asked.
	for _, h := range [][]string{
		nil,
		{"Pforte-Device-Challenge", "ch-1"},
		{"Pforte-Device-Challenge", "ch-1", "Pforte-Device-Assertion", "not base64!"},
	} {
		f := &fakeApprovals{}
		rec := serveApprovals(t, f, http.MethodGet, "approvals", "", h...)
		if rec.Code != http.StatusUnauthorized || len(f.got) != 0 || !strings.Contains(rec.Body.String(), string(codeProofMissing)) {
			t.Errorf("headers %q: status %d, asked %q: %s", h, rec.Code, f.got, rec.Body)
		}
	}
}

func TestDecideApproval(t *testing.T) {
	f := &fakeApprovals{decided: approval.Approval{Status: approval.Denied, Reason: approval.ReasonWrongNumber}}
	rec := serveApprovals(t, f, http.MethodPost, "approvals/a-1",
		`{"decision":"approve","number":47,"binding_id":"b-1","proof":{"challenge_id":"ch-1","assertion":{"id":"x"},"pin":"470815"}}`)
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"status":"denied","reason":"wrong_number"}` {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	want := `decide a-1 {"Approve":true,"Number":47,"BindingID":"b-1","ChallengeID":"ch-1","Assertion":"eyJpZCI6IngifQ==","PIN":"470815"} 203.0.113.9`
	if len(f.got) != 1 || f.got[0] != want {
		t.Fatalf("asked %q", f.got)
	}

	f = &fakeApprovals{}
	rec = serveApprovals(t, f, http.MethodPost, "approvals/a-1", `{"decision":"maybe","binding_id":"b-1","proof":{}}`)
	if rec.Code != http.StatusBadRequest || len(f.got) != 0 {
		t.Fatalf("decision maybe: status %d, asked %q", rec.Code, f.got)
	}

	// A wrong PIN is a PIN problem with the attempts left.
	wrong := pin.DefaultPolicy.Try(pin.Counter{}, time.Now(), func() bool { return false })
	f = &fakeApprovals{err: wrong.Err("binding.AuthenticateApproval", time.Now())}
	rec = serveApprovals(t, f, http.MethodPost, "approvals/a-1",
		`{"decision":"deny","binding_id":"b-1","proof":{"challenge_id":"ch-1","assertion":{},"pin":"000001"}}`)
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("Pforte-PIN-Attempts-Remaining") != "4" {
		t.Fatalf("wrong PIN: status %d, remaining %q: %s", rec.Code, rec.Header().Get("Pforte-PIN-Attempts-Remaining"), rec.Body)
	}
	// An approval of another member is not found.
	f = &fakeApprovals{err: fault.Coded(fault.NotFound, "weblogin.Decide", weblogin.CodeUnknown)}
	rec = serveApprovals(t, f, http.MethodPost, "approvals/a-1/challenge", `{"binding_id":"b-2"}`)
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "approval.unknown") {
		t.Fatalf("another member's approval: status %d: %s", rec.Code, rec.Body)
	}
}
