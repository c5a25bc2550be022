--
-- Programs: created and changed only through validating functions.
--

-- Raise a clear error for any invalid program setting; NULL means "not given".
CREATE FUNCTION @extschema@.check_program_settings(
	currency text, earn_points bigint, earn_per numeric, rounding text,
	time_zone text, return_days integer, negative_balance text,
	unknown_customer text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF currency IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM @extschema@.currency c
		 WHERE c.code OPERATOR(pg_catalog.=) pg_catalog.upper(check_program_settings.currency)) THEN
		RAISE EXCEPTION 'unknown currency code "%"', currency
			USING ERRCODE = '22023',
				  DETAIL = 'A program''s currency is an ISO 4217 code.',
				  HINT = 'Use a code such as VND, USD or EUR; loyalty.currency lists them all.';
	END IF;
	IF earn_points IS NOT NULL AND earn_points OPERATOR(pg_catalog.<=) 0 THEN
		RAISE EXCEPTION 'earn_points must be positive'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', earn_points);
	END IF;
	IF earn_per IS NOT NULL AND (earn_per OPERATOR(pg_catalog.=) 'NaN'::numeric
			OR earn_per OPERATOR(pg_catalog.=) 'Infinity'::numeric
			OR earn_per OPERATOR(pg_catalog.<=) 0) THEN
		RAISE EXCEPTION 'earn_per must be a positive finite amount'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', earn_per),
				  HINT = 'For "10 points per 100,000 VND" pass earn_points => 10, earn_per => 100000.';
	END IF;
	IF rounding IS NOT NULL AND rounding OPERATOR(pg_catalog.<>) ALL
			(ARRAY['floor', 'half_up', 'ceiling', 'proportional']) THEN
		RAISE EXCEPTION 'unknown rounding rule "%"', rounding
			USING ERRCODE = '22023',
				  HINT = 'Use floor, half_up, ceiling or proportional.';
	END IF;
	IF time_zone IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pg_catalog.pg_timezone_names z
		 WHERE pg_catalog.lower(z.name) OPERATOR(pg_catalog.=) pg_catalog.lower(check_program_settings.time_zone)) THEN
		RAISE EXCEPTION 'unknown time zone "%"', time_zone
			USING ERRCODE = '22023',
				  HINT = 'Use an IANA time zone name such as Asia/Ho_Chi_Minh or UTC.';
	END IF;
	IF return_days IS NOT NULL AND (return_days OPERATOR(pg_catalog.<) 0
			OR return_days OPERATOR(pg_catalog.>) 3650) THEN
		RAISE EXCEPTION 'return_days must be between 0 and 3650'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', return_days);
	END IF;
	IF negative_balance IS NOT NULL AND negative_balance OPERATOR(pg_catalog.<>) ALL
			(ARRAY['debt', 'forgive', 'block']) THEN
		RAISE EXCEPTION 'unknown negative balance policy "%"', negative_balance
			USING ERRCODE = '22023',
				  HINT = 'Use debt (later earnings repay it), forgive (stop at zero) or block (refuse the clawback).';
	END IF;
	IF unknown_customer IS NOT NULL AND unknown_customer OPERATOR(pg_catalog.<>) ALL
			(ARRAY['enroll', 'ignore']) THEN
		RAISE EXCEPTION 'unknown unknown_customer policy "%"', unknown_customer
			USING ERRCODE = '22023',
				  HINT = 'Use enroll (an order from an unknown customer enrolls them) or ignore.';
	END IF;
END
$$;

-- Create a program; returns the new program row.
CREATE FUNCTION @extschema@.create_program(
	code text, name text, currency text, earn_points bigint, earn_per numeric,
	rounding text DEFAULT 'floor', time_zone text DEFAULT 'UTC',
	return_days integer DEFAULT 0, negative_balance text DEFAULT 'debt',
	unknown_customer text DEFAULT 'enroll')
RETURNS @extschema@.program
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	result		@extschema@.program;
BEGIN
	IF code IS NULL OR name IS NULL OR currency IS NULL OR earn_points IS NULL
		OR earn_per IS NULL OR rounding IS NULL OR time_zone IS NULL
		OR return_days IS NULL OR negative_balance IS NULL OR unknown_customer IS NULL THEN
		RAISE EXCEPTION 'program settings must not be null'
			USING ERRCODE = '22004',
				  HINT = 'Give code, name, currency, earn_points and earn_per; omit the others to use their defaults.';
	END IF;
	IF code OPERATOR(pg_catalog.!~) '^[a-z0-9][a-z0-9_.-]{0,62}$' THEN
		RAISE EXCEPTION 'invalid program code "%"', code
			USING ERRCODE = '22023',
				  HINT = 'Use 1 to 63 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit.';
	END IF;
	IF pg_catalog.btrim(name) OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'program name must not be empty' USING ERRCODE = '22023';
	END IF;
	IF pg_catalog.octet_length(name) OPERATOR(pg_catalog.>) 200 THEN
		RAISE EXCEPTION 'program name is too long' USING ERRCODE = '22001',
			DETAIL = 'The limit is 200 bytes.';
	END IF;
	PERFORM @extschema@.check_program_settings(currency, earn_points, earn_per,
		rounding, time_zone, return_days, negative_balance, unknown_customer);
	IF EXISTS (SELECT 1 FROM @extschema@.program p WHERE p.code OPERATOR(pg_catalog.=) code) THEN
		RAISE EXCEPTION 'program "%" already exists', code
			USING ERRCODE = '23505', HINT = 'Change it with loyalty.alter_program().';
	END IF;

	INSERT INTO @extschema@.program AS p (code, name, currency, earn_points, earn_per,
		rounding, time_zone, return_days, negative_balance, unknown_customer)
	VALUES (code, name, pg_catalog.upper(currency), earn_points, earn_per,
		rounding, time_zone, return_days, negative_balance, unknown_customer)
	RETURNING p.* INTO result;
	RETURN result;
END
$$;

-- Change a program's settings; NULL leaves a setting unchanged.
CREATE FUNCTION @extschema@.alter_program(
	code text, name text DEFAULT NULL, currency text DEFAULT NULL,
	earn_points bigint DEFAULT NULL, earn_per numeric DEFAULT NULL,
	rounding text DEFAULT NULL, time_zone text DEFAULT NULL,
	return_days integer DEFAULT NULL, negative_balance text DEFAULT NULL,
	unknown_customer text DEFAULT NULL)
RETURNS @extschema@.program
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	existing	@extschema@.program;
	result		@extschema@.program;
BEGIN
	IF code IS NULL THEN
		RAISE EXCEPTION 'program must not be null' USING ERRCODE = '22004';
	END IF;
	SELECT p.* INTO existing FROM @extschema@.program p
	 WHERE p.code OPERATOR(pg_catalog.=) code FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown loyalty program "%"', code
			USING ERRCODE = 'LY001',
				  HINT = 'Create it with loyalty.create_program(), or check the program code.';
	END IF;
	IF name IS NOT NULL AND pg_catalog.btrim(name) OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'program name must not be empty' USING ERRCODE = '22023';
	END IF;
	IF pg_catalog.octet_length(name) OPERATOR(pg_catalog.>) 200 THEN
		RAISE EXCEPTION 'program name is too long' USING ERRCODE = '22001',
			DETAIL = 'The limit is 200 bytes.';
	END IF;
	PERFORM @extschema@.check_program_settings(currency, earn_points, earn_per,
		rounding, time_zone, return_days, negative_balance, unknown_customer);
	IF currency IS NOT NULL
		AND pg_catalog.upper(currency) OPERATOR(pg_catalog.<>) existing.currency::text
		AND EXISTS (SELECT 1 FROM @extschema@.member m
					 WHERE m.program_id OPERATOR(pg_catalog.=) existing.program_id) THEN
		RAISE EXCEPTION 'cannot change the currency of program "%": it has members', code
			USING ERRCODE = '55000',
				  DETAIL = 'Points already earned were earned in the old currency.',
				  HINT = 'Create a new program for the new currency.';
	END IF;

	UPDATE @extschema@.program AS p SET
		name = COALESCE(alter_program.name, p.name),
		currency = COALESCE(pg_catalog.upper(alter_program.currency), p.currency),
		earn_points = COALESCE(alter_program.earn_points, p.earn_points),
		earn_per = COALESCE(alter_program.earn_per, p.earn_per),
		rounding = COALESCE(alter_program.rounding, p.rounding),
		time_zone = COALESCE(alter_program.time_zone, p.time_zone),
		return_days = COALESCE(alter_program.return_days, p.return_days),
		negative_balance = COALESCE(alter_program.negative_balance, p.negative_balance),
		unknown_customer = COALESCE(alter_program.unknown_customer, p.unknown_customer),
		updated_at = pg_catalog.now()
	 WHERE p.program_id OPERATOR(pg_catalog.=) existing.program_id
	RETURNING p.* INTO result;
	RETURN result;
END
$$;

-- Map a program code to its id, or raise unknown program.
CREATE FUNCTION @extschema@.program_id(code text) RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result		integer;
BEGIN
	IF code IS NULL THEN
		RAISE EXCEPTION 'program must not be null' USING ERRCODE = '22004';
	END IF;
	SELECT p.program_id INTO result FROM @extschema@.program p
	 WHERE p.code OPERATOR(pg_catalog.=) program_id.code;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown loyalty program "%"', code
			USING ERRCODE = 'LY001',
				  HINT = 'Create it with loyalty.create_program(), or check the program code.';
	END IF;
	RETURN result;
END
$$;

-- The points a purchase earns at the program's base rate (exact numeric).
CREATE FUNCTION @extschema@.points_for(program text, amount numeric)
RETURNS bigint
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'loyalty_points_for';

COMMENT ON FUNCTION @extschema@.create_program(text, text, text, bigint, numeric, text, text, integer, text, text)
	IS 'create a loyalty program: earn_points per earn_per of currency, rounded by rounding (floor, half_up, ceiling, proportional)';
COMMENT ON FUNCTION @extschema@.alter_program(text, text, text, bigint, numeric, text, text, integer, text, text)
	IS 'change a program''s settings; NULL arguments leave a setting unchanged';
COMMENT ON FUNCTION @extschema@.program_id(text)
	IS 'the internal id of a program code; raises LY001 for an unknown program';
COMMENT ON FUNCTION @extschema@.points_for(text, numeric)
	IS 'points a purchase amount earns at the program''s base rate, computed exactly';
COMMENT ON FUNCTION @extschema@.check_program_settings(text, bigint, numeric, text, text, integer, text, text)
	IS 'internal: validate program settings';
