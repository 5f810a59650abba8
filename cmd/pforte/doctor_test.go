package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/pforte-id/pforte/adapters/notify/mail/mailtest"

	"github.com/pforte-id/pforte/adapters/proofing/eid/devbroker"
	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/coretest"
)

// smtpRelay is a real SMTP server (github.com/emersion/go-smtp) on a
// loopback port that accepts every session and counts the messages.
type smtpRelay struct {
	port     int
	messages chan struct{}
}

func startSMTPRelay(t *testing.T) *smtpRelay {
	t.Helper()
	r := &smtpRelay{messages: make(chan struct{}, 100)}
	r.port = mailtest.Serve(t, "", r, nil)
	return r
}

func (r *smtpRelay) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return relaySession{r}, nil }

type relaySession struct{ r *smtpRelay }

func (relaySession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (relaySession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (relaySession) Reset()                                 {}
func (relaySession) Logout() error                          { return nil }
func (s relaySession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	s.r.messages <- struct{}{}
	return err
}

// deployment is a production configuration in a temporary directory: a
// config file, the secrets in files, the outbox, and a mail relay.
type deployment struct {
	dir, configFile string
	addr, admin     string
	relay           *smtpRelay
	// env is the environment the commands run with (the storage).
	env map[string]string
}

func newDeployment(t *testing.T, storage sqlstore.Config) *deployment {
	t.Helper()
	d := &deployment{dir: t.TempDir(), addr: servertest.FreeAddr(t), admin: servertest.FreeAddr(t), relay: startSMTPRelay(t)}
	secret := func(name, content string) string {
		p := filepath.Join(d.dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	masterFile := secret("master.key", testMasterKey())
	dsnFile := secret("dsn", storage.DSN)
	statusFile := secret("attestation-status.json", `{"entries": {"2c8cdddfd5e03bfc": {"status": "REVOKED", "reason": "KEY_COMPROMISE"}}}`)
	d.configFile = secret("pforte.yaml", fmt.Sprintf(`
server:
  environment: production
  addr: %q
  admin_addr: %q
  issuer: http://%s
  data_dir: %q
storage:
  type: %s
  dsn_file: %q
  auto_migrate: false
keys:
  master_key_file: %q
letters:
  outbox_dir: %q
  sender: "Beispiel-BKK · Postfach 1 · 20001 Hamburg"
devices:
  android_package: de.example.serviceapp
  android_cert_digests: [%s]
  android_revocation_file: %q
notify:
  type: smtp
  smtp_host: 127.0.0.1
  smtp_port: %d
  starttls: none
  from: service@bkk.example
log:
  level: warn
`, d.addr, d.admin, d.addr, filepath.Join(d.dir, "data"), storage.Driver, dsnFile, masterFile,
		filepath.Join(d.dir, "outbox"), strings.Repeat("ab", 32), statusFile, d.relay.port))
	for _, dir := range []string{"data", "outbox"} {
		if err := os.Mkdir(filepath.Join(d.dir, dir), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	d.env = map[string]string{}
	return d
}

// run runs a pforte command against the deployment, with extra
// environment variables.
func (d *deployment) run(t *testing.T, extra map[string]string, args ...string) result {
	t.Helper()
	m := map[string]string{"PFORTE_CONFIG": d.configFile}
	for k, v := range d.env {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb, env(m))
	return result{code, out.String(), errb.String()}
}

// serve starts `pforte serve` on the deployment (with d.env) until stop
// is called or the test ends.
func (d *deployment) serve(t *testing.T) (stop func()) {
	t.Helper()
	m := map[string]string{"PFORTE_CONFIG": d.configFile}
	for k, v := range d.env {
		m[k] = v
	}
	return startServe(t, []string{"serve"}, m, "http://"+d.admin+"/readyz")
}

// startServe runs `pforte serve` with args and the environment m until
// stop is called or the test ends, and returns once readyURL answers 200.
func startServe(t *testing.T, args []string, m map[string]string, readyURL string) (stop func()) {
	t.Helper()
	prev := slog.Default() // serve installs its logger as the default
	t.Cleanup(func() { slog.SetDefault(prev) })
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr coretest.Log
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &stdout, &stderr, env(m)) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("serve exited with %d:\n%s", code, stderr.String())
		}
	})
	t.Cleanup(stop)
	hc := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := hc.Get(readyURL); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop
			}
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("serve ended with %d before it was ready:\n%s", code, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not become ready:\n%s", stderr.String())
		}
	}
}

// doctorLines parses the doctor's report into verdict by check name.
func doctorLines(t *testing.T, out string) map[string]verdict {
	t.Helper()
	got := map[string]verdict{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		for _, name := range allChecks {
			for _, v := range []verdict{verdictOK, verdictWarn, verdictFail, verdictSkip} {
				prefix := fmt.Sprintf("%-4s  %s ", v, name)
				if strings.HasPrefix(line, prefix) {
					got[name] = v
				}
			}
		}
	}
	if len(got) != len(allChecks) {
		t.Fatalf("the report names %d of the %d checks:\n%s", len(got), len(allChecks), out)
	}
	return got
}

// wantDoctor checks the exit code and that exactly the checks in failing
// fail, every other one passes except those in skipped.
func wantDoctor(t *testing.T, r result, failing []string, skipped ...string) {
	t.Helper()
	got := doctorLines(t, r.stdout)
	for _, name := range allChecks {
		want := verdictOK
		switch {
		case slices.Contains(failing, name):
			want = verdictFail
		case slices.Contains(skipped, name):
			want = verdictSkip
		}
		if got[name] != want {
			t.Errorf("check %q: %s, want %s", name, got[name], want)
		}
	}
	if len(failing) == 0 {
		if r.code != exitOK || r.stderr != "" {
			t.Errorf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
		}
	} else {
		assertOneLine(t, r, exitError, fmt.Sprintf("pforte: doctor: %s failed", plural(len(failing), "check")))
	}
	if t.Failed() {
		t.Logf("report:\n%s", r.stdout)
	}
}

// TestDoctor runs `pforte doctor` against a healthy production deployment
// while it serves, and against broken copies of its configuration: each
// failing check is named, and only it.
func TestDoctor(t *testing.T) {
	engines := []struct {
		name    string
		storage func(t *testing.T) sqlstore.Config
		// down is a DSN of the engine where no database answers.
		down func(t *testing.T, d *deployment) string
	}{
		{"SQLite", func(t *testing.T) sqlstore.Config {
			return sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "pforte.db")}
		}, func(t *testing.T, d *deployment) string {
			// A file the database cannot be opened from: a directory.
			return filepath.Join(d.dir, "outbox")
		}},
		{"PostgreSQL", func(t *testing.T) sqlstore.Config { return sqlstoretest.Postgres(t, 5) },
			func(t *testing.T, d *deployment) string {
				// A closed port: nothing listens there, and the shared
				// test server is left alone.
				return "postgres://postgres@" + servertest.FreeAddr(t) + "/test?sslmode=disable&connect_timeout=5"
			}},
	}
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			d := newDeployment(t, eng.storage(t))
			// What is not checked: eID is not configured, and a
			// deployment on PostgreSQL has no data directory to check.
			skip := func(more ...string) []string {
				out := append([]string{checkEID}, more...)
				if eng.name == "PostgreSQL" {
					out = append(out, checkDataDir)
				}
				return out
			}

			// Before the first migration, the doctor says what to run.
			r := d.run(t, nil, "doctor")
			if eng.name == "SQLite" {
				wantDoctor(t, r, []string{checkDatabase}, skip(checkSchema, checkSigningKeys, checkRotation, checkClock)...)
			} else {
				wantDoctor(t, r, []string{checkSchema}, skip(checkSigningKeys, checkRotation)...)
			}
			if r := d.run(t, nil, "migrate", "up"); r.code != exitOK {
				t.Fatalf("migrate up: %d %s", r.code, r.stderr)
			}
			d.serve(t)

			// Healthy: everything OK while the deployment serves; eID is
			// not configured.
			wantDoctor(t, d.run(t, nil, "doctor"), nil, skip()...)

			// The database does not answer.
			downDSN := filepath.Join(t.TempDir(), "dsn")
			if err := os.WriteFile(downDSN, []byte(eng.down(t, d)), 0o600); err != nil {
				t.Fatal(err)
			}
			r = d.run(t, map[string]string{"PFORTE_STORAGE_DSN_FILE": downDSN}, "doctor")
			wantDoctor(t, r, []string{checkDatabase}, skip(checkSchema, checkSigningKeys, checkRotation, checkClock)...)
			if !strings.Contains(r.stdout, "does not answer") {
				t.Errorf("the database line does not say why:\n%s", r.stdout)
			}

			// Another master key than the one the signing keys were
			// sealed with.
			wrong := filepath.Join(t.TempDir(), "wrong.key")
			if err := os.WriteFile(wrong, []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))), 0o600); err != nil {
				t.Fatal(err)
			}
			r = d.run(t, map[string]string{"PFORTE_MASTER_KEY_FILE": wrong}, "doctor")
			wantDoctor(t, r, []string{checkSigningKeys}, skip(checkRotation)...)
			if !strings.Contains(r.stdout, "does not open with this master key") {
				t.Errorf("the signing keys line does not say why:\n%s", r.stdout)
			}

			// An outbox no letter can be written to (procfs takes no
			// files, whoever asks).
			if fi, err := os.Stat("/proc/self"); err == nil && fi.IsDir() {
				r = d.run(t, map[string]string{"PFORTE_LETTERS_OUTBOX_DIR": "/proc/self"}, "doctor")
				wantDoctor(t, r, []string{checkOutbox}, skip()...)
			}
			// A file where the outbox should be.
			r = d.run(t, map[string]string{"PFORTE_LETTERS_OUTBOX_DIR": d.configFile}, "doctor")
			wantDoctor(t, r, []string{checkOutbox}, skip()...)

			// The mail relay does not answer.
			closed := servertest.FreeAddr(t)
			_, port, _ := net.SplitHostPort(closed)
			r = d.run(t, map[string]string{"PFORTE_SMTP_PORT": port}, "doctor")
			wantDoctor(t, r, []string{checkSMTP}, skip()...)

			// Two things at once: both named.
			r = d.run(t, map[string]string{"PFORTE_SMTP_PORT": port, "PFORTE_MASTER_KEY_FILE": wrong}, "doctor")
			wantDoctor(t, r, []string{checkSigningKeys, checkSMTP}, skip(checkRotation)...)

			select {
			case <-d.relay.messages:
				t.Error("the doctor sent a mail")
			default:
			}
		})
	}
}

// A configuration that does not load is one failing check, the others
// are skipped; nothing is created.
func TestDoctorBadConfig(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, defaultWiring(), map[string]string{"PFORTE_ENVIRONMENT": "production", "PFORTE_DATA_DIR": dir}, "doctor")
	got := doctorLines(t, r.stdout)
	for _, name := range allChecks {
		want := verdictSkip
		if name == checkConfig {
			want = verdictFail
		}
		if got[name] != want {
			t.Errorf("check %q: %s, want %s", name, got[name], want)
		}
	}
	if !strings.Contains(r.stdout, "server.issuer") {
		t.Errorf("the config line does not name the key:\n%s", r.stdout)
	}
	assertOneLine(t, r, exitError, "pforte: doctor: 1 check failed")
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the doctor created %v", entries)
	}
}

// The doctor of a development instance that has never started warns
// about what pforte serve will create, and creates none of it.
func TestDoctorBeforeFirstStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	r := runCLI(t, defaultWiring(), nil, "doctor", "--data-dir", dir)
	got := doctorLines(t, r.stdout)
	for name, want := range map[string]verdict{
		checkConfig: verdictOK, checkDataDir: verdictWarn, checkMasterKey: verdictWarn, checkClients: verdictOK,
		checkDatabase: verdictWarn, checkSchema: verdictSkip, checkOutbox: verdictWarn,
	} {
		if got[name] != want {
			t.Errorf("check %q: %s, want %s", name, got[name], want)
		}
	}
	if r.code != exitOK {
		t.Errorf("exit %d, want 0: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("the doctor created the data directory")
	}
}

func TestSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{
		3 * time.Second: "3s", 119 * time.Second: "119s", 2 * time.Minute: "2m", 3 * time.Hour: "3h",
		47 * time.Hour: "47h", 30 * 24 * time.Hour: "30d",
	} {
		if got := span(d); got != want {
			t.Errorf("span(%s) = %q, want %q", d, got, want)
		}
	}
}

// With eid.enabled the doctor reads the eID service's discovery: a
// running broker passes, one on a closed port fails by name.
// TestDoctorRevocationList: the age of Google's attestation status list
// is reported, a stale one is a warning, an unreadable one a failure, and
// a production deployment with an Android app but no list is warned.
func TestDoctorRevocationList(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "status.json")
	if err := os.WriteFile(path, []byte(`{"entries": {"77": {"status": "SUSPENDED"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	env := map[string]string{"PFORTE_DEVICES_ANDROID_REVOCATION_FILE": path}
	check := func(name string, env map[string]string, want verdict, wantText string) {
		t.Helper()
		r := runCLI(t, defaultWiring(), env, "doctor", "--data-dir", data)
		if got := doctorLines(t, r.stdout); got[checkRevocation] != want || !strings.Contains(r.stdout, wantText) {
			t.Errorf("%s: %s, want %s with %q\n%s", name, got[checkRevocation], want, wantText, r.stdout)
		}
	}
	check("fresh", env, verdictOK, "written 0s ago")
	old := time.Now().Add(-8 * 24 * time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	check("eight days old", env, verdictWarn, "curl -fsS")
	check("not configured in development", nil, verdictSkip, "not configured")

	// Unreadable and missing files: the configuration does not load, and
	// the doctor names the key.
	if err := os.WriteFile(path, []byte(`{"entries": `), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, defaultWiring(), env, "doctor", "--data-dir", data)
	if got := doctorLines(t, r.stdout); got[checkConfig] != verdictFail || !strings.Contains(r.stdout, "devices.android_revocation_file") {
		t.Errorf("broken list: %s\n%s", got[checkConfig], r.stdout)
	}
	r = runCLI(t, defaultWiring(), map[string]string{"PFORTE_DEVICES_ANDROID_REVOCATION_FILE": filepath.Join(dir, "missing.json")}, "doctor", "--data-dir", data)
	if got := doctorLines(t, r.stdout); got[checkConfig] != verdictFail || !strings.Contains(r.stdout, "devices.android_revocation_file") {
		t.Errorf("missing list: %s\n%s", got[checkConfig], r.stdout)
	}

	// Production with the Android app and no list.
	d := newDeployment(t, sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "pforte.db")})
	yaml, err := os.ReadFile(d.configFile)
	if err != nil {
		t.Fatal(err)
	}
	yaml = regexp.MustCompile(`(?m)^  android_revocation_file: .*\n`).ReplaceAll(yaml, nil)
	if err := os.WriteFile(d.configFile, yaml, 0o600); err != nil {
		t.Fatal(err)
	}
	r = d.run(t, nil, "doctor")
	if got := doctorLines(t, r.stdout); got[checkRevocation] != verdictWarn {
		t.Errorf("production without a list: %s\n%s", got[checkRevocation], r.stdout)
	}
}

func TestDoctorEID(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	brokerURL := "http://" + l.Addr().String()
	b, err := devbroker.New(devbroker.Config{
		Issuer: brokerURL, Environment: "development", Identities: []devbroker.Identity{devCard(coretest.Anna)},
		Clients: []devbroker.Client{{ID: "pforte", Secret: "doctor-test-secret-of-32-characters", RedirectURIs: []string{"http://localhost:8080/eid/callback"}}},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })

	eidEnv := func(issuer string) map[string]string {
		return map[string]string{
			"PFORTE_EID_ENABLED": "true", "PFORTE_EID_ISSUER": issuer, "PFORTE_EID_CLIENT_ID": "pforte",
			"PFORTE_EID_CLIENT_SECRET":   "doctor-test-secret-of-32-characters",
			"PFORTE_EID_APP_RETURN_URIS": "de.example.serviceapp:/eid",
		}
	}
	dir := filepath.Join(t.TempDir(), "data")
	r := runCLI(t, defaultWiring(), eidEnv(brokerURL), "doctor", "--data-dir", dir)
	if got := doctorLines(t, r.stdout); got[checkEID] != verdictOK {
		t.Errorf("eid with a running broker: %s\n%s", got[checkEID], r.stdout)
	}
	r = runCLI(t, defaultWiring(), eidEnv("http://"+servertest.FreeAddr(t)), "doctor", "--data-dir", dir)
	if got := doctorLines(t, r.stdout); got[checkEID] != verdictFail {
		t.Errorf("eid with the broker down: %s\n%s", got[checkEID], r.stdout)
	}
	assertOneLine(t, r, exitError, "pforte: doctor: 1 check failed")
}
