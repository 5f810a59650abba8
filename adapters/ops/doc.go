// Package ops serves the operations endpoints on a listener of their
// own (server.admin_addr): the Go runtime profiles of net/http/pprof, the
// metrics handler it is given, and the health checks, whose handlers the
// public listener mounts too. Profiles reveal memory contents, timings and
// call graphs, and metrics the insurer's traffic, so neither is ever on the
// public listener; the admin address is meant for loopback or
// a private network that only operators reach.
//
// Layer: adapter. Imports: standard library only; never another adapter.
package ops
