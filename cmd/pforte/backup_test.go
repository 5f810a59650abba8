package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/configs"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/kvnr"
)

// confidential is a client with a secret, posting to Pforte's endpoints.
type confidential struct {
	id, secret, base string
	// basic: client_secret_basic, else client_secret_post.
	basic bool
	hc    *http.Client
}

// post sends form with the client's credentials and returns the JSON
// answer (nil after a failure, which fails t).
func (c confidential) post(t *testing.T, path string, form url.Values) map[string]any {
	t.Helper()
	if !c.basic {
		form.Set("client_id", c.id)
		form.Set("client_secret", c.secret)
	}
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.basic {
		req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Error(err)
		return nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if resp.StatusCode != http.StatusOK || (len(body) > 0 && json.Unmarshal(body, &m) != nil) {
		t.Errorf("POST %s: %d %s", path, resp.StatusCode, body)
		return nil
	}
	return m
}

func (c confidential) active(t *testing.T, tok string) bool {
	t.Helper()
	a, _ := c.post(t, "/introspect", url.Values{"token": {tok}})["active"].(bool)
	return a
}

// revokedToken gets an access token with client credentials and revokes
// it: Pforte records a client's own access token when it is revoked, so
// each call is a write to the database ("" after a failure).
func (c confidential) revokedToken(t *testing.T) string {
	t.Helper()
	tok, _ := c.post(t, "/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"claims.read"}})["access_token"].(string)
	if tok == "" || c.post(t, "/revoke", url.Values{"token": {tok}}) == nil {
		return ""
	}
	return tok
}

// TestBackupRestore backs up a serving SQLite deployment with `pforte
// backup` while tokens are being written, restores the copy into a new
// directory with the master key, and starts the server on it. The
// restored deployment is the one of the moment the backup began: a
// member's login (access token, refresh token) and an imported member
// from before are there, and so is every revocation from before; a
// revocation and a member import from after the backup ended are not.
func TestBackupRestore(t *testing.T) {
	addr, admin := servertest.FreeAddr(t), servertest.FreeAddr(t)
	issuer := "http://" + addr
	dirA := filepath.Join(t.TempDir(), "data")
	cmd := func(t *testing.T, dir string, args ...string) result {
		t.Helper()
		return runCLI(t, defaultWiring(), nil, append(args, "--data-dir", dir)...)
	}
	serveOn := func(dir string) (stop func()) {
		return startServe(t, []string{"serve", "--addr", addr, "--issuer", issuer, "--data-dir", dir},
			map[string]string{"PFORTE_ADMIN_ADDR": admin}, "http://"+admin+"/readyz")
	}
	importMember := func(dir string, k kvnr.KVNR, family string) {
		t.Helper()
		csv := writeFile(t, "members.csv", "kvnr;given_name;family_name;birth_date;street;postal_code;locality;insured_from\n"+
			string(k)+";Rita;"+family+";1971-03-04;Am Deich 5;25761;Büsum;2001-01-01\n")
		if r := cmd(t, dir, "members", "import", csv); r.code != exitOK || !strings.Contains(r.stdout, "1 accepted") {
			t.Fatalf("members import: %s %s", r.stdout, r.stderr)
		}
	}
	stop := serveOn(dirA)

	var clients clientsFile
	if err := decodeStrict(configs.DevClients, &clients); err != nil {
		t.Fatal(err)
	}
	secretOf := func(id string) string {
		i := slices.IndexFunc(clients.Clients, func(c clientSpec) bool { return c.ID == id })
		return clients.Clients[i].Secret.Reveal()
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	service := confidential{id: "claims-service", secret: secretOf("claims-service"), base: issuer, hc: hc}
	forms := confidential{id: "online-forms", secret: secretOf("online-forms"), base: issuer, basic: true, hc: hc}

	// Before the backup: a member logs into the online form (access and
	// refresh token, recorded with the member's session), a member is
	// imported, tokens are revoked.
	login := memberLogin(t, issuer, forms)
	kept := coretest.KVNR("R12345678")
	importMember(dirA, kept, "Rückwärts")
	var before []string
	for range 3 {
		before = append(before, service.revokedToken(t))
	}
	// While the backup runs, two writers revoke tokens; each remembers
	// whether its request began after the backup had ended.
	type write struct {
		tok   string
		after bool
	}
	var (
		backupDone atomic.Bool
		mu         sync.Mutex
		during     []write
		wg         sync.WaitGroup
		quit       = make(chan struct{})
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-quit:
					return
				default:
				}
				after := backupDone.Load()
				tok := service.revokedToken(t)
				if tok == "" {
					return
				}
				mu.Lock()
				during = append(during, write{tok, after})
				mu.Unlock()
			}
		}()
	}
	backup := filepath.Join(t.TempDir(), "pforte-backup.db")
	r := cmd(t, dirA, "backup", backup)
	backupDone.Store(true)
	// After the backup: more revocations and another member.
	var after []string
	for range 3 {
		after = append(after, service.revokedToken(t))
	}
	close(quit)
	wg.Wait()
	lost := coretest.KVNR("S12345678")
	importMember(dirA, lost, "Später")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "Backed up ") || !strings.Contains(r.stdout, "integrity checked") {
		t.Fatalf("backup: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	// Backing up onto the same file again is refused; the copy stays.
	if r := cmd(t, dirA, "backup", backup); r.code != exitError || !strings.Contains(r.stderr, "exists already") {
		t.Errorf("second backup onto the same file: %d %q", r.code, r.stderr)
	}
	stop()

	// Restore into a new directory: the copy as the database, and the
	// master key that seals its signing keys (and derives the PIN pepper).
	dirB := filepath.Join(t.TempDir(), "restored")
	if err := os.Mkdir(dirB, 0o700); err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{backup: "pforte.db", filepath.Join(dirA, "master.key"): "master.key"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dirB, dst), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if r := cmd(t, dirB, "doctor"); r.code != exitOK {
		t.Errorf("doctor on the restored deployment: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	serveOn(dirB)

	if !forms.active(t, login.AccessToken) {
		t.Error("the member's access token from before the backup is not active after the restore")
	}
	if m := forms.post(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {login.RefreshToken}}); m == nil || m["access_token"] == nil {
		t.Error("the member's refresh token from before the backup does not refresh after the restore")
	}
	for i, tok := range before {
		if service.active(t, tok) {
			t.Errorf("revocation %d from before the backup is lost", i)
		}
	}
	for i, tok := range after {
		if !service.active(t, tok) {
			t.Errorf("revocation %d from after the backup is in the restored database", i)
		}
	}
	inBackup := 0
	for _, w := range during {
		revoked := !service.active(t, w.tok)
		if w.after && revoked {
			t.Error("a revocation requested after the backup ended is in the restored database")
		}
		if revoked {
			inBackup++
		}
	}
	t.Logf("%d revocations while the backup ran, %d of them in it", len(during), inBackup)
	if r := cmd(t, dirB, "members", "show", string(kept)); r.code != exitOK || !strings.Contains(r.stdout, "Rückwärts") {
		t.Errorf("the member imported before the backup: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := cmd(t, dirB, "members", "show", string(lost)); r.code != exitError {
		t.Errorf("the member imported after the backup: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// memberLogin logs the demo member with a device into the online form:
// password on the login page, confirmation with the demo device and PIN,
// code exchange.
func memberLogin(t *testing.T, issuer string, forms confidential) *oauth2.Token {
	t.Helper()
	var members membersFile
	if err := decodeStrict(configs.DevMembers, &members); err != nil {
		t.Fatal(err)
	}
	demo := members.Members[1]
	ctx := t.Context()
	approve := demoApprover(t, issuer, demo.Device.PIN.Reveal())
	conf := oauth2.Config{
		ClientID: forms.id, ClientSecret: forms.secret, RedirectURL: "http://localhost:8081/callback",
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"openid", "profile"},
	}
	verifier := oauth2.GenerateVerifier()
	code := browserLogin(t, conf.AuthCodeURL("restore-state", oauth2.S256ChallengeOption(verifier)),
		issuer, demo.KVNR, demo.Password.Reveal(), conf.RedirectURL, "restore-state", approve)
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, forms.hc), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("the online form got no refresh token")
	}
	return tok
}

// pforte backup refuses a PostgreSQL database and points to pg_dump, and
// refuses to create an empty database where there is none.
func TestBackupRefusals(t *testing.T) {
	r := runCLI(t, defaultWiring(), map[string]string{
		"PFORTE_STORAGE_TYPE": "postgres", "PFORTE_STORAGE_DSN": "postgres://pforte@127.0.0.1:1/pforte",
	}, "backup", filepath.Join(t.TempDir(), "b.db"))
	assertOneLine(t, r, exitError, "pforte: backup: the database is PostgreSQL")
	if !strings.Contains(r.stderr, "pg_dump") || !strings.Contains(r.stderr, "master key") || !strings.Contains(r.stderr, "PIN peppers") {
		t.Errorf("the refusal does not say what to do: %s", r.stderr)
	}

	dir := filepath.Join(t.TempDir(), "data")
	r = runCLI(t, defaultWiring(), nil, "backup", "--data-dir", dir, filepath.Join(t.TempDir(), "b.db"))
	assertOneLine(t, r, exitError, fmt.Sprintf("pforte: backup: there is no database at %s", filepath.Join(dir, "pforte.db")))
	if _, err := os.Stat(filepath.Join(dir, "pforte.db")); err == nil {
		t.Error("backup created a database")
	}
	r = runCLI(t, defaultWiring(), nil, "backup")
	if r.code != exitUsage {
		t.Errorf("backup without FILE: exit %d, want %d", r.code, exitUsage)
	}
}
