#!/usr/bin/env bash
# loyalty.expire() over many due lots: lots expired per second.  Members each
# earn LOTS_PER_MEMBER lots (one per INSERT statement into a tracked orders
# table) under a rolling one-month expiry, then one expire() as of two months
# later expires them all; a second run must find nothing, and verify() must
# stay empty.  synchronous_commit = off, as in bench/run.sh.
# Usage: bash bench/expiry.sh [MEMBERS [LOTS_PER_MEMBER]]   (default 100000 10)
# EXPIRY_FLOOR=1 first times, and rolls back, the member-level writes alone.
# EXPIRY_PERF=1 records `perf record -a -g` of the expire() run into
# /tmp/expiry-perf.data.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. bench/lib.sh

if [ "${1:-}" = --in-cluster ]; then
	members=$2 per=$3
	bench_program 1
	psql -X -q -v ON_ERROR_STOP=1 -c \
		"SELECT count(loyalty.enroll('bench', c)) FROM generate_series(1, $members) c" >/dev/null
	for r in $(seq 0 $((per - 1))); do
		psql -X -q -v ON_ERROR_STOP=1 -c \
			"INSERT INTO orders SELECT $r::bigint * $members + c, c, 1000000 FROM generate_series(1, $members) c"
	done
	psql -X -q -c "VACUUM ANALYZE" -c "CHECKPOINT"
	due=$(psql -X -At -c "SELECT count(*) FROM loyalty.lot WHERE remaining > 0 AND expires_at <= now() + interval '2 months'")
	if [ "${EXPIRY_FLOOR:-0}" = 1 ]; then
		# The floor of any expiry that does not write each lot: one statement
		# that reads the due lots and writes only what expire() must write per
		# member (account, ledger entry, event), rolled back so that the real
		# run below starts from the same data.
		floor=$(psql -X -At -v ON_ERROR_STOP=1 <<-'FLOOR' | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
			BEGIN;
			\timing on
			WITH due AS (
				SELECT customer_id, program_id, count(*) AS lots, sum(remaining)::bigint AS points
				  FROM loyalty.lot
				 WHERE expires_at <= now() + interval '2 months' AND remaining > 0 AND NOT pending
				 GROUP BY customer_id, program_id
			), acct AS (
				UPDATE loyalty.account a SET available = a.available - d.points,
					   lifetime_expired = a.lifetime_expired + d.points,
					   last_entry_no = a.last_entry_no + 1, updated_at = now()
				  FROM due d
				 WHERE a.customer_id = d.customer_id AND a.program_id = d.program_id
				RETURNING a.customer_id, a.program_id, a.last_entry_no, a.available, a.pending,
						  d.lots, d.points
			), entry AS (
				INSERT INTO loyalty.ledger (customer_id, program_id, entry_no, kind, points,
					pending_points, available_after, pending_after, reason, reference, actor,
					db_role, detail)
				SELECT customer_id, program_id, last_entry_no, 'expire', -points, 0, available,
					   pending, 'points expired', 'floor', 'bench', session_user,
					   jsonb_build_object('lots', lots)
				  FROM acct
			), announced AS (
				INSERT INTO loyalty.event (program_id, customer_id, kind, payload)
				SELECT program_id, customer_id, 'points_expired',
					   jsonb_build_object('points', points, 'lots', lots)
				  FROM acct
			)
			SELECT count(*) FROM acct;
			\timing off
			ROLLBACK;
		FLOOR
		)
		printf 'floor without lot writes (rolled back): %s ms = %d lots/s\n' \
			"$floor" $((due * 1000 / ${floor%.*}))
	fi
	run=(psql -X -At -F ' ' -c "SELECT * FROM loyalty.expire(now() + interval '2 months')")
	if [ "${EXPIRY_PERF:-0}" = 1 ]; then
		run=(perf record -q -a -g -o /tmp/expiry-perf.data -- "${run[@]}")
	fi
	start=$(date +%s%N)
	result=$("${run[@]}")
	end=$(date +%s%N)
	again=$(psql -X -At -F ' ' -c "SELECT * FROM loyalty.expire(now() + interval '2 months')")
	problems=$(psql -X -At -c "SELECT count(*) FROM loyalty.verify()")
	ms=$(((end - start) / 1000000))
	printf '%d members, %d due lots: expire() took %d ms = %d lots/s; returned (members lots points) %s; second run %s; verify() rows %d\n' \
		"$members" "$due" "$ms" $((due * 1000 / (ms > 0 ? ms : 1))) "$result" "$again" "$problems"
	exit 0
fi

. test/lib.sh
prepare_loyalty quiet
pg_virtualenv -t -v 15 -o synchronous_commit=off -o shared_buffers=1GB -o max_wal_size=8GB \
	bash bench/expiry.sh --in-cluster "${1:-100000}" "${2:-10}" 2>/dev/null | grep -E 'due lots|floor'
