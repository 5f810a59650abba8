package catalog

// text is one message in both languages. Parameters are x/text/message
// verbs with explicit indexes (%[1]d), so that each language may order
// them as it needs; the code's doc comment names them.
type text struct{ de, en string }

// texts is the one table of words. Keys are the codes core and adapters
// declare (fault.Code constants), the generic texts of error kinds
// ("kind.<name>"), and the fixed texts of pages ("page.") and e-mails
// ("mail.<code>.subject", "mail.<code>.body", "mail.footer").
var texts = map[string]text{
	// Generic texts of the error kinds.
	"kind.internal":        {"Ein interner Fehler ist aufgetreten.", "An internal error occurred."},
	"kind.invalid":         {"Die Anfrage ist ungültig.", "The request is invalid."},
	"kind.unauthenticated": {"Die Anmeldung ist fehlgeschlagen.", "Authentication failed."},
	"kind.forbidden":       {"Das ist nicht erlaubt.", "This is not allowed."},
	"kind.not_found":       {"Nicht gefunden.", "Not found."},
	"kind.expired":         {"Das ist abgelaufen.", "This has expired."},
	"kind.locked":          {"Das ist gesperrt.", "This is locked."},
	"kind.rate_limited":    {"Zu viele Versuche. Bitte versuchen Sie es später erneut.", "Too many attempts. Please try again later."},
	"kind.conflict":        {"Das wurde bereits verwendet oder geändert.", "This has already been used or changed."},
	"kind.unavailable":     {"Der Dienst ist vorübergehend nicht erreichbar.", "The service is temporarily unavailable."},

	// Member number, login, account.
	"kvnr.invalid":          {"Die Versichertennummer ist ungültig: ein Buchstabe und neun Ziffern.", "The member number is invalid: one letter and nine digits."},
	"login.failed":          {"Versichertennummer oder Passwort ist falsch.", "Member number or password is wrong."},
	"login.wait":            {"Zu viele Fehlversuche. Bitte warten Sie %[1]s und versuchen Sie es dann erneut.", "Too many failed attempts. Please wait %[1]s and then try again."},
	"login.unknown":         {"Die Anmeldung ist unbekannt oder abgelaufen.", "The login request is unknown or has expired."},
	"login.expired":         {"Die Anmeldung ist abgelaufen. Bitte starten Sie sie neu.", "The login request has expired. Please start again."},
	"login.completed":       {"Diese Anmeldung wurde bereits abgeschlossen.", "This login has already been completed."},
	"login.unknown_request": {"Die Anmeldung ist unbekannt.", "The login request is unknown."},
	"login.request_gone":    {"Die Anmeldeanfrage ist nicht mehr gültig. Bitte starten Sie die Anmeldung neu.", "The login request is no longer valid (request_uri used or expired). Please start the login again."},
	"login.not_app":         {"Diese Anmeldung kann nicht in der App abgeschlossen werden; bitte melden Sie sich im Browser an.", "This login cannot be completed in the app; please log in in the browser."},
	"account.inactive":      {"Ihr Zugang ist nicht aktiv. Bitte wenden Sie sich an Ihre Krankenkasse.", "Your account is not active. Please contact your health insurer."},

	// Passwords.
	"password.wrong":              {"Das Passwort ist falsch.", "The password is wrong."},
	"password.encoding":           {"Das Passwort enthält ungültige Zeichen.", "The password contains invalid characters."},
	"password.too_short":          {"Das Passwort muss mindestens %[1]d Zeichen lang sein.", "The password must be at least %[1]d characters long."},
	"password.too_long":           {"Das Passwort darf höchstens %[1]d Zeichen lang sein.", "The password must be at most %[1]d characters long."},
	"password.common":             {"Dieses Passwort ist zu verbreitet.", "This password is too common."},
	"password.simple":             {"Das Passwort ist zu einfach.", "The password is too simple."},
	"password.personal":           {"Das Passwort darf Ihre Versichertennummer, Ihren Namen oder Ihr Geburtsdatum nicht enthalten.", "The password must not contain your member number, name or date of birth."},
	"password.busy":               {"Pforte ist gerade sehr beschäftigt. Bitte versuchen Sie es in einigen Sekunden noch einmal.", "Pforte is very busy right now. Please try again in a few seconds."},
	"password.guessable":          {"Das Passwort ist zu leicht zu erraten.", "The password is too easy to guess."},
	"password.guessable_personal": {"Das Passwort ist zu leicht zu erraten. (Es besteht im Wesentlichen aus Ihren persönlichen Daten.)", "The password is too easy to guess. (It is mostly made of your personal data.)"},
	"password.guessable_words":    {"Das Passwort ist zu leicht zu erraten. (Bekannte Wörter und Namen sind leicht zu erraten.)", "The password is too easy to guess. (Common words and names are easy to guess.)"},
	"password.guessable_dates":    {"Das Passwort ist zu leicht zu erraten. (Jahreszahlen und Daten sind leicht zu erraten.)", "The password is too easy to guess. (Years and dates are easy to guess.)"},
	"password.guessable_patterns": {"Das Passwort ist zu leicht zu erraten. (Tastaturmuster, Folgen und Wiederholungen sind leicht zu erraten.)", "The password is too easy to guess. (Keyboard patterns, sequences and repeats are easy to guess.)"},
	"password.guessable_short":    {"Das Passwort ist zu leicht zu erraten. (Verwenden Sie mehrere ungewöhnliche Wörter.)", "The password is too easy to guess. (Use several uncommon words.)"},

	// Release PIN.
	"pin.format":      {"Die PIN muss genau 6 Ziffern haben.", "The PIN must be exactly 6 digits."},
	"pin.repeated":    {"Die PIN darf nicht aus lauter gleichen Ziffern bestehen.", "The PIN must not repeat one digit."},
	"pin.sequence":    {"Die PIN darf keine Zahlenfolge wie 123456 sein.", "The PIN must not be a sequence like 123456."},
	"pin.common":      {"Diese PIN ist zu verbreitet.", "This PIN is too common."},
	"pin.birth_date":  {"Die PIN darf nicht Ihr Geburtsdatum sein.", "The PIN must not be your date of birth."},
	"pin.wrong":       {"Die PIN ist falsch. Verbleibende Versuche: %[1]d.", "The PIN is wrong. Attempts left: %[1]d."},
	"pin.wait":        {"Bitte warten Sie, bevor Sie die PIN erneut eingeben.", "Please wait before entering the PIN again."},
	"pin.blocked":     {"Die PIN wurde zu oft falsch eingegeben; dieses Gerät ist gesperrt. Bitte legen Sie mit Ihrem Passwort eine neue PIN fest.", "The PIN was wrong too often; this device is blocked. Please reset the PIN with your password."},
	"pin.already_set": {"Die PIN für dieses Gerät ist bereits festgelegt.", "The PIN for this device is already set."},

	// Devices.
	"device.gone":               {"Dieses Gerät ist nicht (mehr) mit einem Zugang verbunden. Bitte verbinden Sie es neu.", "This device is not (or no longer) bound to an account. Please bind it again."},
	"device.other_key":          {"Die Antwort stammt nicht vom Schlüssel dieses Geräts.", "The answer was not made by this device's key."},
	"device.not_found":          {"Dieses Gerät gibt es nicht.", "There is no such device."},
	"device.removed":            {"Dieses Gerät ist bereits entfernt.", "This device has been removed already."},
	"device.key_bound":          {"Dieser Schlüssel ist bereits verbunden.", "This key is already bound."},
	"device.platform":           {"Unbekannte Plattform.", "Unknown platform."},
	"device.name":               {"Der Gerätename muss 1 bis 64 Zeichen haben.", "The device name must have 1 to 64 characters."},
	"device.rollback":           {"Dieses Gerät kann nicht mehr verwendet werden. Bitte binden Sie es neu.", "This device can no longer be used. Please bind it again."},
	"device.synced":             {"Synchronisierte Passkeys sind keine Gerätebindung.", "A synced passkey is not a device binding."},
	"device.not_hardware":       {"Der Schlüssel liegt nicht nachweislich in sicherer Hardware.", "The key is not proven to be in secure hardware."},
	"device.other_app":          {"Der Schlüssel gehört nicht zur Service-App.", "The key does not belong to the Service-App."},
	"device.app_signer":         {"Die App ist nicht mit dem Schlüssel der Krankenkasse signiert.", "The app is not signed with the insurer's key."},
	"device.self_attested":      {"Selbst-Attestierung ist nur in der Entwicklung erlaubt.", "Self attestation is allowed in development only."},
	"device.untrusted":          {"Die Attestierung ist nicht vertrauenswürdig.", "The attestation is not trusted."},
	"device.unattested":         {"Ein Schlüssel ohne Attestierung ist nur in der Entwicklung erlaubt.", "A key without attestation is allowed in development only."},
	"device.attestation_format": {"Dieses Attestierungsformat wird nicht unterstützt.", "This attestation format is not supported."},
	"device.answer_malformed":   {"Die Antwort der App ist ungültig.", "The app's response is malformed."},
	"device.key_unverified":     {"Der Geräteschlüssel konnte nicht bestätigt werden.", "The device key could not be verified."},

	// Challenges of the device key.
	"challenge.unknown":          {"Die Anfrage ist unbekannt oder wurde schon verwendet.", "The challenge is unknown or was already used."},
	"challenge.expired":          {"Die Anfrage ist abgelaufen. Bitte beginnen Sie erneut.", "The challenge has expired. Please start again."},
	"challenge.other_enrollment": {"Die Anfrage gehört nicht zu dieser Registrierung.", "The challenge does not belong to this enrollment."},
	"challenge.other_login":      {"Diese Anfrage gehört zu einer anderen Anmeldung. Bitte starten Sie die Anmeldung neu.", "This challenge belongs to another login. Please start the login again."},

	// Registration and enrollment.
	"registration.rate_limited":   {"Zu viele Anfragen. Bitte versuchen Sie es später erneut.", "Too many requests. Please try again later."},
	"registration.birth_date":     {"Das Geburtsdatum ist ungültig (TT.MM.JJJJ oder JJJJ-MM-TT).", "The date of birth is invalid (DD.MM.YYYY or YYYY-MM-DD)."},
	"registration.method":         {"Dieses Verfahren kann nicht angefordert werden.", "This method cannot be requested."},
	"registration.unknown_method": {"Unbekanntes Verfahren.", "Unknown method."},
	"proofing.unknown":            {"Dieser Identitätsnachweis ist unbekannt oder schon abgeschlossen. Bitte beginnen Sie erneut.", "This identity proofing is unknown or finished already. Please start again."},
	"proofing.expired":            {"Der Identitätsnachweis hat zu lange gedauert. Bitte beginnen Sie erneut.", "The identity proofing took too long. Please start again."},
	"proofing.mismatch":           {"Die Angaben des Ausweises passen nicht zu den Daten dieser Versichertennummer.", "The identity document's data do not match this member number."},
	"proofing.ineligible":         {"Mit dieser Versichertennummer ist zurzeit keine Registrierung möglich.", "Registration is not possible with this member number at the moment."},
	"registration.accepted":       {"Wenn Ihre Angaben zu unseren Daten passen, erhalten Sie in 2–3 Tagen einen Passwortbrief per Post.", "If your details match our records, you will receive a password letter by post within 2–3 days."},
	"enrollment.unknown":          {"Die Registrierungssitzung ist unbekannt.", "Unknown enrollment session."},
	"enrollment.expired":          {"Die Registrierungssitzung ist abgelaufen. Bitte aktivieren Sie die App erneut.", "The enrollment session has expired. Please activate the app again."},
	"enrollment.password_first":   {"Bitte legen Sie zuerst Ihr Passwort fest. Die Reihenfolge ist: Passwort, Gerät, PIN.", "Please set your password first. The order is: password, device, PIN."},
	"enrollment.device_first":     {"Bitte verbinden Sie zuerst Ihr Gerät. Die Reihenfolge ist: Passwort, Gerät, PIN.", "Please bind your device first. The order is: password, device, PIN."},
	"enrollment.device_bound":     {"In dieser Registrierung ist bereits ein Gerät verbunden.", "A device is already bound in this enrollment."},
	"enrollment.incomplete":       {"Die Registrierung ist noch nicht vollständig.", "The enrollment is not complete yet."},
	"enrollment.token_missing":    {"Die Anmeldung zur Einrichtung fehlt.", "The enrollment token is missing."},

	// Password letter.
	"letter.wrong":     {"Versichertennummer, Initialpasswort oder Aktivierungscode ist falsch.", "Member number, initial password or activation code is wrong."},
	"letter.malformed": {"Bitte geben Sie Initialpasswort (12 Zeichen) und Aktivierungscode (26 Zeichen) so ein, wie sie im Brief stehen.", "Please enter the initial password (12 characters) and the activation code (26 characters) as printed in the letter."},
	"letter.attempts":  {"Der Brief wurde nach zu vielen Fehlversuchen gesperrt. Bitte fordern Sie einen neuen Brief an.", "The letter was voided after too many wrong attempts. Please request a new letter."},
	"letter.voided":    {"Dieser Brief ist nicht mehr gültig. Bitte fordern Sie einen neuen Brief an.", "This letter is no longer valid. Please request a new letter."},
	"letter.expired":   {"Der Brief ist abgelaufen. Bitte fordern Sie einen neuen Brief an.", "The letter has expired. Please request a new letter."},
	"letter.used":      {"Dieser Brief wurde bereits verwendet.", "This letter has already been used."},

	// DPoP (for a client's developer; the app never shows them).
	"dpop.invalid_proof": {"Der DPoP-Nachweis ist ungültig.", "The DPoP proof is invalid."},
	"dpop.use_nonce":     {"Der DPoP-Nachweis braucht die aktuelle Nonce des Servers.", "The DPoP proof needs the server's current nonce."},

	// The app API's own refusals.
	"api.unknown_path": {"Unbekannter Pfad oder Methode.", "Unknown path or method."},
	"api.too_large":    {"Die Anfrage ist zu groß.", "The request is too large."},
	"api.content_type": {"Content-Type muss application/json sein.", "Content-Type must be application/json."},
	"api.json":         {"Die Anfrage ist kein gültiges JSON dieser Form.", "The request is not valid JSON of the expected shape."},
	"api.trailing":     {"Nach dem JSON-Objekt folgen weitere Daten.", "There is data after the JSON object."},

	// Pages.
	"page.title":              {"Anmelden – Pforte", "Log in – Pforte"},
	"page.login.heading":      {"Anmelden", "Log in"},
	"page.login.for":          {"für", "for"},
	"page.login.kvnr":         {"Versichertennummer", "Member number"},
	"page.login.password":     {"Passwort", "Password"},
	"page.login.submit":       {"Anmelden", "Log in"},
	"page.login.forgot":       {"Passwort vergessen?", "Forgot your password?"},
	"page.forgot.heading":     {"Passwort vergessen", "Forgot your password"},
	"page.forgot.text":        {"Ein neues Passwort können Sie hier noch nicht festlegen. Bitte wenden Sie sich an den Service Ihrer Krankenkasse: Er prüft, wer Sie sind, und schickt Ihnen einen neuen Passwortbrief per Post. Mit dem Brief legen Sie in der Service-App ein neues Passwort fest.", "You cannot set a new password here yet. Please contact your health insurer's service: they check who you are and send you a new password letter by post. With the letter you set a new password in the Service-App."},
	"page.forgot.never":       {"Ihre Krankenkasse fragt Sie nie nach Ihrem Passwort oder Ihrer PIN – weder am Telefon noch per E-Mail.", "Your health insurer never asks for your password or PIN, neither on the phone nor by e-mail."},
	"page.forgot.back":        {"Zurück zur Anmeldung", "Back to the login"},
	"page.error.heading":      {"Anmeldung nicht möglich", "Login not possible"},
	"page.error.again":        {"Anmeldung neu starten", "Start the login again"},
	"page.method_not_allowed": {"Methode nicht erlaubt", "Method not allowed"},
	"page.invalid_request":    {"Ungültige Anfrage", "Invalid request"},
	"page.unreadable":         {"Die Anfrage konnte nicht gelesen werden.", "The request could not be read."},
	"page.repeated":           {"Der Parameter %[1]s ist mehrfach angegeben.", "Parameter %[1]s is repeated."},
	"page.csrf":               {"Die Anmeldung wurde nicht angenommen: Das Formular kam nicht von der Anmeldeseite in diesem Browser, oder der Browser hat deren Cookie nicht mitgeschickt. Es wurde nichts übermittelt.", "The login was not accepted: the form did not come from the login page in this browser, or the browser did not send its cookie. Nothing was submitted."},
	"page.bad_request":        {"Die Anwendung, von der Sie kommen, hat eine fehlerhafte Anmeldeanfrage gesendet. Bitte versuchen Sie es dort noch einmal.", "The application you came from sent a malformed login request. Please try again there."},
	"page.detail":             {"Technische Angabe", "Technical detail"},
	"page.logged_out.title":   {"Abgemeldet", "Logged out"},
	"page.logged_out.text":    {"Sie sind abgemeldet. Sie können dieses Fenster schließen.", "You are logged out. You may close this window."},
	"page.activate.heading":   {"Service-App aktivieren", "Activate the Service-App"},
	"page.activate.text":      {"Dieser Link gehört zu Ihrem Passwortbrief. Installieren Sie die Service-App Ihrer Krankenkasse und scannen Sie den QR-Code aus dem Brief mit der App – oder geben Sie den Aktivierungscode in der App von Hand ein.", "This link belongs to your password letter. Install your health insurer's Service-App and scan the QR code in the letter with the app, or type the activation code into the app."},
	"page.activate.never":     {"Geben Sie Passwort und Code niemals auf einer Webseite ein.", "Never enter the password or the code on a web page."},

	// E-mails: params are the device name (string) and the time (time.Time)
	// unless the code's doc says otherwise.
	"mail.footer":                       {"Wenn Sie das nicht waren, melden Sie sich bitte sofort bei Ihrer Krankenkasse; in der Service-App können Sie unter „Geräte“ jedes Gerät entfernen.\n\nDiese Nachricht wurde automatisch versandt.", "If this was not you, please contact your health insurer at once; in the Service-App you can remove any device under “Devices”.\n\nThis message was sent automatically."},
	"mail.device_bound.subject":         {"Neues Gerät verbunden", "New device bound"},
	"mail.device_bound.body":            {"Das Gerät „%[1]s“ wurde am %[2]s mit Ihrem Zugang verbunden.", "The device “%[1]s” was bound to your account on %[2]s."},
	"mail.enrollment_completed.subject": {"Registrierung abgeschlossen", "Registration completed"},
	"mail.enrollment_completed.body":    {"Für das Gerät „%[1]s“ wurde am %[2]s die Freigabe-PIN festgelegt; Ihre Registrierung ist abgeschlossen.", "The release PIN for the device “%[1]s” was set on %[2]s; your registration is complete."},
	"mail.pin_reset.subject":            {"Freigabe-PIN geändert", "Release PIN changed"},
	"mail.pin_reset.body":               {"Die Freigabe-PIN des Geräts „%[1]s“ wurde am %[2]s mit Ihrem Passwort neu festgelegt.", "The release PIN of the device “%[1]s” was reset with your password on %[2]s."},
	"mail.pin_reset_unblocked.subject":  {"Freigabe-PIN geändert", "Release PIN changed"},
	"mail.pin_reset_unblocked.body":     {"Die Freigabe-PIN des Geräts „%[1]s“ wurde am %[2]s mit Ihrem Passwort neu festgelegt. Die Sperre des Geräts ist damit aufgehoben.", "The release PIN of the device “%[1]s” was reset with your password on %[2]s. The device is no longer blocked."},
	"mail.pin_locked.subject":           {"Gerät gesperrt", "Device blocked"},
	"mail.pin_locked.body":              {"Am %[2]s wurde die Freigabe-PIN des Geräts „%[1]s“ zu oft falsch eingegeben; das Gerät ist gesperrt. Sie können die PIN in der Service-App mit Ihrem Passwort neu festlegen.", "On %[2]s the release PIN of the device “%[1]s” was entered wrongly too often; the device is blocked. You can reset the PIN in the Service-App with your password."},
	"mail.device_suspect.subject":       {"Gerät aus Sicherheitsgründen gesperrt", "Device blocked for your security"},
	"mail.device_suspect.body":          {"Am %[2]s hat sich das Gerät „%[1]s“ so gemeldet, als gäbe es eine Kopie seines Schlüssels. Wir haben es zu Ihrem Schutz gesperrt. Bitte verbinden Sie Ihr Gerät neu.", "On %[2]s the device “%[1]s” answered as if a copy of its key existed. We have blocked it for your protection. Please bind your device again."},
	"mail.device_renamed.subject":       {"Gerät umbenannt", "Device renamed"},
	"mail.device_renamed.body":          {"Das Gerät „%[1]s“ heißt seit %[2]s „%[3]s“.", "The device “%[1]s” has been called “%[3]s” since %[2]s."},
	"mail.device_revoked.subject":       {"Gerät entfernt", "Device removed"},
	"mail.device_revoked.body":          {"Das Gerät „%[1]s“ wurde am %[2]s von Ihrem Zugang entfernt; es kann sich nicht mehr anmelden.", "The device “%[1]s” was removed from your account on %[2]s; it can no longer log in."},
	"mail.others_revoked.subject":       {"Geräte entfernt", "Devices removed"},
	"mail.others_revoked.body":          {"Am %[2]s wurden %[3]d Geräte von Ihrem Zugang entfernt; nur „%[1]s“ bleibt verbunden.", "On %[2]s, %[3]d devices were removed from your account; only “%[1]s” remains bound."},
	"mail.password_failures.subject":    {"Fehlgeschlagene Anmeldeversuche", "Failed login attempts"},
	"mail.password_failures.body":       {"Ihr Passwort wurde %[1]d-mal in Folge falsch eingegeben, zuletzt am %[2]s. Weitere Versuche werden verzögert. Ihre Service-App (Gerät und PIN) ist davon nicht betroffen.", "Your password was entered wrongly %[1]d times in a row, last on %[2]s. Further attempts are delayed. Your Service-App (device and PIN) is not affected."},
	"mail.operator_unblocked.subject":   {"Gerät entsperrt", "Device unblocked"},
	"mail.operator_unblocked.body":      {"Der Kundenservice hat das Gerät „%[1]s“ am %[2]s entsperrt. Sie können sich wieder mit Ihrer Freigabe-PIN anmelden.", "Customer service unblocked the device “%[1]s” on %[2]s. You can log in with your release PIN again."},

	// Web login confirmed in the app (core/weblogin). Kept together, after
	// the rest, so that the texts of one feature are read in one place.
	"challenge.other_approval":      {"Diese Anfrage gehört zu einer anderen Freigabe. Bitte öffnen Sie die Freigabe neu.", "This challenge belongs to another approval. Please open the approval again."},
	"api.device_proof_missing":      {"Die Anfrage muss mit dem Schlüssel des Geräts beantwortet werden (Pforte-Device-Challenge, Pforte-Device-Assertion).", "The request must be answered with the device's key (Pforte-Device-Challenge, Pforte-Device-Assertion)."},
	"api.approval_decision":         {"Die Entscheidung muss „approve“ oder „deny“ sein.", "The decision must be “approve” or “deny”."},
	"approval.no_device":            {"Für Ihr Konto ist kein Gerät eingerichtet, mit dem Sie die Anmeldung bestätigen können.", "Your account has no device you could confirm the login with."},
	"approval.unknown":              {"Diese Freigabe ist unbekannt oder gehört nicht zu diesem Browser. Bitte starten Sie die Anmeldung neu.", "This approval is unknown or does not belong to this browser. Please start the login again."},
	"approval.expired":              {"Die Zeit für die Bestätigung ist abgelaufen. Bitte starten Sie die Anmeldung neu.", "The time to confirm has run out. Please start the login again."},
	"approval.pending":              {"Die Anmeldung ist noch nicht bestätigt. Bitte bestätigen Sie sie in Ihrer Service-App und wählen Sie dann „Weiter“.", "The login is not confirmed yet. Please confirm it in your Service-App, then choose “Continue”."},
	"approval.denied":               {"Die Anmeldung wurde in der Service-App abgelehnt.", "The login was denied in the Service-App."},
	"approval.wrong_number":         {"In der Service-App wurde eine andere Zahl gewählt als die hier angezeigte. Die Anmeldung wurde deshalb abgelehnt. Bitte starten Sie sie neu.", "A different number than the one shown here was chosen in the Service-App, so the login was refused. Please start again."},
	"approval.decided":              {"Über diese Anmeldung wurde bereits entschieden.", "This login has already been decided."},
	"page.approval.heading":         {"Bestätigen Sie die Anmeldung in Ihrer Service-App", "Confirm the login in your Service-App"},
	"page.approval.number":          {"Wählen Sie in der App diese Zahl:", "Choose this number in the app:"},
	"page.approval.explain":         {"Die App zeigt drei Zahlen. Tippen Sie auf die Zahl, die hier steht, und geben Sie Ihre Freigabe-PIN ein. Wenn Sie diese Anmeldung nicht begonnen haben, wählen Sie in der App „Das war ich nicht“.", "The app shows three numbers. Tap the number shown here and enter your release PIN. If you did not start this login, choose “That was not me” in the app."},
	"page.approval.continue":        {"Weiter", "Continue"},
	"page.approval.waiting":         {"Warten auf die Bestätigung …", "Waiting for the confirmation …"},
	"page.approval.valid":           {"Die Bestätigung ist zwei Minuten lang möglich.", "You can confirm for two minutes."},
	"page.no_device.heading":        {"Kein Gerät für die Bestätigung", "No device to confirm with"},
	"page.no_device.text":           {"Die Anmeldung im Browser wird in Ihrer Service-App bestätigt. Für Ihr Konto ist noch kein Gerät eingerichtet, oder es ist gesperrt.", "A browser login is confirmed in your Service-App. Your account has no device yet, or it is blocked."},
	"page.no_device.how":            {"So richten Sie ein Gerät ein: Installieren Sie die Service-App Ihrer Krankenkasse, bestellen Sie dort einen Passwortbrief, aktivieren Sie die App mit dem QR-Code aus dem Brief und legen Sie eine Freigabe-PIN fest. Ist Ihr Gerät gesperrt, setzen Sie die PIN in der App mit Ihrem Passwort neu. Danach starten Sie die Anmeldung hier neu.", "How to set up a device: install your health insurer's Service-App, order a password letter in it, activate the app with the QR code of the letter and set a release PIN. If your device is blocked, reset the PIN in the app with your password. Then start the login here again."},
	"mail.web_login_denied.subject": {"Anmeldung abgelehnt", "Login refused"},
	"mail.web_login_denied.body":    {"Am %[2]s wurde eine Anmeldung bei „%[1]s“ (%[3]s) in Ihrer Service-App abgelehnt. Wenn Sie das nicht selbst waren, kennt möglicherweise jemand Ihr Passwort: Bitte ändern Sie es.", "On %[2]s a login to “%[1]s” (%[3]s) was refused in your Service-App. If that was not you, someone may know your password: please change it."},
}
