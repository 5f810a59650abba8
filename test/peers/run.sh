#!/usr/bin/env bash
# test/peers/run.sh — Pforte side by side with Ory Hydra and the zitadel/oidc
# example provider, on the same machine, in one run.
#
# In a temporary directory outside the repository the script
#   1. builds Ory Hydra (PEERS_HYDRA_VERSION, default v2.3.0) through the Go
#      toolchain from a small wrapper module that calls Hydra's CLI
#      (github.com/ory/hydra/v2/cmd.Execute), with the replace directives of
#      Hydra's go.mod copied into it, `go build -tags sqlite`. Hydra's
#      `replace github.com/ory/hydra-client-go/v2 => ./internal/httpclient`
#      names a nested module that the module zip does not contain; the
#      wrapper uses the version Hydra's go.mod requires (v2.2.1 for v2.3.0);
#   2. builds the zitadel/oidc v3 example server (the version in Pforte's
#      go.mod) from a wrapper module: the example's main with its storage and
#      handlers unchanged, listening on 127.0.0.1 and logging at WARN;
#   3. builds Pforte and the load tool (./test/load) from this checkout;
#   4. starts on loopback: Hydra (DSN=memory, `serve all --dev`, a
#      client_credentials client created with `hydra create oauth2-client`),
#      the zitadel example (in memory; its static service user sid1), Pforte on
#      SQLite (fresh data dir) and Pforte on PostgreSQL (a schema of its own,
#      dropped at the end), each Pforte with a service client from
#      `pforte clients add`; every server logs at WARN;
#   5. runs the same workloads with the same concurrency and duration against
#      every server, PEERS_ROUNDS times with the servers taking turns (the
#      machine's noise shows in all of them alike), and prints a Markdown
#      table (workload × server: median req/s, median p99, failures) with the
#      ratios Pforte/peer.
# A peer that cannot be fetched, built or started is reported and skipped; the
# others still run. Every process and the temporary directory are removed on
# exit. Nothing of the peers is written into the repository.
#
# Hydra publishes no introspection_endpoint in its discovery document (its
# introspection is on the admin port). For the introspect workload the script
# serves a copy of Hydra's discovery document on another loopback port with
# introspection_endpoint set to Hydra's admin /admin/oauth2/introspect; every
# measured request still goes to Hydra. The zitadel example's service user
# (sid1) cannot authenticate at its introspection endpoint (only its
# authorization-code clients can, and they cannot get client_credentials
# tokens), so introspect shows n/a there.
#
# After the shared workloads the script runs Pforte's own workloads against
# both Pforte servers (PEERS_PFORTE_WORKLOADS): app-login, refresh,
# password-login and registration, each with members of its own, imported
# with `pforte members import` before the server starts and seeded through
# the public app API by the load tool; the tool samples the server's resident
# memory (--server-pid). Beforehand it measures one Argon2id hash with
# `go test ./core/password -bench Verify`, so that password-login is compared
# with the machine's ceiling (cores ÷ time of one hash) in the same run.
#
# Not run by `go test` or CI. Needs go, curl, jq, psql (PostgreSQL run) and
# python3 (Hydra introspection). Usage, from anywhere:
#   test/peers/run.sh
# Environment:
#   PEERS_CONCURRENCY   operations in flight (default 8)
#   PEERS_DURATION      duration of each run (default 10s)
#   PEERS_ROUNDS        rounds of the shared workloads, alternating the
#                       servers; the table shows the median (default 3)
#   PEERS_WORKLOADS     default "client-credentials introspect jwks discovery"
#   PEERS_PFORTE_WORKLOADS default "app-login refresh password-login registration"
#   PEERS_MEMBERS       members per Pforte workload (default 200; registration
#                       gets PEERS_REGISTRATIONS, default 3000)
#   PEERS_SERVERS       default "pforte-sqlite pforte-postgres hydra zitadel-example"
#   PEERS_HYDRA_VERSION default v2.3.0
#   PEERS_BUILD_TIMEOUT limit of the Hydra build (default 15m)
#   PEERS_PORT_BASE     first of six loopback ports (default 18400)
#   PEERS_KEEP=1        keep the temporary directory (logs, JSON results)
#   PFORTE_TEST_POSTGRES_DSN  PostgreSQL for Pforte
#                       (default postgres://postgres@127.0.0.1:5432/test?sslmode=disable)

set -uo pipefail

# The Go toolchain go.mod names (README, "Go toolchain"): the go command
# fetches it through the module proxy when the installed Go is another one.
export GOTOOLCHAIN=go1.27.3

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONCURRENCY=${PEERS_CONCURRENCY:-8}
DURATION=${PEERS_DURATION:-10s}
WORKLOADS=${PEERS_WORKLOADS:-client-credentials introspect jwks discovery}
PFORTE_WORKLOADS=${PEERS_PFORTE_WORKLOADS:-app-login refresh password-login registration}
MEMBERS=${PEERS_MEMBERS:-200}
REGISTRATIONS=${PEERS_REGISTRATIONS:-3000}
SERVERS=${PEERS_SERVERS:-pforte-sqlite pforte-postgres hydra zitadel-example}
HYDRA_VERSION=${PEERS_HYDRA_VERSION:-v2.3.0}
BUILD_TIMEOUT=${PEERS_BUILD_TIMEOUT:-15m}
PORT_BASE=${PEERS_PORT_BASE:-18400}
ROUNDS=${PEERS_ROUNDS:-3}
PG_DSN=${PFORTE_TEST_POSTGRES_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}

P_SQLITE=$PORT_BASE
P_PG=$((PORT_BASE + 1))
P_HYDRA=$((PORT_BASE + 2))
P_HYDRA_ADMIN=$((PORT_BASE + 3))
P_HYDRA_SHIM=$((PORT_BASE + 4))
P_ZITADEL=$((PORT_BASE + 5))

log() { printf '== %s\n' "$*" >&2; }
warn() { printf '!! %s\n' "$*" >&2; }

for tool in go curl jq; do
	command -v "$tool" >/dev/null || {
		warn "$tool is required"
		exit 1
	}
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pforte-peers.XXXXXX")
case "$WORK" in "$REPO"/*)
	warn "temporary directory $WORK is inside the repository"
	exit 1
	;;
esac
BIN=$WORK/bin
RES=$WORK/results
mkdir -p "$BIN" "$RES"
PIDS=()
PG_SCHEMA=""

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	if [[ -n $PG_SCHEMA ]]; then
		psql -q "$PG_DSN" -c "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1 ||
			warn "could not drop schema $PG_SCHEMA"
	fi
	if [[ ${PEERS_KEEP:-} == 1 ]]; then
		log "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Per server: issuer, client, and why it is unavailable (empty: available).
declare -A ISSUER CID CSECRET INTROSPECT_ISSUER DOWN SPID DATA
for s in $SERVERS; do DOWN[$s]="not started"; done

want() { [[ " $SERVERS " == *" $1 "* ]]; }

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_ready URL LOGFILE PID: poll URL until it answers 200 (30 s).
wait_ready() {
	local i
	for i in $(seq 1 150); do
		if ! kill -0 "$3" 2>/dev/null; then
			warn "the server exited; the end of $2:"
			tail -n 5 "$2" >&2
			return 1
		fi
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	warn "no answer from $1 within 30 s"
	return 1
}

# ---------------------------------------------------------------- builds

log "building Pforte and the load tool from $REPO"
if ! (cd "$REPO" && go build -o "$BIN/pforte" ./cmd/pforte && go build -o "$BIN/load" ./test/load) \
	>"$WORK/build-pforte.log" 2>&1; then
	cat "$WORK/build-pforte.log" >&2
	warn "Pforte or the load tool does not build"
	exit 1
fi

build_hydra() {
	local dir=$WORK/hydra info gomod mdir line rel
	mkdir -p "$dir"
	log "Hydra $HYDRA_VERSION: fetching the module"
	if ! info=$(cd "$dir" && go mod download -json "github.com/ory/hydra/v2@$HYDRA_VERSION" 2>&1); then
		DOWN[hydra]="the Go proxy refused github.com/ory/hydra/v2@$HYDRA_VERSION: $(echo "$info" | jq -r '.Error? // .' 2>/dev/null | head -n 1)"
		return 1
	fi
	gomod=$(echo "$info" | jq -r .GoMod)
	mdir=$(echo "$info" | jq -r .Dir)
	cat >"$dir/main.go" <<'EOF'
// Ory Hydra's command line, built for the side-by-side benchmark.
package main

import "github.com/ory/hydra/v2/cmd"

func main() { cmd.Execute() }
EOF
	(cd "$dir" && go mod init peers-hydra && go mod edit -require "github.com/ory/hydra/v2@$HYDRA_VERSION") \
		>"$dir/build.log" 2>&1 || {
		DOWN[hydra]="wrapper module: $(tail -n 1 "$dir/build.log")"
		return 1
	}
	# The replace directives of Hydra's go.mod (one per line or in a block).
	# A local path refers to a nested module that the module zip does not
	# contain; that requirement is left to the version Hydra's go.mod names.
	while IFS= read -r line; do
		[[ -z $line ]] && continue
		local old=${line%% => *} new=${line#* => }
		old=${old// /@}
		new=${new// /@}
		case "$new" in
		./* | ../*)
			rel=$new
			if [[ -f $mdir/$rel/go.mod ]]; then
				(cd "$dir" && go mod edit -replace "$old=$mdir/$rel")
			else
				log "Hydra: replace $old => $rel names a nested module the module zip does not hold; using the required version of ${old%@*}"
			fi
			;;
		*) (cd "$dir" && go mod edit -replace "$old=$new") ;;
		esac
	done < <(awk '
		/^replace \(/ { block = 1; next }
		block && /^\)/ { block = 0; next }
		block { sub(/\/\/.*/, ""); if ($0 ~ /=>/) print; next }
		/^replace / { sub(/^replace /, ""); sub(/\/\/.*/, ""); print }
	' "$gomod" | sed -E 's/[[:space:]]+$//; s/^[[:space:]]+//; s/[[:space:]]+=>[[:space:]]+/ => /')
	log "Hydra: resolving its dependencies"
	if ! (cd "$dir" && go mod tidy) >>"$dir/build.log" 2>&1; then
		DOWN[hydra]="resolving dependencies failed: $(grep -m1 -E 'Forbidden|not available|error|cannot' "$dir/build.log" || tail -n 1 "$dir/build.log")"
		return 1
	fi
	log "Hydra: go build -tags sqlite (at most $BUILD_TIMEOUT)"
	local start=$SECONDS rc
	(cd "$dir" && timeout -s INT -k 30s "$BUILD_TIMEOUT" \
		go build -tags sqlite,sqlite_omit_load_extension -o "$BIN/hydra" .) >>"$dir/build.log" 2>&1
	rc=$?
	if ((rc == 124 || rc == 130 || rc == 137)); then
		DOWN[hydra]="the build did not finish within $BUILD_TIMEOUT"
		return 1
	elif ((rc != 0)); then
		DOWN[hydra]="go build failed: $(grep -m1 -v '^go: downloading' "$dir/build.log" | tail -n 1)"
		tail -n 20 "$dir/build.log" >&2
		return 1
	fi
	log "Hydra built in $((SECONDS - start)) s"
}

build_zitadel() {
	local dir=$WORK/zitadel version
	mkdir -p "$dir"
	version=$(cd "$REPO" && go list -m -f '{{.Version}}' github.com/zitadel/oidc/v3) || {
		DOWN[zitadel-example]="github.com/zitadel/oidc/v3 is not in Pforte's go.mod"
		return 1
	}
	log "zitadel/oidc $version: building example/server"
	cat >"$dir/main.go" <<'EOF'
// The zitadel/oidc example server (example/server/main.go of the module)
// with its storage and handlers unchanged, listening on 127.0.0.1 only and
// logging at WARN.
package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/zitadel/oidc/v3/example/server/config"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

func main() {
	cfg := config.FromEnvVars(&config.Config{Port: "9998"})
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	issuer := fmt.Sprintf("http://localhost:%s/", cfg.Port)
	storage.RegisterClients(
		storage.NativeClient("native", cfg.RedirectURI...),
		storage.WebClient("web", "secret", cfg.RedirectURI...),
		storage.WebClient("api", "secret", cfg.RedirectURI...),
	)
	stor := storage.NewStorage(storage.NewUserStore(issuer))
	router := exampleop.SetupServer(issuer, stor, logger, false)
	server := &http.Server{Addr: "127.0.0.1:" + cfg.Port, Handler: router}
	logger.Warn("listening", "issuer", issuer)
	if err := server.ListenAndServe(); err != http.ErrServerClosed {
		logger.Error("server terminated", "error", err)
		os.Exit(1)
	}
}
EOF
	if ! (cd "$dir" && go mod init peers-zitadel && go mod edit -require "github.com/zitadel/oidc/v3@$version" &&
		go mod tidy && go build -o "$BIN/zitadel-example" .) >"$dir/build.log" 2>&1; then
		DOWN[zitadel-example]="build failed: $(grep -m1 -E 'Forbidden|not available|error|cannot' "$dir/build.log" || tail -n 1 "$dir/build.log")"
		tail -n 20 "$dir/build.log" >&2
		return 1
	fi
}

want hydra && build_hydra
want zitadel-example && build_zitadel

# Argon2id: the time of one hash on this machine, for password-login's
# ceiling (cores ÷ that time). Measured before any server runs.
ARGON2_MS=""
if [[ " $PFORTE_WORKLOADS " == *" password-login "* ]]; then
	log "measuring one Argon2id hash (go test ./core/password -bench Verify)"
	if out=$(cd "$REPO" && go test ./core/password -run '^$' -bench '^BenchmarkVerify$' -benchtime 100x 2>&1); then
		ARGON2_MS=$(echo "$out" | awk '/^BenchmarkVerify/ { printf "%.3f", $3 / 1e6 }')
	fi
	[[ -z $ARGON2_MS ]] && warn "no Argon2id figure: $(echo "$out" | tail -n 1)"
fi

# ---------------------------------------------------------------- servers

# member_files NAME DIR: one generated member file for server NAME, split
# into one file per Pforte workload (a member enrolls once; the generated
# names are unique only within one file, and letters are matched by name).
member_files() {
	local name=$1 dir=$2 total=0 w n start=2
	for w in $PFORTE_WORKLOADS; do
		if [[ $w == registration ]]; then total=$((total + REGISTRATIONS)); else total=$((total + MEMBERS)); fi
	done
	((total == 0)) && return 0
	rm -f "$dir/members.csv"
	"$BIN/load" --generate-members "$total" --out "$dir/members.csv" 2>>"$dir/members.log" || return 1
	for w in $PFORTE_WORKLOADS; do
		if [[ $w == registration ]]; then n=$REGISTRATIONS; else n=$MEMBERS; fi
		{ head -n 1 "$dir/members.csv"; tail -n +"$start" "$dir/members.csv" | head -n "$n"; } >"$dir/members-$w.csv"
		start=$((start + n))
	done
}

start_pforte() { # name port datadir [env...]
	local name=$1 port=$2 data=$3 out pid
	shift 3
	mkdir -p "$data"
	if ! port_free "$port"; then
		DOWN[$name]="port $port is in use (set PEERS_PORT_BASE)"
		return 1
	fi
	if ! member_files "$name" "$data" ||
		! env "$@" "$BIN/pforte" --data-dir "$data" members import "$data/members.csv" >"$data/import.log" 2>&1; then
		DOWN[$name]="members for Pforte's workloads: $(tail -n 1 "$data/members.log" "$data/import.log" 2>/dev/null | tail -n 1)"
		return 1
	fi
	if ! out=$(env "$@" "$BIN/pforte" --data-dir "$data" clients add --id load-bench --kind service \
		--auth-method client_secret_basic 2>"$data/clients.err"); then
		DOWN[$name]="pforte clients add failed: $(tail -n 1 "$data/clients.err")"
		return 1
	fi
	CID[$name]=load-bench
	CSECRET[$name]=$(echo "$out" | sed -n 's/^client_secret: *//p')
	# All simulated members come from one address: its letter and
	# activation limits are raised; letters are decided every 200 ms.
	env "$@" PFORTE_ADDR="127.0.0.1:$port" PFORTE_ISSUER="http://127.0.0.1:$port" PFORTE_LOG_LEVEL=warn \
		PFORTE_REQUESTS_PER_IP_PER_HOUR=100000 PFORTE_ACTIVATIONS_PER_IP_PER_HOUR=100000 \
		PFORTE_WORKER_INTERVAL=200ms \
		"$BIN/pforte" --data-dir "$data" serve >"$data/serve.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	SPID[$name]=$pid
	DATA[$name]=$data
	ISSUER[$name]="http://127.0.0.1:$port"
	INTROSPECT_ISSUER[$name]=${ISSUER[$name]}
	if wait_ready "${ISSUER[$name]}/.well-known/openid-configuration" "$data/serve.log" "$pid"; then
		DOWN[$name]=""
	else
		DOWN[$name]="did not start (see its log)"
	fi
}

if want pforte-sqlite; then
	log "starting Pforte on SQLite"
	start_pforte pforte-sqlite "$P_SQLITE" "$WORK/pforte-sqlite"
fi

if want pforte-postgres; then
	log "starting Pforte on PostgreSQL"
	if ! command -v psql >/dev/null; then
		DOWN[pforte-postgres]="psql is not installed (needed to create the schema)"
	else
		schema=pforte_peers_$$
		if psql -q "$PG_DSN" -c "CREATE SCHEMA $schema" >"$WORK/psql.log" 2>&1; then
			PG_SCHEMA=$schema
			case "$PG_DSN" in
			*\?*) pfdsn="$PG_DSN&search_path=$schema" ;;
			*) pfdsn="$PG_DSN?search_path=$schema" ;;
			esac
			if env PFORTE_STORAGE_TYPE=postgres PFORTE_STORAGE_DSN="$pfdsn" \
				"$BIN/pforte" --data-dir "$WORK/pforte-postgres" migrate up >"$WORK/migrate.log" 2>&1; then
				start_pforte pforte-postgres "$P_PG" "$WORK/pforte-postgres" \
					PFORTE_STORAGE_TYPE=postgres PFORTE_STORAGE_DSN="$pfdsn"
			else
				DOWN[pforte-postgres]="pforte migrate up failed: $(tail -n 1 "$WORK/migrate.log")"
			fi
		else
			DOWN[pforte-postgres]="cannot create a schema in $PG_DSN: $(head -n 1 "$WORK/psql.log")"
		fi
	fi
fi

if want hydra && [[ -x $BIN/hydra ]]; then
	log "starting Hydra (DSN=memory, serve all --dev)"
	if ! port_free "$P_HYDRA" || ! port_free "$P_HYDRA_ADMIN"; then
		DOWN[hydra]="port $P_HYDRA or $P_HYDRA_ADMIN is in use (set PEERS_PORT_BASE)"
	else
		DSN=memory SERVE_PUBLIC_HOST=127.0.0.1 SERVE_PUBLIC_PORT=$P_HYDRA \
			SERVE_ADMIN_HOST=127.0.0.1 SERVE_ADMIN_PORT=$P_HYDRA_ADMIN \
			URLS_SELF_ISSUER="http://127.0.0.1:$P_HYDRA/" \
			SECRETS_SYSTEM="side-by-side-benchmark-$(date +%s%N)" LOG_LEVEL=warn \
			"$BIN/hydra" serve all --dev >"$WORK/hydra/serve.log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		ISSUER[hydra]="http://127.0.0.1:$P_HYDRA/"
		if wait_ready "${ISSUER[hydra]}.well-known/openid-configuration" "$WORK/hydra/serve.log" "$pid" &&
			wait_ready "http://127.0.0.1:$P_HYDRA_ADMIN/health/ready" "$WORK/hydra/serve.log" "$pid"; then
			if client=$("$BIN/hydra" create oauth2-client --endpoint "http://127.0.0.1:$P_HYDRA_ADMIN" \
				--name load-bench --grant-type client_credentials \
				--token-endpoint-auth-method client_secret_basic --format json 2>"$WORK/hydra/client.err"); then
				CID[hydra]=$(echo "$client" | jq -r .client_id)
				CSECRET[hydra]=$(echo "$client" | jq -r .client_secret)
				DOWN[hydra]=""
				# Introspection lives on the admin port: a copy of the discovery
				# document that names it, served on its own loopback port.
				if command -v python3 >/dev/null && port_free "$P_HYDRA_SHIM"; then
					mkdir -p "$WORK/hydra/shim/.well-known"
					curl -fsS "${ISSUER[hydra]}.well-known/openid-configuration" |
						jq --arg i "http://127.0.0.1:$P_HYDRA_SHIM/" \
							--arg e "http://127.0.0.1:$P_HYDRA_ADMIN/admin/oauth2/introspect" \
							'.issuer = $i | .introspection_endpoint = $e' \
							>"$WORK/hydra/shim/.well-known/openid-configuration"
					python3 -m http.server --bind 127.0.0.1 --directory "$WORK/hydra/shim" "$P_HYDRA_SHIM" \
						>"$WORK/hydra/shim.log" 2>&1 &
					pid=$!
					PIDS+=("$pid")
					if wait_ready "http://127.0.0.1:$P_HYDRA_SHIM/.well-known/openid-configuration" \
						"$WORK/hydra/shim.log" "$pid"; then
						INTROSPECT_ISSUER[hydra]="http://127.0.0.1:$P_HYDRA_SHIM/"
					fi
				fi
			else
				DOWN[hydra]="hydra create oauth2-client failed: $(tail -n 1 "$WORK/hydra/client.err")"
			fi
		else
			DOWN[hydra]="did not start (see its log)"
		fi
	fi
fi

if want zitadel-example && [[ -x $BIN/zitadel-example ]]; then
	log "starting the zitadel/oidc example server (in memory)"
	if ! port_free "$P_ZITADEL"; then
		DOWN[zitadel-example]="port $P_ZITADEL is in use (set PEERS_PORT_BASE)"
	else
		PORT=$P_ZITADEL "$BIN/zitadel-example" >"$WORK/zitadel/serve.log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		# The example names its issuer http://localhost:PORT/.
		ISSUER[zitadel-example]="http://localhost:$P_ZITADEL/"
		INTROSPECT_ISSUER[zitadel-example]=${ISSUER[zitadel-example]}
		CID[zitadel-example]=sid1 # the example storage's static service user
		CSECRET[zitadel-example]=verysecret
		if wait_ready "${ISSUER[zitadel-example]}.well-known/openid-configuration" \
			"$WORK/zitadel/serve.log" "$pid"; then
			DOWN[zitadel-example]=""
		else
			DOWN[zitadel-example]="did not start (see its log)"
		fi
	fi
fi

# ---------------------------------------------------------------- load

declare -A RPS P99 FAILED NOTE RPSL P99L
# median LIST: the median of whitespace-separated numbers.
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
for round in $(seq 1 "$ROUNDS"); do
	for w in $WORKLOADS; do
		for s in $SERVERS; do
			[[ -n ${DOWN[$s]} ]] && continue
			issuer=${ISSUER[$s]}
			[[ $w == introspect ]] && issuer=${INTROSPECT_ISSUER[$s]:-}
			if [[ -z $issuer ]]; then
				NOTE[$w/$s]="no introspection endpoint reachable"
				continue
			fi
			log "$w × $s ($CONCURRENCY in flight, $DURATION, round $round of $ROUNDS)"
			out=$RES/$s.$w.$round.json
			if "$BIN/load" --issuer "$issuer" --workload "$w" --concurrency "$CONCURRENCY" --duration "$DURATION" \
				--client-id "${CID[$s]}" --client-secret "${CSECRET[$s]}" --auth-method client_secret_basic \
				--json >"$out" 2>"$RES/$s.$w.$round.err"; then
				RPSL[$w/$s]+=" $(jq -r .throughput_per_s "$out")"
				P99L[$w/$s]+=" $(jq -r .latency_ms.p99 "$out")"
				FAILED[$w/$s]=$((${FAILED[$w/$s]:-0} + $(jq -r .failed "$out")))
				if [[ $(jq -r .failed "$out") != 0 ]]; then
					NOTE[$w/$s]="errors: $(jq -c .errors "$out")"
				fi
			else
				NOTE[$w/$s]=$(head -n 1 "$RES/$s.$w.$round.err")
			fi
		done
	done
done
for k in "${!RPSL[@]}"; do
	RPS[$k]=$(median "${RPSL[$k]}")
	P99[$k]=$(median "${P99L[$k]}")
done

# Pforte's own workloads, with the server's memory sampled.
declare -A PRPS PP50 PP99 PFAILED PRSS PNOTE PCEIL
WEB_SECRET=dev-online-forms-secret-NOT-FOR-PRODUCTION # the embedded development client
for w in $PFORTE_WORKLOADS; do
	for s in $SERVERS; do
		[[ $s != pforte-* || -n ${DOWN[$s]} ]] && continue
		log "$w × $s ($CONCURRENCY in flight, $DURATION)"
		out=$RES/$s.$w.json
		args=(--issuer "${ISSUER[$s]}" --workload "$w" --concurrency "$CONCURRENCY" --duration "$DURATION"
			--members-csv "${DATA[$s]}/members-$w.csv" --outbox "${DATA[$s]}/outbox"
			--server-pid "${SPID[$s]}" --json)
		case $w in
		password-login)
			args+=(--client-id online-forms --client-secret "$WEB_SECRET" --web-redirect-uri http://localhost:8081/callback)
			[[ -n $ARGON2_MS ]] && args+=(--argon2-ms "$ARGON2_MS")
			;;
		esac
		if "$BIN/load" "${args[@]}" >"$out" 2>"$RES/$s.$w.err"; then
			:
		fi
		if jq -e .throughput_per_s "$out" >/dev/null 2>&1; then
			PRPS[$w/$s]=$(jq -r .throughput_per_s "$out")
			PP50[$w/$s]=$(jq -r .latency_ms.p50 "$out")
			PP99[$w/$s]=$(jq -r .latency_ms.p99 "$out")
			PFAILED[$w/$s]=$(jq -r .failed "$out")
			PRSS[$w/$s]=$(jq -r '.server.peak_rss_mib // empty | floor' "$out" 2>/dev/null)
			PCEIL[$w/$s]=$(jq -r '.argon2_ceiling.reached // empty' "$out" 2>/dev/null)
			if [[ ${PFAILED[$w/$s]} != 0 ]]; then
				PNOTE[$w/$s]="errors: $(jq -c .errors "$out")"
			fi
		else
			PNOTE[$w/$s]=$(grep -v '^$' "$RES/$s.$w.err" | tail -n 1)
		fi
	done
done

# ---------------------------------------------------------------- table

fmt_rps() { # 12345.6 -> 12,346
	awk -v x="$1" 'BEGIN {
		s = sprintf("%.0f", x); o = ""
		while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }
		print s o
	}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "—" }'; }

peers=()
for s in $SERVERS; do [[ $s != pforte-* ]] && peers+=("$s"); done

echo
echo "Side by side: $(nproc 2>/dev/null || echo ?) cores, $CONCURRENCY in flight, $DURATION per run, median of $ROUNDS rounds, $(go env GOVERSION)"
echo
header="| workload | server | req/s | p99 | failed |"
rule="| --- | --- | ---: | ---: | ---: |"
for p in "${peers[@]}"; do
	header+=" Pforte/$p |"
	rule+=" ---: |"
done
echo "$header"
echo "$rule"
for w in $WORKLOADS; do
	for s in $SERVERS; do
		if [[ -n ${DOWN[$s]} ]]; then
			row="| $w | $s | n/a | | |"
		elif [[ -z ${RPS[$w/$s]:-} ]]; then
			row="| $w | $s | n/a | | |"
		else
			row="| $w | $s | $(fmt_rps "${RPS[$w/$s]}") | ${P99[$w/$s]} ms | ${FAILED[$w/$s]} |"
		fi
		for p in "${peers[@]}"; do
			if [[ $s == pforte-* && -n ${RPS[$w/$s]:-} && -n ${RPS[$w/$p]:-} ]]; then
				row+=" $(ratio "${RPS[$w/$s]}" "${RPS[$w/$p]}") |"
			else
				row+=" |"
			fi
		done
		echo "$row"
	done
done

if [[ -n $PFORTE_WORKLOADS ]]; then
	echo
	echo "Pforte's own workloads (same run; peak RSS of the server process during the workload)"
	[[ -n $ARGON2_MS ]] && echo "One Argon2id hash: $ARGON2_MS ms, so the ceiling is $(nproc) ÷ $ARGON2_MS ms = $(awk -v c="$(nproc)" -v m="$ARGON2_MS" 'BEGIN { printf "%.0f", c * 1000 / m }') logins/s"
	echo
	echo "| workload | server | per second | p50 | p99 | failed | peak RSS | of Argon2id ceiling |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	for w in $PFORTE_WORKLOADS; do
		for s in $SERVERS; do
			[[ $s != pforte-* ]] && continue
			if [[ -z ${PRPS[$w/$s]:-} ]]; then
				echo "| $w | $s | n/a | | | | | |"
				continue
			fi
			ceil=""
			[[ -n ${PCEIL[$w/$s]:-} ]] && ceil=$(awk -v x="${PCEIL[$w/$s]}" 'BEGIN { printf "%.0f%%", x * 100 }')
			echo "| $w | $s | $(fmt_rps "${PRPS[$w/$s]}") | ${PP50[$w/$s]} ms | ${PP99[$w/$s]} ms | ${PFAILED[$w/$s]} | ${PRSS[$w/$s]:+${PRSS[$w/$s]} MiB} | $ceil |"
		done
	done
fi

notes=0
for s in $SERVERS; do
	if [[ -n ${DOWN[$s]} ]]; then
		((notes++ == 0)) && echo
		echo "- $s: unavailable — ${DOWN[$s]}"
	fi
done
for w in $WORKLOADS; do
	for s in $SERVERS; do
		if [[ -n ${NOTE[$w/$s]:-} ]]; then
			((notes++ == 0)) && echo
			echo "- $w × $s: ${NOTE[$w/$s]}"
		fi
	done
done
for w in $PFORTE_WORKLOADS; do
	for s in $SERVERS; do
		if [[ -n ${PNOTE[$w/$s]:-} ]]; then
			((notes++ == 0)) && echo
			echo "- $w × $s: ${PNOTE[$w/$s]}"
		fi
	done
done
exit 0
