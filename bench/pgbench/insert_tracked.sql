-- One order into the tracked table: a random member, 10,000 to 2,000,000 VND.
\set cid random(1, 10000)
\set amt random(10000, 2000000)
INSERT INTO orders_tracked (id, customer_id, total) VALUES (nextval('bench_ids'), :cid, :amt);
