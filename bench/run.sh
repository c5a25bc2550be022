#!/usr/bin/env bash
# The accrual benchmark (`make bench`): installs what is missing, builds and
# installs loyalty, then measures in one throwaway PostgreSQL 15 cluster two
# identical orders tables, one tracked by loyalty.track_orders() and one not,
# alternating between them:
#   1. single-row INSERT, pgbench -M prepared, 2 clients: TPS
#   2. server time per INSERT (pg_stat_statements), from the same pgbench runs
#   3. INSERT ... SELECT of 1,000,000 orders into an empty table: time
#   4. loyalty.redeem() TPS, 2 clients
# and prints a table with the ratios and the targets, also written to
# bench/results.md.  With BENCH_FRAUD=1 (the default) a third table,
# orders_fraud, tracked into a second program with every fraud check on
# (thresholds an honest shopper never reaches), takes its turn in 1 to 4 as
# well: the cost of the checks, tracked-with-checks against tracked.  The cluster runs with synchronous_commit = off so that
# WAL flushes at commit do not hide the processing cost.
#
# Environment (defaults in brackets):
#   BENCH_SECONDS [10]        length of one pgbench run
#   BENCH_ROUNDS [5]          pgbench rounds per side (the median is reported)
#   BENCH_BULK_ROWS [1000000] rows per INSERT ... SELECT
#   BENCH_BULK_ROUNDS [3]     INSERT ... SELECT rounds per side
#   BENCH_BULK_TIMEOUT [120]  seconds; a slower INSERT ... SELECT is cancelled,
#                             reported as "> N s" and that side is not run again
#   BENCH_NO_BUILD [0]        1: skip the build, use the installed extension
#   BENCH_PROFILE [0]         1: pg_stat_statements.track = all, and print the
#                             statements the trigger runs after each tracked run
#   BENCH_TRACK [1]           0: track neither table (checks the harness alone,
#                             e.g. while loyalty.track_orders() does not work)
#   BENCH_FRAUD [1]           0: leave out the table with every fraud check on
#   BENCH_SETTINGS []         more server settings, e.g. "shared_buffers=4GB"
#   BENCH_PLPGSQL [1]         0: leave out the PL/pgSQL calibration: a table whose
#                             statement trigger does the same work in PL/pgSQL
#                             (bench/plpgsql.sql)
#   BENCH_FLOOR [1]           0: leave out the floor: an untracked table whose
#                             INSERTs also write one order record per order
#                             in the same statement (no trigger, no loyalty)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. test/lib.sh
. bench/lib.sh

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_ROUNDS=${BENCH_ROUNDS:-5}
BENCH_BULK_ROWS=${BENCH_BULK_ROWS:-1000000}
BENCH_BULK_ROUNDS=${BENCH_BULK_ROUNDS:-3}
BENCH_BULK_TIMEOUT=${BENCH_BULK_TIMEOUT:-120}
BENCH_NO_BUILD=${BENCH_NO_BUILD:-0}
BENCH_TRACK=${BENCH_TRACK:-1}
BENCH_PROFILE=${BENCH_PROFILE:-0}
BENCH_FRAUD=${BENCH_FRAUD:-1}
BENCH_FLOOR=${BENCH_FLOOR:-1}
BENCH_PLPGSQL=${BENCH_PLPGSQL:-1}
export BENCH_PLPGSQL BENCH_SECONDS BENCH_ROUNDS BENCH_BULK_ROWS BENCH_BULK_ROUNDS BENCH_BULK_TIMEOUT BENCH_TRACK BENCH_PROFILE BENCH_FRAUD BENCH_FLOOR

# The pgbench scripts draw customers from random(1, 10000).
CUSTOMERS=10000
# A short unmeasured pgbench run per side before the measured rounds, and an
# unmeasured INSERT ... SELECT of this many rows per side before the bulk rounds.
WARMUP_SECONDS=3
WARMUP_BULK_ROWS=10000
# Server settings of the measurement; printed with the results.
PG_SETTINGS=(
	shared_preload_libraries=pg_stat_statements
	pg_stat_statements.track=top
	synchronous_commit=off
	fsync=on
	max_wal_size=8GB
	checkpoint_timeout=30min
)
# BENCH_SETTINGS: more server settings, space-separated (name=value ...).
read -r -a extra_settings <<<"${BENCH_SETTINGS:-}"
PG_SETTINGS+=("${extra_settings[@]}")

# Prints an error and exits.
die() {
	echo "error: $*" >&2
	exit 1
}

# Runs one SQL command in the bench database; prints the bare result.
q() {
	psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"
}

# Runs SQL from stdin in the bench database, quietly.
q_script() {
	psql -X -q -At -v ON_ERROR_STOP=1 -f -
}

# $1 / $2 with two decimals.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f\n", a / b }'
}

# Formats a number with $2 decimals.
fmt() {
	awk -v a="$1" -v d="$2" 'BEGIN { printf "%.*f\n", d, a }'
}

# $1 with thousands separators: 1000000 -> 1,000,000.
group() {
	sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta' <<<"$1"
}

# PASS or MISS: is $1 $2 $3 (op is <= or >=)?
verdict() {
	awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
		ok = (op == "<=") ? (a <= b) : (a >= b)
		print ok ? "PASS" : "MISS" }'
}

# Runs pgbench with script $1 for $2 seconds, 2 clients, prepared statements;
# prints the TPS.  Fails, showing pgbench's output, if any transaction failed.
pgbench_tps() {
	local out tps failed
	out=$(pgbench -n -M prepared -c 2 -j 2 -T "$2" -f "$1" 2>&1) \
		|| { echo "$out" >&2; die "pgbench -f $1 failed"; }
	tps=$(awk '/^tps = / { print $3; exit }' <<<"$out")
	failed=$(awk '/^number of failed transactions:/ { print $5; exit }' <<<"$out")
	[ -n "$tps" ] || { echo "$out" >&2; die "no TPS in the output of pgbench -f $1"; }
	[ "${failed:-0}" = 0 ] || { echo "$out" >&2; die "pgbench -f $1: $failed failed transactions"; }
	echo "$tps"
}

# Mean server time in microseconds of the statements starting with $1 since the
# last pg_stat_statements_reset().  With pg_stat_statements.track = top an
# INSERT's time includes its AFTER STATEMENT triggers (they run in
# ExecutorFinish, inside the statement's timing); see probe_trigger_timing.
pgss_mean_us() {
	q "SELECT coalesce(round((sum(total_exec_time) / nullif(sum(calls), 0) * 1000)::numeric, 1), 0)
	     FROM pg_stat_statements
	    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
	      AND query LIKE '$1%'"
}

# BENCH_PROFILE=1: the statements that took the most time since the last
# reset, nested ones included (pg_stat_statements.track = all).
print_top_statements() {
	psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 -c "
		SELECT format('      %8s calls %9s us/call %5s%%  %s', calls,
		              round((mean_exec_time * 1000)::numeric, 1),
		              round((100 * total_exec_time / sum(total_exec_time) FILTER (WHERE toplevel) OVER ())::numeric, 1),
		              left(regexp_replace(query, '\s+', ' ', 'g'), 90))
		  FROM pg_stat_statements
		 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		   AND calls >= 100
		 ORDER BY total_exec_time DESC LIMIT 8"
}

# Checks that pg_stat_statements counts an AFTER STATEMENT trigger's time in
# the INSERT that fires it: a 200 ms sleep in the trigger must show up.
# Prints the measured mean in ms.
probe_trigger_timing() {
	local ms
	q_script >/dev/null <<-'SQL'
		CREATE TABLE trigger_probe (x int);
		CREATE FUNCTION trigger_probe_sleep() RETURNS trigger LANGUAGE plpgsql
		AS $$BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END$$;
		CREATE TRIGGER trigger_probe AFTER INSERT ON trigger_probe
			REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION trigger_probe_sleep();
		SELECT pg_stat_statements_reset();
		INSERT INTO trigger_probe VALUES (1);
	SQL
	ms=$(q "SELECT round(mean_exec_time::numeric, 1) FROM pg_stat_statements
	         WHERE query LIKE 'INSERT INTO trigger_probe%'")
	q "DROP TABLE trigger_probe; DROP FUNCTION trigger_probe_sleep()"
	[ -n "$ms" ] || die "pg_stat_statements did not record the probe INSERT"
	[ "$(verdict "$ms" '>=' 200)" = PASS ] \
		|| die "pg_stat_statements timed the probe INSERT at $ms ms, without its 200 ms trigger"
	echo "$ms"
}

# Creates the two orders tables, the program and its members; tracks
# orders_tracked when $1 = 1.
setup() {
	bench_orders_sql "$CUSTOMERS" | q_script >/dev/null
	q_script >/dev/null <<-SQL
		CREATE TABLE orders_fraud (LIKE orders_tracked INCLUDING ALL);
		-- The floor: orders_floor's INSERTs also write one row per order into
		-- floor_record, shaped and keyed like loyalty.order_accrual, in the
		-- same statement (bench/pgbench/insert_floor.sql, bulk_insert).  No CHECK
		-- constraints: PostgreSQL parses those from text per statement, which the
		-- order path does not (it compiles them once per backend).
		CREATE TABLE orders_floor (LIKE orders_tracked INCLUDING ALL);
		CREATE TABLE floor_record (LIKE loyalty.order_accrual INCLUDING DEFAULTS INCLUDING INDEXES);
	SQL
	if [ "$BENCH_FRAUD" = 1 ]; then
		# The same program with every fraud check of the order and redemption
		# paths on, at thresholds this traffic does not reach (each member
		# places about one order a second: the velocity window is a minute,
		# the redemption count an hour), and the identity checks (which run
		# on profile changes, not here).
		q_script >/dev/null <<-SQL
			SELECT code FROM loyalty.create_program('bench_fraud', 'Benchmark with fraud checks',
				'VND', 10, 100000, return_days => 0);
			SELECT count(loyalty.enroll('bench_fraud', c)) FROM generate_series(1, $CUSTOMERS) c;
			UPDATE loyalty.member SET enrolled_at = now() - interval '1 year'
			 WHERE program_id = loyalty.program_id('bench_fraud');
			SELECT loyalty.set_fraud_check('bench_fraud', 'order_velocity', 'hold', 254, within => '1 minute');
			SELECT loyalty.set_fraud_check('bench_fraud', 'points_per_day', 'hold', 2000000000);
			SELECT loyalty.set_fraud_check('bench_fraud', 'duplicate_order', 'flag', 7, within => '1 minute');
			SELECT loyalty.set_fraud_check('bench_fraud', 'redemptions_per_day', 'reject', 254, within => '1 hour');
			SELECT loyalty.set_fraud_check('bench_fraud', 'redeemed_points_per_day', 'reject', 2000000000);
			SELECT loyalty.set_fraud_check('bench_fraud', 'account_takeover', 'reject', within => '1 minute');
			SELECT loyalty.set_fraud_check('bench_fraud', 'return_farming', 'flag');
			SELECT loyalty.set_fraud_check('bench_fraud', 'refund_after_redeem', 'flag');
			SELECT loyalty.set_fraud_check('bench_fraud', 'shared_identity', 'flag');
			SELECT loyalty.set_fraud_check('bench_fraud', 'self_referral', 'flag');
		SQL
	fi
	if [ "$1" = 1 ]; then
		bench_track_sql orders_tracked bench | q_script >/dev/null
		[ "$BENCH_FRAUD" != 1 ] || bench_track_sql orders_fraud bench_fraud | q_script >/dev/null
	fi
	[ "$BENCH_PLPGSQL" != 1 ] || q_script >/dev/null <bench/plpgsql.sql
	q "VACUUM ANALYZE"
}

# Before each measured run: vacuum and checkpoint, so that neither side pays
# for the other's leftovers.
settle() {
	q "VACUUM ANALYZE" >/dev/null
	q "CHECKPOINT" >/dev/null
}

# Every side, in the order of the report.
all_sides() {
	local sides="tracked plain"
	[ "$BENCH_FRAUD" != 1 ] || sides="$sides fraud"
	[ "$BENCH_FLOOR" != 1 ] || sides="$sides floor"
	[ "$BENCH_PLPGSQL" != 1 ] || sides="$sides plpgsql"
	echo "$sides"
}

# Side names in run order for round $1: the sides rotate, so each goes first
# in turn (with two sides: odd rounds tracked first, even rounds untracked).
round_order() {
	local sides=($(all_sides)) n i out=()
	n=${#sides[@]}
	for i in $(seq 0 $((n - 1))); do
		out+=("${sides[$(((i + $1 - 1) % n))]}")
	done
	echo "${out[*]}"
}

# 1 and 2: single-row INSERTs, alternating, BENCH_ROUNDS rounds per side.
# Sets the globals ins_tps_<side>[] and ins_us_<side>[].
measure_inserts() {
	local r side tps us
	echo "== 1, 2: single-row INSERT, pgbench -M prepared -c 2 -j 2 -T $BENCH_SECONDS, $BENCH_ROUNDS rounds per side"
	for side in $(all_sides); do
		pgbench_tps "bench/pgbench/insert_$side.sql" "$WARMUP_SECONDS" >/dev/null
	done
	ins_tps_tracked=() ins_tps_plain=() ins_us_tracked=() ins_us_plain=()
	ins_tps_fraud=() ins_us_fraud=() ins_tps_floor=() ins_us_floor=()
	ins_tps_plpgsql=() ins_us_plpgsql=()
	for r in $(seq "$BENCH_ROUNDS"); do
		for side in $(round_order "$r"); do
			settle
			q "SELECT pg_stat_statements_reset()" >/dev/null
			tps=$(pgbench_tps "bench/pgbench/insert_$side.sql" "$BENCH_SECONDS")
			if [ "$side" = floor ]; then
				us=$(pgss_mean_us "WITH o AS (INSERT INTO orders_floor ")
			else
				us=$(pgss_mean_us "INSERT INTO orders_$side ")
			fi
			tps=$(fmt "$tps" 1)
			printf '   round %d  %-7s  %10.1f TPS  %8.1f us/INSERT (server)\n' "$r" "$side" "$tps" "$us"
			[ "$BENCH_PROFILE" != 1 ] || print_top_statements
			eval "ins_tps_$side+=(\"\$tps\")"
			eval "ins_us_$side+=(\"\$us\")"
		done
	done
}

# Times one INSERT ... SELECT of $2 orders into the empty table orders_$1;
# prints the time in seconds, or "timeout" when it ran longer than
# BENCH_BULK_TIMEOUT (the statement is cancelled and rolled back).  Both sides
# get the same customers and amounts (a fixed formula of the row number) and
# fresh order ids.
bulk_insert() {
	local rows=$2 base out rc=0
	local sql
	q "TRUNCATE orders_tracked, orders_plain, orders_fraud, orders_floor$([ "$BENCH_PLPGSQL" != 1 ] || echo ', orders_plpgsql')"
	settle
	base=$(q "SELECT nextval('bench_ids')")
	q "SELECT setval('bench_ids', $base + $rows)" >/dev/null
	sql="INSERT INTO orders_$1 (id, customer_id, total)
		SELECT $base + g, 1 + (g * 7919) % $CUSTOMERS, 10000 + (g * 104729) % 1990001
		  FROM generate_series(1::bigint, $rows) g"
	# The floor: the same rows, and one order record each (as insert_floor.sql).
	[ "$1" != floor ] || sql="WITH o AS ($sql RETURNING id, customer_id, total, created_at)
		INSERT INTO floor_record (customer_id, program_id, source_id, order_key, state, amount,
		                          net_amount, points, earned_points, first_purchase, ordered_at)
		SELECT customer_id, 1, 1, id::text, 'active', total, total, (total / 10000)::bigint,
		       (total / 10000)::bigint, false, created_at
		  FROM o"
	out=$(PGOPTIONS="-c statement_timeout=${BENCH_BULK_TIMEOUT}s" \
		psql -X -v ON_ERROR_STOP=1 -c '\timing on' -c "$sql" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ]; then
		if grep -q 'statement timeout' <<<"$out"; then
			echo timeout
			return 0
		fi
		echo "$out" >&2
		die "the INSERT ... SELECT into orders_$1 failed"
	fi
	awk '/^Time: / { t = $2 } END { if (t == "") exit 1; printf "%.3f\n", t / 1000 }' <<<"$out" \
		|| die "no time from the INSERT ... SELECT into orders_$1"
}

# Prints a bulk time for the console: "12.34 s" or "> N s (stopped)".
bulk_label() {
	if [ "$1" = timeout ]; then echo "> $BENCH_BULK_TIMEOUT s (stopped)"; else echo "$(fmt "$1" 2) s"; fi
}

# 3: INSERT ... SELECT, alternating, BENCH_BULK_ROUNDS rounds per side, after
# an unmeasured warm-up; a side that hits BENCH_BULK_TIMEOUT is not run again.
# Sets the globals bulk_s_<side>[] and bulk_warm_<side>.
measure_bulk() {
	local r side s before after added
	local -A stopped=()
	echo "== 3: INSERT ... SELECT of $BENCH_BULK_ROWS orders into an empty table, $BENCH_BULK_ROUNDS rounds per side"
	bulk_warm_tracked=$(bulk_insert tracked "$WARMUP_BULK_ROWS")
	bulk_warm_plain=$(bulk_insert plain "$WARMUP_BULK_ROWS")
	bulk_warm_fraud=n/a
	[ "$BENCH_FRAUD" != 1 ] || bulk_warm_fraud=$(bulk_insert fraud "$WARMUP_BULK_ROWS")
	bulk_warm_floor=n/a
	[ "$BENCH_FLOOR" != 1 ] || bulk_warm_floor=$(bulk_insert floor "$WARMUP_BULK_ROWS")
	bulk_warm_plpgsql=n/a
	[ "$BENCH_PLPGSQL" != 1 ] || bulk_warm_plpgsql=$(bulk_insert plpgsql "$WARMUP_BULK_ROWS")
	echo "   warm-up of $WARMUP_BULK_ROWS rows: tracked $(bulk_label "$bulk_warm_tracked"), untracked $(bulk_label "$bulk_warm_plain"), with fraud checks $(bulk_label "$bulk_warm_fraud")"
	bulk_s_tracked=() bulk_s_plain=() bulk_s_fraud=() bulk_s_floor=() bulk_s_plpgsql=()
	for r in $(seq "$BENCH_BULK_ROUNDS"); do
		for side in $(round_order "$r"); do
			[ -z "${stopped[$side]:-}" ] || continue
			before=$(q "SELECT count(*) FROM loyalty.order_accrual")
			s=$(bulk_insert "$side" "$BENCH_BULK_ROWS")
			after=$(q "SELECT count(*) FROM loyalty.order_accrual")
			added=$((after - before))
			printf '   round %d  %-7s  %s   (order_accrual rows +%d)\n' "$r" "$side" \
				"$(bulk_label "$s")" "$added"
			if [ "$s" = timeout ]; then
				stopped[$side]=1
				echo "   (orders_$side is not run again: one run already took longer than BENCH_BULK_TIMEOUT=$BENCH_BULK_TIMEOUT s)"
			elif [ "$side" != plain ] && [ "$side" != floor ] && [ "$side" != plpgsql ] && [ "$tracking" = 1 ] && [ "$added" -eq 0 ]; then
				die "the tracked INSERT ... SELECT recorded no order in loyalty.order_accrual"
			fi
			eval "bulk_s_$side+=(\"\$s\")"
		done
	done
}

# Median of a side's bulk times, or "timeout" when a round timed out (the
# side is then at least that slow).
bulk_median() {
	local v
	for v in "$@"; do
		if [ "$v" = timeout ]; then
			echo timeout
			return 0
		fi
	done
	median "$@"
}

# 4: redeem TPS with 2 clients after giving every member plenty of points.
# Sets the globals redeem_tps[] and redeem_us[].
measure_redeem() {
	local r tps us
	echo "== 4: loyalty.redeem(), pgbench -M prepared -c 2 -j 2 -T $BENCH_SECONDS, $BENCH_ROUNDS rounds"
	q "SELECT count(loyalty.earn('bench', c, 1000000, 'benchmark stock'))
	     FROM generate_series(1, $CUSTOMERS) c" >/dev/null
	[ "$BENCH_FRAUD" != 1 ] || q "SELECT count(loyalty.earn('bench_fraud', c, 1000000, 'benchmark stock'))
	     FROM generate_series(1, $CUSTOMERS) c" >/dev/null
	q "VACUUM ANALYZE" >/dev/null
	pgbench_tps bench/pgbench/redeem.sql "$WARMUP_SECONDS" >/dev/null
	[ "$BENCH_FRAUD" != 1 ] || pgbench_tps bench/pgbench/redeem_fraud.sql "$WARMUP_SECONDS" >/dev/null
	redeem_tps=() redeem_us=() redeem_fraud_tps=() redeem_fraud_us=()
	for r in $(seq "$BENCH_ROUNDS"); do
		settle
		q "SELECT pg_stat_statements_reset()" >/dev/null
		tps=$(pgbench_tps bench/pgbench/redeem.sql "$BENCH_SECONDS")
		us=$(pgss_mean_us "SELECT loyalty.redeem(")
		tps=$(fmt "$tps" 1)
		printf '   round %d  redeem   %10.1f TPS  %8.1f us/redeem (server)\n' "$r" "$tps" "$us"
		[ "$BENCH_PROFILE" != 1 ] || print_top_statements
		redeem_tps+=("$tps")
		redeem_us+=("$us")
		[ "$BENCH_FRAUD" = 1 ] || continue
		settle
		q "SELECT pg_stat_statements_reset()" >/dev/null
		tps=$(pgbench_tps bench/pgbench/redeem_fraud.sql "$BENCH_SECONDS")
		us=$(pgss_mean_us "SELECT loyalty.redeem(")
		tps=$(fmt "$tps" 1)
		printf '   round %d  redeem, fraud checks %10.1f TPS  %8.1f us/redeem (server)\n' "$r" "$tps" "$us"
		redeem_fraud_tps+=("$tps")
		redeem_fraud_us+=("$us")
	done
}

# Writes the results table (markdown) to stdout.
report() {
	local t_tps p_tps t_us p_us t_bulk p_bulk r1 r2 r3 v3 t_cell p_cell note='' est=''
	t_tps=$(median "${ins_tps_tracked[@]}") p_tps=$(median "${ins_tps_plain[@]}")
	t_us=$(median "${ins_us_tracked[@]}") p_us=$(median "${ins_us_plain[@]}")
	t_bulk=$(bulk_median "${bulk_s_tracked[@]}") p_bulk=$(bulk_median "${bulk_s_plain[@]}")
	r1=$(ratio "$t_tps" "$p_tps") r2=$(ratio "$t_us" "$p_us")
	t_cell=$(bulk_label "$t_bulk") p_cell=$(bulk_label "$p_bulk")
	if [ "$p_bulk" = timeout ]; then
		r3=n/a v3=n/a
	elif [ "$t_bulk" = timeout ]; then
		r3="> $(ratio "$BENCH_BULK_TIMEOUT" "$p_bulk")" v3=MISS
		if [ "$bulk_warm_tracked" != timeout ]; then
			est=$(awk -v w="$bulk_warm_tracked" -v wr="$WARMUP_BULK_ROWS" -v n="$BENCH_BULK_ROWS" \
				-v p="$p_bulk" -v t="$BENCH_BULK_TIMEOUT" 'BEGIN {
				us = w / wr * 1e6; s = us * n / 1e6
				printf "\n\nThe tracked INSERT ... SELECT was stopped after %d s. At the rate of its\n", t
				printf "%d-row warm-up (%.0f µs per order), %d orders would take about %.0f s,\n", wr, us, n, s
				printf "%.0f times the untracked time (an estimate, not a measurement; per order, longer runs were slower).", s / p }')
		fi
	else
		r3=$(ratio "$t_bulk" "$p_bulk") v3=$(verdict "$r3" '<=' 2.5)
	fi
	if [ "$tracking" != 1 ]; then
		note=" **(harness check only: BENCH_TRACK=0, neither table was tracked)**"
	fi

	cat <<-EOF
		# Accrual benchmark results

		Generated by \`make bench\` (bench/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'),
		revision $revision.$note

		| # | measure | tracked | untracked | tracked / untracked | target | result |
		|---|---|---:|---:|---:|---|---|
		| 1 | single-row INSERT, pgbench -M prepared, 2 clients: TPS | $(fmt "$t_tps" 0) | $(fmt "$p_tps" 0) | $r1 | at least 0.6 (PL/pgSQL: 0.38) | $(verdict "$r1" '>=' 0.6) |
		| 2 | server time per INSERT (pg_stat_statements mean_exec_time) | $(fmt "$t_us" 1) µs | $(fmt "$p_us" 1) µs | $r2 | at most 2.0 (PL/pgSQL: 5.0) | $(verdict "$r2" '<=' 2.0) |
		| 3 | INSERT ... SELECT of $(group "$BENCH_BULK_ROWS") orders: time | $t_cell | $p_cell | $r3 | at most 2.5 | $v3 |
		| 4 | loyalty.redeem(), 2 clients: TPS | $(fmt "$(median "${redeem_tps[@]}")" 0) | | | none | $(fmt "$(median "${redeem_us[@]}")" 1) µs server time per call |$est

		Figures are medians of the rounds; rounds rotate the tables, so that each
		goes first in turn (with two: odd rounds run the tracked table first, even
		rounds the untracked one), and
		every measured run starts after VACUUM ANALYZE and CHECKPOINT.
		Both tables have the same shape and indexes; \`orders_tracked\` is tracked by
		\`loyalty.track_orders()\` with its currency, channel, status and created_at
		columns, program \`bench\` (10 points per 100,000 VND, return_days 0),
		$CUSTOMERS members enrolled beforehand, each order from a random member.

		Per round:

		| measure | tracked | untracked |
		|---|---|---|
		| 1 TPS | ${ins_tps_tracked[*]} | ${ins_tps_plain[*]} |
		| 2 µs per INSERT | ${ins_us_tracked[*]} | ${ins_us_plain[*]} |
		| 3 seconds | ${bulk_s_tracked[*]} | ${bulk_s_plain[*]} |
		| 3 warm-up of $(group "$WARMUP_BULK_ROWS") rows, seconds | $bulk_warm_tracked | $bulk_warm_plain |
		| 4 redeem TPS | ${redeem_tps[*]} | |
		| 4 µs per redeem | ${redeem_us[*]} | |

		## How it was measured

		- **synchronous_commit = off** for the whole run, so that WAL flushes at
		  commit do not hide the processing cost (fsync stays on: WAL and data are
		  still written and flushed in the background).
		- 1 and 2 come from the same runs: \`pgbench -n -M prepared -c 2 -j 2 -T $BENCH_SECONDS\`,
		  $BENCH_ROUNDS rounds per table after a ${WARMUP_SECONDS} s warm-up, each inserting one order
		  (\`bench/pgbench/insert_*.sql\`); pg_stat_statements is reset before each run.
		- 2 is \`total_exec_time / calls\` of the INSERT in pg_stat_statements with
		  \`pg_stat_statements.track = top\`. That time includes the AFTER STATEMENT
		  trigger that does the accrual (PostgreSQL runs it in ExecutorFinish, inside
		  the statement's timing); the run checks this with a probe INSERT whose
		  trigger sleeps 200 ms: it measured $probe_ms ms.
		- 3 is the client-side time (psql \`\\timing\`) of one
		  \`INSERT INTO orders_x (id, customer_id, total) SELECT ... FROM generate_series(1, $BENCH_BULK_ROWS)\`
		  into an empty table (TRUNCATE before each), $BENCH_BULK_ROUNDS rounds per table after
		  an unmeasured warm-up of $(group "$WARMUP_BULK_ROWS") rows each; the loyalty tables
		  keep growing, as they would. A run longer than $BENCH_BULK_TIMEOUT s is cancelled
		  (statement_timeout), reported as "> $BENCH_BULK_TIMEOUT s" and not repeated.
		- 4 is \`pgbench -M prepared -c 2 -j 2 -T $BENCH_SECONDS\` of
		  \`SELECT loyalty.redeem('bench', random member, 1)\` after giving every member
		  1,000,000 points, $BENCH_ROUNDS rounds.

		## Machine and settings

		| | |
		|---|---|
		| CPUs (nproc) | $(nproc) |
		| CPU model | $cpu_model |
		| memory | $mem_total |
		| PostgreSQL | $pg_version |
		| settings | $pg_settings |
		| client | pgbench and psql on the same machine, over TCP to localhost |
	EOF
}

# With BENCH_FRAUD=1: the section of the report on the table tracked with
# every fraud check on, against the tracked table without checks (and the
# untracked one, whose ratios are the accrual targets).
report_fraud() {
	local f_tps t_tps p_tps f_us t_us p_us f_bulk t_bulk p_bulk f_r t_r rb1 rb3 vb3
	f_tps=$(median "${ins_tps_fraud[@]}") t_tps=$(median "${ins_tps_tracked[@]}") p_tps=$(median "${ins_tps_plain[@]}")
	f_us=$(median "${ins_us_fraud[@]}") t_us=$(median "${ins_us_tracked[@]}") p_us=$(median "${ins_us_plain[@]}")
	f_bulk=$(bulk_median "${bulk_s_fraud[@]}") t_bulk=$(bulk_median "${bulk_s_tracked[@]}")
	p_bulk=$(bulk_median "${bulk_s_plain[@]}")
	f_r=$(median "${redeem_fraud_tps[@]}") t_r=$(median "${redeem_tps[@]}")
	if [ "$f_bulk" = timeout ] || [ "$t_bulk" = timeout ] || [ "$p_bulk" = timeout ]; then
		rb1=n/a rb3=n/a vb3=n/a
	else
		rb1=$(ratio "$f_bulk" "$t_bulk") rb3=$(ratio "$f_bulk" "$p_bulk") vb3=$(verdict "$rb3" '<=' 2.5)
	fi
	cat <<-EOF

		## With every fraud check on

		\`orders_fraud\` is tracked like \`orders_tracked\`, into program \`bench_fraud\`
		with every check of the order and redemption paths on (order_velocity,
		points_per_day, duplicate_order, redemptions_per_day,
		redeemed_points_per_day, account_takeover, return_farming,
		refund_after_redeem) and the identity checks, at thresholds honest
		traffic does not reach: the cost of the checks themselves and of keeping
		each member's fraud state. Flags raised during the run: $fraud_flags.

		| # | measure | tracked, all checks | tracked, no checks | checks / no checks | all checks / untracked | accrual target | result |
		|---|---|---:|---:|---:|---:|---|---|
		| 1 | single-row INSERT: TPS | $(fmt "$f_tps" 0) | $(fmt "$t_tps" 0) | $(ratio "$f_tps" "$t_tps") | $(ratio "$f_tps" "$p_tps") | at least 0.6 | $(verdict "$(ratio "$f_tps" "$p_tps")" '>=' 0.6) |
		| 2 | server time per INSERT | $(fmt "$f_us" 1) µs | $(fmt "$t_us" 1) µs | $(ratio "$f_us" "$t_us") | $(ratio "$f_us" "$p_us") | at most 2.0 | $(verdict "$(ratio "$f_us" "$p_us")" '<=' 2.0) |
		| 3 | INSERT ... SELECT of $(group "$BENCH_BULK_ROWS") orders | $(bulk_label "$f_bulk") | $(bulk_label "$t_bulk") | $rb1 | $rb3 | at most 2.5 | $vb3 |
		| 4 | loyalty.redeem(): TPS | $(fmt "$f_r" 0) | $(fmt "$t_r" 0) | $(ratio "$f_r" "$t_r") | | none | $(fmt "$(median "${redeem_fraud_us[@]}")" 1) µs server time per call |

		Per round (all checks): TPS ${ins_tps_fraud[*]}; µs per INSERT ${ins_us_fraud[*]};
		INSERT ... SELECT seconds ${bulk_s_fraud[*]} (warm-up $bulk_warm_fraud);
		redeem TPS ${redeem_fraud_tps[*]}; µs per redeem ${redeem_fraud_us[*]}.
		Rounds rotate the tables (tracked, untracked, all checks, floor, PL/pgSQL).
	EOF
}

# With BENCH_FLOOR=1: the floor section of the report.  orders_floor is not
# tracked: its INSERT statements also write one row per order into
# floor_record, shaped and keyed like loyalty.order_accrual, in the same
# statement.  Recording each order once is the least any accrual must write
# ("the same order never earns twice" needs the order key on record), before
# any balance, lot or ledger entry, and without a trigger: no implementation
# can cost less than this, so the floor's ratios bound what the targets can ask.
report_floor() {
	local f_tps p_tps t_tps f_us p_us t_us f_bulk p_bulk t_bulk r1 r2 r3
	f_tps=$(median "${ins_tps_floor[@]}") p_tps=$(median "${ins_tps_plain[@]}") t_tps=$(median "${ins_tps_tracked[@]}")
	f_us=$(median "${ins_us_floor[@]}") p_us=$(median "${ins_us_plain[@]}") t_us=$(median "${ins_us_tracked[@]}")
	f_bulk=$(bulk_median "${bulk_s_floor[@]}") p_bulk=$(bulk_median "${bulk_s_plain[@]}")
	t_bulk=$(bulk_median "${bulk_s_tracked[@]}")
	r1=$(ratio "$f_tps" "$p_tps") r2=$(ratio "$f_us" "$p_us")
	if [ "$f_bulk" = timeout ] || [ "$p_bulk" = timeout ]; then r3=n/a; else r3=$(ratio "$f_bulk" "$p_bulk"); fi
	cat <<-EOF

		## The floor: one order record per order, no trigger

		\`orders_floor\` is not tracked. Each of its INSERT statements also writes,
		in the same statement (\`WITH o AS (INSERT ... RETURNING ...) INSERT INTO
		floor_record ...\`), one row per order into \`floor_record\`, a table shaped
		and keyed like \`loyalty.order_accrual\`. Keeping each order key on record
		is the least any accrual must write, since the same order must never
		earn twice; this floor has no trigger, no member lookup, no balance, no
		lot and no ledger entry. No implementation of the accrual issue can cost
		less than this, so where the floor's ratio misses a target, that
		target cannot be met on this machine by any design that records orders.

		| # | measure | floor | untracked | tracked | floor / untracked | target |
		|---|---|---:|---:|---:|---:|---|
		| 1 | single-row INSERT: TPS | $(fmt "$f_tps" 0) | $(fmt "$p_tps" 0) | $(fmt "$t_tps" 0) | $r1 | at least 0.6 |
		| 2 | server time per INSERT | $(fmt "$f_us" 1) µs | $(fmt "$p_us" 1) µs | $(fmt "$t_us" 1) µs | $r2 | at most 2.0 |
		| 3 | INSERT ... SELECT of $(group "$BENCH_BULK_ROWS") orders | $(bulk_label "$f_bulk") | $(bulk_label "$p_bulk") | $(bulk_label "$t_bulk") | $r3 | at most 2.5 |

		Per round (floor): TPS ${ins_tps_floor[*]}; µs per INSERT ${ins_us_floor[*]};
		INSERT ... SELECT seconds ${bulk_s_floor[*]} (warm-up $bulk_warm_floor).
	EOF
}

# With BENCH_PLPGSQL=1: the calibration section.  orders_plpgsql's statement
# trigger (bench/plpgsql.sql) does in PL/pgSQL, set-based, what the C trigger
# writes for program bench, and less (no rules lookup, no tier window): a
# lower bound of what a careful PL/pgSQL implementation costs on this machine,
# to set beside the PL/pgSQL figures the targets quote from another machine.
report_plpgsql() {
	local l_tps p_tps t_tps l_us p_us t_us l_bulk p_bulk t_bulk r3 c3
	l_tps=$(median "${ins_tps_plpgsql[@]}") p_tps=$(median "${ins_tps_plain[@]}") t_tps=$(median "${ins_tps_tracked[@]}")
	l_us=$(median "${ins_us_plpgsql[@]}") p_us=$(median "${ins_us_plain[@]}") t_us=$(median "${ins_us_tracked[@]}")
	l_bulk=$(bulk_median "${bulk_s_plpgsql[@]}") p_bulk=$(bulk_median "${bulk_s_plain[@]}")
	t_bulk=$(bulk_median "${bulk_s_tracked[@]}")
	if [ "$l_bulk" = timeout ] || [ "$p_bulk" = timeout ]; then r3=n/a; else r3=$(ratio "$l_bulk" "$p_bulk"); fi
	if [ "$l_bulk" = timeout ] || [ "$t_bulk" = timeout ]; then c3=n/a; else c3=$(ratio "$t_bulk" "$l_bulk"); fi
	cat <<-EOF

		## Calibration: the same work in PL/pgSQL

		\`orders_plpgsql\` has a PL/pgSQL AFTER INSERT statement trigger
		(\`bench/plpgsql.sql\`) that writes what the C trigger writes for program
		\`bench\` (one order: plain statements with cached plans; more: one
		set-based statement): an order record per new order
		of an active member, and per member one lot, one ledger entry and the
		account update, into tables shaped, constrained and indexed like the
		loyalty tables. It does less than the C trigger (the rate is written
		into the SQL, no rules are read, the tier window is not kept), so its
		figures are a lower bound of a careful PL/pgSQL implementation's cost
		on this machine. The targets quote PL/pgSQL at 0.38 (TPS) and 5.0
		(server time) on their machine.

		| # | measure | PL/pgSQL | untracked | C (tracked) | PL/pgSQL / untracked | C / untracked | C / PL/pgSQL |
		|---|---|---:|---:|---:|---:|---:|---:|
		| 1 | single-row INSERT: TPS | $(fmt "$l_tps" 0) | $(fmt "$p_tps" 0) | $(fmt "$t_tps" 0) | $(ratio "$l_tps" "$p_tps") | $(ratio "$t_tps" "$p_tps") | $(ratio "$t_tps" "$l_tps") |
		| 2 | server time per INSERT | $(fmt "$l_us" 1) µs | $(fmt "$p_us" 1) µs | $(fmt "$t_us" 1) µs | $(ratio "$l_us" "$p_us") | $(ratio "$t_us" "$p_us") | $(ratio "$t_us" "$l_us") |
		| 3 | INSERT ... SELECT of $(group "$BENCH_BULK_ROWS") orders | $(bulk_label "$l_bulk") | $(bulk_label "$p_bulk") | $(bulk_label "$t_bulk") | $r3 | $(if [ "$t_bulk" = timeout ] || [ "$p_bulk" = timeout ]; then echo n/a; else ratio "$t_bulk" "$p_bulk"; fi) | $c3 |

		$([ "$BENCH_FRAUD" != 1 ] || echo "The loyalty tables also hold the orders of orders_fraud (program
		bench_fraud): about twice the rows of the PL/pgSQL tables, and indexes
		that much larger. BENCH_FRAUD=0 gives both the same volume.")

		Per round (PL/pgSQL): TPS ${ins_tps_plpgsql[*]}; µs per INSERT ${ins_us_plpgsql[*]};
		INSERT ... SELECT seconds ${bulk_s_plpgsql[*]} (warm-up $bulk_warm_plpgsql);
		order records written: $plpgsql_orders.
	EOF
}

# Inside pg_virtualenv: the whole measurement; writes the report to $BENCH_OUT.
run_in_cluster() {
	local has_track
	echo "== cluster: PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER"
	psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE bench" >/dev/null
	export PGDATABASE=bench
	q "CREATE EXTENSION pg_stat_statements" \
		|| die "pg_stat_statements is not available (it ships with postgresql-$PG_MAJOR)"
	q "CREATE EXTENSION loyalty" \
		|| die "CREATE EXTENSION loyalty failed: is the extension built and installed?"
	has_track=$(q "SELECT count(*) FROM pg_proc WHERE proname = 'track_orders'
	                 AND pronamespace = 'loyalty'::regnamespace")
	tracking=1
	if [ "$BENCH_TRACK" = 0 ]; then
		echo "warning: BENCH_TRACK=0: neither table is tracked (harness check only)" >&2
		tracking=0
	elif [ "$has_track" = 0 ]; then
		die "the installed loyalty has no loyalty.track_orders(): the accrual work is not in this build (BENCH_TRACK=0 checks the harness alone)"
	fi

	probe_ms=$(probe_trigger_timing)
	if [ "$BENCH_PROFILE" = 1 ]; then
		q "ALTER SYSTEM SET pg_stat_statements.track = 'all'" >/dev/null
		q "SELECT pg_reload_conf()" >/dev/null
	fi
	echo "== pg_stat_statements times a 200 ms AFTER STATEMENT trigger into its INSERT: $probe_ms ms"
	echo "== setup: two orders tables, program bench, $CUSTOMERS members"
	setup "$tracking"

	measure_inserts
	echo "   orders in orders_tracked: $(q "SELECT count(*) FROM orders_tracked"),"\
		"order_accrual rows: $(q "SELECT count(*) FROM loyalty.order_accrual"),"\
		"ledger entries: $(q "SELECT count(*) FROM loyalty.ledger")"
	if [ "$tracking" = 1 ] && [ "$(q "SELECT count(*) FROM loyalty.order_accrual")" = 0 ]; then
		die "the tracked inserts recorded no order in loyalty.order_accrual"
	fi
	measure_bulk
	measure_redeem

	echo "== loyalty.verify(): $(q "SELECT count(*) FROM loyalty.verify()") members whose balances disagree with the ledger"
	pg_version=$(q "SHOW server_version")
	pg_settings=$(q "SELECT string_agg(name || ' = ' || current_setting(name), ', ' ORDER BY name)
	                   FROM pg_settings
	                  WHERE name IN ('synchronous_commit', 'fsync', 'shared_buffers', 'max_wal_size',
	                                 'pg_stat_statements.track', 'wal_level', 'jit')")
	cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem_total=$(awk '/^MemTotal/ { printf "%.1f GiB\n", $2 / 1048576 }' /proc/meminfo)
	revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ -n "$(git status --porcelain -- . ':!bench' 2>/dev/null)" ]; then revision="$revision (with uncommitted changes)"; fi
	report >"$BENCH_OUT"
	if [ "$BENCH_FRAUD" = 1 ]; then
		fraud_flags=$(q "SELECT count(*) FROM loyalty.fraud_flag")
		report_fraud >>"$BENCH_OUT"
	fi
	[ "$BENCH_FLOOR" != 1 ] || report_floor >>"$BENCH_OUT"
	if [ "$BENCH_PLPGSQL" = 1 ]; then
		plpgsql_orders=$(q "SELECT count(*) FROM pl.order_accrual")
		[ "$plpgsql_orders" -gt 0 ] || die "the PL/pgSQL trigger recorded no order"
		report_plpgsql >>"$BENCH_OUT"
	fi
}

# A TCP port nobody listens on, for the throwaway cluster: pg_virtualenv -t
# would take 5433 even when another throwaway cluster already has it.
free_port() {
	local p
	for p in $(shuf -i 54320-54999 -n 50); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null \
			&& [ ! -e "/var/run/postgresql/.s.PGSQL.$p" ]; then
			echo "$p"
			return 0
		fi
	done
	die "no free TCP port found for the throwaway cluster"
}

main() {
	local rc=0
	command -v pgbench >/dev/null 2>&1 || LOYALTY_PACKAGES+=("postgresql-client-$PG_MAJOR")
	ensure_packages || die "installing packages failed"
	[ -x "$PG_CONFIG" ] || die "$PG_CONFIG is missing"
	if [ "$BENCH_NO_BUILD" != 1 ]; then
		echo "== building and installing loyalty"
		make --no-print-directory PG_CONFIG="$PG_CONFIG" PG_CFLAGS="$LOYALTY_CFLAGS" >/dev/null \
			|| die "the build failed"
		as_root make --no-print-directory install PG_CONFIG="$PG_CONFIG" \
			PG_CFLAGS="$LOYALTY_CFLAGS" >/dev/null || die "make install failed"
	fi
	[ -f "$("$PG_CONFIG" --sharedir)/extension/loyalty.control" ] \
		|| die "loyalty is not installed in PostgreSQL $PG_MAJOR (run without BENCH_NO_BUILD=1)"
	[ -f "$("$PG_CONFIG" --pkglibdir)/pg_stat_statements.so" ] \
		|| die "pg_stat_statements is missing from PostgreSQL $PG_MAJOR"

	# Global: the EXIT trap runs after main has returned.
	out=$(mktemp -t loyalty-bench.XXXXXX)
	trap 'rm -f "$out"' EXIT
	chmod 644 "$out"
	local opts=() s
	for s in "${PG_SETTINGS[@]}"; do opts+=(-o "$s"); done
	echo "== running the benchmark in a throwaway PostgreSQL $PG_MAJOR cluster (${PG_SETTINGS[*]})"
	PGPORT=${PGPORT:-$(free_port)} BENCH_OUT=$out pg_virtualenv -t -v "$PG_MAJOR" "${opts[@]}" bash bench/run.sh --in-cluster </dev/null \
		|| rc=$?
	if [ "$rc" -ne 0 ] || [ ! -s "$out" ]; then
		die "the benchmark failed (exit $rc); bench/results.md is unchanged"
	fi
	# Keep the evaluate_tiers() figures (bench/tiers.sh, copied in by hand)
	# that end the file.
	if [ -f bench/results.md ]; then
		sed -n '/^## Tiers: /,$p' bench/results.md >>"$out"
	fi
	cp "$out" bench/results.md
	echo
	cat bench/results.md
	echo
	echo "== written to bench/results.md"
}

if [ "${1:-}" = --in-cluster ]; then
	run_in_cluster
else
	main
fi
