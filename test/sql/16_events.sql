\i test/setup.sql
-- The events outbox (emit, NOTIFY, read, acknowledge, purge) and the
-- reminders built on it (expiring_points, announce_expiring).
--
-- NOTIFY is delivered only when a transaction commits, so the first part runs
-- in a database of its own, committing, with this session listening: psql
-- prints each notification it receives, into a file read back below.
\set home_db :DBNAME
\! dropdb --if-exists loyalty_events_notify 2>/dev/null; createdb loyalty_events_notify
\c loyalty_events_notify
\i test/setup.sql
CREATE EXTENSION loyalty;
SELECT count(*) FROM loyalty.create_program('shop-vn', 'Shop VN', 'VND', 10, 100000) \g /dev/null
SELECT count(*) FROM loyalty.create_program('shop-eu', 'Shop EU', 'EUR', 1, 1) \g /dev/null
LISTEN loyalty_events;
\o results/16_events.notifications
-- 1. One event through the engine's entry point.
SELECT loyalty.emit_event(1, 7, 'tier_changed', '{"to": "gold"}');
-- 2. One statement writing three events of two programs.
INSERT INTO loyalty.event (program_id, customer_id, kind, payload)
VALUES (2, 8, 'points_expired', '{}'), (1, 9, 'points_expired', '{}'), (2, 10, 'points_expired', '{}');
-- 3. Two statements of one transaction, one program.
BEGIN;
SELECT loyalty.emit_event(1, 11, 'tier_changed', '{}');
SELECT loyalty.emit_event(1, 12, 'tier_changed', '{}');
COMMIT;
-- 4. A rolled-back event, and a statement that writes no event.
BEGIN;
SELECT loyalty.emit_event(2, 13, 'tier_changed', '{}');
ROLLBACK;
INSERT INTO loyalty.event (program_id, customer_id, kind, payload)
SELECT 1, 14, 'tier_changed', '{}' WHERE false;
SELECT count(*) FROM loyalty.event;
\o
UNLISTEN *;
\c :home_db
\i test/setup.sql
\! dropdb loyalty_events_notify
\set notifications `sed -E -n 's/ from server process with PID [0-9]+//p' results/16_events.notifications`

BEGIN;
CREATE EXTENSION loyalty;
-- Times in the expected values below are built in this session's zone.
SET LOCAL TimeZone = 'UTC';
SELECT plan(106);

-- NOTIFY.
SELECT is(:'notifications'::text,
	E'Asynchronous notification "loyalty_events" with payload "shop-vn" received.\n'
	'Asynchronous notification "loyalty_events" with payload "shop-eu,shop-vn" received.\n'
	'Asynchronous notification "loyalty_events" with payload "shop-vn" received.',
	'NOTIFY loyalty_events once per statement, with the program codes, at commit only: '
	'one event, three events of two programs in one statement, two statements of a transaction '
	'(one notification), a rollback and an empty insert (none)');

DO $$BEGIN
	PERFORM loyalty.create_program('vn', 'VN', 'VND', 10, 100000);
	PERFORM loyalty.create_program('eu', 'EU', 'EUR', 1, 1);
END$$;

-- emit_event.
SELECT loyalty.emit_event(loyalty.program_id('vn'), 1, 'tier_changed', '{"from": "member", "to": "silver"}')
	AS first_event \gset
SELECT is((SELECT event_id FROM loyalty.event), :first_event::bigint, 'emit_event returns the new event''s id');
SELECT results_eq(
	$$SELECT program_id, customer_id, kind, payload, created_at = now(), acked_at, acked_by FROM loyalty.event$$,
	$$VALUES (loyalty.program_id('vn'), 1::bigint, 'tier_changed', '{"from": "member", "to": "silver"}'::jsonb,
			  true, NULL::timestamptz, NULL::text)$$,
	'emit_event writes the event open (not acknowledged), stamped with the transaction time');
SELECT count(loyalty.emit_event(p, c, k, jsonb_build_object('n', c)))
  FROM (VALUES (loyalty.program_id('vn'), 2::bigint, 'points_expired'), (loyalty.program_id('eu'), 3, 'tier_changed'),
			   (loyalty.program_id('vn'), 4, 'points_expiring'), (loyalty.program_id('eu'), 5, 'points_expired'),
			   (loyalty.program_id('vn'), 6, 'tier_changed')) v(p, c, k) \g /dev/null

SELECT throws_ok($$SELECT loyalty.emit_event(1, 1, 'points_lost', '{}')$$, '23514', NULL,
	'emit_event refuses a kind the outbox does not know');
SELECT throws_ok($$SELECT loyalty.emit_event(1, 1, 'tier_changed', NULL)$$, '22004',
	'payload must not be null', 'emit_event refuses a missing payload');

-- read_events.
SELECT results_eq(
	$$SELECT event_id, program, customer_id, kind, payload FROM loyalty.read_events()$$,
	$$VALUES (1::bigint, 'vn', 1::bigint, 'tier_changed', '{"from": "member", "to": "silver"}'::jsonb),
			 (2, 'vn', 2, 'points_expired', '{"n": 2}'), (3, 'eu', 3, 'tier_changed', '{"n": 3}'),
			 (4, 'vn', 4, 'points_expiring', '{"n": 4}'), (5, 'eu', 5, 'points_expired', '{"n": 5}'),
			 (6, 'vn', 6, 'tier_changed', '{"n": 6}')$$,
	'read_events returns the open events oldest first, with the program code');
SELECT results_eq($$SELECT event_id FROM loyalty.read_events(max_events => 2)$$,
	$$VALUES (1::bigint), (2)$$, 'max_events limits a batch to the oldest events');
SELECT results_eq($$SELECT event_id FROM loyalty.read_events(2, 3)$$,
	$$VALUES (3::bigint), (4), (5)$$, 'after_id pages on: the next batch starts after the last id read');
SELECT is_empty($$SELECT * FROM loyalty.read_events(6)$$, 'nothing after the newest event');
SELECT results_eq($$SELECT event_id FROM loyalty.read_events(kinds => '{points_expired,points_expiring}')$$,
	$$VALUES (2::bigint), (4), (5)$$, 'kinds keeps only the events of those kinds');
SELECT is_empty($$SELECT * FROM loyalty.read_events(kinds => '{}')$$, 'an empty kinds list selects nothing');
SELECT is_empty($$SELECT * FROM loyalty.read_events(kinds => '{fraud_flagged}')$$,
	'fraud_flagged is a kind the application can select (none were written here)');
SELECT is(pg_get_function_result('loyalty.read_events(bigint, integer, text[])'::regprocedure),
	'TABLE(event_id bigint, program text, customer_id bigint, kind text, payload jsonb, created_at timestamp with time zone)',
	'read_events returns event_id, program, customer_id, kind, payload, created_at');
SELECT throws_ok($$SELECT * FROM loyalty.read_events(max_events => 0)$$, '22023',
	'max_events must be between 1 and 10000', 'a batch of 0 events is refused');
SELECT throws_ok($$SELECT * FROM loyalty.read_events(max_events => 10001)$$, '22023',
	'max_events must be between 1 and 10000', 'a batch of more than 10000 events is refused');
SELECT lives_ok($$SELECT * FROM loyalty.read_events(max_events => 10000)$$, 'a batch of 10000 events is allowed');
SELECT throws_ok($$SELECT * FROM loyalty.read_events(max_events => NULL)$$, '22004',
	'max_events must not be null', 'a NULL batch size is refused');
SELECT throws_ok($$SELECT * FROM loyalty.read_events(NULL)$$, '22004',
	'after_id must not be null', 'a NULL after_id is refused');
SELECT throws_ok($$SELECT * FROM loyalty.read_events(kinds => '{tier_changed,tier_change}')$$, '22023',
	'unknown event kind ''tier_change''', 'a misspelt kind is an error, not an empty result');
SELECT throws_ok($$SELECT * FROM loyalty.read_events(kinds => '{NULL}')$$, '22023',
	'unknown event kind NULL', 'a NULL kind in the list is an error');

-- ack_events.
SELECT is(loyalty.ack_events(ARRAY[1, 3]), 2::bigint, 'ack_events returns how many events it acknowledged');
SELECT results_eq($$SELECT event_id FROM loyalty.read_events()$$,
	$$VALUES (2::bigint), (4), (5), (6)$$, 'acknowledged events are no longer read');
SELECT results_eq($$SELECT acked_at = now(), acked_by = session_user FROM loyalty.event WHERE event_id = 1$$,
	$$VALUES (true, true)$$, 'an acknowledgement records when, and the session user by default');
SELECT is(loyalty.ack_events(ARRAY[1, 3]), 0::bigint,
	'acknowledging the same events again changes nothing and counts 0');
SELECT is(loyalty.ack_events(ARRAY[2, 2, 1, 999999]::bigint[], acked_by => 'mailer'), 1::bigint,
	'a mix of an open event (twice), an acknowledged one and an unknown id counts the open event once');
SELECT results_eq($$SELECT event_id, acked_by = session_user, acked_by = 'mailer' FROM loyalty.event
	 WHERE event_id IN (1, 2) ORDER BY event_id$$,
	$$VALUES (1::bigint, true, false), (2, false, true)$$,
	'acked_by names the consumer; a repeated acknowledgement keeps the first one');
SELECT is(loyalty.ack_events('{}'), 0::bigint, 'an empty list acknowledges nothing');
SELECT is(loyalty.ack_events(ARRAY[999998, 999999]::bigint[]), 0::bigint, 'unknown ids acknowledge nothing, without an error');
SELECT throws_ok($$SELECT loyalty.ack_events(NULL)$$, '22004', 'event_ids must not be null',
	'a NULL list is refused');
SELECT throws_ok($$SELECT loyalty.ack_events(ARRAY[4], ' ')$$, '22023', 'acked_by must not be empty',
	'an empty consumer name is refused');
SELECT throws_ok($$SELECT loyalty.ack_events(ARRAY[4], repeat('m', 201))$$, '22001', 'acked_by is too long',
	'consumer names are limited to 200 bytes');
SELECT is((SELECT acked_at FROM loyalty.event WHERE event_id = 4), NULL, 'the refused acknowledgements changed nothing');

-- purge_events.
SELECT is(loyalty.purge_events(now()), 0::bigint,
	'purge_events keeps events acknowledged at the cutoff (acked_at < acked_before)');
SELECT is(loyalty.purge_events(now() + interval '1 second'), 3::bigint,
	'purge_events deletes the acknowledged events before the cutoff');
SELECT results_eq($$SELECT event_id FROM loyalty.event ORDER BY event_id$$,
	$$VALUES (4::bigint), (5), (6)$$, 'and keeps every open event, however old the cutoff is');
SELECT is(loyalty.purge_events('infinity'), 0::bigint, 'open events are never purged');
SELECT throws_ok($$SELECT loyalty.purge_events(NULL)$$, '22004', 'acked_before must not be null',
	'a NULL cutoff is refused');

-- Privileges: the application reads and acknowledges without table rights.
CREATE ROLE loyalty_app NOLOGIN;
CREATE ROLE loyalty_bi NOLOGIN;
CREATE ROLE loyalty_admin NOLOGIN;
\i doc/grants.sql
SELECT is_definer('loyalty', 'read_events', ARRAY['bigint', 'integer', 'text[]'],
	'read_events runs as the extension owner');
SELECT is_definer('loyalty', 'ack_events', ARRAY['bigint[]', 'text'], 'ack_events runs as the extension owner');
SELECT is_definer('loyalty', 'purge_events', ARRAY['timestamp with time zone'],
	'purge_events runs as the extension owner');
SELECT isnt_definer('loyalty', 'emit_event', ARRAY['integer', 'bigint', 'text', 'jsonb'],
	'emit_event is not SECURITY DEFINER: only the engine calls it');
SELECT is_definer('loyalty', 'expiring_points', ARRAY['interval', 'timestamp with time zone', 'text'],
	'expiring_points runs as the extension owner');
SELECT is_definer('loyalty', 'expiring_points', ARRAY['text', 'bigint', 'interval', 'timestamp with time zone'],
	'the one-member expiring_points runs as the extension owner');
SELECT is_definer('loyalty', 'announce_expiring', ARRAY['timestamp with time zone', 'integer[]'],
	'announce_expiring runs as the extension owner');
SELECT function_privs_are('loyalty', 'read_events', ARRAY['bigint', 'integer', 'text[]'],
	'loyalty_app', ARRAY['EXECUTE'], 'the application may read events');
SELECT function_privs_are('loyalty', 'ack_events', ARRAY['bigint[]', 'text'],
	'loyalty_app', ARRAY['EXECUTE'], 'the application may acknowledge events');
SELECT function_privs_are('loyalty', 'purge_events', ARRAY['timestamp with time zone'],
	'loyalty_app', ARRAY[]::text[], 'the application may not purge events');
SELECT function_privs_are('loyalty', 'purge_events', ARRAY['timestamp with time zone'],
	'loyalty_admin', ARRAY['EXECUTE'], 'the administrator may purge events');
SELECT function_privs_are('loyalty', 'emit_event', ARRAY['integer', 'bigint', 'text', 'jsonb'],
	'loyalty_admin', ARRAY[]::text[], 'no role may write events by hand, not even the administrator');
SELECT function_privs_are('loyalty', 'expiring_points', ARRAY['text', 'bigint', 'interval', 'timestamp with time zone'],
	'loyalty_app', ARRAY['EXECUTE'], 'the application may read a member''s expiring points');
SELECT function_privs_are('loyalty', 'expiring_points', ARRAY['interval', 'timestamp with time zone', 'text'],
	'loyalty_app', ARRAY[]::text[], 'the application may not list every member''s expiring points');
SELECT function_privs_are('loyalty', 'expiring_points', ARRAY['interval', 'timestamp with time zone', 'text'],
	'loyalty_bi', ARRAY['EXECUTE'], 'BI may list expiring points per member');
SELECT function_privs_are('loyalty', 'announce_expiring', ARRAY['timestamp with time zone', 'integer[]'],
	'loyalty_app', ARRAY[]::text[], 'the application may not announce reminders');
SELECT function_privs_are('loyalty', 'announce_expiring', ARRAY['timestamp with time zone', 'integer[]'],
	'loyalty_admin', ARRAY['EXECUTE'], 'the administrator may announce reminders (the pg_cron job)');
SET ROLE loyalty_app;
SELECT results_eq($$SELECT event_id FROM loyalty.read_events()$$, $$VALUES (4::bigint), (5), (6)$$,
	'the application reads events through read_events');
SELECT is(loyalty.ack_events(ARRAY[4]), 1::bigint, 'the application acknowledges through ack_events');
SELECT throws_ok($$SELECT count(*) FROM loyalty.event$$, '42501', NULL,
	'the application cannot read the outbox table directly');
SELECT throws_ok($$SELECT loyalty.emit_event(1, 1, 'tier_changed', '{}')$$, '42501', NULL,
	'the application cannot write events');
SELECT throws_ok($$SELECT loyalty.purge_events(now())$$, '42501', NULL, 'the application cannot purge events');
RESET ROLE;

-- expiring_points: rolling lots.  Members of "vn" earn with explicit expiry.
DO $$BEGIN
	PERFORM loyalty.enroll('vn', c) FROM generate_series(1, 5) c;
	PERFORM loyalty.earn('vn', 1, 100, 'order', expires_at => now() + interval '10 days');
	PERFORM loyalty.earn('vn', 1, 50, 'survey', expires_at => now() + interval '10 days');
	PERFORM loyalty.earn('vn', 1, 20, 'order', expires_at => now() + interval '40 days');
	PERFORM loyalty.earn('vn', 1, 7, 'never expires');
	PERFORM loyalty.earn('vn', 2, 30, 'order', expires_at => now() + interval '5 days');
	PERFORM loyalty.redeem('vn', 2, 12);
	PERFORM loyalty.earn('vn', 3, 40, 'held', expires_at => now() + interval '20 days',
		pending_until => now() + interval '2 days');
	PERFORM loyalty.earn('vn', 4, 60, 'order', expires_at => now() + interval '6 days');
	PERFORM loyalty.redeem('vn', 4, 60);
	PERFORM loyalty.earn('vn', 5, 9, 'never expires');
END$$;
SELECT results_eq($$SELECT * FROM loyalty.expiring_points()$$,
	$$VALUES ('vn', 1::bigint, now() + interval '10 days', 150::bigint),
			 ('vn', 2, now() + interval '5 days', 18),
			 ('vn', 3, now() + interval '20 days', 40)$$,
	'the next 30 days: lots expiring at one moment add up (150), spent points do not count (30 - 12), '
	'held points do, fully spent lots and never-expiring points do not appear');
SELECT results_eq($$SELECT * FROM loyalty.expiring_points('60 days', program => 'vn') WHERE customer_id = 1$$,
	$$VALUES ('vn', 1::bigint, now() + interval '10 days', 150::bigint),
			 ('vn', 1, now() + interval '40 days', 20)$$,
	'a longer window shows each later moment on its own row, in time order');
SELECT is_empty($$SELECT * FROM loyalty.expiring_points(program => 'eu')$$, 'program limits the list to one program');
SELECT results_eq($$SELECT customer_id, points FROM loyalty.expiring_points('10 days')$$,
	$$VALUES (1::bigint, 150::bigint), (2, 18)$$, 'a moment exactly at as_of + within is included');
SELECT results_eq($$SELECT customer_id, points FROM loyalty.expiring_points('10 days' - interval '1 microsecond')$$,
	$$VALUES (2::bigint, 18::bigint)$$, 'a moment just after as_of + within is not');
SELECT results_eq($$SELECT customer_id, points FROM loyalty.expiring_points('30 days', now() + interval '5 days')$$,
	$$VALUES (1::bigint, 150::bigint), (3, 40)$$, 'a moment exactly at as_of is not included: those points have expired');

-- expiring_points: the inactivity policy.  Everything lapses 6 months after
-- the last activity, counted in Paris time: last active on 31 August at
-- 00:30 (summer time), the points lapse on 28 February (no 31st) at 00:30
-- (winter time) = 23:30 UTC on the 27th.
DO $$BEGIN
	PERFORM loyalty.create_program('idle', 'Idle', 'EUR', 1, 1, time_zone => 'Europe/Paris');
	PERFORM loyalty.set_expiry_policy('idle', 'inactivity', 6);
	PERFORM loyalty.enroll('idle', c) FROM generate_series(1, 4) c;
	PERFORM loyalty.earn('idle', 1, 70, 'never expires by itself');
	PERFORM loyalty.earn('idle', 1, 5, 'expires before the lapse', expires_at => now() + interval '1 day');
	PERFORM loyalty.earn('idle', 1, 6, 'expires after the lapse', expires_at => now() + interval '2 days');
	PERFORM loyalty.earn('idle', 2, 8, 'active later');
	PERFORM loyalty.earn('idle', 3, 4, 'spent');
	PERFORM loyalty.redeem('idle', 3, 4);
END$$;
UPDATE loyalty.lot SET expires_at = CASE points WHEN 5 THEN '2027-01-10 12:00+00'::timestamptz
											 ELSE '2027-06-01 12:00+00' END
 WHERE program_id = loyalty.program_id('idle') AND points IN (5, 6);
UPDATE loyalty.account SET last_activity_at = CASE customer_id
		WHEN 1 THEN '2026-08-31 00:30+02'::timestamptz
		WHEN 2 THEN '2026-10-01 09:00+02'
		WHEN 3 THEN '2026-08-31 00:30+02' END
 WHERE program_id = loyalty.program_id('idle');
SELECT results_eq($$SELECT * FROM loyalty.expiring_points('90 days', timestamptz '2027-01-01 00:00+00', 'idle')$$,
	$$VALUES ('idle', 1::bigint, '2027-01-10 12:00+00'::timestamptz, 5::bigint),
			 ('idle', 1, '2027-02-28 00:30+01', 76)$$,
	'inactivity: a lot due earlier expires on its own date; all the rest lapses 6 months after the last '
	'activity in the program''s time zone (28 February 00:30 Paris); later activity or no points: no row');
SELECT results_eq($$SELECT points FROM loyalty.expiring_points('1 day', timestamptz '2027-02-27 00:00+00', 'idle')$$,
	$$VALUES (76::bigint)$$, 'the lapse is at 23:30 UTC on 27 February, not at a UTC month end');
SELECT is_empty($$SELECT * FROM loyalty.expiring_points('30 days', timestamptz '2027-02-28 00:30+01', 'idle')$$,
	'inactivity: a lapse exactly at as_of is not included');
SELECT results_eq($$SELECT points FROM loyalty.expiring_points('30 days', timestamptz '2027-01-29 00:30+01', 'idle')$$,
	$$VALUES (76::bigint)$$, 'inactivity: a lapse exactly at as_of + within is included');
SELECT results_eq($$SELECT program, customer_id, expires_at, points FROM loyalty.expiring_points('360 days', timestamptz '2026-12-01 00:00+00')
	 WHERE program = 'idle'$$,
	$$VALUES ('idle', 1::bigint, '2027-01-10 12:00+00'::timestamptz, 5::bigint),
			 ('idle', 1, '2027-02-28 00:30+01', 76), ('idle', 2, '2027-04-01 09:00+02', 8)$$,
	'the lot due after the lapse has no row of its own: its points lapse with the rest');

-- The one-member form.
SELECT results_eq($$SELECT * FROM loyalty.expiring_points('vn', 1)$$,
	$$VALUES ('vn', 1::bigint, now() + interval '10 days', 150::bigint)$$,
	'one member''s expiring points over the next 30 days');
SELECT results_eq($$SELECT expires_at, points FROM loyalty.expiring_points('vn', 1, '60 days', now() + interval '10 days')$$,
	$$VALUES (now() + interval '40 days', 20::bigint)$$,
	'within and as_of work as in the list form: the moment at as_of is left out');
SELECT results_eq($$SELECT * FROM loyalty.expiring_points('idle', 1, '90 days', '2027-01-01 00:00+00')$$,
	$$VALUES ('idle', 1::bigint, '2027-01-10 12:00+00'::timestamptz, 5::bigint),
			 ('idle', 1, '2027-02-28 00:30+01', 76)$$,
	'the one-member form applies the inactivity policy the same way');
SELECT is(pg_get_function_result('loyalty.expiring_points(text, bigint, interval, timestamptz)'::regprocedure)
	|| ' / ' || pg_get_function_result('loyalty.expiring_points(interval, timestamptz, text)'::regprocedure),
	'TABLE(program text, customer_id bigint, expires_at timestamp with time zone, points bigint) / '
	'TABLE(program text, customer_id bigint, expires_at timestamp with time zone, points bigint)',
	'both forms return program, customer_id, expires_at, points');
SET ROLE loyalty_app;
SELECT results_eq($$SELECT expires_at, points FROM loyalty.expiring_points('vn', 1)$$,
	$$VALUES (now() + interval '10 days', 150::bigint)$$,
	'the application reads a member''s expiring points without table rights');
RESET ROLE;
SET ROLE loyalty_bi;
SELECT results_eq($$SELECT program, customer_id, points FROM loyalty.expiring_points(program => 'idle',
		within => '360 days', as_of => '2026-12-01 00:00+00')$$,
	$$VALUES ('idle', 1::bigint, 5::bigint), ('idle', 1, 76), ('idle', 2, 8)$$,
	'BI lists expiring points, inactivity lapses included, without table rights');
RESET ROLE;
SELECT is_empty($$SELECT * FROM loyalty.expiring_points('vn', 5)$$, 'a member with no expiring points gets no rows');
SELECT throws_ok($$SELECT * FROM loyalty.expiring_points('vn', 99)$$, 'LY002',
	'unknown member 99 in program "vn"', 'an unknown member raises LY002');
SELECT throws_ok($$SELECT * FROM loyalty.expiring_points('nope', 1)$$, 'LY001',
	'unknown loyalty program "nope"', 'an unknown program raises LY001 in the one-member form');

-- expiring_points: bad arguments.
SELECT throws_ok($$SELECT * FROM loyalty.expiring_points(program => 'nope')$$, 'LY001',
	'unknown loyalty program "nope"', 'an unknown program raises LY001');
SELECT throws_ok($$SELECT * FROM loyalty.expiring_points('0 days')$$, '22023',
	'within must be a positive interval', 'a zero window is refused');
SELECT throws_ok($$SELECT * FROM loyalty.expiring_points('-1 day')$$, '22023',
	'within must be a positive interval', 'a negative window is refused');
SELECT throws_ok($$SELECT * FROM loyalty.expiring_points(NULL::interval)$$, '22023',
	'within must be a positive interval', 'a NULL window is refused');
SELECT throws_ok($$SELECT * FROM loyalty.expiring_points('vn', 1, '-30 days')$$, '22023',
	'within must be a positive interval', 'the one-member form refuses a negative window too');
SELECT throws_ok($$SELECT * FROM loyalty.expiring_points(as_of => NULL)$$, '22004',
	'as_of must not be null', 'a NULL as_of is refused');

-- announce_expiring: program "remind", one lot each, expiring in 40 days.
DO $$BEGIN
	PERFORM loyalty.create_program('remind', 'Remind', 'VND', 1, 1);
	PERFORM loyalty.enroll('remind', c) FROM generate_series(1, 5) c;
	PERFORM loyalty.earn('remind', 1, 100, expires_at => now() + interval '40 days');
	PERFORM loyalty.earn('remind', 2, 60, expires_at => now() + interval '40 days');
	PERFORM loyalty.earn('remind', 3, 80, expires_at => now() + interval '40 days');
	PERFORM loyalty.set_member_status('remind', 3, 'suspended');
	PERFORM loyalty.earn('remind', 5, 10, expires_at => now() + interval '100 days');
END$$;
-- Only this program's reminders: the other programs' points expire past these dates.
UPDATE loyalty.lot SET expires_at = now() + interval '1000 days'
 WHERE program_id <> loyalty.program_id('remind') AND expires_at IS NOT NULL;
UPDATE loyalty.account SET last_activity_at = now() WHERE program_id = loyalty.program_id('idle');
CREATE FUNCTION pg_temp.reminders() RETURNS TABLE (customer_id bigint, payload jsonb)
LANGUAGE sql AS $$
	SELECT customer_id, payload FROM loyalty.read_events(kinds => '{points_expiring}')
	 WHERE program = 'remind' ORDER BY event_id
$$;

SELECT is(loyalty.announce_expiring(now()), 0::bigint, '40 days before: no reminder');
SELECT is(loyalty.announce_expiring(now() + interval '10 days'), 2::bigint, '30 days before: one reminder each');
SELECT results_eq($$SELECT * FROM pg_temp.reminders()$$,
	$$VALUES (1::bigint, jsonb_build_object('expires_at', now() + interval '40 days', 'points', 100, 'days_before', 30)),
			 (2, jsonb_build_object('expires_at', now() + interval '40 days', 'points', 60, 'days_before', 30))$$,
	'each reminder says when, how many points, and which threshold; a suspended member gets none');
SELECT is(loyalty.announce_expiring(now() + interval '10 days'), 0::bigint,
	'running again at the same time announces nothing twice');
SELECT is(loyalty.announce_expiring(now() + interval '20 days'), 0::bigint,
	'a day between thresholds announces nothing');
SELECT entry_no FROM loyalty.redeem('remind', 2, 60) \g /dev/null
SELECT entry_no FROM loyalty.earn('remind', 4, 25, 'late order', expires_at => now() + interval '38 days') \g /dev/null
SELECT is(loyalty.announce_expiring(now() + interval '33 days'), 2::bigint,
	'7 days before: member 1''s second reminder, and member 4''s first');
SELECT results_eq($$SELECT * FROM pg_temp.reminders() OFFSET 2$$,
	$$VALUES (1::bigint, jsonb_build_object('expires_at', now() + interval '40 days', 'points', 100, 'days_before', 7)),
			 (4, jsonb_build_object('expires_at', now() + interval '38 days', 'points', 25, 'days_before', 7))$$,
	'member 1 is reminded at 7 days; member 2 spent the points meanwhile and is not; member 4''s '
	'lot, first seen 5 days out, gets one reminder for the 7-day threshold, not one per threshold crossed');
SELECT is(loyalty.announce_expiring(now() + interval '39 days'), 1::bigint,
	'1 day before: the last reminder, for member 1 only (member 4''s points expired yesterday)');
SELECT is((SELECT payload->>'days_before' FROM pg_temp.reminders() OFFSET 4), '1', 'with days_before 1');
SELECT results_eq(
	$$SELECT customer_id, days_before FROM loyalty.expiry_notice ORDER BY customer_id, days_before$$,
	$$VALUES (1::bigint, 1), (1, 7), (1, 30), (2, 30)$$,
	'expiry_notice records each (member, moment, threshold) announced, and drops moments that have passed');
SELECT is(loyalty.announce_expiring(now() + interval '39 days', '{2,1}'), 0::bigint,
	'a threshold added later (2 days) does not remind a member who already had a closer reminder (1 day)');
SELECT is(loyalty.announce_expiring(now() + interval '39 days', '{40}'), 0::bigint,
	'nor does a threshold farther out (40 days)');
SELECT is((SELECT count(*) FROM loyalty.expiry_notice WHERE customer_id = 1)::int, 5,
	'but they are recorded, so they never fire later either');
SELECT throws_ok($$SELECT loyalty.announce_expiring(NULL)$$, '22004', 'as_of must not be null',
	'a NULL as_of is refused');
SELECT throws_ok($$SELECT loyalty.announce_expiring(now(), NULL)$$, '22004',
	'days_before must not be null or hold nulls', 'NULL thresholds are refused');
SELECT throws_ok($$SELECT loyalty.announce_expiring(now(), '{7,NULL}')$$, '22004',
	'days_before must not be null or hold nulls', 'a NULL threshold is refused');
SELECT throws_ok($$SELECT loyalty.announce_expiring(now(), '{}')$$, '22023',
	'days_before must list thresholds from 1 to 3650 days', 'an empty list of thresholds is refused');
SELECT throws_ok($$SELECT loyalty.announce_expiring(now(), '{7,0}')$$, '22023',
	'days_before must list thresholds from 1 to 3650 days', 'a threshold of 0 days is refused');

-- A narrow window reads lots through lot_due_idx, not by scanning lot.
INSERT INTO loyalty.lot (customer_id, program_id, lot_no, points, remaining, earned_at, expires_at)
SELECT 5, loyalty.program_id('vn'), 1000 + g, 1, 1, now(), now() + g * interval '1 hour'
  FROM generate_series(1, 20000) g;
ANALYZE loyalty.lot;
SELECT seq_scan AS lot_seq_scans, idx_scan AS lot_idx_scans FROM pg_stat_xact_user_tables
 WHERE relid = 'loyalty.lot'::regclass \gset
SELECT is((SELECT sum(points) FROM loyalty.expiring_points('1 day', now() + interval '100 days')), 24::numeric,
	'the list for one day among 20000 lots');
SELECT is((SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relid = 'loyalty.lot'::regclass),
	:lot_seq_scans::bigint, 'expiring_points reads a narrow window without a sequential scan of lot');
SELECT ok((SELECT idx_scan FROM pg_stat_xact_user_tables WHERE relid = 'loyalty.lot'::regclass) > :lot_idx_scans,
	'but through an index');

SELECT * FROM finish();
ROLLBACK;
