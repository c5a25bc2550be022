\i test/setup.sql
-- Business views (89_bi.sql): every view's numbers on a small fixed data set
-- against figures computed by hand, a program without members, the comments
-- on every view and column, set_point_value's checks, and what the BI role
-- may read.
--
-- now() is frozen in the transaction: orders carry times relative to it,
-- every ledger entry is written at now(), member 1's enrolment is moved 200
-- days back and two lots' expiry into the past by the test (as superuser).
--
-- The data set, program bi (USD, 1 point per 1 USD, UTC, tiers silver 100
-- and gold 500 on points over a rolling 12 months):
--   member 1, enrolled 200 days ago: orders 12 (50 food, 260 days ago) and
--     11 (100 food, 230 days ago) before enrolling, 13 (200 toys, 190 days
--     ago, 50 refunded) and 14 (80 food, 5 days ago) after; redeems 30.
--     Earned 430, reversed 50, available 350, silver, 380 qualifying.
--   member 2, enrolled now: order 21 (40 toys, yesterday); earn() 25
--     expiring in 10 days, 15 expired by an expire() run, 10 pending for 5
--     days; adjust +5.  Available 70, pending 10, 90 qualifying.
--   member 3, enrolled now, no orders: earn() 7 (expiry passed, not yet
--     expired: due), 3 (in 60 days), 4 (in 200 days), 6 (in 400 days).
--   program empty: no members.
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(84);

SELECT code FROM loyalty.create_program('bi', 'BI shop', 'USD', 1, 1);
SELECT code FROM loyalty.create_program('empty', 'Empty', 'EUR', 1, 1);
SELECT code FROM loyalty.set_tier('bi', 'silver', 'Silver', 100);
SELECT code FROM loyalty.set_tier('bi', 'gold', 'Gold', 500);
SELECT customer_id FROM loyalty.enroll('bi', 1);
SELECT customer_id FROM loyalty.enroll('bi', 2);
SELECT customer_id FROM loyalty.enroll('bi', 3);
CREATE TABLE public.orders (
	id bigint NOT NULL,
	customer_id bigint,
	total numeric(14, 2),
	category text,
	refunded numeric(14, 2) NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL
);
SELECT 'tracked' FROM loyalty.track_orders('public.orders', 'bi', 'customer_id', 'id', 'total',
	category_column => 'category', refunded_column => 'refunded', ordered_at_column => 'created_at');
-- Member 1 enrolled 200 days ago (set below); two orders before, two after.
INSERT INTO orders VALUES
	(11, 1, 100, 'food', 0, now() - interval '230 days'),
	(12, 1, 50, 'food', 0, now() - interval '260 days'),
	(13, 1, 200, 'toys', 0, now() - interval '190 days'),
	(14, 1, 80, 'food', 0, now() - interval '5 days'),
	(21, 2, 40, 'toys', 0, now() - interval '1 day');
UPDATE loyalty.member SET enrolled_at = now() - interval '200 days' WHERE customer_id = 1;
UPDATE orders SET refunded = 50 WHERE id = 13;
SELECT entry_no FROM loyalty.redeem('bi', 1, 30, 'voucher');
SELECT entry_no FROM loyalty.earn('bi', 2, 25, 'survey', expires_at => now() + interval '10 days');
SELECT entry_no FROM loyalty.earn('bi', 2, 15, 'review', expires_at => now() + interval '1 day');
SELECT entry_no FROM loyalty.earn('bi', 2, 10, 'challenge', pending_until => now() + interval '5 days');
SELECT entry_no FROM loyalty.adjust('bi', 2, 5, 'goodwill');
UPDATE loyalty.lot SET expires_at = now() - interval '1 hour' WHERE customer_id = 2 AND points = 15;
SELECT * FROM loyalty.expire(now());
SELECT entry_no FROM loyalty.earn('bi', 3, 7, 'a', expires_at => now() + interval '1 day');
SELECT entry_no FROM loyalty.earn('bi', 3, 3, 'b', expires_at => now() + interval '60 days');
SELECT entry_no FROM loyalty.earn('bi', 3, 4, 'c', expires_at => now() + interval '200 days');
SELECT entry_no FROM loyalty.earn('bi', 3, 6, 'd', expires_at => now() + interval '400 days');
UPDATE loyalty.lot SET expires_at = now() - interval '1 hour' WHERE customer_id = 3 AND points = 7;
SELECT is_empty('SELECT * FROM loyalty.verify()', 'the data set is consistent: verify() is empty');

--
-- set_point_value: stored, cleared with NULL, bad values refused.
--
SELECT is((loyalty.set_point_value('bi', 0.01)).point_value, 0.01, 'set_point_value returns the program with its point value');
SELECT throws_ok($$SELECT loyalty.set_point_value('bi', -0.01)$$, '22023',
	'point_value must be a finite amount of zero or more', 'a negative point value is refused');
SELECT throws_ok($$SELECT loyalty.set_point_value('bi', 'NaN')$$, '22023',
	'point_value must be a finite amount of zero or more', 'NaN is refused');
SELECT throws_ok($$SELECT loyalty.set_point_value('bi', 'Infinity')$$, '22023',
	'point_value must be a finite amount of zero or more', 'Infinity is refused');
SELECT throws_ok($$SELECT loyalty.set_point_value('nope', 1)$$, 'LY001',
	'unknown loyalty program "nope"', 'an unknown program is LY001');
SELECT is((SELECT point_value FROM loyalty.program WHERE code = 'bi'), 0.01, 'and the refusals changed nothing');
SELECT is((loyalty.set_point_value('empty', 0.5)).point_value, 0.5, 'a second program gets its own value');
SELECT is((loyalty.set_point_value('empty', NULL)).point_value, NULL, 'NULL clears it');

--
-- member_summary
--
SELECT results_eq(
	$$SELECT program, customer_id, status, tier, available, pending, lifetime_earned,
			 lifetime_redeemed, lifetime_expired, expiring_30d, next_expiry_at,
			 next_tier, qualifying, next_threshold, still_needed, tier_percent,
			 enrolled_at, last_activity_at
		FROM loyalty.member_summary ORDER BY customer_id$$,
	$$VALUES
		('bi', 1::bigint, 'active', 'silver', 350::bigint, 0::bigint, 430::bigint, 30::bigint, 0::bigint,
		 0::bigint, NULL::timestamptz, 'gold', 380::numeric, 500::numeric, 120::numeric, 76.00::numeric(5,2),
		 now() - interval '200 days', now()),
		('bi', 2, 'active', NULL, 70, 10, 90, 0, 15,
		 25, now() + interval '10 days', 'silver', 90, 100, 10, 90.00, now(), now()),
		('bi', 3, 'active', NULL, 20, 0, 20, 0, 0,
		 0, now() + interval '60 days', 'silver', 20, 100, 80, 20.00, now(), now())$$,
	'member_summary: balances, expiring points, tier progress per member');
SELECT results_eq(
	$$SELECT tier, available, qualifying, still_needed FROM loyalty.member_summary
	   WHERE program = 'bi' AND customer_id = 2$$,
	$$VALUES (NULL::text, 70::bigint, 90::numeric, 10::numeric)$$,
	'member_summary reads one member');
SELECT results_eq(
	$$SELECT m.tier, m.next_tier, m.qualifying, m.next_threshold, m.still_needed, m.tier_percent
		FROM loyalty.member_summary m WHERE m.program = 'bi' ORDER BY m.customer_id$$,
	$$SELECT t.* FROM generate_series(1, 3) c, loyalty.tier_progress('bi', c) t ORDER BY c$$,
	'member_summary''s tier progress equals tier_progress()');
SELECT set_eq(
	$$SELECT customer_id, expiring_30d FROM loyalty.member_summary WHERE expiring_30d > 0$$,
	$$SELECT customer_id, sum(points)::bigint FROM loyalty.expiring_points('30 days', now(), 'bi') GROUP BY 1$$,
	'member_summary''s expiring points equal expiring_points()');
SELECT is_empty($$SELECT * FROM loyalty.member_summary WHERE program = 'empty'$$,
	'a program without members has no member_summary rows');

--
-- tier_distribution (85_tiers.sql) is the BI tier view.
--
SELECT results_eq(
	$$SELECT program, tier, members, share FROM loyalty.tier_distribution ORDER BY program, tier$$,
	$$VALUES ('bi', 'gold', 0::bigint, 0.0000), ('bi', 'none', 2, 0.6667), ('bi', 'silver', 1, 0.3333),
		('empty', 'none', 0, NULL)$$,
	'tier_distribution: members and share per tier; a program without members has a NULL share');

--
-- points_flow: 13 entries, all today.
--   earned 430 + 40 + 25 + 15 + 10 (pending) + 7 + 3 + 4 + 6 = 540;
--   redeemed 30, expired 15, adjusted +5, reversed -50 (the refund of 50);
--   net 540 - 30 - 15 + 5 - 50 = 450.
--
SELECT results_eq(
	$$SELECT program, granularity, period_start, entries, earned, redeemed, expired, adjusted,
			 reversed, voided, net FROM loyalty.points_flow ORDER BY granularity$$,
	$$VALUES ('bi', 'day', (now() AT TIME ZONE 'UTC')::date, 13::bigint, 540::bigint, 30::bigint,
			  15::bigint, 5::bigint, -50::bigint, 0::bigint, 450::bigint),
		('bi', 'month', date_trunc('month', now() AT TIME ZONE 'UTC')::date, 13, 540, 30, 15, 5, -50, 0, 450)$$,
	'points_flow: earned, redeemed, expired, adjusted, reversed, net per day and month');
SELECT is((SELECT sum(net)::bigint FROM loyalty.points_flow WHERE granularity = 'month'),
	(SELECT sum(available + pending)::bigint FROM loyalty.account),
	'the net flow of all months equals the members'' points');
SELECT is_empty($$SELECT * FROM loyalty.points_flow WHERE program = 'empty'$$,
	'a program without entries has no points_flow rows');

--
-- liability: lots left 70 + 50 + 150 + 80 (member 1, never expire),
-- 40 + 25 + 10 (pending) + 5 (member 2), 7 + 3 + 4 + 6 (member 3): 450,
-- worth 4.50 at 0.01; breakage 15 expired / 540 earned = 0.0278.
--
SELECT results_eq(
	$$SELECT program, currency, point_value, outstanding, pending, due, within_30d, within_90d,
			 within_365d, later, never, debt, outstanding_value, breakage, breakage_12m
		FROM loyalty.liability ORDER BY program$$,
	$$VALUES ('bi', 'USD', 0.01, 450::bigint, 10::bigint, 7::bigint, 25::bigint, 3::bigint,
			  4::bigint, 6::bigint, 405::bigint, 0::bigint, 4.50, 0.0278, 0.0278),
		('empty', 'EUR', NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL)$$,
	'liability: outstanding points by expiry bucket, their value, breakage; zeros and NULLs for an empty program');
SELECT is((SELECT outstanding FROM loyalty.liability WHERE program = 'bi'),
	(SELECT sum(available + pending)::bigint FROM loyalty.account),
	'outstanding equals the members'' points (no debt here)');

--
-- effectiveness: member 1 is the only member enrolled 6 months ago: 2
-- orders for 150 before, 1 order for 150 net after (order 14 is 195 days
-- after enrolling, past the 6 months).
--
SELECT results_eq(
	$$SELECT program, customer_id, months, orders_before, spend_before, orders_after, spend_after,
			 orders_per_month_before, orders_per_month_after, avg_order_before, avg_order_after, complete
		FROM loyalty.member_effectiveness ORDER BY customer_id$$,
	$$VALUES ('bi', 1::bigint, 6, 2::bigint, 150::numeric, 1::bigint, 150::numeric, 0.3333, 0.1667, 75.00, 150.00, true),
		('bi', 2, 6, 1, 40, 0, 0, 0.1667, 0.0000, 40.00, NULL, false),
		('bi', 3, 6, 0, 0, 0, 0, 0.0000, 0.0000, NULL, NULL, false)$$,
	'member_effectiveness: orders and spend 6 months before and after enrolling');
SELECT results_eq(
	$$SELECT program, months, members, orders_per_member_month_before, orders_per_member_month_after,
			 spend_per_member_month_before, spend_per_member_month_after, avg_order_before, avg_order_after
		FROM loyalty.effectiveness ORDER BY program$$,
	$$VALUES ('bi', 6, 1::bigint, 0.3333, 0.1667, 25.00, 25.00, 75.00, 150.00),
		('empty', 6, 0, NULL, NULL, NULL, NULL, NULL, NULL)$$,
	'effectiveness: per program over the members enrolled 6 months ago; NULLs for an empty program');

--
-- retention: member 1's cohort (200 days ago) bought 195 days after
-- enrolling: retained after 1, 3 and 6 months, 12 not reached yet; this
-- month's cohort (members 2 and 3) has not been members a month.
--
SELECT results_eq(
	$$SELECT program, cohort, members, retained_1m, retained_3m, retained_6m, retained_12m
		FROM loyalty.retention ORDER BY cohort$$,
	$$VALUES ('bi', date_trunc('month', (now() - interval '200 days') AT TIME ZONE 'UTC')::date, 1::bigint,
			  1.0000, 1.0000, 1.0000, NULL::numeric),
		('bi', date_trunc('month', now() AT TIME ZONE 'UTC')::date, 2, NULL, NULL, NULL, NULL)$$,
	'retention: share of each enrolment month still buying after 1, 3, 6, 12 months');

--
-- category_affinity: member 1 spent 230 on food (100 + 50 + 80) and 150 on
-- toys (200 less 50 refunded): 230 / 380 = 0.6053; member 2 40 on toys.
--
SELECT results_eq(
	$$SELECT program, customer_id, category, orders, spend, share
		FROM loyalty.category_affinity ORDER BY customer_id, category$$,
	$$VALUES ('bi', 1::bigint, 'food', 3::bigint, 230::numeric, 0.6053),
		('bi', 1, 'toys', 1, 150, 0.3947), ('bi', 2, 'toys', 1, 40, 1.0000)$$,
	'category_affinity: spend and its share per member and category');
SELECT results_eq(
	$$SELECT category, share FROM loyalty.category_affinity WHERE program = 'bi' AND customer_id = 1 ORDER BY 1$$,
	$$VALUES ('food', 0.6053), ('toys', 0.3947)$$,
	'category_affinity reads one member');

--
-- fraud_queue: no check is on, so the queue is empty.
--
SELECT is_empty('SELECT * FROM loyalty.fraud_queue', 'fraud_queue: no open flags');

--
-- Comments on every business view and every column.
--
SELECT is(
	(SELECT array_agg(v ORDER BY v) FROM unnest(ARRAY['member_summary', 'tier_distribution', 'points_flow',
		'liability', 'member_effectiveness', 'effectiveness', 'retention', 'category_affinity',
		'fraud_queue', 'points_flow_mv', 'liability_mv', 'effectiveness_mv', 'retention_mv',
		'tier_distribution_mv', 'member_effectiveness_mv', 'category_affinity_mv']) v
	  WHERE obj_description(('loyalty.' || v)::regclass, 'pg_class') IS NULL),
	NULL, 'every business view has a comment');
SELECT is(
	(SELECT array_agg(c.relname || '.' || a.attname ORDER BY c.relname, a.attnum)
	   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	  WHERE c.relnamespace = 'loyalty'::regnamespace
		AND c.relname IN ('member_summary', 'tier_distribution', 'points_flow', 'liability',
			'member_effectiveness', 'effectiveness', 'retention', 'category_affinity', 'fraud_queue',
			'points_flow_mv', 'liability_mv', 'effectiveness_mv', 'retention_mv', 'tier_distribution_mv',
			'member_effectiveness_mv', 'category_affinity_mv')
		AND a.attnum > 0 AND NOT a.attisdropped
		AND col_description(c.oid, a.attnum) IS NULL),
	NULL, 'every column of every business view has a comment');

--
-- Privileges: the BI role reads the views, nothing else.
--
CREATE ROLE loyalty_app NOLOGIN;
CREATE ROLE loyalty_bi NOLOGIN;
CREATE ROLE loyalty_admin NOLOGIN;
\i doc/grants.sql
SELECT table_privs_are('loyalty', v, 'loyalty_bi', ARRAY['SELECT'], 'BI reads ' || v)
  FROM unnest(ARRAY['member_summary', 'tier_distribution', 'points_flow', 'liability',
	'member_effectiveness', 'effectiveness', 'retention', 'category_affinity', 'fraud_queue']) v;
SELECT table_privs_are('loyalty', t, 'loyalty_bi', ARRAY[]::text[], 'BI cannot read ' || t)
  FROM unnest(ARRAY['member', 'account', 'lot', 'ledger', 'order_accrual', 'member_identity', 'program']) t;
SELECT function_privs_are('loyalty', 'set_point_value', ARRAY['text', 'numeric'], 'loyalty_bi', ARRAY[]::text[],
	'BI cannot set the point value');
SELECT function_privs_are('loyalty', 'set_point_value', ARRAY['text', 'numeric'], 'loyalty_admin', ARRAY['EXECUTE'],
	'the administrator sets the point value');
SET ROLE loyalty_bi;
SELECT is((SELECT outstanding FROM loyalty.liability WHERE program = 'bi'), 450::bigint,
	'as loyalty_bi: liability reads');
SELECT is((SELECT available FROM loyalty.member_summary WHERE program = 'bi' AND customer_id = 1), 350::bigint,
	'as loyalty_bi: member_summary reads');
SELECT throws_ok('SELECT birthday FROM loyalty.member', '42501', NULL, 'as loyalty_bi: no member table (birthday, card)');
SELECT throws_ok($$SELECT loyalty.set_point_value('bi', 1)$$, '42501', NULL, 'as loyalty_bi: cannot set the point value');
SELECT throws_ok($$SELECT loyalty.redeem('bi', 1, 1)$$, '42501', NULL, 'as loyalty_bi: cannot redeem');
RESET ROLE;

--
-- Materialized versions: the same numbers as the live views as of their
-- refresh, and not before; refreshed by name or all at once, by the
-- administrator; read by BI.
--
SELECT is((SELECT count(*) FROM loyalty.liability_mv), 0::bigint,
	'liability_mv: empty until refreshed (created with the extension, before any program)');
SELECT results_eq(
	$$SELECT matview, refreshed_at = now(), took >= '0'::interval FROM loyalty.refresh_business_views()$$,
	$$VALUES ('points_flow_mv', true, true), ('liability_mv', true, true), ('effectiveness_mv', true, true),
		('retention_mv', true, true), ('tier_distribution_mv', true, true),
		('member_effectiveness_mv', true, true), ('category_affinity_mv', true, true)$$,
	'refresh_business_views(): refreshes all seven, returns each');
SELECT results_eq(
	$$SELECT program, granularity, period_start, entries, earned, redeemed, expired, adjusted, reversed,
			 voided, net FROM loyalty.points_flow_mv ORDER BY 1, 2, 3$$,
	$$SELECT * FROM loyalty.points_flow ORDER BY 1, 2, 3$$,
	'points_flow_mv: the live view''s rows');
SELECT results_eq(
	$$SELECT program, currency, point_value, outstanding, pending, due, within_30d, within_90d, within_365d,
			 later, never, debt, outstanding_value, breakage, breakage_12m FROM loyalty.liability_mv ORDER BY 1$$,
	$$SELECT * FROM loyalty.liability ORDER BY 1$$,
	'liability_mv: the live view''s rows');
SELECT results_eq(
	$$SELECT program, months, members, orders_per_member_month_before, orders_per_member_month_after,
			 spend_per_member_month_before, spend_per_member_month_after, avg_order_before, avg_order_after
		FROM loyalty.effectiveness_mv ORDER BY 1$$,
	$$SELECT * FROM loyalty.effectiveness ORDER BY 1$$,
	'effectiveness_mv: the live view''s rows');
SELECT results_eq(
	$$SELECT program, cohort, members, retained_1m, retained_3m, retained_6m, retained_12m
		FROM loyalty.retention_mv ORDER BY 1, 2$$,
	$$SELECT * FROM loyalty.retention ORDER BY 1, 2$$,
	'retention_mv: the live view''s rows');
SELECT results_eq(
	$$SELECT program, tier, members, share FROM loyalty.tier_distribution_mv ORDER BY 1, 2$$,
	$$SELECT * FROM loyalty.tier_distribution ORDER BY 1, 2$$,
	'tier_distribution_mv: the live view''s rows');
SELECT results_eq(
	$$SELECT program, customer_id, enrolled_at, months, orders_before, spend_before, orders_after, spend_after,
			 orders_per_month_before, orders_per_month_after, avg_order_before, avg_order_after, complete
		FROM loyalty.member_effectiveness_mv ORDER BY 1, 2$$,
	$$SELECT * FROM loyalty.member_effectiveness ORDER BY 1, 2$$,
	'member_effectiveness_mv: the live view''s rows');
SELECT results_eq(
	$$SELECT program, customer_id, category, orders, spend, share FROM loyalty.category_affinity_mv ORDER BY 1, 2, 3$$,
	$$SELECT * FROM loyalty.category_affinity ORDER BY 1, 2, 3$$,
	'category_affinity_mv: the live view''s rows');
SELECT is((SELECT array_agg(customer_id || ':' || spend_after ORDER BY spend_after DESC, customer_id)
			 FROM loyalty.member_effectiveness_mv WHERE program = 'bi'),
	ARRAY['1:150.00', '2:0', '3:0'], 'member_effectiveness_mv: members ranked by spend after enrolling');
SELECT is((SELECT count(*) FROM loyalty.points_flow_mv WHERE program = 'bi'), 2::bigint,
	'points_flow_mv: bi has one day and one month (every entry is written now)');
SELECT is((SELECT outstanding FROM loyalty.liability_mv WHERE program = 'bi'), 450::bigint,
	'liability_mv: the 450 points outstanding');
SELECT is((SELECT array_agg(tier || ':' || members ORDER BY tier) FROM loyalty.tier_distribution_mv WHERE program = 'bi'),
	ARRAY['gold:0', 'none:2', 'silver:1'], 'tier_distribution_mv: one silver, two without a tier');
-- A change shows in the live view at once, in the materialized one after
-- its refresh only.
SELECT entry_no FROM loyalty.adjust('bi', 2, 10, 'late bonus');
SELECT is((SELECT outstanding FROM loyalty.liability WHERE program = 'bi'), 460::bigint,
	'liability: the 10 new points at once');
SELECT is((SELECT outstanding FROM loyalty.liability_mv WHERE program = 'bi'), 450::bigint,
	'liability_mv: still as of the last refresh');
SELECT results_eq($$SELECT matview FROM loyalty.refresh_business_views('liability')$$,
	$$VALUES ('liability_mv')$$, 'refresh_business_views(''liability''): that one only');
SELECT is((SELECT outstanding FROM loyalty.liability_mv WHERE program = 'bi'), 460::bigint,
	'liability_mv: the 10 new points after the refresh');
SELECT results_eq($$SELECT matview FROM loyalty.refresh_business_views('points_flow_mv')$$,
	$$VALUES ('points_flow_mv')$$, 'refresh_business_views() takes the _mv name too');
SELECT is((SELECT adjusted FROM loyalty.points_flow_mv WHERE program = 'bi' AND granularity = 'month'), 15::bigint,
	'points_flow_mv: both adjustments after the refresh');
SELECT throws_ok($$SELECT * FROM loyalty.refresh_business_views('member_summary')$$, '22023',
	'unknown materialized business view "member_summary"', 'refresh_business_views(): a plain view is refused');
SELECT throws_ok($$SELECT * FROM loyalty.refresh_business_views('liability_mv; DROP TABLE loyalty.ledger')$$, '22023',
	'unknown materialized business view "liability_mv; DROP TABLE loyalty.ledger"',
	'refresh_business_views(): a hostile name is refused');
SELECT table_privs_are('loyalty', v, 'loyalty_bi', ARRAY['SELECT'], 'BI reads ' || v)
  FROM unnest(ARRAY['points_flow_mv', 'liability_mv', 'effectiveness_mv', 'retention_mv',
	'tier_distribution_mv', 'member_effectiveness_mv', 'category_affinity_mv']) v;
SELECT function_privs_are('loyalty', 'refresh_business_views', ARRAY['text'], 'loyalty_bi', ARRAY[]::text[],
	'BI cannot refresh');
SET ROLE loyalty_admin;
SELECT is((SELECT count(*) FROM loyalty.refresh_business_views()), 7::bigint,
	'as loyalty_admin: refresh_business_views() refreshes the seven');
RESET ROLE;

--
-- An inactivity program: the member's points lapse 12 months after the
-- last activity, moved (as superuser) to 15 days from now.
--
SELECT code FROM loyalty.create_program('idle', 'Idle', 'USD', 1, 1);
SELECT code FROM loyalty.set_expiry_policy('idle', 'inactivity', 12);
SELECT customer_id FROM loyalty.enroll('idle', 1);
SELECT entry_no FROM loyalty.earn('idle', 1, 100, 'welcome');
UPDATE loyalty.account SET last_activity_at = now() + interval '15 days' - interval '12 months'
 WHERE program_id = loyalty.program_id('idle');
SELECT results_eq(
	$$SELECT outstanding, due, within_30d, within_90d, later, never FROM loyalty.liability WHERE program = 'idle'$$,
	$$VALUES (100::bigint, 0::bigint, 100::bigint, 0::bigint, 0::bigint, 0::bigint)$$,
	'liability: the points of an inactive member lapse within 30 days');
SELECT results_eq(
	$$SELECT expiring_30d, next_expiry_at BETWEEN now() + interval '14 days' AND now() + interval '16 days'
		FROM loyalty.member_summary WHERE program = 'idle' AND customer_id = 1$$,
	$$VALUES (100::bigint, true)$$,
	'member_summary: the inactive member''s 100 points expire in about 15 days');
SELECT matview FROM loyalty.refresh_business_views('liability');
SELECT is((SELECT within_30d FROM loyalty.liability_mv WHERE program = 'idle'), 100::bigint,
	'liability_mv: the lapse too, after a refresh');

SELECT * FROM finish();
ROLLBACK;
