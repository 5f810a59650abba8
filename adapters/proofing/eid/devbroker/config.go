package devbroker

import (
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

// Address is a postal address as an identity card's chip holds it.
type Address struct {
	Street     string `json:"street"`
	PostalCode string `json:"postal_code"`
	Locality   string `json:"locality"`
	Country    string `json:"country"`
}

// Identity is one made-up card holder the developer can pick.
type Identity struct {
	// Label names the identity on the page (e.g. "Anna Schmidt, Hamburg").
	Label        string  `json:"label"`
	GivenName    string  `json:"given_name"`
	FamilyName   string  `json:"family_name"`
	BirthName    string  `json:"birth_name,omitempty"`
	BirthDate    string  `json:"birth_date"`
	PlaceOfBirth string  `json:"place_of_birth,omitempty"`
	Address      Address `json:"address"`
	// RestrictedID is the card's pseudonym as the broker writes it (in
	// the encoding the eID adapter's profile expects). It is the subject
	// of the tokens when Claims.RestrictedID is "sub".
	RestrictedID string `json:"restricted_id"`
}

// Claims names the claims the broker writes the attributes in, as a
// real broker's profile would.
type Claims struct {
	GivenName, FamilyName, BirthName, BirthDate, PlaceOfBirth, Address, RestrictedID string
}

// DefaultClaims are the standard OpenID Connect claims and the eID
// adapter's default names of the others.
var DefaultClaims = Claims{
	GivenName: "given_name", FamilyName: "family_name", BirthName: "birth_name", BirthDate: "birthdate",
	PlaceOfBirth: "place_of_birth", Address: "address", RestrictedID: "sub",
}

// Client is a relying party registered at the broker (Pforte).
type Client struct {
	ID     string
	Secret string
	// RedirectURIs are the exact callback URLs the client may use.
	RedirectURIs []string
}

// Defaults.
const (
	// DefaultACR is the acr the broker signs: eIDAS high.
	DefaultACR = "http://eidas.europa.eu/LoA/high"
	// DefaultTokenLifetime is how long ID and access tokens live.
	DefaultTokenLifetime = 5 * time.Minute
)

// Production is the Environment in which the broker refuses to start.
const Production = "production"

// Config configures the development broker.
type Config struct {
	// Issuer is the broker's issuer identifier: an http URL on a loopback
	// address without a path, such as http://127.0.0.1:5556.
	Issuer string
	// Environment is the environment Pforte runs in ("development",
	// "test", "production"); the broker refuses to start in production.
	Environment string
	Clients     []Client
	Identities  []Identity
	Claims      Claims
	// ACR is the acr the broker signs, whatever was asked for (default
	// DefaultACR): set a lower one to see Pforte refuse it.
	ACR           string
	TokenLifetime time.Duration
}

// WithDefaults returns c with zero values replaced by the defaults.
func (c Config) WithDefaults() Config {
	cl, d := &c.Claims, DefaultClaims
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
	if c.ACR == "" {
		c.ACR = DefaultACR
	}
	if c.TokenLifetime == 0 {
		c.TokenLifetime = DefaultTokenLifetime
	}
	return c
}

// Validate checks c as WithDefaults completes it. Errors: fault.Invalid
// whose Op names the field ("devbroker.Config.Environment").
func (c Config) Validate() error {
	field := func(name, msg string) error { return fault.New(fault.Invalid, "devbroker.Config."+name, msg) }
	c = c.WithDefaults()
	if strings.EqualFold(strings.TrimSpace(c.Environment), Production) {
		return field("Environment", "the development eID broker never runs in production: it confirms any identity it is told to")
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || u.Scheme != "http" || !IsLoopback(u.Hostname()) || u.RawQuery != "" || u.Fragment != "" ||
		u.Path != "" {
		return field("Issuer", "must be an http URL on a loopback address, without a path")
	}
	if len(c.Clients) == 0 {
		return field("Clients", "at least one client is required")
	}
	for _, cl := range c.Clients {
		if cl.ID == "" || cl.Secret == "" || len(cl.RedirectURIs) == 0 {
			return field("Clients", "each client needs an id, a secret and redirect URIs")
		}
		for _, r := range cl.RedirectURIs {
			if u, err := url.Parse(r); err != nil || !u.IsAbs() || u.Fragment != "" {
				return field("Clients", "redirect URIs must be absolute URLs without fragment")
			}
		}
	}
	if len(c.Identities) == 0 {
		return field("Identities", "at least one identity is required")
	}
	seen := map[string]bool{}
	for _, id := range c.Identities {
		if id.Label == "" || id.GivenName == "" || id.FamilyName == "" || id.BirthDate == "" || id.RestrictedID == "" {
			return field("Identities", "each identity needs a label, names, a date of birth and a restricted id")
		}
		if seen[id.RestrictedID] {
			return field("Identities", "restricted ids must be unique")
		}
		seen[id.RestrictedID] = true
	}
	if c.ACR == "" || strings.ContainsAny(c.ACR, " \t\n") {
		return field("ACR", "must be one acr value")
	}
	if c.TokenLifetime < 10*time.Second || c.TokenLifetime > time.Hour {
		return field("TokenLifetime", "must be between 10s and 1h")
	}
	return nil
}

// IsLoopback reports whether host names the loopback interface.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
