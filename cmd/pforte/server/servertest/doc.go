// Package servertest runs Pforte's real server for tests (like
// net/http/httptest for a handler): Options are the options every test
// server shares, Serve and Start run a server on a loopback listener until
// the test ends, and FreeAddr finds a port for a server the test starts
// some other way (the binary, `pforte serve`). The end-to-end, browser and
// command tests use it, so that starting a server for a test is written
// once.
//
// Layer: cmd (test support; only tests import it). Imports: anything but
// test/.
package servertest
