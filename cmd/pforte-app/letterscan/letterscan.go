package letterscan

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // pdfcpu hands out images in their own format
	_ "image/png"
	"strings"
	"sync"

	"github.com/ledongthuc/pdf"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/pforte-id/pforte/adapters/letterpdf"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/letter"
)

// Content is what Read finds on a password letter.
type Content struct {
	// ActivationURL is decoded from the QR code image.
	ActivationURL string
	// InitialPassword and ActivationCode are read from the text, as
	// printed (in groups).
	InitialPassword string
	ActivationCode  string
	// AppStoreURL is decoded from the other QR code, the one that leads
	// to the app in the stores; empty when the letter has none.
	AppStoreURL string
}

// MaxReadSize bounds the files Read accepts; a letter is far smaller.
const MaxReadSize = 4 << 20

// Read reads a letter rendered by letterpdf.Renderer: the activation URL from the QR
// code image whose link is an activation link (…/app/activate#…; the
// other QR code, if any, leads to the app in the stores) and the initial password and activation code from the text
// (the only monospaced lines; they are told apart by their length in
// letter.Alphabet symbols). It is for tests and the reference client, which
// prove that what is printed is what the member needs. Errors: Invalid when
// the file is not such a letter.
func Read(file []byte) (Content, error) {
	const op = "letterscan.Read"
	if len(file) > MaxReadSize {
		return Content{}, fault.New(fault.Invalid, op, "file too large for a letter")
	}
	var c Content
	var err error
	if c.InitialPassword, c.ActivationCode, err = readSecrets(file); err != nil {
		return Content{}, fault.Wrap(fault.Invalid, op, err).WithPublic("not a readable password letter")
	}
	if c.ActivationURL, c.AppStoreURL, err = readQR(file); err != nil {
		return Content{}, fault.Wrap(fault.Invalid, op, err).WithPublic("not a readable password letter")
	}
	return c, nil
}

// run is a piece of text drawn in one operation, as the reader sees it.
type run struct {
	font       string
	size, x, y float64 // points, from the bottom left
	s          string
}

// textRuns extracts the text of page 1 as runs. The text library can panic
// on malformed files; that is an error here.
func textRuns(file []byte) (runs []run, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed PDF: %v", r)
		}
	}()
	rd, err := pdf.NewReader(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		return nil, err
	}
	if rd.NumPage() < 1 {
		return nil, errors.New("no page")
	}
	for _, t := range rd.Page(1).Content().Text {
		if t.S == "\uFFFD" {
			continue
		}
		// Characters of one text operation share font and start point
		// (the library does not advance x within Type0 fonts).
		if n := len(runs); n > 0 {
			if last := &runs[n-1]; last.font == t.Font && last.size == t.FontSize && last.x == t.X && last.y == t.Y {
				last.s += t.S
				continue
			}
		}
		runs = append(runs, run{font: t.Font, size: t.FontSize, x: t.X, y: t.Y, s: t.S})
	}
	return runs, nil
}

func readSecrets(file []byte) (password, code string, err error) {
	runs, err := textRuns(file)
	if err != nil {
		return "", "", err
	}
	for _, r := range runs {
		if r.font != letterpdf.MonoFont {
			continue
		}
		s := strings.TrimSpace(r.s)
		switch n := letter.Normalize(s); {
		case letter.WellFormed(n, letter.PasswordLength) && password == "":
			password = s
		case letter.WellFormed(n, letter.CodeLength) && code == "":
			code = s
		default:
			return "", "", errors.New("unexpected monospaced text")
		}
	}
	if password == "" || code == "" {
		return "", "", errors.New("initial password or activation code missing")
	}
	return password, code, nil
}

// disablePDFCPUConfig stops pdfcpu from creating a configuration
// directory under the user's home on first use.
var disablePDFCPUConfig = sync.OnceFunc(api.DisableConfigDir)

// readQR decodes the QR codes of page 1: the activation link and the
// link to the app (empty if there is none). A letter with two activation
// links, or two other codes, is not one of ours.
func readQR(file []byte) (activation, app string, err error) {
	disablePDFCPUConfig()
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	pages, err := api.ExtractImagesRaw(bytes.NewReader(file), []string{"1"}, conf)
	if err != nil {
		return "", "", err
	}
	for _, imgs := range pages {
		for _, im := range imgs {
			img, _, err := image.Decode(im.Reader)
			if err != nil {
				continue
			}
			text, err := decodeQR(img)
			switch {
			case err != nil:
			case strings.Contains(text, "/app/activate#"):
				if activation != "" {
					return "", "", errors.New("two activation QR codes")
				}
				activation = text
			default:
				if app != "" {
					return "", "", errors.New("two QR codes that are no activation links")
				}
				app = text
			}
		}
	}
	if activation == "" {
		return "", "", errors.New("no activation QR code found")
	}
	return activation, app, nil
}

func decodeQR(img image.Image) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		// Not a clean image: let the detector search for the symbol.
		if res, err = qrcode.NewQRCodeReader().Decode(bmp, nil); err != nil {
			return "", err
		}
	}
	return res.GetText(), nil
}
