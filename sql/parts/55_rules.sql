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
--   birthday_bonus		bonus_points (orders in the member's birthday month;
--						the order paths pay it once a year, 86_birthday.sql)
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
