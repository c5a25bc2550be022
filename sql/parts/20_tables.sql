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
