-- loyalty 0.1.0 -> 0.2.0: the order path writes through C without SPI.
--
-- lot, ledger and order_accrual lose their foreign keys to account (the
-- engine writes them only under the account row lock; verify() now reports
-- rows without an account), and TRUNCATE of account, lot and order_accrual is
-- refused like TRUNCATE of the ledger.  The ledger's idempotency key becomes a
-- partial unique index (entries without a key no longer enter it).  An order
-- records the lot that received its points, because one lot may now hold the
-- points of several orders of one statement.  account gets fillfactor 80 so
-- that balance updates stay HOT.
\echo Use "ALTER EXTENSION loyalty UPDATE TO '0.2.0'" to load this file. \quit

ALTER TABLE @extschema@.lot DROP CONSTRAINT lot_customer_id_program_id_fkey;
ALTER TABLE @extschema@.ledger DROP CONSTRAINT ledger_customer_id_program_id_fkey;
ALTER TABLE @extschema@.order_accrual DROP CONSTRAINT order_accrual_customer_id_program_id_fkey;

CREATE UNIQUE INDEX ledger_idempotency_key_idx ON @extschema@.ledger
	(customer_id, program_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
ALTER TABLE @extschema@.ledger DROP CONSTRAINT ledger_customer_id_program_id_idempotency_key_key;

ALTER TABLE @extschema@.account SET (fillfactor = 80);

ALTER TABLE @extschema@.order_accrual ADD COLUMN lot_no bigint;
-- Until now every lot of an order carried its key; the latest one is the
-- order's lot.
UPDATE @extschema@.order_accrual o
   SET lot_no = (SELECT pg_catalog.max(l.lot_no) FROM @extschema@.lot l
				  WHERE l.customer_id OPERATOR(pg_catalog.=) o.customer_id
					AND l.program_id OPERATOR(pg_catalog.=) o.program_id
					AND l.source_id OPERATOR(pg_catalog.=) o.source_id
					AND l.order_key OPERATOR(pg_catalog.=) o.order_key);

CREATE TRIGGER account_no_truncate BEFORE TRUNCATE ON @extschema@.account
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ledger_immutable();
CREATE TRIGGER lot_no_truncate BEFORE TRUNCATE ON @extschema@.lot
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ledger_immutable();
CREATE TRIGGER order_accrual_no_truncate BEFORE TRUNCATE ON @extschema@.order_accrual
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ledger_immutable();

-- Every member whose stored balances disagree with the ledger or the lots.
CREATE OR REPLACE FUNCTION @extschema@.verify()
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
