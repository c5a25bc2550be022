--
-- Tiers (new in 0.3.0): Member, Silver, Gold... qualified on points, spend or
-- number of orders over a rolling window or the calendar year.  The same
-- statements serve a fresh install and the update from 0.2.0.
--
-- How it works (src/tier.c, README.md "Tiers"):
--   * every order, and every earn(), adds its qualifying amount to the
--     member's account.qualifying (a fraud hold's only when review()
--     releases it), a loyalty.window of monthly buckets, at
--     the order's month in the program's time zone; a refund, a lower amount
--     or a delete takes it back from that same month;
--   * inside the order's transaction, a member whose total as of the order
--     time reaches a higher tier's threshold moves up at once, to the highest
--     tier reached;
--   * only evaluate_tiers() moves members down: one tier at a time, at most
--     once a month (a member whose tier changed in the month of as_of is not
--     moved down by that run), after the grace period, and never below a
--     paid tier that runs (grant_tier).
--

-- How a program's members qualify.
ALTER TABLE @extschema@.program
	ADD COLUMN tier_basis text NOT NULL DEFAULT 'points'
		CHECK (tier_basis IN ('points', 'spend', 'orders')),
	ADD COLUMN tier_period text NOT NULL DEFAULT 'rolling'
		CHECK (tier_period IN ('rolling', 'calendar_year')),
	ADD COLUMN tier_months integer NOT NULL DEFAULT 12
		CHECK (tier_months BETWEEN 1 AND 24),
	ADD COLUMN tier_grace_days integer NOT NULL DEFAULT 0
		CHECK (tier_grace_days BETWEEN 0 AND 3650);

COMMENT ON COLUMN @extschema@.program.tier_basis IS
	'what qualifies for a tier: points (earned by orders and earn()), spend (net order amounts in the program currency) or orders (orders not fully refunded); set with loyalty.set_tier_policy()';
COMMENT ON COLUMN @extschema@.program.tier_period IS
	'rolling: the last tier_months months, the current one included; calendar_year: from 1 January of the current year; in the program''s time zone';
COMMENT ON COLUMN @extschema@.program.tier_months IS
	'length of the rolling qualification window in months (1 to 24); not used by calendar_year';
COMMENT ON COLUMN @extschema@.program.tier_grace_days IS
	'days (of 24 hours) a member keeps a tier after reaching it before evaluate_tiers() may move them down';

-- The tiers of a program, ordered by threshold.  A member whose qualifying
-- total is below the lowest threshold has no tier (NULL).
CREATE TABLE @extschema@.tier (
	program_id	integer NOT NULL REFERENCES @extschema@.program (program_id),
	code		text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' AND pg_catalog.lower(code) <> 'none'),
	name		text NOT NULL CHECK (pg_catalog.btrim(name) <> '' AND pg_catalog.octet_length(name) <= 200),
	threshold	numeric NOT NULL
				CHECK (threshold >= 0 AND threshold < 'Infinity' AND threshold <> 'NaN'),
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (program_id, code),
	UNIQUE (program_id, threshold)
);
COMMENT ON TABLE @extschema@.tier IS
	'tiers of a program, ordered by threshold; change them through set_tier and drop_tier';
COMMENT ON COLUMN @extschema@.tier.code IS
	'the tier''s key, as tier_multiplier rules and account.tier name it (case-sensitive)';
COMMENT ON COLUMN @extschema@.tier.threshold IS
	'the qualifying total that reaches the tier: points, spend in the program currency''s major units (e.g. 1500.50 EUR), or orders';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.tier', '');

-- Rules and tiers are cached together in every backend (src/rules.c).
CREATE TRIGGER tier_rules_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.tier
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.rules_changed();

-- A member's tier and qualifying totals live in the account row, which every
-- order already locks and rewrites.  No foreign key to tier: its check per
-- moved member cost more than the move itself in evaluate_tiers() (a third
-- of a run that moves 40% of 100,000 members).  The engine only ever writes
-- a code of the program's tiers, drop_tier refuses a tier members hold, and
-- evaluate_tiers() moves a member whose tier is not (or no longer) among
-- the program's tiers to the tier their total reaches.
ALTER TABLE @extschema@.account
	ADD COLUMN tier text,
	ADD COLUMN tier_since timestamptz,
	ADD COLUMN tier_paid text,
	ADD COLUMN tier_paid_until timestamptz,
	ADD COLUMN qualifying @extschema@.window;

COMMENT ON COLUMN @extschema@.account.tier IS 'the member''s tier code; NULL: no tier';
COMMENT ON COLUMN @extschema@.account.tier_since IS 'when the member moved to this tier (up or down)';
COMMENT ON COLUMN @extschema@.account.tier_paid IS
	'the tier of the member''s paid tier (grant_tier): until tier_paid_until the member is not moved below it; NULL: never paid';
COMMENT ON COLUMN @extschema@.account.tier_paid_until IS
	'when the paid tier (tier_paid) ends; once past, it protects nothing';
COMMENT ON COLUMN @extschema@.account.qualifying IS
	'qualifying amounts by month (points, spend in minor units, or orders) over the last 24 months; NULL until the first one';

-- What a fraud check holds counts toward no tier until a review releases it
-- (88_fraud.sql holds and reviews, src/accrual.c keeps these): an order
-- qualifies while it is neither held nor voided.  An order whose held points
-- a review voided never earns again: neither an amount correction nor a
-- re-insert after a delete.
ALTER TABLE @extschema@.order_accrual
	ADD COLUMN held boolean NOT NULL DEFAULT false,
	ADD COLUMN voided_at timestamptz;
COMMENT ON COLUMN @extschema@.order_accrual.held IS
	'a fraud check holds the order''s points until a review; a held order counts toward no tier until released';
COMMENT ON COLUMN @extschema@.order_accrual.voided_at IS
	'when a fraud review voided the order''s held points (NULL: never); a voided order earns nothing more and counts toward no tier';

-- Rebuild the qualifying windows of a program's members from their history,
-- by the program's current basis: the orders of the last 24 months (their
-- points, their net amounts, or 1 each while the net amount is above 0) and,
-- on the points basis, the points of earn(); what a fraud check holds, or a
-- review voided, does not count.  For a change of basis, and for
-- the update from 0.2.0, whose members have history but no windows yet; the
-- order paths never rescan history.  The caller holds the program's account
-- rows locked, so no order of theirs is half counted.  Returns the number of
-- members whose window changed.
CREATE FUNCTION @extschema@.rebuild_qualifying(program_id integer)
RETURNS bigint
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	WITH p AS (
		SELECT p.program_id, p.time_zone, p.tier_basis, c.minor_units,
			   pg_catalog.date_trunc('month', pg_catalog.timezone(p.time_zone, pg_catalog.now())) AS this_month
		  FROM @extschema@.program p
		  JOIN @extschema@.currency c ON c.code OPERATOR(pg_catalog.=) p.currency
		 WHERE p.program_id OPERATOR(pg_catalog.=) rebuild_qualifying.program_id
	), amounts AS (
		SELECT o.customer_id,
			   pg_catalog.date_trunc('month', pg_catalog.timezone(p.time_zone, o.ordered_at)) AS month,
			   CASE p.tier_basis
				   WHEN 'points' THEN o.points
				   WHEN 'spend' THEN pg_catalog.trunc(o.net_amount OPERATOR(pg_catalog.*)
						pg_catalog.power(10::numeric, p.minor_units::numeric))::bigint
				   ELSE (o.net_amount OPERATOR(pg_catalog.>) 0)::integer
			   END AS amount
		  FROM p JOIN @extschema@.order_accrual o ON o.program_id OPERATOR(pg_catalog.=) p.program_id
		 WHERE NOT o.held AND o.voided_at IS NULL
		   AND o.ordered_at OPERATOR(pg_catalog.>=)
			   pg_catalog.timezone(p.time_zone, p.this_month OPERATOR(pg_catalog.-) '23 months'::interval)
		UNION ALL
		SELECT l.customer_id, pg_catalog.date_trunc('month', pg_catalog.timezone(p.time_zone, l.earned_at)),
			   l.points
		  FROM p JOIN @extschema@.lot l ON l.program_id OPERATOR(pg_catalog.=) p.program_id
		  JOIN @extschema@.ledger e ON e.customer_id OPERATOR(pg_catalog.=) l.customer_id
								   AND e.program_id OPERATOR(pg_catalog.=) l.program_id
								   AND e.entry_no OPERATOR(pg_catalog.=) l.lot_no
		 WHERE p.tier_basis OPERATOR(pg_catalog.=) 'points' AND l.source_id IS NULL
		   AND e.kind OPERATOR(pg_catalog.=) 'earn'
		   -- Not held or voided: an earning that entered pending has a release
		   -- time once it is releasable; a held one has none, and a voided one
		   -- keeps none (review()).
		   AND (e.pending_points OPERATOR(pg_catalog.=) 0 OR l.available_at IS NOT NULL)
		   AND l.earned_at OPERATOR(pg_catalog.>=)
			   pg_catalog.timezone(p.time_zone, p.this_month OPERATOR(pg_catalog.-) '23 months'::interval)
	), by_month AS (
		SELECT m.customer_id, m.month, pg_catalog.sum(m.amount)::bigint AS amount
		  FROM amounts m GROUP BY m.customer_id, m.month
	), last_month AS (
		SELECT b.customer_id, GREATEST(pg_catalog.max(b.month), (SELECT p.this_month FROM p)) AS month
		  FROM by_month b GROUP BY b.customer_id
	), built AS (
		-- 24 buckets, oldest first, in the window's text form.
		SELECT e.customer_id,
			   pg_catalog.format('24 months to %s: {%s}', pg_catalog.to_char(e.month, 'YYYY-MM'),
					pg_catalog.string_agg(COALESCE(b.amount, 0)::text, ',' ORDER BY g.month))::@extschema@.window AS w
		  FROM last_month e
		 CROSS JOIN LATERAL pg_catalog.generate_series(e.month OPERATOR(pg_catalog.-) '23 months'::interval,
													  e.month, '1 month'::interval) AS g(month)
		  LEFT JOIN by_month b ON b.customer_id OPERATOR(pg_catalog.=) e.customer_id
							  AND b.month OPERATOR(pg_catalog.=) g.month
		 GROUP BY e.customer_id, e.month
	), target AS (
		SELECT a.customer_id, built.w
		  FROM @extschema@.account a
		  LEFT JOIN built ON built.customer_id OPERATOR(pg_catalog.=) a.customer_id
		 WHERE a.program_id OPERATOR(pg_catalog.=) rebuild_qualifying.program_id
	), rebuilt AS (
		UPDATE @extschema@.account a SET qualifying = target.w
		  FROM target
		 WHERE a.customer_id OPERATOR(pg_catalog.=) target.customer_id
		   AND a.program_id OPERATOR(pg_catalog.=) rebuild_qualifying.program_id
		   AND ((a.qualifying IS NULL) OPERATOR(pg_catalog.<>) (target.w IS NULL)
				OR a.qualifying OPERATOR(@extschema@.<>) target.w)
		RETURNING 1
	)
	SELECT pg_catalog.count(*) FROM rebuilt
$$;

-- Set how a program's members qualify for tiers; returns the program.
CREATE FUNCTION @extschema@.set_tier_policy(program text, basis text,
	period text DEFAULT 'rolling', months integer DEFAULT 12, grace_days integer DEFAULT 0)
RETURNS @extschema@.program
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer := @extschema@.program_id(program);
	existing	@extschema@.program;
	result		@extschema@.program;
BEGIN
	SELECT p.* INTO existing FROM @extschema@.program p WHERE p.program_id OPERATOR(pg_catalog.=) pid;
	IF basis IS NULL OR basis NOT IN ('points', 'spend', 'orders') THEN
		RAISE EXCEPTION 'invalid tier basis: %', COALESCE(pg_catalog.quote_literal(basis), 'NULL')
			USING ERRCODE = '22023',
				  HINT = 'Use points (points earned), spend (order amounts) or orders (number of orders).';
	END IF;
	IF period IS NULL OR period NOT IN ('rolling', 'calendar_year') THEN
		RAISE EXCEPTION 'invalid tier period: %', COALESCE(pg_catalog.quote_literal(period), 'NULL')
			USING ERRCODE = '22023',
				  HINT = 'Use rolling (the last months months) or calendar_year (since 1 January).';
	END IF;
	IF months IS NULL OR months NOT BETWEEN 1 AND 24 THEN
		RAISE EXCEPTION 'tier months out of range: %', COALESCE(months::text, 'NULL')
			USING ERRCODE = '22023',
				  DETAIL = 'A rolling qualification window has 1 to 24 months.',
				  HINT = 'Use 12 for the last twelve months.';
	END IF;
	IF grace_days IS NULL OR grace_days NOT BETWEEN 0 AND 3650 THEN
		RAISE EXCEPTION 'tier grace_days out of range: %', COALESCE(grace_days::text, 'NULL')
			USING ERRCODE = '22023',
				  DETAIL = 'A member keeps a tier for 0 to 3650 days before a downgrade.';
	END IF;

	UPDATE @extschema@.program p SET
		tier_basis = set_tier_policy.basis,
		tier_period = set_tier_policy.period,
		tier_months = set_tier_policy.months,
		tier_grace_days = set_tier_policy.grace_days,
		updated_at = pg_catalog.now()
	 WHERE p.program_id OPERATOR(pg_catalog.=) existing.program_id
	RETURNING p.* INTO result;
	-- The windows hold amounts of the old basis: count the history again,
	-- holding the members (a new statement, so the history read is all that
	-- committed before the locks).  Every window keeps 24 months, so a new
	-- period or length needs nothing.
	IF basis OPERATOR(pg_catalog.<>) existing.tier_basis THEN
		PERFORM FROM @extschema@.account a
		 WHERE a.program_id OPERATOR(pg_catalog.=) existing.program_id FOR NO KEY UPDATE;
		PERFORM @extschema@.rebuild_qualifying(existing.program_id);
	END IF;
	RETURN result;
END
$$;

-- Define a tier of a program, or change the name or threshold of one;
-- returns the tier.  Members move between tiers at their next order or at
-- the next evaluate_tiers(), not here.
CREATE FUNCTION @extschema@.set_tier(program text, code text, name text, threshold numeric)
RETURNS @extschema@.tier
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer := @extschema@.program_id(program);
	other		text;
	result		@extschema@.tier;
BEGIN
	IF code IS NULL OR name IS NULL OR threshold IS NULL THEN
		RAISE EXCEPTION 'tier code, name and threshold must not be null' USING ERRCODE = '22004';
	END IF;
	IF code OPERATOR(pg_catalog.!~) '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' THEN
		RAISE EXCEPTION 'invalid tier code "%"', code
			USING ERRCODE = '22023',
				  HINT = 'Use 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit.';
	END IF;
	IF pg_catalog.lower(code) OPERATOR(pg_catalog.=) 'none' THEN
		RAISE EXCEPTION 'tier code "%" is reserved', code
			USING ERRCODE = '22023',
				  DETAIL = 'loyalty.tier_distribution shows members without a tier as "none".';
	END IF;
	IF pg_catalog.btrim(name) OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'tier name must not be empty' USING ERRCODE = '22023';
	END IF;
	IF pg_catalog.octet_length(name) OPERATOR(pg_catalog.>) 200 THEN
		RAISE EXCEPTION 'tier name is too long' USING ERRCODE = '22001',
			DETAIL = 'The limit is 200 bytes.';
	END IF;
	IF threshold OPERATOR(pg_catalog.<) 0 OR threshold OPERATOR(pg_catalog.>=) 'Infinity'::numeric THEN
		-- NaN sorts above Infinity, so this refuses NaN too.
		RAISE EXCEPTION 'tier threshold must be a finite number of at least 0'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', threshold),
				  HINT = 'Thresholds count points, spend in the program currency (e.g. 1500.50) or orders.';
	END IF;
	-- Tier changes of one program run one at a time.
	PERFORM FROM @extschema@.program p WHERE p.program_id OPERATOR(pg_catalog.=) pid FOR NO KEY UPDATE;
	SELECT t.code INTO other FROM @extschema@.tier t
	 WHERE t.program_id OPERATOR(pg_catalog.=) pid
	   AND t.threshold OPERATOR(pg_catalog.=) set_tier.threshold
	   AND t.code OPERATOR(pg_catalog.<>) set_tier.code;
	IF FOUND THEN
		RAISE EXCEPTION 'tier "%" of program "%" already has threshold %', other, program, threshold
			USING ERRCODE = '23505',
				  DETAIL = 'Tiers are ordered by their thresholds, so no two can share one.',
				  HINT = 'Choose another threshold.';
	END IF;

	INSERT INTO @extschema@.tier AS t (program_id, code, name, threshold)
	VALUES (pid, code, name, threshold)
	ON CONFLICT ON CONSTRAINT tier_pkey DO UPDATE SET
		name = EXCLUDED.name, threshold = EXCLUDED.threshold, updated_at = pg_catalog.now()
	RETURNING t.* INTO result;
	RETURN result;
END
$$;

-- Remove a tier nobody holds, and nobody has paid for until a time still to
-- come.
CREATE FUNCTION @extschema@.drop_tier(program text, code text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer := @extschema@.program_id(program);
	holders		bigint;
	payers		bigint;
BEGIN
	IF code IS NULL THEN
		RAISE EXCEPTION 'tier code must not be null' USING ERRCODE = '22004';
	END IF;
	PERFORM FROM @extschema@.program p WHERE p.program_id OPERATOR(pg_catalog.=) pid FOR NO KEY UPDATE;
	PERFORM FROM @extschema@.tier t
	 WHERE t.program_id OPERATOR(pg_catalog.=) pid AND t.code OPERATOR(pg_catalog.=) drop_tier.code
	   FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown tier "%" in program "%"', code, program
			USING ERRCODE = 'LY010',
				  HINT = 'loyalty.tier lists the tiers of each program.';
	END IF;
	SELECT pg_catalog.count(*) FILTER (WHERE a.tier OPERATOR(pg_catalog.=) drop_tier.code),
		   pg_catalog.count(*) FILTER (WHERE a.tier_paid OPERATOR(pg_catalog.=) drop_tier.code
										 AND a.tier_paid_until OPERATOR(pg_catalog.>) pg_catalog.now())
	  INTO holders, payers
	  FROM @extschema@.account a
	 WHERE a.program_id OPERATOR(pg_catalog.=) pid;
	IF holders OPERATOR(pg_catalog.>) 0 THEN
		RAISE EXCEPTION 'tier "%" of program "%" is held by % members', code, program, holders
			USING ERRCODE = '55006',
				  DETAIL = 'A member''s tier must be one of the program''s tiers.',
				  HINT = 'Raise the tier''s threshold above every member''s total and let loyalty.evaluate_tiers() move them down first.';
	END IF;
	IF payers OPERATOR(pg_catalog.>) 0 THEN
		RAISE EXCEPTION 'tier "%" of program "%" is paid for by % members', code, program, payers
			USING ERRCODE = '55006',
				  DETAIL = 'A member keeps the tier they paid for (grant_tier) until their paid tier ends.',
				  HINT = 'Drop it after the last account.tier_paid_until of it has passed.';
	END IF;
	DELETE FROM @extschema@.tier t
	 WHERE t.program_id OPERATOR(pg_catalog.=) pid AND t.code OPERATOR(pg_catalog.=) drop_tier.code;
END
$$;

-- A moment in the first month of the qualifying period that ends at as_of,
-- in the program's time zone: the month tier_months - 1 months before
-- as_of's (rolling), or January of its year (calendar_year).  With as_of,
-- the range window_total() sums.  No SET clause, so that the planner
-- inlines it; every name is qualified instead.
CREATE FUNCTION @extschema@.tier_period_start(p @extschema@.program, as_of timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
	SELECT pg_catalog.timezone(p.time_zone,
		CASE WHEN p.tier_period OPERATOR(pg_catalog.=) 'calendar_year'
			 THEN pg_catalog.date_trunc('year', pg_catalog.timezone(p.time_zone, as_of))
			 ELSE pg_catalog.date_trunc('month', pg_catalog.timezone(p.time_zone, as_of))
				  OPERATOR(pg_catalog.-) pg_catalog.make_interval(months => p.tier_months OPERATOR(pg_catalog.-) 1)
		END)
$$;

-- Re-evaluate every member's tier as of as_of: the periodic job (pg_cron)
-- that moves members down, and up where an upgrade was missed.
--
-- For each member of a program with tiers who holds a tier or has
-- qualifying amounts, the qualifying total as of as_of (the sum of their
-- window over the program's period; no history is read) ranks them among
-- the tiers:
--   * a total that reaches a tier above theirs moves them up to the highest
--     tier reached (a threshold lowered by set_tier, say);
--   * a total below their tier's threshold moves them down ONE tier, and
--     only once tier_since + tier_grace_days (days of 24 hours) <= as_of,
--     and only when tier_since lies before the month of as_of (in the
--     program's time zone, for calendar_year programs too): a member whose
--     tier changed, up or down, in that month stays until a run as of a
--     later month.  At most one tier down per month, however often the job
--     runs;
--   * a paid tier that runs (tier_paid_until > as_of) is a floor: the
--     member is never moved below tier_paid (down to it, one tier at a
--     time, from a higher tier they earned), and a member below it (its
--     threshold was raised since) moves up to it.
-- A move sets tier_since to as_of.  So a second run as of the same moment,
-- or of any moment of the same month, moves nobody: run it once a month,
-- e.g. at 00:10 on the 1st (a rerun does no harm); each run as of a later
-- month moves a member who still does not qualify one more tier down.
-- A member whose account changes while the run decides (an order
-- commits) is decided again from the new row, in a second pass (and a
-- third; one still changing after that is left for the next run).  Moved
-- members are locked in key order, each with its tier_changed event.
-- Returns the members checked, and how many moved up and down.
--
-- In C (src/tier.c), with the order path's tier rules: one sequential scan
-- decides every member, and one statement moves only those who move.
CREATE FUNCTION @extschema@.evaluate_tiers(as_of timestamptz DEFAULT pg_catalog.now())
RETURNS TABLE (members_checked bigint, upgraded bigint, downgraded bigint)
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'loyalty_evaluate_tiers';

-- A paid tier: a VIP membership bought for a fee.  The member holds the tier
-- (or the higher one they already hold), and until then evaluate_tiers()
-- never moves them below it: account.tier_paid and tier_paid_until.  A
-- member who holds a higher tier (earned before or during the paid one)
-- moves down as usual, to the paid tier at the lowest.  Moving up by orders
-- goes on as usual.  While a paid tier runs, a new one must not take away
-- what the member paid for:
--   * the same tier: it runs until the later of the two ends;
--   * a higher tier: it replaces the running one, and must run at least
--     as long (refused, 55000, otherwise);
--   * a lower tier: refused (55000); grant it once the running one ended.
-- Returns the member's tier afterwards, tier_since, and the end of the paid
-- tier, which is always the tier granted.
CREATE FUNCTION @extschema@.grant_tier(program text, customer_id bigint, tier text,
	until timestamptz, reason text)
RETURNS TABLE (held_tier text, tier_since timestamptz, tier_paid_until timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	pid			integer := @extschema@.program_id(program);
	granted		numeric;
	held		numeric;
	running		numeric;
	acct		record;
	new_tier	text;
BEGIN
	IF customer_id IS NULL OR tier IS NULL OR until IS NULL OR reason IS NULL THEN
		RAISE EXCEPTION 'customer_id, tier, until and reason must not be null' USING ERRCODE = '22004';
	END IF;
	IF pg_catalog.btrim(reason) OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'reason must not be empty' USING ERRCODE = '22023',
			HINT = 'Say why the member gets the tier, e.g. the membership bought.';
	END IF;
	IF pg_catalog.octet_length(reason) OPERATOR(pg_catalog.>) 200 THEN
		RAISE EXCEPTION 'reason is too long' USING ERRCODE = '22001',
			DETAIL = 'The limit is 200 bytes.';
	END IF;
	IF NOT pg_catalog.isfinite(until) THEN
		RAISE EXCEPTION 'until must be a finite time' USING ERRCODE = '22023',
			HINT = 'A paid tier ends: pass the end of the membership bought.';
	END IF;
	IF until OPERATOR(pg_catalog.<=) pg_catalog.now() THEN
		RAISE EXCEPTION 'until must be in the future' USING ERRCODE = '22023',
			DETAIL = pg_catalog.format('Got %s.', until);
	END IF;
	SELECT t.threshold INTO granted FROM @extschema@.tier t
	 WHERE t.program_id OPERATOR(pg_catalog.=) pid AND t.code OPERATOR(pg_catalog.=) grant_tier.tier;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown tier "%" in program "%"', tier, program
			USING ERRCODE = 'LY010',
				  HINT = 'loyalty.tier lists the tiers of each program.';
	END IF;
	SELECT m.status, a.tier, a.tier_since, a.tier_paid, a.tier_paid_until INTO acct
	  FROM @extschema@.account a
	  JOIN @extschema@.member m ON m.customer_id OPERATOR(pg_catalog.=) a.customer_id
							   AND m.program_id OPERATOR(pg_catalog.=) a.program_id
	 WHERE a.customer_id OPERATOR(pg_catalog.=) grant_tier.customer_id
	   AND a.program_id OPERATOR(pg_catalog.=) pid
	   FOR NO KEY UPDATE OF a;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown member % in program "%"', customer_id, program
			USING ERRCODE = 'LY002', HINT = 'Enroll the customer first with loyalty.enroll().';
	END IF;
	IF acct.status OPERATOR(pg_catalog.<>) 'active' THEN
		RAISE EXCEPTION 'member % in program "%" is %', customer_id, program, acct.status
			USING ERRCODE = 'LY003',
				  DETAIL = pg_catalog.format('A %s member cannot be granted a tier.', acct.status),
				  HINT = 'Reactivate the member with loyalty.set_member_status() first.';
	END IF;
	-- A paid tier that runs: the new one must cover what it covers.
	IF acct.tier_paid_until OPERATOR(pg_catalog.>) pg_catalog.now() THEN
		SELECT t.threshold INTO running FROM @extschema@.tier t
		 WHERE t.program_id OPERATOR(pg_catalog.=) pid AND t.code OPERATOR(pg_catalog.=) acct.tier_paid;
		IF running OPERATOR(pg_catalog.>) granted THEN
			RAISE EXCEPTION 'member % in program "%" has a paid tier "%" above "%"',
				customer_id, program, acct.tier_paid, tier
				USING ERRCODE = '55000',
					  DETAIL = pg_catalog.format('It runs until %s; a lower paid tier would take away what the member paid for.',
						  acct.tier_paid_until),
					  HINT = pg_catalog.format('Grant "%s" once the paid tier "%s" has ended, or extend "%s".',
						  tier, acct.tier_paid, acct.tier_paid);
		END IF;
		IF running OPERATOR(pg_catalog.<) granted AND until OPERATOR(pg_catalog.<) acct.tier_paid_until THEN
			RAISE EXCEPTION 'paid tier "%" must run at least as long as the paid tier "%" it replaces', tier, acct.tier_paid
				USING ERRCODE = '55000',
					  DETAIL = pg_catalog.format('Member %s in program "%s" has the paid tier "%s" until %s.',
						  customer_id, program, acct.tier_paid, acct.tier_paid_until),
					  HINT = pg_catalog.format('Pass an until of %s or later.', acct.tier_paid_until);
		END IF;
	END IF;
	SELECT t.threshold INTO held FROM @extschema@.tier t
	 WHERE t.program_id OPERATOR(pg_catalog.=) pid AND t.code OPERATOR(pg_catalog.=) acct.tier;
	new_tier := CASE WHEN held OPERATOR(pg_catalog.>=) granted THEN acct.tier ELSE grant_tier.tier END;

	-- The paid tier is now the one granted: a running one was the same tier
	-- (until the later end), or a lower one ending no later; an ended one is
	-- replaced (its end is past, so GREATEST gives until).
	UPDATE @extschema@.account a SET
		tier = new_tier,
		tier_since = CASE WHEN new_tier OPERATOR(pg_catalog.=) acct.tier THEN a.tier_since
						  ELSE pg_catalog.now() END,
		tier_paid = grant_tier.tier,
		tier_paid_until = GREATEST(a.tier_paid_until, until),
		updated_at = pg_catalog.now()
	 WHERE a.customer_id OPERATOR(pg_catalog.=) grant_tier.customer_id
	   AND a.program_id OPERATOR(pg_catalog.=) pid
	RETURNING a.tier, a.tier_since, a.tier_paid_until
	  INTO grant_tier.held_tier, grant_tier.tier_since, grant_tier.tier_paid_until;
	IF new_tier IS DISTINCT FROM acct.tier THEN
		INSERT INTO @extschema@.event (program_id, customer_id, kind, payload)
		VALUES (pid, customer_id, 'tier_changed', pg_catalog.jsonb_build_object('from', acct.tier,
			'to', new_tier, 'reason', 'paid: ' OPERATOR(pg_catalog.||) reason));
	END IF;
	RETURN NEXT;
END
$$;

-- A member's progress toward their next tier, as of now: the tier held, the
-- next tier above it (the lowest tier when they hold none), the qualifying
-- total (points, spend in the program currency, or orders), the next tier's
-- threshold, what is still needed, and the percent of it reached (100 once
-- reached, and at the top tier, where next_tier is NULL).  A program without
-- tiers gives NULL for all but qualifying.
CREATE FUNCTION @extschema@.tier_progress(program text, customer_id bigint)
RETURNS TABLE (tier text, next_tier text, qualifying numeric, next_threshold numeric,
	still_needed numeric, percent numeric(5,2))
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	pid			integer := @extschema@.program_id(program);
	p			@extschema@.program;
	minor		integer;
	total		bigint;
	held		numeric;
BEGIN
	SELECT * INTO p FROM @extschema@.program x WHERE x.program_id OPERATOR(pg_catalog.=) pid;
	IF customer_id IS NULL THEN
		RAISE EXCEPTION 'customer_id must not be null' USING ERRCODE = '22004';
	END IF;
	SELECT a.tier, COALESCE(@extschema@.window_total(a.qualifying,
			@extschema@.tier_period_start(p, pg_catalog.now()), pg_catalog.now(), p.time_zone), 0)
	  INTO tier_progress.tier, total
	  FROM @extschema@.account a
	 WHERE a.customer_id OPERATOR(pg_catalog.=) tier_progress.customer_id
	   AND a.program_id OPERATOR(pg_catalog.=) p.program_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown member % in program "%"', customer_id, program
			USING ERRCODE = 'LY002', HINT = 'Enroll the customer first with loyalty.enroll().';
	END IF;
	-- Spend is kept in minor units; shown in the currency, exactly.
	SELECT CASE WHEN p.tier_basis OPERATOR(pg_catalog.=) 'spend' THEN c.minor_units ELSE 0 END INTO minor
	  FROM @extschema@.currency c WHERE c.code OPERATOR(pg_catalog.=) p.currency;
	qualifying := pg_catalog.round(total::numeric OPERATOR(pg_catalog./)
		pg_catalog.power(10::numeric, minor::numeric), minor);

	SELECT t.threshold INTO held FROM @extschema@.tier t
	 WHERE t.program_id OPERATOR(pg_catalog.=) p.program_id AND t.code OPERATOR(pg_catalog.=) tier_progress.tier;
	SELECT t.code, t.threshold INTO next_tier, next_threshold FROM @extschema@.tier t
	 WHERE t.program_id OPERATOR(pg_catalog.=) p.program_id
	   AND (held IS NULL OR t.threshold OPERATOR(pg_catalog.>) held)
	 ORDER BY t.threshold LIMIT 1;
	IF next_tier IS NOT NULL THEN
		still_needed := GREATEST(next_threshold OPERATOR(pg_catalog.-) qualifying, 0);
		percent := CASE WHEN qualifying OPERATOR(pg_catalog.>=) next_threshold THEN 100
						ELSE pg_catalog.round(qualifying OPERATOR(pg_catalog.*) 100
							 OPERATOR(pg_catalog./) next_threshold, 2) END;
	ELSIF tier IS NOT NULL THEN
		percent := 100;
	END IF;
	RETURN NEXT;
END
$$;

-- How many members sit in each tier of each program: one row per tier and
-- one for members without a tier ('none'), with its share of the program's
-- members.  Closed members are not counted.
CREATE VIEW @extschema@.tier_distribution AS
	SELECT p.code AS program, COALESCE(t.code, 'none') AS tier,
		   COALESCE(c.members, 0) AS members,
		   pg_catalog.round(COALESCE(c.members, 0)::numeric OPERATOR(pg_catalog./)
				NULLIF(pg_catalog.sum(COALESCE(c.members, 0)) OVER (PARTITION BY p.program_id), 0), 4) AS share
	  FROM @extschema@.program p
	 CROSS JOIN LATERAL (SELECT t.code, t.threshold FROM @extschema@.tier t
						  WHERE t.program_id OPERATOR(pg_catalog.=) p.program_id
						 UNION ALL
						 SELECT NULL, NULL) t
	  LEFT JOIN (SELECT a.program_id, a.tier, pg_catalog.count(*) AS members
				   FROM @extschema@.account a
				   JOIN @extschema@.member m ON m.customer_id OPERATOR(pg_catalog.=) a.customer_id
											AND m.program_id OPERATOR(pg_catalog.=) a.program_id
				  WHERE m.status OPERATOR(pg_catalog.<>) 'closed'
				  GROUP BY a.program_id, a.tier) c
		ON c.program_id OPERATOR(pg_catalog.=) p.program_id
	   AND (c.tier OPERATOR(pg_catalog.=) t.code OR (c.tier IS NULL AND t.code IS NULL));

COMMENT ON VIEW @extschema@.tier_distribution IS
	'members per tier of each program (tier ''none'': members without a tier), and their share of the program''s members; closed members are not counted';
COMMENT ON COLUMN @extschema@.tier_distribution.program IS 'the program''s code';
COMMENT ON COLUMN @extschema@.tier_distribution.tier IS 'the tier''s code, or ''none''';
COMMENT ON COLUMN @extschema@.tier_distribution.members IS 'members holding the tier';
COMMENT ON COLUMN @extschema@.tier_distribution.share IS
	'members / all the program''s members, a fraction rounded to 4 places (0.2500 is a quarter)';

-- The order paths give the rules the member's tier before the order.
COMMENT ON FUNCTION @extschema@.quote(text, numeric, text, text, timestamptz, text, date, boolean) IS
	'points an order would earn under the program''s rules, with the rules that produced them; tier is the member''s tier before the order (account.tier), as the order paths use it: a tier an order reaches multiplies from the next order';
COMMENT ON FUNCTION @extschema@.evaluate_tiers(timestamptz) IS
	're-evaluate every member''s tier as of as_of: missed upgrades to the highest tier reached, downgrades of one tier after the grace days, at most once a month, never below a running paid tier; returns members checked, upgraded, downgraded; run monthly (pg_cron)';
COMMENT ON FUNCTION @extschema@.grant_tier(text, bigint, text, timestamptz, text) IS
	'a paid tier: the member holds tier (or the higher one they hold) and is not moved below tier before until; refused (55000) while a higher paid tier, or a lower one running longer, runs; returns the tier held, tier_since, tier_paid_until';
COMMENT ON FUNCTION @extschema@.tier_progress(text, bigint) IS
	'a member''s progress as of now: tier, next_tier, qualifying total, next_threshold, still_needed, percent (points, spend in the program currency, or orders)';
COMMENT ON FUNCTION @extschema@.tier_period_start(@extschema@.program, timestamptz) IS
	'internal: a moment in the first month of the qualifying period that ends at as_of';
COMMENT ON FUNCTION @extschema@.rebuild_qualifying(integer) IS
	'internal: rebuild the qualifying windows of a program''s members from the last 24 months of history';
COMMENT ON FUNCTION @extschema@.set_tier_policy(text, text, text, integer, integer) IS
	'set how members qualify for tiers: basis (points, spend, orders), period (rolling, calendar_year), months of the rolling window, grace_days before a downgrade';
COMMENT ON FUNCTION @extschema@.set_tier(text, text, text, numeric) IS
	'define a tier (code, name, threshold) or change the name or threshold of one; returns the tier';
COMMENT ON FUNCTION @extschema@.drop_tier(text, text) IS
	'remove a tier; refused (55006) while members hold it or a paid tier of it runs, LY010 for an unknown tier';

REVOKE ALL ON FUNCTION
	@extschema@.rebuild_qualifying(integer),
	@extschema@.evaluate_tiers(timestamptz),
	@extschema@.grant_tier(text, bigint, text, timestamptz, text),
	@extschema@.tier_progress(text, bigint),
	@extschema@.tier_period_start(@extschema@.program, timestamptz),
	@extschema@.set_tier_policy(text, text, text, integer, integer),
	@extschema@.set_tier(text, text, text, numeric),
	@extschema@.drop_tier(text, text)
FROM PUBLIC;

-- A database updated from 0.2.0 has history: give its members their windows
-- (a fresh install has no programs yet).  Programs start on the points basis.
SELECT pg_catalog.count(@extschema@.rebuild_qualifying(p.program_id)) FROM @extschema@.program p;
