/*
 * accrual.c
 *		The accrual trigger: orders written to a tracked table earn points,
 *		and refunds, cancellations, amount changes and deletes adjust them.
 *
 * track_orders() attaches loyalty.order_trigger('<source_id>') to the
 * application's table as three statement-level AFTER triggers with
 * transition tables.  For every order row the trigger works out the points
 * the order should hold now (its target) and moves the member's points to
 * it: a positive difference earns (pending during the return window), a
 * negative one claws back, first from the order's own lots.  Because every
 * change moves an order to a target instead of adding a delta, re-sending,
 * refunding twice or replaying an UPDATE never earns or claws back twice.
 *
 * Loyalty-side problems (unknown customer, suspended member, a currency
 * without a rate, a bad amount) are recorded in loyalty.accrual_problem and
 * never fail the shop's statement; a broken configuration does.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "catalog/namespace.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "loyalty.h"
#include "fraud.h"

PG_FUNCTION_INFO_V1(loyalty_order_trigger);

/* The columns of a tracked table, in the order of loyalty.order_source. */
typedef enum TrackedColumn
{
	COL_CUSTOMER,
	COL_ORDER,
	COL_AMOUNT,
	COL_CURRENCY,
	COL_CHANNEL,
	COL_CATEGORY,
	COL_STATUS,
	COL_REFUNDED,
	COL_ORDERED_AT,
	NUM_COLUMNS
} TrackedColumn;

static const char *const column_roles[NUM_COLUMNS] = {
	"customer", "order", "amount", "currency", "channel", "category",
	"status", "refunded", "ordered_at"
};

/* A tracked table's configuration, resolved against its current columns. */
typedef struct OrderSource
{
	int32		source_id;		/* hash key */
	bool		valid;
	MemoryContext cxt;			/* holds everything below */
	Oid			relid;
	char	   *table_name;
	int32		program_id;
	char		currency[4];
	char	   *time_zone;
	int32		return_days;
	char		negative_policy;	/* 'd'ebt, 'f'orgive or 'b'lock */
	bool		enroll_unknown;
	char	   *columns[NUM_COLUMNS];	/* NULL when not tracked */
	AttrNumber	attnums[NUM_COLUMNS];
	Oid			typids[NUM_COLUMNS];
	FmgrInfo	output[NUM_COLUMNS];	/* text output of key and label columns */
	int			nrefund_statuses;
	char	  **refund_statuses;
} OrderSource;

/* One order row as the trigger sees it. */
typedef struct OrderFacts
{
	bool		has_customer;
	int64		customer_id;
	char	   *order_key;		/* NULL when missing */
	Numeric		amount;			/* NULL when missing */
	char	   *currency;		/* NULL: the program's currency */
	char	   *channel;
	char	   *category;
	char	   *status;
	Numeric		refunded;		/* NULL: nothing refunded */
	TimestampTz ordered_at;
	bool		voided;			/* the new half of a moved row whose old order
								 * a fraud review voided (at voided_at) */
	TimestampTz voided_at;
} OrderFacts;

/* The member's locked account. */
typedef struct MemberState
{
	char	   *status;
	bool		has_birthday;
	DateADT		birthday;
	int64		available;
	int64		pending;
	int64		lifetime_earned;
	int64		last_entry_no;
	int64		order_count;
	bool		has_tiers;		/* the account has the tier columns */
	char	   *tier;			/* NULL: no tier */
	LoyaltyWindow *qualifying;	/* NULL while none */
	bool		has_fraud;		/* the account has the fraud columns */
	FraudState	fraud;
	int64		last_flag_no;
	bool		has_bonus_year; /* a year's birthday bonus was paid: bonus_year */
	int32		bonus_year;
} MemberState;

/* The order's recorded state in loyalty.order_accrual. */
typedef struct OrderState
{
	bool		exists;
	char	   *state;
	Numeric		amount;
	Numeric		net_amount;
	TimestampTz ordered_at;
	int64		points;
	int64		earned_points;
	bool		first_purchase;
	bool		has_lot;
	int64		lot_no;			/* the lot that received its points (0.2.0 on) */
	bool		voided;			/* a fraud review voided it: it never earns again */
	bool		held;			/* a fraud check holds its points until review */
	char	   *currency;		/* the currency its rate is for (0.3.0 on), or NULL */
	Numeric		rate;			/* the rate it is priced at, or NULL (before 0.3.0) */
	int64		forgiven;		/* points its refunds forgave and no earning has
								 * cancelled yet (0.3.0 on; 0 before) */
} OrderState;

/*
 * Whether loyalty.order_accrual has lot_no (release 0.2.0).  A library
 * newer than the database's extension version keeps serving the shop's
 * orders with the 0.1.0 tables until ALTER EXTENSION loyalty UPDATE: every
 * order then gets its own lot, found by its key.
 */
static bool
OrdersHaveLotNo(void)
{
	return LoyaltyHasColumn("order_accrual", "lot_no");
}

/*
 * Whether loyalty.order_accrual keeps each order's currency and rate
 * (0.3.0 on).  Before the update, every change of an order in another
 * currency is converted again at the rate valid at its time, as in 0.2.0.
 */
static bool
OrdersHaveRate(void)
{
	return LoyaltyHasColumn("order_accrual", "rate");
}

/* Whether order_accrual keeps the points forgiven per order (0.3.0 on). */
static bool
HasForgivenState(void)
{
	return LoyaltyHasColumn("order_accrual", "forgiven");
}

static HTAB *source_cache = NULL;

/* loyalty.program, loyalty.earn_rule, loyalty.order_source; found on load */
#define NUM_CONFIG_RELS 3
static Oid	config_relids[NUM_CONFIG_RELS];

/* Mark every cached source stale: the next statement re-reads its configuration. */
static void
InvalidateSources(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	OrderSource *src;

	bool		all = (relid == InvalidOid);

	if (source_cache == NULL)
		return;
	for (int i = 0; i < NUM_CONFIG_RELS; i++)
		if (relid == config_relids[i])
			all = true;
	if (all)
		memset(config_relids, 0, sizeof(config_relids));
	hash_seq_init(&status, source_cache);
	while ((src = hash_seq_search(&status)) != NULL)
		if (all || relid == src->relid)
			src->valid = false;
}

/* Remember the configuration tables' OIDs, so changes to them reset the cache. */
static void
FindConfigRelations(void)
{
	static const char *const names[NUM_CONFIG_RELS] = {"program", "earn_rule", "order_source"};
	Oid			nspid = get_namespace_oid("loyalty", false);

	for (int i = 0; i < NUM_CONFIG_RELS; i++)
		config_relids[i] = get_relname_relid(names[i], nspid);
}

/* Create the source cache and register its invalidation callbacks, once. */
static void
InitSourceCache(void)
{
	HASHCTL		ctl;

	if (source_cache != NULL)
		return;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int32);
	ctl.entrysize = sizeof(OrderSource);
	source_cache = hash_create("loyalty order sources", 16, &ctl,
							   HASH_ELEM | HASH_BLOBS);
	/*
	 * track_orders/untrack_orders and ALTER TABLE change the table, and the
	 * rules_changed trigger on programs sends a reset: both reach us here.
	 */
	CacheRegisterRelcacheCallback(InvalidateSources, (Datum) 0);
}

/* Raise the error for a tracked column that is gone or has a wrong type. */
static void
BrokenColumn(OrderSource *src, int col, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
			 errmsg("tracked %s column \"%s\" of table %s %s",
					column_roles[col], src->columns[col], src->table_name, problem),
			 errdetail("The loyalty trigger cannot read the order."),
			 errhint("Run loyalty.untrack_orders('%s') and loyalty.track_orders() again with the right columns.",
					 src->table_name)));
}

/* Check a tracked column's type against what its role accepts. */
static void
CheckColumnType(OrderSource *src, int col, Oid typid)
{
	bool		ok;

	switch (col)
	{
		case COL_CUSTOMER:
			ok = typid == INT2OID || typid == INT4OID || typid == INT8OID;
			break;
		case COL_AMOUNT:
		case COL_REFUNDED:
			ok = typid == NUMERICOID || typid == INT2OID || typid == INT4OID ||
				typid == INT8OID;
			break;
		case COL_ORDERED_AT:
			ok = typid == TIMESTAMPTZOID || typid == TIMESTAMPOID || typid == DATEOID;
			break;
		case COL_ORDER:
			ok = true;
			break;
		default:
			ok = typid == TEXTOID || typid == VARCHAROID || typid == BPCHAROID ||
				type_is_enum(typid);
			break;
	}
	if (!ok)
		BrokenColumn(src, col, psprintf("has an unsupported type %s", format_type_be(typid)));
}

/* Read a source's configuration and resolve its columns on the firing table. */
static void
LoadSource(OrderSource *src, Relation rel)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1];
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	MemoryContext old;
	char	   *actual;
	Datum		statuses;

	if (plan == NULL)
		plan = LoyaltyPreparePlan(
								  "SELECT s.table_name, s.program_id, p.currency::text, p.time_zone,"
								  " p.return_days, p.negative_balance, p.unknown_customer,"
								  " s.customer_column, s.order_column, s.amount_column,"
								  " s.currency_column, s.channel_column, s.category_column,"
								  " s.status_column, s.refunded_column, s.ordered_at_column,"
								  " s.refund_statuses"
								  " FROM loyalty.order_source s"
								  " JOIN loyalty.program p ON p.program_id OPERATOR(pg_catalog.=) s.program_id"
								  " WHERE s.source_id OPERATOR(pg_catalog.=) $1",
								  1, argtypes);
	values[0] = Int32GetDatum(src->source_id);
	if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "order source lookup failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("loyalty order source %d is not registered", src->source_id),
				 errhint("Attach the trigger with loyalty.track_orders(), not by hand.")));
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	if (src->cxt)
		MemoryContextDelete(src->cxt);
	src->cxt = AllocSetContextCreate(CacheMemoryContext, "loyalty order source",
									 ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(src->cxt);

	src->relid = RelationGetRelid(rel);
	src->table_name = SPI_getvalue(tuple, desc, 1);
	actual = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										RelationGetRelationName(rel));
	if (strcmp(actual, src->table_name) != 0)
	{
		/* Its registered name is gone: renamed or moved since tracked. */
		bool		moved = !OidIsValid(LoyaltyRelationOfName(src->table_name));

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("loyalty order source %d is registered for table %s, not %s",
						src->source_id, src->table_name, actual),
				 moved ?
				 errhint("The table was renamed or moved after loyalty.track_orders(): run loyalty.untrack_orders('%s') and loyalty.track_orders() again under its new name.",
						 actual) :
				 errhint("Attach the trigger with loyalty.track_orders(), not by hand.")));
	}

	src->program_id = DatumGetInt32(SPI_getbinval(tuple, desc, 2, &isnull));
	strlcpy(src->currency, SPI_getvalue(tuple, desc, 3), sizeof(src->currency));
	src->time_zone = SPI_getvalue(tuple, desc, 4);
	src->return_days = DatumGetInt32(SPI_getbinval(tuple, desc, 5, &isnull));
	src->negative_policy = SPI_getvalue(tuple, desc, 6)[0];
	src->enroll_unknown = strcmp(SPI_getvalue(tuple, desc, 7), "enroll") == 0;

	for (int col = 0; col < NUM_COLUMNS; col++)
	{
		src->columns[col] = SPI_getvalue(tuple, desc, 8 + col);
		src->attnums[col] = InvalidAttrNumber;
		if (src->columns[col] == NULL)
			continue;
		src->attnums[col] = get_attnum(src->relid, src->columns[col]);
		if (src->attnums[col] == InvalidAttrNumber)
			BrokenColumn(src, col, "no longer exists");
		src->typids[col] = get_atttype(src->relid, src->attnums[col]);
		CheckColumnType(src, col, src->typids[col]);
		if (col != COL_CUSTOMER && col != COL_AMOUNT && col != COL_REFUNDED &&
			col != COL_ORDERED_AT)
		{
			Oid			outfunc;
			bool		varlena;

			getTypeOutputInfo(src->typids[col], &outfunc, &varlena);
			fmgr_info_cxt(outfunc, &src->output[col], src->cxt);
		}
	}

	statuses = SPI_getbinval(tuple, desc, 8 + NUM_COLUMNS, &isnull);
	src->nrefund_statuses = 0;
	if (!isnull)
	{
		Datum	   *elems;
		bool	   *elemnulls;
		int			n;

		deconstruct_array(DatumGetArrayTypeP(statuses), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, &elemnulls, &n);
		src->refund_statuses = palloc(sizeof(char *) * Max(n, 1));
		for (int i = 0; i < n; i++)
			if (!elemnulls[i])
				src->refund_statuses[src->nrefund_statuses++] = TextDatumGetCString(elems[i]);
	}
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
	src->valid = true;
}

/* The cached configuration of a source, loaded or reloaded as needed. */
static OrderSource *
GetSource(int32 source_id, Relation rel)
{
	OrderSource *src;
	bool		found;

	InitSourceCache();
	src = hash_search(source_cache, &source_id, HASH_ENTER, &found);
	if (!found)
	{
		src->valid = false;
		src->cxt = NULL;
	}
	if (!OidIsValid(config_relids[0]))
		FindConfigRelations();
	if (!src->valid || src->relid != RelationGetRelid(rel))
		LoadSource(src, rel);
	return src;
}

/*
 * A text-valued column of the row, or NULL.  A character(n) value other than
 * the order key drops its padding, as character comparison does: status
 * 'refunded  ' is a refund status, channel 'outlet  ' the channel outlet.
 * The order key keeps it, as it was always recorded.
 */
static char *
ColumnText(OrderSource *src, TupleTableSlot *slot, int col)
{
	bool		isnull;
	Datum		d;
	char	   *s;

	if (src->attnums[col] == InvalidAttrNumber)
		return NULL;
	d = slot_getattr(slot, src->attnums[col], &isnull);
	if (isnull)
		return NULL;
	s = OutputFunctionCall(&src->output[col], d);
	if (src->typids[col] == BPCHAROID && col != COL_ORDER)
	{
		size_t		len = strlen(s);

		while (len > 0 && s[len - 1] == ' ')
			s[--len] = '\0';
	}
	return s;
}

/* An amount column of the row as numeric, or NULL. */
static Numeric
ColumnNumeric(OrderSource *src, TupleTableSlot *slot, int col)
{
	bool		isnull;
	Datum		d;

	if (src->attnums[col] == InvalidAttrNumber)
		return NULL;
	d = slot_getattr(slot, src->attnums[col], &isnull);
	if (isnull)
		return NULL;
	switch (src->typids[col])
	{
		case INT2OID:
			return DatumGetNumeric(DirectFunctionCall1(int2_numeric, d));
		case INT4OID:
			return DatumGetNumeric(DirectFunctionCall1(int4_numeric, d));
		case INT8OID:
			return DatumGetNumeric(DirectFunctionCall1(int8_numeric, d));
		default:
			return DatumGetNumeric(d);
	}
}

/* The first moment no order time may reach: 10000-01-01 UTC. */
#define ORDER_TIME_END \
	((TimestampTz) (date2j(10000, 1, 1) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY)

/*
 * The order time: a timestamp without zone or a date is local to the
 * program.  A time that is missing, infinite or past the year 9999 is no
 * order time: the transaction's start stands for it.
 */
static TimestampTz
ColumnTime(OrderSource *src, TupleTableSlot *slot)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz t;
	bool		isnull;
	Datum		d;
	Datum		zone;

	if (src->attnums[COL_ORDERED_AT] == InvalidAttrNumber)
		return now;
	d = slot_getattr(slot, src->attnums[COL_ORDERED_AT], &isnull);
	if (isnull)
		return now;
	if (src->typids[COL_ORDERED_AT] == TIMESTAMPTZOID)
		t = DatumGetTimestampTz(d);
	else
	{
		if (src->typids[COL_ORDERED_AT] == DATEOID)
			d = DirectFunctionCall1(date_timestamp, d);
		zone = CStringGetTextDatum(src->time_zone);
		t = DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone, zone, d));
	}
	return TIMESTAMP_NOT_FINITE(t) || t >= ORDER_TIME_END ? now : t;
}

/* Read the tracked columns of one transition row. */
static void
ReadFacts(OrderSource *src, TupleTableSlot *slot, OrderFacts *facts)
{
	bool		isnull;
	Datum		d;

	memset(facts, 0, sizeof(*facts));
	d = slot_getattr(slot, src->attnums[COL_CUSTOMER], &isnull);
	facts->has_customer = !isnull;
	if (!isnull)
	{
		switch (src->typids[COL_CUSTOMER])
		{
			case INT2OID:
				facts->customer_id = DatumGetInt16(d);
				break;
			case INT4OID:
				facts->customer_id = DatumGetInt32(d);
				break;
			default:
				facts->customer_id = DatumGetInt64(d);
				break;
		}
	}
	facts->order_key = ColumnText(src, slot, COL_ORDER);
	facts->amount = ColumnNumeric(src, slot, COL_AMOUNT);
	facts->currency = ColumnText(src, slot, COL_CURRENCY);
	facts->channel = ColumnText(src, slot, COL_CHANNEL);
	facts->category = ColumnText(src, slot, COL_CATEGORY);
	facts->status = ColumnText(src, slot, COL_STATUS);
	facts->refunded = ColumnNumeric(src, slot, COL_REFUNDED);
	facts->ordered_at = ColumnTime(src, slot);
}

/*
 * The first four parameters of every SPI statement here about one order:
 * $1 the customer, $2 the program, $3 the tracked table, $4 the order key.
 */
static void
OrderKeyParams(Datum *values, OrderSource *src, int64 customer_id, const char *order_key)
{
	values[0] = Int64GetDatum(customer_id);
	values[1] = Int32GetDatum(src->program_id);
	values[2] = Int32GetDatum(src->source_id);
	values[3] = CStringGetTextDatum(order_key);
}

/* Record why an order earned nothing; repeated problems are counted. */
static void
RecordProblem(OrderSource *src, int64 customer_id, const char *order_key,
			  const char *problem, const char *detail)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[6] = {INT8OID, INT4OID, INT4OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	if (plan == NULL)
		plan = LoyaltyPreparePlan(
								  "INSERT INTO loyalty.accrual_problem AS p (customer_id, program_id,"
								  " source_id, order_key, problem, detail)"
								  " VALUES ($1, $2, $3, $4, $5, $6)"
								  " ON CONFLICT (customer_id, program_id, source_id, order_key, problem)"
								  " DO UPDATE SET occurrences = p.occurrences OPERATOR(pg_catalog.+) 1,"
								  "  detail = EXCLUDED.detail, last_seen_at = pg_catalog.now()",
								  6, argtypes);
	OrderKeyParams(values, src, customer_id, order_key ? order_key : "");
	values[4] = CStringGetTextDatum(problem);
	values[5] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
	nulls[5] = detail ? ' ' : 'n';
	if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "recording an accrual problem failed");
}

/*
 * Whether a member whose account holds available, pending and
 * lifetime_earned points can earn points more (LoyaltyTotalFits).  When not,
 * *why (if not NULL) says which total would pass, for the order's accrual
 * problem.
 */
static bool
EarnFits(int64 available, int64 pending, int64 lifetime_earned, int64 points,
		 char **why)
{
	const char *what;

	if (LoyaltyTotalFits(available, pending, lifetime_earned, points, &what))
		return true;
	if (why != NULL)
		*why = psprintf("the order's " INT64_FORMAT " points would take the member's %s past"
						" the largest number of points, " INT64_FORMAT " (available "
						INT64_FORMAT ", pending " INT64_FORMAT ", lifetime earned "
						INT64_FORMAT ")",
						points, what, PG_INT64_MAX, available, pending, lifetime_earned);
	return false;
}

/* Whether the tables keep the birthday bonus state (0.3.0 on). */
static bool
HasBirthdayState(void)
{
	return LoyaltyHasColumn("account", "birthday_bonus_year");
}

/* Lock the member's account (and member row) and read it; false if unknown. */
static bool
LockMember(OrderSource *src, int64 customer_id, MemberState *m)
{
	static SPIPlanPtr plans[2][2][2];
	bool		tiers = LoyaltyTierPolicyFor(src->program_id)->enabled;
	bool		fraud = LoyaltyHasFraud();
	bool		bday = HasBirthdayState();
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		values[2];
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;

	/* A database before its 0.3.0 update has no tier, fraud or birthday columns. */
	if (plans[tiers][fraud][bday] == NULL)
		plans[tiers][fraud][bday] = LoyaltyPreparePlan(psprintf(
								  "SELECT m.status, m.birthday, a.available, a.pending,"
								  " a.lifetime_earned, a.last_entry_no, a.order_count,"
								  " %s AS birthday_bonus_year%s%s"
								  " FROM loyalty.account a"
								  " JOIN loyalty.member m"
								  "  ON m.customer_id OPERATOR(pg_catalog.=) a.customer_id"
								  "  AND m.program_id OPERATOR(pg_catalog.=) a.program_id"
								  " WHERE a.customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND a.program_id OPERATOR(pg_catalog.=) $2"
								  " FOR NO KEY UPDATE OF a FOR SHARE OF m",
								  bday ? "a.birthday_bonus_year" : "NULL::integer",
								  tiers ? ", a.tier, a.qualifying" : ", NULL::text, NULL::text",
								  fraud ? ", a.fraud_state, a.last_flag_no" : ""),
								  2, argtypes);
	values[0] = Int64GetDatum(customer_id);
	values[1] = Int32GetDatum(src->program_id);
	if (SPI_execute_plan(plans[tiers][fraud][bday], values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "member lock failed");
	if (SPI_processed == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		return false;
	}
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	m->status = SPI_getvalue(tuple, desc, 1);
	d = SPI_getbinval(tuple, desc, 2, &isnull);
	m->has_birthday = !isnull;
	m->birthday = isnull ? 0 : DatumGetDateADT(d);
	m->available = DatumGetInt64(SPI_getbinval(tuple, desc, 3, &isnull));
	m->pending = DatumGetInt64(SPI_getbinval(tuple, desc, 4, &isnull));
	m->lifetime_earned = DatumGetInt64(SPI_getbinval(tuple, desc, 5, &isnull));
	m->last_entry_no = DatumGetInt64(SPI_getbinval(tuple, desc, 6, &isnull));
	m->order_count = DatumGetInt64(SPI_getbinval(tuple, desc, 7, &isnull));
	d = SPI_getbinval(tuple, desc, 8, &isnull);
	m->has_bonus_year = !isnull;
	m->bonus_year = isnull ? 0 : DatumGetInt32(d);
	m->has_tiers = tiers;
	m->tier = NULL;
	m->qualifying = NULL;
	if (tiers)
	{
		m->tier = SPI_getvalue(tuple, desc, 9);
		d = SPI_getbinval(tuple, desc, 10, &isnull);
		if (!isnull)
		{
			m->qualifying = palloc(sizeof(LoyaltyWindow));
			memcpy(m->qualifying, DatumGetPointer(d), sizeof(LoyaltyWindow));
		}
	}
	m->has_fraud = fraud;
	m->last_flag_no = 0;
	if (fraud)
	{
		d = SPI_getbinval(tuple, desc, 11, &isnull);
		LoyaltyFraudStateRead(&m->fraud, d, isnull);
		m->last_flag_no = DatumGetInt64(SPI_getbinval(tuple, desc, 12, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	return true;
}

/* Enroll an unknown customer on their first order. */
static void
EnrollFromOrder(OrderSource *src, int64 customer_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		values[2];

	if (plan == NULL)
		plan = LoyaltyPreparePlan(
								  "WITH m AS (INSERT INTO loyalty.member (customer_id, program_id,"
								  "  referral_source) VALUES ($1, $2, 'first order')"
								  "  ON CONFLICT DO NOTHING RETURNING customer_id, program_id)"
								  " INSERT INTO loyalty.account (customer_id, program_id)"
								  " SELECT customer_id, program_id FROM m",
								  2, argtypes);
	values[0] = Int64GetDatum(customer_id);
	values[1] = Int32GetDatum(src->program_id);
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "enrolment from an order failed");
}

/* Read the order's recorded state, if any. */
static void
ReadOrderState(OrderSource *src, int64 customer_id, const char *order_key, OrderState *o)
{
	static SPIPlanPtr plans[2][2][2][2];
	bool		v2 = OrdersHaveLotNo();
	bool		fraud = LoyaltyHasFraud();	/* voided_at, held come with the fraud checks */
	bool		rated = OrdersHaveRate();
	bool		forgiving = HasForgivenState();
	SPIPlanPtr	plan;
	Oid			argtypes[4] = {INT8OID, INT4OID, INT4OID, TEXTOID};
	Datum		values[4];
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;

	if (plans[v2][fraud][rated][forgiving] == NULL)
		plans[v2][fraud][rated][forgiving] = LoyaltyPreparePlan(psprintf(
								  "SELECT state, amount, points, earned_points, first_purchase, %s,"
								  " net_amount, ordered_at, %s, %s, %s"
								  " FROM loyalty.order_accrual"
								  " WHERE customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND program_id OPERATOR(pg_catalog.=) $2"
								  "  AND source_id OPERATOR(pg_catalog.=) $3"
								  "  AND order_key OPERATOR(pg_catalog.=) $4",
								  v2 ? "lot_no" : "NULL::bigint",
								  fraud ? "voided_at IS NOT NULL, held" : "false, false",
								  rated ? "currency, rate" : "NULL::text, NULL::numeric",
								  forgiving ? "forgiven" : "0::bigint"),
								  4, argtypes);
	plan = plans[v2][fraud][rated][forgiving];
	OrderKeyParams(values, src, customer_id, order_key);
	if (SPI_execute_plan(plan, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "order state lookup failed");
	memset(o, 0, sizeof(*o));
	if (SPI_processed == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		return;
	}
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	o->exists = true;
	o->state = SPI_getvalue(tuple, desc, 1);
	o->amount = DatumGetNumericCopy(SPI_getbinval(tuple, desc, 2, &isnull));
	o->points = DatumGetInt64(SPI_getbinval(tuple, desc, 3, &isnull));
	o->earned_points = DatumGetInt64(SPI_getbinval(tuple, desc, 4, &isnull));
	o->first_purchase = DatumGetBool(SPI_getbinval(tuple, desc, 5, &isnull));
	o->lot_no = DatumGetInt64(SPI_getbinval(tuple, desc, 6, &isnull));
	o->has_lot = !isnull;
	o->net_amount = DatumGetNumericCopy(SPI_getbinval(tuple, desc, 7, &isnull));
	o->ordered_at = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 8, &isnull));
	o->voided = DatumGetBool(SPI_getbinval(tuple, desc, 9, &isnull));
	o->held = DatumGetBool(SPI_getbinval(tuple, desc, 10, &isnull));
	o->currency = SPI_getvalue(tuple, desc, 11);
	d = SPI_getbinval(tuple, desc, 12, &isnull);
	o->rate = isnull ? NULL : DatumGetNumericCopy(d);
	/* One without the other is no rate to price by. */
	if (o->currency == NULL || o->rate == NULL)
		o->currency = NULL, o->rate = NULL;
	o->forgiven = DatumGetInt64(SPI_getbinval(tuple, desc, 13, &isnull));
	SPI_freetuptable(SPI_tuptable);
}

/* Whether an order amount can earn: present, finite and not negative. */
static bool
ValidAmount(Numeric amount)
{
	if (amount == NULL || numeric_is_nan(amount))
		return false;
#if PG_VERSION_NUM >= 140000
	if (numeric_is_inf(amount))
		return false;
#endif
	return !NumIsNegative(amount);
}

/* Whether an order's currency (NULL: none given) is the program's. */
static bool
InProgramCurrency(OrderSource *src, const char *currency)
{
	return currency == NULL || pg_strcasecmp(currency, src->currency) == 0;
}

/*
 * An order's currency code as the rates know it: upper case, without
 * surrounding spaces (as convert_amount() reads it); the program's when
 * none is given.
 */
static char *
OrderCurrency(OrderSource *src, const char *currency)
{
	const char *end;
	char	   *code;

	if (currency == NULL)
		return pstrdup(src->currency);
	while (*currency == ' ')
		currency++;
	end = currency + strlen(currency);
	while (end > currency && end[-1] == ' ')
		end--;
	code = pnstrdup(currency, end - currency);
	for (char *c = code; *c; c++)
		*c = pg_toupper((unsigned char) *c);
	return code;
}

/*
 * The rate of an order's currency (an OrderCurrency code) at a time: units
 * of the program currency per unit of it, by convert_amount(), so exact; 1
 * in the program currency; NULL when no rate is known.
 */
static Numeric
ExchangeRate(OrderSource *src, const char *currency, TimestampTz at)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];
	bool		isnull;
	Datum		d;
	Numeric		result;

	if (strcmp(currency, src->currency) == 0)
		return NumFromInt64(1);
	if (plan == NULL)
		plan = LoyaltyPreparePlan("SELECT loyalty.convert_amount(1, $1, $2, $3)",
								  3, argtypes);
	values[0] = CStringGetTextDatum(currency);
	values[1] = CStringGetTextDatum(src->currency);
	values[2] = TimestampTzGetDatum(at);
	if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "currency conversion failed");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	result = isnull ? NULL : DatumGetNumericCopy(d);
	SPI_freetuptable(SPI_tuptable);
	return result;
}

/* An amount in an order's currency (an OrderCurrency code) at rate, in the program's. */
static Numeric
AtRate(OrderSource *src, Numeric amount, const char *currency, Numeric rate)
{
	return strcmp(currency, src->currency) == 0 ? amount : NumMul(amount, rate);
}

/* floor(points * part / whole) for 0 <= part <= whole, computed exactly. */
static int64
Proportion(int64 points, Numeric part, Numeric whole)
{
	Numeric		product;

	if (NumCmp(whole, NumFromInt64(0)) <= 0)
		return 0;
	product = NumMul(NumFromInt64(points), part);
	return DatumGetInt64(DirectFunctionCall1(numeric_int8,
											 NumericGetDatum(NumDivTrunc(product, whole))));
}

/* Whether a status value means refunded or cancelled. */
static bool
IsRefundStatus(OrderSource *src, const char *status)
{
	if (status == NULL)
		return false;
	for (int i = 0; i < src->nrefund_statuses; i++)
		if (pg_strcasecmp(status, src->refund_statuses[i]) == 0)
			return true;
	return false;
}

/* One change of an order, as WriteOrderChange writes it. */
typedef struct OrderChange
{
	int64		entry_no;		/* the account's last entry number afterwards */
	int64		available;
	int64		pending;
	int64		lifetime_earned;
	int64		order_count;
	int64		lot_points;		/* a new lot, or 0 */
	int64		lot_remaining;
	bool		lot_pending;
	bool		lot_held;		/* pending until a fraud review releases it */
	bool		held;			/* the order's points are held afterwards */
	TimestampTz lot_available_at;
	bool		lot_expires;	/* the new lot expires by date */
	TimestampTz lot_expires_at;
	int			ntakes;			/* points taken from existing lots */
	Datum	   *take_lots;
	Datum	   *take_points;
	const char *state;			/* the order afterwards */
	Numeric		amount;
	Numeric		net_amount;
	int64		points;
	int64		earned_points;
	bool		first_purchase;
	const char *channel;
	const char *category;
	TimestampTz ordered_at;
	const char *kind;			/* ledger entry kind, or NULL for none */
	int64		entry_points;
	int64		entry_pending;
	const char *reason;
	const char *detail;
	const LoyaltyTierState *tier;	/* the member's tier and qualifying totals */
	const FraudState *fraud;	/* the fraud state to write, or NULL */
	int64		last_flag_no;
	const char *currency;		/* the order's currency and rate, or NULL */
	Numeric		rate;
	int64		forgiven;		/* change of the order's forgiven points */
} OrderChange;

#define WRITE_NARGS 37

/* A text parameter, or a SQL NULL. */
static inline void
TextParam(Datum *values, char *nulls, int i, const char *s)
{
	values[i] = s ? CStringGetTextDatum(s) : (Datum) 0;
	nulls[i] = s ? ' ' : 'n';
}

/* Take clawed-back points from the lots ClawbackInto chose (only on a clawback). */
static void
TakeFromLots(int64 customer_id, int32 program_id, OrderChange *c)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[4] = {INT8OID, INT4OID, INT8ARRAYOID, INT8ARRAYOID};
	Datum		values[4];

	if (plan == NULL)
		plan = LoyaltyPreparePlan(
								  "UPDATE loyalty.lot l"
								  " SET remaining = l.remaining OPERATOR(pg_catalog.-) t.take"
								  " FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4)) AS t(lot_no, take)"
								  " WHERE l.customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND l.program_id OPERATOR(pg_catalog.=) $2"
								  "  AND l.lot_no OPERATOR(pg_catalog.=) t.lot_no",
								  4, argtypes);
	values[0] = Int64GetDatum(customer_id);
	values[1] = Int32GetDatum(program_id);
	values[2] = PointerGetDatum(construct_array(c->take_lots, c->ntakes, INT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[3] = PointerGetDatum(construct_array(c->take_points, c->ntakes, INT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "clawback from lots failed");
}

/*
 * Write one change of an order: the account, a new lot, the order's state
 * and, when points moved, a ledger entry in one statement; takes from
 * existing lots in a second one, only for a clawback.
 */
static void
WriteOrderChange(OrderSource *src, int64 customer_id, const char *order_key,
				 OrderChange *c, const char *db_role)
{
	static SPIPlanPtr plans[2][2][2][2];
	bool		v2 = OrdersHaveLotNo();
	bool		tiers = c->tier->enabled;
	bool		fraud = LoyaltyHasFraud();
	bool		rated = OrdersHaveRate();
	SPIPlanPtr	plan;
	static Oid	argtypes[WRITE_NARGS] = {
		INT8OID, INT4OID, INT4OID, TEXTOID, INT8OID,	/* $1-$5 member, order, entry */
		INT8OID, INT8OID, INT8OID, INT8OID,		/* $6-$9 account totals */
		INT8OID, INT8OID, BOOLOID, TIMESTAMPTZOID,	/* $10-$13 new lot */
		TEXTOID, NUMERICOID, NUMERICOID, INT8OID, INT8OID, BOOLOID,	/* $14-$19 order */
		TEXTOID, TEXTOID, TIMESTAMPTZOID,	/* $20-$22 order context */
		TEXTOID, INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,	/* $23-$29 entry */
		TIMESTAMPTZOID,			/* $30 when the new lot expires */
		TEXTOID, TEXTOID,		/* $31-$32 qualifying window, new tier */
		BYTEAOID, INT8OID, BOOLOID,	/* $33-$35 fraud state, last flag, order held */
		TEXTOID, NUMERICOID		/* $36-$37 the order's currency and rate */
	};
	Datum		values[WRITE_NARGS];
	char		nulls[WRITE_NARGS];

	if (plans[v2][tiers][fraud][rated] == NULL)
		plans[v2][tiers][fraud][rated] = LoyaltyPreparePlan(psprintf(
								  "WITH acct AS ("
								  " UPDATE loyalty.account SET available = $6, pending = $7,"
								  "  lifetime_earned = $8, order_count = $9, last_entry_no = $5,"
								  "  last_activity_at = pg_catalog.now(), updated_at = pg_catalog.now()%s%s"
								  " WHERE customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND program_id OPERATOR(pg_catalog.=) $2),"
								  " new_lot AS ("
								  " INSERT INTO loyalty.lot (customer_id, program_id, lot_no, points,"
								  "  remaining, pending, earned_at, available_at, expires_at, source_id,"
								  "  order_key)"
								  " SELECT $1, $2, $5, $10, $11, $12, pg_catalog.now(), $13, $30, $3, $4"
								  " WHERE $10 OPERATOR(pg_catalog.>) 0),"
								  " ord AS ("
								  " INSERT INTO loyalty.order_accrual AS o (customer_id, program_id,"
								  "  source_id, order_key, state, amount, net_amount, points,"
								  "  earned_points, first_purchase, channel, category, ordered_at%s%s%s)"
								  " VALUES ($1, $2, $3, $4, $14, $15, $16, $17, $18, $19, $20, $21, $22%s%s%s)"
								  " ON CONFLICT (customer_id, program_id, source_id, order_key)"
								  " DO UPDATE SET state = EXCLUDED.state, amount = EXCLUDED.amount,"
								  "  net_amount = EXCLUDED.net_amount, points = EXCLUDED.points,"
								  "  earned_points = EXCLUDED.earned_points,"
								  "  first_purchase = EXCLUDED.first_purchase,"
								  "  channel = EXCLUDED.channel, category = EXCLUDED.category,"
								  "  ordered_at = EXCLUDED.ordered_at, updated_at = pg_catalog.now()%s%s%s)"
								  " INSERT INTO loyalty.ledger (customer_id, program_id, entry_no, kind,"
								  "  points, pending_points, available_after, pending_after, reason,"
								  "  reference, actor, db_role, detail, expires_at)"
								  " SELECT $1, $2, $5, $23, $24, $25, $6, $7, $26, $4,"
								  "  $27, $28, $29::pg_catalog.jsonb,"
								  "  CASE WHEN $10 OPERATOR(pg_catalog.>) 0 THEN $30 END"
								  " WHERE $23 IS NOT NULL",
								  tiers ? TIER_SET_CLAUSE("$31", "$32") : "",
								  fraud ? ", fraud_state = COALESCE($33, fraud_state),"
								  " last_flag_no = COALESCE($34, last_flag_no)" : "",
								  v2 ? ", lot_no" : "", fraud ? ", held" : "",
								  rated ? ", currency, rate" : "",
								  v2 ? ", CASE WHEN $10 OPERATOR(pg_catalog.>) 0 THEN $5 END" : "",
								  fraud ? ", $35" : "", rated ? ", $36, $37" : "",
								  /*
								   * A raise's lot carries the order key; the first lot
								   * may not (one statement's lot), so the order keeps
								   * it, and a refund finds both.  An order inserted
								   * again after its delete starts from its new lot.
								   */
								  v2 ? ", lot_no = CASE WHEN o.state OPERATOR(pg_catalog.=) 'deleted'"
								  " THEN COALESCE(EXCLUDED.lot_no, o.lot_no)"
								  " ELSE COALESCE(o.lot_no, EXCLUDED.lot_no) END" : "",
								  fraud ? ", held = EXCLUDED.held" : "",
								  rated ? ", currency = EXCLUDED.currency, rate = EXCLUDED.rate" : ""),
								  WRITE_NARGS, argtypes);
	plan = plans[v2][tiers][fraud][rated];

	memset(nulls, ' ', sizeof(nulls));
	OrderKeyParams(values, src, customer_id, order_key);
	values[4] = Int64GetDatum(c->entry_no);
	values[5] = Int64GetDatum(c->available);
	values[6] = Int64GetDatum(c->pending);
	values[7] = Int64GetDatum(c->lifetime_earned);
	values[8] = Int64GetDatum(c->order_count);
	values[9] = Int64GetDatum(c->lot_points);
	values[10] = Int64GetDatum(c->lot_remaining);
	values[11] = BoolGetDatum(c->lot_pending);
	values[12] = TimestampTzGetDatum(c->lot_available_at);
	nulls[12] = c->lot_pending && !c->lot_held ? ' ' : 'n';
	TextParam(values, nulls, 13, c->state);
	values[14] = NumericGetDatum(c->amount);
	values[15] = NumericGetDatum(c->net_amount);
	values[16] = Int64GetDatum(c->points);
	values[17] = Int64GetDatum(c->earned_points);
	values[18] = BoolGetDatum(c->first_purchase);
	TextParam(values, nulls, 19, c->channel);
	TextParam(values, nulls, 20, c->category);
	values[21] = TimestampTzGetDatum(c->ordered_at);
	TextParam(values, nulls, 22, c->kind);
	values[23] = Int64GetDatum(c->entry_points);
	values[24] = Int64GetDatum(c->entry_pending);
	TextParam(values, nulls, 25, c->reason);
	TextParam(values, nulls, 26, src->table_name);
	TextParam(values, nulls, 27, db_role);
	TextParam(values, nulls, 28, c->detail);
	values[29] = TimestampTzGetDatum(c->lot_expires_at);
	nulls[29] = c->lot_points > 0 && c->lot_expires ? ' ' : 'n';
	LoyaltyTierParams(c->tier, values, nulls, 30);
	values[32] = c->fraud ? LoyaltyFraudStateDatum(c->fraud) : (Datum) 0;
	nulls[32] = c->fraud ? ' ' : 'n';
	values[33] = Int64GetDatum(c->last_flag_no);
	nulls[33] = c->fraud ? ' ' : 'n';
	values[34] = BoolGetDatum(c->held);
	TextParam(values, nulls, 35, c->rate ? c->currency : NULL);
	values[36] = c->rate ? NumericGetDatum(c->rate) : (Datum) 0;
	nulls[36] = c->rate ? ' ' : 'n';

	if (SPI_execute_plan(plan, values, nulls, false, 0) < 0)
		elog(ERROR, "order write failed");
	if (c->ntakes > 0)
		TakeFromLots(customer_id, src->program_id, c);
}

/* Add newly earned points to the change: a lot, pending during the return window. */
static void
EarnInto(OrderSource *src, MemberState *m, OrderChange *c, int64 points)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz available_at;

	LoyaltyCheckNewTotal(m->available, m->pending, points);
	/* The return window counts 24-hour days from the order time. */
	available_at = c->ordered_at + (TimestampTz) src->return_days * USECS_PER_DAY;
	c->kind = "earn";
	c->lot_points = points;
	/* For a held lot: when it would have become available (0: at once). */
	c->lot_available_at = src->return_days > 0 && available_at > now ? available_at : 0;
	/* Points waiting for the return window start their expiry clock at its end. */
	c->lot_expires = LoyaltyLotExpiry(src->program_id,
									  c->lot_available_at != 0 ? c->lot_available_at : now,
									  &c->lot_expires_at);
	c->lifetime_earned = LoyaltyAddPoints(m->lifetime_earned, points, "lifetime earned points");
	if (c->lot_held || c->lot_available_at != 0)
	{
		c->lot_pending = true;
		c->lot_remaining = points;
		c->pending = m->pending + points;
		c->available = m->available;
		c->entry_pending = points;
	}
	else
	{
		c->lot_remaining = LoyaltySpendableOfEarned(m->available, points);
		c->available = m->available + points;
		c->pending = m->pending;
		c->entry_points = points;
	}
}

/*
 * An amount increase of an order whose points a fraud check still holds:
 * the extra points join the held lot, so review() decides on all of them.
 * False (nothing changed) when the order's lot is not held.
 */
static bool
HeldLotGrows(OrderSource *src, int64 customer_id, MemberState *m, OrderChange *c,
			 int64 lot_no, int64 points)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[4] = {INT8OID, INT4OID, INT8OID, INT8OID};
	Datum		values[4];

	if (!LoyaltyHasFraud())
		return false;
	LoyaltyCheckNewTotal(m->available, m->pending, points);
	if (plan == NULL)
		plan = LoyaltyPreparePlan(
								  "UPDATE loyalty.lot l SET points = l.points OPERATOR(pg_catalog.+) $4,"
								  "  remaining = l.remaining OPERATOR(pg_catalog.+) $4"
								  " WHERE l.customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND l.program_id OPERATOR(pg_catalog.=) $2"
								  "  AND l.lot_no OPERATOR(pg_catalog.=) $3"
								  "  AND l.pending AND l.available_at IS NULL",
								  4, argtypes);
	values[0] = Int64GetDatum(customer_id);
	values[1] = Int32GetDatum(src->program_id);
	values[2] = Int64GetDatum(lot_no);
	values[3] = Int64GetDatum(points);
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "held lot update failed");
	if (SPI_processed == 0)
		return false;
	c->kind = "earn";
	c->lifetime_earned = LoyaltyAddPoints(m->lifetime_earned, points, "lifetime earned points");
	c->pending = m->pending + points;
	c->available = m->available;
	c->entry_pending = points;
	return true;
}

/*
 * Take points back for the order: first from its own lots (pending first),
 * then from the member's spendable lots, oldest-expiring first; what is
 * still missing follows the program's negative-balance policy.
 */
static void
ClawbackInto(OrderSource *src, int64 customer_id, const char *order_key, int64 own_lot,
			 MemberState *m, OrderChange *c, int64 points, StringInfo detail)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[5] = {INT8OID, INT4OID, INT4OID, TEXTOID, INT8OID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int64		need = points;
	int64		from_pending = 0;
	int64		from_available = 0;

	if (plan == NULL)
		plan = LoyaltyPreparePlan(
								  "SELECT lot_no, remaining, pending FROM loyalty.lot"
								  " WHERE customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND program_id OPERATOR(pg_catalog.=) $2"
								  "  AND remaining OPERATOR(pg_catalog.>) 0"
								  "  AND (COALESCE(source_id OPERATOR(pg_catalog.=) $3"
								  "       AND order_key OPERATOR(pg_catalog.=) $4"
								  "       OR lot_no OPERATOR(pg_catalog.=) $5, false)"
								  "       OR NOT pending)"
								  " ORDER BY COALESCE(source_id OPERATOR(pg_catalog.=) $3"
								  "       AND order_key OPERATOR(pg_catalog.=) $4"
								  "       OR lot_no OPERATOR(pg_catalog.=) $5, false) DESC,"
								  "  pending DESC, expires_at NULLS LAST, lot_no",
								  5, argtypes);
	OrderKeyParams(values, src, customer_id, order_key);
	/* The order's lot may hold other orders' points too (one statement's lot). */
	values[4] = Int64GetDatum(own_lot);
	nulls[4] = own_lot > 0 ? ' ' : 'n';
	if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "lot lookup failed");

	c->take_lots = palloc(sizeof(Datum) * Max(SPI_processed, 1));
	c->take_points = palloc(sizeof(Datum) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed && need > 0; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		remaining = DatumGetInt64(SPI_getbinval(tuple, desc, 2, &isnull));
		int64		take = Min(remaining, need);

		c->take_lots[c->ntakes] = SPI_getbinval(tuple, desc, 1, &isnull);
		c->take_points[c->ntakes++] = Int64GetDatum(take);
		if (DatumGetBool(SPI_getbinval(tuple, desc, 3, &isnull)))
			from_pending += take;
		else
			from_available += take;
		need -= take;
	}
	SPI_freetuptable(SPI_tuptable);

	c->kind = "reverse";
	c->pending = m->pending - from_pending;
	c->available = m->available - from_available;
	c->entry_pending = -from_pending;
	c->entry_points = -from_available;
	appendStringInfo(detail, "{\"clawback\":%lld,\"from_pending\":%lld,\"from_available\":%lld",
					 (long long) points, (long long) from_pending, (long long) from_available);
	if (need > 0)
	{
		switch (src->negative_policy)
		{
			case 'b':
				ereport(ERROR,
						(errcode(ERRCODE_LOYALTY_CLAWBACK_BLOCKED),
						 errmsg("refund of order \"%s\" would take member %lld below zero points",
								order_key, (long long) customer_id),
						 errdetail("The order's points to take back: %lld; the member has only %lld left.",
								   (long long) points, (long long) (points - need)),
						 errhint("The program's negative_balance policy is block; change it with loyalty.alter_program(negative_balance => 'debt' or 'forgive') to allow the refund.")));
				break;
			case 'f':
				appendStringInfo(detail, ",\"forgiven\":%lld", (long long) need);
				c->forgiven = need;
				break;
			default:
				c->available -= need;
				c->entry_points -= need;
				appendStringInfo(detail, ",\"debt\":%lld", (long long) need);
				break;
		}
	}
	appendStringInfoChar(detail, '}');
}

/*
 * The points an order of net amount earns for a member who holds tier
 * (before the order counts toward it) under the rules; birthday_bonus says
 * whether it may get the birthday bonus and whether it did; components, when not
 * NULL, receives them by rule.  -1 when they would not fit in a balance: the
 * caller records the order as a problem rather than fail the shop's write.
 */
static int64
EarnForOrder(OrderSource *src, bool has_birthday, DateADT birthday, const char *tier,
			 OrderFacts *now, Numeric net, bool first_purchase, EarnBirthday *birthday_bonus,
			 StringInfo detail, EarnComponents *components)
{
	EarnContext ctx;
	bool		overflowed;
	int64		points;

	ctx.program_id = src->program_id;
	ctx.amount = net;
	ctx.channel = now->channel;
	ctx.category = now->category;
	ctx.ordered_at = now->ordered_at;
	ctx.tier = tier;
	ctx.has_birthday = has_birthday;
	ctx.birthday = birthday;
	ctx.first_purchase = first_purchase;
	ctx.birthday_bonus = birthday_bonus;
	ctx.components = components;
	ctx.overflowed = &overflowed;
	points = LoyaltyComputeEarn(&ctx, detail);
	return overflowed ? -1 : points;
}

/*
 * How a change of a recorded order prices the birthday bonus: 'a' when the
 * order earned it, 'n' when it did not (whatever the member's birthday is
 * now); 'm' (by the birthday month) before the 0.3.0 update.  A program
 * without a birthday rule prices none either way: no lookup then.
 */
static char
OrderBirthdayRule(OrderSource *src, int64 customer_id, const char *order_key)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[4] = {INT8OID, INT4OID, INT4OID, TEXTOID};
	Datum		values[4];
	bool		had = false;

	if (!LoyaltyHasBirthdayBonus(src->program_id))
		return 'n';
	if (!HasBirthdayState())
		return 'm';
	if (plan == NULL)
		plan = LoyaltyPreparePlan(
								  "SELECT birthday_bonus FROM loyalty.order_accrual"
								  " WHERE customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND program_id OPERATOR(pg_catalog.=) $2"
								  "  AND source_id OPERATOR(pg_catalog.=) $3"
								  "  AND order_key OPERATOR(pg_catalog.=) $4",
								  4, argtypes);
	OrderKeyParams(values, src, customer_id, order_key);
	if (SPI_execute_plan(plan, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "order birthday bonus lookup failed");
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		had = !isnull && DatumGetBool(d);
	}
	SPI_freetuptable(SPI_tuptable);
	return had ? 'a' : 'n';
}

/*
 * Record whether a newly recorded order earned the birthday bonus: the
 * order is marked, and the account keeps the year (so no later order of
 * that year or before gets it again).
 */
static void
RecordBirthdayBonus(OrderSource *src, int64 customer_id, const char *order_key,
					bool earned, int32 year)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[6] = {INT8OID, INT4OID, INT4OID, TEXTOID, BOOLOID, INT4OID};
	Datum		values[6];

	if (!HasBirthdayState())
		return;
	if (plan == NULL)
		plan = LoyaltyPreparePlan(
								  "WITH acct AS ("
								  " UPDATE loyalty.account SET birthday_bonus_year = $6"
								  " WHERE customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND program_id OPERATOR(pg_catalog.=) $2 AND $5)"
								  " UPDATE loyalty.order_accrual SET birthday_bonus = $5"
								  " WHERE customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND program_id OPERATOR(pg_catalog.=) $2"
								  "  AND source_id OPERATOR(pg_catalog.=) $3"
								  "  AND order_key OPERATOR(pg_catalog.=) $4"
								  "  AND birthday_bonus OPERATOR(pg_catalog.<>) $5",
								  6, argtypes);
	OrderKeyParams(values, src, customer_id, order_key);
	values[4] = BoolGetDatum(earned);
	values[5] = Int32GetDatum(year);
	if (SPI_execute_plan(plan, values, NULL, false, 0) < 0)
		elog(ERROR, "birthday bonus update failed");
}

/* Add change (negative: cancelled by an earning) to the order's forgiven points. */
static void
AddOrderForgiven(OrderSource *src, int64 customer_id, const char *order_key, int64 change)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[5] = {INT8OID, INT4OID, INT4OID, TEXTOID, INT8OID};
	Datum		values[5];

	if (!HasForgivenState())
		return;
	if (plan == NULL)
		plan = LoyaltyPreparePlan(
								  "UPDATE loyalty.order_accrual"
								  " SET forgiven = forgiven OPERATOR(pg_catalog.+) $5"
								  " WHERE customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND program_id OPERATOR(pg_catalog.=) $2"
								  "  AND source_id OPERATOR(pg_catalog.=) $3"
								  "  AND order_key OPERATOR(pg_catalog.=) $4",
								  5, argtypes);
	OrderKeyParams(values, src, customer_id, order_key);
	values[4] = Int64GetDatum(change);
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "order forgiven points update failed");
}

/*
 * Whether a fraud review voided the order a row was before its key or
 * customer changed (old: the row's old half); *at gets when.  Read as the
 * statement's rows are read, before their changes are written, so the void
 * that a moved row carries to its new key is never taken for the void of
 * that key's own old order.
 */
static bool
OrderWasVoided(OrderSource *src, OrderFacts *old, TimestampTz *at)
{
	static SPIPlanPtr plan = NULL;
	/* SPI leaves its own context current: the caller's stays ours. */
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[4] = {INT8OID, INT4OID, INT4OID, TEXTOID};
	Datum		values[4];
	bool		voided = false;

	if (!old->has_customer || old->order_key == NULL || !LoyaltyHasFraud())
		return false;
	if (plan == NULL)
		plan = LoyaltyPreparePlan(
								  "SELECT voided_at FROM loyalty.order_accrual"
								  " WHERE customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND program_id OPERATOR(pg_catalog.=) $2"
								  "  AND source_id OPERATOR(pg_catalog.=) $3"
								  "  AND order_key OPERATOR(pg_catalog.=) $4"
								  "  AND voided_at IS NOT NULL",
								  4, argtypes);
	OrderKeyParams(values, src, old->customer_id, old->order_key);
	if (SPI_execute_plan(plan, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "order void lookup failed");
	if (SPI_processed > 0)
	{
		bool		isnull;

		*at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												1, &isnull));
		voided = true;
	}
	SPI_freetuptable(SPI_tuptable);
	MemoryContextSwitchTo(cxt);
	return voided;
}

/* Mark the order voided at at: the void of a moved row's old order, carried. */
static void
CarryVoid(OrderSource *src, int64 customer_id, const char *order_key, TimestampTz at)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[5] = {INT8OID, INT4OID, INT4OID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[5];

	if (plan == NULL)
		plan = LoyaltyPreparePlan(
								  "UPDATE loyalty.order_accrual SET voided_at = $5"
								  " WHERE customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND program_id OPERATOR(pg_catalog.=) $2"
								  "  AND source_id OPERATOR(pg_catalog.=) $3"
								  "  AND order_key OPERATOR(pg_catalog.=) $4"
								  "  AND voided_at IS NULL",
								  5, argtypes);
	OrderKeyParams(values, src, customer_id, order_key);
	values[4] = TimestampTzGetDatum(at);
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "order void update failed");
}

/*
 * The points a raise of an order's amount from amount to net earns: what
 * the rules give net less what they give amount, both priced now (the
 * member's tier, the campaigns of the order's time), so the raise alone is
 * priced and the bonuses the order already had are not paid twice.  Both
 * have the birthday bonus when the order earned it, and neither when it did
 * not (birthday_rule), so a raise neither pays nor takes one.  The
 * detail lists the difference by rule, and the points of earlier partial
 * refunds (restored) that the order gets back.
 */
static int64
RaisedAmountEarns(OrderSource *src, MemberState *m, OrderFacts *now, Numeric amount,
				  Numeric net, bool first_purchase, char birthday_rule, int64 restored,
				  StringInfo detail)
{
	EarnComponents before;
	EarnComponents after;
	EarnBirthday birthday = {birthday_rule, false, 0, false, 0};
	int64		extra;
	int64		listed = 0;
	int			n = 0;
	int64		was;
	int64		will;

	was = EarnForOrder(src, m->has_birthday, m->birthday, m->tier, now, amount,
					   first_purchase, &birthday, NULL, &before);
	/* The rule names live in the rules cache, which the next call may reload. */
	for (int k = 0; k < before.n; k++)
		before.rule[k] = pstrdup(before.rule[k]);
	will = EarnForOrder(src, m->has_birthday, m->birthday, m->tier, now, net,
						first_purchase, &birthday, NULL, &after);
	if (will < 0)
		return -1;				/* the new amount earns more than a balance holds */
	extra = Max(will - Max(was, 0), 0);

	appendStringInfoChar(detail, '[');
	for (int i = 0; i < after.n && extra > 0; i++)
	{
		int64		diff = after.points[i];

		for (int k = 0; k < before.n; k++)
			if (strcmp(before.rule[k], after.rule[i]) == 0)
				diff -= before.points[k];
		if (diff == 0)
			continue;
		appendStringInfoString(detail, n++ > 0 ? ",{\"rule\":" : "{\"rule\":");
		escape_json(detail, after.rule[i]);
		appendStringInfo(detail, ",\"points\":" INT64_FORMAT "}", diff);
		listed += diff;
	}
	/* What no rule of the new price names (a cap that stops biting...). */
	if (listed != extra)
		appendStringInfo(detail, "%s{\"rule\":\"amount change\",\"points\":" INT64_FORMAT "}",
						 n++ > 0 ? "," : "", extra - listed);
	if (restored > 0)
		appendStringInfo(detail, "%s{\"rule\":\"refund undone\",\"points\":" INT64_FORMAT "}",
						 n++ > 0 ? "," : "", restored);
	appendStringInfoChar(detail, ']');
	return extra;
}

/* Whether two amounts are equal, NULL equal to NULL only. */
static inline bool
SameAmount(Numeric a, Numeric b)
{
	return a == NULL ? b == NULL : b != NULL && NumCmp(a, b) == 0;
}

/* Whether two versions of an order row agree on every column the engine reads. */
static bool
SameTrackedFacts(OrderFacts *a, OrderFacts *b)
{
	return SameAmount(a->amount, b->amount) && SameAmount(a->refunded, b->refunded) &&
		LoyaltySameText(a->currency, b->currency) && LoyaltySameText(a->status, b->status) &&
		LoyaltySameText(a->channel, b->channel) && LoyaltySameText(a->category, b->category) &&
		a->ordered_at == b->ordered_at;
}

/*
 * Move one order to the points it should hold now.  now is NULL when the
 * order row is gone (DELETE, or its key or customer changed); was is the
 * row before an UPDATE that kept its member and key, else NULL.
 */
static void
ProcessOrder(OrderSource *src, int64 customer_id, const char *order_key,
			 OrderFacts *was, OrderFacts *now, bool is_insert, const char *db_role)
{
	MemberState m;
	OrderState o;
	OrderChange c;
	LoyaltyTierState ts;
	StringInfoData detail;
	Numeric		amount = NULL;
	Numeric		net = NULL;
	bool		refunded;
	bool		live;			/* the order is on record and not deleted */
	bool		fresh = false;	/* the order earns as a new one */
	bool		pays = false;	/* and is a purchase: it has something to pay */
	bool		voided;			/* a fraud review voided it (or the row's old order) */
	OrderFacts	priced;
	int64		target;
	int64		unforgiven = 0; /* points forgiven before that its earning cancels */
	int64		qualifying = 0; /* change of the order's qualifying amount */
	const char *state;
	const FraudRules *rules;
	FraudHit	hits[FRAUD_MAX_HITS];
	int			nhits = 0;
	EarnBirthday birthday = {'m', false, 0, false, 0};
	char	   *why;
	bool		rerated = false;	/* the shop changed the order's currency */

	if (!LockMember(src, customer_id, &m))
	{
		if (now == NULL)
			return;				/* an order that never earned */
		if (!src->enroll_unknown)
		{
			RecordProblem(src, customer_id, order_key, "unknown_customer",
						  "the program ignores orders from customers who are not members");
			return;
		}
		EnrollFromOrder(src, customer_id);
		if (!LockMember(src, customer_id, &m))
			elog(ERROR, "member %lld vanished after enrolment", (long long) customer_id);
	}
	/* Points due to expire go first: a new order must not revive them. */
	if (LoyaltyExpireDue(src->program_id, customer_id, src->table_name) &&
		!LockMember(src, customer_id, &m))
		elog(ERROR, "member %lld vanished during expiry", (long long) customer_id);
	ReadOrderState(src, customer_id, order_key, &o);
	live = o.exists && strcmp(o.state, "deleted") != 0;
	voided = o.voided || (now != NULL && now->voided);

	/* An INSERT of an order already on record is a re-send: it earns nothing. */
	if (is_insert && live)
		return;

	/*
	 * An UPDATE of a recorded order that left every tracked column as it was
	 * (a shipping note, say) changes nothing: repricing it would pay or take
	 * points for rules, tiers or exchange rates changed since its last change.
	 */
	if (live && was != NULL && now != NULL && SameTrackedFacts(was, now))
		return;

	initStringInfo(&detail);
	memset(&c, 0, sizeof(c));
	c.entry_no = m.last_entry_no;
	c.available = m.available;
	c.pending = m.pending;
	c.lifetime_earned = m.lifetime_earned;
	c.order_count = m.order_count;

	if (now == NULL)
	{
		if (!live)
			return;
		target = 0;
		state = "deleted";
		c.reason = "order deleted";
		amount = o.amount;
		net = NumFromInt64(0);
		c.first_purchase = o.first_purchase;
		c.ordered_at = GetCurrentTransactionStartTimestamp();
		c.currency = o.currency;
		c.rate = o.rate;
	}
	else
	{
		if (!ValidAmount(now->amount))
		{
			RecordProblem(src, customer_id, order_key, "invalid_amount",
						  now->amount ? "the amount is negative or not a finite number"
						  : "the amount is missing");
			return;
		}
		/*
		 * A recorded order is priced in its own currency at the rate it was
		 * first converted at, so a rate set later for its time changes none
		 * of its points: its refunds keep their share of them, and a raise
		 * is converted at the same rate.  A new order, or one the shop moved
		 * to another currency, is converted at the rate of its order time,
		 * and is priced at that from then on.  An order recorded before
		 * 0.3.0 (no rate) is converted again each time, as it was then.
		 */
		c.currency = OrderCurrency(src, now->currency);
		if (live && o.rate != NULL && strcmp(c.currency, o.currency) == 0)
			c.rate = o.rate;
		else
		{
			rerated = live && o.rate != NULL;
			c.rate = ExchangeRate(src, c.currency, rerated ? o.ordered_at : now->ordered_at);
			if (c.rate == NULL)
			{
				RecordProblem(src, customer_id, order_key, "currency_without_rate",
							  psprintf("no exchange rate from %s to %s at the order time",
									   now->currency, src->currency));
				return;
			}
		}
		amount = AtRate(src, now->amount, c.currency, c.rate);
		if (now->refunded != NULL && !ValidAmount(now->refunded))
		{
			RecordProblem(src, customer_id, order_key, "invalid_amount",
						  "the refunded amount is negative or not a finite number");
			return;
		}
		net = amount;
		if (now->refunded != NULL)
		{
			net = DatumGetNumeric(DirectFunctionCall2(numeric_sub, NumericGetDatum(amount),
													  NumericGetDatum(AtRate(src, now->refunded,
																			 c.currency, c.rate))));
			if (NumCmp(net, NumFromInt64(0)) < 0)
				net = NumFromInt64(0);
		}
		/* Before 0.3.0 the order kept no rate, and keeps none. */
		if (live && o.rate == NULL)
			c.currency = NULL, c.rate = NULL;
		refunded = IsRefundStatus(src, now->status);
		if (refunded)
			net = NumFromInt64(0);
		state = refunded ? "reversed" : "active";
		c.channel = now->channel;
		c.category = now->category;
		/* An order keeps the time it was first recorded with. */
		c.ordered_at = live ? o.ordered_at : now->ordered_at;

		/*
		 * A new order (or one inserted again after its delete) earns afresh,
		 * and so does one on record that never paid (recorded with nothing
		 * to pay: an empty cart, an order inserted cancelled) when it now
		 * pays: totalled or reinstated, it is a purchase only now.  It keeps
		 * its record and the time it was recorded with, and is priced at it.
		 */
		fresh = !live ||
			(NumCmp(o.amount, NumFromInt64(0)) == 0 && o.earned_points == 0 && !voided &&
			 NumCmp(net, NumFromInt64(0)) > 0);
		if (fresh && live)
		{
			priced = *now;
			priced.ordered_at = o.ordered_at;
			now = &priced;
		}
		if (fresh)
		{
			/*
			 * One with nothing to pay (a zero amount, or cancelled or
			 * refunded already) earns nothing, not even a fixed bonus, and
			 * is no first purchase; nor is a voided one.
			 */
			pays = NumCmp(net, NumFromInt64(0)) > 0 && !voided;
			c.first_purchase = pays && m.order_count == 0;
			target = pays ? EarnForOrder(src, m.has_birthday, m.birthday, m.tier, now, net,
										 c.first_purchase, &birthday, &detail, NULL) : 0;
			/* At most once a year: priced again without a year's bonus paid. */
			if (birthday.added && m.has_bonus_year)
			{
				birthday.paid = true;
				birthday.paid_year = m.bonus_year;
				if (birthday.paid_year >= birthday.year)
				{
					resetStringInfo(&detail);
					target = EarnForOrder(src, m.has_birthday, m.birthday, m.tier, now, net,
										  c.first_purchase, &birthday, &detail, NULL);
				}
			}
			c.earned_points = target;
			c.order_count = pays ? LoyaltyAddPoints(m.order_count, 1, "the order count")
				: m.order_count;
			amount = net;
			c.reason = "purchase";
		}
		else
		{
			/* A known order changed: reprice it against what it first earned. */
			c.first_purchase = o.first_purchase;
			c.earned_points = o.earned_points;
			if (NumCmp(net, o.amount) <= 0)
				target = Proportion(o.earned_points, net, o.amount);
			else
			{
				int64		extra = RaisedAmountEarns(src, &m, now, o.amount, net,
													  o.first_purchase,
													  OrderBirthdayRule(src, customer_id, order_key),
													  o.earned_points - o.points, &detail);

				if (extra < 0 || pg_add_s64_overflow(o.earned_points, extra, &target))
					target = -1;
			}
			amount = o.amount;
			if (refunded)
				c.reason = psprintf("order %s", now->status);
			else if (rerated)
				c.reason = "order currency changed";
			else
				c.reason = "order amount changed";
		}
		/* The order's own points pass what any balance holds. */
		if (target < 0)
		{
			RecordProblem(src, customer_id, order_key, "points_overflow",
						  psprintf("the amount %s %s earns more than the largest number of"
								   " points, " INT64_FORMAT,
								   LoyaltyAmountText(net), src->currency, PG_INT64_MAX));
			return;
		}
	}

	/*
	 * A fraud review voided the order's points: no correction, re-send or
	 * re-insert earns on it again, nor a move to another key or member; a
	 * refund still takes what it holds.
	 */
	if (voided)
		target = Min(target, live ? o.points : 0);

	/*
	 * Points a refund or delete of the order forgave (the member had spent
	 * them) were never taken back: its next earning (the refund undone, a
	 * raise, the order inserted again) cancels them first.
	 */
	if (o.exists && target > (live ? o.points : 0))
		unforgiven = Min(target - (live ? o.points : 0), o.forgiven);

	c.state = state;
	c.amount = amount;
	c.net_amount = net;
	c.points = target;
	if (target > (live ? o.points : 0) && strcmp(m.status, "active") != 0)
	{
		RecordProblem(src, customer_id, order_key, "member_not_active",
					  psprintf("the member is %s", m.status));
		return;
	}
	/* Points no balance can hold are the order's problem, not the shop's error. */
	if (target > (live ? o.points : 0) &&
		!EarnFits(m.available, m.pending, m.lifetime_earned, target - (live ? o.points : 0),
				  &why))
	{
		RecordProblem(src, customer_id, order_key, "points_overflow", why);
		return;
	}

	/*
	 * The fraud checks: of a new order, and of a refund or delete.  An order
	 * is never refused: a hit whose action is hold (or reject) holds its
	 * points until review.  One with nothing to pay is checked (and counted)
	 * once an update makes it pay.
	 */
	rules = m.has_fraud ? LoyaltyFraudRulesFor(src->program_id) : NULL;
	if (rules != NULL && pays)
		nhits = LoyaltyFraudOnOrder(rules, &m.fraud, now->ordered_at, net, target, hits);
	else if (rules != NULL && live)
	{
		bool		counts = strcmp(o.state, "active") == 0 && strcmp(state, "active") != 0;

		if (counts || target < o.points)
			nhits = LoyaltyFraudOnRefund(rules, &m.fraud, o.ordered_at, counts,
										 GetCurrentTransactionStartTimestamp(), hits);
	}
	if (rules != NULL)
	{
		c.fraud = &m.fraud;
		c.last_flag_no = LoyaltyAddPoints(m.last_flag_no, nhits, "the flag number");
		c.lot_held = fresh && target > unforgiven && LoyaltyFraudHolds(hits, nhits);
	}

	/* A hold lasts until review() releases or voids it. */
	c.held = live && !fresh ? o.held : c.lot_held;

	/*
	 * What the order counts toward a tier now, less what it counted: at the
	 * month of its original order time.  Held or voided, it counts nothing;
	 * review() counts a released one.
	 */
	LoyaltyTierInit(&ts, src->program_id, m.has_tiers, m.tier, m.qualifying);
	if (ts.enabled && !voided)
	{
		int64		counts = 0;
		int64		counted = 0;

		/*
		 * An amount no qualifying total can count (spend beyond a bigint in
		 * minor units), held or not, is the order's problem, as points no
		 * balance holds are: recorded, and nothing credited.
		 */
		if (!LoyaltyOrderQualifyingFits(src->program_id, target, net, &counts, &why) ||
			(live && !o.held &&
			 !LoyaltyOrderQualifyingFits(src->program_id, o.points, o.net_amount, &counted, &why)))
		{
			RecordProblem(src, customer_id, order_key, "qualifying_overflow", why);
			return;
		}
		qualifying = (c.held ? 0 : counts) - (live && !o.held ? counted : 0);
		if (!LoyaltyTierFits(&ts, live ? o.ordered_at : now->ordered_at, qualifying, &why))
		{
			RecordProblem(src, customer_id, order_key, "qualifying_overflow", why);
			return;
		}
	}

	{
		int64		delta = target - (live ? o.points : 0);

		if (delta > 0)
		{
			int64		credit = delta - unforgiven;

			c.entry_no = LoyaltyAddPoints(m.last_entry_no, 1, "the entry number");
			if (credit == 0)
				c.kind = "earn";	/* all forgiven before: an entry of 0 points */
			else if (live && !fresh && o.has_lot &&
					 HeldLotGrows(src, customer_id, &m, &c, o.lot_no, credit))
				;				/* the open hold holds the extra points too */
			else
				EarnInto(src, &m, &c, credit);
			if (detail.len == 0)
				appendStringInfo(&detail, "[{\"rule\":\"amount change\",\"points\":%lld}]",
								 (long long) delta);
			if (unforgiven > 0)
			{
				/* The rules' points, then what of them was forgiven before. */
				detail.data[--detail.len] = '\0';
				appendStringInfo(&detail, "%s{\"unforgiven\":%lld}]",
								 detail.len > 1 ? "," : "", (long long) unforgiven);
				c.forgiven = -unforgiven;
			}
		}
		else if (delta < 0)
		{
			c.entry_no = LoyaltyAddPoints(m.last_entry_no, 1, "the entry number");
			resetStringInfo(&detail);
			ClawbackInto(src, customer_id, order_key, o.has_lot ? o.lot_no : 0,
						 &m, &c, -delta, &detail);
		}
		else if (live && strcmp(o.state, state) == 0 && NumCmp(net, o.amount) == 0 &&
				 qualifying == 0 && !rerated)
			return;				/* nothing the loyalty engine cares about changed */
	}
	c.detail = detail.len > 0 ? detail.data : NULL;
	/* After the balance checks, whose errors say more than a bucket's would. */
	LoyaltyTierAdd(&ts, live ? o.ordered_at : now->ordered_at, qualifying);
	c.tier = &ts;
	WriteOrderChange(src, customer_id, order_key, &c, db_role);
	if (c.forgiven != 0)
		AddOrderForgiven(src, customer_id, order_key, c.forgiven);
	if (now != NULL && now->voided && !o.voided)
		CarryVoid(src, customer_id, order_key, now->voided_at);
	/* A held order's bonus is used too: the hold is about its points. */
	if (fresh && (birthday.added || o.exists))
		RecordBirthdayBonus(src, customer_id, order_key, birthday.added && c.points > 0,
							birthday.year);
	for (int i = 0; i < nhits; i++)
	{
		/* One hold per order: the first holding check holds, the rest flag. */
		bool		hold = c.lot_held && hits[i].action != 'f' && !LoyaltyFraudHolds(hits, i);

		LoyaltyFraudRecord(src->program_id, customer_id, m.last_flag_no + 1 + i, &hits[i], hold,
						   order_key, src->source_id, order_key, c.kind ? c.entry_no : 0,
						   c.entry_no, c.lot_points, c.lot_available_at != 0, c.lot_available_at);
	}
	if (LoyaltyTierMoved(&ts))
		LoyaltyTierChanged(src->program_id, customer_id, ts.tier_before, ts.tier, "qualified");
}

/*
 * Read the next row of a transition table into slot; false at its end.  A
 * cancel or statement_timeout is served here, once a row: the direct path
 * runs no executor that would check for it.
 */
static bool
NextRow(Tuplestorestate *store, TupleTableSlot *slot)
{
	CHECK_FOR_INTERRUPTS();
	return tuplestore_gettupleslot(store, true, false, slot);
}

/* Prepare a transition table for reading from its start with our own read pointer. */
static void
StartRows(Tuplestorestate *store)
{
	int			ptr = tuplestore_alloc_read_pointer(store, EXEC_FLAG_REWIND);

	tuplestore_select_read_pointer(store, ptr);
	tuplestore_rescan(store);
}

/* Whether two rows describe the same member's same order. */
static inline bool
SameOrder(OrderFacts *a, OrderFacts *b)
{
	return a->has_customer && b->has_customer && a->customer_id == b->customer_id &&
		a->order_key && b->order_key && strcmp(a->order_key, b->order_key) == 0;
}

/* Handle one order row of the statement, old and/or new version. */
static void
HandleRow(OrderSource *src, OrderFacts *old, OrderFacts *new, const char *db_role)
{
	/* Guest orders (no customer) are not loyalty orders. */
	if (old && new && !SameOrder(old, new))
	{
		HandleRow(src, old, NULL, db_role);
		HandleRow(src, NULL, new, db_role);
		return;
	}
	if (new)
	{
		if (!new->has_customer)
			return;
		if (new->order_key == NULL)
		{
			RecordProblem(src, new->customer_id, NULL, "missing_order_key",
						  "the order key column is null");
			return;
		}
		ProcessOrder(src, new->customer_id, new->order_key, old, new, old == NULL, db_role);
	}
	else if (old && old->has_customer && old->order_key)
		ProcessOrder(src, old->customer_id, old->order_key, NULL, NULL, false, db_role);
}

/*
 * The INSERT path.  A new order of an active member in the program's
 * currency is by far the most common write, and it is the one in the path of
 * every sale, so it does not go through SPI: the rows of the statement are
 * read in chunks, grouped by member, and each member's orders are written
 * directly (direct.c) under one lock of the member's account.  Orders of one
 * member that become available at the same moment share one lot and one
 * ledger entry whose detail lists each order and the rules that priced it.
 * Every other row (unknown customer, member not active, an order already on
 * record, another currency, a refund status, a bad amount) goes through
 * ProcessOrder like an UPDATE does.
 */

/* Rows read per chunk: bounds the memory of a bulk INSERT. */
#define INSERT_CHUNK 131072

/* The columns of the loyalty tables that the INSERT path reads or writes. */
typedef enum InsertColumn
{
	M_STATUS, M_BIRTHDAY,
	A_AVAILABLE, A_PENDING, A_LIFETIME_EARNED, A_LAST_ENTRY_NO, A_ORDER_COUNT,
	A_LAST_ACTIVITY_AT, A_UPDATED_AT, A_TIER, A_TIER_SINCE, A_QUALIFYING,
	A_FRAUD_STATE, A_LAST_FLAG_NO, A_BIRTHDAY_BONUS_YEAR,
	L_CUSTOMER, L_PROGRAM, L_LOT_NO, L_POINTS, L_REMAINING, L_PENDING, L_EARNED_AT,
	L_AVAILABLE_AT, L_EXPIRES_AT, L_SOURCE, L_ORDER_KEY,
	E_CUSTOMER, E_PROGRAM, E_ENTRY_NO, E_KIND, E_POINTS, E_PENDING_POINTS,
	E_AVAILABLE_AFTER, E_PENDING_AFTER, E_REASON, E_REFERENCE, E_ACTOR, E_DB_ROLE,
	E_DETAIL, E_EXPIRES_AT, E_CREATED_AT,
	O_CUSTOMER, O_PROGRAM, O_SOURCE, O_ORDER_KEY, O_STATE, O_AMOUNT, O_NET_AMOUNT,
	O_POINTS, O_EARNED_POINTS, O_FIRST_PURCHASE, O_CHANNEL, O_CATEGORY, O_ORDERED_AT,
	O_CREATED_AT, O_UPDATED_AT, O_LOT_NO, O_HELD, O_BIRTHDAY_BONUS, O_CURRENCY, O_RATE,
	O_FORGIVEN,
	NUM_INSERT_COLUMNS
} InsertColumn;

/* 0.1.0 tables lack lot_no, those before 0.3.0 the tier, fraud, birthday, rate and forgiven columns. */
static const DirectColumnDef insert_columns[NUM_INSERT_COLUMNS] = {
	{LY_MEMBER, "status", false}, {LY_MEMBER, "birthday", false},
	{LY_ACCOUNT, "available", false}, {LY_ACCOUNT, "pending", false},
	{LY_ACCOUNT, "lifetime_earned", false}, {LY_ACCOUNT, "last_entry_no", false},
	{LY_ACCOUNT, "order_count", false}, {LY_ACCOUNT, "last_activity_at", false},
	{LY_ACCOUNT, "updated_at", false}, {LY_ACCOUNT, "tier", true},
	{LY_ACCOUNT, "tier_since", true}, {LY_ACCOUNT, "qualifying", true},
	{LY_ACCOUNT, "fraud_state", true}, {LY_ACCOUNT, "last_flag_no", true},
	{LY_ACCOUNT, "birthday_bonus_year", true},
	{LY_LOT, "customer_id", false}, {LY_LOT, "program_id", false}, {LY_LOT, "lot_no", false},
	{LY_LOT, "points", false}, {LY_LOT, "remaining", false}, {LY_LOT, "pending", false},
	{LY_LOT, "earned_at", false}, {LY_LOT, "available_at", false}, {LY_LOT, "expires_at", false},
	{LY_LOT, "source_id", false}, {LY_LOT, "order_key", false},
	{LY_LEDGER, "customer_id", false}, {LY_LEDGER, "program_id", false},
	{LY_LEDGER, "entry_no", false}, {LY_LEDGER, "kind", false}, {LY_LEDGER, "points", false},
	{LY_LEDGER, "pending_points", false}, {LY_LEDGER, "available_after", false},
	{LY_LEDGER, "pending_after", false}, {LY_LEDGER, "reason", false},
	{LY_LEDGER, "reference", false}, {LY_LEDGER, "actor", false}, {LY_LEDGER, "db_role", false},
	{LY_LEDGER, "detail", false}, {LY_LEDGER, "expires_at", false},
	{LY_LEDGER, "created_at", false},
	{LY_ORDER, "customer_id", false}, {LY_ORDER, "program_id", false},
	{LY_ORDER, "source_id", false}, {LY_ORDER, "order_key", false}, {LY_ORDER, "state", false},
	{LY_ORDER, "amount", false}, {LY_ORDER, "net_amount", false}, {LY_ORDER, "points", false},
	{LY_ORDER, "earned_points", false}, {LY_ORDER, "first_purchase", false},
	{LY_ORDER, "channel", false}, {LY_ORDER, "category", false}, {LY_ORDER, "ordered_at", false},
	{LY_ORDER, "created_at", false}, {LY_ORDER, "updated_at", false}, {LY_ORDER, "lot_no", true},
	{LY_ORDER, "held", true}, {LY_ORDER, "birthday_bonus", true},
	{LY_ORDER, "currency", true}, {LY_ORDER, "rate", true},
	{LY_ORDER, "forgiven", true},
};

static AttrNumber insert_attnums[NUM_INSERT_COLUMNS];
static uint32 insert_attnums_generation = 0;

/* Set a column of the row being built for its table. */
static inline void
Put(DirectWriter *w, InsertColumn col, Datum value)
{
	DirectSet(&w->tables[insert_columns[col].table], insert_attnums[col], value);
}

/* Put a text column; NULL stays NULL. */
static inline void
PutText(DirectWriter *w, InsertColumn col, const char *value)
{
	if (value)
		Put(w, col, CStringGetTextDatum(value));
}

/* Read a column of the row last found in its table. */
static inline Datum
Got(DirectWriter *w, InsertColumn col, bool *isnull)
{
	return slot_getattr(w->tables[insert_columns[col].table].found, insert_attnums[col], isnull);
}

static inline int64
GotInt64(DirectWriter *w, InsertColumn col)
{
	bool		isnull;
	Datum		d = Got(w, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/* One row of an INSERT statement. */
typedef struct InsertRow
{
	OrderFacts	facts;
	int			seq;			/* position in the statement's chunk */
	bool		slow;			/* goes through ProcessOrder */
	int64		points;
	bool		first_purchase;
	bool		birthday_bonus; /* it earned its year's birthday bonus */
	char	   *detail;			/* the rules that priced it (first order of a lot only) */
	struct LotGroup *lot;		/* where its points went, or NULL */
	int			nhits;			/* fraud checks that hit */
	FraudHit   *hits;
	int64		first_flag;		/* the number of its first flag */
} InsertRow;

/* Orders of one member that become available together: one lot, one entry. */
typedef struct LotGroup
{
	bool		pending;
	bool		held;			/* one order's points, held until a fraud review */
	TimestampTz available_at;	/* when pending (held: when it would have been; 0: now) */
	int64		points;
	int			norders;
	InsertRow  *first;			/* the first order of the group */
	int64		lot_no;
	int			nrules;			/* points by rule over the group's orders */
	int			maxrules;
	char	  **rules;
	int64	   *rule_points;
} LotGroup;

/* Add an order's points by rule to its lot group. */
static void
AddToGroup(LotGroup *g, const EarnComponents *c)
{
	for (int i = 0; i < c->n; i++)
	{
		int			k;

		for (k = 0; k < g->nrules; k++)
			if (strcmp(g->rules[k], c->rule[i]) == 0)
				break;
		if (k == g->nrules)
		{
			if (g->nrules == g->maxrules)
			{
				g->maxrules = Max(4, g->maxrules * 2);
				g->rules = g->rules ? repalloc(g->rules, sizeof(char *) * g->maxrules)
					: palloc(sizeof(char *) * g->maxrules);
				g->rule_points = g->rule_points ?
					repalloc(g->rule_points, sizeof(int64) * g->maxrules)
					: palloc(sizeof(int64) * g->maxrules);
			}
			g->rules[g->nrules] = pstrdup(c->rule[i]);
			g->rule_points[g->nrules++] = 0;
		}
		g->rule_points[k] = LoyaltyAddPoints(g->rule_points[k], c->points[i],
											 "the points of one rule");
	}
}

/* Whether an order's points by rule can join its lot group's sums. */
static bool
GroupFits(const LotGroup *g, const EarnComponents *c)
{
	int64		sum;

	for (int i = 0; i < c->n; i++)
		for (int k = 0; k < g->nrules; k++)
			if (strcmp(g->rules[k], c->rule[i]) == 0 &&
				pg_add_s64_overflow(g->rule_points[k], c->points[i], &sum))
				return false;
	return true;
}

/* The detail of a lot of several orders: each rule's points summed over them. */
static char *
GroupDetail(LotGroup *g)
{
	StringInfoData d;

	initStringInfo(&d);
	appendStringInfoChar(&d, '[');
	for (int k = 0; k < g->nrules; k++)
	{
		if (k > 0)
			appendStringInfoChar(&d, ',');
		appendStringInfoString(&d, "{\"rule\":");
		escape_json(&d, g->rules[k]);
		appendStringInfo(&d, ",\"points\":" INT64_FORMAT "}", g->rule_points[k]);
	}
	appendStringInfo(&d, ",{\"orders\":%d}]", g->norders);
	return d.data;
}

/* Sort rows by customer, keeping the statement order within a customer. */
static int
CompareInsertRows(const void *a, const void *b)
{
	const InsertRow *x = *(InsertRow *const *) a;
	const InsertRow *y = *(InsertRow *const *) b;

	if (x->facts.customer_id != y->facts.customer_id)
		return x->facts.customer_id < y->facts.customer_id ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Whether a row can take the direct path, judged from the row alone. */
static bool
FastCandidate(OrderSource *src, OrderFacts *f)
{
	/* A zero amount earns nothing and is no first purchase: see ProcessOrder. */
	if (f->order_key == NULL || !ValidAmount(f->amount) ||
		NumCmp(f->amount, NumFromInt64(0)) == 0)
		return false;
	if (!InProgramCurrency(src, f->currency))
		return false;
	if (f->refunded != NULL && NumCmp(f->refunded, NumFromInt64(0)) != 0)
		return false;
	if (IsRefundStatus(src, f->status))
		return false;
	return true;
}

/* Run one row through the general path, in its own SPI connection. */
static void
SlowInsertRow(OrderSource *src, InsertRow *r, const char *db_role)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	HandleRow(src, NULL, &r->facts, db_role);
	SPI_finish();
	MemoryContextSwitchTo(cxt);
}

/*
 * Per member's group of a statement, two hash tables (PostgreSQL's
 * simplehash): its new order keys (OrderKey, below), to find a key sent
 * twice in one statement and, with enough orders, the keys already on
 * record; and the pending lot groups by the moment their points become
 * available, for an order to join.  Scanning the earlier rows or groups
 * instead made a statement of n orders of one member cost n².
 */
typedef struct PendingGroup
{
	TimestampTz available_at;
	LotGroup   *group;
	char		status;
} PendingGroup;

#define SH_PREFIX pendinggroups
#define SH_ELEMENT_TYPE PendingGroup
#define SH_KEY_TYPE TimestampTz
#define SH_KEY available_at
#define SH_HASH_KEY(tb, k) hash_bytes((const unsigned char *) &(k), sizeof(TimestampTz))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * With at least this many orders of a member in a chunk, their keys are
 * checked against one read of the member's keys on record, of at most this
 * many entries per order.  A descent of the primary key costs about as much
 * as reading a few dozen entries along a leaf page.
 */
#define KEY_PASS_MIN_ORDERS 4
#define KEY_PASS_PER_ORDER 16

/* An order key by its bytes, which may end without a NUL (in an index entry). */
typedef struct KeyRef
{
	const char *data;
	int			len;
} KeyRef;

/* A member's new order key in a chunk. */
typedef struct OrderKey
{
	KeyRef		key;
	uint32		hash;
	char		status;
	bool		taken;			/* an earlier row of the statement has it: later
								 * ones take the general path, in their order */
	bool		on_record;		/* the index holds it (when the keys were read) */
} OrderKey;

#define SH_PREFIX orderkeys
#define SH_ELEMENT_TYPE OrderKey
#define SH_KEY_TYPE KeyRef
#define SH_KEY key
#define SH_HASH_KEY(tb, k) hash_bytes((const unsigned char *) (k).data, (k).len)
#define SH_EQUAL(tb, a, b) ((a).len == (b).len && memcmp((a).data, (b).data, (a).len) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * Send a row of a member's statement to the general path, and with it the
 * later rows of its key (key: NULL when the statement has one row).
 */
static inline void
Divert(InsertRow *r, OrderKey *key)
{
	r->slow = true;
	if (key != NULL)
		key->taken = true;
}

/* The KeyRef of a NUL-terminated order key. */
static inline KeyRef
KeyOf(const char *key)
{
	KeyRef		k;

	k.data = key;
	k.len = strlen(key);
	return k;
}

/* DirectKeysUnder's visitor: mark a new key that the index holds. */
static void
MarkOnRecord(Datum key, void *arg)
{
	text	   *t = DatumGetTextPP(key);
	KeyRef		k;
	OrderKey   *e;

	k.data = VARDATA_ANY(t);
	k.len = VARSIZE_ANY_EXHDR(t);
	if ((e = orderkeys_lookup((orderkeys_hash *) arg, k)) != NULL)
		e->on_record = true;
}

/* Write one lot group: a lot (when it holds points) and its ledger entry. */
static void
WriteLotGroup(OrderSource *src, DirectWriter *w, int64 customer_id, LotGroup *g,
			  int64 *available, int64 *pending, int64 *entry_no, const char *db_role,
			  TimestampTz now)
{
	DirectTable *lot = &w->tables[LY_LOT];
	DirectTable *ledger = &w->tables[LY_LEDGER];
	int64		remaining;
	const char *detail;
	TimestampTz expires_at;
	bool		expires;

	/* One expiry per group: its clock starts when its points become available. */
	expires = LoyaltyLotExpiry(src->program_id, g->available_at != 0 ? g->available_at : now,
							   &expires_at);
	LoyaltyCheckNewTotal(*available, *pending, g->points);
	*entry_no = LoyaltyAddPoints(*entry_no, 1, "the entry number");
	g->lot_no = *entry_no;
	if (g->pending)
	{
		remaining = g->points;
		*pending += g->points;
	}
	else
	{
		remaining = LoyaltySpendableOfEarned(*available, g->points);
		*available += g->points;
	}

	DirectNewRow(lot);
	Put(w, L_CUSTOMER, Int64GetDatum(customer_id));
	Put(w, L_PROGRAM, Int32GetDatum(src->program_id));
	Put(w, L_LOT_NO, Int64GetDatum(g->lot_no));
	Put(w, L_POINTS, Int64GetDatum(g->points));
	Put(w, L_REMAINING, Int64GetDatum(remaining));
	Put(w, L_PENDING, BoolGetDatum(g->pending));
	Put(w, L_EARNED_AT, TimestampTzGetDatum(now));
	if (g->pending && !g->held)
		Put(w, L_AVAILABLE_AT, TimestampTzGetDatum(g->available_at));
	if (expires)
		Put(w, L_EXPIRES_AT, TimestampTzGetDatum(expires_at));
	Put(w, L_SOURCE, Int32GetDatum(src->source_id));
	if (g->norders == 1)
		PutText(w, L_ORDER_KEY, g->first->facts.order_key);
	DirectInsert(w, lot);

	detail = g->norders == 1 ? g->first->detail : GroupDetail(g);
	DirectNewRow(ledger);
	Put(w, E_CUSTOMER, Int64GetDatum(customer_id));
	Put(w, E_PROGRAM, Int32GetDatum(src->program_id));
	Put(w, E_ENTRY_NO, Int64GetDatum(g->lot_no));
	PutText(w, E_KIND, "earn");
	Put(w, E_POINTS, Int64GetDatum(g->pending ? 0 : g->points));
	Put(w, E_PENDING_POINTS, Int64GetDatum(g->pending ? g->points : 0));
	Put(w, E_AVAILABLE_AFTER, Int64GetDatum(*available));
	Put(w, E_PENDING_AFTER, Int64GetDatum(*pending));
	PutText(w, E_REASON, g->norders == 1 ? "purchase" : "purchases");
	if (g->norders == 1)
		PutText(w, E_REFERENCE, g->first->facts.order_key);
	PutText(w, E_ACTOR, src->table_name);
	PutText(w, E_DB_ROLE, db_role);
	Put(w, E_DETAIL, DirectFunctionCall1(jsonb_in, CStringGetDatum(detail)));
	if (expires)
		Put(w, E_EXPIRES_AT, TimestampTzGetDatum(expires_at));
	Put(w, E_CREATED_AT, TimestampTzGetDatum(now));
	DirectInsert(w, ledger);
}

/* Write the fraud flags of a member's direct rows, after their lots. */
static void
RecordInsertFlags(OrderSource *src, int64 customer_id, InsertRow **rows, int n)
{
	/* SPI leaves its own context current: the chunk's stays ours. */
	MemoryContext cxt = CurrentMemoryContext;

	for (int i = 0; i < n; i++)
	{
		InsertRow  *r = rows[i];
		LotGroup   *g = r->lot;

		if (r->slow || r->nhits == 0)
			continue;
		for (int k = 0; k < r->nhits; k++)
		{
			bool		hold = g != NULL && g->held && r->hits[k].action != 'f' &&
				!LoyaltyFraudHolds(r->hits, k);

			LoyaltyFraudRecord(src->program_id, customer_id, r->first_flag + k, &r->hits[k],
							   hold, r->facts.order_key, src->source_id, r->facts.order_key,
							   g ? g->lot_no : 0, g ? g->lot_no : 0, r->points,
							   g != NULL && g->available_at != 0, g ? g->available_at : 0);
		}
	}
	MemoryContextSwitchTo(cxt);
}

/* Earn the orders of one customer in this chunk. */
static void
InsertMemberOrders(OrderSource *src, DirectWriter *w, InsertRow **rows, int n,
				   const char *db_role)
{
	int64		customer_id = rows[0]->facts.customer_id;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	ScanKeyData keys[4];
	bool		isnull;
	Datum		d;
	bool		direct;
	bool		has_birthday = false;
	DateADT		birthday = 0;
	EarnBirthday bonus = {'m', false, 0, false, 0};
	bool		bonus_paid = false;	/* an order below earned a year's bonus */
	int64		available = 0,
				pending = 0,
				lifetime_earned = 0,
				entry_no = 0,
				order_count = 0;
	int64		earned = 0;		/* the points of the direct orders so far */
	LoyaltyTierState ts;
	LotGroup  **groups;
	orderkeys_hash *new_keys = NULL;	/* the rows' keys, when several */
	bool		keys_read = false;	/* new_keys says which are on record */
	bool		rest_slow = false;	/* the rest follow a general-path row (below) */
	int			nfast = 0;		/* the rows that may take the direct path */
	pendinggroups_hash *pending_groups = NULL;	/* the pending groups orders may join */
	LotGroup   *available_group = NULL; /* the group of points available at once */
	bool		found;
	StringInfoData detail;		/* reused: each order's detail is copied out */
	int			ngroups = 0;
	int			ndirect = 0;
	const FraudRules *rules = NULL;
	FraudState	fraud;
	int64		last_flag_no = 0;
	bool		any_hits = false;

	/*
	 * Lookups use a dirty snapshot, which sees every row this transaction
	 * wrote; a member's rows are all in this group, so no command counter
	 * increment is needed before locking the account (see InsertOrders).
	 */
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(customer_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(src->program_id));

	/* Only an active member with an account takes the direct path. */
	direct = DirectFind(&w->tables[LY_MEMBER], keys, 2);
	if (!direct && src->enroll_unknown)
	{
		/* A new customer: enroll once for all of the statement's orders. */
		MemoryContext cxt = CurrentMemoryContext;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		EnrollFromOrder(src, customer_id);
		SPI_finish();
		MemoryContextSwitchTo(cxt);
		/* Lock what the enrolment wrote as a row of an earlier command. */
		CommandCounterIncrement();
		direct = DirectFind(&w->tables[LY_MEMBER], keys, 2);
	}
	if (direct)
	{
		d = Got(w, M_STATUS, &isnull);
		direct = !isnull && strcmp(TextDatumGetCString(d), "active") == 0;
		d = Got(w, M_BIRTHDAY, &isnull);
		has_birthday = !isnull;
		birthday = isnull ? 0 : DatumGetDateADT(d);
	}
	if (direct)
		direct = DirectLock(&w->tables[LY_ACCOUNT], keys, 2);
	/* Points lapsed for inactivity are expired first, on the general path. */
	if (direct)
	{
		d = Got(w, A_LAST_ACTIVITY_AT, &isnull);
		direct = isnull || GotInt64(w, A_AVAILABLE) <= 0 ||
			!LoyaltyLapsed(src->program_id, DatumGetTimestampTz(d), now);
	}
	if (!direct)
	{
		for (int i = 0; i < n; i++)
			SlowInsertRow(src, rows[i], db_role);
		return;
	}
	available = GotInt64(w, A_AVAILABLE);
	pending = GotInt64(w, A_PENDING);
	lifetime_earned = GotInt64(w, A_LIFETIME_EARNED);
	entry_no = GotInt64(w, A_LAST_ENTRY_NO);
	order_count = GotInt64(w, A_ORDER_COUNT);
	if (insert_attnums[A_QUALIFYING] != InvalidAttrNumber)
	{
		Datum		q = Got(w, A_QUALIFYING, &isnull);
		bool		no_window = isnull;

		d = Got(w, A_TIER, &isnull);
		LoyaltyTierInit(&ts, src->program_id, true, isnull ? NULL : TextDatumGetCString(d),
						no_window ? NULL : (LoyaltyWindow *) DatumGetPointer(q));
	}
	else
		LoyaltyTierInit(&ts, src->program_id, false, NULL, NULL);
	if (insert_attnums[A_FRAUD_STATE] != InvalidAttrNumber &&
		(rules = LoyaltyFraudRulesFor(src->program_id)) != NULL)
	{
		d = Got(w, A_FRAUD_STATE, &isnull);
		LoyaltyFraudStateRead(&fraud, d, isnull);
		last_flag_no = GotInt64(w, A_LAST_FLAG_NO);
	}
	if (insert_attnums[A_BIRTHDAY_BONUS_YEAR] != InvalidAttrNumber)
	{
		d = Got(w, A_BIRTHDAY_BONUS_YEAR, &isnull);
		bonus.paid = !isnull;
		bonus.paid_year = isnull ? 0 : DatumGetInt32(d);
	}

	/* Price each new order and put it into its lot group. */
	groups = palloc(sizeof(LotGroup *) * n);
	/* One order, the usual INSERT, has no other to find. */
	if (n > 1)
	{
		new_keys = orderkeys_create(CurrentMemoryContext, n, NULL);
		for (int i = 0; i < n; i++)
		{
			OrderKey   *e;

			/* A row bound for the general path holds its key too (below). */
			if (rows[i]->facts.order_key == NULL)
				continue;
			e = orderkeys_insert(new_keys, KeyOf(rows[i]->facts.order_key), &found);
			if (!found)
				e->taken = e->on_record = false;
			if (!rows[i]->slow)
				nfast++;
		}
		pending_groups = pendinggroups_create(CurrentMemoryContext, n, NULL);
	}
	initStringInfo(&detail);
	ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(src->source_id));

	/*
	 * Several orders: read which keys the member has on record in one pass
	 * along the index (within a budget: a member with a long history is
	 * looked up key by key), and look up only the keys found there.  The
	 * account locked above keeps every other writer of the member's order
	 * records out until we commit (DirectKeysUnder).
	 */
	if (nfast >= KEY_PASS_MIN_ORDERS)
		keys_read = DirectKeysUnder(&w->tables[LY_ORDER], keys, 3, KEY_PASS_PER_ORDER * nfast,
									MarkOnRecord, new_keys);
	for (int i = 0; i < n; i++)
	{
		InsertRow  *r = rows[i];
		EarnComponents components;
		TimestampTz available_at;
		bool		is_pending;
		bool		hold = false;
		LotGroup   *g = NULL;
		int64		sum;
		int64		qualifying = 0;
		OrderKey   *key = NULL;

		CHECK_FOR_INTERRUPTS();
		/*
		 * A re-send within the statement, or an order already on record.
		 * The direct path writes before the general one, so once a key's row
		 * goes to the general path, so do its later copies: each then sees
		 * the rows before it, as one statement per row would.
		 */
		if (new_keys != NULL && r->facts.order_key != NULL)
			key = orderkeys_lookup(new_keys, KeyOf(r->facts.order_key));
		if (r->slow || rest_slow || (key != NULL && key->taken))
		{
			/*
			 * The general path may credit this row (another currency, a
			 * refunded amount, an amount change of a known order) and so
			 * change what later rows earn: their first purchase, birthday
			 * bonus, tier and fraud counters.  They follow it there, in
			 * order.  A row without a key or a valid amount credits nothing.
			 */
			if (r->facts.order_key != NULL && ValidAmount(r->facts.amount))
				rest_slow = true;
			Divert(r, key);
			continue;
		}
		if (!keys_read || key == NULL || key->on_record)
		{
			ScanKeyInit(&keys[3], 4, BTEqualStrategyNumber, F_TEXTEQ,
						CStringGetTextDatum(r->facts.order_key));
			keys[3].sk_collation = w->tables[LY_ORDER].pkey->rd_indcollation[3];
			if (DirectFind(&w->tables[LY_ORDER], keys, 4))
			{
				/* A known order: a changed amount earns or claws back. */
				rest_slow = true;
				Divert(r, key);
				continue;
			}
		}

		/* The return window counts 24-hour days from the order time. */
		available_at = r->facts.ordered_at + (TimestampTz) src->return_days * USECS_PER_DAY;
		is_pending = src->return_days > 0 && available_at > now;
		/* With 0.1.0 tables an order's lot is found by its key: one lot per order. */
		if (insert_attnums[O_LOT_NO] != InvalidAttrNumber)
		{
			PendingGroup *pg;

			if (!is_pending)
				g = available_group;
			else if (pending_groups != NULL &&
					 (pg = pendinggroups_lookup(pending_groups, available_at)) != NULL)
				g = pg->group;
		}

		r->first_purchase = (order_count == 0);
		/* Only the first order of a lot needs its own detail text. */
		resetStringInfo(&detail);
		r->points = EarnForOrder(src, has_birthday, birthday, ts.tier, &r->facts,
								 r->facts.amount, r->first_purchase, &bonus,
								 g == NULL ? &detail : NULL, &components);
		if (r->points < 0)
		{
			/* Too many points for a balance: the general path records it. */
			Divert(r, key);
			continue;
		}
		/*
		 * Nor may the points of the statement's orders take the account past
		 * the largest number of points (the general path records the order),
		 * or a rule's sum in the lot's detail (it earns alone there).
		 */
		if (r->points > 0 &&
			(pg_add_s64_overflow(earned, r->points, &sum) ||
			 !EarnFits(available, pending, lifetime_earned, sum, NULL) ||
			 (g != NULL && !GroupFits(g, &components))))
		{
			Divert(r, key);
			continue;
		}
		/* Nor an amount its member's tier cannot count (recorded there too). */
		if (ts.enabled &&
			(!LoyaltyOrderQualifyingFits(src->program_id, r->points, r->facts.amount,
										 &qualifying, NULL) ||
			 !LoyaltyTierFits(&ts, r->facts.ordered_at, qualifying, NULL)))
		{
			Divert(r, key);
			continue;
		}
		if (key != NULL)
			key->taken = true;
		order_count = LoyaltyAddPoints(order_count, 1, "the order count");
		r->lot = NULL;
		r->nhits = 0;
		if (rules != NULL)
		{
			FraudHit	hits[FRAUD_MAX_HITS];

			r->nhits = LoyaltyFraudOnOrder(rules, &fraud, r->facts.ordered_at, r->facts.amount,
										   r->points, hits);
			if (r->nhits > 0)
			{
				r->hits = palloc(sizeof(FraudHit) * r->nhits);
				memcpy(r->hits, hits, sizeof(FraudHit) * r->nhits);
				r->first_flag = last_flag_no + 1;
				last_flag_no = LoyaltyAddPoints(last_flag_no, r->nhits, "the flag number");
				any_hits = true;
				/* A held order's points get a lot of their own, and its detail. */
				hold = r->points > 0 && LoyaltyFraudHolds(hits, r->nhits);
				if (hold && g != NULL)
				{
					g = NULL;
					EarnForOrder(src, has_birthday, birthday, ts.tier, &r->facts,
								 r->facts.amount, r->first_purchase, &bonus, &detail, NULL);
				}
			}
		}
		/*
		 * At most once a year: the statement's later orders see this one's
		 * (before the 0.3.0 update, with nowhere to keep it, every order).
		 */
		r->birthday_bonus = bonus.added && r->points > 0;
		if (r->birthday_bonus && insert_attnums[A_BIRTHDAY_BONUS_YEAR] != InvalidAttrNumber)
		{
			bonus.paid = bonus_paid = true;
			bonus.paid_year = bonus.year;
		}
		r->detail = g == NULL ? pstrdup(detail.data) : NULL;
		ndirect++;
		earned += r->points;	/* it fits: see above */
		/*
		 * The next order of the statement earns at the tier this one reaches;
		 * a held order counts toward none until review() releases it.
		 */
		if (ts.enabled && !hold)
			LoyaltyTierAdd(&ts, r->facts.ordered_at, qualifying);
		if (r->points <= 0)
			continue;

		if (g == NULL)
		{
			g = palloc0(sizeof(LotGroup));
			groups[ngroups++] = g;
			g->pending = is_pending || hold;
			g->held = hold;
			g->available_at = is_pending ? available_at : 0;
			g->first = r;
			/* Held groups take no other order. */
			if (!hold && !is_pending)
				available_group = g;
			else if (!hold && pending_groups != NULL)
				pendinggroups_insert(pending_groups, available_at, &found)->group = g;
		}
		g->points = LoyaltyAddPoints(g->points, r->points, "the points of one lot");
		AddToGroup(g, &components);
		g->norders++;
		r->lot = g;
	}

	if (ndirect > 0)
	{
		DirectTable *order = &w->tables[LY_ORDER];
		DirectTable *account = &w->tables[LY_ACCOUNT];

		for (int k = 0; k < ngroups; k++)
			WriteLotGroup(src, w, customer_id, groups[k], &available, &pending, &entry_no,
						  db_role, now);
		for (int i = 0; i < n; i++)
		{
			InsertRow  *r = rows[i];

			CHECK_FOR_INTERRUPTS();
			if (r->slow)
				continue;
			DirectNewRow(order);
			Put(w, O_CUSTOMER, Int64GetDatum(customer_id));
			Put(w, O_PROGRAM, Int32GetDatum(src->program_id));
			Put(w, O_SOURCE, Int32GetDatum(src->source_id));
			PutText(w, O_ORDER_KEY, r->facts.order_key);
			PutText(w, O_STATE, "active");
			Put(w, O_AMOUNT, NumericGetDatum(r->facts.amount));
			Put(w, O_NET_AMOUNT, NumericGetDatum(r->facts.amount));
			Put(w, O_POINTS, Int64GetDatum(r->points));
			Put(w, O_EARNED_POINTS, Int64GetDatum(r->points));
			Put(w, O_FIRST_PURCHASE, BoolGetDatum(r->first_purchase));
			PutText(w, O_CHANNEL, r->facts.channel);
			PutText(w, O_CATEGORY, r->facts.category);
			Put(w, O_ORDERED_AT, TimestampTzGetDatum(r->facts.ordered_at));
			Put(w, O_CREATED_AT, TimestampTzGetDatum(now));
			Put(w, O_UPDATED_AT, TimestampTzGetDatum(now));
			if (r->lot && insert_attnums[O_LOT_NO] != InvalidAttrNumber)
				Put(w, O_LOT_NO, Int64GetDatum(r->lot->lot_no));
			if (insert_attnums[O_HELD] != InvalidAttrNumber)
				Put(w, O_HELD, BoolGetDatum(r->lot != NULL && r->lot->held));
			if (insert_attnums[O_BIRTHDAY_BONUS] != InvalidAttrNumber)
				Put(w, O_BIRTHDAY_BONUS, BoolGetDatum(r->birthday_bonus));
			/* The fast path takes orders in the program currency only. */
			if (insert_attnums[O_RATE] != InvalidAttrNumber &&
				insert_attnums[O_CURRENCY] != InvalidAttrNumber)
			{
				PutText(w, O_CURRENCY, src->currency);
				Put(w, O_RATE, NumericGetDatum(NumFromInt64(1)));
			}
			if (insert_attnums[O_FORGIVEN] != InvalidAttrNumber)
				Put(w, O_FORGIVEN, Int64GetDatum(0));
			DirectInsert(w, order);
		}

		DirectCopyFound(account);
		Put(w, A_AVAILABLE, Int64GetDatum(available));
		Put(w, A_PENDING, Int64GetDatum(pending));
		Put(w, A_LIFETIME_EARNED, Int64GetDatum(lifetime_earned + earned));
		Put(w, A_LAST_ENTRY_NO, Int64GetDatum(entry_no));
		Put(w, A_ORDER_COUNT, Int64GetDatum(order_count));
		Put(w, A_LAST_ACTIVITY_AT, TimestampTzGetDatum(now));
		Put(w, A_UPDATED_AT, TimestampTzGetDatum(now));
		if (ts.window_changed)
			Put(w, A_QUALIFYING, PointerGetDatum(&ts.window));
		if (rules != NULL)
		{
			Put(w, A_FRAUD_STATE, LoyaltyFraudStateDatum(&fraud));
			Put(w, A_LAST_FLAG_NO, Int64GetDatum(last_flag_no));
		}
		if (bonus_paid)
			Put(w, A_BIRTHDAY_BONUS_YEAR, Int32GetDatum(bonus.paid_year));
		if (LoyaltyTierMoved(&ts))
		{
			PutText(w, A_TIER, ts.tier);
			Put(w, A_TIER_SINCE, TimestampTzGetDatum(now));
		}
		DirectUpdate(w, account);
		if (LoyaltyTierMoved(&ts))
		{
			/* SPI leaves its own context current: the chunk's stays ours. */
			MemoryContext cxt = CurrentMemoryContext;

			LoyaltyTierChanged(src->program_id, customer_id, ts.tier_before, ts.tier,
							   "qualified");
			MemoryContextSwitchTo(cxt);
		}
		if (any_hits)
			RecordInsertFlags(src, customer_id, rows, n);
	}
	ResetPerTupleExprContext(w->estate);

	/* The rest, in statement order, after what the direct path wrote. */
	for (int i = 0; i < n; i++)
		if (rows[i]->slow)
			SlowInsertRow(src, rows[i], db_role);
}

/* The INSERT statement trigger: earn for every new order row. */
static void
InsertOrders(OrderSource *src, Tuplestorestate *store, TupleDesc desc, const char *db_role)
{
	DirectWriter *w = DirectBegin();
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	MemoryContext chunkcxt = AllocSetContextCreate(CurrentMemoryContext, "loyalty insert chunk",
												   ALLOCSET_DEFAULT_SIZES);
	MemoryContext membercxt = AllocSetContextCreate(CurrentMemoryContext, "loyalty insert member",
													ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	bool		more = true;
	/* The usual INSERT has one row: a chunk's arrays are sized to the statement. */
	int			chunk = (int) Max(1, Min(tuplestore_tuple_count(store), INSERT_CHUNK));
	InsertRow  *rows = palloc(sizeof(InsertRow) * chunk);
	InsertRow **sorted = palloc(sizeof(InsertRow *) * chunk);

	DirectResolveColumns(w, insert_columns, NUM_INSERT_COLUMNS, insert_attnums,
						 &insert_attnums_generation);
	StartRows(store);
	while (more)
	{
		int			n = 0;

		old = MemoryContextSwitchTo(chunkcxt);
		while (n < chunk && (more = NextRow(store, slot)))
		{
			InsertRow  *r = &rows[n];

			ReadFacts(src, slot, &r->facts);
			/* Guest orders (no customer) are not loyalty orders. */
			if (!r->facts.has_customer)
				continue;
			/* Keep the amounts past the slot's next row. */
			if (r->facts.amount)
				r->facts.amount = DatumGetNumericCopy(NumericGetDatum(r->facts.amount));
			if (r->facts.refunded)
				r->facts.refunded = DatumGetNumericCopy(NumericGetDatum(r->facts.refunded));
			r->seq = n;
			r->slow = !FastCandidate(src, &r->facts);
			n++;
		}
		for (int i = 0; i < n; i++)
			sorted[i] = &rows[i];
		qsort(sorted, n, sizeof(InsertRow *), CompareInsertRows);
		/* Each chunk sees what the previous one wrote. */
		CommandCounterIncrement();
		for (int i = 0, j; i < n; i = j)
		{
			for (j = i + 1; j < n && sorted[j]->facts.customer_id == sorted[i]->facts.customer_id; j++)
				;
			/*
			 * What a member's orders allocate is theirs alone: freed after
			 * them, so that a chunk's memory does not grow with its orders
			 * (fresh pages cost the kernel a fault and a zeroing each).
			 */
			MemoryContextSwitchTo(membercxt);
			InsertMemberOrders(src, w, sorted + i, j - i, db_role);
			MemoryContextSwitchTo(chunkcxt);
			MemoryContextReset(membercxt);
		}
		/* A row the tuplestore read back from disk lives in chunkcxt. */
		ExecClearTuple(slot);
		MemoryContextSwitchTo(old);
		MemoryContextReset(chunkcxt);
	}
	MemoryContextDelete(membercxt);
	MemoryContextDelete(chunkcxt);
	pfree(rows);
	pfree(sorted);
	ExecDropSingleTupleTableSlot(slot);
	DirectEnd(w);
}

/* One changed row of an UPDATE or DELETE statement. */
typedef struct OrderChangeRow
{
	bool		have_old;
	bool		have_new;
	OrderFacts	old_facts;
	OrderFacts	new_facts;
	int			phase;			/* 0: the old half of a row whose key or member changed */
	int			seq;			/* position in the statement's chunk */
} OrderChangeRow;

/* The member whose account a changed row locks first (0 for none). */
static int64
ChangeRowMember(const OrderChangeRow *r)
{
	bool		o = r->have_old && r->old_facts.has_customer;
	bool		n = r->have_new && r->new_facts.has_customer;

	if (o && n)
		return Min(r->old_facts.customer_id, r->new_facts.customer_id);
	return o ? r->old_facts.customer_id : n ? r->new_facts.customer_id : 0;
}

/*
 * Sort changed rows by member; within one, the orders a changed key or
 * member takes away first (so keys swapped or renumbered in one statement
 * are all gone before any comes back), then the statement order.
 */
static int
CompareChangeRows(const void *a, const void *b)
{
	const OrderChangeRow *x = (const OrderChangeRow *) a;
	const OrderChangeRow *y = (const OrderChangeRow *) b;
	int64		mx = ChangeRowMember(x);
	int64		my = ChangeRowMember(y);

	if (mx != my)
		return mx < my ? -1 : 1;
	if (x->phase != y->phase)
		return x->phase - y->phase;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/*
 * order_trigger(source_id): the AFTER ... FOR EACH STATEMENT trigger that
 * track_orders() attaches to an orders table.
 */
Datum
loyalty_order_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	LoyaltyUserSwitch sw;
	OrderSource *src;
	int32		source_id;
	char	   *db_role;
	TupleTableSlot *old_slot = NULL;
	TupleTableSlot *new_slot = NULL;
	MemoryContext chunkcxt;
	MemoryContext rowcxt;
	MemoryContext old;
	OrderChangeRow *changes;
	int			maxchanges;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		trigdata->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("loyalty.order_trigger() must be attached by loyalty.track_orders()")));
	source_id = pg_strtoint32(trigdata->tg_trigger->tgargs[0]);
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	db_role = GetUserNameFromId(GetUserId(), false);

	LoyaltyBecomeOwner(&sw);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	src = GetSource(source_id, rel);

	if (trigdata->tg_newtable && !trigdata->tg_oldtable)
	{
		InsertOrders(src, trigdata->tg_newtable, desc, db_role);
		SPI_finish();
		LoyaltyRestoreUser(&sw);
		return PointerGetDatum(NULL);
	}
	if (trigdata->tg_oldtable)
	{
		old_slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
		StartRows(trigdata->tg_oldtable);
	}
	if (trigdata->tg_newtable)
	{
		new_slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
		StartRows(trigdata->tg_newtable);
	}
	chunkcxt = AllocSetContextCreate(CurrentMemoryContext, "loyalty order changes",
									 ALLOCSET_DEFAULT_SIZES);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "loyalty order row",
								   ALLOCSET_DEFAULT_SIZES);
	maxchanges = 16;
	changes = palloc(sizeof(OrderChangeRow) * maxchanges);
	for (;;)
	{
		int			n = 0;

		/*
		 * Read a chunk of changed rows, then handle them by customer, as the
		 * INSERT path does: every statement locks members' accounts in the
		 * same order, so two that change the same members cannot deadlock.
		 */
		old = MemoryContextSwitchTo(chunkcxt);
		while (n < INSERT_CHUNK)
		{
			OrderChangeRow *r;

			if (n + 1 >= maxchanges)
			{
				maxchanges *= 2;
				changes = repalloc(changes, sizeof(OrderChangeRow) * maxchanges);
			}
			r = &changes[n];

			r->have_old = old_slot && NextRow(trigdata->tg_oldtable, old_slot);
			r->have_new = new_slot && NextRow(trigdata->tg_newtable, new_slot);
			if (!r->have_old && !r->have_new)
				break;
			if (r->have_old)
				ReadFacts(src, old_slot, &r->old_facts);
			if (r->have_new)
				ReadFacts(src, new_slot, &r->new_facts);
			r->phase = 1;
			r->seq = n++;

			/*
			 * A row whose key or member changed is two changes, each under
			 * its own member: the old order goes, the new one comes, as
			 * HandleRow would do them, so every account is still locked in
			 * customer order.
			 */
			if (r->have_old && r->have_new && !SameOrder(&r->old_facts, &r->new_facts))
			{
				OrderChangeRow *r2 = &changes[n];

				*r2 = *r;
				r->have_new = false;
				r->phase = 0;
				r2->have_old = false;
				r2->seq = n++;
				/* A voided order stays voided under its new key or member. */
				r2->new_facts.voided = OrderWasVoided(src, &r->old_facts,
													  &r2->new_facts.voided_at);
			}
		}
		MemoryContextSwitchTo(old);
		if (n == 0)
			break;
		qsort(changes, n, sizeof(OrderChangeRow), CompareChangeRows);
		for (int i = 0; i < n; i++)
		{
			OrderChangeRow *r = &changes[i];

			/*
			 * Each row runs in its own SPI connection: SPI calls leave the
			 * current context at SPI's procedure context, so only SPI_finish
			 * frees what a row allocated.
			 */
			old = MemoryContextSwitchTo(rowcxt);
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			HandleRow(src, r->have_old ? &r->old_facts : NULL,
					  r->have_new ? &r->new_facts : NULL, db_role);
			SPI_finish();
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
		}
		MemoryContextReset(chunkcxt);
	}
	MemoryContextDelete(rowcxt);
	MemoryContextDelete(chunkcxt);
	if (old_slot)
		ExecDropSingleTupleTableSlot(old_slot);
	if (new_slot)
		ExecDropSingleTupleTableSlot(new_slot);

	SPI_finish();
	LoyaltyRestoreUser(&sw);
	return PointerGetDatum(NULL);
}
