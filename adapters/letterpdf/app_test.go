package letterpdf

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ledongthuc/pdf"
	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

// pageImages decodes the QR codes of the images on page 1, with pdfcpu
// and ZXing: what the PDF carries, not what the renderer meant to draw.
func pageQRCodes(t *testing.T, file []byte) []string {
	t.Helper()
	disablePDFCPUConfig()
	conf := model.NewDefaultConfiguration()
	pages, err := api.ExtractImagesRaw(bytes.NewReader(file), []string{"1"}, conf)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, imgs := range pages {
		for _, im := range imgs {
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(im.Reader); err != nil {
				t.Fatal(err)
			}
			res, _ := decodePure(t, buf.Bytes())
			texts = append(texts, res.GetText())
		}
	}
	slices.Sort(texts)
	return texts
}

// pageText is the text of page 1, one line per baseline.
func pageText(t *testing.T, file []byte) string {
	t.Helper()
	rd, err := pdf.NewReader(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	y := math.NaN()
	for _, c := range rd.Page(1).Content().Text {
		if c.S == "\uFFFD" { // the reader's mark of a line's end
			continue
		}
		if c.Y != y && b.Len() > 0 {
			b.WriteString("\n")
		}
		y = c.Y
		b.WriteString(c.S)
	}
	return b.String()
}

func TestAppStoreLink(t *testing.T) {
	for _, tc := range []struct {
		name, link string
		printed    []string // the link's lines as printed
	}{
		{"none", "", nil},
		{"short", "https://www.hkk.example/app", []string{"www.hkk.example/app"}},
		{"two lines", "https://www.hkk-krankenkasse.example/service-app/laden?q=brief",
			[]string{"www.hkk-krankenkasse.example/", "service-app/laden?q=brief"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := document(t)
			d.AppStoreURL = tc.link
			b := render(t, d)
			want := []string{d.ActivationURL}
			if tc.link != "" {
				want = append(want, tc.link)
			}
			slices.Sort(want)
			if got := pageQRCodes(t, b); !slices.Equal(got, want) {
				t.Fatalf("QR codes %q, want %q", got, want)
			}
			text := pageText(t, b)
			if has := strings.Contains(text, appHead); has != (tc.link != "") {
				t.Fatalf("heading %q printed: %v, want %v", appHead, has, tc.link != "")
			}
			lines := strings.Split(text, "\n")
			for _, p := range tc.printed {
				if !slices.Contains(lines, p) {
					t.Errorf("no line %q in\n%s", p, text)
				}
			}
		})
	}
}
