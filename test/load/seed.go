package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ledongthuc/pdf"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte-app/letterscan"
	"github.com/pforte-id/pforte/core/kvnr"
)

// Every simulated member chooses this password and PIN (neither contains
// a name, number or birth date of a generated member).
const (
	seedPassword = "Seehund-Leuchtfeuer-Krabbenkutter"
	seedPIN      = "470815"
)

// errSkipped ends a run that cannot be done against this server, with the
// reason; it is not a failure.
var errSkipped = errors.New("skipped")

// errNoLetter: the member's letter did not reach the outbox in time.
var errNoLetter = errors.New("no letter in the outbox")

// seedMember is a member of the imported CSV file.
type seedMember struct {
	KVNR, GivenName, FamilyName, BirthDate string // BirthDate YYYY-MM-DD
}

func (m seedMember) name() string { return squash(m.GivenName + m.FamilyName) }

// squash drops white space, so that names compare with PDF text however
// its words were split.
func squash(s string) string {
	return strings.Join(strings.Fields(s), "")
}

// writeMembersFile writes n new members with distinct valid KVNRs,
// eligible dates and unique names in the format of `pforte members import`.
func writeMembersFile(path string, n int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "kvnr;given_name;family_name;birth_date;street;postal_code;locality;country;insured_from;insured_until;email")
	seen := make(map[string]struct{}, n)
	for i := 0; i < n; {
		d, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
		if err != nil {
			f.Close()
			return err
		}
		l, _ := rand.Int(rand.Reader, big.NewInt(26))
		k, err := kvnr.WithCheckDigit(fmt.Sprintf("%c%08d", 'A'+byte(l.Int64()), d.Int64()))
		if err != nil {
			continue // not every prefix has a check digit
		}
		if _, dup := seen[k.String()]; dup {
			continue
		}
		seen[k.String()] = struct{}{}
		fmt.Fprintf(w, "%s;Last;Probe%06d;1980-02-29;Am Wall 1;28195;Bremen;DE;2015-01-01;;\n", k, i)
		i++
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readMembersFile reads the columns the seeding needs from a member CSV
// (separator ";" or ",", optional BOM and sep= line), at most limit rows
// (0: all).
func readMembersFile(path string, limit int) ([]seedMember, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw = bytes.TrimPrefix(raw, []byte("\uFEFF"))
	sep := ';'
	if first, rest, _ := bytes.Cut(raw, []byte("\n")); bytes.HasPrefix(first, []byte("sep=")) {
		if s := strings.TrimSpace(string(first[4:])); s == "," {
			sep = ','
		}
		raw = rest
	} else if !bytes.Contains(first, []byte(";")) {
		sep = ','
	}
	r := csv.NewReader(bytes.NewReader(raw))
	r.Comma = sep
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"kvnr", "given_name", "family_name", "birth_date"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%s: no column %s", path, need)
		}
	}
	var ms []seedMember
	for limit == 0 || len(ms) < limit {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		get := func(c string) string {
			if i := col[c]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if get("kvnr") == "" {
			continue
		}
		bd := get("birth_date")
		if t, err := time.Parse("02.01.2006", bd); err == nil {
			bd = t.Format(time.DateOnly)
		}
		ms = append(ms, seedMember{KVNR: strings.ToUpper(get("kvnr")), GivenName: get("given_name"), FamilyName: get("family_name"), BirthDate: bd})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("%s: no members", path)
	}
	return ms, nil
}

// readMembers reads the members of --members-csv a run uses: the first
// --members, and never more than maxMembers (a run orders a letter for
// each).
func (e *env) readMembers() ([]seedMember, error) {
	limit := e.cfg.Members
	if limit == 0 {
		limit = maxMembers + 1
	}
	ms, err := readMembersFile(e.cfg.MembersCSV, limit)
	if err == nil && len(ms) > maxMembers {
		return nil, fmt.Errorf("%s has more than %d members: take the first N with --members N", e.cfg.MembersCSV, maxMembers)
	}
	return ms, err
}

// uniqueNames refuses a file in which two members share a name: letters
// are matched to members by the name in the address window.
func uniqueNames(ms []seedMember) error {
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		if seen[m.name()] {
			return fmt.Errorf("member %s: the letters are matched to members by name, and %q appears twice in the file; use --members or a file from --generate-members", m.KVNR, m.GivenName+" "+m.FamilyName)
		}
		seen[m.name()] = true
	}
	return nil
}

// appCall sends a JSON request to Pforte's app API and wants status want;
// out, when not nil, receives the answer.
func (e *env) appCall(ctx context.Context, method, path, token string, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(e.md.Issuer, "/")+"/app/v1"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		p := appclient.ReadProblem(resp.StatusCode, resp.Header, raw)
		if p == nil {
			return fmt.Errorf("%s %s: %w", method, path, &httpError{Status: resp.StatusCode, Code: "no problem document"})
		}
		if resp.StatusCode == http.StatusTooManyRequests && path == "/transfers" {
			return fmt.Errorf("%s %s: %w (raise the server's devices.transfers_per_ip for a load test: at most 1000 per devices.transfer_window from one address)", method, path, p)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			return fmt.Errorf("%s %s: %w (raise the server's registration.requests_per_ip_per_hour and activations_per_ip_per_hour for a load test)", method, path, p)
		}
		return fmt.Errorf("%s %s: %w", method, path, p)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// requestLetter orders a password letter for m, as the app does.
func (e *env) requestLetter(ctx context.Context, m seedMember) error {
	return e.appCall(ctx, http.MethodPost, "/registrations", "", map[string]string{
		"kvnr": m.KVNR, "birth_date": m.BirthDate, "method": "letter",
	}, http.StatusAccepted, nil)
}

// activate activates m's app with the secrets of letter c and returns the
// enrollment token.
//
// The server's letter worker puts the file into the outbox first and then
// marks the letter handed over (so that a crash between the two leaves a
// file that the next run finds, never a row without its file). A letter
// read the moment it appears may not be activatable yet: the server then
// answers 401 as for wrong secrets, without counting a wrong attempt. So
// a 401 is tried again, four times within about 300 ms.
func (e *env) activate(ctx context.Context, m seedMember, c letterscan.Content) (string, error) {
	_, code, _ := strings.Cut(c.ActivationURL, "#")
	var act struct {
		Token string `json:"enrollment_token"`
	}
	for try := 0; ; try++ {
		err := e.appCall(ctx, http.MethodPost, "/activations", "", map[string]string{
			"kvnr": m.KVNR, "initial_password": c.InitialPassword, "activation_code": code,
		}, http.StatusCreated, &act)
		var p *appclient.Problem
		if err == nil || try == 4 || !errors.As(err, &p) || p.Status != http.StatusUnauthorized {
			return act.Token, err
		}
		select {
		case <-ctx.Done():
			return "", err
		case <-time.After(20 * time.Millisecond << try):
		}
	}
}

// setPassword replaces the letter's initial password by seedPassword.
func (e *env) setPassword(ctx context.Context, token string) error {
	return e.appCall(ctx, http.MethodPut, "/enrollment/password", token,
		map[string]string{"password": seedPassword}, http.StatusNoContent, nil)
}

// bindPhone binds a new software device key (pforte-app's authenticator)
// and sets seedPIN, which completes the enrollment: the account is active.
// The enrollment session of token is an activation's or a transfer's.
func (e *env) bindPhone(ctx context.Context, token, origin string) (*phone, error) {
	var ch struct {
		ID      string          `json:"challenge_id"`
		Options json.RawMessage `json:"options"`
	}
	if err := e.appCall(ctx, http.MethodPost, "/enrollment/device/challenge", token, nil, http.StatusCreated, &ch); err != nil {
		return nil, err
	}
	key, err := authenticator.New()
	if err != nil {
		return nil, err
	}
	resp, err := key.Register(ch.Options, origin, authenticator.Format(authenticator.FormatPacked))
	if err != nil {
		return nil, err
	}
	var d struct {
		ID string `json:"id"`
	}
	if err := e.appCall(ctx, http.MethodPost, "/enrollment/device", token, map[string]any{
		"challenge_id": ch.ID, "response": json.RawMessage(resp), "name": "Lasttest-Telefon", "platform": "software",
	}, http.StatusCreated, &d); err != nil {
		return nil, err
	}
	if d.ID == "" {
		return nil, errors.New("POST /enrollment/device: the answer names no binding")
	}
	var done struct {
		AccountStatus string `json:"account_status"`
	}
	if err := e.appCall(ctx, http.MethodPut, "/enrollment/pin", token, map[string]string{"pin": seedPIN}, http.StatusOK, &done); err != nil {
		return nil, err
	}
	if done.AccountStatus != "active" {
		return nil, fmt.Errorf("PUT /enrollment/pin: the account is %q, not active", done.AccountStatus)
	}
	return &phone{binding: d.ID, key: key, pin: seedPIN}, nil
}

// enrollMembers registers ms by letter through the app API before the
// timer: every member orders a letter, the letters are read from the
// outbox, and each member activates, sets seedPassword, binds a software
// device key and sets seedPIN. Only then is the account active, for the
// app login and the browser login alike. It returns one phone per member.
func (e *env) enrollMembers(ctx context.Context, ms []seedMember, origin string) ([]*phone, error) {
	if err := uniqueNames(ms); err != nil {
		return nil, err
	}
	lw, err := watchLetters(e.cfg.Outbox)
	if err != nil {
		return nil, fmt.Errorf("--outbox: %w", err)
	}
	waits := make([]<-chan letterscan.Content, len(ms))
	for i, m := range ms {
		ch, _, err := lw.expect(m)
		if err != nil {
			return nil, err
		}
		waits[i] = ch
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go lw.run(wctx, 100*time.Millisecond)
	// All letters are ordered first, so that the server's worker renders
	// them in batches.
	if err := parallel(ctx, len(ms), e.cfg.Concurrency, func(i int) error {
		return e.requestLetter(ctx, ms[i])
	}); err != nil {
		return nil, err
	}
	deadline, stopDeadline := context.WithTimeout(ctx, e.cfg.SeedTimeout)
	defer stopDeadline()
	phones := make([]*phone, len(ms))
	err = parallel(ctx, len(ms), min(e.cfg.Concurrency, 8), func(i int) error {
		var c letterscan.Content
		select {
		case c = <-waits[i]:
		case <-deadline.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("member %s: %w after %v (%s): is --outbox the server's outbox, are the members imported and eligible, is the letter worker running?", ms[i].KVNR, errNoLetter, e.cfg.SeedTimeout, lw.stats())
		}
		token, err := e.activate(ctx, ms[i], c)
		if err == nil {
			err = e.setPassword(ctx, token)
		}
		if err == nil {
			phones[i], err = e.bindPhone(ctx, token, origin)
		}
		if err == nil {
			phones[i].kvnr = ms[i].KVNR
		}
		if err != nil {
			return fmt.Errorf("member %s: %w", ms[i].KVNR, err)
		}
		return nil
	})
	return phones, err
}

// letterWatch watches the server's outbox folder for new letters and hands
// each to the member waiting for it, found by the name in the address
// window. Letters that were in the folder when the watch began, and
// letters to nobody waiting, are ignored. It is safe for concurrent use;
// one goroutine runs run.
type letterWatch struct {
	dir string

	mu        sync.Mutex
	seen      map[string]bool                    // file names looked at
	waiting   map[string]chan letterscan.Content // by squashed name
	read      int                                // letters delivered
	unread    int                                // files that were no readable letter
	strangers int                                // letters to nobody waiting
}

func watchLetters(dir string) (*letterWatch, error) {
	if dir == "" {
		return nil, errors.New("no outbox folder given")
	}
	names, err := letterFiles(dir)
	if err != nil {
		return nil, err
	}
	lw := &letterWatch{dir: dir, seen: make(map[string]bool, len(names)), waiting: map[string]chan letterscan.Content{}}
	for _, n := range names {
		lw.seen[n] = true
	}
	return lw, nil
}

// expect registers that m's letter is coming: call it before the letter
// is ordered. The channel receives the letter once; done stops waiting.
// Two members of one name cannot wait at the same time.
func (lw *letterWatch) expect(m seedMember) (letter <-chan letterscan.Content, done func(), err error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	name := m.name()
	if _, dup := lw.waiting[name]; dup {
		return nil, nil, fmt.Errorf("member %s: another member named %q is waiting for a letter", m.KVNR, m.GivenName+" "+m.FamilyName)
	}
	ch := make(chan letterscan.Content, 1)
	lw.waiting[name] = ch
	return ch, func() {
		lw.mu.Lock()
		if lw.waiting[name] == ch {
			delete(lw.waiting, name)
		}
		lw.mu.Unlock()
	}, nil
}

// run looks for new letters every interval until ctx ends.
func (lw *letterWatch) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		lw.poll()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// poll reads the letters that appeared since the last poll.
func (lw *letterWatch) poll() {
	names, err := letterFiles(lw.dir)
	if err != nil {
		return // the next poll tries again; a waiter's deadline reports it
	}
	var fresh []string
	lw.mu.Lock()
	for _, n := range names {
		if !lw.seen[n] {
			lw.seen[n] = true
			fresh = append(fresh, n)
		}
	}
	lw.mu.Unlock()
	// Reading a letter (text and QR code) takes a few milliseconds: two at
	// a time, in the background of the measured operations.
	_ = parallel(context.Background(), len(fresh), 2, func(i int) error {
		file, err := os.ReadFile(filepath.Join(lw.dir, fresh[i]))
		var c letterscan.Content
		if err == nil {
			c, err = letterscan.Read(file)
		}
		text := ""
		if err == nil {
			text = squash(pdfText(file))
		}
		lw.mu.Lock()
		defer lw.mu.Unlock()
		if err != nil {
			lw.unread++
			return nil
		}
		best := ""
		for name := range lw.waiting {
			if len(name) > len(best) && strings.Contains(text, name) {
				best = name
			}
		}
		if best == "" {
			lw.strangers++
			return nil
		}
		lw.waiting[best] <- c
		delete(lw.waiting, best)
		lw.read++
		return nil
	})
}

// stats describes what the watch found, for an error message.
func (lw *letterWatch) stats() string {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return fmt.Sprintf("%d letters delivered, %d to nobody waiting, %d unreadable, %d members still waiting", lw.read, lw.strangers, lw.unread, len(lw.waiting))
}

// letterFiles lists the letters in dir (not the temporary files the
// outbox writes them through).
func letterFiles(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range es {
		if n := e.Name(); e.Type().IsRegular() && strings.HasPrefix(n, "pforte-letter-") && strings.HasSuffix(n, ".pdf") {
			names = append(names, n)
		}
	}
	return names, nil
}

// pdfText is the text of page 1; the library can panic on odd files.
func pdfText(file []byte) (s string) {
	defer func() {
		if recover() != nil {
			s = ""
		}
	}()
	rd, err := pdf.NewReader(bytes.NewReader(file), int64(len(file)))
	if err != nil || rd.NumPage() < 1 {
		return ""
	}
	var b strings.Builder
	for _, t := range rd.Page(1).Content().Text {
		if t.S != "\uFFFD" {
			b.WriteString(t.S)
		}
	}
	return b.String()
}

// appOrigin is the WebAuthn origin the app reports: the issuer's origin,
// localhost for a loopback issuer (as Pforte's relying party is then).
func appOrigin(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return issuer
	}
	if isLoopback(u.Hostname()) {
		if p := u.Port(); p != "" {
			return u.Scheme + "://localhost:" + p
		}
		return u.Scheme + "://localhost"
	}
	return u.Scheme + "://" + u.Host
}

// parallel runs f(0..n-1) on k goroutines and returns the first error.
func parallel(ctx context.Context, n, k int, f func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan int)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range max(1, min(k, n)) {
		wg.Go(func() {
			for i := range work {
				if err := f(i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
