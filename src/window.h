/*-------------------------------------------------------------------------
 *
 * window.h
 *	  The rolling window of monthly buckets (loyalty.window): a member's
 *	  qualifying totals over the last N months in one fixed-size value.
 *
 * A month is numbered year * 12 + (month - 1), so consecutive months have
 * consecutive numbers across a year boundary.  bucket[i] holds the amount of
 * month end_month - i: bucket[0] is the newest month.  Buckets from
 * bucket[months] on are always zero, so a value can be compared and hashed
 * by its bytes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LOYALTY_WINDOW_H
#define LOYALTY_WINDOW_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"

/* The longest window, in months. */
#define LOYALTY_WINDOW_MAX_MONTHS	24

/* end_month of a window that holds nothing yet. */
#define LOYALTY_WINDOW_UNSET		PG_INT32_MIN

/* The month number of year y, month m (1 to 12). */
#define LOYALTY_WINDOW_MONTH(y, m)	((int32) (y) * 12 + ((m) - 1))

/* The months a window can hold: January of year 1 to December of 9999. */
#define LOYALTY_WINDOW_MIN_MONTH	LOYALTY_WINDOW_MONTH(1, 1)
#define LOYALTY_WINDOW_MAX_MONTH	LOYALTY_WINDOW_MONTH(9999, 12)

typedef struct LoyaltyWindow
{
	int32		months;			/* window length in months, 1..24 */
	int32		end_month;		/* month of bucket[0]; LOYALTY_WINDOW_UNSET
								 * while empty */
	int64		bucket[LOYALTY_WINDOW_MAX_MONTHS];	/* bucket[i]: month
													 * end_month - i */
} LoyaltyWindow;

#define DatumGetLoyaltyWindowP(X)	((LoyaltyWindow *) DatumGetPointer(X))
#define LoyaltyWindowPGetDatum(X)	PointerGetDatum(X)
#define PG_GETARG_LOYALTY_WINDOW_P(n) DatumGetLoyaltyWindowP(PG_GETARG_DATUM(n))
#define PG_RETURN_LOYALTY_WINDOW_P(x) return LoyaltyWindowPGetDatum(x)

/* An empty window of the given length; raises 22023 outside 1..24. */
extern void LoyaltyWindowInit(LoyaltyWindow *w, int32 months);

/*
 * The month number of t in time zone tz, a name or offset as AT TIME ZONE
 * accepts it.  Raises 22023 for an unknown zone and 22008 for an infinite
 * timestamp or one whose month lies outside 0001-01 .. 9999-12.
 */
extern int32 LoyaltyWindowMonth(TimestampTz t, const char *tz);

/*
 * Add amount (negative for a refund) to the bucket of month, first moving the
 * window forward when month is newer than end_month.  An amount for a month
 * older than the window holds is ignored.  Raises 22003 when the bucket would
 * overflow (the window is then unchanged) and 22008 for a month outside
 * 0001-01 .. 9999-12.
 */
extern void LoyaltyWindowAdd(LoyaltyWindow *w, int32 month, int64 amount);

/*
 * Whether LoyaltyWindowAdd(w, month, amount) keeps the month's bucket and,
 * when adding, the sum of the buckets above zero within a bigint; *w is not
 * changed.
 */
extern bool LoyaltyWindowAddFits(const LoyaltyWindow *w, int32 month, int64 amount);

/*
 * Move the newest month forward to month, dropping the buckets that fall
 * out.  A month at or before end_month changes nothing.  An empty window
 * becomes a window of zeros ending with month.  Raises 22008 for a month
 * outside 0001-01 .. 9999-12.
 */
extern void LoyaltyWindowShift(LoyaltyWindow *w, int32 month);

/*
 * The sum of the buckets of months from_month .. to_month (inclusive) that
 * the window holds; other months count zero, and so does an empty range.
 * Raises 22003 when the sum overflows.
 */
extern int64 LoyaltyWindowSum(const LoyaltyWindow *w, int32 from_month,
							  int32 to_month);

#endif							/* LOYALTY_WINDOW_H */
