package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

// run executes the command line args and returns the exit code: 0 success,
// 1 failure, 2 a wrong command line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, &env{
		stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv,
		readSecret: terminalSecretReader(os.Stdin, stderr),
	})
}

// env is what a run may use of the process: streams, the environment and
// the terminal. Tests pass their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// readSecret prompts on the terminal and reads a line without echo;
	// nil when stdin is not a terminal.
	readSecret func(prompt string) (string, error)

	// now is the clock DPoP proofs are dated and ID tokens checked with
	// (nil: time.Now).
	now func() time.Time

	// stateFile is the --state flag.
	stateFile string
}

func (e *env) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

func runWith(ctx context.Context, args []string, e *env) int {
	stdout, stderr := e.stdout, e.stderr
	root := rootCommand(e)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SilenceErrors = true
	root.SilenceUsage = true
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "pforte-app:", err)
		var u usageError
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
	return 0
}

type usageError struct{ error }

func rootCommand(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "pforte-app",
		Short: "Pforte's reference Service-App client",
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&e.stateFile, "state", "",
		"the app's state file (default $XDG_STATE_HOME/pforte-app/state.json, else ~/.pforte-app.json)")
	root.AddCommand(discoverCommand(e.stdout), registerCommand(e), letterLostCommand(e), activateCommand(e), setPasswordCommand(e),
		bindDeviceCommand(e), setPINCommand(e), devicesCommand(e), resetPINCommand(e), changePINCommand(e),
		resetPasswordCommand(e), changePasswordCommand(e), reconfirmCommand(e), stepUpCommand(e),
		loginCommand(e), tokenCommand(e), userinfoCommand(e), logoutCommand(e), approvalsCommand(e), approveCommand(e),
		transferCommand(e),
		deleteAccountCommand(e),
		versionCommand(e.stdout))
	return root
}

func versionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "" {
				v = bi.Main.Version
			}
			if v == "" {
				v = "(devel)"
			}
			fmt.Fprintln(stdout, "pforte-app", v)
			return nil
		},
	}
}

// metadata is the part of the discovery document the app relies on.
type metadata struct {
	Issuer                        string   `json:"issuer"`
	AuthorizationEndpoint         string   `json:"authorization_endpoint"`
	TokenEndpoint                 string   `json:"token_endpoint"`
	JWKSURI                       string   `json:"jwks_uri"`
	ResponseTypes                 []string `json:"response_types_supported"`
	CodeChallengeMethods          []string `json:"code_challenge_methods_supported"`
	IssParameterSupported         bool     `json:"authorization_response_iss_parameter_supported"`
	IDTokenSigningAlgValues       []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported               []string `json:"scopes_supported"`
	ACRValuesSupported            []string `json:"acr_values_supported"`
	TokenEndpointAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
	PushedAuthorizationRequestURI string   `json:"pushed_authorization_request_endpoint,omitempty"`
}

func discoverCommand(stdout io.Writer) *cobra.Command {
	var issuer string
	cmd := &cobra.Command{
		Use:   "discover",
		Short: "fetch and check the issuer's OpenID Connect metadata and keys",
		Long: "discover fetches <issuer>/.well-known/openid-configuration and the JWKS and checks what the\n" +
			"app relies on: the issuer matches exactly, the code flow with PKCE S256 is offered, the iss\n" +
			"authorization response parameter (RFC 9207) is supported and ID tokens are signed with ES256.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return discover(cmd.Context(), stdout, issuer)
		},
	}
	cmd.Flags().StringVar(&issuer, "issuer", "http://localhost:8080", "the Pforte issuer URL")
	return cmd
}

func discover(ctx context.Context, stdout io.Writer, issuer string) error {
	hc := &http.Client{Timeout: 10 * time.Second}
	var md metadata
	if err := getJSON(ctx, hc, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &md); err != nil {
		return err
	}
	var problems []string
	if md.Issuer != issuer {
		problems = append(problems, fmt.Sprintf("issuer is %q, expected %q", md.Issuer, issuer))
	}
	if !slices.Contains(md.ResponseTypes, "code") {
		problems = append(problems, "the code flow is not offered")
	}
	if !slices.Contains(md.CodeChallengeMethods, "S256") {
		problems = append(problems, "PKCE S256 is not offered")
	}
	if !md.IssParameterSupported {
		problems = append(problems, "the iss authorization response parameter (RFC 9207) is not supported")
	}
	if !slices.Contains(md.IDTokenSigningAlgValues, "ES256") {
		problems = append(problems, "ID tokens are not signed with ES256")
	}
	var jwks struct {
		Keys []struct {
			KID string `json:"kid"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if err := getJSON(ctx, hc, md.JWKSURI, &jwks); err != nil {
		return err
	}
	if len(jwks.Keys) == 0 {
		problems = append(problems, "the JWKS has no keys")
	}
	fmt.Fprintf(stdout, "issuer:          %s\n", md.Issuer)
	fmt.Fprintf(stdout, "authorization:   %s\n", md.AuthorizationEndpoint)
	fmt.Fprintf(stdout, "token:           %s\n", md.TokenEndpoint)
	fmt.Fprintf(stdout, "scopes:          %s\n", strings.Join(md.ScopesSupported, " "))
	fmt.Fprintf(stdout, "acr values:      %s\n", strings.Join(md.ACRValuesSupported, " "))
	fmt.Fprintf(stdout, "client auth:     %s\n", strings.Join(md.TokenEndpointAuthMethods, " "))
	fmt.Fprintf(stdout, "signing keys:    %d\n", len(jwks.Keys))
	if len(problems) > 0 {
		return errors.New("the issuer does not offer what the app needs: " + strings.Join(problems, "; "))
	}
	fmt.Fprintln(stdout, "ok: the app can log in at this issuer")
	return nil
}

func getJSON(ctx context.Context, hc *http.Client, url string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(into); err != nil {
		return fmt.Errorf("read %s: %w", url, err)
	}
	return nil
}
