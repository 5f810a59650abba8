package binding

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"
	_ "time/tzdata" // notification times are German local time on any host

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/ports/notify"
)

// event is an audit event of the app API acting for the member.
func (s *Service) event(kind audit.Kind, accountID, ip string, detail map[string]string) audit.Event {
	return audit.Event{
		ID: grant.NewID(), Time: s.clock(), Kind: kind, Actor: audit.Member, AccountID: accountID,
		ClientID: s.cfg.AppClientID, IPHash: s.ipHash(ip), Detail: detail,
	}
}

// record appends e to the audit log. The change it describes has been
// stored already and cannot be taken back, so a failure is logged as an
// error and does not fail the member's request.
func (s *Service) record(ctx context.Context, e audit.Event) {
	if err := s.audit.AppendAudit(ctx, e); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "audit event lost",
			slog.String("kind", string(e.Kind)), slog.String("account", e.AccountID), slog.Any("error", err))
	}
}

// ipHash is a keyed hash of a client address, so that the audit log can
// tell whether two events came from the same address without storing it.
// Addresses are canonicalised first ("::ffff:1.2.3.4" is 1.2.3.4; a port
// is dropped). Empty for an empty address.
func (s *Service) ipHash(ip string) string {
	ip = strings.TrimSpace(ip)
	if ip == "" {
		return ""
	}
	if a, err := netip.ParseAddr(ip); err == nil {
		ip = a.Unmap().WithZone("").String()
	} else if ap, err := netip.ParseAddrPort(ip); err == nil {
		ip = ap.Addr().Unmap().WithZone("").String()
	}
	m := hmac.New(sha256.New, s.cfg.IPKey)
	m.Write([]byte(ip))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// maskKVNR shows the first letter and the last three digits of a member
// number: enough for the member to recognise it in a key list, not enough
// to be their number.
func maskKVNR(k kvnr.KVNR) string {
	s := string(k)
	if len(s) != 10 {
		return "**********"
	}
	return s[:1] + "******" + s[7:]
}

// berlin is the time zone notification times are given in.
var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return time.UTC
	}
	return loc
}()

// when formats t for a notification, German and English.
func when(t time.Time) (de, en string) {
	l := t.In(berlin)
	return l.Format("02.01.2006") + " um " + l.Format("15:04") + " Uhr",
		l.Format("02.01.2006") + " at " + l.Format("15:04") + " (German time)"
}

// notice is a notification before it is addressed: German first, then
// English. It never contains a secret.
type notice struct {
	kind      audit.Kind
	subjectDE string
	subjectEN string
	bodyDE    string
	bodyEN    string
}

const (
	notMeDE = "Wenn Sie das nicht waren, melden Sie sich bitte sofort bei Ihrer Krankenkasse; " +
		"in der Service-App können Sie unter „Geräte“ jedes Gerät entfernen."
	notMeEN = "If this was not you, please contact your health insurer at once; " +
		"in the Service-App you can remove any device under “Devices”."
	signature = "\n\nDiese Nachricht wurde automatisch versandt. / This message was sent automatically."
)

func deviceBound(name string, at time.Time) notice {
	de, en := when(at)
	return notice{
		kind: audit.DeviceBound, subjectDE: "Neues Gerät verbunden", subjectEN: "New device bound",
		bodyDE: fmt.Sprintf("Das Gerät „%s“ wurde am %s mit Ihrem Zugang verbunden.\n\n%s", name, de, notMeDE),
		bodyEN: fmt.Sprintf("The device “%s” was bound to your account on %s.\n\n%s", name, en, notMeEN),
	}
}

func enrollmentDone(name string, at time.Time) notice {
	de, en := when(at)
	return notice{
		kind: audit.EnrollmentCompleted, subjectDE: "Registrierung abgeschlossen", subjectEN: "Registration completed",
		bodyDE: fmt.Sprintf("Für das Gerät „%s“ wurde am %s die Freigabe-PIN festgelegt; Ihre Registrierung ist abgeschlossen.\n\n%s", name, de, notMeDE),
		bodyEN: fmt.Sprintf("The release PIN for the device “%s” was set on %s; your registration is complete.\n\n%s", name, en, notMeEN),
	}
}

func pinReset(name string, at time.Time, wasBlocked bool) notice {
	de, en := when(at)
	n := notice{
		kind: audit.PINSet, subjectDE: "Freigabe-PIN geändert", subjectEN: "Release PIN changed",
		bodyDE: fmt.Sprintf("Die Freigabe-PIN des Geräts „%s“ wurde am %s mit Ihrem Passwort neu festgelegt.", name, de),
		bodyEN: fmt.Sprintf("The release PIN of the device “%s” was reset with your password on %s.", name, en),
	}
	if wasBlocked {
		n.bodyDE += " Die Sperre des Geräts ist damit aufgehoben."
		n.bodyEN += " The device is no longer blocked."
	}
	n.bodyDE += "\n\n" + notMeDE
	n.bodyEN += "\n\n" + notMeEN
	return n
}

func pinLocked(name string, at time.Time) notice {
	de, en := when(at)
	return notice{
		kind: audit.PINLocked, subjectDE: "Gerät gesperrt", subjectEN: "Device blocked",
		bodyDE: fmt.Sprintf("Am %s wurde die Freigabe-PIN des Geräts „%s“ zu oft falsch eingegeben; das Gerät ist gesperrt. "+
			"Sie können die PIN in der Service-App mit Ihrem Passwort neu festlegen.\n\n%s", de, name, notMeDE),
		bodyEN: fmt.Sprintf("On %s the release PIN of the device “%s” was entered wrongly too often; the device is blocked. "+
			"You can reset the PIN in the Service-App with your password.\n\n%s", en, name, notMeEN),
	}
}

func deviceSuspect(name string, at time.Time) notice {
	de, en := when(at)
	return notice{
		kind: audit.DeviceSuspect, subjectDE: "Gerät aus Sicherheitsgründen gesperrt", subjectEN: "Device blocked for your security",
		bodyDE: fmt.Sprintf("Am %s hat sich das Gerät „%s“ so gemeldet, als gäbe es eine Kopie seines Schlüssels. "+
			"Wir haben es zu Ihrem Schutz gesperrt. Bitte verbinden Sie Ihr Gerät neu.\n\n%s", de, name, notMeDE),
		bodyEN: fmt.Sprintf("On %s the device “%s” answered as if a copy of its key existed. "+
			"We have blocked it for your protection. Please bind your device again.\n\n%s", en, name, notMeEN),
	}
}

func deviceRenamed(oldName, newName string, at time.Time) notice {
	de, en := when(at)
	return notice{
		kind: audit.DeviceRenamed, subjectDE: "Gerät umbenannt", subjectEN: "Device renamed",
		bodyDE: fmt.Sprintf("Das Gerät „%s“ heißt seit %s „%s“.\n\n%s", oldName, de, newName, notMeDE),
		bodyEN: fmt.Sprintf("The device “%s” has been called “%s” since %s.\n\n%s", oldName, newName, en, notMeEN),
	}
}

func deviceRevoked(name string, at time.Time) notice {
	de, en := when(at)
	return notice{
		kind: audit.DeviceRevoked, subjectDE: "Gerät entfernt", subjectEN: "Device removed",
		bodyDE: fmt.Sprintf("Das Gerät „%s“ wurde am %s von Ihrem Zugang entfernt; es kann sich nicht mehr anmelden.\n\n%s", name, de, notMeDE),
		bodyEN: fmt.Sprintf("The device “%s” was removed from your account on %s; it can no longer log in.\n\n%s", name, en, notMeEN),
	}
}

func othersRevoked(n int, kept string, at time.Time) notice {
	de, en := when(at)
	return notice{
		kind: audit.DeviceRevoked, subjectDE: "Geräte entfernt", subjectEN: "Devices removed",
		bodyDE: fmt.Sprintf("Am %s wurden %d Geräte von Ihrem Zugang entfernt; nur „%s“ bleibt verbunden.\n\n%s", de, n, kept, notMeDE),
		bodyEN: fmt.Sprintf("On %s, %d devices were removed from your account; only “%s” remains bound.\n\n%s", en, n, kept, notMeEN),
	}
}

func operatorUnblocked(name string, at time.Time) notice {
	de, en := when(at)
	return notice{
		kind: audit.DeviceUnblocked, subjectDE: "Gerät entsperrt", subjectEN: "Device unblocked",
		bodyDE: fmt.Sprintf("Der Kundenservice hat das Gerät „%s“ am %s entsperrt. Sie können sich wieder mit Ihrer Freigabe-PIN anmelden.\n\n%s", name, de, notMeDE),
		bodyEN: fmt.Sprintf("Customer service unblocked the device “%s” on %s. You can log in with your release PIN again.\n\n%s", name, en, notMeEN),
	}
}

// tell sends n to the e-mail address the directory has for the member k,
// if any. A member without an address, a missing notifier or a failed
// delivery is logged, never an error: the change is made already, and the
// member learns of it in the app too.
func (s *Service) tell(ctx context.Context, k kvnr.KVNR, n notice) {
	if s.notifier == nil {
		return
	}
	m, err := s.members.MemberByKVNR(ctx, k)
	switch {
	case errors.Is(err, fault.NotFound) || (err == nil && strings.TrimSpace(m.Email) == ""):
		return
	case err != nil:
		s.logWarn(ctx, "notification not sent", slog.String("kind", string(n.kind)), slog.Any("error", err))
		return
	}
	msg := notify.Message{
		To:      strings.TrimSpace(m.Email),
		Subject: n.subjectDE + " / " + n.subjectEN,
		Body:    n.bodyDE + "\n\n---\n\n" + n.bodyEN + signature,
		Kind:    string(n.kind),
	}
	if err := s.notifier.Notify(ctx, msg); err != nil {
		s.logWarn(ctx, "notification not sent", slog.String("kind", string(n.kind)), slog.Any("error", err))
	}
}

// tellAccount is tell for an account id.
func (s *Service) tellAccount(ctx context.Context, accountID string, n notice) {
	if s.notifier == nil {
		return
	}
	a, err := s.accounts.AccountByID(ctx, accountID)
	if err != nil {
		s.logWarn(ctx, "notification not sent", slog.String("kind", string(n.kind)), slog.Any("error", err))
		return
	}
	s.tell(ctx, a.KVNR, n)
}
