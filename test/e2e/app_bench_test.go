package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/adapters/tracing"
	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte-app/dpop"
	"github.com/pforte-id/pforte/cmd/pforte-app/letterscan"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/registration"
)

// BenchmarkAppLogin measures the whole app login over HTTP with real
// crypto, as many phones do it at once: a new DPoP key (P-256), PAR with
// PKCE S256, the authorization request by reference, the login challenge,
// the device key's ECDSA assertion and the release PIN (verified by the
// server: WebAuthn signature, sign counter, PIN HMAC, atomic counters),
// the code exchange with a DPoP proof (the server verifies the proof,
// records its jti, signs an ES256 access token and ID token), and the
// client's verification of the ID token with go-oidc. Client and server
// share the machine's cores.
//
// Before the timer, members are registered through the app API exactly
// as the Service-App does it (letter request, the letter read from the
// outbox PDF, activation, password, device binding, PIN): one phone each.
// RunParallel runs 4 logins per core at a time; a phone is used by one
// login at a time (its signature counter must grow in order), and the
// logins spread over all phones.
//
// Reported: logins/s (wall clock), p50-ms and p99-ms of one login, and the
// mean milliseconds of each step. PostgreSQL runs when
// PFORTE_TEST_POSTGRES_DSN is set. PFORTE_BENCH_MEMBERS sets the number of
// members (default 200).
//
//	go test ./test/e2e -run '^$' -bench BenchmarkAppLogin -benchtime 400x
func BenchmarkAppLogin(b *testing.B) {
	members := benchMembers(b, 200)
	for _, eng := range []string{"sqlite", "postgres"} {
		// The rig lives as long as the parent benchmark: the testing
		// package calls the sub-benchmark's function once per b.N it
		// tries, and seeding the members again each time would cost more
		// than the measurement.
		var rig *loginRig
		b.Run(eng, func(sb *testing.B) {
			if rig == nil {
				rig = newLoginRig(b, sb, eng, members)
			}
			rig.measure(sb)
		})
	}
}

// benchMembers is the number of members a login benchmark enrolls:
// PFORTE_BENCH_MEMBERS, else def.
func benchMembers(b *testing.B, def int) int {
	v := os.Getenv("PFORTE_BENCH_MEMBERS")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("PFORTE_BENCH_MEMBERS=%q", v)
	}
	return n
}

// BenchmarkAppLoginTracing compares the app login of BenchmarkAppLogin
// (SQLite) on two servers side by side, one with tracing off (the
// default) and one with it on: every request and store call a span,
// every trace recorded (sample ratio 1), the spans sent over OTLP/HTTP to
// a collector in this process that reads and drops them, so serialising,
// compressing and sending them is paid on the same cores. The logins
// alternate between the two servers, four per core at a time, so that
// whatever else the machine does slows both alike. Reported: the mean and
// p50 of a login on each, and on/off, the ratio of the means.
//
//	PFORTE_BENCH_MEMBERS=50 go test ./test/e2e -run '^$' -bench AppLoginTracing -benchtime 2000x -count 3
func BenchmarkAppLoginTracing(b *testing.B) {
	members := benchMembers(b, 50)
	var received atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	// Cleanups run last first: the servers close (sending their last
	// spans), then the collector, then the check.
	b.Cleanup(func() {
		if received.Load() == 0 {
			b.Error("the collector received nothing from the server with tracing on")
		}
	})
	b.Cleanup(collector.Close)
	var off, on *loginRig
	b.Run("sqlite", func(sb *testing.B) {
		if off == nil {
			off = newLoginRig(b, sb, "sqlite", members)
			on = newLoginRig(b, sb, "sqlite", members, func(o *server.Options) {
				o.Tracing = tracing.Config{Enabled: true, Endpoint: collector.URL, SampleRatio: 1}
			})
		}
		var (
			mu     sync.Mutex
			lat    [2][]time.Duration
			failed atomic.Int64
			turn   atomic.Int64
		)
		sb.SetParallelism(4)
		sb.ReportAllocs()
		sb.ResetTimer()
		sb.RunParallel(func(pb *testing.PB) {
			var mine [2][]time.Duration
			steps := make([]time.Duration, 5) // one per step of the login; not reported here
			for pb.Next() {
				which := int(turn.Add(1) % 2)
				rig := off
				if which == 1 {
					rig = on
				}
				d, err := rig.login(steps)
				if err != nil {
					if failed.Add(1) <= 3 {
						sb.Errorf("login (tracing %s): %v", map[int]string{0: "off", 1: "on"}[which], err)
					}
					continue
				}
				mine[which] = append(mine[which], d)
			}
			mu.Lock()
			lat[0], lat[1] = append(lat[0], mine[0]...), append(lat[1], mine[1]...)
			mu.Unlock()
		})
		sb.StopTimer()
		if len(lat[0]) == 0 || len(lat[1]) == 0 {
			return
		}
		mean := func(ds []time.Duration) float64 {
			var sum time.Duration
			for _, d := range ds {
				sum += d
			}
			return float64(sum) / float64(len(ds)) / float64(time.Millisecond)
		}
		p50 := func(ds []time.Duration) float64 {
			slices.Sort(ds)
			return float64(ds[len(ds)/2]) / float64(time.Millisecond)
		}
		sb.ReportMetric(mean(lat[0]), "off-mean-ms")
		sb.ReportMetric(mean(lat[1]), "on-mean-ms")
		sb.ReportMetric(p50(lat[0]), "off-p50-ms")
		sb.ReportMetric(p50(lat[1]), "on-p50-ms")
		sb.ReportMetric(mean(lat[1])/mean(lat[0]), "on/off")
	})
}

// loginRig is a running server with enrolled phones.
type loginRig struct {
	issuer string
	client *appclient.Client
	phones chan *benchPhone
	n      int
}

type benchPhone struct {
	binding string
	key     *authenticator.Authenticator
}

// benchPIN is every bench member's PIN (none of them is born on a date
// that makes it trivial).
const benchPIN = "470815"

// newLoginRig starts a server on eng, changed by each of configure, and
// enrolls members phones. Resources belong to parent; failures are
// reported on sb.
func newLoginRig(parent, sb *testing.B, eng string, members int, configure ...func(*server.Options)) *loginRig {
	ctx := context.Background()
	var storage sqlstore.Config
	switch eng {
	case "sqlite":
		storage = sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(parent.TempDir(), "pforte.db")}
	case "postgres":
		storage = benchPostgres(parent, sb, sqlstoretest.PostgresDSN(sb))
	}
	ln, issuer := servertest.Listen(sb)
	o := servertest.Options(parent, issuer)
	o.Storage, o.Clients = storage, []client.Client{serviceApp}
	// The seeding registers every member from one address.
	lots := registration.Limit{Max: 1 << 30, Window: time.Hour}
	o.Registration.PerIP, o.Registration.ActivationsPerIP = lots, lots
	o.Log = slog.New(slog.DiscardHandler)
	for _, f := range configure {
		f(&o)
	}
	outbox := o.OutboxDir
	srv, err := server.New(ctx, o)
	if err != nil {
		ln.Close()
		sb.Fatalf("server.New: %v", err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln, 5*time.Second) }()
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	parent.Cleanup(func() {
		hc.CloseIdleConnections()
		stop()
		if err := <-done; err != nil {
			parent.Errorf("Serve: %v", err)
		}
		srv.Close()
	})

	start := time.Now()
	s := &seeder{srv: srv, issuer: issuer, outbox: outbox, hc: hc}
	phones, err := s.enroll(ctx, members)
	if err != nil {
		sb.Fatalf("seeding: %v", err)
	}
	sb.Logf("%s: %d members registered by letter with device and PIN in %v", eng, members, time.Since(start).Round(time.Millisecond))

	c, err := appclient.Discover(ctx, appclient.Config{
		Issuer: issuer, ClientID: serviceApp.ID, RedirectURI: "de.hkk.serviceapp:/oauth2redirect", HTTP: hc,
	})
	if err != nil {
		sb.Fatal(err)
	}
	rig := &loginRig{issuer: issuer, client: c, phones: make(chan *benchPhone, len(phones)), n: len(phones)}
	for _, p := range phones {
		rig.phones <- p
	}
	return rig
}

// benchPostgres makes a schema for the benchmark, dropped when parent ends.
func benchPostgres(parent, sb *testing.B, dsn string) sqlstore.Config {
	schema := "pforte_bench_" + randomHex(8)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		sb.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		sb.Fatalf("create schema: %v", err)
	}
	parent.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			parent.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return sqlstore.Config{Driver: sqlstore.DriverPostgres, DSN: sqlstoretest.WithSearchPath(sb, dsn, schema)}
}

// measure runs b.N logins in parallel and reports the figures.
func (rig *loginRig) measure(b *testing.B) {
	steps := []string{appclient.StepPAR, appclient.StepAuthorize, appclient.StepChallenge, appclient.StepAssertion, appclient.StepToken}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		stepSum   = make([]time.Duration, len(steps))
		failed    atomic.Int64
	)
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		mySteps := make([]time.Duration, len(steps))
		for pb.Next() {
			d, err := rig.login(mySteps)
			if err != nil {
				if failed.Add(1) <= 3 {
					b.Errorf("login: %v", err)
				}
				continue
			}
			mine = append(mine, d)
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		for i := range steps {
			stepSum[i] += mySteps[i]
		}
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		i := int(float64(len(latencies))*p+0.5) - 1
		i = max(0, min(i, len(latencies)-1))
		return float64(latencies[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "logins/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	for i, name := range []string{"par", "authorize", "challenge", "assert", "token"} {
		b.ReportMetric(float64(stepSum[i])/float64(len(latencies))/float64(time.Millisecond), name+"-ms")
	}
}

// login logs in with one of the rig's phones (waiting for a free one)
// and returns how long the login took; the time of each step is added to
// steps.
func (rig *loginRig) login(steps []time.Duration) (time.Duration, error) {
	ph := <-rig.phones
	defer func() { rig.phones <- ph }()
	key, err := dpop.NewKey()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	last, i := t0, 0
	_, err = rig.client.LoginTraced(context.Background(), appclient.LoginRequest{
		Scope: "openid profile kvnr", PIN: benchPIN, DPoP: key,
		Device: appclient.Device{BindingID: ph.binding, Key: ph.key, Origin: benchOrigin(rig.issuer)},
	}, func(string) {
		now := time.Now()
		steps[i] += now.Sub(last)
		last, i = now, i+1
	})
	return time.Since(t0), err
}

// benchOrigin is the WebAuthn origin of a loopback issuer.
func benchOrigin(issuer string) string {
	return strings.Replace(issuer, "127.0.0.1", "localhost", 1)
}

// seeder enrolls members through the app API.
type seeder struct {
	srv    *server.Server
	issuer string
	outbox string
	hc     *http.Client
}

// call sends a JSON request and decodes the answer when it has status
// want.
func (s *seeder) call(ctx context.Context, method, path, token string, in any, want int, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, s.issuer+"/app/v1"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// enroll registers n new members with one phone each, four at a time.
func (s *seeder) enroll(ctx context.Context, n int) ([]*benchPhone, error) {
	now := time.Now().UTC()
	ms := make([]member.Member, n)
	for i := range ms {
		ms[i] = member.Member{
			KVNR: randomKVNR(), GivenName: "Bench", FamilyName: fmt.Sprintf("Mitglied%04d", i), BirthDate: "1980-02-29",
			Address:     member.Address{Street: "Am Wall 1", PostalCode: "28195", Locality: "Bremen", Country: "DE"},
			InsuredFrom: time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: now,
		}
	}
	if err := s.srv.Store().UpsertMembers(ctx, ms); err != nil {
		return nil, err
	}
	for _, m := range ms {
		if err := s.call(ctx, http.MethodPost, "/registrations",
			"", map[string]string{"kvnr": m.KVNR.String(), "birth_date": m.BirthDate, "method": "letter"}, http.StatusAccepted, nil); err != nil {
			return nil, err
		}
	}
	reg := s.srv.Registration()
	for {
		n1, err1 := reg.ProcessRegistrations(ctx, 100)
		n2, err2 := reg.ProcessLetters(ctx, 100)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		if n1 == 0 && n2 == 0 {
			break
		}
	}
	phones := make([]*benchPhone, n)
	errs := make(chan error, n)
	work := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range work {
				p, err := s.enrollOne(ctx, ms[i])
				if err != nil {
					errs <- fmt.Errorf("member %d: %w", i, err)
					continue
				}
				phones[i] = p
			}
		})
	}
	for i := range ms {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return phones, nil
}

// enrollOne reads m's letter from the outbox and activates the app with
// it: password, device key, PIN.
func (s *seeder) enrollOne(ctx context.Context, m member.Member) (*benchPhone, error) {
	l, err := s.srv.Store().LatestLetter(ctx, m.KVNR)
	if err != nil {
		return nil, err
	}
	pdf, err := os.ReadFile(filepath.Join(s.outbox, l.OutboxName))
	if err != nil {
		return nil, err
	}
	c, err := letterscan.Read(pdf)
	if err != nil {
		return nil, err
	}
	_, code, _ := strings.Cut(c.ActivationURL, "#")
	var act struct {
		Token string `json:"enrollment_token"`
	}
	if err := s.call(ctx, http.MethodPost, "/activations", "", map[string]string{
		"kvnr": m.KVNR.String(), "initial_password": c.InitialPassword, "activation_code": code,
	}, http.StatusCreated, &act); err != nil {
		return nil, err
	}
	if err := s.call(ctx, http.MethodPut, "/enrollment/password", act.Token,
		map[string]string{"password": devicePassword}, http.StatusNoContent, nil); err != nil {
		return nil, err
	}
	var ch struct {
		ID      string          `json:"challenge_id"`
		Options json.RawMessage `json:"options"`
	}
	if err := s.call(ctx, http.MethodPost, "/enrollment/device/challenge", act.Token, nil, http.StatusCreated, &ch); err != nil {
		return nil, err
	}
	key, err := authenticator.New()
	if err != nil {
		return nil, err
	}
	resp, err := key.Register(ch.Options, benchOrigin(s.issuer), authenticator.Format(authenticator.FormatPacked))
	if err != nil {
		return nil, err
	}
	var d struct {
		ID string `json:"id"`
	}
	if err := s.call(ctx, http.MethodPost, "/enrollment/device", act.Token, map[string]any{
		"challenge_id": ch.ID, "response": json.RawMessage(resp), "name": "Bench-Telefon", "platform": "software",
	}, http.StatusCreated, &d); err != nil {
		return nil, err
	}
	if err := s.call(ctx, http.MethodPut, "/enrollment/pin", act.Token, map[string]string{"pin": benchPIN}, http.StatusOK, nil); err != nil {
		return nil, err
	}
	return &benchPhone{binding: d.ID, key: key}, nil
}
