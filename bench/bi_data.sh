#!/usr/bin/env bash
# The business views at scale (issue 6): generates MEMBERS members with about
# ENTRIES ledger entries in three programs, checks loyalty.verify() on them,
# then times a typical BI query per view (one member; one program's last 12
# months; top 100), plain and materialized.  See bench/README.md, "Business
# views at scale".
#
# Usage: bash bench/bi_data.sh [MEMBERS [ENTRIES]]   (default 1000000 20000000)
#
# Runs in a throwaway PostgreSQL 15 cluster (pg_virtualenv).  The build and
# CREATE EXTENSION run under /tmp/loyalty-install.lock; the generation and the
# queries run outside it, under nice/ionice.  Inside any cluster (PGHOST etc.
# set, extension not yet created):
#   bash bench/bi_data.sh --in-cluster MEMBERS ENTRIES   generate, verify, time
#   bash bench/bi_data.sh --queries                      time only (existing data)
#
# The data are written straight into the loyalty tables as the data owner
# with set-based INSERT ... SELECT, as the engine would have written them:
# per member a gap-free run of entries (entry_no 1..k) whose available_after
# and pending_after are the running sums; every earning is an order
# (order_accrual row, with a category and an ordered_at spread over 2 years)
# and a lot; every fifth entry takes back the whole lot of the entry three
# before it: a redemption, an expiry (program bi_usd only) or a refund of the
# order (a 'reverse' entry; the order's net amount becomes 0).  Earnings of
# the last 14 days in bi_usd (return_days 14) are still pending.  Half of
# the members enrolled some time after their first order, so the
# effectiveness views have orders before and after enrolling.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

LOCK=/tmp/loyalty-install.lock
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

# Milliseconds of one statement, the best of RUNS (default 3) runs: the
# first warms the cache.
time_query() {
	local label=$1 sql=$2 best= ms i
	for i in $(seq "${RUNS:-3}"); do
		ms=$({ echo '\timing on'; echo "$sql"; } | "${PSQL[@]}" -o /dev/null 2>&1 |
			sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1)
		if [ -z "$best" ] || awk "BEGIN{exit !($ms < $best)}"; then best=$ms; fi
	done
	printf '| %s | %s ms |\n' "$label" "$best"
}

# Whether the materialized view loyalty.$1 exists.
have_matview() {
	[ -n "$(psql -X -At -c "SELECT 1 FROM pg_class WHERE relname = '$1' AND relnamespace = 'loyalty'::regnamespace")" ]
}

# One program's last 12 months, from the plain views ($1 = "") or from
# their materialized versions ($1 = _mv).
program_queries() {
	local mv=$1
	time_query "points_flow$mv: one program, 12 months by month" \
		"SELECT * FROM loyalty.points_flow$mv WHERE program = 'bi_usd' AND granularity = 'month'
		   AND period_start >= date_trunc('month', now()) - interval '11 months'"
	time_query "points_flow$mv: one program, last 30 days by day" \
		"SELECT * FROM loyalty.points_flow$mv WHERE program = 'bi_usd' AND granularity = 'day'
		   AND period_start > current_date - 30"
	time_query "liability$mv: one program" \
		"SELECT * FROM loyalty.liability$mv WHERE program = 'bi_usd'"
	time_query "effectiveness$mv: one program" \
		"SELECT * FROM loyalty.effectiveness$mv WHERE program = 'bi_usd'"
	time_query "retention$mv: one program, last 12 cohorts" \
		"SELECT * FROM loyalty.retention$mv WHERE program = 'bi_usd'
		   AND cohort >= date_trunc('month', now()) - interval '11 months'"
	time_query "tier_distribution$mv: one program" \
		"SELECT * FROM loyalty.tier_distribution$mv WHERE program = 'bi_usd'"
}

run_queries() {
	local member
	member=$(psql -X -At -c "SELECT customer_id FROM loyalty.member
		WHERE program_id = loyalty.program_id('bi_usd') ORDER BY customer_id LIMIT 1 OFFSET 1000")
	echo "| query | time (best of 3) |"
	echo "|---|---|"
	# One member.
	time_query "member_summary: one member" \
		"SELECT * FROM loyalty.member_summary WHERE program = 'bi_usd' AND customer_id = $member"
	time_query "member_effectiveness: one member" \
		"SELECT * FROM loyalty.member_effectiveness WHERE program = 'bi_usd' AND customer_id = $member"
	time_query "category_affinity: one member" \
		"SELECT * FROM loyalty.category_affinity WHERE program = 'bi_usd' AND customer_id = $member"
	time_query "fraud_queue: one member" \
		"SELECT * FROM loyalty.fraud_queue WHERE program = 'bi_usd' AND customer_id = $member"
	program_queries ""
	# Top 100.
	time_query "member_summary: top 100 by available" \
		"SELECT * FROM loyalty.member_summary WHERE program = 'bi_usd' ORDER BY available DESC LIMIT 100"
	time_query "member_effectiveness: top 100 by spend after" \
		"SELECT * FROM loyalty.member_effectiveness WHERE program = 'bi_usd' ORDER BY spend_after DESC LIMIT 100"
	time_query "category_affinity: top 100 categories by spend" \
		"SELECT category, sum(spend) FROM loyalty.category_affinity WHERE program = 'bi_usd'
		  GROUP BY category ORDER BY 2 DESC LIMIT 100"
	time_query "fraud_queue: oldest 100" \
		"SELECT * FROM loyalty.fraud_queue ORDER BY created_at LIMIT 100"
	if have_matview points_flow_mv; then
		run_matview_queries
	fi
}

run_matview_queries() {
	local v
	# One refresh each (they take long; the first is not warmed up).
	for v in points_flow liability effectiveness retention tier_distribution member_effectiveness category_affinity; do
		have_matview "${v}_mv" || continue
		RUNS=1 time_query "refresh_business_views('$v') (concurrently)" \
			"SELECT loyalty.refresh_business_views('$v')"
	done
	program_queries _mv
	if have_matview member_effectiveness_mv; then
		time_query "member_effectiveness_mv: top 100 by spend after" \
			"SELECT * FROM loyalty.member_effectiveness_mv WHERE program = 'bi_usd' ORDER BY spend_after DESC LIMIT 100"
		time_query "category_affinity_mv: top 100 categories by spend" \
			"SELECT category, sum(spend) FROM loyalty.category_affinity_mv WHERE program = 'bi_usd'
			  GROUP BY category ORDER BY 2 DESC LIMIT 100"
		time_query "category_affinity_mv: top 100 members by share of meat" \
			"SELECT * FROM loyalty.category_affinity_mv WHERE program = 'bi_usd' AND category = 'meat'
			  ORDER BY share DESC, spend DESC LIMIT 100"
	fi
}

generate() {
	local members=$1 entries=$2 avg
	avg=$(( (entries + members / 2) / members ))
	[ "$avg" -ge 1 ] || avg=1
	"${PSQL[@]}" <<-SQL
		SELECT count(*) FROM loyalty.create_program('bi_usd', 'BI USD', 'USD', 1, 1, return_days => 14);
		SELECT count(*) FROM loyalty.set_expiry_policy('bi_usd', 'rolling', 24);
		SELECT count(*) FROM loyalty.set_tier('bi_usd', 'silver', 'Silver', 500);
		SELECT count(*) FROM loyalty.set_tier('bi_usd', 'gold', 'Gold', 2000);
		SELECT count(*) FROM loyalty.set_point_value('bi_usd', 0.01);
		SELECT count(*) FROM loyalty.create_program('bi_eur', 'BI EUR', 'EUR', 1, 1, time_zone => 'Europe/Paris');
		SELECT count(*) FROM loyalty.set_tier_policy('bi_eur', 'spend');
		SELECT count(*) FROM loyalty.set_tier('bi_eur', 'plus', 'Plus', 1000);
		SELECT count(*) FROM loyalty.set_point_value('bi_eur', 0.005);
		SELECT count(*) FROM loyalty.create_program('bi_jpy', 'BI JPY', 'JPY', 1, 100, time_zone => 'Asia/Tokyo');
		SELECT count(*) FROM loyalty.set_expiry_policy('bi_jpy', 'inactivity', 24);
		SELECT count(*) FROM loyalty.set_point_value('bi_jpy', 1);
		CREATE TABLE public.orders_usd (id bigint PRIMARY KEY, customer_id bigint, total numeric(14,2), category text, ordered_at timestamptz);
		CREATE TABLE public.orders_eur (LIKE public.orders_usd INCLUDING ALL);
		CREATE TABLE public.orders_jpy (LIKE public.orders_usd INCLUDING ALL);
		SELECT count(*) FROM loyalty.track_orders('orders_usd', 'bi_usd', 'customer_id', 'id', 'total', category_column => 'category', ordered_at_column => 'ordered_at');
		SELECT count(*) FROM loyalty.track_orders('orders_eur', 'bi_eur', 'customer_id', 'id', 'total', category_column => 'category', ordered_at_column => 'ordered_at');
		SELECT count(*) FROM loyalty.track_orders('orders_jpy', 'bi_jpy', 'customer_id', 'id', 'total', category_column => 'category', ordered_at_column => 'ordered_at');
	SQL
	# The generation proper, timed.
	"${PSQL[@]}" <<-SQL
		\timing on
		SET synchronous_commit = off;
		SET work_mem = '512MB';
		SET maintenance_work_mem = '1GB';
		-- Rows as the engine would have written them; its row triggers (the
		-- identity checks on a new account) have nothing to check here.
		SET session_replication_role = replica;
		CREATE UNLOGGED TABLE bi_program AS
		SELECT p.program_id, p.code, s.source_id,
			   CASE p.code WHEN 'bi_jpy' THEN 100 ELSE 1 END AS unit
		  FROM loyalty.program p JOIN loyalty.order_source s USING (program_id);
		-- Members: program, first order, enrolment, number of entries (1 .. 2 avg - 1).
		CREATE UNLOGGED TABLE bi_member AS
		SELECT f.c::bigint AS customer_id, p.program_id, f.first_at,
			   CASE WHEN random() < 0.5 THEN f.first_at
					ELSE f.first_at + (now() - f.first_at) * (random() * 0.5) END AS enrolled_at,
			   1 + floor(random() * (2 * $avg - 1))::integer AS k
		  FROM (SELECT c, now() - interval '730 days' * random() AS first_at
				  FROM generate_series(1, $members) c) f
		  JOIN bi_program p ON p.code = (ARRAY['bi_usd', 'bi_eur', 'bi_jpy'])[1 + f.c % 3];
		-- Entries: see the header of bench/bi_data.sh.
		CREATE UNLOGGED TABLE bi_entry AS
		SELECT s.*, sum(s.points) OVER w AS available_after, sum(s.pending_points) OVER w AS pending_after
		  FROM (SELECT r.*,
					   CASE WHEN r.kind = 'earn' AND r.pend THEN 0
							WHEN r.kind = 'earn' THEN r.amt ELSE -r.lot_amt END AS points,
					   CASE WHEN r.pend THEN r.amt ELSE 0 END AS pending_points
				  FROM (SELECT q.*,
							   q.kind = 'earn' AND q.consumer_kind IS NULL AND q.code = 'bi_usd'
								   AND q.created_at > now() - interval '14 days' AS pend
						  FROM (SELECT e.*,
									   CASE WHEN e.n % 5 = 2 THEN lead(e.kind, 3) OVER w END AS consumer_kind,
									   CASE WHEN e.n % 5 = 2 THEN lead(e.created_at, 3) OVER w END AS consumer_at,
									   CASE WHEN e.n % 5 = 0 THEN lag(e.amt, 3) OVER w END AS lot_amt
								  FROM (SELECT g.*,
											   CASE WHEN g.n % 5 <> 0 THEN 'earn'
													WHEN g.r < 0.55 THEN 'redeem'
													WHEN g.r < 0.80 AND g.code = 'bi_usd' THEN 'expire'
													WHEN g.r < 0.80 THEN 'redeem'
													ELSE 'reverse' END AS kind,
											   greatest(g.ordered_at, g.enrolled_at) AS created_at
										  FROM (SELECT m.customer_id, m.program_id, p.code, p.source_id, p.unit,
													   m.enrolled_at, n::bigint AS n, random() AS r,
													   (5 + floor(random() * 196))::bigint AS amt,
													   (ARRAY['grocery', 'produce', 'meat', 'dairy', 'bakery',
															  'drinks', 'household', 'baby'])[1 + floor(random() * 8)::integer] AS category,
													   m.first_at + (now() - m.first_at) * ((n - 1 + random()) / m.k) AS ordered_at
												  FROM bi_member m
												  JOIN bi_program p USING (program_id)
												 CROSS JOIN generate_series(1, m.k) n) g) e
								WINDOW w AS (PARTITION BY e.customer_id ORDER BY e.n)) q) r) s
		WINDOW w AS (PARTITION BY s.customer_id ORDER BY s.n);

		INSERT INTO loyalty.member (customer_id, program_id, enrolled_at, status_changed_at)
		SELECT customer_id, program_id, enrolled_at, enrolled_at FROM bi_member;

		INSERT INTO loyalty.account (customer_id, program_id, available, pending, lifetime_earned,
			lifetime_redeemed, lifetime_expired, last_entry_no, order_count, last_activity_at,
			tier, tier_since, updated_at)
		SELECT a.customer_id, a.program_id, a.available, a.pending, a.earned, a.redeemed, a.expired,
			   a.last_entry_no, a.orders, a.last_at,
			   CASE WHEN a.code = 'bi_usd' AND a.earned >= 2000 THEN 'gold'
					WHEN a.code = 'bi_usd' AND a.earned >= 500 THEN 'silver'
					WHEN a.code = 'bi_eur' AND a.earned >= 1000 THEN 'plus' END,
			   CASE WHEN a.code <> 'bi_jpy' AND a.earned >= 500 THEN a.last_at END,
			   a.last_at
		  FROM (SELECT e.customer_id, e.program_id, min(e.code) AS code,
					   sum(e.points)::bigint AS available, sum(e.pending_points)::bigint AS pending,
					   coalesce(sum(e.points + e.pending_points) FILTER (WHERE e.kind = 'earn'), 0)::bigint AS earned,
					   coalesce(-sum(e.points) FILTER (WHERE e.kind = 'redeem'), 0)::bigint AS redeemed,
					   coalesce(-sum(e.points) FILTER (WHERE e.kind = 'expire'), 0)::bigint AS expired,
					   max(e.n) AS last_entry_no, count(*) FILTER (WHERE e.kind = 'earn') AS orders,
					   max(e.created_at) AS last_at
				  FROM bi_entry e GROUP BY e.customer_id, e.program_id) a;

		INSERT INTO loyalty.ledger (customer_id, program_id, entry_no, kind, points, pending_points,
			available_after, pending_after, reason, reference, actor, db_role, expires_at, created_at)
		SELECT e.customer_id, e.program_id, e.n, e.kind, e.points, e.pending_points,
			   e.available_after, e.pending_after,
			   CASE e.kind WHEN 'earn' THEN 'order' WHEN 'redeem' THEN 'reward'
					WHEN 'expire' THEN 'points expired' ELSE 'order refunded' END,
			   CASE WHEN e.kind IN ('earn', 'reverse') THEN 'order ' || (e.n - CASE WHEN e.kind = 'reverse' THEN 3 ELSE 0 END) END,
			   'bi_data', current_user,
			   CASE WHEN e.kind = 'earn' AND e.code = 'bi_usd'
					THEN coalesce(e.consumer_at, e.created_at + interval '24 months') END,
			   e.created_at
		  FROM bi_entry e;

		INSERT INTO loyalty.lot (customer_id, program_id, lot_no, points, remaining, pending,
			earned_at, available_at, expires_at, source_id, order_key)
		SELECT e.customer_id, e.program_id, e.n, e.amt,
			   CASE WHEN e.consumer_kind IS NULL THEN e.amt ELSE 0 END, e.pend,
			   e.created_at, CASE WHEN e.pend THEN e.created_at + interval '14 days' END,
			   CASE WHEN e.code = 'bi_usd' THEN coalesce(e.consumer_at, e.created_at + interval '24 months') END,
			   e.source_id, e.n::text
		  FROM bi_entry e WHERE e.kind = 'earn';

		INSERT INTO loyalty.order_accrual (customer_id, program_id, source_id, order_key, state,
			amount, net_amount, points, earned_points, first_purchase, category, ordered_at,
			created_at, updated_at, lot_no)
		SELECT e.customer_id, e.program_id, e.source_id, e.n::text,
			   CASE WHEN e.consumer_kind = 'reverse' THEN 'reversed' ELSE 'active' END,
			   e.amt * e.unit, CASE WHEN e.consumer_kind = 'reverse' THEN 0 ELSE e.amt * e.unit END,
			   CASE WHEN e.consumer_kind = 'reverse' THEN 0 ELSE e.amt END, e.amt,
			   e.n = 1, e.category, e.ordered_at, e.created_at,
			   coalesce(CASE WHEN e.consumer_kind = 'reverse' THEN e.consumer_at END, e.created_at), e.n
		  FROM bi_entry e WHERE e.kind = 'earn';

		RESET session_replication_role;
		DROP TABLE bi_entry, bi_member, bi_program;
		VACUUM ANALYZE;
	SQL
}

if [ "${1:-}" = --generate ]; then
	generate "$2" "$3"
	exit 0
fi

if [ "${1:-}" = --queries ]; then
	run_queries
	exit 0
fi

if [ "${1:-}" = --in-cluster ]; then
	members=$2 entries=$3
	flock -o "$LOCK" bash -c '. test/lib.sh && prepare_loyalty quiet && psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION loyalty"' >/dev/null
	start=$(date +%s)
	nice -n 19 ionice -c3 bash "${BASH_SOURCE[0]}" --generate "$members" "$entries" >/dev/null
	end=$(date +%s)
	read -r n_members n_entries n_lots n_orders <<<"$(psql -X -At -F ' ' -c "SELECT
		(SELECT count(*) FROM loyalty.member), (SELECT count(*) FROM loyalty.ledger),
		(SELECT count(*) FROM loyalty.lot), (SELECT count(*) FROM loyalty.order_accrual)")"
	printf 'generated %d members, %d ledger entries, %d lots, %d orders in %d s\n' \
		"$n_members" "$n_entries" "$n_lots" "$n_orders" $((end - start))
	start=$(date +%s)
	problems=$(nice -n 19 psql -X -At -c "SET work_mem = '512MB'; SELECT count(*) FROM loyalty.verify()" | tail -1)
	end=$(date +%s)
	printf 'verify(): %d rows in %d s\n' "$problems" $((end - start))
	[ "$problems" = 0 ] || { echo "error: loyalty.verify() reports problems" >&2; exit 1; }
	psql -X -At -c "SELECT pg_size_pretty(pg_database_size(current_database()))" | sed 's/^/database size: /'
	nice -n 19 bash "${BASH_SOURCE[0]}" --queries
	exit 0
fi

pg_virtualenv -t -v 15 -o shared_buffers=2GB -o max_wal_size=16GB -o synchronous_commit=off \
	-o checkpoint_timeout=30min \
	bash bench/bi_data.sh --in-cluster "${1:-1000000}" "${2:-20000000}"
