--
-- Fraud checks (new in 0.3.0): the known loyalty abuse patterns, caught in
-- the transaction of the order, redemption or profile change that shows
-- them.  The same statements serve a fresh install and the update from
-- 0.2.0.
--
-- How it works (src/fraud.c, README.md "Fraud checks"):
--   * loyalty.fraud_check_kind lists the checks the engine knows (a shipped
--     registry); loyalty.fraud_check holds each program's checks that are on,
--     with their action and thresholds, set with set_fraud_check();
--   * the order and ledger paths keep a fixed-size per-member state in
--     account.fraud_state (the row they already lock and rewrite): orders
--     per minute over the last hour, points earned and redeemed and
--     redemptions per hour over the last day, the last orders' amounts and
--     times, order and refund counts, the last redemption.  No check reads
--     a member's history;
--   * cross-member checks (shared card, phone or e-mail, self-referral) use
--     the card index and member_identity's (program_id, kind, hash) index;
--   * a check that hits writes one loyalty.fraud_flag row (numbered per
--     member) and a fraud_flagged event; hold keeps the order's points
--     pending (lot.pending with no available_at) until review() decides;
--     reject refuses a redemption or manual earning with LY011.
--

-- The checks the engine knows.  Shipped with the extension like the
-- currency codes: a later release adds a check (transfer_ring, once points
-- can be transferred) by adding a row, without a schema change.
CREATE TABLE @extschema@.fraud_check_kind (
	check_name	text PRIMARY KEY CHECK (check_name ~ '^[a-z][a-z0-9_]{0,62}$'),
	applies_to	text NOT NULL
				CHECK (applies_to IN ('order', 'redemption', 'refund', 'identity', 'transfer')),
	actions		text[] NOT NULL CHECK (actions <@ ARRAY['flag', 'hold', 'reject']),
	threshold_meaning text,		-- NULL: the check takes no threshold
	threshold_default bigint CHECK (threshold_default > 0),
	threshold_max bigint CHECK (threshold_max > 0),
	threshold2_meaning text,
	threshold2_default bigint CHECK (threshold2_default > 0),
	within_default interval,	-- NULL: the check takes no time window
	within_min	interval,
	within_max	interval,
	available	boolean NOT NULL DEFAULT true,	-- false: waits for a feature
	sort_order	integer NOT NULL UNIQUE,
	description text NOT NULL
);
COMMENT ON TABLE @extschema@.fraud_check_kind IS
	'the fraud checks the engine knows, their actions, thresholds and windows (shipped with the extension)';

INSERT INTO @extschema@.fraud_check_kind (check_name, applies_to, actions,
	threshold_meaning, threshold_default, threshold_max, threshold2_meaning, threshold2_default,
	within_default, within_min, within_max, available, sort_order, description) VALUES
	('order_velocity', 'order', ARRAY['flag', 'hold', 'reject'],
		'orders of the member within the window, this one included, above which the check hits',
		20, 254, NULL, NULL, '1 hour', '1 minute', '1 hour', true, 1,
		'too many orders: more than threshold orders (by order time) within the window'),
	('points_per_day', 'order', ARRAY['flag', 'hold', 'reject'],
		'points earned within the window (orders and earn()), these included, above which the check hits',
		NULL, 2147483646, NULL, NULL, '24 hours', '1 hour', '24 hours', true, 2,
		'too many points earned: more than threshold points within the window (a rolling day by default)'),
	('redemptions_per_day', 'redemption', ARRAY['flag', 'reject'],
		'redemptions within the window, this one included, above which the check hits',
		5, 254, NULL, NULL, '24 hours', '1 hour', '24 hours', true, 3,
		'too many redemptions: more than threshold redemptions within the window'),
	('redeemed_points_per_day', 'redemption', ARRAY['flag', 'reject'],
		'points redeemed within the window, this redemption included, above which the check hits',
		NULL, 2147483646, NULL, NULL, '24 hours', '1 hour', '24 hours', true, 4,
		'too many points redeemed: more than threshold points within the window'),
	('duplicate_order', 'order', ARRAY['flag', 'hold', 'reject'],
		'orders of the same amount within the window, this one included, above which the check hits',
		1, 7, NULL, NULL, '10 minutes', '1 minute', '24 hours', true, 5,
		'duplicate orders: the same member, the same amount, within the window'),
	('return_farming', 'refund', ARRAY['flag'],
		'percentage of the member''s orders refunded, above which the check hits (1 to 99)',
		50, 99, 'orders the member must have before the check applies', 5,
		NULL, NULL, NULL, true, 6,
		'a high share of refunded orders: flagged when a refund takes the share above threshold percent'),
	('refund_after_redeem', 'refund', ARRAY['flag'],
		NULL, NULL, NULL, NULL, NULL, '30 days', '1 hour', '3650 days', true, 7,
		'earn, redeem, refund: an order refunded within the window after a redemption made since the order'),
	('account_takeover', 'redemption', ARRAY['flag', 'reject'],
		NULL, NULL, NULL, NULL, NULL, '24 hours', '1 minute', '365 days', true, 8,
		'a redemption within the window after enrolment or a change of the member''s e-mail, phone or card'),
	('shared_identity', 'identity', ARRAY['flag'],
		'members of the program sharing one card, phone or e-mail, above which the check hits',
		3, NULL, NULL, NULL, NULL, NULL, NULL, true, 9,
		'several members sharing a card number, phone or e-mail (compared as hashes)'),
	('self_referral', 'identity', ARRAY['flag'],
		NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true, 10,
		'a member referred by a member with the same card, phone or e-mail'),
	('transfer_ring', 'transfer', ARRAY['flag', 'reject'],
		'members in a ring of point transfers', 3, NULL, NULL, NULL, '30 days', '1 hour', '365 days',
		false, 11,
		'points transferred around a ring of members; waits for point transfers (a later release)');

-- A program's fraud checks that are on.  Config: no member key.
CREATE TABLE @extschema@.fraud_check (
	program_id	integer NOT NULL REFERENCES @extschema@.program (program_id),
	check_name	text NOT NULL REFERENCES @extschema@.fraud_check_kind (check_name),
	action		text NOT NULL CHECK (action IN ('flag', 'hold', 'reject')),
	threshold	bigint CHECK (threshold > 0),
	threshold2	bigint CHECK (threshold2 > 0),
	within		interval,
	updated_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (program_id, check_name)
);
COMMENT ON TABLE @extschema@.fraud_check IS
	'the fraud checks that are on in each program, with action, thresholds and window; change them with set_fraud_check()';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fraud_check', '');

-- The checks are cached in every backend with the earning rules (src/fraud.c).
CREATE TRIGGER fraud_check_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.fraud_check
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.rules_changed();

-- The per-member state of the order-path checks, and the flag counter.
ALTER TABLE @extschema@.account
	ADD COLUMN fraud_state bytea,
	ADD COLUMN last_flag_no bigint NOT NULL DEFAULT 0 CHECK (last_flag_no >= 0);
COMMENT ON COLUMN @extschema@.account.fraud_state IS
	'internal: recent orders, earnings and redemptions for the fraud checks (fixed size; NULL until a check runs)';
COMMENT ON COLUMN @extschema@.account.last_flag_no IS 'number of the member''s last fraud flag';

-- order_accrual.held and voided_at, which the reviews below set, come with
-- the tiers (85_tiers.sql), whose rebuild of the qualifying totals reads them.

-- A review decision is a ledger entry of its own kind (a void or a dismissal).
ALTER TABLE @extschema@.ledger DROP CONSTRAINT ledger_kind_check;
ALTER TABLE @extschema@.ledger ADD CONSTRAINT ledger_kind_check
	CHECK (kind IN ('earn', 'release', 'redeem', 'expire', 'adjust', 'reverse', 'review'));

-- The salt of a program's identity hashes: a phone number has few enough
-- digits to be guessed from a bare hash.  Readable by the owner and the
-- administrator only.
CREATE TABLE @extschema@.identity_salt (
	program_id	integer PRIMARY KEY REFERENCES @extschema@.program (program_id),
	salt		bytea NOT NULL CHECK (pg_catalog.octet_length(salt) = 32)
);
COMMENT ON TABLE @extschema@.identity_salt IS 'internal: the salt of each program''s identity hashes';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.identity_salt', '');

-- A member's phone and e-mail, as salted hashes only (set_identity()).
CREATE TABLE @extschema@.member_identity (
	customer_id bigint NOT NULL,
	program_id	integer NOT NULL,
	kind		text NOT NULL CHECK (kind IN ('email', 'phone')),
	hash		bytea NOT NULL CHECK (pg_catalog.octet_length(hash) = 32),
	updated_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (customer_id, program_id, kind),
	FOREIGN KEY (customer_id, program_id)
		REFERENCES @extschema@.member (customer_id, program_id)
);
-- The cross-member lookup of the shared_identity and self_referral checks.
CREATE INDEX member_identity_hash_idx ON @extschema@.member_identity (program_id, kind, hash);
COMMENT ON TABLE @extschema@.member_identity IS
	'members'' phone and e-mail as salted SHA-256 hashes of the normalized value; never the value itself';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.member_identity', '');

-- Fraud flags: member-scoped, numbered per member like ledger entries.
CREATE TABLE @extschema@.fraud_flag (
	customer_id bigint NOT NULL,
	program_id	integer NOT NULL,
	flag_no		bigint NOT NULL CHECK (flag_no > 0),
	check_name	text NOT NULL REFERENCES @extschema@.fraud_check_kind (check_name),
	action		text NOT NULL CHECK (action IN ('flag', 'hold')),
	measured	bigint NOT NULL,	-- what the check measured (see fraud_check_kind)
	threshold	bigint,				-- what it was compared with
	reference	text,				-- the order key, the redemption's reference or entry
	source_id	integer,			-- the tracked orders table, for an order
	order_key	text,
	entry_no	bigint,				-- the ledger entry of the flagged earning or redemption
	lot_no		bigint,				-- the held lot (hold)
	held_points bigint NOT NULL DEFAULT 0 CHECK (held_points >= 0),
	release_at	timestamptz,		-- when the held points would have become available
	detail		jsonb,
	status		text NOT NULL DEFAULT 'open'
				CHECK (status IN ('open', 'released', 'voided', 'dismissed')),
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	reviewed_at timestamptz,
	reviewed_by text,
	review_note text,
	review_entry_no bigint,			-- the ledger entry of the decision
	PRIMARY KEY (customer_id, program_id, flag_no),
	CONSTRAINT fraud_flag_hold_has_lot CHECK (action <> 'hold' OR lot_no IS NOT NULL),
	CONSTRAINT fraud_flag_review_complete CHECK ((status = 'open') = (reviewed_at IS NULL))
);
CREATE INDEX fraud_flag_open_idx ON @extschema@.fraud_flag (created_at) WHERE status = 'open';
COMMENT ON TABLE @extschema@.fraud_flag IS
	'fraud flags and holds: what a check measured, on which order or redemption, and the review decision';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fraud_flag', '');

-- Turn a fraud check on (flag, hold or reject) or off for a program.
CREATE FUNCTION @extschema@.set_fraud_check(program text, check_name text, action text,
	threshold bigint DEFAULT NULL, threshold2 bigint DEFAULT NULL, within interval DEFAULT NULL)
RETURNS @extschema@.fraud_check
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer := @extschema@.program_id(set_fraud_check.program);
	k			@extschema@.fraud_check_kind;
	t1			bigint := set_fraud_check.threshold;
	t2			bigint := set_fraud_check.threshold2;
	w			interval := set_fraud_check.within;
	result		@extschema@.fraud_check;
BEGIN
	IF set_fraud_check.check_name IS NULL THEN
		RAISE EXCEPTION 'check_name must not be null' USING ERRCODE = '22004';
	END IF;
	IF set_fraud_check.action IS NULL THEN
		RAISE EXCEPTION 'action must not be null' USING ERRCODE = '22004',
			HINT = 'Use flag, hold, reject, or off to turn the check off.';
	END IF;
	SELECT c.* INTO k FROM @extschema@.fraud_check_kind c
	 WHERE c.check_name OPERATOR(pg_catalog.=) set_fraud_check.check_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown fraud check "%"', set_fraud_check.check_name
			USING ERRCODE = '22023',
				  HINT = 'Use one of: ' OPERATOR(pg_catalog.||)
					(SELECT pg_catalog.string_agg(c.check_name, ', ' ORDER BY c.sort_order)
					   FROM @extschema@.fraud_check_kind c WHERE c.available) OPERATOR(pg_catalog.||) '.';
	END IF;
	IF set_fraud_check.action OPERATOR(pg_catalog.<>) ALL (ARRAY['flag', 'hold', 'reject', 'off']) THEN
		RAISE EXCEPTION 'unknown fraud action "%"', set_fraud_check.action
			USING ERRCODE = '22023', HINT = 'Use flag, hold, reject, or off to turn the check off.';
	END IF;
	IF NOT k.available THEN
		RAISE EXCEPTION 'fraud check "%" is not available yet', k.check_name
			USING ERRCODE = '0A000', DETAIL = k.description OPERATOR(pg_catalog.||) '.';
	END IF;
	IF set_fraud_check.action OPERATOR(pg_catalog.=) 'off' THEN
		DELETE FROM @extschema@.fraud_check c
		 WHERE c.program_id OPERATOR(pg_catalog.=) pid
		   AND c.check_name OPERATOR(pg_catalog.=) k.check_name
		RETURNING c.* INTO result;
		RETURN result;
	END IF;
	IF set_fraud_check.action OPERATOR(pg_catalog.<>) ALL (k.actions) THEN
		RAISE EXCEPTION 'fraud check "%" cannot %', k.check_name, set_fraud_check.action
			USING ERRCODE = '22023',
				  HINT = pg_catalog.format('Use %s, or off.', pg_catalog.array_to_string(k.actions, ', '));
	END IF;

	IF k.threshold_meaning IS NULL THEN
		IF t1 IS NOT NULL THEN
			RAISE EXCEPTION 'fraud check "%" takes no threshold', k.check_name
				USING ERRCODE = '22023', DETAIL = k.description OPERATOR(pg_catalog.||) '.';
		END IF;
	ELSE
		t1 := COALESCE(t1, k.threshold_default);
		IF t1 IS NULL THEN
			RAISE EXCEPTION 'fraud check "%" needs a threshold', k.check_name
				USING ERRCODE = '22004', DETAIL = 'The threshold is the ' OPERATOR(pg_catalog.||)
					k.threshold_meaning OPERATOR(pg_catalog.||) '.';
		END IF;
		IF t1 OPERATOR(pg_catalog.<=) 0 OR t1 OPERATOR(pg_catalog.>) k.threshold_max THEN
			RAISE EXCEPTION 'threshold of fraud check "%" out of range: %', k.check_name, t1
				USING ERRCODE = '22023',
					  HINT = pg_catalog.format('Use a value from 1 to %s: the %s.',
						COALESCE(k.threshold_max::text, '9223372036854775807'), k.threshold_meaning);
		END IF;
	END IF;
	IF k.threshold2_meaning IS NULL THEN
		IF t2 IS NOT NULL THEN
			RAISE EXCEPTION 'fraud check "%" takes no second threshold', k.check_name
				USING ERRCODE = '22023';
		END IF;
	ELSE
		t2 := COALESCE(t2, k.threshold2_default);
		IF t2 OPERATOR(pg_catalog.<=) 0 THEN
			RAISE EXCEPTION 'second threshold of fraud check "%" out of range: %', k.check_name, t2
				USING ERRCODE = '22023', HINT = 'Use a positive number: the '
					OPERATOR(pg_catalog.||) k.threshold2_meaning OPERATOR(pg_catalog.||) '.';
		END IF;
	END IF;
	IF k.within_default IS NULL THEN
		IF w IS NOT NULL THEN
			RAISE EXCEPTION 'fraud check "%" takes no window', k.check_name
				USING ERRCODE = '22023';
		END IF;
	ELSE
		w := COALESCE(w, k.within_default);
		IF w OPERATOR(pg_catalog.<) k.within_min OR w OPERATOR(pg_catalog.>) k.within_max THEN
			RAISE EXCEPTION 'window of fraud check "%" out of range: %', k.check_name, w
				USING ERRCODE = '22023',
					  HINT = pg_catalog.format('Use a window from %s to %s.', k.within_min, k.within_max);
		END IF;
	END IF;

	INSERT INTO @extschema@.fraud_check AS c (program_id, check_name, action, threshold,
		threshold2, within)
	VALUES (pid, k.check_name, set_fraud_check.action, t1, t2, w)
	ON CONFLICT ON CONSTRAINT fraud_check_pkey DO UPDATE SET
		action = EXCLUDED.action, threshold = EXCLUDED.threshold,
		threshold2 = EXCLUDED.threshold2, within = EXCLUDED.within,
		updated_at = pg_catalog.now()
	RETURNING c.* INTO result;
	RETURN result;
END
$$;

-- Write one flag and its fraud_flagged event; the caller numbered it
-- (account.last_flag_no) under the member's account lock.
CREATE FUNCTION @extschema@.record_flag(customer_id bigint, program_id integer, flag_no bigint,
	check_name text, action text, measured bigint, threshold bigint, reference text,
	source_id integer, order_key text, entry_no bigint, lot_no bigint, held_points bigint,
	release_at timestamptz, detail jsonb)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO @extschema@.fraud_flag (customer_id, program_id, flag_no, check_name, action,
		measured, threshold, reference, source_id, order_key, entry_no, lot_no, held_points,
		release_at, detail)
	VALUES (customer_id, program_id, flag_no, check_name, action, measured, threshold,
		reference, source_id, order_key, entry_no, lot_no, held_points, release_at, detail);
	INSERT INTO @extschema@.event (program_id, customer_id, kind, payload)
	VALUES (program_id, customer_id, 'fraud_flagged',
		pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('flag_no', flag_no,
			'check', check_name, 'action', action, 'measured', measured,
			'threshold', threshold, 'reference', reference, 'held_points', held_points)));
$$;

-- Flag a member from SQL (the identity checks): number the flag under the
-- member's account lock and write it.  Returns the flag number.
CREATE FUNCTION @extschema@.raise_flag(customer_id bigint, program_id integer, check_name text,
	measured bigint, threshold bigint, reference text, detail jsonb)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n			bigint;
BEGIN
	UPDATE @extschema@.account a SET last_flag_no = a.last_flag_no OPERATOR(pg_catalog.+) 1
	 WHERE a.customer_id OPERATOR(pg_catalog.=) raise_flag.customer_id
	   AND a.program_id OPERATOR(pg_catalog.=) raise_flag.program_id
	RETURNING a.last_flag_no INTO n;
	IF n IS NULL THEN
		RETURN NULL;			-- no account (yet): nothing to flag
	END IF;
	PERFORM @extschema@.record_flag(raise_flag.customer_id, raise_flag.program_id, n,
		raise_flag.check_name, 'flag', raise_flag.measured, raise_flag.threshold,
		raise_flag.reference, NULL, NULL, NULL, NULL, 0, NULL, raise_flag.detail);
	RETURN n;
END
$$;

-- The identity checks for one member who has just been given an identity:
-- a card, or the hash of a phone or e-mail.  Who shares it is counted after
-- a transaction-level lock on the identity, taken by everyone who gives it
-- to a member: of two members given the same phone at once, the second
-- waits for the first to commit and then counts both, so a threshold is
-- never crossed unseen (under READ COMMITTED, where each statement sees
-- what committed before it; under REPEATABLE READ the second counts what
-- its snapshot shows).  The lock is an advisory lock on the program and a
-- hash of the identity: an application's own advisory locks may at worst
-- wait briefly on it.
CREATE FUNCTION @extschema@.check_shared_identity(customer_id bigint, program_id integer,
	kind text, card @extschema@.card, hash bytea)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	shared		@extschema@.fraud_check;
	selfref		@extschema@.fraud_check;
	sharers		bigint[];
	n			integer;
	referrer	bigint;
	r			record;
BEGIN
	PERFORM pg_catalog.pg_advisory_xact_lock(check_shared_identity.program_id,
		pg_catalog.hashtext(kind OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||)
			COALESCE(check_shared_identity.card::text,
					 pg_catalog.encode(check_shared_identity.hash, 'hex'))));
	IF kind OPERATOR(pg_catalog.=) 'card' THEN
		sharers := ARRAY(SELECT x.customer_id FROM @extschema@.member x
						  WHERE x.card OPERATOR(@extschema@.=) check_shared_identity.card
							AND x.program_id OPERATOR(pg_catalog.=) check_shared_identity.program_id
						  ORDER BY x.customer_id);
	ELSE
		sharers := ARRAY(SELECT x.customer_id FROM @extschema@.member_identity x
						  WHERE x.program_id OPERATOR(pg_catalog.=) check_shared_identity.program_id
							AND x.kind OPERATOR(pg_catalog.=) check_shared_identity.kind
							AND x.hash OPERATOR(pg_catalog.=) check_shared_identity.hash
						  ORDER BY x.customer_id);
	END IF;
	n := pg_catalog.cardinality(sharers);
	SELECT c.* INTO shared FROM @extschema@.fraud_check c
	 WHERE c.program_id OPERATOR(pg_catalog.=) check_shared_identity.program_id
	   AND c.check_name OPERATOR(pg_catalog.=) 'shared_identity';
	SELECT c.* INTO selfref FROM @extschema@.fraud_check c
	 WHERE c.program_id OPERATOR(pg_catalog.=) check_shared_identity.program_id
	   AND c.check_name OPERATOR(pg_catalog.=) 'self_referral';
	IF shared.threshold IS NOT NULL AND n OPERATOR(pg_catalog.>) shared.threshold THEN
		PERFORM @extschema@.raise_flag(check_shared_identity.customer_id,
			check_shared_identity.program_id, 'shared_identity', n, shared.threshold, kind,
			pg_catalog.jsonb_build_object('kind', kind, 'members', n));
	END IF;
	IF selfref.check_name IS NULL OR n OPERATOR(pg_catalog.<) 2 THEN
		RETURN;
	END IF;
	-- Referred by a member with the same identity: flag this member.
	SELECT m.referred_by INTO referrer FROM @extschema@.member m
	 WHERE m.customer_id OPERATOR(pg_catalog.=) check_shared_identity.customer_id
	   AND m.program_id OPERATOR(pg_catalog.=) check_shared_identity.program_id;
	IF referrer OPERATOR(pg_catalog.=) ANY (sharers) THEN
		PERFORM @extschema@.raise_flag(check_shared_identity.customer_id,
			check_shared_identity.program_id, 'self_referral', 1, NULL, kind,
			pg_catalog.jsonb_build_object('kind', kind, 'referrer', referrer));
	END IF;
	-- Members this one referred that share it: flag each of them.
	FOR r IN
		SELECT m.customer_id FROM @extschema@.member m
		 WHERE m.program_id OPERATOR(pg_catalog.=) check_shared_identity.program_id
		   AND m.customer_id OPERATOR(pg_catalog.=) ANY (sharers)
		   AND m.referred_by OPERATOR(pg_catalog.=) check_shared_identity.customer_id
		 ORDER BY m.customer_id
	LOOP
		PERFORM @extschema@.raise_flag(r.customer_id, check_shared_identity.program_id,
			'self_referral', 1, NULL, kind,
			pg_catalog.jsonb_build_object('kind', kind, 'referrer', check_shared_identity.customer_id));
	END LOOP;
END
$$;

-- Whether a program (NULL: any program) has an identity check on.
CREATE FUNCTION @extschema@.has_identity_checks(program_id integer)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT FROM @extschema@.fraud_check c
					WHERE (has_identity_checks.program_id IS NULL
						   OR c.program_id OPERATOR(pg_catalog.=) has_identity_checks.program_id)
					  AND c.check_name OPERATOR(pg_catalog.=) ANY (ARRAY['shared_identity', 'self_referral']))
$$;

-- The card checks of new members (enroll(), enrolment from an order): after
-- the account is written, so a flag can be numbered.
CREATE FUNCTION @extschema@.check_new_members() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r			record;
BEGIN
	-- Most databases have no identity check on: then enrolment pays one
	-- look at the (small) check table, not a join per new member.
	IF NOT @extschema@.has_identity_checks(NULL) THEN
		RETURN NULL;
	END IF;
	FOR r IN
		SELECT m.customer_id, m.program_id, m.card
		  FROM new_accounts n
		  JOIN @extschema@.member m ON m.customer_id OPERATOR(pg_catalog.=) n.customer_id
								   AND m.program_id OPERATOR(pg_catalog.=) n.program_id
		 WHERE m.card IS NOT NULL
		   AND @extschema@.has_identity_checks(m.program_id)
		 ORDER BY m.customer_id, m.program_id
	LOOP
		PERFORM @extschema@.check_shared_identity(r.customer_id, r.program_id, 'card', r.card, NULL);
	END LOOP;
	RETURN NULL;
END
$$;
CREATE TRIGGER account_identity_checks AFTER INSERT ON @extschema@.account
	REFERENCING NEW TABLE AS new_accounts
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.check_new_members();

-- The card checks of a member whose card changed (update_member()).
CREATE FUNCTION @extschema@.check_card_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF @extschema@.has_identity_checks(NEW.program_id) THEN
		PERFORM @extschema@.check_shared_identity(NEW.customer_id, NEW.program_id, 'card', NEW.card, NULL);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER member_card_checks AFTER UPDATE OF card ON @extschema@.member
	FOR EACH ROW WHEN (NEW.card IS NOT NULL AND NEW.card IS DISTINCT FROM OLD.card)
	EXECUTE FUNCTION @extschema@.check_card_change();

-- The salted hash of a normalized e-mail or phone in a program.
CREATE FUNCTION @extschema@.identity_hash(program_id integer, kind text, value text)
RETURNS bytea
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	salt		bytea;
	normal		text;
BEGIN
	IF kind OPERATOR(pg_catalog.=) 'email' THEN
		normal := pg_catalog.lower(pg_catalog.btrim(value));
		IF normal !~ '^[^@[:space:]]+@[^@[:space:]]+$' OR pg_catalog.octet_length(normal) OPERATOR(pg_catalog.>) 254 THEN
			RAISE EXCEPTION 'invalid e-mail address' USING ERRCODE = '22023',
				HINT = 'Pass an address such as name@example.com, or '''' to remove it.';
		END IF;
	ELSE
		normal := pg_catalog.regexp_replace(value, '[^0-9]', '', 'g');
		IF pg_catalog.length(normal) NOT BETWEEN 6 AND 15 THEN
			RAISE EXCEPTION 'invalid phone number' USING ERRCODE = '22023',
				DETAIL = pg_catalog.format('It has %s digits.', pg_catalog.length(normal)),
				HINT = 'Pass 6 to 15 digits (with the country code); other characters are ignored. Pass '''' to remove it.';
		END IF;
	END IF;
	INSERT INTO @extschema@.identity_salt AS s (program_id, salt)
	VALUES (identity_hash.program_id,
		pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.gen_random_uuid()::text
			OPERATOR(pg_catalog.||) pg_catalog.clock_timestamp()::text, 'UTF8')))
	ON CONFLICT ON CONSTRAINT identity_salt_pkey DO NOTHING;
	SELECT s.salt INTO salt FROM @extschema@.identity_salt s
	 WHERE s.program_id OPERATOR(pg_catalog.=) identity_hash.program_id;
	RETURN pg_catalog.sha256(salt OPERATOR(pg_catalog.||) pg_catalog.convert_to(kind
		OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) normal, 'UTF8'));
END
$$;

-- Set a member's e-mail and/or phone (stored as hashes); NULL leaves one
-- unchanged, '' removes it.  A change stamps profile_changed_at and runs the
-- identity checks.
CREATE FUNCTION @extschema@.set_identity(program text, customer_id bigint,
	email text DEFAULT NULL, phone text DEFAULT NULL)
RETURNS @extschema@.member
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	existing	@extschema@.member := @extschema@.lock_member(set_identity.program, set_identity.customer_id);
	result		@extschema@.member;
	kinds		text[] := ARRAY['email', 'phone'];
	vals		text[] := ARRAY[set_identity.email, set_identity.phone];
	h			bytea;
	old_h		bytea;
	changed		text[] := '{}';
BEGIN
	IF set_identity.email IS NULL AND set_identity.phone IS NULL THEN
		RAISE EXCEPTION 'email or phone must be given' USING ERRCODE = '22004',
			HINT = 'Pass '''' to remove one.';
	END IF;
	FOR i IN 1 .. 2 LOOP
		CONTINUE WHEN vals[i] IS NULL;
		SELECT mi.hash INTO old_h FROM @extschema@.member_identity mi
		 WHERE mi.customer_id OPERATOR(pg_catalog.=) existing.customer_id
		   AND mi.program_id OPERATOR(pg_catalog.=) existing.program_id
		   AND mi.kind OPERATOR(pg_catalog.=) kinds[i];
		IF pg_catalog.btrim(vals[i]) OPERATOR(pg_catalog.=) '' THEN
			IF old_h IS NOT NULL THEN
				DELETE FROM @extschema@.member_identity mi
				 WHERE mi.customer_id OPERATOR(pg_catalog.=) existing.customer_id
				   AND mi.program_id OPERATOR(pg_catalog.=) existing.program_id
				   AND mi.kind OPERATOR(pg_catalog.=) kinds[i];
				changed := changed OPERATOR(pg_catalog.||) ('-' OPERATOR(pg_catalog.||) kinds[i]);
			END IF;
			CONTINUE;
		END IF;
		h := @extschema@.identity_hash(existing.program_id, kinds[i], vals[i]);
		CONTINUE WHEN old_h IS NOT NULL AND old_h OPERATOR(pg_catalog.=) h;
		INSERT INTO @extschema@.member_identity AS mi (customer_id, program_id, kind, hash)
		VALUES (existing.customer_id, existing.program_id, kinds[i], h)
		ON CONFLICT ON CONSTRAINT member_identity_pkey DO UPDATE
			SET hash = EXCLUDED.hash, updated_at = pg_catalog.now();
		changed := changed OPERATOR(pg_catalog.||) kinds[i];
	END LOOP;

	IF pg_catalog.cardinality(changed) OPERATOR(pg_catalog.>) 0 THEN
		UPDATE @extschema@.member m SET profile_changed_at = pg_catalog.now()
		 WHERE m.customer_id OPERATOR(pg_catalog.=) existing.customer_id
		   AND m.program_id OPERATOR(pg_catalog.=) existing.program_id;
	END IF;
	IF @extschema@.has_identity_checks(existing.program_id) THEN
		FOR i IN 1 .. 2 LOOP
			CONTINUE WHEN NOT kinds[i] OPERATOR(pg_catalog.=) ANY (changed);
			PERFORM @extschema@.check_shared_identity(existing.customer_id, existing.program_id,
				kinds[i], NULL,
				(SELECT me.hash FROM @extschema@.member_identity me
				  WHERE me.customer_id OPERATOR(pg_catalog.=) existing.customer_id
					AND me.program_id OPERATOR(pg_catalog.=) existing.program_id
					AND me.kind OPERATOR(pg_catalog.=) kinds[i]));
		END LOOP;
	END IF;
	SELECT m.* INTO result FROM @extschema@.member m
	 WHERE m.customer_id OPERATOR(pg_catalog.=) existing.customer_id
	   AND m.program_id OPERATOR(pg_catalog.=) existing.program_id;
	RETURN result;
END
$$;

-- Points a fraud check held counted toward no tier (src/accrual.c,
-- src/ledger.c); review() counts them when it releases them.
CREATE FUNCTION @extschema@.count_released(customer_id bigint, program_id integer,
	at timestamptz, points bigint, net_amount numeric)
RETURNS void
LANGUAGE c
AS 'MODULE_PATHNAME', 'loyalty_count_released';

-- When points the program's members earn at earned_at expire under its
-- policy now; NULL when they do not expire by date (src/rules.c).
CREATE FUNCTION @extschema@.lot_expiry(program_id integer, earned_at timestamptz)
RETURNS timestamptz
LANGUAGE c STABLE STRICT
AS 'MODULE_PATHNAME', 'loyalty_lot_expiry';

-- Decide on a flag: release or void its held points, or dismiss it.  One
-- ledger entry per decision, with the reviewer.
--
-- A release after the return window restarts the lot's expiry clock: held,
-- the points could not be spent, so a slow review must not cost them.  A lot
-- that expires by date gets the expiry the program's policy gives points
-- earned at the release, or keeps its own when that is later; under a
-- policy without dates (none, inactivity) its own date moves by the time it
-- was held.  A lot without a date keeps none.  The release is activity: the
-- inactivity clock restarts too.  A release within the return window leaves
-- the lot as the window's release finds every lot, with its date.
CREATE FUNCTION @extschema@.review(program text, customer_id bigint, flag_no bigint,
	decision text, note text, actor text DEFAULT NULL)
RETURNS @extschema@.fraud_flag
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer := @extschema@.program_id(review.program);
	acct		@extschema@.account;
	f			@extschema@.fraud_flag;
	lot			@extschema@.lot;
	who			text := COALESCE(review.actor, SESSION_USER::text);
	held_now	bigint := 0;
	repay		bigint := 0;
	d_avail		bigint := 0;
	d_pending	bigint := 0;
	kind		text := 'review';
	later		boolean := false;
	expires		timestamptz;
	new_status	text;
	released	record;
	result		@extschema@.fraud_flag;
BEGIN
	IF review.customer_id IS NULL THEN
		RAISE EXCEPTION 'customer_id must not be null' USING ERRCODE = '22004';
	END IF;
	IF review.flag_no IS NULL THEN
		RAISE EXCEPTION 'flag_no must not be null' USING ERRCODE = '22004';
	END IF;
	IF review.decision IS NULL THEN
		RAISE EXCEPTION 'decision must not be null' USING ERRCODE = '22004',
			HINT = 'Use release, void or dismiss.';
	END IF;
	IF review.decision OPERATOR(pg_catalog.<>) ALL (ARRAY['release', 'void', 'dismiss']) THEN
		RAISE EXCEPTION 'unknown review decision "%"', review.decision USING ERRCODE = '22023',
			HINT = 'Use release, void or dismiss.';
	END IF;
	IF review.note IS NULL THEN
		RAISE EXCEPTION 'note must not be null' USING ERRCODE = '22004',
			HINT = 'Say why: the note goes into the ledger entry of the decision.';
	END IF;
	IF pg_catalog.btrim(review.note) OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'note must not be empty' USING ERRCODE = '22023',
			HINT = 'Say why: the note goes into the ledger entry of the decision.';
	END IF;
	IF pg_catalog.octet_length(review.note) OPERATOR(pg_catalog.>) 200 OR
	   pg_catalog.octet_length(who) OPERATOR(pg_catalog.>) 200 THEN
		RAISE EXCEPTION 'note or actor is too long' USING ERRCODE = '22001',
			DETAIL = 'The limit is 200 bytes.';
	END IF;

	-- The account first, as every balance change takes it, then the flag.
	SELECT a.* INTO acct FROM @extschema@.account a
	 WHERE a.customer_id OPERATOR(pg_catalog.=) review.customer_id
	   AND a.program_id OPERATOR(pg_catalog.=) pid
	   FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown member % in program "%"', review.customer_id, review.program
			USING ERRCODE = 'LY002', HINT = 'Enroll the customer first with loyalty.enroll().';
	END IF;
	SELECT x.* INTO f FROM @extschema@.fraud_flag x
	 WHERE x.customer_id OPERATOR(pg_catalog.=) review.customer_id
	   AND x.program_id OPERATOR(pg_catalog.=) pid
	   AND x.flag_no OPERATOR(pg_catalog.=) review.flag_no
	   FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown fraud flag % of member % in program "%"', review.flag_no,
			review.customer_id, review.program
			USING ERRCODE = '22023', HINT = 'See the open flags in loyalty.fraud_queue.';
	END IF;
	IF f.status OPERATOR(pg_catalog.<>) 'open' THEN
		RAISE EXCEPTION 'fraud flag % of member % is already %', f.flag_no, f.customer_id, f.status
			USING ERRCODE = '55000',
				  DETAIL = pg_catalog.format('%s decided it at %s (ledger entry %s).',
					f.reviewed_by, f.reviewed_at, f.review_entry_no),
				  HINT = 'A decision is final; correct points with loyalty.adjust().';
	END IF;
	IF f.action OPERATOR(pg_catalog.=) 'flag' AND review.decision OPERATOR(pg_catalog.<>) 'dismiss' THEN
		RAISE EXCEPTION 'fraud flag % holds no points', f.flag_no USING ERRCODE = '22023',
			HINT = 'Close it with the decision dismiss.';
	END IF;
	IF f.action OPERATOR(pg_catalog.=) 'hold' THEN
		SELECT l.* INTO lot FROM @extschema@.lot l
		 WHERE l.customer_id OPERATOR(pg_catalog.=) f.customer_id
		   AND l.program_id OPERATOR(pg_catalog.=) f.program_id
		   AND l.lot_no OPERATOR(pg_catalog.=) f.lot_no;
		-- A refund may have taken some or all of the held points already.
		IF lot.pending AND lot.available_at IS NULL THEN
			held_now := lot.remaining;
		END IF;
		IF held_now OPERATOR(pg_catalog.>) 0 AND review.decision OPERATOR(pg_catalog.=) 'dismiss' THEN
			RAISE EXCEPTION 'fraud flag % holds points', f.flag_no USING ERRCODE = '22023',
				HINT = 'Decide on them with release or void.';
		END IF;
		-- Nothing left to decide on: a release or void would change nothing.
		IF held_now OPERATOR(pg_catalog.=) 0 AND review.decision OPERATOR(pg_catalog.<>) 'dismiss' THEN
			RAISE EXCEPTION 'fraud flag % holds no points any more', f.flag_no
				USING ERRCODE = '55000',
					  DETAIL = 'A refund took the held points back.',
					  HINT = 'Close it with the decision dismiss.';
		END IF;
	END IF;

	IF review.decision OPERATOR(pg_catalog.=) 'release' THEN
		new_status := 'released';
		later := f.release_at IS NOT NULL AND f.release_at OPERATOR(pg_catalog.>) pg_catalog.now();
		IF later THEN
			-- Still in the return window: the regular release takes it at its time.
			UPDATE @extschema@.lot l SET available_at = f.release_at
			 WHERE l.customer_id OPERATOR(pg_catalog.=) f.customer_id
			   AND l.program_id OPERATOR(pg_catalog.=) f.program_id
			   AND l.lot_no OPERATOR(pg_catalog.=) f.lot_no;
		ELSE
			kind := 'release';
			-- Released points repay a debt first, as every release does.
			repay := LEAST(held_now, GREATEST(OPERATOR(pg_catalog.-) acct.available, 0));
			UPDATE @extschema@.lot l SET pending = false, available_at = pg_catalog.now(),
				remaining = l.remaining OPERATOR(pg_catalog.-) repay,
				expires_at = CASE WHEN l.expires_at IS NOT NULL THEN GREATEST(l.expires_at,
					COALESCE(@extschema@.lot_expiry(l.program_id, pg_catalog.now()),
							 l.expires_at OPERATOR(pg_catalog.+)
								(pg_catalog.now() OPERATOR(pg_catalog.-) l.earned_at))) END
			 WHERE l.customer_id OPERATOR(pg_catalog.=) f.customer_id
			   AND l.program_id OPERATOR(pg_catalog.=) f.program_id
			   AND l.lot_no OPERATOR(pg_catalog.=) f.lot_no
			   AND l.pending AND l.available_at IS NULL
			RETURNING l.expires_at INTO expires;
			d_avail := held_now;
			d_pending := OPERATOR(pg_catalog.-) held_now;
		END IF;
		-- Held, the points counted toward no tier; released, they count now,
		-- at the month of the order (or earning), and may move the member up.
		IF f.order_key IS NOT NULL THEN
			UPDATE @extschema@.order_accrual o SET held = false, updated_at = pg_catalog.now()
			 WHERE o.customer_id OPERATOR(pg_catalog.=) f.customer_id
			   AND o.program_id OPERATOR(pg_catalog.=) f.program_id
			   AND o.source_id OPERATOR(pg_catalog.=) f.source_id
			   AND o.order_key OPERATOR(pg_catalog.=) f.order_key
			   AND o.held
			RETURNING o.ordered_at, o.points, o.net_amount INTO released;
			IF FOUND THEN
				PERFORM @extschema@.count_released(f.customer_id, f.program_id,
					released.ordered_at, released.points, released.net_amount);
			END IF;
		ELSE
			PERFORM @extschema@.count_released(f.customer_id, f.program_id, lot.earned_at,
				lot.points, NULL);
		END IF;
	ELSIF review.decision OPERATOR(pg_catalog.=) 'void' THEN
		new_status := 'voided';
		UPDATE @extschema@.lot l SET remaining = 0, pending = false
		 WHERE l.customer_id OPERATOR(pg_catalog.=) f.customer_id
		   AND l.program_id OPERATOR(pg_catalog.=) f.program_id
		   AND l.lot_no OPERATOR(pg_catalog.=) f.lot_no
		   AND l.pending AND l.available_at IS NULL;
		d_pending := OPERATOR(pg_catalog.-) held_now;
		-- The order no longer holds the points: a later refund takes nothing.
		IF f.order_key IS NOT NULL THEN
			UPDATE @extschema@.order_accrual o SET held = false,
				points = GREATEST(o.points OPERATOR(pg_catalog.-) held_now, 0),
				earned_points = GREATEST(o.earned_points OPERATOR(pg_catalog.-) held_now, 0),
				voided_at = pg_catalog.now(), updated_at = pg_catalog.now()
			 WHERE o.customer_id OPERATOR(pg_catalog.=) f.customer_id
			   AND o.program_id OPERATOR(pg_catalog.=) f.program_id
			   AND o.source_id OPERATOR(pg_catalog.=) f.source_id
			   AND o.order_key OPERATOR(pg_catalog.=) f.order_key;
		END IF;
	ELSE
		new_status := 'dismissed';
		-- A hold a refund emptied: closed, it holds the order no more, so
		-- points the order earns again (the refund undone, the amount raised)
		-- are the order's own, not added to a hold nobody can decide on.
		IF f.action OPERATOR(pg_catalog.=) 'hold' THEN
			UPDATE @extschema@.lot l SET pending = false
			 WHERE l.customer_id OPERATOR(pg_catalog.=) f.customer_id
			   AND l.program_id OPERATOR(pg_catalog.=) f.program_id
			   AND l.lot_no OPERATOR(pg_catalog.=) f.lot_no
			   AND l.pending AND l.available_at IS NULL;
			IF f.order_key IS NOT NULL THEN
				UPDATE @extschema@.order_accrual o SET held = false, updated_at = pg_catalog.now()
				 WHERE o.customer_id OPERATOR(pg_catalog.=) f.customer_id
				   AND o.program_id OPERATOR(pg_catalog.=) f.program_id
				   AND o.source_id OPERATOR(pg_catalog.=) f.source_id
				   AND o.order_key OPERATOR(pg_catalog.=) f.order_key
				   AND o.held;
			END IF;
		END IF;
	END IF;

	UPDATE @extschema@.account a SET
		available = a.available OPERATOR(pg_catalog.+) d_avail,
		pending = a.pending OPERATOR(pg_catalog.+) d_pending,
		last_entry_no = a.last_entry_no OPERATOR(pg_catalog.+) 1,
		last_activity_at = CASE WHEN kind OPERATOR(pg_catalog.=) 'release'
			THEN GREATEST(a.last_activity_at, pg_catalog.now()) ELSE a.last_activity_at END,
		updated_at = pg_catalog.now()
	 WHERE a.customer_id OPERATOR(pg_catalog.=) f.customer_id
	   AND a.program_id OPERATOR(pg_catalog.=) f.program_id
	RETURNING a.* INTO acct;
	INSERT INTO @extschema@.ledger (customer_id, program_id, entry_no, kind, points,
		pending_points, available_after, pending_after, reason, reference, actor, db_role, detail)
	VALUES (f.customer_id, f.program_id, acct.last_entry_no, kind, d_avail, d_pending,
		acct.available, acct.pending,
		pg_catalog.format('fraud review: %s flag %s (%s): %s', review.decision, f.flag_no,
			f.check_name, review.note),
		f.reference, who, SESSION_USER,
		pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('flag_no', f.flag_no,
			'check', f.check_name, 'decision', review.decision, 'held_points', held_now,
			'repaid_debt', NULLIF(repay, 0),
			'available_at', CASE WHEN later THEN f.release_at END,
			'expires_at', expires)));

	UPDATE @extschema@.fraud_flag x SET status = new_status, reviewed_at = pg_catalog.now(),
		reviewed_by = who, review_note = review.note, review_entry_no = acct.last_entry_no
	 WHERE x.customer_id OPERATOR(pg_catalog.=) f.customer_id
	   AND x.program_id OPERATOR(pg_catalog.=) f.program_id
	   AND x.flag_no OPERATOR(pg_catalog.=) f.flag_no
	RETURNING x.* INTO result;
	RETURN result;
END
$$;

-- The review queue: open flags and holds, oldest first.
CREATE VIEW @extschema@.fraud_queue AS
	SELECT p.code AS program, f.customer_id, f.flag_no, f.check_name, f.action,
		   f.measured, f.threshold, f.reference, f.order_key,
		   CASE WHEN l.pending AND l.available_at IS NULL THEN l.remaining ELSE 0 END AS held_points,
		   f.detail, f.created_at
	  FROM @extschema@.fraud_flag f
	  JOIN @extschema@.program p ON p.program_id OPERATOR(pg_catalog.=) f.program_id
	  LEFT JOIN @extschema@.lot l ON l.customer_id OPERATOR(pg_catalog.=) f.customer_id
								 AND l.program_id OPERATOR(pg_catalog.=) f.program_id
								 AND l.lot_no OPERATOR(pg_catalog.=) f.lot_no
	 WHERE f.status OPERATOR(pg_catalog.=) 'open'
	 ORDER BY f.created_at, f.program_id, f.customer_id, f.flag_no;

COMMENT ON VIEW @extschema@.fraud_queue IS
	'open fraud flags and holds, oldest first: what triggered them and the points still held';
COMMENT ON FUNCTION @extschema@.set_fraud_check(text, text, text, bigint, bigint, interval)
	IS 'turn a fraud check on with action flag, hold or reject (and its thresholds and window), or off';
COMMENT ON FUNCTION @extschema@.set_identity(text, bigint, text, text)
	IS 'set a member''s e-mail and/or phone, stored as salted hashes only; a change stamps profile_changed_at';
COMMENT ON FUNCTION @extschema@.review(text, bigint, bigint, text, text, text)
	IS 'decide on a fraud flag: release or void its held points, or dismiss it; writes a ledger entry with the reviewer';
COMMENT ON FUNCTION @extschema@.record_flag(bigint, integer, bigint, text, text, bigint, bigint, text, integer, text, bigint, bigint, bigint, timestamptz, jsonb)
	IS 'internal: write a numbered fraud flag and its fraud_flagged event';
COMMENT ON FUNCTION @extschema@.raise_flag(bigint, integer, text, bigint, bigint, text, jsonb)
	IS 'internal: number and write a fraud flag under the member''s account lock';
COMMENT ON FUNCTION @extschema@.check_shared_identity(bigint, integer, text, @extschema@.card, bytea)
	IS 'internal: the shared_identity and self_referral checks of one member and identity';
COMMENT ON FUNCTION @extschema@.lot_expiry(integer, timestamptz)
	IS 'internal: when points a program''s members earn at earned_at expire under its policy (NULL: not by date)';
COMMENT ON FUNCTION @extschema@.count_released(bigint, integer, timestamptz, bigint, numeric)
	IS 'internal: count released held points toward the member''s tier (net_amount NULL: an earning, not an order)';
COMMENT ON FUNCTION @extschema@.has_identity_checks(integer)
	IS 'internal: whether a program (NULL: any program) has an identity check on';
COMMENT ON FUNCTION @extschema@.check_new_members()
	IS 'internal: the card checks of newly enrolled members';
COMMENT ON FUNCTION @extschema@.check_card_change()
	IS 'internal: the card checks of a member whose card changed';
COMMENT ON FUNCTION @extschema@.identity_hash(integer, text, text)
	IS 'internal: the salted hash of a normalized e-mail or phone';

REVOKE ALL ON FUNCTION
	@extschema@.set_fraud_check(text, text, text, bigint, bigint, interval),
	@extschema@.set_identity(text, bigint, text, text),
	@extschema@.review(text, bigint, bigint, text, text, text),
	@extschema@.record_flag(bigint, integer, bigint, text, text, bigint, bigint, text, integer, text, bigint, bigint, bigint, timestamptz, jsonb),
	@extschema@.raise_flag(bigint, integer, text, bigint, bigint, text, jsonb),
	@extschema@.check_shared_identity(bigint, integer, text, @extschema@.card, bytea),
	@extschema@.has_identity_checks(integer),
	@extschema@.count_released(bigint, integer, timestamptz, bigint, numeric),
	@extschema@.lot_expiry(integer, timestamptz),
	@extschema@.check_new_members(),
	@extschema@.check_card_change(),
	@extschema@.identity_hash(integer, text, text)
FROM PUBLIC;
