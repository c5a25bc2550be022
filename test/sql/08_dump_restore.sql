\i test/setup.sql
-- pg_dump of a database holding loyalty data, restored into a new database,
-- gives the same programs, members, balances, lots and ledger; both as a
-- plain SQL script and in the custom format through pg_restore.
\set home_db :DBNAME
\! dropdb --if-exists loyalty_dump_src 2>/dev/null; dropdb --if-exists loyalty_dump_plain 2>/dev/null; dropdb --if-exists loyalty_dump_custom 2>/dev/null
\! createdb loyalty_dump_src && psql -X -q -d loyalty_dump_src -f test/fixtures/dump_source.sql
\c loyalty_dump_src
\i test/fixtures/dump_fingerprint.sql
\set src_program :fp_program
\set src_member :fp_member
\set src_account :fp_account
\set src_lot :fp_lot
\set src_ledger :fp_ledger
\set src_card_counter :fp_card_counter
\set src_n_ledger :n_ledger
\! createdb loyalty_dump_plain && pg_dump -d loyalty_dump_src | psql -X -q -v ON_ERROR_STOP=1 -d loyalty_dump_plain >/dev/null
\! createdb loyalty_dump_custom && pg_dump -Fc -d loyalty_dump_src -f /tmp/loyalty_dump_test.dump && pg_restore --exit-on-error -d loyalty_dump_custom /tmp/loyalty_dump_test.dump

\c loyalty_dump_plain
\i test/setup.sql
CREATE EXTENSION pgtap;
BEGIN;
SELECT plan(12);
\i test/fixtures/dump_fingerprint.sql
SELECT ok(:'src_n_ledger'::int > 50, 'the source holds a realistic ledger');
SELECT is(:'fp_program'::text, :'src_program'::text, 'plain dump: programs restored');
SELECT is(:'fp_member'::text, :'src_member'::text, 'plain dump: members restored with cards, birthdays and status');
SELECT is(:'fp_account'::text, :'src_account'::text, 'plain dump: balances restored');
SELECT is(:'fp_lot'::text, :'src_lot'::text, 'plain dump: lots restored');
SELECT is(:'fp_ledger'::text, :'src_ledger'::text, 'plain dump: every ledger entry restored');
SELECT is(:'fp_card_counter'::text, :'src_card_counter'::text, 'plain dump: card counters restored');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'plain dump: restored balances equal the ledger');
SELECT is((loyalty.earn('vn', 1, 3, 'after restore')).entry_no,
	(SELECT max(entry_no) + 1 FROM loyalty.ledger WHERE customer_id = 1 AND program_id = loyalty.program_id('vn')),
	'plain dump: the restored database keeps earning, numbering entries on');
SELECT is((loyalty.create_program('new', 'New', 'USD', 1, 1)).program_id, 3,
	'plain dump: the program id sequence continues');
SELECT is(loyalty.card_issue('6042')::text, '6042000000000213',
	'plain dump: card numbers continue after the last one issued');
SELECT throws_ok($$DELETE FROM loyalty.ledger$$, 'LY006', NULL, 'plain dump: the ledger is still immutable');
SELECT * FROM finish();
ROLLBACK;

\c loyalty_dump_custom
\i test/setup.sql
CREATE EXTENSION pgtap;
BEGIN;
SELECT plan(4);
\i test/fixtures/dump_fingerprint.sql
SELECT is(:'fp_member'::text, :'src_member'::text, 'custom dump: members restored');
SELECT is(:'fp_account'::text, :'src_account'::text, 'custom dump: balances restored');
SELECT is(:'fp_ledger'::text, :'src_ledger'::text, 'custom dump: every ledger entry restored');
SELECT is(:'fp_lot'::text, :'src_lot'::text, 'custom dump: lots restored');
SELECT * FROM finish();
ROLLBACK;

-- A parallel restore (pg_restore -j) loads tables in any order, and the
-- extension's tables reference each other from CREATE EXTENSION on: README
-- restores the loyalty schema's data in one job and the rest in parallel.
\! dropdb --if-exists loyalty_dump_parallel 2>/dev/null
\! createdb loyalty_dump_parallel && pg_restore --exit-on-error -d loyalty_dump_parallel --section=pre-data /tmp/loyalty_dump_test.dump && pg_restore --exit-on-error -d loyalty_dump_parallel --section=data -n loyalty /tmp/loyalty_dump_test.dump && pg_restore --exit-on-error -d loyalty_dump_parallel --section=data -N loyalty -j 2 /tmp/loyalty_dump_test.dump && pg_restore --exit-on-error -d loyalty_dump_parallel --section=post-data -j 2 /tmp/loyalty_dump_test.dump

\c loyalty_dump_parallel
\i test/setup.sql
CREATE EXTENSION pgtap;
BEGIN;
SELECT plan(5);
\i test/fixtures/dump_fingerprint.sql
SELECT is(:'fp_member'::text, :'src_member'::text, 'parallel restore: members restored');
SELECT is(:'fp_account'::text, :'src_account'::text, 'parallel restore: balances restored');
SELECT is(:'fp_ledger'::text, :'src_ledger'::text, 'parallel restore: every ledger entry restored');
SELECT is(:'fp_lot'::text, :'src_lot'::text, 'parallel restore: lots restored');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'parallel restore: restored balances equal the ledger');
SELECT * FROM finish();
ROLLBACK;

-- A partial dump: pg_dump -T or -N leaves out tables that order_source and
-- retired_order_source name in relid.  Their rows still restore, with relid
-- "no table" ('-'), as if the table had been dropped; the other tracked
-- tables keep earning, and a table created again under a left-out name and
-- tracked continues that name's history.
\! dropdb --if-exists loyalty_dump_part_src 2>/dev/null; dropdb --if-exists loyalty_dump_part 2>/dev/null
\! createdb loyalty_dump_part_src && createdb loyalty_dump_part
\c loyalty_dump_part_src
CREATE EXTENSION loyalty;
SELECT FROM loyalty.create_program('pd', 'Partial dump', 'USD', 1, 1) \g /dev/null
CREATE SCHEMA arch;
CREATE TABLE arch.old_orders (id bigint PRIMARY KEY, customer_id bigint, total numeric);
CREATE TABLE public.shop_orders (id bigint PRIMARY KEY, customer_id bigint, total numeric);
CREATE TABLE public.kiosk_orders (id bigint PRIMARY KEY, customer_id bigint, total numeric);
SELECT source_id AS part_old FROM loyalty.track_orders('arch.old_orders', 'pd', 'customer_id', 'id', 'total') \gset
SELECT source_id AS part_shop FROM loyalty.track_orders('public.shop_orders', 'pd', 'customer_id', 'id', 'total') \gset
SELECT source_id AS part_kiosk FROM loyalty.track_orders('public.kiosk_orders', 'pd', 'customer_id', 'id', 'total') \gset
INSERT INTO arch.old_orders VALUES (1, 1, 10);
INSERT INTO public.shop_orders VALUES (1, 1, 20);
INSERT INTO public.kiosk_orders VALUES (1, 1, 40);
SELECT loyalty.untrack_orders('arch.old_orders') \g /dev/null
\! pg_dump -Fc -N arch -T public.kiosk_orders -d loyalty_dump_part_src -f /tmp/loyalty_dump_part.dump && pg_restore --exit-on-error -d loyalty_dump_part /tmp/loyalty_dump_part.dump

\c loyalty_dump_part
\i test/setup.sql
CREATE EXTENSION pgtap;
BEGIN;
SELECT plan(8);
SELECT results_eq(
	$$SELECT source_id, table_name, relid::text FROM loyalty.order_source ORDER BY source_id$$,
	format($$VALUES (%s, 'public.shop_orders', 'public.shop_orders'), (%s, 'public.kiosk_orders', '-')$$,
		:part_shop, :part_kiosk),
	'partial dump: every tracked table''s row restores; a table left out reads as no table');
SELECT results_eq(
	$$SELECT source_id, table_name, relid::oid FROM loyalty.retired_order_source$$,
	format($$VALUES (%s, 'arch.old_orders', 0::oid)$$, :part_old),
	'partial dump: so does the row of an untracked table in a schema left out');
SELECT is((SELECT count(*)::int FROM loyalty.order_accrual), 3, 'partial dump: every order record restores');
INSERT INTO public.shop_orders VALUES (2, 1, 5);
SELECT is((SELECT available FROM loyalty.balance('pd', 1)), 75::bigint,
	'partial dump: a tracked table that was dumped keeps earning');
CREATE TABLE public.kiosk_orders (id bigint PRIMARY KEY, customer_id bigint, total numeric);
SELECT is((SELECT source_id FROM loyalty.track_orders('public.kiosk_orders', 'pd', 'customer_id', 'id', 'total')),
	:part_kiosk, 'partial dump: a table created again under the left-out name takes its id back');
INSERT INTO public.kiosk_orders VALUES (1, 1, 40);
SELECT is((SELECT available FROM loyalty.balance('pd', 1)), 75::bigint,
	'partial dump: so its order re-sent earns nothing');
INSERT INTO public.kiosk_orders VALUES (2, 1, 40);
SELECT is((SELECT available FROM loyalty.balance('pd', 1)), 115::bigint,
	'partial dump: and a new order earns');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'partial dump: restored balances equal the ledger');
SELECT * FROM finish();
ROLLBACK;

-- Restores that read order_source before its tables exist: a dump of 0.2.0
-- (which had no relid; CREATE EXTENSION installs 0.3.0), and the extension's
-- schema restored before the application's (relid reads as no table).  The
-- tables' accrual triggers, restored after, give relid back its table, so
-- renaming, untracking and tracking it again keeps its history.
\! dropdb --if-exists loyalty_dump_v2_src 2>/dev/null; dropdb --if-exists loyalty_dump_v2 2>/dev/null; dropdb --if-exists loyalty_dump_split 2>/dev/null
\! createdb loyalty_dump_v2_src && createdb loyalty_dump_v2 && createdb loyalty_dump_split
\c loyalty_dump_v2_src
CREATE EXTENSION loyalty VERSION '0.2.0';
SELECT FROM loyalty.create_program('v2', 'From 0.2.0', 'USD', 1, 1) \g /dev/null
CREATE SCHEMA shop;
CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer_id bigint, total numeric);
SELECT source_id AS v2_source FROM loyalty.track_orders('shop.orders', 'v2', 'customer_id', 'id', 'total') \gset
INSERT INTO shop.orders VALUES (1, 1, 10);
\! pg_dump -d loyalty_dump_v2_src | psql -X -q -v ON_ERROR_STOP=1 -d loyalty_dump_v2 >/dev/null
ALTER EXTENSION loyalty UPDATE;
\! pg_dump -Fc -e loyalty -n loyalty -d loyalty_dump_v2_src -f /tmp/loyalty_dump_ext.dump && pg_dump -Fc -n shop -d loyalty_dump_v2_src -f /tmp/loyalty_dump_app.dump
\! pg_restore --exit-on-error -d loyalty_dump_split /tmp/loyalty_dump_ext.dump && pg_restore --exit-on-error -d loyalty_dump_split /tmp/loyalty_dump_app.dump

\c loyalty_dump_v2
\i test/setup.sql
CREATE EXTENSION pgtap;
BEGIN;
SELECT plan(5);
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'loyalty'), '0.3.0',
	'0.2.0 dump: restoring it installs 0.3.0');
SELECT is((SELECT relid::regclass FROM loyalty.order_source WHERE source_id = :v2_source), 'shop.orders'::regclass,
	'0.2.0 dump: the restored triggers give relid its table');
ALTER TABLE shop.orders RENAME TO orders_2024;
SELECT loyalty.untrack_orders('shop.orders_2024') \g /dev/null
SELECT is((SELECT source_id FROM loyalty.track_orders('shop.orders_2024', 'v2', 'customer_id', 'id', 'total')),
	:v2_source, '0.2.0 dump: renamed, untracked and tracked again, the table takes its id back');
DELETE FROM shop.orders_2024 WHERE id = 1;
SELECT is((SELECT available FROM loyalty.balance('v2', 1)), 0::bigint,
	'0.2.0 dump: so deleting its earlier order takes the points back');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, '0.2.0 dump: balances equal the ledger');
SELECT * FROM finish();
ROLLBACK;

\c loyalty_dump_split
\i test/setup.sql
CREATE EXTENSION pgtap;
BEGIN;
SELECT plan(4);
SELECT is((SELECT relid::regclass FROM loyalty.order_source WHERE source_id = :v2_source), 'shop.orders'::regclass,
	'split restore: the application''s triggers, restored after the extension, give relid its table');
ALTER TABLE shop.orders RENAME TO orders_2024;
SELECT loyalty.untrack_orders('shop.orders_2024') \g /dev/null
SELECT is((SELECT source_id FROM loyalty.track_orders('shop.orders_2024', 'v2', 'customer_id', 'id', 'total')),
	:v2_source, 'split restore: renamed, untracked and tracked again, the table takes its id back');
DELETE FROM shop.orders_2024 WHERE id = 1;
SELECT is((SELECT available FROM loyalty.balance('v2', 1)), 0::bigint,
	'split restore: so deleting its earlier order takes the points back');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'split restore: balances equal the ledger');
SELECT * FROM finish();
ROLLBACK;

\c :home_db
\! dropdb loyalty_dump_src && dropdb loyalty_dump_plain && dropdb loyalty_dump_custom && dropdb loyalty_dump_parallel && dropdb loyalty_dump_part_src && dropdb loyalty_dump_part && dropdb loyalty_dump_v2_src && dropdb loyalty_dump_v2 && dropdb loyalty_dump_split && rm -f /tmp/loyalty_dump_test.dump /tmp/loyalty_dump_part.dump /tmp/loyalty_dump_ext.dump /tmp/loyalty_dump_app.dump
