// Package security holds Pforte's attacks on itself: fuzz targets that
// feed the real server's protocol endpoints and the app API with arbitrary
// requests, run in-process against a server built by cmd/pforte's server
// package.
//
// Layer: test. Imports: anything; nothing imports it.
package security
