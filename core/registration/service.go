package registration

import (
	"context"
	"log/slog"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/letterprint"
	"github.com/pforte-id/pforte/ports/metrics"
	"github.com/pforte-id/pforte/ports/notify"
	"github.com/pforte-id/pforte/ports/proofing"
	"github.com/pforte-id/pforte/ports/store"
)

// Deps are the ports and tools the service needs. All are required except
// Proofings (only with a Redirector), Accounts (only for a step-up), Estimator, Metrics, Now and Logger.
type Deps struct {
	// Members is the member directory (lookup by KVNR).
	Members       store.Members
	Registrations store.Registrations
	Letters       store.Letters
	Enrollments   store.Enrollments
	// Proofings keeps proofings by redirect between begin and answer;
	// required when a method is a proofing.Redirector.
	Proofings store.Proofings
	// Accounts reads the account of a logged-in member for a step-up
	// (BeginStepUp); nil: no step-up.
	Accounts store.Accounts
	// Devices confirms a device binding again after an eID step-up begun
	// for it (RedeemStepUp); nil: a step-up confirms no device.
	Devices    Reconfirmer
	RateLimits store.RateLimits
	Renderer   letterprint.Renderer
	Outbox     letterprint.Outbox
	// Methods are the proofing methods members may activate with, each
	// under its Name; each must implement a capability of ports/proofing:
	// a SecretChecker (the letter: core/letterproof) is used by Activate,
	// a Redirector by BeginProofing and FinishProofing.
	Methods []proofing.Method
	// LetterHasher hashes letter secrets and pseudonymises member numbers
	// in logs and counter keys.
	LetterHasher letter.Hasher
	// Passwords hashes members' own passwords (Argon2id).
	Passwords *password.Hasher
	// Estimator judges password strength beyond the fixed policy; nil:
	// none.
	Estimator password.Estimator
	// Metrics counts completed proofings by method; nil: nothing is
	// counted.
	Metrics metrics.Recorder
	// Notifier tells a member by e-mail (the address on file) when a
	// request was decided without a letter because of Letter.MinInterval,
	// and when the next letter is possible; nil: nobody is told.
	Notifier notify.Notifier
	// Mail words a notification (its code and params); cmd passes the
	// message catalog's. Required with a Notifier: core holds no words.
	Mail func(ctx context.Context, code fault.Code, params ...any) (subject, body string)
	// Audit records the life of letters (audit.LetterOrdered and the
	// others); nil: not recorded.
	Audit store.Audit
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Logger receives decisions and failures, never a secret, birth date
	// or member number in clear; nil: discard.
	Logger *slog.Logger
}

// Service is the registration use case. It is safe for concurrent use and
// holds no state of its own: any number of replicas may run it, workers
// included, on one store.
type Service struct {
	cfg       Config
	members   store.Members
	regs      store.Registrations
	letters   store.Letters
	enrolls   store.Enrollments
	proofings store.Proofings
	accounts  store.Accounts
	devices   Reconfirmer
	limits    store.RateLimits
	renderer  letterprint.Renderer
	outbox    letterprint.Outbox
	methods   map[proof.Method]proofing.Method
	lh        letter.Hasher
	audit     store.Audit
	passwords *password.Hasher
	estimator password.Estimator
	metrics   metrics.Recorder
	notifier  notify.Notifier
	mail      func(ctx context.Context, code fault.Code, params ...any) (subject, body string)
	now       func() time.Time
	log       *slog.Logger
}

// New returns a Service. Errors: fault.Invalid for a bad configuration, a
// missing dependency, a method without a capability or two methods with
// one name.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	missing := func(what string) error {
		return fault.New(fault.Invalid, "registration.New", what+" is missing")
	}
	switch {
	case d.Members == nil:
		return nil, missing("member directory")
	case d.Registrations == nil:
		return nil, missing("registration queue")
	case d.Letters == nil:
		return nil, missing("letter store")
	case d.Enrollments == nil:
		return nil, missing("enrollment store")
	case d.RateLimits == nil:
		return nil, missing("rate limit store")
	case d.Renderer == nil:
		return nil, missing("letter renderer")
	case d.Outbox == nil:
		return nil, missing("letter outbox")
	case d.LetterHasher.IsZero():
		return nil, missing("letter hash key")
	case d.Passwords == nil:
		return nil, missing("password hasher")
	case d.Notifier != nil && d.Mail == nil:
		return nil, missing("mail wording (with a notifier)")
	}
	methods := map[proof.Method]proofing.Method{}
	for _, m := range d.Methods {
		if m == nil {
			return nil, missing("proofing method")
		}
		_, secrets := m.(proofing.SecretChecker)
		_, redirects := m.(proofing.Redirector)
		switch {
		case !secrets && !redirects:
			return nil, fault.New(fault.Invalid, "registration.New", "proofing method "+string(m.Name())+" has no capability")
		case redirects && d.Proofings == nil:
			return nil, missing("proofing store (for " + string(m.Name()) + ")")
		}
		if _, dup := methods[m.Name()]; dup {
			return nil, fault.New(fault.Invalid, "registration.New", "two proofing methods named "+string(m.Name()))
		}
		methods[m.Name()] = m
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = metrics.Nop{}
	}
	return &Service{
		cfg: cfg.withDefaults(), members: d.Members, regs: d.Registrations, letters: d.Letters,
		enrolls: d.Enrollments, proofings: d.Proofings, accounts: d.Accounts, devices: d.Devices, limits: d.RateLimits, renderer: d.Renderer, outbox: d.Outbox,
		methods: methods, lh: d.LetterHasher, audit: d.Audit, passwords: d.Passwords, estimator: d.Estimator,
		metrics: d.Metrics, notifier: d.Notifier, mail: d.Mail, now: d.Now, log: d.Logger,
	}, nil
}

// Config returns the effective configuration (defaults applied), a copy:
// changing it does not change the service.
func (s *Service) Config() Config {
	c := s.cfg
	e := *c.Eligibility
	c.Eligibility = &e
	return c
}

func (s *Service) clock() time.Time { return s.now().UTC() }
