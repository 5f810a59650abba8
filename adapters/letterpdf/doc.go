// Package letterpdf renders password letters (ports/letterprint.Renderer) as
// print-ready A4 PDFs for a DL window envelope, and reads them back (Read)
// for tests and the reference Service-App client.
//
// The layout follows DIN 5008 form B: the address field is the window of
// the envelope, 20 mm from the left and 45 mm from the top, 85 × 45 mm;
// its upper 17.7 mm hold the return address line (Rücksendeangabe) in small
// print, the lower 27.3 mm up to six lines of the recipient's address,
// written from 25 mm. Fold marks sit at 105 and 210 mm, the punch mark at
// 148.5 mm. A document whose address does not fit the window is refused
// with fault.Invalid: a letter whose address is cut off by the window goes
// to the wrong door or nowhere, and it carries credentials.
//
// The initial password is set large in a monospaced font, the activation
// code in groups for typing by hand, and the activation URL goes into a QR
// code (error correction M or better, symbol at least 35 mm wide, 45 mm
// with its quiet zone) that the app scans. "Gültig bis" names the last day
// on which the letter is valid all day, in German time. All text
// is real text in embedded TrueType subsets with a ToUnicode map, so it can
// be selected, searched and read back; the QR code is an embedded
// two-colour PNG, eight pixels per module, drawn without interpolation.
//
// Libraries, checked on the Go module proxy:
//   - github.com/signintech/gopdf v0.33.0 writes the PDF: maintained
//     (release July 2025), places text and images at absolute positions in
//     millimetres, embeds TrueType fonts as subsets. go-pdf/fpdf is
//     archived, and maroto v2 (v2.3.3) is a grid layout on top of gofpdf,
//     another archived fpdf fork, which makes exact DIN 5008 positions
//     harder, not easier.
//   - github.com/piglig/go-qr v1.1.0 encodes the QR code: maintained
//     (release May 2026), no dependencies, explicit error correction level
//     and direct access to the module grid, from which this package paints
//     a 1-bit image with the required quiet zone. yeqown/go-qrcode v2
//     would do as well with a custom writer; skip2/go-qrcode has had no
//     release since 2020.
//   - The fonts are Go Regular, Go Bold and Go Mono from
//     golang.org/x/image/font/gofont (BSD licence, like Go), which cover
//     German umlauts and ß; Go Mono tells similar characters apart. Go
//     Regular and Go Bold draw '-' as a minus sign, longer than their en
//     dash; the letter embeds them with their text hyphen in its place
//     (FontData).
//
// Read uses independent libraries, so that a test proves the letter
// rather than one library agreeing with itself:
//   - github.com/pdfcpu/pdfcpu v0.15.0 extracts the QR image (and, in
//     tests, validates the PDF);
//   - github.com/makiuchi-d/gozxing v0.1.1, the Go port of ZXing (its
//     only release, 2021; QR decoding is settled code), decodes it;
//   - github.com/ledongthuc/pdf (v0.0.0-20260907135840, the maintained
//     fork of rsc.io/pdf; it has no tagged releases) extracts the text with
//     positions, decoding the fonts' ToUnicode maps. pdfcpu has no text
//     extraction.
//
// Layer: adapter. Imports: standard library, core (fault, letter), ports
// (letters) and the libraries above; never another adapter.
package letterpdf
