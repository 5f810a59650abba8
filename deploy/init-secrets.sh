#!/bin/sh
# Creates the secrets of deploy/compose.yaml in deploy/secrets/: the
# PostgreSQL password and the DSN with it, Pforte's master key, the PIN
# pepper and the demo client's secret, each random. It never overwrites a
# secret that exists: a new master key or pepper would make the signing
# keys and every PIN in the database unusable.
#
# Compose (without Swarm) mounts secret files with their mode and owner
# from this machine, and the container runs as uid 65532: so the files are
# readable by everyone (0644), and the directory is open only to you (0700).
set -eu

dir="$(cd "$(dirname "$0")" && pwd)/secrets"
umask 077
mkdir -p "$dir"
chmod 0700 "$dir"

random() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; }

put() {
	if [ -e "$dir/$1" ]; then
		echo "kept    $dir/$1"
		return
	fi
	printf '%s\n' "$2" >"$dir/$1"
	chmod 0644 "$dir/$1"
	echo "created $dir/$1"
}

if [ -e "$dir/postgres_password" ]; then
	pw="$(cat "$dir/postgres_password")"
else
	pw="$(random 24 | tr '+/' '-_' | tr -d '=')"
fi
put postgres_password "$pw"
put pforte_dsn "postgres://pforte:$pw@postgres:5432/pforte?sslmode=disable"
put pforte_master_key "$(random 32)"
put pforte_pin_peppers "1:$(random 32)"
put online_forms_secret "$(random 32)"
echo "Back up the master key and the PIN pepper with the database (README.md, \"Backup and restore\")."
