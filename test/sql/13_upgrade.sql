\i test/setup.sql
-- ALTER EXTENSION loyalty UPDATE from 0.1.0: a database holding 0.1.0 data,
-- updated to the current version through every release in between, has the
-- same schema as a fresh install,
-- keeps every point, and keeps working.  Two extra databases: one with a
-- fresh install (the reference schema), one created at 0.1.0 and updated.
-- The 0.1.0 data are written through the current library, as happens in a
-- real upgrade between installing the package and ALTER EXTENSION UPDATE.
\set home_db :DBNAME
\! dropdb --if-exists loyalty_upgrade_old 2>/dev/null; dropdb --if-exists loyalty_upgrade_new 2>/dev/null
\! createdb loyalty_upgrade_old && createdb loyalty_upgrade_new

-- The schema of the extension as rows of (kind, name, definition): every
-- object in schema loyalty, compared as a set so that a failure lists the rows
-- that differ.  Names are unqualified (they all live in schema loyalty); the
-- definitions come from pg_catalog's own deparsers.
SELECT $fp$
WITH ns AS (
	SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'loyalty'
), rel AS (
	SELECT c.* FROM pg_catalog.pg_class c WHERE c.relnamespace = (SELECT oid FROM ns)
), typ AS (
	SELECT t.oid FROM pg_catalog.pg_type t WHERE t.typnamespace = (SELECT oid FROM ns)
), member AS (
	SELECT d.classid, d.objid FROM pg_catalog.pg_depend d
	 WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
	   AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'loyalty')
)
SELECT 'schema' AS kind, n.nspname::text AS name,
	   pg_catalog.format('owner=%s acl=%s', n.nspowner::regrole, n.nspacl) AS definition
  FROM pg_catalog.pg_namespace n WHERE n.oid = (SELECT oid FROM ns)
UNION ALL
SELECT 'relation', c.relname::text,
	   pg_catalog.format('relkind=%s persistence=%s options=%s acl=%s owner=%s replident=%s rls=%s/%s',
			c.relkind, c.relpersistence, c.reloptions, c.relacl, c.relowner::regrole, c.relreplident,
			c.relrowsecurity, c.relforcerowsecurity)
  FROM rel c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
UNION ALL
SELECT 'column', c.relname || '.' || a.attname,
	   pg_catalog.format('#%s %s default=%s not_null=%s collation=%s identity=%s generated=%s'
			' storage=%s compression=%s statistics=%s options=%s acl=%s',
			pg_catalog.row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
			pg_catalog.format_type(a.atttypid, a.atttypmod), pg_catalog.pg_get_expr(d.adbin, d.adrelid),
			a.attnotnull, a.attcollation::regcollation, a.attidentity, a.attgenerated,
			a.attstorage, a.attcompression, a.attstattarget,
			-- Without pg_attver: some servers stamp every column with it when the column is
			-- created, a value that differs in every database; pg_dump leaves it out too.
			ARRAY(SELECT o FROM pg_catalog.unnest(a.attoptions) o WHERE o NOT LIKE 'pg\_attver=%'),
			a.attacl)
  FROM rel c
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
UNION ALL
SELECT 'constraint', COALESCE(c.relname, t.typname) || '.' || k.conname,
	   pg_catalog.pg_get_constraintdef(k.oid)
  FROM pg_catalog.pg_constraint k
  LEFT JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
  LEFT JOIN pg_catalog.pg_type t ON t.oid = k.contypid
 WHERE k.connamespace = (SELECT oid FROM ns)
UNION ALL
SELECT 'index', c.relname::text,
	   pg_catalog.pg_get_indexdef(c.oid) || pg_catalog.format(' clustered=%s replident=%s',
			i.indisclustered, i.indisreplident)
  FROM rel c JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
UNION ALL
SELECT 'trigger', c.relname || '.' || g.tgname,
	   pg_catalog.pg_get_triggerdef(g.oid) || ' enabled=' || g.tgenabled::text
  FROM rel c JOIN pg_catalog.pg_trigger g ON g.tgrelid = c.oid AND NOT g.tgisinternal
UNION ALL
-- The triggers behind foreign keys are named by OID: name them by constraint.
SELECT 'internal trigger', c.relname || '.' || k.conname || ' ' || g.tgfoid::regproc,
	   pg_catalog.format('type=%s enabled=%s deferrable=%s/%s', g.tgtype, g.tgenabled,
			g.tgdeferrable, g.tginitdeferred)
  FROM rel c JOIN pg_catalog.pg_trigger g ON g.tgrelid = c.oid AND g.tgisinternal
  LEFT JOIN pg_catalog.pg_constraint k ON k.oid = g.tgconstraint
UNION ALL
SELECT 'rule', c.relname || '.' || r.rulename, pg_catalog.pg_get_ruledef(r.oid)
  FROM rel c JOIN pg_catalog.pg_rewrite r ON r.ev_class = c.oid
 WHERE r.rulename <> '_RETURN'
UNION ALL
SELECT 'policy', c.relname || '.' || p.polname,
	   pg_catalog.format('%s %s to %s using %s check %s', p.polcmd, p.polpermissive, p.polroles::regrole[],
			pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
  FROM rel c JOIN pg_catalog.pg_policy p ON p.polrelid = c.oid
UNION ALL
SELECT 'view', c.relname::text, pg_catalog.pg_get_viewdef(c.oid)
  FROM rel c WHERE c.relkind IN ('v', 'm')
UNION ALL
SELECT 'sequence', c.relname::text,
	   pg_catalog.format('%s start %s increment %s min %s max %s cache %s cycle %s owned by %s',
			s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
			(SELECT pg_catalog.pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
			   FROM pg_catalog.pg_depend d
			  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
				AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')))
  FROM rel c JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
UNION ALL
SELECT 'function', p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
	   pg_catalog.format(E'kind=%s args=(%s) returns=%s language=%s volatility=%s strict=%s security_definer=%s'
			' leakproof=%s parallel=%s cost=%s rows=%s config=%s acl=%s owner=%s bin=%s\n%s',
			p.prokind, pg_catalog.pg_get_function_arguments(p.oid), pg_catalog.pg_get_function_result(p.oid),
			l.lanname, p.provolatile, p.proisstrict, p.prosecdef, p.proleakproof, p.proparallel,
			p.procost, p.prorows, p.proconfig, p.proacl, p.proowner::regrole, p.probin, p.prosrc)
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = (SELECT oid FROM ns)
UNION ALL
SELECT 'type', t.typname::text,
	   pg_catalog.format('typtype=%s len=%s byval=%s align=%s storage=%s input=%s output=%s receive=%s'
			' send=%s typmod=%s/%s analyze=%s category=%s preferred=%s collation=%s base=%s not_null=%s'
			' default=%s acl=%s owner=%s',
			t.typtype, t.typlen, t.typbyval, t.typalign, t.typstorage, t.typinput, t.typoutput,
			t.typreceive, t.typsend, t.typmodin, t.typmodout, t.typanalyze, t.typcategory, t.typispreferred,
			t.typcollation, t.typbasetype::regtype, t.typnotnull, t.typdefault, t.typacl, t.typowner::regrole)
  FROM pg_catalog.pg_type t
 WHERE t.oid IN (SELECT oid FROM typ)
   AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
   AND t.typsubscript <> 'pg_catalog.array_subscript_handler'::regproc
UNION ALL
SELECT 'enum', t.typname || '.' || e.enumlabel, e.enumsortorder::text
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid
 WHERE t.oid IN (SELECT oid FROM typ)
UNION ALL
SELECT 'cast', pg_catalog.format('%s as %s', k.castsource::regtype, k.casttarget::regtype),
	   pg_catalog.format('function=%s context=%s method=%s', k.castfunc::regprocedure, k.castcontext,
			k.castmethod)
  FROM pg_catalog.pg_cast k
 WHERE k.castsource IN (SELECT oid FROM typ) OR k.casttarget IN (SELECT oid FROM typ)
UNION ALL
SELECT 'operator', o.oprname || '(' || o.oprleft::regtype || ', ' || o.oprright::regtype || ')',
	   pg_catalog.format('%s commutator=%s negator=%s restrict=%s join=%s merges=%s hashes=%s',
			o.oprcode, o.oprcom::regoperator, o.oprnegate::regoperator, o.oprrest, o.oprjoin,
			o.oprcanmerge, o.oprcanhash)
  FROM pg_catalog.pg_operator o WHERE o.oprnamespace = (SELECT oid FROM ns)
UNION ALL
SELECT 'operator family', f.opfname || ' using ' || am.amname,
	   (SELECT pg_catalog.string_agg(pg_catalog.format('operator %s %s', o.amopstrategy, o.amopopr::regoperator),
				'; ' ORDER BY o.amopstrategy)
		  FROM pg_catalog.pg_amop o WHERE o.amopfamily = f.oid) || ' | ' ||
	   (SELECT pg_catalog.string_agg(pg_catalog.format('function %s %s', p.amprocnum, p.amproc::regprocedure),
				'; ' ORDER BY p.amprocnum)
		  FROM pg_catalog.pg_amproc p WHERE p.amprocfamily = f.oid)
  FROM pg_catalog.pg_opfamily f JOIN pg_catalog.pg_am am ON am.oid = f.opfmethod
 WHERE f.opfnamespace = (SELECT oid FROM ns)
UNION ALL
SELECT 'operator class', c.opcname || ' using ' || am.amname,
	   pg_catalog.format('for %s default=%s family=%s', c.opcintype::regtype, c.opcdefault, f.opfname)
  FROM pg_catalog.pg_opclass c
  JOIN pg_catalog.pg_am am ON am.oid = c.opcmethod
  JOIN pg_catalog.pg_opfamily f ON f.oid = c.opcfamily
 WHERE c.opcnamespace = (SELECT oid FROM ns)
UNION ALL
SELECT 'comment', pg_catalog.pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description
  FROM pg_catalog.pg_description d
 WHERE (d.classoid = 'pg_catalog.pg_class'::regclass AND d.objoid IN (SELECT oid FROM rel))
	OR (d.classoid = 'pg_catalog.pg_proc'::regclass
		AND d.objoid IN (SELECT oid FROM pg_catalog.pg_proc WHERE pronamespace = (SELECT oid FROM ns)))
	OR (d.classoid = 'pg_catalog.pg_type'::regclass AND d.objoid IN (SELECT oid FROM typ))
	OR (d.classoid = 'pg_catalog.pg_namespace'::regclass AND d.objoid = (SELECT oid FROM ns))
	OR (d.classoid, d.objoid) IN (SELECT classid, objid FROM member)
UNION ALL
SELECT 'extension member', pg_catalog.pg_describe_object(m.classid, m.objid, 0), ''
  FROM member m
UNION ALL
-- What pg_dump treats as the extension's own privileges.
SELECT 'initial privileges', pg_catalog.pg_describe_object(i.classoid, i.objoid, i.objsubid),
	   pg_catalog.format('%s %s', i.privtype, i.initprivs)
  FROM pg_catalog.pg_init_privs i
 WHERE (i.classoid, i.objoid) IN (SELECT classid, objid FROM member)
$fp$ AS fp_query \gset

-- The tables pg_dump dumps the data of, with their conditions.
SELECT $cd$
SELECT pg_catalog.string_agg(pg_catalog.format('%s %L', t.tab::regclass, t.cond), ', '
							 ORDER BY t.tab::regclass::text)
  FROM pg_catalog.pg_extension e,
	   ROWS FROM (pg_catalog.unnest(e.extconfig), pg_catalog.unnest(e.extcondition)) AS t(tab, cond)
 WHERE e.extname = 'loyalty'
$cd$ AS config_dump_query \gset

-- The reference: a fresh install of the current version.
\c loyalty_upgrade_new
\i test/setup.sql
CREATE EXTENSION loyalty;
SELECT pg_catalog.jsonb_agg(f) AS fresh_fp FROM (:fp_query) f \gset
:config_dump_query \gset fresh_
\set fresh_config_dump :fresh_string_agg
-- A fresh install of 0.2.0, the release 0.1.0 updates to first, and the same
-- database updated from there: the last update on its own.
DROP EXTENSION loyalty;
CREATE EXTENSION loyalty VERSION '0.2.0';
SELECT pg_catalog.jsonb_agg(f) AS fresh_020_fp FROM (:fp_query) f \gset
ALTER EXTENSION loyalty UPDATE;
SELECT pg_catalog.jsonb_agg(f) AS updated_020_fp FROM (:fp_query) f \gset

-- 0.1.0 with realistic data.
\c loyalty_upgrade_old
\i test/setup.sql
CREATE EXTENSION pgtap;
CREATE EXTENSION loyalty VERSION '0.1.0';
SELECT count(*) FROM loyalty.create_program('vn', 'Vietnam retail', 'VND', 10, 100000,
	time_zone => 'Asia/Ho_Chi_Minh') \g /dev/null
SELECT count(*) FROM loyalty.create_program('held', 'Held', 'VND', 10, 100000, return_days => 14) \g /dev/null
SELECT count(*) FROM loyalty.create_program('eu', 'Europe', 'EUR', 1, 1, rounding => 'proportional') \g /dev/null
SELECT count(*) FROM generate_series(1, 12) c,
	LATERAL loyalty.enroll('vn', c, card => loyalty.card_issue('6042'), birthday => DATE '1990-01-01' + c::int)
	\g /dev/null
SELECT count(*) FROM generate_series(5, 10) c, LATERAL loyalty.enroll('eu', c) \g /dev/null
-- Earnings with and without an idempotency key, with expiry, pending.
SELECT count(*) FROM generate_series(1, 12) c,
	LATERAL loyalty.earn('vn', c, loyalty.points_for('vn', c * 123456), 'order', 'o-' || c,
		'order-' || c, expires_at => now() + interval '1 year') \g /dev/null
SELECT count(*) FROM generate_series(1, 12, 3) c, LATERAL loyalty.earn('vn', c, 5, 'survey') \g /dev/null
SELECT count(*) FROM generate_series(1, 12, 3) c, LATERAL loyalty.earn('vn', c, 5, 'survey') \g /dev/null
SELECT count(*) FROM generate_series(2, 12, 4) c,
	LATERAL loyalty.earn('vn', c, 30, 'order', 'p-' || c, pending_until => now() + interval '14 days') \g /dev/null
-- A retried request with the same key gives the same entry.
SELECT count(*) FROM loyalty.earn('vn', 1, loyalty.points_for('vn', 123456), 'order', 'o-1', 'order-1',
	expires_at => now() + interval '1 year') \g /dev/null
SELECT count(*) FROM generate_series(1, 12, 2) c,
	LATERAL loyalty.redeem('vn', c, 7, 'coffee', 'r-' || c, 'redeem-' || c) \g /dev/null
SELECT count(*) FROM loyalty.redeem('vn', 4, 3, 'coffee') \g /dev/null
SELECT count(*) FROM loyalty.adjust('vn', 3, -2, 'correction') \g /dev/null
SELECT count(*) FROM loyalty.adjust('vn', 6, 11, 'goodwill', idempotency_key => 'goodwill-6') \g /dev/null
SELECT count(*) FROM generate_series(5, 10) c,
	LATERAL loyalty.earn('eu', c, loyalty.points_for('eu', 19.99 * c)) \g /dev/null
-- Tracked orders: plain INSERTs earn, one statement with several orders,
-- an order too small to earn, a raised amount (a second lot for one order),
-- a full refund and a partial one, a new customer enrolled by an order, and
-- held points in a program with a return window.
CREATE TABLE public.orders (
	id bigint NOT NULL,
	customer_id bigint,
	total numeric(14, 2),
	status text NOT NULL DEFAULT 'paid',
	refunded numeric(14, 2) NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now()
);
SELECT count(*) FROM loyalty.track_orders('public.orders', 'vn', 'customer_id', 'id', 'total',
	status_column => 'status', refunded_column => 'refunded', ordered_at_column => 'created_at') \g /dev/null
CREATE TABLE public.held_orders (id text NOT NULL, customer_id bigint, total numeric);
SELECT count(*) FROM loyalty.track_orders('public.held_orders', 'held', 'customer_id', 'id', 'total') \g /dev/null
-- Each its own statement, as an application sends them.
CREATE FUNCTION pg_temp.run(VARIADIC statements text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	statement	text;
BEGIN
	FOREACH statement IN ARRAY statements LOOP
		EXECUTE statement;
	END LOOP;
END
$$;

SELECT plan(28);
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'loyalty'), '0.1.0',
	'the database starts at version 0.1.0');
SELECT lives_ok($$SELECT pg_temp.run(
	'INSERT INTO orders (id, customer_id, total) VALUES (101, 1, 250000)',
	'INSERT INTO orders (id, customer_id, total) VALUES (102, 2, 540000), (103, 3, 1200000), (104, 2, 90000)',
	'INSERT INTO orders (id, customer_id, total) VALUES (105, 4, 300000)',
	'UPDATE orders SET total = 700000 WHERE id = 105',
	'INSERT INTO orders (id, customer_id, total) VALUES (106, 5, 800000), (107, 40, 410000)',
	'UPDATE orders SET status = ''refunded'' WHERE id = 102',
	'UPDATE orders SET refunded = 400000 WHERE id = 106',
	'INSERT INTO held_orders VALUES (''h-1'', 7, 350000), (''h-2'', 8, 620000)')$$,
	'0.1.0 with the installed library: tracked orders earn, and change, and are refunded');

-- The data as 0.1.0 holds it: per table the row count, the sums, and a hash
-- of every row (order_accrual without the column 0.2.0 adds, account without
-- the tier columns 0.3.0 adds).
SELECT $data$
SELECT 'account' AS tab, pg_catalog.count(*) AS n,
	   pg_catalog.format('available=%s pending=%s earned=%s redeemed=%s', pg_catalog.sum(available),
			pg_catalog.sum(pending), pg_catalog.sum(lifetime_earned), pg_catalog.sum(lifetime_redeemed)) AS sums,
	   pg_catalog.md5(pg_catalog.string_agg(ROW(customer_id, program_id, available, pending,
			lifetime_earned, lifetime_redeemed, lifetime_expired, last_entry_no, order_count,
			last_activity_at, updated_at)::text, E'\n' ORDER BY customer_id, program_id)) AS rows
  FROM loyalty.account a
UNION ALL
SELECT 'lot', pg_catalog.count(*),
	   pg_catalog.format('points=%s remaining=%s', pg_catalog.sum(points), pg_catalog.sum(remaining)),
	   pg_catalog.md5(pg_catalog.string_agg(l::text, E'\n' ORDER BY customer_id, program_id, lot_no))
  FROM loyalty.lot l
UNION ALL
SELECT 'ledger', pg_catalog.count(*),
	   pg_catalog.format('points=%s pending_points=%s', pg_catalog.sum(points), pg_catalog.sum(pending_points)),
	   pg_catalog.md5(pg_catalog.string_agg(l::text, E'\n' ORDER BY customer_id, program_id, entry_no))
  FROM loyalty.ledger l
UNION ALL
SELECT 'order_accrual', pg_catalog.count(*),
	   pg_catalog.format('points=%s earned_points=%s', pg_catalog.sum(points), pg_catalog.sum(earned_points)),
	   pg_catalog.md5(pg_catalog.string_agg(ROW(customer_id, program_id, source_id, order_key,
			state, amount, net_amount, points, earned_points, first_purchase, channel, category,
			ordered_at, created_at, updated_at)::text, E'\n'
			ORDER BY customer_id, program_id, source_id, order_key))
  FROM loyalty.order_accrual
$data$ AS data_query \gset
CREATE TEMP TABLE data_before AS :data_query;
CREATE TEMP TABLE fp_010 AS :fp_query;
CREATE TEMP TABLE fp_fresh AS
	SELECT * FROM jsonb_to_recordset(:'fresh_fp') AS f(kind text, name text, definition text);
CREATE TEMP TABLE fp_020 AS
	SELECT * FROM jsonb_to_recordset(:'fresh_020_fp') AS f(kind text, name text, definition text);
CREATE TEMP TABLE fp_020_updated AS
	SELECT * FROM jsonb_to_recordset(:'updated_020_fp') AS f(kind text, name text, definition text);

-- 1. The update.
SELECT ok((SELECT n FROM data_before WHERE tab = 'ledger') >= 40
		  AND (SELECT n FROM data_before WHERE tab = 'order_accrual') >= 9
		  AND EXISTS (SELECT FROM loyalty.lot l JOIN loyalty.lot m USING (customer_id, program_id, source_id, order_key)
					   WHERE l.lot_no < m.lot_no),
	'0.1.0 holds a realistic ledger, tracked orders, and an order with two lots');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, '0.1.0: the balances equal the ledger before the update');
ALTER EXTENSION loyalty UPDATE;
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'loyalty'),
	(SELECT default_version FROM pg_available_extensions WHERE name = 'loyalty'),
	'ALTER EXTENSION loyalty UPDATE brings it to the version in loyalty.control');

-- 2. The same schema as a fresh install.  The fingerprint is not blind: it
-- tells 0.1.0 from a fresh 0.2.0 by exactly what 0.2.0 changes.
CREATE TEMP TABLE fp_updated AS :fp_query;
SELECT set_eq(
	$$(SELECT kind, name FROM fp_010 EXCEPT SELECT kind, name FROM fp_020) UNION
	  (SELECT kind, name FROM fp_020 EXCEPT SELECT kind, name FROM fp_010) UNION
	  (SELECT kind, name FROM fp_010 JOIN fp_020 USING (kind, name)
		WHERE fp_010.definition IS DISTINCT FROM fp_020.definition)$$,
	$$VALUES ('relation', 'account'),
		('column', 'order_accrual.lot_no'),
		('constraint', 'ledger.ledger_customer_id_program_id_fkey'),
		('constraint', 'ledger.ledger_customer_id_program_id_idempotency_key_key'),
		('constraint', 'lot.lot_customer_id_program_id_fkey'),
		('constraint', 'order_accrual.order_accrual_customer_id_program_id_fkey'),
		('index', 'ledger_customer_id_program_id_idempotency_key_key'),
		('index', 'ledger_idempotency_key_idx'),
		('trigger', 'account.account_no_truncate'),
		('trigger', 'lot.lot_no_truncate'),
		('trigger', 'order_accrual.order_accrual_no_truncate'),
		('internal trigger', 'account.ledger_customer_id_program_id_fkey "RI_FKey_noaction_del"'),
		('internal trigger', 'account.ledger_customer_id_program_id_fkey "RI_FKey_noaction_upd"'),
		('internal trigger', 'account.lot_customer_id_program_id_fkey "RI_FKey_noaction_del"'),
		('internal trigger', 'account.lot_customer_id_program_id_fkey "RI_FKey_noaction_upd"'),
		('internal trigger', 'account.order_accrual_customer_id_program_id_fkey "RI_FKey_noaction_del"'),
		('internal trigger', 'account.order_accrual_customer_id_program_id_fkey "RI_FKey_noaction_upd"'),
		('internal trigger', 'ledger.ledger_customer_id_program_id_fkey "RI_FKey_check_ins"'),
		('internal trigger', 'ledger.ledger_customer_id_program_id_fkey "RI_FKey_check_upd"'),
		('internal trigger', 'lot.lot_customer_id_program_id_fkey "RI_FKey_check_ins"'),
		('internal trigger', 'lot.lot_customer_id_program_id_fkey "RI_FKey_check_upd"'),
		('internal trigger', 'order_accrual.order_accrual_customer_id_program_id_fkey "RI_FKey_check_ins"'),
		('internal trigger', 'order_accrual.order_accrual_customer_id_program_id_fkey "RI_FKey_check_upd"'),
		('function', 'verify()')$$,
	'the schema fingerprint tells 0.1.0 from 0.2.0 by exactly the changes of 0.2.0');
SELECT set_eq($$SELECT kind, name, definition FROM fp_updated$$,
	$$SELECT kind, name, definition FROM fp_fresh$$,
	'the updated schema equals a fresh install: tables, columns, constraints, indexes, triggers, functions, '
	'views, types, operators, casts, ACLs, options, comments, extension members');
SELECT set_eq($$SELECT kind, name, definition FROM fp_020_updated$$,
	$$SELECT kind, name, definition FROM fp_fresh$$,
	'a fresh 0.2.0 updated to the current version equals a fresh install of it');
SELECT is((:config_dump_query), :'fresh_config_dump',
	'pg_extension_config_dump covers the same tables, with the same conditions, as after a fresh install');

-- 3. Every point survives.
CREATE TEMP TABLE data_after AS :data_query;
SELECT results_eq($$SELECT * FROM data_after ORDER BY tab$$, $$SELECT * FROM data_before ORDER BY tab$$,
	'account, lot, ledger and order_accrual keep every row: counts, sums and contents');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'after the update verify() finds nothing wrong');
SELECT is((SELECT sum(loyalty.window_total(a.qualifying, now(), p.time_zone))
			 FROM loyalty.account a JOIN loyalty.program p USING (program_id))::bigint,
	(SELECT sum(points) FROM loyalty.order_accrual)::bigint
	+ (SELECT sum(l.points) FROM loyalty.lot l
		 JOIN loyalty.ledger e ON (e.customer_id, e.program_id, e.entry_no) = (l.customer_id, l.program_id, l.lot_no)
		WHERE l.source_id IS NULL AND e.kind = 'earn')::bigint,
	'the update gives the members tier qualifying totals from their history: order points and earn()');
SELECT is_empty($$SELECT o.order_key, o.lot_no FROM loyalty.order_accrual o
	 WHERE o.points > 0 AND NOT EXISTS (SELECT FROM loyalty.lot l
		WHERE (l.customer_id, l.program_id, l.lot_no) = (o.customer_id, o.program_id, o.lot_no)
		  AND (l.source_id, l.order_key) = (o.source_id, o.order_key))$$,
	'every order holding points names an existing lot of its member that carries the order');
SELECT results_eq($$SELECT order_key, lot_no FROM loyalty.order_accrual ORDER BY order_key$$,
	$$SELECT o.order_key, (SELECT max(l.lot_no) FROM loyalty.lot l
		WHERE (l.customer_id, l.program_id, l.source_id, l.order_key)
			= (o.customer_id, o.program_id, o.source_id, o.order_key))
		FROM loyalty.order_accrual o ORDER BY o.order_key$$,
	'lot_no is the latest lot of each order, NULL for an order that never had a lot');
SELECT results_eq($$SELECT o.order_key, l.lot_no, l.points FROM loyalty.order_accrual o
		LEFT JOIN loyalty.lot l USING (customer_id, program_id, lot_no)
	 WHERE o.order_key IN ('101', '102', '104', '105', 'h-1') ORDER BY 1$$,
	$$VALUES ('101', 5::bigint, 20::bigint), ('102', 3, 50), ('104', NULL, NULL), ('105', 6, 40), ('h-1', 1, 30)$$,
	'the backfill by example: a plain order, a refunded one, one too small to earn, one raised later, a held one');

-- 4. The updated database keeps working.
SELECT (loyalty.balance('vn', 1)).available AS avail_before \gset
SELECT loyalty.window_total(qualifying, now(), 'Asia/Ho_Chi_Minh') AS qualifying_before
  FROM loyalty.account WHERE customer_id = 1 AND program_id = loyalty.program_id('vn') \gset
INSERT INTO orders (id, customer_id, total) VALUES (201, 1, 500000);
SELECT is((loyalty.balance('vn', 1)).available, :avail_before + 50::bigint,
	'a new INSERT into the tracked table earns (50 points)');
SELECT is((SELECT loyalty.window_total(qualifying, now(), 'Asia/Ho_Chi_Minh') FROM loyalty.account
			WHERE customer_id = 1 AND program_id = loyalty.program_id('vn')), :qualifying_before + 50::bigint,
	'and counts its 50 points toward the member''s tier');
SELECT results_eq($$SELECT state, points, earned_points FROM loyalty.order_accrual WHERE order_key = '201'$$,
	$$VALUES ('active', 50::bigint, 50::bigint)$$, 'and the order is on record');
UPDATE orders SET status = 'refunded' WHERE id = 201;
SELECT is((loyalty.balance('vn', 1)).available, :avail_before::bigint, 'refunding it claws the 50 points back');
SELECT results_eq(
	$$SELECT kind, points, reason FROM loyalty.statement('vn', 1) ORDER BY entry_no DESC LIMIT 1$$,
	$$VALUES ('reverse', -50::bigint, 'order refunded')$$,
	'the clawback is a reverse entry in the ledger');
UPDATE orders SET refunded = 300000 WHERE id = 103;
SELECT is((SELECT points FROM loyalty.order_accrual WHERE order_key = '103'), 90::bigint,
	'a partial refund of an order from before the update claws back its share (120 -> 90)');
SELECT is((loyalty.redeem('vn', 1, 10, 'coffee', 'r-after', 'redeem-after')).available_after,
	:avail_before - 10::bigint, 'redeem takes points from the updated account');
SELECT is((loyalty.redeem('vn', 1, 10, 'coffee', 'r-after', 'redeem-after')).entry_no,
	(SELECT max(entry_no) FROM loyalty.ledger WHERE customer_id = 1 AND program_id = loyalty.program_id('vn')),
	'repeating a request with its idempotency key returns the same entry');
SELECT throws_ok($$SELECT loyalty.redeem('vn', 1, 11, 'coffee', 'r-after', 'redeem-after')$$, 'LY005', NULL,
	'the same key for a different request is refused');
SELECT throws_ok($$SELECT loyalty.earn('vn', 3, 1, 'order', 'o-3', 'order-3')$$, 'LY005', NULL,
	'a key used before the update is still known after it');
SELECT lives_ok($$SELECT loyalty.earn('vn', 2, 3, 'survey'), loyalty.earn('vn', 2, 3, 'survey')$$,
	'entries without a key do not collide');
SELECT throws_ok($$TRUNCATE loyalty.account CASCADE$$, 'LY006', NULL,
	'TRUNCATE of the balances is refused, as on a fresh install');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$,
	'after new orders, refunds and redemptions verify() still finds nothing wrong');
SELECT * FROM finish();

\c :home_db
\! dropdb loyalty_upgrade_old && dropdb loyalty_upgrade_new
