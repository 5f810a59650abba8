package catalog

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"

	"github.com/pforte-id/pforte/core/fault"
)

// The supported languages; the first is the default.
var (
	german  = language.German
	english = language.English
	matcher = language.NewMatcher([]language.Tag{german, english})
)

// messages is texts loaded into an x/text catalog.
var messages = func() *catalog.Builder {
	b := catalog.NewBuilder(catalog.Fallback(german))
	for key, t := range texts {
		if err := b.SetString(german, key, t.de); err != nil {
			panic("catalog: " + key + ": " + err.Error())
		}
		if err := b.SetString(english, key, t.en); err != nil {
			panic("catalog: " + key + ": " + err.Error())
		}
	}
	return b
}()

// Printer writes the texts of one language. The zero value is German.
type Printer struct {
	en bool
}

// maxAcceptLanguage bounds the header Match parses: real browsers send a
// few dozen bytes, and a client must not make every request parse a
// megabyte of language tags.
const maxAcceptLanguage = 512

// Match returns the Printer for an Accept-Language header value: English
// when the client prefers English to German, German otherwise (also for
// an empty, malformed or oversized header).
func Match(acceptLanguage string) Printer {
	if len(acceptLanguage) > maxAcceptLanguage {
		return Printer{}
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return Printer{}
	}
	_, i, conf := matcher.Match(tags...)
	return Printer{en: i == 1 && conf != language.No}
}

// German and English are the Printers of the two languages.
var (
	German  = Printer{}
	English = Printer{en: true}
)

// Lang is the BCP 47 tag of p's language, for <html lang> and
// Content-Language.
func (p Printer) Lang() string {
	if p.en {
		return "en"
	}
	return "de"
}

func (p Printer) tag() language.Tag {
	if p.en {
		return english
	}
	return german
}

// Text returns the text of key with params filled in (time.Time params in
// the language's own form, in German time). An unknown key comes back as
// itself, which the catalog test keeps from happening.
func (p Printer) Text(key string, params ...any) string {
	if _, ok := texts[key]; !ok {
		return key
	}
	args := make([]any, len(params))
	for i, v := range params {
		args[i] = p.param(v)
	}
	return message.NewPrinter(p.tag(), message.Catalog(messages)).Sprintf(key, args...)
}

// param turns a parameter into what a text shows.
func (p Printer) param(v any) any {
	switch v := v.(type) {
	case time.Time:
		l := v.In(berlin)
		if p.en {
			return l.Format("02.01.2006") + " at " + l.Format("15:04") + " (German time)"
		}
		return l.Format("02.01.2006") + " um " + l.Format("15:04") + " Uhr"
	case time.Duration:
		return p.duration(v)
	}
	return v
}

// duration words a wait, rounded up: whole seconds below two minutes,
// whole minutes below two hours, whole hours beyond.
func (p Printer) duration(d time.Duration) string {
	units := []struct {
		size                         time.Duration
		deOne, deMany, enOne, enMany string
	}{
		{time.Hour, "1 Stunde", "%d Stunden", "1 hour", "%d hours"},
		{time.Minute, "1 Minute", "%d Minuten", "1 minute", "%d minutes"},
		{time.Second, "1 Sekunde", "%d Sekunden", "1 second", "%d seconds"},
	}
	u := units[2]
	switch {
	case d >= 2*time.Hour:
		u = units[0]
	case d >= 2*time.Minute:
		u = units[1]
	}
	n := int((d + u.size - 1) / u.size)
	one, many := u.deOne, u.deMany
	if p.en {
		one, many = u.enOne, u.enMany
	}
	if n <= 1 {
		return one
	}
	return fmt.Sprintf(many, n)
}

// berlin is the time zone times are given in.
var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return time.UTC
	}
	return loc
}()

// Code returns the text of code with params.
func (p Printer) Code(code fault.Code, params ...any) string {
	return p.Text(string(code), params...)
}

// Kind returns the generic text of an error kind.
func (p Printer) Kind(k fault.Kind) string {
	return p.Text("kind." + k.String())
}

// Error returns what a member reads about err: the text of its outermost
// code, or the generic text of its kind. Never err.Error(), which may
// carry internal detail, and never a Public diagnostic.
func (p Printer) Error(err error) string {
	if code, params := fault.CodeOf(err); code != "" {
		if _, ok := texts[string(code)]; ok {
			return p.Code(code, params...)
		}
	}
	return p.Kind(fault.KindOf(err))
}

// Describe returns the description of err for a client's developer (an
// OAuth error_description, printable ASCII): its Public diagnostic, else
// the English text of its code or kind. Infrastructure faults
// (Unavailable, Internal) get the kind's text only: their diagnostics are
// for logs.
func Describe(err error) string {
	k := fault.KindOf(err)
	if k == fault.Internal || k == fault.Unavailable {
		return English.Kind(k)
	}
	if pub := fault.PublicOf(err); pub != "" {
		return pub
	}
	return English.Error(err)
}

type printerKey struct{}

// WithPrinter returns ctx carrying p, the language of the request ctx
// belongs to.
func WithPrinter(ctx context.Context, p Printer) context.Context {
	return context.WithValue(ctx, printerKey{}, p)
}

// From returns the Printer ctx carries; German when it carries none.
func From(ctx context.Context) Printer {
	p, _ := ctx.Value(printerKey{}).(Printer)
	return p
}

// Mail returns the subject and body of the e-mail of notification code
// with params; the body ends with the footer every notification has.
func (p Printer) Mail(code fault.Code, params ...any) (subject, body string) {
	return p.Text(string(code) + ".subject"), p.Text(string(code)+".body", params...) + "\n\n" + p.Text("mail.footer")
}

// LetterMail is Mail for notifications about password letters, which end
// with the footer of letter mails (the device footer does not fit them).
func (p Printer) LetterMail(code fault.Code, params ...any) (subject, body string) {
	return p.Text(string(code) + ".subject"), p.Text(string(code)+".body", params...) + "\n\n" + p.Text("mail.letter_footer")
}

// mailSeparator stands between the German and the English text of a
// bilingual mail.
const mailSeparator = "\n\n---------- English ----------\n\n"

// BilingualLetterMail is LetterMail in German with the English text
// below it, and the subject in both ("… / …"). Mails about letters are
// decided by a worker, long after the request whose language was known,
// and the member may read either language: nobody chose one for them.
func BilingualLetterMail(code fault.Code, params ...any) (subject, body string) {
	deSubject, deBody := German.LetterMail(code, params...)
	enSubject, enBody := English.LetterMail(code, params...)
	return deSubject + " / " + enSubject, deBody + mailSeparator + enBody
}
