package dpop

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

// Codes of DPoP errors; none has parameters. Driving adapters answer them
// with the OAuth errors of RFC 9449 (§5, §7.1, §8).
const (
	// CodeInvalidProof: the proof is missing where required, malformed,
	// badly signed, replayed or does not fit the request. OAuth error
	// invalid_dpop_proof.
	CodeInvalidProof fault.Code = "dpop.invalid_proof"
	// CodeUseNonce: the proof lacks the server nonce or carries a stale
	// one. The answer carries a fresh nonce in the DPoP-Nonce header.
	// OAuth error use_dpop_nonce.
	CodeUseNonce fault.Code = "dpop.use_nonce"
)

// Defaults of Policy.
const (
	// DefaultMaxAge is how old a proof may be. Proofs are made right before
	// the request they accompany; five minutes absorb a slow mobile network
	// and a phone clock that runs a little late. The replay cache keeps
	// each jti that long (ReplayUntil), and a server nonce (RequireNonce)
	// narrows the window further where that is needed.
	DefaultMaxAge = 5 * time.Minute
	// DefaultMaxFuture is how far ahead of the server's clock a proof's iat
	// may be: clock skew only, so it is short. A proof dated further ahead
	// would be a proof made in advance, valid for longer than MaxAge.
	DefaultMaxFuture = 30 * time.Second
)

// MaxJTILength bounds the jti, which the replay cache stores (as a hash)
// and logs never show; RFC 9449 sets no bound, 256 characters leave room
// for any UUID or random value a client makes.
const MaxJTILength = 256

// Proof is what a verified DPoP proof JWT says: the adapter has checked its
// signature with the embedded public key and extracted these fields.
// Missing claims are empty (IAT: the zero time); Check decides.
type Proof struct {
	// JKT is the JWK SHA-256 thumbprint (RFC 7638, base64url without
	// padding) of the public key that signed the proof.
	JKT string
	// JTI is the proof's unique identifier, for replay detection.
	JTI string
	// HTM is the HTTP method the proof is for.
	HTM string
	// HTU is the HTTP URL the proof is for, as the client wrote it.
	HTU string
	// IAT is when the client made the proof.
	IAT time.Time
	// ATH is base64url(SHA-256(access token)) when the proof accompanies an
	// access token; empty otherwise.
	ATH string
	// Nonce is the server nonce the client echoes; empty when absent.
	Nonce string
}

// ReplayKey is the value to record once per proof: a hash of the key
// thumbprint and the jti, so that the jti is unique per key (one client
// cannot burn another's jti) and the stored value has a fixed length
// whatever the client sent.
func (p Proof) ReplayKey() string {
	sum := sha256.Sum256([]byte(p.JKT + "\x00" + p.JTI))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// BoundTo reports whether the proof was signed by the key with thumbprint
// jkt (a token's cnf.jkt, a refresh token family's key or the dpop_jkt of
// an authorization request). An empty jkt binds nothing and never matches.
func (p Proof) BoundTo(jkt string) bool {
	return jkt != "" && subtle.ConstantTimeCompare([]byte(p.JKT), []byte(jkt)) == 1
}

// AccessTokenHash is the ath of an access token: base64url(SHA-256) of its
// ASCII text (RFC 9449 §4.2).
func AccessTokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Policy is how strict proofs are checked. The zero Policy is usable: the
// default window, no nonce.
type Policy struct {
	// MaxAge is how far in the past a proof's iat may be (0:
	// DefaultMaxAge).
	MaxAge time.Duration
	// MaxFuture is how far in the future a proof's iat may be (0:
	// DefaultMaxFuture).
	MaxFuture time.Duration
	// RequireNonce makes a valid server nonce mandatory (RFC 9449 §8): a
	// proof then cannot be made ahead of time, even by an attacker who
	// controls the client's clock. Without it a nonce in a proof is
	// ignored.
	RequireNonce bool
	// Nonces issues and checks nonces; its Key is required when
	// RequireNonce is set.
	Nonces NonceSource
}

// Validate reports a policy that cannot work. Errors: fault.Invalid.
func (pol Policy) Validate() error {
	const op = "dpop.Policy.Validate"
	switch {
	case pol.MaxAge < 0 || pol.MaxAge > time.Hour:
		return fault.New(fault.Invalid, op, "DPoP max age must be between 0 (default) and 1h")
	case pol.MaxFuture < 0 || pol.MaxFuture > 5*time.Minute:
		return fault.New(fault.Invalid, op, "DPoP max future must be between 0 (default) and 5m")
	}
	if pol.RequireNonce || len(pol.Nonces.Key) > 0 {
		return pol.Nonces.Validate()
	}
	return nil
}

func (pol Policy) maxAge() time.Duration {
	if pol.MaxAge > 0 {
		return pol.MaxAge
	}
	return DefaultMaxAge
}

func (pol Policy) maxFuture() time.Duration {
	if pol.MaxFuture > 0 {
		return pol.MaxFuture
	}
	return DefaultMaxFuture
}

// ReplayUntil is how long the jti of an accepted proof must be remembered:
// until Check refuses the proof for its age anyway (plus a second for the
// whole seconds of iat).
func (pol Policy) ReplayUntil(p Proof) time.Time {
	return p.IAT.Add(pol.maxAge() + time.Second)
}

// Check reports whether proof p fits a request: method is the request's
// HTTP method, requestURL the URL the server was addressed at (built from
// its configured public URL, never from a Host header; query and fragment
// are ignored), now the server's time, and accessToken the access token
// presented with the proof ("" at the token endpoint).
//
// The rules, in order (RFC 9449 §4.3):
//   - jti present and at most MaxJTILength characters;
//   - htm equal to method, case-sensitively (RFC 9110 §9.1);
//   - htu equal to requestURL after normalisation: scheme and host lower
//     case, default port dropped, empty path as "/", percent-encodings of
//     unreserved characters decoded and the rest upper case, dot segments
//     removed, query and fragment dropped (RFC 3986 §6.2.2 and §6.2.3);
//   - iat present, at most MaxAge in the past and MaxFuture in the future;
//   - with an access token: ath present and equal to AccessTokenHash
//     (without one, ath is ignored: RFC 9449 does not forbid it, and htm
//     and htu already tie the proof to its endpoint);
//   - with RequireNonce: a nonce the NonceSource accepts.
//
// The key binding (Proof.BoundTo) and the replay check (store.Replay with
// ReplayKey) are the caller's, because they need the token and the store.
//
// Errors: fault.Unauthenticated with CodeInvalidProof, or CodeUseNonce
// when only the nonce is missing or stale, each with a public text;
// fault.Internal when requestURL is not an absolute http(s) URL (a bug of
// the caller).
func (pol Policy) Check(p Proof, method, requestURL string, now time.Time, accessToken string) error {
	const op = "dpop.Check"
	want, err := normalizeURL(requestURL)
	if err != nil {
		return fault.Wrap(fault.Internal, op, fmt.Errorf("request URL: %w", err))
	}
	switch {
	case p.JTI == "":
		return InvalidProof(op, "DPoP proof has no jti")
	case len(p.JTI) > MaxJTILength:
		return InvalidProof(op, "DPoP proof jti is longer than 256 characters")
	case p.HTM == "":
		return InvalidProof(op, "DPoP proof has no htm")
	case p.HTM != method:
		return InvalidProof(op, "DPoP proof htm does not match the request method")
	case p.HTU == "":
		return InvalidProof(op, "DPoP proof has no htu")
	}
	got, err := normalizeURL(p.HTU)
	if err != nil {
		return InvalidProof(op, "DPoP proof htu is not an absolute http(s) URL")
	}
	if got != want {
		return InvalidProof(op, "DPoP proof htu does not match the request URL")
	}
	switch {
	case p.IAT.IsZero():
		return InvalidProof(op, "DPoP proof has no iat")
	case now.Sub(p.IAT) > pol.maxAge():
		return InvalidProof(op, "DPoP proof is too old (iat)")
	case p.IAT.Sub(now) > pol.maxFuture():
		return InvalidProof(op, "DPoP proof iat is in the future")
	}
	if accessToken != "" {
		if p.ATH == "" {
			return InvalidProof(op, "DPoP proof has no ath, but an access token is presented")
		}
		if subtle.ConstantTimeCompare([]byte(p.ATH), []byte(AccessTokenHash(accessToken))) != 1 {
			return InvalidProof(op, "DPoP proof ath does not match the access token")
		}
	}
	if pol.RequireNonce {
		if p.Nonce == "" {
			return UseNonce(op, "DPoP proof has no nonce; use the one in the DPoP-Nonce header")
		}
		if !pol.Nonces.Valid(p.Nonce, now) {
			return UseNonce(op, "DPoP nonce is invalid or stale; use the one in the DPoP-Nonce header")
		}
	}
	return nil
}

// InvalidProof is the error of a proof that is malformed, badly signed or
// does not fit the request: fault.Unauthenticated with CodeInvalidProof,
// with public as the client's error_description. Adapters that verify
// proofs use it too, so that every DPoP failure maps the same way.
func InvalidProof(op, public string) error {
	return fault.Coded(fault.Unauthenticated, op, CodeInvalidProof).WithPublic(public)
}

// UseNonce is the error of a proof without a valid server nonce:
// fault.Unauthenticated with CodeUseNonce.
func UseNonce(op, public string) error {
	return fault.Coded(fault.Unauthenticated, op, CodeUseNonce).WithPublic(public)
}

// normalizeURL returns the form of an absolute http(s) URL that htu and the
// request URL are compared in: scheme-based and syntax-based normalisation
// (RFC 3986 §6.2.2, §6.2.3), without query and fragment. User information
// is refused: HTTP(S) URIs must not carry it (RFC 9110 §4.2.4).
func normalizeURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", errors.New("not a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	var defaultPort string
	switch scheme {
	case "https":
		defaultPort = "443"
	case "http":
		defaultPort = "80"
	default:
		return "", errors.New("not an http(s) URL")
	}
	if u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", errors.New("not an absolute URL with a host and no user information")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", errors.New("empty host")
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6 literal
	}
	if port := u.Port(); port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return "", errors.New("bad port")
		}
		if port = strconv.FormatUint(n, 10); port != defaultPort {
			host += ":" + port
		}
	}
	path, err := normalizePercent(u.EscapedPath())
	if err != nil {
		return "", err
	}
	path = removeDotSegments(path)
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}

// normalizePercent decodes percent-encoded unreserved characters and
// writes the other percent-encodings with upper-case hex digits
// (RFC 3986 §6.2.2.1, §6.2.2.2).
func normalizePercent(p string) (string, error) {
	if !strings.Contains(p, "%") {
		return p, nil
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			b.WriteByte(p[i])
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", errors.New("bad percent-encoding")
		}
		c := unhex(p[i+1])<<4 | unhex(p[i+2])
		if isUnreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(p[i+1 : i+3]))
		}
		i += 2
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDotSegments is remove_dot_segments of RFC 3986 §5.2.4. Unlike
// path.Clean it keeps empty segments and a trailing slash, which are
// significant in a URL.
func removeDotSegments(in string) string {
	var out strings.Builder
	dropLast := func() {
		s := out.String()
		i := strings.LastIndexByte(s, '/')
		if i < 0 {
			i = 0
		}
		out.Reset()
		out.WriteString(s[:i])
	}
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			dropLast()
		case in == "/..":
			in = "/"
			dropLast()
		case in == "." || in == "..":
			in = ""
		default:
			start := 0
			if in[0] == '/' {
				start = 1
			}
			end := len(in)
			if i := strings.IndexByte(in[start:], '/'); i >= 0 {
				end = start + i
			}
			out.WriteString(in[:end])
			in = in[end:]
		}
	}
	return out.String()
}
