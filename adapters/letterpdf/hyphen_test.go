package letterpdf

import (
	"bytes"
	"encoding/binary"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ledongthuc/pdf"
)

// embeddedHyphen is what a PDF's font draws for U+002D: the glyph its
// ToUnicode map reads back as "-", that glyph's advance width from the
// font's W array (in thousandths of an em) and the width of its outline
// in the embedded TrueType program (in ems).
type embeddedHyphen struct {
	font       string
	glyph      int
	advance    float64
	inkWidthEm float64
}

// hyphensOf reads, for every font of page 1 that draws U+002D, which
// glyph it draws and how wide that glyph is. It reads the PDF with
// ledongthuc/pdf and the embedded font program by hand, independent of
// the library that wrote them.
func hyphensOf(t *testing.T, file []byte) []embeddedHyphen {
	t.Helper()
	rd, err := pdf.NewReader(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	fonts := rd.Page(1).Resources().Key("Font")
	var out []embeddedHyphen
	for _, key := range fonts.Keys() {
		f := fonts.Key(key)
		glyph, ok := toUnicodeGlyph(t, readAll(t, f.Key("ToUnicode")), "002D")
		if !ok {
			continue
		}
		cid := f.Key("DescendantFonts").Index(0)
		h := embeddedHyphen{font: f.Key("BaseFont").Name(), glyph: glyph, advance: widthOf(cid.Key("W"), glyph)}
		program := readAll(t, cid.Key("FontDescriptor").Key("FontFile2"))
		h.inkWidthEm = inkWidth(t, program, glyph)
		out = append(out, h)
	}
	return out
}

func readAll(t *testing.T, v pdf.Value) []byte {
	t.Helper()
	r := v.Reader()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	bfchar  = regexp.MustCompile(`<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>`)
	bfrange = regexp.MustCompile(`<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>`)
)

// toUnicodeGlyph finds the code that a ToUnicode CMap maps to the UTF-16
// value want (hex), in its bfchar and bfrange sections.
func toUnicodeGlyph(t *testing.T, cmap []byte, want string) (int, bool) {
	t.Helper()
	hex := func(s string) int {
		n, err := strconv.ParseInt(s, 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	for _, sec := range strings.Split(string(cmap), "beginbfrange")[1:] {
		sec, _, _ = strings.Cut(sec, "endbfrange")
		for _, m := range bfrange.FindAllStringSubmatch(sec, -1) {
			lo, hi, dst := hex(m[1]), hex(m[2]), hex(m[3])
			if w := hex(want); w >= dst && w-dst <= hi-lo {
				return lo + w - dst, true
			}
		}
	}
	for _, sec := range strings.Split(string(cmap), "beginbfchar")[1:] {
		sec, _, _ = strings.Cut(sec, "endbfchar")
		for _, m := range bfchar.FindAllStringSubmatch(sec, -1) {
			if strings.EqualFold(m[2], want) {
				return hex(m[1]), true
			}
		}
	}
	return 0, false
}

// widthOf reads glyph's width from a CIDFont's W array
// ([c [w1 w2 …] c1 c2 w …]); 1000 (the default DW) if absent.
func widthOf(w pdf.Value, glyph int) float64 {
	for i := 0; i < w.Len(); {
		first := int(w.Index(i).Int64())
		if next := w.Index(i + 1); next.Kind() == pdf.Array {
			if glyph >= first && glyph < first+next.Len() {
				return next.Index(glyph - first).Float64()
			}
			i += 2
			continue
		}
		last := int(w.Index(i + 1).Int64())
		if glyph >= first && glyph <= last {
			return w.Index(i + 2).Float64()
		}
		i += 3
	}
	return 1000
}

// inkWidth is the width of glyph's outline (xMax − xMin of its header in
// the glyf table) in ems of the TrueType program ttf.
func inkWidth(t *testing.T, ttf []byte, glyph int) float64 {
	t.Helper()
	be := binary.BigEndian
	tables := map[string][]byte{}
	for i := range int(be.Uint16(ttf[4:])) {
		rec := ttf[12+16*i:]
		off, l := be.Uint32(rec[8:]), be.Uint32(rec[12:])
		tables[string(rec[:4])] = ttf[off : off+l]
	}
	head, loca, glyf := tables["head"], tables["loca"], tables["glyf"]
	var start int
	if be.Uint16(head[50:]) == 0 {
		start = 2 * int(be.Uint16(loca[2*glyph:]))
	} else {
		start = int(be.Uint32(loca[4*glyph:]))
	}
	g := glyf[start:]
	xMin, xMax := int16(be.Uint16(g[2:])), int16(be.Uint16(g[6:]))
	return float64(xMax-xMin) / float64(be.Uint16(head[18:]))
}

// TestHyphensPrintAsHyphens checks what the letter's fonts draw for "-"
// (in "Service-App", the telephone number, the street): a text hyphen —
// its outline at most 0.3 em wide and its advance at most 0.4 em, as in
// common text faces — not a dash, and read back from the text as "-".
func TestHyphensPrintAsHyphens(t *testing.T) {
	d := document(t)
	d.Recipient.Address.Street = "Bürgermeister-Smidt-Str. 1"
	b := render(t, d)
	hs := hyphensOf(t, b)
	if len(hs) < 2 {
		t.Fatalf("%d fonts draw a hyphen, want the regular and the bold one: %+v", len(hs), hs)
	}
	for _, h := range hs {
		if h.inkWidthEm > 0.3 || h.advance > 400 {
			t.Errorf("%s draws '-' as glyph %d, %.3f em wide with an advance of %.0f/1000 em: a dash, not a hyphen",
				h.font, h.glyph, h.inkWidthEm, h.advance)
		}
	}
	rd, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, c := range rd.Page(1).Content().Text {
		text.WriteString(c.S)
	}
	for _, want := range []string{"Service-App", "3655-0", "Bürgermeister-Smidt-Str. 1"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text does not read back %q", want)
		}
	}
}

func TestWithTextHyphenRefusesOtherFonts(t *testing.T) {
	regular := FontData(RegularFont)
	for name, ttf := range map[string][]byte{
		"empty":     nil,
		"truncated": regular[:len(regular)/2],
		"mono":      FontData(MonoFont), // one advance width for all glyphs
	} {
		if out, err := withTextHyphen(ttf); err == nil {
			t.Errorf("%s: withTextHyphen = %d bytes, want an error", name, len(out))
		}
	}
	// The checksum adjustment makes the whole font sum to 0xB1B0AFBA.
	if got := checksum(regular); got != 0xB1B0AFBA {
		t.Errorf("font checksum %#x, want 0xB1B0AFBA", got)
	}
}
