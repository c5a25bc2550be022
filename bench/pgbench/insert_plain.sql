-- One order into the untracked table: the same statement as insert_tracked.sql.
\set cid random(1, 10000)
\set amt random(10000, 2000000)
INSERT INTO orders_plain (id, customer_id, total) VALUES (nextval('bench_ids'), :cid, :amt);
