--
-- The rolling window of monthly buckets: a member's qualifying totals over
-- the last 1 to 24 months in one fixed-size value (src/window.c).  New in
-- 0.3.0: the same statements serve a fresh install and the update.
--
-- WINDOW is a reserved word in SQL: write the type schema-qualified,
-- loyalty.window, or quoted, "window".
--

CREATE TYPE @extschema@.window;

CREATE FUNCTION @extschema@.window_in(cstring)
	RETURNS @extschema@.window
	AS 'MODULE_PATHNAME', 'window_in'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.window_out(@extschema@.window)
	RETURNS cstring
	AS 'MODULE_PATHNAME', 'window_out'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.window_recv(internal)
	RETURNS @extschema@.window
	AS 'MODULE_PATHNAME', 'window_recv'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.window_send(@extschema@.window)
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'window_send'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.window (
	INPUT = @extschema@.window_in,
	OUTPUT = @extschema@.window_out,
	RECEIVE = @extschema@.window_recv,
	SEND = @extschema@.window_send,
	INTERNALLENGTH = 200,
	ALIGNMENT = double,
	STORAGE = plain
);

COMMENT ON TYPE @extschema@.window IS
	'rolling window of 1 to 24 monthly int8 buckets, e.g. qualifying points, spend or orders of the last 12 months; text form "12 months: empty" or "3 months to 2026-11: {0,150,40}", buckets oldest first';
COMMENT ON FUNCTION @extschema@.window_in(cstring) IS
	'text input of a window: "N months: empty" or "N months to YYYY-MM: {b1,...,bN}", buckets oldest first';
COMMENT ON FUNCTION @extschema@.window_out(@extschema@.window) IS
	'text output of a window: "N months: empty" or "N months to YYYY-MM: {b1,...,bN}", buckets oldest first';
COMMENT ON FUNCTION @extschema@.window_recv(internal) IS
	'binary input of a window: version byte 1, months int4, newest month int4, months int8 buckets oldest first; checked like the text input';
COMMENT ON FUNCTION @extschema@.window_send(@extschema@.window) IS
	'binary output of a window: version byte 1, months int4, newest month int4, months int8 buckets oldest first';

-- Building and reading windows.  Functions that take a time zone name are
-- STABLE: the zone database and timezone_abbreviations can change.

CREATE FUNCTION @extschema@.window_empty(months integer)
	RETURNS @extschema@.window
	AS 'MODULE_PATHNAME', 'window_empty'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.window_empty(integer) IS
	'an empty window of 1 to 24 months';

CREATE FUNCTION @extschema@.window_add(w @extschema@.window, at timestamptz, amount bigint,
									   tz text DEFAULT 'UTC')
	RETURNS @extschema@.window
	AS 'MODULE_PATHNAME', 'window_add'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.window_add(@extschema@.window, timestamptz, bigint, text) IS
	'the window with amount (negative for a refund) added to the month of at in time zone tz; a newer month moves the window forward, dropping the months that fall out; a month older than the window holds is ignored';

CREATE FUNCTION @extschema@.window_shift(w @extschema@.window, to_time timestamptz,
										 tz text DEFAULT 'UTC')
	RETURNS @extschema@.window
	AS 'MODULE_PATHNAME', 'window_shift'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.window_shift(@extschema@.window, timestamptz, text) IS
	'the window moved forward so that the month of to_time in time zone tz is its newest, dropping the months that fall out; an earlier month changes nothing';

CREATE FUNCTION @extschema@.window_total(w @extschema@.window, as_of timestamptz,
										 tz text DEFAULT 'UTC')
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'window_total'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.window_total(@extschema@.window, timestamptz, text) IS
	'the rolling total: the buckets of the window''s length in months ending with the month of as_of in time zone tz; later months are not counted';

CREATE FUNCTION @extschema@.window_total(w @extschema@.window, from_time timestamptz,
										 to_time timestamptz, tz text DEFAULT 'UTC')
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'window_total_range'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.window_total(@extschema@.window, timestamptz, timestamptz, text) IS
	'the total of the months of from_time through to_time in time zone tz, e.g. a calendar year; months the window does not hold count zero';

CREATE FUNCTION @extschema@.window_months(@extschema@.window)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'window_months'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.window_months(@extschema@.window) IS
	'the length of the window in months';

CREATE FUNCTION @extschema@.window_end(@extschema@.window)
	RETURNS date
	AS 'MODULE_PATHNAME', 'window_end'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.window_end(@extschema@.window) IS
	'the first day of the newest month of the window; NULL while it is empty';

CREATE FUNCTION @extschema@.window_buckets(w @extschema@.window)
	RETURNS TABLE (month date, amount bigint)
	AS 'MODULE_PATHNAME', 'window_buckets'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	ROWS 12;

COMMENT ON FUNCTION @extschema@.window_buckets(@extschema@.window) IS
	'the months of the window (first day) and their amounts, oldest first; no rows while it is empty';

-- Equality, and the hash support that lets windows be grouped, compared in
-- rows and hash-joined.

CREATE FUNCTION @extschema@.window_eq(@extschema@.window, @extschema@.window)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'window_eq'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION @extschema@.window_ne(@extschema@.window, @extschema@.window)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'window_ne'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION @extschema@.window_hash(@extschema@.window)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'window_hash'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.window_hash_extended(@extschema@.window, bigint)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'window_hash_extended'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.window_eq(@extschema@.window, @extschema@.window) IS
	'whether two windows have the same length, newest month and buckets';
COMMENT ON FUNCTION @extschema@.window_ne(@extschema@.window, @extschema@.window) IS
	'whether two windows differ in length, newest month or buckets';
COMMENT ON FUNCTION @extschema@.window_hash(@extschema@.window) IS
	'hash of a window, for the hash operator class';
COMMENT ON FUNCTION @extschema@.window_hash_extended(@extschema@.window, bigint) IS
	'seeded 64-bit hash of a window, for the hash operator class';

CREATE OPERATOR @extschema@.= (
	LEFTARG = @extschema@.window,
	RIGHTARG = @extschema@.window,
	FUNCTION = @extschema@.window_eq,
	COMMUTATOR = OPERATOR(@extschema@.=),
	NEGATOR = OPERATOR(@extschema@.<>),
	RESTRICT = pg_catalog.eqsel,
	JOIN = pg_catalog.eqjoinsel,
	HASHES
);

CREATE OPERATOR @extschema@.<> (
	LEFTARG = @extschema@.window,
	RIGHTARG = @extschema@.window,
	FUNCTION = @extschema@.window_ne,
	COMMUTATOR = OPERATOR(@extschema@.<>),
	NEGATOR = OPERATOR(@extschema@.=),
	RESTRICT = pg_catalog.neqsel,
	JOIN = pg_catalog.neqjoinsel
);

COMMENT ON OPERATOR @extschema@.= (@extschema@.window, @extschema@.window) IS 'equal';
COMMENT ON OPERATOR @extschema@.<> (@extschema@.window, @extschema@.window) IS 'not equal';

CREATE OPERATOR CLASS @extschema@.window_ops
	DEFAULT FOR TYPE @extschema@.window USING hash AS
	OPERATOR 1 @extschema@.=,
	FUNCTION 1 @extschema@.window_hash(@extschema@.window),
	FUNCTION 2 @extschema@.window_hash_extended(@extschema@.window, bigint);

-- Every window function computes on the values it is given and reads no
-- table, so like the card type's functions they stay executable by PUBLIC:
-- there is nothing to REVOKE here.
