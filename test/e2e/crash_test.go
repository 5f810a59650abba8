package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/cmd/pforte-app/letterscan"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
)

// The crash test: the real pforte binary is killed (SIGKILL: no deferred
// function, no graceful shutdown) at random moments while members keep
// ordering letters and its workers decide the requests and render letters
// into the outbox; then it is started again, many times over. Afterwards
// every member who was told "accepted" has exactly one letter, handed
// over, whose file is in the outbox and activates it, and no file a crash
// left behind activates anything.

const (
	crashRuns = 30
	// crashMaxDelay bounds the random time a server lives after it is
	// ready before it is killed.
	crashMaxDelay = 400 * time.Millisecond
	// crashPostEvery is the mean pause between two letter requests while
	// a server lives, so that its workers (every 100 ms) always find work.
	crashPostEvery = 15 * time.Millisecond
	// crashPool is the size of the member directory: more members than
	// the runs can request.
	crashPool   = 1000
	crashSender = servertest.Sender
)

// TestLetterProductionSurvivesCrashes kills `pforte serve` (SQLite) at
// random points during letter creation and rendering. PFORTE_CRASH_SEED
// repeats a schedule of delays; every failure names the seed.
//
// Leases: a worker claims requests for 2 and letters for 5 minutes, so
// that no other replica takes over work in progress, and what a killed
// worker had claimed waits until its lease ends. The test does not wait
// for that in real time: after the runs an instance built by the same
// composition root (cmd/pforte/server) on the same database and outbox,
// with its clock ten minutes ahead, drains the queue — what a restarted
// server has done ten minutes later. The letters are then checked and
// activated through the real binary again.
func TestLetterProductionSurvivesCrashes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds pforte and kills it many times; skipped with -short")
	}
	c := newCrashRig(t)
	c.importMembers()
	for run := 1; run <= crashRuns; run++ {
		c.start(run)
		delay := time.Duration(c.rng.Int64N(int64(crashMaxDelay)))
		pauses := make([]time.Duration, 64)
		for i := range pauses {
			pauses[i] = time.Duration(c.rng.Int64N(int64(2 * crashPostEvery)))
		}
		stop := make(chan struct{})
		done := make(chan [2]int, 1)
		go func() { done <- c.post(run, pauses, stop) }()
		time.Sleep(delay)
		c.kill()
		close(stop)
		n := <-done
		c.t.Logf("run %2d: killed %3d ms after ready; %2d requests accepted, %d cut off; %s",
			run, delay.Milliseconds(), n[0], n[1], c.inspect(run))
	}
	c.drain()
	c.verify()
}

// crashRig is the binary, its data directory, and what the test knows.
type crashRig struct {
	t       *testing.T
	seed    uint64
	rng     *mrand.Rand
	bin     string
	dir     string // holds data/ and the logs of the runs
	dataDir string
	outbox  string
	dbPath  string
	base    string // http://127.0.0.1:<port>, also the issuer
	env     []string
	master  []byte
	members []member.Member
	next    int // the next member to request a letter

	proc   *exec.Cmd
	exited chan error
	logf   *os.File
	run    int

	mu       sync.Mutex
	accepted map[kvnr.KVNR]bool // told 202
	cutOff   map[kvnr.KVNR]bool // no answer: the server died meanwhile

	// For the log: letters left Rendered (killed between storing the
	// hashes of a render and handing it over) and temporary files after
	// the previous kill, runs whose kill left a new one, and how many
	// letters the drain finished.
	lastRendered, lastTemp            int
	interruptedRender, interruptedPut int
	drained                           int
}

func newCrashRig(t *testing.T) *crashRig {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PFORTE_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("PFORTE_CRASH_SEED: %v", err)
		}
	}
	t.Logf("crash schedule seed %d (PFORTE_CRASH_SEED=%d repeats it)", seed, seed)
	dir := t.TempDir()
	c := &crashRig{
		t: t, seed: seed, rng: mrand.New(mrand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		bin: buildPforte(t), dir: dir, dataDir: filepath.Join(dir, "data"), master: make([]byte, 32),
		accepted: map[kvnr.KVNR]bool{}, cutOff: map[kvnr.KVNR]bool{},
	}
	c.outbox = filepath.Join(c.dataDir, "outbox")
	c.dbPath = filepath.Join(c.dataDir, "pforte.db")
	if _, err := rand.Read(c.master); err != nil {
		t.Fatal(err)
	}
	addr := servertest.FreeAddr(t)
	c.base = "http://" + addr
	// No demo members: hashing their passwords would slow every start.
	noMembers := filepath.Join(dir, "members.yaml")
	if err := os.WriteFile(noMembers, []byte("members: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PFORTE_") {
			c.env = append(c.env, kv)
		}
	}
	c.env = append(c.env,
		"PFORTE_ADDR="+addr,
		"PFORTE_ISSUER="+c.base,
		"PFORTE_DATA_DIR="+c.dataDir,
		"PFORTE_MASTER_KEY="+base64.StdEncoding.EncodeToString(c.master),
		"PFORTE_MEMBERS_FILE="+noMembers,
		"PFORTE_WORKER_INTERVAL=100ms",
		"PFORTE_LETTERS_SENDER="+crashSender,
		"PFORTE_REQUESTS_PER_IP_PER_HOUR=100000",
		"PFORTE_ACTIVATIONS_PER_IP_PER_HOUR=100000",
		"PFORTE_LOG_LEVEL=info",
	)
	t.Cleanup(func() {
		if c.proc != nil {
			_ = c.proc.Process.Kill()
			<-c.exited
			c.logf.Close()
		}
		if t.Failed() {
			t.Logf("seed %d (repeat with PFORTE_CRASH_SEED=%d); the log of run %d ends:\n%s",
				c.seed, c.seed, c.run, c.logTail(c.run, 40))
		}
	})
	return c
}

// fatalf fails the test, naming the seed.
func (c *crashRig) fatalf(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf("seed %d: "+format, append([]any{c.seed}, args...)...)
}

// errorf reports a failure, naming the seed.
func (c *crashRig) errorf(format string, args ...any) {
	c.t.Helper()
	c.t.Errorf("seed %d: "+format, append([]any{c.seed}, args...)...)
}

// buildPforte builds cmd/pforte into a temporary directory.
func buildPforte(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building pforte needs the go command: %v", err)
	}
	mod, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(mod)) == 0 {
		t.Fatalf("go env GOMOD: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "pforte")
	cmd := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, "./cmd/pforte")
	cmd.Dir = filepath.Dir(string(bytes.TrimSpace(mod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/pforte: %v\n%s", err, out)
	}
	return bin
}

// importMembers fills the member directory before the first start, as
// `pforte members import` does.
func (c *crashRig) importMembers() {
	ctx := c.t.Context()
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		c.t.Fatal(err)
	}
	st := c.openStore()
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		c.t.Fatal(err)
	}
	now := time.Now().UTC()
	seen := map[kvnr.KVNR]bool{}
	for len(c.members) < crashPool {
		m := applicant("Jonte", fmt.Sprintf("Absturz%04d", len(c.members)),
			fmt.Sprintf("19%02d-%02d-%02d", 30+c.rng.IntN(70), 1+c.rng.IntN(12), 1+c.rng.IntN(28)), now)
		if !seen[m.KVNR] {
			seen[m.KVNR] = true
			c.members = append(c.members, m)
		}
	}
	if err := st.UpsertMembers(ctx, c.members); err != nil {
		c.t.Fatal(err)
	}
}

func (c *crashRig) openStore() *sqlstore.Store {
	c.t.Helper()
	st, err := sqlstore.Open(c.t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: c.dbPath})
	if err != nil {
		c.fatalf("open the database: %v", err)
	}
	return st
}

func (c *crashRig) logPath(run int) string {
	return filepath.Join(c.dir, fmt.Sprintf("run-%02d.log", run))
}

// logTail returns the last n lines of the log of run.
func (c *crashRig) logTail(run, n int) string {
	b, _ := os.ReadFile(c.logPath(run))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// start runs `pforte serve` and waits until it is ready.
func (c *crashRig) start(run int) {
	c.t.Helper()
	c.run = run
	f, err := os.Create(c.logPath(run))
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(c.bin, "serve")
	cmd.Env, cmd.Stdout, cmd.Stderr = c.env, f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		c.fatalf("start pforte: %v", err)
	}
	c.proc, c.logf, c.exited = cmd, f, make(chan error, 1)
	go func() { c.exited <- cmd.Wait() }()
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := hc.Get(c.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-c.exited:
			c.proc = nil
			f.Close()
			c.fatalf("run %d: pforte ended before it was ready: %v\n%s", run, err, c.logTail(run, 30))
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.fatalf("run %d: pforte did not become ready\n%s", run, c.logTail(run, 30))
		}
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (c *crashRig) kill() {
	c.t.Helper()
	if err := c.proc.Process.Signal(syscall.SIGKILL); err != nil {
		c.fatalf("run %d: kill: %v", c.run, err)
	}
	err := <-c.exited
	if ws, ok := c.proc.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		c.fatalf("run %d: pforte ended on its own before the kill (%v)\n%s", c.run, err, c.logTail(c.run, 30))
	}
	c.proc = nil
	c.logf.Close()
}

// stop ends the server gracefully (SIGTERM) and expects a clean exit.
func (c *crashRig) stop() {
	c.t.Helper()
	if err := c.proc.Process.Signal(syscall.SIGTERM); err != nil {
		c.fatalf("SIGTERM: %v", err)
	}
	if err := <-c.exited; err != nil {
		c.errorf("pforte did not shut down cleanly on SIGTERM: %v\n%s", err, c.logTail(c.run, 20))
	}
	c.proc = nil
	c.logf.Close()
}

// post requests letters for the next members until stop, one after the
// other with the given pauses, and returns how many were accepted and
// how many got no answer because the server died.
func (c *crashRig) post(run int, pauses []time.Duration, stop <-chan struct{}) [2]int {
	hc := &http.Client{Timeout: 5 * time.Second}
	var n [2]int
	for i := 0; ; i++ {
		select {
		case <-stop:
			return n
		case <-time.After(pauses[i%len(pauses)]):
		}
		if c.next >= len(c.members) {
			return n
		}
		m := c.members[c.next]
		c.next++
		body := `{"kvnr":"` + m.KVNR.String() + `","birth_date":"` + m.BirthDate + `","method":"letter"}`
		resp, err := hc.Post(c.base+"/app/v1/registrations", "application/json", strings.NewReader(body))
		c.mu.Lock()
		switch {
		case err != nil:
			// Killed while the request was in flight: it may or may not
			// have been stored.
			c.cutOff[m.KVNR] = true
			n[1]++
		case resp.StatusCode == http.StatusAccepted:
			c.accepted[m.KVNR] = true
			n[0]++
		default:
			c.mu.Unlock()
			resp.Body.Close()
			c.errorf("run %d: letter request answered %d", run, resp.StatusCode)
			return n
		}
		c.mu.Unlock()
		if err == nil {
			resp.Body.Close()
		}
	}
}

// inspect checks, with the server dead, what a crash must never leave: a
// member with two letters, a voided letter (nothing here supersedes one),
// a handed-over letter without its file. It returns what the crash
// interrupted.
func (c *crashRig) inspect(run int) string {
	c.t.Helper()
	st := c.openStore()
	defer st.Close()
	ls, err := st.ListLetters(c.t.Context(), "", 100_000)
	if err != nil {
		c.fatalf("run %d: list letters: %v", run, err)
	}
	states := map[letter.State]int{}
	per := map[kvnr.KVNR]int{}
	for _, l := range ls {
		states[l.State]++
		if per[l.KVNR]++; per[l.KVNR] > 1 {
			c.fatalf("run %d: member %s has %d letters", run, l.KVNR, per[l.KVNR])
		}
		switch l.State {
		case letter.Voided, letter.Activated:
			c.fatalf("run %d: letter %s is %s", run, l.ID, l.State)
		case letter.HandedOver:
			if _, err := os.Stat(filepath.Join(c.outbox, l.OutboxName)); err != nil {
				c.fatalf("run %d: letter %s is handed over, but its file is not in the outbox: %v", run, l.ID, err)
			}
		}
	}
	temp, _ := filepath.Glob(filepath.Join(c.outbox, ".*.tmp"))
	// Letters a killed worker had claimed keep their state until the
	// lease ends, so a rise of Rendered is this kill's doing.
	var cut []string
	if states[letter.Rendered] > c.lastRendered {
		c.interruptedRender++
		cut = append(cut, "a render before its hand-over")
	}
	if len(temp) > c.lastTemp {
		c.interruptedPut++
		cut = append(cut, "a file being written")
	}
	c.lastRendered, c.lastTemp = states[letter.Rendered], len(temp)
	what := "nothing in letter production"
	if len(cut) > 0 {
		what = strings.Join(cut, " and ")
	}
	return fmt.Sprintf("the kill cut %s; letters handed over %d, rendered %d, requested %d; temporary files %d",
		what, states[letter.HandedOver], states[letter.Rendered], states[letter.Requested], len(temp))
}

// drain finishes what the killed servers left: an instance of the same
// composition root on the same database and outbox, with its clock past
// every lease, runs the workers until the queue is empty.
func (c *crashRig) drain() {
	c.t.Helper()
	var logs coretest.Log
	o := servertest.Options(c.t, c.base)
	o.Storage = sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: c.dbPath}
	o.MasterKey, o.OutboxDir = c.master, c.outbox
	o.Now = func() time.Time { return time.Now().Add(10 * time.Minute) }
	o.Log = logs.JSON()
	srv, err := server.New(c.t.Context(), o)
	if err != nil {
		c.fatalf("drain: %v", err)
	}
	defer srv.Close()
	reg := srv.Registration()
	decided, handed := 0, 0
	for {
		n1, err1 := reg.ProcessRegistrations(c.t.Context(), 100)
		n2, err2 := reg.ProcessLetters(c.t.Context(), 100)
		if err1 != nil || err2 != nil {
			c.fatalf("drain: %v %v\n%s", err1, err2, logs.String())
		}
		decided, handed = decided+n1, handed+n2
		if n1 == 0 && n2 == 0 {
			break
		}
	}
	c.drained = handed
	c.t.Logf("after the leases: %d requests decided and %d letters handed over that the killed servers had left", decided, handed)
}

// verify checks the end state and activates every letter through the
// real binary.
func (c *crashRig) verify() {
	c.t.Helper()
	ctx := c.t.Context()
	st := c.openStore()
	ls, err := st.ListLetters(ctx, "", 100_000)
	st.Close()
	if err != nil {
		c.fatalf("list letters: %v", err)
	}
	byMember := map[kvnr.KVNR][]letter.Letter{}
	byID := map[string]letter.Letter{}
	for _, l := range ls {
		byMember[l.KVNR] = append(byMember[l.KVNR], l)
		byID[l.ID] = l
	}
	c.mu.Lock()
	accepted, cutOff := len(c.accepted), len(c.cutOff)
	for _, m := range c.members {
		got := byMember[m.KVNR]
		switch {
		case c.accepted[m.KVNR] && len(got) != 1:
			c.errorf("member %s was told accepted and has %d letters", m.KVNR, len(got))
		case c.cutOff[m.KVNR] && len(got) > 1:
			c.errorf("member %s (request cut off) has %d letters", m.KVNR, len(got))
		case !c.accepted[m.KVNR] && !c.cutOff[m.KVNR] && len(got) != 0:
			c.errorf("member %s never asked and has %d letters", m.KVNR, len(got))
		}
		for _, l := range got {
			if l.State != letter.HandedOver {
				c.errorf("letter %s of %s is %s (%s), want handed_over", l.ID, m.KVNR, l.State, l.VoidReason)
			}
		}
	}
	c.mu.Unlock()
	if c.t.Failed() {
		c.t.FailNow()
	}

	// Read every file in the outbox: the letters the rows name, and any
	// other complete PDF a crash may have left (a render whose row was
	// replaced, a temporary file complete but not renamed).
	entries, err := os.ReadDir(c.outbox)
	if err != nil {
		c.fatalf("read the outbox: %v", err)
	}
	named := map[string]letter.Letter{}
	for _, l := range ls {
		named[l.OutboxName] = l
	}
	type found struct {
		name string
		l    letter.Letter
		p    printed
		ok   bool
	}
	var files []found
	for _, e := range entries {
		id, ok := letterIDOf(e.Name())
		l, known := byID[id]
		if !ok || !known {
			c.errorf("the outbox holds %s, which belongs to no letter", e.Name())
			continue
		}
		files = append(files, found{name: e.Name(), l: l})
	}
	var wg sync.WaitGroup
	work := make(chan int)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				f := &files[i]
				pdf, err := os.ReadFile(filepath.Join(c.outbox, f.name))
				if err != nil {
					continue
				}
				var err2 error
				f.p, err2 = readLetterPDF(pdf, c.base)
				f.ok = err2 == nil
			}
		}()
	}
	for i := range files {
		work <- i
	}
	close(work)
	wg.Wait()

	c.start(crashRuns + 1)
	var stale, unreadable int
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	for _, f := range files {
		if named[f.name].ID == f.l.ID && f.l.State == letter.HandedOver {
			if !f.ok {
				c.errorf("letter %s: its file %s is not a readable letter", f.l.ID, f.name)
				continue
			}
			r := c.activate(f.l.KVNR, f.p)
			if r.status != http.StatusCreated {
				c.errorf("letter %s of %s does not activate: %d %s", f.l.ID, f.l.KVNR, r.status, r.body)
			}
		}
	}
	// The letters are used now: secrets that still matched one would be
	// answered 409 (used), any other secrets 401.
	for _, f := range files {
		if named[f.name].ID == f.l.ID {
			continue
		}
		if !f.ok {
			unreadable++
			continue
		}
		stale++
		if r := c.activate(f.l.KVNR, f.p); r.status != http.StatusUnauthorized {
			c.errorf("the secrets of %s, left by a crash, are not refused as unknown: %d %s", f.name, r.status, r.body)
		}
	}
	c.stop()
	c.t.Logf("%d runs: %d members told accepted, %d requests cut off by a kill; %d runs killed a render before its hand-over, "+
		"%d a file being written; %d letters finished after the leases; %d letters handed over, all activated; "+
		"%d other complete files in the outbox, all refused; %d incomplete temporary files",
		crashRuns, accepted, cutOff, c.interruptedRender, c.interruptedPut, c.drained, len(ls), stale, unreadable)
}

// letterIDOf returns the letter ID in an outbox file name:
// pforte-letter-<id>-<random>.pdf, or .pforte-letter-<id>-<random>.pdf.<n>.tmp
// for a temporary file.
func letterIDOf(name string) (string, bool) {
	name = strings.TrimPrefix(name, ".")
	rest, ok := strings.CutPrefix(name, "pforte-letter-")
	if !ok {
		return "", false
	}
	i := strings.Index(rest, ".pdf")
	if i < 0 {
		return "", false
	}
	rest = rest[:i]
	j := strings.LastIndex(rest, "-")
	if j < 0 {
		return "", false
	}
	return rest[:j], true
}

// readLetterPDF reads a letter as the app does: the activation code from
// the QR code, the initial password from the text. Errors when pdf is not
// a complete letter with an activation URL of issuer.
func readLetterPDF(pdf []byte, issuer string) (printed, error) {
	c, err := letterscan.Read(pdf)
	if err != nil {
		return printed{}, err
	}
	base, code, ok := strings.Cut(c.ActivationURL, "#")
	if !ok || base != issuer+"/app/activate" || !letter.WellFormed(code, letter.CodeLength) {
		return printed{}, fmt.Errorf("the QR code holds %q, want %s/app/activate#<code>", c.ActivationURL, issuer)
	}
	return printed{initialPassword: c.InitialPassword, code: code, printedCode: c.ActivationCode}, nil
}

// activate activates a letter through the running binary.
func (c *crashRig) activate(k kvnr.KVNR, p printed) result {
	c.t.Helper()
	in := &instance{base: c.base}
	return in.activate(c.t, k.String(), p.initialPassword, p.code)
}
