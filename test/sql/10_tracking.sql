\i test/setup.sql
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(206);

-- track_orders() attaches loyalty.order_trigger(); should it not be installed
-- yet, a stand-in of the same name gives the same output.  No test below
-- writes to a tracked table, so the trigger never runs.
DO $$BEGIN
	IF to_regprocedure('loyalty.order_trigger()') IS NULL THEN
		CREATE FUNCTION loyalty.order_trigger() RETURNS trigger
		LANGUAGE plpgsql AS $f$BEGIN RETURN NULL; END$f$;
	END IF;
END$$;

-- Helpers.  error_of: the SQLSTATE, message, detail and hint a statement raises.
CREATE FUNCTION pg_temp.error_of(cmd text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	state text; msg text; detail text; hint text;
BEGIN
	EXECUTE cmd;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
	RETURN state || ': ' || msg || coalesce(' / ' || nullif(detail, ''), '')
		|| coalesce(' / ' || nullif(hint, ''), '');
END
$$;
-- The user triggers on a table, as pg_trigger has them.
CREATE FUNCTION pg_temp.triggers_of(rel regclass)
RETURNS TABLE (name text, type smallint, enabled "char", old_table text, new_table text,
			   args text, fn text)
LANGUAGE sql AS $$
	SELECT t.tgname::text, t.tgtype, t.tgenabled, t.tgoldtable::text, t.tgnewtable::text,
		   encode(t.tgargs, 'escape'), t.tgfoid::regprocedure::text
	  FROM pg_trigger t WHERE t.tgrelid = rel AND NOT t.tgisinternal ORDER BY t.tgname
$$;
-- The triggers doc/accrual.md prescribes for a tracked table: statement-level
-- AFTER INSERT (4), DELETE (8) and UPDATE (16), with transition tables, each
-- calling order_trigger('<source_id>').
CREATE FUNCTION pg_temp.expected_triggers(table_name text)
RETURNS TABLE (name text, type smallint, enabled "char", old_table text, new_table text,
			   args text, fn text)
LANGUAGE sql AS $$
	SELECT v.name, v.type::smallint, 'O'::"char", v.old_table, v.new_table,
		   s.source_id || '\000', 'loyalty.order_trigger()'
	  FROM loyalty.order_source s,
		   (VALUES ('loyalty_accrual_delete', 8, 'loyalty_old', NULL),
				   ('loyalty_accrual_insert', 4, NULL, 'loyalty_new'),
				   ('loyalty_accrual_update', 16, 'loyalty_old', 'loyalty_new'))
			 AS v (name, type, old_table, new_table)
	 WHERE s.table_name = $1 ORDER BY v.name
$$;
-- Everything tracking can change: configuration rows and accrual triggers.
CREATE FUNCTION pg_temp.tracking_state() RETURNS text
LANGUAGE sql AS $$
	SELECT format('%s sources, %s retired, %s triggers',
		(SELECT count(*) FROM loyalty.order_source),
		(SELECT count(*) FROM loyalty.retired_order_source),
		(SELECT count(*) FROM pg_trigger WHERE tgname::text LIKE 'loyalty\_accrual\_%'))
$$;

DO $$BEGIN
	PERFORM loyalty.create_program('shop', 'VN Shop', 'VND', 10, 100000);
	PERFORM loyalty.create_program('us', 'US Web', 'USD', 1, 1);
END$$;

--
-- Exchange rates.
--
SELECT results_eq(
	$$SELECT from_currency::text, to_currency::text, valid_from, rate
		FROM loyalty.set_exchange_rate('usd', 'Vnd', 25000, '2024-01-01 00:00+00')$$,
	$$VALUES ('USD', 'VND', '2024-01-01 00:00+00'::timestamptz, 25000::numeric)$$,
	'set_exchange_rate stores the codes in upper case and returns the rate');
SELECT lives_ok(
	$$SELECT loyalty.set_exchange_rate('USD', 'VND', 25500, '2024-06-01 00:00+00')$$,
	'a later rate for the same pair is recorded alongside');
SELECT is(loyalty.convert_amount(10, 'USD', 'VND', '2024-03-01 00:00+00'), 250000::numeric,
	'convert_amount uses the rate valid at the given time');
SELECT is(loyalty.convert_amount(10, 'USD', 'VND', '2024-06-01 00:00+00'), 255000::numeric,
	'a rate applies from its valid_from on (inclusive)');
SELECT is(loyalty.convert_amount(10, 'USD', 'VND', '2030-01-01 00:00+00'), 255000::numeric,
	'the latest rate before the time wins');
SELECT is(loyalty.convert_amount(10, 'USD', 'VND', '2023-12-31 23:59:59+00'), NULL::numeric,
	'no rate valid yet: NULL');
SELECT is(loyalty.convert_amount(0.01, 'usd', ' vnd', '2024-03-01 00:00+00'), 250::numeric,
	'convert_amount accepts codes in any case and is exact');
SELECT is(loyalty.convert_amount(12.5, 'EUR', 'eur', '2024-03-01 00:00+00'), 12.5,
	'the same currency needs no rate');
SELECT is(loyalty.convert_amount(10, 'VND', 'USD', '2024-03-01 00:00+00'), NULL::numeric,
	'a rate is not inverted: no VND to USD rate means NULL');
SELECT is(loyalty.convert_amount(10, 'XYZ', 'VND', '2024-03-01 00:00+00'), NULL::numeric,
	'an unknown currency code has no rate: NULL, not an error (the trigger records the problem)');
SELECT is(loyalty.convert_amount(NULL, 'USD', 'VND', '2024-03-01 00:00+00'), NULL::numeric,
	'a NULL amount converts to NULL');
SELECT results_eq(
	$$SELECT rate FROM loyalty.set_exchange_rate('USD', 'VND', 24000, '2024-01-01 00:00+00')$$,
	$$VALUES (24000::numeric)$$,
	'setting a rate again for the same valid_from corrects it');
SELECT results_eq(
	$$SELECT count(*)::int, loyalty.convert_amount(10, 'USD', 'VND', '2024-03-01 00:00+00')
		FROM loyalty.exchange_rate$$,
	$$VALUES (2, 240000::numeric)$$,
	'the correction replaced the rate instead of adding one');
SELECT results_eq(
	$$SELECT from_currency::text, to_currency::text, valid_from = now(), rate
		FROM loyalty.set_exchange_rate('EUR', 'USD', 1.0825)$$,
	$$VALUES ('EUR', 'USD', true, 1.0825)$$,
	'valid_from defaults to now');
SELECT throws_ok($$SELECT loyalty.set_exchange_rate('USD', 'XYZ', 1)$$,
	'22023', 'unknown currency code "XYZ"', 'an unknown currency code is refused with 22023');
SELECT throws_ok($$SELECT loyalty.set_exchange_rate('usd', 'USD', 1)$$,
	'22023', 'cannot set an exchange rate from USD to itself', 'a rate from a currency to itself is refused');
SELECT throws_ok($$SELECT loyalty.set_exchange_rate('USD', 'VND', 0)$$,
	'22023', 'rate must be a positive finite number', 'a zero rate is refused');
SELECT throws_ok($$SELECT loyalty.set_exchange_rate('USD', 'VND', -25000)$$,
	'22023', 'rate must be a positive finite number', 'a negative rate is refused');
SELECT is(pg_temp.error_of($$SELECT loyalty.set_exchange_rate('USD', 'VND', 'NaN')$$),
	'22023: rate must be a positive finite number / Got NaN. / The rate is how many units of to_currency one unit of from_currency is worth.',
	'a NaN rate is refused, saying what a rate is');
SELECT throws_ok($$SELECT loyalty.set_exchange_rate('USD', 'VND', 'Infinity')$$,
	'22023', 'rate must be a positive finite number', 'an infinite rate is refused');
SELECT throws_ok($$SELECT loyalty.set_exchange_rate('USD', 'VND', NULL)$$,
	'22004', 'rate must not be null', 'a NULL rate is refused with 22004');
SELECT throws_ok($$SELECT loyalty.set_exchange_rate(NULL, 'VND', 1)$$,
	'22004', 'currency codes must not be null', 'a NULL currency is refused with 22004');
SELECT throws_ok($$SELECT loyalty.set_exchange_rate('USD', 'VND', 1, NULL)$$,
	'22004', 'valid_from must not be null', 'a NULL valid_from is refused with 22004');
SELECT is((SELECT count(*)::int FROM loyalty.exchange_rate), 3,
	'the refused rates wrote nothing');
SELECT is((SELECT provolatile FROM pg_proc WHERE oid = 'loyalty.convert_amount(numeric, text, text, timestamptz)'::regprocedure),
	's', 'convert_amount is STABLE');

--
-- Tables to track.
--
CREATE TYPE public.order_state AS ENUM ('new', 'paid', 'refunded');
CREATE DOMAIN public.positive_amount AS numeric CHECK (VALUE > 0);
-- Every optional column, in the application's own types.
CREATE TABLE public.orders (
	id			bigint PRIMARY KEY,
	customer_id bigint NOT NULL,
	total		numeric(12, 2) NOT NULL,
	currency	char(3),
	channel		text,
	category	varchar(40),
	status		public.order_state,
	refunded	numeric,
	ordered_at	timestamptz
);
-- Quoted mixed-case names: schema, table, columns and enum type.
CREATE SCHEMA "Sales";
CREATE TYPE "Sales"."Order State" AS ENUM ('open', 'returned');
CREATE TABLE "Sales"."Orders" (
	"Order No"	uuid PRIMARY KEY,
	"Customer ID" integer NOT NULL,
	"Amount"	integer NOT NULL,
	"Ordered At" date,
	"State"		"Sales"."Order State"
);
-- Partitioned, columns in another order, a text order key, a smallint
-- customer, bigint amounts and a timestamp without time zone.
CREATE TABLE public.web_orders (
	amount		bigint NOT NULL,
	ordered		timestamp NOT NULL,
	order_ref	text NOT NULL,
	shopper		smallint NOT NULL
) PARTITION BY RANGE (ordered);
CREATE TABLE public.web_orders_2024 PARTITION OF public.web_orders
	FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.web_orders_2025 PARTITION OF public.web_orders
	FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
-- Hostile, but real, table and column names.
CREATE TABLE public.victim (x int);
CREATE TABLE public."orders; DROP TABLE public.victim; --" (
	"id; DROP TABLE public.victim" int,
	"'); DROP TABLE public.victim; --" bigint,
	"Ünïcode €" numeric,
	"a""quote" text
);
-- A partitioned table one of whose partitions is tracked on its own.
CREATE TABLE public.app_orders (id bigint, customer_id bigint, total numeric, region text)
	PARTITION BY LIST (region);
CREATE TABLE public.app_orders_eu PARTITION OF public.app_orders FOR VALUES IN ('eu');

--
-- Tracking.
--
SELECT results_eq(
	$$SELECT program_id = loyalty.program_id('shop'), table_name, customer_column, order_column,
			 amount_column, currency_column, channel_column, category_column, status_column,
			 refunded_column, ordered_at_column, refund_statuses, created_at = now()
		FROM loyalty.track_orders('public.orders', 'shop', 'customer_id', 'id', 'total',
			currency_column => 'currency', channel_column => 'channel',
			category_column => 'category', status_column => 'status',
			refunded_column => 'refunded', ordered_at_column => 'ordered_at')$$,
	$$VALUES (true, 'public.orders', 'customer_id', 'id', 'total', 'currency', 'channel',
			  'category', 'status', 'refunded', 'ordered_at',
			  '{refunded,cancelled,canceled,returned}'::text[], true)$$,
	'track_orders returns the configuration: every column, the default refund statuses');
SELECT results_eq(
	$$SELECT * FROM loyalty.order_source WHERE table_name = 'public.orders'$$,
	$$SELECT * FROM loyalty.live_order_source('public.orders')$$,
	'the configuration is stored in loyalty.order_source');
SELECT results_eq(
	$$SELECT * FROM pg_temp.triggers_of('public.orders')$$,
	$$SELECT * FROM pg_temp.expected_triggers('public.orders')$$,
	'three enabled statement-level AFTER triggers with transition tables call order_trigger(source_id)');

SELECT results_eq(
	$$SELECT table_name, customer_column, order_column, amount_column, currency_column,
			 channel_column, category_column, status_column, refunded_column,
			 ordered_at_column, refund_statuses
		FROM loyalty.track_orders('"Sales"."Orders"', 'shop', 'Customer ID', 'Order No', 'Amount',
			status_column => 'State', ordered_at_column => 'Ordered At',
			refund_statuses => '{returned}')$$,
	$$VALUES ('"Sales"."Orders"', 'Customer ID', 'Order No', 'Amount', NULL, NULL, NULL, 'State',
			  NULL, 'Ordered At', '{returned}'::text[])$$,
	'mixed-case quoted schema, table and column names: integer customer, uuid key, enum status, date');
SELECT results_eq(
	$$SELECT * FROM pg_temp.triggers_of('"Sales"."Orders"')$$,
	$$SELECT * FROM pg_temp.expected_triggers('"Sales"."Orders"')$$,
	'the mixed-case table has its three triggers');

SELECT results_eq(
	$$SELECT program_id = loyalty.program_id('us'), table_name, customer_column, order_column,
			 amount_column, currency_column, channel_column, category_column, status_column,
			 refunded_column, ordered_at_column, refund_statuses
		FROM loyalty.track_orders('web_orders', 'us', 'shopper', 'order_ref', 'amount',
			ordered_at_column => 'ordered')$$,
	$$VALUES (true, 'public.web_orders', 'shopper', 'order_ref', 'amount', NULL, NULL, NULL, NULL,
			  NULL, 'ordered', '{refunded,cancelled,canceled,returned}'::text[])$$,
	'a partitioned table with its columns in another order: optional columns left out are NULL');
SELECT results_eq(
	$$SELECT * FROM pg_temp.triggers_of('public.web_orders')$$,
	$$SELECT * FROM pg_temp.expected_triggers('public.web_orders')$$,
	'the partitioned table itself carries the triggers, transition tables included');
CREATE TABLE public.web_orders_2026 PARTITION OF public.web_orders
	FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT is_empty(
	$$SELECT tgname FROM pg_trigger
	   WHERE tgrelid IN ('public.web_orders_2024'::regclass, 'public.web_orders_2025'::regclass,
						 'public.web_orders_2026'::regclass)$$,
	'the partitions, old and new, carry no loyalty trigger: orders are counted once, at the parent');

SELECT results_eq(
	$$SELECT table_name, customer_column, order_column, amount_column, channel_column
		FROM loyalty.track_orders('public."orders; DROP TABLE public.victim; --"', 'shop',
			'''); DROP TABLE public.victim; --', 'id; DROP TABLE public.victim', 'Ünïcode €',
			channel_column => 'a"quote')$$,
	$$VALUES ('public."orders; DROP TABLE public.victim; --"', '''); DROP TABLE public.victim; --',
			  'id; DROP TABLE public.victim', 'Ünïcode €', 'a"quote')$$,
	'table and column names full of SQL are taken as names, exactly');
SELECT results_eq(
	$$SELECT * FROM pg_temp.triggers_of('public."orders; DROP TABLE public.victim; --"')$$,
	$$SELECT * FROM pg_temp.expected_triggers('public."orders; DROP TABLE public.victim; --"')$$,
	'the hostile-named table has its three triggers');
SELECT has_table('public', 'victim', 'and nothing in those names was executed');

SELECT results_eq(
	$$SELECT table_name FROM loyalty.track_orders('app_orders_eu', 'shop', 'customer_id', 'id', 'total')$$,
	$$VALUES ('public.app_orders_eu')$$,
	'a single partition can be tracked on its own');
SELECT is(pg_temp.tracking_state(), '5 sources, 0 retired, 15 triggers', 'five tables tracked');

--
-- Refused requests change nothing.
--
CREATE TABLE public.pos_orders (
	id			bigint,
	customer_id bigint,
	total		numeric,
	total_float double precision,
	total_real	real,
	total_money money,
	total_domain public.positive_amount,
	customer_code text,
	customer_num numeric,
	currency_code integer,
	channel		jsonb,
	placed		text,
	refunded_float float8,
	state		public.order_state,
	gone		integer,
	"MixedCase" bigint
);
ALTER TABLE public.pos_orders DROP COLUMN gone;

SELECT throws_ok($$SELECT loyalty.track_orders(NULL, 'shop', 'customer_id', 'id', 'total')$$,
	'22004', 'orders must not be null', 'a NULL table is refused with 22004');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', NULL, 'customer_id', 'id', 'total')$$,
	'22004', 'program must not be null', 'a NULL program is refused with 22004');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', NULL, 'id', 'total')$$,
	'22004', 'customer_column must not be null', 'a NULL customer column is refused with 22004');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', NULL)$$,
	'22004', 'amount_column must not be null', 'a NULL amount column is refused with 22004');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total',
		refund_statuses => NULL)$$,
	'22004', 'refund_statuses must not be null', 'NULL refund statuses are refused with 22004');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'nope', 'customer_id', 'id', 'total')$$,
	'LY001', 'unknown loyalty program "nope"', 'an unknown program is refused with LY001');
SELECT is(pg_temp.tracking_state(), '5 sources, 0 retired, 15 triggers', 'the refused NULLs and program changed nothing');

-- Not a table.
CREATE VIEW public.orders_view AS SELECT * FROM public.pos_orders;
CREATE MATERIALIZED VIEW public.orders_mv AS SELECT * FROM public.pos_orders;
CREATE SEQUENCE public.order_seq;
CREATE FOREIGN DATA WRAPPER loyalty_test_fdw;
CREATE SERVER loyalty_test_server FOREIGN DATA WRAPPER loyalty_test_fdw;
CREATE FOREIGN TABLE public.remote_orders (id bigint, customer_id bigint, total numeric)
	SERVER loyalty_test_server;
CREATE TEMP TABLE tmp_orders (id bigint, customer_id bigint, total numeric);
SELECT is(pg_temp.error_of($$SELECT loyalty.track_orders('orders_view', 'shop', 'customer_id', 'id', 'total')$$),
	'42809: public.orders_view is not a table / It is a view. / Track the table (or partitioned table) the application writes its orders to.',
	'a view is refused with 42809, saying what it is');
SELECT throws_ok($$SELECT loyalty.track_orders('orders_mv', 'shop', 'customer_id', 'id', 'total')$$,
	'42809', 'public.orders_mv is not a table', 'a materialized view is refused with 42809');
SELECT throws_ok($$SELECT loyalty.track_orders('order_seq', 'shop', 'customer_id', 'id', 'total')$$,
	'42809', 'public.order_seq is not a table', 'a sequence is refused with 42809');
SELECT throws_ok($$SELECT loyalty.track_orders('orders_pkey', 'shop', 'customer_id', 'id', 'total')$$,
	'42809', 'public.orders_pkey is not a table', 'an index is refused with 42809');
SELECT throws_ok($$SELECT loyalty.track_orders('remote_orders', 'shop', 'customer_id', 'id', 'total')$$,
	'42809', 'public.remote_orders is not a table', 'a foreign table is refused with 42809');
SELECT is(regexp_replace(pg_temp.error_of($$SELECT loyalty.track_orders('tmp_orders', 'shop', 'customer_id', 'id', 'total')$$),
		'pg_temp_\d+', 'pg_temp_N'),
	'0A000: cannot track temporary table pg_temp_N.tmp_orders / A temporary table and its triggers vanish at the end of the session. / Track a permanent table.',
	'a temporary table is refused with 0A000');
SELECT throws_ok($$SELECT loyalty.track_orders('loyalty.ledger', 'shop', 'customer_id', 'entry_no', 'points')$$,
	'42501', 'cannot track table loyalty.ledger: it belongs to the loyalty extension',
	'a loyalty table is refused with 42501');
SELECT throws_ok($$SELECT loyalty.track_orders('pg_catalog.pg_class', 'shop', 'relpages', 'oid', 'reltuples')$$,
	'42501', 'cannot track system table pg_catalog.pg_class', 'a system catalog is refused with 42501');
SELECT is(pg_temp.tracking_state(), '5 sources, 0 retired, 15 triggers', 'the refused relations changed nothing');

-- Tracked already, or overlapping a tracked partition tree, or trigger names taken.
SELECT is(pg_temp.error_of($$SELECT loyalty.track_orders('public.orders', 'us', 'customer_id', 'id', 'total')$$),
	'42710: table public.orders is already tracked / It earns points in program "shop". / To change its settings, call loyalty.untrack_orders(''public.orders'') first.',
	'tracking a table twice is refused with 42710, pointing to untrack_orders');
SELECT throws_ok($$SELECT loyalty.track_orders('web_orders_2024', 'us', 'shopper', 'order_ref', 'amount')$$,
	'55000', 'table public.web_orders_2024 is a partition of tracked table public.web_orders',
	'a partition of a tracked partitioned table is refused with 55000');
SELECT throws_ok($$SELECT loyalty.track_orders('app_orders', 'shop', 'customer_id', 'id', 'total')$$,
	'55000', 'partition public.app_orders_eu of table public.app_orders is already tracked',
	'a partitioned table with a tracked partition is refused with 55000');
CREATE TABLE public.audited_orders (id bigint, customer_id bigint, total numeric);
CREATE FUNCTION public.audit() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE TRIGGER loyalty_accrual_update AFTER UPDATE ON public.audited_orders
	FOR EACH STATEMENT EXECUTE FUNCTION public.audit();
SELECT throws_ok($$SELECT loyalty.track_orders('audited_orders', 'shop', 'customer_id', 'id', 'total')$$,
	'42710', 'table public.audited_orders already has a trigger named loyalty_accrual_update',
	'a table with a trigger of one of the reserved names is refused with 42710');
SELECT is(pg_temp.tracking_state(), '5 sources, 0 retired, 16 triggers',
	'the refused tables changed nothing (16: the audit trigger)');

-- Columns that do not exist.
SELECT is(pg_temp.error_of($$SELECT loyalty.track_orders('pos_orders', 'shop', 'custmer_id', 'id', 'total')$$),
	'42703: column "custmer_id" does not exist in table public.pos_orders / It was given as customer_column. / Column names are case-sensitive and given as stored, without quotes.',
	'a misspelt column is refused with 42703, naming the role it was given for');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'Customer_ID', 'id', 'total')$$,
	'42703', 'column "Customer_ID" does not exist in table public.pos_orders',
	'column names are case-sensitive');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'mixedcase', 'id', 'total')$$,
	'42703', 'column "mixedcase" does not exist in table public.pos_orders',
	'a mixed-case column is not found by its lower-case spelling');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', '"MixedCase"', 'id', 'total')$$,
	'42703', 'column ""MixedCase"" does not exist in table public.pos_orders',
	'nor by its quoted spelling: names are not SQL');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'ctid', 'total')$$,
	'42703', 'column "ctid" does not exist in table public.pos_orders',
	'a system column is refused with 42703');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total',
		channel_column => 'gone')$$,
	'42703', 'column "gone" does not exist in table public.pos_orders',
	'a dropped column is refused with 42703');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id; DROP TABLE public.victim', 'total')$$,
	'42703', 'column "id; DROP TABLE public.victim" does not exist in table public.pos_orders',
	'a column name holding SQL is looked up, not executed');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total',
		status_column => '"; --')$$,
	'42703', 'column ""; --" does not exist in table public.pos_orders',
	'a column name with a quote and a comment is looked up, not executed');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total',
		ordered_at_column => $q$now()) OR (1=1$q$)$$,
	'42703', 'column "now()) OR (1=1" does not exist in table public.pos_orders',
	'an expression is not a column');
SELECT has_table('public', 'victim', 'the victim table survived the hostile column names');
SELECT is(pg_temp.tracking_state(), '5 sources, 0 retired, 16 triggers', 'the unknown columns changed nothing');

-- Columns of the wrong type, or used twice.
SELECT is(pg_temp.error_of($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total_float')$$),
	'42804: amount column "total_float" has type double precision / Floating-point amounts are not exact; use numeric or an integer type. / Track another column, or add a generated column of a supported type.',
	'a double precision amount is refused with 42804: floating point is not exact');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total_real')$$,
	'42804', 'amount column "total_real" has type real', 'a real amount is refused');
SELECT is(pg_temp.error_of($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total_money')$$),
	'42804: amount column "total_money" has type money / An amount column must be numeric, smallint, integer or bigint. / Track another column, or add a generated column of a supported type.',
	'a money amount is refused, listing the accepted types');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total_domain')$$,
	'42804', 'amount column "total_domain" has type public.positive_amount',
	'a domain is refused: the trigger reads the column''s own type');
SELECT is(pg_temp.error_of($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total',
		refunded_column => 'refunded_float')$$),
	'42804: refunded column "refunded_float" has type double precision / Floating-point amounts are not exact; use numeric or an integer type. / Track another column, or add a generated column of a supported type.',
	'a floating-point refunded amount is refused');
SELECT is(pg_temp.error_of($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total',
		refunded_column => 'customer_code')$$),
	'42804: refunded column "customer_code" has type text / A refunded column must be numeric, smallint, integer or bigint. / Track another column, or add a generated column of a supported type.',
	'a text refunded column is refused, listing the accepted types');
SELECT is(pg_temp.error_of($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_code', 'id', 'total')$$),
	'42804: customer column "customer_code" has type text / A customer column must be smallint, integer or bigint. / Track another column, or add a generated column of a supported type.',
	'a text customer column is refused with 42804');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_num', 'id', 'total')$$,
	'42804', 'customer column "customer_num" has type numeric', 'a numeric customer column is refused');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total',
		currency_column => 'currency_code')$$,
	'42804', 'currency column "currency_code" has type integer', 'an integer currency column is refused');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total',
		channel_column => 'channel')$$,
	'42804', 'channel column "channel" has type jsonb', 'a jsonb channel column is refused');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total',
		ordered_at_column => 'placed')$$,
	'42804', 'ordered_at column "placed" has type text', 'a text ordered_at column is refused');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'customer_id', 'total')$$,
	'22023', 'column "customer_id" cannot be both the customer column and the order column',
	'one column in two roles is refused with 22023');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total',
		refunded_column => 'total')$$,
	'22023', 'column "total" cannot be both the amount column and the refunded column',
	'the amount column cannot also be the refunded column');
SELECT is(pg_temp.tracking_state(), '5 sources, 0 retired, 16 triggers', 'the wrong types changed nothing');

-- Refund statuses.
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total',
		refund_statuses => '{}')$$,
	'22023', 'refund_statuses must not be empty', 'empty refund statuses are refused with 22023');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total',
		refund_statuses => '{refunded,NULL}')$$,
	'22023', 'refund_statuses must not contain nulls', 'a NULL refund status is refused with 22023');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total',
		refund_statuses => '{{refunded},{cancelled}}')$$,
	'22023', 'refund_statuses must be a one-dimensional array', 'a two-dimensional array is refused');
SELECT throws_ok($$SELECT loyalty.track_orders('pos_orders', 'shop', 'customer_id', 'id', 'total',
		status_column => 'state', refund_statuses => '{cancelled,returned}')$$,
	'22023', 'no value of refund_statuses is a label of type public.order_state',
	'for an enum status, refund statuses that match none of its labels are refused');
SELECT is(pg_temp.tracking_state(), '5 sources, 0 retired, 16 triggers', 'the bad refund statuses changed nothing');

-- A table name holding SQL fails at the regclass cast: nothing runs.
SELECT throws_ok($$SELECT loyalty.track_orders('public.orders; DROP TABLE public.victim', 'shop', 'customer_id', 'id', 'total')$$,
	'42602', 'invalid name syntax', 'a table name with SQL after it is refused by the regclass cast');
SELECT throws_ok($$SELECT loyalty.track_orders('"public.orders; DROP TABLE public.victim"', 'shop', 'customer_id', 'id', 'total')$$,
	'42P01', 'relation "public.orders; DROP TABLE public.victim" does not exist',
	'a quoted table name holding SQL is just a name that does not exist');
SELECT has_table('public', 'victim', 'the victim table survived the hostile table names');
SELECT is(pg_temp.tracking_state(), '5 sources, 0 retired, 16 triggers', 'the hostile table names changed nothing');

--
-- Untracking keeps points and history; tracking again works.
--
DO $$BEGIN
	PERFORM loyalty.enroll('shop', 7);
	PERFORM loyalty.earn('shop', 7, 50, 'order', 'order 1', 'order 1');
END$$;
CREATE TEMP TABLE old_source AS SELECT * FROM loyalty.order_source WHERE table_name = 'public.orders';
SELECT lives_ok($$SELECT loyalty.untrack_orders('public.orders')$$, 'untrack_orders stops tracking a table');
SELECT is_empty($$SELECT * FROM pg_temp.triggers_of('public.orders')$$, 'its triggers are gone');
SELECT is_empty($$SELECT * FROM loyalty.order_source WHERE table_name = 'public.orders'$$,
	'its configuration is gone');
SELECT results_eq(
	$$SELECT source_id, program_id, table_name FROM loyalty.retired_order_source$$,
	$$SELECT source_id, program_id, table_name FROM old_source$$,
	'its source id is retired under its name and program');
SELECT results_eq(
	$$SELECT (SELECT count(*)::int FROM loyalty.ledger), (loyalty.balance('shop', 7)).available$$,
	$$VALUES (1, 50::bigint)$$,
	'points already earned and their ledger entries stay');
SELECT is(pg_temp.error_of($$SELECT loyalty.untrack_orders('public.orders')$$),
	'LY008: table public.orders is not tracked / loyalty.order_source lists the tracked tables.',
	'untracking it again is refused with LY008');
SELECT throws_ok($$SELECT loyalty.untrack_orders('pos_orders')$$,
	'LY008', 'table public.pos_orders is not tracked', 'untracking a table never tracked is refused with LY008');
SELECT throws_ok($$SELECT loyalty.untrack_orders(NULL)$$,
	'22004', 'orders must not be null', 'untracking NULL is refused with 22004');
SELECT throws_ok($$SELECT loyalty.untrack_orders('audited_orders')$$,
	'LY008', 'table public.audited_orders is not tracked', 'an untracked table with a look-alike trigger is refused');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'public.audited_orders'::regclass), 1,
	'and its own trigger of that name is left alone');
SELECT results_eq(
	$$SELECT program_id = loyalty.program_id('us'), source_id > (SELECT source_id FROM old_source),
			 amount_column, refund_statuses
		FROM loyalty.track_orders('public.orders', 'us', 'customer_id', 'id', 'total',
			refund_statuses => '{refunded}')$$,
	$$VALUES (true, true, 'total', '{refunded}'::text[])$$,
	'an untracked table can be tracked again in another program, with new settings and a new source id');
SELECT results_eq(
	$$SELECT source_id, table_name FROM loyalty.retired_order_source$$,
	$$SELECT source_id, table_name FROM old_source$$,
	'its history in the first program stays retired');
SELECT results_eq(
	$$SELECT * FROM pg_temp.triggers_of('public.orders')$$,
	$$SELECT * FROM pg_temp.expected_triggers('public.orders')$$,
	'its new triggers carry the new source id');
SELECT lives_ok($$SELECT loyalty.untrack_orders('web_orders')$$, 'a partitioned table is untracked like any other');
SELECT lives_ok($$SELECT loyalty.track_orders('web_orders_2024', 'us', 'shopper', 'order_ref', 'amount')$$,
	'after which one of its partitions can be tracked');

-- A tracked table dropped without untrack_orders leaves a stale row; a new
-- table of the same name can be tracked and replaces it.
CREATE TABLE public.legacy_orders (id bigint, customer_id bigint, total numeric);
CREATE TEMP TABLE legacy_source AS
	SELECT * FROM loyalty.track_orders('legacy_orders', 'shop', 'customer_id', 'id', 'total');
DROP TABLE public.legacy_orders;
SELECT is((SELECT count(*)::int FROM loyalty.order_source WHERE table_name = 'public.legacy_orders'), 1,
	'dropping a tracked table leaves its configuration row behind');
SELECT is((SELECT relid::regclass FROM loyalty.order_source WHERE table_name = 'public.legacy_orders'), NULL::regclass,
	'without the dropped table''s OID, which a dump would write as a bare number');
CREATE TABLE public.legacy_orders (order_id text, buyer integer, amount bigint);
SELECT results_eq(
	$$SELECT source_id = (SELECT source_id FROM legacy_source), customer_column, order_column, amount_column
		FROM loyalty.track_orders('legacy_orders', 'shop', 'buyer', 'order_id', 'amount')$$,
	$$VALUES (true, 'buyer', 'order_id', 'amount')$$,
	'a new table of the same name can be tracked in the same program: it takes the stale row''s id, and its order history');
SELECT results_eq(
	$$SELECT source_id, customer_column FROM loyalty.order_source WHERE table_name = 'public.legacy_orders'$$,
	$$SELECT source_id, customer_column FROM loyalty.live_order_source('public.legacy_orders')$$,
	'the stale row was replaced by the new one');
SELECT is_empty($$SELECT * FROM loyalty.retired_order_source WHERE table_name = 'public.legacy_orders'$$,
	'and its id is no longer retired');

-- forget_order_history(): the next table tracked under a retired name starts
-- a new history.
SELECT is(pg_temp.error_of($$SELECT loyalty.forget_order_history('public.legacy_orders', 'shop')$$),
	'LY008: no retired order history for table public.legacy_orders in program "shop" / The table is tracked: its order history is in use. / Call loyalty.untrack_orders(''public.legacy_orders'') first.',
	'the history of a tracked table cannot be forgotten');
SELECT loyalty.untrack_orders('legacy_orders');
SELECT is(pg_temp.error_of($$SELECT loyalty.forget_order_history('public.legacy_orders', 'us')$$),
	'LY008: no retired order history for table public.legacy_orders in program "us" / loyalty.retired_order_source lists the retired tables; names are schema-qualified, e.g. ''public.orders''.',
	'nor one in a program the table never earned in');
SELECT throws_ok($$SELECT loyalty.forget_order_history(NULL, 'shop')$$,
	'22004', 'table_name must not be null', 'forgetting a NULL table name is refused with 22004');
SELECT throws_ok($$SELECT loyalty.forget_order_history('public.legacy_orders', 'nope')$$,
	'LY001', NULL, 'forgetting in an unknown program is refused');
SELECT throws_ok($$SELECT loyalty.forget_order_history('a.b.c.d"', 'shop')$$,
	'LY008', NULL, 'a malformed table name is no history, not a parser error');
SELECT results_eq(
	$$SELECT source_id, table_name FROM loyalty.forget_order_history('Public.Legacy_Orders', 'shop')$$,
	$$SELECT source_id, 'public.legacy_orders' FROM legacy_source$$,
	'forget_order_history() takes the name of a table that exists, however written, and returns what it forgot');
SELECT results_eq(
	$$SELECT source_id <> (SELECT source_id FROM legacy_source)
		FROM loyalty.track_orders('legacy_orders', 'shop', 'buyer', 'order_id', 'amount')$$,
	$$VALUES (true)$$,
	'tracked again after that, the table gets a new source id');

-- A tracked table renamed keeps triggers whose row is under the old name:
-- untrack_orders() on the new name cleans both up.
CREATE TABLE public.till_orders (id bigint, customer_id bigint, total numeric);
SELECT lives_ok($$SELECT loyalty.track_orders('till_orders', 'shop', 'customer_id', 'id', 'total')$$,
	'track a table that will be renamed');
ALTER TABLE public.till_orders RENAME TO till_orders_old;
SELECT is(pg_temp.error_of($$SELECT loyalty.track_orders('till_orders_old', 'shop', 'customer_id', 'id', 'total')$$),
	'42710: table public.till_orders_old already has a trigger named loyalty_accrual_delete / It is a loyalty trigger left from tracking the table under another name. / Call loyalty.untrack_orders(''public.till_orders_old'') first.',
	'tracking a renamed table again points to untrack_orders');
SELECT lives_ok($$SELECT loyalty.untrack_orders('till_orders_old')$$,
	'a renamed table can be untracked under its new name');
SELECT results_eq(
	$$SELECT (SELECT count(*)::int FROM pg_temp.triggers_of('public.till_orders_old')),
			 (SELECT count(*)::int FROM loyalty.order_source WHERE table_name = 'public.till_orders')$$,
	$$VALUES (0, 0)$$,
	'its triggers and its row under the old name are gone');
SELECT is((SELECT table_name FROM loyalty.retired_order_source
			WHERE source_id = (SELECT max(source_id) FROM loyalty.retired_order_source)),
	'public.till_orders_old', 'its id is retired under the name it has now');
SELECT max(source_id) AS till_id FROM loyalty.retired_order_source \gset
SELECT is((SELECT source_id FROM loyalty.track_orders('till_orders_old', 'shop', 'customer_id', 'id', 'total')),
	:till_id, 'tracked under the new name, the table takes its old id back');
-- Renamed, and the old name reused by a new table that is tracked.
CREATE TABLE public.cafe_orders (id bigint, customer_id bigint, total numeric);
CREATE TEMP TABLE cafe_source AS
	SELECT * FROM loyalty.track_orders('cafe_orders', 'shop', 'customer_id', 'id', 'total');
ALTER TABLE public.cafe_orders RENAME TO cafe_orders_2023;
CREATE TABLE public.cafe_orders (id bigint, customer_id bigint, total numeric);
SELECT results_eq(
	$$SELECT source_id <> (SELECT source_id FROM cafe_source)
		FROM loyalty.track_orders('cafe_orders', 'shop', 'customer_id', 'id', 'total')$$,
	$$VALUES (true)$$,
	'a new table under a renamed tracked table''s old name can be tracked, with a new id: the renamed table still carries the old one');
SELECT lives_ok($$SELECT loyalty.untrack_orders('cafe_orders_2023')$$,
	'the renamed table''s leftover triggers are removed by untrack_orders');
SELECT results_eq(
	$$SELECT (SELECT count(*)::int FROM pg_temp.triggers_of('public.cafe_orders_2023')),
			 (SELECT count(*)::int FROM loyalty.live_order_source('public.cafe_orders') WHERE source_id IS NOT NULL),
			 (SELECT table_name FROM loyalty.retired_order_source
			   WHERE source_id = (SELECT source_id FROM cafe_source))$$,
	$$VALUES (0, 1, 'public.cafe_orders_2023')$$,
	'and the new table keeps its tracking; the old id is retired under the renamed table''s name');

--
-- Privileges: tracking needs the TRIGGER privilege on the table, untracking
-- needs ownership, and the internal functions cannot be used to skip either.
--
CREATE TABLE public.kiosk_orders (id bigint, customer_id bigint, total numeric);
CREATE TABLE public.other_orders (id bigint, customer_id bigint, total numeric);
CREATE ROLE loyalty_tracker NOLOGIN;
GRANT USAGE ON SCHEMA loyalty TO loyalty_tracker;
GRANT EXECUTE ON FUNCTION
	loyalty.track_orders(regclass, text, name, name, name, name, name, name, name, name, name, text[]),
	loyalty.untrack_orders(regclass),
	loyalty.reserve_order_source(regclass, text, name, name, name, name, name, name, name, name, name, text[]),
	loyalty.register_order_source(integer, regclass, text, name, name, name, name, name, name, name, name, name, text[]),
	loyalty.unregister_order_source(regclass, integer[]),
	loyalty.order_trigger()
TO loyalty_tracker;
CREATE TEMP TABLE state_before AS SELECT pg_temp.tracking_state() AS state;

SET ROLE loyalty_tracker;
SELECT throws_ok($$SELECT loyalty.track_orders('public.kiosk_orders', 'shop', 'customer_id', 'id', 'total')$$,
	'42501', 'permission denied to track table public.kiosk_orders',
	'a role without the TRIGGER privilege on the table is refused with 42501');
RESET ROLE;
SELECT is(pg_temp.tracking_state(), (SELECT state FROM state_before), 'the refused role changed nothing');

GRANT TRIGGER ON public.kiosk_orders TO loyalty_tracker;
SET ROLE loyalty_tracker;
SELECT results_eq(
	$$SELECT table_name FROM loyalty.track_orders('public.kiosk_orders', 'shop', 'customer_id', 'id', 'total')$$,
	$$VALUES ('public.kiosk_orders')$$,
	'a role with the TRIGGER privilege tracks a table it does not own');
SELECT matches(pg_temp.error_of($$SELECT loyalty.register_order_source(
		loyalty.reserve_order_source('public.other_orders', 'shop', 'customer_id', 'id', 'total',
			NULL, NULL, NULL, NULL, NULL, NULL, '{refunded}'),
		'public.other_orders', 'shop', 'customer_id', 'id', 'total',
		NULL, NULL, NULL, NULL, NULL, NULL, '{refunded}')$$),
	'^55000: the loyalty triggers for order source \d+ are not on table public\.other_orders / Track tables with loyalty\.track_orders\(\), which creates them\.$',
	'the internal functions refuse to register a table without its triggers (no TRIGGER privilege needed to skip)');
SELECT throws_ok($$SELECT loyalty.register_order_source(99999, 'public.other_orders', 'shop', 'customer_id', 'id', 'total',
		NULL, NULL, NULL, NULL, NULL, NULL, '{refunded}')$$,
	'55000', 'order source id 99999 was not reserved in this session',
	'nor with a source id they did not hand out');
SELECT throws_ok($$SELECT loyalty.unregister_order_source('public.kiosk_orders')$$,
	'55000', 'the loyalty triggers are still on table public.kiosk_orders',
	'nor unregister a table whose triggers are still on it');
RESET ROLE;
SELECT source_id AS kiosk_id FROM loyalty.order_source WHERE table_name = 'public.kiosk_orders' \gset
SET ROLE loyalty_tracker;
SELECT throws_ok(format($$SELECT loyalty.unregister_order_source('public.other_orders', '{%s}')$$, :kiosk_id),
	'55000', 'the loyalty triggers are still on table public.kiosk_orders',
	'nor unregister another table''s live configuration by its source id');
SELECT throws_ok($$SELECT loyalty.untrack_orders('public.kiosk_orders')$$,
	'42501', 'must be owner of table public.kiosk_orders to untrack it',
	'untracking needs ownership of the table (DROP TRIGGER does)');
RESET ROLE;
SELECT results_eq(
	$$SELECT table_name FROM loyalty.order_source
	   WHERE table_name IN ('public.kiosk_orders', 'public.other_orders')$$,
	$$VALUES ('public.kiosk_orders')$$,
	'only the table tracked through track_orders is configured');
SELECT lives_ok($$SELECT loyalty.untrack_orders('public.kiosk_orders')$$, 'its owner untracks it');
-- Another table's retired history cannot be moved onto one's own table: not
-- through unregister_order_source() with its id, nor through untrack_orders()
-- of an own table carrying a trigger made by hand with that id.
CREATE TABLE public.vault_orders (id bigint, customer_id bigint, total numeric);
CREATE TEMP TABLE vault_source AS
	SELECT * FROM loyalty.track_orders('public.vault_orders', 'shop', 'customer_id', 'id', 'total');
SELECT loyalty.untrack_orders('public.vault_orders');
CREATE TABLE public.tracker_orders (id bigint, customer_id bigint, total numeric);
ALTER TABLE public.tracker_orders OWNER TO loyalty_tracker;
SELECT source_id AS vault_id FROM vault_source \gset
SET ROLE loyalty_tracker;
SELECT is_empty(format($$SELECT * FROM loyalty.unregister_order_source('public.other_orders', '{%s}')$$,
		:vault_id),
	'unregister_order_source() with another table''s retired id retires nothing');
SELECT lives_ok(format($$CREATE TRIGGER loyalty_accrual_insert AFTER INSERT ON public.tracker_orders
		FOR EACH STATEMENT EXECUTE FUNCTION loyalty.order_trigger(%L)$$, :vault_id),
	'a role may put a trigger carrying another table''s id on its own table');
SELECT lives_ok($$SELECT loyalty.untrack_orders('public.tracker_orders')$$,
	'and untrack its table');
RESET ROLE;
SELECT results_eq(
	$$SELECT table_name, relid::regclass FROM loyalty.retired_order_source
	   WHERE source_id = (SELECT source_id FROM vault_source)$$,
	$$VALUES ('public.vault_orders', 'public.vault_orders'::regclass)$$,
	'the id stays retired under the table it was registered for');
SELECT is((SELECT source_id FROM loyalty.track_orders('public.vault_orders', 'shop', 'customer_id', 'id', 'total')),
	(SELECT source_id FROM vault_source), 'which takes it back when tracked again');
SELECT is((SELECT relid::regclass FROM loyalty.order_source WHERE table_name = 'public.vault_orders'),
	'public.vault_orders'::regclass, 'order_source records the table it tracks as relid');
SELECT loyalty.untrack_orders('public.vault_orders');
SET ROLE loyalty_tracker;
SELECT isnt((SELECT source_id FROM loyalty.track_orders('public.tracker_orders', 'shop', 'customer_id', 'id', 'total')),
	:vault_id, 'a table takes back by relid only the ids retired from itself: the role''s own table, tracked, gets a new id');
RESET ROLE;
SELECT is((SELECT source_id FROM loyalty.track_orders('public.vault_orders', 'shop', 'customer_id', 'id', 'total')),
	:vault_id, 'and the vault table, tracked again, still takes back its own');

SELECT isnt_definer('loyalty', 'track_orders', 'track_orders runs as its caller (CREATE TRIGGER checks the caller)');
SELECT isnt_definer('loyalty', 'untrack_orders', 'untrack_orders runs as its caller');
SELECT is_definer('loyalty', 'register_order_source', 'register_order_source writes the configuration as the owner');
SELECT is_definer('loyalty', 'unregister_order_source', 'unregister_order_source retires it as the owner');
SELECT is_definer('loyalty', 'forget_order_history', 'forget_order_history writes the configuration as the owner');
SELECT is_definer('loyalty', 'set_exchange_rate', 'set_exchange_rate runs as the owner');
SELECT is_empty(
	$$SELECT p.oid::regprocedure FROM pg_proc p
	   WHERE p.pronamespace = 'loyalty'::regnamespace
		 AND p.proname IN ('track_orders', 'untrack_orders', 'reserve_order_source',
			 'register_order_source', 'unregister_order_source', 'check_order_source',
			 'live_order_source', 'order_source_triggers', 'set_exchange_rate', 'convert_amount',
			 'order_table_name', 'order_source_carrier', 'adoptable_order_source', 'retire_stale_order_source',
			 'retired_for', 'clear_dropped_relids', 'bind_order_source_relids', 'forget_order_history')
		 AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a
										   WHERE a.grantee = 0))$$,
	'PUBLIC cannot execute any tracking or exchange-rate function');
SELECT is_empty(
	$$SELECT p.oid::regprocedure FROM pg_proc p
	   WHERE p.pronamespace = 'loyalty'::regnamespace
		 AND p.proname IN ('track_orders', 'untrack_orders', 'reserve_order_source',
			 'register_order_source', 'unregister_order_source', 'check_order_source',
			 'live_order_source', 'order_source_triggers', 'set_exchange_rate', 'convert_amount',
			 'order_table_name', 'order_source_carrier', 'adoptable_order_source', 'retire_stale_order_source',
			 'retired_for', 'clear_dropped_relids', 'bind_order_source_relids', 'forget_order_history')
		 AND obj_description(p.oid, 'pg_proc') IS NULL$$,
	'every tracking and exchange-rate function has a comment');
SELECT is_empty(
	$$SELECT c.relname FROM pg_class c
	   WHERE c.oid IN ('loyalty.order_source'::regclass, 'loyalty.order_source_id_seq'::regclass,
					   'loyalty.exchange_rate'::regclass, 'loyalty.retired_order_source'::regclass)
		 AND obj_description(c.oid, 'pg_class') IS NULL$$,
	'order_source, its sequence, retired_order_source and exchange_rate have comments');
SELECT ok(
	(SELECT extconfig FROM pg_extension WHERE extname = 'loyalty')
		@> ARRAY['loyalty.order_source'::regclass, 'loyalty.order_source_id_seq'::regclass,
				 'loyalty.exchange_rate'::regclass, 'loyalty.retired_order_source'::regclass]::oid[],
	'order_source, its sequence, retired_order_source and exchange_rate are dumped by pg_dump');

-- A tracked table renamed after tracking: every write says how to fix it,
-- and untrack_orders plus track_orders under the new name do.
CREATE TABLE public.renamed_orders (id bigint PRIMARY KEY, customer_id bigint, total numeric);
SELECT 'tracked' FROM loyalty.track_orders('public.renamed_orders', 'us', 'customer_id', 'id', 'total');
ALTER TABLE renamed_orders RENAME TO moved_orders;
SELECT alike(pg_temp.error_of($$INSERT INTO moved_orders VALUES (1, 1, 10)$$),
	'55000: loyalty order source % is registered for table public.renamed_orders, not public.moved_orders / The table was renamed or moved after loyalty.track_orders(): run loyalty.untrack_orders(''public.moved_orders'') and loyalty.track_orders() again under its new name.',
	'a write to a renamed tracked table fails with a hint that says how to fix it');
SELECT loyalty.untrack_orders('public.moved_orders');
SELECT 'tracked' FROM loyalty.track_orders('public.moved_orders', 'us', 'customer_id', 'id', 'total');
INSERT INTO moved_orders VALUES (2, 77, 10);
SELECT is((SELECT points FROM loyalty.order_accrual WHERE order_key = '2'
			AND source_id = (SELECT source_id FROM loyalty.order_source WHERE table_name = 'public.moved_orders')),
	10::bigint, 'tracked again under its new name, the table earns');

-- Tracked again, a table keeps its order history: a refund of an order
-- recorded before finds its points, and a re-send earns nothing (a rename,
-- then a change of settings).
CREATE TABLE public.shop_orders (id bigint, customer_id bigint, total numeric, status text DEFAULT 'paid');
CREATE TEMP TABLE shop_source AS
	SELECT * FROM loyalty.track_orders('public.shop_orders', 'us', 'customer_id', 'id', 'total',
		status_column => 'status');
INSERT INTO shop_orders VALUES (1, 88, 100), (2, 88, 50), (3, 88, 30);
ALTER TABLE shop_orders RENAME TO store_orders;
SELECT loyalty.untrack_orders('public.store_orders');
SELECT is((SELECT source_id FROM loyalty.track_orders('public.store_orders', 'us', 'customer_id', 'id', 'total',
			status_column => 'status')),
	(SELECT source_id FROM shop_source), 'a renamed table tracked again under its new name keeps its source id');
UPDATE store_orders SET status = 'refunded' WHERE id = 1;
INSERT INTO store_orders VALUES (2, 88, 50);
SELECT loyalty.untrack_orders('public.store_orders');
SELECT is((SELECT source_id FROM loyalty.track_orders('public.store_orders', 'us', 'customer_id', 'id', 'total',
			status_column => 'status', refund_statuses => '{refunded,voided}')),
	(SELECT source_id FROM shop_source), 'tracked again with new settings, it keeps it too');
UPDATE store_orders SET status = 'voided' WHERE id = 3;
SELECT results_eq(
	$$SELECT order_key, state, points FROM loyalty.order_accrual WHERE customer_id = 88 ORDER BY order_key$$,
	$$VALUES ('1', 'reversed', 0::bigint), ('2', 'active', 50::bigint), ('3', 'reversed', 0::bigint)$$,
	'refunds of orders recorded before each re-tracking took their points back, and the re-sent order earned nothing');
SELECT is((SELECT available + pending FROM loyalty.balance('us', 88)), 50::bigint,
	'so the member holds 50 of the 180 points earned, not 180 or 230');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'balances equal the ledger');

-- forget_order_history() forgets the name's history only: an id retired under
-- the name but still carried by the triggers of the renamed table is that
-- table's, and stays (review h-review4 #1).
CREATE TABLE public.rt_orders (id bigint, customer_id bigint, total numeric, status text DEFAULT 'paid');
CREATE TEMP TABLE rt_source AS
	SELECT * FROM loyalty.track_orders('public.rt_orders', 'us', 'customer_id', 'id', 'total');
INSERT INTO rt_orders VALUES (1, 89, 40);
ALTER TABLE rt_orders RENAME TO rt_orders_old;
CREATE TABLE public.rt_orders (id bigint, customer_id bigint, total numeric, status text DEFAULT 'paid');
SELECT isnt((SELECT source_id FROM loyalty.track_orders('public.rt_orders', 'us', 'customer_id', 'id', 'total')),
	(SELECT source_id FROM rt_source), 'the new table under the old name gets a new id');
SELECT loyalty.untrack_orders('public.rt_orders');
SELECT results_eq(
	$$SELECT count(*), bool_or(source_id = (SELECT source_id FROM rt_source))
		FROM loyalty.forget_order_history('public.rt_orders', 'us')$$,
	$$VALUES (1::bigint, false)$$,
	'forgetting the old name forgets the new table''s id, not the renamed table''s');
SELECT is(pg_temp.error_of($$SELECT loyalty.forget_order_history('public.rt_orders', 'us')$$),
	'LY008: no retired order history for table public.rt_orders in program "us" / The id retired under that name is carried by the loyalty triggers of table public.rt_orders_old, renamed since: it is that table''s history. / Nothing to forget: the next table tracked as public.rt_orders gets a new id anyway.',
	'and the id the renamed table still carries is no history of its old name to forget');
SELECT loyalty.untrack_orders('public.rt_orders_old');
SELECT is((SELECT source_id FROM loyalty.track_orders('public.rt_orders_old', 'us', 'customer_id', 'id', 'total')),
	(SELECT source_id FROM rt_source), 'the renamed table tracked under its new name keeps its id');
DELETE FROM rt_orders_old WHERE id = 1;
INSERT INTO rt_orders_old VALUES (1, 89, 40);
SELECT results_eq(
	$$SELECT source_id = (SELECT source_id FROM rt_source), order_key, state, points
		FROM loyalty.order_accrual WHERE customer_id = 89$$,
	$$VALUES (true, '1', 'active', 40::bigint)$$,
	'its order deleted and sent again is one order of 40 points');
SELECT is((SELECT available + pending FROM loyalty.balance('us', 89)), 40::bigint,
	'so the member holds 40 points, not 80');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'balances still equal the ledger');

-- A table dropped while tracked, rebuilt with its keys starting over: its id
-- can be forgotten before the name is tracked again, as README says (review
-- h-review4 #3; the row stays in order_source until then).
CREATE TABLE public.rb_orders (id bigint, customer_id bigint, total numeric);
CREATE TEMP TABLE rb_source AS
	SELECT * FROM loyalty.track_orders('public.rb_orders', 'us', 'customer_id', 'id', 'total');
INSERT INTO rb_orders VALUES (1, 90, 40);
DROP TABLE rb_orders;
CREATE TABLE public.rb_orders (id bigint, customer_id bigint, total numeric);
SELECT results_eq(
	$$SELECT source_id, table_name FROM loyalty.forget_order_history('public.rb_orders', 'us')$$,
	$$SELECT source_id, 'public.rb_orders' FROM rb_source$$,
	'the id of a table dropped while tracked can be forgotten');
SELECT isnt((SELECT source_id FROM loyalty.track_orders('public.rb_orders', 'us', 'customer_id', 'id', 'total')),
	(SELECT source_id FROM rb_source), 'so the rebuilt table gets a new id');
INSERT INTO rb_orders VALUES (1, 90, 70);
SELECT is((SELECT available + pending FROM loyalty.balance('us', 90)), 110::bigint,
	'and its order 1 is a new order: 40 + 70 points');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'balances equal the ledger after the rebuild');

-- A renamed table renamed back, untracked and tracked again, takes back its
-- own id, not that of the table that had its name meanwhile (review
-- h-review4 #4).
CREATE TABLE public.rn_orders (id bigint, customer_id bigint, total numeric, status text DEFAULT 'paid');
CREATE TEMP TABLE rn_source AS
	SELECT * FROM loyalty.track_orders('public.rn_orders', 'us', 'customer_id', 'id', 'total',
		status_column => 'status');
INSERT INTO rn_orders VALUES (1, 91, 40);
ALTER TABLE rn_orders RENAME TO rn_orders_old;
CREATE TABLE public.rn_orders (id bigint, customer_id bigint, total numeric, status text DEFAULT 'paid');
SELECT isnt((SELECT source_id FROM loyalty.track_orders('public.rn_orders', 'us', 'customer_id', 'id', 'total')),
	(SELECT source_id FROM rn_source), 'the table that takes the old name gets a new id');
SELECT loyalty.untrack_orders('public.rn_orders');
DROP TABLE public.rn_orders;
ALTER TABLE rn_orders_old RENAME TO rn_orders;
SELECT loyalty.untrack_orders('public.rn_orders');
SELECT is((SELECT source_id FROM loyalty.track_orders('public.rn_orders', 'us', 'customer_id', 'id', 'total',
			status_column => 'status')),
	(SELECT source_id FROM rn_source), 'renamed back, untracked and tracked again, the table takes back its own id');
UPDATE rn_orders SET status = 'refunded' WHERE id = 1;
SELECT is((SELECT available + pending FROM loyalty.balance('us', 91)), 0::bigint,
	'so the refund of its earlier order takes the 40 points back');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'balances equal the ledger after the renames');

-- Untracked, then renamed, then tracked again: the table takes back its own
-- id (retired_order_source.relid) under its new name, so its order history
-- goes on: a refund of an earlier order takes its points back, and the same
-- order sent again earns nothing.
CREATE TABLE public.ur_orders (id bigint, customer_id bigint, total numeric, status text DEFAULT 'paid');
CREATE TEMP TABLE ur_source AS
	SELECT * FROM loyalty.track_orders('public.ur_orders', 'us', 'customer_id', 'id', 'total',
		status_column => 'status');
INSERT INTO ur_orders VALUES (1, 92, 100), (2, 92, 50);
SELECT loyalty.untrack_orders('public.ur_orders');
ALTER TABLE ur_orders RENAME TO ur_orders_2024;
SELECT is((SELECT source_id FROM loyalty.track_orders('public.ur_orders_2024', 'us', 'customer_id', 'id', 'total',
			status_column => 'status')),
	(SELECT source_id FROM ur_source), 'untracked, renamed and tracked again, a table takes back its own id');
UPDATE ur_orders_2024 SET status = 'refunded' WHERE id = 1;
INSERT INTO ur_orders_2024 VALUES (2, 92, 50);
SELECT results_eq(
	$$SELECT source_id = (SELECT source_id FROM ur_source), order_key, state, points
		FROM loyalty.order_accrual WHERE customer_id = 92 ORDER BY order_key$$,
	$$VALUES (true, '1', 'reversed', 0::bigint), (true, '2', 'active', 50::bigint)$$,
	'the refund of an order recorded before the rename took its points back, and the re-sent order earned nothing');
SELECT is((SELECT available + pending FROM loyalty.balance('us', 92)), 50::bigint,
	'so the member holds 50 of the 150 points earned, not 150 or 200');

-- Precedence: a table's own id wins over one retired under the name it has
-- now by another table, gone since, even a later one.
CREATE TABLE public.pa_orders (id bigint, customer_id bigint, total numeric, status text DEFAULT 'paid');
CREATE TEMP TABLE pa_source AS
	SELECT * FROM loyalty.track_orders('public.pa_orders', 'us', 'customer_id', 'id', 'total',
		status_column => 'status');
INSERT INTO pa_orders VALUES (1, 93, 40);
SELECT loyalty.untrack_orders('public.pa_orders');
CREATE TABLE public.pb_orders (id bigint, customer_id bigint, total numeric, status text DEFAULT 'paid');
CREATE TEMP TABLE pb_source AS
	SELECT * FROM loyalty.track_orders('public.pb_orders', 'us', 'customer_id', 'id', 'total',
		status_column => 'status');
INSERT INTO pb_orders VALUES (1, 93, 70);
SELECT loyalty.untrack_orders('public.pb_orders');
DROP TABLE public.pb_orders;
ALTER TABLE pa_orders RENAME TO pb_orders;
SELECT is((SELECT source_id FROM loyalty.track_orders('public.pb_orders', 'us', 'customer_id', 'id', 'total',
			status_column => 'status')),
	(SELECT source_id FROM pa_source),
	'renamed to the name of a table dropped since, a table takes back its own id, not the one retired later under that name');
UPDATE pb_orders SET status = 'refunded' WHERE id = 1;
SELECT results_eq(
	$$SELECT source_id = (SELECT source_id FROM pa_source), order_key, state, points
		FROM loyalty.order_accrual WHERE customer_id = 93 ORDER BY 1$$,
	$$VALUES (false, '1', 'active', 70::bigint), (true, '1', 'reversed', 0::bigint)$$,
	'so a refund of its order 1 reverses its own order 1 (40 points), not the dropped table''s (70)');
SELECT results_eq(
	$$SELECT source_id, table_name FROM loyalty.forget_order_history('public.pb_orders', 'us')$$,
	$$SELECT source_id, table_name FROM pb_source$$,
	'the dropped table''s id stays retired under the name until forgotten');

-- Untracked and dropped, a table leaves its id to its name: a table rebuilt
-- under the name takes it back.
CREATE TABLE public.rd_orders (id bigint, customer_id bigint, total numeric);
CREATE TEMP TABLE rd_source AS
	SELECT * FROM loyalty.track_orders('public.rd_orders', 'us', 'customer_id', 'id', 'total');
SELECT loyalty.untrack_orders('public.rd_orders');
DROP TABLE public.rd_orders;
SELECT is((SELECT relid::regclass FROM loyalty.retired_order_source WHERE source_id = (SELECT source_id FROM rd_source)),
	NULL::regclass,
	'dropping an untracked table clears its OID from its retired row: in a restored database it could be another table''s');
CREATE TABLE public.rd_orders (id bigint, customer_id bigint, total numeric);
SELECT is((SELECT source_id FROM loyalty.track_orders('public.rd_orders', 'us', 'customer_id', 'id', 'total')),
	(SELECT source_id FROM rd_source), 'a table rebuilt under the name of one untracked and dropped takes back its id');

-- Untracked and renamed away, a table keeps its id while it exists: a new
-- table under its old name gets a new one, even when tracked first, and even
-- a role that may create tables in the schema cannot take another table's
-- history by taking its old name.
CREATE TABLE public.sq_orders (id bigint, customer_id bigint, total numeric, status text DEFAULT 'paid');
SELECT source_id AS sq_id FROM loyalty.track_orders('public.sq_orders', 'us', 'customer_id', 'id', 'total',
	status_column => 'status') \gset
INSERT INTO sq_orders VALUES (1, 94, 60);
SELECT loyalty.untrack_orders('public.sq_orders');
ALTER TABLE sq_orders RENAME TO sq_orders_2024;
GRANT CREATE ON SCHEMA public TO loyalty_tracker;
SET ROLE loyalty_tracker;
CREATE TABLE public.sq_orders (id bigint, customer_id bigint, total numeric, status text DEFAULT 'paid');
SELECT isnt((SELECT source_id FROM loyalty.track_orders('public.sq_orders', 'us', 'customer_id', 'id', 'total',
			status_column => 'status')),
	:sq_id, 'a role''s new table under the old name of a table untracked and renamed gets a new id, not that table''s');
RESET ROLE;
SELECT is((SELECT source_id FROM loyalty.track_orders('public.sq_orders_2024', 'us', 'customer_id', 'id', 'total',
			status_column => 'status')),
	:sq_id, 'and the renamed table, tracked after it, takes back its own id');
UPDATE sq_orders_2024 SET status = 'refunded' WHERE id = 1;
SELECT is((SELECT available + pending FROM loyalty.balance('us', 94)), 0::bigint,
	'so the refund of its earlier order takes the 60 points back');

-- forget_order_history() forgets what tracking under the name would take
-- back: the id of a table untracked and renamed since is that table's, and is
-- forgotten under the table's new name.
CREATE TABLE public.fg_orders (id bigint, customer_id bigint, total numeric);
CREATE TEMP TABLE fg_source AS
	SELECT * FROM loyalty.track_orders('public.fg_orders', 'us', 'customer_id', 'id', 'total');
SELECT loyalty.untrack_orders('public.fg_orders');
ALTER TABLE fg_orders RENAME TO fg_orders_old;
SELECT is(pg_temp.error_of($$SELECT loyalty.forget_order_history('public.fg_orders', 'us')$$),
	'LY008: no retired order history for table public.fg_orders in program "us" / The id retired under that name was retired from table public.fg_orders_old, renamed since: it is that table''s history. / Nothing to forget: the next table tracked as public.fg_orders gets a new id anyway; loyalty.forget_order_history(''public.fg_orders_old'', ''us'') forgets that table''s history.',
	'forgetting the old name of a table untracked and renamed keeps its id, and says whose it is');
SELECT results_eq(
	$$SELECT source_id, table_name FROM loyalty.forget_order_history('public.fg_orders_old', 'us')$$,
	$$SELECT source_id, 'public.fg_orders' FROM fg_source$$,
	'forgetting under the table''s new name forgets its id, retired under the old one');
SELECT isnt((SELECT source_id FROM loyalty.track_orders('public.fg_orders_old', 'us', 'customer_id', 'id', 'total')),
	(SELECT source_id FROM fg_source), 'so tracked again, the table starts a new history');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'balances equal the ledger after untracking and renaming');

-- relid is a loyalty.tableref: an OID written as the table's schema-qualified
-- name, so pg_dump writes names; but reading a name of no table, or a bare OID
-- (which names a table only in the database that wrote it), gives "no table"
-- instead of failing, so a dump that leaves a table out still restores.
SELECT is((SELECT relid::text FROM loyalty.order_source WHERE table_name = 'public.fg_orders_old'),
	'public.fg_orders_old', 'relid reads as the table''s schema-qualified name, whatever the search_path');
SELECT is((SELECT count(*)::int FROM loyalty.order_source WHERE relid = 'public.fg_orders_old'::regclass), 1,
	'relid compares with a regclass');
CREATE TABLE "Odd ""Case"" Orders" (id bigint, customer_id bigint, total numeric);
SELECT is('"Odd ""Case"" Orders"'::loyalty.tableref::text, 'public."Odd ""Case"" Orders"',
	'a mixed-case, quoted name reads back quoted');
SELECT is('public."Odd ""Case"" Orders"'::loyalty.tableref::regclass, '"Odd ""Case"" Orders"'::regclass,
	'and its text reads back as the same table');
SELECT is('-'::loyalty.tableref::oid, 0::oid, '''-'' reads as no table');
SELECT is(('public.fg_orders_old'::regclass::oid::text)::loyalty.tableref::oid, 0::oid,
	'a bare OID reads as no table, even one of a table here: OIDs differ between databases');
SELECT is('public.no_such_orders'::loyalty.tableref::oid, 0::oid, 'a name of no table reads as no table');
SELECT is('no_such_schema.orders'::loyalty.tableref::oid, 0::oid, 'so does a name in a schema that does not exist');
SELECT is(0::oid::loyalty.tableref::text, '-', 'no table is written ''-''');
SELECT throws_ok($$SELECT 'public."orders'::loyalty.tableref$$, '42602', 'invalid name syntax',
	'a malformed name is an error, not no table');
SELECT throws_ok($$SELECT 'a.b.c.d'::loyalty.tableref$$, '42601', NULL,
	'so is a name with too many parts');
CREATE TEMP TABLE tableref_copy (r loyalty.tableref);
INSERT INTO tableref_copy VALUES ('public.fg_orders_old'), ('"Odd ""Case"" Orders"'), ('-');
\copy tableref_copy TO '/tmp/loyalty_tableref.bin' WITH (FORMAT binary)
DROP TABLE "Odd ""Case"" Orders";
TRUNCATE tableref_copy;
\copy tableref_copy FROM '/tmp/loyalty_tableref.bin' WITH (FORMAT binary)
\! rm -f /tmp/loyalty_tableref.bin
SELECT results_eq($$SELECT r::regclass FROM tableref_copy ORDER BY r::oid$$,
	$$VALUES (0::regclass), (0::regclass), ('public.fg_orders_old'::regclass)$$,
	'the binary form is the name too: a table dropped since reads back as no table');

SELECT * FROM finish();
ROLLBACK;
