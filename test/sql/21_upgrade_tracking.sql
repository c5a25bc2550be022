\i test/setup.sql
-- ALTER EXTENSION loyalty UPDATE from 0.2.0 with tracked tables: the update
-- (sql/parts/62_retired_sources.sql) fills order_source.relid from the
-- triggers that carry each source id, so a table tracked under 0.2.0, renamed
-- before or after the update, keeps its order history when it is untracked
-- and tracked again.  0.2.0 runs on the installed library, as in a real
-- upgrade (see 13_upgrade, which compares the updated schema with a fresh one).
BEGIN;
CREATE EXTENSION loyalty VERSION '0.2.0';
SELECT plan(13);

SELECT count(*) FROM loyalty.create_program('us', 'US Web', 'USD', 1, 1) \g /dev/null
-- Tracked and left as it is; tracked and renamed while tracked (its row keeps
-- the old name); tracked and dropped while tracked (its row stays behind).
CREATE TABLE public.up_orders (id bigint, customer_id bigint, total numeric, status text DEFAULT 'paid');
CREATE TABLE public.up_kiosk (id bigint, customer_id bigint, total numeric, status text DEFAULT 'paid');
CREATE TABLE public.up_gone (id bigint, customer_id bigint, total numeric);
CREATE TEMP TABLE source_020 AS
	SELECT table_name, source_id FROM loyalty.track_orders('public.up_orders', 'us', 'customer_id', 'id', 'total',
		status_column => 'status')
	UNION ALL
	SELECT table_name, source_id FROM loyalty.track_orders('public.up_kiosk', 'us', 'customer_id', 'id', 'total',
		status_column => 'status')
	UNION ALL
	SELECT table_name, source_id FROM loyalty.track_orders('public.up_gone', 'us', 'customer_id', 'id', 'total');
INSERT INTO up_orders VALUES (1, 1, 100), (2, 1, 50);
INSERT INTO up_kiosk VALUES (1, 2, 30);
INSERT INTO up_gone VALUES (1, 3, 20);
ALTER TABLE up_kiosk RENAME TO up_kiosk_2024;
DROP TABLE up_gone;
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'loyalty'), '0.2.0',
	'the database starts at 0.2.0 with three tracked tables and their orders');

ALTER EXTENSION loyalty UPDATE;
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'loyalty'),
	(SELECT default_version FROM pg_available_extensions WHERE name = 'loyalty'),
	'ALTER EXTENSION loyalty UPDATE brings it to the version in loyalty.control');
SELECT results_eq(
	$$SELECT s.table_name, s.relid::regclass FROM loyalty.order_source s
		JOIN source_020 o USING (source_id, table_name) ORDER BY s.source_id$$,
	$$VALUES ('public.up_orders', 'public.up_orders'::regclass),
			 ('public.up_kiosk', 'public.up_kiosk_2024'::regclass),
			 ('public.up_gone', NULL::regclass)$$,
	'the update records each tracked table as relid: the table itself, the renamed table under its new name, NULL for the dropped one');

-- Untracked, renamed and tracked again after the update: the same id, so the
-- refund of an order from before the update takes its points back and the
-- same order sent again earns nothing.
SELECT loyalty.untrack_orders('public.up_orders');
ALTER TABLE up_orders RENAME TO up_orders_2024;
SELECT is((SELECT source_id FROM loyalty.track_orders('public.up_orders_2024', 'us', 'customer_id', 'id', 'total',
			status_column => 'status')),
	(SELECT source_id FROM source_020 WHERE table_name = 'public.up_orders'),
	'a table tracked under 0.2.0, untracked, renamed and tracked again takes back its id');
UPDATE up_orders_2024 SET status = 'refunded' WHERE id = 1;
INSERT INTO up_orders_2024 VALUES (2, 1, 50);
SELECT results_eq(
	$$SELECT order_key, state, points FROM loyalty.order_accrual WHERE customer_id = 1 ORDER BY order_key$$,
	$$VALUES ('1', 'reversed', 0::bigint), ('2', 'active', 50::bigint)$$,
	'its order refunded after the update took its points back, and the re-sent order earned nothing');
SELECT is((loyalty.balance('us', 1)).available, 50::bigint, 'so the member holds 50 points, not 150 or 200');

-- The table renamed under 0.2.0 is untracked under its new name and tracked
-- again: the same id.
SELECT loyalty.untrack_orders('public.up_kiosk_2024');
SELECT results_eq(
	$$SELECT table_name, relid::regclass FROM loyalty.retired_order_source
	   WHERE source_id = (SELECT source_id FROM source_020 WHERE table_name = 'public.up_kiosk')$$,
	$$VALUES ('public.up_kiosk_2024', 'public.up_kiosk_2024'::regclass)$$,
	'the table renamed under 0.2.0, untracked, has its id retired under its new name');
SELECT is((SELECT source_id FROM loyalty.track_orders('public.up_kiosk_2024', 'us', 'customer_id', 'id', 'total',
			status_column => 'status')),
	(SELECT source_id FROM source_020 WHERE table_name = 'public.up_kiosk'),
	'and tracked again takes it back');
UPDATE up_kiosk_2024 SET status = 'refunded' WHERE id = 1;
SELECT is((loyalty.balance('us', 2)).available, 0::bigint,
	'so the refund of its order from before the update takes the 30 points back');

-- The dropped table's id (relid NULL) passes to its name: a table created
-- under it takes the id, and an order key it repeats is no new order.
CREATE TABLE public.up_gone (id bigint, customer_id bigint, total numeric);
SELECT is((SELECT source_id FROM loyalty.track_orders('public.up_gone', 'us', 'customer_id', 'id', 'total')),
	(SELECT source_id FROM source_020 WHERE table_name = 'public.up_gone'),
	'a table created under the name of one dropped while tracked under 0.2.0 takes back its id');
INSERT INTO up_gone VALUES (1, 3, 20);
SELECT is((loyalty.balance('us', 3)).available, 20::bigint,
	'so its order 1, sent again, earns nothing: 20 points, not 40');
SELECT is((SELECT count(*)::int FROM loyalty.retired_order_source), 0,
	'every id is tracked again: none is left retired');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'balances equal the ledger');

SELECT * FROM finish();
ROLLBACK;
