package backchannel

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/issuer"
	"github.com/pforte-id/pforte/core/logoutjob"
	"github.com/pforte-id/pforte/ports/logoutdelivery"
	"github.com/pforte-id/pforte/ports/metrics"
	"github.com/pforte-id/pforte/ports/store"
	"github.com/pforte-id/pforte/ports/token"
)

// EventLogout is the member of a logout token's events claim that makes
// it one (OpenID Connect Back-Channel Logout 1.0 §2.4).
const EventLogout = "http://schemas.openid.net/event/backchannel-logout"

// TokenTTL is the lifetime of a logout token: it is signed just before it
// is sent, so it needs to outlive only the delivery and small clock skew,
// and a captured token is useless soon after.
const TokenTTL = 2 * time.Minute

// Config holds the delivery parameters. Zero values take the defaults.
type Config struct {
	// Issuer is the iss of the logout tokens, without trailing slash.
	Issuer string
	// Timeout bounds one delivery: connecting, sending, and the relying
	// party's answer.
	Timeout time.Duration
	// GiveUpAfter is how long after the session ended a delivery is tried
	// before it is given up and audited.
	GiveUpAfter time.Duration
	// RetryFirst is the wait after the first failed attempt; it doubles
	// with each further failure up to RetryMax (logoutjob.Backoff).
	RetryFirst time.Duration
	RetryMax   time.Duration
	// Batch is how many jobs a worker claims and delivers at once.
	Batch int
}

// Defaults and bounds (Validate).
const (
	DefaultTimeout     = 5 * time.Second
	DefaultGiveUpAfter = 24 * time.Hour
	DefaultRetryFirst  = 10 * time.Second
	DefaultRetryMax    = time.Hour
	DefaultBatch       = 10

	MinTimeout     = 100 * time.Millisecond
	MaxTimeout     = time.Minute
	MinGiveUpAfter = time.Minute
	MaxGiveUpAfter = 30 * 24 * time.Hour
	MinRetry       = 100 * time.Millisecond
	MaxRetry       = 24 * time.Hour
	MaxBatch       = 100
)

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.GiveUpAfter == 0 {
		c.GiveUpAfter = DefaultGiveUpAfter
	}
	if c.RetryFirst == 0 {
		c.RetryFirst = DefaultRetryFirst
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	return c
}

// Validate checks the configuration after defaults are applied.
// Errors: fault.Invalid whose Op names the field ("backchannel.Config.Timeout").
func (c Config) Validate() error {
	c = c.withDefaults()
	field := func(name, msg string) error { return fault.New(fault.Invalid, "backchannel.Config."+name, msg) }
	if err := issuer.Check(c.Issuer); err != nil {
		return field("Issuer", fault.PublicOf(err))
	}
	switch {
	case c.Timeout < MinTimeout || c.Timeout > MaxTimeout:
		return field("Timeout", "must be between "+MinTimeout.String()+" and "+MaxTimeout.String())
	case c.GiveUpAfter < MinGiveUpAfter || c.GiveUpAfter > MaxGiveUpAfter:
		return field("GiveUpAfter", "must be between "+MinGiveUpAfter.String()+" and "+MaxGiveUpAfter.String())
	case c.RetryFirst < MinRetry || c.RetryFirst > MaxRetry:
		return field("RetryFirst", "must be between "+MinRetry.String()+" and "+MaxRetry.String())
	case c.RetryMax < c.RetryFirst || c.RetryMax > MaxRetry:
		return field("RetryMax", "must be at least the first retry wait and at most "+MaxRetry.String())
	case c.Batch < 1 || c.Batch > MaxBatch:
		return field("Batch", "must be between 1 and "+strconv.Itoa(MaxBatch))
	}
	return nil
}

// Lease is how long a worker holds the jobs it claimed: twice the
// delivery timeout (the jobs of a batch are delivered at once, each within
// Timeout) and a margin for signing and recording the outcome. Until it
// runs out no other worker takes the job, so a relying party gets a token
// once unless its worker died.
func (c Config) Lease() time.Duration { return 2*c.withDefaults().Timeout + 30*time.Second }

// Target is a relying party to be told that a session ended.
type Target struct {
	ClientID string
	// Subject is the member's sub exactly as the client received it in
	// its ID tokens (pairwise where the client has a sector identifier:
	// authz.Service.ClientSubject).
	Subject string
	// AccountID is the member's account, for the audit trail only; it may
	// be empty.
	AccountID string
}

// Subjects computes the sub a client knows a member by (authz.Service).
type Subjects interface {
	ClientSubject(c client.Client, accountID string) string
}

// Deps are the ports the service uses.
type Deps struct {
	Jobs      store.LogoutJobs
	Clients   store.Clients
	Signer    token.Signer
	Deliverer logoutdelivery.Deliverer
	Audit     store.Audit
	// Subjects is needed by EnqueueSession only (nil: EnqueueSession
	// refuses).
	Subjects Subjects
	// Metrics counts the delivery attempts (nil: nothing is counted).
	Metrics metrics.LogoutRecorder
	Now     func() time.Time
	Logger  *slog.Logger
}

// Service queues and delivers logout tokens.
type Service struct {
	cfg     Config
	d       Deps
	backoff logoutjob.Backoff
	log     *slog.Logger
	// wake tells this replica's worker that jobs were queued, so that it
	// delivers at once rather than at its next tick.
	wake chan struct{}
}

// New returns the service. Errors: Invalid for a bad cfg or a missing
// dependency.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if d.Jobs == nil || d.Clients == nil || d.Signer == nil || d.Deliverer == nil || d.Audit == nil {
		return nil, fault.New(fault.Invalid, "backchannel.New", "a dependency is missing")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Metrics == nil {
		d.Metrics = metrics.Nop{}
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		cfg: cfg, d: d, log: log, wake: make(chan struct{}, 1),
		backoff: logoutjob.Backoff{First: cfg.RetryFirst, Max: cfg.RetryMax},
	}, nil
}

// Config returns the configuration in use, defaults applied.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) clock() time.Time { return s.d.Now().UTC() }

// Enqueue queues a logout token for session sessionID to every target
// whose client has a backchannel_logout_uri, and returns once they are
// stored; workers deliver them. Targets whose client is unknown or has no
// URI are skipped, and a target queued already for this session is not
// queued twice. Call it after the session has ended (its tokens revoked),
// so that a relying party that checks back finds it ended.
//
// Errors: Invalid for an empty sessionID, or a target without client or
// subject (nothing is queued); Unavailable.
func (s *Service) Enqueue(ctx context.Context, sessionID string, targets []Target) error {
	const op = "backchannel.Enqueue"
	if sessionID == "" {
		return fault.New(fault.Invalid, op, "no session id")
	}
	for _, t := range targets {
		if t.ClientID == "" || t.Subject == "" {
			return fault.New(fault.Invalid, op, "a target needs a client and a subject")
		}
	}
	now := s.clock()
	var jobs []logoutjob.Job
	for _, t := range targets {
		c, err := s.d.Clients.ClientByID(ctx, t.ClientID)
		switch {
		case errors.Is(err, fault.NotFound):
			continue
		case err != nil:
			return err
		case c.BackchannelLogoutURI == "":
			continue
		}
		jobs = append(jobs, logoutjob.Job{
			ID: grant.NewID(), SessionID: sessionID, ClientID: t.ClientID, Subject: t.Subject, AccountID: t.AccountID,
			CreatedAt: now, DueAt: now,
		})
	}
	if len(jobs) == 0 {
		return nil
	}
	n, err := s.d.Jobs.EnqueueLogoutJobs(ctx, jobs)
	if err != nil {
		return err
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "back-channel logout queued", slog.Int("jobs", n))
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// EnqueueSession is Enqueue for the session sessionID of account
// accountID that served the clients clientIDs: the subject of each is
// computed as its ID tokens carried it (Deps.Subjects). Errors: as
// Enqueue; Invalid without Deps.Subjects or an account.
func (s *Service) EnqueueSession(ctx context.Context, sessionID, accountID string, clientIDs []string) error {
	const op = "backchannel.EnqueueSession"
	if s.d.Subjects == nil || accountID == "" {
		return fault.New(fault.Invalid, op, "no subjects or no account")
	}
	targets := make([]Target, 0, len(clientIDs))
	for _, id := range clientIDs {
		c, err := s.d.Clients.ClientByID(ctx, id)
		switch {
		case errors.Is(err, fault.NotFound):
			continue
		case err != nil:
			return err
		case c.BackchannelLogoutURI == "":
			continue
		}
		targets = append(targets, Target{ClientID: id, Subject: s.d.Subjects.ClientSubject(c, accountID), AccountID: accountID})
	}
	return s.Enqueue(ctx, sessionID, targets)
}

// LogoutClaims are the claims of a logout token (§2.4). There is no
// nonce: its absence is what tells a logout token from an ID token, and
// the spec forbids it.
type LogoutClaims struct {
	Issuer    string                    `json:"iss"`
	Subject   string                    `json:"sub"`
	Audience  string                    `json:"aud"`
	IssuedAt  int64                     `json:"iat"`
	Expiry    int64                     `json:"exp"`
	JTI       string                    `json:"jti"`
	SessionID string                    `json:"sid"`
	Events    map[string]map[string]any `json:"events"`
}

// DeliverDue claims up to Config.Batch due jobs, delivers them at once
// and records each outcome, and returns how many it claimed. A job whose
// client is gone or has no URI any more is removed without a delivery. A
// failed delivery is retried later, or given up (audited and removed)
// when Config.GiveUpAfter has passed since the session ended. A job
// whose outcome cannot be recorded (the store fails) stays leased and is
// taken up again when its lease runs out.
// Errors: Unavailable (the first that occurred; the other jobs are still
// processed).
func (s *Service) DeliverDue(ctx context.Context) (int, error) {
	claim := grant.NewID()
	now := s.clock()
	jobs, err := s.d.Jobs.ClaimLogoutJobs(ctx, s.cfg.Batch, claim, now, now.Add(s.cfg.Lease()))
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { errs[i] = s.process(ctx, j, claim) })
	}
	wg.Wait()
	return len(jobs), errors.Join(errs...)
}

// process delivers job j held under claim and records the outcome.
func (s *Service) process(ctx context.Context, j logoutjob.Job, claim string) error {
	attrs := []slog.Attr{slog.String("job", j.ID), slog.String("client", j.ClientID), slog.Int("attempt", j.Attempts)}
	c, err := s.d.Clients.ClientByID(ctx, j.ClientID)
	switch {
	case errors.Is(err, fault.NotFound) || err == nil && c.BackchannelLogoutURI == "":
		if err := s.finish(ctx, j, claim); err != nil {
			return err
		}
		s.d.Metrics.LogoutDelivery(ctx, metrics.Dropped)
		s.log.LogAttrs(ctx, slog.LevelInfo, "back-channel logout dropped: the client is gone or has no back-channel logout URI", attrs...)
		return nil
	case err != nil:
		return err
	}
	now := s.clock()
	raw, err := s.d.Signer.Sign(ctx, token.TypeLogout, LogoutClaims{
		Issuer: s.cfg.Issuer, Subject: j.Subject, Audience: j.ClientID, IssuedAt: now.Unix(),
		Expiry: now.Add(TokenTTL).Unix(), JTI: grant.NewID(), SessionID: j.SessionID,
		Events: map[string]map[string]any{EventLogout: {}},
	})
	if err != nil {
		// No active key: the job stays leased and is tried again after
		// its lease, as after a crash.
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	err = s.d.Deliverer.Deliver(dctx, c.BackchannelLogoutURI, raw)
	cancel()
	if err == nil {
		if err := s.finish(ctx, j, claim); err != nil {
			return err
		}
		s.d.Metrics.LogoutDelivery(ctx, metrics.Delivered)
		s.log.LogAttrs(ctx, slog.LevelInfo, "back-channel logout delivered", attrs...)
		return nil
	}
	if ctx.Err() != nil {
		// Shutting down: not the relying party's failure. The lease runs
		// out and another worker (or this one, restarted) tries again.
		return fault.Wrap(fault.Unavailable, "backchannel.DeliverDue", ctx.Err())
	}
	reason := fault.PublicOf(err)
	if reason == "" {
		reason = string(fault.KindOf(err))
	}
	attrs = append(attrs, slog.String("reason", reason))
	now = s.clock()
	giveUpAt := j.CreatedAt.Add(s.cfg.GiveUpAfter)
	if !now.Before(giveUpAt) {
		return s.giveUp(ctx, j, claim, reason, attrs)
	}
	next := s.backoff.Next(j.Attempts, now, giveUpAt)
	if err := s.d.Jobs.RetryLogoutJob(ctx, j.ID, claim, next, reason); err != nil {
		return s.lost(ctx, err, attrs)
	}
	s.d.Metrics.LogoutDelivery(ctx, metrics.Failed)
	s.log.LogAttrs(ctx, slog.LevelInfo, "back-channel logout failed, will retry",
		append(attrs, slog.Time("next_attempt", next))...)
	return nil
}

// giveUp audits that job j will not be delivered and removes it. The
// event is written first: should the removal fail, the job is given up
// (and audited) again later rather than vanishing unrecorded.
func (s *Service) giveUp(ctx context.Context, j logoutjob.Job, claim, reason string, attrs []slog.Attr) error {
	err := s.d.Audit.AppendAudit(context.WithoutCancel(ctx), audit.Event{
		ID: grant.NewID(), Time: s.clock(), Kind: audit.BackchannelLogoutGivenUp, Actor: audit.System,
		AccountID: j.AccountID, ClientID: j.ClientID,
		Detail: map[string]string{"session": j.SessionID, "attempts": strconv.Itoa(j.Attempts), "reason": reason},
	})
	if err != nil {
		return err
	}
	if err := s.finish(ctx, j, claim); err != nil {
		return err
	}
	s.d.Metrics.LogoutDelivery(ctx, metrics.GivenUp)
	s.log.LogAttrs(ctx, slog.LevelWarn, "back-channel logout given up", attrs...)
	return nil
}

// finish removes job j; a job another worker took over is left to it.
func (s *Service) finish(ctx context.Context, j logoutjob.Job, claim string) error {
	if err := s.d.Jobs.FinishLogoutJob(ctx, j.ID, claim); err != nil {
		return s.lost(ctx, err, []slog.Attr{slog.String("job", j.ID), slog.String("client", j.ClientID)})
	}
	return nil
}

// lost reports a failed change of a job: a lost claim (the lease ran out
// and another worker holds the job, or it is gone) is logged and not an
// error of this worker; anything else is returned.
func (s *Service) lost(ctx context.Context, err error, attrs []slog.Attr) error {
	if errors.Is(err, fault.Conflict) || errors.Is(err, fault.NotFound) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "back-channel logout job taken over by another worker after its lease ran out", attrs...)
		return nil
	}
	return err
}

// Run works the queue until ctx ends: every interval, and at once when
// this replica queued jobs, it delivers due jobs until none is left. Every
// replica runs it; the leases make each job go to one of them.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		for {
			n, err := s.DeliverDue(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("back-channel logout worker failed", "err", err)
				}
				break
			}
			if n < s.cfg.Batch {
				break
			}
		}
	}
}
