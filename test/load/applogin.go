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

	"github.com/pforte-id/pforte/adapters/letterpdf"
	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte-app/dpop"
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

// writeMembersFile writes n new members with valid KVNRs, eligible dates
// and unique names in the format of `pforte members import`.
func writeMembersFile(path string, n int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "kvnr;given_name;family_name;birth_date;street;postal_code;locality;country;insured_from;insured_until;email")
	seen := map[string]bool{}
	for i := 0; i < n; {
		d, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
		if err != nil {
			return err
		}
		l, _ := rand.Int(rand.Reader, big.NewInt(26))
		k, err := kvnr.WithCheckDigit(fmt.Sprintf("%c%08d", 'A'+byte(l.Int64()), d.Int64()))
		if err != nil || seen[k.String()] {
			continue // not every prefix has a check digit
		}
		seen[k.String()] = true
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
// (separator ";" or ",", optional BOM and sep= line).
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

// phone is an enrolled member's device.
type phone struct {
	binding string
	key     *authenticator.Authenticator
}

// appLoginLoad is Pforte's app login by many members, each with a phone
// used by one login at a time (its signature counter must grow in order).
type appLoginLoad struct {
	*env
	progress io.Writer
	client   *appclient.Client
	phones   chan *phone
	origin   string
}

func (w *appLoginLoad) Setup(ctx context.Context) error {
	if w.cfg.MembersCSV == "" || w.cfg.Outbox == "" {
		return fmt.Errorf("%w: %s needs Pforte members: --members-csv FILE (imported with 'pforte members import') and --outbox DIR (the server's letter outbox on this machine); no other way to obtain app sessions is configured", errSkipped, w.cfg.Workload)
	}
	if err := w.discover(ctx); err != nil {
		return err
	}
	w.origin = w.cfg.Origin
	if w.origin == "" {
		w.origin = appOrigin(w.cfg.Issuer)
	}
	c, err := appclient.Discover(ctx, appclient.Config{
		Issuer: w.md.Issuer, ClientID: w.cfg.AppClientID, RedirectURI: w.cfg.RedirectURI, HTTP: w.hc,
	})
	if err != nil {
		return err
	}
	w.client = c
	ms, err := readMembersFile(w.cfg.MembersCSV, w.cfg.Members)
	if err != nil {
		return err
	}
	start := time.Now()
	phones, err := w.enroll(ctx, ms)
	if err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	fmt.Fprintf(w.progress, "%d members registered by letter with device and PIN in %v\n", len(phones), time.Since(start).Round(time.Millisecond))
	w.phones = make(chan *phone, len(phones))
	for _, p := range phones {
		w.phones <- p
	}
	return nil
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

func (w *appLoginLoad) login(ctx context.Context, scope string) (appclient.Tokens, *dpop.Key, error) {
	var p *phone
	select {
	case p = <-w.phones:
	case <-ctx.Done():
		return appclient.Tokens{}, nil, ctx.Err()
	}
	defer func() { w.phones <- p }()
	key, err := dpop.NewKey()
	if err != nil {
		return appclient.Tokens{}, nil, err
	}
	t, err := w.client.Login(ctx, appclient.LoginRequest{
		Scope: scope, PIN: seedPIN, DPoP: key,
		Device: appclient.Device{BindingID: p.binding, Key: p.key, Origin: w.origin},
	})
	return t, key, err
}

func (w *appLoginLoad) Do(ctx context.Context) error {
	_, _, err := w.login(ctx, "openid profile kvnr")
	return err
}

// call sends a JSON request to the app API and wants status want.
func (w *appLoginLoad) call(ctx context.Context, method, path, token string, in any, want int, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(w.md.Issuer, "/")+"/app/v1"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		p := appclient.ReadProblem(resp.StatusCode, resp.Header, raw)
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

// enroll registers ms by letter through the app API, reads their letters
// from the outbox and enrolls one phone each.
func (w *appLoginLoad) enroll(ctx context.Context, ms []seedMember) ([]*phone, error) {
	byName := map[string]int{}
	for i, m := range ms {
		if _, dup := byName[m.name()]; dup {
			return nil, fmt.Errorf("member %s: the letters are matched to members by name, and %q appears twice in the file; use --members or a file from --generate-members", m.KVNR, m.GivenName+" "+m.FamilyName)
		}
		byName[m.name()] = i
	}
	before, err := letterFiles(w.cfg.Outbox)
	if err != nil {
		return nil, fmt.Errorf("--outbox: %w", err)
	}
	seen := map[string]bool{}
	for _, n := range before {
		seen[n] = true
	}
	if err := parallel(ctx, len(ms), w.cfg.Concurrency, func(i int) error {
		return w.call(ctx, http.MethodPost, "/registrations", "", map[string]string{
			"kvnr": ms[i].KVNR, "birth_date": ms[i].BirthDate, "method": "letter",
		}, http.StatusAccepted, nil)
	}); err != nil {
		return nil, err
	}
	letters := make([]*letterpdf.Content, len(ms))
	found := 0
	deadline := time.Now().Add(w.cfg.SeedTimeout)
	for found < len(ms) {
		names, err := letterFiles(w.cfg.Outbox)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			file, err := os.ReadFile(filepath.Join(w.cfg.Outbox, n))
			if err != nil {
				return nil, err
			}
			c, err := letterpdf.Read(file)
			if err != nil {
				return nil, fmt.Errorf("letter %s: %w", n, err)
			}
			i, ok := recipientOf(file, byName)
			if ok && letters[i] == nil {
				letters[i] = &c
				found++
			}
		}
		if found == len(ms) {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d letters in %s after %v: is --outbox the server's outbox, are the members imported and eligible, is the letter worker running?", found, len(ms), w.cfg.Outbox, w.cfg.SeedTimeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	phones := make([]*phone, len(ms))
	err = parallel(ctx, len(ms), min(w.cfg.Concurrency, 8), func(i int) error {
		p, err := w.enrollOne(ctx, ms[i], *letters[i])
		if err != nil {
			return fmt.Errorf("member %s: %w", ms[i].KVNR, err)
		}
		phones[i] = p
		return nil
	})
	return phones, err
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

// recipientOf finds whose letter file is: the longest member name in the
// text of its first page (the address window).
func recipientOf(file []byte, byName map[string]int) (idx int, ok bool) {
	text := squash(pdfText(file))
	best := ""
	for name, i := range byName {
		if len(name) > len(best) && strings.Contains(text, name) {
			best, idx, ok = name, i, true
		}
	}
	return idx, ok
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

// enrollOne activates the app for m with its letter c: own password,
// device key, PIN.
func (w *appLoginLoad) enrollOne(ctx context.Context, m seedMember, c letterpdf.Content) (*phone, error) {
	_, code, _ := strings.Cut(c.ActivationURL, "#")
	var act struct {
		Token string `json:"enrollment_token"`
	}
	if err := w.call(ctx, http.MethodPost, "/activations", "", map[string]string{
		"kvnr": m.KVNR, "initial_password": c.InitialPassword, "activation_code": code,
	}, http.StatusCreated, &act); err != nil {
		return nil, err
	}
	if err := w.call(ctx, http.MethodPut, "/enrollment/password", act.Token,
		map[string]string{"password": seedPassword}, http.StatusNoContent, nil); err != nil {
		return nil, err
	}
	var ch struct {
		ID      string          `json:"challenge_id"`
		Options json.RawMessage `json:"options"`
	}
	if err := w.call(ctx, http.MethodPost, "/enrollment/device/challenge", act.Token, nil, http.StatusCreated, &ch); err != nil {
		return nil, err
	}
	key, err := authenticator.New()
	if err != nil {
		return nil, err
	}
	resp, err := key.Register(ch.Options, w.origin, authenticator.Format(authenticator.FormatPacked))
	if err != nil {
		return nil, err
	}
	var d struct {
		ID string `json:"id"`
	}
	if err := w.call(ctx, http.MethodPost, "/enrollment/device", act.Token, map[string]any{
		"challenge_id": ch.ID, "response": json.RawMessage(resp), "name": "Lasttest-Telefon", "platform": "software",
	}, http.StatusCreated, &d); err != nil {
		return nil, err
	}
	if err := w.call(ctx, http.MethodPut, "/enrollment/pin", act.Token, map[string]string{"pin": seedPIN}, http.StatusOK, nil); err != nil {
		return nil, err
	}
	return &phone{binding: d.ID, key: key}, nil
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
	for range max(1, k) {
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

// session is an app session whose refresh token the refresh workload
// rotates; one refresh at a time per session.
type session struct {
	key     *dpop.Key
	refresh string
	sub     string
}

// refreshLoad rotates refresh tokens of app sessions opened in Setup by
// one app login per seeded member.
type refreshLoad struct {
	appLoginLoad
	sessions chan *session
}

func (w *refreshLoad) Setup(ctx context.Context) error {
	if err := w.appLoginLoad.Setup(ctx); err != nil {
		return err
	}
	n := len(w.phones)
	w.sessions = make(chan *session, n)
	return parallel(ctx, n, min(w.cfg.Concurrency, 8), func(int) error {
		t, key, err := w.login(ctx, "openid offline_access")
		if err != nil {
			return err
		}
		if t.RefreshToken == "" {
			return errors.New("the login gave no refresh token")
		}
		sub, _ := t.Claims["sub"].(string)
		w.sessions <- &session{key: key, refresh: t.RefreshToken, sub: sub}
		return nil
	})
}

func (w *refreshLoad) Do(ctx context.Context) error {
	var s *session
	select {
	case s = <-w.sessions:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { w.sessions <- s }()
	t, err := w.client.Refresh(ctx, s.key, s.refresh, s.sub)
	if err != nil {
		return err
	}
	if t.RefreshToken != "" {
		s.refresh = t.RefreshToken
	}
	return nil
}
