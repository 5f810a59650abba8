// Package server is Pforte's composition root: it builds the whole server
// from resolved options by plain constructor calls (store, keys, core
// services, HTTP adapters) and serves it. `pforte serve` fills the options
// from the configuration; the end-to-end tests fill them directly, so they
// run the very server the binary runs.
//
// Layer: cmd (composition). Imports: anything but test/.
package server
