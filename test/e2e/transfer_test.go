package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/member"
)

// Moving to a new phone, and losing one, as members do it with the
// reference client pforte-app (built from cmd/pforte-app and run as a
// program): every phone is one state file. The new phone shows a transfer
// code, the old phone approves it with its key and PIN, the new phone binds
// its own key and PIN; a new letter binds a phone without the old one. A
// new binding never disables an old phone: the member removes it.

// buildApp builds cmd/pforte-app into dir.
func buildApp(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building pforte-app needs the go command: %v", err)
	}
	mod, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(mod)) == 0 {
		t.Fatalf("go env GOMOD: %v", err)
	}
	bin := filepath.Join(dir, "pforte-app")
	cmd := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, "./cmd/pforte-app")
	cmd.Dir = filepath.Dir(string(bytes.TrimSpace(mod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/pforte-app: %v\n%s", err, out)
	}
	return bin
}

// cliPhone is one phone running pforte-app: its state file.
type cliPhone struct {
	bin, state, issuer string
}

// ran is one finished pforte-app run.
type ran struct {
	code           int
	stdout, stderr string
}

func (p *cliPhone) cmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	c := exec.CommandContext(t.Context(), p.bin, append([]string{"--state", p.state}, args...)...)
	c.Env = []string{"HOME=" + filepath.Dir(p.state), "PFORTE_APP_LANG=de", "TZ=UTC"}
	return c
}

// run runs pforte-app on p with args.
func (p *cliPhone) run(t *testing.T, args ...string) ran {
	t.Helper()
	c := p.cmd(t, args...)
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	err := c.Run()
	r := ran{stdout: out.String(), stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("pforte-app %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// must runs args and fails unless pforte-app succeeds.
func (p *cliPhone) must(t *testing.T, args ...string) string {
	t.Helper()
	r := p.run(t, args...)
	if r.code != 0 {
		t.Fatalf("pforte-app %s: exit %d: %s%s", args[0], r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// refused runs args and fails unless pforte-app fails saying want.
func (p *cliPhone) refused(t *testing.T, want string, args ...string) {
	t.Helper()
	r := p.run(t, args...)
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Fatalf("pforte-app %s: exit %d, stderr %q, want exit 1 saying %q", strings.Join(args, " "), r.code, r.stderr, want)
	}
}

// appState is the part of a state file these tests read.
type appState struct {
	Device *struct {
		BindingID string `json:"binding_id"`
	} `json:"device"`
	Transfer *struct {
		Code   string `json:"code"`
		Secret string `json:"secret"`
	} `json:"transfer"`
	Enrollment *struct {
		Token string `json:"token"`
	} `json:"enrollment"`
	Session *struct {
		ACR string `json:"acr"`
	} `json:"session"`
}

func (p *cliPhone) read(t *testing.T) appState {
	t.Helper()
	b, err := os.ReadFile(p.state)
	if err != nil {
		t.Fatal(err)
	}
	var s appState
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func (p *cliPhone) binding(t *testing.T) string {
	t.Helper()
	s := p.read(t)
	if s.Device == nil || s.Device.BindingID == "" {
		t.Fatalf("state %s has no device", p.state)
	}
	return s.Device.BindingID
}

// newCLIPhone is a phone with an empty state file.
func newCLIPhone(t *testing.T, bin, issuer string) *cliPhone {
	t.Helper()
	return &cliPhone{bin: bin, state: filepath.Join(t.TempDir(), "state.json"), issuer: issuer}
}

// letterFor has m's letter sent and returns it as printed.
func (w *world) letterFor(t *testing.T, in *instance, m member.Member) printed {
	t.Helper()
	accepted(t, in.requestLetter(t, m.KVNR.String(), m.BirthDate, nil))
	if _, handed := in.work(t); handed != 1 {
		t.Fatalf("letters handed over: %d, want 1", handed)
	}
	return w.readLetter(t, in, m.KVNR)
}

// enrollWithLetter runs the whole registration of m's letter lp with
// pforte-app on p: activation, password, device and PIN. It returns what
// set-pin printed.
func (p *cliPhone) enrollWithLetter(t *testing.T, m member.Member, lp printed, name, pin string) string {
	t.Helper()
	p.must(t, "activate", "--issuer", p.issuer, "--kvnr", m.KVNR.String(), "--code", lp.code, "--password", lp.initialPassword)
	p.must(t, "set-password", "--password", devicePassword)
	p.must(t, "bind-device", "--name", name)
	return p.must(t, "set-pin", "--pin", pin)
}

// transferCode reads the transfer code pforte-app printed.
func transferCode(t *testing.T, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if _, code, ok := strings.Cut(line, "Transfer code: "); ok {
			return strings.TrimSpace(code)
		}
	}
	t.Fatalf("no transfer code in %q", out)
	return ""
}

const (
	oldPIN   = "583920"
	newPIN   = "904417"
	otherPIN = "271836"
)

func TestTransferWithPforteApp(t *testing.T) {
	bin := buildApp(t, t.TempDir())
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		relay := startMailRelay(t)
		in := w.start(t, eng.storage(t), relay.notifier(t), withServiceApp)
		anna := applicant("Anna", "Umzug", "1981-03-14", w.clock.Now())
		anna.Email = "anna.umzug@example.org"
		bodo := applicant("Bodo", "Fremd", "1977-11-02", w.clock.Now())
		in.importMembers(t, anna, bodo)

		oldPhone := newCLIPhone(t, bin, in.issuer)
		out := oldPhone.enrollWithLetter(t, anna, w.letterFor(t, in, anna), "Altes Handy", oldPIN)
		if strings.Contains(out, "Other devices") {
			t.Errorf("set-pin of the first device lists others: %q", out)
		}
		oldID := oldPhone.binding(t)
		oldPhone.must(t, "login", "--pin", oldPIN)
		oldACR := oldPhone.read(t).Session.ACR
		acct := in.account(t, anna)

		// ---- new phone via old phone: begin waits, approve, bind, PIN ----
		newPhone := newCLIPhone(t, bin, in.issuer)
		begin := newPhone.cmd(t, "transfer", "begin", "--issuer", in.issuer, "--kvnr", anna.KVNR.String(), "--poll", "50ms")
		stdout, err := begin.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var beginErr bytes.Buffer
		begin.Stderr = &beginErr
		if err := begin.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		var seen strings.Builder
		code := ""
		for code == "" && lines.Scan() {
			seen.WriteString(lines.Text() + "\n")
			if _, c, ok := strings.Cut(lines.Text(), "Transfer code: "); ok {
				code = strings.TrimSpace(c)
			}
		}
		if !strings.HasPrefix(code, "pforte-transfer:") || !strings.Contains(seen.String(), "█") {
			t.Fatalf("transfer begin printed %q", seen.String())
		}
		secret := newPhone.read(t).Transfer.Secret
		approved := oldPhone.must(t, "transfer", "approve", code, "--pin", oldPIN)
		if !strings.Contains(approved, "stays bound") {
			t.Errorf("transfer approve: %q", approved)
		}
		for lines.Scan() {
			seen.WriteString(lines.Text() + "\n")
		}
		if err := begin.Wait(); err != nil {
			t.Fatalf("transfer begin: %v: %s%s", err, seen.String(), beginErr.String())
		}
		if !strings.Contains(seen.String(), "pforte-app bind-device") {
			t.Errorf("transfer begin after the approval: %q", seen.String())
		}
		st := newPhone.read(t)
		if st.Transfer != nil || st.Enrollment == nil || st.Enrollment.Token == "" {
			t.Fatalf("new phone's state after the transfer: %+v", st)
		}
		// The transfer's session binds a device; it does not change the
		// password.
		newPhone.refused(t, "Passwort nicht geändert", "set-password", "--password", "Ein-ganz-anderes-Passwort-42")
		newPhone.must(t, "bind-device", "--name", "Neues Handy")
		out = newPhone.must(t, "set-pin", "--pin", newPIN)
		if !strings.Contains(out, "Other devices") || !strings.Contains(out, oldID) || !strings.Contains(out, "devices revoke") {
			t.Errorf("set-pin after the transfer does not offer the old phone for removal: %q", out)
		}
		newID := newPhone.binding(t)
		if after := in.account(t, anna); after.Status != account.Active || after.Proofing != acct.Proofing ||
			after.PasswordHash != acct.PasswordHash {
			t.Errorf("account after the transfer %+v, before %+v", after, acct)
		}
		// The new binding has the account's level; the old phone keeps
		// working.
		newPhone.must(t, "login", "--pin", newPIN)
		if got := newPhone.read(t).Session.ACR; got != oldACR || got == "" {
			t.Errorf("acr of the new phone %q, of the old %q", got, oldACR)
		}
		oldPhone.must(t, "devices", "list", "--pin", oldPIN)
		if b := in.stored(t, oldID); b.Status != device.Active {
			t.Errorf("old phone after the transfer: %s", b.Status)
		}
		kinds, _ := in.auditKinds(t, acct.ID)
		for _, k := range []audit.Kind{audit.DeviceTransferApproved, audit.DeviceTransferRedeemed, audit.DeviceBound} {
			if kinds[k] == 0 {
				t.Errorf("audit lacks %s: %v", k, kinds)
			}
		}
		var subjects []string
		for _, m := range relay.messages() {
			subjects = append(subjects, m.subject)
			if strings.Contains(m.raw, secret) || strings.Contains(m.raw, strings.TrimPrefix(code, "pforte-transfer:")) {
				t.Error("a mail carries a transfer secret")
			}
		}
		for _, want := range []string{"Umzug auf ein neues Gerät bestätigt", "Neues Gerät verbunden"} {
			if !strings.Contains(strings.Join(subjects, "|"), want) {
				t.Errorf("mails %q lack %q", subjects, want)
			}
		}

		// ---- replayed: the code approves once, the secret redeems once ----
		oldPhone.refused(t, "bereits verwendet", "transfer", "approve", code, "--pin", oldPIN)
		r := sendJSON(t, http.MethodPost, in.base+"/app/v1/transfers/redemption", map[string]string{"transfer_secret": secret}, nil)
		wantProblem(t, r, http.StatusConflict, "conflict")
		if got := r.json(t)["code"]; got != "transfer.used" {
			t.Errorf("replayed secret: code %v", got)
		}

		// ---- concurrent redemption: exactly one session ----
		racer := newCLIPhone(t, bin, in.issuer)
		racer.must(t, "transfer", "begin", "--issuer", in.issuer, "--kvnr", anna.KVNR.String(), "--no-wait")
		raceSecret := racer.read(t).Transfer.Secret
		// The QR code's text, as the old phone reads it: a bare code may begin
		// with '-', which a command line takes for a flag.
		oldPhone.must(t, "transfer", "approve", "pforte-transfer:"+racer.read(t).Transfer.Code, "--pin", oldPIN)
		const n = 8
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				statuses[i] = sendJSON(t, http.MethodPost, in.base+"/app/v1/transfers/redemption",
					map[string]string{"transfer_secret": raceSecret}, nil).status
			})
		}
		wg.Wait()
		created := 0
		for _, s := range statuses {
			switch s {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
			default:
				t.Errorf("a concurrent redemption answered %d", s)
			}
		}
		if created != 1 {
			t.Errorf("%d of %d concurrent redemptions got a session: %v", created, n, statuses)
		}

		// ---- scanned by a phone of another member: refused, nothing changes ----
		bodoPhone := newCLIPhone(t, bin, in.issuer)
		bodoPhone.enrollWithLetter(t, bodo, w.letterFor(t, in, bodo), "Bodos Handy", otherPIN)
		third := newCLIPhone(t, bin, in.issuer)
		thirdCode := transferCode(t, third.must(t, "transfer", "begin", "--issuer", in.issuer, "--kvnr", anna.KVNR.String(), "--no-wait"))
		bodoBefore := len(in.bindings(t, in.account(t, bodo).ID))
		bodoPhone.refused(t, "gehört nicht zu Ihrem Zugang", "transfer", "approve", thirdCode, "--pin", otherPIN)
		third.refused(t, "not confirmed yet", "transfer", "redeem", "--wait", "0")
		if got := len(in.bindings(t, in.account(t, bodo).ID)); got != bodoBefore {
			t.Errorf("bodo's devices after the refusal: %d, before %d", got, bodoBefore)
		}
		oldPhone.must(t, "transfer", "approve", thirdCode, "--pin", oldPIN)
		third.must(t, "transfer", "redeem", "--wait", "0")

		// ---- expired: five minutes on the server's clock ----
		late := newCLIPhone(t, bin, in.issuer)
		lateCode := transferCode(t, late.must(t, "transfer", "begin", "--issuer", in.issuer, "--kvnr", anna.KVNR.String(), "--no-wait"))
		in.clock.Advance(5 * time.Minute)
		oldPhone.refused(t, "abgelaufen", "transfer", "approve", lateCode, "--pin", oldPIN)
		late.refused(t, "abgelaufen", "transfer", "redeem", "--wait", "0")

		// ---- a revoked binding cannot approve a transfer ----
		newPhone.must(t, "devices", "revoke", oldID, "--pin", newPIN)
		fourth := newCLIPhone(t, bin, in.issuer)
		fourthCode := transferCode(t, fourth.must(t, "transfer", "begin", "--issuer", in.issuer, "--kvnr", anna.KVNR.String(), "--no-wait"))
		oldPhone.refused(t, "nicht (mehr)", "transfer", "approve", fourthCode, "--pin", oldPIN)
		fourth.refused(t, "not confirmed yet", "transfer", "redeem", "--wait", "0")

		// ---- lost phone: a new letter binds a spare phone; the lost one
		// keeps working until the member removes it ----
		in.clock.Advance(7*24*time.Hour + time.Hour) // the letter interval
		boundMails := func() int {
			n := 0
			for _, m := range relay.messages() {
				if m.subject == "Neues Gerät verbunden" {
					n++
				}
			}
			return n
		}
		before := boundMails()
		spare := newCLIPhone(t, bin, in.issuer)
		out = spare.enrollWithLetter(t, anna, w.letterFor(t, in, anna), "Ersatzhandy", "650193")
		if !strings.Contains(out, "Other devices") || !strings.Contains(out, newID) {
			t.Errorf("set-pin after a new letter does not list the other phone: %q", out)
		}
		if boundMails() != before+1 {
			t.Errorf("mails about a new device: %d, before %d", boundMails(), before)
		}
		newPhone.must(t, "devices", "list", "--pin", newPIN)
		spare.must(t, "devices", "revoke", newID, "--pin", "650193")
		newPhone.refused(t, "nicht (mehr)", "devices", "list", "--pin", newPIN)
		if b := in.stored(t, newID); b.Status != device.Revoked {
			t.Errorf("the lost phone after its removal: %s", b.Status)
		}
	})
}

// bindings lists the bindings of account id, revoked ones included.
func (in *instance) bindings(t *testing.T, id string) []device.Binding {
	t.Helper()
	bs, err := in.srv.Store().ListBindings(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}
