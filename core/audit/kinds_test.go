package audit_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"

	"github.com/pforte-id/pforte/core/audit"
)

// TestKindsListsEveryKind: Kinds holds exactly the Kind constants
// declared in this package, so that whoever words every kind (the account
// page) cannot miss a new one.
func TestKindsListsEveryKind(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "audit.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []audit.Kind
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			v := spec.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); !ok || id.Name != "Kind" {
				continue
			}
			for _, val := range v.Values {
				s, err := strconv.Unquote(val.(*ast.BasicLit).Value)
				if err != nil {
					t.Fatal(err)
				}
				declared = append(declared, audit.Kind(s))
			}
		}
	}
	got := slices.Clone(audit.Kinds)
	slices.Sort(got)
	slices.Sort(declared)
	if len(declared) < 10 || !slices.Equal(got, declared) {
		t.Fatalf("audit.Kinds %v, declared %v", got, declared)
	}
}
