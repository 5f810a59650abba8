package registration

import (
	"net/url"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/issuer"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
)

// Limit is a rate limit: at most Max events per fixed Window.
type Limit struct {
	Max    int
	Window time.Duration
}

// Config holds the registration parameters. Zero values take the defaults.
type Config struct {
	// Issuer is the issuer URL without trailing slash; letters carry
	// <Issuer>/app/activate#<code>.
	Issuer string
	// Sender is the insurer's name and return address line printed on
	// letters, e.g. "Beispiel-BKK · Postfach 10 20 30 · 20001 Hamburg".
	Sender string
	// ContactPhone and ContactAddress are printed on letters: where the
	// member reaches the insurer with questions (a telephone number, a
	// postal or visiting address in one line). Optional.
	ContactPhone   string
	ContactAddress string
	// AppStoreURL is printed on letters, as a link and a QR code, for
	// members who have not installed the Service-App yet: an https URL
	// that leads to the app in the member's store (one link for both
	// stores, which the insurer's web server sends on by the phone's
	// platform). At most MaxAppStoreURL bytes, so that it prints on one
	// line of the letter's information block. Optional.
	AppStoreURL string
	// Letter is the letter policy (validity, interval, attempts); the
	// zero value takes letter.DefaultPolicy.
	Letter letter.Policy
	// Eligibility decides who may register; nil takes
	// member.DefaultEligibility. It is a pointer because its zero value
	// is a setting of its own: both windows 0 admit only members insured
	// today, as member.Eligibility.Eligible reads them everywhere else.
	Eligibility *member.Eligibility
	// PerIP limits requests per client address (IPv6: per /64), PerKVNR
	// per member number, whether or not it belongs to a member.
	PerIP   Limit
	PerKVNR Limit
	// ActivationsPerIP limits activation attempts per client address.
	ActivationsPerIP Limit
	// RegistrationLease and LetterLease are how long a worker holds a
	// claimed request or letter before another worker may take it over.
	// They must be far longer than deciding a request or rendering a
	// letter takes (see ProcessLetters).
	RegistrationLease time.Duration
	LetterLease       time.Duration
	// AppReturnURIs are the Service-App's addresses that a proofing by
	// redirect (the eID) sends the browser back to, with a one-time code
	// the app redeems (BeginProofing, RedeemProofing): verified app links
	// (https: Android App Links, iOS universal links) or the app's
	// private-use scheme (RFC 8252 §7.1, reverse domain name). The app
	// names one when it begins; it must equal one of these.
	AppReturnURIs []string
	// LoopbackReturn also admits http://127.0.0.1:<port>/… and
	// http://[::1]:<port>/… as return addresses (RFC 8252 §7.3: the
	// reference client on a desktop). A loopback address reaches only
	// the device whose browser opens it, so it does not carry a relayed
	// confirmation to the device of whoever began.
	LoopbackReturn bool
}

// Defaults.
var (
	DefaultPerIP   = Limit{Max: 10, Window: time.Hour}
	DefaultPerKVNR = Limit{Max: 3, Window: 24 * time.Hour}
	// DefaultActivationsPerIP allows a household a few typos for each of
	// several letters, but not a sweep over many members' letters.
	DefaultActivationsPerIP = Limit{Max: 20, Window: time.Hour}
)

// MaxAppStoreURL bounds Config.AppStoreURL: printed without its scheme,
// it must fit one line of the letter's information block.
const MaxAppStoreURL = 60

// Default leases, and their bounds: a lease must outlast deciding a
// request or rendering a letter by far, and a crashed worker's claim must
// be taken over within the hour.
const (
	DefaultRegistrationLease = 2 * time.Minute
	DefaultLetterLease       = 5 * time.Minute
	MinLease                 = 10 * time.Second
	MaxLease                 = time.Hour
)

func (c Config) withDefaults() Config {
	if c.Letter == (letter.Policy{}) {
		c.Letter = letter.DefaultPolicy
	}
	// A copy: neither the caller's value nor the package default is
	// shared with the service.
	e := member.DefaultEligibility
	if c.Eligibility != nil {
		e = *c.Eligibility
	}
	c.Eligibility = &e
	if c.PerIP == (Limit{}) {
		c.PerIP = DefaultPerIP
	}
	if c.PerKVNR == (Limit{}) {
		c.PerKVNR = DefaultPerKVNR
	}
	if c.ActivationsPerIP == (Limit{}) {
		c.ActivationsPerIP = DefaultActivationsPerIP
	}
	if c.RegistrationLease == 0 {
		c.RegistrationLease = DefaultRegistrationLease
	}
	if c.LetterLease == 0 {
		c.LetterLease = DefaultLetterLease
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	return c
}

// Validate checks the configuration after defaults are applied.
// Errors: fault.Invalid whose Op names the field ("registration.Config.Sender",
// "letter.Policy.Validity").
func (c Config) Validate() error {
	c = c.withDefaults()
	field := func(name, msg string) error { return fault.New(fault.Invalid, "registration.Config."+name, msg) }
	// The activation code travels in <Issuer>/app/activate#<code>: the
	// issuer's rule (https, http only on loopback) is what protects it.
	if err := issuer.Check(c.Issuer); err != nil {
		return field("Issuer", fault.PublicOf(err))
	}
	switch {
	case strings.TrimSpace(c.Sender) == "":
		return field("Sender", "required: the insurer's return address line, printed above the recipient")
	case strings.ContainsAny(c.Sender, "\r\n") || len(c.Sender) > 200:
		return field("Sender", "must be one line of at most 200 bytes")
	case !phoneNumber(c.ContactPhone):
		return field("ContactPhone", "must be a telephone number: digits, spaces and + ( ) / -, at most 40 bytes")
	case strings.ContainsAny(c.ContactAddress, "\r\n") || len(c.ContactAddress) > 120:
		return field("ContactAddress", "must be one line of at most 120 bytes")
	case c.AppStoreURL != "" && !appStoreURL(c.AppStoreURL):
		return field("AppStoreURL", "must be an https URL with a host, without user, fragment or spaces, of at most 60 bytes")
	}
	for _, l := range []struct {
		name  string
		limit Limit
	}{{"PerIP", c.PerIP}, {"PerKVNR", c.PerKVNR}, {"ActivationsPerIP", c.ActivationsPerIP}} {
		if l.limit.Max < 1 || l.limit.Window < time.Second {
			return field(l.name, "needs a maximum of at least 1 and a window of at least 1s")
		}
	}
	for _, l := range []struct {
		name string
		d    time.Duration
	}{{"RegistrationLease", c.RegistrationLease}, {"LetterLease", c.LetterLease}} {
		if l.d < MinLease || l.d > MaxLease {
			return field(l.name, "must be between 10s and 1h, not "+l.d.String())
		}
	}
	for _, u := range c.AppReturnURIs {
		if !appReturnURI(u) {
			return field("AppReturnURIs", "must be absolute https URLs or URLs of a private-use scheme with a dot (de.example.app:/eid), without fragment: "+u)
		}
	}
	if err := c.Letter.Validate(); err != nil {
		return err
	}
	return c.Eligibility.Validate()
}

// appStoreURL reports whether s can be printed on letters as the link to
// the app: https, a host, no user information (which could make a link
// read as one host and lead to another), no fragment, printable ASCII.
func appStoreURL(s string) bool {
	if len(s) > MaxAppStoreURL {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil && u.Fragment == "" && !strings.Contains(s, "#")
}

// phoneNumber reports whether s is empty or reads as a telephone number
// printed for people: "0421 3656-0", "+49 (0)421 36 56 0".
func phoneNumber(s string) bool {
	if s == "" {
		return true
	}
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune(" +()/-", r):
		default:
			return false
		}
	}
	return digits >= 3 && len(s) <= 40
}
