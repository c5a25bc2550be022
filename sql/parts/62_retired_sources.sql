--
-- Retired order sources (new in 0.3.0).  Tracked orders are recorded under
-- their table's source id (loyalty.order_accrual.source_id).  A table
-- untracked, or dropped while tracked, leaves its id here with the table's
-- name and the table itself (relid), and tracking that table again in the
-- same program takes the id back, under whatever name it has by then: its
-- earlier orders are found, so a refund of one takes its points back and a
-- re-send earns nothing.  That is what renaming a tracked table (before or
-- after untracking it) and changing a table's settings (untrack and track
-- again) need.  Once the table is gone, the id passes to its name: the next
-- table tracked under it takes the id (a table rebuilt under the same name).
--
-- The functions that hand out and register ids are defined here, replacing
-- those of 0.2.0, so that a fresh install and the update from 0.2.0 run the
-- same statements.
--

-- The table that carries an id is kept as a loyalty.tableref (src/tableref.c):
-- an OID like regclass, written as the table's schema-qualified name, so a
-- restore finds the restored table; but a name that resolves to no table,
-- or a bare OID, reads as "no table" ('-') instead of failing, so that a
-- dump leaving such a table out (pg_dump -T, -N) still restores every row.
CREATE TYPE @extschema@.tableref;

CREATE FUNCTION @extschema@.tableref_in(cstring)
	RETURNS @extschema@.tableref
	AS 'MODULE_PATHNAME', 'tableref_in'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.tableref_out(@extschema@.tableref)
	RETURNS cstring
	AS 'MODULE_PATHNAME', 'tableref_out'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.tableref_recv(internal)
	RETURNS @extschema@.tableref
	AS 'MODULE_PATHNAME', 'tableref_recv'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.tableref_send(@extschema@.tableref)
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'tableref_send'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.tableref (
	INPUT = @extschema@.tableref_in,
	OUTPUT = @extschema@.tableref_out,
	RECEIVE = @extschema@.tableref_recv,
	SEND = @extschema@.tableref_send,
	LIKE = pg_catalog.oid
);

-- The same OID underneath: a regclass or oid is stored as is, and a tableref
-- compares as an oid ("no table" is OID 0, which names no table).
CREATE CAST (regclass AS @extschema@.tableref) WITHOUT FUNCTION AS ASSIGNMENT;
CREATE CAST (oid AS @extschema@.tableref) WITHOUT FUNCTION AS ASSIGNMENT;
CREATE CAST (@extschema@.tableref AS regclass) WITHOUT FUNCTION AS IMPLICIT;
CREATE CAST (@extschema@.tableref AS oid) WITHOUT FUNCTION AS IMPLICIT;

COMMENT ON TYPE @extschema@.tableref IS
	'a table, stored as its OID and written as its schema-qualified name; a name of no table, or a bare OID, reads as no table (''-''), so a dump without the table still restores';

-- Internal: a table's name as order_source and retired_order_source keep it,
-- format('%I.%I', schema, table); NULL when there is no such relation.
CREATE FUNCTION @extschema@.order_table_name(rel regclass)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.oid OPERATOR(pg_catalog.=) rel
$$;

-- Internal: a table other than except_rel whose accrual triggers carry
-- source_id (the first by OID), or NULL when none does.
CREATE FUNCTION @extschema@.order_source_carrier(source_id integer, except_rel regclass)
RETURNS regclass
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT t.tgrelid::regclass FROM pg_catalog.pg_trigger t
	 WHERE t.tgfoid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure('@extschema@.order_trigger()')
	   AND t.tgrelid IS DISTINCT FROM except_rel::oid
	   AND t.tgargs OPERATOR(pg_catalog.=) pg_catalog.byteacat(
			pg_catalog.convert_to(source_id::text, 'UTF8'), pg_catalog.decode('00', 'hex'))
	 ORDER BY t.tgrelid
	 LIMIT 1
$$;

-- The table each tracked source id was registered for, as a tableref (it
-- follows a rename, and pg_dump writes it as the table's name, so a restore
-- finds the restored table, or no table if the dump left it out): the proof that a table untracked under another
-- name than its row's is the one that carried the id.  Filled in for rows
-- of 0.2.0 from the triggers that carry their ids.
ALTER TABLE @extschema@.order_source ADD COLUMN relid @extschema@.tableref;
COMMENT ON COLUMN @extschema@.order_source.relid IS
	'the tracked table, followed through renames; NULL once it is dropped, ''-'' when a restore did not find it (until its accrual triggers are restored)';
UPDATE @extschema@.order_source s
   SET relid = @extschema@.order_source_carrier(s.source_id, NULL);

-- One row per source id no table is tracked under.  table_name is the name
-- of the last table that carried the id, as format('%I.%I', schema, table);
-- retired_at when it left it (the clock, not the transaction's start, so that
-- of two ids retired under a name in one transaction the later wins).
CREATE TABLE @extschema@.retired_order_source (
	source_id	integer PRIMARY KEY,
	program_id	integer NOT NULL REFERENCES @extschema@.program (program_id),
	table_name	text NOT NULL,
	relid		@extschema@.tableref,	-- the table that carried it, while it exists
	retired_at	timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE INDEX retired_order_source_name_idx
	ON @extschema@.retired_order_source (table_name, program_id);
COMMENT ON TABLE @extschema@.retired_order_source IS 'source ids of untracked or dropped orders tables, kept so that tracking the table again finds its earlier orders; change through track_orders, untrack_orders and forget_order_history';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.retired_order_source', '');

-- Internal: whether tracking table rel, named name, would take back a retired
-- id that was retired from r_relid under r_name: one retired from rel itself
-- (under any name), or one retired under rel's name by a table that is gone.
-- adoptable_order_source() takes by this rule and forget_order_history()
-- forgets by it, so that forgetting a name forgets what tracking would take.
CREATE FUNCTION @extschema@.retired_for(r_relid @extschema@.tableref, r_name text, rel regclass, name text)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT r_relid::pg_catalog.oid OPERATOR(pg_catalog.=) rel::pg_catalog.oid
		OR (r_name OPERATOR(pg_catalog.=) name AND @extschema@.order_table_name(r_relid) IS NULL)
$$;

-- Internal: the retired id that tracking orders in program_id takes back:
-- the table's own (retired from this very table, whatever its name was
-- then), or else one retired under the table's name by a table that no
-- longer exists; the latest first, and never one another table's triggers
-- still carry.  An id retired from a table that still exists under another
-- name stays that table's history: a new table under its old name does not
-- take it.
CREATE FUNCTION @extschema@.adoptable_order_source(orders regclass, program_id integer)
RETURNS integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT r.source_id FROM @extschema@.retired_order_source r
	 WHERE r.program_id OPERATOR(pg_catalog.=) adoptable_order_source.program_id
	   AND @extschema@.retired_for(r.relid, r.table_name, orders, @extschema@.order_table_name(orders))
	   AND @extschema@.order_source_carrier(r.source_id, orders) IS NULL
	 ORDER BY (r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) orders::pg_catalog.oid) IS TRUE DESC,
			  r.retired_at DESC, r.source_id DESC
	 LIMIT 1
$$;

-- Internal: retire the rows of order_source under table_name (their table
-- was dropped, or renamed and its name is being tracked again).
CREATE FUNCTION @extschema@.retire_stale_order_source(table_name text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	WITH gone AS (
		DELETE FROM @extschema@.order_source s
		 WHERE s.table_name OPERATOR(pg_catalog.=) retire_stale_order_source.table_name
		RETURNING s.source_id, s.program_id, s.table_name, s.relid
	)
	INSERT INTO @extschema@.retired_order_source AS r (source_id, program_id, table_name, relid)
	SELECT g.source_id, g.program_id, g.table_name,
		   (SELECT c.oid FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) g.relid::pg_catalog.oid)
	  FROM gone g
	ON CONFLICT (source_id) DO UPDATE
		SET program_id = EXCLUDED.program_id, table_name = EXCLUDED.table_name,
			relid = EXCLUDED.relid,
			retired_at = EXCLUDED.retired_at
$$;

-- Internal: check a track_orders() request and hand out the id its triggers
-- will carry: the table's retired id in that program, or a new one.
CREATE OR REPLACE FUNCTION @extschema@.reserve_order_source(
	orders regclass, program text,
	customer_column name, order_column name, amount_column name,
	currency_column name, channel_column name, category_column name,
	status_column name, refunded_column name, ordered_at_column name,
	refund_statuses text[])
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer;
BEGIN
	pid := @extschema@.check_order_source(NULL, orders, program,
		customer_column, order_column, amount_column, currency_column,
		channel_column, category_column, status_column, refunded_column,
		ordered_at_column, refund_statuses);
	-- check_order_source() proved any row under this name is stale.
	PERFORM @extschema@.retire_stale_order_source(@extschema@.order_table_name(orders));
	RETURN COALESCE(@extschema@.adoptable_order_source(orders, pid),
		pg_catalog.nextval('@extschema@.order_source_id_seq')::integer);
END
$$;

-- Internal: record the configuration of a table whose triggers the caller has
-- just created with the id reserve_order_source() handed out.
CREATE OR REPLACE FUNCTION @extschema@.register_order_source(
	source_id integer, orders regclass, program text,
	customer_column name, order_column name, amount_column name,
	currency_column name, channel_column name, category_column name,
	status_column name, refunded_column name, ordered_at_column name,
	refund_statuses text[])
RETURNS @extschema@.order_source
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer;
	tname		text;
	reserved	boolean;
	result		@extschema@.order_source;
BEGIN
	IF register_order_source.source_id IS NULL THEN
		RAISE EXCEPTION 'source_id must not be null' USING ERRCODE = '22004';
	END IF;
	pid := @extschema@.check_order_source(register_order_source.source_id, orders, program,
		customer_column, order_column, amount_column, currency_column,
		channel_column, category_column, status_column, refunded_column,
		ordered_at_column, refund_statuses);
	tname := @extschema@.order_table_name(orders);
	PERFORM @extschema@.retire_stale_order_source(tname);
	-- The id is the table's own retired one, or new from this session.
	reserved := register_order_source.source_id OPERATOR(pg_catalog.=)
		@extschema@.adoptable_order_source(orders, pid);
	IF reserved IS NOT TRUE THEN
		BEGIN
			reserved := register_order_source.source_id OPERATOR(pg_catalog.=)
				pg_catalog.currval('@extschema@.order_source_id_seq');
		EXCEPTION WHEN object_not_in_prerequisite_state THEN
			reserved := false;		-- no id handed out in this session
		END;
	END IF;
	IF NOT reserved THEN
		RAISE EXCEPTION 'order source id % was not reserved in this session', register_order_source.source_id
			USING ERRCODE = '55000', HINT = 'Track tables with loyalty.track_orders().';
	END IF;
	-- The caller proves it may track the table by having created the triggers.
	IF @extschema@.order_source_triggers(orders, register_order_source.source_id)
			OPERATOR(pg_catalog.<>) 3 THEN
		RAISE EXCEPTION 'the loyalty triggers for order source % are not on table %',
			register_order_source.source_id, tname
			USING ERRCODE = '55000', HINT = 'Track tables with loyalty.track_orders(), which creates them.';
	END IF;

	DELETE FROM @extschema@.retired_order_source r
	 WHERE r.source_id OPERATOR(pg_catalog.=) register_order_source.source_id;
	INSERT INTO @extschema@.order_source AS s (source_id, program_id, table_name,
		customer_column, order_column, amount_column, currency_column, channel_column,
		category_column, status_column, refunded_column, ordered_at_column, refund_statuses,
		relid)
	VALUES (register_order_source.source_id, pid, tname,
		register_order_source.customer_column, register_order_source.order_column,
		register_order_source.amount_column, register_order_source.currency_column,
		register_order_source.channel_column, register_order_source.category_column,
		register_order_source.status_column, register_order_source.refunded_column,
		register_order_source.ordered_at_column, register_order_source.refund_statuses,
		orders)
	RETURNING s.* INTO result;
	RETURN result;
END
$$;

-- Internal: retire the configuration of a table whose triggers the caller
-- has just dropped: the row under its name, and the rows of source_ids (the
-- ids its triggers carried: a renamed table's row is under its old name).
-- An id its triggers carried is retired under the table's present name, so
-- that tracking the table again under that name takes it back, if the id was
-- registered for this very table (relid): an id put in source_ids, or on a
-- trigger made by hand, by anyone else keeps its own name.  Only rows whose
-- triggers are gone are retired; returns them as they were.
CREATE OR REPLACE FUNCTION @extschema@.unregister_order_source(orders regclass,
	source_ids integer[] DEFAULT '{}')
RETURNS SETOF @extschema@.order_source
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tname		text;
	src			@extschema@.order_source;
	found_any	boolean := false;
BEGIN
	IF orders IS NULL THEN
		RAISE EXCEPTION 'orders must not be null' USING ERRCODE = '22004';
	END IF;
	tname := @extschema@.order_table_name(orders);
	IF tname IS NULL THEN
		RAISE EXCEPTION 'relation with OID % does not exist', orders::oid USING ERRCODE = '42P01';
	END IF;
	FOR src IN SELECT s.* FROM @extschema@.order_source s
				WHERE s.table_name OPERATOR(pg_catalog.=) tname
				   OR s.source_id OPERATOR(pg_catalog.=) ANY (COALESCE(source_ids, '{}'))
				ORDER BY s.source_id FOR UPDATE LOOP
		IF @extschema@.order_source_carrier(src.source_id, NULL) IS NOT NULL THEN
			RAISE EXCEPTION 'the loyalty triggers are still on table %',
				COALESCE(@extschema@.order_table_name(src.relid), src.table_name)
				USING ERRCODE = '55000',
					  HINT = 'Untrack tables with loyalty.untrack_orders(), which drops them.';
		END IF;
		DELETE FROM @extschema@.order_source s
		 WHERE s.source_id OPERATOR(pg_catalog.=) src.source_id;
		INSERT INTO @extschema@.retired_order_source AS r (source_id, program_id, table_name, relid)
		VALUES (src.source_id, src.program_id,
			CASE WHEN src.source_id OPERATOR(pg_catalog.=) ANY (COALESCE(source_ids, '{}'))
					  AND src.relid::pg_catalog.oid OPERATOR(pg_catalog.=) orders::pg_catalog.oid
				 THEN tname ELSE src.table_name END,
			(SELECT c.oid FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) src.relid::pg_catalog.oid))
		ON CONFLICT (source_id) DO UPDATE
			SET program_id = EXCLUDED.program_id, table_name = EXCLUDED.table_name,
				relid = EXCLUDED.relid, retired_at = EXCLUDED.retired_at;
		found_any := true;
		RETURN NEXT src;
	END LOOP;
	-- The ids its triggers carried, retired just now or before (the table was
	-- renamed and a new table tracked under its old name), go by this table's
	-- name, and left it last: tracking the name again takes them back before
	-- the id of any other table that had the name meanwhile.
	UPDATE @extschema@.retired_order_source r
	   SET table_name = tname, retired_at = pg_catalog.clock_timestamp()
	 WHERE r.source_id OPERATOR(pg_catalog.=) ANY (COALESCE(source_ids, '{}'))
	   AND r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) orders::pg_catalog.oid;
	-- Triggers without a row (left by a renamed table whose name was reused)
	-- were cleaned up by the caller: that is untracking too.
	IF NOT found_any AND pg_catalog.cardinality(COALESCE(source_ids, '{}')) OPERATOR(pg_catalog.=) 0 THEN
		RAISE EXCEPTION 'table % is not tracked', tname
			USING ERRCODE = 'LY008', HINT = 'loyalty.order_source lists the tracked tables.';
	END IF;
END
$$;

-- Start a new order history for a table name: the retired ids that tracking
-- a table of that name in the program would take back are forgotten (those
-- retired under the name by a table that is gone, and those of the table that
-- has the name now, whatever name they were retired under), so the next table
-- tracked under it gets a new id and its orders count as new even where their
-- keys repeat earlier ones (a table dropped and created again with its keys
-- starting over).  The orders recorded under the forgotten ids keep their
-- points and history.  An id retired under the name by a table renamed since
-- (its triggers still carry it, or it was untracked first) is that table's
-- history, not the name's: it stays (the name's next table cannot take it
-- anyway).
CREATE FUNCTION @extschema@.forget_order_history(table_name text, program text)
RETURNS SETOF @extschema@.retired_order_source
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer;
	given		text := forget_order_history.table_name;
	rel			regclass;
	owner		text;
	carried		boolean;
	forgot		boolean;
BEGIN
	IF given IS NULL THEN
		RAISE EXCEPTION 'table_name must not be null' USING ERRCODE = '22004',
			HINT = 'Name the table as loyalty.retired_order_source has it, e.g. ''public.orders''.';
	END IF;
	pid := @extschema@.program_id(program);
	-- A name as stored, or a schema-qualified name of a table that exists
	-- (the caller's search_path does not apply here).
	BEGIN
		rel := pg_catalog.to_regclass(given);
	EXCEPTION WHEN OTHERS THEN
		rel := NULL;		-- not a name at all: reported as unknown below
	END;
	IF rel IS NOT NULL
	   AND NOT EXISTS (SELECT 1 FROM @extschema@.retired_order_source r
						WHERE r.table_name OPERATOR(pg_catalog.=) given)
	   AND NOT EXISTS (SELECT 1 FROM @extschema@.order_source s
						WHERE s.table_name OPERATOR(pg_catalog.=) given) THEN
		given := @extschema@.order_table_name(rel);
	END IF;
	-- The row of a table dropped (or renamed) while tracked stays under its
	-- name until the name is tracked again: retire it first, as that would.
	IF rel IS NULL OR (@extschema@.live_order_source(rel)).source_id IS NULL THEN
		PERFORM @extschema@.retire_stale_order_source(given);
	END IF;
	RETURN QUERY
		DELETE FROM @extschema@.retired_order_source r
		 WHERE r.program_id OPERATOR(pg_catalog.=) pid
		   AND @extschema@.retired_for(r.relid, r.table_name, rel, given)
		   AND @extschema@.order_source_carrier(r.source_id, NULL) IS NULL
		RETURNING r.*;
	forgot := FOUND;
	IF NOT forgot THEN
		-- A renamed table that an id retired here belongs to: its triggers
		-- still carry the id, or it was untracked before it was renamed.
		SELECT COALESCE(c.carrier, r.relid::regclass)::text, c.carrier IS NOT NULL INTO owner, carried
		  FROM @extschema@.retired_order_source r
		 CROSS JOIN LATERAL (SELECT @extschema@.order_source_carrier(r.source_id, NULL) AS carrier) c
		 WHERE r.table_name OPERATOR(pg_catalog.=) given
		   AND r.program_id OPERATOR(pg_catalog.=) pid
		   AND (c.carrier IS NOT NULL OR @extschema@.order_table_name(r.relid) IS NOT NULL)
		 ORDER BY 2 DESC, 1 LIMIT 1;
	END IF;
	IF NOT forgot AND rel IS NOT NULL AND (@extschema@.live_order_source(rel)).source_id IS NOT NULL THEN
		RAISE EXCEPTION 'no retired order history for table % in program "%"', given, program
			USING ERRCODE = 'LY008', DETAIL = 'The table is tracked: its order history is in use.',
				  HINT = pg_catalog.format('Call loyalty.untrack_orders(%L) first.', given);
	ELSIF NOT forgot AND carried THEN
		RAISE EXCEPTION 'no retired order history for table % in program "%"', given, program
			USING ERRCODE = 'LY008',
				  DETAIL = pg_catalog.format('The id retired under that name is carried by the loyalty triggers of table %s, renamed since: it is that table''s history.', owner),
				  HINT = pg_catalog.format('Nothing to forget: the next table tracked as %s gets a new id anyway.', given);
	ELSIF NOT forgot AND owner IS NOT NULL THEN
		RAISE EXCEPTION 'no retired order history for table % in program "%"', given, program
			USING ERRCODE = 'LY008',
				  DETAIL = pg_catalog.format('The id retired under that name was retired from table %s, renamed since: it is that table''s history.', owner),
				  HINT = pg_catalog.format('Nothing to forget: the next table tracked as %s gets a new id anyway; loyalty.forget_order_history(%L, %L) forgets that table''s history.', given, owner, program);
	ELSIF NOT forgot THEN
		RAISE EXCEPTION 'no retired order history for table % in program "%"', given, program
			USING ERRCODE = 'LY008',
				  HINT = 'loyalty.retired_order_source lists the retired tables; names are schema-qualified, e.g. ''public.orders''.';
	END IF;
END
$$;

-- Internal: a dropped table's OID does not stay in relid.  pg_dump writes a
-- regclass whose table no longer exists as a bare number, which in the
-- restored database may be another table's (and OIDs come round again in
-- time): that table could then take the dropped table's order history.  The
-- rows keep their table_name; their relid becomes NULL when the table goes,
-- whatever drops it (DROP TABLE, DROP SCHEMA ... CASCADE, DROP OWNED).
CREATE FUNCTION @extschema@.clear_dropped_relids()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	WITH gone AS (
		SELECT d.objid FROM pg_catalog.pg_event_trigger_dropped_objects() d
		 WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
		   AND d.objsubid OPERATOR(pg_catalog.=) 0
	), retired AS (
		UPDATE @extschema@.retired_order_source r SET relid = NULL
		  FROM gone WHERE r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) gone.objid
	)
	UPDATE @extschema@.order_source s SET relid = NULL
	  FROM gone WHERE s.relid::pg_catalog.oid OPERATOR(pg_catalog.=) gone.objid;
END
$$;
CREATE EVENT TRIGGER loyalty_clear_dropped_relids ON sql_drop
	EXECUTE FUNCTION @extschema@.clear_dropped_relids();

-- Internal: the accrual triggers a restore creates give relid back its
-- table.  A restore reads order_source before the tables exist in two
-- cases: a dump of 0.2.0, which had no relid (CREATE EXTENSION installs the
-- new version, so the update's fill-in finds no rows), and the extension's
-- schema restored before the application's (relid reads as no table, '-').
-- The table's triggers come after, in either; when one of them carries the
-- id of a row that has no table, under the very name of the table it is
-- created on, that table is the row's again.  The name must match as well
-- as the id: that gives nobody a history that tracking the name would not.
CREATE FUNCTION @extschema@.bind_order_source_relids()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE @extschema@.order_source s SET relid = t.tgrelid
	  FROM pg_catalog.pg_event_trigger_ddl_commands() d
	  JOIN pg_catalog.pg_trigger t ON t.oid OPERATOR(pg_catalog.=) d.objid
	 WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_trigger'::pg_catalog.regclass
	   AND t.tgfoid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure('@extschema@.order_trigger()')
	   AND t.tgargs OPERATOR(pg_catalog.=) pg_catalog.byteacat(
			pg_catalog.convert_to(s.source_id::text, 'UTF8'), pg_catalog.decode('00', 'hex'))
	   AND COALESCE(s.relid::pg_catalog.oid, 0) OPERATOR(pg_catalog.=) 0
	   AND s.table_name OPERATOR(pg_catalog.=) @extschema@.order_table_name(t.tgrelid);
END
$$;
CREATE EVENT TRIGGER loyalty_bind_order_source_relids ON ddl_command_end
	WHEN TAG IN ('CREATE TRIGGER')
	EXECUTE FUNCTION @extschema@.bind_order_source_relids();

COMMENT ON FUNCTION @extschema@.order_table_name(regclass)
	IS 'internal: a table''s name as the order source tables keep it';
COMMENT ON FUNCTION @extschema@.order_source_carrier(integer, regclass)
	IS 'internal: a table (other than the one given) whose accrual triggers carry a source id, or NULL';
COMMENT ON FUNCTION @extschema@.retired_for(@extschema@.tableref, text, regclass, text)
	IS 'internal: whether tracking a table would take back an id retired from a given table under a given name';
COMMENT ON FUNCTION @extschema@.adoptable_order_source(regclass, integer)
	IS 'internal: the retired source id that tracking a table in a program takes back, if any';
COMMENT ON FUNCTION @extschema@.retire_stale_order_source(text)
	IS 'internal: retire the stale configuration rows under a table name';
COMMENT ON FUNCTION @extschema@.reserve_order_source(regclass, text, name, name, name, name, name, name, name, name, name, text[])
	IS 'internal: validate a track_orders() request and reserve its source id (the table''s retired one, or new)';
COMMENT ON FUNCTION @extschema@.register_order_source(integer, regclass, text, name, name, name, name, name, name, name, name, name, text[])
	IS 'internal: record a tracked table once track_orders() has created its triggers';
COMMENT ON FUNCTION @extschema@.unregister_order_source(regclass, integer[])
	IS 'internal: retire a tracked table''s configuration once untrack_orders() has dropped its triggers';
COMMENT ON FUNCTION @extschema@.untrack_orders(regclass)
	IS 'stop tracking an orders table (drops its loyalty triggers); points earned and order history stay, and tracking the table again in the same program, under any name, continues its history';
COMMENT ON FUNCTION @extschema@.bind_order_source_relids()
	IS 'internal: event trigger; a restored accrual trigger gives order_source.relid back its table when the row has none and is under the table''s name';
COMMENT ON FUNCTION @extschema@.clear_dropped_relids()
	IS 'internal: event trigger; a dropped table''s OID leaves order_source.relid and retired_order_source.relid';
COMMENT ON FUNCTION @extschema@.forget_order_history(text, text)
	IS 'forget the retired source ids a table of that name would take back, so the next table tracked under it starts a new order history';

REVOKE ALL ON FUNCTION
	@extschema@.order_table_name(regclass),
	@extschema@.order_source_carrier(integer, regclass),
	@extschema@.retired_for(@extschema@.tableref, text, regclass, text),
	@extschema@.adoptable_order_source(regclass, integer),
	@extschema@.retire_stale_order_source(text),
	@extschema@.reserve_order_source(regclass, text, name, name, name, name, name, name, name, name, name, text[]),
	@extschema@.register_order_source(integer, regclass, text, name, name, name, name, name, name, name, name, name, text[]),
	@extschema@.unregister_order_source(regclass, integer[]),
	@extschema@.forget_order_history(text, text),
	@extschema@.clear_dropped_relids(),
	@extschema@.bind_order_source_relids()
FROM PUBLIC;
