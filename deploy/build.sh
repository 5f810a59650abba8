#!/bin/sh
# Builds the pforte binary the way the container image ships it: static
# (CGO_ENABLED=0: modernc.org/sqlite and pgx need no C), without the build
# machine's paths (-trimpath), without symbol tables (-s -w), with the
# release stamped into `pforte version`, by the Go toolchain go.mod names.
#
# The Dockerfile runs this script, and so does CI (test/deploy builds with
# it and checks the result), so the binary CI tests is built exactly as the
# image's is.
#
#   deploy/build.sh OUT [VERSION]     # VERSION defaults to $PFORTE_VERSION, else dev
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo 'usage: deploy/build.sh OUT [VERSION]' >&2
	exit 2
fi
out=$1
version=${2:-${PFORTE_VERSION:-dev}}
case $out in
/*) ;;
*) out="$(pwd)/$out" ;;
esac

cd "$(dirname "$0")/.."
export GOTOOLCHAIN=go1.27.3 CGO_ENABLED=0
exec go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$out" ./cmd/pforte
