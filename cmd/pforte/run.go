package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pforte-id/pforte/adapters/keys"
	"github.com/pforte-id/pforte/adapters/notify/logsink"
	"github.com/pforte-id/pforte/adapters/notify/mail"
	"github.com/pforte-id/pforte/adapters/ops"
	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/tracing"
	"github.com/pforte-id/pforte/adapters/webauthn"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/backchannel"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/housekeeping"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/lifecycle"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/login"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/core/signkey"
	"github.com/pforte-id/pforte/ports/notify"
)

// This file turns the configuration into the parts of package server and
// the operator back ends; package server does the wiring itself.

// defaultWiring is the wiring run uses.
func defaultWiring() wiring {
	return wiring{
		serve: serve, openMigrator: openMigrator, openAdmin: openAdmin,
		openMembers: openMembers, openLetters: openLetters, openDevices: openDevices, openSupport: openSupport,
		openHousekeeping: openHousekeeping,
	}
}

// storageConfig is the storage adapter's configuration from cfg.
func storageConfig(cfg *Config) sqlstore.Config {
	sc := sqlstore.Config{Driver: cfg.Storage.Type, DSN: cfg.Storage.DSN.Reveal(), MaxOpenConns: cfg.Storage.MaxOpenConns}
	return sc.WithDefaults()
}

// prepareStorage creates the directory of a SQLite database file.
func prepareStorage(sc sqlstore.Config) error {
	if sc.Driver != sqlstore.DriverSQLite {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(sc.DSN), 0o700); err != nil {
		return fmt.Errorf("create the data directory: %w", err)
	}
	return nil
}

// warnOpenDataDir warns when others than the owner may read or enter the
// data directory: it holds the database and, in development, the master
// key. Pforte creates it 0700 (and the database files 0600) but leaves the
// mode of an existing directory to its operator.
func warnOpenDataDir(log *slog.Logger, dir string) {
	if mode, open := openToOthers(dir); open {
		log.Warn("the data directory is open to other users; restrict it with chmod 700",
			"data_dir", dir, "mode", fmt.Sprintf("%04o", mode))
	}
}

// openToOthers reports whether dir is an existing directory that users
// other than its owner may read or enter, and its permission bits.
func openToOthers(dir string) (os.FileMode, bool) {
	if dir == "" {
		return 0, false
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return 0, false
	}
	return fi.Mode().Perm(), fi.Mode().Perm()&0o077 != 0
}

// options resolves cfg into the server's options: the master key, the
// clients and, in development, the demo members.
func options(ctx context.Context, cfg *Config, log *slog.Logger) (server.Options, error) {
	o, err := baseOptions(cfg, log)
	if err != nil {
		return o, err
	}
	secrets, err := server.SecretHasher(o.MasterKey)
	if err != nil {
		return o, err
	}
	now := time.Now()
	if o.Clients, err = loadClients(cfg, secrets, now); err != nil {
		return o, err
	}
	hasher, err := password.NewHasher(o.PasswordParams, o.HashConcurrency, o.HashMaxWait)
	if err != nil {
		return o, err
	}
	demo, err := loadMembers(ctx, cfg, hasher, now)
	if err != nil {
		return o, err
	}
	o.Members = make([]server.Member, len(demo))
	for i, d := range demo {
		o.Members[i] = server.Member{Account: d.Account, Member: d.Member, Device: d.Device}
	}
	return o, nil
}

// baseOptions resolves everything of the server's options but the clients
// and demo members, which the operator back end (server.OpenBackend) does
// not apply: the master key (generated on the first start in
// development), the data directory and the notifier.
func baseOptions(cfg *Config, log *slog.Logger) (server.Options, error) {
	master, err := resolveMasterKey(cfg, log)
	if err != nil {
		return server.Options{}, err
	}
	if err := prepareStorage(storageConfig(cfg)); err != nil {
		return server.Options{}, err
	}
	notifier, err := newNotifier(cfg, log)
	if err != nil {
		return server.Options{}, err
	}
	o, err := serverOptions(cfg, master, notifier)
	if err != nil {
		return o, err
	}
	o.Log = log
	return o, nil
}

// serverOptions maps cfg onto the server's options: each section onto the
// configuration of the package that owns it, with nothing added, so that
// every default and bound is that package's. It creates nothing; it reads
// devices.packed_roots_file. Errors name the key.
func serverOptions(cfg *Config, master []byte, notifier notify.Notifier) (server.Options, error) {
	var o server.Options
	proxies, err := cfg.TrustedProxies()
	if err != nil {
		return o, bad("registration.trusted_proxies", "%s", err)
	}
	vocabulary, err := loa.VocabularyNamed(cfg.Login.ACRVocabulary)
	if err != nil {
		return o, cfg.keyed(err)
	}
	dc, bc, err := deviceConfig(cfg)
	if err != nil {
		return o, err
	}
	peppers, pepperVersion, err := pinPeppers(cfg)
	if err != nil {
		return o, err
	}
	t, lt, rg := cfg.Tokens, cfg.Letters, cfg.Registration
	// Both windows 0 is a setting (only members insured today), not
	// "unset": the defaults are in cfg already (defaultConfig).
	eligibility := cfg.eligibility()
	return server.Options{
		Issuer:      cfg.Server.Issuer,
		Storage:     storageConfig(cfg),
		AutoMigrate: cfg.Storage.AutoMigrate,
		MasterKey:   master,
		Keys:        keys.Config{Policy: cfg.KeyPolicy()},
		Authz: authz.Config{
			CodeTTL: t.CodeTTL, AuthRequestTTL: t.AuthRequestTTL, AccessTokenTTL: t.AccessTokenTTL,
			IDTokenTTL: t.IDTokenTTL, RefreshIdleTTL: t.RefreshIdleTTL, RefreshAbsoluteTTL: t.RefreshAbsoluteTTL,
			Vocabulary: vocabulary, KVNRClaims: slices.Clone(t.KVNRClaims), TrustFramework: t.TrustFramework,
		},
		PasswordParams:  cfg.PasswordParams(),
		HashConcurrency: cfg.Login.HashConcurrency,
		HashMaxWait:     cfg.Login.HashMaxWait,
		OutboxDir:       lt.OutboxDir,
		Registration: registration.Config{
			Sender: lt.Sender, ContactPhone: lt.ContactPhone, ContactAddress: lt.ContactAddress, AppStoreURL: lt.AppStoreURL,
			Letter: letter.Policy{
				Validity: lt.Validity, MinInterval: lt.MinInterval, MaxAttempts: lt.MaxAttempts,
				AttemptsPerKVNR: lt.AttemptsPerKVNR, AttemptWindow: lt.AttemptWindow, GuardWindow: lt.GuardWindow,
			},
			Eligibility:       &eligibility,
			PerIP:             registration.Limit{Max: rg.RequestsPerIPPerHour, Window: time.Hour},
			PerKVNR:           registration.Limit{Max: rg.RequestsPerKVNRPerDay, Window: 24 * time.Hour},
			ActivationsPerIP:  registration.Limit{Max: rg.ActivationsPerIPPerHour, Window: time.Hour},
			RegistrationLease: rg.RequestLease,
			LetterLease:       rg.LetterLease,
		},
		Devices:          dc,
		Binding:          bc,
		Login:            login.Config{Throttle: cfg.ThrottlePolicy()},
		Session:          session.Policy{Idle: cfg.Login.SessionIdle, Absolute: cfg.Login.SessionAbsolute},
		PINPeppers:       peppers,
		PINPepperVersion: pepperVersion,
		Notifier:         notifier,
		TrustedProxies:   proxies,
		WorkerInterval:   rg.WorkerInterval,
		Logout: backchannel.Config{
			Timeout: cfg.Logout.BackchannelTimeout, GiveUpAfter: cfg.Logout.BackchannelGiveUpAfter,
			RetryFirst: cfg.Logout.BackchannelRetryFirst, RetryMax: cfg.Logout.BackchannelRetryMax,
		},
		LogoutInterval: cfg.Logout.BackchannelInterval,
		Housekeeping: housekeeping.Config{
			Interval: cfg.Housekeeping.Interval, Lease: cfg.Housekeeping.Lease,
			LetterSecrets: cfg.Housekeeping.LetterSecretsKept, Enrollments: cfg.Housekeeping.EnrollmentsKept,
		},
		Lifecycle: lifecycle.Config{SyncMaxDrop: cfg.Members.SyncMaxDrop, Retention: cfg.Members.Retention},
		EID:       cfg.eidOptions(),
		Tracing: tracing.Config{
			Enabled: cfg.Tracing.Enabled, Endpoint: cfg.Tracing.Endpoint,
			SampleRatio: cfg.Tracing.SampleRatio, ServiceName: cfg.Tracing.ServiceName,
		},
	}, nil
}

// deviceConfig is the WebAuthn relying party and the binding policies of
// cfg. The PIN policy is pin.DefaultPolicy with the configured failures
// and delays.
func deviceConfig(cfg *Config) (webauthn.Config, binding.Config, error) {
	d := cfg.Devices
	wc := webauthn.Config{RPID: d.RPID, Origins: d.AppOrigins}
	if d.PackedRootsFile != "" {
		pemData, err := os.ReadFile(d.PackedRootsFile)
		if err != nil {
			return wc, binding.Config{}, bad("devices.packed_roots_file", "%s", readError(err))
		}
		if wc.PackedRoots, err = webauthn.ParseCertificates(pemData); err != nil {
			return wc, binding.Config{}, bad("devices.packed_roots_file", "%s", fault.PublicOf(err))
		}
	}
	if d.AndroidRevocationFile != "" {
		list, err := webauthn.OpenRevocationList(d.AndroidRevocationFile)
		if err != nil {
			return wc, binding.Config{}, bad("devices.android_revocation_file", "%s", fault.PublicOf(err))
		}
		wc.Revocations = list
	}
	wc.AppleAppID = d.AppleAppID
	pp := pin.DefaultPolicy
	pp.MaxFailures, pp.Delays = cfg.PIN.MaxFailures, slices.Clone(cfg.PIN.Delays)
	dev := d.Attestation == "development"
	bc := binding.Config{
		Device: device.Policy{
			AndroidPackage: d.AndroidPackage, AndroidCertDigests: d.AndroidCertDigests,
			// A developer's test phone often has an open bootloader; a
			// member's never may (see device.Policy.AllowOpenDevice).
			AllowOpenDevice: dev,
			AppleAppID:      d.AppleAppID, AllowAppAttestDevelop: d.AppleEnvironment == "development",
			AllowPacked: len(wc.PackedRoots) > 0, AllowUnattested: dev,
		},
		PIN:         pp,
		Reconfirm:   device.Reconfirm{Period: d.ReconfirmPeriod},
		TransferTTL: d.TransferTTL, TransfersPerIP: d.TransfersPerIP, TransferWindow: d.TransferWindow,
	}
	return wc, bc, nil
}

// newNotifier builds the member notifications of cfg: e-mail over SMTP, or
// in development the log.
func newNotifier(cfg *Config, log *slog.Logger) (notify.Notifier, error) {
	if cfg.Notify.Type != "smtp" {
		return logsink.New(log), nil
	}
	m, err := mail.New(cfg.mailConfig())
	if err != nil {
		return nil, cfg.keyed(err)
	}
	return m, nil
}

// pinPeppers are the configured PIN peppers; none: the server derives
// version 1 from the master key.
func pinPeppers(cfg *Config) ([]pin.Pepper, int, error) {
	keys, version, err := cfg.PINPeppers()
	if err != nil {
		return nil, 0, err
	}
	out := make([]pin.Pepper, 0, len(keys))
	for v, k := range keys {
		out = append(out, pin.Pepper{Version: v, Key: k})
	}
	return out, version, nil
}

// serve builds the server from cfg (already validated), listens on
// cfg.Server.Addr and blocks until ctx ends, then shuts down gracefully
// within cfg.Server.ShutdownTimeout.
func serve(ctx context.Context, cfg *Config, log *slog.Logger, stdout io.Writer) error {
	// Libraries log through the default logger: make it ours, so that
	// their lines are structured and go where ours go, with their refused
	// requests at INFO (libraryHandler).
	if cfg.Tracing.Enabled {
		// The lines libraries write for a request carry its trace too.
		log = slog.New(tracing.LogHandler(log.Handler()))
	}
	slog.SetDefault(slog.New(libraryHandler{log.Handler()}))
	o, err := options(ctx, cfg, log)
	if err != nil {
		return err
	}
	o.Version = version
	warnOpenDataDir(log, cfg.Server.DataDir)
	if wantsDevEID(cfg) {
		stopEID, err := startDevEID(ctx, cfg, &o, log)
		if err != nil {
			return err
		}
		defer stopEID()
	}
	srv, err := server.New(ctx, o)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Addr, err)
	}
	ids := make([]string, len(o.Clients))
	for i, c := range o.Clients {
		ids[i] = c.ID
	}
	sort.Strings(ids)
	if cfg.Server.AdminAddr != "" {
		stopAdmin, err := serveAdmin(ctx, cfg.Server.AdminAddr, srv, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopAdmin()
	}
	log.Info("Pforte is listening",
		"addr", ln.Addr().String(),
		"issuer", srv.Issuer(),
		"environment", string(cfg.Server.Environment),
		"storage", cfg.Storage.Type,
		"discovery", srv.DiscoveryURL(),
		"clients", strings.Join(ids, ","),
		"demo_members", len(o.Members),
	)
	if cfg.Server.Environment == Development {
		log.Info("Next steps: open the discovery URL, or start a login with the demo client online-forms; " +
			"demo members and their passwords are in configs/dev/members.yaml. See README.md.")
		if cfg.ClientsFile == "" && cfg.MembersFile == "" {
			// The embedded demo files: the welcome's member and client exist.
			if err := printWelcome(stdout, srv.Issuer(), o.Clients); err != nil {
				ln.Close()
				return err
			}
		}
	}
	return srv.Serve(ctx, ln, cfg.Server.ShutdownTimeout)
}

// serveAdmin listens on addr and serves the operations endpoints (pprof,
// health) there until the returned stop is called.
func serveAdmin(ctx context.Context, addr string, srv *server.Server, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (server.admin_addr): %w", addr, err)
	}
	hs := &http.Server{
		Handler:           srv.Instrument(ops.Handler(srv.Ready, srv.Metrics())),
		ReadHeaderTimeout: 10 * time.Second,
		// No write timeout: a CPU profile or trace streams for ?seconds=N.
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("admin endpoints (metrics, pprof, health) are listening", "addr", ln.Addr().String())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener failed", "err", err)
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if hs.Shutdown(sctx) != nil {
			hs.Close()
		}
		<-done
	}, nil
}

// sqlMigrator adapts the storage adapter to `pforte migrate`.
type sqlMigrator struct{ st *sqlstore.Store }

func (m sqlMigrator) Up(ctx context.Context) ([]migration, error) {
	applied, err := m.st.Migrate(ctx)
	if err != nil {
		return nil, err
	}
	all, err := m.Status(ctx)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, mg := range all {
		if slices.Contains(applied, mg.Version) {
			out = append(out, mg)
		}
	}
	return out, nil
}

func (m sqlMigrator) Status(ctx context.Context) ([]migration, error) {
	st, err := m.st.MigrationStatus(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]migration, len(st.Migrations))
	for i, mg := range st.Migrations {
		out[i] = migration{Version: mg.Version, Name: mg.Name, AppliedAt: mg.AppliedAt}
	}
	return out, nil
}

func (m sqlMigrator) Close() error { return m.st.Close() }

// openMigrator opens the database of cfg for `pforte migrate`. It does not
// need the master key.
func openMigrator(ctx context.Context, cfg *Config, _ *slog.Logger) (migrator, error) {
	sc := storageConfig(cfg)
	if err := prepareStorage(sc); err != nil {
		return nil, err
	}
	st, err := sqlstore.Open(ctx, sc)
	if err != nil {
		return nil, err
	}
	return sqlMigrator{st}, nil
}

// sqlAdmin is server.Admin as the operator back end for `pforte clients`
// and `pforte keys`.
type sqlAdmin struct {
	*sqlstore.Store
	admin *server.Admin
}

func (a sqlAdmin) SecretHasher() client.SecretHasher { return a.admin.SecretHasher() }

func (a sqlAdmin) RotateKeys(ctx context.Context, force bool) (signkey.Plan, error) {
	r, err := a.admin.Keys(ctx)
	if err != nil {
		return signkey.Plan{}, err
	}
	return r.Rotate(ctx, force)
}

func (a sqlAdmin) Close() error { return a.admin.Close() }

// openAdmin opens the store, the client secret hash and the signing keys
// of cfg for `pforte clients` and `pforte keys` as `pforte serve` builds
// them (server.OpenAdmin): the same schema check, master key and key
// policy, without use cases, clients, members or a listener.
func openAdmin(ctx context.Context, cfg *Config, log *slog.Logger) (admin, error) {
	o, err := baseOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	a, err := server.OpenAdmin(ctx, o)
	if err != nil {
		return nil, err
	}
	return sqlAdmin{Store: a.Store(), admin: a}, nil
}
