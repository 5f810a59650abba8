#!/usr/bin/env bash
# Runs every fuzz target of Pforte, one after the other, each for a while.
#
#   bash test/security/fuzz.sh            # each target 3 s (what CI runs)
#   bash test/security/fuzz.sh 10m        # the long run: 10 minutes per target
#   bash test/security/fuzz.sh 30s FuzzDPoP   # only targets whose name matches
#   SAVE_CORPUS=1 bash test/security/fuzz.sh 10m   # keep what the run found in testdata/fuzz/
#
# For each target it prints the executions per second and, from a run of
# the target's corpus (seeds, testdata/fuzz/ and what this run found) with
# coverage, the share of the statements it reaches: of its own package, or
# for the HTTP targets of test/security, of the packages behind the
# endpoints. A crash stops the run; the failing input is written
# to the package's testdata/fuzz/<Target>/ and is replayed by every later
# `go test` until it is fixed.
set -euo pipefail

cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=go1.27.3

fuzztime="${1:-3s}"
filter="${2:-.}"

# Packages with fuzz targets, and the targets in each.
module="$(go list -m)"
cache="$(go env GOCACHE)/fuzz/$module"

mapfile -t pkgs < <(git grep -l '^func Fuzz' -- '*_test.go' | xargs -n1 dirname | sort -u)
printf '%-28s %-34s %12s %10s %9s\n' PACKAGE TARGET EXECS 'EXECS/S' COVERAGE
for dir in "${pkgs[@]}"; do
	pkg="./$dir"
	coverpkg="$pkg"
	if [ "$dir" = test/security ]; then
		coverpkg=./adapters/oidc,./adapters/httpapi,./core/authz,./core/grant,./core/applogin,./core/binding,./core/registration,./core/dpop
	fi
	mapfile -t targets < <(git grep -h -o '^func Fuzz[A-Za-z0-9_]*' -- "$dir/*_test.go" | sed 's/^func //' | sort -u)
	for target in "${targets[@]}"; do
		[[ "$target" =~ $filter ]] || continue
		log="$(mktemp)"
		seen="$(ls "$dir/testdata/fuzz/$target" 2>/dev/null || true)"
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s "$pkg" >"$log" 2>&1; then
			cat "$log"
			if [ "$(ls "$dir/testdata/fuzz/$target" 2>/dev/null || true)" != "$seen" ]; then
				echo "$target in $pkg failed: the input is in $dir/testdata/fuzz/$target/" >&2
			else
				# No new input: the run itself broke (its fuzz cache removed by
				# `go clean -fuzzcache` elsewhere, say), not the code under test.
				echo "$target in $pkg stopped without a failing input: see the output above" >&2
			fi
			exit 1
		fi
		# The last progress line: "fuzz: elapsed: 1m3s, execs: 123 (…/sec), …"
		# (printed every 3 s; a run shorter than that may print none).
		line="$(grep -E '^fuzz: elapsed: [0-9hms]+, execs: [0-9]+' "$log" | tail -n 1 || true)"
		execs=-
		rate=-
		if [ -n "$line" ]; then
			execs="$(sed -E 's/.*execs: ([0-9]+).*/\1/' <<<"$line")"
			secs="$(sed -E 's/^fuzz: elapsed: ([0-9hms]+),.*/\1/' <<<"$line" |
				awk '{ t = 0; n = ""; for (i = 1; i <= length($0); i++) { c = substr($0, i, 1)
					if (c ~ /[0-9]/) n = n c; else { t += n * (c == "h" ? 3600 : c == "m" ? 60 : 1); n = "" } }
					print t }')"
			rate=$((execs / (secs > 0 ? secs : 1)))
		fi
		# What this run found is in the fuzz cache, which only -fuzz reads:
		# copy it beside the committed corpus for the coverage run, and take
		# it away again unless SAVE_CORPUS is set.
		corpus="$dir/testdata/fuzz/$target"
		added=()
		if [ -d "$cache/$dir/$target" ]; then
			mkdir -p "$corpus"
			for f in "$cache/$dir/$target"/*; do
				[ -e "$corpus/${f##*/}" ] && continue
				cp "$f" "$corpus/" && added+=("$corpus/${f##*/}")
			done
		fi
		cov="$(go test -count=1 -run "^${target}\$" -cover -coverpkg "$coverpkg" "$pkg" 2>/dev/null | sed -nE 's/.*coverage: ([0-9.]+%).*/\1/p' | head -n 1)"
		if [ -z "${SAVE_CORPUS:-}" ] && [ "${#added[@]}" -gt 0 ]; then
			rm -f "${added[@]}"
			rmdir -p "$corpus" 2>/dev/null || true
		fi
		printf '%-28s %-34s %12s %10s %9s\n' "$dir" "$target" "$execs" "$rate" "${cov:--}"
		rm -f "$log"
	done
done
