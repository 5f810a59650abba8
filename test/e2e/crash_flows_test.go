package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte-app/dpop"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/throttle"
)

// The crash test of the member flows: the real pforte binary, on SQLite
// and on PostgreSQL, is killed with SIGKILL at random, seeded moments
// while members register (letter, activation, password, device binding,
// PIN), log in with the app, rotate refresh tokens, log in on the web
// with an approval in the app, enter wrong PINs and log out (back-channel
// logout). Each member does what a real app or browser would do after an
// answer that never came: try the step again, or start it over. After
// every kill the database is inspected with the server dead; after the
// last run a server that is not killed lets every member finish, then
// every answered code and every rotated refresh token is replayed and the
// logout queue must drain.
//
// PFORTE_CRASH_RUNS sets the runs per engine (default flowRunsDefault);
// PFORTE_CRASH_SEED repeats a schedule; every failure names the seed.

const (
	flowRunsDefault = 6
	flowMembers     = 6
	// flowPool is the member directory: members that went through every
	// flow are replaced by new ones, so that kills keep hitting the
	// registration too.
	flowPool = 400
	// flowMaxDelay bounds the time a server lives after it is ready
	// before it is killed.
	flowMaxDelay = 1500 * time.Millisecond
	// flowFinish bounds the last, unkilled run in which every member
	// finishes (leases of killed workers, 10 s here, end within it).
	flowFinish = 90 * time.Second
	flowPIN    = "583920"
	// flowWrongPINs is how many wrong PINs in a row a member enters at
	// most: below the first delay (after the third), so the counter is
	// tested, not the lock.
	flowWrongPINs = 2
	// flowPasswordFree is login.throttle_free here: a correct password
	// whose answer a kill cut off may stay counted (the check is counted
	// before it runs), so the room is wider than the default 3; wrong
	// passwords are only sent while the count stays below it.
	flowPasswordFree = 10
	flowWebSecret    = "crash-forms-secret-0123456789abcdef"
	flowWebRedir     = "https://forms.example/callback"
	flowAppRedir     = "http://127.0.0.1/callback"
)

func flowRuns(t *testing.T) int {
	s := os.Getenv("PFORTE_CRASH_RUNS")
	if s == "" {
		return flowRunsDefault
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("PFORTE_CRASH_RUNS=%q: want a positive number", s)
	}
	return n
}

func crashSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PFORTE_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("PFORTE_CRASH_SEED: %v", err)
		}
	}
	return seed
}

// TestFlowsSurviveCrashes: see above.
func TestFlowsSurviveCrashes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds pforte and kills it many times; skipped with -short")
	}
	bin := buildPforte(t)
	seed := crashSeed(t)
	runs := flowRuns(t)
	for _, eng := range []engine{sqliteEngine, postgresEngine} {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			f := newFlowRig(t, bin, eng, seed)
			start := time.Now()
			for run := 1; run <= runs; run++ {
				f.crashRun(run)
			}
			f.finish(runs + 1)
			t.Logf("%s: %d runs in %s (seed %d), %d members: %s", eng.name, runs, time.Since(start).Round(time.Second), seed,
				len(f.retired)+len(f.actors), f.summary())
		})
	}
}

// flowRig is the binary on one engine and the members driving it.
type flowRig struct {
	*crashRig
	storage sqlstore.Config
	store   *sqlstore.Store
	actors  []*actor // the members acting now
	retired []*actor // members through every flow, replaced by new ones
	pool    []member.Member
	logouts *logoutSink
	hc      *http.Client
	// counts for the summary
	stats map[string]int
	ctx   context.Context
}

// actor is one member with the state an app and a browser keep.
type actor struct {
	m     member.Member
	stage int // flowRequest … flowEnrolled
	// waited counts the steps the member waited for a letter.
	waited  int
	letter  string // id of the letter being used
	token   string // enrollment session
	auth    *authenticator.Authenticator
	binding string
	dpop    *dpop.Key
	sub     string
	refresh string
	// spent are refresh tokens whose rotation was answered, codes whose
	// exchange was answered: each must be refused from now on.
	spent []string
	codes []spentCode
	// wrongAnswered counts wrong PINs answered as wrong since the last
	// answered correct PIN; wrongSent those sent (answered or not).
	// A correct PIN whose answer was lost may have reset the counter:
	// the lower bound falls to 0 then.
	wrongAnswered, wrongSent int
	// The same for the password on the login page; pwCut counts correct
	// passwords without an answer since, which a crash may leave counted
	// (the check is counted before it runs and taken back on success).
	pwWrongAnswered, pwWrongSent, pwCut int
	// sids are the sessions whose logout was answered: each must reach
	// the relying party. pending is a session to end (its ID token).
	sids    []string
	pending string
	pendSID string
	// pinCut is set when a request to set the PIN went unanswered: the
	// PIN may be stored, and the enrollment with it complete.
	pinCut bool
}

type spentCode struct{ code, verifier string }

const (
	flowRequest = iota
	flowWaitLetter
	flowActivate
	flowPassword
	flowBind
	flowSetPIN
	flowEnrolled
)

func newFlowRig(t *testing.T, bin string, eng engine, seed uint64) *flowRig {
	t.Helper()
	dir := t.TempDir()
	c := &crashRig{
		t: t, seed: seed, rng: mrand.New(mrand.NewPCG(seed, 0x51ed27)), bin: bin, dir: dir,
		dataDir: filepath.Join(dir, "data"), master: make([]byte, 32),
		accepted: map[kvnr.KVNR]bool{}, cutOff: map[kvnr.KVNR]bool{},
	}
	c.outbox = filepath.Join(c.dataDir, "outbox")
	c.dbPath = filepath.Join(c.dataDir, "pforte.db")
	for i := range c.master {
		c.master[i] = byte(c.rng.IntN(256))
	}
	f := &flowRig{crashRig: c, stats: map[string]int{}, ctx: t.Context(),
		hc: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	f.logouts = newLogoutSink(t)
	if eng.name == postgresEngine.name {
		f.storage = eng.storage(t)
	} else {
		f.storage = sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: c.dbPath}
	}
	addr := servertest.FreeAddr(t)
	c.base = "http://" + addr
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	noMembers := filepath.Join(dir, "members.yaml")
	clients := filepath.Join(dir, "clients.yaml")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(noMembers, "members: []\n")
	write(clients, `clients:
  - id: pforte-app
    name: Service-App
    kind: native
    auth_method: none
    redirect_uris: [`+flowAppRedir+`]
    grant_types: [authorization_code, refresh_token]
    scopes: [openid, profile, offline_access]
    require_dpop: true
  - id: online-forms
    name: Online-Formulare
    kind: web
    auth_method: client_secret_basic
    secret: `+flowWebSecret+`
    redirect_uris: [`+flowWebRedir+`]
    grant_types: [authorization_code, refresh_token]
    scopes: [openid, profile, offline_access]
    min_acr: substantial
    backchannel_logout_uri: `+f.logouts.uri()+`
`)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PFORTE_") {
			c.env = append(c.env, kv)
		}
	}
	c.env = append(c.env,
		"PFORTE_ADDR="+addr, "PFORTE_ISSUER="+c.base, "PFORTE_DATA_DIR="+c.dataDir,
		"PFORTE_MASTER_KEY="+base64.StdEncoding.EncodeToString(c.master),
		"PFORTE_MEMBERS_FILE="+noMembers, "PFORTE_CLIENTS_FILE="+clients,
		"PFORTE_WORKER_INTERVAL=100ms", "PFORTE_LETTERS_SENDER="+crashSender,
		"PFORTE_REQUEST_LEASE=10s", "PFORTE_LETTER_LEASE=10s", "PFORTE_LETTERS_MIN_INTERVAL=0s",
		"PFORTE_REQUESTS_PER_IP_PER_HOUR=100000", "PFORTE_REQUESTS_PER_KVNR_PER_DAY=1000",
		"PFORTE_ACTIVATIONS_PER_IP_PER_HOUR=100000", "PFORTE_LOGIN_THROTTLE_NETWORK_BUDGET=100000",
		fmt.Sprintf("PFORTE_LOGIN_THROTTLE_FREE=%d", flowPasswordFree),
		"PFORTE_LOGOUT_BACKCHANNEL_INTERVAL=100ms", "PFORTE_LOGOUT_BACKCHANNEL_RETRY_FIRST=100ms",
		"PFORTE_LOGOUT_BACKCHANNEL_RETRY_MAX=1s",
		"PFORTE_LOG_LEVEL=info",
	)
	if f.storage.Driver == sqlstore.DriverPostgres {
		c.env = append(c.env, "PFORTE_STORAGE_TYPE=postgres", "PFORTE_STORAGE_DSN="+f.storage.DSN)
	}
	st, err := sqlstore.Open(t.Context(), f.storage)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.store = st
	now := time.Now().UTC()
	var ms []member.Member
	for i := range flowPool {
		m := applicant("Tjark", fmt.Sprintf("Neustart%03d", i),
			fmt.Sprintf("19%02d-%02d-%02d", 40+c.rng.IntN(50), 1+c.rng.IntN(12), 1+c.rng.IntN(28)), now)
		ms = append(ms, m)
	}
	for _, m := range ms[:flowMembers] {
		f.actors = append(f.actors, &actor{m: m})
	}
	f.pool = ms[flowMembers:]
	if err := st.UpsertMembers(t.Context(), ms); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.proc != nil {
			_ = c.proc.Process.Kill()
			<-c.exited
			c.logf.Close()
			c.proc = nil
		}
		if t.Failed() {
			t.Logf("seed %d (repeat with PFORTE_CRASH_SEED=%d); the log of run %d ends:\n%s",
				c.seed, c.seed, c.run, c.logTail(c.run, 40))
		}
	})
	return f
}

// crashRun starts the server, lets the members act until the seeded
// moment of the kill, kills it and checks what the database holds.
func (f *flowRig) crashRun(run int) {
	f.start(run)
	f.halfBound(run)
	delay := time.Duration(f.rng.Int64N(int64(flowMaxDelay)))
	stepSeed := f.rng.Uint64()
	stop := make(chan struct{})
	done := make(chan int, 1)
	go func() { done <- f.drive(run, mrand.New(mrand.NewPCG(stepSeed, uint64(run))), stop) }()
	time.Sleep(delay)
	// No step starts after the kill; the ones under way are cut.
	close(stop)
	f.kill()
	steps := <-done
	f.inspectFlows(run)
	f.t.Logf("run %2d: killed %4d ms after ready after %3d steps; stages %v", run, delay.Milliseconds(), steps, f.stages())
}

// drive lets random members take their next step until stop.
func (f *flowRig) drive(run int, rng *mrand.Rand, stop <-chan struct{}) int {
	steps := 0
	for {
		select {
		case <-stop:
			return steps
		default:
		}
		a := f.actors[rng.IntN(len(f.actors))]
		f.step(run, a, rng)
		steps++
		if f.t.Failed() {
			return steps
		}
	}
}

func (f *flowRig) stages() []int {
	out := make([]int, 0, len(f.actors))
	for _, a := range f.actors {
		out = append(out, a.stage)
	}
	return out
}

// ---- HTTP that survives the server's death ----

// errCut is a request that got no answer: the server died meanwhile.
var errCut = errors.New("no answer")

func (f *flowRig) send(hc *http.Client, method, u string, body io.Reader, header map[string]string) (result, error) {
	req, err := http.NewRequestWithContext(f.ctx, method, u, body)
	if err != nil {
		return result{}, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return result{}, fmt.Errorf("%w: %s %s: %v", errCut, method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, fmt.Errorf("%w: %s %s: %v", errCut, method, req.URL.Path, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func (f *flowRig) json(method, path string, in any, header map[string]string) (result, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return result{}, err
		}
		body = strings.NewReader(string(b))
	}
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range header {
		h[k] = v
	}
	return f.send(f.hc, method, f.base+path, body, h)
}

// cut reports whether err means that no answer came. An app error that
// is not the server's refusal (transport, connection refused, reset) is
// a cut too.
func cut(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, errCut) {
		return true
	}
	var p *appclient.Problem
	var oe *appclient.OAuthError
	var ae *appclient.AuthorizationError
	return !errors.As(err, &p) && !errors.As(err, &oe) && !errors.As(err, &ae)
}

// status is the HTTP status of an app client's refusal (0: none).
func status(err error) int {
	var p *appclient.Problem
	var oe *appclient.OAuthError
	switch {
	case errors.As(err, &p):
		return p.Status
	case errors.As(err, &oe):
		return oe.Status
	}
	return 0
}

// ---- the steps ----

// step takes a's next step. Every answer the server gives is checked;
// a missing answer leaves a where a real app would be.
func (f *flowRig) step(run int, a *actor, rng *mrand.Rand) {
	switch a.stage {
	case flowRequest:
		body := map[string]string{"kvnr": a.m.KVNR.String(), "birth_date": a.m.BirthDate, "method": "letter"}
		r, err := f.json(http.MethodPost, "/app/v1/registrations", body, nil)
		switch {
		case err != nil:
			f.count("letter request cut off")
		case r.status != http.StatusAccepted:
			f.errorf("run %d: letter request of %s: %d %s", run, a.m.KVNR, r.status, r.body)
			return
		}
		a.stage, a.waited = flowWaitLetter, 0
	case flowWaitLetter:
		l, err := f.store.LatestLetter(f.ctx, a.m.KVNR)
		switch {
		case err == nil && l.State == letter.HandedOver && l.ID != a.letter:
			a.letter, a.stage = l.ID, flowActivate
		case err == nil && l.ID == a.letter && l.State == letter.Activated:
			// The last letter is used and no new one came: the request
			// was cut off before it was stored.
			fallthrough
		default:
			// No letter, or only the used one, for a long while: the
			// request was cut off before it was stored; ask again. (A
			// letter on its way, requested or rendered, is waited for.)
			if a.waited++; a.waited > 200 && (err != nil || l.ID == a.letter) {
				a.stage = flowRequest
			}
			time.Sleep(5 * time.Millisecond)
		}
	case flowActivate:
		f.activateStep(run, a)
	case flowPassword:
		r, err := f.json(http.MethodPut, "/app/v1/enrollment/password", map[string]string{"password": devicePassword}, bearerHeader(a.token))
		switch {
		case err != nil:
			f.count("password cut off")
		case r.status == http.StatusNoContent:
			a.stage = flowBind
		default:
			f.errorf("run %d: set password of %s: %d %s", run, a.m.KVNR, r.status, r.body)
		}
	case flowBind:
		f.bindStep(run, a)
	case flowSetPIN:
		r, err := f.json(http.MethodPut, "/app/v1/enrollment/pin", map[string]string{"pin": flowPIN}, bearerHeader(a.token))
		switch {
		case err != nil:
			f.count("PIN cut off")
			a.pinCut = true
		case r.status == http.StatusOK:
			a.stage = flowEnrolled
			f.count("enrollments completed")
		case r.status == http.StatusGone && a.pinCut:
			// The cut-off request was stored: the enrollment completed
			// with it, as the app learns from the session being over.
			a.stage = flowEnrolled
			f.count("enrollments completed by a PIN whose answer was lost")
		default:
			f.errorf("run %d: set PIN of %s: %d %s", run, a.m.KVNR, r.status, r.body)
		}
	default:
		if a.through() && len(f.pool) > 0 && rng.IntN(3) == 0 {
			f.retire(a)
			return
		}
		switch n := rng.IntN(10); {
		case a.pending != "" && n < 3:
			f.logoutStep(run, a)
		case a.refresh != "" && n < 5:
			f.refreshStep(run, a)
		case n < 6 && a.wrongSent < flowWrongPINs:
			f.appLoginStep(run, a, "000000")
		case n < 7 && a.pwWrongSent < flowWrongPINs && a.pwWrongSent+a.pwCut < flowPasswordFree/2:
			f.webLoginStep(run, a, "Falsches-Passwort-42")
		case n < 8:
			f.webLoginStep(run, a, devicePassword)
		default:
			f.appLoginStep(run, a, flowPIN)
		}
	}
}

// through reports whether a has used every flow once.
func (a *actor) through() bool {
	return a.stage == flowEnrolled && len(a.codes) > 0 && len(a.spent) > 0 && len(a.sids) > 0
}

// retire replaces a by a new member who has yet to register.
func (f *flowRig) retire(a *actor) {
	i := slices.Index(f.actors, a)
	f.retired = append(f.retired, a)
	f.actors[i] = &actor{m: f.pool[0]}
	f.pool = f.pool[1:]
	f.count("members through every flow and replaced")
}

func (f *flowRig) count(what string) {
	f.mu.Lock()
	f.stats[what]++
	f.mu.Unlock()
}

func (f *flowRig) activateStep(run int, a *actor) {
	pdf, err := f.letterFile(a.letter)
	if err != nil {
		f.errorf("run %d: the letter %s of %s: %v", run, a.letter, a.m.KVNR, err)
		return
	}
	p, err := readLetterPDF(pdf, f.base)
	if err != nil {
		f.errorf("run %d: letter %s: %v", run, a.letter, err)
		return
	}
	r, err := f.json(http.MethodPost, "/app/v1/activations", map[string]string{
		"kvnr": a.m.KVNR.String(), "initial_password": p.initialPassword, "activation_code": p.code}, nil)
	switch {
	case err != nil:
		f.count("activation cut off")
	case r.status == http.StatusCreated:
		var body struct {
			Token string `json:"enrollment_token"`
		}
		if json.Unmarshal(r.body, &body) != nil || body.Token == "" {
			f.errorf("run %d: activation answer %s", run, r.body)
			return
		}
		a.token, a.stage = body.Token, flowPassword
	case r.status == http.StatusConflict:
		// Used: an activation whose answer was lost. The enrollment
		// session's token is gone with it; the member starts over with a
		// new letter.
		f.count("activation answer lost, new letter")
		a.stage = flowRequest
	default:
		f.errorf("run %d: activation of %s with letter %s: %d %s", run, a.m.KVNR, a.letter, r.status, r.body)
	}
}

func (f *flowRig) letterFile(id string) ([]byte, error) {
	l, err := f.store.LetterByID(f.ctx, id)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(f.outbox, l.OutboxName))
}

func (f *flowRig) origin() string {
	u, _ := url.Parse(f.base)
	return "http://localhost:" + u.Port()
}

func (f *flowRig) bindStep(run int, a *actor) {
	r, err := f.json(http.MethodPost, "/app/v1/enrollment/device/challenge", nil, bearerHeader(a.token))
	if err != nil {
		f.count("binding challenge cut off")
		return
	}
	if r.status == http.StatusConflict {
		// Bound in this session already: the answer to the binding was
		// lost. The app asks the session which device it bound.
		f.count("binding answer lost")
		f.resumeBinding(run, a)
		return
	}
	if r.status != http.StatusCreated {
		f.errorf("run %d: binding challenge of %s: %d %s", run, a.m.KVNR, r.status, r.body)
		return
	}
	var ch struct {
		ID      string          `json:"challenge_id"`
		Options json.RawMessage `json:"options"`
	}
	if err := json.Unmarshal(r.body, &ch); err != nil {
		f.errorf("run %d: binding challenge: %v", run, err)
		return
	}
	if a.auth == nil {
		if a.auth, err = authenticator.New(); err != nil {
			f.t.Error(err)
			return
		}
	}
	resp, err := a.auth.Register(ch.Options, f.origin())
	if err != nil {
		f.errorf("run %d: authenticator: %v", run, err)
		return
	}
	r, err = f.json(http.MethodPost, "/app/v1/enrollment/device", map[string]any{
		"challenge_id": ch.ID, "response": json.RawMessage(resp), "name": "Telefon", "platform": "software"}, bearerHeader(a.token))
	switch {
	case err != nil:
		f.count("binding cut off")
	case r.status == http.StatusCreated:
		var d struct{ ID string }
		if json.Unmarshal(r.body, &d) != nil || d.ID == "" {
			f.errorf("run %d: binding answer %s", run, r.body)
			return
		}
		a.binding, a.stage = d.ID, flowSetPIN
	default:
		f.errorf("run %d: binding of %s: %d %s", run, a.m.KVNR, r.status, r.body)
	}
}

// resumeBinding reads the enrollment state: a session that bound a
// device names it, with the key's credential, so that the app goes on
// with the PIN for the key it holds.
func (f *flowRig) resumeBinding(run int, a *actor) {
	r, err := f.json(http.MethodGet, "/app/v1/enrollment", nil, bearerHeader(a.token))
	if err != nil {
		return
	}
	var st struct {
		Device *struct {
			ID           string `json:"id"`
			CredentialID string `json:"credential_id"`
		} `json:"device"`
		NextSteps []string `json:"next_steps"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &st) != nil {
		f.errorf("run %d: enrollment state of %s: %d %s", run, a.m.KVNR, r.status, r.body)
		return
	}
	if st.Device == nil || st.Device.ID == "" {
		f.errorf("run %d: %s: a device is bound in the enrollment session, but the session does not say which "+
			"(the app cannot go on): %s", run, a.m.KVNR, r.body)
		return
	}
	if a.auth == nil || st.Device.CredentialID != base64.RawURLEncoding.EncodeToString(a.auth.CredentialID()) {
		f.errorf("run %d: %s: the session's device is not the key the app made: %s", run, a.m.KVNR, r.body)
		return
	}
	if !slices.Equal(st.NextSteps, []string{"pin"}) {
		f.errorf("run %d: %s: next steps %v after the binding, want [pin]", run, a.m.KVNR, st.NextSteps)
	}
	a.binding, a.stage = st.Device.ID, flowSetPIN
}

func (f *flowRig) app() (*appclient.Client, error) {
	c, err := appclient.Discover(f.ctx, appclient.Config{Issuer: f.base, ClientID: "pforte-app", RedirectURI: flowAppRedir, HTTP: f.hc})
	if err != nil {
		return nil, fmt.Errorf("%w: discovery: %v", errCut, err)
	}
	return c, nil
}

func (f *flowRig) device(a *actor) appclient.Device {
	return appclient.Device{BindingID: a.binding, Key: a.auth, Origin: f.origin()}
}

// appLoginStep logs a in with the app and PIN p.
func (f *flowRig) appLoginStep(run int, a *actor, p string) {
	app, err := f.app()
	if err != nil {
		return
	}
	if a.dpop == nil {
		if a.dpop, err = dpop.NewKey(); err != nil {
			f.t.Error(err)
			return
		}
	}
	wrong := p != flowPIN
	if wrong {
		a.wrongSent++
	}
	tok, err := app.Login(f.ctx, appclient.LoginRequest{Scope: "openid offline_access", Device: f.device(a), PIN: p, DPoP: a.dpop})
	switch {
	case cut(err):
		f.count("app login cut off")
		if !wrong {
			// The PIN may have been checked and the counter reset.
			a.wrongAnswered = 0
		}
	case wrong && status(err) == http.StatusUnauthorized:
		a.wrongAnswered++
		f.count("wrong PINs answered")
	case wrong:
		f.errorf("run %d: app login of %s with a wrong PIN: %v, want 401", run, a.m.KVNR, err)
	case err != nil:
		f.errorf("run %d: app login of %s: %v", run, a.m.KVNR, err)
	default:
		a.wrongAnswered, a.wrongSent = 0, 0
		a.refresh, a.sub = tok.RefreshToken, fmt.Sprint(tok.Claims["sub"])
		f.count("app logins")
	}
}

func (f *flowRig) refreshStep(run int, a *actor) {
	app, err := f.app()
	if err != nil {
		return
	}
	old := a.refresh
	tok, err := app.Refresh(f.ctx, a.dpop, old, a.sub)
	switch {
	case cut(err):
		f.count("refresh cut off")
	case status(err) == http.StatusBadRequest:
		// Rotated by a request whose answer was lost: the token is
		// spent, and its reuse ended the family. A new login follows.
		a.refresh = ""
		f.count("refresh refused after a lost answer")
	case err != nil:
		f.errorf("run %d: refresh of %s: %v", run, a.m.KVNR, err)
	default:
		if tok.RefreshToken == "" || tok.RefreshToken == old {
			f.errorf("run %d: refresh of %s not rotated", run, a.m.KVNR)
			return
		}
		a.spent = append(a.spent, old)
		a.refresh = tok.RefreshToken
		f.count("refresh rotations")
	}
}

// webLoginStep: the browser logs in at the online form, the app
// approves, the form redeems the code.
func (f *flowRig) webLoginStep(run int, a *actor, pw string) {
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != via[0].URL.Host {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	at := newAttempt("openid", "offline_access")
	conf := oauth2.Config{ClientID: "online-forms", RedirectURL: flowWebRedir, Scopes: at.scopes,
		Endpoint: oauth2.Endpoint{AuthURL: f.base + "/authorize"}}
	u := conf.AuthCodeURL(at.state, oauth2.S256ChallengeOption(at.verifier), oauth2.SetAuthURLParam("nonce", at.nonce),
		oauth2.SetAuthURLParam("acr_values", "http://eidas.europa.eu/LoA/substantial"))
	page, err := f.send(b, http.MethodGet, u, nil, nil)
	if err != nil {
		f.count("web login cut off")
		return
	}
	if !loginPage(page) {
		f.errorf("run %d: authorize: %d %s", run, page.status, page.body)
		return
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(page.body), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	form.Set("kvnr", a.m.KVNR.String())
	form.Set("password", pw)
	wrong := pw != devicePassword
	if wrong {
		a.pwWrongSent++
	}
	page, err = f.send(b, http.MethodPost, f.base+"/login", strings.NewReader(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	switch {
	case err != nil:
		f.count("password check cut off")
		if !wrong {
			a.pwWrongAnswered = 0
			a.pwCut++
		}
		return
	case wrong && page.status == http.StatusUnauthorized:
		a.pwWrongAnswered++
		f.count("wrong passwords answered")
		return
	case wrong:
		f.errorf("run %d: wrong password of %s: %d, want 401", run, a.m.KVNR, page.status)
		return
	case page.status == http.StatusTooManyRequests && a.pwWrongSent+a.pwCut > flowPasswordFree:
		// Delayed: the checks the kills cut off count as failures.
		f.count("password delayed after checks cut off")
		time.Sleep(100 * time.Millisecond)
		return
	}
	a.pwWrongAnswered, a.pwWrongSent, a.pwCut = 0, 0, 0
	if page.status == http.StatusTooManyRequests && strings.Contains(string(page.body), "warten bereits mehrere Anmeldungen") {
		// Approvals whose decision a kill cut off wait out their two
		// minutes; at most three of a member wait at once.
		f.count("web login refused while approvals cut off wait")
		time.Sleep(100 * time.Millisecond)
		return
	}
	num, id := approvalNumber.FindSubmatch(page.body), approvalInput.FindSubmatch(page.body)
	if page.status != http.StatusOK || num == nil || id == nil {
		f.errorf("run %d: want the approval page for %s, got %d:\n%s", run, a.m.KVNR, page.status, page.body)
		return
	}
	number, _ := strconv.Atoi(string(num[1]))
	app, err := f.app()
	if err != nil {
		return
	}
	d, err := app.Approve(f.ctx, f.device(a), html.UnescapeString(string(id[1])), number, flowPIN)
	switch {
	case cut(err):
		f.count("approval cut off")
		a.wrongAnswered = 0
		return
	case err != nil || d.Status != "approved":
		f.errorf("run %d: approve for %s: %+v %v", run, a.m.KVNR, d, err)
		return
	}
	a.wrongAnswered, a.wrongSent = 0, 0
	form = url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(page.body), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	r, err := f.send(b, http.MethodPost, f.base+"/login/approval", strings.NewReader(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if err != nil {
		f.count("web login cut off")
		return
	}
	loc, _ := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusFound || loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != at.state {
		f.errorf("run %d: after the approval: %d %q %s", run, r.status, r.header.Get("Location"), r.body)
		return
	}
	code := loc.Query().Get("code")
	r, err = f.exchange(code, at.verifier)
	switch {
	case err != nil:
		f.count("code exchange cut off")
	case r.status != http.StatusOK:
		f.errorf("run %d: code exchange: %d %s", run, r.status, r.body)
	default:
		a.codes = append(a.codes, spentCode{code, at.verifier})
		var tok struct {
			IDToken string `json:"id_token"`
		}
		if json.Unmarshal(r.body, &tok) != nil || tok.IDToken == "" {
			f.errorf("run %d: token answer %s", run, r.body)
			return
		}
		if a.pending == "" {
			a.pending, a.pendSID = tok.IDToken, claimOf(tok.IDToken, "sid")
		}
		f.count("web logins with approval")
	}
}

func (f *flowRig) exchange(code, verifier string) (result, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {flowWebRedir}, "code_verifier": {verifier}}
	req, err := http.NewRequestWithContext(f.ctx, http.MethodPost, f.base+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return result{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	basic("online-forms", flowWebSecret)(req)
	resp, err := f.hc.Do(req)
	if err != nil {
		return result{}, fmt.Errorf("%w: %v", errCut, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, fmt.Errorf("%w: %v", errCut, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func claimOf(jws, name string) string {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	s, _ := m[name].(string)
	return s
}

// logoutStep ends a's web session (RP-initiated logout): once answered,
// the form must get a logout token for the session.
func (f *flowRig) logoutStep(run int, a *actor) {
	r, err := f.send(f.hc, http.MethodGet, f.base+"/end_session?id_token_hint="+url.QueryEscape(a.pending), nil, nil)
	switch {
	case err != nil:
		f.count("logout cut off")
	case r.status != http.StatusFound && r.status != http.StatusOK:
		f.errorf("run %d: logout of %s: %d %s", run, a.m.KVNR, r.status, r.body)
	default:
		if a.pendSID == "" {
			f.errorf("run %d: the ID token of %s names no sid", run, a.m.KVNR)
		}
		a.sids = append(a.sids, a.pendSID)
		a.pending, a.pendSID = "", ""
		f.count("logouts answered")
	}
}

// ---- the checks ----

// inspectFlows checks, with the server dead, what a crash must never
// leave.
func (f *flowRig) inspectFlows(run int) {
	f.t.Helper()
	ls, err := f.store.ListLetters(f.ctx, "", 100_000)
	if err != nil {
		f.fatalf("run %d: list letters: %v", run, err)
	}
	open := map[string]int{}
	for _, l := range ls {
		if l.State == letter.Requested || l.State == letter.Rendered || l.State == letter.HandedOver {
			if open[l.KVNR.String()]++; open[l.KVNR.String()] > 1 {
				f.errorf("run %d: member %s has two letters not yet used", run, l.KVNR)
			}
		}
	}
	for _, a := range append(slices.Clone(f.retired), f.actors...) {
		if a.stage > flowWaitLetter && a.stage < flowEnrolled && a.letter != "" {
			l, err := f.store.LetterByID(f.ctx, a.letter)
			if err != nil {
				f.errorf("run %d: the letter %s of %s is lost: %v", run, a.letter, a.m.KVNR, err)
			} else if a.stage > flowActivate && l.State != letter.Activated {
				f.errorf("run %d: letter %s of %s activated, but %s", run, a.letter, a.m.KVNR, l.State)
			}
		}
		if a.stage == flowEnrolled {
			n := f.passwordFailures(run, a)
			if n < a.pwWrongAnswered || n > a.pwWrongSent+a.pwCut {
				f.errorf("run %d: %s: the password counter is %d; %d wrong passwords were answered, %d sent, %d correct ones cut off",
					run, a.m.KVNR, n, a.pwWrongAnswered, a.pwWrongSent, a.pwCut)
			}
		}
		acct, err := f.store.AccountByKVNR(f.ctx, a.m.KVNR)
		if err != nil {
			continue
		}
		bs, err := f.store.ListBindings(f.ctx, acct.ID)
		if err != nil {
			f.fatalf("run %d: bindings: %v", run, err)
		}
		for _, b := range bs {
			if b.PINHash == "" && b.Status == device.Active && a.stage == flowEnrolled && b.ID == a.binding {
				f.errorf("run %d: %s is enrolled with binding %s, which has no PIN", run, a.m.KVNR, b.ID)
			}
			if b.ID == a.binding && b.PIN.Failures < a.wrongAnswered {
				f.errorf("run %d: binding %s of %s counts %d wrong PINs, %d were answered as wrong",
					run, b.ID, a.m.KVNR, b.PIN.Failures, a.wrongAnswered)
			}
			if b.PIN.Failures > a.wrongSent && b.ID == a.binding {
				f.errorf("run %d: binding %s of %s counts %d wrong PINs, only %d were sent", run, b.ID, a.m.KVNR, b.PIN.Failures, a.wrongSent)
			}
		}
	}
}

// errPeek rolls back the read of a counter.
var errPeek = errors.New("read only")

// passwordFailures reads the member's password counter (core/login
// keeps it per member number), leaving it as it is.
func (f *flowRig) passwordFailures(run int, a *actor) int {
	var got throttle.Counter
	_, err := f.store.UpdatePasswordThrottle(f.ctx, "password:"+a.m.KVNR.String(),
		func(throttle.Counter) time.Time { return time.Now().Add(time.Hour) },
		func(c *throttle.Counter) error { got = *c; return errPeek })
	if !errors.Is(err, errPeek) {
		f.fatalf("run %d: read the password counter: %v", run, err)
	}
	return got.Failures
}

// halfBound checks that a binding whose PIN was never set logs nobody
// in: the member's enrollment goes on with the PIN instead.
func (f *flowRig) halfBound(run int) {
	for _, a := range f.actors {
		// A member whose PIN request went unanswered may have the PIN
		// set: a login with it is then right.
		if a.stage != flowSetPIN || a.pinCut {
			continue
		}
		app, err := f.app()
		if err != nil {
			f.fatalf("run %d: discovery: %v", run, err)
		}
		k, err := dpop.NewKey()
		if err != nil {
			f.t.Fatal(err)
		}
		_, err = app.Login(f.ctx, appclient.LoginRequest{Scope: "openid", Device: f.device(a), PIN: flowPIN, DPoP: k})
		if err == nil || cut(err) {
			f.errorf("run %d: the binding %s of %s has no PIN and logged in: %v", run, a.binding, a.m.KVNR, err)
		}
		f.count("bindings without PIN refused")
	}
}

// finish runs a server that is not killed until every member is enrolled
// and has used every flow, then replays what was spent and waits for the
// logout queue to drain.
func (f *flowRig) finish(run int) {
	f.start(run)
	rng := mrand.New(mrand.NewPCG(f.seed, 0xf1))
	f.halfBound(run)
	deadline := time.Now().Add(flowFinish)
	for {
		all := true
		for _, a := range f.actors {
			if !a.through() {
				all = false
				f.finishStep(run, a, rng)
			}
		}
		if all || f.t.Failed() {
			break
		}
		if time.Now().After(deadline) {
			f.fatalf("after %s without a kill, not every member is through: stages %v", flowFinish, f.stages())
		}
	}
	everyone := append(slices.Clone(f.retired), f.actors...)
	for _, a := range everyone {
		for _, c := range a.codes {
			r, err := f.exchange(c.code, c.verifier)
			if err != nil || r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "invalid_grant") {
				f.errorf("replayed code of %s after restarts: %d %s %v, want invalid_grant", a.m.KVNR, r.status, r.body, err)
			}
			f.count("codes replayed and refused")
		}
		app, err := f.app()
		if err != nil {
			f.fatalf("discovery: %v", err)
		}
		for _, rt := range a.spent {
			if _, err := app.Refresh(f.ctx, a.dpop, rt, a.sub); status(err) != http.StatusBadRequest {
				f.errorf("replayed refresh token of %s after restarts: %v, want invalid_grant", a.m.KVNR, err)
			}
			f.count("refresh tokens replayed and refused")
		}
	}
	// Back-channel logout: every answered logout reaches the form, and
	// the queue drains.
	deadline = time.Now().Add(30 * time.Second)
	for {
		missing := 0
		for _, a := range everyone {
			for _, sid := range a.sids {
				if f.logouts.count(sid) == 0 {
					missing++
				}
			}
		}
		n, err := f.store.CountLogoutJobs(f.ctx)
		if err != nil {
			f.fatalf("count logout jobs: %v", err)
		}
		if missing == 0 && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			f.fatalf("back-channel logout: %d ended sessions not told, %d jobs queued", missing, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.stats["logout tokens received"] = f.logouts.total()
	f.stats["logout tokens received twice or more"] = f.logouts.repeated()
	f.stop()
}

// finishStep is a step without a kill: the member goes on with what it
// has not done yet.
func (f *flowRig) finishStep(run int, a *actor, rng *mrand.Rand) {
	switch {
	case a.stage != flowEnrolled:
		f.step(run, a, rng)
		if a.stage == flowWaitLetter {
			time.Sleep(20 * time.Millisecond)
		}
	case a.refresh == "":
		f.appLoginStep(run, a, flowPIN)
	case len(a.spent) == 0:
		f.refreshStep(run, a)
	case len(a.codes) == 0 || a.pending == "" && len(a.sids) == 0:
		f.webLoginStep(run, a, devicePassword)
	default:
		f.logoutStep(run, a)
	}
}

func (f *flowRig) summary() string {
	keys := make([]string, 0, len(f.stats))
	for k := range f.stats {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, f.stats[k])
	}
	return b.String()
}

// ---- the form's back-channel logout endpoint ----

// logoutSink is the online form's back-channel logout endpoint: it
// counts the logout tokens per session (sid). It outlives every server.
type logoutSink struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]int
}

func newLogoutSink(t *testing.T) *logoutSink {
	s := &logoutSink{got: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.ParseForm() != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		sid := claimOf(r.PostForm.Get("logout_token"), "sid")
		if sid == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.got[sid]++
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *logoutSink) uri() string { return s.srv.URL + "/backchannel-logout" }

func (s *logoutSink) count(sid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[sid]
}

func (s *logoutSink) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.got {
		n += v
	}
	return n
}

func (s *logoutSink) repeated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.got {
		if v > 1 {
			n++
		}
	}
	return n
}

// TestEnrollmentNamesItsBoundDevice: an app whose answer to the device
// binding was lost (the server was killed after storing it) cannot bind
// again; the enrollment state names the bound device with its credential,
// so that the app goes on with the PIN and then logs in with that key.
func TestEnrollmentNamesItsBoundDevice(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Wiebke", "Carstens", "1981-02-17", w.clock.Now())
		in, token := w.readyToBind(t, eng, m, withServiceApp)
		state := func() (st struct {
			NextSteps []string `json:"next_steps"`
			Device    *struct {
				ID           string `json:"id"`
				CredentialID string `json:"credential_id"`
				PINSet       bool   `json:"pin_set"`
			} `json:"device"`
		}) {
			t.Helper()
			r := get(t, in.base+"/app/v1/enrollment", bearerHeader(token))
			if r.status != http.StatusOK || json.Unmarshal(r.body, &st) != nil {
				t.Fatalf("enrollment state: %d %s", r.status, r.body)
			}
			return st
		}
		if st := state(); st.Device != nil || !slices.Equal(st.NextSteps, []string{"device", "pin"}) {
			t.Fatalf("before the binding: device %+v, next %v; want none and [device pin]", st.Device, st.NextSteps)
		}
		// The binding is stored; its answer never reaches the app.
		ph := in.bindPhone(t, token, "Telefon")
		wantProblem(t, in.bindingChallenge(t, bearerHeader(token)), http.StatusConflict, "conflict")
		st := state()
		if st.Device == nil || st.Device.ID != ph.binding || st.Device.PINSet ||
			st.Device.CredentialID != base64.RawURLEncoding.EncodeToString(ph.auth.CredentialID()) ||
			!slices.Equal(st.NextSteps, []string{"pin"}) {
			t.Fatalf("after the binding: %+v, next %v; want binding %s without PIN, next [pin]", st.Device, st.NextSteps, ph.binding)
		}
		// Unknown tokens learn nothing.
		wantProblem(t, get(t, in.base+"/app/v1/enrollment", bearerHeader("x"+token)), http.StatusUnauthorized, "unauthenticated")
		// The app goes on with the PIN for the binding the state named and
		// logs in with it.
		wantActive(t, in.setPIN(t, token, appPIN))
		ph.pin = appPIN
		if _, err := in.appClient(t, serviceApp.RedirectURIs[0]).Login(t.Context(), appclient.LoginRequest{
			Scope: "openid", Device: ph.device(t, in), PIN: appPIN, DPoP: newDPoPKey(t)}); err != nil {
			t.Fatalf("login with the binding the state named: %v", err)
		}
	})
}
