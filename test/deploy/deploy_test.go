package deploy

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

// root is the repository's root, relative to this package.
const root = "../.."

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// toolchain is go.mod's toolchain line ("go1.27.3").
func toolchain(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^toolchain (go\S+)$`).FindStringSubmatch(read(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod has no toolchain line")
	}
	return m[1]
}

const testVersion = "v0.0.0-deploy-test"

// built is the binary deploy/build.sh makes, built once per test binary.
var built = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pforte-deploy-test-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "pforte")
	cmd := exec.Command("sh", filepath.Join(root, "deploy", "build.sh"), bin, testVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("deploy/build.sh: %v\n%s", err, out)
	}
	return bin, nil
})

func binary(t *testing.T) string {
	t.Helper()
	bin, err := built()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// command runs the built binary in dir with only the environment given
// (and PATH), as a container runs it.
func command(t *testing.T, dir string, env map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// The binary the image ships is static, built by go.mod's toolchain with
// the flags of deploy/build.sh, and says its version.
func TestStaticBinary(t *testing.T) {
	bin := binary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary names a dynamic loader (PT_INTERP): it is not static")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v)", libs, err)
	}

	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if want := toolchain(t); bi.GoVersion != want {
		t.Errorf("built with %s, go.mod names %s", bi.GoVersion, want)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for k, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[k] != want {
			t.Errorf("build setting %s = %q, want %q", k, settings[k], want)
		}
	}
	// -trimpath keeps -ldflags out of the build information: the version
	// shows in `pforte version` below, -s in the missing symbol table.
	if f.Section(".symtab") != nil {
		t.Error("the binary has a symbol table: built without -ldflags -s")
	}

	dir := t.TempDir()
	out, err := command(t, dir, nil, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "pforte "+testVersion+"\n") {
		t.Errorf("pforte version: %q %v", out, err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The built binary serves as the image runs it, and its healthcheck
// command (the image's HEALTHCHECK) follows the server's readiness: 0
// while it serves, 1 once it stopped.
func TestServeAndHealthcheck(t *testing.T) {
	dir := t.TempDir()
	addr, admin := freeAddr(t), freeAddr(t)
	_, port, _ := net.SplitHostPort(admin)
	env := map[string]string{"PFORTE_ADMIN_ADDR": "0.0.0.0:" + port, "PFORTE_DATA_DIR": filepath.Join(dir, "data")}
	var logs bytes.Buffer
	serve := command(t, dir, env, "serve", "--addr", addr)
	serve.Stdout, serve.Stderr = &logs, &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	t.Cleanup(func() {
		if serve.ProcessState == nil {
			_ = serve.Process.Kill()
			<-exited
		}
	})
	healthcheck := func() (int, string) {
		out, err := command(t, dir, env, "healthcheck").CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(60 * time.Second); ; {
		if resp, err := hc.Get("http://" + admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("serve ended before it was ready: %v\n%s", err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not become ready:\n%s", logs.String())
		}
	}
	if code, out := healthcheck(); code != 0 || !strings.HasPrefix(out, "ready") {
		t.Errorf("healthcheck of the serving binary: %d %q", code, out)
	}
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	if code, out := healthcheck(); code != 1 {
		t.Errorf("healthcheck after the server stopped: %d %q, want 1", code, out)
	}
}

// dockerfile is the Dockerfile's instructions, continuation lines joined.
type instruction struct{ op, args string }

func dockerfile(t *testing.T) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(read(t, "Dockerfile")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		op, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(op), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// The Dockerfile builds with deploy/build.sh on the Go of go.mod, and
// its final stage runs the binary as a non-root user with a health check
// by the binary itself.
func TestDockerfile(t *testing.T) {
	ins := dockerfile(t)
	var froms []int
	args := map[string]string{}
	for i, in := range ins {
		switch in.op {
		case "FROM":
			froms = append(froms, i)
		case "ARG":
			if k, v, ok := strings.Cut(in.args, "="); ok {
				args[k] = v
			}
		}
	}
	if len(froms) < 2 {
		t.Fatalf("the Dockerfile has %d stages, want a build stage and a runtime stage", len(froms))
	}
	goImage := args["GO_IMAGE"]
	if want := "golang:" + strings.TrimPrefix(toolchain(t), "go") + "-"; !strings.HasPrefix(goImage, want) {
		t.Errorf("GO_IMAGE %q, want %s… (go.mod's toolchain)", goImage, want)
	}
	if !strings.Contains(read(t, "deploy/build.sh"), "GOTOOLCHAIN="+toolchain(t)) {
		t.Error("deploy/build.sh does not pin GOTOOLCHAIN to go.mod's toolchain")
	}
	build, final := ins[froms[0]:froms[len(froms)-1]], ins[froms[len(froms)-1]:]
	if !slices.ContainsFunc(build, func(in instruction) bool {
		return in.op == "RUN" && strings.Contains(in.args, "deploy/build.sh /out/pforte")
	}) {
		t.Error("the build stage does not build with deploy/build.sh")
	}
	if slices.ContainsFunc(build, func(in instruction) bool {
		return in.op == "RUN" && strings.Contains(in.args, "go build")
	}) {
		t.Error("the build stage runs go build itself: the image's binary would differ from CI's")
	}
	find := func(op string) (instruction, bool) {
		i := slices.IndexFunc(final, func(in instruction) bool { return in.op == op })
		if i < 0 {
			return instruction{}, false
		}
		return final[i], true
	}
	if u, ok := find("USER"); !ok || strings.HasPrefix(u.args, "0") || strings.HasPrefix(u.args, "root") {
		t.Errorf("the runtime stage's USER is %q, want a non-root user", u.args)
	}
	if h, ok := find("HEALTHCHECK"); !ok || !strings.Contains(h.args, `CMD ["/usr/local/bin/pforte", "healthcheck"]`) {
		t.Errorf("HEALTHCHECK %q, want the binary's healthcheck command", h.args)
	}
	if e, ok := find("ENTRYPOINT"); !ok || e.args != `["/usr/local/bin/pforte"]` {
		t.Errorf("ENTRYPOINT %q", e.args)
	}
	if v, ok := find("VOLUME"); !ok || !strings.Contains(v.args, "/var/lib/pforte") {
		t.Errorf("VOLUME %q, want the data directory", v.args)
	}
	if slices.ContainsFunc(final, func(in instruction) bool { return in.op == "RUN" }) {
		t.Error("the runtime stage runs commands: its base has no shell")
	}
}

// compose is what the test reads of deploy/compose.yaml.
type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Secrets     []string          `yaml:"secrets"`
		ReadOnly    bool              `yaml:"read_only"`
		CapDrop     []string          `yaml:"cap_drop"`
		Healthcheck struct {
			Test    []string `yaml:"test"`
			Disable bool     `yaml:"disable"`
		} `yaml:"healthcheck"`
		Networks any `yaml:"networks"`
	} `yaml:"services"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Networks map[string]struct {
		IPAM struct {
			Config []struct {
				Subnet string `yaml:"subnet"`
			} `yaml:"config"`
		} `yaml:"ipam"`
	} `yaml:"networks"`
}

// pforteYAML is what the test reads of deploy/pforte.yaml.
type pforteYAML struct {
	Server struct {
		Addr string `yaml:"addr"`
	} `yaml:"server"`
	Registration struct {
		TrustedProxies []string `yaml:"trusted_proxies"`
	} `yaml:"registration"`
}

var secretPath = regexp.MustCompile(`/run/secrets/([a-z_]+)`)

// compose.yaml, the Caddyfile, pforte.yaml, clients.yaml and
// init-secrets.sh fit each other: two hardened replicas with the binary's
// health check behind Caddy, whose fixed address is the one trusted proxy,
// every secret the configuration reads mounted and made by the script.
func TestComposeFitsTogether(t *testing.T) {
	var c compose
	if err := yaml.Unmarshal([]byte(read(t, "deploy/compose.yaml")), &c); err != nil {
		t.Fatal(err)
	}
	replicas := []string{"pforte-1", "pforte-2"}
	caddyfile := read(t, "deploy/Caddyfile")
	config := read(t, "deploy/pforte.yaml") + read(t, "deploy/clients.yaml")
	var py pforteYAML
	if err := yaml.Unmarshal([]byte(read(t, "deploy/pforte.yaml")), &py); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(py.Server.Addr)
	for _, name := range replicas {
		s, ok := c.Services[name]
		if !ok {
			t.Fatalf("compose.yaml has no service %s", name)
		}
		if !slices.Equal(s.Command, []string{"serve"}) || !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) {
			t.Errorf("%s: command %v, read_only %v, cap_drop %v", name, s.Command, s.ReadOnly, s.CapDrop)
		}
		if !slices.Equal(s.Healthcheck.Test, []string{"CMD", "/usr/local/bin/pforte", "healthcheck"}) {
			t.Errorf("%s: healthcheck %v", name, s.Healthcheck.Test)
		}
		if s.Environment["PFORTE_CONFIG"] != "/etc/pforte/pforte.yaml" ||
			!slices.Contains(s.Volumes, "./pforte.yaml:/etc/pforte/pforte.yaml:ro") {
			t.Errorf("%s does not run with deploy/pforte.yaml: %v %v", name, s.Environment, s.Volumes)
		}
		for _, m := range secretPath.FindAllStringSubmatch(config, -1) {
			if !slices.Contains(s.Secrets, m[1]) {
				t.Errorf("%s: the configuration reads %s, which is not mounted", name, m[0])
			}
		}
		if !strings.Contains(caddyfile, name+":"+port) {
			t.Errorf("the Caddyfile does not proxy to %s:%s", name, port)
		}
	}
	if m := c.Services["migrate"]; !slices.Equal(m.Command, []string{"migrate", "up"}) {
		t.Errorf("the migrate service runs %v", m.Command)
	}

	// Caddy's fixed address lies in the network and is trusted; nothing
	// else is.
	compose := read(t, "deploy/compose.yaml")
	m := regexp.MustCompile(`ipv4_address: (\S+)`).FindStringSubmatch(compose)
	if m == nil {
		t.Fatal("compose.yaml gives Caddy no fixed address")
	}
	caddy := netip.MustParseAddr(m[1])
	subnet := netip.MustParsePrefix(c.Networks["backend"].IPAM.Config[0].Subnet)
	if !subnet.Contains(caddy) {
		t.Errorf("Caddy's address %s is outside the network %s", caddy, subnet)
	}
	if len(py.Registration.TrustedProxies) != 1 || netip.MustParsePrefix(py.Registration.TrustedProxies[0]) != netip.PrefixFrom(caddy, 32) {
		t.Errorf("trusted_proxies %v, want exactly Caddy's %s/32", py.Registration.TrustedProxies, caddy)
	}

	// Every secret is defined, and made by init-secrets.sh.
	script := read(t, "deploy/init-secrets.sh")
	for name, s := range c.Secrets {
		if s.File != "./secrets/"+name {
			t.Errorf("secret %s from %q", name, s.File)
		}
		if !regexp.MustCompile(`(?m)^put ` + name + ` `).MatchString(script) {
			t.Errorf("init-secrets.sh does not make %s", name)
		}
	}
	for name, s := range c.Services {
		for _, sec := range s.Secrets {
			if _, ok := c.Secrets[sec]; !ok {
				t.Errorf("service %s uses the undefined secret %s", name, sec)
			}
		}
	}
	if !strings.Contains(read(t, ".gitignore"), "deploy/secrets/") {
		t.Error("deploy/secrets/ is not ignored by git")
	}
}

// Pforte accepts deploy/pforte.yaml and deploy/clients.yaml with the
// secrets init-secrets.sh makes: the doctor of the built binary passes
// the configuration and the clients (the database is not there).
func TestDeployConfigLoads(t *testing.T) {
	work := t.TempDir()
	deploy := filepath.Join(work, "deploy")
	if err := os.Mkdir(deploy, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"init-secrets.sh", "pforte.yaml", "clients.yaml"} {
		if err := os.WriteFile(filepath.Join(deploy, f), []byte(read(t, "deploy/"+f)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("sh", filepath.Join(deploy, "init-secrets.sh")).CombinedOutput(); err != nil {
		t.Fatalf("init-secrets.sh: %v\n%s", err, out)
	}
	secrets := filepath.Join(deploy, "secrets")
	fi, err := os.Stat(secrets)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("secrets directory: %v %v", fi, err)
	}
	// Running it again keeps every secret.
	before, _ := os.ReadFile(filepath.Join(secrets, "pforte_master_key"))
	if out, err := exec.Command("sh", filepath.Join(deploy, "init-secrets.sh")).CombinedOutput(); err != nil || !strings.Contains(string(out), "kept") {
		t.Fatalf("init-secrets.sh again: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(filepath.Join(secrets, "pforte_master_key")); !bytes.Equal(before, after) {
		t.Fatal("init-secrets.sh replaced the master key")
	}
	// The files as they are mounted, under /run/secrets/ there and here
	// in the secrets directory.
	clients := strings.ReplaceAll(read(t, "deploy/clients.yaml"), "/run/secrets/", secrets+"/")
	clientsFile := filepath.Join(work, "clients.yaml")
	if err := os.WriteFile(clientsFile, []byte(clients), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"PFORTE_CONFIG":             filepath.Join(deploy, "pforte.yaml"),
		"PFORTE_CLIENTS_FILE":       clientsFile,
		"PFORTE_STORAGE_DSN_FILE":   filepath.Join(secrets, "pforte_dsn"),
		"PFORTE_MASTER_KEY_FILE":    filepath.Join(secrets, "pforte_master_key"),
		"PFORTE_PIN_PEPPERS_FILE":   filepath.Join(secrets, "pforte_pin_peppers"),
		"PFORTE_DATA_DIR":           filepath.Join(work, "data"),
		"PFORTE_LETTERS_OUTBOX_DIR": filepath.Join(work, "outbox"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "doctor", "--timeout", "2s")
	cmd.Dir, cmd.Env = work, append([]string{"PATH=/usr/bin:/bin"}, envList(env)...)
	out, _ := cmd.Output()
	for _, want := range []string{"OK    config ", "OK    master key ", "OK    clients "} {
		if !strings.Contains(string(out), "\n"+want) && !strings.HasPrefix(string(out), want) {
			t.Errorf("the doctor does not report %q:\n%s", want, out)
		}
	}
	// The host postgres of the DSN exists only on the Compose network.
	if !strings.Contains(string(out), "FAIL  database") {
		t.Errorf("the doctor reached a database it cannot reach here:\n%s", out)
	}
}

func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// The systemd unit is valid for this machine's systemd and hardened.
func TestSystemdUnit(t *testing.T) {
	unit := read(t, "deploy/pforte.service")
	for _, want := range []string{
		"ExecStart=/usr/local/bin/pforte serve", "DynamicUser=yes", "StateDirectory=pforte", "ProtectSystem=strict",
		"NoNewPrivileges=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n", "LoadCredential=master-key:",
		"Environment=PFORTE_MASTER_KEY_FILE=%d/master-key",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("deploy/pforte.service lacks %q", strings.TrimSpace(want))
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed; the unit's text was checked, not verified by systemd")
	}
	// verify wants the executable to exist: the built binary stands in.
	dir := t.TempDir()
	path := filepath.Join(dir, "pforte.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/pforte", binary(t))), 0o644); err != nil {
		t.Fatal(err)
	}
	// systemd-analyze verify exits 0 on unknown keys and bad values, but
	// says so: any output is a finding.
	if out, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(analyze, "security", "--offline=yes", path).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for pforte\.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2 {
		t.Errorf("systemd-analyze security rates the unit's exposure %s (want at most 2.0):\n%s", m[1], out)
	}
}
