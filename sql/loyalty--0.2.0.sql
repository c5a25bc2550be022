-- loyalty 0.2.0 install script, concatenated from sql/parts/*.sql by the Makefile.
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
--
-- Reference data and configuration tables.  Config tables are small and carry
-- no member key.
--

-- ISO 4217 active currency codes.  Shipped with the extension and not dumped:
-- a new release brings new codes through its upgrade script.
CREATE TABLE @extschema@.currency (
	code		char(3) PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
	minor_units	smallint NOT NULL CHECK (minor_units BETWEEN 0 AND 4),
	name		text NOT NULL
);
COMMENT ON TABLE @extschema@.currency IS 'ISO 4217 currency codes a program may use';

INSERT INTO @extschema@.currency (code, minor_units, name) VALUES
    ('AED', 2, 'UAE Dirham'),
    ('AFN', 2, 'Afghani'),
    ('ALL', 2, 'Lek'),
    ('AMD', 2, 'Armenian Dram'),
    ('ANG', 2, 'Netherlands Antillean Guilder'),
    ('AOA', 2, 'Kwanza'),
    ('ARS', 2, 'Argentine Peso'),
    ('AUD', 2, 'Australian Dollar'),
    ('AWG', 2, 'Aruban Florin'),
    ('AZN', 2, 'Azerbaijan Manat'),
    ('BAM', 2, 'Convertible Mark'),
    ('BBD', 2, 'Barbados Dollar'),
    ('BDT', 2, 'Taka'),
    ('BGN', 2, 'Bulgarian Lev'),
    ('BHD', 3, 'Bahraini Dinar'),
    ('BIF', 0, 'Burundi Franc'),
    ('BMD', 2, 'Bermudian Dollar'),
    ('BND', 2, 'Brunei Dollar'),
    ('BOB', 2, 'Boliviano'),
    ('BRL', 2, 'Brazilian Real'),
    ('BSD', 2, 'Bahamian Dollar'),
    ('BTN', 2, 'Ngultrum'),
    ('BWP', 2, 'Pula'),
    ('BYN', 2, 'Belarusian Ruble'),
    ('BZD', 2, 'Belize Dollar'),
    ('CAD', 2, 'Canadian Dollar'),
    ('CDF', 2, 'Congolese Franc'),
    ('CHF', 2, 'Swiss Franc'),
    ('CLP', 0, 'Chilean Peso'),
    ('CNY', 2, 'Yuan Renminbi'),
    ('COP', 2, 'Colombian Peso'),
    ('CRC', 2, 'Costa Rican Colon'),
    ('CUP', 2, 'Cuban Peso'),
    ('CVE', 2, 'Cabo Verde Escudo'),
    ('CZK', 2, 'Czech Koruna'),
    ('DJF', 0, 'Djibouti Franc'),
    ('DKK', 2, 'Danish Krone'),
    ('DOP', 2, 'Dominican Peso'),
    ('DZD', 2, 'Algerian Dinar'),
    ('EGP', 2, 'Egyptian Pound'),
    ('ERN', 2, 'Nakfa'),
    ('ETB', 2, 'Ethiopian Birr'),
    ('EUR', 2, 'Euro'),
    ('FJD', 2, 'Fiji Dollar'),
    ('FKP', 2, 'Falkland Islands Pound'),
    ('GBP', 2, 'Pound Sterling'),
    ('GEL', 2, 'Lari'),
    ('GHS', 2, 'Ghana Cedi'),
    ('GIP', 2, 'Gibraltar Pound'),
    ('GMD', 2, 'Dalasi'),
    ('GNF', 0, 'Guinean Franc'),
    ('GTQ', 2, 'Quetzal'),
    ('GYD', 2, 'Guyana Dollar'),
    ('HKD', 2, 'Hong Kong Dollar'),
    ('HNL', 2, 'Lempira'),
    ('HTG', 2, 'Gourde'),
    ('HUF', 2, 'Forint'),
    ('IDR', 2, 'Rupiah'),
    ('ILS', 2, 'New Israeli Sheqel'),
    ('INR', 2, 'Indian Rupee'),
    ('IQD', 3, 'Iraqi Dinar'),
    ('IRR', 2, 'Iranian Rial'),
    ('ISK', 0, 'Iceland Krona'),
    ('JMD', 2, 'Jamaican Dollar'),
    ('JOD', 3, 'Jordanian Dinar'),
    ('JPY', 0, 'Yen'),
    ('KES', 2, 'Kenyan Shilling'),
    ('KGS', 2, 'Som'),
    ('KHR', 2, 'Riel'),
    ('KMF', 0, 'Comorian Franc'),
    ('KPW', 2, 'North Korean Won'),
    ('KRW', 0, 'Won'),
    ('KWD', 3, 'Kuwaiti Dinar'),
    ('KYD', 2, 'Cayman Islands Dollar'),
    ('KZT', 2, 'Tenge'),
    ('LAK', 2, 'Lao Kip'),
    ('LBP', 2, 'Lebanese Pound'),
    ('LKR', 2, 'Sri Lanka Rupee'),
    ('LRD', 2, 'Liberian Dollar'),
    ('LSL', 2, 'Loti'),
    ('LYD', 3, 'Libyan Dinar'),
    ('MAD', 2, 'Moroccan Dirham'),
    ('MDL', 2, 'Moldovan Leu'),
    ('MGA', 2, 'Malagasy Ariary'),
    ('MKD', 2, 'Denar'),
    ('MMK', 2, 'Kyat'),
    ('MNT', 2, 'Tugrik'),
    ('MOP', 2, 'Pataca'),
    ('MRU', 2, 'Ouguiya'),
    ('MUR', 2, 'Mauritius Rupee'),
    ('MVR', 2, 'Rufiyaa'),
    ('MWK', 2, 'Malawi Kwacha'),
    ('MXN', 2, 'Mexican Peso'),
    ('MYR', 2, 'Malaysian Ringgit'),
    ('MZN', 2, 'Mozambique Metical'),
    ('NAD', 2, 'Namibia Dollar'),
    ('NGN', 2, 'Naira'),
    ('NIO', 2, 'Cordoba Oro'),
    ('NOK', 2, 'Norwegian Krone'),
    ('NPR', 2, 'Nepalese Rupee'),
    ('NZD', 2, 'New Zealand Dollar'),
    ('OMR', 3, 'Rial Omani'),
    ('PAB', 2, 'Balboa'),
    ('PEN', 2, 'Sol'),
    ('PGK', 2, 'Kina'),
    ('PHP', 2, 'Philippine Peso'),
    ('PKR', 2, 'Pakistan Rupee'),
    ('PLN', 2, 'Zloty'),
    ('PYG', 0, 'Guarani'),
    ('QAR', 2, 'Qatari Rial'),
    ('RON', 2, 'Romanian Leu'),
    ('RSD', 2, 'Serbian Dinar'),
    ('RUB', 2, 'Russian Ruble'),
    ('RWF', 0, 'Rwanda Franc'),
    ('SAR', 2, 'Saudi Riyal'),
    ('SBD', 2, 'Solomon Islands Dollar'),
    ('SCR', 2, 'Seychelles Rupee'),
    ('SDG', 2, 'Sudanese Pound'),
    ('SEK', 2, 'Swedish Krona'),
    ('SGD', 2, 'Singapore Dollar'),
    ('SHP', 2, 'Saint Helena Pound'),
    ('SLE', 2, 'Leone'),
    ('SOS', 2, 'Somali Shilling'),
    ('SRD', 2, 'Surinam Dollar'),
    ('SSP', 2, 'South Sudanese Pound'),
    ('STN', 2, 'Dobra'),
    ('SVC', 2, 'El Salvador Colon'),
    ('SYP', 2, 'Syrian Pound'),
    ('SZL', 2, 'Lilangeni'),
    ('THB', 2, 'Baht'),
    ('TJS', 2, 'Somoni'),
    ('TMT', 2, 'Turkmenistan New Manat'),
    ('TND', 3, 'Tunisian Dinar'),
    ('TOP', 2, 'Pa''anga'),
    ('TRY', 2, 'Turkish Lira'),
    ('TTD', 2, 'Trinidad and Tobago Dollar'),
    ('TWD', 2, 'New Taiwan Dollar'),
    ('TZS', 2, 'Tanzanian Shilling'),
    ('UAH', 2, 'Hryvnia'),
    ('UGX', 0, 'Uganda Shilling'),
    ('USD', 2, 'US Dollar'),
    ('UYU', 2, 'Peso Uruguayo'),
    ('UZS', 2, 'Uzbekistan Sum'),
    ('VES', 2, 'Bolivar Soberano'),
    ('VND', 0, 'Dong'),
    ('VUV', 0, 'Vatu'),
    ('WST', 2, 'Tala'),
    ('XAF', 0, 'CFA Franc BEAC'),
    ('XCD', 2, 'East Caribbean Dollar'),
    ('XCG', 2, 'Caribbean Guilder'),
    ('XOF', 0, 'CFA Franc BCEAO'),
    ('XPF', 0, 'CFP Franc'),
    ('YER', 2, 'Yemeni Rial'),
    ('ZAR', 2, 'Rand'),
    ('ZMW', 2, 'Zambian Kwacha'),
    ('ZWG', 2, 'Zimbabwe Gold');

CREATE SEQUENCE @extschema@.program_id_seq AS integer;
COMMENT ON SEQUENCE @extschema@.program_id_seq IS 'ids of loyalty programs';

-- A loyalty program: one brand, country or currency with its own rules.
CREATE TABLE @extschema@.program (
	program_id	integer PRIMARY KEY
				DEFAULT pg_catalog.nextval('@extschema@.program_id_seq'),
	code		text NOT NULL UNIQUE
				CHECK (code ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
	name		text NOT NULL CHECK (name <> '' AND pg_catalog.octet_length(name) <= 200),
	currency	char(3) NOT NULL REFERENCES @extschema@.currency (code),
	earn_points	bigint NOT NULL CHECK (earn_points > 0),
	earn_per	numeric NOT NULL
				CHECK (earn_per > 0 AND earn_per < 'Infinity' AND earn_per <> 'NaN'),
	rounding	text NOT NULL DEFAULT 'floor'
				CHECK (rounding IN ('floor', 'half_up', 'ceiling', 'proportional')),
	time_zone	text NOT NULL DEFAULT 'UTC',
	return_days integer NOT NULL DEFAULT 0 CHECK (return_days BETWEEN 0 AND 3650),
	negative_balance text NOT NULL DEFAULT 'debt'
				CHECK (negative_balance IN ('debt', 'forgive', 'block')),
	unknown_customer text NOT NULL DEFAULT 'enroll'
				CHECK (unknown_customer IN ('enroll', 'ignore')),
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at	timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.program IS 'loyalty programs; change them through create_program and alter_program';

--
-- Member-scoped tables.  Every one carries the member key (customer_id,
-- program_id) as the leading columns of every primary and unique key, and
-- foreign keys only point member-to-member on that key or member-to-config,
-- so the data can be distributed by customer_id.  No global sequence: entry
-- and lot numbers are counted per member in the account row.
--
-- lot, ledger and order_accrual have no foreign key to account: the engine
-- writes them only while it holds the member's account row locked, and
-- verify() reports any row without an account.  A foreign key check per row
-- would cost more than the write itself on the order path (bench/README.md).
--

-- A member: the application's own customer key within a program.
CREATE TABLE @extschema@.member (
	customer_id bigint NOT NULL,
	program_id	integer NOT NULL REFERENCES @extschema@.program (program_id),
	status		text NOT NULL DEFAULT 'active'
				CHECK (status IN ('active', 'suspended', 'closed')),
	card		@extschema@.card,
	birthday	date CHECK (birthday > DATE '1900-01-01'),
	referral_source text CHECK (pg_catalog.octet_length(referral_source) <= 200),
	referred_by bigint CHECK (referred_by <> customer_id),
	enrolled_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	status_changed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	profile_changed_at timestamptz,
	PRIMARY KEY (customer_id, program_id)
);
-- Cards are looked up, not unique: a shared card is a fraud signal to flag,
-- and uniqueness across shards could not be enforced anyway.
CREATE INDEX member_card_idx ON @extschema@.member (card) WHERE card IS NOT NULL;
COMMENT ON TABLE @extschema@.member IS 'loyalty members, keyed by the application''s customer key within a program';

-- The balance row: O(1) reads, and the row every balance change locks.
CREATE TABLE @extschema@.account (
	customer_id bigint NOT NULL,
	program_id	integer NOT NULL,
	available	bigint NOT NULL DEFAULT 0,
	pending		bigint NOT NULL DEFAULT 0 CHECK (pending >= 0),
	lifetime_earned bigint NOT NULL DEFAULT 0 CHECK (lifetime_earned >= 0),
	lifetime_redeemed bigint NOT NULL DEFAULT 0 CHECK (lifetime_redeemed >= 0),
	lifetime_expired bigint NOT NULL DEFAULT 0 CHECK (lifetime_expired >= 0),
	last_entry_no bigint NOT NULL DEFAULT 0 CHECK (last_entry_no >= 0),
	order_count bigint NOT NULL DEFAULT 0 CHECK (order_count >= 0),	-- orders that earned
	last_activity_at timestamptz,
	updated_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (customer_id, program_id),
	FOREIGN KEY (customer_id, program_id)
		REFERENCES @extschema@.member (customer_id, program_id)
) WITH (fillfactor = 80);	-- room for HOT updates: every order rewrites the row
COMMENT ON TABLE @extschema@.account IS 'stored balances per member; always equal to the ledger (see verify())';

-- A lot: points from one earning, spent oldest-expiring first.
CREATE TABLE @extschema@.lot (
	customer_id bigint NOT NULL,
	program_id	integer NOT NULL,
	lot_no		bigint NOT NULL,	-- entry_no of the ledger entry that created it
	points		bigint NOT NULL CHECK (points > 0),
	remaining	bigint NOT NULL CHECK (remaining >= 0 AND remaining <= points),
	pending		boolean NOT NULL DEFAULT false,
	earned_at	timestamptz NOT NULL,
	available_at timestamptz,	-- when a pending lot becomes spendable
	expires_at	timestamptz,	-- NULL: never expires
	source_id	integer,		-- the tracked orders table and order that earned it
	order_key	text,			-- NULL when the lot holds several orders (see order_accrual.lot_no)
	PRIMARY KEY (customer_id, program_id, lot_no)
);
CREATE INDEX lot_spend_idx ON @extschema@.lot
	(customer_id, program_id, expires_at, lot_no) WHERE remaining > 0;
CREATE INDEX lot_due_idx ON @extschema@.lot (expires_at)
	WHERE remaining > 0 AND expires_at IS NOT NULL;
CREATE INDEX lot_pending_idx ON @extschema@.lot (available_at)
	WHERE pending AND remaining > 0;
COMMENT ON TABLE @extschema@.lot IS 'earned points by lot: what is left, pending or not, and when it expires';

-- The ledger: one immutable entry per balance change.
CREATE TABLE @extschema@.ledger (
	customer_id bigint NOT NULL,
	program_id	integer NOT NULL,
	entry_no	bigint NOT NULL CHECK (entry_no > 0),
	kind		text NOT NULL
				CHECK (kind IN ('earn', 'release', 'redeem', 'expire', 'adjust', 'reverse')),
	points		bigint NOT NULL,	-- change to the available balance
	pending_points bigint NOT NULL DEFAULT 0,	-- change to the pending balance
	available_after bigint NOT NULL,
	pending_after bigint NOT NULL CHECK (pending_after >= 0),
	reason		text NOT NULL,
	reference	text,
	idempotency_key text,
	actor		text NOT NULL,	-- who, as the caller said (staff name, terminal)
	db_role		text NOT NULL,	-- the database role that made the change
	expires_at	timestamptz,	-- expiry of the lot an earning created
	detail		jsonb,			-- the rules that produced the points, or what a reversal took
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (customer_id, program_id, entry_no)
);
CREATE UNIQUE INDEX ledger_idempotency_key_idx ON @extschema@.ledger
	(customer_id, program_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
COMMENT ON TABLE @extschema@.ledger IS 'immutable ledger: every change to a balance, with reason, reference, actor and time';

-- Refuses any change to a written ledger entry.
CREATE FUNCTION @extschema@.ledger_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'ledger entries cannot be changed or removed'
		USING ERRCODE = 'LY006',
			  DETAIL = pg_catalog.format('%s on %s.%s was refused.', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
			  HINT = 'Correct a balance with loyalty.adjust(), which adds a new entry.';
END
$$;
CREATE TRIGGER ledger_no_update_delete BEFORE UPDATE OR DELETE ON @extschema@.ledger
	FOR EACH ROW EXECUTE FUNCTION @extschema@.ledger_immutable();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON @extschema@.ledger
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ledger_immutable();
-- The balances and lots are the ledger's running state: emptying them would
-- lose points as surely as emptying the ledger.
CREATE TRIGGER account_no_truncate BEFORE TRUNCATE ON @extschema@.account
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ledger_immutable();
CREATE TRIGGER lot_no_truncate BEFORE TRUNCATE ON @extschema@.lot
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ledger_immutable();

-- Everything that holds user data goes into pg_dump.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.program_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.program', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.member', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.account', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.lot', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ledger', '');
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
--
-- Members: enrolment, profile and status.
--

-- Enroll a customer in a program; enrolling again returns the existing member unchanged.
CREATE FUNCTION @extschema@.enroll(
	program text, customer_id bigint, card @extschema@.card DEFAULT NULL,
	birthday date DEFAULT NULL, referral_source text DEFAULT NULL,
	referred_by bigint DEFAULT NULL)
RETURNS @extschema@.member
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer := @extschema@.program_id(enroll.program);
	result		@extschema@.member;
BEGIN
	IF enroll.customer_id IS NULL THEN
		RAISE EXCEPTION 'customer_id must not be null' USING ERRCODE = '22004';
	END IF;
	IF enroll.birthday IS NOT NULL AND enroll.birthday OPERATOR(pg_catalog.>) CURRENT_DATE THEN
		RAISE EXCEPTION 'birthday must not be in the future'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', enroll.birthday);
	END IF;
	IF enroll.birthday IS NOT NULL AND enroll.birthday OPERATOR(pg_catalog.<=) DATE '1900-01-01' THEN
		RAISE EXCEPTION 'birthday must be after 1900-01-01'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', enroll.birthday),
				  HINT = 'Leave the birthday NULL when it is not known.';
	END IF;
	IF enroll.referral_source IS NOT NULL AND pg_catalog.octet_length(enroll.referral_source) OPERATOR(pg_catalog.>) 200 THEN
		RAISE EXCEPTION 'referral_source is too long' USING ERRCODE = '22001',
			DETAIL = 'The limit is 200 bytes.';
	END IF;
	IF enroll.referred_by IS NOT NULL THEN
		IF enroll.referred_by OPERATOR(pg_catalog.=) enroll.customer_id THEN
			RAISE EXCEPTION 'a member cannot refer themselves' USING ERRCODE = '22023';
		END IF;
		IF NOT EXISTS (SELECT 1 FROM @extschema@.member m
						WHERE m.customer_id OPERATOR(pg_catalog.=) enroll.referred_by
						  AND m.program_id OPERATOR(pg_catalog.=) pid) THEN
			RAISE EXCEPTION 'unknown referrer % in program "%"', enroll.referred_by, enroll.program
				USING ERRCODE = 'LY002', HINT = 'The referrer must be a member of the same program.';
		END IF;
	END IF;

	INSERT INTO @extschema@.member AS m (customer_id, program_id, card, birthday,
		referral_source, referred_by)
	VALUES (enroll.customer_id, pid, enroll.card, enroll.birthday,
		enroll.referral_source, enroll.referred_by)
	ON CONFLICT ON CONSTRAINT member_pkey DO NOTHING
	RETURNING m.* INTO result;
	IF FOUND THEN
		INSERT INTO @extschema@.account (customer_id, program_id)
		VALUES (enroll.customer_id, pid);
	ELSE
		SELECT m.* INTO result FROM @extschema@.member m
		 WHERE m.customer_id OPERATOR(pg_catalog.=) enroll.customer_id
		   AND m.program_id OPERATOR(pg_catalog.=) pid;
	END IF;
	RETURN result;
END
$$;

-- Return a member row for update, or raise unknown member.
CREATE FUNCTION @extschema@.lock_member(program text, customer_id bigint)
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

-- Change a member's card, birthday or referral source; NULL leaves a field unchanged.
CREATE FUNCTION @extschema@.update_member(
	program text, customer_id bigint, card @extschema@.card DEFAULT NULL,
	birthday date DEFAULT NULL, referral_source text DEFAULT NULL)
RETURNS @extschema@.member
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	existing	@extschema@.member := @extschema@.lock_member(update_member.program, update_member.customer_id);
	result		@extschema@.member;
BEGIN
	IF update_member.birthday IS NOT NULL AND update_member.birthday OPERATOR(pg_catalog.>) CURRENT_DATE THEN
		RAISE EXCEPTION 'birthday must not be in the future'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', update_member.birthday);
	END IF;
	IF update_member.birthday IS NOT NULL AND update_member.birthday OPERATOR(pg_catalog.<=) DATE '1900-01-01' THEN
		RAISE EXCEPTION 'birthday must be after 1900-01-01'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', update_member.birthday),
				  HINT = 'Leave the birthday NULL when it is not known.';
	END IF;
	IF pg_catalog.octet_length(update_member.referral_source) OPERATOR(pg_catalog.>) 200 THEN
		RAISE EXCEPTION 'referral_source is too long' USING ERRCODE = '22001',
			DETAIL = 'The limit is 200 bytes.';
	END IF;
	UPDATE @extschema@.member AS m SET
		card = COALESCE(update_member.card, m.card),
		birthday = COALESCE(update_member.birthday, m.birthday),
		referral_source = COALESCE(update_member.referral_source, m.referral_source),
		profile_changed_at = CASE
			WHEN update_member.card IS NOT NULL
			 AND (m.card IS NULL OR update_member.card OPERATOR(@extschema@.<>) m.card)
			THEN pg_catalog.now()
			ELSE m.profile_changed_at END
	 WHERE m.customer_id OPERATOR(pg_catalog.=) existing.customer_id
	   AND m.program_id OPERATOR(pg_catalog.=) existing.program_id
	RETURNING m.* INTO result;
	RETURN result;
END
$$;

-- Set a member's status: active, suspended or closed.
CREATE FUNCTION @extschema@.set_member_status(program text, customer_id bigint, status text)
RETURNS @extschema@.member
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	existing	@extschema@.member;
	result		@extschema@.member;
BEGIN
	IF set_member_status.status IS NULL THEN
		RAISE EXCEPTION 'status must not be null' USING ERRCODE = '22004';
	END IF;
	IF set_member_status.status OPERATOR(pg_catalog.<>) ALL (ARRAY['active', 'suspended', 'closed']) THEN
		RAISE EXCEPTION 'unknown member status "%"', set_member_status.status
			USING ERRCODE = '22023', HINT = 'Use active, suspended or closed.';
	END IF;
	existing := @extschema@.lock_member(set_member_status.program, set_member_status.customer_id);
	UPDATE @extschema@.member AS m SET
		status = set_member_status.status,
		status_changed_at = CASE WHEN m.status OPERATOR(pg_catalog.=) set_member_status.status
			THEN m.status_changed_at ELSE pg_catalog.now() END
	 WHERE m.customer_id OPERATOR(pg_catalog.=) existing.customer_id
	   AND m.program_id OPERATOR(pg_catalog.=) existing.program_id
	RETURNING m.* INTO result;
	RETURN result;
END
$$;

COMMENT ON FUNCTION @extschema@.enroll(text, bigint, @extschema@.card, date, text, bigint)
	IS 'enroll a customer (the application''s own key) in a program; idempotent';
COMMENT ON FUNCTION @extschema@.update_member(text, bigint, @extschema@.card, date, text)
	IS 'change a member''s card, birthday or referral source';
COMMENT ON FUNCTION @extschema@.set_member_status(text, bigint, text)
	IS 'set a member''s status: active, suspended or closed (only active members earn and redeem)';
COMMENT ON FUNCTION @extschema@.lock_member(text, bigint)
	IS 'internal: lock and return a member row, or raise LY002';
--
-- The ledger API.  earn, redeem, adjust and balance are C: they lock the
-- member's account row, check the request and write account, lots and one
-- ledger entry in a single statement.  They run their fully qualified queries
-- as the extension owner (see src/loyalty.c), so callers need only EXECUTE.
--

CREATE TYPE @extschema@.balance_summary AS (
	program		text,
	customer_id bigint,
	status		text,
	available	bigint,
	pending		bigint,
	lifetime_earned bigint,
	lifetime_redeemed bigint,
	lifetime_expired bigint,
	last_activity_at timestamptz
);
COMMENT ON TYPE @extschema@.balance_summary IS 'a member''s balances as returned by loyalty.balance()';

CREATE FUNCTION @extschema@.earn(
	program text, customer_id bigint, points bigint,
	reason text DEFAULT NULL, reference text DEFAULT NULL,
	idempotency_key text DEFAULT NULL, expires_at timestamptz DEFAULT NULL,
	pending_until timestamptz DEFAULT NULL, actor text DEFAULT NULL)
RETURNS @extschema@.ledger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'loyalty_earn';

CREATE FUNCTION @extschema@.redeem(
	program text, customer_id bigint, points bigint,
	reason text DEFAULT NULL, reference text DEFAULT NULL,
	idempotency_key text DEFAULT NULL, actor text DEFAULT NULL)
RETURNS @extschema@.ledger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'loyalty_redeem';

CREATE FUNCTION @extschema@.adjust(
	program text, customer_id bigint, points bigint, reason text,
	reference text DEFAULT NULL, idempotency_key text DEFAULT NULL,
	expires_at timestamptz DEFAULT NULL, actor text DEFAULT NULL)
RETURNS @extschema@.ledger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'loyalty_adjust';

CREATE FUNCTION @extschema@.balance(program text, customer_id bigint)
RETURNS @extschema@.balance_summary
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'loyalty_balance';

-- A member's statement: every ledger entry in order, optionally within a period.
CREATE FUNCTION @extschema@.statement(
	program text, customer_id bigint,
	since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL)
RETURNS SETOF @extschema@.ledger
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer := @extschema@.program_id(statement.program);
BEGIN
	IF statement.customer_id IS NULL THEN
		RAISE EXCEPTION 'customer_id must not be null' USING ERRCODE = '22004';
	END IF;
	IF statement.since OPERATOR(pg_catalog.>) statement.until THEN
		RAISE EXCEPTION 'since must not be later than until' USING ERRCODE = '22023',
			DETAIL = pg_catalog.format('Got since %s and until %s.', statement.since, statement.until);
	END IF;
	IF NOT EXISTS (SELECT 1 FROM @extschema@.member m
					WHERE m.customer_id OPERATOR(pg_catalog.=) statement.customer_id
					  AND m.program_id OPERATOR(pg_catalog.=) pid) THEN
		RAISE EXCEPTION 'unknown member % in program "%"', statement.customer_id, statement.program
			USING ERRCODE = 'LY002', HINT = 'Enroll the customer first with loyalty.enroll().';
	END IF;
	RETURN QUERY
		SELECT l.* FROM @extschema@.ledger l
		 WHERE l.customer_id OPERATOR(pg_catalog.=) statement.customer_id
		   AND l.program_id OPERATOR(pg_catalog.=) pid
		   AND (statement.since IS NULL OR l.created_at OPERATOR(pg_catalog.>=) statement.since)
		   AND (statement.until IS NULL OR l.created_at OPERATOR(pg_catalog.<) statement.until)
		 ORDER BY l.entry_no;
END
$$;

-- Make one member's due pending points spendable, in one ledger entry.  The
-- caller holds the member's account row lock.  Returns the points released.
CREATE FUNCTION @extschema@.release_member(customer_id bigint, program_id integer,
	as_of timestamptz, actor text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	acct		@extschema@.account;
	due			bigint;
	repay		bigint;
BEGIN
	SELECT pg_catalog.sum(l.remaining)::bigint INTO due FROM @extschema@.lot l
	 WHERE l.customer_id OPERATOR(pg_catalog.=) release_member.customer_id
	   AND l.program_id OPERATOR(pg_catalog.=) release_member.program_id
	   AND l.pending AND l.remaining OPERATOR(pg_catalog.>) 0
	   AND l.available_at OPERATOR(pg_catalog.<=) as_of;
	IF due IS NULL THEN
		RETURN 0;
	END IF;
	SELECT a.* INTO acct FROM @extschema@.account a
	 WHERE a.customer_id OPERATOR(pg_catalog.=) release_member.customer_id
	   AND a.program_id OPERATOR(pg_catalog.=) release_member.program_id;

	-- Released points repay a debt first, oldest lots first.
	repay := LEAST(due, GREATEST(OPERATOR(pg_catalog.-) acct.available, 0));
	UPDATE @extschema@.lot l SET pending = false,
		remaining = l.remaining OPERATOR(pg_catalog.-) LEAST(l.remaining,
			GREATEST(repay OPERATOR(pg_catalog.-) (s.running OPERATOR(pg_catalog.-) l.remaining), 0))
	  FROM (SELECT x.lot_no,
				   (pg_catalog.sum(x.remaining) OVER (ORDER BY x.available_at, x.lot_no))::bigint AS running
			  FROM @extschema@.lot x
			 WHERE x.customer_id OPERATOR(pg_catalog.=) release_member.customer_id
			   AND x.program_id OPERATOR(pg_catalog.=) release_member.program_id
			   AND x.pending AND x.remaining OPERATOR(pg_catalog.>) 0
			   AND x.available_at OPERATOR(pg_catalog.<=) as_of) s
	 WHERE l.customer_id OPERATOR(pg_catalog.=) release_member.customer_id
	   AND l.program_id OPERATOR(pg_catalog.=) release_member.program_id
	   AND l.lot_no OPERATOR(pg_catalog.=) s.lot_no;

	UPDATE @extschema@.account a SET
		available = a.available OPERATOR(pg_catalog.+) due,
		pending = a.pending OPERATOR(pg_catalog.-) due,
		last_entry_no = a.last_entry_no OPERATOR(pg_catalog.+) 1,
		updated_at = pg_catalog.now()
	 WHERE a.customer_id OPERATOR(pg_catalog.=) release_member.customer_id
	   AND a.program_id OPERATOR(pg_catalog.=) release_member.program_id
	RETURNING a.* INTO acct;

	INSERT INTO @extschema@.ledger (customer_id, program_id, entry_no, kind,
		points, pending_points, available_after, pending_after, reason, reference, actor, db_role)
	VALUES (release_member.customer_id, release_member.program_id, acct.last_entry_no, 'release',
		due, OPERATOR(pg_catalog.-) due, acct.available, acct.pending, 'return window passed',
		pg_catalog.format('release as of %s', as_of), actor, SESSION_USER);
	RETURN due;
END
$$;

-- Make due pending points spendable; one ledger entry per member. Returns points released.
-- Members are taken in key order (no deadlock between two runs); a member
-- whose account another transaction holds is skipped and taken by the next run.
CREATE FUNCTION @extschema@.release_pending(as_of timestamptz DEFAULT pg_catalog.now(),
	max_members integer DEFAULT NULL)
RETURNS numeric
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m			record;
	total		numeric := 0;
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be null' USING ERRCODE = '22004';
	END IF;
	IF max_members OPERATOR(pg_catalog.<=) 0 THEN
		RAISE EXCEPTION 'max_members must be positive' USING ERRCODE = '22023',
			HINT = 'Pass NULL to release for every member in one run.';
	END IF;
	FOR m IN
		SELECT DISTINCT l.customer_id, l.program_id FROM @extschema@.lot l
		 WHERE l.pending AND l.remaining OPERATOR(pg_catalog.>) 0
		   AND l.available_at OPERATOR(pg_catalog.<=) as_of
		 ORDER BY l.customer_id, l.program_id
		 LIMIT max_members
	LOOP
		PERFORM FROM @extschema@.account a
		 WHERE a.customer_id OPERATOR(pg_catalog.=) m.customer_id
		   AND a.program_id OPERATOR(pg_catalog.=) m.program_id
		   FOR NO KEY UPDATE SKIP LOCKED;
		CONTINUE WHEN NOT FOUND;
		-- Under the lock: another run or a redemption may have released them already.
		total := total OPERATOR(pg_catalog.+)
			@extschema@.release_member(m.customer_id, m.program_id, as_of, 'loyalty.release_pending');
	END LOOP;
	RETURN total;
END
$$;

-- Balances for BI tools: no personal data.
CREATE VIEW @extschema@.member_balances AS
	SELECT p.code AS program, m.customer_id, m.status, a.available, a.pending,
		   a.lifetime_earned, a.lifetime_redeemed, a.lifetime_expired,
		   m.enrolled_at, a.last_activity_at
	  FROM @extschema@.member m
	  JOIN @extschema@.account a ON a.customer_id OPERATOR(pg_catalog.=) m.customer_id
								AND a.program_id OPERATOR(pg_catalog.=) m.program_id
	  JOIN @extschema@.program p ON p.program_id OPERATOR(pg_catalog.=) m.program_id;

COMMENT ON VIEW @extschema@.member_balances IS 'one row per member: status and balances (no personal data)';
COMMENT ON FUNCTION @extschema@.earn(text, bigint, bigint, text, text, text, timestamptz, timestamptz, text)
	IS 'add points to a member (manual or non-purchase earning); pending_until holds them, expires_at ends them; idempotent per idempotency_key';
COMMENT ON FUNCTION @extschema@.redeem(text, bigint, bigint, text, text, text, text)
	IS 'spend points, oldest-expiring first; never overdraws (LY004); idempotent per idempotency_key';
COMMENT ON FUNCTION @extschema@.adjust(text, bigint, bigint, text, text, text, timestamptz, text)
	IS 'staff correction with a reason: positive adds a lot, negative takes from lots oldest-expiring first';
COMMENT ON FUNCTION @extschema@.balance(text, bigint)
	IS 'a member''s available, pending and lifetime points, read without scanning the ledger';
COMMENT ON FUNCTION @extschema@.statement(text, bigint, timestamptz, timestamptz)
	IS 'a member''s ledger entries in order, optionally from since (inclusive) until (exclusive)';
COMMENT ON FUNCTION @extschema@.release_pending(timestamptz, integer)
	IS 'make pending points whose hold has passed spendable, for at most max_members members; idempotent; schedule it with pg_cron';
COMMENT ON FUNCTION @extschema@.release_member(bigint, integer, timestamptz, text)
	IS 'internal: release one member''s due pending points; the caller holds the account lock';
COMMENT ON FUNCTION @extschema@.ledger_immutable()
	IS 'internal: refuses UPDATE, DELETE and TRUNCATE of ledger entries';
--
-- Earning rules: multipliers, campaigns, bonuses, a minimum amount and a cap
-- on top of a program's base rate.  How they stack is fixed and documented in
-- src/rules.c and README.md; loyalty.quote() shows it for any order.
--

CREATE SEQUENCE @extschema@.earn_rule_id_seq AS integer;
COMMENT ON SEQUENCE @extschema@.earn_rule_id_seq IS 'ids of earning rules';

-- One earning rule of a program.  Each kind uses exactly the fields it needs:
--   channel_multiplier	channel, multiplier (scales the amount before rounding)
--   category_multiplier	category, multiplier (scales the amount before rounding)
--   tier_multiplier		tier, multiplier (scales the base points)
--   campaign_multiplier	multiplier; optional channel, category, starts_at,
--						ends_at, days_of_week (the highest active one applies)
--   campaign_bonus		bonus_points; the same optional filters (all active add)
--   first_purchase_bonus	bonus_points
--   birthday_bonus		bonus_points (orders in the member's birthday month)
--   minimum_amount		amount (smaller orders earn nothing)
--   order_cap			cap_points (most points one order can earn)
CREATE TABLE @extschema@.earn_rule (
	rule_id		integer PRIMARY KEY
				DEFAULT pg_catalog.nextval('@extschema@.earn_rule_id_seq'),
	program_id	integer NOT NULL REFERENCES @extschema@.program (program_id),
	name		text NOT NULL
				CHECK (pg_catalog.btrim(name) <> '' AND pg_catalog.octet_length(name) <= 200),
	kind		text NOT NULL
				CHECK (kind IN ('channel_multiplier', 'category_multiplier', 'tier_multiplier',
								'campaign_multiplier', 'campaign_bonus', 'first_purchase_bonus',
								'birthday_bonus', 'minimum_amount', 'order_cap')),
	channel		text CHECK (channel <> '' AND pg_catalog.octet_length(channel) <= 200),
	category	text CHECK (category <> '' AND pg_catalog.octet_length(category) <= 200),
	tier		text CHECK (tier <> '' AND pg_catalog.octet_length(tier) <= 200),
	multiplier	numeric
				CHECK (multiplier >= 0 AND multiplier < 'Infinity' AND multiplier <> 'NaN'),
	bonus_points bigint CHECK (bonus_points > 0),
	amount		numeric CHECK (amount >= 0 AND amount < 'Infinity' AND amount <> 'NaN'),
	cap_points	bigint CHECK (cap_points > 0),
	starts_at	timestamptz CHECK (pg_catalog.isfinite(starts_at)),
	ends_at		timestamptz CHECK (pg_catalog.isfinite(ends_at)),
	days_of_week smallint[]
				CHECK (pg_catalog.cardinality(days_of_week) BETWEEN 1 AND 7
					   AND pg_catalog.array_ndims(days_of_week) = 1
					   AND days_of_week <@ '{1,2,3,4,5,6,7}'::smallint[]),
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	UNIQUE (program_id, name),
	CHECK (starts_at < ends_at),
	CONSTRAINT earn_rule_fields_of_kind CHECK (CASE kind
		WHEN 'channel_multiplier' THEN
			channel IS NOT NULL AND multiplier IS NOT NULL
			AND pg_catalog.num_nonnulls(category, tier, bonus_points, amount, cap_points,
										starts_at, ends_at, days_of_week) = 0
		WHEN 'category_multiplier' THEN
			category IS NOT NULL AND multiplier IS NOT NULL
			AND pg_catalog.num_nonnulls(channel, tier, bonus_points, amount, cap_points,
										starts_at, ends_at, days_of_week) = 0
		WHEN 'tier_multiplier' THEN
			tier IS NOT NULL AND multiplier IS NOT NULL
			AND pg_catalog.num_nonnulls(channel, category, bonus_points, amount, cap_points,
										starts_at, ends_at, days_of_week) = 0
		WHEN 'campaign_multiplier' THEN
			multiplier IS NOT NULL
			AND pg_catalog.num_nonnulls(tier, bonus_points, amount, cap_points) = 0
		WHEN 'campaign_bonus' THEN
			bonus_points IS NOT NULL
			AND pg_catalog.num_nonnulls(tier, multiplier, amount, cap_points) = 0
		WHEN 'first_purchase_bonus' THEN
			bonus_points IS NOT NULL
			AND pg_catalog.num_nonnulls(channel, category, tier, multiplier, amount, cap_points,
										starts_at, ends_at, days_of_week) = 0
		WHEN 'birthday_bonus' THEN
			bonus_points IS NOT NULL
			AND pg_catalog.num_nonnulls(channel, category, tier, multiplier, amount, cap_points,
										starts_at, ends_at, days_of_week) = 0
		WHEN 'minimum_amount' THEN
			amount IS NOT NULL
			AND pg_catalog.num_nonnulls(channel, category, tier, multiplier, bonus_points,
										cap_points, starts_at, ends_at, days_of_week) = 0
		WHEN 'order_cap' THEN
			cap_points IS NOT NULL
			AND pg_catalog.num_nonnulls(channel, category, tier, multiplier, bonus_points,
										amount, starts_at, ends_at, days_of_week) = 0
		ELSE false END)
);
-- One multiplier per channel, category and tier; one minimum and one cap.
CREATE UNIQUE INDEX earn_rule_channel_idx ON @extschema@.earn_rule (program_id, channel)
	WHERE kind = 'channel_multiplier';
CREATE UNIQUE INDEX earn_rule_category_idx ON @extschema@.earn_rule (program_id, category)
	WHERE kind = 'category_multiplier';
CREATE UNIQUE INDEX earn_rule_tier_idx ON @extschema@.earn_rule (program_id, tier)
	WHERE kind = 'tier_multiplier';
CREATE UNIQUE INDEX earn_rule_minimum_idx ON @extschema@.earn_rule (program_id)
	WHERE kind = 'minimum_amount';
CREATE UNIQUE INDEX earn_rule_cap_idx ON @extschema@.earn_rule (program_id)
	WHERE kind = 'order_cap';
COMMENT ON TABLE @extschema@.earn_rule IS 'earning rules of a program on top of its base rate; change them through add_earn_rule and drop_earn_rule';
COMMENT ON COLUMN @extschema@.earn_rule.name IS 'what statements show for the points this rule produced';
COMMENT ON COLUMN @extschema@.earn_rule.multiplier IS 'exact factor: 0.5 halves, 2 doubles';
COMMENT ON COLUMN @extschema@.earn_rule.ends_at IS 'end of a campaign window, exclusive';
COMMENT ON COLUMN @extschema@.earn_rule.days_of_week IS 'ISO days a campaign runs, 1 = Monday .. 7 = Sunday, in the program''s time zone; NULL = every day';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.earn_rule_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.earn_rule', '');

-- Invalidates every backend's cached earning rules when rules or programs change.
CREATE FUNCTION @extschema@.rules_changed() RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'loyalty_rules_changed';

CREATE TRIGGER earn_rule_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.earn_rule
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.rules_changed();
CREATE TRIGGER program_rules_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.program
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.rules_changed();

-- Add an earning rule to a program; returns the new rule.
CREATE FUNCTION @extschema@.add_earn_rule(
	program text, name text, kind text,
	channel text DEFAULT NULL, category text DEFAULT NULL, tier text DEFAULT NULL,
	multiplier numeric DEFAULT NULL, bonus_points bigint DEFAULT NULL,
	amount numeric DEFAULT NULL, cap_points bigint DEFAULT NULL,
	starts_at timestamptz DEFAULT NULL, ends_at timestamptz DEFAULT NULL,
	days_of_week smallint[] DEFAULT NULL)
RETURNS @extschema@.earn_rule
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	pid			integer;
	fields		text[] := ARRAY['channel', 'category', 'tier', 'multiplier', 'bonus_points',
								'amount', 'cap_points', 'starts_at', 'ends_at', 'days_of_week'];
	given		boolean[] := ARRAY[channel IS NOT NULL, category IS NOT NULL, tier IS NOT NULL,
								   multiplier IS NOT NULL, bonus_points IS NOT NULL,
								   amount IS NOT NULL, cap_points IS NOT NULL,
								   starts_at IS NOT NULL, ends_at IS NOT NULL,
								   days_of_week IS NOT NULL];
	required	text[];
	optional	text[] := '{}';
	takes		text;
	field		text;
	val			text;
	other_rule	text;
	result		@extschema@.earn_rule;
BEGIN
	IF program IS NULL THEN
		RAISE EXCEPTION 'program must not be null' USING ERRCODE = '22004';
	END IF;
	IF name IS NULL THEN
		RAISE EXCEPTION 'name must not be null' USING ERRCODE = '22004';
	END IF;
	IF kind IS NULL THEN
		RAISE EXCEPTION 'kind must not be null' USING ERRCODE = '22004';
	END IF;
	-- Rule changes of one program run one at a time (enrolment is not blocked).
	SELECT p.program_id INTO pid FROM @extschema@.program p
	 WHERE p.code OPERATOR(pg_catalog.=) program FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown loyalty program "%"', program
			USING ERRCODE = 'LY001',
				  HINT = 'Create it with loyalty.create_program(), or check the program code.';
	END IF;

	CASE kind
		WHEN 'channel_multiplier' THEN
			required := ARRAY['channel', 'multiplier'];
			takes := 'channel and multiplier';
		WHEN 'category_multiplier' THEN
			required := ARRAY['category', 'multiplier'];
			takes := 'category and multiplier';
		WHEN 'tier_multiplier' THEN
			required := ARRAY['tier', 'multiplier'];
			takes := 'tier and multiplier';
		WHEN 'campaign_multiplier' THEN
			required := ARRAY['multiplier'];
			optional := ARRAY['channel', 'category', 'starts_at', 'ends_at', 'days_of_week'];
			takes := 'multiplier, and optionally channel, category, starts_at, ends_at and days_of_week';
		WHEN 'campaign_bonus' THEN
			required := ARRAY['bonus_points'];
			optional := ARRAY['channel', 'category', 'starts_at', 'ends_at', 'days_of_week'];
			takes := 'bonus_points, and optionally channel, category, starts_at, ends_at and days_of_week';
		WHEN 'first_purchase_bonus', 'birthday_bonus' THEN
			required := ARRAY['bonus_points'];
			takes := 'bonus_points';
		WHEN 'minimum_amount' THEN
			required := ARRAY['amount'];
			takes := 'amount';
		WHEN 'order_cap' THEN
			required := ARRAY['cap_points'];
			takes := 'cap_points';
		ELSE
			RAISE EXCEPTION 'unknown earning rule kind "%"', kind
				USING ERRCODE = '22023',
					  HINT = 'Use channel_multiplier, category_multiplier, tier_multiplier, '
						  'campaign_multiplier, campaign_bonus, first_purchase_bonus, '
						  'birthday_bonus, minimum_amount or order_cap.';
	END CASE;

	IF pg_catalog.btrim(name) OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'rule name must not be empty' USING ERRCODE = '22023';
	END IF;
	IF pg_catalog.octet_length(name) OPERATOR(pg_catalog.>) 200 THEN
		RAISE EXCEPTION 'rule name is too long' USING ERRCODE = '22001',
			DETAIL = 'The limit is 200 bytes.';
	END IF;
	IF pg_catalog.lower(pg_catalog.btrim(name)) OPERATOR(pg_catalog.=) 'base' THEN
		RAISE EXCEPTION 'rule name "%" is reserved', name
			USING ERRCODE = '22023',
				  DETAIL = 'Statements show the points of the base rate as "base".';
	END IF;

	-- Each kind takes exactly its own fields.
	FOR i IN 1 .. pg_catalog.array_length(fields, 1) LOOP
		IF fields[i] OPERATOR(pg_catalog.=) ANY (required) AND NOT given[i] THEN
			RAISE EXCEPTION '% must not be null for a rule of kind %', fields[i], kind
				USING ERRCODE = '22004',
					  HINT = pg_catalog.format('A rule of kind %s takes %s.', kind, takes);
		END IF;
	END LOOP;
	FOR i IN 1 .. pg_catalog.array_length(fields, 1) LOOP
		IF given[i] AND NOT (fields[i] OPERATOR(pg_catalog.=) ANY (required OPERATOR(pg_catalog.||) optional)) THEN
			RAISE EXCEPTION '% does not apply to a rule of kind %', fields[i], kind
				USING ERRCODE = '22023',
					  HINT = pg_catalog.format('A rule of kind %s takes %s.', kind, takes);
		END IF;
	END LOOP;

	-- The values themselves.
	FOREACH field IN ARRAY ARRAY['channel', 'category', 'tier'] LOOP
		val := CASE field WHEN 'channel' THEN channel
						  WHEN 'category' THEN category ELSE tier END;
		IF val OPERATOR(pg_catalog.=) '' THEN
			RAISE EXCEPTION '% must not be empty', field USING ERRCODE = '22023';
		END IF;
		IF pg_catalog.octet_length(val) OPERATOR(pg_catalog.>) 200 THEN
			RAISE EXCEPTION '% is too long', field USING ERRCODE = '22001',
				DETAIL = 'The limit is 200 bytes.';
		END IF;
	END LOOP;
	IF multiplier OPERATOR(pg_catalog.=) 'NaN'::numeric
		OR multiplier OPERATOR(pg_catalog.=) 'Infinity'::numeric
		OR multiplier OPERATOR(pg_catalog.<) 0 THEN
		RAISE EXCEPTION 'multiplier must be a finite number of at least 0'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', multiplier),
				  HINT = 'Use exact factors: 0.5 halves the points, 2 doubles them.';
	END IF;
	IF bonus_points OPERATOR(pg_catalog.<=) 0 THEN
		RAISE EXCEPTION 'bonus_points must be positive'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', bonus_points);
	END IF;
	IF amount OPERATOR(pg_catalog.=) 'NaN'::numeric
		OR amount OPERATOR(pg_catalog.=) 'Infinity'::numeric
		OR amount OPERATOR(pg_catalog.<) 0 THEN
		RAISE EXCEPTION 'amount must be a finite number of at least 0'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', amount);
	END IF;
	IF cap_points OPERATOR(pg_catalog.<=) 0 THEN
		RAISE EXCEPTION 'cap_points must be positive'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', cap_points);
	END IF;
	IF NOT pg_catalog.isfinite(starts_at) THEN
		RAISE EXCEPTION 'starts_at must be a finite time'
			USING ERRCODE = '22023', HINT = 'Pass NULL for a campaign that has already started.';
	END IF;
	IF NOT pg_catalog.isfinite(ends_at) THEN
		RAISE EXCEPTION 'ends_at must be a finite time'
			USING ERRCODE = '22023', HINT = 'Pass NULL for a campaign without an end.';
	END IF;
	IF starts_at OPERATOR(pg_catalog.>=) ends_at THEN
		RAISE EXCEPTION 'starts_at must be before ends_at'
			USING ERRCODE = '22023',
				  DETAIL = pg_catalog.format('Got %s to %s; ends_at is exclusive.', starts_at, ends_at);
	END IF;
	IF days_of_week IS NOT NULL THEN
		IF pg_catalog.cardinality(days_of_week) OPERATOR(pg_catalog.=) 0 THEN
			RAISE EXCEPTION 'days_of_week must not be empty'
				USING ERRCODE = '22023', HINT = 'Pass NULL for a campaign that runs every day.';
		END IF;
		IF pg_catalog.array_ndims(days_of_week) OPERATOR(pg_catalog.<>) 1
			OR NOT (days_of_week OPERATOR(pg_catalog.<@) '{1,2,3,4,5,6,7}'::smallint[]) THEN
			RAISE EXCEPTION 'days_of_week must hold ISO day numbers from 1 (Monday) to 7 (Sunday)'
				USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', days_of_week);
		END IF;
		days_of_week := ARRAY(SELECT DISTINCT d FROM pg_catalog.unnest(days_of_week) d ORDER BY d);
	END IF;

	-- Names and the one-per-program kinds.
	IF EXISTS (SELECT 1 FROM @extschema@.earn_rule r
				WHERE r.program_id OPERATOR(pg_catalog.=) pid
				  AND r.name OPERATOR(pg_catalog.=) add_earn_rule.name) THEN
		RAISE EXCEPTION 'earning rule "%" already exists in program "%"', name, program
			USING ERRCODE = '23505',
				  HINT = 'Choose another name, or drop the rule with loyalty.drop_earn_rule() first.';
	END IF;
	SELECT r.name INTO other_rule FROM @extschema@.earn_rule r
	 WHERE r.program_id OPERATOR(pg_catalog.=) pid
	   AND r.kind OPERATOR(pg_catalog.=) kind
	   AND r.kind OPERATOR(pg_catalog.=) ANY (ARRAY['channel_multiplier', 'category_multiplier',
				'tier_multiplier', 'minimum_amount', 'order_cap'])
	   AND r.channel IS NOT DISTINCT FROM channel
	   AND r.category IS NOT DISTINCT FROM category
	   AND r.tier IS NOT DISTINCT FROM tier;
	IF FOUND THEN
		RAISE EXCEPTION '%', CASE kind
				WHEN 'channel_multiplier' THEN pg_catalog.format('program "%s" already has a multiplier for channel "%s"', program, channel)
				WHEN 'category_multiplier' THEN pg_catalog.format('program "%s" already has a multiplier for category "%s"', program, category)
				WHEN 'tier_multiplier' THEN pg_catalog.format('program "%s" already has a multiplier for tier "%s"', program, tier)
				WHEN 'minimum_amount' THEN pg_catalog.format('program "%s" already has a minimum amount', program)
				ELSE pg_catalog.format('program "%s" already has an order cap', program) END
			USING ERRCODE = '23505',
				  DETAIL = pg_catalog.format('Rule "%s" sets it.', other_rule),
				  HINT = 'Drop that rule with loyalty.drop_earn_rule() first.';
	END IF;

	INSERT INTO @extschema@.earn_rule AS r (program_id, name, kind, channel, category, tier,
		multiplier, bonus_points, amount, cap_points, starts_at, ends_at, days_of_week)
	VALUES (pid, name, kind, channel, category, tier,
		multiplier, bonus_points, amount, cap_points, starts_at, ends_at, days_of_week)
	RETURNING r.* INTO result;
	RETURN result;
END
$$;

-- Remove an earning rule from a program; past ledger entries keep its name.
CREATE FUNCTION @extschema@.drop_earn_rule(program text, name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	pid			integer;
BEGIN
	IF program IS NULL THEN
		RAISE EXCEPTION 'program must not be null' USING ERRCODE = '22004';
	END IF;
	IF name IS NULL THEN
		RAISE EXCEPTION 'name must not be null' USING ERRCODE = '22004';
	END IF;
	SELECT p.program_id INTO pid FROM @extschema@.program p
	 WHERE p.code OPERATOR(pg_catalog.=) program FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown loyalty program "%"', program
			USING ERRCODE = 'LY001',
				  HINT = 'Create it with loyalty.create_program(), or check the program code.';
	END IF;
	DELETE FROM @extschema@.earn_rule r
	 WHERE r.program_id OPERATOR(pg_catalog.=) pid
	   AND r.name OPERATOR(pg_catalog.=) drop_earn_rule.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown earning rule "%" in program "%"', name, program
			USING ERRCODE = 'LY007',
				  HINT = 'loyalty.earn_rule lists the rules of each program.';
	END IF;
END
$$;

-- The points an order would earn under the program's rules, and why.
CREATE FUNCTION @extschema@.quote(
	program text, amount numeric, channel text DEFAULT NULL, category text DEFAULT NULL,
	ordered_at timestamptz DEFAULT pg_catalog.now(), tier text DEFAULT NULL,
	birthday date DEFAULT NULL, first_purchase boolean DEFAULT false)
RETURNS TABLE (points bigint, detail jsonb)
LANGUAGE C STABLE PARALLEL SAFE ROWS 1
AS 'MODULE_PATHNAME', 'loyalty_quote';

COMMENT ON FUNCTION @extschema@.add_earn_rule(text, text, text, text, text, text, numeric, bigint, numeric, bigint, timestamptz, timestamptz, smallint[])
	IS 'add an earning rule (multiplier, campaign, bonus, minimum amount or order cap) to a program';
COMMENT ON FUNCTION @extschema@.drop_earn_rule(text, text)
	IS 'remove an earning rule from a program; raises LY007 for an unknown rule';
COMMENT ON FUNCTION @extschema@.quote(text, numeric, text, text, timestamptz, text, date, boolean)
	IS 'points an order would earn under the program''s rules, with the rules that produced them';
COMMENT ON FUNCTION @extschema@.rules_changed()
	IS 'internal: trigger that invalidates the cached earning rules of every session';

REVOKE ALL ON FUNCTION
	@extschema@.add_earn_rule(text, text, text, text, text, text, numeric, bigint, numeric, bigint, timestamptz, timestamptz, smallint[]),
	@extschema@.drop_earn_rule(text, text),
	@extschema@.quote(text, numeric, text, text, timestamptz, text, date, boolean),
	@extschema@.rules_changed()
FROM PUBLIC;
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

-- Internal: check a track_orders() request and hand out the id its triggers will carry.
CREATE FUNCTION @extschema@.reserve_order_source(
	orders regclass, program text,
	customer_column name, order_column name, amount_column name,
	currency_column name, channel_column name, category_column name,
	status_column name, refunded_column name, ordered_at_column name,
	refund_statuses text[])
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@.check_order_source(NULL, orders, program,
		customer_column, order_column, amount_column, currency_column,
		channel_column, category_column, status_column, refunded_column,
		ordered_at_column, refund_statuses);
	RETURN pg_catalog.nextval('@extschema@.order_source_id_seq');
END
$$;

-- Internal: record the configuration of a table whose triggers the caller has
-- just created with the id reserved in this session; replaces a stale row
-- left under the same name by a dropped table.
CREATE FUNCTION @extschema@.register_order_source(
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
	result		@extschema@.order_source;
BEGIN
	IF register_order_source.source_id IS NULL THEN
		RAISE EXCEPTION 'source_id must not be null' USING ERRCODE = '22004';
	END IF;
	pid := @extschema@.check_order_source(register_order_source.source_id, orders, program,
		customer_column, order_column, amount_column, currency_column,
		channel_column, category_column, status_column, refunded_column,
		ordered_at_column, refund_statuses);
	IF register_order_source.source_id OPERATOR(pg_catalog.<>)
			pg_catalog.currval('@extschema@.order_source_id_seq') THEN
		RAISE EXCEPTION 'order source id % was not reserved in this session', register_order_source.source_id
			USING ERRCODE = '55000', HINT = 'Track tables with loyalty.track_orders().';
	END IF;
	SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO tname
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.oid OPERATOR(pg_catalog.=) orders;
	-- The caller proves it may track the table by having created the triggers.
	IF @extschema@.order_source_triggers(orders, register_order_source.source_id)
			OPERATOR(pg_catalog.<>) 3 THEN
		RAISE EXCEPTION 'the loyalty triggers for order source % are not on table %',
			register_order_source.source_id, tname
			USING ERRCODE = '55000', HINT = 'Track tables with loyalty.track_orders(), which creates them.';
	END IF;

	-- check_order_source() proved any row under this name is stale.
	DELETE FROM @extschema@.order_source s WHERE s.table_name OPERATOR(pg_catalog.=) tname;
	INSERT INTO @extschema@.order_source AS s (source_id, program_id, table_name,
		customer_column, order_column, amount_column, currency_column, channel_column,
		category_column, status_column, refunded_column, ordered_at_column, refund_statuses)
	VALUES (register_order_source.source_id, pid, tname,
		register_order_source.customer_column, register_order_source.order_column,
		register_order_source.amount_column, register_order_source.currency_column,
		register_order_source.channel_column, register_order_source.category_column,
		register_order_source.status_column, register_order_source.refunded_column,
		register_order_source.ordered_at_column, register_order_source.refund_statuses)
	RETURNING s.* INTO result;
	RETURN result;
END
$$;

-- Internal: remove the configuration of a table whose triggers the caller
-- has just dropped: the row under its name, and the rows of source_ids (the
-- ids its triggers carried: a renamed table's row is under its old name).
-- Only rows whose triggers are gone are removed; returns them.
CREATE FUNCTION @extschema@.unregister_order_source(orders regclass,
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
	SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO tname
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.oid OPERATOR(pg_catalog.=) orders;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', orders::oid USING ERRCODE = '42P01';
	END IF;
	FOR src IN SELECT s.* FROM @extschema@.order_source s
				WHERE s.table_name OPERATOR(pg_catalog.=) tname
				   OR s.source_id OPERATOR(pg_catalog.=) ANY (COALESCE(source_ids, '{}'))
				ORDER BY s.source_id FOR UPDATE LOOP
		IF pg_catalog.to_regclass(src.table_name) IS NOT NULL
		   AND @extschema@.order_source_triggers(pg_catalog.to_regclass(src.table_name), src.source_id)
				OPERATOR(pg_catalog.>) 0 THEN
			RAISE EXCEPTION 'the loyalty triggers are still on table %', src.table_name
				USING ERRCODE = '55000',
					  HINT = 'Untrack tables with loyalty.untrack_orders(), which drops them.';
		END IF;
		DELETE FROM @extschema@.order_source s
		 WHERE s.source_id OPERATOR(pg_catalog.=) src.source_id;
		found_any := true;
		RETURN NEXT src;
	END LOOP;
	-- Triggers without a row (left by a renamed table whose name was reused)
	-- were cleaned up by the caller: that is untracking too.
	IF NOT found_any AND pg_catalog.cardinality(COALESCE(source_ids, '{}')) OPERATOR(pg_catalog.=) 0 THEN
		RAISE EXCEPTION 'table % is not tracked', tname
			USING ERRCODE = 'LY008', HINT = 'loyalty.order_source lists the tracked tables.';
	END IF;
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

-- Stop tracking a table: drop its triggers and configuration; points already
-- earned and the order history stay.
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
COMMENT ON FUNCTION @extschema@.untrack_orders(regclass)
	IS 'stop tracking an orders table (drops its loyalty triggers); points earned and order history stay';
COMMENT ON FUNCTION @extschema@.order_source_triggers(regclass, integer)
	IS 'internal: the number of accrual triggers on a table that carry a source id';
COMMENT ON FUNCTION @extschema@.live_order_source(regclass)
	IS 'internal: the configuration of a tracked table, ignoring stale rows';
COMMENT ON FUNCTION @extschema@.check_order_source(integer, regclass, text, name, name, name, name, name, name, name, name, name, text[])
	IS 'internal: validate a track_orders() request';
COMMENT ON FUNCTION @extschema@.reserve_order_source(regclass, text, name, name, name, name, name, name, name, name, name, text[])
	IS 'internal: validate a track_orders() request and reserve its source id';
COMMENT ON FUNCTION @extschema@.register_order_source(integer, regclass, text, name, name, name, name, name, name, name, name, name, text[])
	IS 'internal: record a tracked table once track_orders() has created its triggers';
COMMENT ON FUNCTION @extschema@.unregister_order_source(regclass, integer[])
	IS 'internal: remove a tracked table''s configuration once untrack_orders() has dropped its triggers';

REVOKE ALL ON FUNCTION
	@extschema@.set_exchange_rate(text, text, numeric, timestamptz),
	@extschema@.convert_amount(numeric, text, text, timestamptz),
	@extschema@.order_source_triggers(regclass, integer),
	@extschema@.live_order_source(regclass),
	@extschema@.check_order_source(integer, regclass, text, name, name, name, name, name, name, name, name, name, text[]),
	@extschema@.reserve_order_source(regclass, text, name, name, name, name, name, name, name, name, name, text[]),
	@extschema@.register_order_source(integer, regclass, text, name, name, name, name, name, name, name, name, name, text[]),
	@extschema@.unregister_order_source(regclass, integer[]),
	@extschema@.track_orders(regclass, text, name, name, name, name, name, name, name, name, name, text[]),
	@extschema@.untrack_orders(regclass)
FROM PUBLIC;
--
-- Automatic accrual from the application's own orders table (see
-- doc/accrual.md).  The C statement triggers created by track_orders() keep
-- one row per order here and write every change of an order's points to the
-- ledger.
--

-- What each tracked order has earned: member-scoped, one row per order.
CREATE TABLE @extschema@.order_accrual (
	customer_id bigint NOT NULL,
	program_id	integer NOT NULL,
	source_id	integer NOT NULL,	-- the tracked table (loyalty.order_source)
	order_key	text NOT NULL,
	state		text NOT NULL CHECK (state IN ('active', 'reversed', 'deleted')),
	amount		numeric NOT NULL CHECK (amount >= 0),	-- in the program currency, when first earned
	net_amount	numeric NOT NULL CHECK (net_amount >= 0),	-- amount less refunds, now
	points		bigint NOT NULL CHECK (points >= 0),	-- points the order holds now
	earned_points bigint NOT NULL CHECK (earned_points >= 0),	-- points when first earned
	first_purchase boolean NOT NULL,
	channel		text,
	category	text,
	ordered_at	timestamptz NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	lot_no		bigint,			-- the lot that received the order's points, if any
	PRIMARY KEY (customer_id, program_id, source_id, order_key)
);
CREATE TRIGGER order_accrual_no_truncate BEFORE TRUNCATE ON @extschema@.order_accrual
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ledger_immutable();
COMMENT ON TABLE @extschema@.order_accrual IS 'per tracked order: the points it holds now and what it first earned';

-- Orders the engine could not credit, and why.  The shop's write never fails
-- for these; staff read them here.
CREATE TABLE @extschema@.accrual_problem (
	customer_id bigint NOT NULL,
	program_id	integer NOT NULL,
	source_id	integer NOT NULL,
	order_key	text NOT NULL,
	problem		text NOT NULL CHECK (problem IN ('unknown_customer', 'member_not_active',
				'currency_without_rate', 'invalid_amount', 'missing_order_key')),
	detail		text,
	occurrences integer NOT NULL DEFAULT 1,
	first_seen_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	last_seen_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (customer_id, program_id, source_id, order_key, problem)
);
COMMENT ON TABLE @extschema@.accrual_problem IS 'orders that earned nothing because of a loyalty-side problem, with the reason';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_accrual', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.accrual_problem', '');

-- The statement trigger track_orders() attaches to an orders table.
CREATE FUNCTION @extschema@.order_trigger() RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'loyalty_order_trigger';
COMMENT ON FUNCTION @extschema@.order_trigger()
	IS 'internal: the accrual trigger track_orders() attaches to an orders table';
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
--
-- Privileges: nothing is executable by PUBLIC except the card type's own
-- I/O, comparison and validation functions.  README.md documents the GRANTs
-- for the application, BI and administrator roles.
--
REVOKE ALL ON FUNCTION
	@extschema@.check_program_settings(text, bigint, numeric, text, text, integer, text, text),
	@extschema@.create_program(text, text, text, bigint, numeric, text, text, integer, text, text),
	@extschema@.alter_program(text, text, text, bigint, numeric, text, text, integer, text, text),
	@extschema@.program_id(text),
	@extschema@.points_for(text, numeric),
	@extschema@.enroll(text, bigint, @extschema@.card, date, text, bigint),
	@extschema@.lock_member(text, bigint),
	@extschema@.update_member(text, bigint, @extschema@.card, date, text),
	@extschema@.set_member_status(text, bigint, text),
	@extschema@.earn(text, bigint, bigint, text, text, text, timestamptz, timestamptz, text),
	@extschema@.redeem(text, bigint, bigint, text, text, text, text),
	@extschema@.adjust(text, bigint, bigint, text, text, text, timestamptz, text),
	@extschema@.balance(text, bigint),
	@extschema@.statement(text, bigint, timestamptz, timestamptz),
	@extschema@.release_pending(timestamptz, integer),
	@extschema@.release_member(bigint, integer, timestamptz, text),
	@extschema@.verify(),
	@extschema@.ledger_immutable(),
	@extschema@.order_trigger()
FROM PUBLIC;
