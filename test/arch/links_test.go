package arch

import (
	"os/exec"
	"strings"
	"testing"
)

// notLinked are libraries the server has no use for: reading PDF files
// and decoding QR codes is the business of the reference client and the
// tests, which check that a printed letter holds what the member needs.
// Linking them into pforte would only add code (pdfcpu alone is a large
// download) and attack surface.
var notLinked = []string{
	"github.com/pdfcpu/pdfcpu",
	"github.com/ledongthuc/pdf",
	"github.com/makiuchi-d/gozxing",
}

// TestServerLinksOnlyWhatItServes checks pforte's dependencies with
// go list -deps: no PDF reader, no QR decoder.
func TestServerLinksOnlyWhatItServes(t *testing.T) {
	root, _ := moduleRoot(t)
	cmd := exec.Command("go", "list", "-deps", "./cmd/pforte")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/pforte: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps found only %d packages", len(deps))
	}
	for _, d := range deps {
		for _, lib := range notLinked {
			if d == lib || strings.HasPrefix(d, lib+"/") {
				t.Errorf("pforte links %s (from %s); only the reference client and tests may", d, lib)
			}
		}
	}
}
