// Package approval is the second factor of the web login: after the
// member's password, the browser shows a two-digit number, and the member
// confirms the login in the Service-App by choosing that number among
// three and releasing it with the device key and the PIN (or denies it).
//
// Number matching stops approval fatigue: a member who did not start the
// login cannot confirm it by tapping "yes" on a prompt, and a member who
// did must look at the browser. An approval is bound to the browser
// session that started it (a hash of a cookie secret), expires after a
// short time, and is used at most once.
//
// Layer: core domain. Imports: standard library, core/fault, core/grant.
package approval
