package letterpdf

import (
	"fmt"
	"strings"
	"time"

	"github.com/signintech/gopdf"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/letter"
)

// page wraps gopdf and keeps the first error, so that drawing code reads
// as a sequence of steps.
type page struct {
	pdf *gopdf.GoPdf
	err error
}

func (p *page) fail(err error) {
	if p.err == nil && err != nil {
		p.err = fault.Wrap(fault.Internal, "letterpdf.Render", err)
	}
}

func (p *page) font(family string, size float64) {
	if p.err == nil {
		p.fail(p.pdf.SetFont(family, "", size))
	}
}

func (p *page) gray(level float64) {
	c := uint8(level * 255)
	p.pdf.SetTextColor(c, c, c)
}

// width measures s in the current font, in millimetres.
func (p *page) width(s string) float64 {
	if p.err != nil {
		return 0
	}
	w, err := p.pdf.MeasureTextWidth(s)
	p.fail(err)
	return w
}

// text writes s with its baseline at y.
func (p *page) text(x, baseline float64, s string) {
	if p.err != nil {
		return
	}
	p.pdf.SetXY(x, baseline)
	p.fail(p.pdf.Text(s))
}

// para writes s word-wrapped to width from baseline y on, leading apart,
// and returns the baseline after the last line. Words are measured once
// (the library's own wrapping measures every prefix again).
func (p *page) para(x, y, width, leading float64, s string) float64 {
	words := strings.Fields(s)
	space := p.width(" ")
	line, lineWidth := "", 0.0
	for _, w := range words {
		ww := p.width(w)
		if line != "" && lineWidth+space+ww > width {
			p.text(x, y, line)
			y += leading
			line, lineWidth = "", 0
		}
		if line != "" {
			line += " "
			lineWidth += space
		}
		line += w
		lineWidth += ww
	}
	if line != "" {
		p.text(x, y, line)
		y += leading
	}
	return y
}

// germanDate writes t as DD.MM.YYYY in German time.
func (r *Renderer) germanDate(t time.Time) string { return t.In(r.berlin).Format("02.01.2006") }

// lastFullDay is the last calendar day (German time) on which the letter
// is valid all day: a member who reads "gültig bis 28.01.2027" must be able
// to use it all of the 28th.
func (r *Renderer) lastFullDay(validUntil time.Time) string {
	t := validUntil.In(r.berlin)
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, r.berlin)
	return midnight.AddDate(0, 0, -1).Format("02.01.2006")
}

// Texts of the letter. German for the member; a short English summary at
// the foot for members who read English better.
const (
	introText = "Sie haben in der Service-App über „Zugangsdaten anfordern“ diesen Passwortbrief angefordert. " +
		"Mit dem Initialpasswort und dem Aktivierungscode auf diesem Brief schließen Sie Ihre Registrierung ab:"
	securityHead = "Sicherheitshinweis"
	securityText = "Geben Sie Passwort und Code niemals weiter – auch nicht an unsere Mitarbeiterinnen und Mitarbeiter. " +
		"Wir fragen Sie niemals per Telefon, E-Mail oder SMS danach. Initialpasswort und Aktivierungscode gelten nur einmal; " +
		"ein neuer Passwortbrief macht diesen ungültig. Nach der Registrierung können Sie diesen Brief vernichten. " +
		"Wenn Sie keinen Passwortbrief angefordert haben, melden Sie sich bitte bei uns."
	englishText = "In English: This letter holds your one-time initial password and activation code for the Service-App. " +
		"Open the app, scan the QR code (or type the activation code), enter your health insurance number and the " +
		"initial password, then choose your own password, bind your phone and set your 6-digit release PIN. " +
		"Never give the password or the code to anyone."
	closingText = "Mit freundlichen Grüßen"
)

var steps = []string{
	"Öffnen Sie die Service-App auf Ihrem Smartphone.",
	"Scannen Sie den QR-Code auf diesem Brief, oder geben Sie den Aktivierungscode von Hand ein.",
	"Geben Sie Ihre Krankenversichertennummer und das Initialpasswort ein. Die Krankenversichertennummer " +
		"(ein Buchstabe und neun Ziffern) steht auf der Vorderseite Ihrer elektronischen Gesundheitskarte.",
	"Legen Sie Ihr eigenes Passwort fest (mindestens 10 Zeichen).",
	"Binden Sie Ihr Smartphone an Ihr Konto (Gerätebindung) und legen Sie Ihre 6-stellige Freigabe-PIN fest. " +
		"Danach melden Sie sich mit der Freigabe-PIN oder biometrisch an.",
}

// Labels the reader looks for are not needed: it finds the secrets by
// their font. They are for the member.
const (
	passwordLabel = "Ihr Initialpasswort"
	codeLabel     = "Ihr Aktivierungscode (zur Eingabe von Hand)"
	qrCaption     = "Mit der Service-App scannen"
)

func (r *Renderer) draw(p *page, d letter.Document, addr []string, qr, appQR []byte) error {
	invalid := func(msg string) error { return fault.New(fault.Invalid, "letterpdf.Render", msg) }
	pdf := p.pdf
	bodyWidth := TextRight - TextLeft

	// Fold and punch marks at the left edge.
	pdf.SetLineWidth(0.2)
	pdf.SetStrokeColor(120, 120, 120)
	for _, y := range []float64{FoldMark1, FoldMark2} {
		pdf.Line(3, y, 8, y)
	}
	pdf.Line(3, PunchMark, 10, PunchMark)

	// Letterhead.
	p.gray(0)
	p.font(fontBold, headSize)
	p.text(TextLeft, 22, senderName(d.Sender))
	p.font(fontRegular, labelSize)
	p.text(TextLeft, 28, "Service-App · Registrierung")

	// The return address at the foot of the note zone, small.
	p.font(fontRegular, returnSize)
	if p.width(d.Sender) > AddressRight-TextLeft {
		return invalid("the sender line is too long for the window")
	}
	p.text(TextLeft, addressZoneTop-1.2, d.Sender)

	// The recipient. The first baseline leaves room for the ascenders
	// under the zone's top edge; six lines end above the window's bottom.
	p.font(fontRegular, addressSize)
	for i, l := range addr {
		if p.width(l) > AddressRight-TextLeft {
			return invalid("an address line is too long for the window")
		}
		p.text(TextLeft, addressZoneTop+3.4+float64(i)*addressPitch, l)
	}

	// Information block on the right.
	const infoLeft = 125.0
	p.font(fontRegular, labelSize)
	p.text(infoLeft, 52, "Datum: "+r.germanDate(d.Date))
	if d.LetterID != "" {
		p.text(infoLeft, 57, "Brief-Nr.:")
		// In groups of four, as the secrets: read out on the phone.
		number := letter.Group(d.LetterID)
		p.font(fontRegular, 7.5)
		if p.width(number) > TextRight+10-infoLeft {
			return invalid("the letter ID is too long")
		}
		p.text(infoLeft, 61, number)
	}
	if d.ContactPhone != "" {
		p.font(fontRegular, labelSize)
		line := "Telefon: " + d.ContactPhone
		if p.width(line) > TextRight+10-infoLeft {
			return invalid("the contact phone is too long")
		}
		p.text(infoLeft, 67, line)
	}

	if appQR != nil {
		if err := r.drawApp(p, infoLeft, d.AppStoreURL, appQR); err != nil {
			return err
		}
	}

	// Subject and text.
	y := 100.5
	p.font(fontBold, subjectSize)
	p.text(TextLeft, y, Subject)
	y += 10
	p.font(fontRegular, bodySize)
	y = p.para(TextLeft, y, bodyWidth, bodyLeading, "Guten Tag "+firstLine(d.Recipient.Name)+",")
	y += 2
	y = p.para(TextLeft, y, bodyWidth, bodyLeading, introText)
	y += 1.5
	for i, s := range steps {
		p.text(TextLeft, y, fmt.Sprintf("%d.", i+1))
		y = p.para(TextLeft+6, y, bodyWidth-6, bodyLeading, s)
		y += 0.6
	}

	// The credentials: a framed block with the QR code on the right.
	top := y + 2
	const boxHeight = QRSize + 9
	pdf.SetLineWidth(0.3)
	pdf.SetStrokeColor(90, 90, 90)
	pdf.RectFromUpperLeftWithStyle(TextLeft, top, bodyWidth, boxHeight, "D")
	qrLeft := TextRight - 2 - QRSize
	textWidth := qrLeft - 2 - (TextLeft + 5)
	holder, err := gopdf.ImageHolderByBytes(qr)
	if err != nil {
		return fault.Wrap(fault.Internal, "letterpdf.Render", err)
	}
	p.fail(pdf.ImageByHolder(holder, qrLeft, top+1, &gopdf.Rect{W: QRSize, H: QRSize}))
	p.font(fontRegular, 7)
	p.text(qrLeft+(QRSize-p.width(qrCaption))/2, top+QRSize+5, qrCaption)

	x := TextLeft + 5
	p.font(fontRegular, labelSize)
	p.text(x, top+8, passwordLabel)
	p.font(fontMono, passwordSize)
	if p.width(d.InitialPassword) > textWidth {
		return invalid("the initial password is too long to print")
	}
	p.text(x, top+17.5, d.InitialPassword)
	p.font(fontRegular, labelSize)
	p.text(x, top+27, codeLabel)
	p.font(fontMono, codeSize)
	if p.width(d.ActivationCode) > textWidth {
		return invalid("the activation code is too long to print")
	}
	p.text(x, top+33, d.ActivationCode)
	p.font(fontBold, bodySize)
	p.text(x, top+43, "Gültig bis "+r.lastFullDay(d.ValidUntil))
	p.font(fontRegular, smallSize)
	p.text(x, top+48.5, "Beides gilt nur für eine Registrierung.")

	// Security note, closing, English summary.
	y = top + boxHeight + 7
	p.font(fontBold, smallSize)
	p.text(TextLeft, y, securityHead)
	y += smallLeading
	p.font(fontRegular, smallSize)
	y = p.para(TextLeft, y, bodyWidth, smallLeading, securityText)
	if c := contactText(d); c != "" {
		y += 1
		y = p.para(TextLeft, y, bodyWidth, smallLeading, c)
	}
	y += 3
	p.font(fontRegular, bodySize)
	p.text(TextLeft, y, closingText)
	y += bodyLeading
	p.text(TextLeft, y, senderName(d.Sender))
	y += 8
	p.gray(0.35)
	p.font(fontRegular, 7.5)
	y = p.para(TextLeft, y, bodyWidth, 3.3, englishText)
	p.gray(0)
	if y > PageHeight-12 {
		return invalid("the letter does not fit one page")
	}
	return nil
}

// Texts of the block that leads to the app in the stores.
const (
	appHead = "Noch keine Service-App?"
	appText = "Code mit dem Smartphone scannen oder im Browser öffnen:"
)

// drawApp draws, at the foot of the information block (DIN 5008 form B:
// from left, up to the subject line), the link to the Service-App in the
// stores: a QR code of AppQRSize at the right margin and, to its left, a
// heading, a line of text and the link without its scheme, on up to two
// lines, broken after a slash when it is longer than one.
func (r *Renderer) drawApp(p *page, left float64, link string, qr []byte) error {
	invalid := func(msg string) error { return fault.New(fault.Invalid, "letterpdf.Render", msg) }
	qrLeft := TextRight - AppQRSize
	width := qrLeft - 2 - left
	holder, err := gopdf.ImageHolderByBytes(qr)
	if err != nil {
		return fault.Wrap(fault.Internal, "letterpdf.Render", err)
	}
	p.fail(p.pdf.ImageByHolder(holder, qrLeft, AppQRTop, &gopdf.Rect{W: AppQRSize, H: AppQRSize}))
	y := AppQRTop + 3.5
	p.font(fontBold, 7.5)
	p.text(left, y, appHead)
	y += 3.6
	p.font(fontRegular, 7.5)
	y = p.para(left, y, width, 3.3, appText)
	lines := linkLines(p, strings.TrimPrefix(link, "https://"), width)
	if lines == nil {
		return invalid("the app link is too long to print")
	}
	for _, l := range lines {
		p.text(left, y, l)
		y += 3.3
	}
	if y > AppQRTop+AppQRSize+1 {
		return invalid("the app link is too long to print")
	}
	return nil
}

// linkLines writes link on one line of width, or on two, broken after a
// slash, question mark or ampersand; nil if it does not fit two lines.
func linkLines(p *page, link string, width float64) []string {
	if p.width(link) <= width {
		return []string{link}
	}
	for i := len(link) - 1; i > 0; i-- {
		if !strings.ContainsRune("/?&", rune(link[i-1])) {
			continue
		}
		if first, rest := link[:i], link[i:]; p.width(first) <= width && p.width(rest) <= width {
			return []string{first, rest}
		}
	}
	return nil
}

// contactText tells the member where to ask questions about the letter:
// the insurer's telephone number and address, as configured.
func contactText(d letter.Document) string {
	switch {
	case d.ContactPhone != "" && d.ContactAddress != "":
		return "Fragen zu diesem Brief? Sie erreichen uns telefonisch unter " + d.ContactPhone +
			" und schriftlich unter " + d.ContactAddress + ". Nennen Sie bitte die Brief-Nr."
	case d.ContactPhone != "":
		return "Fragen zu diesem Brief? Sie erreichen uns telefonisch unter " + d.ContactPhone + ". Nennen Sie bitte die Brief-Nr."
	case d.ContactAddress != "":
		return "Fragen zu diesem Brief? Sie erreichen uns schriftlich unter " + d.ContactAddress + ". Nennen Sie bitte die Brief-Nr."
	}
	return ""
}

// firstLine is the name for the salutation: its first line (a second one
// may be a c/o line).
func firstLine(name string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(name), "\n")
	return strings.TrimSpace(l)
}
