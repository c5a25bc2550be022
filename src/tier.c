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
 * Points a fraud check holds count toward no tier while held (an order's
 * order_accrual.held, an earning's held lot): review() counts them when it
 * releases them (count_released, below), and a void leaves nothing to take
 * back.
 *
 * The total as of a moment t is the sum of the months
 *	rolling			the tier_months months ending with t's month
 *	calendar_year	January of t's year through t's month
 * in the program's time zone.  Right after adding an amount, the total as of
 * the order time is compared with the tiers' thresholds: a member who
 * reaches a tier above the one they hold moves up at once, to the highest
 * tier reached, in the order's own transaction; tier_since becomes the
 * transaction's start, and a tier_changed event goes to the outbox.
 * Nothing on the order paths moves a member down: that is
 * loyalty.evaluate_tiers(), at the end of this file, which decides with the
 * same rules (sql/parts/85_tiers.sql says what it decides): one tier down at
 * most, and at most once a month, never below a paid tier that runs.
 *
 * The earning rules price an order with the tier the member holds before
 * the order counts (src/rules.c), so a tier reached by an order multiplies
 * from the next one.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"

#include "loyalty.h"

PG_FUNCTION_INFO_V1(loyalty_count_released);
PG_FUNCTION_INFO_V1(loyalty_evaluate_tiers);

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
 * toward its member's tier, by the program's basis, in *qualifying.  False
 * when it is spend whose minor units pass the largest bigint: then *why (if
 * not NULL) says so, for the order's accrual problem.  Nothing is rounded
 * or clamped: an amount either counts exactly or not at all.
 */
bool
LoyaltyOrderQualifyingFits(int32 program_id, int64 points, Numeric net_amount,
						   int64 *qualifying, char **why)
{
	const LoyaltyTierPolicy *tp = LoyaltyTierPolicyFor(program_id);
	Numeric		minor;

	switch (tp->basis)
	{
		case 'p':
			*qualifying = points;
			return true;
		case 'o':
			*qualifying = NumCmp(net_amount, NumFromInt64(0)) > 0 ? 1 : 0;
			return true;
		default:
			minor = NumMul(net_amount, NumFromInt64(tp->spend_scale));
			minor = DatumGetNumeric(DirectFunctionCall2(numeric_trunc, NumericGetDatum(minor),
														Int32GetDatum(0)));
			if (NumCmp(minor, NumFromInt64(PG_INT64_MAX)) > 0)
			{
				if (why != NULL)
					*why = psprintf("the amount %s is %s in minor units of the program currency,"
									" more than a tier's qualifying spend counts, " INT64_FORMAT,
									LoyaltyAmountText(net_amount), LoyaltyAmountText(minor),
									PG_INT64_MAX);
				return false;
			}
			*qualifying = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(minor)));
			return true;
	}
}

/*
 * What an order counts toward its member's tier (LoyaltyOrderQualifyingFits),
 * raising 22003 when it cannot count: for explicit calls (review()), not
 * the order paths, which record the order as a problem instead.
 */
int64
LoyaltyOrderQualifying(int32 program_id, int64 points, Numeric net_amount)
{
	int64		qualifying;

	if (!LoyaltyOrderQualifyingFits(program_id, points, net_amount, &qualifying, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("order amount out of range for a tier's qualifying spend"),
				 errdetail("In minor units of the program currency it exceeds %lld.",
						   (long long) PG_INT64_MAX),
				 errhint("Correct the order's amount, or qualify the program's tiers by points"
						 " or orders with loyalty.set_tier_policy().")));
	return qualifying;
}

/*
 * Whether adding amount (negative: taken back) to the month of at keeps the
 * member's qualifying window within a bigint: the month's bucket, and, when
 * adding, the sum of the window's buckets above zero, which bounds every
 * total a period of it gives.  False, with *why (if not NULL) for the
 * order's accrual problem, when it would not; LoyaltyTierAdd would raise
 * 22003 then.  Only spend can get there: a window of points holds no more
 * than the lifetime earned points, one of orders no more than the order
 * count, and the order paths keep both within a bigint.
 */
bool
LoyaltyTierFits(const LoyaltyTierState *ts, TimestampTz at, int64 amount, char **why)
{
	const LoyaltyTierPolicy *tp;

	/* Without a window yet, one amount is all its total holds: it fits. */
	if (!ts->enabled || amount == 0 || !ts->has_window)
		return true;
	tp = LoyaltyTierPolicyFor(ts->program_id);
	if (tp->basis != 's' ||
		LoyaltyWindowAddFits(&ts->window, LoyaltyWindowMonth(at, tp->time_zone), amount))
		return true;
	if (why != NULL)
		*why = psprintf("the order's qualifying " INT64_FORMAT " would take the member's"
						" qualifying total past the largest it holds, " INT64_FORMAT,
						amount, PG_INT64_MAX);
	return false;
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
 * The payload of a tier_changed event, {"from": ..., "to": ..., "reason":
 * ...}, from_tier and to_tier NULL for no tier, as JSON text.
 */
static char *
TierChangedPayload(const char *from_tier, const char *to_tier, const char *reason)
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
	return payload.data;
}

/*
 * A member's tier changed from from_tier to to_tier (either NULL: no tier),
 * for reason: "qualified" (an order or an earning moved them up).  Writes
 * the tier_changed event to the outbox, as evaluate_tiers() (reason
 * "evaluation", below) and grant_tier() (in SQL, "paid: " and the reason
 * given) write theirs.  SPI is connected and the caller runs as the
 * extension owner.
 */
void
LoyaltyTierChanged(int32 program_id, int64 customer_id, const char *from_tier,
				   const char *to_tier, const char *reason)
{
	(void) LoyaltyEmitEvent(program_id, customer_id, "tier_changed",
							TierChangedPayload(from_tier, to_tier, reason));
}

/*
 * count_released(customer_id, program_id, at, points, net_amount): points a
 * fraud check held counted toward no tier; review() released them, so they
 * count now, at the month of at (the order time, or when an earning was
 * made), and move the member up as the order or earning would have:
 * an order's by the program's basis from its points and net amount now, an
 * earning's (net_amount NULL) on the points basis only.  review() holds the
 * account row lock and runs as the extension owner.
 */
Datum
loyalty_count_released(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr read_plan = NULL;
	static SPIPlanPtr write_plan = NULL;
	Oid			argtypes[4] = {INT8OID, INT4OID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	int64		customer_id;
	int32		program_id;
	TimestampTz at;
	int64		points;
	LoyaltyTierState ts;
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		elog(ERROR, "count_released: only net_amount may be null");
	customer_id = PG_GETARG_INT64(0);
	program_id = PG_GETARG_INT32(1);
	at = PG_GETARG_TIMESTAMPTZ(2);
	points = PG_GETARG_INT64(3);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* The tier rules load through SPI. */
	if (!LoyaltyTierPolicyFor(program_id)->enabled)
	{
		SPI_finish();
		PG_RETURN_VOID();
	}
	if (read_plan == NULL)
		read_plan = LoyaltyPreparePlan("SELECT tier, qualifying FROM loyalty.account"
									   " WHERE customer_id OPERATOR(pg_catalog.=) $1"
									   "  AND program_id OPERATOR(pg_catalog.=) $2",
									   2, argtypes);
	values[0] = Int64GetDatum(customer_id);
	values[1] = Int32GetDatum(program_id);
	if (SPI_execute_plan(read_plan, values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "member %lld has no account", (long long) customer_id);
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	d = SPI_getbinval(tuple, desc, 2, &isnull);
	LoyaltyTierInit(&ts, program_id, true, SPI_getvalue(tuple, desc, 1),
					isnull ? NULL : (LoyaltyWindow *) DatumGetPointer(d));

	if (PG_ARGISNULL(4))
		LoyaltyTierAddEarned(&ts, at, points);
	else
		LoyaltyTierAdd(&ts, at, LoyaltyOrderQualifying(program_id, points, PG_GETARG_NUMERIC(4)));

	if (ts.window_changed)
	{
		if (write_plan == NULL)
			write_plan = LoyaltyPreparePlan("UPDATE loyalty.account SET updated_at = pg_catalog.now()"
											TIER_SET_CLAUSE("$3", "$4")
											" WHERE customer_id OPERATOR(pg_catalog.=) $1"
											"  AND program_id OPERATOR(pg_catalog.=) $2",
											4, argtypes);
		LoyaltyTierParams(&ts, values, nulls, 2);
		if (SPI_execute_plan(write_plan, values, nulls, false, 0) != SPI_OK_UPDATE ||
			SPI_processed != 1)
			elog(ERROR, "tier update of member %lld failed", (long long) customer_id);
	}
	if (LoyaltyTierMoved(&ts))
		LoyaltyTierChanged(program_id, customer_id, ts.tier_before, ts.tier, "qualified");
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * evaluate_tiers(as_of): the periodic re-evaluation of every member's tier
 * (sql/parts/85_tiers.sql says what it decides).  One sequential scan of
 * loyalty.account decides every member with the order path's own rules
 * (TierReached, TierIndex, PeriodStart) on their qualifying window; only the
 * members who move are kept.  They are written in key order, 16,384 at a
 * time, by two SPI statements: an UPDATE of exactly the row versions the
 * decisions were made from, then the INSERT of their tier_changed events.
 * A member whose row changed since (an order committed) is left out by the
 * UPDATE and decided again from a new snapshot, up to three passes in all.
 */

/* The columns of loyalty.account the evaluation reads. */
typedef enum EvalColumn
{
	EV_CUSTOMER, EV_PROGRAM, EV_TIER, EV_TIER_SINCE, EV_PAID, EV_PAID_UNTIL, EV_QUALIFYING,
	EV_NUM_COLUMNS
} EvalColumn;

static const char *const eval_column_names[EV_NUM_COLUMNS] = {
	"customer_id", "program_id", "tier", "tier_since", "tier_paid", "tier_paid_until", "qualifying"
};

/* A program with tiers, as the evaluation ranks its members. */
typedef struct EvalProgram
{
	int32		program_id;
	LoyaltyTierPolicy policy;	/* a copy: the rules cache may reload meanwhile */
	int32		first_month;	/* the qualifying period that ends at as_of */
	int32		last_month;
	TimestampTz settled_since;	/* the latest tier_since a member may move down
								 * from: after the grace days, and before the
								 * month of as_of began */
} EvalProgram;

/* A member's key. */
typedef struct MemberKey
{
	int64		customer_id;
	int32		program_id;
} MemberKey;

/* A member who moves, and the row version the decision was made from. */
typedef struct TierMove
{
	MemberKey	key;
	ItemPointerData tid;
	const char *from_tier;		/* NULL: none */
	const char *to_tier;		/* NULL: none */
	bool		up;
	Datum		payload;		/* its tier_changed event's payload, a jsonb */
} TierMove;

/* The payload of the moves between two tiers: a few pairs per program. */
typedef struct TierPayload
{
	const char *from_tier;
	const char *to_tier;
	Datum		payload;
} TierPayload;

#define MAX_CACHED_PAYLOADS 64

/* One run of evaluate_tiers(). */
typedef struct TierEvaluation
{
	TimestampTz as_of;
	int			nprograms;
	EvalProgram *programs;		/* by program_id */
	int64		checked;		/* members decided by the first pass */
	int			nmoves;
	int			maxmoves;
	TierMove   *moves;
	int			npayloads;
	TierPayload payloads[MAX_CACHED_PAYLOADS];
} TierEvaluation;

/* Order of member keys: customer_id, then program_id, as account's primary key. */
static int
MemberKeyCmp(const void *a, const void *b)
{
	const MemberKey *x = (const MemberKey *) a;
	const MemberKey *y = (const MemberKey *) b;

	if (x->customer_id != y->customer_id)
		return x->customer_id < y->customer_id ? -1 : 1;
	if (x->program_id != y->program_id)
		return x->program_id < y->program_id ? -1 : 1;
	return 0;
}

/*
 * The programs that have tiers, with their policies, the qualifying period
 * as of the evaluation, and the latest tier_since a member may move down
 * from: a member who moved (up or down) in the month of as_of, in the
 * program's time zone, is not moved down again until a later month, so
 * that a rerun of the month's job moves nobody down twice.  SPI is
 * connected.
 */
static void
EvalLoadPrograms(TierEvaluation *ev)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	int			n;
	int32	   *ids;
	int32	   *grace_days;
	TimestampTz *month_starts;
	bool		isnull;

	if (plan == NULL)
		plan = LoyaltyPreparePlan("SELECT program_id, tier_grace_days,"
								  "  pg_catalog.timezone(time_zone, pg_catalog.date_trunc('month',"
								  "   pg_catalog.timezone(time_zone, $1)))"
								  " FROM loyalty.program ORDER BY program_id", 1, argtypes);
	values[0] = TimestampTzGetDatum(ev->as_of);
	if (SPI_execute_plan(plan, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "program lookup failed");
	n = (int) SPI_processed;
	ids = palloc(sizeof(int32) * Max(n, 1));
	grace_days = palloc(sizeof(int32) * Max(n, 1));
	month_starts = palloc(sizeof(TimestampTz) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		ids[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		grace_days[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2,
													&isnull));
		month_starts[i] = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i],
															SPI_tuptable->tupdesc, 3, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);

	ev->programs = palloc0(sizeof(EvalProgram) * Max(n, 1));
	ev->nprograms = 0;
	for (int i = 0; i < n; i++)
	{
		const LoyaltyTierPolicy *tp = LoyaltyTierPolicyFor(ids[i]);
		EvalProgram *ep;

		if (!tp->enabled || tp->ntiers == 0)
			continue;
		ep = &ev->programs[ev->nprograms++];
		ep->program_id = ids[i];
		ep->policy = *tp;
		ep->policy.time_zone = pstrdup(tp->time_zone);
		ep->policy.tiers = palloc(sizeof(LoyaltyTierDef) * tp->ntiers);
		for (int t = 0; t < tp->ntiers; t++)
		{
			ep->policy.tiers[t] = tp->tiers[t];
			ep->policy.tiers[t].code = pstrdup(tp->tiers[t].code);
		}
		ep->last_month = LoyaltyWindowMonth(ev->as_of, ep->policy.time_zone);
		ep->first_month = PeriodStart(&ep->policy, ep->last_month);
		ep->settled_since = Min(ev->as_of - (TimestampTz) grace_days[i] * USECS_PER_DAY,
								month_starts[i] - 1);
	}
}

/* The program with tiers of that id, or NULL. */
static EvalProgram *
EvalProgramFor(TierEvaluation *ev, int32 program_id)
{
	int			lo = 0;
	int			hi = ev->nprograms - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (ev->programs[mid].program_id == program_id)
			return &ev->programs[mid];
		if (ev->programs[mid].program_id < program_id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/*
 * The position of the tier a member holding the one at position from (-1:
 * none or not one of the program's tiers; tier is its code, NULL: none)
 * goes to as of the evaluation, paid being the position of the tier of a
 * paid tier that runs then (-1: none): up to the highest tier their total
 * reaches; down one tier once tier_since (NULL: never) is settled, but
 * never below paid; up to paid if they are below it (a threshold changed
 * since the grant); else where they are.
 */
static int
EvalDecide(const EvalProgram *ep, const char *tier, int from, const TimestampTz *since,
		   int paid, const LoyaltyWindow *w)
{
	int			reached = TierReached(&ep->policy,
									  w ? LoyaltyWindowSum(w, ep->first_month, ep->last_month) : 0);

	if (reached > from || (from < 0 && tier != NULL))
		return Max(reached, paid);
	if (from < paid)
		return paid;
	if (reached < from && from > paid && since != NULL && *since <= ep->settled_since)
		return from - 1;
	return from;
}

/*
 * The jsonb payload of a move from from_tier to to_tier, built once per pair
 * of codes (a tier code not of the program's, which has its own copy, may
 * build its own).
 */
static Datum
EvalPayload(TierEvaluation *ev, const char *from_tier, const char *to_tier)
{
	Datum		payload;

	for (int i = 0; i < ev->npayloads; i++)
		if (ev->payloads[i].from_tier == from_tier && ev->payloads[i].to_tier == to_tier)
			return ev->payloads[i].payload;
	payload = DirectFunctionCall1(jsonb_in,
								  CStringGetDatum(TierChangedPayload(from_tier, to_tier, "evaluation")));
	if (ev->npayloads < MAX_CACHED_PAYLOADS)
	{
		ev->payloads[ev->npayloads].from_tier = from_tier;
		ev->payloads[ev->npayloads].to_tier = to_tier;
		ev->payloads[ev->npayloads].payload = payload;
		ev->npayloads++;
	}
	return payload;
}

/*
 * Decide every member of a program with tiers who holds a tier or has a
 * window (only those in keys, sorted, when keys is not NULL), from a new
 * snapshot, and collect the moves.  Returns how many were decided.
 */
static int64
EvalScan(TierEvaluation *ev, const MemberKey *keys, int nkeys)
{
	Relation	rel = table_open(LoyaltyTableOid(LY_ACCOUNT), AccessShareLock);
	Snapshot	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "evaluate_tiers row",
												 ALLOCSET_SMALL_SIZES);
	MemoryContext oldcxt;
	AttrNumber	attnums[EV_NUM_COLUMNS];
	EvalProgram *ep = NULL;
	int64		decided = 0;

	for (int i = 0; i < EV_NUM_COLUMNS; i++)
	{
		attnums[i] = get_attnum(RelationGetRelid(rel), eval_column_names[i]);
		if (attnums[i] == InvalidAttrNumber)
			elog(ERROR, "loyalty.account has no column \"%s\"", eval_column_names[i]);
	}

	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		MemberKey	key;
		bool		isnull;
		bool		tier_null;
		bool		window_null;
		bool		since_null;
		bool		paid_null;
		Datum		tier_d;
		Datum		window_d;
		TimestampTz since;
		TimestampTz paid_until;
		char	   *tier;
		int			from;
		int			paid;
		int			to;

		CHECK_FOR_INTERRUPTS();
		key.program_id = DatumGetInt32(slot_getattr(slot, attnums[EV_PROGRAM], &isnull));
		if (ep == NULL || ep->program_id != key.program_id)
			ep = EvalProgramFor(ev, key.program_id);
		if (ep == NULL)
			continue;			/* a program without tiers */
		key.customer_id = DatumGetInt64(slot_getattr(slot, attnums[EV_CUSTOMER], &isnull));
		if (keys != NULL && bsearch(&key, keys, nkeys, sizeof(MemberKey), MemberKeyCmp) == NULL)
			continue;
		tier_d = slot_getattr(slot, attnums[EV_TIER], &tier_null);
		window_d = slot_getattr(slot, attnums[EV_QUALIFYING], &window_null);
		if (tier_null && window_null)
			continue;			/* nothing to decide from */
		since = DatumGetTimestampTz(slot_getattr(slot, attnums[EV_TIER_SINCE], &since_null));
		paid_until = DatumGetTimestampTz(slot_getattr(slot, attnums[EV_PAID_UNTIL], &paid_null));
		decided++;

		oldcxt = MemoryContextSwitchTo(rowcxt);
		tier = tier_null ? NULL : TextDatumGetCString(tier_d);
		from = TierIndex(&ep->policy, tier);
		paid = -1;
		if (!paid_null && paid_until > ev->as_of)
		{
			Datum		paid_d = slot_getattr(slot, attnums[EV_PAID], &isnull);

			if (!isnull)
				paid = TierIndex(&ep->policy, TextDatumGetCString(paid_d));
		}
		to = EvalDecide(ep, tier, from, since_null ? NULL : &since, paid,
						window_null ? NULL : (const LoyaltyWindow *) DatumGetPointer(window_d));
		MemoryContextSwitchTo(oldcxt);

		if (to != from || (from < 0 && tier != NULL))
		{
			TierMove   *m;

			if (ev->nmoves == ev->maxmoves)
			{
				ev->maxmoves = Max(1024, ev->maxmoves * 2);
				ev->moves = ev->moves ? repalloc_huge(ev->moves, sizeof(TierMove) * ev->maxmoves) :
					palloc_extended(sizeof(TierMove) * ev->maxmoves, MCXT_ALLOC_HUGE);
			}
			m = &ev->moves[ev->nmoves++];
			m->key = key;
			m->tid = slot->tts_tid;
			m->from_tier = from >= 0 ? ep->policy.tiers[from].code : (tier ? pstrdup(tier) : NULL);
			m->to_tier = to >= 0 ? ep->policy.tiers[to].code : NULL;
			m->up = to > from;
			m->payload = EvalPayload(ev, m->from_tier, m->to_tier);
		}
		MemoryContextReset(rowcxt);
	}

	MemoryContextDelete(rowcxt);
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, NoLock);
	return decided;
}

/* Order of moves: by member key, the order the rows are locked in. */
static int
TierMoveCmp(const void *a, const void *b)
{
	return MemberKeyCmp(&((const TierMove *) a)->key, &((const TierMove *) b)->key);
}

/* A one-dimensional array of n datums of a type, some of them NULL if nulls is set. */
static Datum
EvalArray(Datum *elems, bool *nulls, int n, Oid type)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, type, typlen, typbyval,
											  typalign));
}

/*
 * Moves written per statement: bounds the arrays, and keeps the statement's
 * rows (the events' transition table) in work_mem.
 */
#define EVAL_WRITE_CHUNK 16384

/*
 * Write n moves, in key order: each to the row version it was decided from,
 * then their tier_changed events.  Counts the members moved up and down, and
 * appends the keys of those whose row changed meanwhile to left.
 */
static void
EvalWriteChunk(TierEvaluation *ev, const TierMove *moves, int n, int64 *upgraded,
			   int64 *downgraded, MemberKey *left, int *nleft)
{
	static SPIPlanPtr update_plan = NULL;
	static SPIPlanPtr event_plan = NULL;
	Oid			update_types[5] = {TIDARRAYOID, INT8ARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
	TIMESTAMPTZOID};
	Oid			event_types[3] = {INT8ARRAYOID, INT4ARRAYOID, JSONBARRAYOID};
	Datum		values[5];
	Datum	   *tids = palloc(sizeof(Datum) * n);
	Datum	   *customers = palloc(sizeof(Datum) * n);
	Datum	   *programs = palloc(sizeof(Datum) * n);
	Datum	   *to_tiers = palloc(sizeof(Datum) * n);
	bool	   *to_nulls = palloc(sizeof(bool) * n);
	Datum	   *payloads = palloc(sizeof(Datum) * n);
	MemberKey  *moved = NULL;	/* NULL: all moved */
	int			nmoved = 0;
	int			nevents = 0;
	int			j;

	for (int i = 0; i < n; i++)
	{
		const TierMove *m = &moves[i];

		tids[i] = PointerGetDatum(&m->tid);
		customers[i] = Int64GetDatum(m->key.customer_id);
		programs[i] = Int32GetDatum(m->key.program_id);
		to_nulls[i] = m->to_tier == NULL;
		to_tiers[i] = m->to_tier ? CStringGetTextDatum(m->to_tier) : (Datum) 0;
	}

	/*
	 * Only the row version the decision was made from: a row that changed
	 * since has another ctid (an UPDATE waiting for an order's lock sees the
	 * order's new version, and skips it), and is left for the next pass.
	 * The rows are locked in the order of the arrays, key order.
	 */
	if (update_plan == NULL)
		update_plan = LoyaltyPreparePlan(
										 "UPDATE loyalty.account a SET tier = m.to_tier, tier_since = $5,"
										 "  updated_at = pg_catalog.now()"
										 " FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
										 "  pg_catalog.unnest($3), pg_catalog.unnest($4))"
										 "  AS m(tid, customer_id, program_id, to_tier)"
										 " WHERE a.ctid OPERATOR(pg_catalog.=) m.tid"
										 "  AND a.customer_id OPERATOR(pg_catalog.=) m.customer_id"
										 "  AND a.program_id OPERATOR(pg_catalog.=) m.program_id"
										 " RETURNING a.customer_id, a.program_id",
										 5, update_types);
	values[0] = EvalArray(tids, NULL, n, TIDOID);
	values[1] = EvalArray(customers, NULL, n, INT8OID);
	values[2] = EvalArray(programs, NULL, n, INT4OID);
	values[3] = EvalArray(to_tiers, to_nulls, n, TEXTOID);
	values[4] = TimestampTzGetDatum(ev->as_of);
	if (SPI_execute_plan(update_plan, values, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "tier moves failed");

	/* Which members moved: looked at only when not all did. */
	if (SPI_processed < (uint64) n)
	{
		bool		isnull;

		nmoved = (int) SPI_processed;
		moved = palloc(sizeof(MemberKey) * Max(nmoved, 1));
		for (int i = 0; i < nmoved; i++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[i];

			moved[i].customer_id = DatumGetInt64(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1,
															   &isnull));
			moved[i].program_id = DatumGetInt32(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2,
															  &isnull));
		}
		qsort(moved, nmoved, sizeof(MemberKey), MemberKeyCmp);
	}
	SPI_freetuptable(SPI_tuptable);

	/* The moves in key order, those moved too when not all were. */
	j = 0;
	for (int i = 0; i < n; i++)
	{
		const TierMove *m = &moves[i];

		if (moved != NULL)
		{
			while (j < nmoved && MemberKeyCmp(&moved[j], &m->key) < 0)
				j++;
			if (j == nmoved || MemberKeyCmp(&moved[j], &m->key) != 0)
			{
				left[(*nleft)++] = m->key;
				continue;
			}
		}
		if (m->up)
			(*upgraded)++;
		else
			(*downgraded)++;
		customers[nevents] = customers[i];
		programs[nevents] = programs[i];
		payloads[nevents] = m->payload;
		nevents++;
	}

	/* The application learns of each move through the outbox, in this transaction. */
	if (nevents > 0)
	{
		if (event_plan == NULL)
			event_plan = LoyaltyPreparePlan(
											"INSERT INTO loyalty.event (program_id, customer_id, kind, payload)"
											" SELECT m.program_id, m.customer_id, 'tier_changed', m.payload"
											"  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
											"   pg_catalog.unnest($3)) AS m(customer_id, program_id, payload)",
											3, event_types);
		values[0] = EvalArray(customers, NULL, nevents, INT8OID);
		values[1] = EvalArray(programs, NULL, nevents, INT4OID);
		values[2] = EvalArray(payloads, NULL, nevents, JSONBOID);
		if (SPI_execute_plan(event_plan, values, NULL, false, 0) != SPI_OK_INSERT ||
			SPI_processed != (uint64) nevents)
			elog(ERROR, "tier_changed events failed");
	}
}

/*
 * Write the moves collected, in key order, a chunk at a time.  Counts the
 * members moved up and down, and returns the keys of those whose row
 * changed meanwhile (in *left, sorted; their number is the result).
 */
static int
EvalWrite(TierEvaluation *ev, int64 *upgraded, int64 *downgraded, MemberKey **left)
{
	MemoryContext chunkcxt;
	MemoryContext oldcxt;
	int			nleft = 0;

	*left = NULL;
	if (ev->nmoves == 0)
		return 0;
	qsort(ev->moves, ev->nmoves, sizeof(TierMove), TierMoveCmp);
	*left = palloc_extended(sizeof(MemberKey) * ev->nmoves, MCXT_ALLOC_HUGE);

	chunkcxt = AllocSetContextCreate(CurrentMemoryContext, "evaluate_tiers chunk",
									 ALLOCSET_DEFAULT_SIZES);
	for (int start = 0; start < ev->nmoves; start += EVAL_WRITE_CHUNK)
	{
		oldcxt = MemoryContextSwitchTo(chunkcxt);
		EvalWriteChunk(ev, &ev->moves[start], Min(EVAL_WRITE_CHUNK, ev->nmoves - start),
					   upgraded, downgraded, *left, &nleft);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(chunkcxt);
	}
	MemoryContextDelete(chunkcxt);
	return nleft;
}

/*
 * evaluate_tiers(as_of): members_checked, upgraded, downgraded.  A first
 * pass decides for everybody from one snapshot; members whose row changed
 * before they could be moved are decided again by a second pass from a new
 * snapshot, and a third; one still changing after that is left for the
 * next run.
 */
Datum
loyalty_evaluate_tiers(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr check_plan = NULL;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TierEvaluation ev;
	Oid			argtypes[2] = {TIMESTAMPTZOID, TEXTOID};
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	MemberKey  *keys = NULL;
	int			nkeys = 0;
	int64		upgraded = 0;
	int64		downgraded = 0;
	Datum		result[3];
	bool		result_nulls[3] = {false, false, false};

	LoyaltyInitSRF(fcinfo);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* as_of must be set and finite: check_as_of says so as expire() does. */
	if (check_plan == NULL)
		check_plan = LoyaltyPreparePlan("SELECT loyalty.check_as_of($1, $2)", 2, argtypes);
	args[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	nulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';
	args[1] = CStringGetTextDatum("Pass now(), or the moment to evaluate as of, e.g. the end of a month.");
	if (SPI_execute_plan(check_plan, args, nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "as_of check failed");

	memset(&ev, 0, sizeof(ev));
	ev.as_of = PG_GETARG_TIMESTAMPTZ(0);
	EvalLoadPrograms(&ev);
	for (int pass = 1; pass <= 3 && ev.nprograms > 0; pass++)
	{
		int64		decided;

		ev.nmoves = 0;
		decided = EvalScan(&ev, keys, nkeys);
		if (pass == 1)
			ev.checked = decided;
		nkeys = EvalWrite(&ev, &upgraded, &downgraded, &keys);
		if (nkeys == 0)
			break;
	}
	SPI_finish();

	result[0] = Int64GetDatum(ev.checked);
	result[1] = Int64GetDatum(upgraded);
	result[2] = Int64GetDatum(downgraded);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, result, result_nulls);
	return (Datum) 0;
}
