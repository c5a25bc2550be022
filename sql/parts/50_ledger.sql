--
-- The ledger API.  earn, redeem, adjust and balance are C: they lock the
-- member's account row, check the request and write account, lots and one
-- ledger entry in a single statement.  They run their fully qualified queries
-- as the extension owner (see src/loyalty.c), so callers need only EXECUTE.
--

CREATE TYPE @extschema@.balance_summary AS (
	program		text,
	customer_id bigint,
	status		text,
	available	bigint,
	pending		bigint,
	lifetime_earned bigint,
	lifetime_redeemed bigint,
	lifetime_expired bigint,
	last_activity_at timestamptz
);
COMMENT ON TYPE @extschema@.balance_summary IS 'a member''s balances as returned by loyalty.balance()';

CREATE FUNCTION @extschema@.earn(
	program text, customer_id bigint, points bigint,
	reason text DEFAULT NULL, reference text DEFAULT NULL,
	idempotency_key text DEFAULT NULL, expires_at timestamptz DEFAULT NULL,
	pending_until timestamptz DEFAULT NULL, actor text DEFAULT NULL)
RETURNS @extschema@.ledger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'loyalty_earn';

CREATE FUNCTION @extschema@.redeem(
	program text, customer_id bigint, points bigint,
	reason text DEFAULT NULL, reference text DEFAULT NULL,
	idempotency_key text DEFAULT NULL, actor text DEFAULT NULL)
RETURNS @extschema@.ledger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'loyalty_redeem';

CREATE FUNCTION @extschema@.adjust(
	program text, customer_id bigint, points bigint, reason text,
	reference text DEFAULT NULL, idempotency_key text DEFAULT NULL,
	expires_at timestamptz DEFAULT NULL, actor text DEFAULT NULL)
RETURNS @extschema@.ledger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'loyalty_adjust';

CREATE FUNCTION @extschema@.balance(program text, customer_id bigint)
RETURNS @extschema@.balance_summary
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'loyalty_balance';

-- A member's statement: every ledger entry in order, optionally within a period.
CREATE FUNCTION @extschema@.statement(
	program text, customer_id bigint,
	since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL)
RETURNS SETOF @extschema@.ledger
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer := @extschema@.program_id(statement.program);
BEGIN
	IF statement.customer_id IS NULL THEN
		RAISE EXCEPTION 'customer_id must not be null' USING ERRCODE = '22004';
	END IF;
	IF statement.since OPERATOR(pg_catalog.>) statement.until THEN
		RAISE EXCEPTION 'since must not be later than until' USING ERRCODE = '22023',
			DETAIL = pg_catalog.format('Got since %s and until %s.', statement.since, statement.until);
	END IF;
	IF NOT EXISTS (SELECT 1 FROM @extschema@.member m
					WHERE m.customer_id OPERATOR(pg_catalog.=) statement.customer_id
					  AND m.program_id OPERATOR(pg_catalog.=) pid) THEN
		RAISE EXCEPTION 'unknown member % in program "%"', statement.customer_id, statement.program
			USING ERRCODE = 'LY002', HINT = 'Enroll the customer first with loyalty.enroll().';
	END IF;
	RETURN QUERY
		SELECT l.* FROM @extschema@.ledger l
		 WHERE l.customer_id OPERATOR(pg_catalog.=) statement.customer_id
		   AND l.program_id OPERATOR(pg_catalog.=) pid
		   AND (statement.since IS NULL OR l.created_at OPERATOR(pg_catalog.>=) statement.since)
		   AND (statement.until IS NULL OR l.created_at OPERATOR(pg_catalog.<) statement.until)
		 ORDER BY l.entry_no;
END
$$;

-- Make one member's due pending points spendable, in one ledger entry.  The
-- caller holds the member's account row lock.  Returns the points released.
CREATE FUNCTION @extschema@.release_member(customer_id bigint, program_id integer,
	as_of timestamptz, actor text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	acct		@extschema@.account;
	due			bigint;
	repay		bigint;
BEGIN
	SELECT pg_catalog.sum(l.remaining)::bigint INTO due FROM @extschema@.lot l
	 WHERE l.customer_id OPERATOR(pg_catalog.=) release_member.customer_id
	   AND l.program_id OPERATOR(pg_catalog.=) release_member.program_id
	   AND l.pending AND l.remaining OPERATOR(pg_catalog.>) 0
	   AND l.available_at OPERATOR(pg_catalog.<=) as_of;
	IF due IS NULL THEN
		RETURN 0;
	END IF;
	SELECT a.* INTO acct FROM @extschema@.account a
	 WHERE a.customer_id OPERATOR(pg_catalog.=) release_member.customer_id
	   AND a.program_id OPERATOR(pg_catalog.=) release_member.program_id;

	-- Released points repay a debt first, oldest lots first.
	repay := LEAST(due, GREATEST(OPERATOR(pg_catalog.-) acct.available, 0));
	UPDATE @extschema@.lot l SET pending = false,
		remaining = l.remaining OPERATOR(pg_catalog.-) LEAST(l.remaining,
			GREATEST(repay OPERATOR(pg_catalog.-) (s.running OPERATOR(pg_catalog.-) l.remaining), 0))
	  FROM (SELECT x.lot_no,
				   (pg_catalog.sum(x.remaining) OVER (ORDER BY x.available_at, x.lot_no))::bigint AS running
			  FROM @extschema@.lot x
			 WHERE x.customer_id OPERATOR(pg_catalog.=) release_member.customer_id
			   AND x.program_id OPERATOR(pg_catalog.=) release_member.program_id
			   AND x.pending AND x.remaining OPERATOR(pg_catalog.>) 0
			   AND x.available_at OPERATOR(pg_catalog.<=) as_of) s
	 WHERE l.customer_id OPERATOR(pg_catalog.=) release_member.customer_id
	   AND l.program_id OPERATOR(pg_catalog.=) release_member.program_id
	   AND l.lot_no OPERATOR(pg_catalog.=) s.lot_no;

	UPDATE @extschema@.account a SET
		available = a.available OPERATOR(pg_catalog.+) due,
		pending = a.pending OPERATOR(pg_catalog.-) due,
		last_entry_no = a.last_entry_no OPERATOR(pg_catalog.+) 1,
		updated_at = pg_catalog.now()
	 WHERE a.customer_id OPERATOR(pg_catalog.=) release_member.customer_id
	   AND a.program_id OPERATOR(pg_catalog.=) release_member.program_id
	RETURNING a.* INTO acct;

	INSERT INTO @extschema@.ledger (customer_id, program_id, entry_no, kind,
		points, pending_points, available_after, pending_after, reason, reference, actor, db_role)
	VALUES (release_member.customer_id, release_member.program_id, acct.last_entry_no, 'release',
		due, OPERATOR(pg_catalog.-) due, acct.available, acct.pending, 'return window passed',
		pg_catalog.format('release as of %s', as_of), actor, SESSION_USER);
	RETURN due;
END
$$;

-- Make due pending points spendable; one ledger entry per member. Returns points released.
-- Members are taken in key order (no deadlock between two runs); a member
-- whose account another transaction holds is skipped and taken by the next run.
CREATE FUNCTION @extschema@.release_pending(as_of timestamptz DEFAULT pg_catalog.now(),
	max_members integer DEFAULT NULL)
RETURNS numeric
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m			record;
	total		numeric := 0;
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be null' USING ERRCODE = '22004';
	END IF;
	IF max_members OPERATOR(pg_catalog.<=) 0 THEN
		RAISE EXCEPTION 'max_members must be positive' USING ERRCODE = '22023',
			HINT = 'Pass NULL to release for every member in one run.';
	END IF;
	FOR m IN
		SELECT DISTINCT l.customer_id, l.program_id FROM @extschema@.lot l
		 WHERE l.pending AND l.remaining OPERATOR(pg_catalog.>) 0
		   AND l.available_at OPERATOR(pg_catalog.<=) as_of
		 ORDER BY l.customer_id, l.program_id
		 LIMIT max_members
	LOOP
		PERFORM FROM @extschema@.account a
		 WHERE a.customer_id OPERATOR(pg_catalog.=) m.customer_id
		   AND a.program_id OPERATOR(pg_catalog.=) m.program_id
		   FOR NO KEY UPDATE SKIP LOCKED;
		CONTINUE WHEN NOT FOUND;
		-- Under the lock: another run or a redemption may have released them already.
		total := total OPERATOR(pg_catalog.+)
			@extschema@.release_member(m.customer_id, m.program_id, as_of, 'loyalty.release_pending');
	END LOOP;
	RETURN total;
END
$$;

-- Balances for BI tools: no personal data.
CREATE VIEW @extschema@.member_balances AS
	SELECT p.code AS program, m.customer_id, m.status, a.available, a.pending,
		   a.lifetime_earned, a.lifetime_redeemed, a.lifetime_expired,
		   m.enrolled_at, a.last_activity_at
	  FROM @extschema@.member m
	  JOIN @extschema@.account a ON a.customer_id OPERATOR(pg_catalog.=) m.customer_id
								AND a.program_id OPERATOR(pg_catalog.=) m.program_id
	  JOIN @extschema@.program p ON p.program_id OPERATOR(pg_catalog.=) m.program_id;

COMMENT ON VIEW @extschema@.member_balances IS 'one row per member: status and balances (no personal data)';
COMMENT ON FUNCTION @extschema@.earn(text, bigint, bigint, text, text, text, timestamptz, timestamptz, text)
	IS 'add points to a member (manual or non-purchase earning); pending_until holds them, expires_at ends them; idempotent per idempotency_key';
COMMENT ON FUNCTION @extschema@.redeem(text, bigint, bigint, text, text, text, text)
	IS 'spend points, oldest-expiring first; never overdraws (LY004); idempotent per idempotency_key';
COMMENT ON FUNCTION @extschema@.adjust(text, bigint, bigint, text, text, text, timestamptz, text)
	IS 'staff correction with a reason: positive adds a lot, negative takes from lots oldest-expiring first';
COMMENT ON FUNCTION @extschema@.balance(text, bigint)
	IS 'a member''s available, pending and lifetime points, read without scanning the ledger';
COMMENT ON FUNCTION @extschema@.statement(text, bigint, timestamptz, timestamptz)
	IS 'a member''s ledger entries in order, optionally from since (inclusive) until (exclusive)';
COMMENT ON FUNCTION @extschema@.release_pending(timestamptz, integer)
	IS 'make pending points whose hold has passed spendable, for at most max_members members; idempotent; schedule it with pg_cron';
COMMENT ON FUNCTION @extschema@.release_member(bigint, integer, timestamptz, text)
	IS 'internal: release one member''s due pending points; the caller holds the account lock';
COMMENT ON FUNCTION @extschema@.ledger_immutable()
	IS 'internal: refuses UPDATE, DELETE and TRUNCATE of ledger entries';
