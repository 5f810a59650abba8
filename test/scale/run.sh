#!/usr/bin/env bash
# test/scale/run.sh — does Pforte slow down with the size of the member
# directory? The same app-login and registration load against a server with
# ten thousand members imported and against one with a million, in one run.
#
# In a temporary directory outside the repository the script
#   1. builds Pforte and the load tool (./test/load) from this checkout;
#   2. for each size (SCALE_SMALL, default 10,000; SCALE_LARGE, default
#      1,000,000) writes a member file with `load --generate-members` (distinct
#      valid KVNRs and names), imports it with `pforte members import` into a
#      fresh store (SQLite in a data directory of its own; with --postgres a
#      schema of its own, dropped at the end) and starts `pforte serve` on
#      loopback (development, WARN log, letter worker every 200 ms, the
#      per-address letter and activation limits raised for the load);
#   3. takes the members the workloads use from the imported file itself, in
#      disjoint slices (each member is enrolled once): per round SCALE_APP
#      (default 200) for app-login, which seeds them through the app API and
#      the letter outbox before its timer, and SCALE_REG (default 2,000) for
#      registration, whose every operation is one member's whole
#      registration by letter;
#   4. runs, SCALE_ROUNDS times (default 2), app-login and then registration
#      against the small and then the large server (both servers stay up, so
#      the rounds alternate between them on the same machine), each with
#      --server-pid for the server's memory;
#   5. prints a Markdown table: per workload the throughput, p50 and p99 with
#      the small and the large directory (the median of the rounds), the
#      ratio large ÷ small and whether it is within 10% (0.90 to 1.10; on a
#      shared machine a short run can miss that either way by noise alone:
#      run more rounds), and the server's memory under app-login.
#
# Not run by `go test` or CI. Needs go, jq, awk, curl, and psql for --postgres.
# Usage, from anywhere:
#   test/scale/run.sh [--postgres DSN]
# Environment:
#   SCALE_SMALL        members of the small directory (default 10000)
#   SCALE_LARGE        members of the large directory (default 1000000, at most 1000000)
#   SCALE_APP          members seeded for app-login per round (default 200)
#   SCALE_REG          members available to registration per round (default 2000)
#   SCALE_ROUNDS       rounds (default 2)
#   SCALE_DURATION     duration of each workload run (default 10s)
#   SCALE_CONCURRENCY  operations in flight for app-login (default 8)
#   SCALE_REG_CONCURRENCY  operations in flight for registration (default 16)
#   SCALE_PORT_BASE    first of two loopback ports (default 18700)
#   SCALE_KEEP=1       keep the temporary directory (logs, JSON results)

set -uo pipefail

# The Go toolchain go.mod names (README, "Go toolchain"): the go command
# fetches it through the module proxy when the installed Go is another one.
export GOTOOLCHAIN=go1.27.3

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SMALL=${SCALE_SMALL:-10000}
LARGE=${SCALE_LARGE:-1000000}
APP=${SCALE_APP:-200}
REG=${SCALE_REG:-2000}
ROUNDS=${SCALE_ROUNDS:-2}
DURATION=${SCALE_DURATION:-10s}
CONCURRENCY=${SCALE_CONCURRENCY:-8}
REG_CONCURRENCY=${SCALE_REG_CONCURRENCY:-16}
PORT_BASE=${SCALE_PORT_BASE:-18700}
PG_DSN=""

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

for tool in go jq awk curl; do
	command -v "$tool" >/dev/null || die "$tool is required"
done
[[ -z $PG_DSN ]] || command -v psql >/dev/null || die "psql is required for --postgres"
for n in "$SMALL" "$LARGE" "$APP" "$REG" "$ROUNDS"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "sizes and rounds must be positive integers, not $n"
done
((LARGE <= 1000000)) || die "SCALE_LARGE is at most 1000000 (the generator's bound)"
NEED=$((ROUNDS * (APP + REG)))
((NEED <= SMALL)) || die "the workloads need $NEED members ($ROUNDS rounds × ($APP + $REG)), more than SCALE_SMALL=$SMALL"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pforte-scale.XXXXXX")
case "$WORK" in "$REPO"/*) die "temporary directory $WORK is inside the repository" ;; esac
BIN=$WORK/bin
RES=$WORK/results
mkdir -p "$BIN" "$RES"
PIDS=()
SCHEMAS=()

cleanup() {
	local pid s
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	for s in "${SCHEMAS[@]}"; do
		psql -q "$PG_DSN" -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || printf '!! could not drop schema %s\n' "$s" >&2
	done
	if [[ ${SCALE_KEEP:-} == 1 ]]; then
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

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_ready URL LOGFILE PID: poll URL until it answers 200 (60 s).
wait_ready() {
	local i
	for i in $(seq 1 300); do
		kill -0 "$3" 2>/dev/null || {
			tail -n 5 "$2" >&2
			return 1
		}
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

# slice FILE FROM COUNT OUT: the header of FILE and its members FROM+1 ..
# FROM+COUNT (1-based after the header).
slice() {
	{
		head -n 1 "$1"
		tail -n +$(($2 + 2)) "$1" | head -n "$3"
	} >"$4"
}

declare -A ISSUER PID OUTBOX MEMBERS
SIZES=(small large)
MEMBERS[small]=$SMALL
MEMBERS[large]=$LARGE

# setup NAME PORT: generate and import the members, start the server.
setup() {
	local name=$1 port=$2 dir=$WORK/$1 n=${MEMBERS[$1]} start pid
	local -a env=(PFORTE_LOG_LEVEL=warn)
	mkdir -p "$dir"
	port_free "$port" || die "port $port is in use (set SCALE_PORT_BASE)"
	if [[ -n $PG_DSN ]]; then
		local schema=pforte_scale_${name}_$$ dsn
		psql -q "$PG_DSN" -c "CREATE SCHEMA $schema" >"$dir/psql.log" 2>&1 || die "cannot create a schema in $PG_DSN: $(head -n 1 "$dir/psql.log")"
		SCHEMAS+=("$schema")
		case "$PG_DSN" in *\?*) dsn="$PG_DSN&search_path=$schema" ;; *) dsn="$PG_DSN?search_path=$schema" ;; esac
		env+=(PFORTE_STORAGE_TYPE=postgres "PFORTE_STORAGE_DSN=$dsn")
	fi
	log "$name: $n members: generating the file"
	"$BIN/load" --generate-members "$n" --out "$dir/members.csv" 2>"$dir/generate.log" || die "$name: generate-members failed: $(tail -n 1 "$dir/generate.log")"
	log "$name: importing $n members ($([[ -n $PG_DSN ]] && echo PostgreSQL || echo SQLite))"
	start=$SECONDS
	env "${env[@]}" "$BIN/pforte" --data-dir "$dir/data" members import "$dir/members.csv" >"$dir/import.out" 2>"$dir/import.log" ||
		die "$name: import failed: $(tail -n 2 "$dir/import.log")"
	log "$name: $(head -n 1 "$dir/import.out") in $((SECONDS - start)) s"
	local r from=0
	for ((r = 1; r <= ROUNDS; r++)); do
		slice "$dir/members.csv" "$from" "$APP" "$dir/app-$r.csv"
		from=$((from + APP))
		slice "$dir/members.csv" "$from" "$REG" "$dir/reg-$r.csv"
		from=$((from + REG))
	done
	env "${env[@]}" PFORTE_ADDR="127.0.0.1:$port" PFORTE_ISSUER="http://127.0.0.1:$port" \
		PFORTE_WORKER_INTERVAL=200ms PFORTE_REQUESTS_PER_IP_PER_HOUR=100000 PFORTE_ACTIVATIONS_PER_IP_PER_HOUR=100000 \
		"$BIN/pforte" --data-dir "$dir/data" serve >"$dir/serve.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	PID[$name]=$pid
	ISSUER[$name]="http://127.0.0.1:$port"
	OUTBOX[$name]=$dir/data/outbox
	wait_ready "${ISSUER[$name]}/readyz" "$dir/serve.log" "$pid" || die "$name: pforte did not start (see $dir/serve.log)"
}

setup small "$PORT_BASE"
setup large "$((PORT_BASE + 1))"

# measure NAME ROUND WORKLOAD: one run of the load tool, its JSON kept.
measure() {
	local name=$1 r=$2 wl=$3 file conc out=$RES/$1-$3-$2
	case $wl in
	app-login) file=$WORK/$name/app-$r.csv conc=$CONCURRENCY ;;
	registration) file=$WORK/$name/reg-$r.csv conc=$REG_CONCURRENCY ;;
	esac
	log "round $r: $wl against $name (${MEMBERS[$name]} members)"
	if ! "$BIN/load" --issuer "${ISSUER[$name]}" --workload "$wl" --members-csv "$file" --outbox "${OUTBOX[$name]}" \
		--duration "$DURATION" --concurrency "$conc" --server-pid "${PID[$name]}" --json >"$out.json" 2>"$out.log"; then
		printf '!! %s against %s failed:\n' "$wl" "$name" >&2
		tail -n 5 "$out.log" >&2
		jq -r '.errors // {} | to_entries[] | "   \(.value)  \(.key)"' "$out.json" >&2 2>/dev/null
	fi
	jq -r '"   \(.throughput_per_s | floor)/s, p50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms, \(.failed) failed\(if .ended then "; " + .ended else "" end)"' \
		"$out.json" >&2 2>/dev/null
}

for ((r = 1; r <= ROUNDS; r++)); do
	for wl in app-login registration; do
		for name in "${SIZES[@]}"; do
			measure "$name" "$r" "$wl"
		done
	done
done

# median FIELD NAME WORKLOAD: the median over the rounds of a jq path.
median() {
	local f
	for f in "$RES/$2-$3-"*.json; do
		jq -r "$1 // empty" "$f" 2>/dev/null
	done | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

store=SQLite
[[ -n $PG_DSN ]] && store=PostgreSQL
echo
echo "Pforte on $store, $(nproc) cores, $ROUNDS round(s) of $DURATION per workload and size; app-login $CONCURRENCY in flight over $APP members, registration $REG_CONCURRENCY in flight over at most $REG members; median of the rounds"
echo
# cell THROUGHPUT P50 P99 FAILED: one cell of the table.
cell() {
	awk -v t="$1" -v a="$2" -v b="$3" -v f="$4" 'BEGIN {
		if (t == "n/a") print "n/a"
		else printf "%.1f/s · p50 %.1f ms · p99 %.1f ms%s\n", t, a, b, (f > 0 ? " · " f " failed" : "")
	}'
}

printf '| workload | %s members | %s members | large ÷ small | within 10%% |\n' "$SMALL" "$LARGE"
echo "| --- | --- | --- | --- | --- |"
for wl in app-login registration; do
	ts=$(median .throughput_per_s small "$wl")
	tl=$(median .throughput_per_s large "$wl")
	small_cell=$(cell "$ts" "$(median .latency_ms.p50 small "$wl")" "$(median .latency_ms.p99 small "$wl")" "$(median .failed small "$wl")")
	large_cell=$(cell "$tl" "$(median .latency_ms.p50 large "$wl")" "$(median .latency_ms.p99 large "$wl")" "$(median .failed large "$wl")")
	ratio=$(awk -v s="$ts" -v l="$tl" 'BEGIN { if (s == "n/a" || l == "n/a" || s == 0) print "n/a"; else printf "%.2f\n", l / s }')
	ok=$(awk -v r="$ratio" 'BEGIN { if (r == "n/a") print "n/a"; else print (r >= 0.90 && r <= 1.10 ? "yes" : "no") }')
	printf '| %s | %s | %s | %s | %s |\n' "$wl" "$small_cell" "$large_cell" "$ratio" "$ok"
done
echo
for name in "${SIZES[@]}"; do
	awk -v n="${MEMBERS[$name]}" -v p="$(median .server.peak_rss_mib "$name" app-login)" -v h="$(median .server.hwm_mib "$name" app-login)" \
		'BEGIN { printf "server RSS with %s members under app-login: peak %.1f MiB (median of the rounds), VmHWM at the end of the run %.1f MiB\n", n, p, h }' 
done
