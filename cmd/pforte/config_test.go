package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/authz"
)

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeFile writes content into a new file in a temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func testMasterKey() string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) }

func strp(s string) *string { return &s }

func TestDefaultsWithoutFile(t *testing.T) {
	cfg, err := loadConfig(loadOptions{Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	want.Server.Issuer = "http://localhost:8080"
	want.Storage.DSN = Secret(filepath.Join("data", "pforte.db"))
	want.Letters.OutboxDir = filepath.Join("data", "outbox")
	want.Letters.Sender = devSender
	want.Devices.Attestation = "development"
	if !reflect.DeepEqual(*cfg, want) {
		t.Fatalf("defaults:\n got %#v\nwant %#v", *cfg, want)
	}
	// The values a newcomer relies on, spelled out.
	if cfg.Server.Addr != "127.0.0.1:8080" || cfg.Server.Environment != Development ||
		cfg.Storage.Type != "sqlite" || !cfg.Storage.AutoMigrate || cfg.Tokens.CodeTTL != 60*time.Second ||
		cfg.Tokens.AccessTokenTTL != 5*time.Minute || cfg.Log.Format != "json" || cfg.Login.ACRVocabulary != "eidas" {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
}

func TestEmptyFileKeepsDefaults(t *testing.T) {
	p := writeFile(t, "pforte.yaml", "# nothing set\n")
	cfg, err := loadConfig(loadOptions{File: p, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != "127.0.0.1:8080" || cfg.Tokens.CodeTTL != time.Minute {
		t.Fatalf("an empty file changed the defaults: %+v", cfg.Server)
	}
}

func TestFileSetsValues(t *testing.T) {
	p := writeFile(t, "pforte.yaml", `
server:
  addr: 0.0.0.0:9000
  issuer: https://id.example.org
  environment: production
storage:
  type: postgres
  dsn: postgres://pforte:hunter2@db/pforte
  auto_migrate: false
  max_open_conns: 20
keys:
  master_key: `+testMasterKey()+`
tokens:
  access_token_ttl: 2m
  code_ttl: 30s
  kvnr_claims: ["urn:telematik:claims:id"]
login:
  acr_vocabulary: gematik
devices:
  android_package: de.example.serviceapp
  android_cert_digests: ["`+strings.Repeat("ab", 32)+`"]
notify:
  type: smtp
  smtp_host: mail.example.org
  from: service@example.org
letters:
  outbox_dir: /var/spool/pforte
  sender: Beispiel-BKK · Postfach 1 · 20001 Hamburg
  max_attempts: 3
registration:
  trusted_proxies: [10.0.0.0/8, 192.0.2.1]
log:
  level: debug
  format: text
`)
	cfg, err := loadConfig(loadOptions{File: p, Getenv: env(nil)})
	if err == nil {
		if px, perr := cfg.TrustedProxies(); perr != nil || len(px) != 2 || px[1].Bits() != 32 ||
			cfg.Letters.OutboxDir != "/var/spool/pforte" || cfg.Letters.MaxAttempts != 3 {
			t.Fatalf("letters/registration from file: %+v %+v %v", cfg.Letters, px, perr)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != "0.0.0.0:9000" || cfg.Server.Issuer != "https://id.example.org" ||
		cfg.Storage.Type != "postgres" || cfg.Storage.AutoMigrate || cfg.Storage.MaxOpenConns != 20 ||
		cfg.Storage.DSN.Reveal() != "postgres://pforte:hunter2@db/pforte" ||
		cfg.Tokens.AccessTokenTTL != 2*time.Minute || cfg.Tokens.CodeTTL != 30*time.Second ||
		cfg.ACRVocabulary().High != "gematik-ehealth-loa-high" || cfg.Log.Level != "debug" ||
		!slices.Equal(cfg.Tokens.KVNRClaims, []string{"urn:telematik:claims:id"}) {
		t.Fatalf("file not applied: %+v", cfg)
	}
	// Keys not in the file keep their defaults.
	if cfg.Tokens.IDTokenTTL != 5*time.Minute || cfg.Keys.RotationDays != 30 {
		t.Fatalf("defaults lost: %+v", cfg.Tokens)
	}
}

func TestConfigFromEnvironmentVariable(t *testing.T) {
	p := writeFile(t, "pforte.yaml", "server:\n  addr: 127.0.0.1:7000\n")
	cfg, err := loadConfig(loadOptions{Getenv: env(map[string]string{"PFORTE_CONFIG": p})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != "127.0.0.1:7000" {
		t.Fatalf("PFORTE_CONFIG not read: %s", cfg.Server.Addr)
	}
}

func TestStrictYAMLNamesTheKey(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"server:\n  adress: 127.0.0.1:1\n", "config: server.adress: unknown key (pforte.yaml, line 2)"},
		{"tokens:\n  code_ttl: 30s\n  refresh_ttl: 1h\n", "config: tokens.refresh_ttl: unknown key (pforte.yaml, line 3)"},
		{"sever:\n  addr: x\n", "config: sever: unknown key (pforte.yaml, line 1)"},
		{"tokens:\n  code_ttl: soon\n", `config: tokens.code_ttl: "soon" is not a duration`},
		{"tokens:\n  code_ttl: 30\n", "config: tokens.code_ttl: must be a duration such as 90s, 5m or 12h (pforte.yaml, line 2)"},
		{"login:\n  argon2_iterations: two\n", "config: login.argon2_iterations: must be a whole number (pforte.yaml, line 2)"},
		{"login:\n  argon2_iterations: 2.5\n", "config: login.argon2_iterations: must be a whole number (pforte.yaml, line 2)"},
		{"storage:\n  auto_migrate: sometimes\n", "config: storage.auto_migrate: must be true or false"},
		{"server: [a]\n", "config: server:"},
		{"server:\n  addr: a\n  addr: b\n", "config: pforte.yaml, line 3: mapping key \"addr\" already defined"},
	} {
		p := filepath.Join(t.TempDir(), "pforte.yaml")
		if err := os.WriteFile(p, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadConfig(loadOptions{File: p, Getenv: env(nil)})
		if err == nil {
			t.Errorf("%q: accepted", tc.yaml)
			continue
		}
		got := strings.ReplaceAll(err.Error(), p, "pforte.yaml")
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q:\n got %s\nwant %s…", tc.yaml, got, tc.want)
		}
	}
}

func TestMissingConfigFile(t *testing.T) {
	_, err := loadConfig(loadOptions{File: filepath.Join(t.TempDir(), "nope.yaml"), Getenv: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "cannot read") || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("got %v", err)
	}
}

func TestEnvOverridesFile(t *testing.T) {
	p := writeFile(t, "pforte.yaml", `
server:
  addr: 127.0.0.1:9000
  issuer: http://localhost:9000
storage:
  auto_migrate: true
tokens:
  code_ttl: 30s
keys:
  rotation_days: 10
log:
  level: debug
`)
	cfg, err := loadConfig(loadOptions{File: p, Getenv: env(map[string]string{
		"PFORTE_ADDR":               "127.0.0.1:9001",
		"PFORTE_ISSUER":             "http://127.0.0.1:9001",
		"PFORTE_AUTO_MIGRATE":       "false",
		"PFORTE_CODE_TTL":           "45s",
		"PFORTE_KEYS_ROTATION_DAYS": "7",
		"PFORTE_LOG_LEVEL":          "warn",
		"PFORTE_MASTER_KEY":         testMasterKey(),
	})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != "127.0.0.1:9001" || cfg.Server.Issuer != "http://127.0.0.1:9001" ||
		cfg.Storage.AutoMigrate || cfg.Tokens.CodeTTL != 45*time.Second || cfg.Keys.RotationDays != 7 ||
		cfg.Log.Level != "warn" || cfg.Keys.MasterKey.Reveal() != testMasterKey() {
		t.Fatalf("environment did not override the file: %+v", cfg)
	}
}

func TestFlagsOverrideEnv(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, "pforte.yaml", "server:\n  addr: 127.0.0.1:9000\n  data_dir: /file\n")
	cfg, err := loadConfig(loadOptions{
		File: p,
		Getenv: env(map[string]string{
			"PFORTE_ADDR": "127.0.0.1:9001", "PFORTE_ISSUER": "http://localhost:9001",
			"PFORTE_DATA_DIR": "/env", "PFORTE_AUTO_MIGRATE": "true",
		}),
		Flags: flagOverrides{Addr: strp("127.0.0.1:9002"), Issuer: strp("http://localhost:9002"), DataDir: &dir, NoAutoMigrate: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != "127.0.0.1:9002" || cfg.Server.Issuer != "http://localhost:9002" ||
		cfg.Server.DataDir != dir || cfg.Storage.AutoMigrate {
		t.Fatalf("flags did not override: %+v %+v", cfg.Server, cfg.Storage)
	}
	if cfg.Storage.DSN.Reveal() != filepath.Join(dir, "pforte.db") {
		t.Fatalf("the SQLite path does not follow the data dir: %s", cfg.Storage.DSN.Reveal())
	}
}

func TestIssuerFollowsAddrInDevelopment(t *testing.T) {
	cfg, err := loadConfig(loadOptions{Getenv: env(nil), Flags: flagOverrides{Addr: strp("127.0.0.1:9090")}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Issuer != "http://localhost:9090" {
		t.Fatalf("issuer %s", cfg.Server.Issuer)
	}
	if _, err := loadConfig(loadOptions{Getenv: env(nil), Flags: flagOverrides{Addr: strp("127.0.0.1:0")}}); err == nil ||
		err.Error() != "config: server.issuer: required when server.addr has no fixed port" {
		t.Fatalf("port 0 without issuer: %v", err)
	}
}

func TestEnvValueErrorsNameKeyAndVariable(t *testing.T) {
	for name, want := range map[string]string{
		"PFORTE_CODE_TTL":               `config: tokens.code_ttl: PFORTE_CODE_TTL: "x" is not a duration`,
		"PFORTE_AUTO_MIGRATE":           `config: storage.auto_migrate: PFORTE_AUTO_MIGRATE: "x" is not true or false`,
		"PFORTE_STORAGE_MAX_OPEN_CONNS": `config: storage.max_open_conns: PFORTE_STORAGE_MAX_OPEN_CONNS: "x" is not a whole number`,
	} {
		_, err := loadConfig(loadOptions{Getenv: env(map[string]string{name: "x"})})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: got %v, want %s…", name, err, want)
		}
	}
}

func TestValidationErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PFORTE_ENVIRONMENT": "staging"}, "config: server.environment: "},
		{map[string]string{"PFORTE_ADDR": "8080"}, "config: server.addr: "},
		{map[string]string{"PFORTE_ADDR": "127.0.0.1:99999"}, "config: server.addr: "},
		{map[string]string{"PFORTE_ISSUER": "localhost:8080"}, "config: server.issuer: "},
		{map[string]string{"PFORTE_ISSUER": "http://id.example.org"}, "config: server.issuer: must use https"},
		{map[string]string{"PFORTE_ISSUER": "https://id.example.org?x=1"}, "config: server.issuer: must not have a query"},
		{map[string]string{"PFORTE_ISSUER": "https://id.example.org#x"}, "config: server.issuer: must not have a query or fragment"},
		{map[string]string{"PFORTE_ISSUER": "https://user@id.example.org"}, "config: server.issuer: must not contain user"},
		{map[string]string{"PFORTE_ISSUER": "ftp://id.example.org"}, "config: server.issuer: must be an https URL"},
		{map[string]string{"PFORTE_SHUTDOWN_TIMEOUT": "0s"}, "config: server.shutdown_timeout: "},
		{map[string]string{"PFORTE_ADMIN_ADDR": "127.0.0.1:8080"}, "config: server.admin_addr: must differ"},
		{map[string]string{"PFORTE_ADMIN_ADDR": "nope"}, "config: server.admin_addr: "},
		{map[string]string{"PFORTE_STORAGE_TYPE": "mysql"}, "config: storage.type: "},
		{map[string]string{"PFORTE_STORAGE_TYPE": "postgres"}, "config: storage.dsn: required: the PostgreSQL connection string"},
		{map[string]string{"PFORTE_STORAGE_MAX_OPEN_CONNS": "-1"}, "config: storage.max_open_conns: "},
		{map[string]string{"PFORTE_MASTER_KEY": "c2hvcnQ="}, "config: keys.master_key: must be 32 bytes"},
		{map[string]string{"PFORTE_MASTER_KEY": "!!!"}, "config: keys.master_key: is not base64"},
		{map[string]string{"PFORTE_KEYS_ROTATION_DAYS": "-1"}, "config: keys.rotation_days: "},
		{map[string]string{"PFORTE_KEYS_PUBLISH_HOURS": "0"}, "config: keys.publish_hours: "},
		{map[string]string{"PFORTE_KEYS_ROTATION_DAYS": "1", "PFORTE_KEYS_PUBLISH_HOURS": "24"}, "config: keys.publish_hours: must be shorter"},
		{map[string]string{"PFORTE_ACCESS_TOKEN_TTL": "2h"}, "config: tokens.access_token_ttl: must be between 1s and 1h"},
		{map[string]string{"PFORTE_ID_TOKEN_TTL": "-1s"}, "config: tokens.id_token_ttl: "},
		{map[string]string{"PFORTE_CODE_TTL": "61s"}, "config: tokens.code_ttl: must be between 1s and 1m"},
		{map[string]string{"PFORTE_AUTH_REQUEST_TTL": "2h"}, "config: tokens.auth_request_ttl: "},
		{map[string]string{"PFORTE_REFRESH_IDLE_TTL": "-1s"}, "config: tokens.refresh_idle_ttl: "},
		{map[string]string{"PFORTE_REFRESH_ABSOLUTE_TTL": "10m"}, "config: tokens.refresh_absolute_ttl: must not be shorter"},
		{map[string]string{"PFORTE_KVNR_CLAIMS": "kvnr,sub"}, "config: tokens.kvnr_claims: KVNR claims: sub is a standard claim"},
		{map[string]string{"PFORTE_KVNR_CLAIMS": "kvnr, kvnr"}, "config: tokens.kvnr_claims: KVNR claims: kvnr is named twice"},
		{map[string]string{"PFORTE_KVNR_CLAIMS": `kv"nr`}, "config: tokens.kvnr_claims: "},
		{map[string]string{"PFORTE_ARGON2_MEMORY_KIB": "1024"}, "config: login.argon2_memory_kib: "},
		{map[string]string{"PFORTE_ARGON2_ITERATIONS": "1"}, "config: login.argon2_iterations: "},
		{map[string]string{"PFORTE_ARGON2_PARALLELISM": "0"}, "config: login.argon2_parallelism: "},
		{map[string]string{"PFORTE_HASH_CONCURRENCY": "-2"}, "config: login.hash_concurrency: "},
		{map[string]string{"PFORTE_HASH_MAX_WAIT": "0s"}, "config: login.hash_max_wait: must be between 100ms and 30s"},
		{map[string]string{"PFORTE_HASH_MAX_WAIT": "1m"}, "config: login.hash_max_wait: must be between 100ms and 30s"},
		{map[string]string{"PFORTE_ACR_VOCABULARY": "nist"}, "config: login.acr_vocabulary: "},
		{map[string]string{"PFORTE_CLIENTS_FILE": "/nonexistent/clients.yaml"}, "config: clients_file: cannot read /nonexistent/clients.yaml"},
		{map[string]string{"PFORTE_MEMBERS_FILE": "/nonexistent/members.yaml"}, "config: members_file: cannot read"},
		{map[string]string{"PFORTE_LOG_LEVEL": "loud"}, "config: log.level: "},
		{map[string]string{"PFORTE_LOG_FORMAT": "xml"}, "config: log.format: "},
		{map[string]string{"PFORTE_DATA_DIR": "", "PFORTE_MASTER_KEY_FILE": "/nonexistent/key"}, "config: keys.master_key_file: cannot read /nonexistent/key"},
		{map[string]string{"PFORTE_STORAGE_DSN_FILE": "/nonexistent/dsn"}, "config: storage.dsn_file: cannot read"},
		{map[string]string{"PFORTE_MASTER_KEY": "a", "PFORTE_MASTER_KEY_FILE": "b"}, "config: PFORTE_MASTER_KEY: set PFORTE_MASTER_KEY or PFORTE_MASTER_KEY_FILE, not both"},
	} {
		_, err := loadConfig(loadOptions{Getenv: env(tc.env)})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v:\n got %v\nwant %s…", tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: message has more than one line: %q", tc.env, err)
		}
	}
}

func TestEmptyDataDirFlagRefused(t *testing.T) {
	_, err := loadConfig(loadOptions{Getenv: env(nil), Flags: flagOverrides{DataDir: strp("")}})
	if err == nil || !strings.HasPrefix(err.Error(), "config: storage.dsn: ") && !strings.HasPrefix(err.Error(), "config: server.data_dir: ") {
		t.Fatalf("got %v", err)
	}
}

func TestProductionRequiresLetterSender(t *testing.T) {
	_, err := loadConfig(loadOptions{Getenv: env(map[string]string{
		"PFORTE_ENVIRONMENT": "production", "PFORTE_ISSUER": "https://id.example.org",
		"PFORTE_MASTER_KEY":                   testMasterKey(),
		"PFORTE_DEVICES_ANDROID_PACKAGE":      "de.example.serviceapp",
		"PFORTE_DEVICES_ANDROID_CERT_DIGESTS": strings.Repeat("ab", 32),
		"PFORTE_NOTIFY_TYPE":                  "smtp",
		"PFORTE_SMTP_HOST":                    "mail.example.org",
		"PFORTE_NOTIFY_FROM":                  "service@example.org",
	})})
	if err == nil || !strings.HasPrefix(err.Error(), "config: letters.sender: required") {
		t.Fatalf("production without sender: %v", err)
	}
}

func TestProductionRequiresMasterKey(t *testing.T) {
	base := map[string]string{
		"PFORTE_ENVIRONMENT":                  "production",
		"PFORTE_ISSUER":                       "https://id.example.org",
		"PFORTE_LETTERS_SENDER":               "Beispiel-BKK · Postfach 1 · 20001 Hamburg",
		"PFORTE_DEVICES_ANDROID_PACKAGE":      "de.example.serviceapp",
		"PFORTE_DEVICES_ANDROID_CERT_DIGESTS": strings.Repeat("ab", 32),
		"PFORTE_NOTIFY_TYPE":                  "smtp",
		"PFORTE_SMTP_HOST":                    "mail.example.org",
		"PFORTE_NOTIFY_FROM":                  "service@example.org",
	}
	_, err := loadConfig(loadOptions{Getenv: env(base)})
	if err == nil || !strings.HasPrefix(err.Error(), "config: keys.master_key: required in production") {
		t.Fatalf("production without master key: %v", err)
	}
	keyFile := writeFile(t, "master.key", testMasterKey()+"\n")
	base["PFORTE_MASTER_KEY_FILE"] = keyFile
	cfg, err := loadConfig(loadOptions{Getenv: env(base)})
	if err != nil {
		t.Fatal(err)
	}
	key, err := resolveMasterKey(cfg, slog.New(slog.DiscardHandler))
	if err != nil || !bytes.Equal(key, bytes.Repeat([]byte{7}, 32)) {
		t.Fatalf("master key from file: %x, %v", key, err)
	}
}

func TestProductionRefusesIssuerDefaultAndDemoMembers(t *testing.T) {
	_, err := loadConfig(loadOptions{Getenv: env(map[string]string{"PFORTE_ENVIRONMENT": "production", "PFORTE_MASTER_KEY": testMasterKey()})})
	if err == nil || !strings.HasPrefix(err.Error(), "config: server.issuer: required in production") {
		t.Fatalf("production without issuer: %v", err)
	}
	members := writeFile(t, "members.yaml", "members: []\n")
	_, err = loadConfig(loadOptions{Getenv: env(map[string]string{
		"PFORTE_ENVIRONMENT": "production", "PFORTE_MASTER_KEY": testMasterKey(),
		"PFORTE_ISSUER": "https://id.example.org", "PFORTE_MEMBERS_FILE": members,
	})})
	if err == nil || !strings.HasPrefix(err.Error(), "config: members_file: demo members are loaded only in development") {
		t.Fatalf("production with demo members: %v", err)
	}
}

func TestCodeTTLOver60sFails(t *testing.T) {
	p := writeFile(t, "pforte.yaml", "tokens:\n  code_ttl: 90s\n")
	_, err := loadConfig(loadOptions{File: p, Getenv: env(nil)})
	if err == nil || err.Error() != "config: tokens.code_ttl: must be between 1s and 1m, not 1m30s" {
		t.Fatalf("got %v", err)
	}
	p = writeFile(t, "pforte.yaml", "tokens:\n  code_ttl: 60s\n")
	if _, err := loadConfig(loadOptions{File: p, Getenv: env(nil)}); err != nil {
		t.Fatalf("60s refused: %v", err)
	}
}

// The issuer is compared by relying parties as an exact string, so a
// trailing slash is refused with the corrected value, never rewritten.
func TestIssuerTrailingSlashRefused(t *testing.T) {
	for _, iss := range []string{"http://localhost:8080/", "https://id.example.org/", "https://id.example.org/pforte/"} {
		_, err := loadConfig(loadOptions{Getenv: env(map[string]string{"PFORTE_ISSUER": iss})})
		want := fmt.Sprintf("config: server.issuer: must not end with a slash: use %q", strings.TrimSuffix(iss, "/"))
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", iss, err, want)
		}
	}
	for _, iss := range []string{"http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080", "https://id.example.org", "https://id.example.org/pforte"} {
		// Explicitly development: a public issuer needs it (see
		// TestImplicitDevelopmentStaysOnLoopback).
		cfg, err := loadConfig(loadOptions{Getenv: env(map[string]string{"PFORTE_ISSUER": iss, "PFORTE_ENVIRONMENT": "development"})})
		if err != nil {
			t.Errorf("%s refused: %v", iss, err)
		} else if cfg.Server.Issuer != iss {
			t.Errorf("%s rewritten to %s", iss, cfg.Server.Issuer)
		}
	}
}

func TestSecretFilesAndPairs(t *testing.T) {
	dsn := writeFile(t, "dsn", "postgres://u:pw@db/x\n")
	key := writeFile(t, "key", testMasterKey())
	p := writeFile(t, "pforte.yaml", fmt.Sprintf("storage:\n  type: postgres\n  dsn_file: %s\nkeys:\n  master_key_file: %s\n", dsn, key))
	cfg, err := loadConfig(loadOptions{File: p, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.DSN.Reveal() != "postgres://u:pw@db/x" || cfg.Keys.MasterKey.Reveal() != testMasterKey() {
		t.Fatalf("secret files not read")
	}
	// A variable for one half of a pair replaces the file's other half.
	cfg, err = loadConfig(loadOptions{File: p, Getenv: env(map[string]string{"PFORTE_STORAGE_DSN": "postgres://env/x"})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.DSN.Reveal() != "postgres://env/x" || cfg.Storage.DSNFile != "" {
		t.Fatalf("PFORTE_STORAGE_DSN did not replace dsn_file: %q", cfg.Storage.DSNFile)
	}
	// Both halves in one file are a mistake.
	p = writeFile(t, "pforte.yaml", fmt.Sprintf("keys:\n  master_key: %s\n  master_key_file: %s\n", testMasterKey(), key))
	if _, err := loadConfig(loadOptions{File: p, Getenv: env(nil)}); err == nil ||
		err.Error() != "config: keys.master_key: set master_key or master_key_file, not both" {
		t.Fatalf("got %v", err)
	}
	empty := writeFile(t, "empty", "\n")
	if _, err := loadConfig(loadOptions{Getenv: env(map[string]string{"PFORTE_MASTER_KEY_FILE": empty})}); err == nil ||
		!strings.HasPrefix(err.Error(), "config: keys.master_key_file: ") || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("empty key file: %v", err)
	}
}

func TestSecretsRedactThemselves(t *testing.T) {
	const pw = "hunter2-very-secret"
	cfg := defaultConfig()
	cfg.Storage.DSN = Secret("postgres://pforte:" + pw + "@db/pforte")
	cfg.Keys.MasterKey = Secret(pw)
	var buf bytes.Buffer
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		fmt.Fprintf(&buf, format+"\n", cfg)
		fmt.Fprintf(&buf, format+"\n", cfg.Keys.MasterKey)
	}
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("config", "cfg", cfg, "dsn", cfg.Storage.DSN, "storage", cfg.Storage)
	}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	buf.Write(j)
	if strings.Contains(buf.String(), pw) {
		t.Fatalf("a secret leaked:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "[redacted]") {
		t.Fatalf("no redaction marker:\n%s", buf.String())
	}
	if cfg.Keys.MasterKey.String() != "[redacted]" || cfg.Keys.MasterKey.Reveal() != pw {
		t.Fatal("String or Reveal wrong")
	}
}

func TestResolveMasterKeyGeneratesOnceInDevelopment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg, err := loadConfig(loadOptions{Getenv: env(nil), Flags: flagOverrides{DataDir: &dir}})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	k1, err := resolveMasterKey(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != 32 {
		t.Fatalf("key of %d bytes", len(k1))
	}
	path := filepath.Join(dir, "master.key")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("master.key mode %v", fi.Mode().Perm())
	}
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), "generated a development master key") ||
		!strings.Contains(logs.String(), path) {
		t.Fatalf("no warning: %s", logs.String())
	}
	if strings.Contains(logs.String(), base64.StdEncoding.EncodeToString(k1)) {
		t.Fatal("the key was logged")
	}
	logs.Reset()
	k2, err := resolveMasterKey(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) {
		t.Fatal("second start generated another key")
	}
	if logs.Len() != 0 {
		t.Fatalf("second start warned again: %s", logs.String())
	}
	// The generated file works as keys.master_key_file.
	cfg2, err := loadConfig(loadOptions{Getenv: env(map[string]string{"PFORTE_MASTER_KEY_FILE": path})})
	if err != nil {
		t.Fatal(err)
	}
	k3, err := resolveMasterKey(cfg2, log)
	if err != nil || !bytes.Equal(k1, k3) {
		t.Fatalf("generated file unusable as master_key_file: %v", err)
	}
}

func TestResolveMasterKeyRefusesBrokenDevFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "master.key"), []byte("not base64!"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(loadOptions{Getenv: env(nil), Flags: flagOverrides{DataDir: &dir}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resolveMasterKey(cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.HasPrefix(err.Error(), "config: keys.master_key: ") {
		t.Fatalf("got %v", err)
	}
}

func TestDerivedPolicies(t *testing.T) {
	cfg, err := loadConfig(loadOptions{Getenv: env(map[string]string{"PFORTE_ID_TOKEN_TTL": "10m"})})
	if err != nil {
		t.Fatal(err)
	}
	// A retired key stays published for the longest lifetime a client
	// can get, whatever the server's defaults.
	p := cfg.KeyPolicy()
	if p.Publish != 24*time.Hour || p.Lifetime != 30*24*time.Hour || p.MaxTokenLifetime != authz.MaxTokenTTL {
		t.Fatalf("key policy %+v", p)
	}
	if err := cfg.PasswordParams().Validate(); err != nil {
		t.Fatal(err)
	}
	// Both keys.* 0 is refused, never taken for the default policy.
	_, err = loadConfig(loadOptions{Getenv: env(map[string]string{"PFORTE_KEYS_PUBLISH_HOURS": "0", "PFORTE_KEYS_ROTATION_DAYS": "0"})})
	if err == nil || !strings.Contains(err.Error(), "keys.publish_hours") {
		t.Fatalf("publish_hours and rotation_days 0: %v", err)
	}
}

// yamlKeys returns the dotted YAML key of every leaf of t.
func yamlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
			keys = append(keys, yamlKeys(f.Type, prefix+tag+".")...)
			continue
		}
		keys = append(keys, prefix+tag)
	}
	return keys
}

// TestKVNRClaims: by default the KVNR goes out in both claims; the list
// is configurable and reaches the authorization server's configuration.
func TestKVNRClaims(t *testing.T) {
	cfg, err := loadConfig(loadOptions{Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Tokens.KVNRClaims, []string{"kvnr", "urn:telematik:claims:id"}) {
		t.Errorf("default tokens.kvnr_claims = %q", cfg.Tokens.KVNRClaims)
	}
	cfg, err = loadConfig(loadOptions{Getenv: env(map[string]string{"PFORTE_KVNR_CLAIMS": "urn:telematik:claims:id, versichertennummer"})})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"urn:telematik:claims:id", "versichertennummer"}
	if !slices.Equal(cfg.Tokens.KVNRClaims, want) {
		t.Errorf("PFORTE_KVNR_CLAIMS gave %q", cfg.Tokens.KVNRClaims)
	}
	dir := t.TempDir()
	ocfg := operatorConfig(t, dir)
	ocfg.Tokens.KVNRClaims = want
	o, err := baseOptions(ocfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Authz.KVNRClaims, want) {
		t.Errorf("server options carry KVNR claims %q", o.Authz.KVNRClaims)
	}
	// An empty list is no list: the file cannot switch the claims off;
	// authz.Config takes an empty list for its default claims.
	p := writeFile(t, "pforte.yaml", "tokens:\n  kvnr_claims: []\n")
	cfg, err = loadConfig(loadOptions{File: p, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Tokens.KVNRClaims) != 0 {
		t.Errorf("empty kvnr_claims read as %q", cfg.Tokens.KVNRClaims)
	}
}

func TestEveryKeyHasAnEnvironmentVariable(t *testing.T) {
	byKey := map[string]string{}
	for _, v := range envVars {
		if !strings.HasPrefix(v.Name, "PFORTE_") {
			t.Errorf("%s does not start with PFORTE_", v.Name)
		}
		byKey[v.Key] = v.Name
		// Each variable sets the key it claims to set.
		cfg := defaultConfig()
		before := fmt.Sprintf("%#v", cfg)
		raw := map[reflect.Type]string{
			reflect.TypeOf(""): "x", reflect.TypeOf(Secret("")): "x", reflect.TypeOf(Environment("")): "x",
			reflect.TypeOf(true): "false", reflect.TypeOf(0): "12345", reflect.TypeOf(time.Duration(0)): "17s",
			reflect.TypeOf(0.0):           "0.25",
			reflect.TypeOf([]string(nil)): "10.0.0.0/8, 192.0.2.1", reflect.TypeOf([]time.Duration(nil)): "2m, 7m",
		}[reflect.TypeOf(v.field(&cfg)).Elem()]
		if b, ok := v.field(&cfg).(*bool); ok {
			// The value that is not the default, whichever it is.
			raw = strconv.FormatBool(!*b)
		}
		if err := setValue(v.field(&cfg), raw); err != nil {
			t.Errorf("%s: %v", v.Name, err)
		}
		if fmt.Sprintf("%#v", cfg) == before && raw != "x" {
			t.Errorf("%s changes nothing", v.Name)
		}
	}
	for _, k := range yamlKeys(reflect.TypeOf(Config{}), "") {
		if byKey[k] == "" {
			t.Errorf("key %s has no PFORTE_* variable", k)
		}
	}
	if len(byKey) != len(envVars) {
		t.Errorf("two variables set the same key")
	}
}

func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range envVars {
		if !bytes.Contains(readme, []byte("`"+v.Name+"`")) {
			t.Errorf("README.md does not document %s", v.Name)
		}
		if !bytes.Contains(readme, []byte("`"+v.Key+"`")) {
			t.Errorf("README.md does not document the key %s", v.Key)
		}
	}
}

func TestProductionExampleIsValid(t *testing.T) {
	example := filepath.Join("..", "..", "configs", "production.example.yaml")
	clients := writeFile(t, "clients.yaml", "clients: []\n")
	// The secret files of the example do not exist here; the variables
	// stand in for them, as they would in a container.
	cfg, err := loadConfig(loadOptions{File: example, Getenv: env(map[string]string{
		"PFORTE_STORAGE_DSN":       "postgres://pforte:pw@db/pforte",
		"PFORTE_MASTER_KEY":        testMasterKey(),
		"PFORTE_CLIENTS_FILE":      clients,
		"PFORTE_PIN_PEPPERS":       "1:" + testMasterKey(),
		"PFORTE_SMTP_PASSWORD":     "smtp-secret",
		"PFORTE_EID_CLIENT_SECRET": "eid-secret",
	})})
	if err != nil {
		t.Fatal(err)
	}
	if o := cfg.eidOptions(); o == nil || o.Broker.Profile.Pseudonym != "hex" || len(o.Broker.Profile.HighACR) != 2 ||
		len(o.AppReturnURIs) != 1 || o.AppLoopback {
		t.Fatalf("eid options %+v", o)
	}
	if cfg.Server.Environment != Production || cfg.Storage.Type != "postgres" || cfg.Storage.AutoMigrate ||
		!strings.HasPrefix(cfg.Server.Issuer, "https://") {
		t.Fatalf("%+v", cfg)
	}
	// Without them, the first missing secret file is named.
	_, err = loadConfig(loadOptions{File: example, Getenv: env(nil)})
	if err == nil || !strings.HasPrefix(err.Error(), "config: storage.dsn_file: cannot read /run/secrets/pforte-dsn") {
		t.Fatalf("got %v", err)
	}
}

// eID registration is allowed in production now that the confirmation is
// bound to the app that began (its return address, token and verifier);
// it needs the app's return addresses.
func TestProductionEID(t *testing.T) {
	vars := map[string]string{
		"PFORTE_ENVIRONMENT": "production", "PFORTE_ISSUER": "https://id.example.org",
		"PFORTE_MASTER_KEY":                   testMasterKey(),
		"PFORTE_DEVICES_ANDROID_PACKAGE":      "de.example.serviceapp",
		"PFORTE_DEVICES_ANDROID_CERT_DIGESTS": strings.Repeat("ab", 32),
		"PFORTE_NOTIFY_TYPE":                  "smtp",
		"PFORTE_SMTP_HOST":                    "mail.example.org",
		"PFORTE_NOTIFY_FROM":                  "service@example.org",
		"PFORTE_LETTERS_SENDER":               "Beispiel-BKK · Postfach 1 · 20001 Hamburg",
		"PFORTE_EID_ENABLED":                  "true",
		"PFORTE_EID_ISSUER":                   "https://eid.example.org",
		"PFORTE_EID_CLIENT_ID":                "pforte",
		"PFORTE_EID_CLIENT_SECRET":            "s3cret-s3cret-s3cret",
	}
	_, err := loadConfig(loadOptions{Getenv: env(vars)})
	if err == nil || !strings.HasPrefix(err.Error(), "config: eid.app_return_uris: ") {
		t.Fatalf("production with eID but no return address: %v, want a refusal naming eid.app_return_uris", err)
	}
	vars["PFORTE_EID_APP_RETURN_URIS"] = "https://app.example.org/eid/return"
	cfg, err := loadConfig(loadOptions{Getenv: env(vars)})
	if err != nil {
		t.Fatalf("production with eID: %v", err)
	}
	if o := cfg.eidOptions(); o == nil || len(o.AppReturnURIs) != 1 {
		t.Fatalf("eid options %+v", o)
	}
}

// The tracing section: off by default; a file turns it on and its values
// reach the server's options unchanged; a refused value names its key,
// whether it comes from the file or a variable.
func TestTracingKeys(t *testing.T) {
	cfg, err := loadConfig(loadOptions{Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tracing.Enabled || cfg.Tracing.SampleRatio != 1 || cfg.Tracing.ServiceName != "pforte" {
		t.Fatalf("tracing defaults: %+v", cfg.Tracing)
	}
	p := writeFile(t, "pforte.yaml", `
tracing:
  enabled: true
  endpoint: http://otel-collector:4318
  sample_ratio: 0.25
  service_name: pforte-test
`)
	if cfg, err = loadConfig(loadOptions{File: p, Getenv: env(nil)}); err != nil {
		t.Fatal(err)
	}
	o, err := serverOptions(cfg, bytes.Repeat([]byte{7}, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tc := o.Tracing; !tc.Enabled || tc.Endpoint != "http://otel-collector:4318" || tc.SampleRatio != 0.25 || tc.ServiceName != "pforte-test" {
		t.Fatalf("server options carry %+v", tc)
	}
	for _, tc := range []struct {
		yaml string
		env  map[string]string
		want string
	}{
		{yaml: "tracing:\n  sample_ratio: lots\n", want: "config: tracing.sample_ratio: must be a number"},
		{yaml: "tracing:\n  sample_ratio: -0.1\n", want: "config: tracing.sample_ratio: must be between 0 and 1"},
		{yaml: "tracing:\n  enabled: true\n", want: "config: tracing.endpoint: required when tracing is enabled"},
		{yaml: "tracing:\n  endpoint: http://user:pw@collector:4318\n", want: "config: tracing.endpoint: must not carry credentials"},
		{yaml: "tracing:\n  exporter: otlp\n", want: "config: tracing.exporter: "},
		{env: map[string]string{"PFORTE_TRACING_SAMPLE_RATIO": "NaN"}, want: "config: tracing.sample_ratio: must be between 0 and 1"},
		{env: map[string]string{"PFORTE_TRACING_SAMPLE_RATIO": "half"}, want: "config: tracing.sample_ratio: PFORTE_TRACING_SAMPLE_RATIO: \"half\" is not a number"},
	} {
		opts := loadOptions{Getenv: env(tc.env)}
		if tc.yaml != "" {
			opts.File = writeFile(t, "pforte.yaml", tc.yaml)
		}
		_, err := loadConfig(opts)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q %v: got %v, want %s…", tc.yaml, tc.env, err, tc.want)
		}
	}
}
