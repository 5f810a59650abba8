package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/adapters/notify/mail"
	"github.com/pforte-id/pforte/adapters/outbox"
	"github.com/pforte-id/pforte/adapters/proofing/eid"
	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/webauthn"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/signkey"
)

// This file is `pforte doctor`: it checks a deployment from its
// configuration, as an operator would before starting replicas or after
// something broke, and changes nothing: it opens the database without
// migrating it, inspects the signing keys without creating or rotating
// any, generates no development master key, and writes only a temporary
// file into the outbox that it removes again.

// verdict is the outcome of one check.
type verdict string

const (
	verdictOK   verdict = "OK"
	verdictWarn verdict = "WARN" // works, but an operator should look
	verdictFail verdict = "FAIL" // Pforte cannot serve (or not fully) like this
	verdictSkip verdict = "SKIP" // not checked: it needs what failed before, or is not configured
)

// checkResult is one line of the doctor's report.
type checkResult struct {
	Name    string
	Verdict verdict
	// Detail is what the check found.
	Detail string
	// Fix is what to do about a WARN or FAIL.
	Fix string
}

// The checks in the order they run and print. A later check that needs an
// earlier one's result is skipped when that one failed.
const (
	checkConfig      = "config"
	checkDataDir     = "data dir"
	checkMasterKey   = "master key"
	checkClients     = "clients"
	checkDatabase    = "database"
	checkSchema      = "schema"
	checkSigningKeys = "signing keys"
	checkRotation    = "key rotation"
	checkClock       = "clock"
	checkOutbox      = "outbox"
	checkSMTP        = "smtp"
	checkEID         = "eid"
	checkRevocation  = "revocation list"
)

var allChecks = []string{
	checkConfig, checkDataDir, checkMasterKey, checkClients, checkDatabase, checkSchema,
	checkSigningKeys, checkRotation, checkClock, checkOutbox, checkSMTP, checkEID, checkRevocation,
}

// revocationStale is the age of devices.android_revocation_file beyond
// which the doctor warns. Google updates its list as leaks become known;
// a daily refresh keeps it at most a day behind, and a week means the
// refresh has stopped.
const revocationStale = 7 * 24 * time.Hour

// Clock skew between this host and the database beyond which the doctor
// warns and fails. Replicas compare times they wrote with their own clocks
// (authorization codes live 60 s, DPoP proofs and rate windows are
// counted in seconds), so every host must run a synchronised clock.
const (
	skewWarn = time.Second
	skewFail = 10 * time.Second
)

func (c *cli) doctorCommand() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check a deployment: configuration, database, keys, clock, outbox, mail, eID",
		Long: "Check the deployment the configuration describes and print one line per check:\n" +
			"OK, WARN (works, but look at it), FAIL (what to do follows the dash) or SKIP (not\n" +
			"checked: it needs what failed before, or it is not configured). The doctor changes\n" +
			"nothing: it does not migrate, creates no key and sends no mail. It exits 1 when a\n" +
			"check failed.\n\n" +
			"Checks: " + strings.Join(allChecks, ", ") + ".",
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return usagef("--timeout must be positive")
			}
			cfg, cfgErr := c.config(cmd)
			results := runDoctor(cmd.Context(), cfg, cfgErr, timeout, time.Now)
			return reportDoctor(c.stdout, results)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long each network check (database, SMTP, eID) may take")
	return cmd
}

// reportDoctor prints the results and returns an error when one failed.
func reportDoctor(w io.Writer, results []checkResult) error {
	width := 0
	for _, r := range results {
		width = max(width, len(r.Name))
	}
	fails, warns := 0, 0
	for _, r := range results {
		line := fmt.Sprintf("%-4s  %-*s  %s", r.Verdict, width, r.Name, oneLine(r.Detail))
		if r.Fix != "" {
			line += " — " + oneLine(r.Fix)
		}
		fmt.Fprintln(w, line)
		switch r.Verdict {
		case verdictFail:
			fails++
		case verdictWarn:
			warns++
		}
	}
	switch {
	case fails > 0:
		return fmt.Errorf("doctor: %s failed, %s", plural(fails, "check"), plural(warns, "warning"))
	case warns > 0:
		fmt.Fprintf(w, "No check failed; %s.\n", plural(warns, "warning"))
	default:
		fmt.Fprintln(w, "All checks passed.")
	}
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// doctor holds what the checks found so far.
type doctor struct {
	cfg     *Config
	timeout time.Duration
	now     func() time.Time
	out     []checkResult

	master []byte // nil: no usable master key
	store  *sqlstore.Store
	// schemaCurrent is the database's schema version (0: none applied).
	schemaCurrent int64
	keys          []keys.KeyInfo
	keysOK        bool
}

func (d *doctor) add(name string, v verdict, detail, fix string) {
	d.out = append(d.out, checkResult{Name: name, Verdict: v, Detail: detail, Fix: fix})
}

func (d *doctor) ok(name, detail string)        { d.add(name, verdictOK, detail, "") }
func (d *doctor) warn(name, detail, fix string) { d.add(name, verdictWarn, detail, fix) }
func (d *doctor) fail(name, detail, fix string) { d.add(name, verdictFail, detail, fix) }
func (d *doctor) skip(name, why string)         { d.add(name, verdictSkip, why, "") }

// runDoctor runs every check against cfg (cfgErr: why the configuration
// did not load) and returns the results in the order of allChecks.
func runDoctor(ctx context.Context, cfg *Config, cfgErr error, timeout time.Duration, now func() time.Time) []checkResult {
	d := &doctor{cfg: cfg, timeout: timeout, now: now}
	if cfgErr != nil {
		d.fail(checkConfig, strings.TrimPrefix(cfgErr.Error(), "config: "),
			"correct the configuration (file, PFORTE_* variables, flags) and run pforte doctor again")
		for _, name := range allChecks[1:] {
			d.skip(name, "needs a valid configuration")
		}
		return d.out
	}
	defer func() {
		if d.store != nil {
			_ = d.store.Close()
		}
	}()
	d.config()
	d.dataDir()
	d.masterKey()
	d.clients()
	d.database(ctx)
	d.schema(ctx)
	d.signingKeys(ctx)
	d.rotation()
	d.clock(ctx)
	d.outbox()
	d.smtp(ctx)
	d.eid(ctx)
	d.revocation()
	return d.out
}

func (d *doctor) config() {
	cfg := d.cfg
	d.ok(checkConfig, fmt.Sprintf("%s, issuer %s, storage %s", cfg.Server.Environment, cfg.Server.Issuer, cfg.Storage.Type))
}

func (d *doctor) dataDir() {
	dir := d.cfg.Server.DataDir
	if d.cfg.Storage.Type != sqlstore.DriverSQLite && d.cfg.Server.Environment != Development {
		d.skip(checkDataDir, "not used: PostgreSQL holds the data and the master key is configured")
		return
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.warn(checkDataDir, dir+" does not exist", "pforte serve creates it (mode 0700) at its first start")
	case err != nil:
		d.fail(checkDataDir, err.Error(), "make the data directory readable for the user Pforte runs as")
	case !fi.IsDir():
		d.fail(checkDataDir, dir+" is not a directory", "set server.data_dir to a directory")
	default:
		if mode, open := openToOthers(dir); open {
			d.warn(checkDataDir, fmt.Sprintf("%s is open to other users (mode %04o)", dir, mode),
				"restrict it with chmod 700: it holds the database and, in development, the master key")
			return
		}
		d.ok(checkDataDir, dir)
	}
}

func (d *doctor) masterKey() {
	key, devPath, err := readMasterKey(d.cfg)
	switch {
	case err != nil:
		d.fail(checkMasterKey, strings.TrimPrefix(err.Error(), "config: "), "configure keys.master_key_file with the key the signing keys were sealed with")
	case key == nil:
		d.warn(checkMasterKey, "no development master key at "+devPath,
			"pforte serve generates one at its first start; keep it with the database")
	case devPath != "":
		d.master = key
		d.ok(checkMasterKey, "the development key "+devPath)
	case d.cfg.Keys.MasterKeyFile != "":
		d.master = key
		d.ok(checkMasterKey, "from "+d.cfg.Keys.MasterKeyFile)
	default:
		d.master = key
		d.ok(checkMasterKey, "from keys.master_key")
	}
}

func (d *doctor) clients() {
	// The file's validity does not depend on the key its secrets are
	// hashed under; without a master key a stand-in checks it as well.
	master := d.master
	if master == nil {
		master = make([]byte, keys.MasterKeySize)
	}
	hasher, err := server.SecretHasher(master)
	if err != nil {
		d.fail(checkClients, err.Error(), "")
		return
	}
	cs, err := loadClients(d.cfg, hasher, d.now())
	switch {
	case err != nil:
		d.fail(checkClients, strings.TrimPrefix(err.Error(), "config: "), "correct the clients file; pforte serve refuses to start with it")
	case d.cfg.ClientsFile == "" && len(cs) == 0:
		d.ok(checkClients, "no clients file: the clients are those registered with pforte clients add")
	case d.cfg.ClientsFile == "":
		d.ok(checkClients, fmt.Sprintf("%d demo clients (embedded configs/dev/clients.yaml)", len(cs)))
	default:
		d.ok(checkClients, fmt.Sprintf("%d clients in %s", len(cs), d.cfg.ClientsFile))
	}
}

// sqlitePath is the database file of a SQLite DSN ("" for an in-memory
// database).
func sqlitePath(dsn string) string {
	path, query, _ := strings.Cut(dsn, "?")
	path = strings.TrimPrefix(path, "file:")
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.Contains(query, "mode=memory") {
		return ""
	}
	return path
}

func (d *doctor) database(ctx context.Context) {
	sc := storageConfig(d.cfg)
	where := "PostgreSQL"
	if sc.Driver == sqlstore.DriverSQLite {
		path := sqlitePath(sc.DSN)
		where = "SQLite " + path
		// Opening would create the file: say that there is none instead.
		if _, err := os.Stat(path); path != "" && errors.Is(err, fs.ErrNotExist) {
			if d.cfg.Storage.AutoMigrate {
				d.warn(checkDatabase, "no database at "+path, "pforte serve creates and migrates it at start (storage.auto_migrate)")
			} else {
				d.fail(checkDatabase, "no database at "+path, "run pforte migrate up, or restore a backup there")
			}
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	st, err := sqlstore.Open(ctx, sc)
	if err != nil {
		fix := "check storage.dsn and that the database runs and accepts connections from this host"
		if sc.Driver == sqlstore.DriverSQLite {
			fix = "check that the database file is readable and writable for the user Pforte runs as"
		}
		d.fail(checkDatabase, where+" does not answer: "+why(err), fix)
		return
	}
	d.store = st
	d.ok(checkDatabase, where+" answers")
}

func (d *doctor) schema(ctx context.Context) {
	if d.store == nil {
		d.skip(checkSchema, "needs the database")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	st, err := d.store.MigrationStatus(ctx)
	if err != nil {
		d.fail(checkSchema, "cannot read the schema version: "+why(err), "check the database")
		return
	}
	d.schemaCurrent = st.Current
	switch {
	case st.Current > st.Latest:
		d.fail(checkSchema, fmt.Sprintf("version %d, newer than this Pforte knows (%d)", st.Current, st.Latest),
			"a newer Pforte migrated this database: run that version (migrations are not rolled back)")
	case st.UpToDate():
		d.ok(checkSchema, fmt.Sprintf("version %d, all %d migrations applied", st.Current, len(st.Migrations)))
	case d.cfg.Storage.AutoMigrate:
		d.warn(checkSchema, fmt.Sprintf("version %d, %d migrations pending (up to %d)", st.Current, len(st.Pending), st.Latest),
			"pforte serve applies them at start (storage.auto_migrate); or run pforte migrate up now")
	default:
		d.fail(checkSchema, fmt.Sprintf("version %d, %d migrations pending (up to %d)", st.Current, len(st.Pending), st.Latest),
			"run pforte migrate up before starting this version (storage.auto_migrate is off)")
	}
}

func (d *doctor) signingKeys(ctx context.Context) {
	switch {
	case d.store == nil:
		d.skip(checkSigningKeys, "needs the database")
		return
	case d.schemaCurrent == 0:
		d.skip(checkSigningKeys, "the database has no schema yet")
		return
	case d.master == nil:
		d.skip(checkSigningKeys, "needs the master key")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	ks, err := keys.Inspect(ctx, d.store, d.master)
	switch {
	case err != nil && fault.KindOf(err) == fault.Internal:
		d.fail(checkSigningKeys, fault.PublicOf(err),
			"the master key is not the one the keys were sealed with: configure the original (from the backup kept with the database); a new key cannot open them")
		return
	case err != nil:
		d.fail(checkSigningKeys, "cannot read the signing keys: "+why(err), "check the database")
		return
	case len(ks) == 0:
		d.warn(checkSigningKeys, "none yet", "pforte serve creates them at its first start")
		return
	}
	d.keys, d.keysOK = ks, true
	count := map[signkey.State]int{}
	for _, k := range ks {
		count[k.State]++
	}
	d.ok(checkSigningKeys, fmt.Sprintf("the master key opens them: %d active, %d next, %d retired",
		count[signkey.Active], count[signkey.Next], count[signkey.Retired]))
}

func (d *doctor) rotation() {
	if !d.keysOK {
		d.skip(checkRotation, "needs the signing keys")
		return
	}
	policy := d.cfg.KeyPolicy()
	now := d.now()
	var active, next *keys.KeyInfo
	for i := range d.keys {
		k := &d.keys[i]
		switch k.State {
		case signkey.Active:
			if active == nil || k.ActivatedAt.After(active.ActivatedAt) {
				active = k
			}
		case signkey.Next:
			if next == nil || k.CreatedAt.Before(next.CreatedAt) {
				next = k
			}
		}
	}
	const runServe = "keys rotate while pforte serve runs: start it, or run pforte keys rotate"
	if active == nil {
		d.warn(checkRotation, "no active key", runServe)
		return
	}
	age := now.Sub(active.ActivatedAt)
	text := fmt.Sprintf("active key %s signing for %s", active.ID, span(age))
	if policy.Lifetime > 0 {
		text += fmt.Sprintf(" of %s (keys.rotation_days)", span(policy.Lifetime))
	} else {
		text += " (keys.rotation_days: 0, rotated only by pforte keys rotate)"
	}
	if next == nil {
		d.warn(checkRotation, text+"; no next key published", runServe)
		return
	}
	published := now.Sub(next.CreatedAt)
	text += fmt.Sprintf("; next key %s published for %s", next.ID, span(published))
	if published < policy.Publish {
		text += fmt.Sprintf(" of the %s before it may sign", span(policy.Publish))
	}
	// A running replica applies a due rotation within keys.DefaultRefresh;
	// a rotation overdue by more than an hour means none ran.
	if policy.Lifetime > 0 && age > policy.Lifetime+time.Hour && published >= policy.Publish {
		d.warn(checkRotation, text+"; the rotation is overdue", runServe)
		return
	}
	d.ok(checkRotation, text)
}

// span writes a duration as an operator reads it: days, hours, minutes or
// seconds, rounded down.
func span(t time.Duration) string {
	switch {
	case t >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(t/(24*time.Hour)))
	case t >= 2*time.Hour:
		return fmt.Sprintf("%dh", int(t/time.Hour))
	case t >= 2*time.Minute:
		return fmt.Sprintf("%dm", int(t/time.Minute))
	default:
		return fmt.Sprintf("%ds", int(t/time.Second))
	}
}

func (d *doctor) clock(ctx context.Context) {
	if d.store == nil {
		d.skip(checkClock, "needs the database")
		return
	}
	if d.store.Driver() == sqlstore.DriverSQLite {
		d.ok(checkClock, "SQLite runs on this host's clock")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	before := d.now()
	db, err := d.store.Clock(ctx)
	after := d.now()
	if err != nil {
		d.fail(checkClock, "cannot read the database's clock: "+why(err), "check the database")
		return
	}
	// The database read its clock somewhere in the round trip; its middle
	// is the best guess, off by at most half the round trip.
	rtt := after.Sub(before)
	skew := db.Sub(before.Add(rtt / 2))
	text := fmt.Sprintf("this host is %s %s the database (round trip %s)",
		skew.Abs().Round(time.Millisecond), map[bool]string{true: "behind", false: "ahead of"}[skew > 0], rtt.Round(time.Millisecond))
	const fix = "synchronise the clocks of the database and of every replica host with NTP (chrony, systemd-timesyncd)"
	switch {
	case skew.Abs() > skewFail+rtt/2:
		d.fail(checkClock, text, fix)
	case skew.Abs() > skewWarn+rtt/2:
		d.warn(checkClock, text, fix)
	default:
		d.ok(checkClock, text)
	}
}

func (d *doctor) outbox() {
	dir := d.cfg.Letters.OutboxDir
	err := outbox.Probe(outbox.Config{Dir: dir})
	switch {
	case err == nil:
		d.ok(checkOutbox, dir+" is writable")
	case errors.Is(err, fault.NotFound):
		d.warn(checkOutbox, dir+" does not exist", "pforte serve creates it (mode 0700) at start; create it now if the print service must see it first")
	default:
		d.fail(checkOutbox, "letters cannot be handed over in "+dir+": "+why(err),
			"make letters.outbox_dir a directory the user Pforte runs as can write to")
	}
}

// revocation checks Google's attestation status list: it reads and
// parses, and how old it is. The configuration loaded, so the file read
// a moment ago; it is read again as the server would at its next binding.
func (d *doctor) revocation() {
	path := d.cfg.Devices.AndroidRevocationFile
	refresh := "refresh it daily: curl -fsS -o " + path + ".tmp https://android.googleapis.com/attestation/status && mv " + path + ".tmp " + path
	if path == "" {
		if d.cfg.Server.Environment == Production && d.cfg.Devices.AndroidPackage != "" {
			d.warn(checkRevocation, "not configured: Android attestations signed with a leaked key are not refused",
				"set devices.android_revocation_file to a copy of Google's attestation status list and refresh it daily")
			return
		}
		d.skip(checkRevocation, "not configured (devices.android_revocation_file)")
		return
	}
	list, err := webauthn.OpenRevocationList(path)
	if err != nil {
		d.fail(checkRevocation, path+": "+why(err), refresh)
		return
	}
	age := d.now().Sub(list.Loaded())
	detail := fmt.Sprintf("%s, written %s ago", path, age.Round(time.Minute))
	if age > revocationStale {
		d.warn(checkRevocation, detail, "the refresh has stopped; "+refresh)
		return
	}
	d.ok(checkRevocation, detail)
}

func (d *doctor) smtp(ctx context.Context) {
	if d.cfg.Notify.Type != "smtp" {
		d.skip(checkSMTP, "notifications go to the log (notify.type: "+d.cfg.Notify.Type+")")
		return
	}
	mc := d.cfg.mailConfig()
	mc.Timeout = d.timeout
	n, err := mail.New(mc)
	if err != nil {
		d.fail(checkSMTP, why(err), "correct the notify section")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	relay := fmt.Sprintf("%s:%d", d.cfg.Notify.SMTPHost, d.cfg.Notify.SMTPPort)
	if err := n.Probe(ctx); err != nil {
		d.fail(checkSMTP, "the relay "+relay+" does not take a session: "+why(err),
			"check notify.smtp_host, smtp_port, starttls and the credentials; members are not told about changes to their accounts while it fails")
		return
	}
	d.ok(checkSMTP, "the relay "+relay+" takes a session (EHLO, STARTTLS and AUTH as configured; nothing sent)")
}

func (d *doctor) eid(ctx context.Context) {
	switch {
	case wantsDevEID(d.cfg):
		d.skip(checkEID, "the development eID broker, which pforte serve starts on loopback")
		return
	case !d.cfg.EID.Enabled:
		d.skip(checkEID, "not enabled (eid.enabled)")
		return
	}
	o := d.cfg.eidOptions()
	m, err := eid.New(o.Broker, eid.Options{})
	if err != nil {
		d.fail(checkEID, why(err), "correct the eid section")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if err := m.Probe(ctx); err != nil {
		d.fail(checkEID, "the discovery of "+d.cfg.EID.Issuer+" failed: "+why(err),
			"check eid.issuer and that this host reaches the eID service; registration with the ID card fails meanwhile")
		return
	}
	d.ok(checkEID, "the eID service "+d.cfg.EID.Issuer+" answers discovery")
}

// why is an error's text for the report: the public diagnostic and the
// underlying cause, without the chain of operation names.
func why(err error) string {
	public := fault.PublicOf(err)
	var fe *fault.Error
	cause := err
	for errors.As(cause, &fe) {
		next := fe.Unwrap()
		if next == nil {
			cause = nil
			break
		}
		cause = next
	}
	switch {
	case cause == nil && public == "":
		return fault.KindOf(err).String()
	case cause == nil:
		return public
	case public == "":
		return cause.Error()
	default:
		return public + ": " + cause.Error()
	}
}
