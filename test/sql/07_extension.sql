\i test/setup.sql
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(12);

SELECT has_extension('loyalty', 'the extension is installed');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'loyalty'), '0.3.0', 'version 0.3.0');
SELECT is((SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'loyalty'),
	'loyalty', 'objects live in schema loyalty');
SELECT ok(NOT (SELECT extrelocatable FROM pg_extension WHERE extname = 'loyalty'),
	'the extension is not relocatable');

SELECT set_eq(
	$$SELECT unnest(extconfig)::regclass::text FROM pg_extension WHERE extname = 'loyalty'$$,
	ARRAY['loyalty.program_id_seq', 'loyalty.program', 'loyalty.member', 'loyalty.account',
		  'loyalty.lot', 'loyalty.ledger', 'loyalty.card_counter',
		  'loyalty.earn_rule_id_seq', 'loyalty.earn_rule',
		  'loyalty.order_source_id_seq', 'loyalty.order_source', 'loyalty.exchange_rate',
		  'loyalty.retired_order_source',
		  'loyalty.order_accrual', 'loyalty.accrual_problem',
		  'loyalty.event_id_seq', 'loyalty.event', 'loyalty.expiry_notice', 'loyalty.tier',
		  'loyalty.fraud_check', 'loyalty.identity_salt', 'loyalty.member_identity', 'loyalty.fraud_flag'],
	'every table holding user data is dumped by pg_dump');

-- Scale-out rule: every primary and unique key of a member-scoped table
-- begins with the member key.
SELECT is_empty(
	$$SELECT i.indexrelid::regclass::text FROM pg_index i
	   WHERE i.indrelid IN ('loyalty.member'::regclass, 'loyalty.account'::regclass,
							'loyalty.lot'::regclass, 'loyalty.ledger'::regclass)
		 AND i.indisunique
		 AND (i.indkey[0] <> (SELECT attnum FROM pg_attribute
							   WHERE attrelid = i.indrelid AND attname = 'customer_id')
			  OR i.indkey[1] <> (SELECT attnum FROM pg_attribute
								  WHERE attrelid = i.indrelid AND attname = 'program_id'))$$,
	'every unique key of a member-scoped table starts with (customer_id, program_id)');
SELECT is_empty(
	$$SELECT c.conname FROM pg_constraint c
	   WHERE c.contype = 'f'
		 AND c.conrelid IN ('loyalty.account'::regclass, 'loyalty.lot'::regclass, 'loyalty.ledger'::regclass)
		 AND c.conkey[1:2] <> ARRAY[
			(SELECT attnum FROM pg_attribute WHERE attrelid = c.conrelid AND attname = 'customer_id'),
			(SELECT attnum FROM pg_attribute WHERE attrelid = c.conrelid AND attname = 'program_id')]::smallint[]$$,
	'member-to-member foreign keys go on the member key');

-- Warm the C functions' kept plans, then drop and re-create the extension.
SELECT code FROM loyalty.create_program('p', 'P', 'EUR', 1, 1);
SELECT customer_id FROM loyalty.enroll('p', 1);
SELECT entry_no FROM loyalty.earn('p', 1, 10);
DROP EXTENSION loyalty;
SELECT hasnt_table('loyalty', 'ledger', 'DROP EXTENSION removes the tables and their data');
CREATE EXTENSION loyalty;
SELECT has_table('loyalty', 'ledger', 'CREATE EXTENSION works again after DROP');
SELECT code FROM loyalty.create_program('p', 'P', 'EUR', 1, 1);
SELECT customer_id FROM loyalty.enroll('p', 1);
SELECT is((loyalty.earn('p', 1, 7)).available_after, 7::bigint,
	'earn works after re-creation (kept plans follow the new tables)');
SELECT is((loyalty.balance('p', 1)).available, 7::bigint, 'balance works after re-creation');
SELECT is((SELECT count(*) FROM loyalty.ledger)::int, 1, 're-created extension starts empty');

SELECT * FROM finish();
ROLLBACK;
