# shellcheck shell=bash
# Shared steps of the benchmarks (bench/run.sh, bench/bulk.sh, bench/expiry.sh,
# bench/redeem.sh).
# Sourced, not run.

# In the benchmark's cluster: loyalty, a program "bench" (VND, 10 points per
# 100,000 dong) with a rolling expiry of $1 months, and a table "orders" it
# tracks (id, customer_id, total).
bench_program() {
	psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<-SQL
		CREATE EXTENSION loyalty;
		SELECT count(*) FROM loyalty.create_program('bench', 'Bench', 'VND', 10, 100000);
		SELECT count(*) FROM loyalty.set_expiry_policy('bench', 'rolling', $1);
		CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint, total numeric(14,2));
		SELECT count(*) FROM loyalty.track_orders('orders', 'bench', 'customer_id', 'id', 'total');
	SQL
}

# SQL for the accrual benchmark's shape (bench/run.sh, bench/bulk.sh): the
# sequence bench_ids, orders_tracked and its untracked twin orders_plain,
# and program "bench" (10 points per 100,000 VND, return_days 0, as
# bench/plpgsql.sql assumes) with members 1 .. $1 enrolled.
bench_orders_sql() {
	cat <<-SQL
		CREATE SEQUENCE bench_ids;
		CREATE TABLE orders_tracked (
			id bigint PRIMARY KEY,
			customer_id bigint,
			total numeric(14, 2),
			currency text DEFAULT 'VND',
			channel text DEFAULT 'online',
			status text DEFAULT 'paid',
			created_at timestamptz DEFAULT now()
		);
		CREATE TABLE orders_plain (LIKE orders_tracked INCLUDING ALL);
		SELECT code FROM loyalty.create_program('bench', 'Benchmark', 'VND', 10, 100000,
			return_days => 0);
		SELECT count(loyalty.enroll('bench', c)) FROM generate_series(1, $1) c;
	SQL
}

# SQL that tracks table $1 (shaped like orders_tracked) into program $2 with
# all its columns.
bench_track_sql() {
	cat <<-SQL
		SELECT loyalty.track_orders('$1', '$2', 'customer_id', 'id', 'total',
			currency_column => 'currency', channel_column => 'channel',
			status_column => 'status', ordered_at_column => 'created_at');
	SQL
}

# Median of the numbers given as arguments.
median() {
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
		END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
