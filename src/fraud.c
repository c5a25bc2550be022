/*
 * fraud.c
 *		Fraud checks of the order and ledger paths, in the transaction of
 *		the order, earning or redemption.
 *
 * Each program turns checks on in loyalty.fraud_check (set_fraud_check());
 * the checks are cached per backend and dropped when that table changes
 * (its rules_changed trigger sends the invalidation the earning rules use).
 * Per member, account.fraud_state (fraud.h) keeps what the checks measure,
 * in fixed-size buckets: nothing here reads a member's history, so a check
 * costs the same for a member's first order and their ten-thousandth.
 *
 * Times: order checks count by the order's own time (ordered_at), so an
 * import of old orders does not look like a burst, but never later than
 * the transaction's start (a future-dated order would move the buckets
 * ahead and switch the checks off until then); earnings and redemptions
 * count at the transaction's start.  A day is a rolling window
 * of 24 one-hour buckets (no reset at midnight to game), the velocity
 * window one of 60 one-minute buckets.
 *
 * The identity checks (shared_identity, self_referral) are SQL
 * (sql/parts/88_fraud.sql): they run on profile changes, not on orders.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "loyalty.h"
#include "fraud.h"

/* minute_end and hour_end of a state that has recorded nothing yet */
#define FRAUD_UNSET PG_INT64_MIN

static const char *const check_names[FC_NUM_CHECKS] = {
	"order_velocity", "points_per_day", "redemptions_per_day", "redeemed_points_per_day",
	"duplicate_order", "return_farming", "refund_after_redeem", "account_takeover"
};

typedef struct FraudCacheEntry
{
	int32		program_id;		/* hash key */
	FraudRules	rules;
} FraudCacheEntry;

static HTAB *FraudCache = NULL;
static bool FraudStale = false;
static Oid	FraudRelids[2];		/* loyalty.fraud_check, loyalty.earn_rule */

/* The name of a check as loyalty.fraud_check_kind has it. */
const char *
LoyaltyFraudCheckName(FraudCheck check)
{
	return check_names[check];
}

/* Mark the cache stale when the checks (or the rules they travel with) change. */
static void
FraudInvalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == FraudRelids[0] || relid == FraudRelids[1])
		FraudStale = true;
}

/* Whether the database has account.fraud_state (0.3.0 on). */
bool
LoyaltyHasFraud(void)
{
	return LoyaltyHasColumn("account", "fraud_state");
}

/* Read a program's checks through SPI into rules. */
static void
LoadFraudRules(int32 program_id, FraudRules *rules)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1];
	/* SPI leaves its own context current: the caller's stays so. */
	MemoryContext callercxt = CurrentMemoryContext;

	if (plan == NULL)
		plan = LoyaltyPreparePlan(
								  "SELECT c.check_name, c.action, c.threshold, c.threshold2,"
								  " (pg_catalog.extract('epoch', c.within)"
								  "   OPERATOR(pg_catalog.*) 1000000)::bigint"
								  " FROM loyalty.fraud_check c"
								  " WHERE c.program_id OPERATOR(pg_catalog.=) $1",
								  1, argtypes);
	memset(rules, 0, sizeof(*rules));
	values[0] = Int32GetDatum(program_id);
	if (SPI_execute_plan(plan, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "fraud check lookup failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(tuple, desc, 1);
		bool		isnull;
		Datum		d;

		for (int c = 0; c < FC_NUM_CHECKS; c++)
		{
			FraudRule  *r = &rules->rule[c];

			if (strcmp(name, check_names[c]) != 0)
				continue;
			r->on = true;
			r->action = SPI_getvalue(tuple, desc, 2)[0];
			d = SPI_getbinval(tuple, desc, 3, &isnull);
			r->threshold = isnull ? 0 : DatumGetInt64(d);
			d = SPI_getbinval(tuple, desc, 4, &isnull);
			r->threshold2 = isnull ? 0 : DatumGetInt64(d);
			d = SPI_getbinval(tuple, desc, 5, &isnull);
			r->within = isnull ? 0 : DatumGetInt64(d);
			rules->any = true;
		}
	}
	SPI_freetuptable(SPI_tuptable);
	MemoryContextSwitchTo(callercxt);
}

/* The program's checks of the order and ledger paths, or NULL when none is on. */
const FraudRules *
LoyaltyFraudRulesFor(int32 program_id)
{
	FraudCacheEntry *entry;
	bool		found;

	if (!LoyaltyHasFraud())
		return NULL;
	if (FraudCache == NULL)
	{
		HASHCTL		info;

		CacheRegisterRelcacheCallback(FraudInvalidate, (Datum) 0);
		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(int32);
		info.entrysize = sizeof(FraudCacheEntry);
		FraudCache = hash_create("loyalty fraud checks", 16, &info, HASH_ELEM | HASH_BLOBS);
		FraudStale = true;
	}
	if (FraudStale)
	{
		HASH_SEQ_STATUS status;
		Oid			nsp = get_namespace_oid("loyalty", false);

		hash_seq_init(&status, FraudCache);
		while ((entry = hash_seq_search(&status)) != NULL)
			hash_search(FraudCache, &entry->program_id, HASH_REMOVE, NULL);
		FraudRelids[0] = get_relname_relid("fraud_check", nsp);
		FraudRelids[1] = get_relname_relid("earn_rule", nsp);
		FraudStale = false;
	}
	entry = hash_search(FraudCache, &program_id, HASH_FIND, NULL);
	if (entry == NULL)
	{
		FraudRules	rules;

		LoadFraudRules(program_id, &rules);
		entry = hash_search(FraudCache, &program_id, HASH_ENTER, &found);
		entry->rules = rules;
	}
	return entry->rules.any ? &entry->rules : NULL;
}

/* t divided by unit, rounded down (times before 2000 are negative). */
static inline int64
FloorDiv(TimestampTz t, int64 unit)
{
	return t >= 0 ? t / unit : -((-t + unit - 1) / unit);
}

/* Start an empty state. */
static void
FraudStateInit(FraudState *s)
{
	memset(s, 0, sizeof(*s));
	s->version = FRAUD_STATE_VERSION;
	s->minute_end = FRAUD_UNSET;
	s->hour_end = FRAUD_UNSET;
	for (int i = 0; i < FRAUD_RECENT; i++)
		s->recent_at[i] = DT_NOBEGIN;
}

/* Read a stored state; one of another size or version starts empty. */
void
LoyaltyFraudStateRead(FraudState *s, Datum d, bool isnull)
{
	bytea	   *b;

	if (isnull)
	{
		FraudStateInit(s);
		return;
	}
	b = DatumGetByteaPP(d);
	if (VARSIZE_ANY_EXHDR(b) != sizeof(FraudState))
	{
		FraudStateInit(s);
		return;
	}
	memcpy(s, VARDATA_ANY(b), sizeof(FraudState));
	/* A state of another version, or a corrupt one, starts empty. */
	if (s->version != FRAUD_STATE_VERSION ||
		s->recent_next < 0 || s->recent_next >= FRAUD_RECENT)
		FraudStateInit(s);
}

/*
 * Buckets ahead of the transaction's time (a clock set back, or a state a
 * future-dated order moved) would keep the checks from counting anything
 * until that time: start them afresh.
 */
static void
FraudStateNotAhead(FraudState *s, TimestampTz now)
{
	if (s->minute_end != FRAUD_UNSET && s->minute_end > FloorDiv(now, USECS_PER_MINUTE))
	{
		memset(s->order_count, 0, sizeof(s->order_count));
		s->minute_end = FRAUD_UNSET;
	}
	if (s->hour_end != FRAUD_UNSET && s->hour_end > FloorDiv(now, USECS_PER_HOUR))
	{
		memset(s->earned, 0, sizeof(s->earned));
		memset(s->redeemed, 0, sizeof(s->redeemed));
		memset(s->redemptions, 0, sizeof(s->redemptions));
		s->hour_end = FRAUD_UNSET;
	}
}

/* The state as a bytea Datum. */
Datum
LoyaltyFraudStateDatum(const FraudState *s)
{
	bytea	   *b = palloc(VARHDRSZ + sizeof(FraudState));

	SET_VARSIZE(b, VARHDRSZ + sizeof(FraudState));
	memcpy(VARDATA(b), s, sizeof(FraudState));
	return PointerGetDatum(b);
}

/* The bucket of minute or hour n in a ring of size buckets. */
static inline int
Slot(int64 n, int size)
{
	int			r = (int) (n % size);

	return r < 0 ? r + size : r;
}

/* Move the minute buckets forward so that minute m is the newest. */
static void
ShiftMinutes(FraudState *s, int64 m)
{
	if (s->minute_end != FRAUD_UNSET && m <= s->minute_end)
		return;
	if (s->minute_end == FRAUD_UNSET || m - s->minute_end >= FRAUD_MINUTES)
		memset(s->order_count, 0, sizeof(s->order_count));
	else
		for (int64 k = s->minute_end + 1; k <= m; k++)
			s->order_count[Slot(k, FRAUD_MINUTES)] = 0;
	s->minute_end = m;
}

/* Move the hour buckets forward so that hour h is the newest. */
static void
ShiftHours(FraudState *s, int64 h)
{
	if (s->hour_end != FRAUD_UNSET && h <= s->hour_end)
		return;
	if (s->hour_end == FRAUD_UNSET || h - s->hour_end >= FRAUD_HOURS)
	{
		memset(s->earned, 0, sizeof(s->earned));
		memset(s->redeemed, 0, sizeof(s->redeemed));
		memset(s->redemptions, 0, sizeof(s->redemptions));
	}
	else
		for (int64 k = s->hour_end + 1; k <= h; k++)
		{
			int			i = Slot(k, FRAUD_HOURS);

			s->earned[i] = 0;
			s->redeemed[i] = 0;
			s->redemptions[i] = 0;
		}
	s->hour_end = h;
}

/* Whether hour h is one the buckets hold (after shifting to at least h). */
static inline bool
HourHeld(const FraudState *s, int64 h)
{
	return s->hour_end != FRAUD_UNSET && h <= s->hour_end && h > s->hour_end - FRAUD_HOURS;
}

/* Saturating additions: a bucket that overflows stays at its largest value. */
static inline void
AddSat32(int32 *v, int64 x)
{
	if (x <= 0)
		return;
	*v = (int32) Min((int64) *v + x, (int64) PG_INT32_MAX);
}

static inline void
Inc8(uint8 *v)
{
	if (*v < PG_UINT8_MAX)
		(*v)++;
}

/* Sum of hour buckets for the hours hours ending with h. */
static int64
SumHours(const FraudState *s, const int32 *buckets, int64 h, int hours)
{
	int64		sum = 0;

	for (int64 k = h - hours + 1; k <= h; k++)
		if (HourHeld(s, k))
			sum += buckets[Slot(k, FRAUD_HOURS)];
	return sum;
}

/*
 * The largest sum of hour buckets over a window of hours hours that holds
 * hour h: an order recorded after newer ones (an offline till, an import not
 * sorted by time) counts with those newer ones, not only with older ones.
 * For the newest hour it is the window ending with h.
 */
static int64
MaxSumHours(const FraudState *s, const int32 *buckets, int64 h, int hours)
{
	int64		best = 0;
	int64		last = h + hours - 1;

	if (s->hour_end != FRAUD_UNSET && s->hour_end < last)
		last = s->hour_end;
	for (int64 e = h; e <= last; e++)
		best = Max(best, SumHours(s, buckets, e, hours));
	return best;
}

/* The window of a rule in whole units, at least 1 and at most max. */
static inline int
WindowUnits(const FraudRule *r, int64 unit, int max)
{
	int64		n = r->within / unit;

	return (int) Max(1, Min(n, max));
}

/* Add a hit. */
static void
Hit(FraudHit *hits, int *nhits, const FraudRules *r, FraudCheck check, int64 measured,
	int64 threshold, const char *detail)
{
	FraudHit   *h = &hits[(*nhits)++];

	h->check = check;
	h->action = r->rule[check].action;
	h->measured = measured;
	h->threshold = threshold;
	h->detail = detail ? pstrdup(detail) : NULL;
}

/* Record points earned at time at, and run points_per_day. */
static void
EarnedAt(const FraudRules *r, FraudState *s, TimestampTz at, int64 points,
		 FraudHit *hits, int *nhits)
{
	int64		h = FloorDiv(at, USECS_PER_HOUR);
	const FraudRule *rule = &r->rule[FC_POINTS_PER_DAY];

	ShiftHours(s, h);
	if (HourHeld(s, h))
		AddSat32(&s->earned[Slot(h, FRAUD_HOURS)], points);
	if (rule->on && points > 0)
	{
		int			hours = WindowUnits(rule, USECS_PER_HOUR, FRAUD_HOURS);
		int64		sum = MaxSumHours(s, s->earned, h, hours);

		if (!HourHeld(s, h))
			sum += Min(points, (int64) PG_INT32_MAX);
		if (sum > rule->threshold)
			Hit(hits, nhits, r, FC_POINTS_PER_DAY, sum, rule->threshold,
				psprintf("{\"unit\":\"points\",\"window_hours\":%d}", hours));
	}
}

/* The checks of a new order; records it in the state. */
int
LoyaltyFraudOnOrder(const FraudRules *r, FraudState *s, TimestampTz at, Numeric amount,
					int64 points, FraudHit *hits)
{
	int			nhits = 0;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	int64		m;
	bool		held;
	const FraudRule *rule;

	/*
	 * A future-dated order counts at the transaction's time: its own would
	 * move the buckets ahead, and until then nothing would count.
	 */
	if (at > now)
		at = now;
	FraudStateNotAhead(s, now);
	m = FloorDiv(at, USECS_PER_MINUTE);

	/* order_velocity: orders by minute over the last hour */
	ShiftMinutes(s, m);
	held = m > s->minute_end - FRAUD_MINUTES;
	if (held)
		Inc8(&s->order_count[Slot(m, FRAUD_MINUTES)]);
	rule = &r->rule[FC_ORDER_VELOCITY];
	if (rule->on)
	{
		int			minutes = WindowUnits(rule, USECS_PER_MINUTE, FRAUD_MINUTES);
		int64		count = 0;

		/*
		 * The busiest window of that many minutes holding this order: one
		 * recorded after newer ones counts with them (see MaxSumHours).
		 */
		for (int64 e = m; e <= Min(m + minutes - 1, s->minute_end); e++)
		{
			int64		n = 0;

			for (int64 k = e - minutes + 1; k <= e; k++)
				if (k > s->minute_end - FRAUD_MINUTES)
					n += s->order_count[Slot(k, FRAUD_MINUTES)];
			count = Max(count, n);
		}
		if (!held)
			count++;
		if (count > rule->threshold)
			Hit(hits, &nhits, r, FC_ORDER_VELOCITY, count, rule->threshold,
				psprintf("{\"unit\":\"orders\",\"window_minutes\":%d}", minutes));
	}

	/* duplicate_order: the same amount within the window */
	rule = &r->rule[FC_DUPLICATE_ORDER];
	if (amount != NULL)
	{
		uint32		hash = DatumGetUInt32(DirectFunctionCall1(hash_numeric,
															  NumericGetDatum(amount)));

		if (rule->on)
		{
			int64		same = 1;

			for (int i = 0; i < FRAUD_RECENT; i++)
			{
				TimestampTz t = s->recent_at[i];

				if (t == DT_NOBEGIN || s->recent_hash[i] != hash)
					continue;
				if ((t <= at && at - t <= rule->within) || (t > at && t - at <= rule->within))
					same++;
			}
			if (same > rule->threshold)
				Hit(hits, &nhits, r, FC_DUPLICATE_ORDER, same, rule->threshold,
					psprintf("{\"unit\":\"orders of the same amount\",\"window_minutes\":%lld}",
							 (long long) (rule->within / USECS_PER_MINUTE)));
		}
		s->recent_hash[s->recent_next] = hash;
		s->recent_at[s->recent_next] = at;
		s->recent_next = (s->recent_next + 1) % FRAUD_RECENT;
	}

	/* points_per_day */
	EarnedAt(r, s, at, points, hits, &nhits);

	s->orders++;
	return nhits;
}

/* The checks of an order refunded or deleted. */
int
LoyaltyFraudOnRefund(const FraudRules *r, FraudState *s, TimestampTz ordered_at,
					 bool counts, TimestampTz now, FraudHit *hits)
{
	int			nhits = 0;
	const FraudRule *rule;

	/* return_farming: crossing the share of refunded orders */
	rule = &r->rule[FC_RETURN_FARMING];
	if (counts && s->refunds < s->orders)
	{
		bool		before = s->orders >= rule->threshold2 &&
			s->refunds * 100 > rule->threshold * s->orders;

		s->refunds++;
		if (rule->on && !before && s->orders >= rule->threshold2 &&
			s->refunds * 100 > rule->threshold * s->orders)
			Hit(hits, &nhits, r, FC_RETURN_FARMING, s->refunds * 100 / s->orders,
				rule->threshold,
				psprintf("{\"unit\":\"percent\",\"orders\":%lld,\"refunded\":%lld}",
						 (long long) s->orders, (long long) s->refunds));
	}

	/* refund_after_redeem: the order earned, the member redeemed, now the refund */
	rule = &r->rule[FC_REFUND_AFTER_REDEEM];
	if (rule->on && s->last_redeemed_at != 0 && s->last_redeemed_at > ordered_at &&
		now - s->last_redeemed_at <= rule->within)
		Hit(hits, &nhits, r, FC_REFUND_AFTER_REDEEM,
			(now - s->last_redeemed_at) / USECS_PER_MINUTE, rule->within / USECS_PER_MINUTE,
			"{\"unit\":\"minutes from the redemption to the refund\"}");
	return nhits;
}

/* The checks of a manual earning. */
int
LoyaltyFraudOnEarn(const FraudRules *r, FraudState *s, TimestampTz now, int64 points,
				   FraudHit *hits)
{
	int			nhits = 0;

	FraudStateNotAhead(s, now);
	EarnedAt(r, s, now, points, hits, &nhits);
	return nhits;
}

/* The checks of a redemption. */
int
LoyaltyFraudOnRedeem(const FraudRules *r, FraudState *s, TimestampTz now, int64 points,
					 TimestampTz changed_at, FraudHit *hits)
{
	int			nhits = 0;
	int64		h = FloorDiv(now, USECS_PER_HOUR);
	int			i = Slot(h, FRAUD_HOURS);
	const FraudRule *rule;

	FraudStateNotAhead(s, now);
	ShiftHours(s, h);
	Inc8(&s->redemptions[i]);
	AddSat32(&s->redeemed[i], points);
	s->last_redeemed_at = now;

	rule = &r->rule[FC_REDEMPTIONS_PER_DAY];
	if (rule->on)
	{
		int			hours = WindowUnits(rule, USECS_PER_HOUR, FRAUD_HOURS);
		int64		count = 0;

		for (int64 k = h - hours + 1; k <= h; k++)
			if (HourHeld(s, k))
				count += s->redemptions[Slot(k, FRAUD_HOURS)];
		if (count > rule->threshold)
			Hit(hits, &nhits, r, FC_REDEMPTIONS_PER_DAY, count, rule->threshold,
				psprintf("{\"unit\":\"redemptions\",\"window_hours\":%d}", hours));
	}
	rule = &r->rule[FC_REDEEMED_POINTS_PER_DAY];
	if (rule->on)
	{
		int			hours = WindowUnits(rule, USECS_PER_HOUR, FRAUD_HOURS);
		int64		sum = SumHours(s, s->redeemed, h, hours);

		if (sum > rule->threshold)
			Hit(hits, &nhits, r, FC_REDEEMED_POINTS_PER_DAY, sum, rule->threshold,
				psprintf("{\"unit\":\"points\",\"window_hours\":%d}", hours));
	}
	rule = &r->rule[FC_ACCOUNT_TAKEOVER];
	if (rule->on && now - changed_at < rule->within)
		Hit(hits, &nhits, r, FC_ACCOUNT_TAKEOVER, (now - changed_at) / USECS_PER_MINUTE,
			rule->within / USECS_PER_MINUTE,
			"{\"unit\":\"minutes since enrolment or the last change of e-mail, phone or card\"}");
	return nhits;
}

/* Whether any hit holds the points of an order or earning. */
bool
LoyaltyFraudHolds(const FraudHit *hits, int nhits)
{
	for (int i = 0; i < nhits; i++)
		if (hits[i].action != 'f')
			return true;
	return false;
}

/* Raise LY011 for the first hit whose action is reject. */
void
LoyaltyFraudReject(const FraudHit *hits, int nhits, const char *what)
{
	for (int i = 0; i < nhits; i++)
		if (hits[i].action == 'r')
			ereport(ERROR,
					(errcode(ERRCODE_LOYALTY_FRAUD_REJECTED),
					 errmsg("%s rejected by fraud check \"%s\"", what,
							check_names[hits[i].check]),
					 errdetail("Measured %lld against a threshold of %lld.",
							   (long long) hits[i].measured, (long long) hits[i].threshold),
					 errhint("Nothing was changed.  An administrator can change the check with loyalty.set_fraud_check().")));
}

/* Write one flag and its event through loyalty.record_flag(). */
void
LoyaltyFraudRecord(int32 program_id, int64 customer_id, int64 flag_no, const FraudHit *hit,
				   bool hold, const char *reference, int32 source_id, const char *order_key,
				   int64 entry_no, int64 lot_no, int64 held_points, bool has_release_at,
				   TimestampTz release_at)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[15] = {INT8OID, INT4OID, INT8OID, TEXTOID, TEXTOID, INT8OID, INT8OID,
		TEXTOID, INT4OID, TEXTOID, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[15];
	char		nulls[15];

	if (plan == NULL)
		plan = LoyaltyPreparePlan("SELECT loyalty.record_flag($1, $2, $3, $4, $5, $6, $7, $8,"
								  " $9, $10, $11, $12, $13, $14, $15::pg_catalog.jsonb)",
								  15, argtypes);
	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(customer_id);
	values[1] = Int32GetDatum(program_id);
	values[2] = Int64GetDatum(flag_no);
	values[3] = CStringGetTextDatum(check_names[hit->check]);
	values[4] = CStringGetTextDatum(hold ? "hold" : "flag");
	values[5] = Int64GetDatum(hit->measured);
	values[6] = Int64GetDatum(hit->threshold);
	values[7] = reference ? CStringGetTextDatum(reference) : (Datum) 0;
	nulls[7] = reference ? ' ' : 'n';
	values[8] = Int32GetDatum(source_id);
	nulls[8] = source_id > 0 ? ' ' : 'n';
	values[9] = order_key ? CStringGetTextDatum(order_key) : (Datum) 0;
	nulls[9] = order_key ? ' ' : 'n';
	values[10] = Int64GetDatum(entry_no);
	nulls[10] = entry_no > 0 ? ' ' : 'n';
	values[11] = Int64GetDatum(lot_no);
	nulls[11] = hold && lot_no > 0 ? ' ' : 'n';
	values[12] = Int64GetDatum(hold ? held_points : 0);
	values[13] = TimestampTzGetDatum(release_at);
	nulls[13] = hold && has_release_at ? ' ' : 'n';
	values[14] = hit->detail ? CStringGetTextDatum(hit->detail) : (Datum) 0;
	nulls[14] = hit->detail ? ' ' : 'n';
	if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "fraud flag write failed");
}
