package client

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
)

// Kind is what sort of relying party a client is.
type Kind string

const (
	// Native is a public mobile or desktop app (RFC 8252).
	Native Kind = "native"
	// Web is a confidential server-side web application (an online form).
	Web Kind = "web"
	// Portal is a partner portal: confidential, private_key_jwt, PAR.
	Portal Kind = "portal"
	// Service is a back end using client_credentials only.
	Service Kind = "service"
)

// AuthMethod is a token endpoint client authentication method.
type AuthMethod string

const (
	AuthNone          AuthMethod = "none"
	AuthSecretBasic   AuthMethod = "client_secret_basic"
	AuthSecretPost    AuthMethod = "client_secret_post"
	AuthPrivateKeyJWT AuthMethod = "private_key_jwt"
)

// Grant types a client may use.
const (
	GrantCode              = "authorization_code"
	GrantRefresh           = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Client is a registered relying party.
type Client struct {
	ID string
	// Name is the name members see, in German; NameEN is its English
	// form for a member who reads English (empty: Name there too).
	Name       string
	NameEN     string
	Kind       Kind
	AuthMethod AuthMethod
	// SecretHash is the keyed hash of the client secret (SecretHasher);
	// empty for clients that do not use a secret.
	SecretHash string
	// PreviousSecretHash is the hash of the secret before the last
	// rotation, accepted beside SecretHash until PreviousSecretUntil
	// (exclusive), so that the client's operator can deploy the new
	// secret without an outage (AcceptedSecretHashes). Empty: no rollover.
	PreviousSecretHash  string
	PreviousSecretUntil time.Time
	// JWKS is the client's public key set (JSON) for private_key_jwt.
	JWKS         []byte
	RedirectURIs []string
	// PostLogoutRedirectURIs are exact matches for end_session.
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	// Scopes the client may request; scopes outside this list are dropped.
	Scopes []string
	// AccessTokenTTL and IDTokenTTL override the server defaults when set.
	AccessTokenTTL time.Duration
	IDTokenTTL     time.Duration
	// RequirePAR: the client must push its authorization requests (RFC
	// 9126 §5); a plain authorization request is refused.
	RequirePAR bool
	// RequireDPoP: every token issued to the client is DPoP-bound (RFC
	// 9449); a token request without a DPoP proof is refused.
	RequireDPoP bool
	// SectorIdentifier is the sector the client's pairwise subject
	// identifiers are computed for (OpenID Connect Core §8.1): a DNS host
	// name such as "portal.partner.example", in lower case, without
	// scheme, port or path (SectorIdentifierOK). Clients of one sector
	// see the same sub for a member, clients of different sectors cannot
	// link theirs. Empty: the client gets the public sub. The operator
	// configures it; Pforte fetches no sector_identifier_uri.
	SectorIdentifier string
	// MinACR is the lowest level of assurance the client accepts: a login
	// below it never reaches the client (the member is asked for more, or
	// shown why it cannot be reached); acr_values may raise it per
	// request, never lower it. WithDefaults sets loa.Substantial, and a
	// client without one (loa.None) is held to it as well (MinimumLevel):
	// a client accepts the password alone (loa.Low) only when it says so.
	MinACR loa.Level
	// IntrospectionAudiences are the client IDs of the resource servers
	// this client's access tokens are meant for (each registered as a
	// confidential client itself, usually of kind service, so that it can
	// authenticate at the introspection endpoint). They are the token's
	// aud beside the issuer (RFC 9068 §3), and they alone, with the client
	// itself, see the token as active at introspection (MayIntrospect).
	// Empty, the default of every kind: only the client itself.
	IntrospectionAudiences []string
	// Consent: the client is a third party (a partner portal), so a
	// member allows it the requested data on a consent page before it
	// gets any, once per scope set (authz.NeedsConsent). The insurer's own
	// services leave it off.
	Consent bool
	// BackchannelLogoutURI is where Pforte posts a logout token when a
	// session the client took part in ends (OpenID Connect Back-Channel
	// Logout 1.0 §2.2); empty: the client is not told. Every logout token
	// carries sid, so backchannel_logout_session_required is true for
	// every client that registers a URI, and is not stored.
	BackchannelLogoutURI string
	CreatedAt            time.Time
}

// Defaults of a kind: what a client definition that leaves them open gets,
// wherever it comes from (the clients file or `pforte clients add`), so that
// the same portal is registered the same way by either.
type Defaults struct {
	AuthMethod AuthMethod
	GrantTypes []string
	// RequirePAR: a portal that logs members in pushes its authorization
	// requests (RFC 9126), so that none of its parameters travel through
	// the browser where they could be altered or read.
	RequirePAR bool
	// RequireDPoP: a native app's tokens are DPoP-bound (RFC 9449),
	// because a public client's bearer tokens are only as safe as the
	// phone's storage.
	RequireDPoP bool
}

// DefaultsOf returns the defaults of kind k for a client with the given
// grant types (empty: the kind's default grants); false for an unknown kind.
func DefaultsOf(k Kind, grants []string) (Defaults, bool) {
	var d Defaults
	switch k {
	case Native:
		d = Defaults{AuthMethod: AuthNone, GrantTypes: []string{GrantCode, GrantRefresh}, RequireDPoP: true}
	case Web:
		d = Defaults{AuthMethod: AuthSecretBasic, GrantTypes: []string{GrantCode, GrantRefresh}}
	case Portal:
		d = Defaults{AuthMethod: AuthPrivateKeyJWT, GrantTypes: []string{GrantCode, GrantRefresh}}
	case Service:
		d = Defaults{AuthMethod: AuthSecretPost, GrantTypes: []string{GrantClientCredentials}}
	default:
		return Defaults{}, false
	}
	if len(grants) == 0 {
		grants = d.GrantTypes
	}
	d.RequirePAR = k == Portal && slices.Contains(grants, GrantCode)
	return d, true
}

// WithDefaults returns c with what its definition leaves open set by its
// kind: Name (the ID), AuthMethod, GrantTypes, MinACR (DefaultMinACR when
// not stated), and RequirePAR and
// RequireDPoP unless requirePAR or requireDPoP state them (nil: not
// stated; a stated false turns the default off). An unknown kind gets only
// the name; Validate refuses it.
func (c Client) WithDefaults(requirePAR, requireDPoP *bool) Client {
	if c.Name == "" {
		c.Name = c.ID
	}
	d, ok := DefaultsOf(c.Kind, c.GrantTypes)
	if !ok {
		return c
	}
	if c.AuthMethod == "" {
		c.AuthMethod = d.AuthMethod
	}
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = slices.Clone(d.GrantTypes)
	}
	c.RequirePAR, c.RequireDPoP = d.RequirePAR, d.RequireDPoP
	c.MinACR = c.MinimumLevel()
	if requirePAR != nil {
		c.RequirePAR = *requirePAR
	}
	if requireDPoP != nil {
		c.RequireDPoP = *requireDPoP
	}
	return c
}

// DefaultMinACR is the lowest level every kind of client accepts unless
// its definition lowers it: a password alone (low) is one factor, and
// online forms and partner portals handle health insurance data.
const DefaultMinACR = loa.Substantial

// MinimumLevel is the lowest level the client accepts: MinACR, or
// DefaultMinACR when the client states none.
func (c Client) MinimumLevel() loa.Level {
	if c.MinACR == loa.None {
		return DefaultMinACR
	}
	return c.MinACR
}

// DisplayName returns the client's name for a member reading lang ("de",
// "en") and the language the name is in: NameEN for English when set,
// otherwise Name, which is German. A page in another language than the
// name's marks the name with it, so screen readers pronounce it right.
func (c Client) DisplayName(lang string) (name, nameLang string) {
	if lang == "en" && c.NameEN != "" {
		return c.NameEN, "en"
	}
	return c.Name, "de"
}

// MayIntrospect reports whether the client callerID may see c's access
// token with the signed audience aud as active at introspection: the
// client the token was issued to, or a resource server that is both in
// the token's aud and still registered in c.IntrospectionAudiences (so
// that the operator's removal takes effect at once, and a resource server
// added later does not see tokens issued before it was). Everyone else
// must get the answer an unknown token gets: any confidential client can
// call the endpoint, and a foreign client's token would otherwise tell it
// the member's subject, level and scopes (and whether the member is still
// logged in there).
func (c Client) MayIntrospect(callerID string, aud []string) bool {
	if callerID == "" {
		return false
	}
	if callerID == c.ID {
		return true
	}
	return slices.Contains(c.IntrospectionAudiences, callerID) && slices.Contains(aud, callerID)
}

// Public reports whether the client cannot keep a secret.
func (c Client) Public() bool { return c.AuthMethod == AuthNone }

// AllowsGrant reports whether the client may use grant type g.
func (c Client) AllowsGrant(g string) bool { return slices.Contains(c.GrantTypes, g) }

// AllowedScopes returns the requested scopes the client may have, in request
// order, without duplicates. Unknown or forbidden scopes are dropped, as
// OpenID Connect Core §3.1.2.1 allows.
func (c Client) AllowedScopes(requested []string) []string {
	out := make([]string, 0, len(requested))
	for _, s := range requested {
		if slices.Contains(c.Scopes, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// MatchRedirectURI returns nil when uri is registered for the client.
// Matching is exact (string equality), with one exception from RFC 8252
// §7.3: for native clients, a loopback IP redirect URI matches a registered
// one that differs only in the port, because the app picks a free port at
// run time. "localhost" gets no such exception (RFC 8252 §8.3).
// Errors: fault.Invalid.
func (c Client) MatchRedirectURI(uri string) error {
	if uri != "" && slices.Contains(c.RedirectURIs, uri) {
		return nil
	}
	if c.Kind == Native {
		if u, err := url.Parse(uri); err == nil && isLoopbackIP(u) {
			for _, reg := range c.RedirectURIs {
				r, err := url.Parse(reg)
				if err == nil && isLoopbackIP(r) && r.Hostname() == u.Hostname() &&
					r.Path == u.Path && r.RawQuery == u.RawQuery && u.Fragment == "" && u.User == nil {
					return nil
				}
			}
		}
	}
	return fault.New(fault.Invalid, "client.MatchRedirectURI", "redirect_uri is not registered for this client")
}

func isLoopbackIP(u *url.URL) bool {
	if u.Scheme != "http" {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

// Validate checks a client definition for consistency.
// Errors: fault.Invalid naming the field.
func (c Client) Validate() error {
	bad := func(msg string) error { return fault.New(fault.Invalid, "client.Validate", "client "+c.ID+": "+msg) }
	if !IDOK(c.ID) {
		return bad("id must be 1-128 characters without spaces or colons")
	}
	switch c.Kind {
	case Native, Web, Portal, Service:
	default:
		return bad("kind must be native, web, portal or service")
	}
	switch c.AuthMethod {
	case AuthNone:
		if c.Kind != Native {
			return bad("only native clients may use auth method none")
		}
	case AuthSecretBasic, AuthSecretPost:
		if c.SecretHash == "" {
			return bad("a secret-based client needs a secret")
		}
	case AuthPrivateKeyJWT:
		if len(c.JWKS) == 0 {
			return bad("private_key_jwt needs jwks")
		}
	default:
		return bad("unknown auth method " + string(c.AuthMethod))
	}
	if c.Kind == Native && c.AuthMethod != AuthNone {
		return bad("native clients are public: auth method none")
	}
	if len(c.GrantTypes) == 0 {
		return bad("grant_types is empty")
	}
	for _, g := range c.GrantTypes {
		switch g {
		case GrantCode, GrantRefresh:
			if c.Kind == Service {
				return bad("service clients use client_credentials only")
			}
		case GrantClientCredentials:
			if c.Public() {
				return bad("public clients cannot use client_credentials")
			}
		default:
			return bad("unsupported grant type " + g)
		}
	}
	if c.AllowsGrant(GrantCode) && len(c.RedirectURIs) == 0 {
		return bad("authorization_code needs at least one redirect URI")
	}
	if c.RequirePAR && !c.AllowsGrant(GrantCode) {
		return bad("require_par needs the authorization_code grant")
	}
	if c.SectorIdentifier != "" {
		if c.Kind == Service {
			return bad("service clients have no member subject: no sector identifier")
		}
		if err := SectorIdentifierOK(c.SectorIdentifier); err != nil {
			return bad(fault.PublicOf(err))
		}
	}
	for i, a := range c.IntrospectionAudiences {
		switch {
		case !IDOK(a):
			return bad("introspection audience " + a + " is not a client id")
		case a == c.ID:
			return bad("introspection_audiences names the client itself, which always may introspect its tokens")
		case slices.Contains(c.IntrospectionAudiences[:i], a):
			return bad("introspection audience " + a + " is listed twice")
		}
	}
	if c.BackchannelLogoutURI != "" {
		if c.Kind == Service {
			return bad("service clients log no member in: no backchannel_logout_uri")
		}
		if err := BackchannelLogoutURIOK(c.BackchannelLogoutURI); err != nil {
			return bad(fault.PublicOf(err))
		}
	}
	for _, r := range append(slices.Clone(c.RedirectURIs), c.PostLogoutRedirectURIs...) {
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return bad("redirect URI " + r + " must be absolute without fragment")
		}
		if u.Scheme == "http" && !isLoopbackIP(u) && u.Hostname() != "localhost" {
			return bad("redirect URI " + r + " must use https (http only for loopback)")
		}
	}
	return nil
}

// MaxBackchannelLogoutURI is the longest back-channel logout URI
// accepted, in bytes.
const MaxBackchannelLogoutURI = 2048

// BackchannelLogoutURIOK checks a back-channel logout URI by the rule of
// redirect URIs: absolute, https, or http on a loopback host (a relying
// party on the same machine, in development), no fragment (OpenID
// Connect Back-Channel Logout 1.0 §2.2). It must not carry user
// information either: credentials in a registered URL would end up in
// logs and listings, and Pforte does not authenticate to relying parties.
// A query is allowed; Pforte keeps it as it is and posts the logout token
// in the body. Errors: fault.Invalid.
func BackchannelLogoutURIOK(uri string) error {
	bad := func(msg string) error {
		return fault.New(fault.Invalid, "client.BackchannelLogoutURIOK", "backchannel_logout_uri "+msg)
	}
	if len(uri) > MaxBackchannelLogoutURI {
		return bad(fmt.Sprintf("must have at most %d characters", MaxBackchannelLogoutURI))
	}
	u, err := url.Parse(uri)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return bad(quoted(uri) + " must be an absolute https URL")
	case u.Fragment != "" || strings.Contains(uri, "#"):
		return bad(quoted(uri) + " must not have a fragment")
	case u.User != nil:
		return bad(quoted(uri) + " must not contain user information")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && (isLoopbackIP(u) || u.Hostname() == "localhost"):
		return nil
	}
	return bad(quoted(uri) + " must use https (http only for loopback)")
}

// quoted quotes s for a message, cut to a readable length.
func quoted(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// IDOK reports whether id is a well-formed client ID: 1 to 128
// characters without white space or colons (a colon would make
// client_secret_basic's user:password ambiguous).
func IDOK(id string) bool {
	return id != "" && len(id) <= 128 && !strings.ContainsAny(id, " \t\r\n:")
}

// SectorIdentifierOK checks a sector identifier: a DNS host name of
// labels of 1 to 63 lower-case letters, digits and inner hyphens, at most
// 253 characters, not an IP address. Lower case only, so that one sector
// is never written two ways (the pairwise sub is computed over the exact
// string). A URL is refused rather than cut down to its host: the
// configuration should say what is used. Errors: fault.Invalid.
func SectorIdentifierOK(s string) error {
	bad := fault.New(fault.Invalid, "client.SectorIdentifierOK",
		"sector_identifier must be a lower-case host name such as portal.example (no scheme, port or path)")
	if s == "" || len(s) > 253 || net.ParseIP(s) != nil {
		return bad
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return bad
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return bad
			}
		}
	}
	return nil
}

// SecretHasher computes the keyed hash under which client secrets are stored.
// Client secrets are generated by Pforte with 256 bits of entropy, so a fast
// keyed hash (HMAC-SHA-256) is enough: brute force is hopeless, and a slow
// password hash would only cap token endpoint throughput. The key lives
// outside the database, so a stolen table alone does not allow checking
// candidate secrets either.
type SecretHasher struct{ key []byte }

// NewSecretHasher returns a hasher under key (at least 32 bytes).
func NewSecretHasher(key []byte) (SecretHasher, error) {
	if len(key) < 32 {
		return SecretHasher{}, fault.New(fault.Invalid, "client.NewSecretHasher", "secret hash key must be at least 32 bytes")
	}
	return SecretHasher{key: slices.Clone(key)}, nil
}

// Hash returns the stored form of secret.
func (h SecretHasher) Hash(secret string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(secret))
	return "hmac-sha256:" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// MinSecretLength is the shortest client secret Pforte stores the hash of.
// The hash is fast (see SecretHasher), which is sound only for secrets of
// high entropy: a short, guessable one could be found by trying candidates
// against a stolen hash and key. GenerateSecret's secrets have 43
// characters.
const MinSecretLength = 32

// HashNew returns the stored form of a secret that is about to be stored,
// generated by Pforte or given in the configuration. Errors: fault.Invalid
// when the secret is shorter than MinSecretLength. Presented secrets are
// checked with Verify, which refuses a short one by its mismatch.
func (h SecretHasher) HashNew(secret string) (string, error) {
	if len(secret) < MinSecretLength {
		return "", fault.New(fault.Invalid, "client.SecretHasher.HashNew",
			fmt.Sprintf("must have at least %d characters", MinSecretLength))
	}
	return h.Hash(secret), nil
}

// Verify compares secret with the stored hash in constant time.
func (h SecretHasher) Verify(secret, stored string) bool {
	return subtle.ConstantTimeCompare([]byte(h.Hash(secret)), []byte(stored)) == 1
}

// GenerateSecret returns a new client secret with 256 bits of entropy, 43
// characters: HashNew accepts it.
func GenerateSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// RolloverOpen reports whether the previous secret is still accepted at
// now (PreviousSecretHash set and now before PreviousSecretUntil).
func (c Client) RolloverOpen(now time.Time) bool {
	return c.PreviousSecretHash != "" && now.Before(c.PreviousSecretUntil)
}

// Secret rollover bounds: how long the previous secret may stay valid
// after a rotation. A day is enough for most deployments; a month is the
// most, so that a forgotten rollover does not keep a leaked secret alive.
const (
	DefaultRollover = 24 * time.Hour
	MaxRollover     = 30 * 24 * time.Hour
)

// RotateSecret returns c with newHash as its secret and its current
// secret accepted beside it until until (a rollover); a rollover still
// open at now is replaced (the oldest secret stops working). Errors:
// Invalid when c uses no secret, or until is not after now or more than
// MaxRollover ahead (a zero until ends the old secret at once: no
// rollover).
func (c Client) RotateSecret(newHash string, until, now time.Time) (Client, error) {
	const op = "client.RotateSecret"
	switch {
	case c.AuthMethod != AuthSecretBasic && c.AuthMethod != AuthSecretPost:
		return c, fault.New(fault.Invalid, op, "the client does not authenticate with a secret")
	case newHash == "":
		return c, fault.New(fault.Invalid, op, "the new secret's hash is missing")
	case until.IsZero():
		c.PreviousSecretHash, c.PreviousSecretUntil = "", time.Time{}
	case !until.After(now) || until.Sub(now) > MaxRollover:
		return c, fault.New(fault.Invalid, op, "the old secret may stay valid for at most "+MaxRollover.String()+" from now")
	default:
		c.PreviousSecretHash, c.PreviousSecretUntil = c.SecretHash, until.UTC()
	}
	c.SecretHash = newHash
	return c, nil
}

// FinishRollover returns c without its previous secret: the rollover ends
// before its time. It reports whether there was one to end.
func (c Client) FinishRollover() (Client, bool) {
	had := c.PreviousSecretHash != ""
	c.PreviousSecretHash, c.PreviousSecretUntil = "", time.Time{}
	return c, had
}
