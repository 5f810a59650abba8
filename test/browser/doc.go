// Package browser tests the pages members see in a real browser: headless
// Chromium (Debian's package chromium) driven through the DevTools protocol
// with github.com/chromedp/chromedp, against the real server and a small
// relying party on loopback.
//
// Layer: test. Imports: anything; nothing imports it.
//
// Go's HTTP client ignores Content-Security-Policy, cookie rules and
// scripts, so a page can pass every Go test and still fail a member. Every
// page a member can reach is walked here: a CSP violation in the browser's
// console fails the test, and axe-core (test/browser/node_modules, installed
// with npm ci from package-lock.json) checks each page for serious and
// critical accessibility findings.
//
// Without Chromium or axe-core the tests are skipped with a line that says
// how to get them; PFORTE_TEST_REQUIRE_BROWSER=1 (set by .ci/run) turns that
// into a failure. Screenshots of every page are written to the test's
// artifact directory (go test -artifacts keeps them) and, with
// PFORTE_TEST_SCREENSHOTS=DIR, to DIR (the README's pictures).
package browser
