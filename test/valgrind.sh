#!/usr/bin/env bash
# Runs pgTAP test files against a PostgreSQL 15 server under valgrind
# memcheck and prints every valgrind error whose stack has a frame of ours
# (src/*.c or loyalty.so).  Exits 1 when there is one, or when a test fails.
#
#   bash test/valgrind.sh [test ...]     e.g. bash test/valgrind.sh 15_window 19_fraud
#
# Without arguments it runs the tests that exercise the C code most.  It
# builds with -O0 -g (so stacks name our lines), installs into PostgreSQL 15
# like `make test`, makes a throwaway cluster in a temporary directory and
# starts the postmaster under valgrind on a private Unix socket.  Not part of
# `make test`: valgrind makes the server 20 to 50 times slower.
#
# Debian's server is not built with USE_VALGRIND, so memory handed out by
# palloc is only partly tracked: uninitialised bytes reaching a branch, a
# hash or a write (a tuple on disk, WAL), and reads or writes outside
# malloc'd memory are found; overruns inside a palloc'd block are not.
#
# Environment: VALGRIND_SUPP, extra suppression files (colon-separated),
# e.g. PostgreSQL's src/tools/valgrind.supp; VALGRIND_KEEP=1 keeps the
# temporary directory with the valgrind logs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. test/lib.sh

DEFAULT_TESTS="01_card 04_ledger 10_tracking 11_rules 12_accrual 14_accrual_batch 15_window 17_expiry 18_tiers 19_fraud"
BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin

# Prints the valgrind error blocks of log $1 that have a frame of ours:
# blocks are separated by a bare "==pid== " line.
errors_of_ours() {
	awk -v src="$PWD/src/" '
		function flush() {
			if (block != "" && mine) print block "\n"
			block = ""; mine = 0
		}
		/^==[0-9]+== *$/ { flush(); next }
		/^==[0-9]+== / {
			block = block (block == "" ? "" : "\n") $0
			if (index($0, src) || index($0, "loyalty.so")) mine = 1
		}
		END { flush() }
	' "$1"
}

main() {
	local tests=("$@") tmp owner supp=() f rc=0 found=0 pid port=5432 i
	[ "${#tests[@]}" -gt 0 ] || read -r -a tests <<<"$DEFAULT_TESTS"
	LOYALTY_PACKAGES+=(valgrind)
	ensure_packages || { echo "error: installing packages failed" >&2; exit 1; }
	LOYALTY_CFLAGS="$LOYALTY_CFLAGS -O0 -g"
	build_and_install || { echo "error: build or install failed" >&2; exit 1; }

	tmp=$(mktemp -d -t loyalty-valgrind.XXXXXX)
	if [ "${VALGRIND_KEEP:-}" = 1 ]; then
		echo "== keeping $tmp"
	else
		trap 'rm -rf "$tmp"' EXIT
	fi
	chmod 755 "$tmp"
	# initdb refuses to run as root: the cluster belongs to postgres then.
	owner=()
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$tmp"
		owner=(runuser -u postgres --)
	fi
	"${owner[@]}" "$BINDIR/initdb" -D "$tmp/data" -U postgres --auth=trust --no-sync >"$tmp/initdb.log" 2>&1 \
		|| { cat "$tmp/initdb.log"; exit 1; }

	IFS=: read -r -a supp <<<"${VALGRIND_SUPP:-}"
	supp=("test/valgrind.supp" "${supp[@]}")
	for i in "${!supp[@]}"; do
		supp[i]=--suppressions=$(realpath "${supp[i]}")
	done
	echo "== starting postgres under valgrind (logs: $tmp/valgrind.<pid>.log)"
	"${owner[@]}" valgrind --quiet --tool=memcheck --trace-children=yes --track-origins=yes \
		--read-var-info=yes --num-callers=40 --leak-check=no --error-limit=no \
		--fullpath-after= --error-exitcode=1 "${supp[@]}" \
		--log-file="$tmp/valgrind.%p.log" \
		"$BINDIR/postgres" -D "$tmp/data" -p "$port" -k "$tmp" \
		-c listen_addresses= -c shared_buffers=32MB -c max_connections=20 \
		-c fsync=off -c autovacuum=off -c jit=off -c logging_collector=off \
		>"$tmp/server.log" 2>&1 &
	pid=$!
	for i in $(seq 120); do
		"$BINDIR/pg_isready" -q -h "$tmp" -p "$port" && break
		kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.log"; exit 1; }
		sleep 1
	done

	echo "== running ${tests[*]}"
	rm -rf results regression.diffs regression.out
	PGHOST=$tmp PGPORT=$port PGUSER=postgres make --no-print-directory installcheck \
		PG_CONFIG="$PG_CONFIG" REGRESS="${tests[*]}" ISOLATION= || rc=$?

	"${owner[@]}" "$BINDIR/pg_ctl" -D "$tmp/data" stop -m fast -t 600 >/dev/null || true
	wait "$pid" || true

	echo "== valgrind errors with a frame in loyalty"
	for f in "$tmp"/valgrind.*.log; do
		[ -s "$f" ] || continue
		if [ -n "$(errors_of_ours "$f")" ]; then
			errors_of_ours "$f"
			found=1
		fi
	done
	echo "== $(cat "$tmp"/valgrind.*.log | grep -cE '^==[0-9]+== (Conditional|Use of|Syscall|Invalid|Source and)' || true) valgrind errors in all"
	if [ "$found" -eq 1 ]; then
		echo "valgrind: errors in loyalty (above)"
		rc=1
	else
		echo "valgrind: no errors in loyalty"
	fi
	exit "$rc"
}

main "$@"
