package letterscan

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"

	"github.com/pforte-id/pforte/adapters/letterpdf"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
)

// These tests render letters with letterpdf and read them back: what is
// printed is what the member needs, and the address sits in the window.

const ptPerMM = 72 / 25.4

var dated = time.Date(2026, 11, 29, 10, 40, 0, 0, time.UTC)

func document(t testing.TB) letter.Document {
	t.Helper()
	s := letter.NewSecrets()
	l := letter.Letter{
		ID: "K7QM3XPA9RTW2HZC",
		Recipient: letter.Recipient{Name: "Jürgen Müßig", Address: member.Address{
			Street: "Große Straße 12a", PostalCode: "28195", Locality: "Bremen", Country: "DE"}},
		ExpiresAt: dated.Add(60 * 24 * time.Hour),
	}
	d := letter.NewDocument(l, s, "https://id.hkk.example/", "hkk Krankenkasse · Martinistraße 26 · 28195 Bremen", dated)
	d.ContactPhone, d.ContactAddress = "0421 3655-0", "hkk Krankenkasse, Martinistraße 26, 28195 Bremen"
	return d
}

func renderer(t testing.TB) *letterpdf.Renderer {
	t.Helper()
	r, err := letterpdf.New()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func render(t testing.TB, d letter.Document) []byte {
	t.Helper()
	b, err := renderer(t).Render(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// faces measures text as the PDF draws it, from the same fonts.
var faces = sync.OnceValue(func() map[string]*opentype.Font {
	m := map[string]*opentype.Font{}
	for _, name := range []string{letterpdf.RegularFont, letterpdf.BoldFont, letterpdf.MonoFont} {
		f, err := opentype.Parse(letterpdf.FontData(name))
		if err != nil {
			panic(err)
		}
		m[name] = f
	}
	return m
})

func TestRenderThenRead(t *testing.T) {
	d := document(t)
	b := render(t, d)
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", b[:min(len(b), 8)])
	}
	if len(b) > 200<<10 {
		t.Fatalf("PDF has %d bytes, want < 200 KiB", len(b))
	}
	got, err := Read(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Content{ActivationURL: d.ActivationURL, InitialPassword: d.InitialPassword, ActivationCode: d.ActivationCode}
	if got != want {
		t.Fatalf("Read = %+v, want %+v", got, want)
	}
	if !strings.Contains(got.ActivationURL, "/app/activate#") {
		t.Fatalf("activation URL %q", got.ActivationURL)
	}
	t.Logf("PDF size %d bytes", len(b))
}

func TestReadRefusesOtherFiles(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":     nil,
		"not a PDF": []byte("hello"),
		"truncated": render(t, document(t))[:2000],
		"too large": make([]byte, MaxReadSize+1),
	} {
		if _, err := Read(b); !errors.Is(err, fault.Invalid) {
			t.Errorf("%s: Read = %v, want Invalid", name, err)
		}
	}
}

func TestConcurrentRender(t *testing.T) {
	r := renderer(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			d := document(t)
			b, err := r.Render(context.Background(), d)
			if err != nil {
				t.Error(err)
				return
			}
			if c, err := Read(b); err != nil || c.InitialPassword != d.InitialPassword {
				t.Errorf("Read = %+v, %v", c, err)
			}
		})
	}
	wg.Wait()
}

func BenchmarkRead(b *testing.B) {
	pdf := render(b, document(b))
	for b.Loop() {
		if _, err := Read(pdf); err != nil {
			b.Fatal(err)
		}
	}
}

// box is where a run of text lies on the page, in millimetres from the
// top left: from its left to its advance, from the top of the font's
// ascent to the bottom of its descent.
func box(t *testing.T, r run) (left, top, right, bottom float64) {
	t.Helper()
	f, ok := faces()[r.font]
	if !ok {
		t.Fatalf("unknown font %q", r.font)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: r.size, DPI: 72})
	if err != nil {
		t.Fatal(err)
	}
	defer face.Close()
	m := face.Metrics()
	adv := font.MeasureString(face, r.s)
	left = r.x / ptPerMM
	right = (r.x + float64(adv)/64) / ptPerMM
	baseline := letterpdf.PageHeight - r.y/ptPerMM
	top = baseline - float64(m.Ascent)/64/ptPerMM
	bottom = baseline + float64(m.Descent)/64/ptPerMM
	return
}

// windowText is the text inside the window, top to bottom; it fails when
// any text only partly lies inside.
func windowText(t *testing.T, b []byte) []string {
	t.Helper()
	runs, err := textRuns(b)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range runs {
		l, tp, rt, bt := box(t, r)
		inside := l >= letterpdf.WindowLeft && rt <= letterpdf.WindowLeft+letterpdf.WindowWidth && tp >= letterpdf.WindowTop && bt <= letterpdf.WindowTop+letterpdf.WindowHeight
		outside := rt <= letterpdf.WindowLeft || l >= letterpdf.WindowLeft+letterpdf.WindowWidth || bt <= letterpdf.WindowTop || tp >= letterpdf.WindowTop+letterpdf.WindowHeight
		switch {
		case inside:
			lines = append(lines, r.s)
		case !outside:
			t.Errorf("%q crosses the window's edge: %.1f..%.1f × %.1f..%.1f mm", r.s, l, rt, tp, bt)
		}
	}
	return lines
}

func TestAddressInWindow(t *testing.T) {
	d := document(t)
	got := windowText(t, render(t, d))
	want := []string{"hkk Krankenkasse · Martinistraße 26 · 28195 Bremen", "Jürgen Müßig", "Große Straße 12a", "28195 Bremen"}
	if !slices.Equal(got, want) {
		t.Fatalf("window shows %q, want %q", got, want)
	}

	// The fullest address the window takes: six lines, a long line, abroad.
	d.Recipient = letter.Recipient{
		Name:    "Dr. Maximiliane Müller-Lüdenscheidt\nc/o Ärztehaus am Schloßpark\nPraxis 3. Obergeschoss",
		Address: member.Address{Street: "Hauptstraße 1", PostalCode: "1010", Locality: "Wien", Country: "at"},
	}
	got = windowText(t, render(t, d))
	want = []string{d.Sender, "Dr. Maximiliane Müller-Lüdenscheidt", "c/o Ärztehaus am Schloßpark",
		"Praxis 3. Obergeschoss", "Hauptstraße 1", "1010 Wien", "ÖSTERREICH"}
	if !slices.Equal(got, want) {
		t.Fatalf("window shows %q, want %q", got, want)
	}
}

func TestTextIsExtractable(t *testing.T) {
	d := document(t)
	runs, err := textRuns(render(t, d))
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, r := range runs {
		all = append(all, r.s)
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{
		letterpdf.Subject, "Guten Tag Jürgen Müßig,", "Datum: 29.11.2026", "Gültig bis 27.01.2027",
		"„Zugangsdaten anfordern“", "Freigabe-PIN", "Geben Sie Passwort und Code niemals weiter", "K7QM 3XPA 9RTW 2HZC",
		"Telefon: 0421 3655-0", "telefonisch unter 0421 3655-0", "Gesundheitskarte",
		d.InitialPassword, d.ActivationCode,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	if strings.Contains(text, d.ActivationURL) {
		t.Error("the activation URL is printed as text; it belongs in the QR code only")
	}
}

func TestReadWithAppStoreLink(t *testing.T) {
	d := document(t)
	d.AppStoreURL = "https://www.hkk.example/service-app"
	got, err := Read(render(t, d))
	if err != nil {
		t.Fatal(err)
	}
	want := Content{ActivationURL: d.ActivationURL, InitialPassword: d.InitialPassword, ActivationCode: d.ActivationCode, AppStoreURL: d.AppStoreURL}
	if got != want {
		t.Fatalf("Read = %+v, want %+v", got, want)
	}
}

// TestNothingOverlaps checks that no two runs of text share space, and
// that no text lies on a QR code, with and without the link to the app
// (whose block sits in the information block, beside its QR code).
func TestNothingOverlaps(t *testing.T) {
	type rect struct {
		what                     string
		left, top, right, bottom float64
	}
	apart := func(a, b rect) bool {
		return a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top
	}
	for _, link := range []string{"", "https://www.hkk.example/app", "https://www.hkk-krankenkasse.example/service-app/laden?q=brief"} {
		d := document(t)
		d.AppStoreURL = link
		runs, err := textRuns(render(t, d))
		if err != nil {
			t.Fatal(err)
		}
		var rs []rect
		if link != "" {
			rs = append(rs, rect{"app QR code", letterpdf.TextRight - letterpdf.AppQRSize, letterpdf.AppQRTop,
				letterpdf.TextRight, letterpdf.AppQRTop + letterpdf.AppQRSize})
		}
		for _, r := range runs {
			l, tp, rt, bt := box(t, r)
			// Ascent and descent of neighbouring lines may touch; the
			// ink (about 70 % of them) must not.
			shrink := (bt - tp) * 0.15
			rs = append(rs, rect{r.s, l, tp + shrink, rt, bt - shrink})
		}
		for i := range rs {
			for j := i + 1; j < len(rs); j++ {
				if !apart(rs[i], rs[j]) {
					t.Errorf("link %q: %q and %q overlap", link, rs[i].what, rs[j].what)
				}
			}
			if rs[i].right > letterpdf.PageWidth-10 {
				t.Errorf("link %q: %q reaches into the right margin", link, rs[i].what)
			}
		}
	}
}
