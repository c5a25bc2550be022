\i test/setup.sql
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(136);
SET search_path = loyalty, public;

-- Helpers: what error a statement raises, if any.
CREATE FUNCTION pg_temp.sqlstate_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN NULL;
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END $$;
CREATE FUNCTION pg_temp.detail_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	EXECUTE sql;
	RETURN NULL;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN detail;
END $$;
CREATE FUNCTION pg_temp.hint_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	hint text;
BEGIN
	EXECUTE sql;
	RETURN NULL;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
	RETURN hint;
END $$;
-- The lines of a statement's plan.
CREATE FUNCTION pg_temp.plan_of(sql text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || sql;
END $$;
-- Runs a one-value query as another role; its value, or ERROR and the SQLSTATE.
CREATE FUNCTION pg_temp.as_role(role_name text, sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	result text;
BEGIN
	EXECUTE format('SET LOCAL ROLE %I', role_name);
	BEGIN
		EXECUTE sql INTO result;
	EXCEPTION WHEN OTHERS THEN
		result := 'ERROR ' || SQLSTATE;
	END;
	RESET ROLE;
	RETURN result;
END $$;

-- The type.
SELECT has_type('loyalty', 'card', 'type loyalty.card exists');
SELECT is((SELECT typbyval AND typlen = 8 FROM pg_type WHERE oid = 'loyalty.card'::regtype),
	true, 'a card is stored pass-by-value in 8 bytes');

-- Text input in its three forms, and output.
SELECT is('6042000000000015'::card::text, '6042000000000015', 'plain 16 digits are accepted');
SELECT is('6042 0000 0000 0015'::card::text, '6042000000000015',
	'digits grouped with single spaces are accepted and output plain');
SELECT is('6042-0000-0000-0015'::card::text, '6042000000000015',
	'digits grouped with single hyphens are accepted and output plain');
SELECT is(E' \t6042 0000 0000 0015\n '::card::text, '6042000000000015',
	'white space around the number is ignored');
SELECT is('60420000-00000015'::card::text, '6042000000000015',
	'groups need not be of four digits');
SELECT is('0000000000000018'::card::text, '0000000000000018', 'leading zeros survive output');
SELECT is('0000 0000 0000 0026'::card::text, '0000000000000026', 'grouped leading zeros survive output');
SELECT is('0000000000000000'::card::text, '0000000000000000', 'sixteen zeros is a card number');
SELECT is('9999999999999995'::card::text, '9999999999999995', 'the largest card number is accepted');
SELECT is('0000079927398713'::card::text, '0000079927398713', 'the classic Luhn example 79927398713 is accepted');
SELECT ok('6042 0000 0000 0015'::card = '6042-0000-0000-0015'::card
	AND '6042-0000-0000-0015'::card = '6042000000000015'::card,
	'the three forms of one number are equal');
SELECT is(NULL::text::card, NULL, 'a null text is a null card');

-- Invalid text input: each class, with its message, detail and hint.
SELECT throws_ok($$SELECT '6042 0000 0000 001x'::loyalty.card$$, '22P02',
	'invalid input syntax for type card: "6042 0000 0000 001x"', 'a letter is rejected');
SELECT is(pg_temp.detail_of($$SELECT '6042 0000 0000 001x'::loyalty.card$$),
	'Unexpected character "x" at position 19.', 'the detail names the letter and its position');
SELECT throws_ok($$SELECT '6042.0000.0000.0015'::loyalty.card$$, '22P02',
	'invalid input syntax for type card: "6042.0000.0000.0015"', 'a dot is rejected');
SELECT is(pg_temp.detail_of($$SELECT '6042.0000.0000.0015'::loyalty.card$$),
	'Unexpected character "." at position 5.', 'the detail names the dot and its position');
SELECT is(pg_temp.hint_of($$SELECT '6042.0000.0000.0015'::loyalty.card$$),
	'A card number is 16 digits, optionally grouped with single spaces or hyphens.',
	'the hint for a bad character tells the accepted form');
SELECT throws_ok($$SELECT '+6042000000000015'::loyalty.card$$, '22P02',
	'invalid input syntax for type card: "+6042000000000015"', 'a sign is rejected');
SELECT throws_ok($$SELECT '6042 0000 0000 00é5'::loyalty.card$$, '22P02',
	'invalid input syntax for type card: "6042 0000 0000 00é5"', 'a non-ASCII letter is rejected');
SELECT throws_ok($$SELECT '6042  0000 0000 0015'::loyalty.card$$, '22P02',
	'invalid input syntax for type card: "6042  0000 0000 0015"', 'a doubled space is rejected');
SELECT is(pg_temp.detail_of($$SELECT '6042  0000 0000 0015'::loyalty.card$$),
	'Separator " " at position 6 does not stand between two digits.',
	'the detail names the second space of a doubled space');
SELECT throws_ok($$SELECT '-6042000000000015'::loyalty.card$$, '22P02',
	'invalid input syntax for type card: "-6042000000000015"', 'a leading hyphen is rejected');
SELECT is(pg_temp.detail_of($$SELECT '-6042000000000015'::loyalty.card$$),
	'Separator "-" at position 1 does not stand between two digits.',
	'the detail names the leading hyphen');
SELECT throws_ok($$SELECT '6042-0000-0000-0015-'::loyalty.card$$, '22P02',
	'invalid input syntax for type card: "6042-0000-0000-0015-"', 'a trailing hyphen is rejected');
SELECT throws_ok($$SELECT '6042 0000-0000 0015'::loyalty.card$$, '22P02',
	'invalid input syntax for type card: "6042 0000-0000 0015"', 'mixed spaces and hyphens are rejected');
SELECT is(pg_temp.detail_of($$SELECT '6042 0000-0000 0015'::loyalty.card$$),
	'Separator "-" at position 10 differs from the first separator " ".',
	'the detail names the separator that differs');
SELECT throws_ok($$SELECT '604200000000001'::loyalty.card$$, '22P02',
	'invalid input syntax for type card: "604200000000001"', '15 digits are rejected');
SELECT is(pg_temp.detail_of($$SELECT '604200000000001'::loyalty.card$$),
	'A card number has 16 digits; got 15.', 'the detail counts 15 digits');
SELECT throws_ok($$SELECT '6042 0000 0000 0015 1'::loyalty.card$$, '22P02',
	'invalid input syntax for type card: "6042 0000 0000 0015 1"', '17 digits are rejected');
SELECT is(pg_temp.detail_of($$SELECT '6042 0000 0000 0015 1'::loyalty.card$$),
	'A card number has 16 digits; got 17.', 'the detail counts 17 digits, not separators');
SELECT throws_ok($$SELECT ''::loyalty.card$$, '22P02',
	'invalid input syntax for type card: ""', 'an empty string is rejected');
SELECT is(pg_temp.detail_of($$SELECT '   '::loyalty.card$$),
	'A card number has 16 digits; got 0.', 'white space alone counts no digits');
SELECT throws_ok($$SELECT '6042000000000012'::loyalty.card$$, '22P02',
	'invalid input syntax for type card: "6042000000000012"', 'a wrong check digit is rejected');
SELECT is(pg_temp.detail_of($$SELECT '6042000000000012'::loyalty.card$$),
	'The check digit should be 5.', 'the detail gives the expected check digit');
SELECT is(pg_temp.hint_of($$SELECT '6042000000000012'::loyalty.card$$),
	'Check the number for a typing error.', 'the hint for a wrong check digit suggests a typing error');
SELECT throws_ok($$SELECT '6042 0000 0000 0051'::loyalty.card$$, '22P02',
	'invalid input syntax for type card: "6042 0000 0000 0051"', 'two swapped digits are caught');
SELECT is(pg_temp.detail_of($$SELECT '0000 0000 0000 0019'::loyalty.card$$),
	'The check digit should be 8.', 'the check digit is verified for a number with leading zeros');

-- card_is_valid: the same verdict as the input function, without raising.
SELECT is(card_is_valid('6042 0000 0000 0015'), true, 'card_is_valid accepts a grouped number');
SELECT is(card_is_valid('6042000000000012'), false, 'card_is_valid rejects a wrong check digit');
SELECT is(card_is_valid('60420000000000'), false, 'card_is_valid rejects a short number');
SELECT is(card_is_valid('abc'), false, 'card_is_valid rejects letters');
SELECT is(card_is_valid(NULL), NULL, 'card_is_valid of null is null');
SELECT is_empty($$
	SELECT s
	  FROM (VALUES ('6042000000000015'), ('6042 0000 0000 0015'), ('6042-0000-0000-0015'),
				   ('  0000000000000018 '), ('0000000000000000'), ('6042000000000012'),
				   ('6042  0000 0000 0015'), ('6042 0000-0000 0015'), ('-6042000000000015'),
				   ('604200000000001'), (''), ('6042.0000.0000.0015'), ('60420000000000150'),
				   ('9999999999999995'), ('9999999999999999'), ('6042-0000-0000-0015-')) AS v(s)
	 WHERE loyalty.card_is_valid(s)
		   IS DISTINCT FROM (pg_temp.sqlstate_of(format('SELECT %L::loyalty.card', s)) IS NULL)
$$, 'card_is_valid is true exactly when the input function accepts the text');

-- card_check_digit.
SELECT is(card_check_digit('000007992739871'), 3, 'the check digit of the classic Luhn example is 3');
SELECT is(card_check_digit('604200000000001'), 5, 'the check digit of 604200000000001 is 5');
SELECT is(card_check_digit('453201511283036'), 6, 'the check digit of 453201511283036 is 6');
SELECT is(card_check_digit('000000000000000'), 0, 'the check digit of fifteen zeros is 0');
SELECT is(card_check_digit('999999999999999'), 5, 'the check digit of fifteen nines is 5');
CREATE TEMP TABLE bodies AS
	SELECT lpad(((i::numeric * 982451653 + 12345) * 1000003 % 1000000000000000)::text, 15, '0') AS body
	  FROM generate_series(1, 500) AS i;
-- Luhn computed independently: from the right, double every other digit
-- starting with the last, add the digits of the products.
CREATE TEMP TABLE luhn AS
	SELECT b.body,
		   (10 - sum(CASE WHEN pos % 2 = 1 THEN (d * 2) / 10 + (d * 2) % 10 ELSE d END) % 10) % 10
		   AS check_digit
	  FROM bodies AS b,
		   LATERAL (SELECT pos, substr(reverse(b.body), pos, 1)::int AS d
					  FROM generate_series(1, 15) AS pos) AS digits
	 GROUP BY b.body;
SELECT is((SELECT count(*) FROM luhn), 500::bigint, '500 distinct bodies to check');
SELECT is_empty($$SELECT body FROM luhn WHERE loyalty.card_check_digit(body) <> check_digit$$,
	'card_check_digit agrees with an independent Luhn computation');
SELECT is_empty($$SELECT body FROM luhn WHERE NOT loyalty.card_is_valid(body || check_digit)$$,
	'every body followed by its check digit is a valid card');
SELECT is_empty($$SELECT body, d FROM luhn CROSS JOIN generate_series(0, 9) AS d
				   WHERE d <> check_digit AND loyalty.card_is_valid(body || d)$$,
	'no body followed by any other digit is a valid card');
SELECT throws_ok($$SELECT loyalty.card_check_digit('60420000000000a')$$, '22P02',
	'invalid input syntax for card number body: "60420000000000a"', 'card_check_digit rejects a letter');
SELECT is(pg_temp.detail_of($$SELECT loyalty.card_check_digit('60420000000000a')$$),
	'Unexpected character "a" at position 15.', 'the detail names the letter');
SELECT throws_ok($$SELECT loyalty.card_check_digit('6042 0000 0000 001')$$, '22P02',
	'invalid input syntax for card number body: "6042 0000 0000 001"', 'card_check_digit rejects separators');
SELECT throws_ok($$SELECT loyalty.card_check_digit('6042')$$, '22P02',
	'invalid input syntax for card number body: "6042"', 'card_check_digit rejects a short body');
SELECT is(pg_temp.detail_of($$SELECT loyalty.card_check_digit('6042000000000015')$$),
	'A card number body has 15 digits; got 16.', 'card_check_digit rejects a whole card number');

-- Comparison operators follow the numeric order of the number.
SELECT ok('0000000000000018'::card < '6042000000000015'::card, 'a number with leading zeros sorts first');
CREATE TEMP TABLE pairs AS
	SELECT a.c AS a, b.c AS b
	  FROM (VALUES ('0000000000000018'::card), ('0000000000000026'), ('6042000000000015'),
				   ('6042000000000023'), ('9999999999999995')) AS a(c),
		   (VALUES ('0000000000000018'::card), ('0000000000000026'), ('6042000000000015'),
				   ('6042000000000023'), ('9999999999999995')) AS b(c);
SELECT is_empty($$
	SELECT a, b FROM pairs
	 WHERE (a = b) <> (a::bigint = b::bigint) OR (a <> b) <> (a::bigint <> b::bigint)
		OR (a < b) <> (a::bigint < b::bigint) OR (a <= b) <> (a::bigint <= b::bigint)
		OR (a > b) <> (a::bigint > b::bigint) OR (a >= b) <> (a::bigint >= b::bigint)
		OR sign(card_cmp(a, b)) <> sign(a::bigint - b::bigint)
$$, 'all six operators and card_cmp agree with the order of the numbers');
SELECT is((SELECT count(*) FROM pairs WHERE a = b), 5::bigint, 'each number equals itself only');
SELECT is(
	(SELECT oprcanhash AND oprcanmerge
			AND oprcom = oid AND oprnegate = 'loyalty.<>(loyalty.card, loyalty.card)'::regoperator
			AND oprrest = 'eqsel'::regproc AND oprjoin = 'eqjoinsel'::regproc
	   FROM pg_operator WHERE oid = 'loyalty.=(loyalty.card, loyalty.card)'::regoperator),
	true, '= hashes, merges, is its own commutator, negates <> and estimates with eqsel');
SELECT is(
	(SELECT oprcom = 'loyalty.>(loyalty.card, loyalty.card)'::regoperator
			AND oprnegate = 'loyalty.>=(loyalty.card, loyalty.card)'::regoperator
			AND oprrest = 'scalarltsel'::regproc
	   FROM pg_operator WHERE oid = 'loyalty.<(loyalty.card, loyalty.card)'::regoperator),
	true, '< commutes with >, negates >= and estimates with scalarltsel');

-- A btree index: equality, ranges, order, uniqueness.
CREATE TEMP TABLE cards AS
	SELECT (body || check_digit)::card AS c FROM luhn
	UNION ALL SELECT '6042000000000015'
	UNION ALL SELECT '0000000000000018';
CREATE INDEX cards_c_btree ON cards (c);
ANALYZE cards;
SET enable_seqscan = off;
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.plan_of($$SELECT c FROM cards WHERE c = '6042 0000 0000 0015'$$) AS l
				   WHERE l ~ 'cards_c_btree'),
	'an equality search on a card uses the btree index');
SELECT is((SELECT c::text FROM cards WHERE c = '6042 0000 0000 0015'), '6042000000000015',
	'the btree index finds a number given in grouped form');
SELECT is((SELECT count(*) FROM cards WHERE c BETWEEN '1000000000000008' AND '5000000000000009'),
	(SELECT count(*) FROM cards WHERE c::bigint BETWEEN 1000000000000008 AND 5000000000000009),
	'a range search through the btree index finds the same rows as on the numbers');
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.plan_of($$SELECT c FROM cards ORDER BY c$$) AS l
				   WHERE l ~ 'Index (Only )?Scan using cards_c_btree'),
	'ORDER BY a card reads the btree index in order');
SELECT results_eq($$SELECT c::text FROM cards ORDER BY c$$,
	$$SELECT c::text FROM cards ORDER BY c::bigint$$,
	'btree order is the numeric order');
SELECT results_eq($$SELECT c::text FROM cards ORDER BY c DESC$$,
	$$SELECT c::text FROM cards ORDER BY c::text COLLATE "C" DESC$$,
	'btree order is the order of the 16-digit text');
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
SET enable_bitmapscan = off;
SET enable_seqscan = on;
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.plan_of($$SELECT c FROM cards ORDER BY c$$) AS l
				   WHERE l ~ 'Sort'), 'without the index a Sort node orders cards');
SELECT results_eq($$SELECT c::text FROM cards ORDER BY c$$,
	$$SELECT c::text FROM cards ORDER BY c::bigint$$,
	'sorting without the index gives the numeric order');
RESET enable_indexscan;
RESET enable_indexonlyscan;
RESET enable_bitmapscan;
CREATE TEMP TABLE members (c card UNIQUE);
INSERT INTO members VALUES ('6042000000000015');
SELECT throws_ok($$INSERT INTO members VALUES ('6042-0000-0000-0015')$$, '23505', NULL,
	'a unique index rejects the same number in another form');

-- A hash index, hash joins and merge joins.
DROP INDEX cards_c_btree;
CREATE INDEX cards_c_hash ON cards USING hash (c);
ANALYZE cards;
SET enable_seqscan = off;
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.plan_of($$SELECT c FROM cards WHERE c = '6042000000000015'$$) AS l
				   WHERE l ~ 'cards_c_hash'),
	'an equality search on a card uses the hash index');
SELECT is((SELECT count(*) FROM cards WHERE c = '6042000000000015'), 1::bigint,
	'the hash index finds the number');
SELECT is((SELECT count(*) FROM cards WHERE c = '6042000000000023'), 0::bigint,
	'the hash index does not find an absent number');
RESET enable_seqscan;
SELECT is_empty($$SELECT c FROM cards
				   WHERE card_hash(c) <> hashint8(c::bigint)
					  OR card_hash_extended(c, 42) <> hashint8extended(c::bigint, 42)$$,
	'card_hash and card_hash_extended equal hashint8 and hashint8extended of the number');
CREATE TEMP TABLE wanted AS
	SELECT c FROM cards WHERE c::bigint % 7 = 0
	UNION ALL SELECT '6042000000000023';
ANALYZE wanted;
SET enable_mergejoin = off;
SET enable_nestloop = off;
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.plan_of($$SELECT * FROM cards JOIN wanted USING (c)$$) AS l
				   WHERE l ~ 'Hash Join'), 'a join on cards can be a hash join');
SELECT is((SELECT count(*) FROM cards JOIN wanted USING (c)),
	(SELECT count(*) FROM cards WHERE c::bigint % 7 = 0),
	'the hash join matches every equal number');
RESET enable_mergejoin;
SET enable_hashjoin = off;
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.plan_of($$SELECT * FROM cards JOIN wanted USING (c)$$) AS l
				   WHERE l ~ 'Merge Join'), 'a join on cards can be a merge join');
SELECT is((SELECT count(*) FROM cards JOIN wanted USING (c)),
	(SELECT count(*) FROM cards WHERE c::bigint % 7 = 0),
	'the merge join matches every equal number');
RESET enable_hashjoin;
RESET enable_nestloop;

-- Casts.
CREATE TEMP TABLE cast_target (c card, t text, b bigint);
SELECT lives_ok($$INSERT INTO cast_target (c) SELECT '6042 0000 0000 0015'::text$$,
	'text is assigned to a card column');
SELECT lives_ok($$INSERT INTO cast_target (t, b) SELECT c, c FROM cards WHERE c = '0000000000000018'$$,
	'a card is assigned to text and bigint columns');
SELECT results_eq($$SELECT c::text, t, b FROM cast_target ORDER BY c NULLS LAST$$,
	$$VALUES ('6042000000000015'::text, NULL::text, NULL::bigint),
			 (NULL, '0000000000000018', 18)$$,
	'assignment casts keep the number, with leading zeros in text');
SELECT throws_ok($$SELECT '6042000000000015'::text = '6042000000000015'::loyalty.card$$, '42883', NULL,
	'text does not compare to a card without a cast');
SELECT is(6042000000000015::bigint::card::text, '6042000000000015', 'a bigint casts to a card');
SELECT is(18::bigint::card::text, '0000000000000018', 'a small bigint casts to a zero-padded card');
SELECT is('6042000000000015'::card::bigint, 6042000000000015::bigint, 'a card casts to a bigint');
SELECT throws_ok($$INSERT INTO cast_target (c) VALUES (6042000000000015::bigint)$$, '42804', NULL,
	'a bigint is not assigned to a card column without an explicit cast');
SELECT throws_ok($$SELECT (-15)::bigint::loyalty.card$$, '22003', 'card number out of range',
	'a negative bigint is not a card');
SELECT is(pg_temp.detail_of($$SELECT (-15)::bigint::loyalty.card$$),
	'A card number cannot be negative; got -15.', 'the detail says the number is negative');
SELECT throws_ok($$SELECT 60420000000000150::loyalty.card$$, '22003', 'card number out of range',
	'a 17-digit bigint is not a card');
SELECT is(pg_temp.detail_of($$SELECT 60420000000000150::loyalty.card$$),
	'A card number has at most 16 digits; got 60420000000000150.', 'the detail says there are too many digits');
SELECT throws_ok($$SELECT 6042000000000012::loyalty.card$$, '22P02',
	'invalid check digit in card number 6042000000000012', 'a bigint with a wrong check digit is not a card');
SELECT is(pg_temp.detail_of($$SELECT 6042000000000012::loyalty.card$$),
	'The check digit should be 5.', 'the detail gives the expected check digit');
SELECT throws_ok($$SELECT 19::bigint::loyalty.card$$, '22P02',
	'invalid check digit in card number 0000000000000019', 'the message shows a small number zero-padded');

-- Binary send and receive.
CREATE TEMP TABLE bin_src AS SELECT c FROM cards ORDER BY c LIMIT 50;
CREATE TEMP TABLE bin_dst (c card);
CREATE TEMP TABLE bin_int8 (b bigint);
\copy bin_src TO '/tmp/loyalty_card.bin' WITH (FORMAT binary)
\copy bin_dst FROM '/tmp/loyalty_card.bin' WITH (FORMAT binary)
\copy bin_int8 FROM '/tmp/loyalty_card.bin' WITH (FORMAT binary)
\! rm -f /tmp/loyalty_card.bin
SELECT results_eq($$SELECT c::text FROM bin_dst ORDER BY c$$, $$SELECT c::text FROM bin_src ORDER BY c$$,
	'cards survive a binary COPY round trip, leading zeros included');
SELECT results_eq($$SELECT b FROM bin_int8 ORDER BY b$$, $$SELECT c::bigint FROM bin_src ORDER BY c$$,
	'a card is sent as an int8');
COPY (SELECT 6042000000000012::bigint) TO '/tmp/loyalty_card_bad_check.bin' WITH (FORMAT binary);
COPY (SELECT (-18)::bigint) TO '/tmp/loyalty_card_negative.bin' WITH (FORMAT binary);
COPY (SELECT 60420000000000150::bigint) TO '/tmp/loyalty_card_too_long.bin' WITH (FORMAT binary);
SELECT throws_ok($$COPY bin_dst FROM '/tmp/loyalty_card_bad_check.bin' WITH (FORMAT binary)$$, '22P03',
	'invalid external card value', 'binary input with a wrong check digit is rejected');
SELECT is(pg_temp.detail_of($$COPY bin_dst FROM '/tmp/loyalty_card_bad_check.bin' WITH (FORMAT binary)$$),
	'The check digit of 6042000000000012 should be 5.', 'the detail gives the expected check digit');
SELECT throws_ok($$COPY bin_dst FROM '/tmp/loyalty_card_negative.bin' WITH (FORMAT binary)$$, '22P03',
	'invalid external card value', 'a negative binary value is rejected');
SELECT throws_ok($$COPY bin_dst FROM '/tmp/loyalty_card_too_long.bin' WITH (FORMAT binary)$$, '22P03',
	'invalid external card value', 'a binary value of 17 digits is rejected');
SELECT is(pg_temp.detail_of($$COPY bin_dst FROM '/tmp/loyalty_card_too_long.bin' WITH (FORMAT binary)$$),
	'The value 60420000000000150 is not a number of at most 16 digits.', 'the detail shows the value');

-- card_issue.
SELECT is(card_issue('6042')::text, '6042000000000015', 'the first number of a prefix has serial 1');
SELECT is(card_issue('6042')::text, '6042000000000023', 'the next number has the next serial');
SELECT is(card_issue(prefix => '6042')::text, '6042000000000031', 'and the next, with a named argument');
SELECT is((SELECT last_serial FROM card_counter WHERE prefix = '6042'), 3::bigint,
	'the counter holds the last serial issued');
SELECT is(card_issue('0')::text, '0000000000000018', 'a prefix of zeros gives a number with leading zeros');
SELECT is(card_issue('123456789012')::text, '1234567890120011', 'a 12-digit prefix leaves a 3-digit serial');
SELECT is_empty($$SELECT n FROM (SELECT loyalty.card_issue('77')::text AS n FROM generate_series(1, 20)) AS s
				   WHERE NOT loyalty.card_is_valid(n)$$,
	'every issued number is valid');
SELECT is((SELECT count(DISTINCT n) FROM (SELECT card_issue('78') AS n FROM generate_series(1, 20)) AS s),
	20::bigint, 'issued numbers are distinct');
UPDATE card_counter SET last_serial = 998 WHERE prefix = '123456789012';
SELECT is(card_issue('123456789012')::text, '1234567890129996', 'the last serial of a prefix is issued');
SELECT throws_ok($$SELECT loyalty.card_issue('123456789012')$$, '22003',
	'no card numbers left for prefix "123456789012"', 'an exhausted prefix raises an error');
SELECT is(pg_temp.detail_of($$SELECT loyalty.card_issue('123456789012')$$),
	'All 999 serial numbers of prefix "123456789012" have been issued.', 'the detail says how many were issued');
SELECT is((SELECT last_serial FROM card_counter WHERE prefix = '123456789012'), 999::bigint,
	'a failed issue does not move the counter');
SELECT throws_ok($$SELECT loyalty.card_issue(NULL)$$, '22023', 'invalid card prefix: NULL',
	'a null prefix is rejected');
SELECT throws_ok($$SELECT loyalty.card_issue('')$$, '22023', 'invalid card prefix: ""',
	'an empty prefix is rejected');
SELECT throws_ok($$SELECT loyalty.card_issue('60a2')$$, '22023', 'invalid card prefix: "60a2"',
	'a prefix with a letter is rejected');
SELECT throws_ok($$SELECT loyalty.card_issue(' 6042')$$, '22023', 'invalid card prefix: " 6042"',
	'a prefix with a space is rejected');
SELECT throws_ok($$SELECT loyalty.card_issue('1234567890123')$$, '22023', 'invalid card prefix: "1234567890123"',
	'a 13-digit prefix is rejected');
SELECT is(pg_temp.detail_of($$SELECT loyalty.card_issue('1234567890123')$$),
	'A card prefix has 1 to 12 digits; got 13.', 'the detail counts the digits of the prefix');
SELECT is(pg_temp.hint_of($$SELECT loyalty.card_issue('60a2')$$),
	'A card prefix is 1 to 12 digits, such as ''6042''.', 'the hint tells the form of a prefix');
SELECT throws_ok($$SELECT loyalty.card_issue('604')$$, '22023', 'invalid card prefix: "604"',
	'a prefix that begins a prefix in use is rejected');
SELECT throws_ok($$SELECT loyalty.card_issue('60421')$$, '22023', 'invalid card prefix: "60421"',
	'a prefix that extends a prefix in use is rejected');
SELECT is(pg_temp.detail_of($$SELECT loyalty.card_issue('60421')$$),
	'Numbers are already issued under prefix "6042", and numbers of the two prefixes could collide.',
	'the detail names the overlapping prefix');

-- card_issue is a definer function for granted roles only.
SELECT is_definer('loyalty', 'card_issue', ARRAY['text'], 'card_issue is SECURITY DEFINER');
SELECT ok((SELECT proconfig @> ARRAY['search_path=pg_catalog, pg_temp']
			 FROM pg_proc WHERE oid = 'loyalty.card_issue(text)'::regprocedure),
	'card_issue pins its search_path');
SELECT ok(NOT has_function_privilege('public', 'loyalty.card_issue(text)', 'EXECUTE'),
	'PUBLIC may not issue card numbers');
SELECT ok(has_function_privilege('public', 'loyalty.card_in(cstring)', 'EXECUTE')
		  AND has_function_privilege('public', 'loyalty.card_eq(loyalty.card, loyalty.card)', 'EXECUTE')
		  AND has_function_privilege('public', 'loyalty.card_is_valid(text)', 'EXECUTE')
		  AND has_function_privilege('public', 'loyalty.card_check_digit(text)', 'EXECUTE'),
	'PUBLIC may use the type, its operators and the check functions');
CREATE ROLE regress_card_clerk;
CREATE ROLE regress_card_other;
GRANT USAGE ON SCHEMA loyalty TO regress_card_clerk, regress_card_other;
GRANT EXECUTE ON FUNCTION card_issue(text) TO regress_card_clerk;
SELECT is(pg_temp.as_role('regress_card_clerk', $$SELECT loyalty.card_issue('555')::text$$),
	'5550000000000011', 'a granted role issues numbers without rights on the counter table');
SELECT is(pg_temp.as_role('regress_card_clerk', $$UPDATE loyalty.card_counter SET last_serial = 0 RETURNING 'updated'$$),
	'ERROR 42501', 'a granted role cannot change the counter directly');
SELECT is(pg_temp.as_role('regress_card_other', $$SELECT loyalty.card_issue('555')::text$$),
	'ERROR 42501', 'a role without the grant cannot issue numbers');
SELECT is(pg_temp.as_role('regress_card_other', $$SELECT loyalty.card_is_valid('5550000000000011')::text$$),
	'true', 'any role can validate a number');
SELECT ok((SELECT extconfig @> ARRAY['loyalty.card_counter'::regclass::oid]
			 FROM pg_extension WHERE extname = 'loyalty'),
	'the counter table is dumped with the data');

-- Every user-facing object has a comment.
SELECT is_empty($$
	SELECT p.oid::regprocedure::text FROM pg_proc AS p
	 WHERE p.pronamespace = 'loyalty'::regnamespace
	   AND p.proname ~ '^card_(in|out|recv|send|eq|ne|lt|le|gt|ge|cmp|sortsupport|hash|hash_extended|from_bigint|check_digit|is_valid|issue)$'
	   AND obj_description(p.oid, 'pg_proc') IS NULL
$$, 'every card function has a comment');
SELECT isnt(obj_description('loyalty.card'::regtype, 'pg_type'), NULL, 'the card type has a comment');

SELECT * FROM finish();
ROLLBACK;
