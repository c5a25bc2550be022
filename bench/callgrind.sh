#!/usr/bin/env bash
# Instructions per order, counted by callgrind: a figure that does not move
# with the machine's load, for comparing two revisions of the order path.
#
# A throwaway cluster gets the accrual benchmark's shape (bench/run.sh):
# program "bench" (10 points per 100,000 VND, return_days 0), 10,000 members,
# orders_tracked (tracked) and orders_plain (the same table, untracked), and
# 20,000 earlier orders.  Then one single-user backend (postgres --single, no
# client, no network) runs N single-row INSERTs into each table, one
# transaction each, under valgrind --tool=callgrind.  It prints instructions
# per INSERT for both tables, their ratio, and the trigger's share; the
# profiles stay in the work directory for callgrind_annotate.
#
# Usage: bash bench/callgrind.sh [N]      (default 2000; about 2 minutes)
# BENCH_NO_BUILD=1 uses the installed extension.  Needs valgrind (installed
# when missing).  Instructions are not time: cache misses, lock waits and the
# client are not in them, so use make bench for the targets' figures.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. test/lib.sh

n=${1:-2000}
case $n in '' | *[!0-9]*) echo "usage: bash bench/callgrind.sh [N]" >&2; exit 2 ;; esac
LOYALTY_PACKAGES+=(valgrind)
if [ "${BENCH_NO_BUILD:-0}" = 1 ]; then
	ensure_packages
else
	prepare_loyalty quiet
fi

bin=$("$PG_CONFIG" --bindir)
work=$(mktemp -d -t loyalty-callgrind.XXXXXX)
# The server refuses to run as root: the work goes to the postgres user then.
if [ "$(id -u)" -eq 0 ]; then
	chown postgres "$work"
	run() { su postgres -s /bin/bash -c "$*"; }
else
	run() { bash -c "$*"; }
fi
port=$((20000 + RANDOM % 20000))
cleanup() {
	run "'$bin/pg_ctl' -D '$work/data' stop -m immediate -w" >/dev/null 2>&1 || true
	if [ "${KEEP:-0}" != 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

run "'$bin/initdb' -D '$work/data' -A trust" >/dev/null
run "'$bin/pg_ctl' -D '$work/data' -o '-p $port -k $work -c synchronous_commit=off' -l '$work/log' start -w" >/dev/null
psql -h "$work" -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1 postgres >/dev/null <<-'SQL'
	CREATE EXTENSION loyalty;
	CREATE SEQUENCE bench_ids;
	CREATE TABLE orders_tracked (id bigint PRIMARY KEY, customer_id bigint, total numeric(14,2),
		currency text DEFAULT 'VND', channel text DEFAULT 'online', status text DEFAULT 'paid',
		created_at timestamptz DEFAULT now());
	CREATE TABLE orders_plain (LIKE orders_tracked INCLUDING ALL);
	SELECT loyalty.create_program('bench', 'Benchmark', 'VND', 10, 100000, return_days => 0);
	SELECT count(loyalty.enroll('bench', c)) FROM generate_series(1, 10000) c;
	SELECT loyalty.track_orders('orders_tracked', 'bench', 'customer_id', 'id', 'total',
		currency_column => 'currency', channel_column => 'channel', status_column => 'status',
		ordered_at_column => 'created_at');
	INSERT INTO orders_tracked (id, customer_id, total)
	SELECT nextval('bench_ids'), 1 + (g * 7919) % 10000, 10000 + g FROM generate_series(1, 20000) g;
	VACUUM ANALYZE;
SQL
run "'$bin/pg_ctl' -D '$work/data' stop -w" >/dev/null

declare -A per
for t in tracked plain; do
	# The same members and amounts for both tables (a fixed LCG).
	awk -v n="$n" -v t="$t" 'BEGIN {
		s = 12345
		for (i = 0; i < n; i++) {
			s = (s * 1103515245 + 12345) % 2147483648; c = 1 + s % 10000
			s = (s * 1103515245 + 12345) % 2147483648; a = 10000 + s % 1990000
			printf "INSERT INTO orders_%s (id, customer_id, total) VALUES (nextval(%cbench_ids%c), %d, %d);\n", t, 39, 39, c, a
		}
	}' >"$work/insert_$t.sql"
	run "valgrind --tool=callgrind --callgrind-out-file='$work/callgrind_$t.out' \
		'$bin/postgres' --single -D '$work/data' -c synchronous_commit=off postgres \
		<'$work/insert_$t.sql' >/dev/null 2>'$work/valgrind_$t.log'"
	total=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/valgrind_$t.log")
	[ -n "$total" ] || { cat "$work/valgrind_$t.log" >&2; echo "error: no callgrind total for $t" >&2; exit 1; }
	per[$t]=$((total / n))
done
trigger=$(callgrind_annotate --inclusive=yes "$work/callgrind_tracked.out" 2>/dev/null |
	awk '/:loyalty_order_trigger \[/ && !found { gsub(",", "", $1); print $1; found = 1 }')
rows=$(run "'$bin/pg_ctl' -D '$work/data' -o '-p $port -k $work' -l '$work/log' start -w" >/dev/null &&
	psql -h "$work" -p "$port" -U postgres -X -At -c \
		"SELECT count(*) FROM loyalty.order_accrual WHERE order_key::bigint > 20000" postgres)
[ "$rows" = "$n" ] || { echo "error: $rows of $n tracked orders are on record" >&2; exit 1; }
printf 'instructions per INSERT (callgrind, %d single-row INSERTs, one transaction each):\n' "$n"
printf '  tracked   %9d\n  untracked %9d\n  ratio     %9.2f\n' "${per[tracked]}" "${per[plain]}" \
	"$(awk -v a="${per[tracked]}" -v b="${per[plain]}" 'BEGIN { print a / b }')"
printf '  of which the order trigger: %d per INSERT\n' $((${trigger:-0} / n))
if [ "${KEEP:-0}" = 1 ]; then echo "profiles: $work/callgrind_{tracked,plain}.out"; fi
