#!/usr/bin/env bash
# What would a lot model without per-order rows buy the order path?
#
# The accrual targets 1 and 2 (bench/README.md) miss, and the data-model
# change that bench/README.md proposed (a member's unspent points kept per
# expiry month on the account, the order record folded into the ledger) is
# large: verify(), refunds, reviews, reminders, expiry and the business
# views all read lots.  Before making it, this measures an upper bound of
# its gain with the engine's own C order path: a build patched with
# bench/lotless.patch, where the session setting lotless.mode = 1 leaves out
# each order's lot row, and lotless.mode = 2 its ledger entry as well (the
# order record and the account update stay).  Neither build is correct (a
# balance without lots or entries fails verify()); no design that keeps a
# ledger entry per order writes less than mode 1, and none that records an
# order and its balance writes less than mode 2.
#
# One throwaway cluster with the accrual benchmark's shape (bench/run.sh:
# program "bench", 10,000 members, orders_tracked and its untracked twin,
# synchronous_commit = off), then BENCH_ROUNDS rounds of
# `pgbench -n -M prepared -c 2 -j 2 -T BENCH_SECONDS` for each side: untracked,
# tracked (mode 0: today), mode 1 and mode 2, rotating which goes first.
# Prints median TPS and pg_stat_statements server time per INSERT, and each
# against the untracked table.
#
# Usage: flock /tmp/loyalty-install.lock bash bench/lotless.sh
#        (BENCH_SECONDS=10 BENCH_ROUNDS=5; about 5 minutes)
# It installs the patched build, and the tree's own build again at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "${1:-}" = --in-cluster ]; then
	. bench/lib.sh
	q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
	pgss_us() {
		q "SELECT round((sum(total_exec_time) / sum(calls) * 1000)::numeric, 1)
		     FROM pg_stat_statements WHERE query LIKE 'INSERT INTO $1 %'"
	}
	run_side() {	# side: plain or a mode; prints "tps us"
		local file=bench/pgbench/insert_tracked.sql table=orders_tracked mode=$1 out tps
		if [ "$1" = plain ]; then
			file=bench/pgbench/insert_plain.sql table=orders_plain mode=0
		fi
		q "VACUUM ANALYZE" >/dev/null
		q "CHECKPOINT" >/dev/null
		q "SELECT pg_stat_statements_reset()" >/dev/null
		out=$(PGOPTIONS="-c lotless.mode=$mode" pgbench -n -M prepared -c 2 -j 2 -T "$BENCH_SECONDS" -f "$file" 2>&1) \
			|| { echo "$out" >&2; exit 1; }
		tps=$(awk '/^tps = / { print $3; exit }' <<<"$out")
		echo "$tps $(pgss_us "$table")"
	}
	q "CREATE EXTENSION loyalty" >/dev/null
	q "CREATE EXTENSION pg_stat_statements" >/dev/null
	bench_orders_sql 10000 | psql -X -q -v ON_ERROR_STOP=1 >/dev/null
	bench_track_sql orders_tracked bench | psql -X -q -v ON_ERROR_STOP=1 >/dev/null
	q "VACUUM ANALYZE" >/dev/null
	for m in 0 1 2; do
		PGOPTIONS="-c lotless.mode=$m" pgbench -n -M prepared -c 2 -j 2 -T 3 \
			-f bench/pgbench/insert_tracked.sql >/dev/null 2>&1
	done
	pgbench -n -M prepared -c 2 -j 2 -T 3 -f bench/pgbench/insert_plain.sql >/dev/null 2>&1
	sides=(plain 0 1 2)
	declare -A tps us
	for r in $(seq 1 "$BENCH_ROUNDS"); do
		for k in 0 1 2 3; do
			s=${sides[$(((k + r) % 4))]}
			read -r t u < <(run_side "$s")
			tps[$s]="${tps[$s]:-} $t" us[$s]="${us[$s]:-} $u"
		done
	done
	# Every side recorded its orders; mode 0 alone wrote a lot for each, and
	# modes 0 and 1 alone an entry: otherwise the patch measured nothing.
	read -r orders lots entries < <(q "SELECT (SELECT count(*) FROM loyalty.order_accrual),
		(SELECT count(*) FROM loyalty.lot), (SELECT count(*) FROM loyalty.ledger WHERE kind = 'earn')" | tr '|' ' ')
	[ "$lots" -gt 0 ] && [ "$lots" -lt "$entries" ] && [ "$entries" -lt "$orders" ] \
		|| { echo "error: orders $orders, lots $lots, entries $entries: the patch did not act" >&2; exit 1; }
	echo "orders recorded: $orders; lots: $lots; earn entries: $entries"
	pt=$(median ${tps[plain]}) pu=$(median ${us[plain]})
	printf '| side | TPS | / untracked | µs per INSERT | / untracked |\n|---|---:|---:|---:|---:|\n'
	for s in plain 0 1 2; do
		case $s in
			plain) name="untracked" ;;
			0) name="tracked (today)" ;;
			1) name="tracked, no lot row" ;;
			2) name="tracked, no lot row, no ledger entry" ;;
		esac
		t=$(median ${tps[$s]}) u=$(median ${us[$s]})
		printf '| %s | %.0f | %.2f | %.1f | %.2f |\n' "$name" "$t" \
			"$(awk -v a="$t" -v b="$pt" 'BEGIN { print a / b }')" "$u" \
			"$(awk -v a="$u" -v b="$pu" 'BEGIN { print a / b }')"
	done
	echo
	for s in plain 0 1 2; do echo "rounds ($s): TPS${tps[$s]}; µs${us[$s]}"; done
	exit 0
fi

. test/lib.sh
export BENCH_SECONDS=${BENCH_SECONDS:-10} BENCH_ROUNDS=${BENCH_ROUNDS:-5}
LOYALTY_PACKAGES+=("postgresql-client-$PG_MAJOR")
ensure_packages
rev=$(git rev-parse --short HEAD)
tree=$(mktemp -d -t loyalty-lotless.XXXXXX)
cleanup() {
	git worktree remove --force "$tree" >/dev/null 2>&1 || rm -rf "$tree"
	echo "== installing this tree's own build again"
	build_and_install >/dev/null
}
trap cleanup EXIT
git worktree add --detach "$tree" HEAD >/dev/null 2>&1
git -C "$tree" apply "$PWD/bench/lotless.patch"
echo "== building $rev with bench/lotless.patch"
make -C "$tree" --no-print-directory PG_CONFIG="$PG_CONFIG" >/dev/null
as_root make -C "$tree" --no-print-directory install PG_CONFIG="$PG_CONFIG" >/dev/null
echo "== measuring ($BENCH_ROUNDS rounds of $BENCH_SECONDS s per side, synchronous_commit = off)"
pg_virtualenv -t -v "$PG_MAJOR" \
	-o shared_preload_libraries=pg_stat_statements -o pg_stat_statements.track=top \
	-o synchronous_commit=off -o fsync=on -o max_wal_size=8GB -o checkpoint_timeout=30min \
	bash bench/lotless.sh --in-cluster </dev/null | grep -v '^Creating\|^Dropping'
