package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(realMain(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// realMain runs the tool and returns the exit code: 0 when every operation
// succeeded, 1 when some failed or setup failed, 2 on a usage error.
func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "load:", err)
		return 2
	}
	if cfg.Generate > 0 {
		if err := writeMembersFile(cfg.Out, cfg.Generate); err != nil {
			fmt.Fprintln(stderr, "load:", err)
			return 1
		}
		fmt.Fprintf(stderr, "%d members written to %s; import them with: pforte members import %s\n", cfg.Generate, cfg.Out, cfg.Out)
		return 0
	}
	res, err := execute(ctx, cfg, stderr)
	if errors.Is(err, errSkipped) {
		fmt.Fprintln(stderr, "load:", err)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "load:", err)
		return 1
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		res.print(stdout)
	}
	if res.Failed > 0 {
		return 1
	}
	return 0
}

// execute sets the workload up and runs it.
func execute(ctx context.Context, cfg Config, progress io.Writer) (Result, error) {
	var tr http.RoundTripper = &http.Transport{
		MaxIdleConns: cfg.Concurrency * 2 * max(1, len(cfg.Replicas)), MaxIdleConnsPerHost: cfg.Concurrency * 2, IdleConnTimeout: time.Minute,
	}
	if len(cfg.Replicas) > 0 {
		rr, err := newRoundRobin(cfg.Issuer, cfg.Replicas, tr)
		if err != nil {
			return Result{}, err
		}
		tr = rr
	}
	e := &env{cfg: cfg, hc: &http.Client{
		Timeout:       30 * time.Second,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	defer e.hc.CloseIdleConnections()
	w, err := newWorkload(e, progress)
	if err != nil {
		return Result{}, err
	}
	if c, ok := w.(interface{ Close() }); ok {
		defer c.Close()
	}
	if cfg.ServerPID > 0 { // before the seeding, which may take minutes
		if _, err := readProcMemory(cfg.ServerPID); err != nil {
			return Result{}, err
		}
	}
	if err := w.Setup(ctx); err != nil {
		return Result{}, fmt.Errorf("%s setup: %w", cfg.Workload, err)
	}
	e.steps.reset()
	var mem *memorySampler
	if cfg.ServerPID > 0 {
		if mem, err = sampleMemory(cfg.ServerPID); err != nil {
			return Result{}, err
		}
	}
	res := run(ctx, cfg, w)
	res.Steps = e.steps.summary()
	if mem != nil {
		m := mem.finish()
		res.Server = &m
	}
	if cfg.Argon2MS > 0 {
		res.Argon2 = argon2Ceiling(cfg.Argon2MS, cfg.Cores, res.Throughput)
	}
	return res, nil
}

func newWorkload(e *env, progress io.Writer) (Workload, error) {
	switch e.cfg.Workload {
	case "discovery":
		return discoveryLoad{e}, nil
	case "jwks":
		return jwksLoad{e}, nil
	case "client-credentials":
		return clientCredentialsLoad{e}, nil
	case "introspect":
		return &introspectLoad{env: e}, nil
	case "app-login":
		return &appLoginLoad{env: e, progress: progress}, nil
	case "refresh":
		return &refreshLoad{appLoginLoad: appLoginLoad{env: e, progress: progress}}, nil
	case "reconfirm":
		return &reconfirmLoad{appLoginLoad: appLoginLoad{env: e, progress: progress}}, nil
	case "transfer":
		return &transferLoad{appLoginLoad: appLoginLoad{env: e, progress: progress}}, nil
	case "pin-change":
		return &pinChangeLoad{appLoginLoad: appLoginLoad{env: e, progress: progress}}, nil
	case "admin-status":
		return &adminStatusLoad{appLoginLoad: appLoginLoad{env: e, progress: progress}}, nil
	case "password-login":
		return &passwordLoginLoad{env: e, progress: progress}, nil
	case "web-login":
		return &webLoginLoad{passwordLoginLoad: &passwordLoginLoad{env: e, progress: progress}}, nil
	case "logout":
		return &logoutLoad{passwordLoginLoad: &passwordLoginLoad{env: e, progress: progress}}, nil
	case "sso-login":
		return &ssoLoginLoad{passwordLoginLoad: &passwordLoginLoad{env: e, progress: progress}}, nil
	case "registration":
		return &registrationLoad{env: e, progress: progress}, nil
	}
	return nil, fmt.Errorf("unknown workload %q", e.cfg.Workload)
}
