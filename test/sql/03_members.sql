\i test/setup.sql
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(59);

DO $$BEGIN
	PERFORM loyalty.create_program('p', 'VN Retail', 'VND', 10, 100000);
	PERFORM loyalty.create_program('q', 'US Web', 'USD', 1, 1);
END$$;

-- enroll returns the member row and opens an empty account.

SELECT results_eq(
	$$SELECT customer_id, program_id = loyalty.program_id('p'), status, card::text, birthday,
			 referral_source, referred_by, enrolled_at = now(), status_changed_at = now(),
			 profile_changed_at
		FROM loyalty.enroll('p', 42, card => '4111111111111111', birthday => '1990-05-17',
			referral_source => 'facebook')$$,
	$$VALUES (42::bigint, true, 'active', '4111111111111111', '1990-05-17'::date, 'facebook',
			  NULL::bigint, true, true, NULL::timestamptz)$$,
	'enroll returns the new member: active, with its card, birthday and referral source');
SELECT results_eq(
	$$SELECT card::text FROM loyalty.member WHERE customer_id = 42$$,
	$$VALUES ('4111111111111111')$$,
	'the card number is stored on the member');
SELECT results_eq(
	$$SELECT program, customer_id, status, available, pending, lifetime_earned,
			 lifetime_redeemed, lifetime_expired, last_activity_at
		FROM loyalty.balance('p', 42)$$,
	$$VALUES ('p', 42::bigint, 'active', 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint,
			  NULL::timestamptz)$$,
	'a new member has an account with zero balances and no activity');
CREATE TEMP TABLE m42 AS SELECT * FROM loyalty.member WHERE customer_id = 42;

-- Enrolling again is idempotent, whatever the optional arguments.
SELECT results_eq(
	$$SELECT * FROM loyalty.enroll('p', 42, card => '4012888888881881', birthday => '2000-01-01',
		referral_source => 'tiktok')$$,
	$$SELECT * FROM m42$$,
	'enrolling again returns the existing member unchanged, ignoring the new card, birthday and source');
SELECT results_eq(
	$$SELECT * FROM loyalty.enroll('p', 42)$$,
	$$SELECT * FROM m42$$,
	'enrolling again without optional arguments returns the same member');
SELECT results_eq(
	$$SELECT * FROM loyalty.member WHERE customer_id = 42$$,
	$$SELECT * FROM m42$$,
	'the stored member is unchanged by the repeated enrolments');
SELECT results_eq(
	$$SELECT (SELECT count(*) FROM loyalty.member WHERE customer_id = 42),
			 (SELECT count(*) FROM loyalty.account WHERE customer_id = 42)$$,
	$$VALUES (1::bigint, 1::bigint)$$,
	'one member and one account after three enrolments');
SELECT results_eq(
	$$SELECT card::text FROM loyalty.enroll('p', 40, card => '4012-8888-8888-1881')$$,
	$$VALUES ('4012888888881881')$$,
	'a card number given in groups is stored as its 16 digits');

-- Referrals.
SELECT results_eq(
	$$SELECT customer_id, referred_by FROM loyalty.enroll('p', 43, referred_by => 42)$$,
	$$VALUES (43::bigint, 42::bigint)$$,
	'a member referred by an existing member of the same program records the referrer');
DO $$BEGIN PERFORM loyalty.enroll('q', 50); END$$;
CREATE TEMP TABLE members_before AS SELECT * FROM loyalty.member;
SELECT throws_ok(
	$$SELECT loyalty.enroll('p', 44, referred_by => 999)$$,
	'LY002', 'unknown referrer 999 in program "p"',
	'a referrer who is not a member is refused with LY002');
SELECT throws_ok(
	$$SELECT loyalty.enroll('p', 45, referred_by => 50)$$,
	'LY002', 'unknown referrer 50 in program "p"',
	'a referrer who is a member of another program only is refused with LY002');
SELECT throws_ok(
	$$SELECT loyalty.enroll('p', 46, referred_by => 46)$$,
	'22023', 'a member cannot refer themselves',
	'self-referral is refused with 22023');
SELECT throws_ok(
	$$SELECT loyalty.enroll('p', 47, birthday => current_date + 1)$$,
	'22023', 'birthday must not be in the future',
	'a birthday in the future is refused with 22023');
SELECT throws_ok(
	$$SELECT loyalty.enroll('p', 47, birthday => DATE '1899-12-31')$$,
	'22023', 'birthday must be after 1900-01-01',
	'an implausibly early birthday is refused with 22023, not a raw check violation');
SELECT results_eq(
	$$SELECT * FROM loyalty.member ORDER BY program_id, customer_id$$,
	$$SELECT * FROM members_before ORDER BY program_id, customer_id$$,
	'the refused enrolments created no member');
SELECT is((SELECT count(*) FROM loyalty.account), 4::bigint,
	'the refused enrolments created no account');
SELECT results_eq(
	$$SELECT customer_id, birthday = current_date FROM loyalty.enroll('p', 47, birthday => current_date)$$,
	$$VALUES (47::bigint, true)$$,
	'a birthday today is accepted');

-- Status: suspended, closed, active.

UPDATE loyalty.member SET enrolled_at = now() - interval '30 days',
	status_changed_at = now() - interval '30 days'
 WHERE customer_id = 42;
SELECT results_eq(
	$$SELECT status, status_changed_at = now() FROM loyalty.set_member_status('p', 42, 'suspended')$$,
	$$VALUES ('suspended', true)$$,
	'set_member_status suspends the member and records when');
SELECT throws_ok(
	$$SELECT loyalty.earn('p', 42, 10)$$,
	'LY003', 'member 42 in program "p" is suspended',
	'a suspended member cannot earn');
SELECT throws_ok(
	$$SELECT loyalty.redeem('p', 42, 1)$$,
	'LY003', 'member 42 in program "p" is suspended',
	'a suspended member cannot redeem');
SELECT is((SELECT count(*) FROM loyalty.ledger WHERE customer_id = 42), 0::bigint,
	'the refused earn and redeem wrote no ledger entry');
SELECT is((loyalty.balance('p', 42)).status, 'suspended',
	'balance still answers for a suspended member and shows the status');

UPDATE loyalty.member SET status_changed_at = now() - interval '1 day' WHERE customer_id = 42;
SELECT results_eq(
	$$SELECT status, status_changed_at = now() - interval '1 day'
		FROM loyalty.set_member_status('p', 42, 'suspended')$$,
	$$VALUES ('suspended', true)$$,
	'setting the status a member already has keeps the time of the last real change');

UPDATE loyalty.member SET status_changed_at = now() - interval '1 day' WHERE customer_id = 42;
SELECT results_eq(
	$$SELECT status, status_changed_at = now() FROM loyalty.set_member_status('p', 42, 'closed')$$,
	$$VALUES ('closed', true)$$,
	'set_member_status closes the member and records when');
SELECT throws_ok(
	$$SELECT loyalty.earn('p', 42, 10)$$,
	'LY003', 'member 42 in program "p" is closed',
	'a closed member cannot earn');
SELECT throws_ok(
	$$SELECT loyalty.redeem('p', 42, 1)$$,
	'LY003', 'member 42 in program "p" is closed',
	'a closed member cannot redeem');

UPDATE loyalty.member SET status_changed_at = now() - interval '1 day' WHERE customer_id = 42;
SELECT results_eq(
	$$SELECT status, status_changed_at = now() FROM loyalty.set_member_status('p', 42, 'active')$$,
	$$VALUES ('active', true)$$,
	'set_member_status reactivates the member and records when');
SELECT results_eq(
	$$SELECT kind, points, available_after FROM loyalty.earn('p', 42, 10)$$,
	$$VALUES ('earn', 10::bigint, 10::bigint)$$,
	'a reactivated member earns again');
SELECT results_eq(
	$$SELECT kind, points, available_after FROM loyalty.redeem('p', 42, 4)$$,
	$$VALUES ('redeem', -4::bigint, 6::bigint)$$,
	'a reactivated member redeems again');
SELECT results_eq(
	$$SELECT enrolled_at = now() - interval '30 days', card::text FROM loyalty.member WHERE customer_id = 42$$,
	$$VALUES (true, '4111111111111111')$$,
	'status changes leave the enrolment time and the card alone');

CREATE TEMP TABLE m42_active AS SELECT * FROM loyalty.member WHERE customer_id = 42;
SELECT throws_ok(
	$$SELECT loyalty.set_member_status('p', 42, 'frozen')$$,
	'22023', 'unknown member status "frozen"',
	'an unknown status is refused with 22023');
SELECT throws_ok(
	$$SELECT loyalty.set_member_status('p', 42, 'Suspended')$$,
	'22023', 'unknown member status "Suspended"',
	'statuses are lower case');
SELECT throws_ok(
	$$SELECT loyalty.set_member_status('p', 42, NULL)$$,
	'22004', 'status must not be null',
	'a NULL status is refused with 22004');
SELECT results_eq(
	$$SELECT * FROM loyalty.member WHERE customer_id = 42 AND program_id = loyalty.program_id('p')$$,
	$$SELECT * FROM m42_active$$,
	'the refused status changes left the member active and unchanged');

-- Unknown members.

SELECT throws_ok(
	$$SELECT loyalty.set_member_status('p', 999, 'closed')$$,
	'LY002', 'unknown member 999 in program "p"',
	'set_member_status of an unknown member raises LY002');
SELECT throws_ok(
	$$SELECT loyalty.update_member('p', 999, birthday => '1990-01-01')$$,
	'LY002', 'unknown member 999 in program "p"',
	'update_member of an unknown member raises LY002');
SELECT throws_ok(
	$$SELECT loyalty.balance('p', 999)$$,
	'LY002', 'unknown member 999 in program "p"',
	'balance of an unknown member raises LY002');
SELECT throws_ok(
	$$SELECT * FROM loyalty.statement('p', 999)$$,
	'LY002', 'unknown member 999 in program "p"',
	'statement of an unknown member raises LY002');
SELECT throws_ok(
	$$SELECT loyalty.balance('p', 50)$$,
	'LY002', 'unknown member 50 in program "p"',
	'a member of program q is not a member of program p');
SELECT is((SELECT count(*) FROM loyalty.member WHERE customer_id IN (999, 50)), 1::bigint,
	'no member was created by the calls for unknown members');

-- The same customer in two programs: two independent members.

SELECT results_eq(
	$$SELECT customer_id, program_id = loyalty.program_id('q'), status, card::text, birthday
		FROM loyalty.enroll('q', 42)$$,
	$$VALUES (42::bigint, true, 'active', NULL::text, NULL::date)$$,
	'customer 42 enrolls in program q as a new member, without the p member''s card or birthday');
SELECT is((SELECT count(*) FROM loyalty.member WHERE customer_id = 42), 2::bigint,
	'customer 42 is now two members, one per program');
SELECT results_eq(
	$$SELECT kind, points, available_after FROM loyalty.earn('q', 42, 7)$$,
	$$VALUES ('earn', 7::bigint, 7::bigint)$$,
	'earning in program q starts from q''s own zero balance');
SELECT results_eq(
	$$SELECT program, available, lifetime_earned FROM loyalty.balance('p', 42)
	  UNION ALL
	  SELECT program, available, lifetime_earned FROM loyalty.balance('q', 42)$$,
	$$VALUES ('p', 6::bigint, 10::bigint), ('q', 7::bigint, 7::bigint)$$,
	'each program keeps its own balance for customer 42');
SELECT results_eq(
	$$SELECT entry_no, points FROM loyalty.statement('q', 42)$$,
	$$VALUES (1::bigint, 7::bigint)$$,
	'program q''s statement holds only q''s entries, numbered from 1');
SELECT is((loyalty.set_member_status('q', 42, 'suspended')).status, 'suspended',
	'suspending customer 42 in program q succeeds');
SELECT is((loyalty.balance('p', 42)).status, 'active',
	'suspension in program q leaves the member of program p active');
SELECT results_eq(
	$$SELECT kind, points, available_after FROM loyalty.earn('p', 42, 5)$$,
	$$VALUES ('earn', 5::bigint, 11::bigint)$$,
	'customer 42 still earns in program p while suspended in program q');
SELECT throws_ok(
	$$SELECT loyalty.earn('q', 42, 5)$$,
	'LY003', 'member 42 in program "q" is suspended',
	'and cannot earn in program q');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$,
	'verify finds every balance consistent with its ledger');

-- update_member changes only what is given (last: it runs after every other section).

SELECT results_eq(
	$$SELECT card::text, birthday, referral_source, status, profile_changed_at = now(),
			 status_changed_at = (SELECT status_changed_at FROM m42_active)
		FROM loyalty.update_member('p', 42, card => '5555555555554444')$$,
	$$VALUES ('5555555555554444', '1990-05-17'::date, 'facebook', 'active', true, true)$$,
	'update_member replaces the card, records the profile change and keeps the other fields');
SELECT results_eq(
	$$SELECT card::text FROM loyalty.member WHERE customer_id = 42 AND program_id = loyalty.program_id('p')$$,
	$$VALUES ('5555555555554444')$$,
	'the new card is stored');

UPDATE loyalty.member SET profile_changed_at = now() - interval '1 day' WHERE customer_id = 42;
SELECT results_eq(
	$$SELECT card::text, profile_changed_at = now() - interval '1 day'
		FROM loyalty.update_member('p', 42, card => '5555555555554444')$$,
	$$VALUES ('5555555555554444', true)$$,
	'giving the card the member already has is not a profile change');
SELECT results_eq(
	$$SELECT card::text, birthday, referral_source
		FROM loyalty.update_member('p', 42, birthday => '1990-05-18', referral_source => 'store')$$,
	$$VALUES ('5555555555554444', '1990-05-18'::date, 'store')$$,
	'update_member changes the birthday and referral source and keeps the card');
SELECT results_eq(
	$$SELECT card::text, birthday, referral_source FROM loyalty.update_member('p', 42)$$,
	$$VALUES ('5555555555554444', '1990-05-18'::date, 'store')$$,
	'update_member with nothing to change changes nothing');

CREATE TEMP TABLE m42_updated AS SELECT * FROM loyalty.member WHERE customer_id = 42;
SELECT throws_ok(
	$$SELECT loyalty.update_member('p', 42, birthday => current_date + 1)$$,
	'22023', 'birthday must not be in the future',
	'update_member refuses a birthday in the future');
SELECT throws_ok(
	$$SELECT loyalty.update_member('p', 42, birthday => DATE '1900-01-01')$$,
	'22023', 'birthday must be after 1900-01-01',
	'update_member refuses an implausibly early birthday');
SELECT throws_ok(
	$$SELECT loyalty.update_member('p', 42, card => '5555555555554445')$$,
	'22P02', 'invalid input syntax for type card: "5555555555554445"',
	'update_member refuses a card number with a wrong check digit');
SELECT results_eq(
	$$SELECT * FROM loyalty.member WHERE customer_id = 42$$,
	$$SELECT * FROM m42_updated$$,
	'the refused updates left the member unchanged');

SELECT * FROM finish();
ROLLBACK;
