\i test/setup.sql
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(73);

-- create_program: defaults, explicit settings, the returned row.

SELECT results_eq(
	$$SELECT code, name, currency::text, earn_points, earn_per, rounding, time_zone,
			 return_days, negative_balance
		FROM loyalty.create_program('vn', 'VN Retail', 'vnd', 10, 100000)$$,
	$$VALUES ('vn', 'VN Retail', 'VND', 10::bigint, 100000::numeric, 'floor', 'UTC', 0, 'debt')$$,
	'create_program with only the required settings: floor rounding, UTC, no return window, debt policy');
SELECT results_eq(
	$$SELECT code, currency::text, created_at = now(), updated_at = now() FROM loyalty.program$$,
	$$VALUES ('vn', 'VND', true, true)$$,
	'the program is stored with its currency upper-cased and its creation time');
SELECT results_eq(
	$$SELECT code, name, currency::text, earn_points, earn_per, rounding, time_zone,
			 return_days, negative_balance
		FROM loyalty.create_program(code => 'us-web', name => 'US Web Store', currency => 'Usd',
			earn_points => 1, earn_per => 1.00, rounding => 'half_up',
			time_zone => 'America/New_York', return_days => 30, negative_balance => 'block')$$,
	$$VALUES ('us-web', 'US Web Store', 'USD', 1::bigint, 1.00::numeric, 'half_up',
			  'America/New_York', 30, 'block')$$,
	'create_program with every setting given stores each of them');
SELECT lives_ok(
	$$SELECT loyalty.create_program('vn-half', 'VN half up', 'VND', 10, 100000, 'half_up')$$,
	'a half_up program is created');
SELECT lives_ok(
	$$SELECT loyalty.create_program('vn-ceil', 'VN ceiling', 'VND', 10, 100000, 'ceiling')$$,
	'a ceiling program is created');
SELECT lives_ok(
	$$SELECT loyalty.create_program('vn-prop', 'VN proportional', 'VND', 10, 100000, 'proportional',
		'Asia/Ho_Chi_Minh', 14, 'forgive')$$,
	'a proportional program in the Asia/Ho_Chi_Minh time zone with a 14-day return window is created');
SELECT lives_ok(
	$$SELECT loyalty.create_program('usd', 'USD floor', 'USD', 1, 1.00)$$,
	'a program earning 1 point per 1.00 USD is created');
SELECT lives_ok(
	$$SELECT loyalty.create_program('eu.club_1', 'EU Club', 'EUR', 3, 2.50)$$,
	'a program code may use digits, ".", "_" and "-", and a rate may be fractional (3 points per 2.50 EUR)');

-- points_for: "10 points per 100,000 VND" under each rounding rule.

SELECT results_eq(
	$$SELECT a, loyalty.points_for('vn', a)
		FROM unnest('{0, 99999, 100000, 199999, 250000, 1000000}'::numeric[]) a$$,
	$$VALUES (0::numeric, 0::bigint), (99999, 0), (100000, 10), (199999, 10), (250000, 20), (1000000, 100)$$,
	'floor counts complete blocks only: 99,999 VND earns 0, 100,000 earns 10, 250,000 earns 20');
SELECT results_eq(
	$$SELECT a, loyalty.points_for('vn-half', a)
		FROM unnest('{0, 49999, 50000, 149999, 150000, 249999, 250000}'::numeric[]) a$$,
	$$VALUES (0::numeric, 0::bigint), (49999, 0), (50000, 10), (149999, 10), (150000, 20), (249999, 20), (250000, 30)$$,
	'half_up rounds to the nearest block, halves up: 249,999 VND earns 20, 250,000 earns 30');
SELECT results_eq(
	$$SELECT a, loyalty.points_for('vn-ceil', a)
		FROM unnest('{0, 1, 100000, 200000, 200001}'::numeric[]) a$$,
	$$VALUES (0::numeric, 0::bigint), (1, 10), (100000, 10), (200000, 20), (200001, 30)$$,
	'ceiling counts any started block: 200,000 VND earns 20, 200,001 earns 30, 0 earns 0');
SELECT results_eq(
	$$SELECT a, loyalty.points_for('vn-prop', a)
		FROM unnest('{0, 9999, 10000, 12345, 250000, 259999}'::numeric[]) a$$,
	$$VALUES (0::numeric, 0::bigint), (9999, 0), (10000, 1), (12345, 1), (250000, 25), (259999, 25)$$,
	'proportional earns floor(amount * 10 / 100,000): 250,000 VND earns 25, 12,345 earns 1');

-- Fractional amounts and rates.
SELECT results_eq(
	$$SELECT a, loyalty.points_for('usd', a)
		FROM unnest('{0.99, 1.00, 9.99, 10, 10.01}'::numeric[]) a$$,
	$$VALUES (0.99::numeric, 0::bigint), (1.00, 1), (9.99, 9), (10, 10), (10.01, 10)$$,
	'1 point per 1.00 USD, floor: 9.99 earns 9, 0.99 earns 0');
SELECT results_eq(
	$$SELECT a, loyalty.points_for('us-web', a)
		FROM unnest('{0.49, 0.50, 9.49, 9.50}'::numeric[]) a$$,
	$$VALUES (0.49::numeric, 0::bigint), (0.50, 1), (9.49, 9), (9.50, 10)$$,
	'1 point per 1.00 USD, half_up: 9.49 earns 9, 9.50 earns 10');
SELECT results_eq(
	$$SELECT a, loyalty.points_for('eu.club_1', a)
		FROM unnest('{2.49, 2.50, 7.49, 7.50, 10.00}'::numeric[]) a$$,
	$$VALUES (2.49::numeric, 0::bigint), (2.50, 3), (7.49, 6), (7.50, 9), (10.00, 12)$$,
	'3 points per 2.50 EUR, floor: 7.49 earns 6, 10.00 earns 12');

-- The bigint limit.
SELECT is(loyalty.points_for('usd', 9223372036854775807), 9223372036854775807::bigint,
	'an amount earning exactly the largest bigint of points is accepted');
SELECT throws_ok(
	$$SELECT loyalty.points_for('usd', 9223372036854775808)$$,
	'22003', 'amount earns more points than a balance can hold',
	'an amount earning one point more than the largest bigint raises 22003');
SELECT throws_ok(
	$$SELECT loyalty.points_for('vn', 1e30)$$,
	'22003', 'amount earns more points than a balance can hold',
	'a huge VND amount whose points exceed bigint raises 22003');

-- Programs side by side stay independent.
SELECT results_eq(
	$$SELECT code, currency::text, earn_points, earn_per, rounding FROM loyalty.program ORDER BY code$$,
	$$VALUES ('eu.club_1', 'EUR', 3::bigint, 2.50::numeric, 'floor'),
			 ('us-web', 'USD', 1, 1.00, 'half_up'),
			 ('usd', 'USD', 1, 1.00, 'floor'),
			 ('vn', 'VND', 10, 100000, 'floor'),
			 ('vn-ceil', 'VND', 10, 100000, 'ceiling'),
			 ('vn-half', 'VND', 10, 100000, 'half_up'),
			 ('vn-prop', 'VND', 10, 100000, 'proportional')$$,
	'seven programs in three currencies live side by side, each with its own rate and rounding');

-- alter_program changes only what is given.

SELECT results_eq(
	$$SELECT code, name, currency::text, earn_points, earn_per, rounding, time_zone,
			 return_days, negative_balance
		FROM loyalty.alter_program('vn', earn_points => 20)$$,
	$$VALUES ('vn', 'VN Retail', 'VND', 20::bigint, 100000::numeric, 'floor', 'UTC', 0, 'debt')$$,
	'alter_program with only earn_points changes earn_points and nothing else');
SELECT is(loyalty.points_for('vn', 250000), 40::bigint,
	'the new rate applies at once: 250,000 VND now earns 40');
SELECT is(loyalty.points_for('vn-half', 250000), 30::bigint,
	'another program with the same old rate is not affected');
SELECT results_eq(
	$$SELECT code, name, currency::text, earn_points, earn_per, rounding, time_zone,
			 return_days, negative_balance
		FROM loyalty.alter_program('vn', name => 'VN Stores', earn_per => 50000,
			rounding => 'ceiling', time_zone => 'Asia/Ho_Chi_Minh', return_days => 14,
			negative_balance => 'forgive')$$,
	$$VALUES ('vn', 'VN Stores', 'VND', 20::bigint, 50000::numeric, 'ceiling',
			  'Asia/Ho_Chi_Minh', 14, 'forgive')$$,
	'alter_program changes several settings at once and keeps the rest (earn_points 20, currency)');
SELECT is(loyalty.points_for('vn', 50001), 40::bigint,
	'the new earn_per and rounding apply: 50,001 VND earns 2 ceiling blocks of 20');
SELECT results_eq(
	$$SELECT code, currency::text FROM loyalty.alter_program('vn-prop', currency => 'usd')$$,
	$$VALUES ('vn-prop', 'USD')$$,
	'the currency of a program without members can change, upper-cased');

-- Currency is frozen once the program has members.
DO $$BEGIN PERFORM loyalty.enroll('vn', 1); END$$;
CREATE TEMP TABLE programs_before AS SELECT * FROM loyalty.program;
SELECT throws_ok(
	$$SELECT loyalty.alter_program('vn', currency => 'USD')$$,
	'55000', 'cannot change the currency of program "vn": it has members',
	'the currency of a program with members cannot change');
SELECT lives_ok(
	$$SELECT loyalty.alter_program('vn', currency => 'vnd', return_days => 7)$$,
	'repeating the current currency (any case) with members is not a change and is accepted');
SELECT results_eq(
	$$SELECT currency::text, return_days FROM loyalty.program WHERE code = 'vn'$$,
	$$VALUES ('VND', 7)$$,
	'after the refused change the currency is still VND; the accepted call changed return_days');
UPDATE programs_before SET return_days = 7, updated_at = now() WHERE code = 'vn';

SELECT throws_ok(
	$$SELECT loyalty.alter_program('nope', earn_points => 5)$$,
	'LY001', 'unknown loyalty program "nope"',
	'alter_program of an unknown program raises LY001');
SELECT throws_ok(
	$$SELECT loyalty.alter_program(NULL, earn_points => 5)$$,
	'22004', 'program must not be null',
	'alter_program of a NULL program raises 22004');
SELECT throws_ok(
	$$SELECT loyalty.alter_program('vn', earn_points => 0)$$,
	'22023', 'earn_points must be positive',
	'alter_program validates settings like create_program: earn_points 0');
SELECT throws_ok(
	$$SELECT loyalty.alter_program('vn', earn_per => 'NaN')$$,
	'22023', 'earn_per must be a positive finite amount',
	'alter_program refuses earn_per NaN');
SELECT throws_ok(
	$$SELECT loyalty.alter_program('vn', rounding => 'bankers')$$,
	'22023', 'unknown rounding rule "bankers"',
	'alter_program refuses an unknown rounding rule');
SELECT throws_ok(
	$$SELECT loyalty.alter_program('vn-half', currency => 'XYZ')$$,
	'22023', 'unknown currency code "XYZ"',
	'alter_program refuses an unknown currency');
SELECT throws_ok(
	$$SELECT loyalty.alter_program('vn', name => '  ')$$,
	'22023', 'program name must not be empty',
	'alter_program refuses a blank name');
SELECT results_eq(
	$$SELECT * FROM loyalty.program ORDER BY program_id$$,
	$$SELECT * FROM programs_before ORDER BY program_id$$,
	'no program changed through the refused alter_program calls');

-- create_program: every validation error, and nothing created.

SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'XYZ', 10, 100000)$$,
	'22023', 'unknown currency code "XYZ"',
	'an unknown currency code is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'dong', 10, 100000)$$,
	'22023', 'unknown currency code "dong"',
	'a currency name instead of an ISO 4217 code is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, 'NaN')$$,
	'22023', 'earn_per must be a positive finite amount',
	'earn_per NaN is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, 'Infinity')$$,
	'22023', 'earn_per must be a positive finite amount',
	'earn_per Infinity is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, '-Infinity')$$,
	'22023', 'earn_per must be a positive finite amount',
	'earn_per -Infinity is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, 0)$$,
	'22023', 'earn_per must be a positive finite amount',
	'earn_per zero is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, -100000)$$,
	'22023', 'earn_per must be a positive finite amount',
	'a negative earn_per is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 0, 100000)$$,
	'22023', 'earn_points must be positive',
	'earn_points zero is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', -10, 100000)$$,
	'22023', 'earn_points must be positive',
	'a negative earn_points is refused');
SELECT results_eq(
	$$SELECT * FROM loyalty.program ORDER BY program_id$$,
	$$SELECT * FROM programs_before ORDER BY program_id$$,
	'no program was created by the refused currencies and rates');

SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, 100000, rounding => 'round')$$,
	'22023', 'unknown rounding rule "round"',
	'an unknown rounding rule is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, 100000, rounding => 'FLOOR')$$,
	'22023', 'unknown rounding rule "FLOOR"',
	'rounding rules are lower case');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, 100000, time_zone => 'Mars/Olympus_Mons')$$,
	'22023', 'unknown time zone "Mars/Olympus_Mons"',
	'an unknown time zone is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, 100000, return_days => -1)$$,
	'22023', 'return_days must be between 0 and 3650',
	'a negative return window is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, 100000, return_days => 3651)$$,
	'22023', 'return_days must be between 0 and 3650',
	'a return window over ten years is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, 100000, negative_balance => 'allow')$$,
	'22023', 'unknown negative balance policy "allow"',
	'an unknown negative balance policy is refused');
SELECT results_eq(
	$$SELECT * FROM loyalty.program ORDER BY program_id$$,
	$$SELECT * FROM programs_before ORDER BY program_id$$,
	'no program was created by the refused rounding, time zone, return window and policy');

SELECT throws_ok(
	$$SELECT loyalty.create_program('Bad Code', 'X', 'VND', 10, 100000)$$,
	'22023', 'invalid program code "Bad Code"',
	'a program code with upper case and a space is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('a;drop table x', 'X', 'VND', 10, 100000)$$,
	'22023', 'invalid program code "a;drop table x"',
	'a program code with SQL punctuation is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('', 'X', 'VND', 10, 100000)$$,
	'22023', 'invalid program code ""',
	'an empty program code is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('-vn', 'X', 'VND', 10, 100000)$$,
	'22023', 'invalid program code "-vn"',
	'a program code must start with a letter or digit');
SELECT throws_ok(
	$$SELECT loyalty.create_program(repeat('a', 64), 'X', 'VND', 10, 100000)$$,
	'22023', 'invalid program code "' || repeat('a', 64) || '"',
	'a program code of 64 characters is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', '', 'VND', 10, 100000)$$,
	'22023', 'program name must not be empty',
	'an empty program name is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('vn', 'Another VN', 'VND', 1, 1000)$$,
	'23505', 'program "vn" already exists',
	'a duplicate program code is refused');
SELECT results_eq(
	$$SELECT * FROM loyalty.program ORDER BY program_id$$,
	$$SELECT * FROM programs_before ORDER BY program_id$$,
	'no program was created or replaced by the refused codes and names');

SELECT throws_ok(
	$$SELECT loyalty.create_program(NULL, 'X', 'VND', 10, 100000)$$,
	'22004', 'program settings must not be null',
	'a NULL code is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', NULL, 'VND', 10, 100000)$$,
	'22004', 'program settings must not be null',
	'a NULL name is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', NULL, 10, 100000)$$,
	'22004', 'program settings must not be null',
	'a NULL currency is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', NULL, 100000)$$,
	'22004', 'program settings must not be null',
	'a NULL earn_points is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, NULL)$$,
	'22004', 'program settings must not be null',
	'a NULL earn_per is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, 100000, rounding => NULL)$$,
	'22004', 'program settings must not be null',
	'an explicit NULL rounding is refused, not taken as the default');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, 100000, time_zone => NULL)$$,
	'22004', 'program settings must not be null',
	'an explicit NULL time zone is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, 100000, return_days => NULL)$$,
	'22004', 'program settings must not be null',
	'an explicit NULL return_days is refused');
SELECT throws_ok(
	$$SELECT loyalty.create_program('x', 'X', 'VND', 10, 100000, negative_balance => NULL)$$,
	'22004', 'program settings must not be null',
	'an explicit NULL negative_balance is refused');
SELECT results_eq(
	$$SELECT * FROM loyalty.program ORDER BY program_id$$,
	$$SELECT * FROM programs_before ORDER BY program_id$$,
	'no program was created by the calls with NULL settings');

-- The limits themselves are accepted.
SELECT results_eq(
	$$SELECT code, return_days FROM loyalty.create_program(repeat('z', 63), 'Long code', 'JPY', 1, 100,
		return_days => 3650)$$,
	$$VALUES (repeat('z', 63), 3650)$$,
	'a 63-character code and a 3650-day return window are accepted');
SELECT is((SELECT count(*) FROM loyalty.program), 8::bigint,
	'eight programs exist: only the valid calls created one');

SELECT * FROM finish();
ROLLBACK;
