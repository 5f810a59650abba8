package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/signkey"
)

// version is the release, set at build time:
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/pforte
var version = "dev"

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // the command line was wrong
)

// wiring is how the commands reach the server parts. run uses the functions
// of run.go; tests pass fakes.
type wiring struct {
	// serve builds the server from cfg, listens and blocks until ctx ends.
	serve func(ctx context.Context, cfg *Config, log *slog.Logger, stdout io.Writer) error
	// openMigrator opens the database for `pforte migrate`.
	openMigrator func(ctx context.Context, cfg *Config, log *slog.Logger) (migrator, error)
	// openAdmin opens the store and the keys for `pforte clients` and `pforte keys`.
	openAdmin func(ctx context.Context, cfg *Config, log *slog.Logger) (admin, error)
	// openMembers opens the member directory for `pforte members`.
	openMembers func(ctx context.Context, cfg *Config, log *slog.Logger) (memberAdmin, error)
	// openLetters builds the registration back end for `pforte letters`.
	openLetters func(ctx context.Context, cfg *Config, log *slog.Logger) (letterAdmin, error)
	// openDevices builds the device binding back end for `pforte devices`
	// and `pforte audit`.
	openDevices func(ctx context.Context, cfg *Config, log *slog.Logger) (deviceAdmin, error)
	// openSupport builds support staff's use case for the support
	// commands (supportcmd.go).
	openSupport func(ctx context.Context, cfg *Config, log *slog.Logger) (supportAdmin, error)
	// openHousekeeping builds the server's housekeeping for `pforte
	// housekeeping`.
	openHousekeeping func(ctx context.Context, cfg *Config, log *slog.Logger) (housekeeper, error)
}

// migrator runs the embedded database migrations.
type migrator interface {
	// Up applies every pending migration and returns those it applied.
	Up(ctx context.Context) ([]migration, error)
	// Status lists every migration, applied or pending, oldest first.
	Status(ctx context.Context) ([]migration, error)
	Close() error
}

// migration is one versioned schema change.
type migration struct {
	Version int64
	Name    string
	// AppliedAt is zero while the migration is pending.
	AppliedAt time.Time
}

// admin is what the operator commands for clients and keys need. The
// client and key methods have the signatures of ports/store, so a store
// can provide them directly.
type admin interface {
	// SecretHasher is the keyed hash client secrets are stored under.
	SecretHasher() client.SecretHasher
	CreateClient(ctx context.Context, c client.Client) error
	ListClients(ctx context.Context) ([]client.Client, error)
	DeleteClient(ctx context.Context, id string) error
	ListSigningKeys(ctx context.Context) ([]signkey.Key, error)
	// RotateKeys rotates the signing keys now (force: even before the next
	// key was published for keys.publish_hours) and returns what it did.
	RotateKeys(ctx context.Context, force bool) (signkey.Plan, error)
	Close() error
}

// usageError is a wrong command line: unknown command or flag, missing or
// extra arguments. It exits with exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// run is the whole command line program: main calls it with the process's
// arguments (without the program name), streams and environment, and exits
// with its result; tests call it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return runWith(ctx, args, stdout, stderr, getenv, defaultWiring())
}

func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, w wiring) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: getenv, wiring: w}
	root := c.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetIn(strings.NewReader(""))
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	msg := oneLine(err.Error())
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "pforte: %s (see '%s --help')\n", msg, cmd.CommandPath())
		return exitUsage
	}
	fmt.Fprintf(stderr, "pforte: %s\n", msg)
	return exitError
}

// oneLine keeps an error message on one line, so that it is one log record
// wherever stderr goes.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// cli holds the streams, the environment and the flag values of one run.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	wiring         wiring

	configFile    string
	dataDir       string
	addr, issuer  string
	noAutoMigrate bool
}

func (c *cli) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "pforte",
		Short: "Pforte, the OpenID Connect identity provider of the Service-App",
		Long: "Pforte is the OpenID Connect identity provider of the Service-App, the online forms\n" +
			"and the partner portals. Without a config file it starts a development instance:\n\n" +
			"  pforte serve\n",
		Args:          cobra.ArbitraryArgs,
		RunE:          groupRun,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&c.configFile, "config", "", "YAML config file (default: $PFORTE_CONFIG, else none)")
	pf.StringVar(&c.dataDir, "data-dir", "", "directory for the SQLite database and the development master key (default ./data)")

	root.AddCommand(c.serveCommand(), c.migrateCommand(), c.clientsCommand(), c.keysCommand(),
		c.membersCommand(), c.lettersCommand(), c.devicesCommand(), c.auditCommand(), c.doctorCommand(),
		c.housekeepingCommand(), c.backupCommand(), c.healthcheckCommand(), c.versionCommand())
	return root
}

// groupRun is the RunE of commands that only hold subcommands: without
// arguments the root prints its help and the others fail; an argument is
// an unknown subcommand.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		hint := ""
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			hint = fmt.Sprintf("; did you mean %q?", s[0])
		}
		return usagef("unknown command %q for %q%s", args[0], cmd.CommandPath(), hint)
	}
	if !cmd.HasParent() {
		return cmd.Help()
	}
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return usagef("%s needs a subcommand: %s", strings.TrimPrefix(cmd.CommandPath(), "pforte "), strings.Join(names, ", "))
}

// args wraps a cobra argument check so that its failure is a usage error.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs, RunE: groupRun}
	g.AddCommand(subs...)
	return g
}

// config loads the configuration with the flags of cmd that were given.
func (c *cli) config(cmd *cobra.Command) (*Config, error) {
	var f flagOverrides
	flags := cmd.Flags()
	if flags.Changed("data-dir") {
		f.DataDir = &c.dataDir
	}
	if flags.Lookup("addr") != nil && flags.Changed("addr") {
		f.Addr = &c.addr
	}
	if flags.Lookup("issuer") != nil && flags.Changed("issuer") {
		f.Issuer = &c.issuer
	}
	f.NoAutoMigrate = c.noAutoMigrate
	return loadConfig(loadOptions{File: c.configFile, Getenv: c.getenv, Flags: f})
}

func (c *cli) serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the identity provider",
		Long: "Run the identity provider until SIGINT or SIGTERM. Without --config and PFORTE_*\n" +
			"variables it runs a development instance on 127.0.0.1:8080 with SQLite under ./data\n" +
			"and the demo clients and members of configs/dev.",
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.config(cmd)
			if err != nil {
				return err
			}
			return c.wiring.serve(cmd.Context(), cfg, newLogger(c.stderr, cfg.Log), c.stdout)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&c.addr, "addr", "", "listen address host:port (default 127.0.0.1:8080)")
	fl.StringVar(&c.issuer, "issuer", "", "issuer URL, no trailing slash (default http://localhost:<port>)")
	fl.BoolVar(&c.noAutoMigrate, "no-auto-migrate", false, "refuse to migrate the database at start; fail if it is not up to date")
	return cmd
}

func (c *cli) migrateCommand() *cobra.Command {
	open := func(cmd *cobra.Command) (migrator, error) {
		cfg, err := c.config(cmd)
		if err != nil {
			return nil, err
		}
		return c.wiring.openMigrator(cmd.Context(), cfg, newLogger(c.stderr, cfg.Log))
	}
	up := &cobra.Command{
		Use:   "up",
		Short: "Apply all pending database migrations",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			applied, err := m.Up(cmd.Context())
			if err != nil {
				return fmt.Errorf("migrate up: %w", err)
			}
			if len(applied) == 0 {
				fmt.Fprintln(c.stdout, "The database is up to date.")
				return nil
			}
			for _, a := range applied {
				fmt.Fprintf(c.stdout, "applied %d %s\n", a.Version, a.Name)
			}
			return nil
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "List the migrations and whether they are applied",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			all, err := m.Status(cmd.Context())
			if err != nil {
				return fmt.Errorf("migrate status: %w", err)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
			for _, a := range all {
				fmt.Fprintf(tw, "%d\t%s\t%s\n", a.Version, a.Name, timeOr(a.AppliedAt, "pending"))
			}
			return tw.Flush()
		},
	}
	return group("migrate", "Apply or show the database migrations", up, status)
}

// withAdmin loads the configuration, opens the admin parts and runs f.
func (c *cli) withAdmin(cmd *cobra.Command, f func(context.Context, admin) error) error {
	cfg, err := c.config(cmd)
	if err != nil {
		return err
	}
	a, err := c.wiring.openAdmin(cmd.Context(), cfg, newLogger(c.stderr, cfg.Log))
	if err != nil {
		return err
	}
	defer a.Close()
	return f(cmd.Context(), a)
}

// clientAddFlags are the flags of `pforte clients add`.
type clientAddFlags struct {
	id, name, nameEN, kind, authMethod, jwksFile string
	// minACR is the lowest level the client accepts ("": the default).
	minACR                       string
	redirectURIs, postLogoutURIs []string
	grantTypes, scopes           []string
	// introspectionAudiences are the client's resource servers.
	introspectionAudiences []string
	// consent marks a third party: members allow it their data first.
	consent bool
	// backchannelLogoutURI is where the client takes logout tokens.
	backchannelLogoutURI string
}

func (c *cli) clientsCommand() *cobra.Command {
	var af clientAddFlags
	add := &cobra.Command{
		Use:   "add",
		Short: "Register a client; prints its generated secret once",
		Long: "Register a client. Secret-based clients get a secret generated by Pforte (256 bits),\n" +
			"printed once: Pforte stores only its keyed hash.\n\n" +
			"Defaults by kind:\n" +
			"  native   auth none, grants authorization_code refresh_token\n" +
			"  web      auth client_secret_basic, grants authorization_code refresh_token\n" +
			"  portal   auth private_key_jwt (needs --jwks-file), grants authorization_code refresh_token\n" +
			"  service  auth client_secret_post, grant client_credentials\n" +
			"Every kind accepts logins from level substantial (password confirmed in the app) up;\n" +
			"--min-acr low lets a password alone reach the client (never kvnr, address, birthdate).\n" +
			"Only the client itself sees its access tokens at introspection, and the resource servers\n" +
			"named by --introspection-audience (registered confidential clients, usually of kind service).\n" +
			"--backchannel-logout-uri registers where the client takes logout tokens (OpenID Connect\n" +
			"Back-Channel Logout 1.0; https, http only on loopback); every token carries sid.",
		Example: "  pforte clients add --id forms --kind web --redirect-uri https://forms.example/cb --scope openid --scope profile",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, needsSecret, err := af.client(time.Now().UTC())
			if err != nil {
				return err
			}
			return c.withAdmin(cmd, func(ctx context.Context, a admin) error {
				var secret string
				if needsSecret {
					secret = client.GenerateSecret()
					hash, err := a.SecretHasher().HashNew(secret)
					if err != nil {
						return fmt.Errorf("clients add: %w", err)
					}
					cl.SecretHash = hash
				}
				if err := cl.Validate(); err != nil {
					return usageError{errors.New(publicText(err))}
				}
				if err := checkAudiences(ctx, a, cl.IntrospectionAudiences); err != nil {
					return err
				}
				if err := a.CreateClient(ctx, cl); err != nil {
					if errors.Is(err, fault.Conflict) {
						return fmt.Errorf("clients add: a client %q exists already", cl.ID)
					}
					return fmt.Errorf("clients add: %w", err)
				}
				fmt.Fprintf(c.stdout, "Added client %s (%s, %s).\n", cl.ID, cl.Kind, cl.AuthMethod)
				if needsSecret {
					fmt.Fprintf(c.stdout, "client_secret: %s\n", secret)
					fmt.Fprintf(c.stdout, "secret_hash:   %s\n", cl.SecretHash)
					fmt.Fprintln(c.stdout, "Give the secret to the client's operator now: Pforte keeps only its hash and cannot show it again.")
				}
				return nil
			})
		},
	}
	fl := add.Flags()
	fl.StringVar(&af.id, "id", "", "client_id (required)")
	fl.StringVar(&af.name, "name", "", "display name, German (default: the id)")
	fl.StringVar(&af.nameEN, "name-en", "", "display name for members who read English (default: --name)")
	fl.StringVar(&af.minACR, "min-acr", "", "lowest level of assurance the client accepts: low, substantial or high (default substantial)")
	fl.StringVar(&af.kind, "kind", "", "native, web, portal or service (required)")
	fl.StringVar(&af.authMethod, "auth-method", "", "token endpoint auth method (default by kind)")
	fl.StringVar(&af.jwksFile, "jwks-file", "", "public JWKS of a private_key_jwt client")
	fl.StringArrayVar(&af.redirectURIs, "redirect-uri", nil, "redirect URI (repeatable)")
	fl.StringArrayVar(&af.postLogoutURIs, "post-logout-redirect-uri", nil, "post-logout redirect URI (repeatable)")
	fl.StringSliceVar(&af.grantTypes, "grant-type", nil, "grant type (repeatable; default by kind)")
	fl.StringSliceVar(&af.scopes, "scope", nil, "scope the client may request (repeatable)")
	fl.BoolVar(&af.consent, "consent", false, "the client is a third party: members allow it their data on a consent page first")
	fl.StringArrayVar(&af.introspectionAudiences, "introspection-audience", nil,
		"client id of a resource server the client's access tokens are for: in their aud, may introspect them (repeatable; default none)")
	fl.StringVar(&af.backchannelLogoutURI, "backchannel-logout-uri", "",
		"where Pforte posts a logout token when a session the client took part in ends (https; http only on loopback; default none)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the registered clients",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withAdmin(cmd, func(ctx context.Context, a admin) error {
				cs, err := a.ListClients(ctx)
				if err != nil {
					return fmt.Errorf("clients list: %w", err)
				}
				tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tKIND\tAUTH\tMIN ACR\tGRANTS\tBACKCHANNEL LOGOUT\tREDIRECT URIS")
				for _, cl := range cs {
					minACR := "-" // a service client logs no member in
					if cl.Kind != client.Service {
						minACR = cl.MinimumLevel().String()
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cl.ID, cl.Kind, cl.AuthMethod, minACR,
						strings.Join(cl.GrantTypes, ","), orDash(cl.BackchannelLogoutURI), orDash(strings.Join(cl.RedirectURIs, " ")))
				}
				return tw.Flush()
			})
		},
	}
	remove := &cobra.Command{
		Use:   "remove CLIENT_ID",
		Short: "Remove a client",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			id := a[0]
			return c.withAdmin(cmd, func(ctx context.Context, ad admin) error {
				if err := ad.DeleteClient(ctx, id); err != nil {
					if errors.Is(err, fault.NotFound) {
						return fmt.Errorf("clients remove: no client %q", id)
					}
					return fmt.Errorf("clients remove: %w", err)
				}
				fmt.Fprintf(c.stdout, "Removed client %s.\n", id)
				return nil
			})
		},
	}
	return group("clients", "Manage the registered clients", append([]*cobra.Command{add, list, remove}, c.clientSupportCommands()...)...)
}

// client builds the client the flags describe. needsSecret reports whether
// Pforte must generate a secret for it.
func (f clientAddFlags) client(now time.Time) (client.Client, bool, error) {
	if f.id == "" {
		return client.Client{}, false, usagef("--id is required")
	}
	kind := client.Kind(f.kind)
	if _, ok := client.DefaultsOf(kind, nil); !ok {
		return client.Client{}, false, usagef("--kind must be native, web, portal or service")
	}
	minACR, err := loa.ParseLevel(f.minACR)
	if err != nil || (f.minACR != "" && minACR == loa.None) {
		return client.Client{}, false, usagef("--min-acr must be low, substantial or high")
	}
	c := client.Client{
		ID: f.id, Name: f.name, NameEN: f.nameEN, Kind: kind, AuthMethod: client.AuthMethod(f.authMethod),
		RedirectURIs: f.redirectURIs, PostLogoutRedirectURIs: f.postLogoutURIs,
		GrantTypes: f.grantTypes, Scopes: f.scopes, MinACR: minACR, CreatedAt: now,
		IntrospectionAudiences: f.introspectionAudiences, Consent: f.consent,
		BackchannelLogoutURI: f.backchannelLogoutURI,
	}.WithDefaults(nil, nil)
	if f.jwksFile != "" {
		if c.AuthMethod != client.AuthPrivateKeyJWT {
			return client.Client{}, false, usagef("--jwks-file is only for private_key_jwt clients")
		}
		raw, err := os.ReadFile(f.jwksFile)
		if err != nil {
			return client.Client{}, false, errors.New("--jwks-file: " + readError(err))
		}
		if c.JWKS, err = publicJWKS(raw); err != nil {
			return client.Client{}, false, fmt.Errorf("--jwks-file %s: %v", f.jwksFile, err)
		}
	}
	needsSecret := c.AuthMethod == client.AuthSecretBasic || c.AuthMethod == client.AuthSecretPost
	// Check the definition before anything is opened; the secret is
	// generated later, so stand in for its hash.
	check := c
	if needsSecret {
		check.SecretHash = "to be generated"
	}
	if err := check.Validate(); err != nil {
		return client.Client{}, false, usageError{errors.New(publicText(err))}
	}
	return c, needsSecret, nil
}

// checkAudiences reports an error unless every id in auds is a registered
// confidential client, which can authenticate at the introspection
// endpoint: a misspelt one would sit in every token's aud and lock the
// intended resource server out.
func checkAudiences(ctx context.Context, a admin, auds []string) error {
	if len(auds) == 0 {
		return nil
	}
	cs, err := a.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("clients add: %w", err)
	}
	for _, id := range auds {
		i := slices.IndexFunc(cs, func(c client.Client) bool { return c.ID == id })
		if i < 0 || cs[i].Public() {
			return usagef("--introspection-audience %s is not a registered confidential client", id)
		}
	}
	return nil
}

func (c *cli) keysCommand() *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List the signing keys and their states",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withAdmin(cmd, func(ctx context.Context, a admin) error {
				keys, err := a.ListSigningKeys(ctx)
				if err != nil {
					return fmt.Errorf("keys list: %w", err)
				}
				tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATE\tALG\tCREATED\tACTIVATED\tRETIRED")
				for _, k := range keys {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.State, k.Algorithm,
						timeOr(k.CreatedAt, "-"), timeOr(k.ActivatedAt, "-"), timeOr(k.RetiredAt, "-"))
				}
				return tw.Flush()
			})
		},
	}
	var force bool
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Rotate the signing keys now",
		Long: "Rotate the signing keys: the next key (published in the JWKS for keys.publish_hours)\n" +
			"starts signing, the active key is retired and stays published until the tokens it\n" +
			"signed have expired, and a new next key is created. Without --force a next key that\n" +
			"has not been published long enough is not activated; use --force after a suspected\n" +
			"key compromise.",
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withAdmin(cmd, func(ctx context.Context, a admin) error {
				plan, err := a.RotateKeys(ctx, force)
				if err != nil {
					return fmt.Errorf("keys rotate: %w", err)
				}
				printPlan(c.stdout, plan)
				return nil
			})
		},
	}
	rotate.Flags().BoolVar(&force, "force", false, "activate the next key even before it was published for keys.publish_hours")
	return group("keys", "List or rotate the token signing keys", list, rotate)
}

func printPlan(w io.Writer, p signkey.Plan) {
	if p.Empty() {
		fmt.Fprintln(w, "Nothing to rotate: the next key has not been published long enough (use --force to rotate anyway).")
		return
	}
	if p.Activate != "" {
		fmt.Fprintf(w, "activated %s\n", p.Activate)
	}
	if p.Retire != "" {
		fmt.Fprintf(w, "retired   %s\n", p.Retire)
	}
	if p.NeedNext {
		fmt.Fprintln(w, "created a new next key")
	}
	for _, id := range p.Drop {
		fmt.Fprintf(w, "dropped   %s\n", id)
	}
}

func (c *cli) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			bi, ok := debug.ReadBuildInfo()
			fmt.Fprint(c.stdout, versionText(version, bi, ok))
			return nil
		},
	}
}

// versionText describes the build: the -X version, the module version and
// the VCS revision the Go toolchain recorded.
func versionText(v string, bi *debug.BuildInfo, ok bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pforte %s\n", v)
	if !ok || bi == nil {
		return b.String()
	}
	fmt.Fprintf(&b, "module:  %s %s\n", bi.Main.Path, bi.Main.Version)
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		if settings["vcs.modified"] == "true" {
			rev += " (modified)"
		}
		fmt.Fprintf(&b, "commit:  %s\n", rev)
	}
	if t := settings["vcs.time"]; t != "" {
		fmt.Fprintf(&b, "time:    %s\n", t)
	}
	fmt.Fprintf(&b, "go:      %s\n", bi.GoVersion)
	return b.String()
}

func timeOr(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
