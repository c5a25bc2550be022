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
	result		@extschema@.program;
BEGIN
	IF program IS NULL THEN
		RAISE EXCEPTION 'program must not be null' USING ERRCODE = '22004';
	END IF;
	IF policy IS NULL OR policy NOT IN ('none', 'rolling', 'end_of_period', 'inactivity') THEN
		RAISE EXCEPTION 'invalid expiry policy: %', COALESCE(pg_catalog.quote_literal(policy), 'NULL')
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

	UPDATE @extschema@.program p SET
		expiry_policy = set_expiry_policy.policy,
		expiry_months = set_expiry_policy.months,
		expiry_month_end = set_expiry_policy.month_end,
		updated_at = pg_catalog.now()
	 WHERE p.code OPERATOR(pg_catalog.=) set_expiry_policy.program
	RETURNING p.* INTO result;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown loyalty program "%"', program
			USING ERRCODE = 'LY001',
				  HINT = 'Create it with loyalty.create_program(), or check the program code.';
	END IF;
	RETURN result;
END
$$;

COMMENT ON FUNCTION @extschema@.set_expiry_policy(text, text, integer, boolean) IS
	'set how a program''s points expire: none, rolling (months, month_end), end_of_period (months), inactivity (months); applies to later earnings';

REVOKE ALL ON FUNCTION @extschema@.set_expiry_policy(text, text, integer, boolean) FROM PUBLIC;
