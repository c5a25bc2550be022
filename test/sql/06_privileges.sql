\i test/setup.sql
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(32);

-- Nothing outside the card, window and tableref types' own functions is
-- executable by PUBLIC.  The window functions compute on the values they are
-- given and read no table; tableref's I/O reads only the catalog, as regclass's.
SELECT set_eq(
	$$SELECT p.proname::text FROM pg_proc p
	   WHERE p.pronamespace = 'loyalty'::regnamespace
		 AND (p.proacl IS NULL OR EXISTS (
			SELECT 1 FROM aclexplode(p.proacl) a
			 WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))$$,
	ARRAY['card_in', 'card_out', 'card_recv', 'card_send', 'card_eq', 'card_ne',
		  'card_lt', 'card_le', 'card_gt', 'card_ge', 'card_cmp', 'card_sortsupport',
		  'card_hash', 'card_hash_extended', 'card_from_bigint', 'card_check_digit',
		  'card_is_valid',
		  'window_in', 'window_out', 'window_recv', 'window_send', 'window_eq', 'window_ne',
		  'window_hash', 'window_hash_extended', 'window_empty', 'window_add', 'window_shift',
		  'window_total', 'window_total', 'window_months', 'window_end', 'window_buckets',
		  'tableref_in', 'tableref_out', 'tableref_recv', 'tableref_send'],
	'only the card, window and tableref types'' I/O, operators and value functions are executable by PUBLIC');

SELECT is_empty(
	$$SELECT c.relname FROM pg_class c
	   WHERE c.relnamespace = 'loyalty'::regnamespace AND c.relkind IN ('r', 'v', 'S', 'p')
		 AND EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = 0)$$,
	'PUBLIC has no privilege on any loyalty table, view or sequence');

SELECT is_empty(
	$$SELECT p.proname FROM pg_proc p
	   WHERE p.pronamespace = 'loyalty'::regnamespace AND p.prosecdef
		 AND NOT COALESCE(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)$$,
	'every SECURITY DEFINER function pins search_path to pg_catalog, pg_temp');

SELECT is_definer('loyalty', 'create_program', 'create_program runs as the extension owner');
SELECT is_definer('loyalty', 'enroll', 'enroll runs as the extension owner');
SELECT is_definer('loyalty', 'verify', 'verify runs as the extension owner');
SELECT isnt_definer('loyalty', 'earn', 'earn is not SECURITY DEFINER (no per-call search_path change)');
SELECT isnt_definer('loyalty', 'check_program_settings', 'internal validator is not SECURITY DEFINER');

-- The documented roles.
CREATE ROLE loyalty_app NOLOGIN;
CREATE ROLE loyalty_bi NOLOGIN;
CREATE ROLE loyalty_admin NOLOGIN;
\i doc/grants.sql

SELECT function_privs_are('loyalty', 'earn',
	ARRAY['text', 'bigint', 'bigint', 'text', 'text', 'text',
		  'timestamp with time zone', 'timestamp with time zone', 'text'],
	'loyalty_app', ARRAY['EXECUTE'], 'the application may earn');
SELECT function_privs_are('loyalty', 'redeem',
	ARRAY['text', 'bigint', 'bigint', 'text', 'text', 'text', 'text'],
	'loyalty_app', ARRAY['EXECUTE'], 'the application may redeem');
SELECT function_privs_are('loyalty', 'adjust',
	ARRAY['text', 'bigint', 'bigint', 'text', 'text', 'text', 'timestamp with time zone', 'text'],
	'loyalty_app', ARRAY[]::text[], 'the application may not adjust');
SELECT function_privs_are('loyalty', 'create_program',
	ARRAY['text', 'text', 'text', 'bigint', 'numeric', 'text', 'text', 'integer', 'text', 'text'],
	'loyalty_app', ARRAY[]::text[], 'the application may not create programs');
SELECT function_privs_are('loyalty', 'earn',
	ARRAY['text', 'bigint', 'bigint', 'text', 'text', 'text',
		  'timestamp with time zone', 'timestamp with time zone', 'text'],
	'loyalty_bi', ARRAY[]::text[], 'BI may not earn');
SELECT table_privs_are('loyalty', 'ledger', 'loyalty_app', ARRAY[]::text[],
	'the application has no direct access to the ledger');
SELECT table_privs_are('loyalty', 'member_balances', 'loyalty_bi', ARRAY['SELECT'],
	'BI reads member_balances');
SELECT table_privs_are('loyalty', 'member', 'loyalty_bi', ARRAY[]::text[],
	'BI cannot read member profiles (birthday, card)');
SELECT function_privs_are('loyalty', 'adjust',
	ARRAY['text', 'bigint', 'bigint', 'text', 'text', 'text', 'timestamp with time zone', 'text'],
	'loyalty_admin', ARRAY['EXECUTE'], 'the administrator may adjust');

-- What each role can actually do.
SELECT program_id FROM loyalty.create_program('shop', 'Shop', 'VND', 10, 100000);

SET ROLE loyalty_app;
SELECT lives_ok($$SELECT loyalty.enroll('shop', 7)$$, 'the application enrolls a member');
SELECT is((loyalty.earn('shop', 7, 40, 'order', 'o-1')).available_after, 40::bigint,
	'the application earns points through the function');
SELECT is((SELECT actor FROM loyalty.statement('shop', 7) WHERE entry_no = 1), 'loyalty_app',
	'the ledger records the calling role as actor');
SELECT is((loyalty.redeem('shop', 7, 15)).available_after, 25::bigint,
	'the application redeems through the function');
SELECT is((loyalty.balance('shop', 7)).available, 25::bigint, 'the application reads a balance');
SELECT throws_ok($$SELECT count(*) FROM loyalty.ledger$$, '42501', NULL,
	'the application cannot read the ledger table directly');
SELECT throws_ok($$INSERT INTO loyalty.account (customer_id, program_id, available) VALUES (8, 1, 1000000)$$,
	'42501', NULL, 'the application cannot write balances directly');
SELECT throws_ok($$SELECT loyalty.adjust('shop', 7, 1000, 'free points')$$, '42501', NULL,
	'the application cannot adjust balances');
SELECT throws_ok($$SELECT loyalty.create_program('evil', 'Evil', 'VND', 1, 1)$$, '42501', NULL,
	'the application cannot create programs');
RESET ROLE;

SET ROLE loyalty_bi;
SELECT is((SELECT available FROM loyalty.member_balances WHERE program = 'shop' AND customer_id = 7),
	25::bigint, 'BI reads balances from the view');
SELECT throws_ok($$SELECT loyalty.earn('shop', 7, 1)$$, '42501', NULL, 'BI cannot earn');
SELECT throws_ok($$SELECT birthday FROM loyalty.member$$, '42501', NULL,
	'BI cannot read personal data');
RESET ROLE;

SET ROLE loyalty_admin;
SELECT is((loyalty.adjust('shop', 7, 5, 'goodwill for a late delivery')).available_after, 30::bigint,
	'the administrator adjusts with a reason');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'the administrator runs verify');
SELECT is((SELECT count(*) FROM loyalty.ledger)::int, 3, 'the administrator reads the ledger');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
