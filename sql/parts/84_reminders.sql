--
-- Reminders (new in 0.3.0): the points that expire soon, per member and
-- moment, and a daily job that turns them into points_expiring events, once
-- per reminder threshold.  The same statements serve a fresh install and the
-- update from 0.2.0.
--
-- A member's points expire:
--   * at each lot's expires_at, for the lot's remaining points (pending
--     points too: they expire with their lot);
--   * in a program with the inactivity policy, all at once at
--     last_activity_at + expiry_months, counted in the program's time zone:
--     the remaining points of every lot that has not expired before then.
--     A lot that expires earlier still expires at its own expires_at.
--

-- Check the reminder window and, when customer_id is given, that the member
-- exists; raises 22004, 22023, LY001 or LY002.
CREATE FUNCTION @extschema@.check_expiring_args(program text, customer_id bigint,
	one_member boolean, within interval, as_of timestamptz)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer;
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be null' USING ERRCODE = '22004',
			HINT = 'Omit it to count from now().';
	END IF;
	IF NOT pg_catalog.isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be a finite time' USING ERRCODE = '22023',
			DETAIL = pg_catalog.format('Got %s.', as_of);
	END IF;
	IF within IS NULL OR (as_of OPERATOR(pg_catalog.+) within) OPERATOR(pg_catalog.<=) as_of THEN
		RAISE EXCEPTION 'within must be a positive interval'
			USING ERRCODE = '22023',
				  DETAIL = pg_catalog.format('Got %s.', COALESCE(within::text, 'NULL')),
				  HINT = 'Pass how far ahead to look, e.g. interval ''30 days''.';
	END IF;
	IF program IS NOT NULL OR one_member THEN
		pid := @extschema@.program_id(program);
	END IF;
	IF one_member THEN
		IF customer_id IS NULL THEN
			RAISE EXCEPTION 'customer_id must not be null' USING ERRCODE = '22004';
		END IF;
		IF NOT EXISTS (SELECT 1 FROM @extschema@.account a
						WHERE a.customer_id OPERATOR(pg_catalog.=) check_expiring_args.customer_id
						  AND a.program_id OPERATOR(pg_catalog.=) pid) THEN
			RAISE EXCEPTION 'unknown member % in program "%"', customer_id, program
				USING ERRCODE = 'LY002', HINT = 'Enroll the customer first with loyalty.enroll().';
		END IF;
	END IF;
END
$$;

-- Points expiring in (as_of, as_of + within], per member and moment, for
-- every program or one.  Reads lots through lot_due_idx; for inactivity
-- programs it reads every account of the program (last_activity_at has no
-- index on purpose: every order rewrites it, and an index would cost the
-- account row its HOT updates).
CREATE FUNCTION @extschema@.expiring_points(within interval DEFAULT '30 days',
	as_of timestamptz DEFAULT pg_catalog.now(), program text DEFAULT NULL)
RETURNS TABLE (program text, customer_id bigint, expires_at timestamptz, points bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
SELECT @extschema@.check_expiring_args(expiring_points.program, NULL, false,
	expiring_points.within, expiring_points.as_of);

WITH prog AS (
	SELECT p.program_id, p.code, p.time_zone,
		   CASE WHEN p.expiry_policy OPERATOR(pg_catalog.=) 'inactivity' THEN p.expiry_months END AS idle_months
	  FROM @extschema@.program p
	 WHERE expiring_points.program IS NULL
		OR p.code OPERATOR(pg_catalog.=) expiring_points.program
), lot_moment AS (
	-- Lots due in the window, except those an inactivity lapse takes first.
	SELECT pr.code, l.customer_id, l.expires_at,
		   pg_catalog.sum(l.remaining)::bigint AS points
	  FROM @extschema@.lot l
	  JOIN prog pr ON pr.program_id OPERATOR(pg_catalog.=) l.program_id
	 WHERE l.remaining OPERATOR(pg_catalog.>) 0 AND l.expires_at IS NOT NULL
	   -- Points a fraud check holds do not expire while held (expire() skips
	   -- them, and a release gives them a new date).
	   AND NOT (l.pending AND l.available_at IS NULL)
	   AND l.expires_at OPERATOR(pg_catalog.>) expiring_points.as_of
	   AND l.expires_at OPERATOR(pg_catalog.<=) (expiring_points.as_of OPERATOR(pg_catalog.+) expiring_points.within)
	   -- A scalar subquery, not a join: one account lookup by key per lot,
	   -- only in inactivity programs, never a scan of account.
	   AND (pr.idle_months IS NULL
			OR l.expires_at OPERATOR(pg_catalog.<) COALESCE((
				SELECT @extschema@.inactivity_expiry(a.last_activity_at, pr.time_zone, pr.idle_months)
				  FROM @extschema@.account a
				 WHERE a.customer_id OPERATOR(pg_catalog.=) l.customer_id
				   AND a.program_id OPERATOR(pg_catalog.=) l.program_id), 'infinity'))
	 GROUP BY pr.code, l.customer_id, l.expires_at
), idle_moment AS (
	-- Inactivity lapses in the window.  The gate skips the scan of account
	-- when no program in scope has the inactivity policy.
	SELECT pr.code, a.customer_id, a.program_id, m.at
	  FROM prog pr
	  JOIN @extschema@.account a ON a.program_id OPERATOR(pg_catalog.=) pr.program_id
	 CROSS JOIN LATERAL (SELECT @extschema@.inactivity_expiry(a.last_activity_at, pr.time_zone,
							pr.idle_months) AS at) m
	 WHERE (SELECT pg_catalog.bool_or(x.idle_months IS NOT NULL) FROM prog x)
	   AND pr.idle_months IS NOT NULL
	   AND m.at OPERATOR(pg_catalog.>) expiring_points.as_of
	   AND m.at OPERATOR(pg_catalog.<=) (expiring_points.as_of OPERATOR(pg_catalog.+) expiring_points.within)
)
SELECT r.code, r.customer_id, r.expires_at, r.points
  FROM (SELECT lm.code, lm.customer_id, lm.expires_at, lm.points FROM lot_moment lm
		UNION ALL
		SELECT im.code, im.customer_id, im.at, s.points
		  FROM idle_moment im
		 CROSS JOIN LATERAL (
			SELECT pg_catalog.sum(l.remaining)::bigint AS points FROM @extschema@.lot l
			 WHERE l.customer_id OPERATOR(pg_catalog.=) im.customer_id
			   AND l.program_id OPERATOR(pg_catalog.=) im.program_id
			   AND l.remaining OPERATOR(pg_catalog.>) 0
			   AND NOT (l.pending AND l.available_at IS NULL)
			   AND (l.expires_at IS NULL OR l.expires_at OPERATOR(pg_catalog.>=) im.at)) s
		 WHERE s.points OPERATOR(pg_catalog.>) 0) r
 ORDER BY r.code, r.customer_id, r.expires_at;
$$;

-- The same for one member, for the application (a statement, a reminder on
-- the member's page).  Reads the member's lots by the member key.
CREATE FUNCTION @extschema@.expiring_points(program text, customer_id bigint,
	within interval DEFAULT '30 days', as_of timestamptz DEFAULT pg_catalog.now())
RETURNS TABLE (program text, customer_id bigint, expires_at timestamptz, points bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
SELECT @extschema@.check_expiring_args(expiring_points.program, expiring_points.customer_id, true,
	expiring_points.within, expiring_points.as_of);

WITH mem AS (
	SELECT p.code, a.customer_id, a.program_id,
		   @extschema@.inactivity_expiry(a.last_activity_at, p.time_zone,
				CASE WHEN p.expiry_policy OPERATOR(pg_catalog.=) 'inactivity' THEN p.expiry_months END) AS idle_at
	  FROM @extschema@.program p
	  JOIN @extschema@.account a ON a.program_id OPERATOR(pg_catalog.=) p.program_id
	 WHERE p.code OPERATOR(pg_catalog.=) expiring_points.program
	   AND a.customer_id OPERATOR(pg_catalog.=) expiring_points.customer_id
), lots AS MATERIALIZED (
	SELECT l.expires_at, l.remaining
	  FROM @extschema@.lot l, mem m
	 WHERE l.customer_id OPERATOR(pg_catalog.=) m.customer_id
	   AND l.program_id OPERATOR(pg_catalog.=) m.program_id
	   AND l.remaining OPERATOR(pg_catalog.>) 0
	   -- Held by a fraud check: no expiry while held.
	   AND NOT (l.pending AND l.available_at IS NULL)
), moments AS (
	SELECT l.expires_at AS at, pg_catalog.sum(l.remaining)::bigint AS points
	  FROM lots l, mem m
	 WHERE l.expires_at OPERATOR(pg_catalog.>) expiring_points.as_of
	   AND l.expires_at OPERATOR(pg_catalog.<=) (expiring_points.as_of OPERATOR(pg_catalog.+) expiring_points.within)
	   AND (m.idle_at IS NULL OR l.expires_at OPERATOR(pg_catalog.<) m.idle_at)
	 GROUP BY l.expires_at
	UNION ALL
	SELECT m.idle_at, (SELECT pg_catalog.sum(l.remaining)::bigint FROM lots l
						WHERE l.expires_at IS NULL OR l.expires_at OPERATOR(pg_catalog.>=) m.idle_at)
	  FROM mem m
	 WHERE m.idle_at OPERATOR(pg_catalog.>) expiring_points.as_of
	   AND m.idle_at OPERATOR(pg_catalog.<=) (expiring_points.as_of OPERATOR(pg_catalog.+) expiring_points.within)
)
SELECT m.code, m.customer_id, x.at, x.points
  FROM moments x, mem m
 WHERE x.points OPERATOR(pg_catalog.>) 0
 ORDER BY x.at;
$$;

-- Which reminders were sent: one row per member, expiry moment and threshold
-- (days before the moment), so each is announced once however often
-- announce_expiring() runs.  Rows for moments that have passed are removed
-- by announce_expiring().
CREATE TABLE @extschema@.expiry_notice (
	customer_id bigint NOT NULL,
	program_id	integer NOT NULL,
	expires_at	timestamptz NOT NULL,
	days_before integer NOT NULL CHECK (days_before > 0),
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (customer_id, program_id, expires_at, days_before)
);
CREATE INDEX expiry_notice_expires_idx ON @extschema@.expiry_notice (expires_at);
COMMENT ON TABLE @extschema@.expiry_notice IS
	'reminders announced by announce_expiring(): one row per member, expiry moment and threshold in days';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.expiry_notice', '');

-- Write a points_expiring event per active member and expiry moment that has
-- newly come within one of the thresholds (days before the moment, in
-- 24-hour days), naming the smallest threshold newly reached.  Every
-- threshold reached is recorded in expiry_notice, so each is announced once
-- however often this runs; one reached after a smaller one was announced
-- (thresholds changed) is recorded without an event.  Meant to run daily
-- (pg_cron).  Returns the number of events written.
CREATE FUNCTION @extschema@.announce_expiring(as_of timestamptz DEFAULT pg_catalog.now(),
	days_before integer[] DEFAULT '{30,7,1}')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	horizon		integer;
	n			bigint;
BEGIN
	IF announce_expiring.as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be null' USING ERRCODE = '22004',
			HINT = 'Omit it to announce as of now().';
	END IF;
	IF announce_expiring.days_before IS NULL OR pg_catalog.array_position(announce_expiring.days_before, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'days_before must not be null or hold nulls' USING ERRCODE = '22004',
			HINT = 'Pass the reminder thresholds in days, e.g. ''{30,7,1}''.';
	END IF;
	IF pg_catalog.cardinality(announce_expiring.days_before) OPERATOR(pg_catalog.=) 0
		OR 1 OPERATOR(pg_catalog.>) ANY (announce_expiring.days_before)
		OR 3650 OPERATOR(pg_catalog.<) ANY (announce_expiring.days_before) THEN
		RAISE EXCEPTION 'days_before must list thresholds from 1 to 3650 days'
			USING ERRCODE = '22023',
				  DETAIL = pg_catalog.format('Got %s.', announce_expiring.days_before),
				  HINT = 'Pass e.g. ''{30,7,1}'': a reminder 30, 7 and 1 days before points expire.';
	END IF;
	horizon := (SELECT pg_catalog.max(d) FROM pg_catalog.unnest(announce_expiring.days_before) d);

	-- Notices of moments that have passed can never be needed again.
	DELETE FROM @extschema@.expiry_notice x
	 WHERE x.expires_at OPERATOR(pg_catalog.<=) announce_expiring.as_of;

	WITH due AS MATERIALIZED (
		SELECT p.program_id, e.customer_id, e.expires_at, e.points
		  FROM @extschema@.expiring_points(pg_catalog.make_interval(hours => 24 OPERATOR(pg_catalog.*) horizon),
					announce_expiring.as_of) e
		  JOIN @extschema@.program p ON p.code OPERATOR(pg_catalog.=) e.program
		  JOIN @extschema@.member m ON m.customer_id OPERATOR(pg_catalog.=) e.customer_id
								   AND m.program_id OPERATOR(pg_catalog.=) p.program_id
		 WHERE m.status OPERATOR(pg_catalog.=) 'active'
	), crossed AS (
		INSERT INTO @extschema@.expiry_notice AS x (customer_id, program_id, expires_at, days_before)
		SELECT d.customer_id, d.program_id, d.expires_at, t.d
		  FROM due d
		 CROSS JOIN (SELECT DISTINCT u AS d FROM pg_catalog.unnest(announce_expiring.days_before) u) t
		 WHERE d.expires_at OPERATOR(pg_catalog.<=) (announce_expiring.as_of
				OPERATOR(pg_catalog.+) pg_catalog.make_interval(hours => 24 OPERATOR(pg_catalog.*) t.d))
		ON CONFLICT DO NOTHING
		RETURNING x.customer_id, x.program_id, x.expires_at, x.days_before
	), announced AS (
		SELECT c.customer_id, c.program_id, c.expires_at, pg_catalog.min(c.days_before) AS days_before
		  FROM crossed c
		 GROUP BY c.customer_id, c.program_id, c.expires_at
	)
	INSERT INTO @extschema@.event (program_id, customer_id, kind, payload)
	SELECT a.program_id, a.customer_id, 'points_expiring',
		   pg_catalog.jsonb_build_object('expires_at', a.expires_at, 'points', d.points,
				'days_before', a.days_before)
	  FROM announced a
	  JOIN due d ON d.customer_id OPERATOR(pg_catalog.=) a.customer_id
				AND d.program_id OPERATOR(pg_catalog.=) a.program_id
				AND d.expires_at OPERATOR(pg_catalog.=) a.expires_at
	 -- A threshold added later (or farther out) than one the member was
	 -- already reminded at stays silent.  The subquery sees the notices of
	 -- earlier runs only, not those this statement inserts.
	 WHERE NOT EXISTS (
			SELECT 1 FROM @extschema@.expiry_notice x
			 WHERE x.customer_id OPERATOR(pg_catalog.=) a.customer_id
			   AND x.program_id OPERATOR(pg_catalog.=) a.program_id
			   AND x.expires_at OPERATOR(pg_catalog.=) a.expires_at
			   AND x.days_before OPERATOR(pg_catalog.<) a.days_before)
	 ORDER BY a.program_id, a.customer_id, a.expires_at;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;

COMMENT ON FUNCTION @extschema@.inactivity_expiry(timestamptz, text, integer)
	IS 'internal: when points lapse under the inactivity policy: last activity plus months in the program''s time zone';
COMMENT ON FUNCTION @extschema@.check_expiring_args(text, bigint, boolean, interval, timestamptz)
	IS 'internal: validate the arguments of expiring_points()';
COMMENT ON FUNCTION @extschema@.expiring_points(interval, timestamptz, text)
	IS 'points expiring in (as_of, as_of + within], per member and expiry moment, for every program or one';
COMMENT ON FUNCTION @extschema@.expiring_points(text, bigint, interval, timestamptz)
	IS 'one member''s points expiring in (as_of, as_of + within], per expiry moment';
COMMENT ON FUNCTION @extschema@.announce_expiring(timestamptz, integer[])
	IS 'write a points_expiring event per active member and expiry moment newly within days_before days (default 30, 7, 1); run it daily with pg_cron; idempotent';

REVOKE ALL ON FUNCTION
	@extschema@.inactivity_expiry(timestamptz, text, integer),
	@extschema@.check_expiring_args(text, bigint, boolean, interval, timestamptz),
	@extschema@.expiring_points(interval, timestamptz, text),
	@extschema@.expiring_points(text, bigint, interval, timestamptz),
	@extschema@.announce_expiring(timestamptz, integer[])
FROM PUBLIC;
