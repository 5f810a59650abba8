package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// badValue is one value a key refuses. value is set through the key's
// PFORTE_* variable, or, when yaml is set, the whole config file is yaml
// instead. with sets other keys (by their variables) that the key needs
// to matter, e.g. notify.type smtp for the SMTP keys.
type badValue struct {
	value string
	yaml  string
	with  map[string]string
}

// smtp is the context of the notify.* keys: a valid relay.
var smtp = map[string]string{
	"notify.type": "smtp", "notify.smtp_host": "mail.example.org", "notify.from": "service@example.org",
}

// eidOn is the context of the eid.* keys: the method enabled with a
// valid eID service.
var eidOn = map[string]string{
	"eid.enabled": "true", "eid.issuer": "https://eid.example.org", "eid.client_id": "pforte", "eid.client_secret": "s3cret",
	"eid.app_return_uris": "de.example.serviceapp:/eid",
}

// eidNoSecret is eidOn without the client secret.
var eidNoSecret = map[string]string{
	"eid.enabled": "true", "eid.issuer": "https://eid.example.org", "eid.client_id": "pforte", "eid.app_return_uris": "de.example.serviceapp:/eid",
}

// badValues holds one bad value for every key of Config. A key added to
// Config without an entry here fails TestEveryKeyRefusesABadValueByName.
var badValues = map[string]badValue{
	"server.addr":             {value: "8080"},
	"server.issuer":           {value: "ftp://id.example.org"},
	"server.data_dir":         {yaml: "server:\n  data_dir: \"\"\n"},
	"server.environment":      {value: "staging"},
	"server.shutdown_timeout": {value: "0s"},
	"server.admin_addr":       {value: "nope"},

	"storage.type":           {value: "mysql"},
	"storage.dsn":            {value: "postgres://u@db/x?sslmode=bogus", with: map[string]string{"storage.type": "postgres"}},
	"storage.dsn_file":       {value: "/nonexistent/dsn"},
	"storage.auto_migrate":   {value: "sometimes"},
	"storage.max_open_conns": {value: "-1"},

	"keys.master_key":      {value: "c2hvcnQ="},
	"keys.master_key_file": {value: "FILE:c2hvcnQ="},
	"keys.rotation_days":   {value: "400"},
	"keys.publish_hours":   {value: "0"},

	"members.sync_max_drop": {value: "1.5"},
	"members.retention":     {value: "24h"},

	"tokens.access_token_ttl":     {value: "2h"},
	"tokens.id_token_ttl":         {value: "2h"},
	"tokens.refresh_idle_ttl":     {value: "-1s"},
	"tokens.refresh_absolute_ttl": {value: "1m"},
	"tokens.code_ttl":             {value: "61s"},
	"tokens.auth_request_ttl":     {value: "2h"},
	"tokens.kvnr_claims":          {value: "kvnr,sub"},
	"tokens.trust_framework":      {value: "DE AML"},

	"login.argon2_memory_kib":  {value: "1024"},
	"login.argon2_iterations":  {value: "65"},
	"login.argon2_parallelism": {value: "256"},
	"login.hash_concurrency":   {value: "-2"},
	"login.hash_max_wait":      {value: "1m"},
	"login.acr_vocabulary":     {value: "nist"},

	"login.throttle_free":           {value: "11"},
	"login.throttle_first_delay":    {value: "0s"},
	"login.throttle_max_delay":      {value: "2h"},
	"login.throttle_forget":         {value: "1m"},
	"login.throttle_notify_at":      {value: "-1"},
	"login.throttle_network_budget": {value: "0"},
	"login.throttle_network_window": {value: "1s"},
	"login.session_idle":            {value: "10s"},
	"login.session_absolute":        {value: "200h"},

	"clients_file": {value: "/nonexistent/clients.yaml"},
	"members_file": {value: "/nonexistent/members.yaml"},

	"letters.outbox_dir":        {value: "out\x00box"},
	"letters.sender":            {value: "Beispiel-BKK\nPostfach 1"},
	"letters.validity":          {value: "1h"},
	"letters.min_interval":      {value: "2000h"},
	"letters.max_attempts":      {value: "11"},
	"letters.contact_phone":     {value: "call us"},
	"letters.contact_address":   {value: "Martinistraße 26\n28195 Bremen"},
	"letters.app_store_url":     {value: "http://www.hkk.example/app"},
	"letters.attempts_per_kvnr": {value: "4"},
	"letters.attempt_window":    {value: "59m"},
	"letters.guard_window":      {value: "24h"},

	"registration.eligible_ahead":              {value: "9000h"},
	"registration.eligible_grace":              {value: "-1s"},
	"registration.requests_per_ip_per_hour":    {value: "0"},
	"registration.requests_per_kvnr_per_day":   {value: "0"},
	"registration.activations_per_ip_per_hour": {value: "0"},
	"registration.worker_interval":             {value: "1ms"},
	"registration.request_lease":               {value: "1s"},
	"registration.letter_lease":                {value: "2h"},
	"registration.trusted_proxies":             {value: "10.0.0.0/8, proxy.example.org"},

	"devices.rp_id":                   {value: "127.0.0.1"},
	"devices.app_origins":             {value: "https://evil.example"},
	"devices.android_package":         {value: "", with: map[string]string{"devices.android_cert_digests": strings.Repeat("ab", 32)}},
	"devices.android_cert_digests":    {value: "zz", with: map[string]string{"devices.android_package": "de.example.app"}},
	"devices.packed_roots_file":       {value: "FILE:no certificate here"},
	"devices.android_revocation_file": {value: "FILE:{\"entries\": []}"},
	"devices.apple_app_id":            {value: "de.example.serviceapp"},
	"devices.apple_environment":       {value: "staging"},
	"devices.attestation":             {value: "sometimes"},
	"devices.transfer_ttl":            {value: "20m"},
	"devices.transfers_per_ip":        {value: "-1"},
	"devices.transfer_window":         {value: "1s"},

	"pin.peppers":        {value: "1:c2hvcnQ="},
	"pin.peppers_file":   {value: "FILE:1:c2hvcnQ="},
	"pin.pepper_version": {value: "2"},
	"pin.max_failures":   {value: "11"},
	"pin.delays":         {value: "1m, 25h"},

	"notify.type":               {value: "pigeon"},
	"notify.smtp_host":          {value: "mail.example.org:25", with: smtp},
	"notify.smtp_port":          {value: "70000", with: smtp},
	"notify.smtp_username":      {value: "pforte\r\nRSET", with: map[string]string{"notify.smtp_password": "pw", "notify.type": "smtp", "notify.smtp_host": "mail.example.org", "notify.from": "service@example.org"}},
	"notify.smtp_password":      {value: "pw", with: smtp},
	"notify.smtp_password_file": {value: "FILE:pw", with: smtp},
	"notify.from":               {value: "Meine Kasse", with: map[string]string{"notify.type": "smtp", "notify.smtp_host": "mail.example.org"}},
	"notify.starttls":           {value: "none", with: smtp},

	"eid.enabled":              {value: "perhaps"},
	"eid.issuer":               {value: "http://eid.example.org", with: eidOn},
	"eid.client_id":            {value: "pforte client", with: eidOn},
	"eid.client_secret":        {value: "", with: eidNoSecret},
	"eid.client_secret_file":   {value: "/nonexistent/secret", with: eidNoSecret},
	"eid.redirect_uri":         {value: "https://evil.example/eid/callback", with: eidOn},
	"eid.scopes":               {value: "profile,address", with: eidOn},
	"eid.acr_values":           {value: "http://eidas.europa.eu/LoA/low", with: eidOn},
	"eid.timeout":              {value: "500ms", with: eidOn},
	"eid.high_acr":             {value: "level high", with: eidOn},
	"eid.pseudonym":            {value: "base32", with: eidOn},
	"eid.claim_given_name":     {value: "given name", with: eidOn},
	"eid.claim_family_name":    {value: "family name", with: eidOn},
	"eid.claim_birth_name":     {value: "birth name", with: eidOn},
	"eid.claim_birthdate":      {value: "birth date", with: eidOn},
	"eid.claim_place_of_birth": {value: "place of birth", with: eidOn},
	"eid.claim_address":        {value: "postal address", with: eidOn},
	"eid.claim_restricted_id":  {value: "restricted id", with: eidOn},
	"eid.app_return_uris":      {value: "http://app.example.org/eid", with: eidOn},
	"eid.app_loopback":         {value: "perhaps"},

	"logout.backchannel_timeout":       {value: "2m"},
	"logout.backchannel_give_up_after": {value: "10s"},
	"logout.backchannel_retry_first":   {value: "1ms"},
	"logout.backchannel_retry_max":     {value: "1s"},
	"logout.backchannel_interval":      {value: "0s"},
	"devices.reconfirm_period":         {value: "24h"},
	"housekeeping.interval":            {value: "100ms"},
	"housekeeping.lease":               {value: "1s"},
	"housekeeping.letter_secrets_kept": {value: "1m"},
	"housekeeping.enrollments_kept":    {value: "9000h"},
	"tracing.enabled":                  {value: "perhaps"},
	"tracing.endpoint":                 {value: "grpc://otel-collector:4317", with: map[string]string{"tracing.enabled": "true"}},
	"tracing.sample_ratio":             {value: "1.5"},
	"tracing.service_name":             {value: "pforte produktion"},

	"log.level":  {value: "loud"},
	"log.format": {value: "xml"},
}

// TestEveryKeyRefusesABadValueByName feeds one bad value per key of
// Config (the keys come from its yaml tags) and checks that loading ends
// with one line naming that key: whichever package owns the rule, the
// operator learns which key to fix before anything listens. A value
// "FILE:<content>" is written to a file and the file's path is used.
func TestEveryKeyRefusesABadValueByName(t *testing.T) {
	varOf := map[string]string{}
	for _, v := range envVars {
		varOf[v.Key] = v.Name
	}
	keys := yamlKeys(reflect.TypeOf(Config{}), "")
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			bv, ok := badValues[key]
			if !ok {
				t.Fatalf("no bad value for %s in badValues", key)
			}
			opts := loadOptions{}
			env := map[string]string{}
			set := func(k, v string) {
				if content, ok := strings.CutPrefix(v, "FILE:"); ok {
					v = filepath.Join(t.TempDir(), "secret")
					if err := os.WriteFile(v, []byte(content), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				env[varOf[k]] = v
			}
			for k, v := range bv.with {
				set(k, v)
			}
			if bv.yaml != "" {
				opts.File = writeFile(t, "pforte.yaml", bv.yaml)
			} else {
				set(key, bv.value)
			}
			opts.Getenv = func(name string) string { return env[name] }
			_, err := loadConfig(opts)
			if err == nil {
				t.Fatalf("%q accepted", bv.value)
			}
			if want := "config: " + key + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("%q:\n got %s\nwant %s…", bv.value, err, want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("more than one line: %q", err)
			}
		})
	}
	for key := range badValues {
		if !slices.Contains(keys, key) {
			t.Errorf("badValues names %s, which is no key of Config", key)
		}
	}
}
