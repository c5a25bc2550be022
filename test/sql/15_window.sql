\i test/setup.sql
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(195);
SET search_path = loyalty, public;
-- Month boundaries below are given in UTC; the session zone must not matter.
SET TimeZone = 'Pacific/Honolulu';
SET DateStyle = 'ISO, YMD';

-- Helpers: the detail and hint of the error a statement raises.
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
-- The newest month (first day) of a one-month window after adding at t in tz.
CREATE FUNCTION pg_temp.month_of(t timestamptz, tz text) RETURNS date LANGUAGE sql AS $$
	SELECT loyalty.window_end(loyalty.window_add(loyalty.window_empty(1), t, 1, tz))
$$;
-- Writes a file in binary COPY format holding one row of one column whose
-- value is the given bytes, for feeding window_recv what it should refuse.
CREATE FUNCTION pg_temp.binary_copy_file(value bytea, path text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	lo oid;
BEGIN
	lo := lo_from_bytea(0,
		'\x5047434f50590aff0d0a00'::bytea	-- signature
		|| int4send(0) || int4send(0)		-- flags, header extension length
		|| int2send(1::int2)				-- one field
		|| int4send(length(value)) || value
		|| int2send((-1)::int2));			-- trailer
	PERFORM lo_export(lo, path);
	PERFORM lo_unlink(lo);
END $$;

-- The type.
SELECT has_type('loyalty', 'window', 'type loyalty.window exists');
SELECT is((SELECT format('%s %s %s %s', typlen, typbyval, typalign, typstorage)
			 FROM pg_type WHERE oid = 'loyalty.window'::regtype),
	'200 f d p', 'a window is 200 bytes, by reference, double-aligned, stored plain');

-- Text output and input.
SELECT is(window_empty(12)::text, '12 months: empty', 'an empty window prints its length and "empty"');
SELECT is('3 months to 2026-11: {0,150,40}'::loyalty.window::text, '3 months to 2026-11: {0,150,40}',
	'a window prints its length, newest month and buckets oldest first, and reads back the same');
SELECT is('12 months: empty'::loyalty.window, window_empty(12), 'the text of an empty window reads back as one');
SELECT is(E' \t3  months\tto  2026-11 :{ 0 , 150 ,40 }\n '::loyalty.window::text,
	'3 months to 2026-11: {0,150,40}', 'white space around the tokens is tolerated');
SELECT is(E'  12 months :\n empty  '::loyalty.window::text, '12 months: empty',
	'white space around the tokens of an empty window is tolerated');
SELECT is('2 months to 9999-12: {-9223372036854775808,9223372036854775807}'::loyalty.window::text,
	'2 months to 9999-12: {-9223372036854775808,9223372036854775807}',
	'the bigint extremes and the last month, 9999-12, read back');
SELECT is('1 months to 0001-01: {5}'::loyalty.window::text, '1 months to 0001-01: {5}',
	'a one-month window ending in the first month, 0001-01, reads back');
SELECT is(('24 months to 2026-11: {' || (SELECT string_agg(i::text, ',') FROM generate_series(1, 24) AS i) || '}')
		::loyalty.window::text,
	'24 months to 2026-11: {' || (SELECT string_agg(i::text, ',') FROM generate_series(1, 24) AS i) || '}',
	'a 24-month window reads back with its buckets in order');
SELECT is(NULL::text::loyalty.window, NULL, 'a null text is a null window');

-- Malformed literals: each class, with its detail.
SELECT throws_ok($$SELECT ''::loyalty.window$$, '22P02',
	'invalid input syntax for type window: ""', 'an empty string is rejected');
SELECT is(pg_temp.detail_of($$SELECT ''::loyalty.window$$),
	'A window begins with its length, a number of months.', 'the detail says the length is missing');
SELECT is(pg_temp.hint_of($$SELECT ''::loyalty.window$$),
	'A window is written like "12 months: empty" or "3 months to 2026-11: {0,150,40}", buckets oldest first.',
	'the hint shows both forms');
SELECT throws_ok($$SELECT 'twelve months: empty'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "twelve months: empty"', 'a length in words is rejected');
SELECT throws_ok($$SELECT '0 months: empty'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "0 months: empty"', 'a length of 0 months is rejected');
SELECT is(pg_temp.detail_of($$SELECT '0 months: empty'::loyalty.window$$),
	'A window has 1 to 24 months; got 0.', 'the detail gives the allowed lengths and the one given');
SELECT throws_ok($$SELECT '25 months to 2026-11: {1}'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "25 months to 2026-11: {1}"', 'a length of 25 months is rejected');
SELECT is(pg_temp.detail_of($$SELECT '99999999999 months: empty'::loyalty.window$$),
	'A window has 1 to 24 months; got 99999999999.', 'a length beyond an integer is out of range, not wrapped');
SELECT throws_ok($$SELECT '012 months: empty'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "012 months: empty"', 'a length with a leading zero is rejected');
SELECT is(pg_temp.detail_of($$SELECT '012 months: empty'::loyalty.window$$),
	'The window length 012 has a leading zero.', 'the detail names the leading zero');
SELECT is(pg_temp.detail_of($$SELECT '3 MONTHS to 2026-11: {0,150,40}'::loyalty.window$$),
	'Expected "months" after the window length.', 'keywords are lower case, as output writes them');
SELECT is(pg_temp.detail_of($$SELECT '3 months TO 2026-11: {0,150,40}'::loyalty.window$$),
	'Expected ": empty" or "to YYYY-MM: {...}" after "3 months".', '"to" is lower case too');
SELECT throws_ok($$SELECT '12 weeks: empty'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "12 weeks: empty"', 'a unit other than months is rejected');
SELECT is(pg_temp.detail_of($$SELECT '12 weeks: empty'::loyalty.window$$),
	'Expected "months" after the window length.', 'the detail asks for "months"');
SELECT throws_ok($$SELECT '12 months'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "12 months"', 'a length alone is rejected');
SELECT is(pg_temp.detail_of($$SELECT '12 months'::loyalty.window$$),
	'Expected ": empty" or "to YYYY-MM: {...}" after "12 months".', 'the detail says what may follow the length');
SELECT throws_ok($$SELECT '12 months: none'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "12 months: none"', 'a word other than "empty" is rejected');
SELECT is(pg_temp.detail_of($$SELECT '12 months: none'::loyalty.window$$),
	'Expected "empty" after "12 months:".', 'the detail asks for "empty"');
SELECT throws_ok($$SELECT '12 months: empty {}'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "12 months: empty {}"', 'buckets after "empty" are rejected');
SELECT is(pg_temp.detail_of($$SELECT '12 months: empty {}'::loyalty.window$$),
	'Unexpected text after "empty": "{}".', 'the detail quotes the text after "empty"');
SELECT throws_ok($$SELECT '3 months to 2026-13: {0,150,40}'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "3 months to 2026-13: {0,150,40}"', 'month 13 is rejected');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-13: {0,150,40}'::loyalty.window$$),
	'The newest month 2026-13 has no month 13; months run from 01 to 12.', 'the detail names the bad month');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-00: {0,150,40}'::loyalty.window$$),
	'The newest month 2026-00 has no month 00; months run from 01 to 12.', 'month 00 is rejected');
SELECT throws_ok($$SELECT '3 months to 26-11: {0,150,40}'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "3 months to 26-11: {0,150,40}"', 'a two-digit year is rejected');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 26-11: {0,150,40}'::loyalty.window$$),
	'The newest month is written YYYY-MM; got "26-11".', 'the detail gives the month format and what was given');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-1: {0,150,40}'::loyalty.window$$),
	'The newest month is written YYYY-MM; got "2026-1".', 'a one-digit month is rejected');
SELECT throws_ok($$SELECT '3 months to 0000-12: {0,150,40}'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "3 months to 0000-12: {0,150,40}"', 'year 0000 is rejected');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 0000-12: {0,150,40}'::loyalty.window$$),
	'The newest month 0000-12 is before 0001-01, the first month a window holds.',
	'the detail gives the first month a window holds');
SELECT throws_ok($$SELECT '3 months to 2026-11 {0,150,40}'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "3 months to 2026-11 {0,150,40}"', 'a missing colon is rejected');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-11 {0,150,40}'::loyalty.window$$),
	'Expected ":" after the newest month.', 'the detail asks for the colon');
SELECT throws_ok($$SELECT '3 months to 2026-11: 0,150,40'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "3 months to 2026-11: 0,150,40"', 'buckets without braces are rejected');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-11: 0,150,40'::loyalty.window$$),
	'Expected "{" to open the list of buckets.', 'the detail asks for the opening brace');
SELECT throws_ok($$SELECT '3 months to 2026-11: {0,150}'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "3 months to 2026-11: {0,150}"', 'too few buckets are rejected');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-11: {0,150}'::loyalty.window$$),
	'A window of 3 months has 3 buckets; got 2.', 'the detail counts the buckets');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-11: {0,0,150,40}'::loyalty.window$$),
	'A window of 3 months has 3 buckets; got 4.', 'too many buckets are rejected and counted');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-11: {}'::loyalty.window$$),
	'A window of 3 months has 3 buckets; got 0.', 'an empty list of buckets is rejected');
SELECT throws_ok($$SELECT '3 months to 2026-11: {0,1.5,40}'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "3 months to 2026-11: {0,1.5,40}"', 'a fraction is rejected');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-11: {0,1.5,40}'::loyalty.window$$),
	'Bucket 2 is not an integer: "1.5".', 'the detail names the bucket and its text');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-11: {0,+1,40}'::loyalty.window$$),
	'Bucket 2 is not an integer: "+1".', 'a plus sign is rejected (output never has one)');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-11: {0,12abc,40}'::loyalty.window$$),
	'Bucket 2 is not an integer: "12abc".', 'digits followed by letters are rejected');
SELECT throws_ok($$SELECT '3 months to 2026-11: {0,,40}'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "3 months to 2026-11: {0,,40}"', 'a missing bucket is rejected');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-11: {0,,40}'::loyalty.window$$),
	'Bucket 2 is missing.', 'the detail names the missing bucket');
SELECT throws_ok($$SELECT '3 months to 2026-11: {0,9223372036854775808,40}'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "3 months to 2026-11: {0,9223372036854775808,40}"',
	'a bucket beyond bigint is rejected');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-11: {0,9223372036854775808,40}'::loyalty.window$$),
	'Bucket 2 is out of range for type bigint: "9223372036854775808".', 'the detail says the bucket overflows');
SELECT is(pg_temp.detail_of($$SELECT '1 months to 2026-11: {-9223372036854775809}'::loyalty.window$$),
	'Bucket 1 is out of range for type bigint: "-9223372036854775809".', 'a bucket below bigint is rejected');
SELECT throws_ok($$SELECT '3 months to 2026-11: {0,150,40'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "3 months to 2026-11: {0,150,40"', 'an unclosed list is rejected');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-11: {0,150,40'::loyalty.window$$),
	'The list of buckets is not closed with "}".', 'the detail asks for the closing brace');
SELECT throws_ok($$SELECT '3 months to 2026-11: {0 150,40}'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "3 months to 2026-11: {0 150,40}"', 'buckets without a comma are rejected');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-11: {0 150,40}'::loyalty.window$$),
	'Expected "," or "}" after bucket 1.', 'the detail names the bucket after which the comma is missing');
SELECT throws_ok($$SELECT '3 months to 2026-11: {0,150,40} more'::loyalty.window$$, '22P02',
	'invalid input syntax for type window: "3 months to 2026-11: {0,150,40} more"', 'text after the list is rejected');
SELECT is(pg_temp.detail_of($$SELECT '3 months to 2026-11: {0,150,40} more'::loyalty.window$$),
	'Unexpected text after the buckets: "more".', 'the detail quotes the text after the list');

-- window_empty.
SELECT is(window_empty(1)::text, '1 months: empty', 'window_empty(1) is the shortest window');
SELECT is(window_empty(24)::text, '24 months: empty', 'window_empty(24) is the longest window');
SELECT throws_ok($$SELECT loyalty.window_empty(0)$$, '22023', 'invalid window length: 0 months',
	'window_empty(0) is refused');
SELECT throws_ok($$SELECT loyalty.window_empty(25)$$, '22023', 'invalid window length: 25 months',
	'window_empty(25) is refused');
SELECT throws_ok($$SELECT loyalty.window_empty(-12)$$, '22023', 'invalid window length: -12 months',
	'a negative length is refused');
SELECT is(pg_temp.detail_of($$SELECT loyalty.window_empty(25)$$) || ' ' || pg_temp.hint_of($$SELECT loyalty.window_empty(25)$$),
	'A window has 1 to 24 months. Use 12 for a rolling year.', 'the detail gives the bounds, the hint a usual length');
SELECT is(window_empty(NULL), NULL, 'window_empty of null is null');

-- window_add.
SELECT is(window_add(window_empty(3), '2026-11-05 10:00+00', 40)::text, '3 months to 2026-11: {0,0,40}',
	'the first amount makes its month the newest');
SELECT is(window_add('3 months to 2026-11: {0,0,40}', '2026-11-30 23:00+00', 10)::text,
	'3 months to 2026-11: {0,0,50}', 'an amount in the newest month adds to its bucket');
SELECT is(window_add('3 months to 2026-11: {0,0,40}', '2026-11-30 23:00+00', -15)::text,
	'3 months to 2026-11: {0,0,25}', 'a negative amount (a refund) subtracts');
SELECT is(window_add('3 months to 2026-11: {0,0,40}', '2026-09-01 00:00+00', 7)::text,
	'3 months to 2026-11: {7,0,40}', 'an amount in the oldest month held adds to its bucket');
SELECT is(window_add('3 months to 2026-11: {5,150,40}', '2026-10-15 00:00+00', 1)::text,
	'3 months to 2026-11: {5,151,40}', 'an amount in a middle month adds to its bucket');
SELECT is(window_add('3 months to 2026-11: {5,150,40}', '2026-08-31 23:59:59.999999+00', 1000)::text,
	'3 months to 2026-11: {5,150,40}', 'an amount older than the window holds is ignored');
SELECT is(window_add('3 months to 2026-11: {5,150,40}', '2026-12-01 00:00+00', 7)::text,
	'3 months to 2026-12: {150,40,7}', 'an amount one month later drops the oldest bucket');
SELECT is(window_add('3 months to 2026-11: {5,150,40}', '2027-01-20 00:00+00', 7)::text,
	'3 months to 2027-01: {40,0,7}', 'two months later: the two oldest drop, the month between is zero');
SELECT is(window_add('3 months to 2026-11: {5,150,40}', '2027-02-01 00:00+00', 7)::text,
	'3 months to 2027-02: {0,0,7}', 'a jump of the window''s length drops every bucket');
SELECT is(window_add('3 months to 2026-11: {5,150,40}', '2036-11-01 00:00+00', 7)::text,
	'3 months to 2036-11: {0,0,7}', 'a jump of ten years drops every bucket');
SELECT is(window_add('3 months to 2026-11: {5,150,40}', '2027-01-01 00:00+00', 0)::text,
	'3 months to 2027-01: {40,0,0}', 'a zero amount in a later month still moves the window');
SELECT is(window_add(('24 months to 2026-11: {' || repeat('1,', 23) || '1}')::loyalty.window, '2027-11-01 00:00+00', 5)::text,
	'24 months to 2027-11: {' || repeat('1,', 12) || repeat('0,', 11) || '5}',
	'a 24-month window a year later keeps its newest 12 months, in order');
SELECT is(window_add(NULL, '2026-11-01', 1), NULL, 'window_add of a null window is null');
SELECT is(window_add(window_empty(3), NULL, 1), NULL, 'window_add at a null time is null');
SELECT is(window_add(window_empty(3), '2026-11-01', NULL), NULL, 'window_add of a null amount is null');
SELECT is(window_add(window_empty(3), '2026-11-01', 1, NULL), NULL, 'window_add in a null time zone is null');

-- Adding is the same as summing by month: 300 amounts in random order.
CREATE TEMP TABLE amounts AS
	SELECT i, timestamptz '2024-01-01 00:00+00' + (i * 7919 % 1000) * interval '1 day' + i * interval '1 second' AS at,
		   (i * 104729 % 2001) - 1000 AS amount
	  FROM generate_series(1, 300) AS i;
CREATE FUNCTION pg_temp.add_all(months integer, tz text) RETURNS loyalty.window LANGUAGE plpgsql AS $$
DECLARE
	w loyalty.window := loyalty.window_empty(months);
	a record;
BEGIN
	FOR a IN SELECT * FROM amounts ORDER BY (i * 31) % 300 LOOP
		w := loyalty.window_add(w, a.at, a.amount, tz);
	END LOOP;
	RETURN w;
END $$;
SELECT results_eq(
	$$SELECT month, amount FROM loyalty.window_buckets(pg_temp.add_all(24, 'UTC'))$$,
	$$SELECT m::date, coalesce((SELECT sum(amount)::bigint FROM amounts
								 WHERE date_trunc('month', at AT TIME ZONE 'UTC') = m), 0)
		FROM generate_series((SELECT date_trunc('month', max(at AT TIME ZONE 'UTC')) FROM amounts) - interval '23 months',
							 (SELECT date_trunc('month', max(at AT TIME ZONE 'UTC')) FROM amounts),
							 interval '1 month') AS m$$,
	'amounts added in any order give each month its sum; months before the window are dropped');
SELECT results_eq(
	$$SELECT month, amount FROM loyalty.window_buckets(pg_temp.add_all(5, 'Asia/Ho_Chi_Minh'))$$,
	$$SELECT m::date, coalesce((SELECT sum(amount)::bigint FROM amounts
								 WHERE date_trunc('month', at AT TIME ZONE 'Asia/Ho_Chi_Minh') = m), 0)
		FROM generate_series((SELECT date_trunc('month', max(at AT TIME ZONE 'Asia/Ho_Chi_Minh')) FROM amounts) - interval '4 months',
							 (SELECT date_trunc('month', max(at AT TIME ZONE 'Asia/Ho_Chi_Minh')) FROM amounts),
							 interval '1 month') AS m$$,
	'the same in a 5-month window counted in Asia/Ho_Chi_Minh months');

-- Month, year and time-zone boundaries.
SELECT is(pg_temp.month_of('2026-01-31 23:59:59.999999+00', 'UTC'), date '2026-01-01',
	'the last microsecond of January (UTC) is in January');
SELECT is(pg_temp.month_of('2026-02-01 00:00:00+00', 'UTC'), date '2026-02-01',
	'the first microsecond of February (UTC) is in February');
SELECT is(window_add(window_add(window_empty(2), '2026-01-31 23:59:59.999999+00', 1),
					 '2026-02-01 00:00:00+00', 2)::text,
	'2 months to 2026-02: {1,2}', 'amounts a microsecond apart across the month boundary land in two buckets');
SELECT is(window_add(window_add(window_empty(12), '2025-12-31 23:59:59+00', 100), '2026-01-01 00:00:00+00', 50)::text,
	'12 months to 2026-01: {0,0,0,0,0,0,0,0,0,0,100,50}', 'December and the next January are consecutive buckets');
SELECT is(window_total('12 months to 2026-01: {0,0,0,0,0,0,0,0,0,0,100,50}', '2026-01-15 00:00+00'), 150::bigint,
	'the rolling total as of January counts the December before it');
SELECT is(window_total('12 months to 2026-01: {0,0,0,0,0,0,0,0,0,0,100,50}', '2025-12-31 23:59:59+00'), 100::bigint,
	'the rolling total as of December does not count the January after it');
SELECT is(window_total('12 months to 2026-01: {0,0,0,0,0,0,0,0,0,0,100,50}', '2025-01-01 00:00+00'::timestamptz,
					   '2025-12-31 23:59:59.999999+00'::timestamptz), 100::bigint,
	'the calendar year 2025 holds December only');
SELECT is(pg_temp.month_of('2026-01-31 20:00+00', 'UTC'), date '2026-01-01', '2026-01-31 20:00 UTC is January in UTC');
SELECT is(pg_temp.month_of('2026-01-31 20:00+00', 'Asia/Ho_Chi_Minh'), date '2026-02-01',
	'2026-01-31 20:00 UTC is February in Asia/Ho_Chi_Minh (UTC+7)');
SELECT is(pg_temp.month_of('2026-01-31 16:59:59.999999+00', 'Asia/Ho_Chi_Minh'), date '2026-01-01',
	'16:59:59.999999 UTC on 31 January is still January in Asia/Ho_Chi_Minh');
SELECT is(pg_temp.month_of('2026-01-31 17:00:00+00', 'Asia/Ho_Chi_Minh'), date '2026-02-01',
	'17:00 UTC on 31 January is the first instant of February in Asia/Ho_Chi_Minh');
SELECT is(pg_temp.month_of('2026-01-31 20:00+00', 'asia/ho_chi_minh'), date '2026-02-01',
	'a zone name is matched in any case, as AT TIME ZONE does');
SELECT is(pg_temp.month_of('2026-11-01 03:59:59+00', 'America/New_York'), date '2026-10-01',
	'on the DST-change day 2026-11-01, 03:59:59 UTC is 23:59:59 EDT, still October in New York');
SELECT is(pg_temp.month_of('2026-11-01 04:00:00+00', 'America/New_York'), date '2026-11-01',
	'04:00 UTC is midnight EDT: November in New York, although the day ends in EST');
SELECT is(pg_temp.month_of('2026-11-01 04:00:00+00', 'EST'), date '2026-10-01',
	'the fixed abbreviation EST (UTC-5) puts the same instant in October');
SELECT is(pg_temp.month_of('2026-03-01 04:59:59+00', 'America/New_York') || ' ' ||
		  pg_temp.month_of('2026-03-01 05:00:00+00', 'America/New_York'),
	'2026-02-01 2026-03-01', 'in winter New York''s month begins at 05:00 UTC');
SELECT is(pg_temp.month_of('2026-01-31 20:00+00', '+07') || ' ' || pg_temp.month_of('2026-01-31 20:00+00', '-07'),
	'2026-01-01 2026-02-01', 'offsets follow AT TIME ZONE (POSIX: ''-07'' is east of Greenwich)');
CREATE TEMP TABLE zone_cases AS
	SELECT tz, t
	  FROM unnest(ARRAY['UTC', 'Asia/Ho_Chi_Minh', 'America/New_York', 'EST', 'MSK', 'Europe/London',
						'Australia/Lord_Howe', 'Pacific/Kiritimati', 'Pacific/Pago_Pago', '+07', 'UTC+3']) AS tz,
		   generate_series(0, 23) AS k,
		   -- around the month's start in UTC, hourly, and one microsecond
		   -- either side of its start in the zone itself
		   LATERAL (SELECT (timestamp '2025-01-01' + k * interval '1 month') AT TIME ZONE 'UTC' + h * interval '1 hour' AS t
					  FROM generate_series(-15, 15) AS h
					 UNION ALL
					SELECT (timestamp '2025-01-01' + k * interval '1 month') AT TIME ZONE tz + d * interval '1 microsecond'
					  FROM unnest(ARRAY[-1, 0, 1]) AS d) AS times;
SELECT is_empty($$
	SELECT tz, t FROM zone_cases
	 WHERE pg_temp.month_of(t, tz) <> date_trunc('month', t AT TIME ZONE tz)::date
$$, 'in 11 zones, around every month boundary of two years, the month is the month of AT TIME ZONE');
SELECT is((SELECT count(DISTINCT (tz, pg_temp.month_of(t, tz))) FROM zone_cases), 11 * 25::bigint,
	'and those instants fall in 25 different months in each zone');

-- Unknown time zones, infinities, months out of range.
SELECT throws_ok($$SELECT loyalty.window_add(loyalty.window_empty(3), now(), 1, 'Mars/Olympus_Mons')$$,
	'22023', 'time zone "Mars/Olympus_Mons" not recognized', 'window_add refuses an unknown time zone');
SELECT is(pg_temp.hint_of($$SELECT loyalty.window_add(loyalty.window_empty(3), now(), 1, 'Mars/Olympus_Mons')$$),
	'Use a name from pg_timezone_names, such as "Asia/Ho_Chi_Minh", or an abbreviation from pg_timezone_abbrevs, such as "UTC".',
	'the hint says where to find zone names');
SELECT throws_ok($$SELECT loyalty.window_shift(loyalty.window_empty(3), now(), '')$$,
	'22023', 'time zone "" not recognized', 'window_shift refuses an empty time zone name');
SELECT throws_ok($$SELECT loyalty.window_total(loyalty.window_empty(3), now(), 'Asia/Saigonn')$$,
	'22023', 'time zone "Asia/Saigonn" not recognized', 'window_total refuses an unknown time zone');
SELECT throws_ok($$SELECT loyalty.window_total(loyalty.window_empty(3), now(), now(), repeat('x', 300))$$,
	'22023', NULL, 'window_total over a period refuses a time zone name longer than any');
SELECT is(pg_temp.month_of('2026-01-31 20:00+00', 'Asia/Ho_Chi_Minh') || ' ' || pg_temp.month_of('2026-01-31 20:00+00', 'UTC')
		  || ' ' || pg_temp.month_of('2026-01-31 20:00+00', 'Asia/Ho_Chi_Minh'),
	'2026-02-01 2026-01-01 2026-02-01', 'switching zones between calls gives each call its own zone');
SELECT throws_ok($$SELECT loyalty.window_add(loyalty.window_empty(3), 'infinity', 1)$$,
	'22008', 'timestamp out of range for loyalty.window', 'window_add at infinity is refused');
SELECT is(pg_temp.detail_of($$SELECT loyalty.window_add(loyalty.window_empty(3), 'infinity', 1)$$),
	'The timestamp infinity falls in no month.', 'the detail says infinity has no month');
SELECT throws_ok($$SELECT loyalty.window_total(loyalty.window_empty(3), '-infinity')$$,
	'22008', 'timestamp out of range for loyalty.window', 'window_total as of -infinity is refused');
SELECT is(pg_temp.detail_of($$SELECT loyalty.window_shift(loyalty.window_empty(3), '-infinity')$$),
	'The timestamp -infinity falls in no month.', 'window_shift to -infinity is refused, naming it');
SELECT throws_ok($$SELECT loyalty.window_total(loyalty.window_empty(3), '-infinity', now())$$,
	'22008', 'timestamp out of range for loyalty.window', 'a period from -infinity is refused');
SELECT is(pg_temp.detail_of($$SELECT loyalty.window_add(loyalty.window_empty(3), '10000-01-01 00:00+00', 1)$$),
	'It falls in 10000-01 in time zone "UTC"; a window holds months of the years 0001 to 9999.',
	'a timestamp in year 10000 is refused with its month');
SELECT is(pg_temp.detail_of($$SELECT loyalty.window_add(loyalty.window_empty(3), '0001-12-31 23:00:00+00 BC', 1)$$),
	'It falls in 0001-12 BC in time zone "UTC"; a window holds months of the years 0001 to 9999.',
	'a timestamp before year 1 is refused');
SELECT is(pg_temp.month_of('9999-12-31 23:59:59.999999+00', 'UTC') || ' ' || pg_temp.month_of('0001-01-01 00:00:00+00', 'UTC'),
	'9999-12-01 0001-01-01', 'the first and the last month a window holds are accepted');
SELECT is(pg_temp.detail_of($$SELECT loyalty.window_add(loyalty.window_empty(3), '9999-12-31 20:00:00+00', 1, 'Asia/Ho_Chi_Minh')$$),
	'It falls in 10000-01 in time zone "Asia/Ho_Chi_Minh"; a window holds months of the years 0001 to 9999.',
	'the range is checked on the month in the given zone');

-- window_total as of a time: the window's length in months ending with that month.
SELECT is(window_total('3 months to 2026-11: {5,150,40}', '2026-11-30 12:00+00'), 195::bigint,
	'as of the newest month: every bucket');
SELECT is(window_total('3 months to 2026-11: {5,150,40}', '2026-10-01 00:00+00'), 155::bigint,
	'as of a month in the past: the newer bucket is excluded');
SELECT is(window_total('3 months to 2026-11: {5,150,40}', '2026-09-30 23:59:59+00'), 5::bigint,
	'as of the oldest month: only it');
SELECT is(window_total('3 months to 2026-11: {5,150,40}', '2026-08-31 00:00+00'), 0::bigint,
	'as of a month before the window: nothing');
SELECT is(window_total('3 months to 2026-11: {5,150,40}', '2026-12-01 00:00+00'), 190::bigint,
	'as of the next month: the oldest bucket has aged out');
SELECT is(window_total('3 months to 2026-11: {5,150,40}', '2027-01-31 00:00+00'), 40::bigint,
	'as of two months later: only the newest bucket is left');
SELECT is(window_total('3 months to 2026-11: {5,150,40}', '2027-02-01 00:00+00'), 0::bigint,
	'as of the window''s length later: everything has aged out');
SELECT is(window_total('3 months to 2026-11: {5,150,40}', '2026-11-30 20:00+00', 'Asia/Ho_Chi_Minh'), 190::bigint,
	'as of 2026-11-30 20:00 UTC in Asia/Ho_Chi_Minh, already December: September has aged out');
SELECT is(window_total(window_empty(12), '2026-11-30 00:00+00'), 0::bigint, 'an empty window totals 0');
SELECT is(window_total('2 months to 2026-11: {-30,10}', '2026-11-01 00:00+00'), -20::bigint,
	'refunds can make a total negative');
SELECT is(window_total(window_add(window_add(window_empty(12), now(), 70), now() - interval '1 day', 30), now()),
	100::bigint, 'the rolling total as of now after two amounts today and yesterday (UTC)');

-- window_total over a period of months.
CREATE TEMP TABLE two_years AS
	SELECT ('24 months to 2026-12: {' || string_agg(i::text, ',' ORDER BY i) || '}')::loyalty.window AS w
	  FROM generate_series(1, 24) AS i;
SELECT is(window_total((SELECT w FROM two_years), '2025-01-01 00:00+00'::timestamptz, '2025-12-31 23:59:59.999999+00'::timestamptz),
	78::bigint, 'the calendar year 2025 is the sum of its 12 buckets (1..12)');
SELECT is(window_total((SELECT w FROM two_years), '2026-01-01 00:00+00'::timestamptz, '2026-12-31 23:59:59.999999+00'::timestamptz),
	222::bigint, 'the calendar year 2026 is the sum of its 12 buckets (13..24)');
SELECT is(window_total((SELECT w FROM two_years), '2026-03-10 00:00+00'::timestamptz, '2026-03-20 00:00+00'::timestamptz),
	15::bigint, 'a period inside one month is that month');
SELECT is(window_total((SELECT w FROM two_years), '2020-01-01 00:00+00'::timestamptz, '2025-02-28 00:00+00'::timestamptz),
	3::bigint, 'months before the window count zero');
SELECT is(window_total((SELECT w FROM two_years), '2026-12-01 00:00+00'::timestamptz, '2030-01-01 00:00+00'::timestamptz),
	24::bigint, 'months after the window count zero');
SELECT is(window_total((SELECT w FROM two_years), '2025-12-31 17:00+00'::timestamptz, '2026-01-31 16:59:59+00'::timestamptz,
					   'Asia/Ho_Chi_Minh'),
	13::bigint, 'the period''s months are those of the given zone: all of January 2026 in Asia/Ho_Chi_Minh');
SELECT throws_ok($$SELECT loyalty.window_total(loyalty.window_empty(3), '2026-12-01 00:00+00'::timestamptz,
											   '2026-01-01 00:00+00'::timestamptz)$$,
	'22023', 'from_time is after to_time', 'a period that ends before it starts is refused');
SELECT is(pg_temp.hint_of($$SELECT loyalty.window_total(loyalty.window_empty(3), '2026-12-01 00:00+00'::timestamptz,
											   '2026-01-01 00:00+00'::timestamptz)$$),
	'Give the start of the period first.', 'the hint says to give the start first');
SELECT is(window_total(window_empty(3), NULL::timestamptz, now()), NULL, 'a period with a null start totals null');

-- window_shift.
SELECT is(window_shift('3 months to 2026-11: {5,150,40}', '2026-12-15 00:00+00')::text,
	'3 months to 2026-12: {150,40,0}', 'a shift by one month drops the oldest bucket and opens an empty one');
SELECT is(window_shift('3 months to 2026-11: {5,150,40}', '2027-06-01 00:00+00')::text,
	'3 months to 2027-06: {0,0,0}', 'a shift longer than the window drops every bucket');
SELECT is(window_shift('3 months to 2026-11: {5,150,40}', '2026-11-30 00:00+00')::text,
	'3 months to 2026-11: {5,150,40}', 'a shift to the newest month changes nothing');
SELECT is(window_shift('3 months to 2026-11: {5,150,40}', '2026-05-01 00:00+00')::text,
	'3 months to 2026-11: {5,150,40}', 'a shift to an earlier month changes nothing: newer data is kept');
SELECT is(window_shift(window_shift('3 months to 2026-11: {5,150,40}', '2027-01-01 00:00+00'), '2027-01-31 00:00+00'),
	window_shift('3 months to 2026-11: {5,150,40}', '2027-01-01 00:00+00'), 'shifting twice to one month is shifting once');
SELECT is(window_shift(window_empty(3), '2026-11-05 00:00+00')::text, '3 months to 2026-11: {0,0,0}',
	'shifting an empty window gives zeros ending with that month');
SELECT is(window_add(window_shift('3 months to 2026-11: {5,150,40}', '2027-01-01 00:00+00'), '2026-11-01 00:00+00', 2)::text,
	'3 months to 2027-01: {42,0,0}', 'after a shift, an amount for a month still held lands in its bucket');
SELECT is(window_shift('3 months to 2026-11: {5,150,40}', '2026-11-30 20:00+00', 'Asia/Ho_Chi_Minh')::text,
	'3 months to 2026-12: {150,40,0}', 'window_shift takes the month in the given zone');
SELECT is(window_total(window_shift('3 months to 2026-11: {5,150,40}', '2027-01-01 00:00+00'), '2027-01-01 00:00+00'),
	window_total('3 months to 2026-11: {5,150,40}', '2027-01-01 00:00+00'),
	'shifting does not change the rolling total as of the new month');

-- Overflow.
SELECT throws_ok($$SELECT loyalty.window_add('2 months to 2026-11: {0,9223372036854775807}', '2026-11-02 00:00+00', 1)$$,
	'22003', 'window bucket out of range for type bigint', 'a bucket cannot pass the largest bigint');
SELECT is(pg_temp.detail_of($$SELECT loyalty.window_add('2 months to 2026-11: {0,9223372036854775807}', '2026-11-02 00:00+00', 1)$$),
	'The bucket of 2026-11 holds 9223372036854775807; adding 1 to it overflows.',
	'the detail names the month, what it holds and the amount');
SELECT throws_ok($$SELECT loyalty.window_add('2 months to 2026-11: {-9223372036854775808,0}', '2026-10-02 00:00+00', -1)$$,
	'22003', 'window bucket out of range for type bigint', 'a bucket cannot pass the smallest bigint');
SELECT is(window_add('2 months to 2026-11: {0,9223372036854775807}', '2026-12-02 00:00+00', 9223372036854775807)::text,
	'2 months to 2026-12: {9223372036854775807,9223372036854775807}', 'a new month starts from zero, so it cannot overflow');
SELECT throws_ok($$SELECT loyalty.window_total('2 months to 2026-11: {9223372036854775807,1}', '2026-11-02 00:00+00')$$,
	'22003', 'window total out of range for type bigint', 'a rolling total beyond bigint is refused');
SELECT throws_ok($$SELECT loyalty.window_total('2 months to 2026-11: {-9223372036854775808,-1}', '2026-01-01'::timestamptz,
											   '2026-12-01'::timestamptz)$$,
	'22003', 'window total out of range for type bigint', 'a period total below bigint is refused');
SELECT is(window_total('2 months to 2026-11: {9223372036854775807,-1}', '2026-11-02 00:00+00'), 9223372036854775806,
	'a total near the limit that fits is exact');

-- window_months, window_end, window_buckets.
SELECT is(window_months('3 months to 2026-11: {5,150,40}') || ' ' || window_months(window_empty(24)), '3 24',
	'window_months gives the length of a window, empty or not');
SELECT is(window_end('3 months to 2026-11: {5,150,40}'), date '2026-11-01', 'window_end is the first day of the newest month');
SELECT is(window_end(window_empty(12)), NULL, 'window_end of an empty window is null');
SELECT results_eq($$SELECT month, amount FROM loyalty.window_buckets('3 months to 2026-01: {5,150,40}')$$,
	$$VALUES (date '2025-11-01', 5::bigint), ('2025-12-01', 150), ('2026-01-01', 40)$$,
	'window_buckets lists the months and amounts oldest first, across a year boundary');
SELECT is_empty($$SELECT * FROM loyalty.window_buckets(loyalty.window_empty(12))$$,
	'an empty window has no buckets to list');
SELECT is((SELECT count(*) FROM window_buckets(window_shift(window_empty(24), '2026-11-01 00:00+00'))), 24::bigint,
	'a window of zeros lists all its months');

-- Equality.
SELECT ok(window_empty(12) = window_empty(12), 'two empty windows of the same length are equal');
SELECT ok(window_empty(12) <> window_empty(24), 'empty windows of different lengths differ');
SELECT ok('3 months to 2026-11: {5,150,40}'::loyalty.window = window_add(window_add(window_add(window_empty(3),
		'2026-09-01 00:00+00', 5), '2026-11-01 00:00+00', 40), '2026-10-01 00:00+00', 150),
	'a window built by adding equals the same window read from text');
SELECT ok('3 months to 2026-11: {5,150,40}'::loyalty.window <> '3 months to 2026-12: {5,150,40}',
	'the same buckets ending in another month differ');
SELECT ok('3 months to 2026-11: {5,150,40}'::loyalty.window <> '3 months to 2026-11: {5,150,41}',
	'windows differing in one bucket differ');
SELECT ok('1 months to 2026-11: {0}'::loyalty.window <> '2 months to 2026-11: {0,0}',
	'windows of zeros of different lengths differ');
SELECT ok(window_shift(window_empty(3), '2026-11-01 00:00+00') <> window_empty(3),
	'a window of zeros differs from an empty one');
SELECT ok(NOT ('3 months to 2026-11: {5,150,40}'::loyalty.window = '3 months to 2026-11: {5,150,41}'),
	'= is false for different windows');
SELECT is((SELECT count(*) FROM (SELECT DISTINCT w FROM (VALUES ('3 months to 2026-11: {5,150,40}'::loyalty.window),
		(' 3 months to 2026-11: { 5,150,40 }'), (window_empty(3)), ('3 months: empty'), ('3 months to 2026-11: {5,150,41}')) AS v(w)) AS d),
	3::bigint, 'DISTINCT (the hash operator class) groups equal windows');
SELECT is(
	(SELECT oprcanhash AND oprcom = oid AND oprnegate = 'loyalty.<>(loyalty.window, loyalty.window)'::regoperator
			AND oprrest = 'eqsel'::regproc
	   FROM pg_operator WHERE oid = 'loyalty.=(loyalty.window, loyalty.window)'::regoperator),
	true, '= hashes, is its own commutator and negates <>');

-- Binary send and receive.
SELECT is(window_send('2 months to 2026-11: {150,40}'),
	'\x010000000200005f0200000000000000960000000000000028'::bytea,
	'the binary form: version 1, months, month number 24322 (2026-11), buckets oldest first');
SELECT is(window_send(window_empty(2)), ('\x0100000002' || '80000000' || repeat('0', 32))::bytea,
	'an empty window sends the unset month and zero buckets');
CREATE TEMP TABLE accounts (id integer PRIMARY KEY, w loyalty.window NOT NULL);
INSERT INTO accounts
	SELECT i, window_add(window_add(window_empty(1 + i % 24), '2026-01-01 00:00+00'::timestamptz + (i * 37 % 700) * interval '1 day',
									 i * 1000003 - 50000000), '2026-01-01 00:00+00'::timestamptz + (i * 13 % 700) * interval '1 day', -i)
	  FROM generate_series(1, 200) AS i;
INSERT INTO accounts VALUES (201, window_empty(12)), (202, ('24 months to 9999-12: {' || repeat('-9223372036854775808,', 23) || '9223372036854775807}')::loyalty.window),
	(203, '1 months to 0001-01: {1}');
UPDATE accounts SET w = window_add(w, '2026-06-01 00:00+00', 7) WHERE id % 10 = 0;
\copy (SELECT id, w FROM accounts ORDER BY id) TO '/tmp/loyalty_15_window.bin' WITH (FORMAT binary)
CREATE TEMP TABLE accounts_back (id integer PRIMARY KEY, w loyalty.window NOT NULL);
\copy accounts_back FROM '/tmp/loyalty_15_window.bin' WITH (FORMAT binary)
\! rm -f /tmp/loyalty_15_window.bin
SELECT is((SELECT count(*) FROM accounts_back), 203::bigint, 'every window came back from the binary copy');
SELECT is_empty($$SELECT id FROM accounts a FULL JOIN accounts_back b USING (id) WHERE a.w IS DISTINCT FROM b.w$$,
	'each window received equals the window sent');
SELECT is_empty($$SELECT id FROM accounts WHERE w::text::loyalty.window <> w OR w::text <> w::text::loyalty.window::text$$,
	'each window also survives a text round trip');
CREATE TEMP TABLE one_window (w loyalty.window);
SELECT pg_temp.binary_copy_file(window_send('2 months to 2026-11: {150,40}'), '/tmp/loyalty_15_window_one.bin') \g /dev/null
SELECT lives_ok($$COPY one_window FROM '/tmp/loyalty_15_window_one.bin' WITH (FORMAT binary)$$,
	'a value written by hand in the binary form is read');
SELECT is((SELECT w::text FROM one_window), '2 months to 2026-11: {150,40}', 'and it is the window sent');
SELECT pg_temp.binary_copy_file(('\x02000000020000' || '5f02' || '0000000000000096' || '0000000000000028')::bytea, '/tmp/loyalty_15_window_v2.bin') \g /dev/null
SELECT throws_ok($$COPY one_window FROM '/tmp/loyalty_15_window_v2.bin' WITH (FORMAT binary)$$,
	'22P03', 'invalid external window value', 'a binary value of another version is refused');
SELECT is(pg_temp.detail_of($$COPY one_window FROM '/tmp/loyalty_15_window_v2.bin' WITH (FORMAT binary)$$),
	'Unsupported binary format version 2; this version of loyalty reads version 1.', 'the detail names the version');
SELECT pg_temp.binary_copy_file(('\x01000000190000' || '5f02' || repeat('0000000000000000', 25))::bytea, '/tmp/loyalty_15_window_25.bin') \g /dev/null
SELECT is(pg_temp.detail_of($$COPY one_window FROM '/tmp/loyalty_15_window_25.bin' WITH (FORMAT binary)$$),
	'A window has 1 to 24 months; got 25.', 'a binary window of 25 months is refused');
SELECT pg_temp.binary_copy_file(('\x0100000002' || '0001d4c0' || repeat('0000000000000000', 2))::bytea, '/tmp/loyalty_15_window_month.bin') \g /dev/null
SELECT is(pg_temp.detail_of($$COPY one_window FROM '/tmp/loyalty_15_window_month.bin' WITH (FORMAT binary)$$),
	'The newest month 120000 is outside 12 (0001-01) to 119999 (9999-12).', 'a binary month after 9999-12 is refused');
SELECT pg_temp.binary_copy_file(('\x01000000020000' || '5f02' || '0000000000000096')::bytea, '/tmp/loyalty_15_window_short.bin') \g /dev/null
SELECT throws_ok($$COPY one_window FROM '/tmp/loyalty_15_window_short.bin' WITH (FORMAT binary)$$,
	'22P03', 'invalid external window value', 'a binary value missing a bucket is refused');
SELECT is(pg_temp.detail_of($$COPY one_window FROM '/tmp/loyalty_15_window_short.bin' WITH (FORMAT binary)$$),
	'A window of 2 months has 16 bytes of buckets; got 8.', 'the detail counts the bytes of buckets');
SELECT pg_temp.binary_copy_file(('\x01000000020000' || '5f02' || repeat('0000000000000001', 3))::bytea, '/tmp/loyalty_15_window_long.bin') \g /dev/null
SELECT is(pg_temp.detail_of($$COPY one_window FROM '/tmp/loyalty_15_window_long.bin' WITH (FORMAT binary)$$),
	'A window of 2 months has 16 bytes of buckets; got 24.', 'a binary value with bytes to spare is refused');
SELECT pg_temp.binary_copy_file(('\x0100000002')::bytea, '/tmp/loyalty_15_window_header.bin') \g /dev/null
SELECT is(pg_temp.detail_of($$COPY one_window FROM '/tmp/loyalty_15_window_header.bin' WITH (FORMAT binary)$$),
	'A window value has at least 9 bytes; got 5.', 'a truncated header is refused');
SELECT pg_temp.binary_copy_file(('\x0100000002' || '80000000' || '0000000000000000' || '0000000000000005')::bytea, '/tmp/loyalty_15_window_unset.bin') \g /dev/null
SELECT is(pg_temp.detail_of($$COPY one_window FROM '/tmp/loyalty_15_window_unset.bin' WITH (FORMAT binary)$$),
	'An empty window has only zero buckets.', 'an empty binary window holding an amount is refused');
\! rm -f /tmp/loyalty_15_window_*.bin
SELECT is((SELECT count(*) FROM one_window), 1::bigint, 'no refused value was stored');

-- Catalog: volatility, privileges, comments.
SELECT set_eq($$SELECT p.oid::regprocedure FROM pg_proc p
				 WHERE p.pronamespace = 'loyalty'::regnamespace AND p.proname LIKE 'window\_%' AND p.provolatile = 's'$$,
	ARRAY['loyalty.window_add(loyalty.window, timestamptz, bigint, text)'::regprocedure,
		  'loyalty.window_shift(loyalty.window, timestamptz, text)',
		  'loyalty.window_total(loyalty.window, timestamptz, text)',
		  'loyalty.window_total(loyalty.window, timestamptz, timestamptz, text)'],
	'exactly the functions taking a time zone are STABLE; the others are IMMUTABLE');
SELECT is_empty($$SELECT p.proname FROM pg_proc p
				   WHERE p.pronamespace = 'loyalty'::regnamespace AND p.proname LIKE 'window\_%'
					 AND NOT (p.proisstrict AND p.proparallel = 's' AND p.provolatile IN ('i', 's'))$$,
	'every window function is STRICT and PARALLEL SAFE');
CREATE ROLE regress_window_user NOLOGIN;
GRANT USAGE ON SCHEMA loyalty TO regress_window_user;
SELECT is(pg_temp.as_role('regress_window_user', $$SELECT loyalty.window_total(loyalty.window_add(
		'12 months: empty'::loyalty.window, '2026-11-01 00:00+00', 5), '2026-11-01 00:00+00')$$),
	'5', 'a role granted only USAGE on the schema can read, build and total windows');
SELECT is_empty($$
	SELECT p.oid::regprocedure::text FROM pg_proc AS p
	 WHERE p.pronamespace = 'loyalty'::regnamespace AND p.proname LIKE 'window\_%'
	   AND obj_description(p.oid, 'pg_proc') IS NULL
$$, 'every window function has a comment');
SELECT isnt(obj_description('loyalty.window'::regtype, 'pg_type'), NULL, 'the window type has a comment');

SELECT * FROM finish();
ROLLBACK;
