package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
)

// pgProxy stands between Pforte and PostgreSQL so that a test can take the
// database away and give it back, as a stopped server or a network
// partition would, without stopping the PostgreSQL the other tests share:
// cut closes every connection and refuses new ones until restore.
type pgProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func startPGProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *pgProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		go func() { _, _ = io.Copy(s, c); s.Close(); c.Close() }()
		go func() { _, _ = io.Copy(c, s); s.Close(); c.Close() }()
	}
}

// cut drops every connection and refuses new ones.
func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *pgProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// outageDuration is how long TestPostgresOutage keeps the database away:
// PFORTE_OUTAGE_SECONDS (the full run: 30), 5 s by default.
func outageDuration(t *testing.T) time.Duration {
	if s := os.Getenv("PFORTE_OUTAGE_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("PFORTE_OUTAGE_SECONDS=%q: want a number of seconds", s)
		}
		return time.Duration(n) * time.Second
	}
	return 5 * time.Second
}

// TestPostgresOutage takes PostgreSQL away under load and gives it back.
// While it is away every answer is 503 with Retry-After — never
// invalid_grant or invalid_client, which would make a client throw away a
// valid grant or credential — /readyz says not ready and /healthz alive;
// afterwards the same server recovers without a restart and nothing is
// lost: the refresh token that was refused during the outage still
// works, once.
func TestPostgresOutage(t *testing.T) {
	dsn := sqlstoretest.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skipf("the outage test needs a URL DSN with a host, not %q", dsn)
	}
	proxy := startPGProxy(t, u.Host)
	st := sqlstoretest.Postgres(t, 5)
	su, err := url.Parse(st.DSN)
	if err != nil {
		t.Fatal(err)
	}
	su.Host = proxy.ln.Addr().String()
	st.DSN = su.String()

	w := newWorld(t)
	in := w.start(t, st)
	rp := in.rp(t, w.web, nil)
	tok := rp.login(t, "openid", "profile")

	// The load: four clients in a loop, each asking the introspection
	// endpoint about the member's access token (which reads the database:
	// revoked?) and taking a client_credentials grant (which needs no
	// database once the client is cached), each answer classified.
	var (
		stop      atomic.Bool
		calls     atomic.Int64
		mu        sync.Mutex
		statuses  = map[int]int{}
		bad       []string
		wg        sync.WaitGroup
		hc        = &http.Client{Timeout: 10 * time.Second}
		grantForm = url.Values{"grant_type": {"client_credentials"}, "client_id": {w.svc.ID}, "client_secret": {w.svc.secret}}
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				var resp *http.Response
				var err error
				if n := calls.Add(1); n%2 == 0 {
					resp, err = hc.PostForm(in.base+"/token", grantForm)
				} else {
					req, _ := http.NewRequest(http.MethodPost, in.base+"/introspect", strings.NewReader(url.Values{"token": {tok.access}}.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					basic(w.web.ID, w.web.secret)(req)
					resp, err = hc.Do(req)
				}
				if err != nil {
					mu.Lock()
					bad = append(bad, "transport: "+err.Error())
					mu.Unlock()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				switch {
				case resp.StatusCode == http.StatusOK:
				case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
				default:
					bad = append(bad, strconv.Itoa(resp.StatusCode)+" "+resp.Header.Get("Retry-After")+" "+string(body))
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}

	time.Sleep(300 * time.Millisecond)
	proxy.cut()
	down := time.Now()
	d := outageDuration(t)

	// During the outage, besides the load.
	wantUnavailable := func(what string, r result) {
		t.Helper()
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("%s during the outage: %d, Retry-After %q: %s", what, r.status, r.header.Get("Retry-After"), r.body)
		}
		for _, never := range []string{"invalid_grant", "invalid_client", "invalid_token"} {
			if strings.Contains(string(r.body), never) {
				t.Errorf("%s during the outage answered %s: %s", what, never, r.body)
			}
		}
	}
	time.Sleep(time.Second)
	wantUnavailable("refresh", postForm(t, in.base+"/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh},
	}, basic(w.web.ID, w.web.secret)))
	wantUnavailable("userinfo", userinfo(t, in, tok.access))
	wantUnavailable("introspection", postForm(t, in.base+"/introspect", url.Values{"token": {tok.access}}, basic(w.web.ID, w.web.secret)))
	if r := get(t, in.base+"/readyz", nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %d", r.status)
	}
	if r := get(t, in.base+"/healthz", nil); r.status != http.StatusOK {
		t.Errorf("/healthz during the outage: %d (the process is alive)", r.status)
	}
	time.Sleep(time.Until(down.Add(d)))
	proxy.restore()
	up := time.Now()

	// Back without a restart: ready, and the load succeeds again.
	deadline := up.Add(30 * time.Second)
	for get(t, in.base+"/readyz", nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/readyz not ready 30 s after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	recovered := time.Since(up)
	mu.Lock()
	okBefore := statuses[http.StatusOK]
	mu.Unlock()
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if statuses[http.StatusOK] <= okBefore {
		t.Errorf("no grant succeeded after the database came back: %v", statuses)
	}
	if statuses[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no 503 during a %v outage: %v", d, statuses)
	}
	for i, b := range bad {
		if i == 5 {
			t.Errorf("… and %d more", len(bad)-5)
			break
		}
		t.Errorf("an answer under load that is neither 200 nor 503 with Retry-After: %s", b)
	}
	t.Logf("outage %v: answers %v; ready again %v after the database came back", d, statuses, recovered.Round(time.Millisecond))

	// Nothing lost: the refresh token refused during the outage rotates
	// now, once; its successor works.
	next, err := rp.refresh(tok.refresh)
	if err != nil {
		t.Fatalf("the refresh token after the outage: %v", err)
	}
	if _, err := rp.refresh(next.RefreshToken); err != nil {
		t.Fatalf("its successor: %v", err)
	}
	var claims map[string]any
	if r := userinfo(t, in, next.AccessToken); r.status != http.StatusOK || json.Unmarshal(r.body, &claims) != nil || claims["sub"] == nil {
		t.Fatalf("userinfo after the outage: %d %s", r.status, r.body)
	}
}
