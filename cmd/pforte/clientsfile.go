package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pforte-id/pforte/catalog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pforte-id/pforte/configs"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
)

// clientsFile is the schema of a clients YAML file (configs/dev/clients.yaml
// is the example of every kind).
type clientsFile struct {
	Clients []clientSpec `yaml:"clients"`
}

// clientSpec is one client as written in the file. A secret-based client
// gives exactly one of secret (plaintext; development only), secret_hash
// (the stored form, as `pforte clients add` prints it) or secret_file (a file
// holding the plaintext). A private_key_jwt client gives jwks (the JSON Web
// Key Set, public keys only) or jwks_file.
//
// What an entry leaves open (name, auth_method, grant_types, require_par,
// require_dpop, min_acr) takes the defaults of its kind from client.WithDefaults,
// as `pforte clients add` does; require_par and require_dpop are pointers
// because absent and false differ: writing false turns either off.
type clientSpec struct {
	ID                     string        `yaml:"id"`
	Name                   string        `yaml:"name"`
	NameEN                 string        `yaml:"name_en"`
	Kind                   string        `yaml:"kind"`
	AuthMethod             string        `yaml:"auth_method"`
	Secret                 Secret        `yaml:"secret"`
	SecretHash             string        `yaml:"secret_hash"`
	SecretFile             string        `yaml:"secret_file"`
	JWKS                   string        `yaml:"jwks"`
	JWKSFile               string        `yaml:"jwks_file"`
	RedirectURIs           []string      `yaml:"redirect_uris"`
	PostLogoutRedirectURIs []string      `yaml:"post_logout_redirect_uris"`
	GrantTypes             []string      `yaml:"grant_types"`
	Scopes                 []string      `yaml:"scopes"`
	AccessTokenTTL         time.Duration `yaml:"access_token_ttl"`
	IDTokenTTL             time.Duration `yaml:"id_token_ttl"`
	RequirePAR             *bool         `yaml:"require_par"`
	RequireDPoP            *bool         `yaml:"require_dpop"`
	SectorIdentifier       string        `yaml:"sector_identifier"`
	// MinACR is the lowest level of assurance the client accepts: low,
	// substantial or high (absent: client.DefaultMinACR).
	MinACR string `yaml:"min_acr"`
	// IntrospectionAudiences are the client IDs of the resource servers
	// the client's access tokens are for (client.Client's field of that
	// name); each must be a confidential client of the same file.
	IntrospectionAudiences []string `yaml:"introspection_audiences"`
	// Consent: the client is a third party; members allow it their data
	// on a consent page first (client.Client's field of that name).
	Consent bool `yaml:"consent"`
	// BackchannelLogoutURI is where the client takes logout tokens
	// (client.Client's field of that name); absent: it is not told.
	BackchannelLogoutURI string `yaml:"backchannel_logout_uri"`
}

// clientsFileOptions are what parsing a clients file depends on.
type clientsFileOptions struct {
	// Environment decides whether a plaintext secret is accepted.
	Environment Environment
	// Hasher computes SecretHash from plaintext secrets.
	Hasher client.SecretHasher
	// BaseDir resolves relative secret_file and jwks_file paths; "": the
	// working directory.
	BaseDir string
	// Now is the CreatedAt of the clients.
	Now time.Time
}

// parseClientsFile parses a clients YAML file strictly into validated
// clients, with plaintext secrets replaced by their keyed hash. Errors name
// the entry and key: "clients[2].secret: ...".
func parseClientsFile(data []byte, opts clientsFileOptions) ([]client.Client, error) {
	var f clientsFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, err
	}
	out := make([]client.Client, 0, len(f.Clients))
	seen := map[string]int{}
	for i, s := range f.Clients {
		at := func(key string) string { return fmt.Sprintf("clients[%d].%s", i, key) }
		if j, dup := seen[s.ID]; dup {
			return nil, fmt.Errorf("%s: duplicate id %q (also clients[%d])", at("id"), s.ID, j)
		}
		seen[s.ID] = i
		c, err := s.toClient(at, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	// An audience must be able to introspect: a client of the file that
	// authenticates. A misspelt one would otherwise sit in every token's
	// aud and lock the intended resource server out.
	for i, c := range out {
		for j, a := range c.IntrospectionAudiences {
			k, ok := seen[a]
			if !ok || out[k].Public() {
				return nil, fmt.Errorf("clients[%d].introspection_audiences[%d]: %q is not a confidential client of this file", i, j, a)
			}
		}
	}
	return out, nil
}

func (s clientSpec) toClient(at func(string) string, opts clientsFileOptions) (client.Client, error) {
	c := client.Client{
		ID:                     s.ID,
		Name:                   s.Name,
		NameEN:                 s.NameEN,
		Kind:                   client.Kind(s.Kind),
		AuthMethod:             client.AuthMethod(s.AuthMethod),
		RedirectURIs:           s.RedirectURIs,
		PostLogoutRedirectURIs: s.PostLogoutRedirectURIs,
		GrantTypes:             s.GrantTypes,
		Scopes:                 s.Scopes,
		AccessTokenTTL:         s.AccessTokenTTL,
		IDTokenTTL:             s.IDTokenTTL,
		SectorIdentifier:       s.SectorIdentifier,
		IntrospectionAudiences: s.IntrospectionAudiences,
		Consent:                s.Consent,
		BackchannelLogoutURI:   s.BackchannelLogoutURI,
		CreatedAt:              opts.Now,
	}
	if s.MinACR != "" {
		l, err := loa.ParseLevel(s.MinACR)
		if err != nil || l == loa.None {
			return client.Client{}, fmt.Errorf("%s: must be low, substantial or high, not %q", at("min_acr"), s.MinACR)
		}
		c.MinACR = l
	}
	c = c.WithDefaults(s.RequirePAR, s.RequireDPoP)
	for _, t := range []struct {
		key string
		ttl time.Duration
	}{{"access_token_ttl", s.AccessTokenTTL}, {"id_token_ttl", s.IDTokenTTL}} {
		if t.ttl == 0 {
			continue // the server default
		}
		if err := authz.CheckLifetime(t.ttl, authz.MaxTokenTTL); err != nil {
			return client.Client{}, fmt.Errorf("%s: %s, or absent for the server default", at(t.key), fault.PublicOf(err))
		}
	}

	given := 0
	for _, v := range []string{s.Secret.Reveal(), s.SecretHash, s.SecretFile} {
		if v != "" {
			given++
		}
	}
	switch c.AuthMethod {
	case client.AuthSecretBasic, client.AuthSecretPost:
		if given != 1 {
			return client.Client{}, fmt.Errorf("%s: %s needs exactly one of secret, secret_hash or secret_file", at("secret"), c.AuthMethod)
		}
		hash, err := s.secretHash(at, opts)
		if err != nil {
			return client.Client{}, err
		}
		c.SecretHash = hash
	default:
		if given != 0 {
			return client.Client{}, fmt.Errorf("%s: auth_method %s takes no secret", at("secret"), c.AuthMethod)
		}
	}

	switch {
	case s.JWKS != "" && s.JWKSFile != "":
		return client.Client{}, fmt.Errorf("%s: set jwks or jwks_file, not both", at("jwks"))
	case s.JWKS == "" && s.JWKSFile == "":
	case c.AuthMethod != client.AuthPrivateKeyJWT:
		return client.Client{}, fmt.Errorf("%s: only private_key_jwt clients have a jwks", at("jwks"))
	default:
		raw, key := []byte(s.JWKS), "jwks"
		if s.JWKSFile != "" {
			b, err := os.ReadFile(resolvePath(opts.BaseDir, s.JWKSFile))
			if err != nil {
				return client.Client{}, fmt.Errorf("%s: %s", at("jwks_file"), readError(err))
			}
			raw, key = b, "jwks_file"
		}
		jwks, err := publicJWKS(raw)
		if err != nil {
			return client.Client{}, fmt.Errorf("%s: %v", at(key), err)
		}
		c.JWKS = jwks
	}

	if err := c.Validate(); err != nil {
		return client.Client{}, fmt.Errorf("%s: %s", strings.TrimSuffix(at(""), "."), publicText(err))
	}
	return c, nil
}

// secretHash returns the stored form of the client's secret.
func (s clientSpec) secretHash(at func(string) string, opts clientsFileOptions) (string, error) {
	switch {
	case s.SecretHash != "":
		if err := checkSecretHash(s.SecretHash); err != nil {
			return "", fmt.Errorf("%s: %v", at("secret_hash"), err)
		}
		return s.SecretHash, nil
	case s.SecretFile != "":
		secret, err := readSecretFile(resolvePath(opts.BaseDir, s.SecretFile))
		if err != nil {
			return "", fmt.Errorf("%s: %v", at("secret_file"), err)
		}
		hash, err := opts.Hasher.HashNew(secret.Reveal())
		if err != nil {
			return "", fmt.Errorf("%s: the secret %s (use `pforte clients add` to generate one)", at("secret_file"), fault.PublicOf(err))
		}
		return hash, nil
	default:
		// A plaintext secret in a file that is checked in, copied and
		// backed up is a leaked secret; only demo data may do it.
		if opts.Environment != Development {
			return "", fmt.Errorf("%s: a plaintext secret is refused in production; use secret_hash or secret_file", at("secret"))
		}
		hash, err := opts.Hasher.HashNew(s.Secret.Reveal())
		if err != nil {
			return "", fmt.Errorf("%s: the secret %s", at("secret"), fault.PublicOf(err))
		}
		return hash, nil
	}
}

// checkSecretHash accepts the form client.SecretHasher writes.
func checkSecretHash(h string) error {
	const prefix = "hmac-sha256:"
	rest, ok := strings.CutPrefix(h, prefix)
	if b, err := base64.RawURLEncoding.DecodeString(rest); !ok || err != nil || len(b) != 32 {
		return errors.New(`must be "hmac-sha256:" and 43 base64url characters, as pforte clients add prints it`)
	}
	return nil
}

// privateJWKMembers are the JWK members that carry private or symmetric key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// publicJWKS checks that raw is a JSON Web Key Set of public keys and
// returns it compacted. A private key in a client's JWKS would be a leaked
// key, and a symmetric one would let anyone who reads the database sign
// client assertions.
func publicJWKS(raw []byte) ([]byte, error) {
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %v", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New(`the key set has no keys ({"keys":[...]})`)
	}
	for i, k := range set.Keys {
		kty, _ := k["kty"].(string)
		switch kty {
		case "EC", "RSA", "OKP":
		default:
			return nil, fmt.Errorf("keys[%d]: kty must be EC, RSA or OKP, not %q", i, kty)
		}
		for _, m := range privateJWKMembers {
			if _, ok := k[m]; ok {
				return nil, fmt.Errorf("keys[%d] contains private key material (%q): give the public key only", i, m)
			}
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %v", err)
	}
	return buf.Bytes(), nil
}

// publicText is the message of a core error without its operation prefix:
// the catalog's German text of its code (the rule a member would be told),
// else its public text.
func publicText(err error) string {
	var fe *fault.Error
	if errors.As(err, &fe) {
		if code, _ := fault.CodeOf(err); code != "" {
			return catalog.German.Error(err)
		}
		return fault.PublicOf(err)
	}
	return err.Error()
}

func resolvePath(base, p string) string {
	if base == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

// loadClients returns the clients the configuration declares: clients_file
// when set, the embedded demo clients in development, none otherwise.
// Relative paths inside a clients file are relative to the file.
func loadClients(cfg *Config, h client.SecretHasher, now time.Time) ([]client.Client, error) {
	opts := clientsFileOptions{Environment: cfg.Server.Environment, Hasher: h, Now: now}
	data, name := configs.DevClients, "configs/dev/clients.yaml (embedded)"
	switch {
	case cfg.ClientsFile != "":
		b, err := os.ReadFile(cfg.ClientsFile)
		if err != nil {
			return nil, bad("clients_file", "%s", readError(err))
		}
		data, name, opts.BaseDir = b, cfg.ClientsFile, filepath.Dir(cfg.ClientsFile)
	case cfg.Server.Environment != Development:
		return nil, nil
	}
	cs, err := parseClientsFile(data, opts)
	if err != nil {
		return nil, bad("clients_file", "%s: %v", name, err)
	}
	return cs, nil
}
