-- The floor (bench/run.sh, BENCH_FLOOR): one order into the untracked table
-- orders_floor and, in the same statement, one row recording it in
-- floor_record (shaped and keyed like loyalty.order_accrual).  No trigger.
\set cid random(1, 10000)
\set amt random(10000, 2000000)
WITH o AS (INSERT INTO orders_floor (id, customer_id, total) VALUES (nextval('bench_ids'), :cid, :amt) RETURNING id, customer_id, total, created_at) INSERT INTO floor_record (customer_id, program_id, source_id, order_key, state, amount, net_amount, points, earned_points, first_purchase, ordered_at) SELECT customer_id, 1, 1, id::text, 'active', total, total, (total / 10000)::bigint, (total / 10000)::bigint, false, created_at FROM o;
