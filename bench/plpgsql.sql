-- A careful PL/pgSQL accrual, for calibration (bench/run.sh, BENCH_PLPGSQL).
--
-- The accrual issue states its targets next to what "a careful PL/pgSQL
-- implementation of the same work" measured on its 2-core machine (ratios
-- 0.38 for TPS and 5.0 for server time).  This is such an implementation, run
-- on our machine beside the C trigger, so that the two can be compared here
-- and not only against figures from elsewhere.
--
-- It does, for program "bench" as bench/run.sh sets it up (10 points per
-- 100,000 VND, counted in whole 100,000s as the
-- program does, return_days 0, no expiry, tiers, rules or fraud
-- checks), what the C trigger's direct path writes for it: an AFTER INSERT
-- statement trigger with a transition table (one order: plain statements
-- whose plans PL/pgSQL keeps; more: one set-based statement); per order a row in
-- pl.order_accrual unless the order key is already on record, and only for
-- an active member; per member and statement one lot and one ledger entry
-- (with the rules in its detail) and one update of the account row, which
-- also locks it.  Same table shapes, CHECK constraints and indexes as the
-- loyalty tables (CREATE TABLE ... LIKE).
--
-- It does less than the C trigger, so it is a lower bound of PL/pgSQL's cost:
-- the earn rate is written into the SQL instead of read from the program and
-- its rules, the tier window on the account is not kept, and there is no
-- unknown-customer, currency, status or fraud handling.

CREATE SCHEMA pl;
CREATE TABLE pl.member (LIKE loyalty.member INCLUDING ALL);
CREATE TABLE pl.account (LIKE loyalty.account INCLUDING ALL) WITH (fillfactor = 80);
CREATE TABLE pl.lot (LIKE loyalty.lot INCLUDING ALL);
CREATE TABLE pl.ledger (LIKE loyalty.ledger INCLUDING ALL);
CREATE TABLE pl.order_accrual (LIKE loyalty.order_accrual INCLUDING ALL);
INSERT INTO pl.member SELECT * FROM loyalty.member
 WHERE program_id = loyalty.program_id('bench');
INSERT INTO pl.account SELECT * FROM loyalty.account
 WHERE program_id = loyalty.program_id('bench');

CREATE FUNCTION pl.accrue() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	program integer := TG_ARGV[0]::integer;
	source integer := TG_ARGV[1]::integer;
	ord record;
	acc record;
	points bigint;
BEGIN
	-- One order, the usual INSERT: plain statements, each plan cached.
	IF (SELECT pg_catalog.count(*) FROM new_orders) = 1 THEN
		SELECT n.customer_id, n.id::text AS order_key, n.total AS amount, n.channel,
			   n.created_at INTO ord
		  FROM new_orders n;
		IF ord.amount < 0 THEN
			RETURN NULL;
		END IF;
		-- An active member's account, locked before the order key is looked up.
		PERFORM FROM pl.member m
		   JOIN pl.account ac ON ac.customer_id = m.customer_id AND ac.program_id = m.program_id
		  WHERE m.customer_id = ord.customer_id AND m.program_id = program
			AND m.status = 'active'
		    FOR NO KEY UPDATE OF ac;
		IF NOT FOUND
		   OR EXISTS (SELECT FROM pl.order_accrual r
					   WHERE r.customer_id = ord.customer_id AND r.program_id = program
						 AND r.source_id = source AND r.order_key = ord.order_key) THEN
			RETURN NULL;
		END IF;
		points := pg_catalog.floor(ord.amount / 100000)::bigint * 10;
		UPDATE pl.account ac
		   SET available = ac.available + points, lifetime_earned = ac.lifetime_earned + points,
			   last_entry_no = ac.last_entry_no + (points > 0)::integer,
			   order_count = ac.order_count + 1,
			   last_activity_at = pg_catalog.now(), updated_at = pg_catalog.now()
		 WHERE ac.customer_id = ord.customer_id AND ac.program_id = program
		RETURNING ac.last_entry_no, ac.available, ac.pending, ac.order_count INTO acc;
		IF points > 0 THEN
			INSERT INTO pl.lot (customer_id, program_id, lot_no, points, remaining, pending,
								earned_at, source_id, order_key)
			VALUES (ord.customer_id, program, acc.last_entry_no, points, points, false,
					pg_catalog.now(), source, ord.order_key);
			INSERT INTO pl.ledger (customer_id, program_id, entry_no, kind, points,
								   pending_points, available_after, pending_after, reason,
								   reference, actor, db_role, detail)
			VALUES (ord.customer_id, program, acc.last_entry_no, 'earn', points, 0, acc.available,
					acc.pending, 'purchase', ord.order_key, 'public.orders_plpgsql', SESSION_USER,
					pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('rule', 'base',
																			   'points', points)));
		END IF;
		INSERT INTO pl.order_accrual (customer_id, program_id, source_id, order_key, state,
									  amount, net_amount, points, earned_points,
									  first_purchase, channel, ordered_at, lot_no, held,
									  birthday_bonus)
		VALUES (ord.customer_id, program, source, ord.order_key, 'active', ord.amount, ord.amount,
				points, points, acc.order_count = 1, ord.channel, ord.created_at,
				CASE WHEN points > 0 THEN acc.last_entry_no END, false, false);
		RETURN NULL;
	END IF;

	-- Many orders: one set-based statement.
	WITH fresh AS (
		-- New orders of active members, each order key once.
		SELECT DISTINCT ON (n.customer_id, n.id) n.customer_id, n.id::text AS order_key,
			   n.total AS amount, n.channel, n.created_at,
			   pg_catalog.floor(n.total / 100000)::bigint * 10 AS points
		  FROM new_orders n
		  JOIN pl.member m ON m.customer_id = n.customer_id AND m.program_id = program
						  AND m.status = 'active'
		 WHERE n.total >= 0
		   AND NOT EXISTS (SELECT FROM pl.order_accrual o
							WHERE o.customer_id = n.customer_id AND o.program_id = program
							  AND o.source_id = source AND o.order_key = n.id::text)
		 ORDER BY n.customer_id, n.id
	), per_member AS (
		SELECT f.customer_id, pg_catalog.sum(f.points)::bigint AS points,
			   pg_catalog.count(*) AS orders, pg_catalog.min(f.order_key) AS first_key
		  FROM fresh f
		 GROUP BY f.customer_id
	), acct AS (
		UPDATE pl.account a
		   SET available = a.available + p.points,
			   lifetime_earned = a.lifetime_earned + p.points,
			   last_entry_no = a.last_entry_no + (p.points > 0)::integer,
			   order_count = a.order_count + p.orders,
			   last_activity_at = pg_catalog.now(), updated_at = pg_catalog.now()
		  FROM per_member p
		 WHERE a.customer_id = p.customer_id AND a.program_id = program
		RETURNING a.customer_id, a.last_entry_no, a.available, a.pending, p.points, p.orders,
				  a.order_count - p.orders AS orders_before, p.first_key
	), lot AS (
		INSERT INTO pl.lot (customer_id, program_id, lot_no, points, remaining, pending,
							earned_at, source_id, order_key)
		SELECT a.customer_id, program, a.last_entry_no, a.points, a.points, false,
			   pg_catalog.now(), source, CASE WHEN a.orders = 1 THEN a.first_key END
		  FROM acct a
		 WHERE a.points > 0
	), entry AS (
		INSERT INTO pl.ledger (customer_id, program_id, entry_no, kind, points, pending_points,
							   available_after, pending_after, reason, reference, actor,
							   db_role, detail)
		SELECT a.customer_id, program, a.last_entry_no, 'earn', a.points, 0, a.available,
			   a.pending, CASE WHEN a.orders = 1 THEN 'purchase' ELSE 'purchases' END,
			   CASE WHEN a.orders = 1 THEN a.first_key END, 'public.orders_plpgsql',
			   SESSION_USER,
			   CASE WHEN a.orders = 1
					THEN pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('rule', 'base', 'points', a.points))
					ELSE pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('rule', 'base', 'points', a.points),
													  pg_catalog.jsonb_build_object('orders', a.orders)) END
		  FROM acct a
		 WHERE a.points > 0
	)
	INSERT INTO pl.order_accrual (customer_id, program_id, source_id, order_key, state, amount,
								  net_amount, points, earned_points, first_purchase, channel,
								  ordered_at, lot_no, held, birthday_bonus)
	SELECT f.customer_id, program, source, f.order_key, 'active', f.amount, f.amount, f.points,
		   f.points, a.orders_before = 0 AND f.order_key = a.first_key, f.channel, f.created_at,
		   CASE WHEN a.points > 0 THEN a.last_entry_no END, false, false
	  FROM fresh f
	  JOIN acct a ON a.customer_id = f.customer_id;
	RETURN NULL;
END
$$;

CREATE TABLE orders_plpgsql (LIKE orders_tracked INCLUDING ALL);
CREATE TRIGGER orders_plpgsql_accrue AFTER INSERT ON orders_plpgsql
	REFERENCING NEW TABLE AS new_orders
	FOR EACH STATEMENT EXECUTE FUNCTION pl.accrue('1', '1');
