/*
 * tier.c
 *		Member tiers: the qualifying totals the order paths keep, and the
 *		immediate upgrade.
 *
 * Every account carries its qualifying amounts by month in
 * account.qualifying, a loyalty.window of the last 24 months (the longest
 * rolling period a program can set, so a change of tier_months needs no
 * rebuild).  What an order adds depends on the program's tier_basis:
 *
 *	points	the points the order holds (earn() adds its points too)
 *	spend	its net amount in the currency's minor units, truncated
 *	orders	1 while its net amount is above 0 (a full refund takes it back)
 *
 * The amount goes to the month of the order's ordered_at in the program's
 * time zone.  When an order changes (a refund, a lower or higher amount, a
 * delete) the difference between what it counts now and what it counted
 * goes to the month of its original ordered_at, so a refund takes back
 * exactly what the order brought, and nothing once that month has left the
 * window.  Redemptions, expiry and adjustments never change the totals.
 *
 * The total as of a moment t is the sum of the months
 *	rolling			the tier_months months ending with t's month
 *	calendar_year	January of t's year through t's month
 * in the program's time zone.  Right after adding an amount, the total as of
 * the order time is compared with the tiers' thresholds: a member who
 * reaches a tier above the one they hold moves up at once, to the highest
 * tier reached, in the order's own transaction; tier_since becomes the
 * transaction's start, and a tier_changed event goes to the outbox.
 * Nothing here moves a member down: that is loyalty.evaluate_tiers()
 * (sql/parts/85_tiers.sql).
 *
 * The earning rules price an order with the tier the member holds before
 * the order counts (src/rules.c), so a tier reached by an order multiplies
 * from the next one.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/numeric.h"

#include "loyalty.h"

/* window.c: the text form of a window (PG_FUNCTION_INFO_V1 exports it). */
extern Datum window_out(PG_FUNCTION_ARGS);

/* The first month of the qualifying period that ends with month. */
static inline int32
PeriodStart(const LoyaltyTierPolicy *tp, int32 month)
{
	/* month numbers are year * 12 + (month - 1): January is 0 mod 12 */
	return tp->calendar_year ? month - month % 12 : month - tp->months + 1;
}

/* The position of a tier code in the program's tiers, or -1. */
static int
TierIndex(const LoyaltyTierPolicy *tp, const char *code)
{
	if (code == NULL)
		return -1;
	for (int i = 0; i < tp->ntiers; i++)
		if (strcmp(tp->tiers[i].code, code) == 0)
			return i;
	return -1;
}

/* The position of the highest tier a total reaches, or -1. */
static int
TierReached(const LoyaltyTierPolicy *tp, int64 total)
{
	int			reached = -1;

	for (int i = 0; i < tp->ntiers; i++)
		if (tp->tiers[i].reachable && total >= tp->tiers[i].need)
			reached = i;
	return reached;
}

/*
 * Start a member's tier state from their account row: tier and qualifying
 * as read (NULL when NULL).  columns says whether the row had the tier
 * columns; without them (a database before its 0.3.0 update) nothing is kept.
 */
void
LoyaltyTierInit(LoyaltyTierState *ts, int32 program_id, bool columns,
				const char *tier, const LoyaltyWindow *qualifying)
{
	memset(ts, 0, sizeof(*ts));
	ts->program_id = program_id;
	ts->enabled = columns && LoyaltyTierPolicyFor(program_id)->enabled;
	if (!ts->enabled)
		return;
	ts->tier = tier ? pstrdup(tier) : NULL;
	ts->tier_before = ts->tier;
	if (qualifying != NULL)
	{
		memcpy(&ts->window, qualifying, sizeof(LoyaltyWindow));
		ts->has_window = true;
	}
}

/*
 * What an order that holds points and whose net amount is net_amount counts
 * toward its member's tier, by the program's basis.
 */
int64
LoyaltyOrderQualifying(int32 program_id, int64 points, Numeric net_amount)
{
	const LoyaltyTierPolicy *tp = LoyaltyTierPolicyFor(program_id);
	Numeric		minor;

	switch (tp->basis)
	{
		case 'p':
			return points;
		case 'o':
			return NumCmp(net_amount, NumFromInt64(0)) > 0 ? 1 : 0;
		default:
			minor = NumMul(net_amount, NumFromInt64(tp->spend_scale));
			minor = DatumGetNumeric(DirectFunctionCall2(numeric_trunc, NumericGetDatum(minor),
														Int32GetDatum(0)));
			if (NumCmp(minor, NumFromInt64(PG_INT64_MAX)) > 0)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("order amount out of range for a tier's qualifying spend"),
						 errdetail("In minor units of the program currency it exceeds %lld.",
								   (long long) PG_INT64_MAX)));
			return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(minor)));
	}
}

/*
 * Add a qualifying amount (negative: taken back) to the month of at, then
 * move the member up if their total as of at reaches a higher tier.
 */
void
LoyaltyTierAdd(LoyaltyTierState *ts, TimestampTz at, int64 amount)
{
	const LoyaltyTierPolicy *tp;
	int32		month;
	int			reached;

	if (!ts->enabled || amount == 0)
		return;
	tp = LoyaltyTierPolicyFor(ts->program_id);
	if (!ts->has_window)
	{
		LoyaltyWindowInit(&ts->window, LOYALTY_QUALIFYING_MONTHS);
		ts->has_window = true;
	}
	month = LoyaltyWindowMonth(at, tp->time_zone);
	LoyaltyWindowAdd(&ts->window, month, amount);
	ts->window_changed = true;
	if (amount < 0)
		return;					/* taking back never moves a member down here */

	reached = TierReached(tp, LoyaltyWindowSum(&ts->window, PeriodStart(tp, month), month));
	if (reached > TierIndex(tp, ts->tier))
		ts->tier = pstrdup(tp->tiers[reached].code);
}

/* Add points earned outside an order (earn()): they qualify on the points basis. */
void
LoyaltyTierAddEarned(LoyaltyTierState *ts, TimestampTz at, int64 points)
{
	if (ts->enabled && LoyaltyTierPolicyFor(ts->program_id)->basis == 'p')
		LoyaltyTierAdd(ts, at, points);
}

/* Whether the member's tier changed since the state was read. */
bool
LoyaltyTierMoved(const LoyaltyTierState *ts)
{
	if (ts->tier == NULL || ts->tier_before == NULL)
		return ts->tier != ts->tier_before;
	return strcmp(ts->tier, ts->tier_before) != 0;
}

/*
 * Set the two SPI parameters TIER_SET_CLAUSE writes, at values[first] and
 * values[first + 1]: the qualifying window as text and the tier moved to,
 * each NULL when unchanged.
 */
void
LoyaltyTierParams(const LoyaltyTierState *ts, Datum *values, char *nulls, int first)
{
	bool		moved = LoyaltyTierMoved(ts);

	values[first] = ts->window_changed ?
		CStringGetTextDatum(DatumGetCString(DirectFunctionCall1(window_out,
																PointerGetDatum(&ts->window)))) :
		(Datum) 0;
	nulls[first] = ts->window_changed ? ' ' : 'n';
	values[first + 1] = moved ? CStringGetTextDatum(ts->tier) : (Datum) 0;
	nulls[first + 1] = moved ? ' ' : 'n';
}

/*
 * A member's tier changed from from_tier to to_tier (either NULL: no tier),
 * for reason: "qualified" (an order or an earning moved them up).  Writes
 * the tier_changed event to the outbox, payload {"from": ..., "to": ...,
 * "reason": ...}, as evaluate_tiers() and grant_tier() write theirs in SQL
 * (reasons "evaluation" and "paid: " and the reason given).  SPI is
 * connected and the caller runs as the extension owner.
 */
void
LoyaltyTierChanged(int32 program_id, int64 customer_id, const char *from_tier,
				   const char *to_tier, const char *reason)
{
	StringInfoData payload;

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"from\": ");
	if (from_tier)
		escape_json(&payload, from_tier);
	else
		appendStringInfoString(&payload, "null");
	appendStringInfoString(&payload, ", \"to\": ");
	if (to_tier)
		escape_json(&payload, to_tier);
	else
		appendStringInfoString(&payload, "null");
	appendStringInfoString(&payload, ", \"reason\": ");
	escape_json(&payload, reason);
	appendStringInfoChar(&payload, '}');
	(void) LoyaltyEmitEvent(program_id, customer_id, "tier_changed", payload.data);
}
