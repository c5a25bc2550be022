\i test/setup.sql
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(95);

DO $$BEGIN
	PERFORM loyalty.create_program('p', 'VN Retail', 'VND', 10, 100000);
	PERFORM loyalty.enroll('p', c) FROM generate_series(1, 6) c;
END$$;

-- A member's balances, ledger size and lots in one line, to show what changed.
CREATE FUNCTION pg_temp.member_state(c bigint) RETURNS text LANGUAGE sql AS $$
	SELECT format('available=%s pending=%s earned=%s redeemed=%s ledger=%s lots=%s',
		a.available, a.pending, a.lifetime_earned, a.lifetime_redeemed,
		(SELECT count(*) FROM loyalty.ledger l WHERE l.customer_id = c),
		(SELECT coalesce(string_agg(format('%s:%s', t.lot_no, t.remaining), ',' ORDER BY t.lot_no), '-')
		   FROM loyalty.lot t WHERE t.customer_id = c))
	  FROM loyalty.account a WHERE a.customer_id = c
$$;

-- earn returns the new ledger entry.

SELECT results_eq(
	$$SELECT customer_id, program_id = loyalty.program_id('p'), entry_no, kind, points,
			 pending_points, available_after, pending_after, reason, reference, idempotency_key,
			 actor = current_user, expires_at, created_at = now()
		FROM loyalty.earn('p', 1, 100, 'welcome bonus', 'signup')$$,
	$$VALUES (1::bigint, true, 1::bigint, 'earn', 100::bigint, 0::bigint, 100::bigint, 0::bigint,
			  'welcome bonus', 'signup', NULL::text, true, NULL::timestamptz, true)$$,
	'earn returns the ledger entry: entry 1, kind earn, 100 points, 100 available after, caller as actor');
SELECT results_eq(
	$$SELECT entry_no, kind, points, available_after, reason, reference
		FROM loyalty.earn('p', 1, 50)$$,
	$$VALUES (2::bigint, 'earn', 50::bigint, 150::bigint, 'manual', NULL::text)$$,
	'a second earning is entry 2; the reason defaults to "manual"');
SELECT results_eq(
	$$SELECT customer_id, entry_no, available_after FROM loyalty.earn('p', 2, 7)$$,
	$$VALUES (2::bigint, 1::bigint, 7::bigint)$$,
	'entry numbers are counted per member: member 2''s first entry is 1');
SELECT results_eq(
	$$SELECT program, customer_id, status, available, pending, lifetime_earned,
			 lifetime_redeemed, lifetime_expired, last_activity_at = now()
		FROM loyalty.balance('p', 1)$$,
	$$VALUES ('p', 1::bigint, 'active', 150::bigint, 0::bigint, 150::bigint, 0::bigint, 0::bigint, true)$$,
	'balance shows 150 available, 150 earned, nothing redeemed, and the last activity');
SELECT results_eq(
	$$SELECT entry_no, kind, points, available_after, reason
		FROM loyalty.redeem('p', 1, 30)$$,
	$$VALUES (3::bigint, 'redeem', -30::bigint, 120::bigint, 'redemption')$$,
	'redeem returns entry 3 with -30 points, 120 available after; the reason defaults to "redemption"');
SELECT results_eq(
	$$SELECT available, lifetime_earned, lifetime_redeemed FROM loyalty.balance('p', 1)$$,
	$$VALUES (120::bigint, 150::bigint, 30::bigint)$$,
	'balance after the redemption: 120 available, 150 earned, 30 redeemed');
SELECT is(pg_temp.member_state(1), 'available=120 pending=0 earned=150 redeemed=30 ledger=3 lots=1:70,2:50',
	'the redemption took 30 from the older of two never-expiring lots');

-- Redeeming more than available is refused and changes nothing.
SELECT throws_ok(
	$$SELECT loyalty.redeem('p', 1, 121)$$,
	'LY004', 'insufficient points: 120 available, 121 requested',
	'redeeming one point more than available raises LY004');
SELECT is(pg_temp.member_state(1), 'available=120 pending=0 earned=150 redeemed=30 ledger=3 lots=1:70,2:50',
	'the refused redemption changed no balance, ledger entry or lot');

-- Idempotency keys.

SELECT results_eq(
	$$SELECT entry_no, kind, points, available_after, reference, idempotency_key
		FROM loyalty.earn('p', 1, 25, 'order', 'order-1001', 'order-1001')$$,
	$$VALUES (4::bigint, 'earn', 25::bigint, 145::bigint, 'order-1001', 'order-1001')$$,
	'an earning with an idempotency key is entry 4');
SELECT results_eq(
	$$SELECT * FROM loyalty.earn('p', 1, 25, 'order', 'order-1001', 'order-1001')$$,
	$$SELECT * FROM loyalty.ledger WHERE customer_id = 1 AND entry_no = 4$$,
	'repeating it with the same key and parameters returns the original entry 4');
SELECT is(pg_temp.member_state(1), 'available=145 pending=0 earned=175 redeemed=30 ledger=4 lots=1:70,2:50,4:25',
	'the repeat earned nothing: 145 available, four entries, one new lot');
SELECT throws_ok(
	$$SELECT loyalty.earn('p', 1, 26, 'order', 'order-1001', 'order-1001')$$,
	'LY005', 'idempotency key "order-1001" was already used for a different request',
	'the same key with different points raises LY005');
SELECT throws_ok(
	$$SELECT loyalty.redeem('p', 1, 25, 'order', 'order-1001', 'order-1001')$$,
	'LY005', 'idempotency key "order-1001" was already used for a different request',
	'the same key for a redemption instead of an earning raises LY005');
SELECT throws_ok(
	$$SELECT loyalty.adjust('p', 1, 25, 'order', 'order-1001', 'order-1001')$$,
	'LY005', 'idempotency key "order-1001" was already used for a different request',
	'the same key for an adjustment instead of an earning raises LY005');
SELECT throws_ok(
	$$SELECT loyalty.earn('p', 1, 25, 'order', 'order-1002', 'order-1001')$$,
	'LY005', 'idempotency key "order-1001" was already used for a different request',
	'the same key with a different reference raises LY005');
SELECT throws_ok(
	$$SELECT loyalty.earn('p', 1, 25, 'order', NULL, 'order-1001')$$,
	'LY005', 'idempotency key "order-1001" was already used for a different request',
	'the same key without the original reference raises LY005');
SELECT throws_ok(
	$$SELECT loyalty.earn('p', 1, 25, 'review bonus', 'order-1001', 'order-1001')$$,
	'LY005', 'idempotency key "order-1001" was already used for a different request',
	'the same key with a different reason raises LY005');
SELECT is(pg_temp.member_state(1), 'available=145 pending=0 earned=175 redeemed=30 ledger=4 lots=1:70,2:50,4:25',
	'the conflicting requests changed nothing');
SELECT results_eq(
	$$SELECT customer_id, entry_no, points, available_after
		FROM loyalty.earn('p', 2, 25, 'order', 'order-1001', 'order-1001')$$,
	$$VALUES (2::bigint, 2::bigint, 25::bigint, 32::bigint)$$,
	'keys are per member: the same key for member 2 is a new earning');

SELECT results_eq(
	$$SELECT entry_no, kind, points, available_after
		FROM loyalty.redeem('p', 1, 45, 'voucher', 'V-1', 'redeem-1')$$,
	$$VALUES (5::bigint, 'redeem', -45::bigint, 100::bigint)$$,
	'a redemption with an idempotency key is entry 5');
SELECT results_eq(
	$$SELECT * FROM loyalty.redeem('p', 1, 45, 'voucher', 'V-1', 'redeem-1')$$,
	$$SELECT * FROM loyalty.ledger WHERE customer_id = 1 AND entry_no = 5$$,
	'repeating the redemption returns the original entry 5');
SELECT is(pg_temp.member_state(1), 'available=100 pending=0 earned=175 redeemed=75 ledger=5 lots=1:25,2:50,4:25',
	'the points were spent once');

-- Adjustments.

SELECT results_eq(
	$$SELECT entry_no, kind, points, available_after, reason
		FROM loyalty.adjust('p', 1, 40, 'goodwill: late delivery')$$,
	$$VALUES (6::bigint, 'adjust', 40::bigint, 140::bigint, 'goodwill: late delivery')$$,
	'a positive adjustment adds points with its reason');
SELECT results_eq(
	$$SELECT entry_no, kind, points, available_after, reason, reference
		FROM loyalty.adjust('p', 1, -15, 'correction: duplicate order', 'ticket-77')$$,
	$$VALUES (7::bigint, 'adjust', -15::bigint, 125::bigint, 'correction: duplicate order', 'ticket-77')$$,
	'a negative adjustment removes points with its reason and reference');
SELECT is(pg_temp.member_state(1), 'available=125 pending=0 earned=175 redeemed=75 ledger=7 lots=1:10,2:50,4:25,6:40',
	'adjustments count neither as earned nor as redeemed; the positive one is a lot, the negative one spent the oldest');
SELECT throws_ok(
	$$SELECT loyalty.adjust('p', 1, -126, 'correction')$$,
	'LY004', 'insufficient points: 125 available, 126 requested',
	'a negative adjustment beyond the available balance raises LY004');
SELECT throws_ok(
	$$SELECT loyalty.adjust('p', 1, 0, 'nothing')$$,
	'22023', 'points must not be zero',
	'a zero adjustment raises 22023');
SELECT throws_ok(
	$$SELECT loyalty.adjust('p', 1, 10, NULL)$$,
	'22004', 'reason must not be null',
	'an adjustment without a reason raises 22004');
SELECT is(pg_temp.member_state(1), 'available=125 pending=0 earned=175 redeemed=75 ledger=7 lots=1:10,2:50,4:25,6:40',
	'the refused adjustments changed nothing');

-- Spending to exactly zero.
SELECT results_eq(
	$$SELECT entry_no, points, available_after FROM loyalty.redeem('p', 1, 125)$$,
	$$VALUES (8::bigint, -125::bigint, 0::bigint)$$,
	'redeeming exactly the available balance leaves 0');
SELECT is(pg_temp.member_state(1), 'available=0 pending=0 earned=175 redeemed=200 ledger=8 lots=1:0,2:0,4:0,6:0',
	'every lot is spent');
SELECT throws_ok(
	$$SELECT loyalty.redeem('p', 1, 1)$$,
	'LY004', 'insufficient points: 0 available, 1 requested',
	'nothing more can be redeemed from a zero balance');
SELECT results_eq(
	$$SELECT entry_no, points, available_after FROM loyalty.redeem('p', 1, 45, 'voucher', 'V-1', 'redeem-1')$$,
	$$VALUES (5::bigint, -45::bigint, 100::bigint)$$,
	'a retried redemption still returns its original entry after the balance fell below its points');
SELECT is(pg_temp.member_state(1), 'available=0 pending=0 earned=175 redeemed=200 ledger=8 lots=1:0,2:0,4:0,6:0',
	'the refused and the retried redemption changed nothing');

-- Oldest-expiring points are spent first.

SELECT results_eq(
	$$SELECT entry_no, expires_at = now() + interval '30 days'
		FROM loyalty.earn('p', 3, 100, expires_at => now() + interval '30 days')$$,
	$$VALUES (1::bigint, true)$$,
	'an earning with an expiry date records it on the entry');
DO $$BEGIN
	PERFORM loyalty.earn('p', 3, 50, expires_at => now() + interval '10 days');
	PERFORM loyalty.earn('p', 3, 70);
	PERFORM loyalty.earn('p', 3, 40, expires_at => now() + interval '20 days');
END$$;
SELECT results_eq(
	$$SELECT lot_no, points, remaining, pending, earned_at = now(), expires_at - now()
		FROM loyalty.lot WHERE customer_id = 3 ORDER BY lot_no$$,
	$$VALUES (1::bigint, 100::bigint, 100::bigint, false, true, interval '30 days'),
			 (2, 50, 50, false, true, interval '10 days'),
			 (3, 70, 70, false, true, NULL),
			 (4, 40, 40, false, true, interval '20 days')$$,
	'each earning is a lot with its points and expiry; one never expires');
SELECT results_eq(
	$$SELECT available_after FROM loyalty.redeem('p', 3, 80)$$,
	$$VALUES (180::bigint)$$,
	'redeeming 80 of 260 leaves 180');
SELECT results_eq(
	$$SELECT lot_no, remaining FROM loyalty.lot WHERE customer_id = 3 ORDER BY lot_no$$,
	$$VALUES (1::bigint, 100::bigint), (2, 0), (3, 70), (4, 10)$$,
	'the 80 came from the lot expiring in 10 days (50), then the one expiring in 20 days (30)');
SELECT results_eq(
	$$SELECT available_after FROM loyalty.redeem('p', 3, 120)$$,
	$$VALUES (60::bigint)$$,
	'redeeming 120 more leaves 60');
SELECT results_eq(
	$$SELECT lot_no, remaining FROM loyalty.lot WHERE customer_id = 3 ORDER BY lot_no$$,
	$$VALUES (1::bigint, 0::bigint), (2, 0), (3, 60), (4, 0)$$,
	'the 120 finished the 20-day lot (10), then the 30-day lot (100), then took 10 from the never-expiring lot');
SELECT results_eq(
	$$SELECT available_after FROM loyalty.adjust('p', 3, 30, 'compensation', expires_at => now() + interval '5 days')$$,
	$$VALUES (90::bigint)$$,
	'a positive adjustment with an expiry adds a lot');
SELECT results_eq(
	$$SELECT available_after FROM loyalty.adjust('p', 3, -40, 'correction')$$,
	$$VALUES (50::bigint)$$,
	'a negative adjustment of 40 leaves 50');
SELECT results_eq(
	$$SELECT lot_no, remaining, expires_at - now() FROM loyalty.lot WHERE customer_id = 3 ORDER BY lot_no$$,
	$$VALUES (1::bigint, 0::bigint, interval '30 days'), (2, 0, interval '10 days'), (3, 50, NULL),
			 (4, 0, interval '20 days'), (7, 0, interval '5 days')$$,
	'the negative adjustment took the 5-day lot (30) first, then 10 from the never-expiring lot');
SELECT results_eq(
	$$SELECT available_after FROM loyalty.redeem('p', 3, 50)$$,
	$$VALUES (0::bigint)$$,
	'redeeming the last 50 leaves 0');
SELECT is((SELECT sum(remaining) FROM loyalty.lot WHERE customer_id = 3), 0::numeric,
	'no lot has points left');
SELECT throws_ok(
	$$SELECT loyalty.redeem('p', 3, 1)$$,
	'LY004', 'insufficient points: 0 available, 1 requested',
	'a member with spent lots cannot redeem');
SELECT is(pg_temp.member_state(3), 'available=0 pending=0 earned=260 redeemed=250 ledger=9 lots=1:0,2:0,3:0,4:0,7:0',
	'the refused redemption changed nothing');

-- Pending points.

SELECT results_eq(
	$$SELECT entry_no, kind, points, pending_points, available_after, pending_after
		FROM loyalty.earn('p', 5, 200, reference => 'order-9', pending_until => now() + interval '14 days')$$,
	$$VALUES (1::bigint, 'earn', 0::bigint, 200::bigint, 0::bigint, 200::bigint)$$,
	'an earning with pending_until adds to the pending balance, not the available one');
SELECT results_eq(
	$$SELECT available, pending, lifetime_earned FROM loyalty.balance('p', 5)$$,
	$$VALUES (0::bigint, 200::bigint, 200::bigint)$$,
	'balance shows 200 pending, 0 available, 200 earned');
SELECT results_eq(
	$$SELECT lot_no, remaining, pending, available_at = now() + interval '14 days' FROM loyalty.lot WHERE customer_id = 5$$,
	$$VALUES (1::bigint, 200::bigint, true, true)$$,
	'the lot is pending until the end of the return window');
SELECT throws_ok(
	$$SELECT loyalty.redeem('p', 5, 1)$$,
	'LY004', 'insufficient points: 0 available, 1 requested',
	'pending points cannot be redeemed');
SELECT throws_ok(
	$$SELECT loyalty.adjust('p', 5, -1, 'correction')$$,
	'LY004', 'insufficient points: 0 available, 1 requested',
	'pending points cannot be removed by a negative adjustment');
SELECT throws_ok(
	$$SELECT loyalty.release_pending(NULL)$$,
	'22004', 'as_of must not be null',
	'release_pending refuses a NULL time');
SELECT is(loyalty.release_pending(now() + interval '13 days'), 0::numeric,
	'release_pending before the hold ends releases nothing');
SELECT is(pg_temp.member_state(5), 'available=0 pending=200 earned=200 redeemed=0 ledger=1 lots=1:200',
	'the early release changed nothing');
SELECT is(loyalty.release_pending(now() + interval '15 days'), 200::numeric,
	'release_pending after the hold ends releases the 200 points');
SELECT results_eq(
	$$SELECT entry_no, kind, points, pending_points, available_after, pending_after, reason,
			 actor, db_role = session_user
		FROM loyalty.ledger WHERE customer_id = 5 ORDER BY entry_no DESC LIMIT 1$$,
	$$VALUES (2::bigint, 'release', 200::bigint, -200::bigint, 200::bigint, 0::bigint,
			  'return window passed', 'loyalty.release_pending', true)$$,
	'the release is ledger entry 2, moving 200 from pending to available');
SELECT results_eq(
	$$SELECT available, pending, lifetime_earned FROM loyalty.balance('p', 5)$$,
	$$VALUES (200::bigint, 0::bigint, 200::bigint)$$,
	'balance shows the 200 available; lifetime earned counts them once');
SELECT results_eq(
	$$SELECT remaining, pending FROM loyalty.lot WHERE customer_id = 5$$,
	$$VALUES (200::bigint, false)$$,
	'the lot is no longer pending');
SELECT is(loyalty.release_pending(now() + interval '15 days'), 0::numeric,
	'running release_pending again releases nothing');
SELECT is(pg_temp.member_state(5), 'available=200 pending=0 earned=200 redeemed=0 ledger=2 lots=1:200',
	'the second run wrote no entry');
SELECT results_eq(
	$$SELECT points, available_after FROM loyalty.redeem('p', 5, 150)$$,
	$$VALUES (-150::bigint, 50::bigint)$$,
	'released points can be redeemed');

-- Spending walks the lots in order and stops when the points are covered.
-- Member 7 gets lots whose spending order (expires_at, then lot_no) mixes
-- pending lots, a pending lot whose return window has passed and a lot past
-- its expiry date; member 8 holds 400 lots of one point.  Rolled back after.

SAVEPOINT many_lots;
DO $$BEGIN
	PERFORM loyalty.enroll('p', c) FROM generate_series(7, 8) c;
	PERFORM loyalty.earn('p', 7, 10, expires_at => now() + interval '10 days');
	PERFORM loyalty.earn('p', 7, 20, expires_at => now() + interval '5 days',
						 pending_until => now() + interval '2 days');
	PERFORM loyalty.earn('p', 7, 30, expires_at => now() + interval '7 days');
	PERFORM loyalty.earn('p', 7, 40, expires_at => now() + interval '3 days');
	PERFORM loyalty.earn('p', 7, 50);
	PERFORM loyalty.earn('p', 7, 60, expires_at => now() + interval '7 days');
	PERFORM loyalty.earn('p', 7, 70, expires_at => now() + interval '6 days',
						 pending_until => now() + interval '1 day');
	PERFORM loyalty.earn('p', 7, 15, expires_at => now() + interval '1 day',
						 pending_until => now() + interval '12 hours');
	PERFORM loyalty.earn('p', 8, 1) FROM generate_series(1, 400);
END$$;
-- Time passes for two lots: lot 4 is past its date, lot 7's window has passed.
UPDATE loyalty.lot SET expires_at = now() - interval '1 day' WHERE customer_id = 7 AND lot_no = 4;
UPDATE loyalty.lot SET available_at = now() - interval '1 hour' WHERE customer_id = 7 AND lot_no = 7;
SELECT is(pg_temp.member_state(7),
	'available=190 pending=105 earned=295 redeemed=0 ledger=8 lots=1:10,2:20,3:30,4:40,5:50,6:60,7:70,8:15',
	'member 7: 190 available in lots 1, 3, 4, 5 and 6; 105 pending in lots 2, 7 and 8');
SELECT results_eq(
	$$SELECT entry_no, kind, points, available_after, pending_after FROM loyalty.redeem('p', 7, 150)$$,
	$$VALUES (11::bigint, 'redeem', -150::bigint, 70::bigint, 35::bigint)$$,
	'redeeming 150 of 220 (190, plus 70 released, less 40 expired) leaves 70 available and 35 pending');
SELECT results_eq(
	$$SELECT entry_no, kind, points, pending_points FROM loyalty.ledger
	   WHERE customer_id = 7 AND entry_no > 8 ORDER BY entry_no$$,
	$$VALUES (9::bigint, 'release', 70::bigint, -70::bigint), (10, 'expire', -40, 0),
			 (11, 'redeem', -150, 0)$$,
	'before spending, the due pending lot was released and the lot past its date expired');
SELECT is(pg_temp.member_state(7),
	'available=70 pending=35 earned=295 redeemed=150 ledger=11 lots=1:10,2:20,3:0,4:0,5:50,6:10,7:0,8:15',
	'the 150 came from lot 7 (70, released), lot 3 (30) and 50 of lot 6 (same date, later lot): the pending lots 8 and 2 were passed over');
SELECT results_eq(
	$$SELECT entry_no, points, available_after, pending_after FROM loyalty.redeem('p', 7, 70)$$,
	$$VALUES (12::bigint, -70::bigint, 0::bigint, 35::bigint)$$,
	'redeeming exactly the 70 available leaves 0');
SELECT is(pg_temp.member_state(7),
	'available=0 pending=35 earned=295 redeemed=220 ledger=12 lots=1:0,2:20,3:0,4:0,5:0,6:0,7:0,8:15',
	'the 70 emptied lot 6, lot 1 and the never-expiring lot 5; only the pending lots keep points');
SELECT throws_ok(
	$$SELECT loyalty.redeem('p', 7, 1)$$,
	'LY004', 'insufficient points: 0 available, 1 requested',
	'with only pending points left, nothing can be redeemed');
SELECT results_eq(
	$$SELECT entry_no, kind, points, available_after FROM loyalty.adjust('p', 8, -350, 'correction')$$,
	$$VALUES (401::bigint, 'adjust', -350::bigint, 50::bigint)$$,
	'member 8: a negative adjustment of 350 spans 350 lots of one point');
SELECT results_eq(
	$$SELECT count(*) FILTER (WHERE remaining = 0 AND lot_no <= 350),
			 count(*) FILTER (WHERE remaining = 1 AND lot_no > 350), count(*)
		FROM loyalty.lot WHERE customer_id = 8$$,
	$$VALUES (350::bigint, 50::bigint, 400::bigint)$$,
	'the 350 oldest lots are empty, the 50 newest untouched');
SELECT results_eq(
	$$SELECT points, available_after FROM loyalty.redeem('p', 8, 50)$$,
	$$VALUES (-50::bigint, 0::bigint)$$,
	'redeeming the last 50 points takes one from each remaining lot');
SELECT is((SELECT sum(remaining) FROM loyalty.lot WHERE customer_id = 8), 0::numeric,
	'member 8 has no points left in any lot');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$,
	'verify finds no problem after spending across many lots');
ROLLBACK TO SAVEPOINT many_lots;

-- Statements.

SELECT results_eq(
	$$SELECT entry_no, kind, points, available_after, reason FROM loyalty.statement('p', 1)$$,
	$$VALUES (1::bigint, 'earn', 100::bigint, 100::bigint, 'welcome bonus'),
			 (2, 'earn', 50, 150, 'manual'),
			 (3, 'redeem', -30, 120, 'redemption'),
			 (4, 'earn', 25, 145, 'order'),
			 (5, 'redeem', -45, 100, 'voucher'),
			 (6, 'adjust', 40, 140, 'goodwill: late delivery'),
			 (7, 'adjust', -15, 125, 'correction: duplicate order'),
			 (8, 'redeem', -125, 0, 'redemption')$$,
	'the statement lists every entry of the member in order, with its reason');
SELECT results_eq(
	$$SELECT * FROM loyalty.statement('p', 1)$$,
	$$SELECT * FROM loyalty.ledger WHERE customer_id = 1 ORDER BY entry_no$$,
	'the statement rows are the member''s ledger rows');
SELECT is((SELECT count(*) FROM loyalty.statement('p', 1, since => now())), 8::bigint,
	'since is inclusive: entries made now are in a statement since now');
SELECT is_empty($$SELECT * FROM loyalty.statement('p', 1, until => now())$$,
	'until is exclusive: entries made now are not in a statement until now');
SELECT is_empty($$SELECT * FROM loyalty.statement('p', 1, since => now() + interval '1 second')$$,
	'a statement since a later time is empty');
SELECT is((SELECT count(*) FROM loyalty.statement('p', 1, now() - interval '1 day', now() + interval '1 second')), 8::bigint,
	'a period around now holds all the entries');
SELECT is_empty($$SELECT * FROM loyalty.statement('p', 6)$$,
	'a member without activity has an empty statement');

-- verify: no rows when the stored balances agree with the ledger and the lots.

SELECT is_empty($$SELECT * FROM loyalty.verify()$$,
	'verify finds no problem after earnings, redemptions, adjustments and releases');

UPDATE loyalty.account SET available = available + 1 WHERE customer_id = 2;
SELECT results_eq(
	$$SELECT * FROM loyalty.verify()$$,
	$$VALUES ('p', 2::bigint, 'available differs from the ledger', 33::bigint, 32::bigint),
			 ('p', 2::bigint, 'spendable lots differ from the available balance', 32::bigint, 33::bigint)$$,
	'verify reports a stored available balance one point above the ledger, and the lots that disagree with it');
UPDATE loyalty.account SET available = available - 1 WHERE customer_id = 2;
SELECT is_empty($$SELECT * FROM loyalty.verify()$$,
	'verify is clean again once the balance is restored');

INSERT INTO loyalty.lot (customer_id, program_id, lot_no, points, remaining, earned_at)
VALUES (2, loyalty.program_id('p'), 1000, 5, 5, now());
SELECT results_eq(
	$$SELECT * FROM loyalty.verify()$$,
	$$VALUES ('p', 2::bigint, 'spendable lots differ from the available balance', 37::bigint, 32::bigint)$$,
	'verify reports a lot that no ledger entry created');
DELETE FROM loyalty.lot WHERE customer_id = 2 AND lot_no = 1000;

UPDATE loyalty.account SET pending = 3, lifetime_redeemed = 9 WHERE customer_id = 2;
SELECT results_eq(
	$$SELECT * FROM loyalty.verify()$$,
	$$VALUES ('p', 2::bigint, 'lifetime_redeemed differs from the ledger', 9::bigint, 0::bigint),
			 ('p', 2::bigint, 'pending differs from the ledger', 3::bigint, 0::bigint),
			 ('p', 2::bigint, 'pending lots differ from the pending balance', 0::bigint, 3::bigint)$$,
	'verify reports wrong pending and lifetime redeemed balances');
UPDATE loyalty.account SET pending = 0, lifetime_redeemed = 0 WHERE customer_id = 2;
SELECT is_empty($$SELECT * FROM loyalty.verify()$$,
	'verify is clean after the repairs');

-- The ledger is immutable.

SELECT throws_ok(
	$$UPDATE loyalty.ledger SET points = points + 1 WHERE customer_id = 2$$,
	'LY006', 'ledger entries cannot be changed or removed',
	'UPDATE of ledger entries raises LY006');
SELECT throws_ok(
	$$UPDATE loyalty.ledger SET reason = 'edited' WHERE customer_id = 1 AND entry_no = 1$$,
	'LY006', 'ledger entries cannot be changed or removed',
	'even a reason cannot be edited');
SELECT throws_ok(
	$$DELETE FROM loyalty.ledger WHERE customer_id = 1$$,
	'LY006', 'ledger entries cannot be changed or removed',
	'DELETE of ledger entries raises LY006');
SELECT throws_ok(
	$$TRUNCATE loyalty.ledger$$,
	'LY006', 'ledger entries cannot be changed or removed',
	'TRUNCATE of the ledger raises LY006');
SELECT throws_ok(
	$$TRUNCATE loyalty.account CASCADE$$,
	'LY006', 'ledger entries cannot be changed or removed',
	'a TRUNCATE that cascades from the accounts to the ledger raises LY006 too');
SELECT results_eq(
	$$SELECT customer_id, count(*), sum(points) FROM loyalty.ledger GROUP BY customer_id ORDER BY customer_id$$,
	$$VALUES (1::bigint, 8::bigint, 0::numeric), (2, 2, 32), (3, 9, 0), (5, 3, 50)$$,
	'every ledger entry is still there, unchanged');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$,
	'verify finds no problem at the end');

SELECT * FROM finish();
ROLLBACK;
