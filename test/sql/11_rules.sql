\i test/setup.sql
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(167);

-- Programs: 10 points per complete 100,000 VND, in Asia/Ho_Chi_Minh (UTC+7).
DO $$BEGIN
	PERFORM loyalty.create_program('vn', 'VN Retail', 'VND', 10, 100000, time_zone => 'Asia/Ho_Chi_Minh');
	PERFORM loyalty.create_program('camp', 'VN Campaigns', 'VND', 10, 100000, time_zone => 'Asia/Ho_Chi_Minh');
	PERFORM loyalty.create_program('club', 'VN Club', 'VND', 10, 100000, time_zone => 'Asia/Ho_Chi_Minh');
	PERFORM loyalty.create_program('all', 'VN Everything', 'VND', 10, 100000, time_zone => 'Asia/Ho_Chi_Minh');
	PERFORM loyalty.create_program('prop', 'VN Proportional', 'VND', 10, 100000, 'proportional');
	PERFORM loyalty.create_program('neg', 'VN Negative', 'VND', 10, 100000);
	PERFORM loyalty.create_program('huge', 'Huge', 'VND', 9223372036854775807, 1);
END$$;

-- The objects.

SELECT has_table('loyalty', 'earn_rule', 'loyalty.earn_rule holds the earning rules');
SELECT has_sequence('loyalty', 'earn_rule_id_seq', 'rule ids come from their own sequence');
SELECT ok((SELECT ARRAY['loyalty.earn_rule', 'loyalty.earn_rule_id_seq'] <@ array_agg(c::regclass::text)
			 FROM pg_extension, unnest(extconfig) c WHERE extname = 'loyalty'),
	'pg_dump carries the earning rules and their sequence');
SELECT is_definer('loyalty', 'add_earn_rule', 'add_earn_rule runs as the extension owner');
SELECT is_definer('loyalty', 'drop_earn_rule', 'drop_earn_rule runs as the extension owner');
SELECT isnt_definer('loyalty', 'quote', 'quote is not SECURITY DEFINER (it switches to the owner in C)');
SELECT has_trigger('loyalty', 'earn_rule', 'earn_rule_changed', 'a change to the rules invalidates the cached rules');
SELECT has_trigger('loyalty', 'program', 'program_rules_changed', 'a change to a program invalidates the cached rules');

-- The base rate alone.

SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('vn', 250000)$$,
	$$VALUES (20::bigint, '[{"rule": "base", "points": 20}]'::jsonb)$$,
	'without rules, 250,000 VND earns the base rate: 20, explained as "base"');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('vn', 0)$$,
	$$VALUES (0::bigint, '[{"rule": "base", "points": 0}]'::jsonb)$$,
	'an order of 0 earns 0 base points');

-- Channel multipliers scale the amount before the program's rounding.

SELECT results_eq(
	$$SELECT rule_id > 0, program_id = loyalty.program_id('vn'), name, kind, channel, multiplier,
			 num_nonnulls(category, tier, bonus_points, amount, cap_points, starts_at, ends_at, days_of_week)
		FROM loyalty.add_earn_rule('vn', 'outlet x0.5', 'channel_multiplier', channel => 'outlet', multiplier => 0.5)$$,
	$$VALUES (true, true, 'outlet x0.5', 'channel_multiplier', 'outlet', 0.5::numeric, 0)$$,
	'add_earn_rule returns the new rule: outlet stores earn x0.5');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('vn', 250000, 'outlet')$$,
	$$VALUES (10::bigint, '[{"rule": "base", "points": 10, "rules": ["outlet x0.5"]}]'::jsonb)$$,
	'250,000 VND at an outlet earns floor(125,000 / 100,000) x 10 = 10, and names the multiplier');
SELECT results_eq(
	$$SELECT points FROM loyalty.quote('vn', 199999, 'outlet')$$,
	$$VALUES (0::bigint)$$,
	'199,999 VND at an outlet counts as 99,999.5: no complete block, 0 points');
SELECT results_eq(
	$$SELECT c, points FROM unnest(ARRAY['store', 'Outlet', NULL]) c, loyalty.quote('vn', 250000, c) ORDER BY c NULLS LAST$$,
	$$VALUES ('Outlet', 20::bigint), ('store', 20), (NULL, 20)$$,
	'another channel, a channel in other case, and no channel earn the base rate');
SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('vn', 'online x1', 'channel_multiplier', channel => 'online', multiplier => 1)$$,
	'a channel may have multiplier 1');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('vn', 250000, 'online')$$,
	$$VALUES (20::bigint, '[{"rule": "base", "points": 20}]'::jsonb)$$,
	'a multiplier of 1 changes nothing and is not listed');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('prop', 250000, 'outlet')$$,
	$$VALUES (25::bigint, '[{"rule": "base", "points": 25}]'::jsonb)$$,
	'rules belong to their program: the proportional program has no outlet rule');
SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('prop', 'outlet x0.5', 'channel_multiplier', channel => 'outlet', multiplier => 0.5)$$,
	'another program may use the same rule name');
SELECT results_eq(
	$$SELECT points FROM loyalty.quote('prop', 250000, 'outlet')$$,
	$$VALUES (12::bigint)$$,
	'proportional rounding after the multiplier: floor(125,000 x 10 / 100,000) = 12');

-- Category multipliers scale the amount too, after the channel's.

SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('vn', 'beans x2', 'category_multiplier', category => 'beans', multiplier => 2)$$,
	'coffee beans earn x2');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('vn', 250000, category => 'beans')$$,
	$$VALUES (50::bigint, '[{"rule": "base", "points": 50, "rules": ["beans x2"]}]'::jsonb)$$,
	'250,000 VND of beans counts as 500,000: 50 points');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('vn', 150000, 'outlet', 'beans')$$,
	$$VALUES (10::bigint, '[{"rule": "base", "points": 10, "rules": ["outlet x0.5", "beans x2"]}]'::jsonb)$$,
	'beans at an outlet: 150,000 x 0.5 x 2 = 150,000 earns 10, naming both multipliers');

-- Tier multipliers scale the base points: floor(base x (m - 1)).

SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('vn', 'gold x1.5', 'tier_multiplier', tier => 'gold', multiplier => 1.5)$$,
	'gold members earn x1.5');
SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('vn', 'silver x1.25', 'tier_multiplier', tier => 'silver', multiplier => 1.25)$$,
	'silver members earn x1.25');
SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('vn', 'staff x0.75', 'tier_multiplier', tier => 'staff', multiplier => 0.75)$$,
	'staff earn x0.75');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('vn', 250000, tier => 'gold')$$,
	$$VALUES (30::bigint, '[{"rule": "base", "points": 20}, {"rule": "gold x1.5", "points": 10}]'::jsonb)$$,
	'gold: 20 base + floor(20 x 0.5) = 30');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('vn', 250000, 'outlet', tier => 'silver')$$,
	$$VALUES (12::bigint, '[{"rule": "base", "points": 10, "rules": ["outlet x0.5"]}, {"rule": "silver x1.25", "points": 2}]'::jsonb)$$,
	'silver at an outlet: 10 base + floor(10 x 0.25) = 12');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('vn', 350000, tier => 'staff')$$,
	$$VALUES (22::bigint, '[{"rule": "base", "points": 30}, {"rule": "staff x0.75", "points": -8}]'::jsonb)$$,
	'a multiplier below 1 takes points away, rounded down: 30 base + floor(30 x -0.25) = 30 - 8 = 22');
SELECT results_eq(
	$$SELECT points FROM loyalty.quote('vn', 250000, tier => 'bronze')$$,
	$$VALUES (20::bigint)$$,
	'a tier without a rule earns the base rate');

-- Campaigns: time windows and days of week in the program's time zone.

SELECT results_eq(
	$$SELECT name, days_of_week FROM loyalty.add_earn_rule('camp', 'double weekend', 'campaign_multiplier',
		multiplier => 2, days_of_week => '{7,6,6}')$$,
	$$VALUES ('double weekend', '{6,7}'::smallint[])$$,
	'double points on Saturday and Sunday; the days are stored sorted and once each');
SELECT results_eq(
	$$SELECT t, points FROM unnest(ARRAY[
			'2024-06-07 23:59:59.999999+07', '2024-06-08 00:00:00+07', '2024-06-09 23:59:59.999999+07',
			'2024-06-10 00:00:00+07']::timestamptz[]) t,
		loyalty.quote('camp', 250000, ordered_at => t) ORDER BY t$$,
	$$VALUES ('2024-06-07 23:59:59.999999+07'::timestamptz, 20::bigint), ('2024-06-08 00:00:00+07', 40),
		('2024-06-09 23:59:59.999999+07', 40), ('2024-06-10 00:00:00+07', 20)$$,
	'double weekend runs from Saturday 00:00 to Sunday 24:00 in Asia/Ho_Chi_Minh');
SELECT results_eq(
	$$SELECT extract(isodow FROM t AT TIME ZONE 'UTC')::int, points, detail
		FROM (VALUES ('2024-06-07 18:00:00+00'::timestamptz)) v(t), loyalty.quote('camp', 250000, ordered_at => t)$$,
	$$VALUES (5, 40::bigint, '[{"rule": "base", "points": 20}, {"rule": "double weekend", "points": 20}]'::jsonb)$$,
	'Friday 18:00 UTC is already Saturday in Ho Chi Minh City: 20 base + 20 double weekend');
SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('camp', 'tet x3', 'campaign_multiplier', multiplier => 3,
		starts_at => '2024-02-08 00:00+07', ends_at => '2024-02-15 00:00+07')$$,
	'triple points for Tet, 8 to 14 February');
SELECT results_eq(
	$$SELECT t, points FROM unnest(ARRAY[
			'2024-02-07 23:59:59.999999+07', '2024-02-08 00:00:00+07', '2024-02-14 23:59:59.999999+07',
			'2024-02-15 00:00:00+07']::timestamptz[]) t,
		loyalty.quote('camp', 250000, ordered_at => t) ORDER BY t$$,
	$$VALUES ('2024-02-07 23:59:59.999999+07'::timestamptz, 20::bigint), ('2024-02-08 00:00:00+07', 60),
		('2024-02-14 23:59:59.999999+07', 60), ('2024-02-15 00:00:00+07', 20)$$,
	'a campaign window includes starts_at and excludes ends_at');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('camp', 250000, ordered_at => '2024-02-10 12:00+07')$$,
	$$VALUES (60::bigint, '[{"rule": "base", "points": 20}, {"rule": "tet x3", "points": 40}]'::jsonb)$$,
	'on the Tet Saturday only the highest multiplier applies: x3, not x3 and x2');
SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('camp', 'saturday x3', 'campaign_multiplier', multiplier => 3,
		days_of_week => '{6}')$$,
	'another x3 campaign on Saturdays');
SELECT results_eq(
	$$SELECT detail FROM loyalty.quote('camp', 250000, ordered_at => '2024-02-10 12:00+07')$$,
	$$VALUES ('[{"rule": "base", "points": 20}, {"rule": "tet x3", "points": 40}]'::jsonb)$$,
	'on a tie the oldest rule applies');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('camp', 250000, ordered_at => '2024-06-08 12:00+07')$$,
	$$VALUES (60::bigint, '[{"rule": "base", "points": 20}, {"rule": "saturday x3", "points": 40}]'::jsonb)$$,
	'a new rule is seen in the same transaction: saturday x3 beats double weekend');
SELECT lives_ok($$SELECT loyalty.drop_earn_rule('camp', 'saturday x3')$$, 'drop_earn_rule removes a rule');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('camp', 250000, ordered_at => '2024-06-08 12:00+07')$$,
	$$VALUES (40::bigint, '[{"rule": "base", "points": 20}, {"rule": "double weekend", "points": 20}]'::jsonb)$$,
	'a dropped rule is gone in the same transaction');
SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('camp', 'tea x5', 'campaign_multiplier', category => 'tea', multiplier => 5)$$,
	'a campaign for one category: tea x5');
SELECT results_eq(
	$$SELECT c, points FROM unnest(ARRAY['tea', 'coffee']) c,
		loyalty.quote('camp', 250000, category => c, ordered_at => '2024-06-08 12:00+07') ORDER BY c$$,
	$$VALUES ('coffee', 40::bigint), ('tea', 100)$$,
	'on a Saturday, tea earns x5 (20 + 80) and coffee x2: a campaign for another category does not compete');
SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('camp', 'app launch +50', 'campaign_bonus', channel => 'online', bonus_points => 50)$$,
	'a fixed bonus for online orders');
SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('camp', 'march +30', 'campaign_bonus', bonus_points => 30,
		starts_at => '2024-03-01 00:00+07', ends_at => '2024-04-01 00:00+07')$$,
	'a fixed bonus for every order in March');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('camp', 250000, 'online', ordered_at => '2024-03-09 12:00+07')$$,
	$$VALUES (120::bigint, '[{"rule": "base", "points": 20}, {"rule": "double weekend", "points": 20},
		{"rule": "app launch +50", "points": 50}, {"rule": "march +30", "points": 30}]'::jsonb)$$,
	'an online order on a March Saturday: 20 base + 20 double weekend + 50 + 30, bonuses add up');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('camp', 250000, 'store', ordered_at => '2024-03-06 12:00+07')$$,
	$$VALUES (50::bigint, '[{"rule": "base", "points": 20}, {"rule": "march +30", "points": 30}]'::jsonb)$$,
	'a store order on a March Wednesday: 20 base + 30, and no online bonus');
SELECT results_eq(
	$$SELECT t, points FROM unnest(ARRAY['2024-03-31 23:59:59.999999+07', '2024-04-01 00:00:00+07']::timestamptz[]) t,
		loyalty.quote('camp', 250000, 'store', ordered_at => t) ORDER BY t$$,
	$$VALUES ('2024-03-31 23:59:59.999999+07'::timestamptz, 70::bigint), ('2024-04-01 00:00:00+07', 20)$$,
	'the March bonus ends at midnight: Sunday 31 March earns 20 + 20 + 30, Monday 1 April 20');

-- First purchase and birthday month.

SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('club', 'welcome +100', 'first_purchase_bonus', bonus_points => 100)$$,
	'a first-purchase bonus');
SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('club', 'birthday +200', 'birthday_bonus', bonus_points => 200)$$,
	'a birthday-month bonus');
SELECT results_eq(
	$$SELECT f, points, detail FROM unnest(ARRAY[true, false]) f,
		loyalty.quote('club', 250000, first_purchase => f) ORDER BY f$$,
	$$VALUES (false, 20::bigint, '[{"rule": "base", "points": 20}]'::jsonb),
		(true, 120, '[{"rule": "base", "points": 20}, {"rule": "welcome +100", "points": 100}]')$$,
	'the first purchase earns 20 base + 100; later ones 20');
SELECT results_eq(
	$$SELECT t, points FROM unnest(ARRAY['2024-05-31 16:59:59+00', '2024-05-31 17:00:00+00',
			'2024-06-30 16:59:59+00', '2024-06-30 17:00:00+00']::timestamptz[]) t,
		loyalty.quote('club', 250000, ordered_at => t, birthday => '1990-06-15') ORDER BY t$$,
	$$VALUES ('2024-05-31 16:59:59+00'::timestamptz, 20::bigint), ('2024-05-31 17:00:00+00', 220),
		('2024-06-30 16:59:59+00', 220), ('2024-06-30 17:00:00+00', 20)$$,
	'a June birthday earns +200 from 1 June 00:00 to 30 June 24:00 Ho Chi Minh time, not in UTC''s June');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('club', 250000, ordered_at => '2024-06-15 12:00+07',
		birthday => '1990-06-15', first_purchase => true)$$,
	$$VALUES (320::bigint, '[{"rule": "base", "points": 20}, {"rule": "welcome +100", "points": 100},
		{"rule": "birthday +200", "points": 200}]'::jsonb)$$,
	'a first purchase in the birthday month earns both bonuses');
SELECT results_eq(
	$$SELECT points FROM loyalty.quote('club', 250000, ordered_at => '2024-06-15 12:00+07', birthday => NULL)$$,
	$$VALUES (20::bigint)$$,
	'no birthday, no birthday bonus');

-- Minimum amount and order cap.

SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('club', 'minimum 100k', 'minimum_amount', amount => 100000)$$,
	'orders below 100,000 VND earn nothing');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('club', 99999, ordered_at => '2024-06-15 12:00+07',
		birthday => '1990-06-15', first_purchase => true)$$,
	$$VALUES (0::bigint, '[{"rule": "minimum 100k", "points": 0, "note": "below minimum"}]'::jsonb)$$,
	'99,999 VND is below the minimum: 0 points and no bonus either');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('club', 100000)$$,
	$$VALUES (10::bigint, '[{"rule": "base", "points": 10}]'::jsonb)$$,
	'exactly the minimum earns');
SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('club', 'cap 500', 'order_cap', cap_points => 500)$$,
	'one order earns at most 500 points');
SELECT results_eq(
	$$SELECT a, points FROM unnest('{4990000, 5000000, 5090000}'::numeric[]) a, loyalty.quote('club', a) ORDER BY a$$,
	$$VALUES (4990000::numeric, 490::bigint), (5000000, 500), (5090000, 500)$$,
	'the cap: 4,990,000 VND earns 490, 5,000,000 earns 500, 5,090,000 earns 500');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('club', 10000000, first_purchase => true)$$,
	$$VALUES (500::bigint, '[{"rule": "base", "points": 1000}, {"rule": "welcome +100", "points": 100},
		{"rule": "cap 500", "points": -600}]'::jsonb)$$,
	'the cap applies after the bonuses: 1000 + 100 capped at 500, the cut shown as -600');

-- Everything at once: the stacking order does not depend on the order rules were created in.

DO $$BEGIN
	PERFORM loyalty.add_earn_rule('all', 'cap 300', 'order_cap', cap_points => 300);
	PERFORM loyalty.add_earn_rule('all', 'bonus +7', 'campaign_bonus', bonus_points => 7);
	PERFORM loyalty.add_earn_rule('all', 'birthday +200', 'birthday_bonus', bonus_points => 200);
	PERFORM loyalty.add_earn_rule('all', 'summer x3', 'campaign_multiplier', multiplier => 3,
		starts_at => '2024-06-01 00:00+07', ends_at => '2024-07-01 00:00+07');
	PERFORM loyalty.add_earn_rule('all', 'welcome +100', 'first_purchase_bonus', bonus_points => 100);
	PERFORM loyalty.add_earn_rule('all', 'bonus +5', 'campaign_bonus', bonus_points => 5);
	PERFORM loyalty.add_earn_rule('all', 'gold x1.5', 'tier_multiplier', tier => 'gold', multiplier => 1.5);
	PERFORM loyalty.add_earn_rule('all', 'double weekend', 'campaign_multiplier', multiplier => 2,
		days_of_week => '{6,7}');
	PERFORM loyalty.add_earn_rule('all', 'beans x2', 'category_multiplier', category => 'beans', multiplier => 2);
	PERFORM loyalty.add_earn_rule('all', 'outlet x0.5', 'channel_multiplier', channel => 'outlet', multiplier => 0.5);
	PERFORM loyalty.add_earn_rule('all', 'minimum 10k', 'minimum_amount', amount => 10000);
END$$;
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('all', 400000, 'outlet', 'beans', '2024-06-08 10:00+07', 'gold',
		'1990-06-20', true)$$,
	$$VALUES (300::bigint, '[
		{"rule": "base", "points": 40, "rules": ["outlet x0.5", "beans x2"]},
		{"rule": "gold x1.5", "points": 20},
		{"rule": "summer x3", "points": 80},
		{"rule": "bonus +7", "points": 7},
		{"rule": "bonus +5", "points": 5},
		{"rule": "welcome +100", "points": 100},
		{"rule": "birthday +200", "points": 200},
		{"rule": "cap 300", "points": -152}]'::jsonb)$$,
	'base (channel, category) 40, tier +20, highest campaign +80, bonuses +7 +5, first +100, birthday +200 = 452, capped at 300');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('all', 1000000, 'outlet', 'beans', '2024-06-08 10:00+07', 'gold',
		'1990-06-20', true)$$,
	$$VALUES (300::bigint, '[
		{"rule": "base", "points": 100, "rules": ["outlet x0.5", "beans x2"]},
		{"rule": "gold x1.5", "points": 50},
		{"rule": "summer x3", "points": 200},
		{"rule": "bonus +7", "points": 7},
		{"rule": "bonus +5", "points": 5},
		{"rule": "welcome +100", "points": 100},
		{"rule": "cap 300", "points": -162}]'::jsonb)$$,
	'462 points before the birthday bonus already pass the 300 cap: the bonus would pay nothing and is left out');
SELECT is(
	(SELECT sum((c->>'points')::bigint) FROM loyalty.quote('all', 1000000, 'outlet', 'beans', '2024-06-08 10:00+07',
		'gold', '1990-06-20', true) q, jsonb_array_elements(q.detail) c),
	300::numeric,
	'the components of the detail add up to the points');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('all', 200000, 'store', NULL, '2024-06-07 10:00+07', 'silver')$$,
	$$VALUES (72::bigint, '[{"rule": "base", "points": 20}, {"rule": "summer x3", "points": 40},
		{"rule": "bonus +7", "points": 7}, {"rule": "bonus +5", "points": 5}]'::jsonb)$$,
	'a plain Friday order in June: 20 base + 40 summer + 7 + 5');

-- The total never goes below 0.

DO $$BEGIN
	PERFORM loyalty.add_earn_rule('neg', 'banned x0', 'tier_multiplier', tier => 'banned', multiplier => 0);
	PERFORM loyalty.add_earn_rule('neg', 'blackout x0', 'campaign_multiplier', multiplier => 0);
END$$;
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('neg', 250000, ordered_at => '2024-06-08 10:00+07')$$,
	$$VALUES (0::bigint, '[{"rule": "base", "points": 20}, {"rule": "blackout x0", "points": -20}]'::jsonb)$$,
	'a x0 campaign takes the base points away');
SELECT results_eq(
	$$SELECT points, detail FROM loyalty.quote('neg', 250000, ordered_at => '2024-06-08 10:00+07', tier => 'banned')$$,
	$$VALUES (0::bigint, '[{"rule": "base", "points": 20}, {"rule": "banned x0", "points": -20},
		{"rule": "blackout x0", "points": -20},
		{"rule": "no negative points", "points": 20, "note": "total never below 0"}]'::jsonb)$$,
	'x0 tier and x0 campaign both take the base away: the total stops at 0');

-- Overflow.

SELECT results_eq(
	$$SELECT points FROM loyalty.quote('huge', 1)$$,
	$$VALUES (9223372036854775807::bigint)$$,
	'the base rate can earn the largest bigint');
SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('huge', 'welcome +1', 'first_purchase_bonus', bonus_points => 1)$$,
	'a bonus on top of it');
SELECT throws_ok($$SELECT * FROM loyalty.quote('huge', 1, first_purchase => true)$$,
	'22003', 'earning rules give more points than a balance can hold',
	'a bonus beyond the largest bigint is an error, not a wrap-around');
SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('huge', 'vip x3', 'tier_multiplier', tier => 'vip', multiplier => 3)$$,
	'a tier multiplier on top of it');
SELECT throws_ok($$SELECT * FROM loyalty.quote('huge', 1, tier => 'vip')$$,
	'22003', 'earning rules give more points than a balance can hold',
	'a multiplied bonus beyond the largest bigint is an error');
SELECT throws_ok($$SELECT * FROM loyalty.quote('huge', 2)$$,
	'22003', 'amount earns more points than a balance can hold',
	'a base beyond the largest bigint is the base rate''s error');

-- Rule names are escaped in the detail.

SELECT lives_ok(
	$$SELECT loyalty.add_earn_rule('vn', E'say "hi" \\ to Trần\t+1', 'campaign_bonus', channel => 'kiosk', bonus_points => 1)$$,
	'a rule name with quotes, a backslash, a tab and non-ASCII letters');
SELECT results_eq(
	$$SELECT points, detail->1->>'rule' FROM loyalty.quote('vn', 250000, 'kiosk')$$,
	$$VALUES (21::bigint, E'say "hi" \\ to Trần\t+1')$$,
	'the detail carries the name exactly');

-- The cache follows every change, in the same transaction.

SELECT results_eq($$SELECT points FROM loyalty.quote('vn', 250000)$$, $$VALUES (20::bigint)$$,
	'vn earns 20 for 250,000 (the rules are cached now)');
SELECT lives_ok($$SELECT loyalty.alter_program('vn', earn_points => 20)$$, 'vn now earns 20 per 100,000');
SELECT results_eq($$SELECT points FROM loyalty.quote('vn', 250000)$$, $$VALUES (40::bigint)$$,
	'a new rate is seen at once');
SELECT lives_ok($$SELECT loyalty.alter_program('vn', rounding => 'ceiling')$$, 'vn now rounds up');
SELECT results_eq($$SELECT points FROM loyalty.quote('vn', 250000)$$, $$VALUES (60::bigint)$$,
	'a new rounding rule is seen at once');
SELECT lives_ok($$SELECT loyalty.alter_program('vn', earn_points => 10, rounding => 'floor')$$, 'vn is back to 10 per 100,000, floor');
SELECT results_eq($$SELECT points FROM loyalty.quote('camp', 250000, ordered_at => '2024-06-08 23:30+07')$$,
	$$VALUES (40::bigint)$$, 'Saturday 23:30 in Ho Chi Minh City is in the double weekend');
SELECT lives_ok($$SELECT loyalty.alter_program('camp', time_zone => 'UTC')$$, 'camp moves to UTC');
SELECT results_eq($$SELECT points FROM loyalty.quote('camp', 250000, ordered_at => '2024-06-07 23:30+00')$$,
	$$VALUES (20::bigint)$$, 'a new time zone is seen at once: Friday 23:30 UTC is a Friday again');
UPDATE loyalty.earn_rule SET multiplier = 0.25 WHERE name = 'outlet x0.5' AND program_id = loyalty.program_id('vn');
SELECT results_eq($$SELECT points FROM loyalty.quote('vn', 400000, 'outlet')$$, $$VALUES (10::bigint)$$,
	'an UPDATE of earn_rule outside the functions is seen too: 400,000 x 0.25 earns 10');
SAVEPOINT before_rule;
SELECT lives_ok($$SELECT loyalty.add_earn_rule('vn', 'store x3', 'channel_multiplier', channel => 'store', multiplier => 3)$$,
	'a rule added in a savepoint');
SELECT results_eq($$SELECT points FROM loyalty.quote('vn', 250000, 'store')$$, $$VALUES (70::bigint)$$,
	'is seen inside it');
ROLLBACK TO SAVEPOINT before_rule;
SELECT results_eq($$SELECT points FROM loyalty.quote('vn', 250000, 'store')$$, $$VALUES (20::bigint)$$,
	'and forgotten when the savepoint rolls back');
SAVEPOINT before_truncate;
TRUNCATE loyalty.earn_rule;
SELECT results_eq($$SELECT points FROM loyalty.quote('all', 1000000, 'outlet', 'beans', '2024-06-08 10:00+07', 'gold',
		'1990-06-20', true)$$,
	$$VALUES (100::bigint)$$,
	'TRUNCATE of earn_rule is seen too: the base rate only');
ROLLBACK TO SAVEPOINT before_truncate;
SELECT results_eq($$SELECT points FROM loyalty.quote('all', 1000000, 'outlet', 'beans', '2024-06-08 10:00+07', 'gold',
		'1990-06-20', true)$$,
	$$VALUES (300::bigint)$$,
	'and the rules are back after its rollback');

-- Bad input to add_earn_rule: a clear error, and nothing changes.

SELECT count(*) AS rules_before FROM loyalty.earn_rule \gset
SELECT throws_ok($$SELECT loyalty.add_earn_rule(NULL, 'x', 'order_cap', cap_points => 1)$$,
	'22004', 'program must not be null', 'add_earn_rule: NULL program');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', NULL, 'order_cap', cap_points => 1)$$,
	'22004', 'name must not be null', 'add_earn_rule: NULL name');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', NULL, cap_points => 1)$$,
	'22004', 'kind must not be null', 'add_earn_rule: NULL kind');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('nope', 'x', 'order_cap', cap_points => 1)$$,
	'LY001', 'unknown loyalty program "nope"', 'add_earn_rule: unknown program');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'double_points', multiplier => 2)$$,
	'22023', 'unknown earning rule kind "double_points"', 'add_earn_rule: unknown kind');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', ' ', 'order_cap', cap_points => 1)$$,
	'22023', 'rule name must not be empty', 'add_earn_rule: blank name');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', repeat('x', 201), 'order_cap', cap_points => 1)$$,
	'22001', 'rule name is too long', 'add_earn_rule: name of 201 bytes');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'Base', 'order_cap', cap_points => 1)$$,
	'22023', 'rule name "Base" is reserved', 'add_earn_rule: the name statements use for the base rate');

-- Each kind needs its own fields...
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'channel_multiplier', multiplier => 2)$$,
	'22004', 'channel must not be null for a rule of kind channel_multiplier', 'channel_multiplier without channel');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'channel_multiplier', channel => 'web')$$,
	'22004', 'multiplier must not be null for a rule of kind channel_multiplier', 'channel_multiplier without multiplier');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'category_multiplier', multiplier => 2)$$,
	'22004', 'category must not be null for a rule of kind category_multiplier', 'category_multiplier without category');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'tier_multiplier', multiplier => 2)$$,
	'22004', 'tier must not be null for a rule of kind tier_multiplier', 'tier_multiplier without tier');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'campaign_multiplier', days_of_week => '{6}')$$,
	'22004', 'multiplier must not be null for a rule of kind campaign_multiplier', 'campaign_multiplier without multiplier');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'campaign_bonus', channel => 'web')$$,
	'22004', 'bonus_points must not be null for a rule of kind campaign_bonus', 'campaign_bonus without bonus_points');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'first_purchase_bonus')$$,
	'22004', 'bonus_points must not be null for a rule of kind first_purchase_bonus', 'first_purchase_bonus without bonus_points');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'birthday_bonus')$$,
	'22004', 'bonus_points must not be null for a rule of kind birthday_bonus', 'birthday_bonus without bonus_points');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'minimum_amount')$$,
	'22004', 'amount must not be null for a rule of kind minimum_amount', 'minimum_amount without amount');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'order_cap')$$,
	'22004', 'cap_points must not be null for a rule of kind order_cap', 'order_cap without cap_points');
-- ... and no other.
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'channel_multiplier', channel => 'web', multiplier => 2, tier => 'gold')$$,
	'22023', 'tier does not apply to a rule of kind channel_multiplier', 'a tier on a channel multiplier');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'category_multiplier', category => 'tea', multiplier => 2, starts_at => now())$$,
	'22023', 'starts_at does not apply to a rule of kind category_multiplier', 'a window on a category multiplier');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'tier_multiplier', tier => 'gold', multiplier => 2, days_of_week => '{6}')$$,
	'22023', 'days_of_week does not apply to a rule of kind tier_multiplier', 'days on a tier multiplier');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'campaign_multiplier', multiplier => 2, bonus_points => 5)$$,
	'22023', 'bonus_points does not apply to a rule of kind campaign_multiplier', 'a bonus on a campaign multiplier');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'campaign_bonus', bonus_points => 5, tier => 'gold')$$,
	'22023', 'tier does not apply to a rule of kind campaign_bonus', 'a tier on a campaign bonus');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'first_purchase_bonus', bonus_points => 5, ends_at => now())$$,
	'22023', 'ends_at does not apply to a rule of kind first_purchase_bonus', 'a window on a first-purchase bonus');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'birthday_bonus', bonus_points => 5, channel => 'web')$$,
	'22023', 'channel does not apply to a rule of kind birthday_bonus', 'a channel on a birthday bonus');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'minimum_amount', amount => 5, cap_points => 5)$$,
	'22023', 'cap_points does not apply to a rule of kind minimum_amount', 'a cap on a minimum amount');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'order_cap', cap_points => 5, amount => 5)$$,
	'22023', 'amount does not apply to a rule of kind order_cap', 'an amount on an order cap');

-- The values.
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'channel_multiplier', channel => '', multiplier => 2)$$,
	'22023', 'channel must not be empty', 'an empty channel');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'category_multiplier', category => '', multiplier => 2)$$,
	'22023', 'category must not be empty', 'an empty category');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'tier_multiplier', tier => '', multiplier => 2)$$,
	'22023', 'tier must not be empty', 'an empty tier');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'channel_multiplier', channel => repeat('c', 201), multiplier => 2)$$,
	'22001', 'channel is too long', 'a channel of 201 bytes');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'channel_multiplier', channel => 'web', multiplier => -0.5)$$,
	'22023', 'multiplier must be a finite number of at least 0', 'a negative multiplier');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'campaign_multiplier', multiplier => 'NaN')$$,
	'22023', 'multiplier must be a finite number of at least 0', 'a NaN multiplier');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'tier_multiplier', tier => 'gold', multiplier => 'Infinity')$$,
	'22023', 'multiplier must be a finite number of at least 0', 'an infinite multiplier');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'campaign_bonus', bonus_points => 0)$$,
	'22023', 'bonus_points must be positive', 'a bonus of 0 points');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'birthday_bonus', bonus_points => -5)$$,
	'22023', 'bonus_points must be positive', 'a negative bonus');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'minimum_amount', amount => -1)$$,
	'22023', 'amount must be a finite number of at least 0', 'a negative minimum amount');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'minimum_amount', amount => 'NaN')$$,
	'22023', 'amount must be a finite number of at least 0', 'a NaN minimum amount');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'order_cap', cap_points => 0)$$,
	'22023', 'cap_points must be positive', 'a cap of 0 points');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'campaign_bonus', bonus_points => 5, starts_at => '-infinity')$$,
	'22023', 'starts_at must be a finite time', 'an infinite start');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'campaign_bonus', bonus_points => 5, ends_at => 'infinity')$$,
	'22023', 'ends_at must be a finite time', 'an infinite end');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'campaign_bonus', bonus_points => 5,
		starts_at => '2024-06-01 00:00+07', ends_at => '2024-06-01 00:00+07')$$,
	'22023', 'starts_at must be before ends_at', 'an empty window (ends_at is exclusive)');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'campaign_bonus', bonus_points => 5,
		starts_at => '2024-06-02 00:00+07', ends_at => '2024-06-01 00:00+07')$$,
	'22023', 'starts_at must be before ends_at', 'a window that ends before it starts');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'campaign_bonus', bonus_points => 5, days_of_week => '{}')$$,
	'22023', 'days_of_week must not be empty', 'an empty list of days');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'campaign_bonus', bonus_points => 5, days_of_week => '{0,6}')$$,
	'22023', 'days_of_week must hold ISO day numbers from 1 (Monday) to 7 (Sunday)', 'day 0 (Sunday in other numberings)');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'campaign_bonus', bonus_points => 5, days_of_week => '{8}')$$,
	'22023', 'days_of_week must hold ISO day numbers from 1 (Monday) to 7 (Sunday)', 'day 8');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'campaign_bonus', bonus_points => 5, days_of_week => '{6,NULL}')$$,
	'22023', 'days_of_week must hold ISO day numbers from 1 (Monday) to 7 (Sunday)', 'a NULL day');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'campaign_bonus', bonus_points => 5, days_of_week => '{{6},{7}}')$$,
	'22023', 'days_of_week must hold ISO day numbers from 1 (Monday) to 7 (Sunday)', 'a two-dimensional list of days');

-- Duplicates.
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'outlet x0.5', 'campaign_bonus', bonus_points => 5)$$,
	'23505', 'earning rule "outlet x0.5" already exists in program "vn"', 'a name already used in the program');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'outlet x2', 'channel_multiplier', channel => 'outlet', multiplier => 2)$$,
	'23505', 'program "vn" already has a multiplier for channel "outlet"', 'a second multiplier for a channel');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'beans x3', 'category_multiplier', category => 'beans', multiplier => 3)$$,
	'23505', 'program "vn" already has a multiplier for category "beans"', 'a second multiplier for a category');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'gold x2', 'tier_multiplier', tier => 'gold', multiplier => 2)$$,
	'23505', 'program "vn" already has a multiplier for tier "gold"', 'a second multiplier for a tier');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('club', 'minimum 50k', 'minimum_amount', amount => 50000)$$,
	'23505', 'program "club" already has a minimum amount', 'a second minimum amount');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('club', 'cap 1000', 'order_cap', cap_points => 1000)$$,
	'23505', 'program "club" already has an order cap', 'a second order cap');
SELECT throws_ok($$INSERT INTO loyalty.earn_rule (program_id, name, kind, channel, multiplier, bonus_points)
		VALUES (loyalty.program_id('vn'), 'x', 'channel_multiplier', 'web', 2, 5)$$,
	'23514', 'new row for relation "earn_rule" violates check constraint "earn_rule_fields_of_kind"',
	'the table itself refuses a field the kind does not use');
SELECT is((SELECT count(*) FROM loyalty.earn_rule), :'rules_before'::bigint, 'no failed call added a rule');

-- drop_earn_rule

SELECT throws_ok($$SELECT loyalty.drop_earn_rule(NULL, 'x')$$,
	'22004', 'program must not be null', 'drop_earn_rule: NULL program');
SELECT throws_ok($$SELECT loyalty.drop_earn_rule('vn', NULL)$$,
	'22004', 'name must not be null', 'drop_earn_rule: NULL name');
SELECT throws_ok($$SELECT loyalty.drop_earn_rule('nope', 'x')$$,
	'LY001', 'unknown loyalty program "nope"', 'drop_earn_rule: unknown program');
SELECT throws_ok($$SELECT loyalty.drop_earn_rule('vn', 'saturday x3')$$,
	'LY007', 'unknown earning rule "saturday x3" in program "vn"', 'drop_earn_rule: unknown rule');
SELECT throws_ok($$SELECT loyalty.drop_earn_rule('camp', 'OUTLET X0.5')$$,
	'LY007', 'unknown earning rule "OUTLET X0.5" in program "camp"', 'drop_earn_rule: names are case-sensitive');
SELECT is((SELECT count(*) FROM loyalty.earn_rule), :'rules_before'::bigint, 'no failed drop removed a rule');

-- quote

SELECT throws_ok($$SELECT * FROM loyalty.quote(NULL, 1)$$,
	'22004', 'program must not be null', 'quote: NULL program');
SELECT throws_ok($$SELECT * FROM loyalty.quote('vn', NULL)$$,
	'22004', 'amount must not be null', 'quote: NULL amount');
SELECT throws_ok($$SELECT * FROM loyalty.quote('vn', 1, ordered_at => NULL)$$,
	'22004', 'ordered_at must not be null', 'quote: NULL ordered_at');
SELECT throws_ok($$SELECT * FROM loyalty.quote('vn', 1, first_purchase => NULL)$$,
	'22004', 'first_purchase must not be null', 'quote: NULL first_purchase');
SELECT throws_ok($$SELECT * FROM loyalty.quote('nope', 1)$$,
	'LY001', 'unknown loyalty program "nope"', 'quote: unknown program');
SELECT throws_ok($$SELECT * FROM loyalty.quote('vn', 'NaN')$$,
	'22023', 'amount must be a finite number', 'quote: NaN amount');
SELECT throws_ok($$SELECT * FROM loyalty.quote('vn', 'Infinity')$$,
	'22023', 'amount must be a finite number', 'quote: infinite amount');
SELECT throws_ok($$SELECT * FROM loyalty.quote('club', -1)$$,
	'22023', 'amount must not be negative', 'quote: a negative amount is an error, even below the minimum');
SELECT throws_ok($$SELECT * FROM loyalty.quote('vn', 1, ordered_at => 'infinity')$$,
	'22023', 'ordered_at must be a finite time', 'quote: infinite ordered_at');
SELECT throws_ok($$SELECT * FROM loyalty.quote('vn', 1, birthday => 'infinity')$$,
	'22023', 'birthday must be a finite date', 'quote: infinite birthday');

-- Privileges: nothing for PUBLIC; quote works with EXECUTE alone.

CREATE ROLE loyalty_rules_test_role NOLOGIN;
SELECT ok(NOT has_function_privilege('loyalty_rules_test_role',
		'loyalty.add_earn_rule(text, text, text, text, text, text, numeric, bigint, numeric, bigint, timestamptz, timestamptz, smallint[])',
		'EXECUTE'),
	'PUBLIC cannot execute add_earn_rule');
SELECT ok(NOT has_function_privilege('loyalty_rules_test_role', 'loyalty.drop_earn_rule(text, text)', 'EXECUTE'),
	'PUBLIC cannot execute drop_earn_rule');
SELECT ok(NOT has_function_privilege('loyalty_rules_test_role',
		'loyalty.quote(text, numeric, text, text, timestamptz, text, date, boolean)', 'EXECUTE'),
	'PUBLIC cannot execute quote');
SELECT ok(NOT has_function_privilege('loyalty_rules_test_role', 'loyalty.rules_changed()', 'EXECUTE'),
	'PUBLIC cannot execute rules_changed');
GRANT USAGE ON SCHEMA loyalty TO loyalty_rules_test_role;
GRANT EXECUTE ON FUNCTION loyalty.quote(text, numeric, text, text, timestamptz, text, date, boolean)
	TO loyalty_rules_test_role;
SET ROLE loyalty_rules_test_role;
SELECT results_eq($$SELECT points FROM loyalty.quote('vn', 400000, 'outlet')$$, $$VALUES (10::bigint)$$,
	'a role with EXECUTE on quote alone gets a quote');
SELECT throws_ok($$SELECT loyalty.add_earn_rule('vn', 'x', 'order_cap', cap_points => 1)$$,
	'42501', 'permission denied for function add_earn_rule', 'but cannot add rules');
SELECT throws_ok($$SELECT * FROM loyalty.earn_rule$$,
	'42501', 'permission denied for table earn_rule', 'nor read the rules table');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
