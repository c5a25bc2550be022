--
-- Business views (new in 0.3.0): what BI tools and the people who pay for
-- the program read.  Plain views over the engine's tables, no personal data
-- (no card, birthday, e-mail or phone hashes): a member is the application's
-- own customer key.  The same statements serve a fresh install and the
-- update from 0.2.0.
--
-- "One member" queries (WHERE program = ... AND customer_id = ...) reach the
-- member's rows by the member keys; the views that aggregate a whole program
-- (points_flow, liability, effectiveness, retention) read all of its rows.
-- Times are taken as of now(); local dates are in the program's time zone.
--

-- What one point costs the business, for the liability view.
ALTER TABLE @extschema@.program
	ADD COLUMN point_value numeric
		CHECK (point_value >= 0 AND point_value < 'Infinity' AND point_value <> 'NaN');
COMMENT ON COLUMN @extschema@.program.point_value IS
	'what one point costs the business when redeemed, in the program currency (e.g. 0.01 USD); NULL: not set; set with loyalty.set_point_value()';

-- Set (or with NULL, clear) what one point costs the business; returns the
-- program.
CREATE FUNCTION @extschema@.set_point_value(program text, point_value numeric)
RETURNS @extschema@.program
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	pid			integer := @extschema@.program_id(program);
	result		@extschema@.program;
BEGIN
	IF point_value IS NOT NULL AND (point_value OPERATOR(pg_catalog.=) 'NaN'::numeric
			OR point_value OPERATOR(pg_catalog.=) 'Infinity'::numeric
			OR point_value OPERATOR(pg_catalog.<) 0) THEN
		RAISE EXCEPTION 'point_value must be a finite amount of zero or more'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', point_value),
				  HINT = 'Give what one point costs in the program currency, e.g. 0.01 for a cent; NULL clears it.';
	END IF;
	UPDATE @extschema@.program AS p
	   SET point_value = set_point_value.point_value, updated_at = pg_catalog.now()
	 WHERE p.program_id OPERATOR(pg_catalog.=) pid
	RETURNING p.* INTO result;
	RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.set_point_value(text, numeric) IS
	'set what one point costs the business in the program currency (finite, 0 or more; NULL clears it), for loyalty.liability; returns the program';
REVOKE ALL ON FUNCTION @extschema@.set_point_value(text, numeric) FROM PUBLIC;

--
-- Member summary: one row per member, the member's balances, expiring
-- points and tier progress.  Expiry is each lot's expires_at or, in an
-- inactivity program, the member's lapse when that comes first (as in
-- expiring_points()); tier progress is computed as tier_progress() does.
-- Every member has an account row (its foreign key): the account drives,
-- and everything not in it is a subquery in the select list, which
-- PostgreSQL evaluates after ORDER BY ... LIMIT, so "the top 100 by
-- available" reads the lots and tiers of those 100 members only.
--
CREATE VIEW @extschema@.member_summary AS
	SELECT s.program, s.customer_id, s.status, s.tier,
		   s.available, s.pending, s.lifetime_earned, s.lifetime_redeemed, s.lifetime_expired,
		   s.expiring_30d, s.next_expiry_at,
		   (s.nt).code AS next_tier, s.qualifying, (s.nt).threshold AS next_threshold,
		   CASE WHEN (s.nt).code IS NOT NULL
				THEN GREATEST((s.nt).threshold OPERATOR(pg_catalog.-) s.qualifying, 0) END AS still_needed,
		   (CASE WHEN (s.nt).code IS NULL AND s.tier IS NOT NULL THEN 100
				 WHEN (s.nt).code IS NULL THEN NULL
				 WHEN s.qualifying OPERATOR(pg_catalog.>=) (s.nt).threshold THEN 100
				 ELSE pg_catalog.round(s.qualifying OPERATOR(pg_catalog.*) 100
						OPERATOR(pg_catalog./) (s.nt).threshold, 2) END)::numeric(5,2) AS tier_percent,
		   s.enrolled_at, s.last_activity_at
	  FROM (SELECT p.code AS program, a.customer_id,
				   (SELECT m.status FROM @extschema@.member m
					 WHERE m.customer_id OPERATOR(pg_catalog.=) a.customer_id
					   AND m.program_id OPERATOR(pg_catalog.=) a.program_id) AS status,
				   a.tier,
				   a.available, a.pending, a.lifetime_earned, a.lifetime_redeemed, a.lifetime_expired,
				   COALESCE((SELECT pg_catalog.sum(l.remaining)
							   FROM @extschema@.lot l
							  WHERE l.customer_id OPERATOR(pg_catalog.=) a.customer_id
								AND l.program_id OPERATOR(pg_catalog.=) a.program_id
								AND l.remaining OPERATOR(pg_catalog.>) 0
								AND NOT (l.pending AND l.available_at IS NULL)
								AND LEAST(l.expires_at, @extschema@.inactivity_lapse(p, a.last_activity_at))
									OPERATOR(pg_catalog.>) pg_catalog.now()
								AND LEAST(l.expires_at, @extschema@.inactivity_lapse(p, a.last_activity_at))
									OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.+) '30 days'::interval)), 0)::bigint AS expiring_30d,
				   (SELECT pg_catalog.min(LEAST(l.expires_at, @extschema@.inactivity_lapse(p, a.last_activity_at)))
					  FROM @extschema@.lot l
					 WHERE l.customer_id OPERATOR(pg_catalog.=) a.customer_id
					   AND l.program_id OPERATOR(pg_catalog.=) a.program_id
					   AND l.remaining OPERATOR(pg_catalog.>) 0
					   AND NOT (l.pending AND l.available_at IS NULL)
					   AND LEAST(l.expires_at, @extschema@.inactivity_lapse(p, a.last_activity_at))
							OPERATOR(pg_catalog.>) pg_catalog.now()) AS next_expiry_at,
				   (SELECT t FROM @extschema@.tier t
					 WHERE t.program_id OPERATOR(pg_catalog.=) p.program_id
					   AND t.threshold OPERATOR(pg_catalog.>) COALESCE((
							SELECT h.threshold FROM @extschema@.tier h
							 WHERE h.program_id OPERATOR(pg_catalog.=) p.program_id
							   AND h.code OPERATOR(pg_catalog.=) a.tier), -1)
					 ORDER BY t.threshold LIMIT 1) AS nt,
				   pg_catalog.round(COALESCE(@extschema@.window_total(a.qualifying,
						@extschema@.tier_period_start(p, pg_catalog.now()), pg_catalog.now(), p.time_zone), 0)::numeric
						OPERATOR(pg_catalog./) pg_catalog.power(10::numeric,
							(CASE WHEN p.tier_basis OPERATOR(pg_catalog.=) 'spend' THEN c.minor_units ELSE 0 END)::numeric),
						CASE WHEN p.tier_basis OPERATOR(pg_catalog.=) 'spend' THEN c.minor_units ELSE 0 END) AS qualifying,
				   (SELECT m.enrolled_at FROM @extschema@.member m
					 WHERE m.customer_id OPERATOR(pg_catalog.=) a.customer_id
					   AND m.program_id OPERATOR(pg_catalog.=) a.program_id) AS enrolled_at,
				   a.last_activity_at
			  FROM @extschema@.account a
			  JOIN @extschema@.program p ON p.program_id OPERATOR(pg_catalog.=) a.program_id
			  JOIN @extschema@.currency c ON c.code OPERATOR(pg_catalog.=) p.currency) s;

COMMENT ON VIEW @extschema@.member_summary IS
	'one row per member: balances, points expiring in the next 30 days, tier and progress to the next tier, last activity (no personal data); a plain view, read one member by program and customer_id';
COMMENT ON COLUMN @extschema@.member_summary.program IS 'the program''s code';
COMMENT ON COLUMN @extschema@.member_summary.customer_id IS 'the application''s customer key';
COMMENT ON COLUMN @extschema@.member_summary.status IS 'active, suspended or closed';
COMMENT ON COLUMN @extschema@.member_summary.tier IS 'the tier held; NULL: none';
COMMENT ON COLUMN @extschema@.member_summary.available IS 'spendable points (negative: a debt)';
COMMENT ON COLUMN @extschema@.member_summary.pending IS 'points not yet spendable (return window or fraud hold)';
COMMENT ON COLUMN @extschema@.member_summary.lifetime_earned IS 'all points ever earned';
COMMENT ON COLUMN @extschema@.member_summary.lifetime_redeemed IS 'all points ever redeemed';
COMMENT ON COLUMN @extschema@.member_summary.lifetime_expired IS 'all points ever expired';
COMMENT ON COLUMN @extschema@.member_summary.expiring_30d IS
	'points whose expiry (the lot''s, or an inactivity lapse) falls after now and within the next 30 days';
COMMENT ON COLUMN @extschema@.member_summary.next_expiry_at IS 'the next moment after now at which some of the member''s points expire; NULL: none';
COMMENT ON COLUMN @extschema@.member_summary.next_tier IS 'the next tier above the one held (the lowest when none is held); NULL at the top or without tiers';
COMMENT ON COLUMN @extschema@.member_summary.qualifying IS
	'the qualifying total of the current period: points, spend in the program currency, or orders (as tier_progress())';
COMMENT ON COLUMN @extschema@.member_summary.next_threshold IS 'the qualifying total the next tier needs';
COMMENT ON COLUMN @extschema@.member_summary.still_needed IS 'what the next tier still needs (0 once reached); NULL without a next tier';
COMMENT ON COLUMN @extschema@.member_summary.tier_percent IS
	'percent of the next tier''s threshold reached, 2 places; 100 once reached and at the top tier; NULL without tiers';
COMMENT ON COLUMN @extschema@.member_summary.enrolled_at IS 'when the member enrolled';
COMMENT ON COLUMN @extschema@.member_summary.last_activity_at IS 'the member''s last order, earning or redemption';

--
-- Points flow per program and period: the ledger summed by kind, per local
-- day and per local month.  Every entry counts both its available and its
-- pending change, so a release (pending to available) nets to zero.
--
CREATE VIEW @extschema@.points_flow AS
	SELECT f.program, f.granularity, f.period_start, f.entries, f.earned, f.redeemed,
		   f.expired, f.adjusted, f.reversed, f.voided, f.net
	  FROM (SELECT p.code AS program, 'day'::text AS granularity,
				   pg_catalog.date_trunc('day', pg_catalog.timezone(p.time_zone, l.created_at))::date AS period_start,
				   pg_catalog.count(*) AS entries,
				   COALESCE(pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)
						FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'earn'), 0)::bigint AS earned,
				   COALESCE(OPERATOR(pg_catalog.-) pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)
						FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'redeem'), 0)::bigint AS redeemed,
				   COALESCE(OPERATOR(pg_catalog.-) pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)
						FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'expire'), 0)::bigint AS expired,
				   COALESCE(pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)
						FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'adjust'), 0)::bigint AS adjusted,
				   COALESCE(pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)
						FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'reverse'), 0)::bigint AS reversed,
				   COALESCE(pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)
						FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'review'), 0)::bigint AS voided,
				   pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)::bigint AS net
			  FROM @extschema@.ledger l
			  JOIN @extschema@.program p ON p.program_id OPERATOR(pg_catalog.=) l.program_id
			 GROUP BY p.code, 3
			UNION ALL
			SELECT p.code, 'month'::text,
				   pg_catalog.date_trunc('month', pg_catalog.timezone(p.time_zone, l.created_at))::date,
				   pg_catalog.count(*),
				   COALESCE(pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)
						FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'earn'), 0)::bigint,
				   COALESCE(OPERATOR(pg_catalog.-) pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)
						FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'redeem'), 0)::bigint,
				   COALESCE(OPERATOR(pg_catalog.-) pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)
						FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'expire'), 0)::bigint,
				   COALESCE(pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)
						FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'adjust'), 0)::bigint,
				   COALESCE(pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)
						FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'reverse'), 0)::bigint,
				   COALESCE(pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)
						FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'review'), 0)::bigint,
				   pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)::bigint
			  FROM @extschema@.ledger l
			  JOIN @extschema@.program p ON p.program_id OPERATOR(pg_catalog.=) l.program_id
			 GROUP BY p.code, 3) f;

COMMENT ON VIEW @extschema@.points_flow IS
	'points earned, redeemed, expired, adjusted, reversed and voided per program and local day or month, from the ledger; a plain view that aggregates the ledger (filter on program and granularity); its materialized version is loyalty.points_flow_mv';
COMMENT ON COLUMN @extschema@.points_flow.program IS 'the program''s code';
COMMENT ON COLUMN @extschema@.points_flow.granularity IS 'day or month';
COMMENT ON COLUMN @extschema@.points_flow.period_start IS 'the first local day of the period, in the program''s time zone';
COMMENT ON COLUMN @extschema@.points_flow.entries IS 'ledger entries in the period';
COMMENT ON COLUMN @extschema@.points_flow.earned IS 'points earned (orders, earn()), pending or not';
COMMENT ON COLUMN @extschema@.points_flow.redeemed IS 'points redeemed, a positive number';
COMMENT ON COLUMN @extschema@.points_flow.expired IS 'points expired, a positive number';
COMMENT ON COLUMN @extschema@.points_flow.adjusted IS 'staff adjustments, signed';
COMMENT ON COLUMN @extschema@.points_flow.reversed IS 'refunds, cancellations and amount changes of orders, signed (a clawback is negative)';
COMMENT ON COLUMN @extschema@.points_flow.voided IS 'points voided by fraud reviews, signed';
COMMENT ON COLUMN @extschema@.points_flow.net IS
	'the change of all members'' points (available plus pending): earned - redeemed - expired + adjusted + reversed + voided';

--
-- Liability per program: the points members hold, by when they expire, what
-- they cost at the program's point value, and breakage.
--
CREATE VIEW @extschema@.liability AS
	SELECT p.code AS program, p.currency::text AS currency, p.point_value,
		   COALESCE(b.outstanding, 0) AS outstanding, COALESCE(b.pending, 0) AS pending,
		   COALESCE(b.due, 0) AS due, COALESCE(b.within_30d, 0) AS within_30d,
		   COALESCE(b.within_90d, 0) AS within_90d, COALESCE(b.within_365d, 0) AS within_365d,
		   COALESCE(b.later, 0) AS later, COALESCE(b.never, 0) AS never,
		   COALESCE(d.debt, 0) AS debt,
		   COALESCE(b.outstanding, 0) OPERATOR(pg_catalog.*) p.point_value AS outstanding_value,
		   pg_catalog.round(d.expired::numeric OPERATOR(pg_catalog./) NULLIF(d.earned, 0), 4) AS breakage,
		   pg_catalog.round(r.expired::numeric OPERATOR(pg_catalog./) NULLIF(r.earned, 0), 4) AS breakage_12m
	  FROM @extschema@.program p
	  LEFT JOIN (
		SELECT e.program_id,
			   pg_catalog.sum(e.remaining)::bigint AS outstanding,
			   pg_catalog.sum(e.remaining) FILTER (WHERE e.pending)::bigint AS pending,
			   pg_catalog.sum(e.remaining) FILTER (WHERE e.at OPERATOR(pg_catalog.<=) pg_catalog.now())::bigint AS due,
			   pg_catalog.sum(e.remaining) FILTER (WHERE e.at OPERATOR(pg_catalog.>) pg_catalog.now()
					AND e.at OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.+) '30 days'::interval))::bigint AS within_30d,
			   pg_catalog.sum(e.remaining) FILTER (WHERE e.at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.+) '30 days'::interval)
					AND e.at OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.+) '90 days'::interval))::bigint AS within_90d,
			   pg_catalog.sum(e.remaining) FILTER (WHERE e.at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.+) '90 days'::interval)
					AND e.at OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.+) '365 days'::interval))::bigint AS within_365d,
			   pg_catalog.sum(e.remaining) FILTER (WHERE e.at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.+) '365 days'::interval))::bigint AS later,
			   pg_catalog.sum(e.remaining) FILTER (WHERE e.at IS NULL)::bigint AS never
		  FROM (SELECT l.program_id, l.remaining, l.pending,
					   LEAST(l.expires_at, @extschema@.inactivity_expiry(la.last_activity_at, lp.time_zone, lp.expiry_months)) AS at
				  FROM @extschema@.lot l
				  JOIN @extschema@.program lp ON lp.program_id OPERATOR(pg_catalog.=) l.program_id
				  -- The member's last activity, in an inactivity program only
				  -- (a join: a subquery per lot took 4 times as long).
				  LEFT JOIN @extschema@.account la ON lp.expiry_policy OPERATOR(pg_catalog.=) 'inactivity'
					AND la.customer_id OPERATOR(pg_catalog.=) l.customer_id
					AND la.program_id OPERATOR(pg_catalog.=) l.program_id
				 WHERE l.remaining OPERATOR(pg_catalog.>) 0) e
		 GROUP BY e.program_id) b ON b.program_id OPERATOR(pg_catalog.=) p.program_id
	  LEFT JOIN (
		SELECT a.program_id,
			   pg_catalog.sum(OPERATOR(pg_catalog.-) a.available)
					FILTER (WHERE a.available OPERATOR(pg_catalog.<) 0)::bigint AS debt,
			   pg_catalog.sum(a.lifetime_earned) AS earned, pg_catalog.sum(a.lifetime_expired) AS expired
		  FROM @extschema@.account a
		 GROUP BY a.program_id) d ON d.program_id OPERATOR(pg_catalog.=) p.program_id
	  LEFT JOIN (
		SELECT l.program_id,
			   pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)
					FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'earn') AS earned,
			   OPERATOR(pg_catalog.-) pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)
					FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'expire') AS expired
		  FROM @extschema@.ledger l
		 WHERE l.created_at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.-) '12 months'::interval)
		 GROUP BY l.program_id) r ON r.program_id OPERATOR(pg_catalog.=) p.program_id;

COMMENT ON VIEW @extschema@.liability IS
	'per program: points members hold by when they expire, their cost at the program''s point_value, and breakage (points expired / points earned); a plain view that aggregates every lot, account and the last 12 months of the ledger; its materialized version is loyalty.liability_mv';
COMMENT ON COLUMN @extschema@.liability.program IS 'the program''s code';
COMMENT ON COLUMN @extschema@.liability.currency IS 'the program''s currency (of point_value and outstanding_value)';
COMMENT ON COLUMN @extschema@.liability.point_value IS 'what one point costs the business (loyalty.set_point_value()); NULL: not set';
COMMENT ON COLUMN @extschema@.liability.outstanding IS 'points members hold in unspent lots, pending ones included (= due + within_30d + within_90d + within_365d + later + never)';
COMMENT ON COLUMN @extschema@.liability.pending IS 'the part of outstanding not yet spendable (return window or fraud hold)';
COMMENT ON COLUMN @extschema@.liability.due IS 'points whose expiry has passed, waiting for the next loyalty.expire() run';
COMMENT ON COLUMN @extschema@.liability.within_30d IS 'points expiring after now and within 30 days (a lot''s expiry, or an inactivity lapse when earlier)';
COMMENT ON COLUMN @extschema@.liability.within_90d IS 'points expiring in 31 to 90 days';
COMMENT ON COLUMN @extschema@.liability.within_365d IS 'points expiring in 91 to 365 days';
COMMENT ON COLUMN @extschema@.liability.later IS 'points expiring after 365 days';
COMMENT ON COLUMN @extschema@.liability.never IS 'points without an expiry';
COMMENT ON COLUMN @extschema@.liability.debt IS 'points members owe (negative balances after clawbacks), a positive number; not subtracted from outstanding';
COMMENT ON COLUMN @extschema@.liability.outstanding_value IS 'outstanding * point_value, in the program currency; NULL while point_value is not set';
COMMENT ON COLUMN @extschema@.liability.breakage IS 'all time: points expired / points earned, from the accounts'' lifetime totals, 4 places; NULL before any earning';
COMMENT ON COLUMN @extschema@.liability.breakage_12m IS 'the last 12 months: points expired / points earned in that time, from the ledger, 4 places; NULL without earnings in that time';

--
-- Effectiveness: purchases in the 6 months before enrolling against the 6
-- months after, from the orders the engine recorded (order_accrual).  Orders
-- of customers who were not members are not recorded with their amounts:
-- under unknown_customer 'enroll' their first order enrolls them, under
-- 'ignore' accrual_problem keeps the order key only.  So "before" counts the
-- tracked orders dated before enrolled_at: orders loaded with their original
-- time (ordered_at column), or a member enrolled later than their first
-- orders arrived.  An order counts while its net amount (less refunds) is
-- above zero, with that net amount.
--
CREATE VIEW @extschema@.member_effectiveness AS
	SELECT p.code AS program, m.customer_id, m.enrolled_at, 6 AS months,
		   o.orders_before, o.spend_before, o.orders_after, o.spend_after,
		   pg_catalog.round(o.orders_before::numeric OPERATOR(pg_catalog./) 6, 4) AS orders_per_month_before,
		   pg_catalog.round(o.orders_after::numeric OPERATOR(pg_catalog./) 6, 4) AS orders_per_month_after,
		   pg_catalog.round(o.spend_before OPERATOR(pg_catalog./) NULLIF(o.orders_before, 0), 2) AS avg_order_before,
		   pg_catalog.round(o.spend_after OPERATOR(pg_catalog./) NULLIF(o.orders_after, 0), 2) AS avg_order_after,
		   (m.enrolled_at OPERATOR(pg_catalog.+) '6 months'::interval OPERATOR(pg_catalog.<=) pg_catalog.now()) AS complete
	  FROM @extschema@.member m
	  JOIN @extschema@.program p ON p.program_id OPERATOR(pg_catalog.=) m.program_id
	 CROSS JOIN LATERAL (
		SELECT pg_catalog.count(*) FILTER (WHERE oa.ordered_at OPERATOR(pg_catalog.<) m.enrolled_at) AS orders_before,
			   COALESCE(pg_catalog.sum(oa.net_amount) FILTER (WHERE oa.ordered_at OPERATOR(pg_catalog.<) m.enrolled_at), 0) AS spend_before,
			   pg_catalog.count(*) FILTER (WHERE oa.ordered_at OPERATOR(pg_catalog.>=) m.enrolled_at) AS orders_after,
			   COALESCE(pg_catalog.sum(oa.net_amount) FILTER (WHERE oa.ordered_at OPERATOR(pg_catalog.>=) m.enrolled_at), 0) AS spend_after
		  FROM @extschema@.order_accrual oa
		 WHERE oa.customer_id OPERATOR(pg_catalog.=) m.customer_id
		   AND oa.program_id OPERATOR(pg_catalog.=) m.program_id
		   AND oa.net_amount OPERATOR(pg_catalog.>) 0
		   AND oa.ordered_at OPERATOR(pg_catalog.>=) (m.enrolled_at OPERATOR(pg_catalog.-) '6 months'::interval)
		   AND oa.ordered_at OPERATOR(pg_catalog.<) (m.enrolled_at OPERATOR(pg_catalog.+) '6 months'::interval)) o;

COMMENT ON VIEW @extschema@.member_effectiveness IS
	'per member: orders and spend in the 6 months before enrolling and the 6 months after, from the tracked orders (order_accrual); a plain view, read one member by program and customer_id; its materialized version is loyalty.member_effectiveness_mv';
COMMENT ON COLUMN @extschema@.member_effectiveness.program IS 'the program''s code';
COMMENT ON COLUMN @extschema@.member_effectiveness.customer_id IS 'the application''s customer key';
COMMENT ON COLUMN @extschema@.member_effectiveness.enrolled_at IS 'when the member enrolled: the boundary between before and after';
COMMENT ON COLUMN @extschema@.member_effectiveness.months IS 'the length of each side in months (6)';
COMMENT ON COLUMN @extschema@.member_effectiveness.orders_before IS 'tracked orders with a net amount above 0 in the 6 months before enrolled_at';
COMMENT ON COLUMN @extschema@.member_effectiveness.spend_before IS 'their net amounts, in the program currency';
COMMENT ON COLUMN @extschema@.member_effectiveness.orders_after IS 'tracked orders with a net amount above 0 in the 6 months from enrolled_at';
COMMENT ON COLUMN @extschema@.member_effectiveness.spend_after IS 'their net amounts, in the program currency';
COMMENT ON COLUMN @extschema@.member_effectiveness.orders_per_month_before IS 'orders_before / 6, 4 places';
COMMENT ON COLUMN @extschema@.member_effectiveness.orders_per_month_after IS 'orders_after / 6, 4 places';
COMMENT ON COLUMN @extschema@.member_effectiveness.avg_order_before IS 'spend_before / orders_before, 2 places; NULL without orders';
COMMENT ON COLUMN @extschema@.member_effectiveness.avg_order_after IS 'spend_after / orders_after, 2 places; NULL without orders';
COMMENT ON COLUMN @extschema@.member_effectiveness.complete IS 'whether the 6 months after enrolling have passed (only then are the after figures final)';

-- Per program: the members whose 6 months after enrolling have passed.
CREATE VIEW @extschema@.effectiveness AS
	SELECT p.code AS program, 6 AS months, COALESCE(s.members, 0) AS members,
		   pg_catalog.round(s.orders_before::numeric OPERATOR(pg_catalog./) NULLIF(s.members OPERATOR(pg_catalog.*) 6, 0), 4) AS orders_per_member_month_before,
		   pg_catalog.round(s.orders_after::numeric OPERATOR(pg_catalog./) NULLIF(s.members OPERATOR(pg_catalog.*) 6, 0), 4) AS orders_per_member_month_after,
		   pg_catalog.round(s.spend_before OPERATOR(pg_catalog./) NULLIF(s.members OPERATOR(pg_catalog.*) 6, 0), 2) AS spend_per_member_month_before,
		   pg_catalog.round(s.spend_after OPERATOR(pg_catalog./) NULLIF(s.members OPERATOR(pg_catalog.*) 6, 0), 2) AS spend_per_member_month_after,
		   pg_catalog.round(s.spend_before OPERATOR(pg_catalog./) NULLIF(s.orders_before, 0), 2) AS avg_order_before,
		   pg_catalog.round(s.spend_after OPERATOR(pg_catalog./) NULLIF(s.orders_after, 0), 2) AS avg_order_after
	  FROM @extschema@.program p
	  LEFT JOIN (
		SELECT e.program, pg_catalog.count(*) AS members,
			   pg_catalog.sum(e.orders_before) AS orders_before, pg_catalog.sum(e.spend_before) AS spend_before,
			   pg_catalog.sum(e.orders_after) AS orders_after, pg_catalog.sum(e.spend_after) AS spend_after
		  FROM @extschema@.member_effectiveness e
		 WHERE e.complete
		 GROUP BY e.program) s ON s.program OPERATOR(pg_catalog.=) p.code;

COMMENT ON VIEW @extschema@.effectiveness IS
	'per program: purchase frequency and spend per member in the 6 months before enrolling against the 6 months after, over the members enrolled at least 6 months ago; a plain view that reads every member''s orders of those 12 months; its materialized version is loyalty.effectiveness_mv';
COMMENT ON COLUMN @extschema@.effectiveness.program IS 'the program''s code';
COMMENT ON COLUMN @extschema@.effectiveness.months IS 'the length of each side in months (6)';
COMMENT ON COLUMN @extschema@.effectiveness.members IS 'members enrolled at least 6 months ago (the ones counted)';
COMMENT ON COLUMN @extschema@.effectiveness.orders_per_member_month_before IS 'their orders before enrolling / (members * 6), 4 places';
COMMENT ON COLUMN @extschema@.effectiveness.orders_per_member_month_after IS 'their orders after enrolling / (members * 6), 4 places';
COMMENT ON COLUMN @extschema@.effectiveness.spend_per_member_month_before IS 'their net spend before enrolling / (members * 6), program currency, 2 places';
COMMENT ON COLUMN @extschema@.effectiveness.spend_per_member_month_after IS 'their net spend after enrolling / (members * 6), program currency, 2 places';
COMMENT ON COLUMN @extschema@.effectiveness.avg_order_before IS 'net spend / orders before enrolling, 2 places; NULL without orders';
COMMENT ON COLUMN @extschema@.effectiveness.avg_order_after IS 'net spend / orders after enrolling, 2 places; NULL without orders';

-- Retention by enrolment cohort: of the members who enrolled in a local
-- month, the share with a tracked order (net amount above 0) at least 1, 3,
-- 6 and 12 months after their own enrolment.
CREATE VIEW @extschema@.retention AS
	SELECT p.code AS program,
		   pg_catalog.date_trunc('month', pg_catalog.timezone(p.time_zone, m.enrolled_at))::date AS cohort,
		   pg_catalog.count(*) AS members,
		   CASE WHEN pg_catalog.max(m.enrolled_at) OPERATOR(pg_catalog.+) '1 month'::interval OPERATOR(pg_catalog.<=) pg_catalog.now()
				THEN pg_catalog.round(pg_catalog.count(*) FILTER (WHERE k.m1)::numeric OPERATOR(pg_catalog./) pg_catalog.count(*), 4) END AS retained_1m,
		   CASE WHEN pg_catalog.max(m.enrolled_at) OPERATOR(pg_catalog.+) '3 months'::interval OPERATOR(pg_catalog.<=) pg_catalog.now()
				THEN pg_catalog.round(pg_catalog.count(*) FILTER (WHERE k.m3)::numeric OPERATOR(pg_catalog./) pg_catalog.count(*), 4) END AS retained_3m,
		   CASE WHEN pg_catalog.max(m.enrolled_at) OPERATOR(pg_catalog.+) '6 months'::interval OPERATOR(pg_catalog.<=) pg_catalog.now()
				THEN pg_catalog.round(pg_catalog.count(*) FILTER (WHERE k.m6)::numeric OPERATOR(pg_catalog./) pg_catalog.count(*), 4) END AS retained_6m,
		   CASE WHEN pg_catalog.max(m.enrolled_at) OPERATOR(pg_catalog.+) '12 months'::interval OPERATOR(pg_catalog.<=) pg_catalog.now()
				THEN pg_catalog.round(pg_catalog.count(*) FILTER (WHERE k.m12)::numeric OPERATOR(pg_catalog./) pg_catalog.count(*), 4) END AS retained_12m
	  FROM @extschema@.member m
	  JOIN @extschema@.program p ON p.program_id OPERATOR(pg_catalog.=) m.program_id
	 CROSS JOIN LATERAL (
		SELECT COALESCE(pg_catalog.bool_or(oa.ordered_at OPERATOR(pg_catalog.>=) (m.enrolled_at OPERATOR(pg_catalog.+) '1 month'::interval)), false) AS m1,
			   COALESCE(pg_catalog.bool_or(oa.ordered_at OPERATOR(pg_catalog.>=) (m.enrolled_at OPERATOR(pg_catalog.+) '3 months'::interval)), false) AS m3,
			   COALESCE(pg_catalog.bool_or(oa.ordered_at OPERATOR(pg_catalog.>=) (m.enrolled_at OPERATOR(pg_catalog.+) '6 months'::interval)), false) AS m6,
			   COALESCE(pg_catalog.bool_or(oa.ordered_at OPERATOR(pg_catalog.>=) (m.enrolled_at OPERATOR(pg_catalog.+) '12 months'::interval)), false) AS m12
		  FROM @extschema@.order_accrual oa
		 WHERE oa.customer_id OPERATOR(pg_catalog.=) m.customer_id
		   AND oa.program_id OPERATOR(pg_catalog.=) m.program_id
		   AND oa.net_amount OPERATOR(pg_catalog.>) 0
		   AND oa.ordered_at OPERATOR(pg_catalog.>=) (m.enrolled_at OPERATOR(pg_catalog.+) '1 month'::interval)) k
	 GROUP BY p.code, 2;

COMMENT ON VIEW @extschema@.retention IS
	'retention by enrolment cohort: per program and local month of enrolment, the share of its members still buying 1, 3, 6 and 12 months after enrolling; a plain view that reads every member; its materialized version is loyalty.retention_mv';
COMMENT ON COLUMN @extschema@.retention.program IS 'the program''s code';
COMMENT ON COLUMN @extschema@.retention.cohort IS 'the first day of the local month the members enrolled in';
COMMENT ON COLUMN @extschema@.retention.members IS 'members who enrolled in that month';
COMMENT ON COLUMN @extschema@.retention.retained_1m IS
	'share of them with a tracked order (net amount above 0) at least 1 month after their enrolment, 4 places; NULL until all of them have been members 1 month';
COMMENT ON COLUMN @extschema@.retention.retained_3m IS 'the same at least 3 months after enrolment; NULL until all have been members 3 months';
COMMENT ON COLUMN @extschema@.retention.retained_6m IS 'the same at least 6 months after enrolment; NULL until all have been members 6 months';
COMMENT ON COLUMN @extschema@.retention.retained_12m IS 'the same at least 12 months after enrolment; NULL until all have been members 12 months';

--
-- Category affinity: a member's spend per product category, from the
-- category the tracked orders table gives (track_orders' category_column,
-- kept in order_accrual.category).
--
CREATE VIEW @extschema@.category_affinity AS
	SELECT p.code AS program, c.customer_id, c.category, c.orders, c.spend,
		   pg_catalog.round(c.spend OPERATOR(pg_catalog./)
				pg_catalog.sum(c.spend) OVER (PARTITION BY c.program_id, c.customer_id), 4) AS share
	  FROM (SELECT oa.program_id, oa.customer_id, oa.category,
				   pg_catalog.count(*) AS orders, pg_catalog.sum(oa.net_amount) AS spend
			  FROM @extschema@.order_accrual oa
			 WHERE oa.net_amount OPERATOR(pg_catalog.>) 0
			 GROUP BY oa.program_id, oa.customer_id, oa.category) c
	  JOIN @extschema@.program p ON p.program_id OPERATOR(pg_catalog.=) c.program_id;

COMMENT ON VIEW @extschema@.category_affinity IS
	'per member and product category: orders, net spend and the share of the member''s spend; a plain view, read one member by program and customer_id; its materialized version is loyalty.category_affinity_mv';
COMMENT ON COLUMN @extschema@.category_affinity.program IS 'the program''s code';
COMMENT ON COLUMN @extschema@.category_affinity.customer_id IS 'the application''s customer key';
COMMENT ON COLUMN @extschema@.category_affinity.category IS 'the order''s category as the tracked table gives it; NULL: orders without one';
COMMENT ON COLUMN @extschema@.category_affinity.orders IS 'tracked orders with a net amount above 0 in the category';
COMMENT ON COLUMN @extschema@.category_affinity.spend IS 'their net amounts (less refunds), in the program currency';
COMMENT ON COLUMN @extschema@.category_affinity.share IS 'spend / the member''s spend in all categories, 4 places';

-- The fraud review queue (88_fraud.sql) is the BI fraud view too.
COMMENT ON VIEW @extschema@.fraud_queue IS
	'open fraud flags and holds, oldest first: what triggered them and the points still held (no personal data); the BI fraud queue, a plain view';
COMMENT ON COLUMN @extschema@.fraud_queue.program IS 'the program''s code';
COMMENT ON COLUMN @extschema@.fraud_queue.customer_id IS 'the application''s customer key';
COMMENT ON COLUMN @extschema@.fraud_queue.flag_no IS 'the flag''s number within the member (for loyalty.review())';
COMMENT ON COLUMN @extschema@.fraud_queue.check_name IS 'the check that raised the flag (loyalty.fraud_check_kind)';
COMMENT ON COLUMN @extschema@.fraud_queue.action IS 'flag (review only) or hold (points held pending)';
COMMENT ON COLUMN @extschema@.fraud_queue.measured IS 'what the check measured (orders, points, members sharing an identity...)';
COMMENT ON COLUMN @extschema@.fraud_queue.threshold IS 'the limit the measure exceeded';
COMMENT ON COLUMN @extschema@.fraud_queue.reference IS 'the reference of the order, earning or redemption that triggered it';
COMMENT ON COLUMN @extschema@.fraud_queue.order_key IS 'the tracked order that triggered it, if any';
COMMENT ON COLUMN @extschema@.fraud_queue.held_points IS 'points still held by the flag (0 for flags, or once refunded)';
COMMENT ON COLUMN @extschema@.fraud_queue.detail IS 'what else the check recorded (e.g. the other members sharing an identity)';
COMMENT ON COLUMN @extschema@.fraud_queue.created_at IS 'when the flag was raised';

--
-- Materialized versions of the views that aggregate a whole program
-- (points_flow, liability, effectiveness, retention, tier_distribution)
-- and of the per-member views whose rankings must read every member
-- (member_effectiveness, category_affinity): <view>_mv has the view's
-- columns as of the last refresh, plus refreshed_at.  On 1,000,000 members
-- and 20,000,000 ledger entries these views take seconds (bench/README.md,
-- "Business views at scale"); their _mv answers in milliseconds.
-- member_summary (its top 100 reads the accounts only) and fraud_queue
-- stay plain only.
--
-- loyalty.refresh_business_views() refreshes them with REFRESH MATERIALIZED
-- VIEW CONCURRENTLY (each has a unique index for it): readers keep the old
-- rows until the new ones are in, and the writers of orders, earnings and
-- redemptions are not blocked (the refresh reads the tables like any
-- query).  They are created with the data of the moment (empty in a fresh
-- install); pg_dump does not dump an extension's materialized views or
-- their rows, so after a restore they are empty until the next refresh.
--
CREATE MATERIALIZED VIEW @extschema@.points_flow_mv AS
	SELECT v.program, v.granularity, v.period_start, v.entries, v.earned, v.redeemed,
		   v.expired, v.adjusted, v.reversed, v.voided, v.net,
		   pg_catalog.now() AS refreshed_at
	  FROM @extschema@.points_flow v;
CREATE UNIQUE INDEX points_flow_mv_key ON @extschema@.points_flow_mv (program, granularity, period_start);

CREATE MATERIALIZED VIEW @extschema@.liability_mv AS
	SELECT v.program, v.currency, v.point_value, v.outstanding, v.pending, v.due,
		   v.within_30d, v.within_90d, v.within_365d, v.later, v.never, v.debt,
		   v.outstanding_value, v.breakage, v.breakage_12m,
		   pg_catalog.now() AS refreshed_at
	  FROM @extschema@.liability v;
CREATE UNIQUE INDEX liability_mv_key ON @extschema@.liability_mv (program);

CREATE MATERIALIZED VIEW @extschema@.effectiveness_mv AS
	SELECT v.program, v.months, v.members, v.orders_per_member_month_before,
		   v.orders_per_member_month_after, v.spend_per_member_month_before,
		   v.spend_per_member_month_after, v.avg_order_before, v.avg_order_after,
		   pg_catalog.now() AS refreshed_at
	  FROM @extschema@.effectiveness v;
CREATE UNIQUE INDEX effectiveness_mv_key ON @extschema@.effectiveness_mv (program);

CREATE MATERIALIZED VIEW @extschema@.retention_mv AS
	SELECT v.program, v.cohort, v.members, v.retained_1m, v.retained_3m, v.retained_6m,
		   v.retained_12m,
		   pg_catalog.now() AS refreshed_at
	  FROM @extschema@.retention v;
CREATE UNIQUE INDEX retention_mv_key ON @extschema@.retention_mv (program, cohort);

-- Per member, for rankings over all members ("the 100 members whose
-- spend grew most", "the members who buy most meat"): the plain views answer
-- one member at once, but ordering by a figure they compute reads every
-- member's orders.
CREATE MATERIALIZED VIEW @extschema@.member_effectiveness_mv AS
	SELECT v.program, v.customer_id, v.enrolled_at, v.months, v.orders_before, v.spend_before,
		   v.orders_after, v.spend_after, v.orders_per_month_before, v.orders_per_month_after,
		   v.avg_order_before, v.avg_order_after, v.complete,
		   pg_catalog.now() AS refreshed_at
	  FROM @extschema@.member_effectiveness v;
CREATE UNIQUE INDEX member_effectiveness_mv_key ON @extschema@.member_effectiveness_mv (program, customer_id);

-- A NULL category (orders without one) never equals another row's key, so
-- the refresh rewrites those rows each time; the result is the same.
CREATE MATERIALIZED VIEW @extschema@.category_affinity_mv AS
	SELECT v.program, v.customer_id, v.category, v.orders, v.spend, v.share,
		   pg_catalog.now() AS refreshed_at
	  FROM @extschema@.category_affinity v;
CREATE UNIQUE INDEX category_affinity_mv_key ON @extschema@.category_affinity_mv (program, customer_id, category);
-- "The members who buy most meat": the best shares of a category first.
CREATE INDEX category_affinity_mv_share_idx ON @extschema@.category_affinity_mv (program, category, share DESC);

CREATE MATERIALIZED VIEW @extschema@.tier_distribution_mv AS
	SELECT v.program, v.tier, v.members, v.share,
		   pg_catalog.now() AS refreshed_at
	  FROM @extschema@.tier_distribution v;
CREATE UNIQUE INDEX tier_distribution_mv_key ON @extschema@.tier_distribution_mv (program, tier);

-- Each _mv column says what its view's column says.
DO $$
DECLARE
	v			text;
	col			record;
BEGIN
	FOREACH v IN ARRAY ARRAY['points_flow', 'liability', 'effectiveness', 'retention', 'tier_distribution',
			'member_effectiveness', 'category_affinity'] LOOP
		FOR col IN
			SELECT a.attname, pg_catalog.col_description(a.attrelid, a.attnum) AS comment
			  FROM pg_catalog.pg_attribute a
			 WHERE a.attrelid OPERATOR(pg_catalog.=) pg_catalog.format('@extschema@.%I', v)::regclass
			   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
		LOOP
			EXECUTE pg_catalog.format('COMMENT ON COLUMN @extschema@.%I.%I IS %L',
				v OPERATOR(pg_catalog.||) '_mv', col.attname, col.comment);
		END LOOP;
		EXECUTE pg_catalog.format('COMMENT ON COLUMN @extschema@.%I.refreshed_at IS %L',
			v OPERATOR(pg_catalog.||) '_mv',
			'when these rows were computed: the start of the last loyalty.refresh_business_views() that refreshed them');
	END LOOP;
END
$$;
COMMENT ON VIEW @extschema@.tier_distribution IS
	'members per tier of each program (tier ''none'': members without a tier), and their share of the program''s members; closed members are not counted; a plain view that reads every account; its materialized version is loyalty.tier_distribution_mv';
COMMENT ON MATERIALIZED VIEW @extschema@.points_flow_mv IS
	'loyalty.points_flow as of refreshed_at (materialized: refresh with loyalty.refresh_business_views()); read this one for reports over a program''s history';
COMMENT ON MATERIALIZED VIEW @extschema@.liability_mv IS
	'loyalty.liability as of refreshed_at (materialized: refresh with loyalty.refresh_business_views())';
COMMENT ON MATERIALIZED VIEW @extschema@.effectiveness_mv IS
	'loyalty.effectiveness as of refreshed_at (materialized: refresh with loyalty.refresh_business_views())';
COMMENT ON MATERIALIZED VIEW @extschema@.retention_mv IS
	'loyalty.retention as of refreshed_at (materialized: refresh with loyalty.refresh_business_views())';
COMMENT ON MATERIALIZED VIEW @extschema@.tier_distribution_mv IS
	'loyalty.tier_distribution as of refreshed_at (materialized: refresh with loyalty.refresh_business_views())';
COMMENT ON MATERIALIZED VIEW @extschema@.member_effectiveness_mv IS
	'loyalty.member_effectiveness as of refreshed_at (materialized: refresh with loyalty.refresh_business_views()), for rankings over all members';
COMMENT ON MATERIALIZED VIEW @extschema@.category_affinity_mv IS
	'loyalty.category_affinity as of refreshed_at (materialized: refresh with loyalty.refresh_business_views()), for rankings over all members and categories';

-- Refresh one materialized business view (by its name or its view's, e.g.
-- 'liability' or 'liability_mv') or, with NULL, all of them; returns one row
-- per view refreshed, with how long it took.  Concurrently (writers and
-- readers go on), except for a view never filled, which a plain refresh
-- fills.  Two refreshes of the same view run one after the other.
CREATE FUNCTION @extschema@.refresh_business_views(view text DEFAULT NULL)
RETURNS TABLE (matview text, refreshed_at timestamptz, took interval)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	known		text[] := ARRAY['points_flow', 'liability', 'effectiveness', 'retention', 'tier_distribution',
							 'member_effectiveness', 'category_affinity'];
	wanted		text[];
	v			text;
	started		timestamptz;
BEGIN
	IF view IS NULL THEN
		wanted := known;
	ELSIF pg_catalog.regexp_replace(view, '_mv$', '') OPERATOR(pg_catalog.=) ANY (known) THEN
		wanted := ARRAY[pg_catalog.regexp_replace(view, '_mv$', '')];
	ELSE
		RAISE EXCEPTION 'unknown materialized business view "%"', view
			USING ERRCODE = '22023',
				  DETAIL = pg_catalog.format('Known: %s (or the same names with _mv).',
					pg_catalog.array_to_string(known, ', ')),
				  HINT = 'Give one of them, or NULL to refresh them all.';
	END IF;
	FOREACH v IN ARRAY wanted LOOP
		started := pg_catalog.clock_timestamp();
		IF (SELECT c.relispopulated FROM pg_catalog.pg_class c
			 WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.format('@extschema@.%I', v OPERATOR(pg_catalog.||) '_mv')::regclass) THEN
			EXECUTE pg_catalog.format('REFRESH MATERIALIZED VIEW CONCURRENTLY @extschema@.%I',
				v OPERATOR(pg_catalog.||) '_mv');
		ELSE
			EXECUTE pg_catalog.format('REFRESH MATERIALIZED VIEW @extschema@.%I',
				v OPERATOR(pg_catalog.||) '_mv');
		END IF;
		matview := v OPERATOR(pg_catalog.||) '_mv';
		refreshed_at := pg_catalog.now();
		took := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.refresh_business_views(text) IS
	'refresh the materialized business views (points_flow_mv, liability_mv, effectiveness_mv, retention_mv, tier_distribution_mv, member_effectiveness_mv, category_affinity_mv), one by name or all with NULL, concurrently with writes; returns each one refreshed and how long it took';
REVOKE ALL ON FUNCTION @extschema@.refresh_business_views(text) FROM PUBLIC;
