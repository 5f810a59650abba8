// Package ops serves the operations endpoints on a listener of their
// own (server.admin_addr): the Go runtime profiles of net/http/pprof and
// the health checks, whose handlers the public listener mounts too.
// Profiles reveal memory contents, timings and call graphs, so they are
// never on the public listener; the admin address is meant for loopback or
// a private network that only operators reach.
//
// Layer: adapter. Imports: standard library only; never another adapter.
package ops
