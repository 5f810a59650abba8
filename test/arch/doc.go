// Package arch holds the architecture test: it checks the dependency rule
// of the layers (core, ports, adapters, cmd, test, and catalog, the message
// catalog beside core that adapters and cmd may import) on every package of the
// module with `go list`, and that every package has a doc.go stating its
// layer.
//
// Layer: test. Imports: standard library only; nothing imports it.
package arch
