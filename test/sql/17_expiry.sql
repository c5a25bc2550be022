\i test/setup.sql
-- Expiry: set_expiry_policy(), the expiry dates new lots get from it in the
-- program's time zone, loyalty.expire() (due lots, idempotence, batches,
-- held points, several programs), inactivity lapses, and due points that
-- expire before any other change to the member, between two runs.
--
-- now() is frozen inside the transaction, and lots are always earned at
-- now(): expected expiry dates are computed here from now() with
-- PostgreSQL's own calendar arithmetic (which cuts the day to the month's
-- end), and expire() runs with explicit as_of values.  Where a scenario
-- needs the past, the test (as superuser) sets account.last_activity_at or
-- lot.expires_at directly, and says so.
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(162);

-- Reference dates, written independently of the C code: points earned now
-- in time zone tz expire ...
-- ... the same local time `months` later, the day cut to the month's end;
CREATE FUNCTION pg_temp.rolling(tz text, months integer) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
	SELECT ((now() AT TIME ZONE tz) + make_interval(months => months)) AT TIME ZONE tz
$$;
-- ... at local midnight starting the month after the one `months` later;
CREATE FUNCTION pg_temp.month_end(tz text, months integer) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
	SELECT (date_trunc('month', (now() AT TIME ZONE tz) + make_interval(months => months))
			+ interval '1 month') AT TIME ZONE tz
$$;
-- ... at local midnight of 1 January after the year `months` later falls in.
CREATE FUNCTION pg_temp.year_end(tz text, months integer) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
	SELECT make_timestamp(extract(year FROM (now() AT TIME ZONE tz)
			+ make_interval(months => months))::integer + 1, 1, 1, 0, 0, 0) AT TIME ZONE tz
$$;
-- The same three counted from a given moment (the end of a return window).
CREATE FUNCTION pg_temp.rolling_from(tz text, at timestamptz, months integer) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
	SELECT ((at AT TIME ZONE tz) + make_interval(months => months)) AT TIME ZONE tz
$$;
CREATE FUNCTION pg_temp.month_end_from(tz text, at timestamptz, months integer) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
	SELECT (date_trunc('month', (at AT TIME ZONE tz) + make_interval(months => months))
			+ interval '1 month') AT TIME ZONE tz
$$;
CREATE FUNCTION pg_temp.year_end_from(tz text, at timestamptz, months integer) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
	SELECT make_timestamp(extract(year FROM (at AT TIME ZONE tz)
			+ make_interval(months => months))::integer + 1, 1, 1, 0, 0, 0) AT TIME ZONE tz
$$;

--
-- set_expiry_policy: every policy is stored; bad input is refused.
--
SELECT code FROM loyalty.create_program('roll', 'Roll', 'VND', 10, 100000, time_zone => 'Asia/Ho_Chi_Minh');
SELECT code FROM loyalty.create_program('hcm-end', 'HCM end', 'VND', 10, 100000, time_zone => 'Asia/Ho_Chi_Minh');
SELECT code FROM loyalty.create_program('ny-end', 'NY end', 'USD', 10, 100, time_zone => 'America/New_York');
SELECT code FROM loyalty.create_program('year', 'Year', 'VND', 10, 100000, time_zone => 'Asia/Ho_Chi_Minh');
SELECT code FROM loyalty.create_program('ny-year', 'NY year', 'USD', 10, 100, time_zone => 'America/New_York');
SELECT code FROM loyalty.create_program('never', 'Never', 'VND', 10, 100000);
SELECT code FROM loyalty.create_program('idle', 'Idle', 'USD', 10, 100, time_zone => 'America/New_York');

SELECT is((SELECT expiry_policy FROM loyalty.program WHERE code = 'never'), 'none',
	'a new program''s points never expire');
SELECT results_eq(
	$$SELECT (p).code, (p).expiry_policy, (p).expiry_months, (p).expiry_month_end FROM (VALUES
		(loyalty.set_expiry_policy('roll', 'rolling', 12)),
		(loyalty.set_expiry_policy('hcm-end', 'rolling', 12, month_end => true)),
		(loyalty.set_expiry_policy('ny-end', 'rolling', 12, true)),
		(loyalty.set_expiry_policy('year', 'end_of_period', 12)),
		(loyalty.set_expiry_policy('ny-year', 'end_of_period', 0)),
		(loyalty.set_expiry_policy('never', 'none')),
		(loyalty.set_expiry_policy('idle', 'inactivity', 6))) AS v(p)$$,
	$$VALUES ('roll', 'rolling', 12, false), ('hcm-end', 'rolling', 12, true),
		('ny-end', 'rolling', 12, true), ('year', 'end_of_period', 12, false),
		('ny-year', 'end_of_period', 0, false), ('never', 'none', NULL, false),
		('idle', 'inactivity', 6, false)$$,
	'set_expiry_policy returns the program with each policy set');
SELECT results_eq(
	$$SELECT code, expiry_policy, expiry_months, expiry_month_end FROM loyalty.program ORDER BY program_id$$,
	$$VALUES ('roll', 'rolling', 12, false), ('hcm-end', 'rolling', 12, true),
		('ny-end', 'rolling', 12, true), ('year', 'end_of_period', 12, false),
		('ny-year', 'end_of_period', 0, false), ('never', 'none', NULL, false),
		('idle', 'inactivity', 6, false)$$,
	'and stores it');

SELECT throws_ok($$SELECT loyalty.set_expiry_policy(NULL, 'none')$$,
	'22004', 'program must not be null', 'a NULL program is refused');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', NULL)$$,
	'22004', 'policy must not be null', 'a NULL policy is refused');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'forever')$$,
	'22023', 'invalid expiry policy: ''forever''', 'an unknown policy is refused');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'Rolling', 12)$$,
	'22023', 'invalid expiry policy: ''Rolling''', 'policy names are lower case');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('nope', 'rolling', 12)$$,
	'LY001', 'unknown loyalty program "nope"', 'an unknown program is LY001');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'none', 12)$$,
	'22023', 'expiry policy none takes no months and no month_end', 'none takes no months');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'none', month_end => true)$$,
	'22023', 'expiry policy none takes no months and no month_end', 'none takes no month_end');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'rolling')$$,
	'22004', 'expiry policy rolling needs months', 'rolling needs months');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'end_of_period')$$,
	'22004', 'expiry policy end_of_period needs months', 'end_of_period needs months');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'inactivity', NULL)$$,
	'22004', 'expiry policy inactivity needs months', 'inactivity needs months');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'rolling', 0)$$,
	'22023', 'expiry months out of range: 0', 'rolling takes at least 1 month');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'rolling', 1201)$$,
	'22023', 'expiry months out of range: 1201', 'rolling takes at most 1200 months');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'end_of_period', -1)$$,
	'22023', 'expiry months out of range: -1', 'end_of_period takes at least 0 months');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'end_of_period', 1201)$$,
	'22023', 'expiry months out of range: 1201', 'end_of_period takes at most 1200 months');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'inactivity', 0)$$,
	'22023', 'expiry months out of range: 0', 'inactivity takes at least 1 month');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'inactivity', 1201)$$,
	'22023', 'expiry months out of range: 1201', 'inactivity takes at most 1200 months');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'end_of_period', 12, true)$$,
	'22023', 'month_end applies only to the rolling policy', 'month_end is refused for end_of_period');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'inactivity', 12, true)$$,
	'22023', 'month_end applies only to the rolling policy', 'month_end is refused for inactivity');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('roll', 'rolling', 12, NULL)$$,
	'22004', 'month_end must not be null', 'a NULL month_end is refused');
SELECT results_eq(
	$$SELECT expiry_policy, expiry_months, expiry_month_end FROM loyalty.program WHERE code = 'roll'$$,
	$$VALUES ('rolling', 12, false)$$, 'refused calls leave the policy as it was');
SELECT lives_ok($$
	SELECT loyalty.set_expiry_policy('roll', 'rolling', 1), loyalty.set_expiry_policy('roll', 'rolling', 1200),
		   loyalty.set_expiry_policy('roll', 'end_of_period', 0), loyalty.set_expiry_policy('roll', 'end_of_period', 1200),
		   loyalty.set_expiry_policy('roll', 'inactivity', 1), loyalty.set_expiry_policy('roll', 'inactivity', 1200)$$,
	'the bounds 1 and 1200 (0 for end_of_period) are accepted');
SELECT expiry_policy FROM loyalty.set_expiry_policy('roll', 'rolling', 12);

--
-- Expiry dates of new lots, in the program's time zone.  Rolled back at the
-- end of the section: some of these lots would be due in the runs below
-- (end_of_period 0 ends this year).
--
SAVEPOINT dates;
CREATE TABLE roll_orders (id text PRIMARY KEY, customer_id bigint, total numeric);
CREATE TABLE ny_orders (LIKE roll_orders INCLUDING ALL);
CREATE TABLE idle_orders (LIKE roll_orders INCLUDING ALL);
SELECT 'tracked' FROM loyalty.track_orders('roll_orders', 'roll', 'customer_id', 'id', 'total');
SELECT 'tracked' FROM loyalty.track_orders('ny_orders', 'ny-end', 'customer_id', 'id', 'total');
SELECT 'tracked' FROM loyalty.track_orders('idle_orders', 'idle', 'customer_id', 'id', 'total');

-- Rolling 12 months, Asia/Ho_Chi_Minh (UTC+7).  The day is cut to the
-- month's end (earned on the 31st into a 30-day month, or on 29 February)
-- whenever this runs on such a day; pg_temp.rolling() follows the same rule.
INSERT INTO roll_orders VALUES ('r1', 1, 100000);
SELECT results_eq(
	$$SELECT points, expires_at FROM loyalty.lot WHERE program_id = loyalty.program_id('roll') AND customer_id = 1$$,
	$$SELECT 10::bigint, pg_temp.rolling('Asia/Ho_Chi_Minh', 12)$$,
	'rolling 12: a single-row INSERT''s lot expires 12 months later in the program''s time zone');
SELECT is((SELECT (expires_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::time FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('roll') AND customer_id = 1),
	(now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::time, 'at the same local time of day');
SELECT is((SELECT expires_at FROM loyalty.ledger WHERE program_id = loyalty.program_id('roll') AND customer_id = 1),
	pg_temp.rolling('Asia/Ho_Chi_Minh', 12), 'the order''s ledger entry carries the same expires_at');
INSERT INTO roll_orders VALUES ('r2', 2, 100000), ('r3', 2, 200000), ('r4', 3, 500000);
SELECT results_eq(
	$$SELECT customer_id, points, expires_at FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('roll') AND customer_id IN (2, 3) ORDER BY customer_id$$,
	$$VALUES (2::bigint, 30::bigint, pg_temp.rolling('Asia/Ho_Chi_Minh', 12)),
		(3, 50, pg_temp.rolling('Asia/Ho_Chi_Minh', 12))$$,
	'a multi-row INSERT: each member''s shared lot gets the same expiry');
SELECT results_eq(
	$$SELECT customer_id, reason, expires_at FROM loyalty.ledger
	   WHERE program_id = loyalty.program_id('roll') AND customer_id IN (2, 3) ORDER BY customer_id$$,
	$$VALUES (2::bigint, 'purchases', pg_temp.rolling('Asia/Ho_Chi_Minh', 12)),
		(3, 'purchase', pg_temp.rolling('Asia/Ho_Chi_Minh', 12))$$,
	'and so do their ledger entries');
SELECT is((loyalty.earn('roll', 1, 7, 'survey')).expires_at, pg_temp.rolling('Asia/Ho_Chi_Minh', 12),
	'earn() without expires_at: the entry gets the policy''s date');
SELECT is((SELECT expires_at FROM loyalty.lot WHERE program_id = loyalty.program_id('roll')
	   AND customer_id = 1 AND points = 7), pg_temp.rolling('Asia/Ho_Chi_Minh', 12), 'and so does its lot');
SELECT is((loyalty.earn('roll', 1, 8, 'promo', expires_at => now() + interval '3 days')).expires_at,
	now() + interval '3 days', 'an explicit earn(expires_at => ...) overrides the policy');
SELECT is((SELECT expires_at FROM loyalty.lot WHERE program_id = loyalty.program_id('roll')
	   AND customer_id = 1 AND points = 8), now() + interval '3 days', 'in the lot too');

-- Rolling 12 to the month's end: local midnight starting the month after.
SELECT customer_id FROM loyalty.enroll('hcm-end', 1);
SELECT is((loyalty.earn('hcm-end', 1, 10)).expires_at, pg_temp.month_end('Asia/Ho_Chi_Minh', 12),
	'rolling 12 with month_end: midnight starting the month after, Asia/Ho_Chi_Minh');
SELECT results_eq(
	$$SELECT to_char(expires_at AT TIME ZONE 'UTC', 'HH24:MI:SS'),
			 extract(day FROM (expires_at AT TIME ZONE 'UTC') + interval '1 day')::integer
		FROM loyalty.lot WHERE program_id = loyalty.program_id('hcm-end')$$,
	$$VALUES ('17:00:00', 1)$$,
	'which is 17:00 UTC on the last day of the month before (UTC+7)');
INSERT INTO ny_orders VALUES ('n1', 1, 100);
SELECT is((SELECT expires_at FROM loyalty.lot WHERE program_id = loyalty.program_id('ny-end')),
	pg_temp.month_end('America/New_York', 12),
	'an order''s lot under month_end in America/New_York');
SELECT results_eq(
	$$SELECT (expires_at AT TIME ZONE 'America/New_York')::time,
			 extract(hour FROM expires_at AT TIME ZONE 'UTC')::integer
		FROM loyalty.lot WHERE program_id = loyalty.program_id('ny-end')$$,
	$$SELECT '00:00'::time, CASE WHEN extract(month FROM pg_temp.month_end('America/New_York', 12)
			AT TIME ZONE 'America/New_York') IN (12, 1, 2, 3) THEN 5 ELSE 4 END$$,
	'local midnight: 05:00 UTC in winter (EST), 04:00 UTC in summer (EDT)');

-- End of period: 1 January 00:00 local after the year earned_at + months falls in.
SELECT customer_id FROM loyalty.enroll('year', 1);
SELECT customer_id FROM loyalty.enroll('ny-year', 1);
SELECT is((loyalty.earn('year', 1, 10)).expires_at, pg_temp.year_end('Asia/Ho_Chi_Minh', 12),
	'end_of_period 12: the end of 31 December of the year after earning, Asia/Ho_Chi_Minh');
SELECT is((SELECT to_char(expires_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI') FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('year')), '12-31 17:00', 'which is 31 December 17:00 UTC');
SELECT is((loyalty.earn('ny-year', 1, 10)).expires_at, pg_temp.year_end('America/New_York', 0),
	'end_of_period 0: the end of this year, America/New_York');
SELECT is((SELECT to_char(expires_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI') FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('ny-year')), '01-01 05:00', 'which is 1 January 05:00 UTC');

-- none and inactivity: no date.
SELECT customer_id FROM loyalty.enroll('never', 1);
SELECT is((loyalty.earn('never', 1, 10)).expires_at, NULL, 'none: points never expire by date');
INSERT INTO idle_orders VALUES ('i0', 1, 100);
SELECT is((SELECT expires_at FROM loyalty.lot WHERE program_id = loyalty.program_id('idle')), NULL,
	'inactivity: an order''s points have no expiry date either');

-- A new policy applies to later earnings only.
SELECT expiry_policy FROM loyalty.set_expiry_policy('roll', 'none');
INSERT INTO roll_orders VALUES ('r5', 1, 100000);
SELECT results_eq(
	$$SELECT order_key, expires_at FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('roll') AND order_key IN ('r1', 'r5') ORDER BY order_key$$,
	$$VALUES ('r1', pg_temp.rolling('Asia/Ho_Chi_Minh', 12)), ('r5', NULL)$$,
	'after switching to none, earlier lots keep their date and new ones have none');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify: no problem after the earnings');
ROLLBACK TO SAVEPOINT dates;

--
-- The return window: points that wait for it start their expiry clock when
-- they become available (available_at), on every path that writes such a
-- lot: a single-row INSERT, a multi-row INSERT (one lot per member and
-- moment), a raised order amount, earn(pending_until => ...).  Points
-- available at once keep the date counted from now.  Rolled back at the end
-- of the section: its expire() runs see only its own lots.
--
SAVEPOINT window_dates;
-- Rolling 1 month with a 30-day return window: without the rule, points
-- would expire as they became spendable, or before.
SELECT code FROM loyalty.create_program('rw', 'Return window', 'VND', 1, 1,
	time_zone => 'Asia/Ho_Chi_Minh', return_days => 30);
SELECT expiry_policy FROM loyalty.set_expiry_policy('rw', 'rolling', 1);
CREATE TABLE rw_orders (id text PRIMARY KEY, customer_id bigint, total numeric, ordered_at timestamptz);
SELECT 'tracked' FROM loyalty.track_orders('rw_orders', 'rw', 'customer_id', 'id', 'total',
	ordered_at_column => 'ordered_at');
CREATE TEMP TABLE rw AS SELECT now() + interval '30 days' AS released,
	pg_temp.rolling_from('Asia/Ho_Chi_Minh', now() + interval '30 days', 1) AS expires;

INSERT INTO rw_orders VALUES ('a1', 1, 100, NULL);
SELECT results_eq(
	$$SELECT points, pending, available_at, expires_at FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('rw') AND customer_id = 1$$,
	$$SELECT 100::bigint, true, released, expires FROM rw$$,
	'rolling 1 + 30 return days: the lot earned now expires 1 month after now + 30 days');
SELECT ok((SELECT expires_at >= now() + interval '58 days' FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('rw') AND customer_id = 1),
	'which is at least 58 days from now, not 1 month');
SELECT is((SELECT expires_at FROM loyalty.ledger WHERE program_id = loyalty.program_id('rw') AND customer_id = 1),
	(SELECT expires FROM rw), 'the earn ledger entry shows the same date as the lot');
SELECT is_empty($$SELECT * FROM loyalty.expiring_points('rw', 1, within => '30 days')$$,
	'expiring_points: nothing expires within 30 days');
SELECT results_eq($$SELECT * FROM loyalty.expiring_points('rw', 1, within => '5 days',
		as_of => (SELECT expires FROM rw) - interval '5 days')$$,
	$$SELECT 'rw'::text, 1::bigint, expires, 100::bigint FROM rw$$,
	'5 days before the date it lists the 100 points at that date');
SELECT results_eq(
	$$SELECT pending, expiring_30d, next_expiry_at FROM loyalty.member_summary WHERE program = 'rw'$$,
	$$SELECT 100::bigint, 0::bigint, expires FROM rw$$,
	'member_summary: 100 pending, none expiring within 30 days, the next expiry at the new date');
SELECT results_eq(
	$$SELECT outstanding, pending, within_30d, within_90d FROM loyalty.liability WHERE program = 'rw'$$,
	$$VALUES (100::bigint, 100::bigint, 0::bigint, 100::bigint)$$,
	'liability: the pending points fall due in 31 to 90 days, not within 30');
SELECT results_eq($$SELECT * FROM loyalty.expire(now() + interval '31 days')$$,
	$$VALUES (0::bigint, 0::bigint, 0::bigint)$$,
	'expire() as of now + 31 days takes nothing');
SELECT results_eq($$SELECT pending, remaining FROM loyalty.lot WHERE program_id = loyalty.program_id('rw')$$,
	$$VALUES (true, 100::bigint)$$, 'the lot keeps its 100 points (expire() releases only the lots it expires)');
SELECT results_eq($$SELECT * FROM loyalty.expire((SELECT expires FROM rw) - interval '1 microsecond')$$,
	$$VALUES (0::bigint, 0::bigint, 0::bigint)$$, 'as of 1 microsecond before its date: nothing');
SELECT results_eq($$SELECT * FROM loyalty.expire((SELECT expires FROM rw) + interval '1 second')$$,
	$$VALUES (1::bigint, 1::bigint, 100::bigint)$$,
	'as of now + 30 days + 1 month + 1 second expire() takes the 100 points');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify: no problem after the release and expiry');

-- Available at once (the window passed before the order was recorded; an
-- earning without pending_until): the date counted from now, as before.
INSERT INTO rw_orders VALUES ('a2', 2, 40, now() - interval '31 days');
SELECT results_eq(
	$$SELECT pending, available_at, expires_at FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('rw') AND customer_id = 2$$,
	$$VALUES (false, NULL::timestamptz, pg_temp.rolling('Asia/Ho_Chi_Minh', 1))$$,
	'an order whose window has passed: available at once, 1 month from now');
SELECT is((loyalty.earn('rw', 2, 7, 'survey')).expires_at, pg_temp.rolling('Asia/Ho_Chi_Minh', 1),
	'earn() without pending_until: 1 month from now');

-- earn(pending_until => ...): the same rule.
SELECT customer_id FROM loyalty.enroll('rw', 5);
SELECT is((loyalty.earn('rw', 5, 9, 'welcome', pending_until => now() + interval '30 days')).expires_at,
	(SELECT expires FROM rw), 'earn(pending_until => now + 30 days): 1 month after the release');
SELECT results_eq(
	$$SELECT pending, available_at, expires_at FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('rw') AND customer_id = 5$$,
	$$SELECT true, released, expires FROM rw$$, 'and so does its lot');

-- The bulk path (one INSERT ... SELECT of several orders of one member)
-- gives the dates one INSERT per order gives: two orders with the same
-- release share a lot and its date; an order 10 days old is released 10
-- days earlier; one 40 days old is available at once.
INSERT INTO rw_orders
SELECT 'b' || i, 3, 10 * i, at FROM (VALUES (1, NULL::timestamptz), (2, NULL), (3, now() - interval '10 days'),
	(4, now() - interval '40 days')) AS o(i, at);
INSERT INTO rw_orders VALUES ('c1', 4, 10, NULL);
INSERT INTO rw_orders VALUES ('c2', 4, 20, NULL);
INSERT INTO rw_orders VALUES ('c3', 4, 30, now() - interval '10 days');
INSERT INTO rw_orders VALUES ('c4', 4, 40, now() - interval '40 days');
SELECT results_eq(
	$$SELECT count(*)::integer, sum(points)::bigint, pending, available_at, expires_at FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('rw') AND customer_id = 3
	   GROUP BY pending, available_at, expires_at ORDER BY expires_at$$,
	$$VALUES (1, 40::bigint, false, NULL::timestamptz, pg_temp.rolling('Asia/Ho_Chi_Minh', 1)),
		(1, 30, true, now() + interval '20 days',
		 pg_temp.rolling_from('Asia/Ho_Chi_Minh', now() + interval '20 days', 1)),
		(1, 30, true, now() + interval '30 days', (SELECT expires FROM rw))$$,
	'a multi-row INSERT: one lot per release moment, each with 1 month after its release');
SELECT results_eq(
	$$SELECT sum(points)::bigint, pending, available_at, expires_at FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('rw') AND customer_id = 4
	   GROUP BY pending, available_at, expires_at ORDER BY expires_at$$,
	$$SELECT sum(points)::bigint, pending, available_at, expires_at FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('rw') AND customer_id = 3
	   GROUP BY pending, available_at, expires_at ORDER BY expires_at$$,
	'one INSERT per order gives the same dates and points');

-- A raised amount while the order waits for its window: the extra points'
-- lot has the order's release and date.
UPDATE rw_orders SET total = 25 WHERE id = 'c1';
SELECT results_eq(
	$$SELECT points, pending, available_at, expires_at FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('rw') AND customer_id = 4 AND available_at = now() + interval '30 days'
	   ORDER BY lot_no$$,
	$$SELECT * FROM (VALUES (10::bigint), (20), (15)) AS p(points), LATERAL (SELECT true, released, expires FROM rw) r$$,
	'a raised amount: the extra 15 points expire with the order''s own lot');

-- Rolling 1 month to the month's end, and end of period 0, in New York.
SELECT code FROM loyalty.create_program('rw-end', 'Return window, month end', 'VND', 1, 1,
	time_zone => 'Asia/Ho_Chi_Minh', return_days => 30);
SELECT expiry_policy FROM loyalty.set_expiry_policy('rw-end', 'rolling', 1, month_end => true);
CREATE TABLE rw_end_orders (LIKE rw_orders INCLUDING ALL);
SELECT 'tracked' FROM loyalty.track_orders('rw_end_orders', 'rw-end', 'customer_id', 'id', 'total',
	ordered_at_column => 'ordered_at');
SELECT code FROM loyalty.create_program('rw-year', 'Return window, year end', 'USD', 1, 1,
	time_zone => 'America/New_York', return_days => 30);
SELECT expiry_policy FROM loyalty.set_expiry_policy('rw-year', 'end_of_period', 0);
CREATE TABLE rw_year_orders (LIKE rw_orders INCLUDING ALL);
SELECT 'tracked' FROM loyalty.track_orders('rw_year_orders', 'rw-year', 'customer_id', 'id', 'total',
	ordered_at_column => 'ordered_at');
-- Order times in the future are taken as given: fixed calendar dates.
INSERT INTO rw_end_orders VALUES ('e1', 1, 10, NULL), ('e2', 2, 10, '2099-01-15 12:00:00+07');
INSERT INTO rw_end_orders VALUES ('e3', 3, 10, '2099-01-15 12:00:00+07');
SELECT results_eq(
	$$SELECT customer_id, available_at, expires_at FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('rw-end') ORDER BY customer_id$$,
	$$VALUES (1::bigint, now() + interval '30 days',
			  pg_temp.month_end_from('Asia/Ho_Chi_Minh', now() + interval '30 days', 1)),
		(2, '2099-02-14 12:00:00+07', '2099-04-01 00:00:00+07'),
		(3, '2099-02-14 12:00:00+07', '2099-04-01 00:00:00+07')$$,
	'rolling 1 with month_end: the end of the month after the release (ordered 15 January, released 14 February: 31 March)');
INSERT INTO rw_year_orders VALUES ('y1', 1, 10, NULL), ('y2', 2, 10, '2099-12-20 10:00:00 America/New_York');
INSERT INTO rw_year_orders VALUES ('y3', 3, 10, '2099-12-20 10:00:00 America/New_York');
SELECT results_eq(
	$$SELECT customer_id, available_at, expires_at FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('rw-year') ORDER BY customer_id$$,
	$$VALUES (1::bigint, now() + interval '30 days',
			  pg_temp.year_end_from('America/New_York', now() + interval '30 days', 0)),
		(2, '2100-01-19 10:00:00 America/New_York', '2101-01-01 00:00:00 America/New_York'),
		(3, '2100-01-19 10:00:00 America/New_York', '2101-01-01 00:00:00 America/New_York')$$,
	'end of period 0: ordered 20 December, released in January, the points last until the end of January''s year');
SELECT is_empty(
	$$SELECT l.customer_id, l.program_id, l.lot_no FROM loyalty.lot l
	   LEFT JOIN loyalty.ledger e ON e.customer_id = l.customer_id AND e.program_id = l.program_id
		AND e.entry_no = l.lot_no AND e.kind = 'earn'
	   WHERE e.expires_at IS DISTINCT FROM l.expires_at$$,
	'every lot''s earn ledger entry shows the lot''s expires_at');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify: no problem after the return-window earnings');
ROLLBACK TO SAVEPOINT window_dates;

--
-- expire(as_of): exactly the due lots, one entry per member, idempotent.
-- T is now() + 10 days.
--
SELECT code FROM loyalty.create_program('exp', 'Exp', 'VND', 1, 1);
SELECT code FROM loyalty.create_program('exp2', 'Exp 2', 'VND', 1, 1);
SELECT expiry_policy FROM loyalty.set_expiry_policy('exp', 'rolling', 12);
SELECT count(loyalty.enroll('exp', c)) FROM generate_series(1, 3) c;
SELECT customer_id FROM loyalty.enroll('exp2', 1);
-- Member 1: two lots due at T; 1 microsecond after T; in 12 months.
SELECT entry_no FROM loyalty.earn('exp', 1, 10, 'a', expires_at => now() + interval '10 days');
SELECT entry_no FROM loyalty.earn('exp', 1, 100, 'b', expires_at => now() + interval '10 days');
SELECT entry_no FROM loyalty.earn('exp', 1, 60, 'c', expires_at => now() + interval '10 days 1 microsecond');
SELECT entry_no FROM loyalty.earn('exp', 1, 40, 'd');
-- Member 2: a spent lot due before T, a partly spent one due at T.
SELECT entry_no FROM loyalty.earn('exp', 2, 80, 'a', expires_at => now() + interval '10 days');
SELECT entry_no FROM loyalty.earn('exp', 2, 20, 'b', expires_at => now() + interval '9 days');
SELECT entry_no FROM loyalty.redeem('exp', 2, 30);
-- Member 3: held until T - 1 day, due at T.
SELECT entry_no FROM loyalty.earn('exp', 3, 50, 'held', pending_until => now() + interval '9 days',
	expires_at => now() + interval '10 days');
-- Member 1 in a second program, due at T.
SELECT entry_no FROM loyalty.earn('exp2', 1, 25, 'a', expires_at => now() + interval '10 days');
SELECT results_eq(
	$$SELECT customer_id, lot_no, remaining FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('exp') ORDER BY 1, 2$$,
	$$VALUES (1::bigint, 1::bigint, 10::bigint), (1, 2, 100), (1, 3, 60), (1, 4, 40),
		(2, 1, 70), (2, 2, 0), (3, 1, 50)$$,
	'before expiry: the redemption spent member 2''s earliest-expiring lot, then 10 of the next');

CREATE TEMP TABLE before_run AS SELECT count(*) AS entries FROM loyalty.ledger;
SELECT results_eq($$SELECT * FROM loyalty.expire(now() + interval '10 days' - interval '1 microsecond')$$,
	$$VALUES (0::bigint, 0::bigint, 0::bigint)$$,
	'1 microsecond before T nothing is due, and nothing is released either');
SELECT is((SELECT count(*) FROM loyalty.ledger), (SELECT entries FROM before_run),
	'and nothing is written');

SELECT results_eq($$SELECT * FROM loyalty.expire(now() + interval '10 days')$$,
	$$VALUES (4::bigint, 5::bigint, 255::bigint)$$,
	'at T: 4 member accounts, 5 lots, 110 + 70 + 50 + 25 points');
SELECT results_eq(
	$$SELECT customer_id, lot_no, remaining FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('exp') ORDER BY 1, 2$$,
	$$VALUES (1::bigint, 1::bigint, 0::bigint), (1, 2, 0), (1, 3, 60), (1, 4, 40),
		(2, 1, 0), (2, 2, 0), (3, 1, 0)$$,
	'exactly the due lots are empty; the lot due 1 microsecond after T and the 12-month one stay');
SELECT results_eq(
	$$SELECT kind, points, pending_points, available_after, pending_after, reason, reference, actor,
			 detail - 'as_of', (detail->>'as_of')::timestamptz
		FROM loyalty.statement('exp', 1) WHERE kind = 'expire'$$,
	$$VALUES ('expire', -110::bigint, 0::bigint, 100::bigint, 0::bigint, 'points expired',
		format('expiry as of %s', now() + interval '10 days'), 'loyalty.expire',
		'{"lots": 2, "policy": "expiry date"}'::jsonb, now() + interval '10 days')$$,
	'member 1: one expire entry for both due lots, with reason, reference, actor and detail');
SELECT is((SELECT ARRAY[db_role, (detail->'as_of')::text] FROM loyalty.ledger
			WHERE program_id = loyalty.program_id('exp') AND customer_id = 1 AND kind = 'expire'),
	ARRAY[session_user::text, to_jsonb(now() + interval '10 days')::text],
	'member 1: the expire entry records the session role, and as_of as to_jsonb() writes it');
SELECT results_eq($$SELECT kind, points, available_after FROM loyalty.statement('exp', 2) ORDER BY entry_no DESC LIMIT 1$$,
	$$VALUES ('expire', -70::bigint, 0::bigint)$$,
	'member 2: the partly spent lot loses only its remaining 70; the spent lot is not counted');
SELECT results_eq(
	$$SELECT kind, points, pending_points, available_after, pending_after, reason, actor
		FROM loyalty.statement('exp', 3) ORDER BY entry_no$$,
	$$VALUES ('earn', 0::bigint, 50::bigint, 0::bigint, 50::bigint, 'held', 'postgres'),
		('release', 50, -50, 50, 0, 'return window passed', 'loyalty.expire'),
		('expire', -50, 0, 0, 0, 'points expired', 'loyalty.expire')$$,
	'member 3: points held past their return window are released, then expire');
SELECT results_eq($$SELECT kind, points, detail->'lots' FROM loyalty.statement('exp2', 1) WHERE kind = 'expire'$$,
	$$VALUES ('expire', -25::bigint, '1'::jsonb)$$,
	'the same customer in a second program: an entry of its own there');
SELECT results_eq(
	$$SELECT customer_id, available, pending, lifetime_earned, lifetime_redeemed, lifetime_expired
		FROM loyalty.account WHERE program_id = loyalty.program_id('exp') ORDER BY 1$$,
	$$VALUES (1::bigint, 100::bigint, 0::bigint, 210::bigint, 0::bigint, 110::bigint),
		(2, 0, 0, 100, 30, 70), (3, 0, 0, 50, 0, 50)$$,
	'the balances and lifetime_expired');
SELECT results_eq($$SELECT available, lifetime_expired FROM loyalty.balance('exp2', 1)$$,
	$$VALUES (0::bigint, 25::bigint)$$, 'balance() in the second program');
SELECT is((SELECT count(*) FROM loyalty.ledger WHERE kind = 'expire')::integer, 4,
	'one expire entry per member account and run');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify: no problem after the run');

DELETE FROM before_run;
INSERT INTO before_run SELECT count(*) FROM loyalty.ledger;
CREATE TEMP TABLE lots_before AS SELECT customer_id, program_id, lot_no, remaining, pending FROM loyalty.lot;
SELECT results_eq($$SELECT * FROM loyalty.expire(now() + interval '10 days')$$,
	$$VALUES (0::bigint, 0::bigint, 0::bigint)$$, 'a second run as of T finds nothing');
SELECT is((SELECT count(*) FROM loyalty.ledger), (SELECT entries FROM before_run), 'and writes no entry');
SELECT set_eq($$SELECT customer_id, program_id, lot_no, remaining, pending FROM loyalty.lot$$,
	$$SELECT * FROM lots_before$$, 'and changes no lot');

SELECT results_eq($$SELECT * FROM loyalty.expire(now() + interval '10 days 1 microsecond')$$,
	$$VALUES (1::bigint, 1::bigint, 60::bigint)$$, '1 microsecond after T the next lot is due');
SELECT results_eq($$SELECT available, lifetime_expired FROM loyalty.balance('exp', 1)$$,
	$$VALUES (40::bigint, 170::bigint)$$, 'member 1 keeps the 12-month lot');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify: no problem after the second run');

-- Points held longer than the expiry period: their clock starts at the
-- release, and nothing touches them while they are held.
SELECT code FROM loyalty.create_program('short', 'Short', 'VND', 1, 1);
SELECT expiry_policy FROM loyalty.set_expiry_policy('short', 'rolling', 1);
SELECT customer_id FROM loyalty.enroll('short', 1);
SELECT is((loyalty.earn('short', 1, 30, 'held', pending_until => now() + interval '90 days')).expires_at,
	pg_temp.rolling_from('UTC', now() + interval '90 days', 1),
	'a held earning expires by the policy counted from its release: 1 month after the 90 days');
SELECT results_eq($$SELECT * FROM loyalty.expire(now() + interval '45 days')$$,
	$$VALUES (0::bigint, 0::bigint, 0::bigint)$$, 'expire() as of a moment in its hold takes nothing');
SELECT results_eq($$SELECT remaining, pending FROM loyalty.lot WHERE program_id = loyalty.program_id('short')$$,
	$$VALUES (30::bigint, true)$$, 'the held lot is untouched');

--
-- max_members and batch_members.
--
SELECT throws_ok($$SELECT loyalty.expire(NULL)$$, '22004', 'as_of must not be null', 'as_of NULL is refused');
SELECT throws_ok($$SELECT loyalty.expire('infinity')$$, '22008', 'as_of must be a finite time',
	'as_of infinity is refused');
SELECT throws_ok($$SELECT loyalty.expire('-infinity')$$, '22008', 'as_of must be a finite time',
	'as_of -infinity is refused');
SELECT throws_ok($$SELECT loyalty.expire(now(), 0)$$, '22023', 'max_members must be positive',
	'max_members 0 is refused');
SELECT throws_ok($$SELECT loyalty.expire(now(), -1)$$, '22023', 'max_members must be positive',
	'a negative max_members is refused');
SELECT throws_ok($$SELECT loyalty.expire(now(), batch_members => 0)$$, '22023',
	'batch_members must be between 1 and 100000', 'batch_members 0 is refused');
SELECT throws_ok($$SELECT loyalty.expire(now(), batch_members => 100001)$$, '22023',
	'batch_members must be between 1 and 100000', 'batch_members 100001 is refused');
SELECT throws_ok($$SELECT loyalty.expire(now(), batch_members => NULL)$$, '22023',
	'batch_members must be between 1 and 100000', 'batch_members NULL is refused');
SELECT results_eq($$SELECT * FROM loyalty.expire(now(), 1, 1) UNION ALL SELECT * FROM loyalty.expire(now(), NULL, 100000)$$,
	$$VALUES (0::bigint, 0::bigint, 0::bigint), (0, 0, 0)$$,
	'max_members 1 and batch_members 1 and 100000 are accepted');

SELECT count(loyalty.enroll('exp', c)) FROM generate_series(11, 13) c;
SELECT count(loyalty.earn('exp', c, 5, 'b', expires_at => now() + interval '20 days')) FROM generate_series(11, 13) c;
SELECT results_eq($$SELECT * FROM loyalty.expire(now() + interval '20 days', max_members => 1)$$,
	$$VALUES (1::bigint, 1::bigint, 5::bigint)$$, 'max_members => 1 takes one member');
SELECT is((SELECT array_agg(customer_id ORDER BY customer_id) FROM loyalty.ledger WHERE kind = 'expire'
	   AND customer_id > 10), ARRAY[11::bigint], 'the first in key order');
SELECT results_eq($$SELECT * FROM loyalty.expire(now() + interval '20 days', max_members => 1)$$,
	$$VALUES (1::bigint, 1::bigint, 5::bigint)$$, 'the next call takes one more');
SELECT is((SELECT array_agg(customer_id ORDER BY customer_id) FROM loyalty.ledger WHERE kind = 'expire'
	   AND customer_id > 10), ARRAY[11::bigint, 12], 'the next one');
SELECT count(loyalty.enroll('exp', c)) FROM generate_series(21, 23) c;
SELECT count(loyalty.earn('exp', c, 7, 'b', expires_at => now() + interval '30 days')) FROM generate_series(21, 23) c;
SELECT results_eq($$SELECT * FROM loyalty.expire(now() + interval '30 days', batch_members => 1)$$,
	$$VALUES (4::bigint, 4::bigint, 26::bigint)$$,
	'batches of one member: the rest of them in one call (13, 21, 22, 23)');
SELECT is((SELECT count(*) FROM loyalty.ledger WHERE kind = 'expire' AND customer_id > 10)::integer, 6,
	'one entry each, none twice');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify: no problem after the batches');

--
-- Between runs: a redemption cannot spend points whose date has come.
--
SELECT customer_id FROM loyalty.enroll('exp', 41);
SELECT entry_no FROM loyalty.earn('exp', 41, 30, 'soon', expires_at => now() + interval '1 day');
SELECT entry_no FROM loyalty.earn('exp', 41, 50, 'later', expires_at => now() + interval '5 years');
-- Staged: the 30 points' moment has come, and expire() has not run since.
UPDATE loyalty.lot SET expires_at = now() WHERE customer_id = 41 AND lot_no = 1;
SELECT results_eq($$SELECT available, lifetime_expired FROM loyalty.balance('exp', 41)$$,
	$$VALUES (50::bigint, 30::bigint)$$, 'balance() already reports the due points as expired');
SELECT is((SELECT available FROM loyalty.account WHERE customer_id = 41), 80::bigint,
	'while the stored balance still holds them');
SELECT throws_ok($$SELECT loyalty.redeem('exp', 41, 60)$$, 'LY004',
	'insufficient points: 50 available, 60 requested', 'a redemption cannot spend them');
SELECT is((loyalty.redeem('exp', 41, 50)).available_after, 0::bigint, 'it can spend the other 50');
SELECT results_eq(
	$$SELECT kind, points, available_after, reason, actor, detail - 'as_of' FROM loyalty.statement('exp', 41)$$,
	$$VALUES ('earn', 30::bigint, 30::bigint, 'soon', 'postgres', NULL::jsonb),
		('earn', 50, 80, 'later', 'postgres', NULL),
		('expire', -30, 50, 'points expired', 'loyalty (before a change)', '{"lots": 1, "policy": "expiry date"}'),
		('redeem', -50, 0, 'redemption', 'postgres', NULL)$$,
	'inside the redemption the due points expire first, in an entry of their own');
SELECT results_eq($$SELECT remaining FROM loyalty.lot WHERE customer_id = 41 ORDER BY lot_no$$,
	$$VALUES (0::bigint), (0)$$, 'the redemption took the 50 from the later lot');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify: no problem after the redemption');

--
-- Inactivity (idle: 6 months, America/New_York).
--
CREATE TABLE idle_orders (id text PRIMARY KEY, customer_id bigint, total numeric);
SELECT 'tracked' FROM loyalty.track_orders('idle_orders', 'idle', 'customer_id', 'id', 'total');
SELECT count(loyalty.enroll('idle', c)) FROM generate_series(31, 38) c;
SELECT count(loyalty.earn('idle', c, 100, 'welcome')) FROM generate_series(31, 38) c;
-- Staged: the last activity of 31, 35, 36 and 37 was 7 months ago, of 32,
-- 33 and 34 5 months ago, of 38 on 31 August 2025 at 10:00 New York time.
UPDATE loyalty.account SET last_activity_at = now() - interval '7 months'
 WHERE program_id = loyalty.program_id('idle') AND customer_id IN (31, 35, 36, 37);
UPDATE loyalty.account SET last_activity_at = now() - interval '5 months'
 WHERE program_id = loyalty.program_id('idle') AND customer_id IN (32, 33, 34);
UPDATE loyalty.account SET last_activity_at = '2025-08-31 10:00:00 America/New_York'
 WHERE program_id = loyalty.program_id('idle') AND customer_id = 38;

-- The lapse: last activity + 6 months in the program's time zone, the day
-- cut to the month's end, at the same local time (across a DST change).
SELECT is(loyalty.inactivity_lapse(p, '2025-08-31 10:00:00-04'), '2026-02-28 15:00:00+00'::timestamptz,
	'31 August 10:00 EDT + 6 months lapses on 28 February 10:00 EST')
  FROM loyalty.program p WHERE code = 'idle';
SELECT is(loyalty.inactivity_lapse(p, '2023-08-31 23:30:00-04'), '2024-03-01 04:30:00+00'::timestamptz,
	'31 August 23:30 + 6 months is 29 February 23:30 in a leap year (1 March in UTC)')
  FROM loyalty.program p WHERE code = 'idle';
SELECT is(loyalty.inactivity_lapse(jsonb_populate_record(p, '{"expiry_months": 12}'), '2024-02-29 09:00:00-05'),
	'2025-02-28 14:00:00+00'::timestamptz, 'with 12 months, 29 February lapses on 28 February')
  FROM loyalty.program p WHERE code = 'idle';
SELECT is(loyalty.inactivity_lapse(p, NULL), NULL, 'no activity yet: no lapse')
  FROM loyalty.program p WHERE code = 'idle';
SELECT is(loyalty.inactivity_lapse(p, now()), NULL, 'no lapse under another policy')
  FROM loyalty.program p WHERE code = 'exp';

SELECT results_eq($$SELECT available, lifetime_expired FROM loyalty.balance('idle', 31)$$,
	$$VALUES (0::bigint, 100::bigint)$$, 'balance(): 7 months without activity, the points show as lapsed');
SELECT is((SELECT available FROM loyalty.account WHERE program_id = loyalty.program_id('idle') AND customer_id = 31),
	100::bigint, 'before expire() has run');
SELECT results_eq($$SELECT available, lifetime_expired FROM loyalty.balance('idle', 32)$$,
	$$VALUES (100::bigint, 0::bigint)$$, '5 months without activity: the points are still there');

-- A redemption after the lapse finds nothing to spend: the lapse comes first.
SELECT throws_ok($$SELECT loyalty.redeem('idle', 35, 10)$$, 'LY004',
	'insufficient points: 0 available, 10 requested', 'a redemption after the lapse sees 0 available');
SELECT is((SELECT count(*) FROM loyalty.ledger WHERE program_id = loyalty.program_id('idle') AND customer_id = 35)::integer,
	1, 'the refused redemption rolls back with its lapse entry');
SELECT is((loyalty.earn('idle', 35, 15, 'survey')).available_after, 15::bigint,
	'an earning after the lapse starts from 0');
SELECT is((loyalty.redeem('idle', 35, 10)).available_after, 5::bigint, 'and can be spent');
SELECT results_eq(
	$$SELECT kind, points, available_after, reason, actor, detail - 'as_of' FROM loyalty.statement('idle', 35)$$,
	$$VALUES ('earn', 100::bigint, 100::bigint, 'welcome', 'postgres', NULL::jsonb),
		('expire', -100, 0, 'no activity', 'loyalty (before a change)', '{"lots": 1, "policy": "inactivity"}'),
		('earn', 15, 15, 'survey', 'postgres', NULL),
		('redeem', -10, 5, 'redemption', 'postgres', NULL)$$,
	'the lapse is written before the earning that follows it');

-- A new order for a lapsed member expires the old points first; it does not revive them.
INSERT INTO idle_orders VALUES ('i36', 36, 250);
SELECT results_eq(
	$$SELECT kind, points, available_after, reason, actor FROM loyalty.statement('idle', 36)$$,
	$$VALUES ('earn', 100::bigint, 100::bigint, 'welcome', 'postgres'),
		('expire', -100, 0, 'no activity', 'public.idle_orders'),
		('earn', 20, 20, 'purchase', 'public.idle_orders')$$,
	'a lapsed member''s order: expire, then earn');
SELECT results_eq($$SELECT available, lifetime_expired FROM loyalty.balance('idle', 36)$$,
	$$VALUES (20::bigint, 100::bigint)$$, 'only the new points are available');
INSERT INTO idle_orders VALUES ('i37a', 37, 100), ('i37b', 37, 300);
SELECT results_eq(
	$$SELECT kind, points, reason FROM loyalty.statement('idle', 37) WHERE entry_no <= 2$$,
	$$VALUES ('earn', 100::bigint, 'welcome'), ('expire', -100, 'no activity')$$,
	'a multi-row INSERT for a lapsed member: the lapse comes first too');
SELECT results_eq($$SELECT available, lifetime_earned, lifetime_expired FROM loyalty.balance('idle', 37)$$,
	$$VALUES (40::bigint, 140::bigint, 100::bigint)$$, 'and only the 40 new points are available');

-- A redemption or an order counts as activity.
SELECT is((loyalty.redeem('idle', 33, 10)).available_after, 90::bigint, 'member 33 redeems now');
INSERT INTO idle_orders VALUES ('i34', 34, 100);
SELECT results_eq(
	$$SELECT customer_id, last_activity_at FROM loyalty.account
	   WHERE program_id = loyalty.program_id('idle') AND customer_id IN (33, 34) ORDER BY 1$$,
	$$VALUES (33::bigint, now()), (34, now())$$, 'the redemption and the order are their last activity');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify: no problem before the inactivity run');

-- The lapse moment itself, on fixed dates: 38 lapsed on 28 February 2026 at
-- 10:00 New York time (15:00 UTC), not a microsecond earlier; nobody else
-- had lapsed by then.
SELECT results_eq($$SELECT * FROM loyalty.expire('2026-02-28 14:59:59.999999+00')$$,
	$$VALUES (0::bigint, 0::bigint, 0::bigint)$$, 'as of 1 microsecond before the lapse: nothing');
SELECT results_eq($$SELECT * FROM loyalty.expire('2026-02-28 15:00:00+00')$$,
	$$VALUES (1::bigint, 1::bigint, 100::bigint)$$, 'as of the lapse: member 38 loses its 100 points');

-- As of 2 months from now: 31 (7 months) and 32 (5 + 2 months) lapse; 33
-- and 34 were active now, 35 to 37 earned now.
SELECT results_eq($$SELECT * FROM loyalty.expire(now() + interval '2 months')$$,
	$$VALUES (2::bigint, 2::bigint, 200::bigint)$$,
	'expire() as of 2 months from now: 31 and 32 lose everything');
SELECT results_eq(
	$$SELECT customer_id, points, reason, detail - 'as_of' FROM loyalty.ledger
	   WHERE program_id = loyalty.program_id('idle') AND kind = 'expire' AND actor = 'loyalty.expire'
	   ORDER BY customer_id$$,
	$$VALUES (31::bigint, -100::bigint, 'no activity', '{"lots": 1, "policy": "inactivity"}'::jsonb),
		(32, -100, 'no activity', '{"lots": 1, "policy": "inactivity"}'),
		(38, -100, 'no activity', '{"lots": 1, "policy": "inactivity"}')$$,
	'one ''no activity'' entry each, 38''s from the earlier run');
SELECT results_eq(
	$$SELECT customer_id, available FROM loyalty.account
	   WHERE program_id = loyalty.program_id('idle') ORDER BY 1$$,
	$$VALUES (31::bigint, 0::bigint), (32, 0), (33, 90), (34, 110), (35, 5), (36, 20), (37, 40), (38, 0)$$,
	'the active members keep their points');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify: no problem after the inactivity runs');

--
-- What expiry leaves of a lot: an order's lot is removed (its order record
-- and ledger entries keep the history); a lot of earn() stays, emptied,
-- because rebuild_qualifying() counts a manual earning by its lot.
--
SELECT code FROM loyalty.create_program('ordexp', 'Order expiry', 'VND', 1, 1);
SELECT expiry_policy FROM loyalty.set_expiry_policy('ordexp', 'rolling', 1);
CREATE TABLE ordexp_orders (id text PRIMARY KEY, customer_id bigint, total numeric);
SELECT 'tracked' FROM loyalty.track_orders('ordexp_orders', 'ordexp', 'customer_id', 'id', 'total');
SELECT count(loyalty.enroll('ordexp', c)) FROM generate_series(51, 52) c;
INSERT INTO ordexp_orders VALUES ('x1', 51, 100);
INSERT INTO ordexp_orders VALUES ('x2', 51, 200), ('x3', 51, 300);
SELECT entry_no FROM loyalty.earn('ordexp', 51, 30, 'goodwill');
INSERT INTO ordexp_orders VALUES ('y1', 52, 70);
SELECT entry_no FROM loyalty.redeem('ordexp', 52, 20);
SELECT results_eq(
	$$SELECT customer_id, source_id IS NOT NULL, points, remaining FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('ordexp') ORDER BY customer_id, lot_no$$,
	$$VALUES (51::bigint, true, 100::bigint, 100::bigint), (51, true, 500, 500), (51, false, 30, 30),
		(52, true, 70, 50)$$,
	'before expiry: a lot per order statement, one of earn(), one partly spent');
SELECT results_eq($$SELECT * FROM loyalty.expire(now() + interval '2 months')$$,
	$$VALUES (2::bigint, 4::bigint, 680::bigint)$$, 'expire(): 2 members, 4 lots, 630 + 50 points');
SELECT results_eq(
	$$SELECT customer_id, source_id IS NOT NULL, points, remaining FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('ordexp') ORDER BY customer_id, lot_no$$,
	$$VALUES (51::bigint, false, 30::bigint, 0::bigint)$$,
	'the orders'' lots are removed, the partly spent one too; the lot of earn() stays at 0');
SELECT results_eq(
	$$SELECT customer_id, order_key, state, points FROM loyalty.order_accrual
	   WHERE program_id = loyalty.program_id('ordexp') ORDER BY order_key$$,
	$$VALUES (51::bigint, 'x1', 'active', 100::bigint), (51, 'x2', 'active', 200), (51, 'x3', 'active', 300),
		(52, 'y1', 'active', 70)$$,
	'the order records stay as they were');
SELECT results_eq(
	$$SELECT customer_id, points, detail->'lots' FROM loyalty.ledger
	   WHERE program_id = loyalty.program_id('ordexp') AND kind = 'expire' ORDER BY customer_id$$,
	$$VALUES (51::bigint, -630::bigint, '3'::jsonb), (52, -50, '1')$$,
	'one expire entry per member counts every lot it emptied');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify: no problem after removing the lots');
SELECT results_eq($$SELECT * FROM loyalty.expire(now() + interval '2 months')$$,
	$$VALUES (0::bigint, 0::bigint, 0::bigint)$$, 'a second run finds nothing');
-- A refund after the order's points expired finds no lot of the order: the
-- points to take back are a debt (the program's policy), as when the lot
-- was kept at 0.
DELETE FROM ordexp_orders WHERE id = 'x1';
SELECT results_eq(
	$$SELECT kind, points, available_after, detail->'from_available', detail->'debt'
		FROM loyalty.statement('ordexp', 51) ORDER BY entry_no DESC LIMIT 1$$,
	$$VALUES ('reverse', -100::bigint, -100::bigint, '0'::jsonb, '100'::jsonb)$$,
	'a refund after expiry: the 100 points become a debt');
-- A change of tier basis counts the history again: the orders' points and
-- the manual earning, expired or not.
SELECT tier_basis FROM loyalty.set_tier_policy('ordexp', 'orders');
SELECT tier_basis FROM loyalty.set_tier_policy('ordexp', 'points');
SELECT is((SELECT qualifying FROM loyalty.tier_progress('ordexp', 51)), 530::numeric,
	'the qualifying points after a rebuild: 200 + 300 from the orders kept, 30 from earn()');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify: no problem after the refund');

--
-- expire_in_batches: a procedure that commits, so not in a transaction block.
--
SELECT is_procedure('loyalty', 'expire_in_batches', 'expire_in_batches is a procedure');
SELECT throws_ok($$CALL loyalty.expire_in_batches()$$, '2D000', 'invalid transaction termination',
	'inside a transaction block it fails at its first COMMIT, as PostgreSQL does');

--
-- Privileges.
--
SELECT ok(NOT has_function_privilege('public', 'loyalty.expire(timestamptz, integer, integer)', 'EXECUTE'),
	'PUBLIC cannot run expire');
SELECT ok(NOT has_function_privilege('public', 'loyalty.expire_members(bigint[], integer[], timestamptz, text)', 'EXECUTE'),
	'PUBLIC cannot run expire_members');
SELECT ok(NOT has_function_privilege('public', 'loyalty.inactivity_lapse(loyalty.program, timestamptz)', 'EXECUTE'),
	'PUBLIC cannot run inactivity_lapse');
SELECT ok(NOT has_function_privilege('public', 'loyalty.set_expiry_policy(text, text, integer, boolean)', 'EXECUTE'),
	'PUBLIC cannot run set_expiry_policy');
SELECT ok(NOT has_function_privilege('public', 'loyalty.expire_in_batches(timestamptz, integer)', 'EXECUTE'),
	'PUBLIC cannot call expire_in_batches');
SELECT is_definer('loyalty', 'expire', ARRAY['timestamp with time zone', 'integer', 'integer'],
	'expire runs as the extension owner');
SELECT is_definer('loyalty', 'set_expiry_policy', ARRAY['text', 'text', 'integer', 'boolean'],
	'set_expiry_policy runs as the extension owner');
CREATE ROLE loyalty_expiry_nobody NOLOGIN;
SET ROLE loyalty_expiry_nobody;
SELECT throws_ok($$SELECT loyalty.expire()$$, '42501', NULL, 'a role without a grant cannot expire');
SELECT throws_ok($$SELECT loyalty.set_expiry_policy('exp', 'none')$$, '42501', NULL,
	'nor change a policy');
RESET ROLE;

-- The application hears of every expiry through the outbox.
SELECT set_eq(
	$$SELECT customer_id, program_id, (payload->>'points')::bigint, payload->>'reason'
		FROM loyalty.event WHERE kind = 'points_expired'$$,
	$$SELECT customer_id, program_id, -points, reason FROM loyalty.ledger WHERE kind = 'expire'$$,
	'every expire entry, by expire() or before a change, has its points_expired event with the same points and reason');

SELECT * FROM finish();
ROLLBACK;
