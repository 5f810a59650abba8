package letterpdf

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // letters are dated in German time on any host
	"unicode"
	"unicode/utf8"

	goqr "github.com/piglig/go-qr"
	"github.com/signintech/gopdf"
	"golang.org/x/image/font/sfnt"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/ports/letterprint"
)

var _ letterprint.Renderer = (*Renderer)(nil)

// Font families as registered with gopdf and named in the PDF; a reader
// of the PDF tells the runs of text apart by them.
const (
	RegularFont = "regular"
	BoldFont    = "bold"
	// MonoFont is the font of the initial password and the activation
	// code, and of nothing else on the letter.
	MonoFont = "mono"

	fontRegular = RegularFont
	fontBold    = BoldFont
	fontMono    = MonoFont
)

// Subject is the letter's subject line.
const Subject = "Ihr Passwortbrief für die Service-App"

// Renderer renders letter documents to PDF. It holds no state between
// calls and is safe for concurrent use.
type Renderer struct {
	berlin *time.Location
}

// New returns a Renderer.
func New() (*Renderer, error) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return nil, fault.Wrap(fault.Internal, "letterpdf.New", err)
	}
	if _, err := glyphs(); err != nil {
		return nil, fault.Wrap(fault.Internal, "letterpdf.New", err)
	}
	return &Renderer{berlin: loc}, nil
}

// fontSet holds the parsed fonts, to check that every character of a
// document has a glyph before anything is drawn.
type fontSet struct{ regular, bold, mono *sfnt.Font }

var glyphs = sync.OnceValues(func() (*fontSet, error) {
	data, err := fontData()
	if err != nil {
		return nil, err
	}
	var fs fontSet
	for _, f := range []struct {
		dst **sfnt.Font
		ttf []byte
	}{{&fs.regular, data[fontRegular]}, {&fs.bold, data[fontBold]}, {&fs.mono, data[fontMono]}} {
		p, err := sfnt.Parse(f.ttf)
		if err != nil {
			return nil, err
		}
		*f.dst = p
	}
	return &fs, nil
})

// printable reports whether f can print every rune of s, and s has no
// control characters (a tab or line feed in a name would move the rest
// of the address out of the window).
func printable(f *sfnt.Font, s string) bool {
	var buf sfnt.Buffer
	for _, r := range s {
		if unicode.IsControl(r) || !unicode.IsPrint(r) && r != ' ' {
			return false
		}
		if r == ' ' {
			continue
		}
		if g, err := f.GlyphIndex(&buf, r); err != nil || g == 0 {
			return false
		}
	}
	return true
}

// Render draws d on one A4 page. Errors: Invalid when d lacks a field,
// holds a character the fonts cannot print, or its address or return
// address does not fit the window; Internal when the PDF library fails.
func (r *Renderer) Render(ctx context.Context, d letter.Document) ([]byte, error) {
	const op = "letterpdf.Render"
	if err := ctx.Err(); err != nil {
		return nil, fault.Wrap(fault.Unavailable, op, err)
	}
	addr, err := addressLines(d.Recipient)
	if err != nil {
		return nil, err
	}
	if err := r.check(d, addr); err != nil {
		return nil, err
	}
	qr, modules, err := qrImage(d.ActivationURL, qrMinVersion)
	if err != nil {
		return nil, err
	}
	if symbolSide(QRSize, modules) < QRMinSymbol {
		return nil, fault.New(fault.Invalid, op, "activation URL too long for the QR code")
	}
	var appQR []byte
	if d.AppStoreURL != "" {
		if appQR, _, err = qrImage(d.AppStoreURL, goqr.MinVersion); err != nil {
			return nil, err
		}
	}

	p := &page{pdf: &gopdf.GoPdf{}}
	p.pdf.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4, Unit: gopdf.UnitMM})
	p.pdf.SetInfo(gopdf.PdfInfo{
		Title:        Subject,
		Author:       senderName(d.Sender),
		Subject:      "Passwortbrief",
		Creator:      "Pforte",
		Producer:     "Pforte",
		CreationDate: d.Date,
	})
	for _, name := range []string{fontRegular, fontBold, fontMono} {
		if err := p.pdf.AddTTFFontData(name, FontData(name)); err != nil {
			return nil, fault.Wrap(fault.Internal, op, err)
		}
	}
	p.pdf.AddPage()

	if err := r.draw(p, d, addr, qr, appQR); err != nil {
		return nil, err
	}
	if p.err != nil {
		return nil, p.err
	}
	out, err := p.pdf.GetBytesPdfReturnErr()
	if err != nil {
		return nil, fault.Wrap(fault.Internal, op, err)
	}
	return out, nil
}

// addressLines are the lines in the window: name, street, postal code and
// locality, and the country in capitals for letters abroad (DIN 5008).
// A field may hold several lines (a c/o line in the name).
func addressLines(rc letter.Recipient) ([]string, error) {
	invalid := func(msg string) error { return fault.New(fault.Invalid, "letterpdf.Render", msg) }
	a := rc.Address
	if strings.TrimSpace(rc.Name) == "" || strings.TrimSpace(a.Street) == "" ||
		strings.TrimSpace(a.PostalCode) == "" || strings.TrimSpace(a.Locality) == "" {
		return nil, invalid("recipient name, street, postal code and locality are required")
	}
	var lines []string
	for _, field := range []string{rc.Name, a.Street, strings.TrimSpace(a.PostalCode) + " " + strings.TrimSpace(a.Locality)} {
		for _, l := range strings.Split(strings.ReplaceAll(field, "\r\n", "\n"), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
	}
	if country := strings.ToUpper(strings.TrimSpace(a.Country)); country != "" && country != "DE" {
		lines = append(lines, countryName(country))
	}
	if len(lines) > MaxAddressLines {
		return nil, invalid(fmt.Sprintf("the address has %d lines; the window holds %d", len(lines), MaxAddressLines))
	}
	return lines, nil
}

// check refuses documents that cannot be printed as they are.
func (r *Renderer) check(d letter.Document, addr []string) error {
	invalid := func(msg string) error { return fault.New(fault.Invalid, "letterpdf.Render", msg) }
	switch {
	case strings.TrimSpace(d.InitialPassword) == "" || strings.TrimSpace(d.ActivationCode) == "":
		return invalid("initial password and activation code are required")
	case strings.TrimSpace(d.ActivationURL) == "":
		return invalid("activation URL is required")
	case strings.TrimSpace(d.Sender) == "":
		return invalid("sender is required")
	case d.Date.IsZero() || d.ValidUntil.IsZero():
		return invalid("date and validity are required")
	case !d.ValidUntil.After(d.Date):
		return invalid("letter expires before its date")
	}
	fs, err := glyphs()
	if err != nil {
		return fault.Wrap(fault.Internal, "letterpdf.Render", err)
	}
	if strings.ContainsAny(d.ContactPhone+d.ContactAddress, "\r\n") {
		return invalid("the contact must be one line each")
	}
	for _, s := range append(addr, d.Sender, d.LetterID, d.ContactPhone, d.ContactAddress) {
		if !printable(fs.regular, s) || !printable(fs.bold, s) {
			return invalid("the address or sender holds a character that cannot be printed")
		}
	}
	for _, s := range []string{d.InitialPassword, d.ActivationCode} {
		if !printable(fs.mono, s) {
			return invalid("the secrets hold a character that cannot be printed")
		}
	}
	if !utf8.ValidString(d.ActivationURL) || len(d.ActivationURL) > 512 {
		return invalid("activation URL is not printable")
	}
	if d.AppStoreURL != "" && (len(d.AppStoreURL) > 200 || !printable(fs.regular, d.AppStoreURL) || strings.ContainsRune(d.AppStoreURL, ' ')) {
		return invalid("the app link is not printable")
	}
	return nil
}

// senderName is the first part of the sender line
// ("hkk Krankenkasse · Martinistraße 26 · 28195 Bremen"), the letterhead.
func senderName(sender string) string {
	name := sender
	for _, sep := range []string{" · ", ", ", " | ", " - "} {
		if before, _, ok := strings.Cut(name, sep); ok {
			name = before
		}
	}
	return strings.TrimSpace(name)
}

// countryName writes a country code as the country line of a letter
// abroad: the German name in capitals, which Deutsche Post and the
// destination's post both read; unknown codes are printed as they are.
func countryName(code string) string {
	if n, ok := countries[code]; ok {
		return n
	}
	return code
}

var countries = map[string]string{
	"AT": "ÖSTERREICH", "BE": "BELGIEN", "BG": "BULGARIEN", "CH": "SCHWEIZ", "CY": "ZYPERN",
	"CZ": "TSCHECHIEN", "DK": "DÄNEMARK", "EE": "ESTLAND", "ES": "SPANIEN", "FI": "FINNLAND",
	"FR": "FRANKREICH", "GB": "VEREINIGTES KÖNIGREICH", "GR": "GRIECHENLAND", "HR": "KROATIEN",
	"HU": "UNGARN", "IE": "IRLAND", "IS": "ISLAND", "IT": "ITALIEN", "LI": "LIECHTENSTEIN",
	"LT": "LITAUEN", "LU": "LUXEMBURG", "LV": "LETTLAND", "MT": "MALTA", "NL": "NIEDERLANDE",
	"NO": "NORWEGEN", "PL": "POLEN", "PT": "PORTUGAL", "RO": "RUMÄNIEN", "SE": "SCHWEDEN",
	"SI": "SLOWENIEN", "SK": "SLOWAKEI", "TR": "TÜRKEI", "US": "USA",
}

// qrMinVersion keeps the symbol at least 33 modules wide, so that it
// covers at least 33/41 of QRSize (36.2 mm) next to its quiet zone.
const qrMinVersion = 4

// qrImage paints the QR code of url (error correction at least M; the
// library raises it when the symbol has room; version at least
// minVersion) as a 1-bit PNG with the quiet zone, and returns the
// symbol's width in modules.
func qrImage(url string, minVersion int) ([]byte, int, error) {
	const op = "letterpdf.qrImage"
	segs, err := goqr.MakeSegments(url)
	if err != nil {
		return nil, 0, fault.Wrap(fault.Invalid, op, err).WithPublic("URL does not fit a QR code")
	}
	q, err := goqr.EncodeSegments(segs, goqr.Medium, minVersion, goqr.MaxVersion, -1, true)
	if err != nil {
		return nil, 0, fault.Wrap(fault.Invalid, op, err).WithPublic("URL does not fit a QR code")
	}
	n := q.Size()
	side := (n + 2*qrQuiet) * qrPixels
	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	for y := range n {
		for x := range n {
			if !q.Module(x, y) {
				continue
			}
			for dy := range qrPixels {
				row := img.Pix[((y+qrQuiet)*qrPixels+dy)*img.Stride:]
				for dx := range qrPixels {
					row[(x+qrQuiet)*qrPixels+dx] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, 0, fault.Wrap(fault.Internal, op, err)
	}
	return buf.Bytes(), n, nil
}

// symbolSide is the printed side, in millimetres, of a symbol of modules
// modules drawn as an image of side mm with its quiet zone.
func symbolSide(side float64, modules int) float64 {
	return side * float64(modules) / float64(modules+2*qrQuiet)
}
