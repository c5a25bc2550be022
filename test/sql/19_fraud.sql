\i test/setup.sql
-- Fraud checks: configuration and bad input, each pattern as a scripted
-- attack that is caught and as honest traffic that raises nothing, the
-- actions (flag allows, hold keeps points pending through release_pending()
-- and expire(), reject raises LY011 and changes nothing), the review
-- decisions and their ledger entries, the identity hashes and privileges.
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(184);

-- The hint of the error a statement raises.
CREATE FUNCTION pg_temp.hint_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	h text;
BEGIN
	EXECUTE sql;
	RETURN NULL;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
	RETURN h;
END
$$;

-- 1 point per EUR; points stay pending for a 14-day return window.
SELECT code FROM loyalty.create_program('shop', 'Shop', 'EUR', 1, 1, return_days => 14);
CREATE TABLE shop_orders (
	id			text PRIMARY KEY,
	customer	bigint NOT NULL,
	amount		numeric NOT NULL,
	currency	text,
	status		text NOT NULL DEFAULT 'paid',
	ordered_at	timestamptz NOT NULL
);
SELECT source_id FROM loyalty.track_orders('shop_orders', 'shop', 'customer', 'id', 'amount',
	currency_column => 'currency', status_column => 'status', ordered_at_column => 'ordered_at',
	refund_statuses => ARRAY['refunded']);
SELECT rate FROM loyalty.set_exchange_rate('USD', 'EUR', 1, now() - interval '1 year');

-- 1. Configuration and bad input.
SELECT throws_ok($$SELECT loyalty.set_fraud_check(NULL, 'order_velocity', 'flag')$$, '22004',
	'program must not be null', 'set_fraud_check: program must not be null');
SELECT throws_ok($$SELECT loyalty.set_fraud_check('nope', 'order_velocity', 'flag')$$, 'LY001',
	'unknown loyalty program "nope"', 'set_fraud_check: unknown program');
SELECT throws_ok($$SELECT loyalty.set_fraud_check('shop', NULL, 'flag')$$, '22004',
	'check_name must not be null', 'set_fraud_check: check must not be null');
SELECT throws_ok($$SELECT loyalty.set_fraud_check('shop', 'order_velocity', NULL)$$, '22004',
	'action must not be null', 'set_fraud_check: action must not be null');
SELECT throws_ok($$SELECT loyalty.set_fraud_check('shop', 'bogus', 'flag')$$, '22023',
	'unknown fraud check "bogus"', 'set_fraud_check: unknown check');
SELECT is(pg_temp.hint_of($$SELECT loyalty.set_fraud_check('shop', 'bogus', 'flag')$$),
	'Use one of: order_velocity, points_per_day, redemptions_per_day, redeemed_points_per_day, duplicate_order, return_farming, refund_after_redeem, account_takeover, shared_identity, self_referral.',
	'the hint of an unknown check lists the valid ones');
SELECT throws_ok($$SELECT loyalty.set_fraud_check('shop', 'order_velocity', 'ban')$$, '22023',
	'unknown fraud action "ban"', 'set_fraud_check: unknown action');
SELECT is(pg_temp.hint_of($$SELECT loyalty.set_fraud_check('shop', 'order_velocity', 'ban')$$),
	'Use flag, hold, reject, or off to turn the check off.',
	'the hint of an unknown action lists the valid ones');
SELECT throws_ok($$SELECT loyalty.set_fraud_check('shop', 'return_farming', 'hold')$$, '22023',
	'fraud check "return_farming" cannot hold', 'set_fraud_check: an action the check does not take');
SELECT is(pg_temp.hint_of($$SELECT loyalty.set_fraud_check('shop', 'account_takeover', 'hold')$$),
	'Use flag, reject, or off.', 'the hint names the actions the check takes');
SELECT throws_ok($$SELECT loyalty.set_fraud_check('shop', 'order_velocity', 'flag', 0)$$, '22023',
	'threshold of fraud check "order_velocity" out of range: 0', 'set_fraud_check: a zero threshold');
SELECT throws_ok($$SELECT loyalty.set_fraud_check('shop', 'redemptions_per_day', 'flag', -3)$$, '22023',
	'threshold of fraud check "redemptions_per_day" out of range: -3', 'set_fraud_check: a negative threshold');
SELECT throws_ok($$SELECT loyalty.set_fraud_check('shop', 'return_farming', 'flag', 100)$$, '22023',
	'threshold of fraud check "return_farming" out of range: 100', 'set_fraud_check: a share of 100% can never be passed');
SELECT throws_ok($$SELECT loyalty.set_fraud_check('shop', 'return_farming', 'flag', 50, 0)$$, '22023',
	'second threshold of fraud check "return_farming" out of range: 0', 'set_fraud_check: a zero minimum of orders');
SELECT throws_ok($$SELECT loyalty.set_fraud_check('shop', 'points_per_day', 'flag')$$, '22004',
	'fraud check "points_per_day" needs a threshold', 'set_fraud_check: a points threshold has no default');
SELECT throws_ok($$SELECT loyalty.set_fraud_check('shop', 'account_takeover', 'flag', 5)$$, '22023',
	'fraud check "account_takeover" takes no threshold', 'set_fraud_check: a threshold the check does not take');
SELECT throws_ok($$SELECT loyalty.set_fraud_check('shop', 'order_velocity', 'flag', within => '2 hours')$$, '22023',
	'window of fraud check "order_velocity" out of range: @ 2 hours', 'set_fraud_check: a window beyond the minute buckets');
SELECT throws_ok($$SELECT loyalty.set_fraud_check('shop', 'self_referral', 'flag', within => '1 day')$$, '22023',
	'fraud check "self_referral" takes no window', 'set_fraud_check: a window the check does not take');
SELECT throws_ok($$SELECT loyalty.set_fraud_check('shop', 'transfer_ring', 'flag')$$, '0A000',
	'fraud check "transfer_ring" is not available yet', 'set_fraud_check: transfer_ring waits for transfers');
SELECT is((SELECT count(*) FROM loyalty.fraud_check), 0::bigint, 'bad input changed nothing');
SELECT results_eq(
	$$SELECT check_name, action, threshold, threshold2, within
		FROM loyalty.set_fraud_check('shop', 'order_velocity', 'hold')$$,
	$$VALUES ('order_velocity', 'hold', 20::bigint, NULL::bigint, interval '1 hour')$$,
	'set_fraud_check takes the check''s default threshold and window');
SELECT results_eq(
	$$SELECT check_name, action, threshold, threshold2, within
		FROM loyalty.set_fraud_check('shop', 'return_farming', 'flag')$$,
	$$VALUES ('return_farming', 'flag', 50::bigint, 5::bigint, NULL::interval)$$,
	'return_farming: more than 50% refunded once a member has 5 orders, by default');
SELECT results_eq(
	$$SELECT action, threshold FROM loyalty.set_fraud_check('shop', 'return_farming', 'off')$$,
	$$VALUES ('flag', 50::bigint)$$, 'off returns the check it turned off');
SELECT is((SELECT array_agg(check_name) FROM loyalty.fraud_check), ARRAY['order_velocity'],
	'off removes the check');

-- 2. Order velocity: 30 orders in 10 minutes.  The first 20 in one
-- INSERT ... SELECT (the statement-level path), then ten plain INSERTs, the
-- last two in USD (the general path).  Each order above 20 in an hour holds.
SELECT customer_id FROM loyalty.enroll('shop', 1);
INSERT INTO shop_orders (id, customer, amount, ordered_at)
SELECT 'v' || g, 1, 10 + g, now() - interval '10 minutes' + g * interval '20 seconds'
  FROM generate_series(1, 20) g;
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES ('v21', 1, 31, now() - interval '3 minutes');
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES ('v22', 1, 32, now() - interval '170 seconds');
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES ('v23', 1, 33, now() - interval '160 seconds');
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES ('v24', 1, 34, now() - interval '150 seconds');
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES ('v25', 1, 35, now() - interval '140 seconds');
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES ('v26', 1, 36, now() - interval '130 seconds');
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES ('v27', 1, 37, now() - interval '120 seconds');
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES ('v28', 1, 38, now() - interval '110 seconds');
INSERT INTO shop_orders (id, customer, amount, currency, ordered_at) VALUES ('v29', 1, 39, 'USD', now() - interval '100 seconds');
INSERT INTO shop_orders (id, customer, amount, currency, ordered_at) VALUES ('v30', 1, 40, 'USD', now() - interval '90 seconds');

SELECT results_eq(
	$$SELECT flag_no, check_name, action, measured, threshold, order_key, held_points, status
		FROM loyalty.fraud_flag WHERE customer_id = 1 ORDER BY flag_no$$,
	$$VALUES (1::bigint, 'order_velocity', 'hold', 21::bigint, 20::bigint, 'v21', 31::bigint, 'open'),
			 (2, 'order_velocity', 'hold', 22, 20, 'v22', 32, 'open'),
			 (3, 'order_velocity', 'hold', 23, 20, 'v23', 33, 'open'),
			 (4, 'order_velocity', 'hold', 24, 20, 'v24', 34, 'open'),
			 (5, 'order_velocity', 'hold', 25, 20, 'v25', 35, 'open'),
			 (6, 'order_velocity', 'hold', 26, 20, 'v26', 36, 'open'),
			 (7, 'order_velocity', 'hold', 27, 20, 'v27', 37, 'open'),
			 (8, 'order_velocity', 'hold', 28, 20, 'v28', 38, 'open'),
			 (9, 'order_velocity', 'hold', 29, 20, 'v29', 39, 'open'),
			 (10, 'order_velocity', 'hold', 30, 20, 'v30', 40, 'open')$$,
	'orders 21 to 30 within the hour are held, one flag each, numbered per member');
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.balance('shop', 1)$$,
	$$VALUES (0::bigint, 765::bigint)$$,
	'every order''s points are pending: 20 in the return window (410), 10 held (355)');
SELECT results_eq(
	$$SELECT count(*), sum(remaining)::bigint FROM loyalty.lot
	   WHERE customer_id = 1 AND pending AND available_at IS NULL$$,
	$$VALUES (10::bigint, 355::bigint)$$,
	'each held order has a lot of its own, pending with no release time');
SELECT is((SELECT count(*) FROM loyalty.event WHERE kind = 'fraud_flagged' AND customer_id = 1),
	10::bigint, 'each flag writes a fraud_flagged event');
SELECT is((SELECT payload FROM loyalty.event WHERE kind = 'fraud_flagged' AND customer_id = 1
			ORDER BY event_id LIMIT 1),
	'{"check": "order_velocity", "action": "hold", "flag_no": 1, "measured": 21, "reference": "v21", "threshold": 20, "held_points": 31}'::jsonb,
	'the event carries the check, the measure, the order and the held points');

-- Honest traffic: 30 orders over 30 days, and exactly 20 in one hour.
SELECT customer_id FROM loyalty.enroll('shop', 2);
INSERT INTO shop_orders (id, customer, amount, ordered_at)
SELECT 'h' || g, 2, 25, now() - g * interval '1 day' FROM generate_series(1, 30) g;
SELECT customer_id FROM loyalty.enroll('shop', 3);
INSERT INTO shop_orders (id, customer, amount, ordered_at)
SELECT 'j' || g, 3, 10 + g, now() - interval '59 minutes' + g * interval '2 minutes' FROM generate_series(1, 20) g;
SELECT is((SELECT count(*) FROM loyalty.fraud_flag WHERE customer_id IN (2, 3)), 0::bigint,
	'no flag for a member''s month of orders, nor for 20 orders in an hour');

-- 3. Hold: the held points stay pending through release_pending() and
-- expire(); the review releases or voids them.
SELECT is(loyalty.release_pending(now() + interval '15 days'), 1145::numeric,
	'release_pending releases the return window''s points (410 + 325 + 410), not the held ones');
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.balance('shop', 1)$$,
	$$VALUES (410::bigint, 355::bigint)$$, 'the held 355 points are still pending');
SELECT results_eq(
	$$SELECT program, customer_id, flag_no, check_name, held_points FROM loyalty.fraud_queue LIMIT 2$$,
	$$VALUES ('shop', 1::bigint, 1::bigint, 'order_velocity', 31::bigint),
			 ('shop', 1::bigint, 2::bigint, 'order_velocity', 32::bigint)$$,
	'the review queue lists open holds oldest first, with the points they hold');

-- Release in the return window: the points follow the regular release.
SELECT results_eq(
	$$SELECT status, reviewed_by, review_note
		FROM loyalty.review('shop', 1, 1, 'release', 'regular customer, party order', 'anna')$$,
	$$VALUES ('released', 'anna', 'regular customer, party order')$$,
	'review releases a hold');
SELECT results_eq(
	$$SELECT kind, points, pending_points, reason, reference, actor, db_role = session_user::text,
			 detail->>'decision', (detail->>'flag_no')::int
		FROM loyalty.ledger WHERE customer_id = 1 ORDER BY entry_no DESC LIMIT 1$$,
	$$VALUES ('review', 0::bigint, 0::bigint,
		'fraud review: release flag 1 (order_velocity): regular customer, party order', 'v21', 'anna',
		true, 'release', 1)$$,
	'a release within the return window is a ledger entry with the reviewer and the note');
SELECT is((SELECT available_at FROM loyalty.lot l JOIN loyalty.fraud_flag f USING (customer_id, program_id, lot_no)
			WHERE f.customer_id = 1 AND f.flag_no = 1),
	(SELECT ordered_at + interval '14 days' FROM shop_orders WHERE id = 'v21'),
	'the released lot becomes available when its return window ends');
SELECT is(loyalty.release_pending(now() + interval '15 days'), 31::numeric,
	'then release_pending releases it');
SELECT throws_ok($$SELECT loyalty.review('shop', 1, 1, 'void', 'changed my mind')$$, '55000',
	'fraud flag 1 of member 1 is already released', 'a decision on a closed flag is an error');
SELECT results_eq(
	$$SELECT status FROM loyalty.review('shop', 1, 2, 'void', 'card testing burst')$$,
	$$VALUES ('voided')$$, 'review voids a hold');
SELECT results_eq(
	$$SELECT kind, points, pending_points, reason
		FROM loyalty.ledger WHERE customer_id = 1 ORDER BY entry_no DESC LIMIT 1$$,
	$$VALUES ('review', 0::bigint, -32::bigint,
		'fraud review: void flag 2 (order_velocity): card testing burst')$$,
	'a void removes the held points in a ledger entry');
SELECT results_eq(
	$$SELECT points, earned_points FROM loyalty.order_accrual WHERE order_key = 'v22'$$,
	$$VALUES (0::bigint, 0::bigint)$$, 'the voided order holds no points any more');
-- The shop corrects the voided order's amount upward: it earns nothing again.
UPDATE shop_orders SET amount = 500 WHERE id = 'v22';
SELECT results_eq(
	$$SELECT points, earned_points, voided_at IS NOT NULL FROM loyalty.order_accrual WHERE order_key = 'v22'$$,
	$$VALUES (0::bigint, 0::bigint, true)$$, 'a voided order is marked and a raised amount earns nothing');
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.balance('shop', 1)$$,
	$$VALUES (441::bigint, 292::bigint)$$, 'the balance is unchanged by the raised amount');
UPDATE shop_orders SET status = 'refunded' WHERE id = 'v22';
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.balance('shop', 1)$$,
	$$VALUES (441::bigint, 292::bigint)$$,
	'a refund of the voided order takes nothing more');
SELECT throws_ok($$SELECT loyalty.review('shop', 1, 3, 'dismiss', 'fine')$$, '22023',
	'fraud flag 3 holds points', 'a hold cannot be dismissed');
SELECT throws_ok($$SELECT loyalty.review('shop', 1, 99, 'release', 'x')$$, '22023',
	'unknown fraud flag 99 of member 1 in program "shop"', 'review: unknown flag');
SELECT throws_ok($$SELECT loyalty.review('shop', 1, 3, 'approve', 'x')$$, '22023',
	'unknown review decision "approve"', 'review: unknown decision');
SELECT throws_ok($$SELECT loyalty.review('shop', 1, 3, NULL, 'x')$$, '22004',
	'decision must not be null', 'review: decision must not be null');
SELECT throws_ok($$SELECT loyalty.review('shop', 1, NULL, 'release', 'x')$$, '22004',
	'flag_no must not be null', 'review: flag_no must not be null');
SELECT throws_ok($$SELECT loyalty.review('shop', 1, 3, 'release', NULL)$$, '22004',
	'note must not be null', 'review: a note is required');
SELECT throws_ok($$SELECT loyalty.review('shop', 1, 3, 'release', '  ')$$, '22023',
	'note must not be empty', 'review: an empty note');
SELECT throws_ok($$SELECT loyalty.review('shop', 99, 1, 'release', 'x')$$, 'LY002',
	'unknown member 99 in program "shop"', 'review: unknown member');

-- Expiry takes every spendable point and none of the held ones.
SELECT code FROM loyalty.set_expiry_policy('shop', 'rolling', 12);
UPDATE loyalty.lot SET expires_at = now() + interval '1 year' WHERE customer_id = 1;
SELECT results_eq(
	$$SELECT members, points FROM loyalty.expire(now() + interval '2 years')$$,
	$$VALUES (1::bigint, 441::bigint)$$, 'expire takes the 441 spendable points of member 1');
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.balance('shop', 1)$$,
	$$VALUES (0::bigint, 292::bigint)$$, 'the 292 held points are still pending after expire');
SELECT code FROM loyalty.set_expiry_policy('shop', 'none');
-- A hold whose points a refund took back: a release or void would change
-- nothing and is refused; dismiss closes it.
UPDATE shop_orders SET status = 'refunded' WHERE id = 'v24';
SELECT results_eq(
	$$SELECT held_points FROM loyalty.fraud_queue WHERE customer_id = 1 AND flag_no = 4$$,
	$$VALUES (0::bigint)$$, 'the refund took the 34 held points of flag 4');
SELECT throws_ok($$SELECT loyalty.review('shop', 1, 4, 'release', 'x')$$, '55000',
	'fraud flag 4 holds no points any more', 'release of a hold a refund emptied is refused');
SELECT throws_ok($$SELECT loyalty.review('shop', 1, 4, 'void', 'x')$$, '55000',
	'fraud flag 4 holds no points any more', 'void of a hold a refund emptied is refused');
SELECT is(pg_temp.hint_of($$SELECT loyalty.review('shop', 1, 4, 'void', 'x')$$),
	'Close it with the decision dismiss.', 'the hint says to dismiss it');
SELECT results_eq(
	$$SELECT status FROM loyalty.review('shop', 1, 4, 'dismiss', 'order refunded')$$,
	$$VALUES ('dismissed')$$, 'dismiss closes a hold a refund emptied');
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.balance('shop', 1)$$,
	$$VALUES (0::bigint, 258::bigint)$$, 'the refund took the 34 points, the dismissal nothing');
-- A raised amount of an order still held: the extra points are held too.
UPDATE shop_orders SET amount = 45 WHERE id = 'v25';
SELECT results_eq(
	$$SELECT held_points FROM loyalty.fraud_queue WHERE customer_id = 1 AND flag_no = 5$$,
	$$VALUES (45::bigint)$$, 'the 10 extra points of a held order join its hold');
SELECT is(loyalty.release_pending(now() + interval '15 days'), 0::numeric,
	'release_pending does not release them');
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.balance('shop', 1)$$,
	$$VALUES (0::bigint, 268::bigint)$$, 'they are pending with the held points');

-- 4. Duplicate orders: the same amount within 10 minutes is flagged (and allowed).
SELECT action FROM loyalty.set_fraud_check('shop', 'duplicate_order', 'flag');
SELECT customer_id FROM loyalty.enroll('shop', 4);
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES ('d1', 4, 49.90, now() - interval '6 minutes');
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES ('d2', 4, 49.9, now() - interval '1 minute');
SELECT results_eq(
	$$SELECT flag_no, check_name, action, measured, threshold, order_key, held_points
		FROM loyalty.fraud_flag WHERE customer_id = 4$$,
	$$VALUES (1::bigint, 'duplicate_order', 'flag', 2::bigint, 1::bigint, 'd2', 0::bigint)$$,
	'the second order of the same amount within 10 minutes is flagged');
SELECT is((SELECT pending FROM loyalty.balance('shop', 4)), 98::bigint,
	'a flag allows: both orders earned');
-- Honest: the same amount 30 minutes apart, other amounts a minute apart.
SELECT customer_id FROM loyalty.enroll('shop', 5);
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES
	('e1', 5, 20, now() - interval '40 minutes'), ('e2', 5, 20, now() - interval '10 minutes'),
	('e3', 5, 21, now() - interval '9 minutes'), ('e4', 5, 22, now() - interval '8 minutes');
SELECT is((SELECT count(*) FROM loyalty.fraud_flag WHERE customer_id = 5), 0::bigint,
	'no flag for equal amounts 30 minutes apart or different amounts a minute apart');
SELECT results_eq(
	$$SELECT status FROM loyalty.review('shop', 4, 1, 'dismiss', 'two lunches')$$,
	$$VALUES ('dismissed')$$, 'a flag is dismissed');
SELECT results_eq(
	$$SELECT kind, points, pending_points, reason, reference
		FROM loyalty.ledger WHERE customer_id = 4 ORDER BY entry_no DESC LIMIT 1$$,
	$$VALUES ('review', 0::bigint, 0::bigint, 'fraud review: dismiss flag 1 (duplicate_order): two lunches', 'd2')$$,
	'a dismissal is a ledger entry too');
SELECT throws_ok($$SELECT loyalty.review('shop', 4, 1, 'release', 'x')$$, '55000',
	'fraud flag 1 of member 4 is already dismissed', 'a dismissed flag stays closed');
SELECT action FROM loyalty.set_fraud_check('shop', 'duplicate_order', 'off');

-- 5. Return farming.  Buy, redeem, refund: an order from before the return
-- window refunded after a redemption.
SELECT action FROM loyalty.set_fraud_check('shop', 'refund_after_redeem', 'flag');
SELECT action FROM loyalty.set_fraud_check('shop', 'return_farming', 'flag');
SELECT customer_id FROM loyalty.enroll('shop', 6);
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES ('r1', 6, 100, now() - interval '20 days');
SELECT points FROM loyalty.redeem('shop', 6, 80, reference => 'voucher-6');
UPDATE shop_orders SET status = 'refunded' WHERE id = 'r1';
SELECT results_eq(
	$$SELECT flag_no, check_name, action, measured, threshold, order_key
		FROM loyalty.fraud_flag WHERE customer_id = 6$$,
	$$VALUES (1::bigint, 'refund_after_redeem', 'flag', 0::bigint, 43200::bigint, 'r1')$$,
	'earn, redeem, refund is flagged (minutes since the redemption, against 30 days)');
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.balance('shop', 6)$$,
	$$VALUES (-80::bigint, 0::bigint)$$, 'the refund still takes the points back (a debt of 80)');
-- Honest: a refund without a redemption, and a redemption before the order.
SELECT customer_id FROM loyalty.enroll('shop', 7);
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES ('s1', 7, 100, now() - interval '20 days');
UPDATE shop_orders SET status = 'refunded' WHERE id = 's1';
SELECT customer_id FROM loyalty.enroll('shop', 8);
SELECT points FROM loyalty.earn('shop', 8, 100);
SELECT points FROM loyalty.redeem('shop', 8, 50);
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES ('s2', 8, 60, now());
UPDATE shop_orders SET status = 'refunded' WHERE id = 's2';
SELECT is((SELECT count(*) FROM loyalty.fraud_flag WHERE customer_id IN (7, 8)), 0::bigint,
	'no flag for a refund without a redemption, or after a redemption made before the order');

-- A high share of refunded orders: 6 orders, the 4th refund takes it above 50%.
SELECT customer_id FROM loyalty.enroll('shop', 9);
INSERT INTO shop_orders (id, customer, amount, ordered_at)
SELECT 'f' || g, 9, 10 * g, now() - g * interval '1 day' FROM generate_series(1, 6) g;
UPDATE shop_orders SET status = 'refunded' WHERE id = 'f1';
UPDATE shop_orders SET status = 'refunded' WHERE id = 'f2';
UPDATE shop_orders SET status = 'refunded' WHERE id = 'f3';
SELECT is((SELECT count(*) FROM loyalty.fraud_flag WHERE customer_id = 9), 0::bigint,
	'3 of 6 orders refunded is not above 50%');
UPDATE shop_orders SET status = 'refunded' WHERE id = 'f4';
UPDATE shop_orders SET status = 'refunded' WHERE id = 'f5';
SELECT results_eq(
	$$SELECT flag_no, check_name, measured, threshold, order_key, detail
		FROM loyalty.fraud_flag WHERE customer_id = 9$$,
	$$VALUES (1::bigint, 'return_farming', 66::bigint, 50::bigint, 'f4',
		'{"unit": "percent", "orders": 6, "refunded": 4}'::jsonb)$$,
	'the refund that takes the share above 50% is flagged, once');
-- Honest: 10 orders, one refund; 2 orders, both refunded (below 5 orders).
SELECT customer_id FROM loyalty.enroll('shop', 10);
INSERT INTO shop_orders (id, customer, amount, ordered_at)
SELECT 'g' || g, 10, 10, now() - g * interval '1 day' FROM generate_series(1, 10) g;
UPDATE shop_orders SET status = 'refunded' WHERE id = 'g3';
SELECT customer_id FROM loyalty.enroll('shop', 11);
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES
	('k1', 11, 10, now() - interval '3 days'), ('k2', 11, 10, now() - interval '2 days');
UPDATE shop_orders SET status = 'refunded' WHERE id IN ('k1', 'k2');
SELECT is((SELECT count(*) FROM loyalty.fraud_flag WHERE customer_id IN (10, 11)), 0::bigint,
	'no flag for one refund in ten orders, nor before a member has 5 orders');
SELECT action FROM loyalty.set_fraud_check('shop', 'refund_after_redeem', 'off');
SELECT action FROM loyalty.set_fraud_check('shop', 'return_farming', 'off');

-- 6. Account takeover: a redemption an hour after enrolling.
SELECT action FROM loyalty.set_fraud_check('shop', 'account_takeover', 'reject');
SELECT customer_id FROM loyalty.enroll('shop', 12);
UPDATE loyalty.member SET enrolled_at = now() - interval '1 hour' WHERE customer_id = 12;
SELECT points FROM loyalty.earn('shop', 12, 500);
SELECT throws_ok($$SELECT loyalty.redeem('shop', 12, 100)$$, 'LY011',
	'redemption rejected by fraud check "account_takeover"', 'reject refuses the redemption with LY011');
SELECT results_eq(
	$$SELECT available, lifetime_redeemed FROM loyalty.balance('shop', 12)$$,
	$$VALUES (500::bigint, 0::bigint)$$, 'and nothing changed: no points spent');
SELECT results_eq(
	$$SELECT last_entry_no, last_flag_no FROM loyalty.account WHERE customer_id = 12$$,
	$$VALUES (1::bigint, 0::bigint)$$, 'no ledger entry and no flag');
SELECT action FROM loyalty.set_fraud_check('shop', 'account_takeover', 'flag');
SELECT points FROM loyalty.redeem('shop', 12, 100, reference => 'gift-card-12');
SELECT results_eq(
	$$SELECT flag_no, check_name, action, measured, threshold, reference, entry_no
		FROM loyalty.fraud_flag WHERE customer_id = 12$$,
	$$VALUES (1::bigint, 'account_takeover', 'flag', 60::bigint, 1440::bigint, 'gift-card-12', 2::bigint)$$,
	'flag allows the redemption and records it (60 minutes after enrolment, against 24 hours)');
-- Honest: enrolled a month ago.  Then the e-mail changes: the same redemption is flagged.
SELECT customer_id FROM loyalty.enroll('shop', 13);
UPDATE loyalty.member SET enrolled_at = now() - interval '30 days' WHERE customer_id = 13;
SELECT points FROM loyalty.earn('shop', 13, 500);
SELECT points FROM loyalty.redeem('shop', 13, 100);
SELECT is((SELECT count(*) FROM loyalty.fraud_flag WHERE customer_id = 13), 0::bigint,
	'no flag for a member who enrolled a month ago');
SELECT customer_id FROM loyalty.set_identity('shop', 13, email => 'new.owner@example.com');
SELECT points FROM loyalty.redeem('shop', 13, 100);
SELECT results_eq(
	$$SELECT check_name, measured FROM loyalty.fraud_flag WHERE customer_id = 13$$,
	$$VALUES ('account_takeover', 0::bigint)$$, 'a redemption right after an e-mail change is flagged');
SELECT action FROM loyalty.set_fraud_check('shop', 'account_takeover', 'off');

-- 7. Redemptions per day and points redeemed per day.
SELECT action FROM loyalty.set_fraud_check('shop', 'redemptions_per_day', 'reject', 3);
SELECT action FROM loyalty.set_fraud_check('shop', 'redeemed_points_per_day', 'flag', 500);
SELECT customer_id FROM loyalty.enroll('shop', 14);
SELECT points FROM loyalty.earn('shop', 14, 1000);
SELECT points FROM loyalty.redeem('shop', 14, 100);
SELECT points FROM loyalty.redeem('shop', 14, 100);
SELECT points FROM loyalty.redeem('shop', 14, 100);
SELECT is((SELECT count(*) FROM loyalty.fraud_flag WHERE customer_id = 14), 0::bigint,
	'three redemptions of 300 points in a day raise nothing');
SELECT throws_ok($$SELECT loyalty.redeem('shop', 14, 100)$$, 'LY011',
	'redemption rejected by fraud check "redemptions_per_day"', 'the fourth redemption in a day is rejected');
SELECT action FROM loyalty.set_fraud_check('shop', 'redemptions_per_day', 'flag', 3);
SELECT points FROM loyalty.redeem('shop', 14, 250);
SELECT results_eq(
	$$SELECT flag_no, check_name, measured, threshold FROM loyalty.fraud_flag
	   WHERE customer_id = 14 ORDER BY flag_no$$,
	$$VALUES (1::bigint, 'redemptions_per_day', 4::bigint, 3::bigint),
			 (2::bigint, 'redeemed_points_per_day', 550::bigint, 500::bigint)$$,
	'a fourth redemption taking the day to 550 points hits both checks');
SELECT action FROM loyalty.set_fraud_check('shop', 'redemptions_per_day', 'off');
SELECT action FROM loyalty.set_fraud_check('shop', 'redeemed_points_per_day', 'off');

-- 8. Points earned per day: reject and hold a manual earning.
SELECT action FROM loyalty.set_fraud_check('shop', 'points_per_day', 'reject', 1000);
SELECT customer_id FROM loyalty.enroll('shop', 15);
SELECT points FROM loyalty.earn('shop', 15, 800, reason => 'survey');
SELECT throws_ok($$SELECT loyalty.earn('shop', 15, 300, reason => 'survey')$$, 'LY011',
	'earning rejected by fraud check "points_per_day"', 'an earning above 1000 points a day is rejected');
SELECT results_eq(
	$$SELECT available, pending, lifetime_earned FROM loyalty.balance('shop', 15)$$,
	$$VALUES (800::bigint, 0::bigint, 800::bigint)$$, 'and nothing changed');
SELECT action FROM loyalty.set_fraud_check('shop', 'points_per_day', 'hold', 1000);
SELECT points, pending_points FROM loyalty.earn('shop', 15, 300, reason => 'survey');
SELECT results_eq(
	$$SELECT flag_no, action, measured, threshold, held_points, lot_no FROM loyalty.fraud_flag WHERE customer_id = 15$$,
	$$VALUES (1::bigint, 'hold', 1100::bigint, 1000::bigint, 300::bigint, 2::bigint)$$,
	'hold keeps the earning''s 300 points pending');
SELECT loyalty.release_pending(now() + interval '10 years');
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.balance('shop', 15)$$,
	$$VALUES (800::bigint, 300::bigint)$$,
	'release_pending leaves the held points pending, and balance shows them so');
SELECT throws_ok($$SELECT loyalty.redeem('shop', 15, 900)$$, 'LY004',
	'insufficient points: 800 available, 900 requested', 'held points cannot be spent');
SELECT results_eq(
	$$SELECT status FROM loyalty.review('shop', 15, 1, 'release', 'verified survey')$$,
	$$VALUES ('released')$$, 'review releases them');
SELECT results_eq(
	$$SELECT kind, points, pending_points, available_after, pending_after, reason
		FROM loyalty.ledger WHERE customer_id = 15 ORDER BY entry_no DESC LIMIT 1$$,
	$$VALUES ('release', 300::bigint, -300::bigint, 1100::bigint, 0::bigint,
		'fraud review: release flag 1 (points_per_day): verified survey')$$,
	'the release is a ledger entry that makes the points available');
-- A held earning with pending_until stays held past that time until the
-- review; the flag keeps the time, and a release in the review keeps it.
SELECT points, pending_points FROM loyalty.earn('shop', 15, 200, reason => 'survey',
	pending_until => now() + interval '1 day');
SELECT results_eq(
	$$SELECT flag_no, action, held_points, release_at = now() + interval '1 day'
		FROM loyalty.fraud_flag WHERE customer_id = 15 AND flag_no = 2$$,
	$$VALUES (2::bigint, 'hold', 200::bigint, true)$$,
	'a held earning with pending_until: the flag keeps its release time');
SELECT is(loyalty.release_pending(now() + interval '10 years'), 0::numeric,
	'release_pending does not release a held earning past its pending_until');
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.balance('shop', 15)$$,
	$$VALUES (1100::bigint, 200::bigint)$$, 'the 200 points are still held');
SELECT results_eq(
	$$SELECT status FROM loyalty.review('shop', 15, 2, 'release', 'verified survey')$$,
	$$VALUES ('released')$$, 'review releases them');
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.balance('shop', 15)$$,
	$$VALUES (1100::bigint, 200::bigint)$$, 'released before pending_until: still pending');
SELECT is(loyalty.release_pending(now() + interval '2 days'), 200::numeric,
	'release_pending releases them at pending_until');
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.balance('shop', 15)$$,
	$$VALUES (1300::bigint, 0::bigint)$$, 'then they are available');
-- Honest: 900 points a day.
SELECT customer_id FROM loyalty.enroll('shop', 16);
SELECT points FROM loyalty.earn('shop', 16, 450);
SELECT points FROM loyalty.earn('shop', 16, 450);
SELECT is((SELECT count(*) FROM loyalty.fraud_flag WHERE customer_id = 16), 0::bigint,
	'no flag for 900 points in a day');
SELECT action FROM loyalty.set_fraud_check('shop', 'points_per_day', 'off');

-- 9. Shared identity: five accounts sharing one phone.  Stored as hashes.
SELECT action FROM loyalty.set_fraud_check('shop', 'shared_identity', 'flag');
SELECT action FROM loyalty.set_fraud_check('shop', 'self_referral', 'flag');
SELECT (loyalty.enroll('shop', g)).customer_id FROM generate_series(21, 27) g;
SELECT customer_id FROM loyalty.set_identity('shop', 21, phone => '+84 90 123 4567');
SELECT customer_id FROM loyalty.set_identity('shop', 22, phone => '84-90-123-4567');
SELECT customer_id FROM loyalty.set_identity('shop', 23, phone => '(84) 901 234 567');
SELECT customer_id FROM loyalty.set_identity('shop', 24, phone => '84901234567');
SELECT customer_id FROM loyalty.set_identity('shop', 25, phone => '84 901234567', email => 'x@example.com');
SELECT results_eq(
	$$SELECT customer_id, flag_no, check_name, measured, threshold, detail
		FROM loyalty.fraud_flag WHERE check_name = 'shared_identity' ORDER BY customer_id$$,
	$$VALUES (24::bigint, 1::bigint, 'shared_identity', 4::bigint, 3::bigint, '{"kind": "phone", "members": 4}'::jsonb),
			 (25, 1, 'shared_identity', 5, 3, '{"kind": "phone", "members": 5}')$$,
	'the fourth and fifth account on one phone are flagged');
SELECT results_eq(
	$$SELECT count(DISTINCT hash), min(octet_length(hash)) FROM loyalty.member_identity
	   WHERE kind = 'phone' AND customer_id BETWEEN 21 AND 25$$,
	$$VALUES (1::bigint, 32)$$, 'the phone is normalized to its digits and kept as one 32-byte hash');
SELECT is_empty(
	$$SELECT 1 FROM loyalty.member_identity WHERE position('84901234567' IN encode(hash, 'escape')) > 0$$,
	'the phone number itself is stored nowhere');
SELECT isnt((SELECT hash FROM loyalty.member_identity WHERE customer_id = 21 AND kind = 'phone'),
	sha256('phone:84901234567'), 'the hash is salted per program');
-- Honest: a couple sharing a phone, members with their own.
SELECT customer_id FROM loyalty.set_identity('shop', 26, phone => '+33 6 12 34 56 78');
SELECT customer_id FROM loyalty.set_identity('shop', 27, phone => '+33 6 12 34 56 78', email => ' Y@Example.com ');
SELECT customer_id FROM loyalty.set_identity('shop', 16, phone => '+49 151 1234567', email => 'y@example.com');
SELECT is((SELECT count(*) FROM loyalty.fraud_flag WHERE customer_id IN (16, 26, 27)), 0::bigint,
	'no flag for two members sharing a phone or an e-mail');
SELECT results_eq(
	$$SELECT count(*) FROM loyalty.member_identity a JOIN loyalty.member_identity b
		ON b.program_id = a.program_id AND b.kind = a.kind AND b.hash = a.hash
	   WHERE a.customer_id = 27 AND b.customer_id = 16 AND a.kind = 'email'$$,
	$$VALUES (1::bigint)$$, 'e-mails are compared trimmed and lower-cased');
SELECT throws_ok($$SELECT loyalty.set_identity('shop', 26, phone => '12-34')$$, '22023',
	'invalid phone number', 'set_identity: a phone of 4 digits');
SELECT throws_ok($$SELECT loyalty.set_identity('shop', 26, email => 'not-an-address')$$, '22023',
	'invalid e-mail address', 'set_identity: an e-mail without @');
SELECT throws_ok($$SELECT loyalty.set_identity('shop', 26)$$, '22004',
	'email or phone must be given', 'set_identity: nothing to set');
SELECT throws_ok($$SELECT loyalty.set_identity('shop', 999, phone => '84901234567')$$, 'LY002',
	'unknown member 999 in program "shop"', 'set_identity: unknown member');
SELECT customer_id FROM loyalty.set_identity('shop', 26, phone => '');
SELECT is((SELECT count(*) FROM loyalty.member_identity WHERE customer_id = 26), 0::bigint,
	'an empty value removes the identity');
-- Cards: a fourth member given the same card is flagged.
SELECT loyalty.card_issue('7001') AS shared_card \gset
SELECT customer_id FROM loyalty.enroll('shop', 31, card => :'shared_card');
SELECT customer_id FROM loyalty.enroll('shop', 32, card => :'shared_card');
SELECT customer_id FROM loyalty.enroll('shop', 33, card => :'shared_card');
SELECT customer_id FROM loyalty.enroll('shop', 34);
SELECT customer_id FROM loyalty.update_member('shop', 34, card => :'shared_card');
SELECT results_eq(
	$$SELECT customer_id, check_name, measured, reference FROM loyalty.fraud_flag
	   WHERE reference = 'card'$$,
	$$VALUES (34::bigint, 'shared_identity', 4::bigint, 'card')$$,
	'the fourth member with one card is flagged (on update_member)');

-- 10. Self-referral: a member referring themselves under a second account.
SELECT customer_id FROM loyalty.enroll('shop', 40);
SELECT customer_id FROM loyalty.set_identity('shop', 40, email => 'me@example.org');
SELECT customer_id FROM loyalty.enroll('shop', 41, referred_by => 40);
SELECT customer_id FROM loyalty.set_identity('shop', 41, email => 'ME@example.org');
SELECT results_eq(
	$$SELECT customer_id, flag_no, check_name, reference, detail FROM loyalty.fraud_flag
	   WHERE check_name = 'self_referral'$$,
	$$VALUES (41::bigint, 1::bigint, 'self_referral', 'email', '{"kind": "email", "referrer": 40}'::jsonb)$$,
	'the referee sharing the referrer''s e-mail is flagged');
SELECT customer_id FROM loyalty.enroll('shop', 42, card => :'shared_card');
SELECT customer_id FROM loyalty.enroll('shop', 43, referred_by => 42, card => :'shared_card');
SELECT results_eq(
	$$SELECT customer_id, check_name, measured FROM loyalty.fraud_flag
	   WHERE customer_id = 43 ORDER BY flag_no$$,
	$$VALUES (43::bigint, 'shared_identity', 6::bigint), (43, 'self_referral', 1)$$,
	'a referee enrolled with the referrer''s card is flagged at enrolment');
-- Honest: a friend with their own e-mail.
SELECT customer_id FROM loyalty.enroll('shop', 44, referred_by => 40);
SELECT customer_id FROM loyalty.set_identity('shop', 44, email => 'friend@example.org');
SELECT is((SELECT count(*) FROM loyalty.fraud_flag WHERE customer_id IN (40, 44)), 0::bigint,
	'no flag for a referral between different people');
SELECT results_eq(
	$$SELECT status FROM loyalty.review('shop', 41, 1, 'dismiss', 'household, bonus allowed')$$,
	$$VALUES ('dismissed')$$, 'an identity flag is dismissed');

-- A future-dated order counts at the transaction's time: it does not move
-- the velocity buckets days ahead and switch the checks off.
SELECT customer_id FROM loyalty.enroll('shop', 17);
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES ('z0', 17, 10, now() + interval '3 days');
INSERT INTO shop_orders (id, customer, amount, ordered_at)
SELECT 'z' || g, 17, 10, now() - interval '400 seconds' + g * interval '20 seconds'
  FROM generate_series(1, 20) g;
SELECT results_eq(
	$$SELECT flag_no, check_name, measured, threshold, order_key
		FROM loyalty.fraud_flag WHERE customer_id = 17$$,
	$$VALUES (1::bigint, 'order_velocity', 21::bigint, 20::bigint, 'z20')$$,
	'after a future-dated order, the 21st order within the hour is still held');
SELECT results_eq(
	$$SELECT status FROM loyalty.review('shop', 17, 1, 'void', 'test burst')$$,
	$$VALUES ('voided')$$, 'the hold is voided');
-- A corrupt state (its ring index out of range) starts afresh.
UPDATE loyalty.account SET fraud_state = overlay(fraud_state placing '\x63000000'::bytea from 5 for 4)
 WHERE customer_id = 17;
INSERT INTO shop_orders (id, customer, amount, ordered_at) VALUES ('z21', 17, 5, now() - interval '1 minute');
SELECT results_eq(
	$$SELECT o.points, substring(a.fraud_state from 5 for 4)
		FROM loyalty.order_accrual o JOIN loyalty.account a USING (customer_id, program_id)
	   WHERE o.order_key = 'z21'$$,
	$$VALUES (5::bigint, '\x01000000'::bytea)$$,
	'an order after a corrupt fraud state earns, and the state starts again at slot 0');

-- 11. Totals: one event per flag, the queue, the ledger still adds up.
SELECT is((SELECT count(*) FROM loyalty.event WHERE kind = 'fraud_flagged'),
	(SELECT count(*) FROM loyalty.fraud_flag), 'every flag wrote one fraud_flagged event');
SELECT is((SELECT count(*) FROM loyalty.fraud_queue),
	(SELECT count(*) FROM loyalty.fraud_flag WHERE status = 'open'),
	'the queue shows every open flag');
SELECT is((SELECT count(*) FROM loyalty.fraud_queue), 19::bigint, '19 flags are open');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify() finds no inconsistency');

-- 11b. Every check on at once, and a month of honest traffic in a second
-- program: no flag, every point earned.  Two households that share nothing,
-- a friend referred with their own e-mail, orders every other day with two
-- of the same price a day apart, one refund before any redemption, and a
-- redemption a month after enrolling.
SELECT code FROM loyalty.create_program('calm', 'Calm', 'EUR', 1, 1);
CREATE TABLE calm_orders (id text PRIMARY KEY, customer bigint NOT NULL, amount numeric NOT NULL,
	status text NOT NULL DEFAULT 'paid', ordered_at timestamptz NOT NULL);
SELECT source_id FROM loyalty.track_orders('calm_orders', 'calm', 'customer', 'id', 'amount',
	status_column => 'status', ordered_at_column => 'ordered_at', refund_statuses => ARRAY['refunded']);
SELECT count(*) FROM (
	SELECT loyalty.set_fraud_check('calm', c.check_name, c.action, c.threshold)
	  FROM (VALUES ('order_velocity', 'hold', NULL::bigint), ('points_per_day', 'hold', 500),
				   ('duplicate_order', 'flag', NULL), ('redemptions_per_day', 'reject', NULL),
				   ('redeemed_points_per_day', 'reject', 500), ('account_takeover', 'reject', NULL),
				   ('return_farming', 'flag', NULL), ('refund_after_redeem', 'flag', NULL),
				   ('shared_identity', 'flag', NULL), ('self_referral', 'flag', NULL)) c (check_name, action, threshold)) x;
SELECT is((SELECT count(*) FROM loyalty.fraud_check WHERE program_id = loyalty.program_id('calm')
			AND action <> 'off'), 10::bigint, 'every available check is on in program calm');
SELECT customer_id FROM loyalty.enroll('calm', 901, card => '6042000000000031'::loyalty.card);
SELECT customer_id FROM loyalty.set_identity('calm', 901, email => 'anna@example.net', phone => '+33 6 12 34 56 78');
SELECT customer_id FROM loyalty.enroll('calm', 902, referred_by => 901, card => '6042000000000049'::loyalty.card);
SELECT customer_id FROM loyalty.set_identity('calm', 902, email => 'ben@example.net', phone => '+33 6 98 76 54 32');
UPDATE loyalty.member SET enrolled_at = now() - interval '31 days', profile_changed_at = now() - interval '31 days'
 WHERE program_id = loyalty.program_id('calm');
INSERT INTO calm_orders (id, customer, amount, ordered_at)
SELECT 'c' || c || '-' || g, c, CASE WHEN g IN (4, 5) THEN 42 ELSE 20 + g END,
	   now() - interval '30 days' + g * interval '2 days'
  FROM generate_series(1, 14) g, (VALUES (901), (902)) m (c);
UPDATE calm_orders SET status = 'refunded' WHERE id = 'c901-3';
SELECT results_eq($$SELECT points FROM loyalty.redeem('calm', 901, 100)$$, $$VALUES (-100::bigint)$$,
	'with every check on, an honest redemption goes through');
SELECT is((SELECT count(*) FROM loyalty.fraud_flag WHERE program_id = loyalty.program_id('calm')), 0::bigint,
	'a month of honest traffic with every check on raises no flag');
SELECT results_eq(
	$$SELECT customer_id, available, pending FROM loyalty.account
	   WHERE program_id = loyalty.program_id('calm') ORDER BY customer_id$$,
	$$VALUES (901::bigint, 297::bigint, 0::bigint), (902, 420, 0)$$,
	'and nothing is held: every point of the month is available (less the refund and the redemption)');

-- 11c. Held points count toward no tier until a review releases them: a
-- held burst cannot lift a member, a void leaves nothing to take back, and a
-- rebuild of the qualifying totals agrees.  Silver at 100 points, gold at
-- 300; more than 150 points a day holds.
SELECT code FROM loyalty.create_program('tiered', 'Tiered', 'EUR', 1, 1);
SELECT code FROM loyalty.set_tier('tiered', 'silver', 'Silver', 100);
SELECT code FROM loyalty.set_tier('tiered', 'gold', 'Gold', 300);
SELECT action FROM loyalty.set_fraud_check('tiered', 'points_per_day', 'hold', 150);
CREATE TABLE tiered_orders (id text PRIMARY KEY, customer bigint NOT NULL, amount numeric NOT NULL);
SELECT source_id FROM loyalty.track_orders('tiered_orders', 'tiered', 'customer', 'id', 'amount');
SELECT count(loyalty.enroll('tiered', c)) FROM generate_series(951, 953) c;
INSERT INTO tiered_orders VALUES ('t1', 951, 80);
INSERT INTO tiered_orders VALUES ('t2', 951, 100);
SELECT results_eq(
	$$SELECT a.tier, a.pending, p.qualifying, o.held FROM loyalty.account a,
		loyalty.tier_progress('tiered', 951) p, loyalty.order_accrual o
	   WHERE a.customer_id = 951 AND a.program_id = loyalty.program_id('tiered')
	     AND o.customer_id = 951 AND o.order_key = 't2'$$,
	$$VALUES (NULL::text, 100::bigint, 80::numeric, true)$$,
	'a held order counts toward no tier: 80 qualifying, not 180, and no silver');
UPDATE tiered_orders SET amount = 60 WHERE id = 't2';
SELECT results_eq(
	$$SELECT a.pending, p.qualifying FROM loyalty.account a, loyalty.tier_progress('tiered', 951) p
	   WHERE a.customer_id = 951 AND a.program_id = loyalty.program_id('tiered')$$,
	$$VALUES (60::bigint, 80::numeric)$$,
	'a partial refund of a held order takes its points, and no qualifying points it never gave');
SELECT status FROM loyalty.review('tiered', 951, 1, 'release', 'known customer');
SELECT results_eq(
	$$SELECT a.tier, a.available, p.qualifying, o.held
		FROM loyalty.account a, loyalty.tier_progress('tiered', 951) p, loyalty.order_accrual o
	   WHERE a.customer_id = 951 AND a.program_id = loyalty.program_id('tiered')
	     AND o.customer_id = 951 AND o.order_key = 't2'$$,
	$$VALUES ('silver'::text, 140::bigint, 140::numeric, false)$$,
	'released, the order counts (80 + 60) and moves the member up to silver at once');
SELECT results_eq(
	$$SELECT payload FROM loyalty.event WHERE kind = 'tier_changed' AND customer_id = 951$$,
	$$VALUES ('{"from": null, "to": "silver", "reason": "qualified"}'::jsonb)$$,
	'the release writes the tier_changed event');
-- One statement of two orders takes the statement path; the second is held.
INSERT INTO tiered_orders VALUES ('t3', 952, 90), ('t4', 952, 220);
SELECT results_eq(
	$$SELECT a.tier, a.available, a.pending, p.qualifying FROM loyalty.account a,
		loyalty.tier_progress('tiered', 952) p
	   WHERE a.customer_id = 952 AND a.program_id = loyalty.program_id('tiered')$$,
	$$VALUES (NULL::text, 90::bigint, 220::bigint, 90::numeric)$$,
	'on the statement path too a held order counts toward no tier (310 would reach gold)');
SELECT status FROM loyalty.review('tiered', 952, 1, 'void', 'card testing');
SELECT results_eq(
	$$SELECT a.tier, a.pending, p.qualifying, o.held, o.voided_at IS NOT NULL
		FROM loyalty.account a, loyalty.tier_progress('tiered', 952) p, loyalty.order_accrual o
	   WHERE a.customer_id = 952 AND a.program_id = loyalty.program_id('tiered')
	     AND o.customer_id = 952 AND o.order_key = 't4'$$,
	$$VALUES (NULL::text, 0::bigint, 90::numeric, false, true)$$,
	'voided, the order never counted and still does not');
UPDATE tiered_orders SET amount = 0 WHERE id = 't4';
SELECT is((SELECT qualifying FROM loyalty.tier_progress('tiered', 952)), 90::numeric,
	'a refund of the voided order takes nothing from the qualifying total');
-- A held earn() counts on its release, at the month it was earned.
SELECT results_eq($$SELECT pending_points FROM loyalty.earn('tiered', 953, 200, 'goodwill')$$,
	$$VALUES (200::bigint)$$, 'an earning above the daily limit is held');
SELECT results_eq(
	$$SELECT a.tier, p.qualifying FROM loyalty.account a, loyalty.tier_progress('tiered', 953) p
	   WHERE a.customer_id = 953 AND a.program_id = loyalty.program_id('tiered')$$,
	$$VALUES (NULL::text, 0::numeric)$$, 'a held earning counts toward no tier');
SELECT status FROM loyalty.review('tiered', 953, 1, 'release', 'agreed with support');
SELECT results_eq(
	$$SELECT a.tier, p.qualifying
		FROM loyalty.account a, loyalty.tier_progress('tiered', 953) p
	   WHERE a.customer_id = 953 AND a.program_id = loyalty.program_id('tiered')$$,
	$$VALUES ('silver'::text, 200::numeric)$$,
	'released, the earning counts and moves the member up');
-- Rebuilding the totals from history (a change of basis) counts the same:
-- on orders, 951 has two, 952 one (the voided one is out), 953 none.
SELECT tier_basis FROM loyalty.set_tier_policy('tiered', 'orders');
SELECT results_eq(
	$$SELECT c, (SELECT qualifying FROM loyalty.tier_progress('tiered', c)) FROM unnest(ARRAY[951, 952, 953]::bigint[]) c$$,
	$$VALUES (951::bigint, 2::numeric), (952, 1), (953, 0)$$,
	'rebuilt on the orders basis: held and voided orders do not count');
SELECT tier_basis FROM loyalty.set_tier_policy('tiered', 'points');
SELECT results_eq(
	$$SELECT c, (SELECT qualifying FROM loyalty.tier_progress('tiered', c)) FROM unnest(ARRAY[951, 952, 953]::bigint[]) c$$,
	$$VALUES (951::bigint, 140::numeric), (952, 90), (953, 200)$$,
	'rebuilt on the points basis: the same totals the order paths and reviews kept');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify() finds no inconsistency after the reviews');

-- 12. Privileges: only the administrator reviews; nobody but the
-- administrator reads hashes.
SELECT is_definer('loyalty', 'review', ARRAY['text', 'bigint', 'bigint', 'text', 'text', 'text'],
	'review runs as the extension owner');
SELECT is_definer('loyalty', 'set_identity', ARRAY['text', 'bigint', 'text', 'text'],
	'set_identity runs as the extension owner');
CREATE ROLE loyalty_app NOLOGIN;
CREATE ROLE loyalty_bi NOLOGIN;
CREATE ROLE loyalty_admin NOLOGIN;
\i doc/grants.sql
SELECT function_privs_are('loyalty', 'review', ARRAY['text', 'bigint', 'bigint', 'text', 'text', 'text'],
	'loyalty_admin', ARRAY['EXECUTE'], 'the administrator may review');
SELECT function_privs_are('loyalty', 'review', ARRAY['text', 'bigint', 'bigint', 'text', 'text', 'text'],
	'loyalty_app', ARRAY[]::text[], 'the application may not review');
SELECT function_privs_are('loyalty', 'review', ARRAY['text', 'bigint', 'bigint', 'text', 'text', 'text'],
	'loyalty_bi', ARRAY[]::text[], 'BI may not review');
SELECT function_privs_are('loyalty', 'review', ARRAY['text', 'bigint', 'bigint', 'text', 'text', 'text'],
	'public', ARRAY[]::text[], 'PUBLIC may not review');
SELECT function_privs_are('loyalty', 'set_fraud_check', ARRAY['text', 'text', 'text', 'bigint', 'bigint', 'interval'],
	'loyalty_app', ARRAY[]::text[], 'the application may not change the checks');
SELECT table_privs_are('loyalty', 'member_identity', 'loyalty_bi', ARRAY[]::text[], 'BI cannot read hashes');
SELECT table_privs_are('loyalty', 'member_identity', 'loyalty_app', ARRAY[]::text[], 'the application cannot read hashes');
SELECT table_privs_are('loyalty', 'identity_salt', 'loyalty_bi', ARRAY[]::text[], 'BI cannot read the salt');
SELECT table_privs_are('loyalty', 'fraud_queue', 'loyalty_bi', ARRAY['SELECT'], 'BI reads the review queue');
SET ROLE loyalty_app;
SELECT throws_ok($$SELECT loyalty.review('shop', 1, 3, 'release', 'x')$$, '42501',
	'permission denied for function review', 'the application role cannot call review');
SELECT throws_ok($$SELECT hash FROM loyalty.member_identity$$, '42501',
	'permission denied for table member_identity', 'the application role cannot read hashes');
SELECT results_eq($$SELECT customer_id FROM loyalty.set_identity('shop', 40, phone => '+84 91 000 0000')$$,
	$$VALUES (40::bigint)$$, 'the application sets identities');
RESET ROLE;
SET ROLE loyalty_bi;
SELECT throws_ok($$SELECT hash FROM loyalty.member_identity$$, '42501',
	'permission denied for table member_identity', 'the BI role cannot read hashes');
SELECT throws_ok($$SELECT loyalty.review('shop', 1, 3, 'release', 'x')$$, '42501',
	'permission denied for function review', 'the BI role cannot call review');
RESET ROLE;
SET ROLE loyalty_admin;
SELECT results_eq($$SELECT status FROM loyalty.review('shop', 1, 3, 'release', 'checked by phone')$$,
	$$VALUES ('released')$$, 'the administrator reviews');
RESET ROLE;
SELECT results_eq(
	$$SELECT actor = session_user::text, db_role = session_user::text, reason
		FROM loyalty.ledger WHERE customer_id = 1 ORDER BY entry_no DESC LIMIT 1$$,
	$$VALUES (true, true, 'fraud review: release flag 3 (order_velocity): checked by phone')$$,
	'the decision records the session''s login role as reviewer');

-- A slow review: a held lot released after its original expiry gets a new
-- expiry clock that starts at the release (rolling 12 months here), or keeps
-- its own date when that is later.
SELECT code FROM loyalty.create_program('slow', 'Slow review', 'EUR', 1, 1);
SELECT code FROM loyalty.set_expiry_policy('slow', 'rolling', 12);
SELECT action FROM loyalty.set_fraud_check('slow', 'points_per_day', 'hold', 100);
CREATE TABLE slow_orders (id text PRIMARY KEY, customer bigint NOT NULL, amount numeric NOT NULL,
	ordered_at timestamptz NOT NULL);
SELECT source_id > 0 FROM loyalty.track_orders('slow_orders', 'slow', 'customer', 'id', 'amount',
	ordered_at_column => 'ordered_at');
SELECT customer_id FROM loyalty.enroll('slow', 961);
INSERT INTO slow_orders VALUES ('o1', 961, 300, now());
INSERT INTO slow_orders VALUES ('o2', 961, 200, now());
-- Time moves on: the lots were earned 13 months ago and o1's expired a
-- month ago; o2's own date is in 3 years.
UPDATE loyalty.lot SET earned_at = now() - interval '13 months',
	expires_at = CASE order_key WHEN 'o1' THEN now() - interval '1 month' ELSE now() + interval '3 years' END
 WHERE customer_id = 961;
UPDATE loyalty.account SET last_activity_at = now() - interval '13 months' WHERE customer_id = 961;
SELECT results_eq(
	$$SELECT flag_no, held_points FROM loyalty.fraud_queue WHERE program = 'slow' ORDER BY flag_no$$,
	$$VALUES (1::bigint, 300::bigint), (2::bigint, 200::bigint)$$, 'both orders are held');
SELECT results_eq(
	$$SELECT members, points FROM loyalty.expire(now())$$,
	$$VALUES (0::bigint, 0::bigint)$$, 'expire takes no held points, due or not');
SELECT status FROM loyalty.review('slow', 961, 1, 'release', 'checked, late');
SELECT status FROM loyalty.review('slow', 961, 2, 'release', 'checked, late');
SELECT results_eq(
	$$SELECT order_key, pending, available_at = now(), expires_at FROM loyalty.lot
	   WHERE customer_id = 961 ORDER BY lot_no$$,
	$$VALUES ('o1'::text, false, true, now() + interval '12 months'),
			 ('o2', false, true, now() + interval '3 years')$$,
	'released: o1 expires 12 months after the release, o2 keeps its later date');
SELECT results_eq(
	$$SELECT detail->>'decision', (detail->>'expires_at')::timestamptz = now() + interval '12 months'
		FROM loyalty.ledger WHERE customer_id = 961 AND kind = 'release' ORDER BY entry_no LIMIT 1$$,
	$$VALUES ('release', true)$$, 'the release entry says when the points now expire');
SELECT is((SELECT last_activity_at FROM loyalty.account WHERE customer_id = 961
			AND program_id = loyalty.program_id('slow')), now(),
	'the release is activity: the inactivity clock restarts');
SELECT results_eq(
	$$SELECT members, points FROM loyalty.expire(now() + interval '1 day')$$,
	$$VALUES (0::bigint, 0::bigint)$$, 'the next expire run takes nothing');
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.balance('slow', 961)$$,
	$$VALUES (500::bigint, 0::bigint)$$, 'the member keeps all 500 released points');
SELECT members > 0 FROM loyalty.expire(now() + interval '12 months');
SELECT results_eq(
	$$SELECT available, lifetime_expired FROM loyalty.balance('slow', 961)$$,
	$$VALUES (200::bigint, 300::bigint)$$, 'o1''s 300 points expire 12 months after the release');
-- Under a policy without dates, a held lot's own date moves on by the time
-- it was held: 300 points earned with expires_at, held 3 months, released
-- a day after that date.
SELECT code FROM loyalty.set_expiry_policy('slow', 'none');
SELECT customer_id FROM loyalty.enroll('slow', 962);
SELECT pending_points FROM loyalty.earn('slow', 962, 300, reason => 'survey',
	expires_at => now() + interval '1 month');
UPDATE loyalty.lot SET earned_at = now() - interval '3 months', expires_at = now() - interval '1 day'
 WHERE customer_id = 962;
SELECT status FROM loyalty.review('slow', 962, 1, 'release', 'checked, late');
SELECT is((SELECT expires_at FROM loyalty.lot WHERE customer_id = 962),
	now() - interval '1 day' + (now() - (now() - interval '3 months')),
	'policy none: the lot''s own date moves on by the 3 months it was held');
SELECT members >= 0 FROM loyalty.expire(now() + interval '1 day');
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.balance('slow', 962)$$,
	$$VALUES (300::bigint, 0::bigint)$$, 'and the next expire run does not take the points');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'every balance equals its ledger after the late releases');

-- A held order in its return window: its lot's clock starts when the window
-- would have released it (rolling 1 month after ordered_at + 30 days), and
-- a release within the window keeps that date.
SELECT code FROM loyalty.create_program('hw', 'Held in window', 'EUR', 1, 1, return_days => 30);
SELECT code FROM loyalty.set_expiry_policy('hw', 'rolling', 1);
SELECT action FROM loyalty.set_fraud_check('hw', 'points_per_day', 'hold', 100);
CREATE TABLE hw_orders (LIKE slow_orders INCLUDING ALL);
SELECT source_id > 0 FROM loyalty.track_orders('hw_orders', 'hw', 'customer', 'id', 'amount',
	ordered_at_column => 'ordered_at');
INSERT INTO hw_orders VALUES ('w1', 971, 300, now());
SELECT results_eq(
	$$SELECT pending, available_at, expires_at FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('hw') AND customer_id = 971$$,
	$$VALUES (true, NULL::timestamptz, ((now() + interval '30 days') AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC')$$,
	'held in the return window: the lot expires 1 month after the window would release it');
SELECT status FROM loyalty.review('hw', 971, 1, 'release', 'checked');
SELECT results_eq(
	$$SELECT pending, available_at, expires_at FROM loyalty.lot
	   WHERE program_id = loyalty.program_id('hw') AND customer_id = 971$$,
	$$VALUES (true, now() + interval '30 days', ((now() + interval '30 days') AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC')$$,
	'released within the window: it waits for the window and keeps that date');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify: no problem after the release in the window');

-- Held points are not announced as expiring: expire() does not take a held
-- lot, and a release gives it its date then.  Once released they are.
SELECT code FROM loyalty.create_program('hx', 'Held expiry', 'EUR', 1, 1);
SELECT action FROM loyalty.set_fraud_check('hx', 'points_per_day', 'hold', 150);
SELECT customer_id FROM loyalty.enroll('hx', 981);
SELECT pending_points FROM loyalty.earn('hx', 981, 200, 'promo', expires_at => now() + interval '5 days');
SELECT is_empty($$SELECT * FROM loyalty.expiring_points('hx', 981, '30 days')$$,
	'expiring_points (one member) leaves out points a fraud check holds');
SELECT is_empty($$SELECT * FROM loyalty.expiring_points('30 days', now(), 'hx')$$,
	'expiring_points (list) leaves out points a fraud check holds');
SELECT loyalty.announce_expiring() >= 0;
SELECT is_empty($$SELECT * FROM loyalty.event WHERE program_id = loyalty.program_id('hx')
	   AND kind = 'points_expiring'$$, 'announce_expiring sends no reminder for held points');
SELECT results_eq($$SELECT expiring_30d, next_expiry_at FROM loyalty.member_summary
	   WHERE program = 'hx' AND customer_id = 981$$,
	$$VALUES (0::bigint, NULL::timestamptz)$$, 'member_summary counts no held points as expiring');
SELECT results_eq($$SELECT members, points FROM loyalty.expire(now() + interval '6 days')$$,
	$$VALUES (0::bigint, 0::bigint)$$, 'and expire() indeed takes none of them');
SELECT status FROM loyalty.review('hx', 981, 1, 'release', 'checked');
SELECT results_eq($$SELECT expires_at, points FROM loyalty.expiring_points('hx', 981, '30 days')$$,
	$$VALUES (now() + interval '5 days', 200::bigint)$$, 'released, the points are announced with their date');
SELECT loyalty.announce_expiring() >= 0;
SELECT results_eq($$SELECT payload FROM loyalty.event WHERE program_id = loyalty.program_id('hx')
	   AND kind = 'points_expiring'$$,
	$$VALUES (jsonb_build_object('expires_at', now() + interval '5 days', 'points', 200, 'days_before', 7))$$,
	'and get their reminder then');

-- A hold a refund emptied, dismissed, holds the order no more: undoing the
-- refund earns the points as the order's own (available, counted toward
-- the tier), not into a hold no open flag can decide on.
SELECT code FROM loyalty.create_program('hd', 'Hold dismissed', 'EUR', 1, 1);
SELECT tier_basis FROM loyalty.set_tier_policy('hd', 'points');
SELECT code FROM loyalty.set_tier('hd', 'silver', 'Silver', 100);
SELECT action FROM loyalty.set_fraud_check('hd', 'points_per_day', 'hold', 150);
CREATE TABLE hd_orders (LIKE shop_orders INCLUDING ALL);
SELECT source_id > 0 FROM loyalty.track_orders('hd_orders', 'hd', 'customer', 'id', 'amount',
	status_column => 'status', ordered_at_column => 'ordered_at', refund_statuses => ARRAY['refunded']);
INSERT INTO hd_orders (id, customer, amount, ordered_at) VALUES ('d1', 991, 200, now());
UPDATE hd_orders SET status = 'refunded' WHERE id = 'd1';
SELECT status FROM loyalty.review('hd', 991, 1, 'dismiss', 'refunded anyway');
UPDATE hd_orders SET status = 'paid' WHERE id = 'd1';
SELECT results_eq($$SELECT available, pending FROM loyalty.balance('hd', 991)$$,
	$$VALUES (200::bigint, 0::bigint)$$,
	'a dismissed emptied hold: the order''s points earned again are available');
SELECT results_eq($$SELECT tier, loyalty.window_total(qualifying, now()) FROM loyalty.account
	   WHERE program_id = loyalty.program_id('hd') AND customer_id = 991$$,
	$$VALUES ('silver'::text, 200::bigint)$$, 'and count toward the tier');
SELECT is_empty($$SELECT * FROM loyalty.lot WHERE program_id = loyalty.program_id('hd')
	   AND pending AND available_at IS NULL$$, 'no lot is left held with no open flag');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify: no problem after the dismissed hold');

-- Orders recorded newest first (an offline till syncing its queue) are a
-- burst as much as the same orders oldest first: each counts with the
-- busiest window that holds it, newer orders included.
SELECT code FROM loyalty.create_program('oo', 'Out of order', 'EUR', 1, 1);
SELECT action FROM loyalty.set_fraud_check('oo', 'points_per_day', 'hold', 150);
SELECT action FROM loyalty.set_fraud_check('oo', 'order_velocity', 'flag', 2);
CREATE TABLE oo_orders (LIKE shop_orders INCLUDING ALL);
SELECT source_id > 0 FROM loyalty.track_orders('oo_orders', 'oo', 'customer', 'id', 'amount',
	ordered_at_column => 'ordered_at');
INSERT INTO oo_orders (id, customer, amount, ordered_at) VALUES ('n1', 1001, 100, now() - interval '1 hour');
INSERT INTO oo_orders (id, customer, amount, ordered_at) VALUES ('n2', 1001, 100, now() - interval '3 hours');
INSERT INTO oo_orders (id, customer, amount, ordered_at) VALUES ('n3', 1001, 100, now() - interval '5 hours');
INSERT INTO oo_orders (id, customer, amount, ordered_at) VALUES ('m1', 1002, 10, now() - interval '1 minute');
INSERT INTO oo_orders (id, customer, amount, ordered_at) VALUES ('m2', 1002, 11, now() - interval '5 minutes');
INSERT INTO oo_orders (id, customer, amount, ordered_at) VALUES ('m3', 1002, 12, now() - interval '9 minutes');
SELECT results_eq(
	$$SELECT customer_id, flag_no, check_name, action, measured, order_key FROM loyalty.fraud_flag
	   WHERE program_id = loyalty.program_id('oo') ORDER BY customer_id, flag_no$$,
	$$VALUES (1001::bigint, 1::bigint, 'points_per_day'::text, 'hold'::text, 200::bigint, 'n2'::text),
			 (1001, 2, 'points_per_day', 'hold', 300, 'n3'),
			 (1002, 1, 'order_velocity', 'flag', 3, 'm3')$$,
	'orders recorded newest first count with the newer ones: 300 points in 5 hours hold, 3 orders in 9 minutes flag');
SELECT results_eq($$SELECT available, pending FROM loyalty.balance('oo', 1001)$$,
	$$VALUES (100::bigint, 200::bigint)$$, 'the two orders past the threshold are held');

SELECT * FROM finish();
ROLLBACK;
