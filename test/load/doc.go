// Command load generates load against an OpenID Connect server found by
// discovery and prints throughput, latency percentiles and error counts.
// It is for developers and operators alike:
//
//	go run ./test/load --issuer http://localhost:8080 --workload client-credentials \
//	    --client-id claims-service --client-secret dev-claims-service-secret-NOT-FOR-PRODUCTION
//
// Workloads: discovery, jwks, client-credentials, introspect, refresh and
// Pforte's app-login, password-login (the browser login of a web client
// with KVNR and password), the member flows of the app (reconfirm, the
// device transfer, the PIN change), the admin API's member status, and
// registration (by password letter, each member of the file once); see
// usage. Every run is bounded: loopback
// issuers only unless --allow-remote, at most 10 minutes, at most 512
// concurrent requests. Members are seeded through the public app API and
// the letter outbox, never by writing the server's database.
//
// A password-login result is compared with the machine's Argon2id
// ceiling, cores ÷ the time of one hash, when --argon2-ms gives that time
// (core/password's BenchmarkVerify on the same machine). --server-pid
// samples the server's resident memory from /proc during the run and
// measures the CPU the server and the tool used (Linux).
//
// Layer: test. It may import anything (core, ports, adapters, cmd);
// nothing imports it.
package main
