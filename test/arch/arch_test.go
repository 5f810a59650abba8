package arch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pkg is what the checker needs to know of one package of the module, as
// `go list -json` reports it.
type pkg struct {
	ImportPath   string
	Dir          string
	GoFiles      []string
	Imports      []string // direct imports of the non-test files
	Deps         []string // everything the non-test files depend on, transitively
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
	// DocGo is the content of doc.go ("" when there is none); filled by
	// loadPackages, set directly by the self-test.
	DocGo string
}

// violation is one break of the dependency rule.
type violation struct {
	Pkg, Import, Rule string
	Transitive        bool
}

func (v violation) String() string {
	verb := "imports"
	if v.Transitive {
		verb = "depends on"
	}
	if v.Import == "" {
		return fmt.Sprintf("%s: %s", v.Pkg, v.Rule)
	}
	return fmt.Sprintf("%s %s %s: %s", v.Pkg, verb, v.Import, v.Rule)
}

// The rules, as STYLE.md states them.
const (
	ruleFault     = "core/fault imports only the standard library"
	ruleCore      = "core imports only the standard library, golang.org/x/crypto and other core packages (use cases also ports)"
	ruleCoreNever = "nothing in core may depend on net/http, database/sql or OpenTelemetry (tracing is an adapter concern)"
	rulePorts     = "ports import only the standard library, core domain packages and other ports"
	rulePortsNot  = "nothing in ports may depend on net/http, database/sql, OpenTelemetry or a protocol, storage or JOSE library"
	ruleAdapters  = "an adapter never depends on another adapter; cmd wires them"
	ruleTest      = "nothing outside test/ imports test/"
	ruleCmd       = "only cmd/ and test/ import cmd/"
	ruleDoc       = "every package has a doc.go that states its layer (\"Layer: ...\")"
	ruleCatalog   = "catalog (the message catalog) imports only the standard library, golang.org/x/text and core/fault; core and ports never import it"
	ruleSupport   = "only tests, test/ and other test-support packages import a test-support package (<name>test)"
)

// forbiddenEverywhereInCore are import path prefixes no core or ports
// package may reach, even through the standard library.
var forbiddenInCore = []string{"net/http", "database/sql", "go.opentelemetry.io/"}

// forbiddenInPorts adds the libraries that belong to adapters.
var forbiddenInPorts = []string{
	"net/http", "database/sql", "go.opentelemetry.io/",
	"github.com/jmoiron/sqlx", "github.com/zitadel/", "github.com/go-webauthn/",
	"github.com/lestrrat-go/jwx", "github.com/jackc/pgx", "modernc.org/sqlite",
}

// isStd reports whether path is in the standard library: its first element
// has no dot (golang.org/x/... and module paths all do).
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// isSupport reports whether path is a test-support package: its last
// element ends in "test" (coretest, sqlstoretest, servertest), as
// net/http/httptest does.
func isSupport(path string) bool {
	last := path[strings.LastIndex(path, "/")+1:]
	return len(last) > len("test") && strings.HasSuffix(last, "test")
}

func hasPrefixPath(path, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func matchesAny(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasSuffix(p, "/") && strings.HasPrefix(path, p) || hasPrefixPath(path, p) {
			return true
		}
	}
	return false
}

// check applies the dependency rule to the packages of module and returns
// every violation, sorted.
func check(module string, pkgs []pkg) []violation {
	rel := func(p string) (string, bool) {
		if p == module {
			return "", true
		}
		r, ok := strings.CutPrefix(p, module+"/")
		return r, ok
	}
	known := map[string]bool{}
	for _, p := range pkgs {
		known[p.ImportPath] = true
	}
	// A core package is a use case when it depends on ports, and a domain
	// package otherwise.
	isUseCase := map[string]bool{}
	for _, p := range pkgs {
		if r, _ := rel(p.ImportPath); hasPrefixPath(r, "core") {
			isUseCase[p.ImportPath] = slices.ContainsFunc(p.Deps, func(d string) bool {
				dr, ok := rel(d)
				return ok && hasPrefixPath(dr, "ports")
			})
		}
	}
	// adapterOf names the adapter a package belongs to: the shortest
	// package path under adapters/ that contains it (adapters/sqlstore for
	// adapters/sqlstore/migrations; adapters/proofing/eid, as
	// adapters/proofing is only a folder).
	adapterOf := func(path string) string {
		r, ok := rel(path)
		if !ok || !hasPrefixPath(r, "adapters") {
			return ""
		}
		parts := strings.Split(r, "/")
		for i := 2; i <= len(parts); i++ {
			cand := module + "/" + strings.Join(parts[:i], "/")
			if known[cand] {
				return cand
			}
		}
		return path
	}

	var out []violation
	add := func(p pkg, imp, rule string, transitive bool) {
		out = append(out, violation{Pkg: strings.TrimPrefix(p.ImportPath, module+"/"), Import: imp, Rule: rule, Transitive: transitive})
	}
	for _, p := range pkgs {
		r, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		if !strings.Contains(p.DocGo, "Layer:") {
			add(p, "", ruleDoc, false)
		}
		allImports := slices.Concat(p.Imports, p.TestImports, p.XTestImports)
		for _, imp := range allImports {
			ir, inModule := rel(imp)
			if !inModule {
				continue
			}
			if hasPrefixPath(ir, "test") && !hasPrefixPath(r, "test") {
				add(p, imp, ruleTest, false)
			}
			if hasPrefixPath(ir, "cmd") && !hasPrefixPath(r, "cmd") && !hasPrefixPath(r, "test") {
				add(p, imp, ruleCmd, false)
			}
		}
		// Test support is test code that lives outside _test.go files so
		// that several packages can share it; the server must never link it
		// (a fixed password hash, a clock the caller moves).
		if !hasPrefixPath(r, "test") && !isSupport(p.ImportPath) {
			for _, imp := range p.Imports {
				if _, inModule := rel(imp); inModule && isSupport(imp) {
					add(p, imp, ruleSupport, false)
				}
			}
		}

		switch {
		case hasPrefixPath(r, "catalog"):
			for _, imp := range p.Imports {
				ir, inModule := rel(imp)
				switch {
				case isStd(imp), hasPrefixPath(imp, "golang.org/x/text"):
				case inModule && hasPrefixPath(ir, "core/fault"):
				default:
					add(p, imp, ruleCatalog, false)
				}
			}
		case hasPrefixPath(r, "core/fault"):
			for _, imp := range p.Imports {
				if !isStd(imp) {
					add(p, imp, ruleFault, false)
				}
			}
		case hasPrefixPath(r, "core"):
			for _, imp := range p.Imports {
				ir, inModule := rel(imp)
				switch {
				case matchesAny(imp, forbiddenInCore):
					add(p, imp, ruleCoreNever, false)
				case isStd(imp), hasPrefixPath(imp, "golang.org/x/crypto"):
				case inModule && hasPrefixPath(ir, "core"):
				case inModule && hasPrefixPath(ir, "ports") && isUseCase[p.ImportPath]:
				default:
					add(p, imp, ruleCore, false)
				}
			}
		case hasPrefixPath(r, "ports"):
			for _, imp := range p.Imports {
				ir, inModule := rel(imp)
				switch {
				case matchesAny(imp, forbiddenInPorts):
					add(p, imp, rulePortsNot, false)
				case isStd(imp):
				case inModule && hasPrefixPath(ir, "ports"):
				case inModule && hasPrefixPath(ir, "core") && !isUseCase[imp]:
				default:
					add(p, imp, rulePorts, false)
				}
			}
		case hasPrefixPath(r, "adapters"):
			own := adapterOf(p.ImportPath)
			for _, d := range p.Deps {
				if other := adapterOf(d); other != "" && other != own {
					add(p, d, ruleAdapters, !slices.Contains(p.Imports, d))
				}
			}
		}

		// Transitive bans: a direct import was reported above already.
		var banned []string
		var rule string
		switch {
		case hasPrefixPath(r, "core"):
			banned, rule = forbiddenInCore, ruleCoreNever
		case hasPrefixPath(r, "ports"):
			banned, rule = forbiddenInPorts, rulePortsNot
		}
		for _, d := range p.Deps {
			if banned != nil && matchesAny(d, banned) && !slices.Contains(p.Imports, d) {
				add(p, d, rule, true)
			}
		}
	}
	slices.SortFunc(out, func(a, b violation) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(out)
}

// moduleRoot returns the directory of go.mod and the module path.
func moduleRoot(t *testing.T) (dir, module string) {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside a module")
	}
	out, err = exec.Command("go", "list", "-m", "-f", "{{.Path}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return filepath.Dir(gomod), strings.TrimSpace(string(out))
}

// loadPackages lists every package of the module with its imports and
// transitive dependencies.
func loadPackages(t *testing.T, root string) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Dir,GoFiles,IgnoredGoFiles,Imports,Deps,TestImports,XTestImports,Error", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if b, err := os.ReadFile(filepath.Join(p.Dir, "doc.go")); err == nil {
			p.DocGo = string(b)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestDependencyRule(t *testing.T) {
	root, module := moduleRoot(t)
	pkgs := loadPackages(t, root)
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		if p.Error != nil {
			// Broken packages fail go build and go vet; their imports are
			// still checked as far as go list could read them.
			t.Logf("%s: %s", p.ImportPath, p.Error.Err)
		}
	}
	for _, v := range check(module, pkgs) {
		t.Error(v)
	}
}

// TestCheckerCatchesViolations runs the checker on a made-up module, so
// that a checker that finds nothing cannot pass for a clean code base.
func TestCheckerCatchesViolations(t *testing.T) {
	const m = "example.org/p"
	doc := "// Layer: x.\npackage x\n"
	p := func(path string, imports []string, deps ...string) pkg {
		return pkg{ImportPath: m + "/" + path, Imports: prefixed(m, imports), Deps: prefixed(m, append(slices.Clone(imports), deps...)), DocGo: doc}
	}
	clean := []pkg{
		p("core/fault", []string{"errors", "fmt"}),
		p("core/kvnr", []string{"core/fault"}),
		p("core/password", []string{"golang.org/x/crypto/argon2", "core/fault"}, "golang.org/x/sys/cpu"),
		p("core/client", []string{"net/url", "core/fault"}),
		p("ports/store", []string{"context", "core/kvnr", "core/client"}),
		p("ports/store/storetest", []string{"testing", "ports/store"}),
		p("core/authz", []string{"ports/store", "core/client"}),
		p("adapters/sqlstore", []string{"database/sql", "github.com/jmoiron/sqlx", "ports/store"}),
		p("adapters/sqlstore/migrations", []string{"embed"}),
		p("adapters/oidc", []string{"net/http", "github.com/zitadel/oidc/v3/pkg/op", "core/authz"}, "ports/store"),
		p("adapters/proofing/eid", []string{"net/http"}),
		p("catalog", []string{"context", "golang.org/x/text/language", "core/fault"}),
		p("adapters/webui", []string{"net/http", "catalog", "core/authz"}),
		p("cmd/pforte", []string{"adapters/sqlstore", "adapters/oidc", "core/authz", "catalog"}),
		p("test/e2e", []string{"net/http", "test/e2e/fixture"}),
		p("test/e2e/fixture", []string{"net/http"}),
		p("core/coretest", []string{"sync", "core/kvnr"}),
		p("ports/store/storetest", []string{"testing", "ports/store", "core/coretest"}),
	}
	if v := check(m, clean); len(v) != 0 {
		t.Fatalf("clean module reported: %v", v)
	}

	for _, tc := range []struct {
		name string
		pkg  pkg
		want string
	}{
		{"fault imports a module", p("core/fault", []string{"github.com/pkg/errors"}),
			"core/fault imports github.com/pkg/errors: " + ruleFault},
		{"fault imports core", p("core/fault", []string{"core/kvnr"}),
			"core/fault imports example.org/p/core/kvnr: " + ruleFault},
		{"domain imports net/http", p("core/kvnr", []string{"net/http"}),
			"core/kvnr imports net/http: " + ruleCoreNever},
		{"domain reaches database/sql", p("core/kvnr", []string{"core/fault"}, "database/sql/driver"),
			"core/kvnr depends on database/sql/driver: " + ruleCoreNever},
		{"use case imports OpenTelemetry", p("core/authz", []string{"ports/store", "go.opentelemetry.io/otel/trace"}),
			"core/authz imports go.opentelemetry.io/otel/trace: " + ruleCoreNever},
		{"domain reaches OpenTelemetry", p("core/kvnr", []string{"core/fault"}, "go.opentelemetry.io/otel/attribute"),
			"core/kvnr depends on go.opentelemetry.io/otel/attribute: " + ruleCoreNever},
		{"ports import OpenTelemetry", p("ports/store", []string{"go.opentelemetry.io/otel/trace"}),
			"ports/store imports go.opentelemetry.io/otel/trace: " + rulePortsNot},
		{"domain imports a third-party module", p("core/client", []string{"github.com/google/uuid"}),
			"core/client imports github.com/google/uuid: " + ruleCore},
		{"domain imports golang.org/x/net", p("core/client", []string{"golang.org/x/net/idna"}),
			"core/client imports golang.org/x/net/idna: " + ruleCore},
		{"use case imports jwx", p("core/authz", []string{"ports/store", "github.com/lestrrat-go/jwx/v3/jwt"}),
			"core/authz imports github.com/lestrrat-go/jwx/v3/jwt: " + ruleCore},
		{"core imports an adapter", p("core/authz", []string{"ports/store", "adapters/sqlstore"}),
			"core/authz imports example.org/p/adapters/sqlstore: " + ruleCore},
		{"ports import net/http", p("ports/token", []string{"net/http"}),
			"ports/token imports net/http: " + rulePortsNot},
		{"ports import sqlx", p("ports/store", []string{"github.com/jmoiron/sqlx"}),
			"ports/store imports github.com/jmoiron/sqlx: " + rulePortsNot},
		{"ports import a use case", p("ports/store", []string{"core/authz"}),
			"ports/store imports example.org/p/core/authz: " + rulePorts},
		{"ports import a third-party module", p("ports/store", []string{"github.com/google/uuid"}),
			"ports/store imports github.com/google/uuid: " + rulePorts},
		{"ports import an adapter", p("ports/store", []string{"adapters/oidc"}),
			"ports/store imports example.org/p/adapters/oidc: " + rulePorts},
		{"adapter imports an adapter", p("adapters/oidc", []string{"adapters/sqlstore"}),
			"adapters/oidc imports example.org/p/adapters/sqlstore: " + ruleAdapters},
		{"adapter reaches an adapter", p("adapters/oidc", []string{"core/authz"}, "adapters/sqlstore/migrations"),
			"adapters/oidc depends on example.org/p/adapters/sqlstore/migrations: " + ruleAdapters},
		{"nested adapters are separate", p("adapters/proofing/eid", []string{"adapters/proofing/videoident"}),
			"adapters/proofing/eid imports example.org/p/adapters/proofing/videoident: " + ruleAdapters},
		{"catalog imports an adapter", p("catalog", []string{"adapters/oidc"}),
			"catalog imports example.org/p/adapters/oidc: " + ruleCatalog},
		{"catalog imports a use case", p("catalog", []string{"core/authz"}),
			"catalog imports example.org/p/core/authz: " + ruleCatalog},
		{"core imports the catalog", p("core/kvnr", []string{"core/fault", "catalog"}),
			"core/kvnr imports example.org/p/catalog: " + ruleCore},
		{"ports import the catalog", p("ports/store", []string{"catalog"}),
			"ports/store imports example.org/p/catalog: " + rulePorts},
		{"no doc.go", pkg{ImportPath: m + "/core/loa"}, "core/loa: " + ruleDoc},
		{"doc.go without layer", pkg{ImportPath: m + "/core/loa", DocGo: "// Package loa.\npackage loa\n"}, "core/loa: " + ruleDoc},
	} {
		pkgs := append(slices.Clone(clean), tc.pkg)
		if tc.name == "adapter reaches an adapter" || tc.name == "nested adapters are separate" {
			pkgs = append(pkgs, p("adapters/proofing/videoident", nil))
		}
		got := check(m, pkgs)
		if !slices.ContainsFunc(got, func(v violation) bool { return v.String() == tc.want }) {
			t.Errorf("%s: want %q, got %v", tc.name, tc.want, got)
		}
	}

	// Test imports: only test/ may import test/, also from _test.go files.
	withTest := p("core/kvnr", []string{"core/fault"})
	withTest.XTestImports = []string{m + "/test/e2e/fixture"}
	got := check(m, append(slices.Clone(clean), withTest))
	want := "core/kvnr imports example.org/p/test/e2e/fixture: " + ruleTest
	if !slices.ContainsFunc(got, func(v violation) bool { return v.String() == want }) {
		t.Errorf("test import: want %q, got %v", want, got)
	}

	// Test support: tests may import it, other test support too (the
	// clean module's storetest does), the code of a package may not.
	supportTest := p("core/client", []string{"net/url", "core/fault"})
	supportTest.XTestImports = []string{m + "/core/coretest"}
	if v := check(m, append(slices.Clone(clean), supportTest)); len(v) != 0 {
		t.Errorf("a test importing test support reported: %v", v)
	}
	got = check(m, append(slices.Clone(clean), p("cmd/pforte", []string{"core/authz", "core/coretest"})))
	want = "cmd/pforte imports example.org/p/core/coretest: " + ruleSupport
	if !slices.ContainsFunc(got, func(v violation) bool { return v.String() == want }) {
		t.Errorf("test support import: want %q, got %v", want, got)
	}

	cmdUser := p("adapters/oidc", []string{"cmd/pforte/internal/x"})
	got = check(m, append(slices.Clone(clean), cmdUser))
	want = "adapters/oidc imports example.org/p/cmd/pforte/internal/x: " + ruleCmd
	if !slices.ContainsFunc(got, func(v violation) bool { return v.String() == want }) {
		t.Errorf("cmd import: want %q, got %v", want, got)
	}
}

// prefixed puts the module path before the paths of its own packages
// (those starting with a layer folder).
func prefixed(module string, paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		first, _, _ := strings.Cut(p, "/")
		switch first {
		case "core", "ports", "adapters", "cmd", "test", "configs", "catalog":
			out[i] = module + "/" + p
		default:
			out[i] = p
		}
	}
	return out
}
