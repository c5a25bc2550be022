/*
 * rules.c
 *		The earning rules of a program: how many points an order earns, and
 *		which rules produced them.
 *
 * The rules live in loyalty.earn_rule (see sql/parts/55_rules.sql).  They
 * stack in this fixed order, whatever order they were created or edited in:
 *
 *	a. Minimum amount: an order below the program's minimum_amount earns 0
 *	   points and nothing else applies.
 *	b. Base: the amount is multiplied by the order's channel multiplier and
 *	   category multiplier (when the program has one for that channel or
 *	   category), then converted at the program's base rate and rounding
 *	   rule.  So "outlet x0.5" at 10 points per 100,000 VND, floor, makes a
 *	   250,000 VND outlet order earn floor(125,000 / 100,000) x 10 = 10.
 *	c. Tier: the member's tier multiplier m adds floor(base x (m - 1)),
 *	   negative when m < 1.
 *	d. Campaigns active at ordered_at (starts_at <= ordered_at < ends_at, an
 *	   absent bound being open; the day of week, when the campaign names
 *	   days, and the channel and category, when it names them, match):
 *	   of the campaign multipliers only the highest applies (on a tie, the
 *	   oldest rule), adding floor(base x (m - 1)); every campaign bonus adds
 *	   its bonus_points.
 *	e. First-purchase bonuses (the member's first order) and birthday bonuses
 *	   (ordered_at falls in the member's birthday month) add their points.
 *	   The order paths pay the birthday bonuses at most once a year: only
 *	   when the local year of ordered_at is later than the last year paid
 *	   (EarnBirthday); quote() knows no member and adds them in the month.
 *	   A birthday bonus that steps f and g would cut away entirely (the
 *	   total without it already reaches the cap) is left out: it pays
 *	   nothing, is not in the detail, and does not use the member's year.
 *	   One the cap cuts partly is paid in part and uses the year.
 *	f. Order cap: the total is cut to cap_points.
 *	g. The total is never below 0.
 *
 * Tier and campaign multipliers both scale the base points of step b; they
 * do not compound.  Days of week and months are those of the program's time
 * zone.  Channel, category and tier values match exactly (case-sensitive).
 *
 * The tier of step c is the member's tier before the order: the tier in
 * their account row when the order is processed, before the order's own
 * qualifying amount counts (src/tier.c).  An order that lifts a member to a
 * tier earns at the old one, and the tier multiplies from the next order;
 * the orders of one member in one statement are priced in statement order,
 * each at the tier the orders before it reached.  A changed order (a higher
 * amount) is priced at the tier the member holds when it changes.  This
 * keeps an order's points independent of how its own amount is counted, and
 * the same whichever path (the INSERT fast path, the general path) takes it.
 * loyalty.quote() takes the tier as an argument.
 *
 * The detail of a result is a JSON array with one component per rule that
 * changed the points, in the order above, e.g.
 *	[{"rule":"base","points":20},{"rule":"double weekend","points":20}]
 * The base component is always there and lists, under "rules", the channel
 * and category multipliers other than 1 that scaled the amount.  A minimum
 * that is not reached gives [{"rule":"<name>","points":0,"note":"below
 * minimum"}]; a cap that bites gives {"rule":"<name>","points":-<excess>}.
 * Components of 0 points are left out.  The points of the components always
 * add up to the result.
 *
 * The rules of each program are read once through SPI and kept per backend
 * in CacheMemoryContext.  A statement trigger on loyalty.earn_rule and
 * loyalty.program (rules_changed) sends a relcache invalidation for
 * loyalty.earn_rule, as relcache invalidations are not sent for plain DML.
 * Its callback only marks the cache stale; the next computation drops it and
 * reads the rules again.  The session making a change sees it from its next
 * command, and forgets it again if the change is rolled back (to a
 * savepoint, too); other sessions see it from their first transaction after
 * the change commits, so one transaction computes with one set of rules.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "loyalty.h"

PG_FUNCTION_INFO_V1(loyalty_quote);
PG_FUNCTION_INFO_V1(loyalty_rules_changed);
PG_FUNCTION_INFO_V1(loyalty_lot_expiry);

typedef enum RuleKind
{
	RULE_CHANNEL_MULTIPLIER,
	RULE_CATEGORY_MULTIPLIER,
	RULE_TIER_MULTIPLIER,
	RULE_CAMPAIGN_MULTIPLIER,
	RULE_CAMPAIGN_BONUS,
	RULE_FIRST_PURCHASE_BONUS,
	RULE_BIRTHDAY_BONUS,
	RULE_MINIMUM_AMOUNT,
	RULE_ORDER_CAP
} RuleKind;

static const char *const rule_kind_names[] = {
	"channel_multiplier", "category_multiplier", "tier_multiplier",
	"campaign_multiplier", "campaign_bonus", "first_purchase_bonus",
	"birthday_bonus", "minimum_amount", "order_cap"
};

/* One row of loyalty.earn_rule, as the stacking needs it. */
typedef struct CachedRule
{
	int32		rule_id;
	RuleKind	kind;
	char	   *name;
	char	   *channel;		/* NULL when the rule names none */
	char	   *category;
	char	   *tier;
	Numeric		multiplier;		/* NULL when the kind has none */
	Numeric		extra;			/* multiplier - 1 */
	bool		is_one;			/* multiplier = 1 exactly */
	int64		bonus_points;
	Numeric		amount;			/* minimum_amount */
	int64		cap_points;
	bool		has_starts;
	TimestampTz starts_at;
	bool		has_ends;
	TimestampTz ends_at;		/* exclusive */
	uint8		days;			/* bit d set: runs on ISO day d; 0: every day */
} CachedRule;

/* A program's rate and rules, kept in its own memory context. */
typedef struct ProgramRules
{
	int32		program_id;
	int64		earn_points;
	Numeric		earn_per;
	char	   *rounding;
	pg_tz	   *tz;
	char		expiry;			/* n(one), r(olling), e(nd of period), i(nactivity) */
	int32		expiry_months;
	bool		expiry_month_end;
	LoyaltyTierPolicy tiers;	/* disabled before the 0.3.0 update */
	int			nrules;
	CachedRule *rules;			/* ordered by rule_id */
	const CachedRule *minimum;	/* NULL when none */
	const CachedRule *cap;		/* NULL when none */
	bool		has_birthday;	/* the program has a birthday bonus rule */
} ProgramRules;

typedef struct RulesCacheEntry
{
	int32		program_id;		/* hash key */
	ProgramRules *rules;
} RulesCacheEntry;

/* The local date parts of ordered_at, computed when a rule needs them. */
typedef struct LocalDay
{
	bool		known;
	int			iso_dow;		/* 1 = Monday .. 7 = Sunday */
	int			month;			/* 1 .. 12 */
	int			year;
} LocalDay;

static MemoryContext RulesCacheContext = NULL;
static HTAB *RulesCache = NULL;
static bool RulesStale = false;
static Oid	RulesRelid = InvalidOid;
static Oid	ProgramRelid = InvalidOid;
static Numeric MaxPoints = NULL;
static Numeric MinPoints = NULL;

/* Where the running LoyaltyComputeEarn notes an overflow instead of raising it, or NULL. */
static bool *current_overflow = NULL;

/*
 * A total does not fit in a balance: raise the error, or note it for a
 * caller that records it instead (the order path: a shop's INSERT never
 * fails for loyalty's sake), which then gets 0 points.
 */
static void
TooManyPoints(void)
{
	if (current_overflow != NULL)
	{
		*current_overflow = true;
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("earning rules give more points than a balance can hold"),
			 errdetail("The limit is %lld points.", (long long) PG_INT64_MAX)));
}

/* Reject NaN, infinite and negative amounts, as points_for() does. */
static void
CheckEarnAmount(Numeric amount)
{
	if (numeric_is_nan(amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must be a finite number"),
				 errdetail("Got NaN.")));
	if (numeric_is_inf(amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must be a finite number"),
				 errdetail("Got %s.", NumIsNegative(amount) ? "-Infinity" : "Infinity")));
	if (NumIsNegative(amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must not be negative"),
				 errhint("Refunds claw back points; they are not negative purchases.")));
}

/*
 * Forget every cached program when earn_rule's relcache entry is
 * invalidated, or program's: a change of its columns (the update that adds
 * the tier settings) sends that one.
 */
static void
RulesInvalidate(Datum arg, Oid relid)
{
	/* Only mark: a cache being read or built must not be freed under it. */
	if (relid == InvalidOid || relid == RulesRelid || relid == ProgramRelid)
		RulesStale = true;
}

/* Set up the cache once per backend, and drop it if it went stale. */
static void
RulesCacheReady(void)
{
	if (RulesCacheContext == NULL)
	{
		MemoryContext oldcxt;

		/* First, so a failure leaves nothing half set up. */
		CacheRegisterRelcacheCallback(RulesInvalidate, (Datum) 0);
		oldcxt = MemoryContextSwitchTo(TopMemoryContext);
		MaxPoints = NumFromInt64(PG_INT64_MAX);
		MinPoints = NumFromInt64(PG_INT64_MIN);
		MemoryContextSwitchTo(oldcxt);
		RulesCacheContext = AllocSetContextCreate(CacheMemoryContext,
												  "loyalty earning rules",
												  ALLOCSET_SMALL_SIZES);
	}
	if (RulesStale)
	{
		MemoryContextReset(RulesCacheContext);
		RulesCache = NULL;
		RulesStale = false;
	}
	if (RulesCache == NULL)
	{
		HASHCTL		info;

		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(int32);
		info.entrysize = sizeof(RulesCacheEntry);
		info.hcxt = RulesCacheContext;
		RulesCache = hash_create("loyalty earning rules", 16, &info,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
}

/* Map a kind name from loyalty.earn_rule to its enum value. */
static RuleKind
RuleKindFromName(const char *name)
{
	int			i;

	for (i = 0; i < (int) lengthof(rule_kind_names); i++)
		if (strcmp(rule_kind_names[i], name) == 0)
			return (RuleKind) i;
	elog(ERROR, "unknown earning rule kind \"%s\"", name);
	pg_unreachable();
}

/* A nullable text column as a C string in the current context, or NULL. */
static char *
ColumnText(HeapTuple tuple, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* A nullable numeric column copied into the current context, or NULL. */
static Numeric
ColumnNumeric(HeapTuple tuple, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, col, &isnull);

	return isnull ? NULL : DatumGetNumericCopy(d);
}

/* The set of ISO days in a smallint[] as a bit mask (bit d for day d). */
static uint8
DaysMask(Datum array)
{
	ArrayType  *arr = DatumGetArrayTypeP(array);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	uint8		mask = 0;

	deconstruct_array(arr, INT2OID, sizeof(int16), true, TYPALIGN_SHORT,
					  &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		int16		d = DatumGetInt16(elems[i]);

		if (!nulls[i] && d >= 1 && d <= 7)
			mask |= (uint8) (1 << d);
	}
	return mask;
}

/*
 * Read a program's tier policy and its tiers through SPI into cxt.  A
 * threshold is kept in qualifying units (spend in the currency's minor
 * units), rounded up: an integer total reaches a threshold exactly when it
 * reaches its ceiling.
 */
static void
LoadTierPolicy(int32 program_id, MemoryContext cxt, LoyaltyTierPolicy *tp)
{
	static SPIPlanPtr policy_plan = NULL;
	static SPIPlanPtr tiers_plan = NULL;
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1];
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	char	   *basis;
	int			minor_units;

	if (policy_plan == NULL)
		policy_plan = LoyaltyPreparePlan("SELECT p.tier_basis, p.tier_period, p.tier_months,"
										 " c.minor_units::integer, p.time_zone"
										 " FROM loyalty.program p"
										 " JOIN loyalty.currency c ON c.code OPERATOR(pg_catalog.=) p.currency"
										 " WHERE p.program_id OPERATOR(pg_catalog.=) $1",
										 1, argtypes);
	if (tiers_plan == NULL)
		tiers_plan = LoyaltyPreparePlan("SELECT t.code, pg_catalog.ceil(t.threshold"
										"  OPERATOR(pg_catalog.*) CASE WHEN p.tier_basis OPERATOR(pg_catalog.=) 'spend'"
										"   THEN pg_catalog.power(10::numeric, c.minor_units::numeric) ELSE 1 END)"
										" FROM loyalty.tier t"
										" JOIN loyalty.program p ON p.program_id OPERATOR(pg_catalog.=) t.program_id"
										" JOIN loyalty.currency c ON c.code OPERATOR(pg_catalog.=) p.currency"
										" WHERE t.program_id OPERATOR(pg_catalog.=) $1"
										" ORDER BY t.threshold",
										1, argtypes);
	values[0] = Int32GetDatum(program_id);
	if (SPI_execute_plan(policy_plan, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "tier policy lookup failed");
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	MemoryContextSwitchTo(cxt);
	basis = ColumnText(tuple, desc, 1);
	tp->basis = basis[0];
	tp->calendar_year = strcmp(ColumnText(tuple, desc, 2), "calendar_year") == 0;
	tp->months = DatumGetInt32(SPI_getbinval(tuple, desc, 3, &isnull));
	minor_units = DatumGetInt32(SPI_getbinval(tuple, desc, 4, &isnull));
	tp->spend_scale = 1;
	while (minor_units-- > 0)
		tp->spend_scale *= 10;
	tp->time_zone = ColumnText(tuple, desc, 5);
	SPI_freetuptable(SPI_tuptable);

	if (SPI_execute_plan(tiers_plan, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "tier lookup failed");
	desc = SPI_tuptable->tupdesc;
	MemoryContextSwitchTo(cxt);
	tp->ntiers = (int) SPI_processed;
	tp->tiers = palloc0(sizeof(LoyaltyTierDef) * Max(tp->ntiers, 1));
	for (int i = 0; i < tp->ntiers; i++)
	{
		LoyaltyTierDef *t = &tp->tiers[i];
		Numeric		need;

		tuple = SPI_tuptable->vals[i];
		t->code = ColumnText(tuple, desc, 1);
		need = DatumGetNumeric(SPI_getbinval(tuple, desc, 2, &isnull));
		t->reachable = NumCmp(need, MaxPoints) <= 0;
		t->need = t->reachable ?
			DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(need))) : PG_INT64_MAX;
	}
	SPI_freetuptable(SPI_tuptable);
	tp->enabled = true;
}

/*
 * Read a program's rate and rules through SPI into a new memory context that
 * becomes part of the cache only once everything was read.
 */
static ProgramRules *
LoadProgramRules(int32 program_id)
{
	static SPIPlanPtr program_plan = NULL;
	static SPIPlanPtr program_plan_020 = NULL;
	static SPIPlanPtr rules_plan = NULL;
	SPIPlanPtr	plan;
	bool		has_expiry;
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1];
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext entrycxt;
	ProgramRules *pr;
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	char	   *time_zone;
	uint64		i;

	/* Freed with the caller's context if anything below fails. */
	entrycxt = AllocSetContextCreate(callercxt, "loyalty program rules",
									 ALLOCSET_SMALL_SIZES);

	/* A database not yet updated to 0.3.0 has no expiry settings: none. */
	has_expiry = LoyaltyHasExpiry();
	if (has_expiry && program_plan == NULL)
		program_plan = LoyaltyPreparePlan("SELECT earn_points, earn_per, rounding, time_zone,"
										  " expiry_policy, expiry_months, expiry_month_end"
										  " FROM loyalty.program"
										  " WHERE program_id OPERATOR(pg_catalog.=) $1",
										  1, argtypes);
	if (!has_expiry && program_plan_020 == NULL)
		program_plan_020 = LoyaltyPreparePlan("SELECT earn_points, earn_per, rounding, time_zone"
											  " FROM loyalty.program"
											  " WHERE program_id OPERATOR(pg_catalog.=) $1",
											  1, argtypes);
	plan = has_expiry ? program_plan : program_plan_020;
	if (rules_plan == NULL)
		rules_plan = LoyaltyPreparePlan("SELECT rule_id, name, kind, channel, category, tier,"
										" multiplier, bonus_points, amount, cap_points,"
										" starts_at, ends_at, days_of_week"
										" FROM loyalty.earn_rule"
										" WHERE program_id OPERATOR(pg_catalog.=) $1"
										" ORDER BY rule_id",
										1, argtypes);
	/* Every rule load notes the tables' OIDs, which change if they are re-created. */
	RulesRelid = get_relname_relid("earn_rule", get_namespace_oid("loyalty", false));
	ProgramRelid = get_relname_relid("program", get_namespace_oid("loyalty", false));

	values[0] = Int32GetDatum(program_id);
	if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "program lookup failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_LOYALTY_UNKNOWN_PROGRAM),
				 errmsg("unknown loyalty program id %d", program_id)));
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	MemoryContextSwitchTo(entrycxt);
	pr = palloc0(sizeof(ProgramRules));
	pr->program_id = program_id;
	pr->earn_points = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
	pr->earn_per = ColumnNumeric(tuple, desc, 2);
	pr->rounding = ColumnText(tuple, desc, 3);
	time_zone = ColumnText(tuple, desc, 4);
	pr->tz = pg_tzset(time_zone);
	if (pr->tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown time zone \"%s\"", time_zone),
				 errhint("Set the program's time zone with loyalty.alter_program().")));
	pr->expiry = 'n';
	if (has_expiry)
	{
		char	   *policy = ColumnText(tuple, desc, 5);
		Datum		d = SPI_getbinval(tuple, desc, 6, &isnull);

		pr->expiry = strcmp(policy, "end_of_period") == 0 ? 'e' : policy[0];
		pr->expiry_months = isnull ? 0 : DatumGetInt32(d);
		pr->expiry_month_end = DatumGetBool(SPI_getbinval(tuple, desc, 7, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);

	/* A database not yet updated to 0.3.0 has no tiers. */
	if (LoyaltyHasTiers())
		LoadTierPolicy(program_id, entrycxt, &pr->tiers);

	if (SPI_execute_plan(rules_plan, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "earning rule lookup failed");
	desc = SPI_tuptable->tupdesc;

	MemoryContextSwitchTo(entrycxt);
	pr->nrules = (int) SPI_processed;
	pr->rules = palloc0(sizeof(CachedRule) * Max(pr->nrules, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		CachedRule *r = &pr->rules[i];
		Datum		d;
		char	   *kind;

		tuple = SPI_tuptable->vals[i];
		r->rule_id = DatumGetInt32(SPI_getbinval(tuple, desc, 1, &isnull));
		r->name = ColumnText(tuple, desc, 2);
		kind = ColumnText(tuple, desc, 3);
		r->kind = RuleKindFromName(kind);
		r->channel = ColumnText(tuple, desc, 4);
		r->category = ColumnText(tuple, desc, 5);
		r->tier = ColumnText(tuple, desc, 6);
		r->multiplier = ColumnNumeric(tuple, desc, 7);
		if (r->multiplier != NULL)
		{
			Numeric		one = NumFromInt64(1);

			r->extra = DatumGetNumeric(DirectFunctionCall2(numeric_sub,
														   NumericGetDatum(r->multiplier),
														   NumericGetDatum(one)));
			r->is_one = NumCmp(r->multiplier, one) == 0;
		}
		d = SPI_getbinval(tuple, desc, 8, &isnull);
		r->bonus_points = isnull ? 0 : DatumGetInt64(d);
		r->amount = ColumnNumeric(tuple, desc, 9);
		d = SPI_getbinval(tuple, desc, 10, &isnull);
		r->cap_points = isnull ? 0 : DatumGetInt64(d);
		d = SPI_getbinval(tuple, desc, 11, &r->has_starts);
		r->has_starts = !r->has_starts;
		r->starts_at = r->has_starts ? DatumGetTimestampTz(d) : 0;
		d = SPI_getbinval(tuple, desc, 12, &r->has_ends);
		r->has_ends = !r->has_ends;
		r->ends_at = r->has_ends ? DatumGetTimestampTz(d) : 0;
		d = SPI_getbinval(tuple, desc, 13, &isnull);
		r->days = isnull ? 0 : DaysMask(d);

		if (r->kind == RULE_MINIMUM_AMOUNT)
			pr->minimum = r;
		else if (r->kind == RULE_ORDER_CAP)
			pr->cap = r;
		else if (r->kind == RULE_BIRTHDAY_BONUS)
			pr->has_birthday = true;
	}
	SPI_freetuptable(SPI_tuptable);

	MemoryContextSwitchTo(callercxt);
	MemoryContextSetParent(entrycxt, RulesCacheContext);
	return pr;
}

/* The cached rules of a program, read on a cache miss. */
static const ProgramRules *
RulesFor(int32 program_id)
{
	RulesCacheEntry *entry;
	ProgramRules *pr;
	bool		found;

	RulesCacheReady();
	entry = hash_search(RulesCache, &program_id, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->rules;

	pr = LoadProgramRules(program_id);
	/* An invalidation during the load only marks the cache stale: still there. */
	entry = hash_search(RulesCache, &program_id, HASH_ENTER, &found);
	entry->rules = pr;
	return pr;
}

/* Move a local date months later, the day cut to the last day of that month. */
static void
AddLocalMonths(struct pg_tm *tm, int months)
{
	int			m = tm->tm_year * MONTHS_PER_YEAR + (tm->tm_mon - 1) + months;

	tm->tm_year = m / MONTHS_PER_YEAR;
	tm->tm_mon = m % MONTHS_PER_YEAR + 1;
	tm->tm_mday = Min(tm->tm_mday, day_tab[isleap(tm->tm_year)][tm->tm_mon - 1]);
}

/* The tier policy and tiers of a program, cached with its rules. */
const LoyaltyTierPolicy *
LoyaltyTierPolicyFor(int32 program_id)
{
	return &RulesFor(program_id)->tiers;
}

/*
 * Whether the program has a birthday bonus rule, from its cached rules.  SPI
 * must be connected.
 */
bool
LoyaltyHasBirthdayBonus(int32 program_id)
{
	return RulesFor(program_id)->has_birthday;
}

/* Whether the database has 0.3.0's tiers (an older one, before its update, has not). */
bool
LoyaltyHasTiers(void)
{
	return LoyaltyHasColumn("program", "tier_basis") && LoyaltyHasColumn("account", "qualifying");
}

/* Whether the database has 0.3.0's expiry (an older one, before its update, has not). */
bool
LoyaltyHasExpiry(void)
{
	return LoyaltyHasColumn("program", "expiry_policy");
}

/*
 * Whether a member of the program whose last activity was at
 * last_activity_at has lost their points for inactivity by now: the
 * program's policy is inactivity and expiry_months have passed, counted in
 * its time zone.  SPI must be connected.
 */
bool
LoyaltyLapsed(int32 program_id, TimestampTz last_activity_at, TimestampTz now)
{
	const ProgramRules *pr = RulesFor(program_id);
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;
	TimestampTz lapse;

	if (pr->expiry != 'i' || TIMESTAMP_NOT_FINITE(last_activity_at) ||
		timestamp2tm(last_activity_at, &tzoff, &tm, &fsec, NULL, pr->tz) != 0)
		return false;
	AddLocalMonths(&tm, pr->expiry_months);
	tzoff = DetermineTimeZoneOffset(&tm, pr->tz);
	if (tm2timestamp(&tm, fsec, &tzoff, &lapse) != 0)
		return false;
	return lapse <= now;
}

/* Raise the error for an expiry date past the end of the timestamp range. */
static void
ExpiryOutOfRange(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("expiry date of earned points is out of range"),
			 errhint("Lower the program's expiry_months with loyalty.set_expiry_policy().")));
}

/*
 * When points earned at earned_at expire under the program's expiry policy,
 * in the program's time zone; false when they do not expire by date (the
 * policies none and inactivity).  Rolling: the same local time expiry_months
 * later (the day cut to the month's last day), or with expiry_month_end the
 * start of the month after that; end of period: 1 January 00:00 after the
 * calendar year that earned_at + expiry_months falls in.  The result is the
 * first moment the points are gone.  For points that wait for a return
 * window (or earn()'s pending_until), callers pass the moment they become
 * available as earned_at: their clock starts there.  SPI must be connected.
 */
bool
LoyaltyLotExpiry(int32 program_id, TimestampTz earned_at, TimestampTz *expires_at)
{
	const ProgramRules *pr = RulesFor(program_id);
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;

	if (pr->expiry != 'r' && pr->expiry != 'e')
		return false;
	if (TIMESTAMP_NOT_FINITE(earned_at) ||
		timestamp2tm(earned_at, &tzoff, &tm, &fsec, NULL, pr->tz) != 0)
		ExpiryOutOfRange();

	/* Rolling: expiry_months later; the others start from the 1st of a month. */
	if (pr->expiry == 'r' && !pr->expiry_month_end)
		AddLocalMonths(&tm, pr->expiry_months);
	else
	{
		tm.tm_mday = 1;
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		fsec = 0;
		/* The month after the one reached; end of period: January after its year. */
		AddLocalMonths(&tm, pr->expiry_months + 1);
		if (pr->expiry == 'e')
			AddLocalMonths(&tm, (MONTHS_PER_YEAR - (tm.tm_mon - 1)) % MONTHS_PER_YEAR);
	}
	tzoff = DetermineTimeZoneOffset(&tm, pr->tz);
	if (tm2timestamp(&tm, fsec, &tzoff, expires_at) != 0 || TIMESTAMP_NOT_FINITE(*expires_at))
		ExpiryOutOfRange();
	return true;
}

/*
 * lot_expiry(program_id, earned_at): when points the program's members earn
 * at earned_at expire under its policy now (LoyaltyLotExpiry); NULL when
 * they do not expire by date.  review() restarts a released lot's clock
 * with it.
 */
Datum
loyalty_lot_expiry(PG_FUNCTION_ARGS)
{
	int32		program_id = PG_GETARG_INT32(0);
	TimestampTz earned_at = PG_GETARG_TIMESTAMPTZ(1);
	TimestampTz expires_at;
	bool		expires;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	expires = LoyaltyLotExpiry(program_id, earned_at, &expires_at);
	SPI_finish();
	if (!expires)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(expires_at);
}

/* The multiplier rule of a kind for a channel, category or tier, or NULL. */
static const CachedRule *
FindMultiplier(const ProgramRules *pr, RuleKind kind, const char *value)
{
	int			i;

	if (value == NULL)
		return NULL;
	for (i = 0; i < pr->nrules; i++)
	{
		const CachedRule *r = &pr->rules[i];
		const char *key;

		if (r->kind != kind)
			continue;
		key = kind == RULE_CHANNEL_MULTIPLIER ? r->channel :
			kind == RULE_CATEGORY_MULTIPLIER ? r->category : r->tier;
		if (strcmp(key, value) == 0)
			return r;
	}
	return NULL;
}

/* Fill in the day of week, month and year of ordered_at in the program's time zone. */
static void
ComputeLocalDay(TimestampTz t, pg_tz *tz, LocalDay *day)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;
	int			dow;

	if (day->known)
		return;
	if (timestamp2tm(t, &tzoff, &tm, &fsec, NULL, tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	dow = j2day(date2j(tm.tm_year, tm.tm_mon, tm.tm_mday));
	day->iso_dow = dow == 0 ? 7 : dow;
	day->month = tm.tm_mon;
	day->year = tm.tm_year;
	day->known = true;
}

/* Whether a campaign rule is active for an order. */
static bool
CampaignApplies(const CachedRule *r, const EarnContext *ctx,
				const ProgramRules *pr, LocalDay *day)
{
	if (r->channel != NULL &&
		(ctx->channel == NULL || strcmp(r->channel, ctx->channel) != 0))
		return false;
	if (r->category != NULL &&
		(ctx->category == NULL || strcmp(r->category, ctx->category) != 0))
		return false;
	if (r->has_starts && ctx->ordered_at < r->starts_at)
		return false;
	if (r->has_ends && ctx->ordered_at >= r->ends_at)
		return false;
	if (r->days != 0)
	{
		ComputeLocalDay(ctx->ordered_at, pr->tz, day);
		if ((r->days & (1 << day->iso_dow)) == 0)
			return false;
	}
	return true;
}

/*
 * Whether the program's birthday bonuses apply to an order: ordered_at falls
 * in the member's birthday month, and in a local year later than the last
 * one whose bonus the member had (EarnBirthday); a changed order that had
 * the bonus keeps it whatever the birthday now is.  Fills in day.
 */
static bool
BirthdayApplies(const EarnContext *ctx, const ProgramRules *pr, LocalDay *day)
{
	const EarnBirthday *b = ctx->birthday_bonus;
	int			year;
	int			month;
	int			mday;

	if (!pr->has_birthday || (b != NULL && b->rule == 'n'))
		return false;
	ComputeLocalDay(ctx->ordered_at, pr->tz, day);
	if (b != NULL && b->rule == 'a')
		return true;
	if (!ctx->has_birthday || DATE_NOT_FINITE(ctx->birthday))
		return false;
	j2date(ctx->birthday + POSTGRES_EPOCH_JDATE, &year, &month, &mday);
	if (day->month != month)
		return false;
	return b == NULL || !b->paid || day->year > b->paid_year;
}

/* A total after the order cap (step f) and the floor of 0 (step g). */
static inline int64
FinalPoints(const ProgramRules *pr, int64 total)
{
	if (pr->cap != NULL && total > pr->cap->cap_points)
		total = pr->cap->cap_points;
	return Max(total, 0);
}

/*
 * Whether a bonus on top of total leaves the order more points after the
 * cap and the floor of 0 than total alone: a bonus the cap cuts away
 * entirely pays nothing.  A sum past int64 counts as more, so that the
 * caller reports the overflow as before.
 */
static bool
BonusPays(const ProgramRules *pr, int64 total, int64 bonus)
{
	int64		with;

	if (pg_add_s64_overflow(total, bonus, &with))
		return true;
	return FinalPoints(pr, with) > FinalPoints(pr, total);
}

/* floor(base x extra) as points, where extra is a multiplier minus 1. */
static int64
ScaledPoints(int64 base, Numeric extra)
{
	Numeric		result;

	if (base == 0)
		return 0;
	result = NumMul(NumFromInt64(base), extra);
	result = DatumGetNumeric(DirectFunctionCall1(numeric_floor, NumericGetDatum(result)));
	if (NumCmp(result, MaxPoints) > 0 || NumCmp(result, MinPoints) < 0)
	{
		TooManyPoints();
		return 0;
	}
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(result)));
}

/* Where the running LoyaltyComputeEarn records its components, or NULL. */
static EarnComponents *current_components = NULL;

/* Record one component of the points for an EarnComponents caller. */
static void
RecordComponent(EarnComponents *components, const char *rule, int64 points)
{
	if (components == NULL || points == 0)
		return;
	if (components->n >= EARN_MAX_COMPONENTS)
		elog(ERROR, "more than %d earning rule components", EARN_MAX_COMPONENTS);
	components->rule[components->n] = rule;
	components->points[components->n++] = points;
}

/* Open one detail component: {"rule":<name>,"points":<n> (the caller closes it). */
static void
BeginComponent(StringInfo detail, int *ncomponents, const char *rule, int64 points)
{
	if ((*ncomponents)++ > 0)
		appendStringInfoChar(detail, ',');
	appendStringInfoString(detail, "{\"rule\":");
	escape_json(detail, rule);
	appendStringInfo(detail, ",\"points\":" INT64_FORMAT, points);
}

/* Append one closed detail component, with an optional note. */
static void
AddComponent(StringInfo detail, int *ncomponents, const char *rule, int64 points,
			 const char *note)
{
	RecordComponent(current_components, rule, points);
	if (detail == NULL)
		return;
	BeginComponent(detail, ncomponents, rule, points);
	if (note != NULL)
	{
		appendStringInfoString(detail, ",\"note\":");
		escape_json(detail, note);
	}
	appendStringInfoChar(detail, '}');
}

/* Add a rule's points to the total and to the detail; 0 points add nothing. */
static void
ApplyPoints(StringInfo detail, int *ncomponents, int64 *total,
			const CachedRule *r, int64 points)
{
	if (points == 0)
		return;
	if (pg_add_s64_overflow(*total, points, total))
		TooManyPoints();
	AddComponent(detail, ncomponents, r->name, points, NULL);
}

/*
 * Points an order earns under the program's rules; see the top of this file
 * for the stacking order and the detail format.
 */
int64
LoyaltyComputeEarn(const EarnContext *ctx, StringInfo detail)
{
	const ProgramRules *pr;
	const CachedRule *channel_rule;
	const CachedRule *category_rule;
	const CachedRule *tier_rule;
	const CachedRule *best = NULL;
	bool		channel_scales;
	bool		category_scales;
	Numeric		scaled;
	int64		base;
	int64		total;
	LocalDay	day;
	int			ncomponents = 0;
	int			i;

	current_components = ctx->components;
	current_overflow = ctx->overflowed;
	if (current_overflow != NULL)
		*current_overflow = false;
	if (current_components)
		current_components->n = 0;
	if (ctx->birthday_bonus != NULL)
		ctx->birthday_bonus->added = false;
	CheckEarnAmount(ctx->amount);
	if (TIMESTAMP_NOT_FINITE(ctx->ordered_at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ordered_at must be a finite time")));
	pr = RulesFor(ctx->program_id);
	day.known = false;
	if (detail != NULL)
		appendStringInfoChar(detail, '[');

	/* a. minimum amount */
	if (pr->minimum != NULL && NumCmp(ctx->amount, pr->minimum->amount) < 0)
	{
		AddComponent(detail, &ncomponents, pr->minimum->name, 0, "below minimum");
		if (detail != NULL)
			appendStringInfoChar(detail, ']');
		current_overflow = NULL;
		return 0;
	}

	/* b. base: channel and category scale the amount before rounding */
	channel_rule = FindMultiplier(pr, RULE_CHANNEL_MULTIPLIER, ctx->channel);
	category_rule = FindMultiplier(pr, RULE_CATEGORY_MULTIPLIER, ctx->category);
	channel_scales = channel_rule != NULL && !channel_rule->is_one;
	category_scales = category_rule != NULL && !category_rule->is_one;
	scaled = ctx->amount;
	if (channel_scales)
		scaled = NumMul(scaled, channel_rule->multiplier);
	if (category_scales)
		scaled = NumMul(scaled, category_rule->multiplier);
	if (current_overflow == NULL)
		base = LoyaltyPointsForAmount(scaled, pr->earn_points, pr->earn_per, pr->rounding);
	else if (!LoyaltyPointsForAmountFits(scaled, pr->earn_points, pr->earn_per, pr->rounding,
										 &base))
		TooManyPoints();
	total = base;
	RecordComponent(current_components, "base", base);
	if (detail != NULL)
	{
		BeginComponent(detail, &ncomponents, "base", base);
		if (channel_scales || category_scales)
		{
			appendStringInfoString(detail, ",\"rules\":[");
			if (channel_scales)
				escape_json(detail, channel_rule->name);
			if (channel_scales && category_scales)
				appendStringInfoChar(detail, ',');
			if (category_scales)
				escape_json(detail, category_rule->name);
			appendStringInfoChar(detail, ']');
		}
		appendStringInfoChar(detail, '}');
	}

	/* c. tier */
	tier_rule = FindMultiplier(pr, RULE_TIER_MULTIPLIER, ctx->tier);
	if (tier_rule != NULL)
		ApplyPoints(detail, &ncomponents, &total, tier_rule,
					ScaledPoints(base, tier_rule->extra));

	/* d. campaigns: the highest multiplier (oldest on a tie), every bonus */
	for (i = 0; i < pr->nrules; i++)
	{
		const CachedRule *r = &pr->rules[i];

		if (r->kind == RULE_CAMPAIGN_MULTIPLIER &&
			(best == NULL || NumCmp(r->multiplier, best->multiplier) > 0) &&
			CampaignApplies(r, ctx, pr, &day))
			best = r;
	}
	if (best != NULL)
		ApplyPoints(detail, &ncomponents, &total, best, ScaledPoints(base, best->extra));
	for (i = 0; i < pr->nrules; i++)
	{
		const CachedRule *r = &pr->rules[i];

		if (r->kind == RULE_CAMPAIGN_BONUS && CampaignApplies(r, ctx, pr, &day))
			ApplyPoints(detail, &ncomponents, &total, r, r->bonus_points);
	}

	/* e. first purchase, birthday month */
	if (ctx->first_purchase)
	{
		for (i = 0; i < pr->nrules; i++)
			if (pr->rules[i].kind == RULE_FIRST_PURCHASE_BONUS)
				ApplyPoints(detail, &ncomponents, &total, &pr->rules[i],
							pr->rules[i].bonus_points);
	}
	if (BirthdayApplies(ctx, pr, &day))
	{
		for (i = 0; i < pr->nrules; i++)
		{
			if (pr->rules[i].kind != RULE_BIRTHDAY_BONUS)
				continue;
			/* Not paid, nor listed, nor counted as the year's, when it adds nothing. */
			if (!BonusPays(pr, total, pr->rules[i].bonus_points))
				continue;
			ApplyPoints(detail, &ncomponents, &total, &pr->rules[i],
						pr->rules[i].bonus_points);
			if (ctx->birthday_bonus != NULL)
			{
				ctx->birthday_bonus->added = true;
				ctx->birthday_bonus->year = day.year;
			}
		}
	}

	/* f. order cap */
	if (pr->cap != NULL && total > pr->cap->cap_points)
	{
		AddComponent(detail, &ncomponents, pr->cap->name,
					 pr->cap->cap_points - total, NULL);
		total = pr->cap->cap_points;
	}

	/* g. never below 0 */
	if (total < 0)
	{
		AddComponent(detail, &ncomponents, "no negative points", -total,
					 "total never below 0");
		total = 0;
	}

	if (detail != NULL)
		appendStringInfoChar(detail, ']');
	if (current_overflow != NULL && *current_overflow)
		total = 0;
	current_overflow = NULL;
	return total;
}

/*
 * quote(program, amount, channel, category, ordered_at, tier, birthday,
 * first_purchase): the points an order would earn, and its detail.
 */
Datum
loyalty_quote(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	LoyaltyUserSwitch sw;
	EarnContext ctx = {0};
	StringInfoData detail;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int64		points;

	LoyaltyRequireArg(PG_ARGISNULL(0), "program");
	LoyaltyRequireArg(PG_ARGISNULL(1), "amount");
	LoyaltyRequireArg(PG_ARGISNULL(4), "ordered_at");
	LoyaltyRequireArg(PG_ARGISNULL(7), "first_purchase");

	memset(&ctx, 0, sizeof(ctx));
	ctx.amount = PG_GETARG_NUMERIC(1);
	CheckEarnAmount(ctx.amount);
	ctx.channel = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	ctx.category = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	ctx.ordered_at = PG_GETARG_TIMESTAMPTZ(4);
	if (TIMESTAMP_NOT_FINITE(ctx.ordered_at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ordered_at must be a finite time")));
	ctx.tier = PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5));
	ctx.has_birthday = !PG_ARGISNULL(6);
	if (ctx.has_birthday)
	{
		ctx.birthday = PG_GETARG_DATEADT(6);
		if (DATE_NOT_FINITE(ctx.birthday))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("birthday must be a finite date")));
	}
	ctx.first_purchase = PG_GETARG_BOOL(7);

	LoyaltyInitSRF(fcinfo);
	initStringInfo(&detail);

	LoyaltyBecomeOwner(&sw);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ctx.program_id = LoyaltyLookupProgram(PG_GETARG_TEXT_PP(0));
	points = LoyaltyComputeEarn(&ctx, &detail);
	SPI_finish();
	LoyaltyRestoreUser(&sw);

	values[0] = Int64GetDatum(points);
	values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(detail.data));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/*
 * Statement trigger on loyalty.earn_rule and loyalty.program: invalidates
 * earn_rule's relcache entry, so every backend drops its cached rules when
 * the change commits (and this backend at its next command).
 */
Datum
loyalty_rules_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("rules_changed() must be called as a trigger")));
	relid = get_relname_relid("earn_rule",
							  RelationGetNamespace(trigdata->tg_relation));
	if (OidIsValid(relid))
		CacheInvalidateRelcacheByRelid(relid);
	else
		CacheInvalidateRelcacheAll();
	return PointerGetDatum(NULL);
}
