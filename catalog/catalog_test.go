package catalog

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

// moduleRoot is the repository root: this package's parent.
const moduleRoot = ".."

// declaredCodes returns every code the module's non-test Go files declare:
// constants of type fault.Code (Code inside package fault), and string
// literals handed to fault.Coded or WithCode. The value is where it is.
func declaredCodes(t *testing.T) map[string]string {
	t.Helper()
	codes := map[string]string{}
	fset := token.NewFileSet()
	isCode := func(e ast.Expr, pkg string) bool {
		switch e := e.(type) {
		case *ast.SelectorExpr:
			x, ok := e.X.(*ast.Ident)
			return ok && x.Name == "fault" && e.Sel.Name == "Code"
		case *ast.Ident:
			return pkg == "fault" && e.Name == "Code"
		}
		return false
	}
	literal := func(e ast.Expr) (string, bool) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		v, err := strconv.Unquote(lit.Value)
		return v, err == nil
	}
	err := filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != moduleRoot {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				if n.Type == nil || !isCode(n.Type, f.Name.Name) {
					return true
				}
				for _, v := range n.Values {
					if s, ok := literal(v); ok {
						codes[s] = fset.Position(v.Pos()).String()
					}
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				var arg ast.Expr
				switch {
				case sel.Sel.Name == "Coded" && len(n.Args) >= 3:
					arg = n.Args[2]
				case sel.Sel.Name == "WithCode" && len(n.Args) >= 1:
					arg = n.Args[0]
				}
				if s, ok := literal(arg); ok {
					codes[s] = fset.Position(arg.Pos()).String()
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return codes
}

// usedKeys returns the catalog keys pages and adapters name directly:
// {{call .T "key"}} in templates and Text("key") in Go.
func usedKeys(t *testing.T) map[string]string {
	t.Helper()
	keys := map[string]string{}
	patterns := []*regexp.Regexp{
		regexp.MustCompile(`call \$?\.T "([^"]+)"`),
		regexp.MustCompile(`\.Text\("([a-z_.]+)"`),
		regexp.MustCompile(`writePage\([^"]*"([a-z_.]+)"`),
	}
	err := filepath.WalkDir(filepath.Join(moduleRoot, "adapters"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") ||
			!(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".html")) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, re := range patterns {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				keys[m[1]] = path
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestEveryCodeHasBothTexts fails when a code declared anywhere in the
// module, or a key a page uses, has no German or no English text.
func TestEveryCodeHasBothTexts(t *testing.T) {
	codes := declaredCodes(t)
	if len(codes) < 50 {
		t.Fatalf("found only %d codes: the scan is broken", len(codes))
	}
	for code, where := range codes {
		keys := []string{code}
		if strings.HasPrefix(code, "mail.") {
			keys = []string{code + ".subject", code + ".body"}
		}
		for _, k := range keys {
			if tx, ok := texts[k]; !ok || tx.de == "" || tx.en == "" {
				t.Errorf("%s: code %q has no German or no English text (%q)", where, k, tx)
			}
		}
	}
	used := usedKeys(t)
	if len(used) < 10 {
		t.Fatalf("found only %d keys in pages: the scan is broken", len(used))
	}
	for k, where := range used {
		if tx, ok := texts[k]; !ok || tx.de == "" || tx.en == "" {
			t.Errorf("%s: key %q has no German or no English text", where, k)
		}
	}
	for _, k := range fault.Kinds() {
		if tx, ok := texts["kind."+k.String()]; !ok || tx.de == "" || tx.en == "" {
			t.Errorf("kind %v has no text", k)
		}
	}
}

var verb = regexp.MustCompile(`%(\[\d+\])?[a-zA-Z%]`)

// TestTextsAreOneLanguageWithTheSameParameters: no text carries both
// languages, and both languages of a key use the same parameters.
func TestTextsAreOneLanguageWithTheSameParameters(t *testing.T) {
	for k, tx := range texts {
		if strings.Contains(tx.de, " / ") || strings.Contains(tx.en, " / ") || tx.de == tx.en && !strings.HasPrefix(k, "page.title") {
			t.Errorf("%s: %q / %q", k, tx.de, tx.en)
		}
		de, en := verb.FindAllString(tx.de, -1), verb.FindAllString(tx.en, -1)
		slices.Sort(de)
		slices.Sort(en)
		if !slices.Equal(de, en) {
			t.Errorf("%s: parameters %v in German, %v in English", k, de, en)
		}
		for _, v := range de {
			if !strings.HasPrefix(v, "%[") {
				t.Errorf("%s: parameter %s without an index", k, v)
			}
		}
	}
}

func TestMatch(t *testing.T) {
	for header, want := range map[string]string{
		"": "de", "de": "de", "en": "en", "en-US": "en", "de-AT,en;q=0.8": "de", "en;q=0.8,de;q=0.9": "de",
		"en;q=0.9,de;q=0.8": "en", "fr": "de", "fr,en;q=0.5": "en", "*": "de", ";;;": "de",
		strings.Repeat("x-private,", 60) + "en": "de", // oversized: not parsed
	} {
		if got := Match(header).Lang(); got != want {
			t.Errorf("Accept-Language %q: %s, want %s", header, got, want)
		}
	}
}

func TestErrorTexts(t *testing.T) {
	err := fault.Wrap(fault.Unauthenticated, "outer", fault.Coded(fault.Unauthenticated, "binding", "pin.wrong", 3))
	if got := German.Error(err); got != "Die PIN ist falsch. Verbleibende Versuche: 3." {
		t.Errorf("German: %q", got)
	}
	if got := English.Error(err); got != "The PIN is wrong. Attempts left: 3." {
		t.Errorf("English: %q", got)
	}
	secret := fault.Wrap(fault.Unavailable, "store", errors.New("dial tcp: secret"))
	if got := English.Error(secret); got != "The service is temporarily unavailable." {
		t.Errorf("kind text: %q", got)
	}
	if got := Describe(fault.New(fault.Invalid, "authz", "state is too long")); got != "state is too long" {
		t.Errorf("Describe keeps the diagnostic: %q", got)
	}
	if got := Describe(fault.Coded(fault.NotFound, "authz", "login.unknown")); got != "The login request is unknown or has expired." {
		t.Errorf("Describe of a code: %q", got)
	}
	if got := Describe(secret.WithPublic("internal detail")); got != "The service is temporarily unavailable." {
		t.Errorf("Describe of an outage: %q", got)
	}
}

func TestMail(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ctx := WithPrinter(context.Background(), English)
	subject, body := From(ctx).Mail("mail.device_renamed", "Alt", at, "Neu")
	if subject != "Device renamed" || !strings.HasPrefix(body, "The device “Alt” has been called “Neu” since 02.03.2026 at 11:00 (German time).") ||
		!strings.HasSuffix(body, "This message was sent automatically.") {
		t.Errorf("English mail %q: %q", subject, body)
	}
	subject, body = From(context.Background()).Mail("mail.device_renamed", "Alt", at, "Neu")
	if subject != "Gerät umbenannt" || !strings.HasPrefix(body, "Das Gerät „Alt“ heißt seit 02.03.2026 um 11:00 Uhr „Neu“.") ||
		!strings.HasSuffix(body, "Diese Nachricht wurde automatisch versandt.") {
		t.Errorf("German mail %q: %q", subject, body)
	}
}

// TestBilingualLetterMail: mails about letters are in German with the
// English text below, both with their footer, the subject in both.
func TestBilingualLetterMail(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	next := at.Add(7 * 24 * time.Hour)
	subject, body := BilingualLetterMail("mail.letter_too_soon", at, at, next)
	if subject != "Ihre Anfrage nach einem Passwortbrief / Your request for a password letter" {
		t.Errorf("subject %q", subject)
	}
	de, en, ok := strings.Cut(body, mailSeparator)
	if !ok {
		t.Fatalf("no separator in %q", body)
	}
	_, wantDE := German.LetterMail("mail.letter_too_soon", at, at, next)
	_, wantEN := English.LetterMail("mail.letter_too_soon", at, at, next)
	if de != wantDE || en != wantEN {
		t.Errorf("German %q, want %q; English %q, want %q", de, wantDE, en, wantEN)
	}
	if !strings.Contains(de, "ab dem 09.03.2026 um 11:00 Uhr möglich") || !strings.HasSuffix(de, "Diese Nachricht wurde automatisch versandt.") ||
		!strings.Contains(en, "possible from 09.03.2026 at 11:00 (German time)") || !strings.HasSuffix(en, "This message was sent automatically.") {
		t.Errorf("body %q", body)
	}
}

// TestWaitTexts: a wait is worded in the member's language, rounded up to
// a unit people read.
func TestWaitTexts(t *testing.T) {
	for _, tc := range []struct {
		d      time.Duration
		de, en string
	}{
		{time.Second, "1 Sekunde", "1 second"},
		{1500 * time.Millisecond, "2 Sekunden", "2 seconds"},
		{90 * time.Second, "90 Sekunden", "90 seconds"},
		{2 * time.Minute, "2 Minuten", "2 minutes"},
		{(14*60 + 1) * time.Second, "15 Minuten", "15 minutes"},
		{3 * time.Hour, "3 Stunden", "3 hours"},
	} {
		err := fault.Coded(fault.RateLimited, "login", "login.wait", tc.d)
		if got, want := German.Error(err), "Zu viele Fehlversuche. Bitte warten Sie "+tc.de+" und versuchen Sie es dann erneut."; got != want {
			t.Errorf("%v German: %q, want %q", tc.d, got, want)
		}
		if got, want := English.Error(err), "Too many failed attempts. Please wait "+tc.en+" and then try again."; got != want {
			t.Errorf("%v English: %q, want %q", tc.d, got, want)
		}
	}
}
