package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
)

// adminStatusLoad is the support tool's look at a member
// (GET /admin/v1/members/{kvnr} of the admin API): a client_credentials
// token of a service client with the scope admin (--client-id,
// --client-secret), the person at the support tool in X-Pforte-Agent, a
// random seeded member per call. The answer must be the member's: the
// number, registered, an account, and the phone seeded for it among the
// devices, active with its PIN set. The token is renewed before it
// expires, as the support tool does.
type adminStatusLoad struct {
	appLoginLoad
	members []*phone

	mu      sync.Mutex
	token   string
	renewAt time.Time
}

// adminStatus is the part of the member status the workload checks.
type adminStatus struct {
	KVNR         string `json:"kvnr"`
	Registration string `json:"registration"`
	Account      *struct {
		ID string `json:"id"`
	} `json:"account"`
	Devices []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		PINSet bool   `json:"pin_set"`
	} `json:"devices"`
}

func (w *adminStatusLoad) Setup(ctx context.Context) error {
	if w.cfg.ClientID == "" {
		return errors.New("admin-status needs a service client with the scope admin: --client-id and --client-secret")
	}
	if err := w.appLoginLoad.Setup(ctx); err != nil {
		return err
	}
	for range len(w.phones) {
		p := <-w.phones
		w.members = append(w.members, p)
		w.phones <- p
	}
	return w.Do(ctx)
}

// adminToken returns the admin token, asking the token endpoint for a new
// one when none is held or it expires within the next half minute.
func (w *adminStatusLoad) adminToken(ctx context.Context) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.token != "" && time.Now().Before(w.renewAt) {
		return w.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {w.adminScope()}}
	body, err := w.postClient(ctx, w.md.TokenEndpoint, form)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	var t struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" || !strings.EqualFold(t.TokenType, "Bearer") || t.ExpiresIn <= 0 {
		return "", &httpError{Status: http.StatusOK, Code: "no bearer access_token"}
	}
	if t.Scope != "" && !hasScope(t.Scope, "admin") {
		return "", fmt.Errorf("admin token: the token's scope is %q, without admin", t.Scope)
	}
	w.token = t.AccessToken
	w.renewAt = time.Now().Add(time.Duration(t.ExpiresIn)*time.Second - 30*time.Second)
	return w.token, nil
}

// adminScope is --scope, admin when not given.
func (w *adminStatusLoad) adminScope() string {
	if w.cfg.Scope != "" {
		return w.cfg.Scope
	}
	return "admin"
}

// hasScope reports whether the space-separated list holds s.
func hasScope(list, s string) bool {
	for _, f := range strings.Fields(list) {
		if f == s {
			return true
		}
	}
	return false
}

func (w *adminStatusLoad) Do(ctx context.Context) error {
	tok, err := w.adminToken(ctx)
	if err != nil {
		return err
	}
	m := w.members[mrand.IntN(len(w.members))]
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		strings.TrimRight(w.md.Issuer, "/")+"/admin/v1/members/"+url.PathEscape(m.kvnr), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Pforte-Agent", w.cfg.Agent)
	req.Header.Set("Accept", "application/json, application/problem+json")
	resp, err := w.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		if p := appclient.ReadProblem(resp.StatusCode, resp.Header, body); p != nil {
			return fmt.Errorf("member %s: %w", m.kvnr, p)
		}
		return fmt.Errorf("member %s: %w", m.kvnr, &httpError{Status: resp.StatusCode, Code: "no problem document"})
	}
	var st adminStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("member %s: the status is not JSON: %w", m.kvnr, err)
	}
	if st.KVNR != m.kvnr || st.Registration != "registered" || st.Account == nil || st.Account.ID == "" {
		return fmt.Errorf("member %s: the status names member %q, registration %q, account %t", m.kvnr, st.KVNR, st.Registration, st.Account != nil)
	}
	for _, d := range st.Devices {
		if d.ID == m.binding {
			if d.Status != "active" || !d.PINSet {
				return fmt.Errorf("member %s: the seeded device is %q, PIN set %t", m.kvnr, d.Status, d.PINSet)
			}
			return nil
		}
	}
	return fmt.Errorf("member %s: the status lists %d devices, not the seeded one", m.kvnr, len(st.Devices))
}
