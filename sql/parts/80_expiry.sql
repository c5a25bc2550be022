--
-- Expiry (new in 0.3.0): when earned points lapse.  The same statements serve
-- a fresh install and the update from 0.2.0.
--
-- Policies, computed in the program's time zone:
--   none           points never expire (the default)
--   rolling        each earning expires expiry_months later; with
--                  expiry_month_end at the end of that month
--   end_of_period  each earning expires at the end of the calendar year
--                  expiry_months after earning (12: 31 December of the year
--                  after earning; 0: the end of the year of earning)
--   inactivity     everything lapses after expiry_months without activity
--                  (an order, an earning or a redemption)
-- A lot gets its expires_at when it is earned; changing the policy affects
-- later earnings only.  loyalty.expire() does the expiring.
--
ALTER TABLE @extschema@.program
	ADD COLUMN expiry_policy text NOT NULL DEFAULT 'none'
		CHECK (expiry_policy IN ('none', 'rolling', 'end_of_period', 'inactivity')),
	ADD COLUMN expiry_months integer,
	ADD COLUMN expiry_month_end boolean NOT NULL DEFAULT false,
	ADD CONSTRAINT program_expiry_settings CHECK (CASE expiry_policy
		WHEN 'none' THEN expiry_months IS NULL AND NOT expiry_month_end
		WHEN 'rolling' THEN expiry_months BETWEEN 1 AND 1200
		WHEN 'end_of_period' THEN expiry_months BETWEEN 0 AND 1200 AND NOT expiry_month_end
		WHEN 'inactivity' THEN expiry_months BETWEEN 1 AND 1200 AND NOT expiry_month_end
	END);

COMMENT ON COLUMN @extschema@.program.expiry_policy IS
	'none, rolling, end_of_period or inactivity; set with loyalty.set_expiry_policy()';
COMMENT ON COLUMN @extschema@.program.expiry_months IS
	'rolling: months until an earning expires; end_of_period: months after earning whose calendar year end is the expiry; inactivity: months without activity';
COMMENT ON COLUMN @extschema@.program.expiry_month_end IS
	'rolling only: an earning expires at the end of the month it reaches';

-- Set how a program's points expire; returns the program.
CREATE FUNCTION @extschema@.set_expiry_policy(program text, policy text,
	months integer DEFAULT NULL, month_end boolean DEFAULT false)
RETURNS @extschema@.program
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer;
	result		@extschema@.program;
BEGIN
	IF program IS NULL THEN
		RAISE EXCEPTION 'program must not be null' USING ERRCODE = '22004';
	END IF;
	IF policy IS NULL THEN
		RAISE EXCEPTION 'policy must not be null' USING ERRCODE = '22004',
			HINT = 'Use none, rolling, end_of_period or inactivity.';
	END IF;
	IF policy NOT IN ('none', 'rolling', 'end_of_period', 'inactivity') THEN
		RAISE EXCEPTION 'invalid expiry policy: %', pg_catalog.quote_literal(policy)
			USING ERRCODE = '22023',
				  HINT = 'Use none, rolling, end_of_period or inactivity.';
	END IF;
	IF month_end IS NULL THEN
		RAISE EXCEPTION 'month_end must not be null' USING ERRCODE = '22004';
	END IF;
	IF policy OPERATOR(pg_catalog.=) 'none' AND (months IS NOT NULL OR month_end) THEN
		RAISE EXCEPTION 'expiry policy none takes no months and no month_end'
			USING ERRCODE = '22023', HINT = 'Leave months NULL and month_end false.';
	END IF;
	IF policy OPERATOR(pg_catalog.<>) 'none' AND months IS NULL THEN
		RAISE EXCEPTION 'expiry policy % needs months', policy
			USING ERRCODE = '22004',
				  HINT = 'Pass months, e.g. 12.';
	END IF;
	IF months OPERATOR(pg_catalog.<) (CASE WHEN policy OPERATOR(pg_catalog.=) 'end_of_period' THEN 0 ELSE 1 END)
		OR months OPERATOR(pg_catalog.>) 1200 THEN
		RAISE EXCEPTION 'expiry months out of range: %', months
			USING ERRCODE = '22023',
				  DETAIL = CASE WHEN policy OPERATOR(pg_catalog.=) 'end_of_period'
							   THEN 'end_of_period takes 0 to 1200 months.'
							   ELSE pg_catalog.format('%s takes 1 to 1200 months.', policy) END;
	END IF;
	IF month_end AND policy OPERATOR(pg_catalog.<>) 'rolling' THEN
		RAISE EXCEPTION 'month_end applies only to the rolling policy'
			USING ERRCODE = '22023';
	END IF;
	-- Unknown programs raise LY001 there, after the settings were checked.
	pid := @extschema@.program_id(program);

	UPDATE @extschema@.program p SET
		expiry_policy = set_expiry_policy.policy,
		expiry_months = set_expiry_policy.months,
		expiry_month_end = set_expiry_policy.month_end,
		updated_at = pg_catalog.now()
	 WHERE p.program_id OPERATOR(pg_catalog.=) pid
	RETURNING p.* INTO result;
	RETURN result;
END
$$;

COMMENT ON FUNCTION @extschema@.set_expiry_policy(text, text, integer, boolean) IS
	'set how a program''s points expire: none, rolling (months, month_end), end_of_period (months), inactivity (months); applies to later earnings';

REVOKE ALL ON FUNCTION @extschema@.set_expiry_policy(text, text, integer, boolean) FROM PUBLIC;

-- When an inactive member's points lapse: last activity plus months, in the
-- program's local time (31 January + 1 month is the end of February).
-- NULL when months or the last activity is NULL.
CREATE FUNCTION @extschema@.inactivity_expiry(last_activity_at timestamptz,
	time_zone text, months integer)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT pg_catalog.timezone(time_zone,
		pg_catalog.timezone(time_zone, last_activity_at)
			OPERATOR(pg_catalog.+) pg_catalog.make_interval(0, months))
$$;

-- When a member's points lapse for inactivity under the program's policy;
-- NULL when the policy is not inactivity or the member has had no activity.
-- No SET clause, so that the planner inlines it into the queries over many
-- members; every name is qualified instead.
CREATE FUNCTION @extschema@.inactivity_lapse(p @extschema@.program, last_activity_at timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
	SELECT CASE WHEN p.expiry_policy OPERATOR(pg_catalog.=) 'inactivity' THEN
		@extschema@.inactivity_expiry(last_activity_at, p.time_zone, p.expiry_months) END
$$;

-- The lots of expire_members(), in C: for each member given (its account
-- locked, or locked here), remove its due order lots and empty its due
-- manual lots (every unspent, released lot whose expires_at has come by
-- as_of, or all of them for a member whose lapse flag is set), and take
-- their points off the account.  One row per member that lost points, with
-- the ledger entry's number and the balances after.
CREATE FUNCTION @extschema@.expire_lots(customer_ids bigint[], program_ids integer[],
	lapse_flags boolean[], as_of timestamptz)
RETURNS TABLE (customer_id bigint, program_id integer, lots bigint, points bigint,
	entry_no bigint, available_after bigint, pending_after bigint, lapsed boolean)
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'loyalty_expire_lots';

-- Expire the due points of the members given by key, whose account rows the
-- caller holds locked: every unspent, released lot whose expires_at has
-- come, or all of them when the member's inactivity lapse has come.  One
-- ledger entry and one points_expired event per member.  Returns one row per member that lost points.
CREATE FUNCTION @extschema@.expire_members(customer_ids bigint[], program_ids integer[],
	as_of timestamptz, actor text)
RETURNS TABLE (customer_id bigint, program_id integer, lots bigint, points bigint)
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	WITH m AS (
		SELECT pg_catalog.array_agg(k.customer_id ORDER BY k.n) AS c,
			   pg_catalog.array_agg(k.program_id ORDER BY k.n) AS p,
			   pg_catalog.array_agg(COALESCE(@extschema@.inactivity_lapse(p, a.last_activity_at)
											   OPERATOR(pg_catalog.<=) as_of, false) ORDER BY k.n) AS l
		  FROM ROWS FROM (pg_catalog.unnest(customer_ids), pg_catalog.unnest(program_ids))
				 WITH ORDINALITY AS k(customer_id, program_id, n)
		  JOIN @extschema@.account a ON a.customer_id OPERATOR(pg_catalog.=) k.customer_id
									AND a.program_id OPERATOR(pg_catalog.=) k.program_id
		  JOIN @extschema@.program p ON p.program_id OPERATOR(pg_catalog.=) k.program_id
	), x AS (
		SELECT e.* FROM m CROSS JOIN LATERAL @extschema@.expire_lots(m.c, m.p, m.l, as_of) e
	), entry AS (
		INSERT INTO @extschema@.ledger (customer_id, program_id, entry_no, kind, points,
			pending_points, available_after, pending_after, reason, reference, actor, db_role, detail)
		SELECT x.customer_id, x.program_id, x.entry_no, 'expire',
			   OPERATOR(pg_catalog.-) x.points, 0, x.available_after, x.pending_after,
			   CASE WHEN x.lapsed THEN 'no activity' ELSE 'points expired' END,
			   pg_catalog.format('expiry as of %s', as_of), actor, SESSION_USER,
			   pg_catalog.jsonb_build_object('lots', x.lots, 'as_of', as_of,
				   'policy', CASE WHEN x.lapsed THEN 'inactivity' ELSE 'expiry date' END)
		  FROM x
	), announced AS (
		-- The application learns of it through the outbox, in this transaction.
		INSERT INTO @extschema@.event (program_id, customer_id, kind, payload)
		SELECT x.program_id, x.customer_id, 'points_expired',
			   pg_catalog.jsonb_build_object('points', x.points, 'lots', x.lots, 'as_of', as_of,
				   'reason', CASE WHEN x.lapsed THEN 'no activity' ELSE 'points expired' END)
		  FROM x
	)
	SELECT x.customer_id, x.program_id, x.lots, x.points
	  FROM x
$$;

-- The members that may have points to expire as of as_of, in key order:
-- pass 1, those with lots due by date (held lots whose return window has
-- passed by then included); pass 2, those of inactivity programs whose
-- lapse has come.
CREATE FUNCTION @extschema@.expire_candidates(as_of timestamptz, pass integer,
	OUT customer_ids bigint[], OUT program_ids integer[])
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.array_agg(c.customer_id ORDER BY c.customer_id, c.program_id),
		   pg_catalog.array_agg(c.program_id ORDER BY c.customer_id, c.program_id)
	  FROM (SELECT DISTINCT l.customer_id, l.program_id FROM @extschema@.lot l
			 WHERE pass OPERATOR(pg_catalog.=) 1
			   AND l.expires_at OPERATOR(pg_catalog.<=) as_of
			   AND l.remaining OPERATOR(pg_catalog.>) 0
			   AND (NOT l.pending OR l.available_at OPERATOR(pg_catalog.<=) as_of)
			UNION ALL
			SELECT a.customer_id, a.program_id FROM @extschema@.account a
			  JOIN @extschema@.program p ON p.program_id OPERATOR(pg_catalog.=) a.program_id
			 WHERE pass OPERATOR(pg_catalog.=) 2
			   AND p.expiry_policy OPERATOR(pg_catalog.=) 'inactivity'
			   AND (a.available OPERATOR(pg_catalog.>) 0 OR a.pending OPERATOR(pg_catalog.>) 0)
			   AND @extschema@.inactivity_lapse(p, a.last_activity_at) OPERATOR(pg_catalog.<=) as_of) c
$$;

-- One batch: of the members given, lock those no other transaction holds
-- (the others are skipped: the next run takes them), release their held
-- points whose return window has passed by as_of, and expire what is due.
CREATE FUNCTION @extschema@.expire_batch(customer_ids bigint[], program_ids integer[],
	as_of timestamptz, OUT members bigint, OUT lots bigint, OUT points bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	keys_c		bigint[];
	keys_p		integer[];
	held_c		bigint[];
	held_p		integer[];
BEGIN
	members := 0; lots := 0; points := 0;
	-- In key order, each account by its primary key (a subquery that locks
	-- is not flattened into a join, so no plan scans every account).
	SELECT pg_catalog.array_agg(a.customer_id ORDER BY a.customer_id, a.program_id),
		   pg_catalog.array_agg(a.program_id ORDER BY a.customer_id, a.program_id),
		   pg_catalog.array_agg(a.customer_id) FILTER (WHERE a.pending OPERATOR(pg_catalog.>) 0),
		   pg_catalog.array_agg(a.program_id) FILTER (WHERE a.pending OPERATOR(pg_catalog.>) 0)
	  INTO keys_c, keys_p, held_c, held_p
	  FROM (SELECT k.c, k.p
			  FROM ROWS FROM (pg_catalog.unnest(customer_ids), pg_catalog.unnest(program_ids)) AS k(c, p)
			 ORDER BY k.c, k.p) k
	  CROSS JOIN LATERAL (SELECT a.customer_id, a.program_id, a.pending
							FROM @extschema@.account a
						   WHERE a.customer_id OPERATOR(pg_catalog.=) k.c
							 AND a.program_id OPERATOR(pg_catalog.=) k.p
						   FOR NO KEY UPDATE OF a SKIP LOCKED) a;
	IF keys_c IS NULL THEN
		RETURN;
	END IF;
	-- Held points whose return window has passed: released first.
	PERFORM @extschema@.release_member(k.c, k.p, as_of, 'loyalty.expire')
	   FROM ROWS FROM (pg_catalog.unnest(held_c), pg_catalog.unnest(held_p)) AS k(c, p);
	-- Under the locks the lots are read again: a redemption may have spent them.
	SELECT pg_catalog.count(*), COALESCE(pg_catalog.sum(e.lots), 0)::bigint,
		   COALESCE(pg_catalog.sum(e.points), 0)::bigint
	  INTO members, lots, points
	  FROM @extschema@.expire_members(keys_c, keys_p, as_of, 'loyalty.expire') e;
END
$$;

-- Expire every point that is due as of as_of: lots whose expires_at has
-- come, and all points of members of inactivity programs whose last
-- activity is too old.  One ledger entry per member, in batches of
-- batch_members members; a member whose account another transaction holds
-- is skipped and taken by the next run.  Held points whose return window
-- has passed by as_of are released first (a release entry, as redeem()
-- does and as balance() counts them), then expire like the others.
-- Idempotent: a second run as of the same moment finds nothing.
-- max_members bounds one call (skipped members do not count).
CREATE FUNCTION @extschema@.expire(as_of timestamptz DEFAULT pg_catalog.now(),
	max_members integer DEFAULT NULL, batch_members integer DEFAULT 1000)
RETURNS TABLE (members bigint, lots bigint, points bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cand		record;
	b			record;
	n			integer;
	i			integer;
	want		integer;
BEGIN
	PERFORM @extschema@.check_expire_args(as_of, max_members, batch_members);
	members := 0; lots := 0; points := 0;
	FOR pass IN 1 .. 2 LOOP
		cand := @extschema@.expire_candidates(as_of, pass);
		n := COALESCE(pg_catalog.cardinality(cand.customer_ids), 0);
		i := 1;
		WHILE i OPERATOR(pg_catalog.<=) n LOOP
			want := CASE WHEN max_members IS NULL THEN batch_members
						 ELSE LEAST(batch_members, max_members OPERATOR(pg_catalog.-) members::integer) END;
			EXIT WHEN want OPERATOR(pg_catalog.<=) 0;
			b := @extschema@.expire_batch(
				cand.customer_ids[i : i OPERATOR(pg_catalog.+) want OPERATOR(pg_catalog.-) 1],
				cand.program_ids[i : i OPERATOR(pg_catalog.+) want OPERATOR(pg_catalog.-) 1], as_of);
			members := members OPERATOR(pg_catalog.+) b.members;
			lots := lots OPERATOR(pg_catalog.+) b.lots;
			points := points OPERATOR(pg_catalog.+) b.points;
			i := i OPERATOR(pg_catalog.+) want;
		END LOOP;
	END LOOP;
	RETURN NEXT;
END
$$;

-- The check of the as_of moment of a maintenance run: set, and finite;
-- hint says what to pass instead.
CREATE FUNCTION @extschema@.check_as_of(as_of timestamptz, hint text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be null' USING ERRCODE = '22004';
	END IF;
	IF NOT pg_catalog.isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be a finite time' USING ERRCODE = '22008', HINT = hint;
	END IF;
END
$$;

-- The argument checks of expire() and expire_in_batches().
CREATE FUNCTION @extschema@.check_expire_args(as_of timestamptz, max_members integer,
	batch_members integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@.check_as_of(as_of, 'Pass now(), or the moment to expire as of.');
	IF max_members OPERATOR(pg_catalog.<=) 0 THEN
		RAISE EXCEPTION 'max_members must be positive' USING ERRCODE = '22023',
			HINT = 'Pass NULL to expire for every member in one run.';
	END IF;
	IF batch_members IS NULL OR batch_members NOT BETWEEN 1 AND 100000 THEN
		RAISE EXCEPTION 'batch_members must be between 1 and 100000' USING ERRCODE = '22023';
	END IF;
END
$$;

-- expire() with a COMMIT after every batch, so that no member waits behind
-- a long run: CALL loyalty.expire_in_batches(); from pg_cron or psql,
-- outside a transaction block.  The candidates are read once per pass.  No
-- SET clause (a procedure with one cannot COMMIT): every name is qualified.
CREATE PROCEDURE @extschema@.expire_in_batches(as_of timestamptz DEFAULT pg_catalog.now(),
	batch_members integer DEFAULT 1000)
LANGUAGE plpgsql
AS $$
DECLARE
	cand		record;
	b			record;
	n			integer;
	i			integer;
BEGIN
	PERFORM @extschema@.check_expire_args(as_of, NULL, batch_members);
	-- Inside a transaction block this fails at once (2D000), before any work.
	COMMIT;
	FOR pass IN 1 .. 2 LOOP
		cand := @extschema@.expire_candidates(as_of, pass);
		n := COALESCE(pg_catalog.cardinality(cand.customer_ids), 0);
		i := 1;
		WHILE i OPERATOR(pg_catalog.<=) n LOOP
			b := @extschema@.expire_batch(
				cand.customer_ids[i : i OPERATOR(pg_catalog.+) batch_members OPERATOR(pg_catalog.-) 1],
				cand.program_ids[i : i OPERATOR(pg_catalog.+) batch_members OPERATOR(pg_catalog.-) 1], as_of);
			COMMIT;
			i := i OPERATOR(pg_catalog.+) batch_members;
		END LOOP;
	END LOOP;
END
$$;

COMMENT ON FUNCTION @extschema@.expire(timestamptz, integer, integer) IS
	'expire every point due as of as_of (expiry dates and inactivity): one ledger entry per member, batches, idempotent; returns members, lots and points';
COMMENT ON PROCEDURE @extschema@.expire_in_batches(timestamptz, integer) IS
	'loyalty.expire() with a COMMIT after every batch of members; for pg_cron';
COMMENT ON FUNCTION @extschema@.expire_members(bigint[], integer[], timestamptz, text) IS
	'internal: expire the due points of members whose accounts the caller holds locked';
COMMENT ON FUNCTION @extschema@.expire_lots(bigint[], integer[], boolean[], timestamptz) IS
	'internal: expire_members()''s lots and accounts, in C';
COMMENT ON FUNCTION @extschema@.inactivity_lapse(@extschema@.program, timestamptz) IS
	'internal: when a member''s points lapse for inactivity';

COMMENT ON FUNCTION @extschema@.expire_candidates(timestamptz, integer) IS
	'internal: the members that may have points to expire, in key order';
COMMENT ON FUNCTION @extschema@.expire_batch(bigint[], integer[], timestamptz) IS
	'internal: lock, release and expire one batch of members, skipping those others hold';
COMMENT ON FUNCTION @extschema@.check_as_of(timestamptz, text) IS
	'internal: as_of of a maintenance run must be set and finite';
COMMENT ON FUNCTION @extschema@.check_expire_args(timestamptz, integer, integer) IS
	'internal: the argument checks of expire() and expire_in_batches()';

REVOKE ALL ON FUNCTION @extschema@.expire(timestamptz, integer, integer),
	@extschema@.expire_candidates(timestamptz, integer),
	@extschema@.expire_batch(bigint[], integer[], timestamptz),
	@extschema@.check_as_of(timestamptz, text),
	@extschema@.check_expire_args(timestamptz, integer, integer),
	@extschema@.expire_members(bigint[], integer[], timestamptz, text),
	@extschema@.expire_lots(bigint[], integer[], boolean[], timestamptz),
	@extschema@.inactivity_lapse(@extschema@.program, timestamptz) FROM PUBLIC;
REVOKE ALL ON PROCEDURE @extschema@.expire_in_batches(timestamptz, integer) FROM PUBLIC;
