-- One order into the table tracked with every fraud check on: the same
-- statement as insert_tracked.sql.
\set cid random(1, 10000)
\set amt random(10000, 2000000)
INSERT INTO orders_fraud (id, customer_id, total) VALUES (nextval('bench_ids'), :cid, :amt);
