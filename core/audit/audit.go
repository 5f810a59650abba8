package audit

import "time"

// Kind names what happened.
type Kind string

// Event kinds.
const (
	EnrollmentStarted   Kind = "enrollment.started"
	EnrollmentCompleted Kind = "enrollment.completed"
	PasswordSet         Kind = "password.set"
	DeviceBound         Kind = "device.bound"
	DeviceRenamed       Kind = "device.renamed"
	DeviceRevoked       Kind = "device.revoked"
	DeviceSuspect       Kind = "device.suspect" // sign counter went backwards
	PINSet              Kind = "pin.set"
	PINFailed           Kind = "pin.failed"
	PINLocked           Kind = "pin.locked"
	DeviceUnblocked     Kind = "device.unblocked"
	// DeviceReconfirmed: the member confirmed a device binding again
	// (device.Reconfirm); Detail "binding" and "by" (password or eid).
	DeviceReconfirmed Kind = "device.reconfirmed"
	// AppLogin: the app logged in with the device key and the PIN.
	AppLogin Kind = "login.app"
	// LoginFailed: a password check failed or was refused by the
	// throttling rule; Detail names the reason code (core/login) and
	// where the check was made.
	LoginFailed Kind = "login.failed"
	// WebLogin: a login in the browser completed, with the password alone
	// or confirmed in the app (not one answered from an earlier session).
	// ClientID names the relying party; Detail has "sid", "amr" and, when
	// confirmed in the app, "binding".
	WebLogin Kind = "login.web"
	// WebLoginApproved: the member approved a browser login in the app.
	WebLoginApproved Kind = "login.web_approved"
	// WebLoginDenied: the member denied a browser login in the app, or
	// chose a number the browser did not show (Detail "reason").
	WebLoginDenied Kind = "login.web_denied"
	// SessionEnded: a single sign-on session ended (Detail "sid",
	// "reason": logout, everywhere, device, support, replaced).
	SessionEnded Kind = "session.ended"
	// ConsentGranted and ConsentRevoked: the member allowed a third-party
	// client scopes (Detail "scopes"), or took the consent back.
	ConsentGranted Kind = "consent.granted"
	ConsentRevoked Kind = "consent.revoked"
	// BackchannelLogoutGivenUp: a logout token for an ended session could
	// not be delivered to a relying party's back-channel logout endpoint
	// within the configured time, and Pforte stopped trying; the relying
	// party may still hold a session of the member. ClientID names it;
	// Detail has "session", "attempts" and "reason" (of the last failure).
	BackchannelLogoutGivenUp Kind = "logout.backchannel_given_up"
	// Letter events: a password letter was ordered (created for the
	// worker), rendered (its secrets set), handed over to the outbox,
	// activated with its secrets, or voided (Detail "reason": superseded
	// by a newer letter, or attempts: too many wrong ones). They name no
	// account (the letter comes before it); Detail has "letter" (its id)
	// and "member" (the member number's pseudonym, letter.Hasher), never
	// the number.
	LetterOrdered    Kind = "letter.ordered"
	LetterRendered   Kind = "letter.rendered"
	LetterHandedOver Kind = "letter.handed_over"
	LetterActivated  Kind = "letter.activated"
	LetterVoided     Kind = "letter.voided"
	// RefreshReused: a spent refresh token was presented again, and its
	// whole family was revoked (a sign of theft). ClientID names the
	// client; Detail "family" the token family, never a token.
	RefreshReused Kind = "token.refresh_reused"
	// Support's actions (core/support). Each has actor Operator, the
	// client support acted through as ClientID and the person as Detail
	// "operator". SupportRead: support looked at data (Detail "what":
	// search, status, audit, client); its account is the member's when
	// one member's data was read. SupportLetterOrdered: support ordered a
	// letter (Detail "letter", "interval_overridden", "reason").
	// SupportLetterLost: support reported the member's letter lost (Detail
	// "letter": the lost one, "replacement": the new one or empty,
	// "reason").
	// SupportSessionsEnded: support ended every browser session (Detail
	// "sessions": how many). AccountLocked and AccountUnlocked: support
	// locked or unlocked the account (Detail "reason"). ClientChanged: a
	// client was edited or its secret rotated, no account (Detail
	// "client", "what": edit, secret_rotated, rollover_finished).
	SupportRead          Kind = "support.read"
	SupportLetterOrdered Kind = "support.letter_ordered"
	SupportLetterLost    Kind = "support.letter_lost"
	SupportSessionsEnded Kind = "support.sessions_ended"
	AccountLocked        Kind = "account.locked"
	AccountUnlocked      Kind = "account.unlocked"
	ClientChanged        Kind = "client.changed"
	// DeviceTransferApproved: a device of the member approved a new
	// phone's transfer with its key and PIN; Detail has "transfer" and
	// "binding" (the approving device).
	DeviceTransferApproved Kind = "device.transfer_approved"
	// DeviceTransferRedeemed: the new phone redeemed an approved transfer
	// and got its enrollment session (key and PIN follow); Detail has
	// "transfer", "session" and "approved_by".
	DeviceTransferRedeemed Kind = "device.transfer_redeemed"
	// AccountDeleted: the account and what belongs to it were deleted.
	// The entry names the account id (the pseudonym every earlier entry
	// of the member carries; nothing in Pforte links it to the member
	// number any more) and, in Detail "member", the member number's
	// keyed pseudonym (letter.Hasher), never the number; "reason" says
	// why: request (the member), support, or retention (the membership
	// ended longer ago than the retention period).
	AccountDeleted Kind = "account.deleted"
	// MemberRemoved: a member was removed from the member directory:
	// the retention period was over, or the member whose membership had
	// ended deleted the account (Detail "member": the pseudonym; "reason"
	// deleted in the second case).
	MemberRemoved Kind = "member.removed"
	// MembersSynced: a full sync of the insurer's member file (Detail
	// "present", "removing", "resuming", and "forced"/"reason" when an
	// operator overrode the limit).
	MembersSynced Kind = "members.synced"
)

// Kinds lists every kind, for those that must know them all (the account
// page words each one; a test keeps the list and the words in step).
var Kinds = []Kind{
	EnrollmentStarted, EnrollmentCompleted, PasswordSet, DeviceBound, DeviceRenamed, DeviceRevoked,
	DeviceSuspect, PINSet, PINFailed, PINLocked, DeviceUnblocked, AppLogin, LoginFailed, WebLogin, WebLoginApproved,
	WebLoginDenied, SessionEnded, ConsentGranted, ConsentRevoked, BackchannelLogoutGivenUp, RefreshReused,
	LetterOrdered, LetterRendered, LetterHandedOver, LetterActivated, LetterVoided,
	SupportRead, SupportLetterOrdered, SupportLetterLost, SupportSessionsEnded, AccountLocked, AccountUnlocked, ClientChanged,
	DeviceReconfirmed,
	DeviceTransferApproved, DeviceTransferRedeemed,
	AccountDeleted, MemberRemoved, MembersSynced,
}

// Actor says who acted.
type Actor string

const (
	Member   Actor = "member"
	Operator Actor = "operator"
	System   Actor = "system"
)

// Event is one audit log entry.
type Event struct {
	ID        string
	Time      time.Time
	Kind      Kind
	Actor     Actor
	AccountID string
	// ClientID is the OAuth client or "app-api"; IPHash a keyed hash of
	// the client address (the address itself is personal data).
	ClientID string
	IPHash   string
	// Detail holds non-secret facts: a binding id, a device name, the
	// remaining attempts. Never a PIN, password, code or token.
	Detail map[string]string
}

// Query selects audit events for support: those of one account (empty:
// every account), of the given kinds (empty: every kind), in the time
// range [From, To) (a zero bound is open), newest first, at most Limit.
type Query struct {
	AccountID string
	Kinds     []Kind
	From, To  time.Time
	Limit     int
}
