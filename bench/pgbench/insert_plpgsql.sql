-- Calibration (bench/run.sh, BENCH_PLPGSQL): one order into orders_plpgsql,
-- whose PL/pgSQL statement trigger (bench/plpgsql.sql) does the accrual.
\set cid random(1, 10000)
\set amt random(10000, 2000000)
INSERT INTO orders_plpgsql (id, customer_id, total) VALUES (nextval('bench_ids'), :cid, :amt);
