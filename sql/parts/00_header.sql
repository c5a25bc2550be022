-- loyalty install script (the version in loyalty.control), concatenated from sql/parts/*.sql by the Makefile.
\echo Use "CREATE EXTENSION loyalty" to load this file. \quit

-- The functions below run as the extension's owner and name their objects
-- by schema.  A schema that someone else owns, that others may create
-- objects in, or that already holds objects could substitute those objects,
-- so refuse to install into one.
DO $$
DECLARE
	nsp			record;
BEGIN
	SELECT n.nspowner, n.nspacl INTO nsp
	  FROM pg_catalog.pg_namespace n
	 WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace;
	IF nsp.nspowner OPERATOR(pg_catalog.<>) (SELECT r.oid FROM pg_catalog.pg_roles r
											  WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
		RAISE EXCEPTION 'schema "@extschema@" must be owned by the role that creates the extension'
			USING ERRCODE = '42501',
				  DETAIL = pg_catalog.format('It is owned by %s.', nsp.nspowner::pg_catalog.regrole),
				  HINT = 'Drop the schema, or let CREATE EXTENSION create it.';
	END IF;
	IF EXISTS (SELECT 1 FROM pg_catalog.aclexplode(nsp.nspacl) a
				WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
				  AND a.grantee OPERATOR(pg_catalog.<>) nsp.nspowner) THEN
		RAISE EXCEPTION 'schema "@extschema@" must not grant CREATE to other roles'
			USING ERRCODE = '42501',
				  HINT = 'REVOKE CREATE ON SCHEMA @extschema@ from every other role first.';
	END IF;
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c
				WHERE c.relnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace)
	   OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
				   WHERE p.pronamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace)
	   OR EXISTS (SELECT 1 FROM pg_catalog.pg_type t
				   WHERE t.typnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace) THEN
		RAISE EXCEPTION 'schema "@extschema@" already contains objects'
			USING ERRCODE = '42P06',
				  HINT = 'Install the extension into an empty schema: drop or rename the existing one.';
	END IF;
END
$$;
