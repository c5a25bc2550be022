-- loyalty 0.2.0 -> 0.3.0: changes to objects 0.2.0 already has.  The Makefile
-- appends the parts new in 0.3.0 (NEW_PARTS), whose statements are the same
-- for a fresh install and for this update.
\echo Use "ALTER EXTENSION loyalty UPDATE TO '0.3.0'" to load this file. \quit

-- lock_member() takes the member's account row before the member row, as
-- the order path does (see sql/parts/40_members.sql, where it is defined).
CREATE OR REPLACE FUNCTION @extschema@.lock_member(program text, customer_id bigint)
RETURNS @extschema@.member
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer := @extschema@.program_id(lock_member.program);
	result		@extschema@.member;
BEGIN
	IF lock_member.customer_id IS NULL THEN
		RAISE EXCEPTION 'customer_id must not be null' USING ERRCODE = '22004';
	END IF;
	PERFORM FROM @extschema@.account a
	 WHERE a.customer_id OPERATOR(pg_catalog.=) lock_member.customer_id
	   AND a.program_id OPERATOR(pg_catalog.=) pid
	   FOR NO KEY UPDATE;
	SELECT m.* INTO result FROM @extschema@.member m
	 WHERE m.customer_id OPERATOR(pg_catalog.=) lock_member.customer_id
	   AND m.program_id OPERATOR(pg_catalog.=) pid
	   FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown member % in program "%"', lock_member.customer_id, lock_member.program
			USING ERRCODE = 'LY002', HINT = 'Enroll the customer first with loyalty.enroll().';
	END IF;
	RETURN result;
END
$$;
