package main

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var (
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
	shown       = regexp.MustCompile(`id="number"[^>]*>([0-9]{2})<`)
)

// browser is a member's browser at the online form's login.
type browser struct {
	t    *testing.T
	hc   *http.Client
	base string
	// page is the approval page after the password.
	page string
}

func form(page string) url.Values {
	f := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		f.Set(m[1], html.UnescapeString(m[2]))
	}
	return f
}

// newTestBrowser is a browser with cookies that follows redirects within
// p and stops at the first to another host.
func newTestBrowser(t *testing.T, p *pforteServer) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: p.issuer, hc: &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != via[0].URL.Host {
			return http.ErrUseLastResponse
		}
		return nil
	}}}
}

// startWebLogin opens an authorization request of the online form and
// logs in with the password: the browser shows the approval page.
func startWebLogin(t *testing.T, p *pforteServer) *browser {
	t.Helper()
	b := newTestBrowser(t, p)
	q := url.Values{"client_id": {webClient.ID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {webClient.RedirectURIs[0]}, "state": {"st-1"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	login := b.get(p.issuer + "/authorize?" + q.Encode())
	f := form(login)
	f.Set("kvnr", testKVNR)
	f.Set("password", testPassword)
	b.page = b.post(p.issuer+"/login", f, http.StatusOK)
	if !shown.MatchString(b.page) {
		t.Fatalf("after the password: no approval page:\n%s", b.page)
	}
	return b
}

func (b *browser) number() string { return shown.FindStringSubmatch(b.page)[1] }

func (b *browser) get(u string) string {
	b.t.Helper()
	resp, err := b.hc.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func (b *browser) post(u string, f url.Values, want int) string {
	b.t.Helper()
	resp, err := b.hc.PostForm(u, f)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		b.t.Fatalf("POST %s: %d, want %d:\n%s", u, resp.StatusCode, want, body)
	}
	if want == http.StatusFound {
		return resp.Header.Get("Location")
	}
	return string(body)
}

// weiter is the approval page's "Weiter".
func (b *browser) weiter(want int) string {
	b.t.Helper()
	return b.post(b.base+"/login/approval", form(b.page), want)
}

// TestApproveInTheApp: pforte-app approvals lists the browser's login with
// three numbers, the browser's among them; approve --number confirms it,
// and the browser's "Weiter" reaches the online form with a code.
func TestApproveInTheApp(t *testing.T) {
	p := startServer(t)
	stateFile := enrolled(t, p)
	b := startWebLogin(t, p)
	n := b.number()

	r := app(t, stateFile, "", nil, "approvals")
	wantExit(t, r, 0, "approvals")
	if !strings.Contains(r.stdout, "Online-Formulare") || !strings.Contains(r.stdout, n) {
		t.Fatalf("approvals does not list the login with number %s:\n%s", n, r.stdout)
	}
	r = app(t, stateFile, "", nil, "approve", "--number", n, "--pin", testPIN)
	wantExit(t, r, 0, "approve")
	if !strings.Contains(r.stdout, "Approved.") {
		t.Fatalf("approve: %s", r.stdout)
	}
	to := b.weiter(http.StatusFound)
	if !strings.HasPrefix(to, webClient.RedirectURIs[0]+"?") || !strings.Contains(to, "code=") {
		t.Fatalf("Weiter after the approval redirects to %q", to)
	}
	r = app(t, stateFile, "", nil, "approvals")
	if !strings.Contains(r.stdout, "No login is waiting") {
		t.Fatalf("approvals after the decision: %s", r.stdout)
	}
}

// TestDenyInTheApp: approve --deny refuses the login; the browser is told.
func TestDenyInTheApp(t *testing.T) {
	p := startServer(t)
	stateFile := enrolled(t, p)
	b := startWebLogin(t, p)
	r := app(t, stateFile, "", nil, "approve", "--deny", "--pin", testPIN)
	wantExit(t, r, 0, "approve --deny")
	if !strings.Contains(r.stdout, "Denied.") {
		t.Fatalf("approve --deny: %s", r.stdout)
	}
	if page := b.weiter(http.StatusBadRequest); !strings.Contains(page, "abgelehnt") {
		t.Fatalf("the browser after the denial:\n%s", page)
	}
}

// TestApproveRefusals: nothing to approve; a wrong PIN counts and decides
// nothing; --deny and --number together are a usage error.
func TestApproveRefusals(t *testing.T) {
	p := startServer(t)
	stateFile := enrolled(t, p)
	r := app(t, stateFile, "", nil, "approve", "--number", "47", "--pin", testPIN)
	wantExit(t, r, 1, "approve without a login")
	wantExit(t, app(t, stateFile, "", nil, "approve", "--deny", "--number", "47", "--pin", testPIN), 2, "approve --deny --number")

	b := startWebLogin(t, p)
	r = app(t, stateFile, "", nil, "approve", "--number", b.number(), "--pin", "904417")
	wantExit(t, r, 1, "approve with a wrong PIN")
	if !strings.Contains(r.stderr, "4") {
		t.Fatalf("a wrong PIN does not say the attempts left: %s", r.stderr)
	}
	wantExit(t, app(t, stateFile, "", nil, "approve", "--number", b.number(), "--pin", testPIN), 0, "approve after a wrong PIN")
	b.weiter(http.StatusFound)
}

// TestApprovalStaysInItsBrowser: another browser — another session cookie —
// neither learns the approval's outcome nor sees its number, and cannot
// complete the login with it, even once the member approved.
func TestApprovalStaysInItsBrowser(t *testing.T) {
	p := startServer(t)
	stateFile := enrolled(t, p)
	b := startWebLogin(t, p)
	id := form(b.page).Get("approval")
	wantExit(t, app(t, stateFile, "", nil, "approve", "--number", b.number(), "--pin", testPIN), 0, "approve")

	other := startWebLogin(t, p) // the same member's other browser, its own approval
	resp, err := other.hc.Get(p.issuer + "/login/approval/status?id=" + url.QueryEscape(id))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"unknown"`) {
		t.Fatalf("status of another browser's approval: %d %s", resp.StatusCode, body)
	}
	if page := other.get(p.issuer + "/login/approval?id=" + url.QueryEscape(id)); shown.MatchString(page) {
		t.Fatalf("another browser sees the approval's number:\n%s", page)
	}
	// Its own form, with the first browser's approval id: refused.
	f := form(other.page)
	f.Set("approval", id)
	other.post(p.issuer+"/login/approval", f, http.StatusForbidden)
	// The browser that started it still completes the login.
	if to := b.weiter(http.StatusFound); !strings.Contains(to, "code=") {
		t.Fatalf("the right browser after the attempts: %q", to)
	}
}
