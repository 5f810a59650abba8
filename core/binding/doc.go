// Package binding is the second factor of a member's account: binding the
// Service-App's hardware key to the account inside an enrollment session
// (possession), the release PIN that belongs to it (knowledge), and
// everything a member or support does with bindings afterwards.
//
// The flow, and who calls what:
//
//	app API   BeginBinding, FinishBinding  → key bound to the enrollment session
//	app API   SetPIN                       → PIN stored, enrollment completed, account active
//	app API   BeginDeviceAuth, AuthenticateDevice → key assertion + PIN
//	app login BeginLogin, AuthenticateLogin → key assertion + PIN, bound to
//	          one authorization request (core/applogin)
//	app API   ListDevices, RenameDevice, RevokeDevice, RevokeOtherDevices
//	app API   ResetPIN                     → key assertion + password: new PIN, unblocked
//	operator  UnblockDevice, AccountDevices, AuditLog
//
// Everything a security reviewer must check about the second factor lives
// here and in core/device and core/pin: the order of the enrollment steps,
// single-use challenges bound to their session or binding, which
// attestations are accepted, what a sign counter that goes backwards means,
// the PIN rules, and that a PIN is checked and counted in one atomic store
// operation, so that parallel guesses cannot exceed the limit.
//
// Revoking a binding stops it at once from authenticating. An app login
// names its binding (loa.Authentication.BindingID), and the token families
// issued from it carry the binding: the store revokes them in the same
// transaction that revokes the binding or marks it suspect, and refuses a
// new family for a binding that is no longer active.
//
// Layer: core use case. Imports: standard library, core domain packages and
// ports (store, devicekey, notify). Never net/http or a storage library.
package binding
