/*-------------------------------------------------------------------------
 *
 * card.c
 *	  The member card number type: sixteen decimal digits, the last one a
 *	  Luhn check digit, stored pass-by-value as an int64.
 *
 * Like contrib/isn, a card number is kept as a plain integer so that
 * comparison, sorting and hashing cost no more than for a bigint; only the
 * text and binary input paths validate the check digit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/sortsupport.h"

/* A card number has this many digits, the last being the check digit. */
#define CARD_DIGITS			16
#define CARD_BODY_DIGITS	(CARD_DIGITS - 1)

/* One more than the largest card number: 10^16. */
#define CARD_LIMIT			INT64CONST(10000000000000000)

typedef int64 Card;

#define DatumGetCard(X)		DatumGetInt64(X)
#define CardGetDatum(X)		Int64GetDatum(X)
#define PG_GETARG_CARD(n)	DatumGetCard(PG_GETARG_DATUM(n))
#define PG_RETURN_CARD(x)	return CardGetDatum(x)

/* What went wrong, if anything, while reading a card number as text. */
typedef enum CardParseStatus
{
	CARD_PARSE_OK,
	CARD_PARSE_BAD_CHARACTER,	/* neither a digit nor a separator */
	CARD_PARSE_BAD_SEPARATOR,	/* separator not between two digits */
	CARD_PARSE_MIXED_SEPARATORS,	/* both spaces and hyphens */
	CARD_PARSE_BAD_LENGTH,		/* not exactly CARD_DIGITS digits */
	CARD_PARSE_BAD_CHECK_DIGIT	/* Luhn check digit does not match */
} CardParseStatus;

/* The outcome of CardParse, with what is needed to describe a failure. */
typedef struct CardParseResult
{
	CardParseStatus status;
	Card		value;			/* the card number, when status is OK */
	int			ndigits;		/* digits found, for BAD_LENGTH */
	int			position;		/* 1-based character position of a bad one */
	const char *bad;			/* the bad character within the input */
	int			badlen;			/* its length in bytes */
	char		separator;		/* the first separator, for MIXED */
	int			expected_check; /* for BAD_CHECK_DIGIT */
} CardParseResult;

PG_FUNCTION_INFO_V1(card_in);
PG_FUNCTION_INFO_V1(card_out);
PG_FUNCTION_INFO_V1(card_recv);
PG_FUNCTION_INFO_V1(card_send);
PG_FUNCTION_INFO_V1(card_from_bigint);
PG_FUNCTION_INFO_V1(card_eq);
PG_FUNCTION_INFO_V1(card_ne);
PG_FUNCTION_INFO_V1(card_lt);
PG_FUNCTION_INFO_V1(card_le);
PG_FUNCTION_INFO_V1(card_gt);
PG_FUNCTION_INFO_V1(card_ge);
PG_FUNCTION_INFO_V1(card_cmp);
PG_FUNCTION_INFO_V1(card_sortsupport);
PG_FUNCTION_INFO_V1(card_hash);
PG_FUNCTION_INFO_V1(card_hash_extended);
PG_FUNCTION_INFO_V1(card_check_digit);
PG_FUNCTION_INFO_V1(card_is_valid);

/* True for the ASCII white space trimmed around a card number. */
static inline bool
CardIsSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\v' || c == '\f';
}

/* True for an ASCII decimal digit. */
static inline bool
CardIsDigit(char c)
{
	return c >= '0' && c <= '9';
}

/* The Luhn check digit for a body of up to CARD_BODY_DIGITS digits. */
static inline int
CardLuhnDigit(int64 body)
{
	int			sum = 0;
	bool		doubled = true;

	/* from the right, every other digit starting with the last is doubled */
	while (body > 0)
	{
		int			digit = (int) (body % 10);

		if (doubled)
		{
			digit *= 2;
			if (digit > 9)
				digit -= 9;
		}
		sum += digit;
		doubled = !doubled;
		body /= 10;
	}
	return (10 - sum % 10) % 10;
}

/* The check digit a card number should end in. */
static inline int
CardExpectedCheckDigit(Card value)
{
	return CardLuhnDigit(value / 10);
}

/* True if value is a card number: in range and with a correct check digit. */
static inline bool
CardIsValidValue(int64 value)
{
	return value >= 0 && value < CARD_LIMIT &&
		value % 10 == CardExpectedCheckDigit(value);
}

/* Write value as exactly CARD_DIGITS digits, zero-padded, into buf. */
static void
CardFormat(Card value, char *buf)
{
	int			i;

	for (i = CARD_DIGITS - 1; i >= 0; i--)
	{
		buf[i] = (char) ('0' + value % 10);
		value /= 10;
	}
	buf[CARD_DIGITS] = '\0';
}

/* The byte length of the character at p, never running past end. */
static inline int
CardCharLength(const char *p, const char *end)
{
	int			len = pg_mblen(p);

	return Min(len, (int) (end - p));
}

/*
 * Read a card number from str without raising an error: 16 digits, grouped
 * or not with single spaces or hyphens, with white space around them.
 */
static bool
CardParse(const char *str, CardParseResult *res)
{
	const char *p = str;
	const char *end;
	bool		after_digit = false;
	int64		value = 0;

	memset(res, 0, sizeof(*res));

	while (*p != '\0' && CardIsSpace(*p))
		p++;
	end = p + strlen(p);
	while (end > p && CardIsSpace(end[-1]))
		end--;

	/* leading white space is ASCII, so bytes skipped are characters too */
	res->position = (int) (p - str);

	while (p < end)
	{
		char		c = *p;

		res->position++;
		if (CardIsDigit(c))
		{
			if (res->ndigits < CARD_DIGITS)
				value = value * 10 + (c - '0');
			res->ndigits++;
			after_digit = true;
		}
		else if (c == ' ' || c == '-')
		{
			if (!after_digit || p + 1 == end)
			{
				res->status = CARD_PARSE_BAD_SEPARATOR;
				res->bad = p;
				res->badlen = 1;
				return false;
			}
			if (res->separator != '\0' && res->separator != c)
			{
				res->status = CARD_PARSE_MIXED_SEPARATORS;
				res->bad = p;
				res->badlen = 1;
				return false;
			}
			res->separator = c;
			after_digit = false;
		}
		else
		{
			res->status = CARD_PARSE_BAD_CHARACTER;
			res->bad = p;
			res->badlen = CardCharLength(p, end);
			return false;
		}
		p++;
	}

	if (res->ndigits != CARD_DIGITS)
	{
		res->status = CARD_PARSE_BAD_LENGTH;
		return false;
	}

	res->expected_check = CardExpectedCheckDigit(value);
	if (value % 10 != res->expected_check)
	{
		res->status = CARD_PARSE_BAD_CHECK_DIGIT;
		return false;
	}

	res->status = CARD_PARSE_OK;
	res->value = value;
	return true;
}

/* Raise the error describing why CardParse rejected str. */
static void
CardReportParseError(const char *str, const CardParseResult *res)
{
	switch (res->status)
	{
		case CARD_PARSE_BAD_CHARACTER:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"",
							"card", str),
					 errdetail("Unexpected character \"%.*s\" at position %d.",
							   res->badlen, res->bad, res->position),
					 errhint("A card number is 16 digits, optionally grouped with single spaces or hyphens.")));
			break;
		case CARD_PARSE_BAD_SEPARATOR:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"",
							"card", str),
					 errdetail("Separator \"%c\" at position %d does not stand between two digits.",
							   *res->bad, res->position),
					 errhint("A card number is 16 digits, optionally grouped with single spaces or hyphens.")));
			break;
		case CARD_PARSE_MIXED_SEPARATORS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"",
							"card", str),
					 errdetail("Separator \"%c\" at position %d differs from the first separator \"%c\".",
							   *res->bad, res->position, res->separator),
					 errhint("Group the digits with spaces or with hyphens, not both.")));
			break;
		case CARD_PARSE_BAD_LENGTH:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"",
							"card", str),
					 errdetail("A card number has 16 digits; got %d.",
							   res->ndigits)));
			break;
		case CARD_PARSE_BAD_CHECK_DIGIT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"",
							"card", str),
					 errdetail("The check digit should be %d.",
							   res->expected_check),
					 errhint("Check the number for a typing error.")));
			break;
		case CARD_PARSE_OK:
			break;
	}
}

/* card_in(cstring): read a card number, raising 22P02 when it is invalid. */
Datum
card_in(PG_FUNCTION_ARGS)
{
	const char *str = PG_GETARG_CSTRING(0);
	CardParseResult res;

	if (!CardParse(str, &res))
		CardReportParseError(str, &res);

	PG_RETURN_CARD(res.value);
}

/* card_out(card): the 16 digits, zero-padded, without separators. */
Datum
card_out(PG_FUNCTION_ARGS)
{
	Card		value = PG_GETARG_CARD(0);
	char	   *result = palloc(CARD_DIGITS + 1);

	CardFormat(value, result);
	PG_RETURN_CSTRING(result);
}

/* card_recv(internal): read an int8 and check it is a valid card number. */
Datum
card_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int64		value = pq_getmsgint64(buf);

	if (value < 0 || value >= CARD_LIMIT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid external card value"),
				 errdetail("The value %lld is not a number of at most 16 digits.",
						   (long long) value)));

	if (!CardIsValidValue(value))
	{
		char		digits[CARD_DIGITS + 1];

		CardFormat(value, digits);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid external card value"),
				 errdetail("The check digit of %s should be %d.",
						   digits, CardExpectedCheckDigit(value))));
	}

	PG_RETURN_CARD(value);
}

/* card_send(card): the card number as an int8. */
Datum
card_send(PG_FUNCTION_ARGS)
{
	Card		value = PG_GETARG_CARD(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, (uint64) value);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* card_from_bigint(bigint): the explicit cast, checking range and digit. */
Datum
card_from_bigint(PG_FUNCTION_ARGS)
{
	int64		value = PG_GETARG_INT64(0);

	if (value < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("card number out of range"),
				 errdetail("A card number cannot be negative; got %lld.",
						   (long long) value)));

	if (value >= CARD_LIMIT)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("card number out of range"),
				 errdetail("A card number has at most 16 digits; got %lld.",
						   (long long) value)));

	if (!CardIsValidValue(value))
	{
		char		digits[CARD_DIGITS + 1];

		CardFormat(value, digits);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid check digit in card number %s", digits),
				 errdetail("The check digit should be %d.",
						   CardExpectedCheckDigit(value)),
				 errhint("Check the number for a typing error.")));
	}

	PG_RETURN_CARD(value);
}

/* card_eq(card, card): the = operator. */
Datum
card_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CARD(0) == PG_GETARG_CARD(1));
}

/* card_ne(card, card): the <> operator. */
Datum
card_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CARD(0) != PG_GETARG_CARD(1));
}

/* card_lt(card, card): the < operator, in numeric order. */
Datum
card_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CARD(0) < PG_GETARG_CARD(1));
}

/* card_le(card, card): the <= operator, in numeric order. */
Datum
card_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CARD(0) <= PG_GETARG_CARD(1));
}

/* card_gt(card, card): the > operator, in numeric order. */
Datum
card_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CARD(0) > PG_GETARG_CARD(1));
}

/* card_ge(card, card): the >= operator, in numeric order. */
Datum
card_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CARD(0) >= PG_GETARG_CARD(1));
}

/* card_cmp(card, card): the btree support function, -1, 0 or 1. */
Datum
card_cmp(PG_FUNCTION_ARGS)
{
	Card		a = PG_GETARG_CARD(0);
	Card		b = PG_GETARG_CARD(1);

	if (a < b)
		PG_RETURN_INT32(-1);
	if (a > b)
		PG_RETURN_INT32(1);
	PG_RETURN_INT32(0);
}

#if SIZEOF_DATUM < 8
/* Sort comparator for platforms where an int64 Datum is a pointer. */
static int
CardFastCmp(Datum x, Datum y, SortSupport ssup)
{
	Card		a = DatumGetCard(x);
	Card		b = DatumGetCard(y);

	if (a < b)
		return -1;
	if (a > b)
		return 1;
	return 0;
}
#endif

/* card_sortsupport(internal): compare card numbers without fmgr calls. */
Datum
card_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

#if SIZEOF_DATUM >= 8
	/* card numbers are non-negative int64 Datums: the core fast path fits */
	ssup->comparator = ssup_datum_signed_cmp;
#else
	ssup->comparator = CardFastCmp;
#endif
	PG_RETURN_VOID();
}

/* card_hash(card): the same hash as hashint8, so the two stay consistent. */
Datum
card_hash(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall1(hashint8, PG_GETARG_DATUM(0));
}

/* card_hash_extended(card, bigint): the same as hashint8extended. */
Datum
card_hash_extended(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall2(hashint8extended,
							   PG_GETARG_DATUM(0), PG_GETARG_DATUM(1));
}

/* card_check_digit(text): the Luhn check digit for the first 15 digits. */
Datum
card_check_digit(PG_FUNCTION_ARGS)
{
	text	   *arg = PG_GETARG_TEXT_PP(0);
	const char *str = VARDATA_ANY(arg);
	int			len = VARSIZE_ANY_EXHDR(arg);
	const char *p = str;
	const char *end = str + len;
	int			position = 0;
	int			ndigits = 0;
	int64		body = 0;

	while (p < end)
	{
		position++;
		if (!CardIsDigit(*p))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for card number body: \"%s\"",
							text_to_cstring(arg)),
					 errdetail("Unexpected character \"%.*s\" at position %d.",
							   CardCharLength(p, end), p, position),
					 errhint("Give the first 15 digits of a card number, without separators.")));
		if (ndigits < CARD_BODY_DIGITS)
			body = body * 10 + (*p - '0');
		ndigits++;
		p++;
	}

	if (ndigits != CARD_BODY_DIGITS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for card number body: \"%s\"",
						text_to_cstring(arg)),
				 errdetail("A card number body has 15 digits; got %d.",
						   ndigits),
				 errhint("Give the first 15 digits of a card number, without separators.")));

	PG_RETURN_INT32(CardLuhnDigit(body));
}

/* card_is_valid(text): whether the text is a card number, never raising. */
Datum
card_is_valid(PG_FUNCTION_ARGS)
{
	char	   *str = text_to_cstring(PG_GETARG_TEXT_PP(0));
	CardParseResult res;

	PG_RETURN_BOOL(CardParse(str, &res));
}
