// Package consent is what a member allowed a third-party relying party
// (a partner portal whose client setting Consent is on): the scopes, so
// that the consent page is shown once per member, client and scope set,
// and again when the client asks for more.
//
// Layer: core domain. Imports: standard library and core packages.
package consent
