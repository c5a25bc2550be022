\i test/setup.sql
-- pg_cron runs the maintenance jobs of README.md ("Maintenance jobs with
-- pg_cron") and they do their work: expiry, reminders, tier evaluation,
-- release of held points and purging of old events.
--
-- test/run.sh runs this file alone, in a throwaway cluster started with the
-- settings of the README's ini block, in the database cron.database_name
-- names, after writing the README's sql block to output_cron/readme_pg_cron.sql.
-- Nothing here is rolled back: pg_cron's launcher and jobs only see what
-- has committed.  pg_cron 1.4 schedules by the minute (no 'N seconds'), so
-- the jobs, scheduled as the README says, are then moved to every minute,
-- and the test waits (bounded) for two runs of each: about one to two
-- minutes.
CREATE EXTENSION pgtap;		-- pg_regress --use-existing loads no extension
SELECT plan(23);

-- 1. The server runs with the README's settings.
SELECT results_eq(
	$$SELECT current_setting('shared_preload_libraries'), current_setting('cron.database_name') = current_database(),
			 current_setting('cron.use_background_workers')$$,
	$$VALUES ('pg_cron', true, 'on')$$,
	'pg_cron is preloaded, its launcher uses this database, jobs run in background workers');

-- 2. The README's setup, as written: the roles of doc/grants.sql, then the
-- README's block (extension, role, the five jobs).
CREATE EXTENSION loyalty;
CREATE ROLE loyalty_app NOLOGIN;
CREATE ROLE loyalty_bi NOLOGIN;
CREATE ROLE loyalty_admin NOLOGIN;
\i doc/grants.sql
\i output_cron/readme_pg_cron.sql

SELECT results_eq(
	$$SELECT jobname, schedule, command, database = current_database(), username, active
		FROM cron.job ORDER BY jobid$$,
	$$VALUES
		('loyalty-expire'::name, '5 0 * * *', 'CALL loyalty.expire_in_batches()', true, 'loyalty_jobs', true),
		('loyalty-remind', '0 1 * * *', 'SELECT loyalty.announce_expiring()', true, 'loyalty_jobs', true),
		('loyalty-tiers', '10 0 1 * *', 'SELECT loyalty.evaluate_tiers()', true, 'loyalty_jobs', true),
		('loyalty-release', '*/5 * * * *', 'SELECT loyalty.release_pending(max_members => 50000)', true,
		 'loyalty_jobs', true),
		('loyalty-purge', '30 0 * * *', 'SELECT loyalty.purge_events(now() - interval ''90 days'')', true,
		 'loyalty_jobs', true)$$,
	'the README schedules five jobs in this database, to run as loyalty_jobs');
SELECT results_eq(
	$$SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls, r.rolcanlogin,
			 ARRAY(SELECT m.roleid::regrole::text FROM pg_auth_members m WHERE m.member = r.oid)
		FROM pg_roles r WHERE r.rolname = 'loyalty_jobs'$$,
	$$VALUES (false, false, false, false, true, ARRAY['loyalty_admin'])$$,
	'loyalty_jobs is a plain login role whose only grant is loyalty_admin');
SELECT is(
	(SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a WHERE a.grantee = 'loyalty_jobs'::regrole)
	  + (SELECT count(*) FROM pg_proc p, aclexplode(p.proacl) a WHERE a.grantee = 'loyalty_jobs'::regrole)
	  + (SELECT count(*) FROM pg_namespace n, aclexplode(n.nspacl) a WHERE a.grantee = 'loyalty_jobs'::regrole),
	0::bigint, 'and it holds no privilege of its own');

-- 3. Work for each job, committed.
--   cafe 1: 100 points due in a moment, 40 due in a year (expire);
--   cafe 2: 50 points held until a moment from now (release);
--   cafe 3: 30 points expiring in 10 days (a 30-day reminder);
--   club 4: Gold at 250 points, since two months (set by hand, as superuser:
--     the job moves nobody down in the month their tier changed); then Gold
--     needs 1000 (evaluate: down to Silver);
--   an event acknowledged 100 days ago (set by hand, as superuser) (purge).
SELECT code FROM loyalty.create_program('cafe', 'Cafe', 'VND', 10, 100000);
SELECT code FROM loyalty.create_program('club', 'Club', 'VND', 10, 100000);
SELECT code FROM loyalty.set_tier('club', 'silver', 'Silver', 100);
SELECT code FROM loyalty.set_tier('club', 'gold', 'Gold', 200);
SELECT e.customer_id FROM generate_series(1, 3) id, LATERAL loyalty.enroll('cafe', id) e;
SELECT customer_id FROM loyalty.enroll('club', 4);
SELECT entry_no FROM loyalty.earn('cafe', 1, 100, 'purchase', expires_at => now() + interval '1 second');
SELECT entry_no FROM loyalty.earn('cafe', 1, 40, 'survey', expires_at => now() + interval '12 months');
SELECT entry_no FROM loyalty.earn('cafe', 2, 50, 'purchase', pending_until => now() + interval '1 second');
SELECT entry_no FROM loyalty.earn('cafe', 3, 30, 'purchase', expires_at => now() + interval '10 days');
SELECT entry_no FROM loyalty.earn('club', 4, 250, 'purchase');
SELECT code FROM loyalty.set_tier('club', 'gold', 'Gold', 1000);
UPDATE loyalty.account SET tier_since = now() - interval '2 months'
 WHERE program_id = loyalty.program_id('club') AND customer_id = 4;
SELECT loyalty.ack_events(ARRAY(SELECT event_id FROM loyalty.event), 'test');
UPDATE loyalty.event SET acked_at = now() - interval '100 days';

SELECT results_eq(
	$$SELECT customer_id, kind, payload FROM loyalty.event ORDER BY event_id$$,
	$$VALUES (4::bigint, 'tier_changed', '{"from": null, "to": "gold", "reason": "qualified"}'::jsonb)$$,
	'before the jobs: one event, the upgrade to Gold, acknowledged 100 days ago');
SELECT results_eq(
	$$SELECT customer_id, available, pending, lifetime_expired FROM loyalty.account ORDER BY customer_id$$,
	$$VALUES (1::bigint, 140::bigint, 0::bigint, 0::bigint), (2, 0, 50, 0), (3, 30, 0, 0), (4, 250, 0, 0)$$,
	'before the jobs: the balances as earned');
SELECT pg_sleep(1.5);
SELECT results_eq(
	$$SELECT customer_id, points, pending, expires_at <= clock_timestamp(), available_at <= clock_timestamp()
		FROM loyalty.lot WHERE program_id = loyalty.program_id('cafe') ORDER BY customer_id, lot_no$$,
	$$VALUES (1::bigint, 100::bigint, false, true, NULL::boolean), (1, 40, false, false, NULL),
		(2, 50, true, NULL, true), (3, 30, false, false, NULL)$$,
	'the 100 points are due and the 50 held are releasable now; the rest is not due');

-- 4. Run the jobs now: every minute.  One statement, so the launcher sees
-- all five moves at once.
DO $$ BEGIN PERFORM cron.alter_job(jobid, schedule => '* * * * *') FROM cron.job; END $$;

-- Waits until every job has finished (succeeded or failed) at least `runs`
-- runs; NULL then, else after `timeout` what is missing.  Each query sees
-- what has committed since the previous one.
CREATE FUNCTION pg_temp.wait_for_runs(runs integer, timeout interval) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	deadline	timestamptz := clock_timestamp() + timeout;
	behind		text;
BEGIN
	LOOP
		SELECT string_agg(format('%s (%s of %s)', j.jobname, f.n, runs), ', ' ORDER BY j.jobid) INTO behind
		  FROM cron.job j
		 CROSS JOIN LATERAL (SELECT count(*) AS n FROM cron.job_run_details r
							  WHERE r.jobid = j.jobid AND r.status IN ('succeeded', 'failed')) f
		 WHERE f.n < runs;
		IF behind IS NULL THEN
			RETURN NULL;
		END IF;
		IF clock_timestamp() > deadline THEN
			RETURN format('after %s, runs finished: %s; is pg_cron''s launcher running '
						  '(shared_preload_libraries, cron.database_name, max_worker_processes)?  '
						  'See cron.job_run_details and the server log', timeout, behind);
		END IF;
		PERFORM pg_sleep(0.5);
	END LOOP;
END
$$;

-- The statuses of a job's first finished runs, oldest first.
CREATE FUNCTION pg_temp.statuses(job bigint, runs integer) RETURNS text[]
LANGUAGE sql AS $$
	SELECT ARRAY(SELECT r.status FROM cron.job_run_details r
				  WHERE r.jobid = job AND r.status IN ('succeeded', 'failed')
				  ORDER BY r.runid LIMIT runs)
$$;

-- The runs that did not succeed, with pg_cron's message, as TAP comments.
CREATE FUNCTION pg_temp.failed_runs() RETURNS SETOF text
LANGUAGE sql AS $$
	SELECT diag(format('%s run %s: %s: %s', j.jobname, r.runid, r.status, r.return_message))
	  FROM cron.job_run_details r JOIN cron.job j USING (jobid)
	 WHERE r.status <> 'succeeded' ORDER BY r.runid
$$;

SELECT is(pg_temp.wait_for_runs(1, '150 seconds'), NULL,
	'pg_cron ran every job within 150 s (the next minute, then the run)');
SELECT * FROM pg_temp.failed_runs();
SELECT results_eq(
	$$SELECT jobname, pg_temp.statuses(jobid, 1) FROM cron.job ORDER BY jobid$$,
	$$VALUES ('loyalty-expire'::name, '{succeeded}'::text[]), ('loyalty-remind', '{succeeded}'),
		('loyalty-tiers', '{succeeded}'), ('loyalty-release', '{succeeded}'), ('loyalty-purge', '{succeeded}')$$,
	'each job''s first run succeeded');

-- 5. What the first runs did.
SELECT results_eq(
	$$SELECT kind, points, available_after, pending_after, reason, actor, db_role, detail->>'lots'
		FROM loyalty.ledger WHERE program_id = loyalty.program_id('cafe') AND customer_id = 1
		 AND kind = 'expire'$$,
	$$VALUES ('expire', -100::bigint, 40::bigint, 0::bigint, 'points expired', 'loyalty.expire', 'loyalty_jobs', '1')$$,
	'expire: one ledger entry took exactly the 100 due points, written by loyalty_jobs');
-- The stored balances (balance() would show the same before any run:
-- it counts due points as expired and releasable points as available).
SELECT results_eq(
	$$SELECT available, pending, lifetime_earned, lifetime_expired FROM loyalty.account
	   WHERE program_id = loyalty.program_id('cafe') AND customer_id = 1$$,
	$$VALUES (40::bigint, 0::bigint, 140::bigint, 100::bigint)$$,
	'expire: the stored balance keeps the 40 points not yet due');
SELECT results_eq(
	$$SELECT payload->>'points', payload->>'lots', payload->>'reason' FROM loyalty.event
	   WHERE customer_id = 1 AND kind = 'points_expired'$$,
	$$VALUES ('100', '1', 'points expired')$$,
	'expire: and one points_expired event');
SELECT results_eq(
	$$SELECT kind, points, pending_points, available_after, pending_after, db_role
		FROM loyalty.ledger WHERE program_id = loyalty.program_id('cafe') AND customer_id = 2
		 AND kind = 'release'$$,
	$$VALUES ('release', 50::bigint, -50::bigint, 50::bigint, 0::bigint, 'loyalty_jobs')$$,
	'release: one ledger entry made the 50 held points spendable');
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.account
	   WHERE program_id = loyalty.program_id('cafe') AND customer_id = 2$$,
	$$VALUES (50::bigint, 0::bigint)$$, 'release: the stored balance has them available');
SELECT results_eq(
	$$SELECT customer_id, payload->>'points', payload->>'days_before',
			 (payload->>'expires_at')::timestamptz = (SELECT expires_at FROM loyalty.lot
													  WHERE program_id = loyalty.program_id('cafe')
														AND customer_id = 3)
		FROM loyalty.event WHERE kind = 'points_expiring'$$,
	$$VALUES (3::bigint, '30', '30', true)$$,
	'remind: one points_expiring event, for the 30 points due in 10 days (the 30-day reminder)');
SELECT results_eq(
	$$SELECT tier FROM loyalty.account WHERE program_id = loyalty.program_id('club') AND customer_id = 4$$,
	$$VALUES ('silver'::text)$$, 'tiers: the member below Gold''s new threshold moved down one tier');
SELECT results_eq(
	$$SELECT customer_id, payload FROM loyalty.event WHERE kind = 'tier_changed'$$,
	$$VALUES (4::bigint, '{"from": "gold", "to": "silver", "reason": "evaluation"}'::jsonb)$$,
	'tiers: its tier_changed event; purge: the event acknowledged 100 days ago is gone');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'every balance still equals its ledger');

-- 6. The second runs find nothing to do.
CREATE TEMP TABLE after_first AS
	SELECT (SELECT count(*) FROM loyalty.ledger) AS entries,
		   (SELECT count(*) FROM loyalty.event) AS events,
		   (SELECT count(*) FROM loyalty.expiry_notice) AS notices,
		   (SELECT string_agg(format('%s/%s: %s %s %s %s', customer_id, program_id, available, pending,
									 lifetime_expired, tier), '; ' ORDER BY program_id, customer_id)
			  FROM loyalty.account) AS accounts;
SELECT is(pg_temp.wait_for_runs(2, '90 seconds'), NULL,
	'pg_cron ran every job a second time, a minute later');
SELECT * FROM pg_temp.failed_runs();
SELECT results_eq(
	$$SELECT jobname, pg_temp.statuses(jobid, 2) FROM cron.job ORDER BY jobid$$,
	$$VALUES ('loyalty-expire'::name, '{succeeded,succeeded}'::text[]),
		('loyalty-remind', '{succeeded,succeeded}'), ('loyalty-tiers', '{succeeded,succeeded}'),
		('loyalty-release', '{succeeded,succeeded}'), ('loyalty-purge', '{succeeded,succeeded}')$$,
	'both runs of every job succeeded');
SELECT results_eq(
	$$SELECT (SELECT count(*) FROM loyalty.ledger), (SELECT count(*) FROM loyalty.event),
			 (SELECT count(*) FROM loyalty.expiry_notice),
			 (SELECT string_agg(format('%s/%s: %s %s %s %s', customer_id, program_id, available, pending,
									   lifetime_expired, tier), '; ' ORDER BY program_id, customer_id)
				FROM loyalty.account)$$,
	$$SELECT entries, events, notices, accounts FROM after_first$$,
	'the second runs changed nothing: no ledger entry, event, reminder or balance or tier change');
SELECT results_eq(
	$$SELECT count(*) FROM loyalty.ledger WHERE kind = 'expire'$$,
	$$VALUES (1::bigint)$$, 'still one expire entry');

-- 7. The jobs can be stopped.
DO $$ BEGIN PERFORM cron.unschedule(jobid) FROM cron.job; END $$;
SELECT is_empty($$SELECT * FROM cron.job$$, 'unscheduled');

SELECT * FROM finish();
