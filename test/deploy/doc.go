// Package deploy tests the deployment files under deploy/ and the
// Dockerfile without a container engine: it builds the binary with
// deploy/build.sh, the script the Dockerfile's build stage runs, and checks
// that it is static and stamped as the image's is; runs that binary as the
// image does (serve, and healthcheck as the image's HEALTHCHECK); checks
// that the Dockerfile, compose.yaml, the Caddyfile, pforte.yaml,
// clients.yaml and init-secrets.sh fit each other and that Pforte accepts
// the configuration with the secrets the script makes; and verifies the
// systemd unit with systemd-analyze where it is installed.
//
// Layer: test. Imports: anything; nothing imports it.
package deploy
