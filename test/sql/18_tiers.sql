\i test/setup.sql
-- Tiers: the policy and tier definitions, qualifying totals kept on every
-- order, the immediate upgrade, evaluate_tiers() (downgrades one tier at a
-- time and at most once a month, grace, paid tiers as a floor), tier
-- multipliers, calendar year vs rolling, spend in minor units,
-- tier_progress() and tier_distribution.
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(147);

SELECT code FROM loyalty.create_program('shop', 'Shop', 'VND', 10, 100000, time_zone => 'Asia/Ho_Chi_Minh');
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

SELECT results_eq(
	$$SELECT tier_basis, tier_period, tier_months, tier_grace_days FROM loyalty.set_tier_policy('shop', 'points')$$,
	$$VALUES ('points', 'rolling', 12, 0)$$, 'set_tier_policy defaults: rolling 12 months, no grace');

-- 2. Orders keep the qualifying totals and upgrade at once.  Orders carry
-- their own time: 10 points per 100,000 VND, months of Asia/Ho_Chi_Minh.
CREATE TABLE public.orders (
	id bigint NOT NULL,
	customer_id bigint,
	total numeric(14, 2),
	status text NOT NULL DEFAULT 'paid',
	refunded numeric(14, 2) NOT NULL DEFAULT 0,
	ordered_at timestamptz NOT NULL
);
SELECT 'tracked' FROM loyalty.track_orders('public.orders', 'shop', 'customer_id', 'id', 'total',
	status_column => 'status', refunded_column => 'refunded', ordered_at_column => 'ordered_at');
-- The qualifying months of a member, as (month, amount) rows with an amount.
CREATE FUNCTION pg_temp.months(customer bigint, prog text DEFAULT 'shop')
RETURNS TABLE (month date, amount bigint) LANGUAGE sql AS $$
	SELECT b.month, b.amount FROM loyalty.account a, loyalty.window_buckets(a.qualifying) b
	 WHERE a.customer_id = customer AND a.program_id = loyalty.program_id(prog) AND b.amount <> 0
	 ORDER BY 1
$$;
CREATE FUNCTION pg_temp.tier_of(customer bigint, prog text DEFAULT 'shop')
RETURNS text LANGUAGE sql AS $$
	SELECT COALESCE(a.tier, 'none') FROM loyalty.account a
	 WHERE a.customer_id = customer AND a.program_id = loyalty.program_id(prog)
$$;

INSERT INTO orders VALUES (101, 1, 3000000, 'paid', 0, '2025-03-10 10:00+07');
SELECT results_eq($$SELECT * FROM pg_temp.months(1)$$, $$VALUES ('2025-03-01'::date, 300::bigint)$$,
	'an order adds its 300 points to the month it was placed in');
SELECT is(pg_temp.tier_of(1), 'none', '300 points reach no tier (silver needs 500)');
-- 2025-03-31 20:00 UTC is already April in Ho Chi Minh City.
INSERT INTO orders VALUES (102, 1, 2500000, 'paid', 0, '2025-03-31 20:00+00');
SELECT results_eq($$SELECT * FROM pg_temp.months(1)$$,
	$$VALUES ('2025-03-01'::date, 300::bigint), ('2025-04-01', 250)$$,
	'the month is the program''s: 20:00 UTC on 31 March counts for April');
SELECT results_eq($$SELECT tier, tier_since FROM loyalty.account WHERE customer_id = 1$$,
	$$VALUES ('silver', now())$$,
	'550 points as of the order: silver at once, inside the order''s own transaction');
SAVEPOINT before_big_order;
INSERT INTO orders VALUES (103, 1, 20000000, 'paid', 0, '2025-04-02 09:00+07');
SELECT is(pg_temp.tier_of(1), 'gold', 'a 2,000-point order would make the member gold');
ROLLBACK TO SAVEPOINT before_big_order;
SELECT is(pg_temp.tier_of(1), 'silver', 'a rolled-back order upgrades nobody');
SELECT results_eq($$SELECT kind, payload FROM loyalty.event WHERE customer_id = 1$$,
	$$VALUES ('tier_changed', '{"from": null, "to": "silver", "reason": "qualified"}'::jsonb)$$,
	'the upgrade wrote one tier_changed event to the outbox; the rolled-back one none');
SELECT results_eq($$SELECT * FROM pg_temp.months(1)$$,
	$$VALUES ('2025-03-01'::date, 300::bigint), ('2025-04-01', 250)$$,
	'and leaves the qualifying totals as they were');

-- Over two tiers in one order.
INSERT INTO orders VALUES (201, 2, 55000000, 'paid', 0, '2025-04-05 12:00+07');
SELECT is(pg_temp.tier_of(2), 'platinum', 'a 5,500-point first order jumps from no tier over silver and gold to platinum');

-- A refund takes back from the order's own month, and never demotes at once.
UPDATE orders SET status = 'refunded' WHERE id = 102;
SELECT results_eq($$SELECT * FROM pg_temp.months(1)$$, $$VALUES ('2025-03-01'::date, 300::bigint)$$,
	'refunding order 102 takes its 250 points back from April');
SELECT is(pg_temp.tier_of(1), 'silver', 'with 300 points the member stays silver until the next evaluation');
UPDATE orders SET refunded = 1000000 WHERE id = 101;
SELECT results_eq($$SELECT * FROM pg_temp.months(1)$$, $$VALUES ('2025-03-01'::date, 200::bigint)$$,
	'a partial refund of order 101 takes back the 100 points it claws back');
UPDATE orders SET status = 'paid' WHERE id = 102;
SELECT results_eq($$SELECT * FROM pg_temp.months(1)$$,
	$$VALUES ('2025-03-01'::date, 200::bigint), ('2025-04-01', 250)$$,
	'undoing the refund counts the order again, in its own month');
DELETE FROM orders WHERE id = 102;
SELECT results_eq($$SELECT * FROM pg_temp.months(1)$$, $$VALUES ('2025-03-01'::date, 200::bigint)$$,
	'deleting the order takes its points back');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify() finds nothing wrong');

-- earn() counts on the points basis; adjustments and redemptions never count.
SELECT customer_id FROM loyalty.enroll('shop', 3);
SELECT entry_no FROM loyalty.earn('shop', 3, 450, 'survey');
SELECT entry_no FROM loyalty.adjust('shop', 3, 100, 'goodwill');
SELECT is(pg_temp.tier_of(3), 'none', '450 earned points (and 100 adjusted, which do not count) reach no tier');
SELECT entry_no FROM loyalty.earn('shop', 3, 50, 'review');
SELECT results_eq($$SELECT tier, loyalty.window_total(qualifying, now(), 'Asia/Ho_Chi_Minh') FROM loyalty.account WHERE customer_id = 3$$,
	$$VALUES ('silver', 500::bigint)$$, 'the 50 points of a review make 500: silver');
SELECT results_eq($$SELECT payload FROM loyalty.event WHERE customer_id = 3$$,
	$$VALUES ('{"from": null, "to": "silver", "reason": "qualified"}'::jsonb)$$, 'earn() writes the event too');
SELECT entry_no FROM loyalty.redeem('shop', 3, 600, 'gift');
SELECT results_eq($$SELECT tier, loyalty.window_total(qualifying, now(), 'Asia/Ho_Chi_Minh'), available FROM loyalty.account WHERE customer_id = 3$$,
	$$VALUES ('silver', 500::bigint, 0::bigint)$$, 'redeeming every point changes neither the totals nor the tier');

-- 3. Tier multipliers: an order earns at the tier the member held before it.
SELECT name FROM loyalty.add_earn_rule('shop', 'silver x2', 'tier_multiplier', tier => 'silver', multiplier => 2);
SELECT name FROM loyalty.add_earn_rule('shop', 'gold x3', 'tier_multiplier', tier => 'gold', multiplier => 3);
INSERT INTO orders VALUES (401, 4, 5000000, 'paid', 0, '2025-05-01 10:00+07');
SELECT results_eq($$SELECT o.points, a.tier FROM loyalty.order_accrual o JOIN loyalty.account a USING (customer_id, program_id)
	 WHERE o.order_key = '401'$$, $$VALUES (500::bigint, 'silver')$$,
	'the order that makes a member silver earns its 500 points without the silver multiplier');
INSERT INTO orders VALUES (402, 4, 1000000, 'paid', 0, '2025-05-02 10:00+07');
SELECT results_eq($$SELECT points, detail FROM loyalty.ledger WHERE customer_id = 4 AND reference = '402'$$,
	$$VALUES (200::bigint, '[{"rule": "base", "points": 100}, {"rule": "silver x2", "points": 100}]'::jsonb)$$,
	'the next order earns at silver: 100 base + 100 silver x2');
UPDATE orders SET total = 2000000 WHERE id = 402;
SELECT is((SELECT points FROM loyalty.order_accrual WHERE order_key = '402'), 400::bigint,
	'a raised amount is priced at the member''s tier: 200 base + 200 silver x2');
-- One statement, three orders of one member, priced in statement order.
INSERT INTO orders VALUES (501, 5, 5000000, 'paid', 0, '2025-05-03 10:00+07'),
	(502, 5, 1000000, 'paid', 0, '2025-05-03 11:00+07'), (503, 5, 15000000, 'paid', 0, '2025-05-03 12:00+07');
SELECT results_eq($$SELECT order_key, points FROM loyalty.order_accrual WHERE customer_id = 5 ORDER BY order_key$$,
	$$VALUES ('501', 500::bigint), ('502', 200), ('503', 3000)$$,
	'in one statement each order earns at the tier the orders before it reached: none, silver, silver');
SELECT results_eq($$SELECT a.tier, l.points, l.detail FROM loyalty.account a
	  JOIN loyalty.ledger l USING (customer_id, program_id) WHERE a.customer_id = 5$$,
	$$VALUES ('gold', 3700::bigint,
		'[{"rule": "base", "points": 2100}, {"rule": "silver x2", "points": 1600}, {"orders": 3}]'::jsonb)$$,
	'3,700 points make the member gold; the shared entry sums each rule');
SELECT results_eq($$SELECT payload FROM loyalty.event WHERE customer_id = 5$$,
	$$VALUES ('{"from": null, "to": "gold", "reason": "qualified"}'::jsonb)$$,
	'one event for the statement: from no tier to gold');
SELECT results_eq($$SELECT points FROM loyalty.quote('shop', 1000000, tier => 'gold')$$, $$VALUES (300::bigint)$$,
	'quote() prices an order at the tier it is given');

-- 4. evaluate_tiers(): down one tier at a time, at most once a month, after
-- the grace days.  Its moments are relative to y0, 1 January (UTC) of the
-- year after next, so that every member's tier_since (now(), from the
-- immediate upgrade) lies before them, in an earlier month, whatever the
-- date of the run.  The shop's members keep their
-- tiers through this section: 3650 grace days.
CREATE FUNCTION pg_temp.at(offset_from_y0 interval) RETURNS timestamptz LANGUAGE sql AS $$
	SELECT (date_trunc('year', now() AT TIME ZONE 'UTC') + interval '2 years' + offset_from_y0) AT TIME ZONE 'UTC'
$$;
SELECT tier_grace_days FROM loyalty.set_tier_policy('shop', 'points', grace_days => 3650);
SELECT code FROM loyalty.create_program('club', 'Club', 'EUR', 1, 1);
SELECT tier_grace_days FROM loyalty.set_tier_policy('club', 'points', 'rolling', 12, 30);
SELECT code FROM loyalty.set_tier('club', 'bronze', 'Bronze', 100);
SELECT code FROM loyalty.set_tier('club', 'silver', 'Silver', 200);
SELECT code FROM loyalty.set_tier('club', 'gold', 'Gold', 400);
CREATE TABLE public.club_orders (id bigint, customer_id bigint, total numeric(10, 2),
	refunded numeric(10, 2) NOT NULL DEFAULT 0, ordered_at timestamptz NOT NULL);
SELECT 'tracked' FROM loyalty.track_orders('public.club_orders', 'club', 'customer_id', 'id', 'total',
	refunded_column => 'refunded', ordered_at_column => 'ordered_at');
INSERT INTO club_orders VALUES (1101, 11, 450, 0, pg_temp.at('9 days')),
	(1301, 13, 250, 0, pg_temp.at('1 month 4 days')), (1401, 14, 250, 0, pg_temp.at('1 month 4 days'));
SELECT results_eq($$SELECT customer_id, tier FROM loyalty.account WHERE program_id = loyalty.program_id('club') ORDER BY 1$$,
	$$VALUES (11::bigint, 'gold'), (13, 'silver'), (14, 'silver')$$, 'club: 450 points make gold, 250 silver');
UPDATE club_orders SET refunded = 100 WHERE id = 1301;
SELECT results_eq($$SELECT tier, loyalty.window_total(qualifying, pg_temp.at('1 month 4 days'), 'UTC') FROM loyalty.account
	 WHERE customer_id = 13 AND program_id = loyalty.program_id('club')$$,
	$$VALUES ('silver', 150::bigint)$$, 'a refund lowers the total to 150 but does not move the member down');
SELECT entry_no FROM loyalty.redeem('club', 14, 250, 'gift');
SELECT is(pg_temp.tier_of(14, 'club'), 'silver', 'redeeming every point does not move a member down');

SELECT results_eq($$SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('2 months'))$$,
	$$VALUES (8::bigint, 0::bigint, 1::bigint)$$,
	'evaluation as of 1 March: 8 members checked (5 shop, 3 club), one moved down');
SELECT results_eq($$SELECT customer_id, tier, tier_since = pg_temp.at('2 months') FROM loyalty.account
	 WHERE program_id = loyalty.program_id('club') ORDER BY 1$$,
	$$VALUES (11::bigint, 'gold', false), (13, 'bronze', true), (14, 'silver', false)$$,
	'member 13 (150 points) moved from silver to bronze, tier_since the evaluation moment; 14 kept silver after redeeming');
SELECT results_eq($$SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('2 months'))$$,
	$$VALUES (8::bigint, 0::bigint, 0::bigint)$$,
	'a second run as of the same moment moves nobody (the grace days protect the member just moved)');
SELECT code FROM loyalty.set_tier('club', 'gold', 'Gold', 240);
SELECT results_eq($$SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('2 months'))$$,
	$$VALUES (8::bigint, 1::bigint, 0::bigint)$$,
	'after gold''s threshold drops to 240, evaluation catches the missed upgrade');
SELECT is(pg_temp.tier_of(14, 'club'), 'gold', 'member 14 (250 points) is gold');
SELECT throws_ok($$SELECT loyalty.drop_tier('club', 'gold')$$, '55006',
	'tier "gold" of program "club" is held by 2 members', 'drop_tier refuses a tier members hold');

-- A year later every club total is 0: everyone moves down one tier.
SELECT results_eq($$SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('1 year 1 month'))$$,
	$$VALUES (8::bigint, 0::bigint, 3::bigint)$$, 'as of 1 February a year later three members move down');
SELECT results_eq($$SELECT customer_id, tier FROM loyalty.account WHERE program_id = loyalty.program_id('club') ORDER BY 1$$,
	$$VALUES (11::bigint, 'silver'), (13, NULL), (14, 'silver')$$, 'gold to silver, bronze to no tier: one tier each');
SELECT results_eq($$SELECT customer_id, payload FROM loyalty.event
	 WHERE program_id = loyalty.program_id('club') ORDER BY event_id DESC LIMIT 3$$,
	$$VALUES (14::bigint, '{"from": "gold", "to": "silver", "reason": "evaluation"}'::jsonb),
		(13, '{"from": "bronze", "to": null, "reason": "evaluation"}'),
		(11, '{"from": "gold", "to": "silver", "reason": "evaluation"}')$$,
	'each move writes a tier_changed event');
SELECT results_eq($$SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('1 year 2 months'))$$,
	$$VALUES (8::bigint, 0::bigint, 0::bigint)$$,
	'a month (28 or 29 days) later, the 30 grace days still protect them');
SELECT results_eq($$SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('1 year 3 months'))$$,
	$$VALUES (8::bigint, 0::bigint, 2::bigint)$$, 'after the grace days, one more tier down');
SELECT results_eq($$SELECT customer_id, tier FROM loyalty.account WHERE program_id = loyalty.program_id('club') ORDER BY 1$$,
	$$VALUES (11::bigint, 'bronze'), (13, NULL), (14, 'bronze')$$, 'gold to silver to bronze, one evaluation at a time');
-- Without grace days too, a member moves down at most once a month: a
-- rerun of the month's job (a retried cron job, a manual run) moves nobody
-- the run before moved, whatever the moment of the month it is as of.
SELECT tier_grace_days FROM loyalty.set_tier_policy('club', 'points', 'rolling', 12, 0);
SELECT results_eq($$SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('1 year 3 months'))
	UNION ALL SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('1 year 3 months'))
	UNION ALL SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('1 year 3 months 20 days'))$$,
	$$VALUES (8::bigint, 0::bigint, 0::bigint), (8, 0, 0), (8, 0, 0)$$,
	'no grace: reruns as of the same moment, and later in the same month, move the two bronze members (0 points) no further');
SELECT results_eq($$SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('1 year 4 months'))
	UNION ALL SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('1 year 4 months'))$$,
	$$VALUES (8::bigint, 0::bigint, 2::bigint), (8, 0, 0)$$,
	'the run as of the next month moves them down once more, its rerun nobody');
-- A tier that is not among the program's (a tier dropped while an order
-- moved a member up to it) is mended by the next evaluation.
UPDATE loyalty.account SET tier = 'vanished' WHERE customer_id = 13 AND program_id = loyalty.program_id('club');
SELECT results_eq($$SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('1 year 4 months'))$$,
	$$VALUES (8::bigint, 0::bigint, 1::bigint)$$,
	'a member holding an unknown tier is moved, also in a month that moved others');
SELECT is(pg_temp.tier_of(13, 'club'), 'none', 'to the tier their total reaches: none');
-- 5. Paid tiers: not moved below the tier paid for before their end
-- (section 11: a higher tier held moves down to it).
SELECT customer_id FROM loyalty.enroll('club', 12);
SELECT throws_ok($$SELECT * FROM loyalty.grant_tier('club', 12, 'diamond', pg_temp.at('1 year 6 months'), 'VIP fee')$$,
	'LY010', 'unknown tier "diamond" in program "club"', 'grant_tier: unknown tier');
SELECT throws_ok($$SELECT * FROM loyalty.grant_tier('club', 99, 'gold', pg_temp.at('1 year 6 months'), 'VIP fee')$$,
	'LY002', 'unknown member 99 in program "club"', 'grant_tier: unknown member');
SELECT throws_ok($$SELECT * FROM loyalty.grant_tier('club', 12, 'gold', now() - interval '1 day', 'VIP fee')$$,
	'22023', 'until must be in the future', 'grant_tier: until in the past');
SELECT throws_ok($$SELECT * FROM loyalty.grant_tier('club', 12, 'gold', 'infinity', 'VIP fee')$$,
	'22023', 'until must be a finite time', 'grant_tier: a paid tier ends');
SELECT throws_ok($$SELECT * FROM loyalty.grant_tier('club', 12, 'gold', pg_temp.at('1 year 6 months'), ' ')$$,
	'22023', 'reason must not be empty', 'grant_tier: a reason is required');
SELECT throws_ok($$SELECT * FROM loyalty.grant_tier('club', 12, NULL, pg_temp.at('1 year 6 months'), 'VIP fee')$$,
	'22004', 'customer_id, tier, until and reason must not be null', 'grant_tier: tier must not be null');
SELECT results_eq($$SELECT * FROM loyalty.grant_tier('club', 12, 'gold', pg_temp.at('1 year 6 months'), 'VIP fee')$$,
	$$VALUES ('gold', now(), pg_temp.at('1 year 6 months'))$$,
	'grant_tier makes a member without orders gold until the end of the membership');
SELECT results_eq($$SELECT payload FROM loyalty.event WHERE customer_id = 12$$,
	$$VALUES ('{"from": null, "to": "gold", "reason": "paid: VIP fee"}'::jsonb)$$, 'and writes its event');
SELECT results_eq($$SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('1 year 3 months'))$$,
	$$VALUES (9::bigint, 0::bigint, 0::bigint)$$, 'with 0 points the paid gold member is not moved down before the end');
SELECT results_eq($$SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('1 year 6 months'))$$,
	$$VALUES (9::bigint, 0::bigint, 1::bigint)$$, 'at the end of the paid membership, one tier down');
-- grant_tier() works as of now(), when the gold membership (until y0 + 1
-- year 6 months) still runs: a lower paid tier would take it away.
SELECT throws_ok($$SELECT * FROM loyalty.grant_tier('club', 12, 'bronze', pg_temp.at('2 years'), 'renewal')$$,
	'55000', 'member 12 in program "club" has a paid tier "gold" above "bronze"',
	'grant_tier refuses a lower tier while a higher paid tier runs');
SELECT results_eq($$SELECT * FROM loyalty.grant_tier('club', 12, 'gold', pg_temp.at('2 years'), 'renewal')$$,
	$$VALUES ('gold', now(), pg_temp.at('2 years'))$$,
	'renewing gold: the member (moved down to silver as of the end) is gold again, until the new end');
SELECT results_eq($$SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('1 year 9 months'))$$,
	$$VALUES (9::bigint, 0::bigint, 0::bigint)$$, 'and it is not moved down before then');

-- 6. tier_progress() and tier_distribution.
SELECT entry_no FROM loyalty.earn('shop', 3, 123, 'survey');
SELECT results_eq($$SELECT * FROM loyalty.tier_progress('shop', 3)$$,
	$$VALUES ('silver', 'gold', 623::numeric, 2000::numeric, 1377::numeric, 31.15::numeric(5,2))$$,
	'tier_progress: silver with 623 points, 1,377 to gold, 31.15%');
SELECT results_eq($$SELECT * FROM loyalty.tier_progress('shop', 2)$$,
	$$VALUES ('platinum', NULL::text, 0::numeric, NULL::numeric, NULL::numeric, 100::numeric(5,2))$$,
	'at the top tier there is no next tier (and the orders of 2025 left the 12 months)');
SELECT customer_id FROM loyalty.enroll('shop', 6);
SELECT results_eq($$SELECT * FROM loyalty.tier_progress('shop', 6)$$,
	$$VALUES (NULL::text, 'silver', 0::numeric, 500::numeric, 500::numeric, 0::numeric(5,2))$$,
	'a new member works toward the lowest tier');
SELECT throws_ok($$SELECT * FROM loyalty.tier_progress('shop', 99)$$, 'LY002',
	'unknown member 99 in program "shop"', 'tier_progress: unknown member');
SELECT throws_ok($$SELECT * FROM loyalty.tier_progress('nope', 1)$$, 'LY001',
	'unknown loyalty program "nope"', 'tier_progress: unknown program');
SELECT results_eq($$SELECT tier, members, share FROM loyalty.tier_distribution WHERE program = 'shop' ORDER BY tier$$,
	$$VALUES ('gold', 1::bigint, 0.1667), ('none', 1, 0.1667), ('platinum', 1, 0.1667), ('silver', 3, 0.5000)$$,
	'tier_distribution: members per tier of the shop and their share');
SELECT results_eq($$SELECT tier, members, share FROM loyalty.tier_distribution WHERE program = 'club' ORDER BY tier$$,
	$$VALUES ('bronze', 0::bigint, 0.0000), ('gold', 1, 0.2500), ('none', 3, 0.7500), ('silver', 0, 0.0000)$$,
	'every tier has a row, also one nobody holds');
SELECT status FROM loyalty.set_member_status('shop', 6, 'closed');
SELECT results_eq($$SELECT tier, members, share FROM loyalty.tier_distribution WHERE program = 'shop' ORDER BY tier$$,
	$$VALUES ('gold', 1::bigint, 0.2000), ('none', 0, 0.0000), ('platinum', 1, 0.2000), ('silver', 3, 0.6000)$$,
	'closed members are not counted');

-- 7. Calendar year and rolling 12 months across a new year: the same
-- orders, on 20 December and on 5 January, two years after y0 (after the
-- moments section 4 evaluated as of).
SELECT code FROM loyalty.create_program('cal', 'Calendar', 'EUR', 1, 1);
SELECT tier_period FROM loyalty.set_tier_policy('cal', 'points', 'calendar_year');
SELECT code FROM loyalty.create_program('roll', 'Rolling', 'EUR', 1, 1);
SELECT tier_period FROM loyalty.set_tier_policy('roll', 'points', 'rolling', 12);
SELECT v.prog FROM (VALUES ('cal'), ('roll')) v(prog),
	LATERAL loyalty.set_tier(v.prog, 'silver', 'Silver', 500) s, LATERAL loyalty.set_tier(v.prog, 'gold', 'Gold', 1000) g;
CREATE TABLE public.cal_orders (id bigint, customer_id bigint, total numeric(10, 2), ordered_at timestamptz NOT NULL);
CREATE TABLE public.roll_orders (LIKE public.cal_orders);
SELECT 'tracked' FROM loyalty.track_orders('public.cal_orders', 'cal', 'customer_id', 'id', 'total',
	ordered_at_column => 'ordered_at');
SELECT 'tracked' FROM loyalty.track_orders('public.roll_orders', 'roll', 'customer_id', 'id', 'total',
	ordered_at_column => 'ordered_at');
INSERT INTO cal_orders VALUES (2101, 21, 600, pg_temp.at('2 years -12 days'));
INSERT INTO roll_orders VALUES (2101, 21, 600, pg_temp.at('2 years -12 days'));
SELECT results_eq($$SELECT pg_temp.tier_of(21, 'cal'), pg_temp.tier_of(21, 'roll')$$, $$VALUES ('silver', 'silver')$$,
	'600 points on 20 December: silver in both programs');
INSERT INTO cal_orders VALUES (2102, 21, 500, pg_temp.at('2 years 4 days'));
INSERT INTO roll_orders VALUES (2102, 21, 500, pg_temp.at('2 years 4 days'));
SELECT results_eq($$SELECT pg_temp.tier_of(21, 'cal'), pg_temp.tier_of(21, 'roll')$$, $$VALUES ('silver', 'gold')$$,
	'on 5 January the rolling 12 months hold 1,100 points (gold), the new calendar year 500 (silver)');
SELECT results_eq($$SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('2 years 11 months'))$$,
	$$VALUES (11::bigint, 0::bigint, 2::bigint)$$,
	'on 1 December the December order has left the rolling 12 months (and club member 12''s paid gold has ended: silver)');
SELECT results_eq($$SELECT pg_temp.tier_of(21, 'cal'), pg_temp.tier_of(21, 'roll')$$, $$VALUES ('silver', 'silver')$$,
	'rolling: gold to silver (500 points since January); the calendar year still holds 500: silver');
SELECT results_eq($$SELECT * FROM loyalty.evaluate_tiers(pg_temp.at('3 years'))$$,
	$$VALUES (11::bigint, 0::bigint, 3::bigint)$$, 'on 1 January both totals start again from 0 (and member 12 moves from silver to bronze)');
SELECT results_eq($$SELECT pg_temp.tier_of(21, 'cal'), pg_temp.tier_of(21, 'roll')$$, $$VALUES ('none', 'none')$$,
	'silver to no tier in both');

-- 8. Spend in a currency with 2 minor units: counted in cents, compared
-- exactly with thresholds in euros.
SELECT code FROM loyalty.create_program('eu', 'Europe', 'EUR', 1, 1);
SELECT tier_basis FROM loyalty.set_tier_policy('eu', 'spend');
SELECT code FROM loyalty.set_tier('eu', 'silver', 'Silver', 100.50);
SELECT code FROM loyalty.set_tier('eu', 'gold', 'Gold', 1000);
CREATE TABLE public.eu_orders (id bigint, customer_id bigint, total numeric(10, 2),
	refunded numeric(10, 2) NOT NULL DEFAULT 0);
SELECT 'tracked' FROM loyalty.track_orders('public.eu_orders', 'eu', 'customer_id', 'id', 'total',
	refunded_column => 'refunded');
CREATE FUNCTION pg_temp.spend(customer bigint) RETURNS bigint LANGUAGE sql AS $$
	SELECT loyalty.window_total(qualifying, now(), 'UTC') FROM loyalty.account
	 WHERE customer_id = customer AND program_id = loyalty.program_id('eu')
$$;
INSERT INTO eu_orders (id, customer_id, total) VALUES (3101, 31, 60.25), (3102, 31, 40.24);
SELECT results_eq($$SELECT pg_temp.spend(31), pg_temp.tier_of(31, 'eu')$$, $$VALUES (10049::bigint, 'none')$$,
	'spend counts cents: 100.49 EUR is below silver''s 100.50');
INSERT INTO eu_orders (id, customer_id, total) VALUES (3103, 31, 0.01);
SELECT results_eq($$SELECT pg_temp.spend(31), pg_temp.tier_of(31, 'eu')$$, $$VALUES (10050::bigint, 'silver')$$,
	'one more cent reaches 100.50 EUR exactly: silver');
UPDATE eu_orders SET refunded = 10 WHERE id = 3101;
SELECT results_eq($$SELECT pg_temp.spend(31), pg_temp.tier_of(31, 'eu')$$, $$VALUES (9050::bigint, 'silver')$$,
	'a refund of 10.00 EUR takes 1,000 cents back; the member stays silver');
SELECT results_eq($$SELECT * FROM loyalty.tier_progress('eu', 31)$$,
	$$VALUES ('silver', 'gold', 90.50, 1000::numeric, 909.50, 9.05::numeric(5,2))$$,
	'tier_progress shows spend in euros: 90.50 of 1,000, 909.50 to go, 9.05%');
SELECT tier_basis FROM loyalty.set_tier_policy('eu', 'orders');
SELECT results_eq($$SELECT pg_temp.spend(31), qualifying FROM loyalty.tier_progress('eu', 31)$$,
	$$VALUES (3::bigint, 3::numeric)$$, 'a change of basis counts the history again: 3 orders');
SELECT tier_basis FROM loyalty.set_tier_policy('eu', 'spend');
SELECT is(pg_temp.spend(31), 9050::bigint, 'and back to spend: 9,050 cents');

-- An amount whose spend in cents passes the largest bigint (1e17 EUR is
-- 1e19 cents) earns points a balance holds, yet no tier can count it: the
-- order is a problem (qualifying_overflow), credits nothing, and the shop's
-- write succeeds, on every order path.  So is an order that would take the
-- member's qualifying total past the largest bigint.
CREATE TABLE public.eu_big_orders (id bigint, customer_id bigint, total numeric);
SELECT 'tracked' FROM loyalty.track_orders('public.eu_big_orders', 'eu', 'customer_id', 'id', 'total');
SELECT lives_ok($$INSERT INTO eu_big_orders VALUES (3201, 32, 1e17)$$,
	'a one-row INSERT of 1e17 EUR succeeds');
SELECT lives_ok($$INSERT INTO eu_big_orders SELECT 3202 + g, 32, CASE g WHEN 0 THEN 20 ELSE 2e17 END
	FROM generate_series(0, 1) g$$, 'an INSERT ... SELECT with an order of 2e17 EUR succeeds');
INSERT INTO eu_big_orders VALUES (3204, 33, 50);
SELECT lives_ok($$UPDATE eu_big_orders SET total = 1e17 WHERE id = 3204$$,
	'an UPDATE raising an order from 50 to 1e17 EUR succeeds');
INSERT INTO eu_big_orders VALUES (3301, 34, 9e16);
SELECT lives_ok($$INSERT INTO eu_big_orders VALUES (3302, 34, 1e16)$$,
	'an INSERT whose 1e18 cents would take a qualifying total of 9e18 past the largest bigint succeeds');
SELECT results_eq($$SELECT c, b.available, b.lifetime_earned, pg_temp.spend(c)
	FROM unnest('{32,33,34}'::bigint[]) c, loyalty.balance('eu', c) b ORDER BY c$$,
	$$VALUES (32::bigint, 20::bigint, 20::bigint, 2000::bigint), (33, 50, 50, 5000),
		(34, 90000000000000000, 90000000000000000, 9000000000000000000)$$,
	'only the orders that fit earn and count: 20 EUR, the 50 EUR before the raise, and 9e16 EUR');
SELECT results_eq($$SELECT customer_id, order_key, amount, points FROM loyalty.order_accrual
	 WHERE program_id = loyalty.program_id('eu') AND customer_id IN (32, 33, 34) ORDER BY order_key$$,
	$$VALUES (32::bigint, '3202'::text, 20::numeric, 20::bigint), (33, '3204', 50, 50),
		(34, '3301', 90000000000000000, 90000000000000000)$$,
	'the raised order keeps its amount and points; the others are not on record');
SELECT results_eq($$SELECT order_key, problem, detail FROM loyalty.accrual_problem
	 WHERE program_id = loyalty.program_id('eu') ORDER BY order_key$$,
	$$VALUES ('3201'::text, 'qualifying_overflow'::text, 'the amount 100000000000000000 is 10000000000000000000 in minor units of the program currency, more than a tier''s qualifying spend counts, 9223372036854775807'::text),
		('3203', 'qualifying_overflow', 'the amount 200000000000000000 is 20000000000000000000 in minor units of the program currency, more than a tier''s qualifying spend counts, 9223372036854775807'),
		('3204', 'qualifying_overflow', 'the amount 100000000000000000 is 10000000000000000000 in minor units of the program currency, more than a tier''s qualifying spend counts, 9223372036854775807'),
		('3302', 'qualifying_overflow', 'the order''s qualifying 1000000000000000000 would take the member''s qualifying total past the largest it holds, 9223372036854775807')$$,
	'each is recorded as qualifying_overflow, with the amount or the total it would pass');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'every balance still equals its ledger and lots');

-- 9. Privileges and documentation.
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p
	 WHERE p.pronamespace = 'loyalty'::regnamespace AND p.proname ~ 'tier|qualifying'
	   AND obj_description(p.oid, 'pg_proc') IS NULL$$, 'every tier function has a comment');
SELECT isnt(obj_description('loyalty.tier_distribution'::regclass, 'pg_class'), NULL, 'and the view too');
SELECT ok((SELECT bool_and(prosecdef) FROM pg_proc WHERE pronamespace = 'loyalty'::regnamespace
	AND proname IN ('set_tier_policy', 'set_tier', 'drop_tier', 'evaluate_tiers', 'grant_tier', 'tier_progress')),
	'the tier functions run as the extension owner (with a pinned search_path, 06_privileges checks)');
CREATE ROLE loyalty_app NOLOGIN;
CREATE ROLE loyalty_bi NOLOGIN;
CREATE ROLE loyalty_admin NOLOGIN;
\i doc/grants.sql
SELECT function_privs_are('loyalty', 'tier_progress', ARRAY['text', 'bigint'], 'loyalty_app', ARRAY['EXECUTE'],
	'the application shows a member''s progress');
SELECT function_privs_are('loyalty', 'evaluate_tiers', ARRAY['timestamp with time zone'], 'loyalty_app',
	ARRAY[]::text[], 'the application may not run the evaluation');
SELECT function_privs_are('loyalty', 'evaluate_tiers', ARRAY['timestamp with time zone'], 'loyalty_admin',
	ARRAY['EXECUTE'], 'the administrator runs it');
SELECT table_privs_are('loyalty', 'tier_distribution', 'loyalty_bi', ARRAY['SELECT'], 'BI reads tier_distribution');
SET ROLE loyalty_bi;
SELECT results_eq($$SELECT members FROM loyalty.tier_distribution WHERE program = 'eu' AND tier = 'silver'$$,
	$$VALUES (1::bigint)$$, 'as BI, through the view only');
RESET ROLE;

SELECT results_eq($$SELECT customer_id, tier FROM loyalty.account WHERE program_id = loyalty.program_id('shop') ORDER BY 1$$,
	$$VALUES (1::bigint, 'silver'), (2, 'platinum'), (3, 'silver'), (4, 'silver'), (5, 'gold'), (6, NULL)$$,
	'the shop''s members, within their 3650 grace days, kept their tiers');
SELECT throws_ok($$SELECT * FROM loyalty.evaluate_tiers(NULL)$$, '22004', 'as_of must not be null',
	'evaluate_tiers: as_of must not be null');
SELECT throws_ok($$SELECT * FROM loyalty.evaluate_tiers('infinity')$$, '22008', 'as_of must be a finite time',
	'evaluate_tiers: as_of must be finite');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify() finds nothing wrong');

-- 10. A run that moves more members than evaluate_tiers() writes at once
-- (16,384): every one moved, one event each, written in key order.
SELECT code FROM loyalty.create_program('many', 'Many', 'EUR', 1, 1);
SELECT code FROM loyalty.set_tier('many', 'silver', 'Silver', 100);
SELECT count(loyalty.enroll('many', c)) FROM generate_series(20000, 1, -1) c;  -- heap order is not key order
UPDATE loyalty.account SET tier = 'gone', tier_since = now() WHERE program_id = loyalty.program_id('many');
SELECT cmp_ok((SELECT downgraded FROM loyalty.evaluate_tiers(now())), '>=', 20000::bigint,
	'20,000 members holding an unknown tier are moved in one run');
SELECT results_eq($$SELECT tier, tier_since, count(*) FROM loyalty.account
	 WHERE program_id = loyalty.program_id('many') GROUP BY 1, 2$$,
	$$VALUES (NULL::text, now(), 20000::bigint)$$, 'all of them to no tier (0 points), tier_since the run''s as_of');
SELECT results_eq($$SELECT payload, count(*) FROM loyalty.event
	 WHERE program_id = loyalty.program_id('many') AND kind = 'tier_changed' GROUP BY 1$$,
	$$VALUES ('{"from": "gone", "to": null, "reason": "evaluation"}'::jsonb, 20000::bigint)$$,
	'one tier_changed event each');
SELECT ok((SELECT array_agg(customer_id ORDER BY event_id) = array_agg(customer_id ORDER BY customer_id)
	 FROM loyalty.event WHERE program_id = loyalty.program_id('many')),
	'written in key order, the order the members are locked in');

-- Members with no tier yet who qualify when tiers are first defined: the
-- evaluation moves them up from no tier (it once crashed the server here,
-- copying the missing tier's name).
SELECT code FROM loyalty.create_program('late', 'Late', 'VND', 10, 100000);
SELECT count(*) FROM (SELECT loyalty.enroll('late', c) FROM generate_series(31, 32) c) e;
SELECT entry_no FROM loyalty.earn('late', 31, 300, 'welcome');
SELECT tier_basis FROM loyalty.set_tier_policy('late', 'points');
SELECT code FROM loyalty.set_tier('late', 'silver', 'Silver', 200);
SELECT results_eq($$SELECT customer_id, tier FROM loyalty.account
	 WHERE program_id = loyalty.program_id('late') ORDER BY 1$$,
	$$VALUES (31::bigint, NULL::text), (32, NULL)$$, 'defining a tier moves nobody by itself');
SELECT results_eq($$SELECT upgraded, downgraded FROM loyalty.evaluate_tiers()$$,
	$$VALUES (1::bigint, 0::bigint)$$, 'the evaluation moves the member with 300 points up from no tier');
SELECT results_eq($$SELECT a.tier, e.payload FROM loyalty.account a
	 JOIN loyalty.event e ON e.customer_id = a.customer_id AND e.program_id = a.program_id
	 WHERE a.program_id = loyalty.program_id('late') AND e.kind = 'tier_changed'$$,
	$$VALUES ('silver', '{"from": null, "to": "silver", "reason": "evaluation"}'::jsonb)$$,
	'member 31 is silver, with an event from no tier');

-- 11. A paid tier is a floor, not a freeze: while it runs the member is
-- never moved below the tier paid for, and moves down as usual above it.
-- A program of one-month windows without grace days; the moments are y0's
-- (section 4), so every earning below (now()) has left the window.
SELECT code FROM loyalty.create_program('vip', 'VIP', 'EUR', 1, 1);
SELECT tier_months FROM loyalty.set_tier_policy('vip', 'points', 'rolling', 1);
SELECT v.code FROM (VALUES ('bronze', 100), ('silver', 200), ('gold', 400)) v(code, threshold),
	LATERAL loyalty.set_tier('vip', v.code, initcap(v.code), v.threshold) t;
SELECT count(*) FROM (SELECT loyalty.enroll('vip', c) FROM generate_series(41, 43) c) e;
SELECT entry_no FROM loyalty.earn('vip', 41, 450, 'welcome');
SELECT results_eq($$SELECT * FROM loyalty.grant_tier('vip', 41, 'silver', pg_temp.at('6 months'), 'silver pass')$$,
	$$VALUES ('gold', now(), pg_temp.at('6 months'))$$, 'a gold member who buys a silver pass stays gold');
SELECT results_eq($$SELECT tier, tier_paid, tier_paid_until FROM loyalty.account
	 WHERE customer_id = 41 AND program_id = loyalty.program_id('vip')$$,
	$$VALUES ('gold', 'silver', pg_temp.at('6 months'))$$, 'the account keeps the tier paid for and its end');
SELECT throws_ok($$SELECT loyalty.drop_tier('vip', 'silver')$$, '55006',
	'tier "silver" of program "vip" is paid for by 1 members', 'drop_tier refuses a tier of a running paid tier');
SELECT throws_ok($$SELECT * FROM loyalty.grant_tier('vip', 41, 'gold', pg_temp.at('3 months'), 'gold pass')$$, '55000',
	'paid tier "gold" must run at least as long as the paid tier "silver" it replaces',
	'grant_tier refuses a higher tier that would end the running one early');
SELECT results_eq($$SELECT * FROM loyalty.grant_tier('vip', 42, 'silver', pg_temp.at('6 months'), 'silver pass')$$,
	$$VALUES ('silver', now(), pg_temp.at('6 months'))$$, 'member 42 buys a silver pass');
SELECT entry_no FROM loyalty.earn('vip', 42, 450, 'welcome');
SELECT is(pg_temp.tier_of(42, 'vip'), 'gold', 'and earns gold during it');
SELECT held_tier FROM loyalty.grant_tier('vip', 43, 'bronze', pg_temp.at('6 months'), 'bronze pass');
SELECT results_eq($$SELECT * FROM loyalty.grant_tier('vip', 43, 'silver', pg_temp.at('1 year'), 'upgrade')$$,
	$$VALUES ('silver', now(), pg_temp.at('1 year'))$$, 'a higher pass running at least as long replaces a running one');
CREATE FUNCTION pg_temp.vip_tiers() RETURNS TABLE (customer_id bigint, tier text) LANGUAGE sql AS $$
	SELECT customer_id, COALESCE(tier, 'none') FROM loyalty.account
	 WHERE program_id = loyalty.program_id('vip') ORDER BY 1
$$;
SELECT count(*) FROM loyalty.evaluate_tiers(pg_temp.at('1 month'));
SELECT results_eq($$SELECT * FROM pg_temp.vip_tiers()$$,
	$$VALUES (41::bigint, 'silver'), (42, 'silver'), (43, 'silver')$$,
	'with 0 points, the gold members move down to the silver paid for; 43 keeps the silver paid for');
SELECT count(*) FROM loyalty.evaluate_tiers(pg_temp.at('3 months'));
SELECT results_eq($$SELECT * FROM pg_temp.vip_tiers()$$,
	$$VALUES (41::bigint, 'silver'), (42, 'silver'), (43, 'silver')$$,
	'and no lower while the passes run');
SELECT count(*) FROM loyalty.evaluate_tiers(pg_temp.at('6 months'));
SELECT results_eq($$SELECT * FROM pg_temp.vip_tiers()$$,
	$$VALUES (41::bigint, 'bronze'), (42, 'bronze'), (43, 'silver')$$,
	'when the silver passes end, one tier down as usual; 43''s pass runs until a year');
SELECT results_eq($$SELECT customer_id, payload->>'from', payload->>'to' FROM loyalty.event
	 WHERE program_id = loyalty.program_id('vip') AND payload->>'reason' = 'evaluation' ORDER BY event_id$$,
	$$VALUES (41::bigint, 'gold', 'silver'), (42, 'gold', 'silver'), (41, 'silver', 'bronze'), (42, 'silver', 'bronze')$$,
	'each move one tier, with its event');
-- A threshold change that puts the tier paid for above the one held: the
-- evaluation moves the member up to it.
SELECT customer_id FROM loyalty.enroll('vip', 44);
SELECT entry_no FROM loyalty.earn('vip', 44, 450, 'welcome');
SELECT held_tier FROM loyalty.grant_tier('vip', 44, 'silver', pg_temp.at('1 year'), 'silver pass');
SELECT code FROM loyalty.set_tier('vip', 'silver', 'Silver', 500);
SELECT count(*) FROM loyalty.evaluate_tiers(pg_temp.at('7 months'));
SELECT results_eq($$SELECT a.tier, e.payload FROM loyalty.account a
	 JOIN loyalty.event e ON e.customer_id = a.customer_id AND e.program_id = a.program_id
	 WHERE a.customer_id = 44 AND a.program_id = loyalty.program_id('vip') AND e.payload->>'reason' = 'evaluation'$$,
	$$VALUES ('silver', '{"from": "gold", "to": "silver", "reason": "evaluation"}'::jsonb)$$,
	'silver now above gold: the gold member with a silver pass moves up to silver');

SELECT * FROM finish();
ROLLBACK;
