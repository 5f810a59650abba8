#!/usr/bin/env bash
# test/scale/replicas.sh — what does running Pforte as three replicas on one
# PostgreSQL database cost? The same app-login and client-credentials load
# against one replica and then against three, in one run.
#
# In a temporary directory outside the repository the script
#   1. builds Pforte and the load tool (./test/load) from this checkout;
#   2. creates a schema of its own in the PostgreSQL database of DSN (dropped
#      at the end), writes a member file with `load --generate-members` and
#      imports it with `pforte members import`;
#   3. starts replica 1 with `pforte serve` on loopback (development, WARN
#      log, letter worker every 200 ms, the per-address letter and activation
#      limits raised for the load); its address is the issuer;
#   4. runs client-credentials and app-login against it (`load --replica`
#      with the one replica);
#   5. starts replicas 2 and 3: the same issuer, database, data directory
#      (the development master key) and letter outbox, each on a port of its
#      own — three `pforte serve` processes as production runs them behind a
#      load balancer;
#   6. runs the same two workloads against the three: one load tool process
#      whose requests go round-robin to the replicas (`--replica` three
#      times, as a round-robin load balancer sends them, without a proxy's
#      own work on the same cores), the same operations in flight in total;
#   7. prints a Markdown table: per workload and replica count the
#      throughput, p50 and p99, and the CPU time all Pforte processes used
#      per operation (from /proc/PID/stat), the ratio 3 ÷ 1, and the load
#      averages of the machine before each run.
# app-login seeds fresh members (a slice of the file each run) through the
# app API and the letter outbox before its timer; with three replicas the
# seeding is spread over them too.
#
# On a machine with few cores three replicas share the same cores as one:
# the point is what coordinating through the database costs, not more
# throughput. Not run by `go test` or CI. Needs go, jq, awk, curl and psql.
# Usage, from anywhere:
#   test/scale/replicas.sh --postgres DSN
# Environment:
#   REPLICAS_APP          members seeded per app-login run (default 200)
#   REPLICAS_DURATION     duration of each workload run (default 10s)
#   REPLICAS_CONCURRENCY  operations in flight in total (default 8)
#   REPLICAS_PORT_BASE    first of three loopback ports (default 18720)
#   REPLICAS_KEEP=1       keep the temporary directory (logs, JSON results)

set -uo pipefail

# The Go toolchain go.mod names (README, "Go toolchain").
export GOTOOLCHAIN=go1.27.3

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
APP=${REPLICAS_APP:-200}
DURATION=${REPLICAS_DURATION:-10s}
CONCURRENCY=${REPLICAS_CONCURRENCY:-8}
PORT_BASE=${REPLICAS_PORT_BASE:-18720}
PG_DSN=""
CC_CLIENT=claims-service
CC_SECRET=dev-claims-service-secret-NOT-FOR-PRODUCTION

log() { printf '== %s\n' "$*" >&2; }
die() {
	printf '!! %s\n' "$*" >&2
	exit 1
}

while (($#)); do
	case $1 in
	--postgres)
		[[ $# -ge 2 && -n $2 ]] || die "--postgres needs a DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
		PG_DSN=$2
		shift 2
		;;
	-h | --help)
		sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
[[ -n $PG_DSN ]] || die "--postgres DSN is required: replicas share one PostgreSQL database"
for tool in go jq awk curl psql; do
	command -v "$tool" >/dev/null || die "$tool is required"
done
[[ $APP =~ ^[1-9][0-9]*$ ]] || die "REPLICAS_APP must be a positive integer, not $APP"
[[ $CONCURRENCY =~ ^[1-9][0-9]*$ ]] || die "REPLICAS_CONCURRENCY must be a positive integer, not $CONCURRENCY"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pforte-replicas.XXXXXX")
case "$WORK" in "$REPO"/*) die "temporary directory $WORK is inside the repository" ;; esac
BIN=$WORK/bin
RES=$WORK/results
DATA=$WORK/data
mkdir -p "$BIN" "$RES"
PIDS=()
SCHEMA=pforte_replicas_$$

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	psql -q "$PG_DSN" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || printf '!! could not drop schema %s\n' "$SCHEMA" >&2
	if [[ ${REPLICAS_KEEP:-} == 1 ]]; then
		log "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building Pforte and the load tool from $REPO"
(cd "$REPO" && go build -o "$BIN/pforte" ./cmd/pforte && go build -o "$BIN/load" ./test/load) >"$WORK/build.log" 2>&1 ||
	{
		cat "$WORK/build.log" >&2
		die "Pforte or the load tool does not build"
	}

psql -q "$PG_DSN" -c "CREATE SCHEMA $SCHEMA" >"$WORK/psql.log" 2>&1 || die "cannot create a schema in $PG_DSN: $(head -n 1 "$WORK/psql.log")"
case "$PG_DSN" in *\?*) DSN="$PG_DSN&search_path=$SCHEMA" ;; *) DSN="$PG_DSN?search_path=$SCHEMA" ;; esac
ENV=(PFORTE_LOG_LEVEL=warn PFORTE_STORAGE_TYPE=postgres "PFORTE_STORAGE_DSN=$DSN")

log "importing $((2 * APP)) members"
"$BIN/load" --generate-members "$((2 * APP))" --out "$WORK/members.csv" 2>"$WORK/generate.log" || die "generate-members failed: $(tail -n 1 "$WORK/generate.log")"
env "${ENV[@]}" "$BIN/pforte" --data-dir "$DATA" members import "$WORK/members.csv" >"$WORK/import.out" 2>"$WORK/import.log" ||
	die "import failed: $(tail -n 2 "$WORK/import.log")"
# Disjoint halves: each member enrolls once.
for r in 1 3; do
	from=$((r == 1 ? 0 : APP))
	{
		head -n 1 "$WORK/members.csv"
		tail -n +$((from + 2)) "$WORK/members.csv" | head -n "$APP"
	} >"$WORK/app-$r.csv"
done

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ISSUER="http://127.0.0.1:$PORT_BASE"
REPLICA_URLS=()

# start N: replica N on PORT_BASE+N-1, behind the issuer of replica 1.
start() {
	local n=$1 port=$((PORT_BASE + $1 - 1)) pid i
	port_free "$port" || die "port $port is in use (set REPLICAS_PORT_BASE)"
	env "${ENV[@]}" PFORTE_ADDR="127.0.0.1:$port" PFORTE_ISSUER="$ISSUER" \
		PFORTE_WORKER_INTERVAL=200ms PFORTE_REQUESTS_PER_IP_PER_HOUR=100000 PFORTE_ACTIVATIONS_PER_IP_PER_HOUR=100000 \
		"$BIN/pforte" --data-dir "$DATA" serve >"$WORK/serve-$n.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	REPLICA_URLS+=("http://127.0.0.1:$port")
	for i in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || {
			tail -n 5 "$WORK/serve-$n.log" >&2
			die "replica $n did not start"
		}
		curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && return 0
		sleep 0.2
	done
	die "replica $n did not become ready (see $WORK/serve-$n.log)"
}

# cpu_ticks: user + system clock ticks of all running replicas.
cpu_ticks() {
	local pid sum=0 v
	for pid in "${PIDS[@]}"; do
		v=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) || continue
		sum=$((sum + v))
	done
	echo "$sum"
}
TICK=$(getconf CLK_TCK)

# measure REPLICAS WORKLOAD: one run of the load tool over the running
# replicas; its JSON kept, with the replicas' CPU and the load average.
measure() {
	local n=$1 wl=$2 out=$RES/$2-$1 before after args=() u
	for u in "${REPLICA_URLS[@]}"; do
		args+=(--replica "$u")
	done
	case $wl in
	client-credentials) args+=(--client-id "$CC_CLIENT" --client-secret "$CC_SECRET" --auth-method client_secret_post) ;;
	app-login) args+=(--members-csv "$WORK/app-$n.csv" --outbox "$DATA/outbox") ;;
	esac
	cut -d ' ' -f 1-3 /proc/loadavg >"$out.loadavg"
	log "$wl against $n replica(s); load average $(cat "$out.loadavg")"
	# app-login seeds before its timer: the CPU is read when the run
	# begins, after the tool says on stderr that the members are registered.
	before=$(cpu_ticks)
	"$BIN/load" --issuer "$ISSUER" --workload "$wl" --duration "$DURATION" --concurrency "$CONCURRENCY" "${args[@]}" --json \
		>"$out.json" 2> >(tee "$out.log" | while IFS= read -r line; do
			case $line in *" registered "*) cpu_ticks >"$out.cpu0" ;; esac
		done)
	after=$(cpu_ticks)
	[[ -s $out.cpu0 ]] && before=$(cat "$out.cpu0")
	echo $((after - before)) >"$out.cpu"
	jq -r '"   \(.throughput_per_s | floor)/s, p50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms, \(.failed) failed\(if .ended then "; " + .ended else "" end)"' \
		"$out.json" >&2 2>/dev/null || tail -n 5 "$out.log" >&2
}

start 1
for wl in client-credentials app-login; do
	measure 1 "$wl"
done
start 2
start 3
for wl in client-credentials app-login; do
	measure 3 "$wl"
done

echo
echo "Pforte on PostgreSQL, $(nproc) cores, one run of $DURATION per workload, $CONCURRENCY operations in flight in total; with three replicas the load tool sends the requests round-robin to them"
echo
echo "| workload | replicas | per second | p50 | p99 | failed | CPU of the replicas per operation | load average before |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
for wl in client-credentials app-login; do
	for n in 1 3; do
		f=$RES/$wl-$n
		jq -r --arg wl "$wl" --arg n "$n" --arg cpu "$(cat "$f.cpu")" --arg tick "$TICK" --arg la "$(cat "$f.loadavg")" \
			'"| \($wl) | \($n) | \(.throughput_per_s * 10 | floor / 10) | \(.latency_ms.p50) ms | \(.latency_ms.p99) ms | \(.failed) | \(if .ok > 0 then (($cpu | tonumber) / ($tick | tonumber) * 1e6 / .ok | floor) else "n/a" end) µs | \($la) |"' "$f.json"
	done
done
echo
for wl in client-credentials app-login; do
	jq -rn --slurpfile a "$RES/$wl-1.json" --slurpfile b "$RES/$wl-3.json" --arg wl "$wl" \
		'"\($wl): 3 replicas ÷ 1 replica = \(if $a[0].throughput_per_s > 0 then ($b[0].throughput_per_s / $a[0].throughput_per_s * 100 | floor / 100) else "n/a" end)"'
done
