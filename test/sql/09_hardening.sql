\i test/setup.sql
-- Defences found by review: schema hijacking, forged actors, lots that
-- drift from the balance, dropped ledger columns, batch limits, edge input.
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(27);

SELECT program_id FROM loyalty.create_program('h', 'Hardening', 'VND', 10, 100000);
SELECT e.customer_id FROM generate_series(1, 3) c, LATERAL loyalty.enroll('h', c) e;

-- The database role is recorded whatever actor the caller claims.
CREATE ROLE loyalty_app NOLOGIN;
CREATE ROLE loyalty_bi NOLOGIN;
CREATE ROLE loyalty_admin NOLOGIN;
\i doc/grants.sql
SET ROLE loyalty_app;
SELECT results_eq(
	$$SELECT actor, db_role FROM loyalty.earn('h', 1, 50, 'order', actor => 'system:expiry')$$,
	$$VALUES ('system:expiry', 'loyalty_app')$$,
	'a caller may name an actor, but the ledger also records the real database role');
RESET ROLE;

-- Labels.
SELECT throws_ok($$SELECT loyalty.earn('h', 1, 5, '   ')$$, '22023', 'reason must not be empty',
	'a reason of only white space is refused');
SELECT throws_ok($$SELECT loyalty.redeem('h', 1, 5, reference => E'\t')$$, '22023',
	'reference must not be empty', 'a reference of only white space is refused');
SELECT throws_ok($$SELECT loyalty.update_member('h', 1, referral_source => repeat('x', 201))$$,
	'22001', 'referral_source is too long', 'update_member limits referral_source like enroll');
SELECT throws_ok($$SELECT loyalty.create_program('long', repeat('n', 201), 'VND', 1, 1)$$,
	'22001', 'program name is too long', 'program names are limited to 200 bytes');
SELECT is((loyalty.create_program('tz', 'TZ', 'VND', 1, 1, time_zone => 'utc')).time_zone, 'utc',
	'time zone names are accepted in any case, as PostgreSQL accepts them');
SELECT throws_ok($$SELECT * FROM loyalty.statement('h', 1, now(), now() - interval '1 day')$$,
	'22023', 'since must not be later than until', 'an inverted statement period is an error, not an empty statement');

-- Overflow of lifetime earned points alone (the balance itself fits).
SELECT entry_no FROM loyalty.earn('h', 2, 9223372036854775000);
SELECT entry_no FROM loyalty.redeem('h', 2, 9223372036854775000);
SELECT throws_ok($$SELECT loyalty.earn('h', 2, 1000)$$, '22003',
	'lifetime earned points would exceed the largest number of points',
	'lifetime earned points cannot overflow');
SELECT is((loyalty.balance('h', 2)).available, 0::bigint, 'the refused earn changed nothing');

-- Held points that could never be released are refused at earn time.
SELECT entry_no FROM loyalty.earn('h', 3, 9223372036854775000, 'big', pending_until => now() + interval '1 day');
SELECT throws_ok($$SELECT loyalty.earn('h', 3, 1000, 'more', pending_until => now() + interval '1 day')$$,
	'22003', 'the total balance would exceed the largest number of points',
	'pending points count toward the total balance limit');
SELECT throws_ok($$SELECT loyalty.earn('h', 3, 1000)$$,
	'22003', 'the total balance would exceed the largest number of points',
	'available points count toward the total balance limit too');

-- release_pending in bounded batches, in key order.
SELECT entry_no FROM loyalty.earn('h', 1, 7, 'held', pending_until => now() + interval '1 day');
SELECT throws_ok($$SELECT loyalty.release_pending(now() + interval '2 days', 0)$$, '22023',
	'max_members must be positive', 'a batch of zero members is refused');
SELECT is(loyalty.release_pending(now() + interval '2 days', max_members => 1), 7::numeric,
	'a batch of one releases the first member only');
SELECT is((loyalty.balance('h', 3)).pending, 9223372036854775000::bigint,
	'the member after the batch limit still holds its points');
SELECT is(loyalty.release_pending(now() + interval '2 days', max_members => 1), 9223372036854775000::numeric,
	'the next batch releases the next member');
SELECT is(loyalty.release_pending(now() + interval '2 days'), 0::numeric, 'nothing is left to release');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'balances still equal the ledger');

-- A redemption never takes fewer points from the lots than from the balance.
UPDATE loyalty.lot SET remaining = remaining - 10 WHERE customer_id = 1 AND lot_no = 1;
SELECT throws_ok($$SELECT loyalty.redeem('h', 1, 57)$$, 'XX001',
	'the member''s lots do not cover the available balance',
	'a redemption the lots cannot cover fails instead of drifting');
SELECT results_eq($$SELECT available, lifetime_redeemed FROM loyalty.balance('h', 1)$$,
	$$VALUES (57::bigint, 0::bigint)$$, 'and changes nothing');
UPDATE loyalty.lot SET remaining = remaining + 10 WHERE customer_id = 1 AND lot_no = 1;

-- A dropped ledger column does not break the functions returning ledger rows.
ALTER TABLE loyalty.ledger ADD COLUMN scratch int;
ALTER TABLE loyalty.ledger DROP COLUMN scratch;
SELECT is((loyalty.earn('h', 1, 3, 'after drop', idempotency_key => 'd1')).available_after, 60::bigint,
	'earn works after a ledger column was dropped');
SELECT is((loyalty.earn('h', 1, 3, 'after drop', idempotency_key => 'd1')).entry_no,
	(SELECT max(entry_no) FROM loyalty.ledger WHERE customer_id = 1),
	'an idempotent replay works after a ledger column was dropped');
SELECT is((loyalty.redeem('h', 1, 10)).available_after, 50::bigint,
	'redeem works after a ledger column was dropped');

-- The install script refuses a schema someone else could have prepared.
DROP EXTENSION loyalty;
DROP SCHEMA loyalty;
CREATE ROLE loyalty_mallory NOLOGIN;
CREATE SCHEMA loyalty AUTHORIZATION loyalty_mallory;
SELECT throws_ok($$CREATE EXTENSION loyalty$$, '42501',
	'schema "loyalty" must be owned by the role that creates the extension',
	'a schema owned by another role is refused');
DROP SCHEMA loyalty;
CREATE SCHEMA loyalty;
GRANT CREATE ON SCHEMA loyalty TO loyalty_mallory;
SELECT throws_ok($$CREATE EXTENSION loyalty$$, '42501',
	'schema "loyalty" must not grant CREATE to other roles',
	'a schema others may create objects in is refused');
REVOKE CREATE ON SCHEMA loyalty FROM loyalty_mallory;
CREATE FUNCTION loyalty.program_id(code text) RETURNS integer LANGUAGE sql AS 'SELECT 1';
SELECT throws_ok($$CREATE EXTENSION loyalty$$, '42P06',
	'schema "loyalty" already contains objects',
	'a schema that already holds objects is refused');
DROP FUNCTION loyalty.program_id(text);
SELECT lives_ok($$CREATE EXTENSION loyalty$$, 'an empty schema owned by the installer is accepted');
SELECT has_table('loyalty', 'ledger', 'and the extension is installed');

SELECT * FROM finish();
ROLLBACK;
