#!/usr/bin/env bash
# Makes sure the PostgreSQL server binaries (initdb, pg_ctl, postgres) and the
# contrib extensions (pg_trgm) are installed, for the private cluster that
# Steward runs itself (db/pgcluster). Idempotent: does nothing when they are
# there. As root on Debian or Ubuntu it installs them with apt-get; otherwise
# it prints the command to run and fails.
#
# Debian's package creates and may start its own cluster (for example 15/main
# on port 5432). Steward neither uses nor needs it: whether it runs or not does
# not matter, and Steward's cluster picks another port.
set -euo pipefail

readonly packages=(postgresql postgresql-contrib)

# find_initdb prints the initdb that db/pgcluster would use: on PATH (with
# pg_ctl beside it on PATH), else the newest /usr/lib/postgresql/*/bin.
find_initdb() {
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		command -v initdb
		return 0
	fi
	local dir
	while read -r dir; do
		if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then
			echo "$dir/initdb"
			return 0
		fi
	done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -V -r)
	return 1
}

# has_trgm tells whether the extension pg_trgm is installed for the server
# whose initdb is $1.
has_trgm() {
	local bindir
	bindir=$(dirname "$(readlink -f "$1")")
	local candidates=("$bindir/../share/postgresql/extension" "$bindir/../share/extension")
	if [[ $bindir =~ ^/usr/lib/postgresql/([^/]+)/bin$ ]]; then
		candidates+=("/usr/share/postgresql/${BASH_REMATCH[1]}/extension")
	fi
	local dir
	for dir in "${candidates[@]}"; do
		[[ -f $dir/pg_trgm.control ]] && return 0
	done
	return 1
}

installed() {
	local initdb
	initdb=$(find_initdb) && has_trgm "$initdb"
}

if installed; then
	exit 0
fi

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
	echo "ensure-postgres: installing ${packages[*]} with apt-get" >&2
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
	if installed; then
		echo "ensure-postgres: installed $("$(find_initdb)" --version)" >&2
		exit 0
	fi
	echo "ensure-postgres: apt-get installed ${packages[*]}, but initdb, pg_ctl or pg_trgm is still missing" >&2
	exit 1
fi

cat >&2 <<MSG
ensure-postgres: the PostgreSQL server (initdb, pg_ctl) with pg_trgm is not installed.
Install it as root, then run make again:
    apt-get update && apt-get install -y postgresql postgresql-contrib
MSG
exit 1
