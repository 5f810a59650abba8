package main

import (
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/configs"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/loa"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func devClientsOpts() clientsFileOptions {
	return clientsFileOptions{Environment: Development, Hasher: testHasher(), Now: testNow}
}

func TestDevClientsShowEveryKind(t *testing.T) {
	cs, err := parseClientsFile(configs.DevClients, devClientsOpts())
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]client.Client{}
	kinds := map[client.Kind]bool{}
	for _, c := range cs {
		byID[c.ID] = c
		kinds[c.Kind] = true
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", c.ID, err)
		}
		if !c.CreatedAt.Equal(testNow) {
			t.Errorf("%s: CreatedAt %v", c.ID, c.CreatedAt)
		}
	}
	if len(kinds) != 4 {
		t.Fatalf("kinds %v", kinds)
	}
	app := byID["pforte-app"]
	if app.Kind != client.Native || !app.Public() || !slices.Contains(app.RedirectURIs, "de.hkk.serviceapp:/oauth2redirect") ||
		app.MatchRedirectURI("http://127.0.0.1:51234/callback") != nil ||
		strings.Join(app.Scopes, " ") != "openid profile birthdate address email kvnr verified_claims offline_access" ||
		strings.Join(app.GrantTypes, " ") != "authorization_code refresh_token" ||
		!app.RequireDPoP || app.RequirePAR || app.SectorIdentifier != "" {
		t.Errorf("pforte-app %+v", app)
	}
	forms := byID["online-forms"]
	if forms.AuthMethod != client.AuthSecretBasic || !testHasher().Verify("dev-online-forms-secret-NOT-FOR-PRODUCTION", forms.SecretHash) ||
		forms.RequirePAR || forms.RequireDPoP || forms.MinACR != loa.Substantial {
		t.Errorf("online-forms %+v", forms)
	}
	if calc := byID["beitragsrechner"]; calc.MinACR != loa.Low || calc.Kind != client.Web {
		t.Errorf("beitragsrechner %+v: want a web client that accepts low", calc)
	}
	if portal := byID["partner-portal"]; portal.MinACR != loa.Substantial {
		t.Errorf("partner-portal MinACR %v, want the default substantial", portal.MinACR)
	}
	for _, id := range []string{"pforte-app", "online-forms"} {
		if got := byID[id].IntrospectionAudiences; !slices.Equal(got, []string{"claims-service"}) {
			t.Errorf("%s introspection audiences %q, want the claims service", id, got)
		}
	}
	if got := byID["partner-portal"].IntrospectionAudiences; len(got) != 0 {
		t.Errorf("partner-portal introspection audiences %q, want none: the insurer's services are not the partner's", got)
	}
	svc := byID["claims-service"]
	if svc.Kind != client.Service || svc.AuthMethod != client.AuthSecretPost || !svc.AllowsGrant(client.GrantClientCredentials) ||
		!testHasher().Verify("dev-claims-service-secret-NOT-FOR-PRODUCTION", svc.SecretHash) {
		t.Errorf("claims-service %+v", svc)
	}
	portal := byID["partner-portal"]
	if portal.AuthMethod != client.AuthPrivateKeyJWT || !portal.RequirePAR || portal.RequireDPoP ||
		portal.SectorIdentifier != "partner-portal.localhost" {
		t.Fatalf("partner-portal %+v", portal)
	}
	checkDemoKeyPair(t, portal.JWKS)
}

// checkDemoKeyPair checks that the committed private demo key belongs to
// the public key of the partner-portal client.
func checkDemoKeyPair(t *testing.T, jwks []byte) {
	t.Helper()
	var set struct {
		Keys []struct{ Kty, Crv, Kid, X, Y, D string }
	}
	if err := json.Unmarshal(jwks, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks %s: %v", jwks, err)
	}
	pub := set.Keys[0]
	raw, err := os.ReadFile(filepath.Join("..", "..", "configs", "dev", "partner-portal-private.jwk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var priv struct{ Kty, Crv, Kid, X, Y, D string }
	if err := json.Unmarshal(raw, &priv); err != nil {
		t.Fatal(err)
	}
	if pub.D != "" || priv.Kid != pub.Kid || priv.X != pub.X || priv.Y != pub.Y || pub.Crv != "P-256" {
		t.Fatalf("public %+v and private key do not match", pub)
	}
	d, _ := base64.RawURLEncoding.DecodeString(priv.D)
	k, err := ecdh.P256().NewPrivateKey(d)
	if err != nil {
		t.Fatal(err)
	}
	point := k.PublicKey().Bytes() // 0x04 || X || Y
	if base64.RawURLEncoding.EncodeToString(point[1:33]) != pub.X || base64.RawURLEncoding.EncodeToString(point[33:]) != pub.Y {
		t.Fatal("the private demo key does not derive the published public key")
	}
}

func TestDevClientsRefusedInProduction(t *testing.T) {
	opts := devClientsOpts()
	opts.Environment = Production
	_, err := parseClientsFile(configs.DevClients, opts)
	if err == nil || err.Error() != "clients[1].secret: a plaintext secret is refused in production; use secret_hash or secret_file" {
		t.Fatalf("got %v", err)
	}
}

func TestProductionClientsWithHashAndFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "svc.secret"), []byte(strings.Repeat("s", 40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hash := testHasher().Hash("generated-secret-of-forty-three-characters!")
	yaml := `
clients:
  - id: forms
    kind: web
    auth_method: client_secret_basic
    secret_hash: ` + hash + `
    redirect_uris: [https://forms.example.org/cb]
    grant_types: [authorization_code]
    scopes: [openid]
    access_token_ttl: 2m
  - id: svc
    name: Leistungsservice
    name_en: Claims service
    kind: service
    auth_method: client_secret_post
    secret_file: svc.secret
    grant_types: [client_credentials]
`
	opts := clientsFileOptions{Environment: Production, Hasher: testHasher(), BaseDir: dir, Now: testNow}
	cs, err := parseClientsFile([]byte(yaml), opts)
	if err != nil {
		t.Fatal(err)
	}
	if cs[0].SecretHash != hash || cs[0].AccessTokenTTL != 2*time.Minute || cs[0].Name != "forms" {
		t.Fatalf("forms %+v", cs[0])
	}
	if cs[1].Name != "Leistungsservice" || cs[1].NameEN != "Claims service" || cs[0].NameEN != "" {
		t.Fatalf("names: %q/%q, %q/%q", cs[0].Name, cs[0].NameEN, cs[1].Name, cs[1].NameEN)
	}
	if !testHasher().Verify(strings.Repeat("s", 40), cs[1].SecretHash) {
		t.Fatal("secret_file not hashed")
	}
}

func TestClientsFileErrors(t *testing.T) {
	const ok = `
  - id: app
    kind: native
    auth_method: none
    redirect_uris: [http://127.0.0.1/cb]
    grant_types: [authorization_code]
`
	const secret = "long-enough-development-secret-0123456789"
	for _, tc := range []struct{ yaml, want string }{
		{"clients:\n  - id: app\n    kynd: native\n", "clients[0].kynd: unknown key (line 3)"},
		{"client:\n  - id: app\n", "client: unknown key (line 1)"},
		{"clients:" + ok + ok, `clients[1].id: duplicate id "app" (also clients[0])`},
		{"clients:\n  - id: app\n    kind: native\n    auth_method: none\n    redirect_uris: [http://app.example.org/cb]\n    grant_types: [authorization_code]\n",
			"clients[0]: client app: redirect URI http://app.example.org/cb must use https"},
		{"clients:\n  - id: app\n    kind: native\n    auth_method: none\n    grant_types: [client_credentials]\n",
			"clients[0]: client app: public clients cannot use client_credentials"},
		{"clients:\n  - id: app\n    kind: robot\n    auth_method: none\n    grant_types: [authorization_code]\n",
			"clients[0]: client app: kind must be native, web, portal or service"},
		{"clients:\n  - kind: service\n    auth_method: client_secret_post\n    secret: " + secret + "\n    grant_types: [client_credentials]\n",
			"clients[0]: client : id must be 1-128 characters"},
		{"clients:\n  - id: app\n    kind: native\n    auth_method: none\n    secret: " + secret + "\n    redirect_uris: [http://127.0.0.1/cb]\n    grant_types: [authorization_code]\n",
			"clients[0].secret: auth_method none takes no secret"},
		{"clients:\n  - id: svc\n    kind: service\n    auth_method: client_secret_post\n    grant_types: [client_credentials]\n",
			"clients[0].secret: client_secret_post needs exactly one of secret, secret_hash or secret_file"},
		{"clients:\n  - id: svc\n    kind: service\n    auth_method: client_secret_post\n    secret: " + secret + "\n    secret_file: x\n    grant_types: [client_credentials]\n",
			"clients[0].secret: client_secret_post needs exactly one of secret, secret_hash or secret_file"},
		{"clients:\n  - id: svc\n    kind: service\n    auth_method: client_secret_post\n    secret: short\n    grant_types: [client_credentials]\n",
			"clients[0].secret: the secret must have at least 32 characters"},
		{"clients:\n  - id: svc\n    kind: service\n    auth_method: client_secret_post\n    secret_hash: sha1:abc\n    grant_types: [client_credentials]\n",
			`clients[0].secret_hash: must be "hmac-sha256:"`},
		{"clients:\n  - id: svc\n    kind: service\n    auth_method: client_secret_post\n    secret_file: /nonexistent/secret\n    grant_types: [client_credentials]\n",
			"clients[0].secret_file: cannot read /nonexistent/secret"},
		{"clients:\n  - id: p\n    kind: portal\n    auth_method: private_key_jwt\n    jwks: '{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"a\",\"y\":\"b\",\"d\":\"c\"}]}'\n    redirect_uris: [https://p.example.org/cb]\n    grant_types: [authorization_code]\n",
			`clients[0].jwks: keys[0] contains private key material ("d")`},
		{"clients:\n  - id: p\n    kind: portal\n    auth_method: private_key_jwt\n    jwks: '{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}'\n    redirect_uris: [https://p.example.org/cb]\n    grant_types: [authorization_code]\n",
			`clients[0].jwks: keys[0]: kty must be EC, RSA or OKP, not "oct"`},
		{"clients:\n  - id: p\n    kind: portal\n    auth_method: private_key_jwt\n    jwks: '{\"keys\":[]}'\n    redirect_uris: [https://p.example.org/cb]\n    grant_types: [authorization_code]\n",
			"clients[0].jwks: the key set has no keys"},
		{"clients:\n  - id: p\n    kind: portal\n    auth_method: private_key_jwt\n    jwks: 'not json'\n    redirect_uris: [https://p.example.org/cb]\n    grant_types: [authorization_code]\n",
			"clients[0].jwks: not a JSON Web Key Set"},
		{"clients:\n  - id: p\n    kind: portal\n    auth_method: private_key_jwt\n    redirect_uris: [https://p.example.org/cb]\n    grant_types: [authorization_code]\n",
			"clients[0]: client p: private_key_jwt needs jwks"},
		{"clients:\n  - id: app\n    kind: native\n    auth_method: none\n    jwks: '{}'\n    redirect_uris: [http://127.0.0.1/cb]\n    grant_types: [authorization_code]\n",
			"clients[0].jwks: only private_key_jwt clients have a jwks"},
		{"clients:\n  - id: app\n    kind: native\n    auth_method: none\n    redirect_uris: [http://127.0.0.1/cb]\n    grant_types: [authorization_code]\n    access_token_ttl: 2h\n",
			"clients[0].access_token_ttl: must be between 1s and 1h"},
		{"clients:\n  - id: app\n    id_token_ttl: later\n", `clients[0].id_token_ttl: "later" is not a duration`},
		{"clients:\n  - id: app\n    require_par: maybe\n", "clients[0].require_par"},
		{"clients:" + ok + "    sector_identifier: https://app.example.org\n",
			"clients[0]: client app: sector_identifier must be a lower-case host name"},
		{"clients:\n  - id: svc\n    kind: service\n    auth_method: client_secret_post\n    secret: " + secret + "\n    grant_types: [client_credentials]\n    require_par: true\n",
			"clients[0]: client svc: require_par needs the authorization_code grant"},
		{"clients:\n  - id: svc\n    kind: service\n    auth_method: client_secret_post\n    secret: " + secret + "\n    grant_types: [client_credentials]\n    sector_identifier: svc.example.org\n",
			"clients[0]: client svc: service clients have no member subject"},
		{"clients:" + ok + "    backchannel_logout_uri: http://app.example.org/logout\n",
			"clients[0]: client app: backchannel_logout_uri \"http://app.example.org/logout\" must use https (http only for loopback)"},
		{"clients:" + ok + "    backchannel_logout_uri: https://app.example.org/logout#frag\n",
			"clients[0]: client app: backchannel_logout_uri \"https://app.example.org/logout#frag\" must not have a fragment"},
		{"clients:\n  - id: svc\n    kind: service\n    auth_method: client_secret_post\n    secret: " + secret + "\n    grant_types: [client_credentials]\n    backchannel_logout_uri: https://svc.example.org/logout\n",
			"clients[0]: client svc: service clients log no member in"},
		{"clients:" + ok + "    introspection_audiences: [api]\n",
			`clients[0].introspection_audiences[0]: "api" is not a confidential client of this file`},
		{"clients:" + ok + "    introspection_audiences: [app]\n",
			"clients[0]: client app: introspection_audiences names the client itself"},
		{"clients:" + ok + "    introspection_audiences: [other]\n  - id: other\n    kind: native\n    auth_method: none\n    redirect_uris: [http://127.0.0.1/cb]\n    grant_types: [authorization_code]\n",
			`clients[0].introspection_audiences[0]: "other" is not a confidential client of this file`},
	} {
		_, err := parseClientsFile([]byte(tc.yaml), devClientsOpts())
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s\n got %v\nwant %s…", tc.yaml, err, tc.want)
		}
	}
}

// require_par and require_dpop default by kind when absent; written
// out, they win either way.
func TestClientsFileAppLoginDefaults(t *testing.T) {
	const jwks = `'{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}'`
	const secret = "long-enough-development-secret-0123456789"
	specs := map[string]string{
		"native":     "kind: native\n    auth_method: none\n    redirect_uris: [http://127.0.0.1/cb]\n    grant_types: [authorization_code]",
		"web":        "kind: web\n    auth_method: client_secret_basic\n    secret: " + secret + "\n    redirect_uris: [https://w.example.org/cb]\n    grant_types: [authorization_code]",
		"portal":     "kind: portal\n    auth_method: private_key_jwt\n    jwks: " + jwks + "\n    redirect_uris: [https://p.example.org/cb]\n    grant_types: [authorization_code]",
		"portal-cc":  "kind: portal\n    auth_method: private_key_jwt\n    jwks: " + jwks + "\n    grant_types: [client_credentials]",
		"service":    "kind: service\n    auth_method: client_secret_post\n    secret: " + secret + "\n    grant_types: [client_credentials]",
		"native-off": "kind: native\n    auth_method: none\n    redirect_uris: [http://127.0.0.1/cb]\n    grant_types: [authorization_code]\n    require_dpop: false",
		"portal-off": "kind: portal\n    auth_method: private_key_jwt\n    jwks: " + jwks + "\n    redirect_uris: [https://p.example.org/cb]\n    grant_types: [authorization_code]\n    require_par: false",
		"web-on":     "kind: web\n    auth_method: client_secret_basic\n    secret: " + secret + "\n    redirect_uris: [https://w.example.org/cb]\n    grant_types: [authorization_code]\n    require_par: true\n    require_dpop: true\n    sector_identifier: forms.example.org",
	}
	want := map[string][2]bool{ // require_par, require_dpop
		"native": {false, true}, "web": {false, false}, "portal": {true, false}, "portal-cc": {false, false},
		"service": {false, false}, "native-off": {false, false}, "portal-off": {false, false}, "web-on": {true, true},
	}
	var b strings.Builder
	b.WriteString("clients:\n")
	for id, spec := range specs {
		b.WriteString("  - id: " + id + "\n    " + spec + "\n")
	}
	cs, err := parseClientsFile([]byte(b.String()), devClientsOpts())
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != len(want) {
		t.Fatalf("%d clients, want %d", len(cs), len(want))
	}
	for _, c := range cs {
		if got := [2]bool{c.RequirePAR, c.RequireDPoP}; got != want[c.ID] {
			t.Errorf("%s: require_par, require_dpop = %v, want %v", c.ID, got, want[c.ID])
		}
		if wantSector := map[bool]string{true: "forms.example.org"}[c.ID == "web-on"]; c.SectorIdentifier != wantSector {
			t.Errorf("%s: sector_identifier %q, want %q", c.ID, c.SectorIdentifier, wantSector)
		}
	}
}

func TestLoadClientsPicksTheSource(t *testing.T) {
	cfg, err := loadConfig(loadOptions{Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := loadClients(cfg, testHasher(), testNow)
	if err != nil || len(cs) != 5 {
		t.Fatalf("development default: %d clients, %v", len(cs), err)
	}
	p := writeFile(t, "clients.yaml", "clients:\n  - id: app\n    kind: native\n    auth_method: none\n    redirect_uris: [http://127.0.0.1/cb]\n    grant_types: [authorization_code]\n")
	cfg.ClientsFile = p
	cs, err = loadClients(cfg, testHasher(), testNow)
	if err != nil || len(cs) != 1 || cs[0].ID != "app" {
		t.Fatalf("clients_file: %v, %v", cs, err)
	}
	bad := writeFile(t, "clients.yaml", "clients:\n  - idd: app\n")
	cfg.ClientsFile = bad
	if _, err := loadClients(cfg, testHasher(), testNow); err == nil ||
		err.Error() != "config: clients_file: "+bad+": clients[0].idd: unknown key (line 2)" {
		t.Fatalf("got %v", err)
	}
	cfg.ClientsFile = ""
	cfg.Server.Environment = Production
	cs, err = loadClients(cfg, testHasher(), testNow)
	if err != nil || cs != nil {
		t.Fatalf("production without clients_file: %v, %v", cs, err)
	}
}

func TestClientsFileBackchannelLogoutURI(t *testing.T) {
	const yaml = "clients:\n  - id: forms\n    kind: web\n    secret: long-enough-development-secret-0123456789\n" +
		"    redirect_uris: [https://forms.example.org/cb]\n" +
		"    backchannel_logout_uri: https://forms.example.org/backchannel-logout?tenant=1\n" +
		"  - id: quiet\n    kind: web\n    secret: long-enough-development-secret-0123456789\n" +
		"    redirect_uris: [https://quiet.example.org/cb]\n"
	cs, err := parseClientsFile([]byte(yaml), devClientsOpts())
	if err != nil {
		t.Fatal(err)
	}
	if cs[0].BackchannelLogoutURI != "https://forms.example.org/backchannel-logout?tenant=1" || cs[1].BackchannelLogoutURI != "" {
		t.Errorf("backchannel_logout_uri %q and %q", cs[0].BackchannelLogoutURI, cs[1].BackchannelLogoutURI)
	}
}
