# shellcheck shell=bash
# Shared steps of the focused benchmarks (bench/expiry.sh, bench/redeem.sh).
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
