package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"runtime"
	"strings"
	"time"
)

// Bounds of every run: the tool must not become a way to flood a server
// by accident.
const (
	maxDuration    = 10 * time.Minute
	maxConcurrency = 512
	maxRequests    = 10_000_000
	// maxMembers bounds the members one run seeds or registers.
	maxMembers = 100_000
	// maxGenerate bounds --generate-members: a file of a million members
	// is what the scale test imports; the tool uses only its first rows.
	maxGenerate = 1_000_000
	// maxReplicas bounds --replica.
	maxReplicas = 16
)

// workloadNames lists the workloads.
var workloadNames = []string{"discovery", "jwks", "client-credentials", "introspect", "refresh", "reconfirm", "transfer", "pin-change", "admin-status", "app-login", "password-login", "web-login", "sso-login", "logout", "registration"}

// Config is one run of the tool.
type Config struct {
	Issuer       string
	Workload     string
	Concurrency  int
	Duration     time.Duration
	Requests     uint64
	Rate         float64
	ClientID     string
	ClientSecret string
	AuthMethod   string // client_secret_basic or client_secret_post
	Scope        string
	AllowRemote  bool
	JSON         bool
	ServerPID    int
	// Agent is the person named in X-Pforte-Agent (admin-status).
	Agent string
	// Replicas are servers of the issuer to send its requests to in turn,
	// as a round-robin load balancer in front of them does.
	Replicas []string

	// Password login (Pforte only): the web client is ClientID.
	WebRedirectURI string
	// SecondClientID, SecondClientSecret and SecondRedirectURI are the
	// second web client of the logout workload; BackchannelAddr is where
	// the tool serves both clients' back-channel logout endpoints.
	SecondClientID     string
	SecondClientSecret string
	SecondRedirectURI  string
	BackchannelAddr    string
	Argon2MS           float64
	Cores              int

	// Seeded members (Pforte only).
	MembersCSV  string
	Members     int
	Outbox      string
	AppClientID string
	RedirectURI string
	Origin      string
	SeedTimeout time.Duration

	// Member file generation instead of a run.
	Generate int
	Out      string
}

const usageHead = `load generates load against an OpenID Connect server found by discovery.

  go run ./test/load --issuer URL --workload NAME [flags]
  go run ./test/load --generate-members N --out FILE.csv

Workloads:
  discovery           GET the discovery document
  jwks                GET jwks_uri
  client-credentials  POST token_endpoint, grant client_credentials (--client-id, --client-secret)
  introspect          POST introspection_endpoint about one client_credentials token
  refresh             Pforte: rotate refresh tokens of app sessions seeded as for app-login
  reconfirm           Pforte: confirm a seeded member's device again: device key over a fresh
                      challenge, release PIN and password (one Argon2id verification)
  transfer            Pforte: move a seeded member to a new phone with the old one at hand: the
                      new phone begins the transfer, the old one approves it with key and PIN,
                      the new one redeems it, binds its new key, sets the PIN and removes the
                      old phone; the member keeps the new phone for the next round (the server
                      needs devices.transfers_per_ip raised: at most 1000 per window)
  pin-change          Pforte: change a seeded member's PIN in the app: device key over a fresh
                      challenge with the current PIN, the new PIN (two PINs in turn)
  admin-status        Pforte: the support tool's look at a seeded member through the admin API,
                      GET /admin/v1/members/{kvnr} with X-Pforte-Agent (--agent), with a
                      client_credentials token of a service client with the scope admin
                      (--client-id, --client-secret; --scope, default admin)
  app-login           Pforte: the whole app login (PAR, authorize, login challenge, device key
                      + PIN, code exchange with DPoP) of many members, each with a phone
  password-login      Pforte: the browser login of a web client (--client-id, --client-secret,
                      --web-redirect-uri): authorize with PKCE, login page, KVNR + password,
                      redirect with the code, code exchange, ID token verified; a random
                      seeded member per login; the client must accept low (min_acr: low)
  web-login           Pforte: the browser login confirmed in the app, with a client that
                      accepts substantial (--client-id, --client-secret, --web-redirect-uri):
                      as password-login up to the approval page, then the member's phone
                      (simulated here) lists the approval and approves it with the number
                      shown, device key and PIN, then "Weiter", the code, its exchange
  sso-login           Pforte: a relying party's login answered from an existing single sign-on
                      session (--client-id, --client-secret, --web-redirect-uri of a client
                      that accepts low): every member logs in once with the password before
                      the timer, then each operation is authorize with prompt=none, the
                      redirect with the code, its exchange and the ID token verified
  logout              Pforte: RP-initiated logout with back-channel logout to two relying parties
                      (--client-id/--client-secret/--web-redirect-uri and --second-client-id/
                      --second-client-secret/--second-redirect-uri, both accepting low, each with
                      backchannel_logout_uri http://BACKCHANNEL-ADDR/backchannel-logout/CLIENT_ID):
                      a password login at the first, the second answered from the session, the
                      first's logout with id_token_hint, then both logout tokens received and
                      verified by the tool
  registration        Pforte: one member's registration by letter: order the letter, wait
                      for it in the outbox, activate, set a password; each member of
                      --members-csv once, so at most as many operations as members

app-login, refresh, reconfirm, transfer, pin-change, admin-status, password-login and web-login seed members through the public app API before the
timer: the members of --members-csv (imported with 'pforte members import') request a
letter, the letters are read from the server's outbox folder (--outbox, same machine),
then each member activates, sets a password, binds a software device key and sets a PIN
(only then is the account active, for the browser login too). A member enrolls once:
use a fresh file for each run.

password-login and the Argon2id ceiling: each login costs the server one Argon2id hash,
so its ceiling is cores ÷ the time of one hash. Measure the hash on the same machine,
  go test ./core/password -run '^$' -bench Verify
and pass its ns/op in milliseconds as --argon2-ms; the result prints the ceiling and the
share of it reached (the target is 90%).

--server-pid PID (Linux) samples the server's VmRSS during the run and prints its peak,
its value at the end and VmHWM, and the CPU the server and this tool used (on a shared
machine the tool's cores are not the server's: compare with the ceiling accordingly).

--replica URL, repeated, spreads the run over replicas of one issuer (servers on one
database, all configured with --issuer's URL): every request for the issuer's host goes
to the next replica in turn, as a round-robin load balancer in front of them sends it;
discovery, the endpoints and the tokens stay the issuer's.

Flags:
`

// browserLogin reports whether workload logs members in in a browser with
// a web client.
func browserLogin(workload string) bool {
	return workload == "password-login" || workload == "web-login" || workload == "sso-login" || workload == "logout"
}

// parseFlags reads args into a Config and checks its bounds.
func parseFlags(args []string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.Issuer, "issuer", "", "issuer URL; the discovery document is read from it")
	fs.StringVar(&c.Workload, "workload", "", "workload: "+strings.Join(workloadNames, ", "))
	fs.IntVar(&c.Concurrency, "concurrency", 8, fmt.Sprintf("operations in flight at once (1-%d)", maxConcurrency))
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long to run (at most 10m); ignored with --requests")
	fs.Uint64Var(&c.Requests, "requests", 0, "run this many operations instead of a duration")
	fs.Float64Var(&c.Rate, "rate", 0, "target operations per second (0: as fast as the concurrency allows)")
	fs.StringVar(&c.ClientID, "client-id", "", "confidential client for client-credentials and introspect; the web client for password-login and web-login; the admin client for admin-status")
	fs.StringVar(&c.ClientSecret, "client-secret", "", "its secret")
	fs.StringVar(&c.AuthMethod, "auth-method", "client_secret_basic", "client_secret_basic or client_secret_post")
	fs.StringVar(&c.Scope, "scope", "", "scope of the client_credentials request (empty: none sent); of password-login (empty: openid); of admin-status's token (empty: admin)")
	fs.StringVar(&c.Agent, "agent", "Lasttest", "admin-status: the person named in X-Pforte-Agent (recorded in the audit log)")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow an issuer that is not on a loopback address")
	fs.BoolVar(&c.JSON, "json", false, "print the result as JSON")
	fs.Func("replica", "a replica of the issuer (http://host:port); repeated, requests for the issuer go to them in turn", func(v string) error {
		c.Replicas = append(c.Replicas, v)
		return nil
	})
	fs.IntVar(&c.ServerPID, "server-pid", 0, "Linux: sample the resident memory and CPU of this process (the server) during the run")
	fs.StringVar(&c.WebRedirectURI, "web-redirect-uri", "", "password-login, web-login: a redirect URI registered for --client-id")
	fs.StringVar(&c.SecondClientID, "second-client-id", "", "logout: the second web client (accepts low), answered from the session")
	fs.StringVar(&c.SecondClientSecret, "second-client-secret", "", "logout: its secret (client_secret_basic)")
	fs.StringVar(&c.SecondRedirectURI, "second-redirect-uri", "", "logout: a redirect URI registered for --second-client-id")
	fs.StringVar(&c.BackchannelAddr, "backchannel-addr", "127.0.0.1:8099", "logout: where the tool serves POST /backchannel-logout/{client_id} for both clients (register that URI as their backchannel_logout_uri)")
	fs.Float64Var(&c.Argon2MS, "argon2-ms", 0, "password-login: milliseconds of one Argon2id hash (BenchmarkVerify's ns/op ÷ 1e6) to print the ceiling")
	fs.IntVar(&c.Cores, "cores", runtime.NumCPU(), "password-login with --argon2-ms: the server's cores")
	fs.StringVar(&c.MembersCSV, "members-csv", "", "app-login, refresh, reconfirm, transfer, pin-change, admin-status, password-login, registration: the member CSV imported into the server")
	fs.IntVar(&c.Members, "members", 0, "the same: how many members of the file (the first) to use (0: all)")
	fs.StringVar(&c.Outbox, "outbox", "", "the same: the server's letter outbox folder (same machine)")
	fs.StringVar(&c.AppClientID, "app-client-id", "pforte-app", "app-login, refresh, reconfirm, transfer, pin-change, admin-status: the Service-App's client id")
	fs.StringVar(&c.RedirectURI, "redirect-uri", "de.hkk.serviceapp:/oauth2redirect", "app-login, refresh, reconfirm, transfer, pin-change, admin-status: the app's redirect URI")
	fs.StringVar(&c.Origin, "origin", "", "WebAuthn origin of the app when seeding (empty: the issuer's; localhost for loopback)")
	fs.DurationVar(&c.SeedTimeout, "seed-timeout", 5*time.Minute, "how long to wait for the letters when seeding; for each letter in registration")
	fs.IntVar(&c.Generate, "generate-members", 0, fmt.Sprintf("write a member CSV of N new members to --out and exit (at most %d)", maxGenerate))
	fs.StringVar(&c.Out, "out", "", "file for --generate-members")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.validate()
}

// validate checks the bounds.
func (c Config) validate() error {
	if c.Generate != 0 || c.Out != "" {
		switch {
		case c.Generate < 1 || c.Generate > maxGenerate:
			return fmt.Errorf("--generate-members must be between 1 and %d", maxGenerate)
		case c.Out == "":
			return errors.New("--generate-members needs --out FILE")
		}
		return nil
	}
	if c.Issuer == "" {
		return errors.New("--issuer is required")
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--issuer %q is not an http(s) URL", c.Issuer)
	}
	if !c.AllowRemote && !isLoopback(u.Hostname()) {
		return fmt.Errorf("--issuer %s is not on a loopback address; pass --allow-remote to load a remote server", u.Host)
	}
	known := false
	for _, n := range workloadNames {
		known = known || n == c.Workload
	}
	switch {
	case c.Workload == "":
		return errors.New("--workload is required: " + strings.Join(workloadNames, ", "))
	case !known:
		return fmt.Errorf("unknown workload %q: %s", c.Workload, strings.Join(workloadNames, ", "))
	case c.Concurrency < 1 || c.Concurrency > maxConcurrency:
		return fmt.Errorf("--concurrency must be between 1 and %d", maxConcurrency)
	case c.Requests == 0 && (c.Duration <= 0 || c.Duration > maxDuration):
		return fmt.Errorf("--duration must be positive and at most %v", maxDuration)
	case c.Requests > maxRequests:
		return fmt.Errorf("--requests must be at most %d", maxRequests)
	case c.Rate < 0 || c.Rate > 1e6:
		return errors.New("--rate must be between 0 and 1000000")
	case c.AuthMethod != "client_secret_basic" && c.AuthMethod != "client_secret_post":
		return errors.New("--auth-method must be client_secret_basic or client_secret_post")
	case c.Members < 0 || c.Members > maxMembers:
		return fmt.Errorf("--members must be between 0 and %d", maxMembers)
	case c.SeedTimeout <= 0 || c.SeedTimeout > maxDuration:
		return fmt.Errorf("--seed-timeout must be positive and at most %v", maxDuration)
	case c.Workload == "admin-status" && c.ClientID == "":
		return errors.New("admin-status needs a service client with the scope admin: --client-id and --client-secret")
	case c.Agent == "" || len(c.Agent) > 100:
		return errors.New("--agent must be 1 to 100 characters")
	case c.Workload == "logout" && (c.SecondClientID == "" || c.SecondRedirectURI == ""):
		return errors.New("logout needs a second web client: --second-client-id, --second-client-secret and --second-redirect-uri")
	case browserLogin(c.Workload) && (c.ClientID == "" || c.WebRedirectURI == ""):
		return fmt.Errorf("%s needs a web client: --client-id, --client-secret and --web-redirect-uri (one of its redirect URIs)", c.Workload)
	case c.WebRedirectURI != "" && !browserLogin(c.Workload):
		return errors.New("--web-redirect-uri is for password-login, web-login and sso-login")
	case c.Argon2MS < 0 || c.Argon2MS > 10_000:
		return errors.New("--argon2-ms must be between 0 and 10000")
	case c.Argon2MS > 0 && c.Workload != "password-login":
		return errors.New("--argon2-ms is for password-login")
	case c.Cores < 1 || c.Cores > 4096:
		return errors.New("--cores must be between 1 and 4096")
	case c.ServerPID < 0:
		return errors.New("--server-pid must be a process id")
	case c.ServerPID > 0 && runtime.GOOS != "linux":
		return errors.New("--server-pid reads /proc/PID/status and works on Linux only")
	}
	if len(c.Replicas) > maxReplicas {
		return fmt.Errorf("--replica may be given at most %d times", maxReplicas)
	}
	for _, r := range c.Replicas {
		ru, err := url.Parse(r)
		if err != nil || (ru.Scheme != "http" && ru.Scheme != "https") || ru.Host == "" || (ru.Path != "" && ru.Path != "/") || ru.RawQuery != "" {
			return fmt.Errorf("--replica %q is not an http(s) URL of a host and port", r)
		}
		if !c.AllowRemote && !isLoopback(ru.Hostname()) {
			return fmt.Errorf("--replica %s is not on a loopback address; pass --allow-remote to load a remote server", ru.Host)
		}
	}
	if c.Requests > 0 && c.Rate > 0 && float64(c.Requests)/c.Rate > maxDuration.Seconds() {
		return fmt.Errorf("--requests at --rate would take longer than %v", maxDuration)
	}
	return nil
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
