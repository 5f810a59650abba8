package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
)

// pforte healthcheck asks the admin listener of the configuration (on
// loopback when it listens everywhere) and exits 0 only while the server
// is ready: what a container's HEALTHCHECK runs.
func TestHealthcheck(t *testing.T) {
	addr, admin := servertest.FreeAddr(t), servertest.FreeAddr(t)
	_, adminPort, _ := strings.Cut(admin, ":")
	everywhere := "0.0.0.0:" + adminPort
	dir := filepath.Join(t.TempDir(), "data")
	stop := startServe(t, []string{"serve", "--addr", addr, "--data-dir", dir},
		map[string]string{"PFORTE_ADMIN_ADDR": everywhere}, "http://"+admin+"/readyz")

	env := map[string]string{"PFORTE_ADMIN_ADDR": everywhere}
	r := runCLI(t, defaultWiring(), env, "healthcheck", "--data-dir", dir)
	if r.code != exitOK || r.stdout != "ready (http://127.0.0.1:"+adminPort+"/readyz)\n" {
		t.Errorf("healthcheck of a ready server: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, defaultWiring(), nil, "healthcheck", "--url", "http://"+addr+"/readyz")
	if r.code != exitOK {
		t.Errorf("healthcheck --url of the public listener: %d %q", r.code, r.stderr)
	}
	r = runCLI(t, defaultWiring(), nil, "healthcheck", "--url", "http://"+addr+"/no-such-path")
	assertOneLine(t, r, exitError, "pforte: healthcheck: http://"+addr+"/no-such-path answered 404")

	stop()
	r = runCLI(t, defaultWiring(), env, "healthcheck", "--data-dir", dir)
	assertOneLine(t, r, exitError, "pforte: healthcheck: http://127.0.0.1:"+adminPort+"/readyz")

	r = runCLI(t, defaultWiring(), nil, "healthcheck", "--data-dir", dir)
	assertOneLine(t, r, exitUsage, "pforte: server.admin_addr is not set")
}

func TestLoopbackFor(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:9090":   "127.0.0.1:9090",
		":9090":          "127.0.0.1:9090",
		"[::]:9090":      "[::1]:9090",
		"10.0.0.5:9090":  "10.0.0.5:9090",
		"localhost:9090": "localhost:9090",
	} {
		if got := loopbackFor(in); got != want {
			t.Errorf("loopbackFor(%q) = %q, want %q", in, got, want)
		}
	}
}
