package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/signkey"
)

type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the command line in-process with the wiring w and the
// environment m (and nothing of the real environment).
func runCLI(t *testing.T, w wiring, m map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := runWith(context.Background(), args, &out, &errb, env(m), w)
	return result{code, out.String(), errb.String()}
}

// assertOneLine checks that stderr is exactly one line starting with want.
func assertOneLine(t *testing.T, r result, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d (stderr %q)", r.code, code, r.stderr)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr is not one line: %q", r.stderr)
	}
	if !strings.HasPrefix(r.stderr, want) {
		t.Errorf("stderr %q, want prefix %q", r.stderr, want)
	}
}

// fakes records what the commands passed to the wiring.
type fakes struct {
	cfg   *Config
	admin *fakeAdmin
	mig   *fakeMigrator
}

func (f *fakes) wiring() wiring {
	if f.admin == nil {
		f.admin = &fakeAdmin{}
	}
	if f.mig == nil {
		f.mig = &fakeMigrator{}
	}
	return wiring{
		serve: func(_ context.Context, cfg *Config, log *slog.Logger, stdout io.Writer) error {
			f.cfg = cfg
			io.WriteString(stdout, "serving\n")
			return nil
		},
		openMigrator: func(_ context.Context, cfg *Config, _ *slog.Logger) (migrator, error) {
			f.cfg = cfg
			return f.mig, nil
		},
		openAdmin: func(_ context.Context, cfg *Config, _ *slog.Logger) (admin, error) {
			f.cfg = cfg
			return f.admin, nil
		},
	}
}

type fakeMigrator struct {
	all    []migration
	closed bool
}

func (m *fakeMigrator) Up(context.Context) ([]migration, error) {
	var applied []migration
	for i := range m.all {
		if m.all[i].AppliedAt.IsZero() {
			m.all[i].AppliedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			applied = append(applied, m.all[i])
		}
	}
	return applied, nil
}
func (m *fakeMigrator) Status(context.Context) ([]migration, error) { return m.all, nil }
func (m *fakeMigrator) Close() error                                { m.closed = true; return nil }

type fakeAdmin struct {
	clients []client.Client
	keys    []signkey.Key
	force   *bool
	closed  bool
}

func testHasher() client.SecretHasher {
	h, err := client.NewSecretHasher(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		panic(err)
	}
	return h
}

func (a *fakeAdmin) SecretHasher() client.SecretHasher { return testHasher() }
func (a *fakeAdmin) CreateClient(_ context.Context, c client.Client) error {
	for _, x := range a.clients {
		if x.ID == c.ID {
			return fault.New(fault.Conflict, "fake.CreateClient", "")
		}
	}
	a.clients = append(a.clients, c)
	return nil
}
func (a *fakeAdmin) ListClients(context.Context) ([]client.Client, error) { return a.clients, nil }
func (a *fakeAdmin) DeleteClient(_ context.Context, id string) error {
	for i, x := range a.clients {
		if x.ID == id {
			a.clients = append(a.clients[:i], a.clients[i+1:]...)
			return nil
		}
	}
	return fault.New(fault.NotFound, "fake.DeleteClient", "")
}
func (a *fakeAdmin) ListSigningKeys(context.Context) ([]signkey.Key, error) { return a.keys, nil }
func (a *fakeAdmin) RotateKeys(_ context.Context, force bool) (signkey.Plan, error) {
	a.force = &force
	return signkey.Plan{Activate: "k2", Retire: "k1", NeedNext: true}, nil
}
func (a *fakeAdmin) Close() error { a.closed = true; return nil }

func TestNoArgumentsPrintsHelp(t *testing.T) {
	r := runCLI(t, (&fakes{}).wiring(), nil)
	if r.code != 0 || !strings.Contains(r.stdout, "Available Commands:") || r.stderr != "" {
		t.Fatalf("%+v", r)
	}
	for _, c := range []string{"serve", "migrate", "clients", "keys", "version"} {
		if !strings.Contains(r.stdout, "\n  "+c+" ") {
			t.Errorf("help does not list %s", c)
		}
	}
	if strings.Contains(r.stdout, "completion") {
		t.Error("the completion command is not part of Pforte's CLI")
	}
}

func TestHelpFlagExitsZero(t *testing.T) {
	r := runCLI(t, (&fakes{}).wiring(), nil, "serve", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "--no-auto-migrate") || !strings.Contains(r.stdout, "--data-dir") {
		t.Fatalf("%+v", r)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	w := (&fakes{}).wiring()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serv"}, `pforte: unknown command "serv" for "pforte"; did you mean "serve"? (see 'pforte --help')`},
		{[]string{"serve", "--bogus"}, "pforte: unknown flag: --bogus (see 'pforte serve --help')"},
		{[]string{"serve", "extra"}, `pforte: unknown command "extra" for "pforte serve" (see 'pforte serve --help')`},
		{[]string{"keys"}, "pforte: keys needs a subcommand: list, rotate (see 'pforte keys --help')"},
		{[]string{"migrate", "down"}, `pforte: unknown command "down" for "pforte migrate"`},
		{[]string{"clients", "remove"}, "pforte: accepts 1 arg(s), received 0 (see 'pforte clients remove --help')"},
		{[]string{"keys", "rotate", "--force=maybe"}, "pforte: invalid argument \"maybe\" for \"--force\""},
		{[]string{"clients", "add", "--kind", "web"}, "pforte: --id is required (see 'pforte clients add --help')"},
		{[]string{"clients", "add", "--id", "x", "--kind", "robot"}, "pforte: --kind must be native, web, portal or service"},
		{[]string{"version", "now"}, `pforte: unknown command "now" for "pforte version"`},
	} {
		r := runCLI(t, w, nil, tc.args...)
		assertOneLine(t, r, exitUsage, tc.want)
	}
}

func TestVersion(t *testing.T) {
	r := runCLI(t, (&fakes{}).wiring(), nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "pforte dev\n") || !strings.Contains(r.stdout, "go:") {
		t.Fatalf("%+v", r)
	}
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/pforte-id/pforte", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
		},
	}
	got := versionText("v1.2.3", bi, true)
	want := "pforte v1.2.3\nmodule:  github.com/pforte-id/pforte v1.2.3\ncommit:  abc123 (modified)\ntime:    2026-01-02T03:04:05Z\ngo:      go1.26.8\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if versionText("dev", nil, false) != "pforte dev\n" {
		t.Fatal("without build info")
	}
}

func TestServeBadConfigExitsOneNamingTheKey(t *testing.T) {
	f := &fakes{}
	r := runCLI(t, f.wiring(), map[string]string{"PFORTE_STORAGE_TYPE": "postgres"}, "serve")
	assertOneLine(t, r, exitError, "pforte: config: storage.dsn: required: the PostgreSQL connection string or the SQLite file")
	if f.cfg != nil {
		t.Fatal("serve was called with a bad configuration")
	}
	// What the mail adapter refuses is refused before serve, naming the key.
	r = runCLI(t, f.wiring(), map[string]string{
		"PFORTE_NOTIFY_TYPE": "smtp", "PFORTE_SMTP_HOST": "mail.example.org",
		"PFORTE_NOTIFY_FROM": "service@example.org", "PFORTE_SMTP_STARTTLS": "none",
	}, "serve")
	assertOneLine(t, r, exitError, "pforte: config: notify.starttls: none is only allowed for a relay on the loopback interface, not mail.example.org")
	if f.cfg != nil {
		t.Fatal("serve was called with a bad configuration")
	}
	p := writeFile(t, "pforte.yaml", "server:\n  adress: 1\n")
	r = runCLI(t, f.wiring(), nil, "serve", "--config", p)
	assertOneLine(t, r, exitError, "pforte: config: server.adress: unknown key")
}

func TestServeFlagsReachTheConfig(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, "pforte.yaml", "server:\n  addr: 127.0.0.1:7000\nlog:\n  format: text\n")
	f := &fakes{}
	r := runCLI(t, f.wiring(), map[string]string{"PFORTE_ADDR": "127.0.0.1:7001", "PFORTE_LOG_LEVEL": "debug"},
		"serve", "--config", p, "--addr", "127.0.0.1:7002", "--issuer", "http://127.0.0.1:7002",
		"--data-dir", dir, "--no-auto-migrate")
	if r.code != 0 || r.stdout != "serving\n" {
		t.Fatalf("%+v", r)
	}
	c := f.cfg
	if c.Server.Addr != "127.0.0.1:7002" || c.Server.Issuer != "http://127.0.0.1:7002" || c.Server.DataDir != dir ||
		c.Storage.AutoMigrate || c.Log.Format != "text" || c.Log.Level != "debug" {
		t.Fatalf("config %+v %+v %+v", c.Server, c.Storage, c.Log)
	}
	// --data-dir also works before the subcommand.
	r = runCLI(t, f.wiring(), nil, "--data-dir", dir, "serve")
	if r.code != 0 || f.cfg.Server.DataDir != dir || !f.cfg.Storage.AutoMigrate {
		t.Fatalf("%+v %+v", r, f.cfg.Server)
	}
}

func TestServeErrorIsOneLine(t *testing.T) {
	w := (&fakes{}).wiring()
	w.serve = func(context.Context, *Config, *slog.Logger, io.Writer) error {
		return errors.New("listen tcp 127.0.0.1:8080:\nbind: address already in use")
	}
	r := runCLI(t, w, nil, "serve", "--data-dir", t.TempDir())
	assertOneLine(t, r, exitError, "pforte: listen tcp 127.0.0.1:8080: bind: address already in use")
}

func TestMigrate(t *testing.T) {
	f := &fakes{mig: &fakeMigrator{all: []migration{
		{Version: 1, Name: "init", AppliedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Version: 2, Name: "tokens"},
	}}}
	w := f.wiring()
	r := runCLI(t, w, nil, "migrate", "status", "--data-dir", t.TempDir())
	if r.code != 0 || !strings.Contains(r.stdout, "1        init    2026-01-01T00:00:00Z") || !strings.Contains(r.stdout, "2        tokens  pending") {
		t.Fatalf("%+v", r)
	}
	r = runCLI(t, w, nil, "migrate", "up", "--data-dir", t.TempDir())
	if r.code != 0 || r.stdout != "applied 2 tokens\n" || !f.mig.closed {
		t.Fatalf("%+v", r)
	}
	r = runCLI(t, w, nil, "migrate", "up", "--data-dir", t.TempDir())
	if r.code != 0 || r.stdout != "The database is up to date.\n" {
		t.Fatalf("%+v", r)
	}
	// The real wiring migrates a fresh database, then finds it up to date.
	dir := t.TempDir()
	if r = runCLI(t, defaultWiring(), nil, "migrate", "up", "--data-dir", dir); r.code != 0 || !strings.HasPrefix(r.stdout, "applied ") {
		t.Fatalf("%+v", r)
	}
	if r = runCLI(t, defaultWiring(), nil, "migrate", "up", "--data-dir", dir); r.code != 0 || r.stdout != "The database is up to date.\n" {
		t.Fatalf("%+v", r)
	}
}

func TestClientsAddListRemove(t *testing.T) {
	f := &fakes{}
	w := f.wiring()
	dir := t.TempDir()
	r := runCLI(t, w, nil, "clients", "add", "--data-dir", dir, "--id", "forms", "--kind", "web",
		"--redirect-uri", "https://forms.example.org/cb", "--scope", "openid", "--scope", "profile,email")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if len(f.admin.clients) != 1 {
		t.Fatalf("clients %+v", f.admin.clients)
	}
	c := f.admin.clients[0]
	if c.Kind != client.Web || c.AuthMethod != client.AuthSecretBasic || strings.Join(c.GrantTypes, " ") != "authorization_code refresh_token" ||
		strings.Join(c.Scopes, " ") != "openid profile email" || c.Name != "forms" {
		t.Fatalf("client %+v", c)
	}
	var secret string
	for _, line := range strings.Split(r.stdout, "\n") {
		if s, ok := strings.CutPrefix(line, "client_secret: "); ok {
			secret = s
		}
	}
	if len(secret) < 43 || !testHasher().Verify(secret, c.SecretHash) {
		t.Fatalf("printed secret %q does not match the stored hash\n%s", secret, r.stdout)
	}
	if !strings.Contains(r.stdout, "secret_hash:   "+c.SecretHash) {
		t.Fatalf("no secret_hash line:\n%s", r.stdout)
	}

	if c.MinACR != loa.Substantial {
		t.Fatalf("a web client without --min-acr accepts %v, want substantial", c.MinACR)
	}

	// A native client gets no secret.
	r = runCLI(t, w, nil, "clients", "add", "--data-dir", dir, "--id", "app", "--kind", "native", "--redirect-uri", "http://127.0.0.1/cb")
	if r.code != 0 || strings.Contains(r.stdout, "secret") || f.admin.clients[1].SecretHash != "" {
		t.Fatalf("%+v", r)
	}
	// A portal with its JWKS from a file.
	jwks := writeFile(t, "jwks.json", `{"keys":[{"kty":"EC","crv":"P-256","x":"7o_ozw2t0b-Jn21nsxSjBKn0i_jhiZJRCFEn9A3l7CI","y":"ZzRwULMaR6XDXl4_tDZfRvFm9Ke9QGOo8x7xYdOyemU"}]}`)
	r = runCLI(t, w, nil, "clients", "add", "--data-dir", dir, "--id", "portal", "--kind", "portal", "--redirect-uri", "https://p.example.org/cb", "--jwks-file", jwks)
	if r.code != 0 || len(f.admin.clients[2].JWKS) == 0 {
		t.Fatalf("%+v", r)
	}
	// --min-acr low: the password alone reaches it; an unknown level is a usage error.
	r = runCLI(t, w, nil, "clients", "add", "--data-dir", dir, "--id", "calc", "--kind", "web", "--redirect-uri", "https://calc.example.org/cb", "--min-acr", "low")
	if r.code != 0 || f.admin.clients[3].MinACR != loa.Low {
		t.Fatalf("--min-acr low: %+v", r)
	}
	r = runCLI(t, w, nil, "clients", "add", "--data-dir", dir, "--id", "bad3", "--kind", "web", "--redirect-uri", "https://calc.example.org/cb", "--min-acr", "medium")
	assertOneLine(t, r, exitUsage, "pforte: --min-acr must be low, substantial or high")
	r = runCLI(t, w, nil, "clients", "list", "--data-dir", dir)
	if !strings.Contains(r.stdout, "MIN ACR") || !regexp.MustCompile(`(?m)^calc +web +client_secret_basic +low `).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^forms +web +client_secret_basic +substantial `).MatchString(r.stdout) {
		t.Fatalf("clients list:\n%s", r.stdout)
	}
	r = runCLI(t, w, nil, "clients", "remove", "calc", "--data-dir", dir)
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	// Invalid definitions are usage errors, checked before anything is stored.
	r = runCLI(t, w, nil, "clients", "add", "--data-dir", dir, "--id", "bad", "--kind", "web", "--redirect-uri", "http://forms.example.org/cb")
	assertOneLine(t, r, exitUsage, "pforte: client bad: redirect URI http://forms.example.org/cb must use https")
	r = runCLI(t, w, nil, "clients", "add", "--data-dir", dir, "--id", "bad2", "--kind", "web", "--jwks-file", jwks)
	assertOneLine(t, r, exitUsage, "pforte: --jwks-file is only for private_key_jwt clients")
	// A duplicate is a failure of the store, not of the command line.
	r = runCLI(t, w, nil, "clients", "add", "--data-dir", dir, "--id", "app", "--kind", "native", "--redirect-uri", "http://127.0.0.1/cb")
	assertOneLine(t, r, exitError, `pforte: clients add: a client "app" exists already`)
	if len(f.admin.clients) != 3 {
		t.Fatalf("%d clients", len(f.admin.clients))
	}

	r = runCLI(t, w, nil, "clients", "list", "--data-dir", dir)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ID ") || !strings.Contains(r.stdout, "forms ") ||
		!strings.Contains(r.stdout, "client_secret_basic") || !strings.Contains(r.stdout, "https://forms.example.org/cb") ||
		strings.Contains(r.stdout, c.SecretHash) {
		t.Fatalf("%+v", r)
	}
	r = runCLI(t, w, nil, "clients", "remove", "forms", "--data-dir", dir)
	if r.code != 0 || r.stdout != "Removed client forms.\n" || len(f.admin.clients) != 2 || !f.admin.closed {
		t.Fatalf("%+v", r)
	}
	r = runCLI(t, w, nil, "clients", "remove", "forms", "--data-dir", dir)
	assertOneLine(t, r, exitError, `pforte: clients remove: no client "forms"`)
}

func TestKeys(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &fakes{admin: &fakeAdmin{keys: []signkey.Key{
		{ID: "k1", Algorithm: "ES256", State: signkey.Active, CreatedAt: created, ActivatedAt: created},
		{ID: "k2", Algorithm: "ES256", State: signkey.Next, CreatedAt: created},
	}}}
	w := f.wiring()
	dir := t.TempDir()
	r := runCLI(t, w, nil, "keys", "list", "--data-dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "k1  active  ES256  2026-01-01T00:00:00Z  2026-01-01T00:00:00Z  -") ||
		!strings.Contains(r.stdout, "k2  next    ES256") {
		t.Fatalf("%q", r.stdout)
	}
	r = runCLI(t, w, nil, "keys", "rotate", "--data-dir", dir)
	if r.code != 0 || f.admin.force == nil || *f.admin.force {
		t.Fatalf("%+v", r)
	}
	r = runCLI(t, w, nil, "keys", "rotate", "--force", "--data-dir", dir)
	if r.code != 0 || !*f.admin.force || r.stdout != "activated k2\nretired   k1\ncreated a new next key\n" {
		t.Fatalf("%+v", r)
	}
	var buf bytes.Buffer
	printPlan(&buf, signkey.Plan{})
	if !strings.HasPrefix(buf.String(), "Nothing to rotate") {
		t.Fatal(buf.String())
	}
	// The real wiring opens a fresh database; opening the key ring there
	// creates the first keys, so nothing is due.
	r = runCLI(t, defaultWiring(), nil, "keys", "rotate", "--data-dir", t.TempDir())
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
}

func TestAdminCommandsLoadTheConfig(t *testing.T) {
	f := &fakes{}
	r := runCLI(t, f.wiring(), map[string]string{"PFORTE_LOG_LEVEL": "chatty"}, "keys", "list")
	assertOneLine(t, r, exitError, "pforte: config: log.level: ")
	if f.cfg != nil {
		t.Fatal("admin opened with a bad configuration")
	}
	dir := t.TempDir()
	r = runCLI(t, f.wiring(), map[string]string{"PFORTE_DATA_DIR": dir}, "clients", "list")
	if r.code != 0 || f.cfg.Server.DataDir != dir {
		t.Fatalf("%+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); err == nil {
		t.Fatal("the CLI created a master key on its own; that is the wiring's decision")
	}
}

// --introspection-audience names registered confidential clients only:
// a public or unknown one is a usage error and nothing is stored.
func TestClientsAddIntrospectionAudience(t *testing.T) {
	f := &fakes{}
	w := f.wiring()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--id", "api", "--kind", "service"},
		{"--id", "app", "--kind", "native", "--redirect-uri", "http://127.0.0.1/cb"},
		{"--id", "forms", "--kind", "web", "--redirect-uri", "https://forms.example.org/cb", "--introspection-audience", "api"},
	} {
		if r := runCLI(t, w, nil, append([]string{"clients", "add", "--data-dir", dir}, args...)...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	if got := f.admin.clients[2].IntrospectionAudiences; !slices.Equal(got, []string{"api"}) {
		t.Fatalf("introspection audiences %q, want api", got)
	}
	if got := f.admin.clients[0].IntrospectionAudiences; len(got) != 0 {
		t.Errorf("default introspection audiences %q, want none", got)
	}
	for _, aud := range []string{"app", "nope"} {
		r := runCLI(t, w, nil, "clients", "add", "--data-dir", dir, "--id", "forms2", "--kind", "web",
			"--redirect-uri", "https://forms.example.org/cb", "--introspection-audience", aud)
		assertOneLine(t, r, exitUsage, "pforte: --introspection-audience "+aud+" is not a registered confidential client")
	}
	r := runCLI(t, w, nil, "clients", "add", "--data-dir", dir, "--id", "forms3", "--kind", "web",
		"--redirect-uri", "https://forms.example.org/cb", "--introspection-audience", "forms3")
	assertOneLine(t, r, exitUsage, "pforte: client forms3: introspection_audiences names the client itself")
	if len(f.admin.clients) != 3 {
		t.Fatalf("%d clients stored, want 3", len(f.admin.clients))
	}
}

func TestClientsAddChecksBeforeOpening(t *testing.T) {
	w := (&fakes{}).wiring()
	opened := false
	w.openAdmin = func(context.Context, *Config, *slog.Logger) (admin, error) {
		opened = true
		return nil, errors.New("unreachable")
	}
	r := runCLI(t, w, nil, "clients", "add", "--data-dir", t.TempDir(), "--id", "svc", "--kind", "service", "--grant-type", "authorization_code")
	assertOneLine(t, r, exitUsage, "pforte: client svc: service clients use client_credentials only")
	if opened {
		t.Fatal("the store was opened for an invalid client")
	}
}

// A portal registered with `pforte clients add` and the same portal from a
// clients file come out alike: both require PAR (client.WithDefaults), and
// a native app requires DPoP either way.
func TestClientsAddAndClientsFileAgree(t *testing.T) {
	jwks := `{"keys":[{"kty":"EC","crv":"P-256","x":"7o_ozw2t0b-Jn21nsxSjBKn0i_jhiZJRCFEn9A3l7CI","y":"ZzRwULMaR6XDXl4_tDZfRvFm9Ke9QGOo8x7xYdOyemU"}]}`
	jwksPath := writeFile(t, "jwks.json", jwks)
	f := &fakes{}
	w := f.wiring()
	dir := t.TempDir()
	for _, a := range [][]string{
		{"--id", "portal", "--kind", "portal", "--redirect-uri", "https://p.example.org/cb", "--jwks-file", jwksPath},
		{"--id", "app", "--kind", "native", "--redirect-uri", "http://127.0.0.1/cb"},
	} {
		if r := runCLI(t, w, nil, append([]string{"clients", "add", "--data-dir", dir}, a...)...); r.code != 0 {
			t.Fatalf("%+v", r)
		}
	}
	fromFile, err := parseClientsFile([]byte("clients:\n"+
		"  - id: portal\n    kind: portal\n    jwks_file: "+jwksPath+"\n    redirect_uris: [https://p.example.org/cb]\n"+
		"  - id: app\n    kind: native\n    redirect_uris: [http://127.0.0.1/cb]\n"), devClientsOpts())
	if err != nil {
		t.Fatal(err)
	}
	for i, fc := range fromFile {
		ac := f.admin.clients[i]
		if !ac.RequirePAR && fc.ID == "portal" || !ac.RequireDPoP && fc.ID == "app" {
			t.Errorf("clients add: %s without its kind's default: %+v", ac.ID, ac)
		}
		if ac.ID != fc.ID || ac.Name != fc.Name || ac.AuthMethod != fc.AuthMethod ||
			strings.Join(ac.GrantTypes, " ") != strings.Join(fc.GrantTypes, " ") ||
			ac.RequirePAR != fc.RequirePAR || ac.RequireDPoP != fc.RequireDPoP {
			t.Errorf("clients add and clients file differ:\n add  %+v\n file %+v", ac, fc)
		}
	}
}

// --backchannel-logout-uri registers where the client takes logout
// tokens; clients list shows it; a URI that is not https (http only on
// loopback) or has a fragment is a usage error and nothing is stored.
func TestClientsAddBackchannelLogoutURI(t *testing.T) {
	f := &fakes{}
	w := f.wiring()
	dir := t.TempDir()
	r := runCLI(t, w, nil, "clients", "add", "--data-dir", dir, "--id", "forms", "--kind", "web",
		"--redirect-uri", "https://forms.example.org/cb", "--backchannel-logout-uri", "https://forms.example.org/backchannel")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if got := f.admin.clients[0].BackchannelLogoutURI; got != "https://forms.example.org/backchannel" {
		t.Fatalf("stored %q", got)
	}
	r = runCLI(t, w, nil, "clients", "add", "--data-dir", dir, "--id", "dev", "--kind", "web",
		"--redirect-uri", "http://127.0.0.1:8081/cb", "--backchannel-logout-uri", "http://127.0.0.1:8081/logout")
	if r.code != 0 {
		t.Fatalf("loopback http: %+v", r)
	}
	for uri, want := range map[string]string{
		"http://forms.example.org/backchannel":    "must use https (http only for loopback)",
		"https://forms.example.org/backchannel#x": "must not have a fragment",
		"https://rp:pw@forms.example.org/logout":  "must not contain user information",
		"/backchannel":                            "must be an absolute https URL",
	} {
		r := runCLI(t, w, nil, "clients", "add", "--data-dir", dir, "--id", "bad", "--kind", "web",
			"--redirect-uri", "https://forms.example.org/cb", "--backchannel-logout-uri", uri)
		if r.code != exitUsage || !strings.Contains(r.stderr, "backchannel_logout_uri") || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: %+v", uri, r)
		}
	}
	r = runCLI(t, w, nil, "clients", "add", "--data-dir", dir, "--id", "api", "--kind", "service",
		"--backchannel-logout-uri", "https://api.example.org/logout")
	assertOneLine(t, r, exitUsage, "pforte: client api: service clients log no member in: no backchannel_logout_uri")
	if len(f.admin.clients) != 2 {
		t.Fatalf("%d clients stored, want 2", len(f.admin.clients))
	}
	r = runCLI(t, w, nil, "clients", "list", "--data-dir", dir)
	if !strings.Contains(r.stdout, "BACKCHANNEL LOGOUT") ||
		!regexp.MustCompile(`(?m)^forms +web .* https://forms\.example\.org/backchannel +https://forms\.example\.org/cb$`).MatchString(r.stdout) {
		t.Fatalf("clients list:\n%s", r.stdout)
	}
}
