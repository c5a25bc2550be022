--
-- verify(): the invariants behind "never lose or invent a point", checked
-- across every member-scoped table.  After 65_accrual: it reads order_accrual.
--

-- Every member whose stored balances disagree with the ledger or the lots.
CREATE FUNCTION @extschema@.verify()
RETURNS TABLE (program text, customer_id bigint, problem text, stored bigint, expected bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	WITH led AS (
		SELECT l.customer_id, l.program_id,
			   COALESCE(pg_catalog.sum(l.points), 0)::bigint AS available,
			   COALESCE(pg_catalog.sum(l.pending_points), 0)::bigint AS pending,
			   COALESCE(pg_catalog.sum(l.points OPERATOR(pg_catalog.+) l.pending_points)
					FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'earn'), 0)::bigint AS earned,
			   COALESCE(OPERATOR(pg_catalog.-) pg_catalog.sum(l.points)
					FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'redeem'), 0)::bigint AS redeemed,
			   COALESCE(OPERATOR(pg_catalog.-) pg_catalog.sum(l.points)
					FILTER (WHERE l.kind OPERATOR(pg_catalog.=) 'expire'), 0)::bigint AS expired,
			   pg_catalog.count(*) AS entries,
			   pg_catalog.max(l.entry_no) AS last_entry_no
		  FROM @extschema@.ledger l
		 GROUP BY l.customer_id, l.program_id
	), running AS (
		SELECT r.customer_id, r.program_id,
			   pg_catalog.count(*) FILTER (WHERE r.available_after OPERATOR(pg_catalog.<>) r.run_available
					OR r.pending_after OPERATOR(pg_catalog.<>) r.run_pending) AS bad_entries
		  FROM (SELECT l.customer_id, l.program_id, l.available_after, l.pending_after,
					   pg_catalog.sum(l.points) OVER w AS run_available,
					   pg_catalog.sum(l.pending_points) OVER w AS run_pending
				  FROM @extschema@.ledger l
				WINDOW w AS (PARTITION BY l.customer_id, l.program_id ORDER BY l.entry_no)) r
		 GROUP BY r.customer_id, r.program_id
	), lots AS (
		SELECT t.customer_id, t.program_id,
			   COALESCE(pg_catalog.sum(t.remaining) FILTER (WHERE NOT t.pending), 0)::bigint AS spendable,
			   COALESCE(pg_catalog.sum(t.remaining) FILTER (WHERE t.pending), 0)::bigint AS held
		  FROM @extschema@.lot t
		 GROUP BY t.customer_id, t.program_id
	), cmp AS (
		SELECT a.customer_id, a.program_id, c.problem, c.stored, c.expected
		  FROM @extschema@.account a
		  LEFT JOIN led ON led.customer_id OPERATOR(pg_catalog.=) a.customer_id
					   AND led.program_id OPERATOR(pg_catalog.=) a.program_id
		  LEFT JOIN running ON running.customer_id OPERATOR(pg_catalog.=) a.customer_id
						   AND running.program_id OPERATOR(pg_catalog.=) a.program_id
		  LEFT JOIN lots ON lots.customer_id OPERATOR(pg_catalog.=) a.customer_id
						AND lots.program_id OPERATOR(pg_catalog.=) a.program_id
		 CROSS JOIN LATERAL (VALUES
			('available differs from the ledger', a.available, COALESCE(led.available, 0)),
			('pending differs from the ledger', a.pending, COALESCE(led.pending, 0)),
			('lifetime_earned differs from the ledger', a.lifetime_earned, COALESCE(led.earned, 0)),
			('lifetime_redeemed differs from the ledger', a.lifetime_redeemed, COALESCE(led.redeemed, 0)),
			('lifetime_expired differs from the ledger', a.lifetime_expired, COALESCE(led.expired, 0)),
			('last_entry_no differs from the ledger', a.last_entry_no, COALESCE(led.last_entry_no, 0)),
			('ledger entry numbers have gaps', COALESCE(led.entries, 0), COALESCE(led.last_entry_no, 0)),
			('ledger running balance is broken', COALESCE(running.bad_entries, 0), 0::bigint),
			('spendable lots differ from the available balance', COALESCE(lots.spendable, 0),
				GREATEST(a.available, 0)),
			('pending lots differ from the pending balance', COALESCE(lots.held, 0), a.pending)
		 ) AS c(problem, stored, expected)
		 WHERE c.stored OPERATOR(pg_catalog.<>) c.expected
	), orphans AS (
		-- Rows of a member without an account (these tables carry no foreign key).
		SELECT o.customer_id, o.program_id, o.problem, pg_catalog.count(*) AS stored, 0::bigint AS expected
		  FROM (SELECT l.customer_id, l.program_id, 'ledger entries without an account' AS problem
				  FROM @extschema@.ledger l
				UNION ALL
				SELECT t.customer_id, t.program_id, 'lots without an account'
				  FROM @extschema@.lot t
				UNION ALL
				SELECT r.customer_id, r.program_id, 'orders without an account'
				  FROM @extschema@.order_accrual r) o
		 WHERE NOT EXISTS (SELECT FROM @extschema@.account a
							WHERE a.customer_id OPERATOR(pg_catalog.=) o.customer_id
							  AND a.program_id OPERATOR(pg_catalog.=) o.program_id)
		 GROUP BY o.customer_id, o.program_id, o.problem
	), found AS (
		SELECT * FROM cmp
		UNION ALL
		SELECT * FROM orphans
	)
	SELECT COALESCE(p.code, found.program_id::text), found.customer_id, found.problem,
		   found.stored, found.expected
	  FROM found LEFT JOIN @extschema@.program p
		ON p.program_id OPERATOR(pg_catalog.=) found.program_id
	 ORDER BY 1, found.customer_id, found.problem
$$;
COMMENT ON FUNCTION @extschema@.verify()
	IS 'every member whose stored balances disagree with the ledger or the lots; no rows when healthy';
