package eid

import (
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/secret"
)

// Encoding is how a broker writes the card's pseudonym (the restricted
// identifier) in its claim.
type Encoding string

// Encodings.
const (
	// Opaque: the claim's text is the pseudonym (a broker's own hash or
	// identifier); its UTF-8 bytes are used.
	Opaque Encoding = "opaque"
	// Hex: hexadecimal, either case.
	Hex Encoding = "hex"
	// Base64: standard base64 with or without padding.
	Base64 Encoding = "base64"
	// Base64URL: URL-safe base64 with or without padding.
	Base64URL Encoding = "base64url"
)

// Claims names the claims a broker delivers the attributes in. A claim
// is looked for in the userinfo response first, then in the ID token.
type Claims struct {
	GivenName  string
	FamilyName string
	// BirthName: the family name at birth ("geb."); optional at the
	// broker.
	BirthName string
	// BirthDate: YYYY-MM-DD; a card may leave the day or month unknown.
	BirthDate string
	// PlaceOfBirth: a string, or an object with locality (and country),
	// as OpenID Connect for Identity Assurance writes it; optional.
	PlaceOfBirth string
	// Address: an OpenID Connect address object; optional.
	Address string
	// RestrictedID: the card's pseudonym for this service provider;
	// "sub" at most brokers.
	RestrictedID string
}

// Profile is what differs between eID brokers.
type Profile struct {
	Claims Claims
	// HighACR are the acr values this broker uses for an identification
	// at eIDAS level high (e.g. http://eidas.europa.eu/LoA/high,
	// http://bsi.bund.de/eID/LoA/hoch). An answer with another acr is
	// refused.
	HighACR []string
	// Pseudonym is how the RestrictedID claim is encoded.
	Pseudonym Encoding
}

// Defaults.
const (
	// DefaultTimeout bounds each request to the broker.
	DefaultTimeout = 10 * time.Second
	// DefaultHighACR is eIDAS' own name of level high.
	DefaultHighACR = "http://eidas.europa.eu/LoA/high"
)

// DefaultClaims are the standard OpenID Connect claims and the common
// names of the ones the standard lacks.
var DefaultClaims = Claims{
	GivenName: "given_name", FamilyName: "family_name", BirthName: "birth_name", BirthDate: "birthdate",
	PlaceOfBirth: "place_of_birth", Address: "address", RestrictedID: "sub",
}

// DefaultScopes ask for the profile (names, date of birth) and the address.
var DefaultScopes = []string{"openid", "profile", "address"}

// Config configures the eID method for one broker.
type Config struct {
	// Issuer is the broker's issuer identifier; its discovery document is
	// at Issuer + /.well-known/openid-configuration. https, or http on a
	// loopback address (the development broker).
	Issuer string
	// ClientID and ClientSecret are Pforte's registration at the broker
	// (client_secret_basic).
	ClientID     string
	ClientSecret secret.String
	// Scopes requested; must contain openid (default DefaultScopes).
	Scopes []string
	// ACRValues are sent as acr_values, in order of preference; each must
	// be one of Profile.HighACR (default: all of them). The broker must
	// answer with one of them.
	ACRValues []string
	Profile   Profile
	// Timeout bounds each request to the broker (default 10s).
	Timeout time.Duration
}

// WithDefaults returns c with zero values replaced by the defaults.
func (c Config) WithDefaults() Config {
	if len(c.Scopes) == 0 {
		c.Scopes = slices.Clone(DefaultScopes)
	}
	cl, d := &c.Profile.Claims, DefaultClaims
	for _, f := range []struct {
		v *string
		d string
	}{
		{&cl.GivenName, d.GivenName}, {&cl.FamilyName, d.FamilyName}, {&cl.BirthName, d.BirthName},
		{&cl.BirthDate, d.BirthDate}, {&cl.PlaceOfBirth, d.PlaceOfBirth}, {&cl.Address, d.Address},
		{&cl.RestrictedID, d.RestrictedID},
	} {
		if *f.v == "" {
			*f.v = f.d
		}
	}
	if len(c.Profile.HighACR) == 0 {
		c.Profile.HighACR = []string{DefaultHighACR}
	}
	if len(c.ACRValues) == 0 {
		c.ACRValues = slices.Clone(c.Profile.HighACR)
	}
	if c.Profile.Pseudonym == "" {
		c.Profile.Pseudonym = Opaque
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Validate checks c as WithDefaults completes it: the one place its
// bounds are written. Errors: fault.Invalid whose Op names the field
// ("eid.Config.Issuer"); the text never quotes the client secret.
func (c Config) Validate() error {
	field := func(name, msg string) error { return fault.New(fault.Invalid, "eid.Config."+name, msg) }
	c = c.WithDefaults()
	if err := validIssuer(c.Issuer); err != "" {
		return field("Issuer", err)
	}
	if strings.TrimSpace(c.ClientID) == "" || hasSpaceOrControl(c.ClientID) {
		return field("ClientID", "is required and must not contain spaces")
	}
	if c.ClientSecret == "" {
		return field("ClientSecret", "is required")
	}
	if !slices.Contains(c.Scopes, "openid") {
		return field("Scopes", "must contain openid")
	}
	for _, s := range c.Scopes {
		if s == "" || hasSpaceOrControl(s) {
			return field("Scopes", "must be single words")
		}
	}
	cl := c.Profile.Claims
	for _, f := range []struct{ name, v string }{
		{"GivenName", cl.GivenName}, {"FamilyName", cl.FamilyName}, {"BirthName", cl.BirthName},
		{"BirthDate", cl.BirthDate}, {"PlaceOfBirth", cl.PlaceOfBirth}, {"Address", cl.Address},
		{"RestrictedID", cl.RestrictedID},
	} {
		if hasSpaceOrControl(f.v) {
			return field("Profile.Claims."+f.name, "must be a claim name without spaces")
		}
	}
	for _, a := range c.Profile.HighACR {
		if a == "" || hasSpaceOrControl(a) {
			return field("Profile.HighACR", "must be acr values without spaces")
		}
	}
	for _, a := range c.ACRValues {
		if !slices.Contains(c.Profile.HighACR, a) {
			// Asking for a level the profile does not call high would
			// let the broker answer with it.
			return field("ACRValues", "must each be one of the profile's high acr values")
		}
	}
	switch c.Profile.Pseudonym {
	case Opaque, Hex, Base64, Base64URL:
	default:
		return field("Profile.Pseudonym", "must be opaque, hex, base64 or base64url")
	}
	if c.Timeout < time.Second || c.Timeout > 2*time.Minute {
		return field("Timeout", "must be between 1s and 2m")
	}
	return nil
}

// validIssuer returns what is wrong with an issuer identifier, or "".
func validIssuer(s string) string {
	u, err := url.Parse(s)
	switch {
	case s == "" || err != nil || !u.IsAbs() || u.Host == "":
		return "must be an absolute URL"
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "must not have a query, fragment or user"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		// The development broker on the developer's own machine.
		return ""
	}
	return "must be https (http only on a loopback address)"
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hasSpaceOrControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f })
}
