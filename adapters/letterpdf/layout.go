package letterpdf

// The layout, in millimetres from the top left corner of the page, and
// font sizes in points. DIN 5008 form B for a DL window envelope (DIN 680).
const (
	// PageWidth and PageHeight: A4 portrait.
	PageWidth  = 210.0
	PageHeight = 297.0

	// WindowLeft, WindowTop, WindowWidth and WindowHeight: the address
	// field, which shows through the envelope's window.
	WindowLeft   = 20.0
	WindowTop    = 45.0
	WindowWidth  = 85.0
	WindowHeight = 45.0

	// NoteZoneHeight is the upper part of the address field (Zusatz- und
	// Vermerkzone); the return address line sits at its foot. The address
	// zone below it holds MaxAddressLines lines.
	NoteZoneHeight  = 17.7
	MaxAddressLines = 6

	// TextLeft is the left margin of all text, the address included (5 mm
	// inside the field); TextRight the right margin of the body text.
	TextLeft  = 25.0
	TextRight = 190.0
	// AddressRight is as far as address text may reach: the right edge of
	// the window.
	AddressRight = WindowLeft + WindowWidth

	// QRSize is the side of the QR image, quiet zone included; QRMinSymbol
	// the least side of the symbol itself, so that phone cameras read it
	// from a comfortable distance.
	QRSize      = 45.0
	QRMinSymbol = 35.0
	// AppQRSize is the side of the QR code of the link to the app in the
	// stores (quiet zone included), AppQRTop its top: at the right of the
	// information block, above the subject line.
	AppQRSize = 22.0
	AppQRTop  = 70.0
	// qrPixels is how many image pixels one QR module gets. Integral, so
	// that module edges are sharp at any print resolution.
	qrPixels = 8
	// qrQuiet is the quiet zone in modules (ISO/IEC 18004: 4).
	qrQuiet = 4

	// Fold marks for form B, and the punch mark, at the left edge.
	FoldMark1 = 105.0
	FoldMark2 = 210.0
	PunchMark = 148.5

	addressSize  = 10.0 // pt
	addressPitch = 4.55 // mm: six lines fill the 27.3 mm address zone
	returnSize   = 7.0  // pt
	bodySize     = 10.0 // pt
	bodyLeading  = 4.6  // mm
	smallSize    = 8.5  // pt
	smallLeading = 3.8  // mm
	subjectSize  = 11.5 // pt
	headSize     = 16.0 // pt
	passwordSize = 22.0 // pt, monospaced
	codeSize     = 11.0 // pt, monospaced
	labelSize    = 9.0  // pt

	// mmPerPt converts font sizes (points) to millimetres.
	mmPerPt = 25.4 / 72
)

// addressZoneTop is where the recipient's address starts.
const addressZoneTop = WindowTop + NoteZoneHeight
