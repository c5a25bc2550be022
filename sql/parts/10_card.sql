--
-- The member card number type: 16 digits ending in a Luhn check digit,
-- stored pass-by-value like a bigint (after contrib/isn).
--

CREATE TYPE @extschema@.card;

CREATE FUNCTION @extschema@.card_in(cstring)
	RETURNS @extschema@.card
	AS 'MODULE_PATHNAME', 'card_in'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.card_out(@extschema@.card)
	RETURNS cstring
	AS 'MODULE_PATHNAME', 'card_out'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.card_recv(internal)
	RETURNS @extschema@.card
	AS 'MODULE_PATHNAME', 'card_recv'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.card_send(@extschema@.card)
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'card_send'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.card (
	INPUT = @extschema@.card_in,
	OUTPUT = @extschema@.card_out,
	RECEIVE = @extschema@.card_recv,
	SEND = @extschema@.card_send,
	LIKE = pg_catalog.int8
);

COMMENT ON TYPE @extschema@.card IS
	'member card number: 16 digits, the last a Luhn check digit; input may group the digits with single spaces or hyphens';
COMMENT ON FUNCTION @extschema@.card_in(cstring) IS
	'text input of a card number: 16 digits, optionally grouped with single spaces or hyphens, with a valid check digit';
COMMENT ON FUNCTION @extschema@.card_out(@extschema@.card) IS
	'text output of a card number: its 16 digits, zero-padded';
COMMENT ON FUNCTION @extschema@.card_recv(internal) IS
	'binary input of a card number: an int8, checked for range and check digit';
COMMENT ON FUNCTION @extschema@.card_send(@extschema@.card) IS
	'binary output of a card number: an int8';

-- Comparison.

CREATE FUNCTION @extschema@.card_eq(@extschema@.card, @extschema@.card)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'card_eq'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION @extschema@.card_ne(@extschema@.card, @extschema@.card)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'card_ne'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION @extschema@.card_lt(@extschema@.card, @extschema@.card)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'card_lt'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION @extschema@.card_le(@extschema@.card, @extschema@.card)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'card_le'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION @extschema@.card_gt(@extschema@.card, @extschema@.card)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'card_gt'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION @extschema@.card_ge(@extschema@.card, @extschema@.card)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'card_ge'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION @extschema@.card_cmp(@extschema@.card, @extschema@.card)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'card_cmp'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION @extschema@.card_sortsupport(internal)
	RETURNS void
	AS 'MODULE_PATHNAME', 'card_sortsupport'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.card_hash(@extschema@.card)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'card_hash'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.card_hash_extended(@extschema@.card, bigint)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'card_hash_extended'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.card_eq(@extschema@.card, @extschema@.card) IS
	'implementation of = for card numbers';
COMMENT ON FUNCTION @extschema@.card_ne(@extschema@.card, @extschema@.card) IS
	'implementation of <> for card numbers';
COMMENT ON FUNCTION @extschema@.card_lt(@extschema@.card, @extschema@.card) IS
	'implementation of < for card numbers';
COMMENT ON FUNCTION @extschema@.card_le(@extschema@.card, @extschema@.card) IS
	'implementation of <= for card numbers';
COMMENT ON FUNCTION @extschema@.card_gt(@extschema@.card, @extschema@.card) IS
	'implementation of > for card numbers';
COMMENT ON FUNCTION @extschema@.card_ge(@extschema@.card, @extschema@.card) IS
	'implementation of >= for card numbers';
COMMENT ON FUNCTION @extschema@.card_cmp(@extschema@.card, @extschema@.card) IS
	'btree comparison of card numbers: -1, 0 or 1, in numeric order';
COMMENT ON FUNCTION @extschema@.card_sortsupport(internal) IS
	'btree sort support for card numbers';
COMMENT ON FUNCTION @extschema@.card_hash(@extschema@.card) IS
	'hash of a card number, equal to hashint8 of its value';
COMMENT ON FUNCTION @extschema@.card_hash_extended(@extschema@.card, bigint) IS
	'seeded hash of a card number, equal to hashint8extended of its value';

CREATE OPERATOR @extschema@.= (
	LEFTARG = @extschema@.card,
	RIGHTARG = @extschema@.card,
	FUNCTION = @extschema@.card_eq,
	COMMUTATOR = OPERATOR(@extschema@.=),
	NEGATOR = OPERATOR(@extschema@.<>),
	RESTRICT = pg_catalog.eqsel,
	JOIN = pg_catalog.eqjoinsel,
	HASHES,
	MERGES
);

CREATE OPERATOR @extschema@.<> (
	LEFTARG = @extschema@.card,
	RIGHTARG = @extschema@.card,
	FUNCTION = @extschema@.card_ne,
	COMMUTATOR = OPERATOR(@extschema@.<>),
	NEGATOR = OPERATOR(@extschema@.=),
	RESTRICT = pg_catalog.neqsel,
	JOIN = pg_catalog.neqjoinsel
);

CREATE OPERATOR @extschema@.< (
	LEFTARG = @extschema@.card,
	RIGHTARG = @extschema@.card,
	FUNCTION = @extschema@.card_lt,
	COMMUTATOR = OPERATOR(@extschema@.>),
	NEGATOR = OPERATOR(@extschema@.>=),
	RESTRICT = pg_catalog.scalarltsel,
	JOIN = pg_catalog.scalarltjoinsel
);

CREATE OPERATOR @extschema@.<= (
	LEFTARG = @extschema@.card,
	RIGHTARG = @extschema@.card,
	FUNCTION = @extschema@.card_le,
	COMMUTATOR = OPERATOR(@extschema@.>=),
	NEGATOR = OPERATOR(@extschema@.>),
	RESTRICT = pg_catalog.scalarlesel,
	JOIN = pg_catalog.scalarlejoinsel
);

CREATE OPERATOR @extschema@.> (
	LEFTARG = @extschema@.card,
	RIGHTARG = @extschema@.card,
	FUNCTION = @extschema@.card_gt,
	COMMUTATOR = OPERATOR(@extschema@.<),
	NEGATOR = OPERATOR(@extschema@.<=),
	RESTRICT = pg_catalog.scalargtsel,
	JOIN = pg_catalog.scalargtjoinsel
);

CREATE OPERATOR @extschema@.>= (
	LEFTARG = @extschema@.card,
	RIGHTARG = @extschema@.card,
	FUNCTION = @extschema@.card_ge,
	COMMUTATOR = OPERATOR(@extschema@.<=),
	NEGATOR = OPERATOR(@extschema@.<),
	RESTRICT = pg_catalog.scalargesel,
	JOIN = pg_catalog.scalargejoinsel
);

COMMENT ON OPERATOR @extschema@.= (@extschema@.card, @extschema@.card) IS 'equal';
COMMENT ON OPERATOR @extschema@.<> (@extschema@.card, @extschema@.card) IS 'not equal';
COMMENT ON OPERATOR @extschema@.< (@extschema@.card, @extschema@.card) IS 'less than';
COMMENT ON OPERATOR @extschema@.<= (@extschema@.card, @extschema@.card) IS 'less than or equal';
COMMENT ON OPERATOR @extschema@.> (@extschema@.card, @extschema@.card) IS 'greater than';
COMMENT ON OPERATOR @extschema@.>= (@extschema@.card, @extschema@.card) IS 'greater than or equal';

CREATE OPERATOR CLASS @extschema@.card_ops
	DEFAULT FOR TYPE @extschema@.card USING btree AS
	OPERATOR 1 @extschema@.<,
	OPERATOR 2 @extschema@.<=,
	OPERATOR 3 @extschema@.=,
	OPERATOR 4 @extschema@.>=,
	OPERATOR 5 @extschema@.>,
	FUNCTION 1 @extschema@.card_cmp(@extschema@.card, @extschema@.card),
	FUNCTION 2 @extschema@.card_sortsupport(internal),
	FUNCTION 4 pg_catalog.btequalimage(oid);

CREATE OPERATOR CLASS @extschema@.card_ops
	DEFAULT FOR TYPE @extschema@.card USING hash AS
	OPERATOR 1 @extschema@.=,
	FUNCTION 1 @extschema@.card_hash(@extschema@.card),
	FUNCTION 2 @extschema@.card_hash_extended(@extschema@.card, bigint);

-- Casts.  Text converts both ways on assignment through the type's I/O
-- functions; a bigint must be cast explicitly, a card becomes a bigint on
-- assignment (the representation is the same).

CREATE FUNCTION @extschema@.card_from_bigint(bigint)
	RETURNS @extschema@.card
	AS 'MODULE_PATHNAME', 'card_from_bigint'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.card_from_bigint(bigint) IS
	'card number with the given value; raises an error unless it has at most 16 digits and a valid check digit';

CREATE CAST (text AS @extschema@.card) WITH INOUT AS ASSIGNMENT;
CREATE CAST (@extschema@.card AS text) WITH INOUT AS ASSIGNMENT;
CREATE CAST (bigint AS @extschema@.card)
	WITH FUNCTION @extschema@.card_from_bigint(bigint);
CREATE CAST (@extschema@.card AS bigint) WITHOUT FUNCTION AS ASSIGNMENT;

-- Check digits and validation without exceptions.

CREATE FUNCTION @extschema@.card_check_digit(text)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'card_check_digit'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.card_check_digit(text) IS
	'Luhn check digit for the first 15 digits of a card number';

CREATE FUNCTION @extschema@.card_is_valid(text)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'card_is_valid'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.card_is_valid(text) IS
	'whether the text is accepted as a card number, without raising an error';

-- Issuing card numbers.

CREATE TABLE @extschema@.card_counter (
	prefix		text PRIMARY KEY
		CHECK (prefix OPERATOR(pg_catalog.~) '^[0-9]{1,12}$'),
	last_serial	bigint NOT NULL
);

COMMENT ON TABLE @extschema@.card_counter IS
	'last serial number issued by card_issue for each card number prefix';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.card_counter', '');

CREATE FUNCTION @extschema@.card_issue(prefix text)
	RETURNS @extschema@.card
	LANGUAGE plpgsql
	VOLATILE
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $function$
-- "prefix" is both the parameter and a column: bare names mean the column.
#variable_conflict use_column
DECLARE
	serial_width integer;
	max_serial	bigint;
	issued_serial bigint;
	other_prefix text;
	body		text;
BEGIN
	IF card_issue.prefix IS NULL THEN
		RAISE EXCEPTION 'invalid card prefix: NULL'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The prefix is null.',
				  HINT = 'A card prefix is 1 to 12 digits, such as ''6042''.';
	END IF;

	IF card_issue.prefix OPERATOR(pg_catalog.~) '[^0-9]' THEN
		RAISE EXCEPTION 'invalid card prefix: "%"', card_issue.prefix
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A card prefix contains only digits.',
				  HINT = 'A card prefix is 1 to 12 digits, such as ''6042''.';
	END IF;

	IF pg_catalog.length(card_issue.prefix) OPERATOR(pg_catalog.>) 12
	   OR card_issue.prefix OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'invalid card prefix: "%"', card_issue.prefix
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('A card prefix has 1 to 12 digits; got %s.',
											 pg_catalog.length(card_issue.prefix)),
				  HINT = 'A card prefix is 1 to 12 digits, such as ''6042''.';
	END IF;

	-- Numbers issued under '604' and '6042' could collide.  A new prefix
	-- waits for every other issuer so two new overlapping prefixes cannot
	-- both pass this check.
	IF NOT EXISTS (SELECT 1 FROM @extschema@.card_counter AS c
					WHERE c.prefix OPERATOR(pg_catalog.=) card_issue.prefix) THEN
		LOCK TABLE @extschema@.card_counter IN SHARE ROW EXCLUSIVE MODE;
	END IF;
	SELECT c.prefix INTO other_prefix
	  FROM @extschema@.card_counter AS c
	 WHERE c.prefix OPERATOR(pg_catalog.<>) card_issue.prefix
	   AND (pg_catalog.starts_with(c.prefix, card_issue.prefix)
			OR pg_catalog.starts_with(card_issue.prefix, c.prefix))
	 ORDER BY c.prefix
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'invalid card prefix: "%"', card_issue.prefix
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('Numbers are already issued under prefix "%s", and numbers of the two prefixes could collide.',
											 other_prefix),
				  HINT = 'Use a prefix that neither begins with nor is the beginning of another prefix in use.';
	END IF;

	serial_width := 15 OPERATOR(pg_catalog.-) pg_catalog.length(card_issue.prefix);
	max_serial := pg_catalog.repeat('9', serial_width)::bigint;

	INSERT INTO @extschema@.card_counter AS c (prefix, last_serial)
	VALUES (card_issue.prefix, 1)
	ON CONFLICT (prefix) DO UPDATE
		SET last_serial = c.last_serial OPERATOR(pg_catalog.+) 1
	RETURNING c.last_serial INTO issued_serial;

	IF issued_serial OPERATOR(pg_catalog.>) max_serial THEN
		RAISE EXCEPTION 'no card numbers left for prefix "%"', card_issue.prefix
			USING ERRCODE = 'numeric_value_out_of_range',
				  DETAIL = pg_catalog.format('All %s serial numbers of prefix "%s" have been issued.',
											 max_serial, card_issue.prefix),
				  HINT = 'Issue cards under another prefix.';
	END IF;

	body := card_issue.prefix OPERATOR(pg_catalog.||)
		pg_catalog.lpad(issued_serial::text, serial_width, '0');
	RETURN (body OPERATOR(pg_catalog.||)
			@extschema@.card_check_digit(body)::text)::@extschema@.card;
END;
$function$;

COMMENT ON FUNCTION @extschema@.card_issue(text) IS
	'issue the next card number under a prefix of 1 to 12 digits: prefix, zero-padded serial, check digit';

REVOKE ALL ON FUNCTION @extschema@.card_issue(text) FROM PUBLIC;
