#!/usr/bin/env bash
# Peak private memory (RssAnon) of the backend running a tracked bulk
# INSERT ... SELECT, for N orders (default 50000 and 200000): the accrual
# trigger must not grow with the number of rows.  Usage: bash bench/memory.sh [N ...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "${1:-}" = --in-cluster ]; then
	n=$2
	psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION loyalty;
SELECT count(*) FROM loyalty.create_program('b', 'B', 'VND', 10, 100000);
CREATE TABLE o (id bigint PRIMARY KEY, customer_id bigint, total numeric(14,2));
SELECT count(*) FROM loyalty.track_orders('public.o', 'b', 'customer_id', 'id', 'total');
SQL
	start=$(date +%s%N)
	psql -X -q -v ON_ERROR_STOP=1 -c "INSERT INTO o SELECT g, 1 + g % 10000, 250000 FROM generate_series(1, $n) g" &
	pid=$! max=0
	while kill -0 "$pid" 2>/dev/null; do
		for p in $(pgrep -f "postgres: .*INSERT" || true); do
			r=$(awk '/RssAnon/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
			[ "${r:-0}" -gt "$max" ] && max=$r
		done
		sleep 0.5
	done
	wait "$pid"
	end=$(date +%s%N)
	orders=$(psql -X -At -c "SELECT count(*) FROM loyalty.order_accrual")
	problems=$(psql -X -At -c "SELECT count(*) FROM loyalty.verify()")
	printf '%9d orders: peak backend RssAnon %5d MB, %d ms, %d orders on record, verify() rows %d\n' \
		"$n" $((max / 1024)) $(((end - start) / 1000000)) "$orders" "$problems"
	exit 0
fi

. test/lib.sh
prepare_loyalty quiet
for n in ${@:-50000 200000}; do
	pg_virtualenv -t -v 15 bash bench/memory.sh --in-cluster "$n" 2>/dev/null | grep 'orders:'
done
