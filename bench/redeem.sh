#!/usr/bin/env bash
# loyalty.redeem() of one point against members with few and with many lots:
# TPS and mean server time per call.  Members each earn LOTS lots (one per
# INSERT statement into a tracked orders table, 1,000 points per lot, under a
# rolling 12-month expiry), in two groups: FEW_MEMBERS members with 10 lots and
# MANY_MEMBERS members with 300 lots.  Each group is then redeemed from by
# pgbench -M prepared, 2 clients, SECONDS seconds; verify() must stay empty.
# synchronous_commit = off, as in bench/run.sh.
# Usage: bash bench/redeem.sh [SECONDS [FEW_MEMBERS [MANY_MEMBERS]]]
#        (default 20 10000 1000).  BENCH_NO_BUILD=1 uses the installed build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. bench/lib.sh

# Earn $3 lots for customers $1 + 1 .. $1 + $2: one INSERT statement per lot.
earn_lots() {
	local base=$1 members=$2 lots=$3 r
	for r in $(seq 1 "$lots"); do
		psql -X -q -v ON_ERROR_STOP=1 -c \
			"INSERT INTO orders SELECT $r::bigint * 1000000 + $base + c, $base + c, 10000000
			   FROM generate_series(1, $members) c"
	done
}

# Redeem from customers $2 .. $3 for $1 seconds; prints TPS and µs per call.
redeem_round() {
	local seconds=$1 first=$2 last=$3 out tps failed us
	psql -X -q -c "SELECT pg_stat_statements_reset()" >/dev/null
	out=$(pgbench -n -M prepared -c 2 -j 2 -T "$seconds" -D first="$first" -D last="$last" \
		-f bench/pgbench/redeem_members.sql 2>&1) || { echo "$out" >&2; exit 1; }
	tps=$(awk '/^tps = / { print $3; exit }' <<<"$out")
	failed=$(awk '/^number of failed transactions:/ { print $5; exit }' <<<"$out")
	[ "${failed:-0}" = 0 ] || { echo "$out" >&2; exit 1; }
	us=$(psql -X -At -c "SELECT round((sum(total_exec_time) / sum(calls) * 1000)::numeric, 1)
	                       FROM pg_stat_statements WHERE query LIKE 'SELECT loyalty.redeem(%'")
	printf '%s %s\n' "$tps" "$us"
}

if [ "${1:-}" = --in-cluster ]; then
	seconds=$2 few=$3 many=$4
	bench_program 12
	psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<-SQL
		CREATE EXTENSION pg_stat_statements;
		SELECT count(loyalty.enroll('bench', c)) FROM generate_series(1, $few) c;
		SELECT count(loyalty.enroll('bench', 100000 + c)) FROM generate_series(1, $many) c;
	SQL
	earn_lots 0 "$few" 10
	earn_lots 100000 "$many" 300
	psql -X -q -c "VACUUM ANALYZE" -c "CHECKPOINT"
	for group in "10 1 $few" "300 100001 $((100000 + many))"; do
		set -- $group
		redeem_round 3 "$2" "$3" >/dev/null		# warm-up
		psql -X -q -c "CHECKPOINT"
		read -r tps us < <(redeem_round "$seconds" "$2" "$3")
		printf 'redeem 1 point, %d lots per member (%d members): %8.1f TPS %8.1f us/call (server)\n' \
			"$1" $(($3 - $2 + 1)) "$tps" "$us"
	done
	printf 'verify() rows after: %s\n' "$(psql -X -At -c "SELECT count(*) FROM loyalty.verify()")"
	exit 0
fi

. test/lib.sh
[ "${BENCH_NO_BUILD:-0}" = 1 ] || prepare_loyalty quiet
pg_virtualenv -t -v 15 -o synchronous_commit=off -o shared_buffers=1GB -o max_wal_size=8GB \
	-o shared_preload_libraries=pg_stat_statements -o pg_stat_statements.track=top \
	bash bench/redeem.sh --in-cluster "${1:-20}" "${2:-10000}" "${3:-1000}" 2>/dev/null \
	| grep -E '^(redeem|verify)'
