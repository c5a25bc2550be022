\i test/setup.sql
-- Tiers: the policy and tier definitions, qualifying totals kept on every
-- order, the immediate upgrade, evaluate_tiers() (downgrades one tier at a
-- time, grace, paid tiers), tier multipliers, calendar year vs rolling,
-- spend in minor units, tier_progress() and tier_distribution.
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(30);

SELECT code FROM loyalty.create_program('shop', 'Shop', 'VND', 10, 100000);
SELECT customer_id FROM loyalty.enroll('shop', 1);

-- 1. Policy and tier definitions.
SELECT results_eq(
	$$SELECT tier_basis, tier_period, tier_months, tier_grace_days FROM loyalty.program WHERE code = 'shop'$$,
	$$VALUES ('points', 'rolling', 12, 0)$$,
	'a program qualifies on points over a rolling 12 months, without grace, by default');
SELECT throws_ok($$SELECT loyalty.set_tier_policy('nope', 'points')$$, 'LY001',
	'unknown loyalty program "nope"', 'set_tier_policy: unknown program');
SELECT throws_ok($$SELECT loyalty.set_tier_policy(NULL, 'points')$$, '22004',
	'program must not be null', 'set_tier_policy: program must not be null');
SELECT throws_ok($$SELECT loyalty.set_tier_policy('shop', 'visits')$$, '22023',
	'invalid tier basis: ''visits''', 'set_tier_policy: unknown basis');
SELECT throws_ok($$SELECT loyalty.set_tier_policy('shop', NULL)$$, '22023',
	'invalid tier basis: NULL', 'set_tier_policy: basis must be given');
SELECT throws_ok($$SELECT loyalty.set_tier_policy('shop', 'points', 'quarter')$$, '22023',
	'invalid tier period: ''quarter''', 'set_tier_policy: unknown period');
SELECT throws_ok($$SELECT loyalty.set_tier_policy('shop', 'points', months => 0)$$, '22023',
	'tier months out of range: 0', 'set_tier_policy: months below 1');
SELECT throws_ok($$SELECT loyalty.set_tier_policy('shop', 'points', months => 25)$$, '22023',
	'tier months out of range: 25', 'set_tier_policy: months above 24 (the window holds 24)');
SELECT throws_ok($$SELECT loyalty.set_tier_policy('shop', 'points', grace_days => -1)$$, '22023',
	'tier grace_days out of range: -1', 'set_tier_policy: negative grace');
SELECT throws_ok($$SELECT loyalty.set_tier_policy('shop', 'points', grace_days => 3651)$$, '22023',
	'tier grace_days out of range: 3651', 'set_tier_policy: grace above 3650 days');
SELECT results_eq(
	$$SELECT tier_basis, tier_period, tier_months, tier_grace_days
		FROM loyalty.set_tier_policy('shop', 'points', 'rolling', 6, 30)$$,
	$$VALUES ('points', 'rolling', 6, 30)$$,
	'set_tier_policy sets and returns the policy');
SELECT throws_ok($$UPDATE loyalty.program SET tier_months = 30$$, '23514', NULL,
	'the table refuses a policy the function would refuse');

SELECT throws_ok($$SELECT loyalty.set_tier('nope', 'gold', 'Gold', 1000)$$, 'LY001',
	'unknown loyalty program "nope"', 'set_tier: unknown program');
SELECT throws_ok($$SELECT loyalty.set_tier('shop', NULL, 'Gold', 1000)$$, '22004',
	'tier code, name and threshold must not be null', 'set_tier: code must not be null');
SELECT throws_ok($$SELECT loyalty.set_tier('shop', 'gold', 'Gold', NULL)$$, '22004',
	'tier code, name and threshold must not be null', 'set_tier: threshold must not be null');
SELECT throws_ok($$SELECT loyalty.set_tier('shop', 'gold star', 'Gold', 1000)$$, '22023',
	'invalid tier code "gold star"', 'set_tier: a code has no spaces');
SELECT throws_ok($$SELECT loyalty.set_tier('shop', 'None', 'Nothing', 1000)$$, '22023',
	'tier code "None" is reserved', 'set_tier: "none" is how tier_distribution shows no tier');
SELECT throws_ok($$SELECT loyalty.set_tier('shop', 'gold', '  ', 1000)$$, '22023',
	'tier name must not be empty', 'set_tier: empty name');
SELECT throws_ok($$SELECT loyalty.set_tier('shop', 'gold', repeat('G', 201), 1000)$$, '22001',
	'tier name is too long', 'set_tier: name over 200 bytes');
SELECT throws_ok($$SELECT loyalty.set_tier('shop', 'gold', 'Gold', -1)$$, '22023',
	'tier threshold must be a finite number of at least 0', 'set_tier: negative threshold');
SELECT throws_ok($$SELECT loyalty.set_tier('shop', 'gold', 'Gold', 'NaN')$$, '22023',
	'tier threshold must be a finite number of at least 0', 'set_tier: NaN threshold');
SELECT throws_ok($$SELECT loyalty.set_tier('shop', 'gold', 'Gold', 'Infinity')$$, '22023',
	'tier threshold must be a finite number of at least 0', 'set_tier: infinite threshold');
SELECT results_eq(
	$$SELECT code, name, threshold FROM loyalty.set_tier('shop', 'silver', 'Silver', 500)$$,
	$$VALUES ('silver', 'Silver', 500::numeric)$$, 'set_tier defines a tier and returns it');
SELECT throws_ok($$SELECT loyalty.set_tier('shop', 'gold', 'Gold', 500)$$, '23505',
	'tier "silver" of program "shop" already has threshold 500', 'set_tier: two tiers cannot share a threshold');
SELECT lives_ok($$SELECT loyalty.set_tier('shop', 'gold', 'Gold', 1500),
	loyalty.set_tier('shop', 'platinum', 'Platinum', 5000), loyalty.set_tier('shop', 'gold', 'Gold Card', 2000)$$,
	'set_tier adds tiers, and changes the name and threshold of an existing one');
SELECT results_eq($$SELECT code, name, threshold FROM loyalty.tier ORDER BY threshold$$,
	$$VALUES ('silver', 'Silver', 500::numeric), ('gold', 'Gold Card', 2000), ('platinum', 'Platinum', 5000)$$,
	'the tiers, ordered by threshold');
SELECT throws_ok($$SELECT loyalty.drop_tier('shop', 'bronze')$$, 'LY010',
	'unknown tier "bronze" in program "shop"', 'drop_tier: unknown tier');
SELECT lives_ok($$SELECT loyalty.set_tier('shop', 'bronze', 'Bronze', 100), loyalty.drop_tier('shop', 'bronze')$$,
	'drop_tier removes a tier nobody holds');
SELECT is((SELECT count(*) FROM loyalty.tier WHERE code = 'bronze')::int, 0, 'bronze is gone');
SELECT throws_ok($$UPDATE loyalty.account SET tier = 'diamond'$$, '23503', NULL,
	'a member''s tier must be one of the program''s tiers (foreign key)');

SELECT * FROM finish();
ROLLBACK;
