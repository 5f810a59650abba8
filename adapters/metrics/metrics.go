package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/login"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/metrics"
	"github.com/pforte-id/pforte/ports/store"
)

const namespace = "pforte"

// Metrics holds one registry of Pforte's metrics. Each Server has its own
// (never the process-wide default registry), so that servers built in one
// test process do not share counters. All methods are safe for concurrent
// use.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.HistogramVec
	logins   *prometheus.CounterVec
	events   *prometheus.CounterVec
	pwFails  *prometheus.CounterVec
	pinFails prometheus.Counter
	pinLocks prometheus.Counter
	regs     *prometheus.CounterVec
	logouts  *prometheus.CounterVec
	// hkRuns, hkTasks, hkRows, hkTime and hkLast are the housekeeping
	// runs, task runs, rows, task durations and last successful task run.
	hkRuns  *prometheus.CounterVec
	hkTasks *prometheus.CounterVec
	hkRows  *prometheus.CounterVec
	hkTime  *prometheus.HistogramVec
	hkLast  *prometheus.GaugeVec
}

var (
	_ metrics.Recorder             = (*Metrics)(nil)
	_ metrics.LogoutRecorder       = (*Metrics)(nil)
	_ metrics.HousekeepingRecorder = (*Metrics)(nil)
)

// HousekeepingBuckets are the buckets of the housekeeping task duration,
// in seconds: from an index lookup that finds nothing to a delete of a
// day's expired tokens.
var HousekeepingBuckets = []float64{.001, .01, .1, .5, 1, 5, 30, 120}

// RequestBuckets are the latency buckets of the request histogram, in
// seconds: from a cached JWKS (well under a millisecond) to an Argon2id
// password check queued behind others (hundreds of milliseconds).
var RequestBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New returns the metrics with the Go runtime and process collectors
// registered.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time to answer an HTTP request on the public listener, by registered route pattern and status class.",
			Buckets: RequestBuckets,
		}, []string{"route", "status"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "logins_total",
			Help: "Logins by method (app, web, client_credentials, refresh) and outcome (success, failure, denied, error).",
		}, []string{"method", "outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "audit_events_total",
			Help: "Audit events written, by kind.",
		}, []string{"kind"}),
		pwFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "password_failures_total",
			Help: "Refused password checks by reason; the throttle.* reasons are delays (too many failures for an account or from a network).",
		}, []string{"reason"}),
		pinFails: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "pin_failures_total",
			Help: "Wrong release PINs that did not block the device binding.",
		}),
		pinLocks: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "pin_lockouts_total",
			Help: "Device bindings blocked after too many wrong release PINs.",
		}),
		regs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "registrations_total",
			Help: "Completed proofings (enrollments started) by method.",
		}, []string{"method"}),
		logouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "backchannel_logout_deliveries_total",
			Help: "Back-channel logout delivery attempts by outcome (delivered, failed and retried, given_up, dropped: the client is gone or has no URI).",
		}, []string{"outcome"}),
		hkRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "housekeeping", Name: "runs_total",
			Help: "Housekeeping runs of this replica by outcome (done, failed: a task failed, skipped: another replica holds the lease or no run is due, lost: the lease ran out during the run, error: the lease could not be taken).",
		}, []string{"outcome"}),
		hkTasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "housekeeping", Name: "task_runs_total",
			Help: "Housekeeping task runs by task and outcome (done, failed).",
		}, []string{"task", "outcome"}),
		hkRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "housekeeping", Name: "rows_total",
			Help: "Rows a housekeeping task removed or changed, by task.",
		}, []string{"task"}),
		hkTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "housekeeping", Name: "task_duration_seconds",
			Help: "Time a housekeeping task took, by task.", Buckets: HousekeepingBuckets,
		}, []string{"task"}),
		hkLast: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "housekeeping", Name: "last_success_timestamp_seconds",
			Help: "Unix time of the last successful run of a housekeeping task on this replica, by task.",
		}, []string{"task"}),
	}
	m.reg.MustRegister(m.requests, m.logins, m.events, m.pwFails, m.pinFails, m.pinLocks, m.regs, m.logouts,
		m.hkRuns, m.hkTasks, m.hkRows, m.hkTime, m.hkLast,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Series that an alert compares should exist before the first event,
	// so that rate() sees the first increase.
	for _, k := range []audit.Kind{audit.AppLogin, audit.WebLoginApproved, audit.WebLoginDenied, audit.LoginFailed} {
		m.observe(audit.Event{Kind: k}, false)
	}
	for _, r := range passwordReasons {
		m.pwFails.WithLabelValues(r)
	}
	for _, g := range []metrics.Grant{metrics.ClientCredentials, metrics.Refresh} {
		for _, o := range []metrics.Outcome{metrics.Success, metrics.Failure, metrics.Error} {
			m.logins.WithLabelValues(string(g), string(o))
		}
	}
	for _, p := range []proof.Method{proof.Letter, proof.EID} {
		m.regs.WithLabelValues(string(p))
	}
	for _, d := range logoutOutcomes {
		m.logouts.WithLabelValues(string(d))
	}
	for _, o := range runOutcomes {
		m.hkRuns.WithLabelValues(string(o))
	}
	return m
}

// runOutcomes bounds the outcome label of the housekeeping runs.
var runOutcomes = []metrics.RunOutcome{metrics.RunDone, metrics.RunFailed, metrics.RunSkipped, metrics.RunLost, metrics.RunError}

// HousekeepingRun counts one housekeeping run (metrics.HousekeepingRecorder);
// an outcome outside the port's set is counted as "other".
func (m *Metrics) HousekeepingRun(_ context.Context, o metrics.RunOutcome) {
	if !slices.Contains(runOutcomes, o) {
		o = "other"
	}
	m.hkRuns.WithLabelValues(string(o)).Inc()
}

// HousekeepingTask counts one housekeeping task run
// (metrics.HousekeepingRecorder). Task names come from core's closed list.
func (m *Metrics) HousekeepingTask(_ context.Context, task string, o metrics.TaskOutcome, rows int64, d time.Duration) {
	if o != metrics.TaskDone {
		o = metrics.TaskFailed
	}
	m.hkTasks.WithLabelValues(task, string(o)).Inc()
	m.hkRows.WithLabelValues(task).Add(float64(max(rows, 0)))
	m.hkTime.WithLabelValues(task).Observe(d.Seconds())
	if o == metrics.TaskDone {
		m.hkLast.WithLabelValues(task).SetToCurrentTime()
	}
}

// logoutOutcomes bounds the outcome label of the logout deliveries.
var logoutOutcomes = []metrics.Delivery{metrics.Delivered, metrics.Failed, metrics.GivenUp, metrics.Dropped}

// LogoutDelivery counts one back-channel logout delivery attempt
// (metrics.LogoutRecorder); an outcome outside the port's set is
// counted as "other".
func (m *Metrics) LogoutDelivery(_ context.Context, d metrics.Delivery) {
	if !slices.Contains(logoutOutcomes, d) {
		d = "other"
	}
	m.logouts.WithLabelValues(string(d)).Inc()
}

// Grant counts a client credentials or refresh grant as a login of that
// method (metrics.Recorder).
func (m *Metrics) Grant(_ context.Context, g metrics.Grant, o metrics.Outcome) {
	m.logins.WithLabelValues(string(g), string(o)).Inc()
}

// Registration counts a completed proofing (metrics.Recorder); a method
// other than letter and eid is counted as "other".
func (m *Metrics) Registration(_ context.Context, p proof.Method) {
	if p != proof.Letter && p != proof.EID {
		p = "other"
	}
	m.regs.WithLabelValues(string(p)).Inc()
}

// Handler serves the metrics in the Prometheus text (or OpenMetrics)
// exposition format. Mount it on the admin listener only. A family that
// cannot be read (the database is down) is left out of that scrape and the
// rest is served, so that runtime and request metrics stay visible exactly
// when they matter.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Registry is the registry the metrics live in (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRequest counts one answered request. route must be a registered
// pattern (never the raw path: that would make a series per URL).
func (m *Metrics) ObserveRequest(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, statusClass(status)).Observe(d.Seconds())
}

// statusClass is "2xx" … "5xx"; anything outside 100–599 is "other".
func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code/100) + "xx"
}

// passwordReasons are the reasons core/login records on a refused password
// check (login.Reason*); any other value is counted as "other", so that the
// label stays bounded whatever an event carries.
var passwordReasons = []string{
	login.ReasonWrongPassword, login.ReasonUnknown, login.ReasonNoPassword, login.ReasonInactive,
	login.ReasonDelayed, login.ReasonNetwork, "other",
}

// knownKinds bounds the kind label the same way.
var knownKinds = map[audit.Kind]bool{
	audit.EnrollmentStarted: true, audit.EnrollmentCompleted: true, audit.PasswordSet: true,
	audit.DeviceBound: true, audit.DeviceRenamed: true, audit.DeviceRevoked: true, audit.DeviceSuspect: true,
	audit.PINSet: true, audit.PINFailed: true, audit.PINLocked: true, audit.DeviceUnblocked: true,
	audit.AppLogin: true, audit.LoginFailed: true, audit.WebLoginApproved: true, audit.WebLoginDenied: true,
	audit.BackchannelLogoutGivenUp: true,
}

// observe counts e; count false only creates the series.
func (m *Metrics) observe(e audit.Event, count bool) {
	var c []prometheus.Counter
	add := func(x prometheus.Counter) { c = append(c, x) }
	kind := string(e.Kind)
	if !knownKinds[e.Kind] {
		kind = "other"
	}
	add(m.events.WithLabelValues(kind))
	switch e.Kind {
	case audit.AppLogin:
		add(m.logins.WithLabelValues("app", "success"))
	case audit.WebLoginApproved:
		add(m.logins.WithLabelValues("web", "success"))
	case audit.WebLoginDenied:
		add(m.logins.WithLabelValues("web", "denied"))
	case audit.LoginFailed:
		// A refused password check; at the first step of a web login it
		// is a failed web login (a PIN reset checks the password too).
		if !count || e.Detail["via"] == login.ViaWebLogin {
			add(m.logins.WithLabelValues("web", "failure"))
		}
		if count {
			reason := e.Detail["reason"]
			known := false
			for _, r := range passwordReasons {
				known = known || r == reason
			}
			if !known {
				reason = "other"
			}
			add(m.pwFails.WithLabelValues(reason))
		}
	case audit.PINFailed:
		add(m.pinFails)
	case audit.PINLocked:
		add(m.pinLocks)
	}
	if count {
		for _, x := range c {
			x.Inc()
		}
	}
}

// Audit returns next with every event it appends also counted: logins,
// password and PIN failures and lockouts are what core already records as
// audit events, so counting them here keeps core free of any metrics code.
// An event is counted whether or not next stored it: it happened.
func (m *Metrics) Audit(next store.Audit) store.Audit { return countingAudit{next: next, m: m} }

type countingAudit struct {
	next store.Audit
	m    *Metrics
}

var _ store.Audit = countingAudit{}

func (a countingAudit) AppendAudit(ctx context.Context, e audit.Event) error {
	err := a.next.AppendAudit(ctx, e)
	a.m.observe(e, true)
	return err
}

func (a countingAudit) AuditEvents(ctx context.Context, accountID string, limit int) ([]audit.Event, error) {
	return a.next.AuditEvents(ctx, accountID, limit)
}

// WatchPools exports the statistics (sql.DBStats) of each pool, by name,
// as the go_sql_* metrics with a db_name label.
func (m *Metrics) WatchPools(pools map[string]*sql.DB) {
	for name, db := range pools {
		m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
	}
}

// scrapeTimeout bounds a query made while a scrape waits.
const scrapeTimeout = 2 * time.Second

// WatchLetters exports pforte_letters{state}, read by count at each
// scrape; a failed count leaves the family out of that scrape (see
// Handler): an alert on absent(pforte_letters) notices.
func (m *Metrics) WatchLetters(count func(context.Context) (map[letter.State]int, error)) {
	desc := prometheus.NewDesc(namespace+"_letters", "Password letters by state.", []string{"state"}, nil)
	states := []letter.State{letter.Requested, letter.Rendered, letter.HandedOver, letter.Activated, letter.Voided}
	m.reg.MustRegister(collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
		ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
		defer cancel()
		n, err := count(ctx)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(desc, err)
			return
		}
		for _, st := range states {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n[st]), string(st))
		}
	}})
}

// WatchLogoutQueue exports pforte_backchannel_logout_queue: the logout
// tokens waiting for delivery (due or waiting for a retry), read by count
// at each scrape from the database, so every replica reports the whole
// queue. A failed count leaves the family out of that scrape.
func (m *Metrics) WatchLogoutQueue(count func(context.Context) (int, error)) {
	desc := prometheus.NewDesc(namespace+"_backchannel_logout_queue",
		"Back-channel logout tokens waiting for delivery, due or waiting for a retry.", nil, nil)
	m.reg.MustRegister(collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
		ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
		defer cancel()
		n, err := count(ctx)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(desc, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n))
	}})
}

// Key is a signing key as the key age gauge needs it.
type Key struct {
	// State is "active" or "next" (others are not exported).
	State string
	// Since is when the key entered State.
	Since time.Time
}

// WatchKeys exports pforte_signing_key_age_seconds{state}: how long the
// active key has signed and the next key has been published, read at each
// scrape from keys. With several keys in one state the oldest counts.
func (m *Metrics) WatchKeys(keys func(context.Context) ([]Key, error), now func() time.Time) {
	desc := prometheus.NewDesc(namespace+"_signing_key_age_seconds",
		"Seconds since the active signing key was activated, or the next key was published.", []string{"state"}, nil)
	m.reg.MustRegister(collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
		ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
		defer cancel()
		ks, err := keys(ctx)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(desc, err)
			return
		}
		oldest := map[string]time.Time{}
		for _, k := range ks {
			if k.State != "active" && k.State != "next" {
				continue
			}
			if t, ok := oldest[k.State]; !ok || k.Since.Before(t) {
				oldest[k.State] = k.Since
			}
		}
		for st, t := range oldest {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, now().Sub(t).Seconds(), st)
		}
	}})
}

// WatchRevocationList exports
// pforte_android_revocation_list_age_seconds: how long ago the copy of
// Google's attestation status list in force was written (its file's
// modification time), read at each scrape from loaded. Alert when it
// exceeds a few days: the refresh has stopped, and attestation keys that
// leaked since are not refused.
func (m *Metrics) WatchRevocationList(loaded func() time.Time, now func() time.Time) {
	desc := prometheus.NewDesc(namespace+"_android_revocation_list_age_seconds",
		"Seconds since the Android attestation status list in force was written.", nil, nil)
	m.reg.MustRegister(collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, now().Sub(loaded()).Seconds())
	}})
}

// collectorFunc is a collector of one metric family computed at scrape time.
type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
