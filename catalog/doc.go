// Package catalog holds every text Pforte shows to people, in German and
// English, and chooses the language of a request from its Accept-Language
// header (German when the header names neither).
//
// Core returns codes and parameters (fault.Error's Code and Params, the
// codes of notifications); the words for them live here, in one table
// (texts.go), beside the fixed texts of the web pages and e-mails. Each
// driving adapter (oidc, httpapi, webui) picks a Printer per request and
// puts it into the request's context (WithPrinter), so that driven
// adapters that write to the member during the request (notify's e-mails)
// speak the same language. A test fails when a code declared anywhere in
// the module lacks its German or English text.
//
// Layer: a shared leaf beside core, not part of it. Imports: standard
// library, golang.org/x/text and core/fault only. Adapters and cmd may
// import it; core and ports never do (core must not depend on a language
// library, and returns codes instead of words), which test/arch enforces.
// It lives outside adapters/ because several adapters need the same
// words, and adapters never import each other.
package catalog
