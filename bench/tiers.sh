#!/usr/bin/env bash
# loyalty.evaluate_tiers() over many members: the time of one run.  MEMBERS
# members of a program with three tiers (points basis, rolling 12 months,
# 30 grace days) each place three orders through a tracked orders table,
# dated 0 to 11 months back, which build their qualifying windows and move
# them up at once.  Then four runs, each in a new session as pg_cron would
# start it:
#   1. as of 1 month ahead, a month end: one month of orders leaves the
#      window, some members move down (and a few move up: an order placed
#      before a newer one counted only the months up to its own)
#   2. the same moment again: nobody moves, a pure re-evaluation
#   3. as of 4 months ahead: four months of orders have left, 40% move
#   4. as of 3 years ahead: every member with a tier moves down one
# verify() must stay empty.  synchronous_commit = off, as in bench/run.sh.
#
# With --floor, the same members, but instead of the runs the floor of a run
# that moves N members: after a CHECKPOINT, as a run starts, a bare UPDATE
# of N account rows spread over the table (tier, tier_since, updated_at, by
# ctid) and a bare INSERT of N tier_changed events, each rolled back, for
# the N of runs 1, 3 and 4.  What evaluate_tiers() adds to these is reading
# and deciding (run 2, where nobody moves).
# Usage: bash bench/tiers.sh [--floor] [MEMBERS]   (default 100000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

floor=false
if [ "${1:-}" = --floor ]; then
	floor=true
	shift
fi

if [ "${1:-}" = --in-cluster ]; then
	members=$2
	floor=$3
	psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<-SQL
		CREATE EXTENSION loyalty;
		SELECT count(*) FROM loyalty.create_program('bench', 'Bench', 'VND', 10, 100000);
		SELECT count(*) FROM loyalty.set_tier_policy('bench', 'points', 'rolling', 12, 30);
		SELECT count(*) FROM loyalty.set_tier('bench', 'silver', 'Silver', 3000);
		SELECT count(*) FROM loyalty.set_tier('bench', 'gold', 'Gold', 6000);
		SELECT count(*) FROM loyalty.set_tier('bench', 'platinum', 'Platinum', 10000);
		CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint, total numeric(14,2),
			ordered_at timestamptz NOT NULL);
		SELECT count(*) FROM loyalty.track_orders('orders', 'bench', 'customer_id', 'id', 'total',
			ordered_at_column => 'ordered_at');
		SELECT count(loyalty.enroll('bench', c)) FROM generate_series(1, $members) c;
	SQL
	# Three orders per member of 1 to 50 million VND (100 to 5,000 points),
	# 0 to 11 months old, one INSERT each.
	for r in 0 1 2; do
		psql -X -q -v ON_ERROR_STOP=1 -c \
			"INSERT INTO orders SELECT $r::bigint * $members + c, c,
				((c * 7919 + $r * 104729) % 50 + 1) * 1000000::numeric,
				now() - make_interval(months => ((c * (7 + 6 * $r)) % 12)::int)
			   FROM generate_series(1, $members) c"
	done
	psql -X -q -c "VACUUM ANALYZE" -c "CHECKPOINT"
	tiers=$(psql -X -At -F ' ' -c "SELECT string_agg(coalesce(tier, 'none') || '=' || n, ' ' ORDER BY tier NULLS FIRST)
		FROM (SELECT tier, count(*) n FROM loyalty.account GROUP BY tier) t")
	echo "$members members after their orders: $tiers"
	if [ "$floor" = true ]; then
		for n in $((members * 16333 / 100000)) $((members * 34666 / 100000)) $((members * 88335 / 100000)); do
			psql -X -q -At -v ON_ERROR_STOP=1 <<-SQL | tr '\n' ' ' | sed 's/Timing is on\. //' \
				| sed "s/^/floor of $n moves (UPDATE, INSERT of the events): /"
				CHECKPOINT;
				BEGIN;
				CREATE TEMP TABLE moves ON COMMIT DROP AS
					SELECT ctid AS tid, customer_id, program_id FROM loyalty.account
					 WHERE (customer_id * 7919) % $members < $n ORDER BY customer_id, program_id;
				\timing on
				UPDATE loyalty.account a SET tier = 'silver', tier_since = now(), updated_at = now()
				 WHERE a.ctid = ANY (ARRAY(SELECT tid FROM moves));
				INSERT INTO loyalty.event (program_id, customer_id, kind, payload)
				SELECT program_id, customer_id, 'tier_changed',
					   '{"from": "gold", "to": "silver", "reason": "evaluation"}'::jsonb FROM moves;
				\timing off
				ROLLBACK;
			SQL
			echo
		done
		exit 0
	fi
	run() {
		psql -X -At -F ' ' -v ON_ERROR_STOP=1 <<-SQL | tr '\n' ' ' | sed 's/Timing is on\. //'
			\timing on
			SELECT * FROM loyalty.evaluate_tiers($1);
		SQL
	}
	echo "run 1 (1 month ahead, a month end):           $(run "now() + interval '1 month'")"
	echo "run 2 (the same moment again, nobody moves):  $(run "now() + interval '1 month'")"
	echo "run 3 (4 months ahead, 40% move):             $(run "now() + interval '4 months'")"
	echo "run 4 (3 years ahead, every tier down one):   $(run "now() + interval '3 years'")"
	problems=$(psql -X -At -c "SELECT count(*) FROM loyalty.verify()")
	echo "(members_checked upgraded downgraded, then the time of the call); verify() rows $problems"
	exit 0
fi

. test/lib.sh
prepare_loyalty quiet
pg_virtualenv -t -v 15 -o synchronous_commit=off -o shared_buffers=1GB -o max_wal_size=8GB \
	bash bench/tiers.sh --in-cluster "${1:-100000}" "$floor" 2>/dev/null | grep -E 'members|run|verify|floor'
