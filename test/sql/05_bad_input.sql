\i test/setup.sql
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(114);

-- Member 1 is active with 100 points, member 2 is suspended with 10, member 3
-- is active with nothing.
DO $$BEGIN
	PERFORM loyalty.create_program('p', 'VN Retail', 'VND', 10, 100000);
	PERFORM loyalty.enroll('p', c) FROM generate_series(1, 3) c;
	PERFORM loyalty.earn('p', 1, 100);
	PERFORM loyalty.earn('p', 2, 10);
	PERFORM loyalty.set_member_status('p', 2, 'suspended');
END$$;

-- Everything a failed call could have changed, in one line.
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE sql AS $$
	SELECT format('members=%s accounts=%s ledger=%s lots=%s',
		(SELECT string_agg(format('%s:%s', m.customer_id, m.status), ',' ORDER BY m.customer_id)
		   FROM loyalty.member m),
		(SELECT string_agg(format('%s:%s/%s/%s/%s/%s', a.customer_id, a.available, a.pending,
				a.lifetime_earned, a.lifetime_redeemed, a.last_entry_no), ',' ORDER BY a.customer_id)
		   FROM loyalty.account a),
		(SELECT count(*) FROM loyalty.ledger),
		(SELECT string_agg(format('%s.%s:%s', t.customer_id, t.lot_no, t.remaining), ','
				ORDER BY t.customer_id, t.lot_no)
		   FROM loyalty.lot t))
$$;
SELECT is(pg_temp.state(), 'members=1:active,2:suspended,3:active accounts=1:100/0/100/0/1,2:10/0/10/0/1,3:0/0/0/0/0 ledger=2 lots=1.1:100,2.1:10',
	'the starting state: member 1 has 100 points, suspended member 2 has 10, member 3 none');
SELECT pg_temp.state() AS state0 \gset

-- earn

SELECT throws_ok($$SELECT loyalty.earn(NULL, 1, 10)$$,
	'22004', 'program must not be null', 'earn: NULL program');
SELECT throws_ok($$SELECT loyalty.earn('p', NULL, 10)$$,
	'22004', 'customer_id must not be null', 'earn: NULL customer_id');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, NULL)$$,
	'22004', 'points must not be null', 'earn: NULL points');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 0)$$,
	'22023', 'points must be positive', 'earn: zero points');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, -5)$$,
	'22023', 'points must be positive', 'earn: negative points');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 9223372036854775807)$$,
	'22003', 'the total balance would exceed the largest number of points',
	'earn: the largest bigint on top of 100 points overflows the available balance');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 9223372036854775807, pending_until => now() + interval '1 day')$$,
	'22003', 'the total balance would exceed the largest number of points',
	'earn: the largest bigint held pending on top of 100 earned points overflows the total balance');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 9223372036854775808::bigint)$$,
	'22003', 'bigint out of range',
	'earn: a points literal beyond bigint fails in its cast');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, '9223372036854775808')$$,
	'22003', 'value "9223372036854775808" is out of range for type bigint',
	'earn: points beyond bigint passed as text fail on input');
SELECT throws_ok($$SELECT loyalty.earn('nope', 1, 10)$$,
	'LY001', 'unknown loyalty program "nope"', 'earn: unknown program');
SELECT throws_ok($$SELECT loyalty.earn('P', 1, 10)$$,
	'LY001', 'unknown loyalty program "P"', 'earn: program codes are case-sensitive');
SELECT throws_ok($$SELECT loyalty.earn('p', 999, 10)$$,
	'LY002', 'unknown member 999 in program "p"', 'earn: unknown member');
SELECT throws_ok($$SELECT loyalty.earn('p', 2, 10)$$,
	'LY003', 'member 2 in program "p" is suspended', 'earn: suspended member');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, reason => '')$$,
	'22023', 'reason must not be empty', 'earn: empty reason');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, reason => repeat('r', 201))$$,
	'22001', 'reason is too long', 'earn: reason of 201 bytes');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, reason => repeat('é', 101))$$,
	'22001', 'reason is too long', 'earn: reason of 101 characters but 202 bytes (the limit is in bytes)');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, reference => '')$$,
	'22023', 'reference must not be empty', 'earn: empty reference');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, reference => repeat('x', 201))$$,
	'22001', 'reference is too long', 'earn: reference of 201 bytes');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, idempotency_key => '')$$,
	'22023', 'idempotency_key must not be empty', 'earn: empty idempotency key');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, idempotency_key => repeat('k', 201))$$,
	'22001', 'idempotency_key is too long', 'earn: idempotency key of 201 bytes');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, actor => '')$$,
	'22023', 'actor must not be empty', 'earn: empty actor');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, actor => repeat('a', 201))$$,
	'22001', 'actor is too long', 'earn: actor of 201 bytes');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, expires_at => now() - interval '1 day')$$,
	'22023', 'expires_at must be in the future', 'earn: expires_at in the past');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, expires_at => now())$$,
	'22023', 'expires_at must be in the future', 'earn: expires_at now');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, expires_at => 'infinity')$$,
	'22023', 'expires_at must be a finite time', 'earn: expires_at infinity (NULL means never)');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, expires_at => '-infinity')$$,
	'22023', 'expires_at must be a finite time', 'earn: expires_at -infinity');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, pending_until => now() - interval '1 second')$$,
	'22023', 'pending_until must be in the future', 'earn: pending_until in the past');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, pending_until => 'infinity')$$,
	'22023', 'pending_until must be a finite time', 'earn: pending_until infinity');
SELECT throws_ok(
	$$SELECT loyalty.earn('p', 1, 10, expires_at => now() + interval '10 days',
		pending_until => now() + interval '14 days')$$,
	'22023', 'expires_at must be later than pending_until', 'earn: pending_until after expires_at');
SELECT throws_ok(
	$$SELECT loyalty.earn('p', 1, 10, expires_at => now() + interval '14 days',
		pending_until => now() + interval '14 days')$$,
	'22023', 'expires_at must be later than pending_until', 'earn: pending_until equal to expires_at');
SELECT is(pg_temp.state(), :'state0', 'earn: the refused calls changed no balance, ledger entry or lot');

-- Idempotency keys: the same request returns the original, a different one is refused.

SELECT results_eq(
	$$SELECT entry_no, points, available_after FROM loyalty.earn('p', 1, 10, 'order', 'order-7', 'order-7')$$,
	$$VALUES (2::bigint, 10::bigint, 110::bigint)$$,
	'an earning with idempotency key order-7 is entry 2');
SELECT pg_temp.state() AS state1 \gset
SELECT results_eq(
	$$SELECT entry_no, points, available_after FROM loyalty.earn('p', 1, 10, 'order', 'order-7', 'order-7')$$,
	$$VALUES (2::bigint, 10::bigint, 110::bigint)$$,
	'repeating it unchanged returns entry 2 again');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 11, 'order', 'order-7', 'order-7')$$,
	'LY005', 'idempotency key "order-7" was already used for a different request',
	'the key with other points is refused');
SELECT throws_ok($$SELECT loyalty.redeem('p', 1, 10, 'order', 'order-7', 'order-7')$$,
	'LY005', 'idempotency key "order-7" was already used for a different request',
	'the key for a redemption is refused');
SELECT throws_ok($$SELECT loyalty.earn('p', 1, 10, 'order', 'order-8', 'order-7')$$,
	'LY005', 'idempotency key "order-7" was already used for a different request',
	'the key with another reference is refused');
SELECT is(pg_temp.state(), :'state1', 'idempotency: the repeat and the conflicts changed nothing');

-- redeem

SELECT throws_ok($$SELECT loyalty.redeem(NULL, 1, 10)$$,
	'22004', 'program must not be null', 'redeem: NULL program');
SELECT throws_ok($$SELECT loyalty.redeem('p', NULL, 10)$$,
	'22004', 'customer_id must not be null', 'redeem: NULL customer_id');
SELECT throws_ok($$SELECT loyalty.redeem('p', 1, NULL)$$,
	'22004', 'points must not be null', 'redeem: NULL points');
SELECT throws_ok($$SELECT loyalty.redeem('p', 1, 0)$$,
	'22023', 'points must be positive', 'redeem: zero points');
SELECT throws_ok($$SELECT loyalty.redeem('p', 1, -10)$$,
	'22023', 'points must be positive', 'redeem: negative points (a redemption cannot add points)');
SELECT throws_ok($$SELECT loyalty.redeem('p', 1, 111)$$,
	'LY004', 'insufficient points: 110 available, 111 requested', 'redeem: more than available');
SELECT throws_ok($$SELECT loyalty.redeem('p', 1, 9223372036854775807)$$,
	'LY004', 'insufficient points: 110 available, 9223372036854775807 requested',
	'redeem: the largest bigint is simply more than available');
SELECT throws_ok($$SELECT loyalty.redeem('p', 1, 9223372036854775808::bigint)$$,
	'22003', 'bigint out of range', 'redeem: points beyond bigint');
SELECT throws_ok($$SELECT loyalty.redeem('nope', 1, 10)$$,
	'LY001', 'unknown loyalty program "nope"', 'redeem: unknown program');
SELECT throws_ok($$SELECT loyalty.redeem('p', 999, 10)$$,
	'LY002', 'unknown member 999 in program "p"', 'redeem: unknown member');
SELECT throws_ok($$SELECT loyalty.redeem('p', 2, 5)$$,
	'LY003', 'member 2 in program "p" is suspended', 'redeem: suspended member, even with points');
SELECT throws_ok($$SELECT loyalty.redeem('p', 1, 10, reason => '')$$,
	'22023', 'reason must not be empty', 'redeem: empty reason');
SELECT throws_ok($$SELECT loyalty.redeem('p', 1, 10, reason => repeat('r', 201))$$,
	'22001', 'reason is too long', 'redeem: reason of 201 bytes');
SELECT throws_ok($$SELECT loyalty.redeem('p', 1, 10, reference => '')$$,
	'22023', 'reference must not be empty', 'redeem: empty reference');
SELECT throws_ok($$SELECT loyalty.redeem('p', 1, 10, reference => repeat('x', 201))$$,
	'22001', 'reference is too long', 'redeem: reference of 201 bytes');
SELECT throws_ok($$SELECT loyalty.redeem('p', 1, 10, idempotency_key => '')$$,
	'22023', 'idempotency_key must not be empty', 'redeem: empty idempotency key');
SELECT throws_ok($$SELECT loyalty.redeem('p', 1, 10, idempotency_key => repeat('k', 201))$$,
	'22001', 'idempotency_key is too long', 'redeem: idempotency key of 201 bytes');
SELECT throws_ok($$SELECT loyalty.redeem('p', 1, 10, actor => '')$$,
	'22023', 'actor must not be empty', 'redeem: empty actor');
SELECT is(pg_temp.state(), :'state1', 'redeem: the refused calls changed no balance, ledger entry or lot');

-- adjust

SELECT throws_ok($$SELECT loyalty.adjust(NULL, 1, 10, 'fix')$$,
	'22004', 'program must not be null', 'adjust: NULL program');
SELECT throws_ok($$SELECT loyalty.adjust('p', NULL, 10, 'fix')$$,
	'22004', 'customer_id must not be null', 'adjust: NULL customer_id');
SELECT throws_ok($$SELECT loyalty.adjust('p', 1, NULL, 'fix')$$,
	'22004', 'points must not be null', 'adjust: NULL points');
SELECT throws_ok($$SELECT loyalty.adjust('p', 1, 10, NULL)$$,
	'22004', 'reason must not be null', 'adjust: NULL reason (a correction needs one)');
SELECT throws_ok($$SELECT loyalty.adjust('p', 1, 0, 'fix')$$,
	'22023', 'points must not be zero', 'adjust: zero points');
SELECT throws_ok($$SELECT loyalty.adjust('p', 1, -9223372036854775808, 'fix')$$,
	'22003', 'points out of range', 'adjust: the smallest bigint');
SELECT throws_ok($$SELECT loyalty.adjust('p', 1, 9223372036854775807, 'fix')$$,
	'22003', 'the total balance would exceed the largest number of points',
	'adjust: the largest bigint on top of 110 points');
SELECT throws_ok($$SELECT loyalty.adjust('p', 1, 9223372036854775808::bigint, 'fix')$$,
	'22003', 'bigint out of range', 'adjust: points beyond bigint');
SELECT throws_ok($$SELECT loyalty.adjust('p', 1, -111, 'fix')$$,
	'LY004', 'insufficient points: 110 available, 111 requested', 'adjust: removing more than available');
SELECT throws_ok($$SELECT loyalty.adjust('p', 1, 10, '')$$,
	'22023', 'reason must not be empty', 'adjust: empty reason');
SELECT throws_ok($$SELECT loyalty.adjust('p', 1, 10, repeat('r', 201))$$,
	'22001', 'reason is too long', 'adjust: reason of 201 bytes');
SELECT throws_ok($$SELECT loyalty.adjust('p', 1, 10, 'fix', reference => '')$$,
	'22023', 'reference must not be empty', 'adjust: empty reference');
SELECT throws_ok($$SELECT loyalty.adjust('p', 1, 10, 'fix', idempotency_key => repeat('k', 201))$$,
	'22001', 'idempotency_key is too long', 'adjust: idempotency key of 201 bytes');
SELECT throws_ok($$SELECT loyalty.adjust('p', 1, 10, 'fix', actor => repeat('a', 201))$$,
	'22001', 'actor is too long', 'adjust: actor of 201 bytes');
SELECT throws_ok($$SELECT loyalty.adjust('p', 1, -10, 'fix', expires_at => now() + interval '1 day')$$,
	'22023', 'expires_at applies only to a positive adjustment', 'adjust: expires_at on a negative adjustment');
SELECT throws_ok($$SELECT loyalty.adjust('p', 1, 10, 'fix', expires_at => now() - interval '1 day')$$,
	'22023', 'expires_at must be in the future', 'adjust: expires_at in the past');
SELECT throws_ok($$SELECT loyalty.adjust('p', 1, 10, 'fix', expires_at => 'infinity')$$,
	'22023', 'expires_at must be a finite time', 'adjust: expires_at infinity');
SELECT throws_ok($$SELECT loyalty.adjust('nope', 1, 10, 'fix')$$,
	'LY001', 'unknown loyalty program "nope"', 'adjust: unknown program');
SELECT throws_ok($$SELECT loyalty.adjust('p', 999, 10, 'fix')$$,
	'LY002', 'unknown member 999 in program "p"', 'adjust: unknown member');
SELECT throws_ok($$SELECT loyalty.adjust('p', 2, 10, 'fix')$$,
	'LY003', 'member 2 in program "p" is suspended', 'adjust: suspended member');
SELECT is(pg_temp.state(), :'state1', 'adjust: the refused calls changed no balance, ledger entry or lot');

-- balance

SELECT throws_ok($$SELECT loyalty.balance(NULL, 1)$$,
	'22004', 'program must not be null', 'balance: NULL program');
SELECT throws_ok($$SELECT loyalty.balance('p', NULL)$$,
	'22004', 'customer_id must not be null', 'balance: NULL customer_id');
SELECT throws_ok($$SELECT loyalty.balance('nope', 1)$$,
	'LY001', 'unknown loyalty program "nope"', 'balance: unknown program');
SELECT throws_ok($$SELECT loyalty.balance('p', 999)$$,
	'LY002', 'unknown member 999 in program "p"', 'balance: unknown member');
SELECT results_eq(
	$$SELECT status, available FROM loyalty.balance('p', 2)$$,
	$$VALUES ('suspended', 10::bigint)$$,
	'balance: a suspended member''s balance can still be read');

-- points_for

SELECT throws_ok($$SELECT loyalty.points_for(NULL, 100000)$$,
	'22004', 'program must not be null', 'points_for: NULL program');
SELECT throws_ok($$SELECT loyalty.points_for('p', NULL)$$,
	'22004', 'amount must not be null', 'points_for: NULL amount');
SELECT throws_ok($$SELECT loyalty.points_for('p', 'NaN')$$,
	'22023', 'amount must be a finite number', 'points_for: NaN amount');
SELECT throws_ok($$SELECT loyalty.points_for('p', 'Infinity')$$,
	'22023', 'amount must be a finite number', 'points_for: Infinity amount');
SELECT throws_ok($$SELECT loyalty.points_for('p', '-Infinity')$$,
	'22023', 'amount must be a finite number', 'points_for: -Infinity amount');
SELECT throws_ok($$SELECT loyalty.points_for('p', -100000)$$,
	'22023', 'amount must not be negative', 'points_for: negative amount');
SELECT throws_ok($$SELECT loyalty.points_for('p', -0.01)$$,
	'22023', 'amount must not be negative', 'points_for: a slightly negative amount');
SELECT throws_ok($$SELECT loyalty.points_for('nope', 100000)$$,
	'LY001', 'unknown loyalty program "nope"', 'points_for: unknown program');
SELECT throws_ok($$SELECT loyalty.points_for('p', 1e25)$$,
	'22003', 'amount earns more points than a balance can hold', 'points_for: points beyond bigint');
SELECT is(loyalty.points_for('p', 0), 0::bigint, 'points_for: a zero amount earns nothing');

-- enroll

SELECT throws_ok($$SELECT loyalty.enroll(NULL, 10)$$,
	'22004', 'program must not be null', 'enroll: NULL program');
SELECT throws_ok($$SELECT loyalty.enroll('p', NULL)$$,
	'22004', 'customer_id must not be null', 'enroll: NULL customer_id');
SELECT throws_ok($$SELECT loyalty.enroll('nope', 10)$$,
	'LY001', 'unknown loyalty program "nope"', 'enroll: unknown program');
SELECT throws_ok($$SELECT loyalty.enroll('p', 10, card => '4111111111111112')$$,
	'22P02', 'invalid input syntax for type card: "4111111111111112"',
	'enroll: a card number with a wrong check digit');
SELECT throws_ok($$SELECT loyalty.enroll('p', 10, card => '411111111111111')$$,
	'22P02', 'invalid input syntax for type card: "411111111111111"',
	'enroll: a card number of 15 digits');
SELECT throws_ok($$SELECT loyalty.enroll('p', 10, card => 'abc')$$,
	'22P02', 'invalid input syntax for type card: "abc"', 'enroll: a card number that is not digits');
SELECT throws_ok($$SELECT loyalty.enroll('p', 10, birthday => current_date + 1)$$,
	'22023', 'birthday must not be in the future', 'enroll: birthday tomorrow');
SELECT throws_ok($$SELECT loyalty.enroll('p', 10, referral_source => repeat('s', 201))$$,
	'22001', 'referral_source is too long', 'enroll: referral source of 201 characters');
SELECT throws_ok($$SELECT loyalty.enroll('p', 10, referred_by => 999)$$,
	'LY002', 'unknown referrer 999 in program "p"', 'enroll: unknown referrer');
SELECT throws_ok($$SELECT loyalty.enroll('p', 10, referred_by => 10)$$,
	'22023', 'a member cannot refer themselves', 'enroll: self-referral');
SELECT is(pg_temp.state(), :'state1', 'enroll: the refused calls created no member, account or lot');

-- statement

SELECT throws_ok($$SELECT * FROM loyalty.statement(NULL, 1)$$,
	'22004', 'program must not be null', 'statement: NULL program');
SELECT throws_ok($$SELECT * FROM loyalty.statement('p', NULL)$$,
	'22004', 'customer_id must not be null', 'statement: NULL customer_id');
SELECT throws_ok($$SELECT * FROM loyalty.statement('nope', 1)$$,
	'LY001', 'unknown loyalty program "nope"', 'statement: unknown program');
SELECT throws_ok($$SELECT * FROM loyalty.statement('p', 999)$$,
	'LY002', 'unknown member 999 in program "p"', 'statement: unknown member');
SELECT results_eq(
	$$SELECT entry_no, points FROM loyalty.statement('p', 2)$$,
	$$VALUES (1::bigint, 10::bigint)$$,
	'statement: a suspended member''s statement can still be read');

-- The limits themselves are accepted.

SELECT results_eq(
	$$SELECT octet_length(reason), octet_length(reference), octet_length(idempotency_key), octet_length(actor)
		FROM loyalty.earn('p', 3, 1, repeat('é', 100), repeat('x', 200), repeat('k', 200), actor => repeat('a', 200))$$,
	$$VALUES (200, 200, 200, 200)$$,
	'a reason, reference, idempotency key and actor of exactly 200 bytes are accepted');
SELECT results_eq(
	$$SELECT entry_no, available_after FROM loyalty.earn('p', 3, 9223372036854775806)$$,
	$$VALUES (2::bigint, 9223372036854775807::bigint)$$,
	'a balance may reach exactly the largest bigint');
SELECT throws_ok($$SELECT loyalty.earn('p', 3, 1)$$,
	'22003', 'the total balance would exceed the largest number of points',
	'one more point overflows');
SELECT results_eq(
	$$SELECT available_after FROM loyalty.redeem('p', 3, 9223372036854775807)$$,
	$$VALUES (0::bigint)$$,
	'the whole largest balance can be redeemed at once');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$,
	'verify finds every balance consistent with its ledger after all the refused calls');

SELECT * FROM finish();
ROLLBACK;
