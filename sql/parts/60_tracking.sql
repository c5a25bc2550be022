--
-- Tracking: the application registers its own orders table once (see
-- doc/accrual.md).  track_orders() runs as the caller: it checks that the
-- caller may create triggers on the table and creates them itself, so
-- PostgreSQL's own CREATE TRIGGER check applies.  The configuration row goes
-- into loyalty.order_source through internal SECURITY DEFINER functions,
-- which refuse to register a table unless the triggers are in place (and to
-- unregister one while they still are): calling them directly gains nothing.
--

CREATE SEQUENCE @extschema@.order_source_id_seq AS integer;
COMMENT ON SEQUENCE @extschema@.order_source_id_seq IS 'ids of tracked orders tables';

-- One row per tracked orders table: which program it earns in and which of
-- its columns hold what.  Column names are stored as they are in the table
-- (case-sensitive, unquoted); table_name is format('%I.%I', schema, table).
CREATE TABLE @extschema@.order_source (
	source_id	integer PRIMARY KEY
				DEFAULT pg_catalog.nextval('@extschema@.order_source_id_seq'),
	program_id	integer NOT NULL REFERENCES @extschema@.program (program_id),
	table_name	text NOT NULL UNIQUE,
	customer_column text NOT NULL,
	order_column text NOT NULL,
	amount_column text NOT NULL,
	currency_column text,
	channel_column text,
	category_column text,
	status_column text,
	refunded_column text,
	ordered_at_column text,
	refund_statuses text[] NOT NULL DEFAULT '{refunded,cancelled,canceled,returned}',
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.order_source IS 'tracked orders tables: the program each earns in and the columns it is read from; change through track_orders and untrack_orders';

-- Exchange rates: one unit of from_currency is worth rate units of
-- to_currency from valid_from on, until a later rate for the pair.
CREATE TABLE @extschema@.exchange_rate (
	from_currency char(3) NOT NULL REFERENCES @extschema@.currency (code),
	to_currency char(3) NOT NULL REFERENCES @extschema@.currency (code),
	valid_from	timestamptz NOT NULL,
	rate		numeric NOT NULL
				CHECK (rate > 0 AND rate < 'Infinity' AND rate <> 'NaN'),
	PRIMARY KEY (from_currency, to_currency, valid_from),
	CHECK (from_currency <> to_currency)
);
COMMENT ON TABLE @extschema@.exchange_rate IS 'exchange rates: 1 from_currency = rate to_currency from valid_from on; change through set_exchange_rate';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_source_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_source', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.exchange_rate', '');

--
-- Exchange rates.
--

-- Record a rate (or correct the one with the same valid_from); returns the row.
CREATE FUNCTION @extschema@.set_exchange_rate(
	from_currency text, to_currency text, rate numeric,
	valid_from timestamptz DEFAULT pg_catalog.now())
RETURNS @extschema@.exchange_rate
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	given		text;
	result		@extschema@.exchange_rate;
BEGIN
	IF set_exchange_rate.from_currency IS NULL OR set_exchange_rate.to_currency IS NULL THEN
		RAISE EXCEPTION 'currency codes must not be null' USING ERRCODE = '22004';
	END IF;
	IF set_exchange_rate.rate IS NULL THEN
		RAISE EXCEPTION 'rate must not be null' USING ERRCODE = '22004';
	END IF;
	IF set_exchange_rate.valid_from IS NULL THEN
		RAISE EXCEPTION 'valid_from must not be null' USING ERRCODE = '22004',
			HINT = 'Omit it to make the rate valid from now.';
	END IF;
	FOREACH given IN ARRAY ARRAY[set_exchange_rate.from_currency, set_exchange_rate.to_currency] LOOP
		IF NOT EXISTS (SELECT 1 FROM @extschema@.currency c
						WHERE c.code OPERATOR(pg_catalog.=) pg_catalog.upper(given)) THEN
			RAISE EXCEPTION 'unknown currency code "%"', given
				USING ERRCODE = '22023',
					  HINT = 'Use a code such as VND, USD or EUR; loyalty.currency lists them all.';
		END IF;
	END LOOP;
	IF pg_catalog.upper(set_exchange_rate.from_currency)
			OPERATOR(pg_catalog.=) pg_catalog.upper(set_exchange_rate.to_currency) THEN
		RAISE EXCEPTION 'cannot set an exchange rate from % to itself',
			pg_catalog.upper(set_exchange_rate.from_currency)
			USING ERRCODE = '22023', HINT = 'An amount in the same currency needs no rate.';
	END IF;
	IF set_exchange_rate.rate OPERATOR(pg_catalog.<=) 0
			OR set_exchange_rate.rate OPERATOR(pg_catalog.>=) 'Infinity'::numeric THEN
		-- NaN sorts above Infinity, so this refuses NaN too.
		RAISE EXCEPTION 'rate must be a positive finite number'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', set_exchange_rate.rate),
				  HINT = 'The rate is how many units of to_currency one unit of from_currency is worth.';
	END IF;

	INSERT INTO @extschema@.exchange_rate AS r (from_currency, to_currency, valid_from, rate)
	VALUES (pg_catalog.upper(set_exchange_rate.from_currency),
		pg_catalog.upper(set_exchange_rate.to_currency),
		set_exchange_rate.valid_from, set_exchange_rate.rate)
	ON CONFLICT ON CONSTRAINT exchange_rate_pkey DO UPDATE SET rate = EXCLUDED.rate
	RETURNING r.* INTO result;
	RETURN result;
END
$$;

-- An amount in another currency at a time: amount x the latest rate valid then.
CREATE FUNCTION @extschema@.convert_amount(
	amount numeric, from_currency text, to_currency text, at timestamptz)
RETURNS numeric
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN pg_catalog.upper(pg_catalog.btrim(convert_amount.from_currency))
			 OPERATOR(pg_catalog.=) pg_catalog.upper(pg_catalog.btrim(convert_amount.to_currency))
		THEN convert_amount.amount
		ELSE convert_amount.amount OPERATOR(pg_catalog.*) (
			SELECT r.rate FROM @extschema@.exchange_rate r
			 WHERE r.from_currency OPERATOR(pg_catalog.=)
				   pg_catalog.upper(pg_catalog.btrim(convert_amount.from_currency))::char(3)
			   AND r.to_currency OPERATOR(pg_catalog.=)
				   pg_catalog.upper(pg_catalog.btrim(convert_amount.to_currency))::char(3)
			   AND r.valid_from OPERATOR(pg_catalog.<=) convert_amount.at
			 ORDER BY r.valid_from DESC
			 LIMIT 1)
	END
$$;

COMMENT ON FUNCTION @extschema@.set_exchange_rate(text, text, numeric, timestamptz)
	IS 'record an exchange rate: 1 from_currency = rate to_currency from valid_from (default now) on';
COMMENT ON FUNCTION @extschema@.convert_amount(numeric, text, text, timestamptz)
	IS 'amount converted at the latest rate valid at the given time (exact, not rounded); NULL when no rate is known';

--
-- Tracking orders tables.
--

-- Internal: how many of the three accrual triggers on rel call order_trigger(source_id).
CREATE FUNCTION @extschema@.order_source_triggers(rel regclass, source_id integer)
RETURNS integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.count(*)::integer FROM pg_catalog.pg_trigger t
	 WHERE t.tgrelid OPERATOR(pg_catalog.=) rel
	   AND t.tgname OPERATOR(pg_catalog.=) ANY
		   (ARRAY['loyalty_accrual_insert', 'loyalty_accrual_update', 'loyalty_accrual_delete']::name[])
	   AND t.tgfoid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure('@extschema@.order_trigger()')
	   AND t.tgnargs OPERATOR(pg_catalog.=) 1
	   AND t.tgargs OPERATOR(pg_catalog.=) pg_catalog.byteacat(
			pg_catalog.convert_to(source_id::text, 'UTF8'), pg_catalog.decode('00', 'hex'))
$$;

-- Internal: the configuration of rel if it is tracked: a row under its name
-- whose triggers are on it.  A row whose table was dropped (or whose triggers
-- were) is stale and does not count.
CREATE FUNCTION @extschema@.live_order_source(rel regclass)
RETURNS @extschema@.order_source
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT s.* FROM @extschema@.order_source s
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) rel
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE s.table_name OPERATOR(pg_catalog.=) pg_catalog.format('%I.%I', n.nspname, c.relname)
	   AND @extschema@.order_source_triggers(rel, s.source_id) OPERATOR(pg_catalog.>) 0
$$;

-- Internal: raise a clear error for anything wrong with a track_orders()
-- request; returns the program id.  source_id is the id whose triggers are
-- already on the table (while registering), NULL before they are created.
CREATE FUNCTION @extschema@.check_order_source(
	source_id integer, orders regclass, program text,
	customer_column name, order_column name, amount_column name,
	currency_column name, channel_column name, category_column name,
	status_column name, refunded_column name, ordered_at_column name,
	refund_statuses text[])
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	roles		text[] := ARRAY['customer', 'order', 'amount', 'currency', 'channel',
								'category', 'status', 'refunded', 'ordered_at'];
	cols		name[] := ARRAY[customer_column, order_column, amount_column,
								currency_column, channel_column, category_column,
								status_column, refunded_column, ordered_at_column];
	ints		oid[] := '{int2,int4,int8}'::regtype[]::oid[];
	texts		oid[] := '{text,varchar,bpchar}'::regtype[]::oid[];
	rel			record;
	col			record;
	tname		text;
	pid			integer;
	live		@extschema@.order_source;
	other		regclass;
	conflict	record;
	ok			boolean;
	detail		text;
BEGIN
	IF orders IS NULL THEN
		RAISE EXCEPTION 'orders must not be null' USING ERRCODE = '22004',
			HINT = 'Name the application''s orders table, e.g. ''public.orders''.';
	END IF;
	IF program IS NULL THEN
		RAISE EXCEPTION 'program must not be null' USING ERRCODE = '22004';
	END IF;
	FOR i IN 1 .. 3 LOOP
		IF cols[i] IS NULL THEN
			RAISE EXCEPTION '%_column must not be null', roles[i] USING ERRCODE = '22004',
				HINT = 'The customer, order and amount columns are required.';
		END IF;
	END LOOP;
	IF refund_statuses IS NULL THEN
		RAISE EXCEPTION 'refund_statuses must not be null' USING ERRCODE = '22004',
			HINT = 'Omit it to use the default {refunded,cancelled,canceled,returned}.';
	END IF;

	-- The table.
	SELECT c.relkind, c.relpersistence, c.relnamespace, n.nspname, c.relname INTO rel
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.oid OPERATOR(pg_catalog.=) orders;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', orders::oid USING ERRCODE = '42P01';
	END IF;
	tname := pg_catalog.format('%I.%I', rel.nspname, rel.relname);
	IF rel.relkind OPERATOR(pg_catalog.<>) ALL (ARRAY['r', 'p']::"char"[]) THEN
		RAISE EXCEPTION '% is not a table', tname
			USING ERRCODE = '42809',
				  DETAIL = pg_catalog.format('It is %s.', CASE rel.relkind
						WHEN 'v' THEN 'a view' WHEN 'm' THEN 'a materialized view'
						WHEN 'f' THEN 'a foreign table' WHEN 'S' THEN 'a sequence'
						WHEN 'i' THEN 'an index' WHEN 'I' THEN 'a partitioned index'
						WHEN 'c' THEN 'a composite type' WHEN 't' THEN 'a TOAST table'
						ELSE 'not a table' END),
				  HINT = 'Track the table (or partitioned table) the application writes its orders to.';
	END IF;
	IF rel.nspname OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog', 'information_schema']::name[]) THEN
		RAISE EXCEPTION 'cannot track system table %', tname USING ERRCODE = '42501';
	END IF;
	IF rel.relnamespace OPERATOR(pg_catalog.=) '@extschema@'::regnamespace THEN
		RAISE EXCEPTION 'cannot track table %: it belongs to the loyalty extension', tname
			USING ERRCODE = '42501',
				  HINT = 'Track the application''s own orders table.';
	END IF;
	IF rel.relpersistence OPERATOR(pg_catalog.=) 't' THEN
		RAISE EXCEPTION 'cannot track temporary table %', tname
			USING ERRCODE = '0A000',
				  DETAIL = 'A temporary table and its triggers vanish at the end of the session.',
				  HINT = 'Track a permanent table.';
	END IF;

	pid := @extschema@.program_id(program);

	-- Tracked already, directly or through its partition tree?
	live := @extschema@.live_order_source(orders);
	IF live.source_id IS NOT NULL THEN
		RAISE EXCEPTION 'table % is already tracked', tname
			USING ERRCODE = '42710',
				  DETAIL = pg_catalog.format('It earns points in program "%s".',
						(SELECT p.code FROM @extschema@.program p
						  WHERE p.program_id OPERATOR(pg_catalog.=) live.program_id)),
				  HINT = pg_catalog.format('To change its settings, call loyalty.untrack_orders(%L) first.', tname);
	END IF;
	FOR other IN SELECT a.relid FROM pg_catalog.pg_partition_ancestors(orders) a
				  WHERE a.relid OPERATOR(pg_catalog.<>) orders LOOP
		IF (@extschema@.live_order_source(other)).source_id IS NOT NULL THEN
			RAISE EXCEPTION 'table % is a partition of tracked table %', tname, other
				USING ERRCODE = '55000',
					  DETAIL = 'Orders written through the partitioned table already earn points; tracking a partition too could credit an order twice.',
					  HINT = 'Track either the partitioned table or its partitions, not both.';
		END IF;
	END LOOP;
	FOR other IN SELECT t.relid FROM pg_catalog.pg_partition_tree(orders) t
				  WHERE t.relid OPERATOR(pg_catalog.<>) orders LOOP
		IF (@extschema@.live_order_source(other)).source_id IS NOT NULL THEN
			RAISE EXCEPTION 'partition % of table % is already tracked', other, tname
				USING ERRCODE = '55000',
					  DETAIL = 'Tracking the partitioned table too could credit an order twice.',
					  HINT = pg_catalog.format('Call loyalty.untrack_orders(%L) first, or keep tracking the partitions.', other::text);
		END IF;
	END LOOP;
	SELECT t.tgname, t.tgfoid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure('@extschema@.order_trigger()') AS ours
	  INTO conflict
	  FROM pg_catalog.pg_trigger t
	 WHERE t.tgrelid OPERATOR(pg_catalog.=) orders
	   AND t.tgname OPERATOR(pg_catalog.=) ANY
		   (ARRAY['loyalty_accrual_insert', 'loyalty_accrual_update', 'loyalty_accrual_delete']::name[])
	   AND (source_id IS NULL
			OR t.tgfoid IS DISTINCT FROM pg_catalog.to_regprocedure('@extschema@.order_trigger()')::oid
			OR t.tgargs IS DISTINCT FROM pg_catalog.byteacat(
				pg_catalog.convert_to(source_id::text, 'UTF8'), pg_catalog.decode('00', 'hex')))
	 ORDER BY t.tgname LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'table % already has a trigger named %', tname, conflict.tgname
			USING ERRCODE = '42710',
				  DETAIL = CASE WHEN conflict.ours
					THEN 'It is a loyalty trigger left from tracking the table under another name.'
					ELSE 'loyalty names its triggers loyalty_accrual_insert, loyalty_accrual_update and loyalty_accrual_delete.' END,
				  HINT = CASE WHEN conflict.ours
					THEN pg_catalog.format('Call loyalty.untrack_orders(%L) first.', tname)
					ELSE 'Drop or rename that trigger first.' END;
	END IF;

	-- The columns: each names a real column of a type its role accepts, once.
	FOR i IN 1 .. 9 LOOP
		FOR j IN 1 .. i OPERATOR(pg_catalog.-) 1 LOOP
			IF cols[i] OPERATOR(pg_catalog.=) cols[j] THEN
				RAISE EXCEPTION 'column "%" cannot be both the % column and the % column',
					cols[i], roles[j], roles[i]
					USING ERRCODE = '22023', HINT = 'Each role needs a column of its own.';
			END IF;
		END LOOP;
	END LOOP;
	FOR i IN 1 .. 9 LOOP
		CONTINUE WHEN cols[i] IS NULL;
		SELECT a.atttypid, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type_name,
			   ty.typtype INTO col
		  FROM pg_catalog.pg_attribute a
		  JOIN pg_catalog.pg_type ty ON ty.oid OPERATOR(pg_catalog.=) a.atttypid
		 WHERE a.attrelid OPERATOR(pg_catalog.=) orders
		   AND a.attname OPERATOR(pg_catalog.=) cols[i]
		   AND a.attnum OPERATOR(pg_catalog.>) 0
		   AND NOT a.attisdropped;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'column "%" does not exist in table %', cols[i], tname
				USING ERRCODE = '42703',
					  DETAIL = pg_catalog.format('It was given as %s_column.', roles[i]),
					  HINT = 'Column names are case-sensitive and given as stored, without quotes.';
		END IF;
		ok := CASE roles[i]
			WHEN 'customer' THEN col.atttypid OPERATOR(pg_catalog.=) ANY (ints)
			WHEN 'order' THEN true
			WHEN 'amount' THEN col.atttypid OPERATOR(pg_catalog.=) ANY
				(pg_catalog.array_append(ints, 'numeric'::regtype::oid))
			WHEN 'refunded' THEN col.atttypid OPERATOR(pg_catalog.=) ANY
				(pg_catalog.array_append(ints, 'numeric'::regtype::oid))
			WHEN 'currency' THEN col.atttypid OPERATOR(pg_catalog.=) ANY (texts)
			WHEN 'ordered_at' THEN col.atttypid OPERATOR(pg_catalog.=) ANY
				('{timestamptz,timestamp,date}'::regtype[]::oid[])
			ELSE col.atttypid OPERATOR(pg_catalog.=) ANY (texts)
				 OR col.typtype OPERATOR(pg_catalog.=) 'e'
		END;
		IF NOT ok THEN
			detail := CASE
				WHEN roles[i] OPERATOR(pg_catalog.=) ANY (ARRAY['amount', 'refunded'])
				 AND col.atttypid OPERATOR(pg_catalog.=) ANY ('{float4,float8}'::regtype[]::oid[])
					THEN 'Floating-point amounts are not exact; use numeric or an integer type.'
				WHEN roles[i] OPERATOR(pg_catalog.=) 'customer'
					THEN 'A customer column must be smallint, integer or bigint.'
				WHEN roles[i] OPERATOR(pg_catalog.=) 'amount'
					THEN 'An amount column must be numeric, smallint, integer or bigint.'
				WHEN roles[i] OPERATOR(pg_catalog.=) 'refunded'
					THEN 'A refunded column must be numeric, smallint, integer or bigint.'
				WHEN roles[i] OPERATOR(pg_catalog.=) 'currency'
					THEN 'A currency column must be text, varchar or char holding ISO 4217 codes.'
				WHEN roles[i] OPERATOR(pg_catalog.=) 'ordered_at'
					THEN 'An ordered_at column must be timestamptz, timestamp or date.'
				ELSE pg_catalog.format('A %s column must be text, varchar, char or an enum.', roles[i])
			END;
			RAISE EXCEPTION '% column "%" has type %', roles[i], cols[i], col.type_name
				USING ERRCODE = '42804', DETAIL = detail,
					  HINT = 'Track another column, or add a generated column of a supported type.';
		END IF;
	END LOOP;

	-- The status values that mean refunded or cancelled.
	IF pg_catalog.cardinality(refund_statuses) OPERATOR(pg_catalog.=) 0 THEN
		RAISE EXCEPTION 'refund_statuses must not be empty' USING ERRCODE = '22023',
			HINT = 'List the status values that mean an order was refunded or cancelled.';
	END IF;
	IF pg_catalog.array_ndims(refund_statuses) OPERATOR(pg_catalog.<>) 1 THEN
		RAISE EXCEPTION 'refund_statuses must be a one-dimensional array' USING ERRCODE = '22023';
	END IF;
	IF pg_catalog.array_position(refund_statuses, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'refund_statuses must not contain nulls' USING ERRCODE = '22023';
	END IF;
	IF status_column IS NOT NULL THEN
		SELECT a.atttypid, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type_name,
			   ty.typtype INTO col
		  FROM pg_catalog.pg_attribute a
		  JOIN pg_catalog.pg_type ty ON ty.oid OPERATOR(pg_catalog.=) a.atttypid
		 WHERE a.attrelid OPERATOR(pg_catalog.=) orders
		   AND a.attname OPERATOR(pg_catalog.=) status_column;
		IF col.typtype OPERATOR(pg_catalog.=) 'e' AND NOT EXISTS (
				SELECT 1 FROM pg_catalog.pg_enum e
				 WHERE e.enumtypid OPERATOR(pg_catalog.=) col.atttypid
				   AND e.enumlabel::text OPERATOR(pg_catalog.=) ANY (refund_statuses)) THEN
			RAISE EXCEPTION 'no value of refund_statuses is a label of type %', col.type_name
				USING ERRCODE = '22023',
					  DETAIL = pg_catalog.format('Status column "%s" is an enum; refund_statuses is %s.',
						status_column, refund_statuses),
					  HINT = 'List the labels that mean an order was refunded or cancelled.';
		END IF;
	END IF;
	RETURN pid;
END
$$;

-- Register the application's orders table: from now on its writes earn points.
CREATE FUNCTION @extschema@.track_orders(
	orders regclass, program text,
	customer_column name, order_column name, amount_column name,
	currency_column name DEFAULT NULL, channel_column name DEFAULT NULL,
	category_column name DEFAULT NULL, status_column name DEFAULT NULL,
	refunded_column name DEFAULT NULL, ordered_at_column name DEFAULT NULL,
	refund_statuses text[] DEFAULT '{refunded,cancelled,canceled,returned}')
RETURNS @extschema@.order_source
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	sid			integer;
	target		text;
BEGIN
	IF orders IS NULL THEN
		RAISE EXCEPTION 'orders must not be null' USING ERRCODE = '22004',
			HINT = 'Name the application''s orders table, e.g. ''public.orders''.';
	END IF;
	SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO target
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.oid OPERATOR(pg_catalog.=) orders;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', orders::oid USING ERRCODE = '42P01';
	END IF;
	-- This function runs as its caller, so current_user is the caller.
	IF NOT pg_catalog.has_table_privilege(current_user, orders, 'TRIGGER') THEN
		RAISE EXCEPTION 'permission denied to track table %', target
			USING ERRCODE = '42501',
				  DETAIL = 'Tracking creates triggers on the table, which needs the TRIGGER privilege.',
				  HINT = pg_catalog.format('Run it as the table''s owner, or GRANT TRIGGER ON %s to %I.', target, current_user);
	END IF;

	sid := @extschema@.reserve_order_source(orders, program,
		customer_column, order_column, amount_column, currency_column,
		channel_column, category_column, status_column, refunded_column,
		ordered_at_column, refund_statuses);
	EXECUTE pg_catalog.format('CREATE TRIGGER loyalty_accrual_insert AFTER INSERT ON %s'
		' REFERENCING NEW TABLE AS loyalty_new'
		' FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.order_trigger(%L)', target, sid);
	EXECUTE pg_catalog.format('CREATE TRIGGER loyalty_accrual_update AFTER UPDATE ON %s'
		' REFERENCING OLD TABLE AS loyalty_old NEW TABLE AS loyalty_new'
		' FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.order_trigger(%L)', target, sid);
	EXECUTE pg_catalog.format('CREATE TRIGGER loyalty_accrual_delete AFTER DELETE ON %s'
		' REFERENCING OLD TABLE AS loyalty_old'
		' FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.order_trigger(%L)', target, sid);
	RETURN @extschema@.register_order_source(sid, orders, program,
		customer_column, order_column, amount_column, currency_column,
		channel_column, category_column, status_column, refunded_column,
		ordered_at_column, refund_statuses);
END
$$;

-- Stop tracking a table: drop its triggers; its configuration is retired
-- (sql/parts/62_retired_sources.sql), and points already earned and the
-- order history stay.
CREATE FUNCTION @extschema@.untrack_orders(orders regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel			record;
	trg			record;
	ids			integer[] := '{}';
BEGIN
	IF orders IS NULL THEN
		RAISE EXCEPTION 'orders must not be null' USING ERRCODE = '22004',
			HINT = 'Name the tracked table, e.g. ''public.orders''.';
	END IF;
	SELECT c.relowner, pg_catalog.format('%I.%I', n.nspname, c.relname) AS target INTO rel
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.oid OPERATOR(pg_catalog.=) orders;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', orders::oid USING ERRCODE = '42P01';
	END IF;
	-- The accrual triggers on the table, and the source ids they carry.
	FOR trg IN SELECT t.tgname,
					  pg_catalog.convert_from(pg_catalog.rtrim(t.tgargs, pg_catalog.decode('00', 'hex')), 'UTF8') AS arg
				 FROM pg_catalog.pg_trigger t
				WHERE t.tgrelid OPERATOR(pg_catalog.=) orders
				  AND t.tgname OPERATOR(pg_catalog.=) ANY
					  (ARRAY['loyalty_accrual_insert', 'loyalty_accrual_update', 'loyalty_accrual_delete']::name[])
				  AND t.tgfoid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure('@extschema@.order_trigger()')
				ORDER BY t.tgname LOOP
		-- DROP TRIGGER needs ownership; say so before trying.
		IF NOT pg_catalog.pg_has_role(current_user, rel.relowner, 'USAGE') THEN
			RAISE EXCEPTION 'must be owner of table % to untrack it', rel.target
				USING ERRCODE = '42501',
					  HINT = 'Dropping the loyalty triggers needs ownership: run it as the table''s owner.';
		END IF;
		IF trg.arg OPERATOR(pg_catalog.~) '^[0-9]{1,9}$' THEN
			ids := pg_catalog.array_append(ids, trg.arg::integer);
		END IF;
		EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trg.tgname, rel.target);
	END LOOP;
	PERFORM @extschema@.unregister_order_source(orders, ids);
END
$$;

COMMENT ON FUNCTION @extschema@.track_orders(regclass, text, name, name, name, name, name, name, name, name, name, text[])
	IS 'track the application''s orders table: its inserts earn points in the program, refunds and deletes claw back; column names as stored, without quotes';
COMMENT ON FUNCTION @extschema@.order_source_triggers(regclass, integer)
	IS 'internal: the number of accrual triggers on a table that carry a source id';
COMMENT ON FUNCTION @extschema@.live_order_source(regclass)
	IS 'internal: the configuration of a tracked table, ignoring stale rows';
COMMENT ON FUNCTION @extschema@.check_order_source(integer, regclass, text, name, name, name, name, name, name, name, name, name, text[])
	IS 'internal: validate a track_orders() request';

REVOKE ALL ON FUNCTION
	@extschema@.set_exchange_rate(text, text, numeric, timestamptz),
	@extschema@.convert_amount(numeric, text, text, timestamptz),
	@extschema@.order_source_triggers(regclass, integer),
	@extschema@.live_order_source(regclass),
	@extschema@.check_order_source(integer, regclass, text, name, name, name, name, name, name, name, name, name, text[]),
	@extschema@.track_orders(regclass, text, name, name, name, name, name, name, name, name, name, text[]),
	@extschema@.untrack_orders(regclass)
FROM PUBLIC;
