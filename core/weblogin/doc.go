// Package weblogin is the second step of the browser login: after the
// member's password, the login is confirmed in the Service-App with
// number matching (core/approval), the device key and the release PIN.
//
// The sequence, and who calls what:
//
//	browser  POST /login (KVNR, password)   login.Password → Start: the member has a usable device;
//	                                         an approval bound to the browser's session cookie;
//	                                         the page shows the two-digit number
//	app API  GET /approvals (key assertion)   List: the approvals waiting for this device's member,
//	                                         each with three numbers to choose from
//	app API  POST /approvals/{id}/challenge   Begin: the approval is the binding's member's, pending →
//	                                         binding.BeginApproval: challenge bound to binding AND approval
//	app API  POST /approvals/{id}             Decide: binding.AuthenticateApproval (key + PIN, the one
//	                                         atomic PIN counter of every device step) → approval.Decide
//	                                         in one atomic store update; a denial is audited and told
//	browser  GET /login/approval (polling)    Status: only the browser that started it learns it
//	browser  POST /login/approval ("Weiter")  Finish: approval.Use, once, by that browser →
//	                                         authz.CompleteLogin with amr pwd hwk pin (mfa added by
//	                                         loa.Reach) at the member's proofing level
//
// What a security reviewer checks here: the decision needs the member's
// device key and PIN (a wrong PIN counts toward the same block as in the
// app login); the number the member chooses must be the one the browser
// shows, so a member cannot confirm a login they did not start by
// tapping "yes"; a device of another member can neither see nor decide an
// approval; only the browser that started the approval can complete the
// login with it (the session hash), once, within approval.Policy.TTL.
//
// Layer: core use case. Imports: standard library, core packages and
// ports. Never net/http: adapters/webui and adapters/httpapi translate
// HTTP to these calls.
package weblogin
