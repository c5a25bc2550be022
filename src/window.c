/*-------------------------------------------------------------------------
 *
 * window.c
 *	  loyalty.window: a fixed-size rolling window of monthly buckets, and the
 *	  C API the order path uses to keep it up to date.
 *
 * A window of N months (1 to 24) keeps one int64 per month for the N months
 * ending with its newest month.  Adding an amount for a newer month moves the
 * window forward and drops the months that fall out, so a member's rolling
 * total is read from one value without rescanning history.
 *
 * Text form, buckets oldest first:
 *		12 months: empty
 *		3 months to 2026-11: {0,150,40}
 * Binary form: a version byte (1), months (int4), end_month (int4), then the
 * months buckets as int8, oldest first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "common/int.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "loyalty.h"
#include "window.h"

StaticAssertDecl(sizeof(LoyaltyWindow) == 200,
				 "loyalty.window is declared with INTERNALLENGTH = 200");

/* The first byte of the binary form. */
#define WINDOW_BINARY_VERSION	1

/* The hint of every text input error. */
#define WINDOW_SYNTAX_HINT \
	"A window is written like \"12 months: empty\" or \"3 months to 2026-11: {0,150,40}\", buckets oldest first."

/* Raise 22P02 for the window literal str; the arguments are the errdetail. */
#define WindowSyntaxError(str, ...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION), \
			 errmsg("invalid input syntax for type %s: \"%s\"", "window", (str)), \
			 errdetail(__VA_ARGS__), \
			 errhint(WINDOW_SYNTAX_HINT)))

/* Raise 22P03 for a binary value; the arguments are the errdetail. */
#define WindowBinaryError(...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION), \
			 errmsg("invalid external window value"), \
			 errdetail(__VA_ARGS__)))

PG_FUNCTION_INFO_V1(window_in);
PG_FUNCTION_INFO_V1(window_out);
PG_FUNCTION_INFO_V1(window_recv);
PG_FUNCTION_INFO_V1(window_send);
PG_FUNCTION_INFO_V1(window_empty);
PG_FUNCTION_INFO_V1(window_add);
PG_FUNCTION_INFO_V1(window_shift);
PG_FUNCTION_INFO_V1(window_total);
PG_FUNCTION_INFO_V1(window_total_range);
PG_FUNCTION_INFO_V1(window_months);
PG_FUNCTION_INFO_V1(window_end);
PG_FUNCTION_INFO_V1(window_buckets);
PG_FUNCTION_INFO_V1(window_eq);
PG_FUNCTION_INFO_V1(window_ne);
PG_FUNCTION_INFO_V1(window_hash);
PG_FUNCTION_INFO_V1(window_hash_extended);

/* The last full time zone name LoyaltyWindowMonth resolved, and its zone. */
static char window_zone_name[TZ_STRLEN_MAX + 1];
static pg_tz *window_zone = NULL;

/* True for a window length of 1 to 24 months. */
static inline bool
WindowMonthsValid(int64 months)
{
	return months >= 1 && months <= LOYALTY_WINDOW_MAX_MONTHS;
}

/* True for a month number from 0001-01 to 9999-12. */
static inline bool
WindowMonthValid(int64 month)
{
	return month >= LOYALTY_WINDOW_MIN_MONTH && month <= LOYALTY_WINDOW_MAX_MONTH;
}

/* The year (astronomical: 0 is 1 BC) and month (1 to 12) of a month number. */
static inline void
WindowSplitMonth(int64 month, int *year, int *mon)
{
	int64		y = month >= 0 ? month / 12 : -((-month + 11) / 12);

	*year = (int) y;
	*mon = (int) (month - y * 12) + 1;
}

/* The first day of a month number, as a date. */
static DateADT
WindowMonthDate(int64 month)
{
	int			year;
	int			mon;

	WindowSplitMonth(month, &year, &mon);
	return date2j(year, mon, 1) - POSTGRES_EPOCH_JDATE;
}

/* True for the ASCII white space tolerated around the tokens of a literal. */
static inline bool
WindowIsSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\v' || c == '\f';
}

/* True for an ASCII decimal digit. */
static inline bool
WindowIsDigit(char c)
{
	return c >= '0' && c <= '9';
}

/* True for an ASCII letter. */
static inline bool
WindowIsAlpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* p advanced past white space. */
static inline const char *
WindowSkipSpace(const char *p)
{
	while (WindowIsSpace(*p))
		p++;
	return p;
}

/*
 * If the letters at *p are the word, advance *p past them and return true;
 * a longer run of letters is not the word.
 */
static bool
WindowTakeWord(const char **p, const char *word)
{
	size_t		len = strlen(word);

	if (strncmp(*p, word, len) != 0 || WindowIsAlpha((*p)[len]))
		return false;
	*p += len;
	return true;
}

/* The end of the token at p: up to white space, a comma, a brace or ":". */
static const char *
WindowTokenEnd(const char *p)
{
	while (*p != '\0' && !WindowIsSpace(*p) && *p != ',' && *p != '{' &&
		   *p != '}' && *p != ':')
		p++;
	return p;
}

/*
 * Read the integer [p, end): an optional minus sign and digits.  Returns
 * false if it is not one; sets *overflow when it is one beyond int64.
 */
static bool
WindowParseInt64(const char *p, const char *end, int64 *result, bool *overflow)
{
	bool		negative = false;
	int64		value = 0;

	*overflow = false;
	if (p < end && *p == '-')
	{
		negative = true;
		p++;
	}
	if (p == end)
		return false;

	/* accumulate negatively, so that PG_INT64_MIN can be read */
	for (; p < end; p++)
	{
		if (!WindowIsDigit(*p))
			return false;
		if (!*overflow &&
			(pg_mul_s64_overflow(value, 10, &value) ||
			 pg_sub_s64_overflow(value, *p - '0', &value)))
			*overflow = true;
	}
	if (*overflow)
		return true;
	if (!negative)
	{
		if (value == PG_INT64_MIN)
		{
			*overflow = true;
			return true;
		}
		value = -value;
	}
	*result = value;
	return true;
}

/* Raise 22003: adding amount to the bucket of month would overflow. */
static void
WindowBucketOverflow(int32 month, int64 bucket, int64 amount)
{
	int			year;
	int			mon;

	WindowSplitMonth(month, &year, &mon);
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("window bucket out of range for type bigint"),
			 errdetail("The bucket of %04d-%02d holds %lld; adding %lld to it overflows.",
					   year, mon, (long long) bucket, (long long) amount)));
}

/* Raise 22008 unless month is one a window can hold. */
static void
WindowCheckMonth(int32 month)
{
	if (!WindowMonthValid(month))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("window month %d out of range", month),
				 errdetail("A window holds months %d (0001-01) to %d (9999-12).",
						   LOYALTY_WINDOW_MIN_MONTH, LOYALTY_WINDOW_MAX_MONTH)));
}

/* Raise 22023 for the time zone name tz. */
static void
WindowUnknownZone(const char *tz)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("time zone \"%s\" not recognized", tz),
			 errhint("Use a name from pg_timezone_names, such as \"Asia/Ho_Chi_Minh\", or an abbreviation from pg_timezone_abbrevs, such as \"UTC\".")));
}

/* Initialize *w as an empty window of the given length. */
void
LoyaltyWindowInit(LoyaltyWindow *w, int32 months)
{
	if (!WindowMonthsValid(months))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid window length: %d months", months),
				 errdetail("A window has 1 to %d months.", LOYALTY_WINDOW_MAX_MONTHS),
				 errhint("Use 12 for a rolling year.")));
	memset(w, 0, sizeof(LoyaltyWindow));
	w->months = months;
	w->end_month = LOYALTY_WINDOW_UNSET;
}

/* The month number of t in time zone tz, resolved as AT TIME ZONE does. */
int32
LoyaltyWindowMonth(TimestampTz t, const char *tz)
{
	size_t		len = strlen(tz);
	char		lowzone[TOKMAXLEN + 2];
	size_t		i;
	int			type;
	int			val;
	pg_tz	   *tzp;
	struct pg_tm tm;
	fsec_t		fsec;
	int64		month;

	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for loyalty.window"),
				 errdetail("The timestamp %s falls in no month.",
						   TIMESTAMP_IS_NOBEGIN(t) ? "-infinity" : "infinity")));

	if (len > TZ_STRLEN_MAX)
		WindowUnknownZone(tz);

	/*
	 * Abbreviations first, then full zone names, as timestamptz_zone does
	 * (the zone database reuses a few abbreviations as zone names).  The
	 * abbreviation table follows timezone_abbreviations, so it is consulted
	 * on every call; it remembers its last hit itself.  Its tokens are at
	 * most TOKMAXLEN lower-case ASCII characters and are compared on that
	 * many, so a name lowered and cut after TOKMAXLEN + 1 matches the same.
	 */
	for (i = 0; i < len && i <= TOKMAXLEN; i++)
		lowzone[i] = (char) pg_ascii_tolower((unsigned char) tz[i]);
	lowzone[i] = '\0';
	type = DecodeTimezoneAbbrev(0, lowzone, &val, &tzp);

	if (type == TZ || type == DTZ || type == DYNTZ)
	{
		int			offset;		/* seconds west of UTC */
		Timestamp	local;

		if (type == DYNTZ)
		{
			int			isdst;

			offset = DetermineTimeZoneAbbrevOffsetTS(t, tz, tzp, &isdst);
		}
		else
			offset = -val;
		local = t - (int64) offset * USECS_PER_SEC;
		if (!IS_VALID_TIMESTAMP(local) ||
			timestamp2tm(local, NULL, &tm, &fsec, NULL, NULL) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range for loyalty.window"),
					 errdetail("In time zone \"%s\" the timestamp is outside the range of timestamps.", tz)));
	}
	else
	{
		int			offset;

		/* a full zone name: the pg_tz of the last one is kept */
		if (window_zone == NULL || strcmp(window_zone_name, tz) != 0)
		{
			tzp = pg_tzset(tz);
			if (tzp == NULL)
				WindowUnknownZone(tz);
			strlcpy(window_zone_name, tz, sizeof(window_zone_name));
			window_zone = tzp;
		}
		if (timestamp2tm(t, &offset, &tm, &fsec, NULL, window_zone) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range for loyalty.window"),
					 errdetail("In time zone \"%s\" the timestamp is outside the range of timestamps.", tz)));
	}

	month = (int64) tm.tm_year * 12 + (tm.tm_mon - 1);
	if (!WindowMonthValid(month))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for loyalty.window"),
				 errdetail("It falls in %04d-%02d%s in time zone \"%s\"; a window holds months of the years 0001 to 9999.",
						   tm.tm_year > 0 ? tm.tm_year : 1 - tm.tm_year,
						   tm.tm_mon, tm.tm_year > 0 ? "" : " BC", tz)));
	return (int32) month;
}

/* Move the newest month of *w forward to month; older months change nothing. */
void
LoyaltyWindowShift(LoyaltyWindow *w, int32 month)
{
	int64		distance;

	Assert(WindowMonthsValid(w->months));
	WindowCheckMonth(month);

	/* an empty window's end_month, PG_INT32_MIN, is before every month */
	distance = (int64) month - w->end_month;
	if (distance <= 0)
		return;
	if (distance >= w->months)
		memset(w->bucket, 0, sizeof(w->bucket));
	else
	{
		memmove(&w->bucket[distance], &w->bucket[0],
				(w->months - distance) * sizeof(int64));
		memset(&w->bucket[0], 0, distance * sizeof(int64));
	}
	w->end_month = month;
}

/* Add amount to the bucket of month, moving the window forward if needed. */
void
LoyaltyWindowAdd(LoyaltyWindow *w, int32 month, int64 amount)
{
	int64		age;
	int64		sum;

	Assert(WindowMonthsValid(w->months));
	WindowCheckMonth(month);

	if (month > w->end_month)
	{
		/* the month becomes the newest, with a fresh bucket: no overflow */
		LoyaltyWindowShift(w, month);
		w->bucket[0] = amount;
		return;
	}

	age = (int64) w->end_month - month;
	if (age >= w->months)
		return;					/* older than the window holds */
	if (pg_add_s64_overflow(w->bucket[age], amount, &sum))
		WindowBucketOverflow(month, w->bucket[age], amount);
	w->bucket[age] = sum;
}

/*
 * Whether LoyaltyWindowAdd(w, month, amount) keeps the window within a
 * bigint: the month's bucket and, when adding, the sum of the buckets
 * above zero, which bounds every total LoyaltyWindowSum gives.  *w is not
 * changed.
 */
bool
LoyaltyWindowAddFits(const LoyaltyWindow *w, int32 month, int64 amount)
{
	LoyaltyWindow moved = *w;
	int64		age;
	int64		total = 0;

	LoyaltyWindowShift(&moved, month);
	age = (int64) moved.end_month - month;
	if (age >= moved.months)
		return true;			/* older than the window holds: not counted */
	if (pg_add_s64_overflow(moved.bucket[age], amount, &moved.bucket[age]))
		return false;
	for (int i = 0; amount > 0 && i < moved.months; i++)
		if (moved.bucket[i] > 0 && pg_add_s64_overflow(total, moved.bucket[i], &total))
			return false;
	return true;
}

/* The sum of the buckets of from_month .. to_month that *w holds. */
int64
LoyaltyWindowSum(const LoyaltyWindow *w, int32 from_month, int32 to_month)
{
	int64		first;
	int64		last;
	int64		total = 0;
	int64		m;

	Assert(WindowMonthsValid(w->months));
	if (w->end_month == LOYALTY_WINDOW_UNSET)
		return 0;

	first = Max((int64) from_month, (int64) w->end_month - w->months + 1);
	last = Min((int64) to_month, (int64) w->end_month);
	for (m = first; m <= last; m++)
	{
		if (pg_add_s64_overflow(total, w->bucket[w->end_month - m], &total))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("window total out of range for type bigint"),
					 errdetail("The buckets of the months asked for add up to more than a bigint holds.")));
	}
	return total;
}

/* The month number of t in the time zone given as text. */
static int32
WindowMonthOfText(TimestampTz t, text *zone)
{
	char		tz[TZ_STRLEN_MAX + 1];

	if (VARSIZE_ANY_EXHDR(zone) > TZ_STRLEN_MAX)
		WindowUnknownZone(text_to_cstring(zone));
	text_to_cstring_buffer(zone, tz, sizeof(tz));
	return LoyaltyWindowMonth(t, tz);
}

/* A palloc'd copy of a window. */
static LoyaltyWindow *
WindowCopy(const LoyaltyWindow *w)
{
	LoyaltyWindow *copy = palloc(sizeof(LoyaltyWindow));

	memcpy(copy, w, sizeof(LoyaltyWindow));
	return copy;
}

/* window_in(cstring): read the text form, raising 22P02 with what is wrong. */
Datum
window_in(PG_FUNCTION_ARGS)
{
	const char *str = PG_GETARG_CSTRING(0);
	LoyaltyWindow *w = palloc0(sizeof(LoyaltyWindow));
	const char *p = WindowSkipSpace(str);
	const char *end;
	int64		value;
	bool		overflow;
	int			year;
	int			mon;
	int			count;
	int64		buckets[LOYALTY_WINDOW_MAX_MONTHS];

	/* the length: "12 months" */
	end = p;
	while (WindowIsDigit(*end))
		end++;
	if (end == p)
		WindowSyntaxError(str, "A window begins with its length, a number of months.");
	if (*p == '0' && end - p > 1)
		WindowSyntaxError(str, "The window length %.*s has a leading zero.", (int) (end - p), p);
	if (end - p > 9 || !WindowMonthsValid(strtol(p, NULL, 10)))
		WindowSyntaxError(str, "A window has 1 to %d months; got %.*s.",
						  LOYALTY_WINDOW_MAX_MONTHS, (int) (end - p), p);
	w->months = (int32) strtol(p, NULL, 10);
	w->end_month = LOYALTY_WINDOW_UNSET;
	p = WindowSkipSpace(end);
	if (!WindowTakeWord(&p, "months"))
		WindowSyntaxError(str, "Expected \"months\" after the window length.");
	p = WindowSkipSpace(p);

	/* "12 months: empty" */
	if (*p == ':')
	{
		p = WindowSkipSpace(p + 1);
		if (!WindowTakeWord(&p, "empty"))
			WindowSyntaxError(str, "Expected \"empty\" after \"%d months:\".", w->months);
		p = WindowSkipSpace(p);
		if (*p != '\0')
			WindowSyntaxError(str, "Unexpected text after \"empty\": \"%s\".", p);
		PG_RETURN_LOYALTY_WINDOW_P(w);
	}

	/* "12 months to 2026-11: {...}" */
	if (!WindowTakeWord(&p, "to"))
		WindowSyntaxError(str, "Expected \": empty\" or \"to YYYY-MM: {...}\" after \"%d months\".",
						  w->months);
	p = WindowSkipSpace(p);
	end = WindowTokenEnd(p);
	if (end - p != 7 || !WindowIsDigit(p[0]) || !WindowIsDigit(p[1]) ||
		!WindowIsDigit(p[2]) || !WindowIsDigit(p[3]) || p[4] != '-' ||
		!WindowIsDigit(p[5]) || !WindowIsDigit(p[6]))
		WindowSyntaxError(str, "The newest month is written YYYY-MM; got \"%.*s\".",
						  (int) (end - p), p);
	year = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
	mon = (p[5] - '0') * 10 + (p[6] - '0');
	if (mon < 1 || mon > 12)
		WindowSyntaxError(str, "The newest month %.7s has no month %02d; months run from 01 to 12.",
						  p, mon);
	if (year < 1)
		WindowSyntaxError(str, "The newest month %.7s is before 0001-01, the first month a window holds.",
						  p);
	w->end_month = LOYALTY_WINDOW_MONTH(year, mon);
	p = WindowSkipSpace(end);
	if (*p != ':')
		WindowSyntaxError(str, "Expected \":\" after the newest month.");
	p = WindowSkipSpace(p + 1);
	if (*p != '{')
		WindowSyntaxError(str, "Expected \"{\" to open the list of buckets.");
	p = WindowSkipSpace(p + 1);

	/* the buckets, oldest first; all are checked, then counted */
	count = 0;
	if (*p == '}')
		p++;
	else
	{
		for (;;)
		{
			count++;
			end = WindowTokenEnd(p);
			if (end == p)
				WindowSyntaxError(str, "Bucket %d is missing.", count);
			if (!WindowParseInt64(p, end, &value, &overflow))
				WindowSyntaxError(str, "Bucket %d is not an integer: \"%.*s\".",
								  count, (int) (end - p), p);
			if (overflow)
				WindowSyntaxError(str, "Bucket %d is out of range for type bigint: \"%.*s\".",
								  count, (int) (end - p), p);
			if (count <= w->months)
				buckets[count - 1] = value;
			p = WindowSkipSpace(end);
			if (*p == '}')
			{
				p++;
				break;
			}
			if (*p == '\0')
				WindowSyntaxError(str, "The list of buckets is not closed with \"}\".");
			if (*p != ',')
				WindowSyntaxError(str, "Expected \",\" or \"}\" after bucket %d.", count);
			p = WindowSkipSpace(p + 1);
		}
	}
	p = WindowSkipSpace(p);
	if (*p != '\0')
		WindowSyntaxError(str, "Unexpected text after the buckets: \"%s\".", p);
	if (count != w->months)
		WindowSyntaxError(str, "A window of %d months has %d buckets; got %d.",
						  w->months, w->months, count);

	/* stored newest first */
	for (count = 0; count < w->months; count++)
		w->bucket[count] = buckets[w->months - 1 - count];
	PG_RETURN_LOYALTY_WINDOW_P(w);
}

/* window_out(window): the text form, buckets oldest first. */
Datum
window_out(PG_FUNCTION_ARGS)
{
	LoyaltyWindow *w = PG_GETARG_LOYALTY_WINDOW_P(0);
	StringInfoData buf;
	int			year;
	int			mon;
	int			i;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%d months", w->months);
	if (w->end_month == LOYALTY_WINDOW_UNSET)
	{
		appendStringInfoString(&buf, ": empty");
		PG_RETURN_CSTRING(buf.data);
	}
	WindowSplitMonth(w->end_month, &year, &mon);
	appendStringInfo(&buf, " to %04d-%02d: {", year, mon);
	for (i = w->months - 1; i >= 0; i--)
		appendStringInfo(&buf, i > 0 ? "%lld," : "%lld}", (long long) w->bucket[i]);
	PG_RETURN_CSTRING(buf.data);
}

/* window_recv(internal): read the binary form, checked as the text input is. */
Datum
window_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	LoyaltyWindow *w = palloc0(sizeof(LoyaltyWindow));
	int			version;
	int			need;
	int			i;

	if (buf->len - buf->cursor < 9)
		WindowBinaryError("A window value has at least 9 bytes; got %d.",
						  buf->len - buf->cursor);
	version = pq_getmsgbyte(buf);
	if (version != WINDOW_BINARY_VERSION)
		WindowBinaryError("Unsupported binary format version %d; this version of loyalty reads version %d.",
						  version, WINDOW_BINARY_VERSION);
	w->months = (int32) pq_getmsgint(buf, 4);
	w->end_month = (int32) pq_getmsgint(buf, 4);
	if (!WindowMonthsValid(w->months))
		WindowBinaryError("A window has 1 to %d months; got %d.",
						  LOYALTY_WINDOW_MAX_MONTHS, w->months);
	if (w->end_month != LOYALTY_WINDOW_UNSET && !WindowMonthValid(w->end_month))
		WindowBinaryError("The newest month %d is outside %d (0001-01) to %d (9999-12).",
						  w->end_month, LOYALTY_WINDOW_MIN_MONTH, LOYALTY_WINDOW_MAX_MONTH);
	need = w->months * (int) sizeof(int64);
	if (buf->len - buf->cursor != need)
		WindowBinaryError("A window of %d months has %d bytes of buckets; got %d.",
						  w->months, need, buf->len - buf->cursor);
	/* oldest first on the wire, newest first in memory */
	for (i = w->months - 1; i >= 0; i--)
		w->bucket[i] = pq_getmsgint64(buf);
	if (w->end_month == LOYALTY_WINDOW_UNSET)
	{
		for (i = 0; i < w->months; i++)
			if (w->bucket[i] != 0)
				WindowBinaryError("An empty window has only zero buckets.");
	}
	PG_RETURN_LOYALTY_WINDOW_P(w);
}

/* window_send(window): the binary form. */
Datum
window_send(PG_FUNCTION_ARGS)
{
	LoyaltyWindow *w = PG_GETARG_LOYALTY_WINDOW_P(0);
	StringInfoData buf;
	int			i;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, WINDOW_BINARY_VERSION);
	pq_sendint32(&buf, w->months);
	pq_sendint32(&buf, w->end_month);
	for (i = w->months - 1; i >= 0; i--)
		pq_sendint64(&buf, w->bucket[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* window_empty(integer): an empty window of that many months. */
Datum
window_empty(PG_FUNCTION_ARGS)
{
	LoyaltyWindow *w = palloc(sizeof(LoyaltyWindow));

	LoyaltyWindowInit(w, PG_GETARG_INT32(0));
	PG_RETURN_LOYALTY_WINDOW_P(w);
}

/* window_add(window, timestamptz, bigint, text): the amount added at a time. */
Datum
window_add(PG_FUNCTION_ARGS)
{
	LoyaltyWindow *w = WindowCopy(PG_GETARG_LOYALTY_WINDOW_P(0));
	int32		month = WindowMonthOfText(PG_GETARG_TIMESTAMPTZ(1), PG_GETARG_TEXT_PP(3));

	LoyaltyWindowAdd(w, month, PG_GETARG_INT64(2));
	PG_RETURN_LOYALTY_WINDOW_P(w);
}

/* window_shift(window, timestamptz, text): moved forward to a time's month. */
Datum
window_shift(PG_FUNCTION_ARGS)
{
	LoyaltyWindow *w = WindowCopy(PG_GETARG_LOYALTY_WINDOW_P(0));
	int32		month = WindowMonthOfText(PG_GETARG_TIMESTAMPTZ(1), PG_GETARG_TEXT_PP(2));

	LoyaltyWindowShift(w, month);
	PG_RETURN_LOYALTY_WINDOW_P(w);
}

/* window_total(window, timestamptz, text): the window's months up to as_of. */
Datum
window_total(PG_FUNCTION_ARGS)
{
	LoyaltyWindow *w = PG_GETARG_LOYALTY_WINDOW_P(0);
	int32		last = WindowMonthOfText(PG_GETARG_TIMESTAMPTZ(1), PG_GETARG_TEXT_PP(2));

	PG_RETURN_INT64(LoyaltyWindowSum(w, last - w->months + 1, last));
}

/* window_total(window, timestamptz, timestamptz, text): from .. to. */
Datum
window_total_range(PG_FUNCTION_ARGS)
{
	LoyaltyWindow *w = PG_GETARG_LOYALTY_WINDOW_P(0);
	TimestampTz from_time = PG_GETARG_TIMESTAMPTZ(1);
	TimestampTz to_time = PG_GETARG_TIMESTAMPTZ(2);
	text	   *zone = PG_GETARG_TEXT_PP(3);

	if (from_time > to_time)
	{
		char	   *from_str = pstrdup(timestamptz_to_str(from_time));

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from_time is after to_time"),
				 errdetail("The period runs from %s to %s.",
						   from_str, timestamptz_to_str(to_time)),
				 errhint("Give the start of the period first.")));
	}
	PG_RETURN_INT64(LoyaltyWindowSum(w, WindowMonthOfText(from_time, zone),
									 WindowMonthOfText(to_time, zone)));
}

/* window_months(window): the window length. */
Datum
window_months(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_LOYALTY_WINDOW_P(0)->months);
}

/* window_end(window): the first day of the newest month, NULL while empty. */
Datum
window_end(PG_FUNCTION_ARGS)
{
	LoyaltyWindow *w = PG_GETARG_LOYALTY_WINDOW_P(0);

	if (w->end_month == LOYALTY_WINDOW_UNSET)
		PG_RETURN_NULL();
	PG_RETURN_DATEADT(WindowMonthDate(w->end_month));
}

/* window_buckets(window): (month, amount) rows, oldest first. */
Datum
window_buckets(PG_FUNCTION_ARGS)
{
	LoyaltyWindow *w = PG_GETARG_LOYALTY_WINDOW_P(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	LoyaltyInitSRF(fcinfo);
	if (w->end_month == LOYALTY_WINDOW_UNSET)
		return (Datum) 0;
	for (i = w->months - 1; i >= 0; i--)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = DateADTGetDatum(WindowMonthDate((int64) w->end_month - i));
		values[1] = Int64GetDatum(w->bucket[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* True if a and b have the same length, newest month and buckets. */
static bool
WindowEquals(const LoyaltyWindow *a, const LoyaltyWindow *b)
{
	return a->months == b->months && a->end_month == b->end_month &&
		memcmp(a->bucket, b->bucket, a->months * sizeof(int64)) == 0;
}

/* The bytes that make a window's value: the header and its used buckets. */
static inline int
WindowValueBytes(const LoyaltyWindow *w)
{
	return (int) (offsetof(LoyaltyWindow, bucket) + w->months * sizeof(int64));
}

/* window_eq(window, window): the = operator. */
Datum
window_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(WindowEquals(PG_GETARG_LOYALTY_WINDOW_P(0),
								PG_GETARG_LOYALTY_WINDOW_P(1)));
}

/* window_ne(window, window): the <> operator. */
Datum
window_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!WindowEquals(PG_GETARG_LOYALTY_WINDOW_P(0),
								 PG_GETARG_LOYALTY_WINDOW_P(1)));
}

/* window_hash(window): a hash of the bytes = compares. */
Datum
window_hash(PG_FUNCTION_ARGS)
{
	LoyaltyWindow *w = PG_GETARG_LOYALTY_WINDOW_P(0);

	return hash_any((const unsigned char *) w, WindowValueBytes(w));
}

/* window_hash_extended(window, bigint): the seeded 64-bit hash. */
Datum
window_hash_extended(PG_FUNCTION_ARGS)
{
	LoyaltyWindow *w = PG_GETARG_LOYALTY_WINDOW_P(0);

	return hash_any_extended((const unsigned char *) w, WindowValueBytes(w),
							 PG_GETARG_INT64(1));
}
