#!/usr/bin/env bash
# The bulk path against a set-based PL/pgSQL statement, at equal volumes.
#
# make bench's bulk measure (3) inserts 1,000,000 orders into tables whose
# loyalty side also holds the other tracked tables' orders, so its C and
# PL/pgSQL figures are not like for like.  Here both sides start from the same
# members and the same history, and each round inserts the same orders into
# each of three tables, alternating which goes first:
#   orders_plain    untracked (the ratio's denominator)
#   orders_tracked  tracked by loyalty's C statement trigger
#   orders_plpgsql  bench/plpgsql.sql's PL/pgSQL statement trigger
# It fails unless both triggers end with the same balances and order counts.
# synchronous_commit = off, as in bench/run.sh.
#
# Usage: bash bench/bulk.sh [MEMBERS [HISTORY [ROWS [ROUNDS]]]]
#        (default 10000 members, 1000000 earlier orders per table, then
#        rounds of 300000 orders in one INSERT ... SELECT, 3 rounds)
# BULK_PERF=1 records `perf record -a -g` of each round's inserts into
# /tmp/bulk-perf-<table>-<round>.data.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. bench/lib.sh

# Orders n0+1 .. n0+n: customers spread over every member, amounts from
# 100.00 to 19,900.00 thousand dong (each earns points).
orders() {
	echo "SELECT nextval('bench_ids'), 1 + (g * 7919) % $members, 10000 + (g * 104729) % 1990001
	        FROM generate_series($1::bigint + 1, $1::bigint + $2) g"
}

# One INSERT ... SELECT of rows orders after order $2 into table $1 (round
# $3): prints "wall_ms cpu_ms", psql's \timing and the backend's user+system
# CPU time from /proc (the CPU figure is what the statement costs, whatever
# else the machine is doing).
timed_insert() {
	local out script
	script="SELECT pg_catalog.pg_backend_pid() AS pid \gset
\setenv BACKEND :pid
\! awk '{print \"cpu\", \$14 + \$15}' /proc/\$BACKEND/stat
\timing on
INSERT INTO $1 (id, customer_id, total) $(orders "$2" "$rows");
\timing off
\! awk '{print \"cpu\", \$14 + \$15}' /proc/\$BACKEND/stat"
	if [ "${BULK_PERF:-0}" = 1 ]; then
		out=$(perf record -q -a -g -o "/tmp/bulk-perf-$1-$3.data" -- \
			psql -X -q -v ON_ERROR_STOP=1 <<<"$script")
	else
		out=$(psql -X -q -v ON_ERROR_STOP=1 <<<"$script")
	fi
	awk -v hz="$(getconf CLK_TCK)" '
		/^cpu / { cpu[++n] = $2 }
		/^Time: / { wall = $2 }
		END {
			if (wall == "" || n != 2) { print "error: no timing from psql" > "/dev/stderr"; exit 1 }
			printf "%.0f %.0f\n", wall, (cpu[2] - cpu[1]) * 1000 / hz
		}' <<<"$out"
}

if [ "${1:-}" = --in-cluster ]; then
	members=$2 history=$3 rows=$4 rounds=$5
	{
		echo "CREATE EXTENSION loyalty;"
		bench_orders_sql "$members"
		bench_track_sql orders_tracked bench
	} | psql -X -q -v ON_ERROR_STOP=1 >/dev/null
	psql -X -q -v ON_ERROR_STOP=1 -f bench/plpgsql.sql >/dev/null
	for t in orders_plain orders_tracked orders_plpgsql; do
		psql -X -q -v ON_ERROR_STOP=1 -c "INSERT INTO $t (id, customer_id, total) $(orders 0 "$history")"
	done
	psql -X -q -c "VACUUM ANALYZE" -c CHECKPOINT
	declare -A ms cpu
	for r in $(seq 1 "$rounds"); do
		# The order of the three rotates; each round's orders are new keys.
		case $((r % 3)) in
			1) order="orders_plain orders_tracked orders_plpgsql" ;;
			2) order="orders_tracked orders_plpgsql orders_plain" ;;
			0) order="orders_plpgsql orders_plain orders_tracked" ;;
		esac
		for t in $order; do
			psql -X -q -c CHECKPOINT
			read -r w c < <(timed_insert "$t" $((history + (r - 1) * rows)) "$r")
			ms[$t]="${ms[$t]:-} $w"
			cpu[$t]="${cpu[$t]:-} $c"
		done
		echo "round $r (ms, wall/backend CPU): plain ${ms[orders_plain]##* }/${cpu[orders_plain]##* }," \
			"C ${ms[orders_tracked]##* }/${cpu[orders_tracked]##* }," \
			"PL/pgSQL ${ms[orders_plpgsql]##* }/${cpu[orders_plpgsql]##* }"
	done
	# Both triggers must have credited the same points for the same orders.
	# (Not the same number of entries: the C path writes a lot per member and
	# chunk of 131,072 rows, the PL/pgSQL statement one per member.)
	diff=$(psql -X -At -v ON_ERROR_STOP=1 <<-'SQL'
		SELECT count(*)
		  FROM loyalty.account a
		  FULL JOIN pl.account p USING (customer_id, program_id)
		 WHERE a.available IS DISTINCT FROM p.available
			OR a.pending IS DISTINCT FROM p.pending
			OR a.lifetime_earned IS DISTINCT FROM p.lifetime_earned
			OR a.order_count IS DISTINCT FROM p.order_count
	SQL
	)
	problems=$(psql -X -At -c "SELECT count(*) FROM loyalty.verify()")
	orders=$(psql -X -At -c "SELECT count(*) FROM loyalty.order_accrual")
	echo "accounts that differ between the C and the PL/pgSQL side: $diff; verify() rows: $problems; orders on record: $orders"
	[ "$diff" = 0 ] && [ "$problems" = 0 ] && [ "$orders" = $((history + rounds * rows)) ] || {
		echo "error: the two sides disagree or verify() found problems" >&2
		exit 1
	}
	printf 'median of %d rounds, %d orders into %d earlier (per table), %d members:\n' \
		"$rounds" "$rows" "$history" "$members"
	for kind in ms cpu; do
		declare -n m=$kind
		# shellcheck disable=SC2086 # one argument per round
		p=$(median ${m[orders_plain]})
		# shellcheck disable=SC2086 # one argument per round
		c=$(median ${m[orders_tracked]})
		# shellcheck disable=SC2086 # one argument per round
		s=$(median ${m[orders_plpgsql]})
		awk -v what="$([ $kind = ms ] && echo 'wall time' || echo 'backend CPU')" \
			-v p="$p" -v c="$c" -v s="$s" 'BEGIN {
			printf "  %-11s untracked %.0f ms; C %.0f ms (%.2f x untracked); PL/pgSQL %.0f ms (%.2f x untracked); C/PL/pgSQL %.2f\n",
				what, p, c, c / p, s, s / p, c / s
		}'
	done
	exit 0
fi

. test/lib.sh
prepare_loyalty quiet
pg_virtualenv -t -v 15 -o synchronous_commit=off -o max_wal_size=8GB \
	bash bench/bulk.sh --in-cluster "${1:-10000}" "${2:-1000000}" "${3:-300000}" "${4:-3}" 2>&1 |
	grep -E '^(round|accounts|median|  |error|ERROR|DETAIL|HINT|CONTEXT)'
