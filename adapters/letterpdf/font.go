package letterpdf

import (
	"encoding/binary"
	"errors"
	"sync"

	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
)

// FontData returns the TrueType program the letter embeds under family
// (RegularFont, BoldFont, MonoFont), for measuring text as the PDF draws
// it; nil for an unknown family.
//
// Go Regular and Go Bold draw the character U+002D HYPHEN-MINUS with the
// glyph of the minus sign: a bar as wide as a digit, longer than their
// own en dash, so "Service-App" and "0421 3655-0" would print with long
// dashes. Their glyph for U+00AD SOFT HYPHEN is a text hyphen (a third of
// an em). The letter embeds these fonts with that glyph's outline and
// metrics in the place of U+002D's, so that a hyphen prints as a hyphen
// and still reads back as U+002D (the PDF's ToUnicode map is built from
// the character, not the glyph). Go Mono is left as it is: its hyphen has
// the width of every character, and only the secrets, which hold no
// hyphen, are set in it.
func FontData(family string) []byte {
	fs, err := fontData()
	if err != nil {
		return nil
	}
	return fs[family]
}

var fontData = sync.OnceValues(func() (map[string][]byte, error) {
	regular, err := withTextHyphen(goregular.TTF)
	if err != nil {
		return nil, err
	}
	bold, err := withTextHyphen(gobold.TTF)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{RegularFont: regular, BoldFont: bold, MonoFont: gomono.TTF}, nil
})

// withTextHyphen returns a copy of the TrueType font ttf whose glyph for
// U+002D has the outline and horizontal metrics of its glyph for U+00AD.
// It changes bytes in place (the glyph slot of U+002D must hold the soft
// hyphen's outline; the table layout stays), and recomputes the checksums
// of the tables it touched and of the font.
func withTextHyphen(ttf []byte) ([]byte, error) {
	be := binary.BigEndian
	f, err := sfnt.Parse(ttf)
	if err != nil {
		return nil, err
	}
	var buf sfnt.Buffer
	hyphen, err := f.GlyphIndex(&buf, '-')
	if err != nil || hyphen == 0 {
		return nil, errors.New("font has no glyph for '-'")
	}
	soft, err := f.GlyphIndex(&buf, '\u00AD')
	if err != nil || soft == 0 {
		return nil, errors.New("font has no glyph for U+00AD")
	}
	out := append([]byte(nil), ttf...)
	tables, err := tableDirectory(out)
	if err != nil {
		return nil, err
	}
	head, loca, glyf, hhea, hmtx := tables["head"], tables["loca"], tables["glyf"], tables["hhea"], tables["hmtx"]
	if head.data == nil || loca.data == nil || glyf.data == nil || hhea.data == nil || hmtx.data == nil || len(head.data) < 54 || len(hhea.data) < 36 {
		return nil, errors.New("font lacks a table of TrueType outlines")
	}
	glyphAt := func(g sfnt.GlyphIndex) (int, int, error) {
		var start, end int
		if be.Uint16(head.data[50:]) == 0 {
			if 2*int(g)+4 > len(loca.data) {
				return 0, 0, errors.New("glyph beyond loca")
			}
			start, end = 2*int(be.Uint16(loca.data[2*g:])), 2*int(be.Uint16(loca.data[2*g+2:]))
		} else {
			if 4*int(g)+8 > len(loca.data) {
				return 0, 0, errors.New("glyph beyond loca")
			}
			start, end = int(be.Uint32(loca.data[4*g:])), int(be.Uint32(loca.data[4*g+4:]))
		}
		if start > end || end > len(glyf.data) {
			return 0, 0, errors.New("glyph outside glyf")
		}
		return start, end, nil
	}
	hs, he, err := glyphAt(hyphen)
	if err != nil {
		return nil, err
	}
	ss, se, err := glyphAt(soft)
	if err != nil {
		return nil, err
	}
	if se-ss > he-hs {
		return nil, errors.New("the soft hyphen's outline does not fit the hyphen's slot")
	}
	// The rest of the slot is zeroed: a glyph's length is given by its
	// contours and points, so trailing bytes are never read.
	n := copy(glyf.data[hs:he], glyf.data[ss:se])
	clear(glyf.data[hs+n : he])
	// Advance width and left side bearing: glyphs below numberOfHMetrics
	// have both, the others share the last advance and have a bearing only.
	metrics := int(be.Uint16(hhea.data[34:]))
	lsbAt := func(g sfnt.GlyphIndex) int {
		if int(g) < metrics {
			return 4*int(g) + 2
		}
		return 4*metrics + 2*(int(g)-metrics)
	}
	if int(hyphen) >= metrics || int(soft) >= metrics || lsbAt(soft)+2 > len(hmtx.data) {
		return nil, errors.New("font has no advance width of its own for the hyphens")
	}
	copy(hmtx.data[4*int(hyphen):4*int(hyphen)+4], hmtx.data[4*int(soft):4*int(soft)+4])
	for _, t := range []string{"glyf", "hmtx"} {
		be.PutUint32(out[tables[t].record+4:], checksum(tables[t].data))
	}
	// head.checkSumAdjustment: 0xB1B0AFBA minus the sum over the whole
	// font, computed with the field set to 0.
	be.PutUint32(head.data[8:], 0)
	be.PutUint32(out[head.record+4:], checksum(head.data))
	be.PutUint32(head.data[8:], 0xB1B0AFBA-checksum(out))
	return out, nil
}

// table is one table of a font: its bytes (a window of the font) and the
// offset of its record in the table directory.
type table struct {
	data   []byte
	record int
}

func tableDirectory(ttf []byte) (map[string]table, error) {
	be := binary.BigEndian
	if len(ttf) < 12 {
		return nil, errors.New("font too short")
	}
	n := int(be.Uint16(ttf[4:]))
	tables := map[string]table{}
	for i := range n {
		rec := 12 + 16*i
		if rec+16 > len(ttf) {
			return nil, errors.New("table directory truncated")
		}
		off, l := int(be.Uint32(ttf[rec+8:])), int(be.Uint32(ttf[rec+12:]))
		if off < 0 || l < 0 || off+l > len(ttf) {
			return nil, errors.New("table outside the font")
		}
		tables[string(ttf[rec:rec+4])] = table{data: ttf[off : off+l : off+l], record: rec}
	}
	return tables, nil
}

// checksum is the TrueType table checksum: the sum of big-endian uint32s,
// the last one padded with zeros.
func checksum(b []byte) uint32 {
	var sum uint32
	for i := 0; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:])
		sum += binary.BigEndian.Uint32(w[:])
	}
	return sum
}
