// Package metrics exposes Pforte's Prometheus metrics: HTTP requests by
// route and status class, logins and credential failures counted from the
// audit events core already writes, and gauges read at scrape time (letters
// by state, signing key age, database pools), beside the Go runtime and
// process collectors. Its handler is served on the admin listener only
// (server.admin_addr): the numbers describe the insurer's traffic and are
// meant for operators.
//
// Every label value comes from a closed set (registered route patterns,
// status classes, audit kinds, core's reason codes, letter and key
// states), never from a request, so the number of series stays bounded and
// no member data (KVNR, account id, IP, client input) reaches a metric.
//
// Layer: adapter. Imports: standard library, core domain packages, ports,
// github.com/prometheus/client_golang; never another adapter.
package metrics
