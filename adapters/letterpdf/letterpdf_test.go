package letterpdf

import (
	"bytes"
	"context"
	"errors"
	"image"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
)

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

func renderer(t testing.TB) *Renderer {
	t.Helper()
	r, err := New()
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

func TestPDFIsValidA4(t *testing.T) {
	b := render(t, document(t))
	disablePDFCPUConfig()
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationStrict
	if err := api.Validate(bytes.NewReader(b), conf); err != nil {
		t.Fatalf("pdfcpu validation: %v", err)
	}
	dims, err := api.PageDims(bytes.NewReader(b), model.NewDefaultConfiguration())
	if err != nil {
		t.Fatal(err)
	}
	if len(dims) != 1 {
		t.Fatalf("%d pages, want 1", len(dims))
	}
	// A4 is 595.28 × 841.89 pt; the library rounds to whole points.
	if math.Abs(dims[0].Width-PageWidth*ptPerMM) > 0.5 || math.Abs(dims[0].Height-PageHeight*ptPerMM) > 0.5 {
		t.Fatalf("page %.2f × %.2f pt, want A4", dims[0].Width, dims[0].Height)
	}
}

func TestLayoutConstants(t *testing.T) {
	// DIN 5008 form B and the DL window envelope.
	if WindowLeft != 20 || WindowTop != 45 || WindowWidth != 85 || WindowHeight != 45 {
		t.Fatal("address field is not 20/45 mm, 85 × 45 mm")
	}
	if TextLeft-WindowLeft != 5 || AddressRight != 105 {
		t.Fatal("address text is not written from 25 mm up to the window's edge")
	}
	if got := float64(MaxAddressLines) * addressPitch; got > WindowHeight-NoteZoneHeight+0.01 {
		t.Fatalf("%d lines need %.2f mm; the address zone has %.2f", MaxAddressLines, got, WindowHeight-NoteZoneHeight)
	}
	if FoldMark1 != 105 || FoldMark2 != 210 || PunchMark != PageHeight/2 {
		t.Fatal("fold and punch marks")
	}
	if QRSize*33/41 < QRMinSymbol {
		t.Fatal("the smallest QR symbol is below the minimum")
	}
}

func TestValidUntilIsALastFullDay(t *testing.T) {
	r := renderer(t)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, tc := range []struct {
		until time.Time
		want  string
	}{
		{time.Date(2027, 1, 28, 10, 40, 0, 0, time.UTC), "27.01.2027"},
		{time.Date(2027, 1, 29, 0, 0, 0, 0, berlin), "28.01.2027"},
		{time.Date(2027, 1, 28, 23, 30, 0, 0, time.UTC), "28.01.2027"}, // 00:30 on the 29th in Germany
		{time.Date(2027, 7, 1, 22, 0, 0, 0, time.UTC), "01.07.2027"},   // midnight in summer time
	} {
		if got := r.lastFullDay(tc.until); got != tc.want {
			t.Errorf("lastFullDay(%v) = %s, want %s", tc.until, got, tc.want)
		}
	}
}

func TestDeterministic(t *testing.T) {
	d := document(t)
	if !bytes.Equal(render(t, d), render(t, d)) {
		t.Fatal("two renderings of one document differ")
	}
}

// decodePure decodes the QR code of a clean image (one symbol with its
// quiet zone, as the renderer paints it).
//
// It uses ZXing's PURE_BARCODE mode, as letterscan.Read does first. The
// detector of its default mode is made for camera pictures: it finds the
// three finder patterns and derives the module size from the runs of
// black and white next to them, then the symbol's width in modules. For
// about one symbol in seventy of the letter's version-4 activation links,
// drawn at exactly qrPixels pixels per module, the runs next to a finder
// pattern continue into data modules of the same colour, the estimate
// comes out at 27 or 31 modules instead of 33 (or a pattern lands outside
// the image), and it gives up with NotFound although the symbol is
// intact; which symbols, depends on the random activation code. That made
// this test fail about once in a few hundred runs. The pure mode reads
// the module grid from the symbol's corners and decodes every such image.
func decodePure(t *testing.T, png []byte) (*gozxing.Result, image.Image) {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatal(err)
	}
	return res, img
}

func TestQRCode(t *testing.T) {
	urls := []string{
		document(t).ActivationURL,
		// Symbols on which ZXing's detector misjudges the width (see
		// decodePure): fixed here, so that the test does not depend on
		// drawing one.
		"https://id.hkk.example/app/activate#3NRXXEFBAJL5PWNAR5NQ9P5Q52",
		"https://id.hkk.example/app/activate#8AE6BT6A8S5C7Y579TH9VBG3CH",
		"https://id.hkk.example/app/activate#J4K2FZ48T6HSH2XQ6EB6Y2RMBD",
		"https://id.hkk.example/app/activate#YCXAVNFFYLR75DH2ZZZD2FN63Y",
	}
	for _, u := range urls {
		png, modules, err := qrImage(u, qrMinVersion)
		if err != nil {
			t.Fatal(err)
		}
		if side := symbolSide(QRSize, modules); side < QRMinSymbol {
			t.Fatalf("QR symbol %.1f mm, want at least %.0f", side, QRMinSymbol)
		}
		res, img := decodePure(t, png)
		if res.GetText() != u {
			t.Fatalf("QR holds %q, want %q", res.GetText(), u)
		}
		level := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL]
		if level != "M" && level != "Q" && level != "H" {
			t.Fatalf("error correction %v, want M or better", level)
		}
		// The quiet zone is four modules of white on every side.
		b := img.Bounds()
		for i := range qrQuiet * qrPixels {
			for j := b.Min.X; j < b.Max.X; j++ {
				for _, p := range [][2]int{{j, i}, {j, b.Max.Y - 1 - i}, {i, j}, {b.Max.X - 1 - i, j}} {
					if r, _, _, _ := img.At(p[0], p[1]).RGBA(); r != 0xffff {
						t.Fatalf("quiet zone not white at %v", p)
					}
				}
			}
		}
	}
}

func TestRefusesDocumentsThatDoNotFit(t *testing.T) {
	r := renderer(t)
	for _, tc := range []struct {
		name   string
		change func(*letter.Document)
	}{
		{"name too long for the window", func(d *letter.Document) {
			d.Recipient.Name = "Maximiliane Wilhelmine Friederike Müller-Lüdenscheidt-Schwarzenberg"
		}},
		{"street too long for the window", func(d *letter.Document) {
			d.Recipient.Address.Street = "Bürgermeister-Smidt-Straße-und-Weserpromenade 1234"
		}},
		{"seven lines", func(d *letter.Document) {
			d.Recipient.Name = "Jürgen Müßig\nc/o A\nc/o B\nc/o C"
			d.Recipient.Address.Country = "AT"
		}},
		{"sender too long for the return line", func(d *letter.Document) {
			d.Sender = strings.Repeat("hkk Krankenkasse · Martinistraße 26 · ", 3) + "28195 Bremen"
		}},
		{"no street", func(d *letter.Document) { d.Recipient.Address.Street = " " }},
		{"no name", func(d *letter.Document) { d.Recipient.Name = "" }},
		{"tab in the name", func(d *letter.Document) { d.Recipient.Name = "Jürgen\tMüßig" }},
		{"character without glyph", func(d *letter.Document) { d.Recipient.Name = "Jürgen 山田" }},
		{"no password", func(d *letter.Document) { d.InitialPassword = "" }},
		{"no URL", func(d *letter.Document) { d.ActivationURL = "" }},
		{"URL too long", func(d *letter.Document) { d.ActivationURL = "https://x/" + strings.Repeat("a", 600) }},
		{"no date", func(d *letter.Document) { d.Date = time.Time{} }},
		{"expired before written", func(d *letter.Document) { d.ValidUntil = d.Date }},
		{"contact on two lines", func(d *letter.Document) { d.ContactAddress = "Martinistraße 26\n28195 Bremen" }},
		{"contact phone too long for the block", func(d *letter.Document) { d.ContactPhone = strings.Repeat("0421 3655 ", 8) }},
		{"contact without glyph", func(d *letter.Document) { d.ContactAddress = "山田" }},
		{"app link too long for two lines", func(d *letter.Document) {
			d.AppStoreURL = "https://www.hkk.example/" + strings.Repeat("app", 30)
		}},
		{"app link with a space", func(d *letter.Document) { d.AppStoreURL = "https://www.hkk.example/service app" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := document(t)
			tc.change(&d)
			b, err := r.Render(context.Background(), d)
			if !errors.Is(err, fault.Invalid) {
				t.Fatalf("Render = %d bytes, %v; want Invalid", len(b), err)
			}
			if testing.Verbose() {
				t.Log(err)
			}
		})
	}
}

func BenchmarkRender(b *testing.B) {
	r := renderer(b)
	d := document(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := r.Render(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
}

// disablePDFCPUConfig stops pdfcpu from creating a configuration
// directory under the user's home on first use.
var disablePDFCPUConfig = sync.OnceFunc(api.DisableConfigDir)
