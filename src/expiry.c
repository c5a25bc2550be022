/*
 * expiry.c
 *		Expiring a member's due points before anything else changes them.
 *
 * loyalty.expire() (sql/parts/80_expiry.sql) expires every member's due
 * points in batches.  Between two of its runs, points whose moment has come
 * must not be spent, and a member whose points lapsed for inactivity must
 * not bring them back by buying again.  So every change to a member's
 * points (an order, an earning, a redemption, an adjustment) first expires
 * that member's due points, under the account row lock it already holds.
 *
 * The lots themselves are expired here, in C (loyalty.expire_lots): a walk
 * of each member's spendable lots in expiry order through the direct
 * writer, removing or emptying the due ones, then the account.  The ledger
 * entries and events are written by loyalty.expire_members() around it, one
 * set-based statement per batch.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

#include "loyalty.h"

PG_FUNCTION_INFO_V1(loyalty_expire_lots);

/* The columns expiring reads and writes, numbered once per table definition. */
typedef enum ExpireColumn
{
	X_AVAILABLE, X_PENDING, X_LIFETIME_EXPIRED, X_LAST_ENTRY_NO, X_UPDATED_AT,
	X_REMAINING, X_LOT_PENDING, X_EXPIRES_AT, X_SOURCE_ID,
	NUM_EXPIRE_COLUMNS
} ExpireColumn;

static const DirectColumnDef expire_columns[NUM_EXPIRE_COLUMNS] = {
	{LY_ACCOUNT, "available", false}, {LY_ACCOUNT, "pending", false},
	{LY_ACCOUNT, "lifetime_expired", false}, {LY_ACCOUNT, "last_entry_no", false},
	{LY_ACCOUNT, "updated_at", false},
	{LY_LOT, "remaining", false}, {LY_LOT, "pending", false},
	{LY_LOT, "expires_at", false}, {LY_LOT, "source_id", false},
};

static AttrNumber expire_attnums[NUM_EXPIRE_COLUMNS];
static uint32 expire_attnums_generation = 0;

/* A column of the row last found in its table. */
static inline Datum
FoundColumn(DirectWriter *w, ExpireColumn col, bool *isnull)
{
	return slot_getattr(w->tables[expire_columns[col].table].found, expire_attnums[col], isnull);
}

/* Set a column of the row being built for its table. */
static inline void
SetExpireColumn(DirectWriter *w, ExpireColumn col, Datum value)
{
	DirectSet(&w->tables[expire_columns[col].table], expire_attnums[col], value);
}

/* The elements of a one-dimensional array argument without NULLs. */
static int
ArgElements(FunctionCallInfo fcinfo, int argno, Oid elemtype, Datum **elems)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(argno);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(array) > 1 || ARR_ELEMTYPE(array) != elemtype)
		elog(ERROR, "expire_lots: argument %d is not a one-dimensional array", argno + 1);
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign, elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (nulls[i])
			elog(ERROR, "expire_lots: argument %d holds a null", argno + 1);
	return n;
}

/*
 * Expire one member's due lots: every unspent, released lot whose
 * expires_at has come by as_of, or all of them when lapsed.  An order's lot
 * is removed (its order record and ledger entries keep its history, and a
 * removal writes no new row version, where emptying it never is a HOT
 * update: the lot's indexes depend on remaining); a lot of earn() or
 * adjust() stays, emptied, because rebuild_qualifying() counts a manual
 * earning by its lot.  Returns the number of lots and adds their points.
 */
static int64
ExpireMemberLots(DirectWriter *w, ScanKey member, bool lapsed, TimestampTz as_of,
				 int64 *points)
{
	DirectTable *lot = &w->tables[LY_LOT];
	int64		lots = 0;

	/* lot_spend_idx: the lots with points left, by expires_at (NULLS LAST), lot_no. */
	DirectWalk(lot, "lot_spend_idx", member, 2);
	while (DirectWalkNext(lot))
	{
		bool		isnull;
		int64		remaining = DatumGetInt64(FoundColumn(w, X_REMAINING, &isnull));
		Datum		expires_at = FoundColumn(w, X_EXPIRES_AT, &isnull);

		/* In expiry order: the first lot not yet due ends the walk. */
		if (!lapsed && (isnull || DatumGetTimestampTz(expires_at) > as_of))
			break;
		if (remaining <= 0 || DatumGetBool(FoundColumn(w, X_LOT_PENDING, &isnull)))
			continue;
		(void) FoundColumn(w, X_SOURCE_ID, &isnull);
		if (isnull)
		{
			DirectCopyFound(lot);
			SetExpireColumn(w, X_REMAINING, Int64GetDatum(0));
			DirectUpdate(w, lot);
		}
		else
			DirectDelete(w, lot);
		*points = LoyaltyAddPoints(*points, remaining, "the expired points");
		lots++;
	}
	return lots;
}

/*
 * expire_lots(customer_ids, program_ids, lapsed, as_of): expire the due lots
 * of the members given and take their points off the accounts; one row per
 * member that lost points, with the entry number and balances the ledger
 * entry records.  Internal to expire_members(), which holds, or takes, the
 * account locks: each account is locked again here (a no-op when held), so
 * that nothing changes the member's lots meanwhile.
 */
Datum
loyalty_expire_lots(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz as_of = PG_GETARG_TIMESTAMPTZ(3);
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	Datum	   *customers;
	Datum	   *programs;
	Datum	   *lapsed;
	int			n;
	DirectWriter *w;
	DirectTable *account;

	n = ArgElements(fcinfo, 0, INT8OID, &customers);
	if (ArgElements(fcinfo, 1, INT4OID, &programs) != n ||
		ArgElements(fcinfo, 2, BOOLOID, &lapsed) != n)
		elog(ERROR, "expire_lots: the arrays differ in length");
	LoyaltyInitSRF(fcinfo);

	w = DirectBegin();
	account = &w->tables[LY_ACCOUNT];
	DirectResolveColumns(w, expire_columns, NUM_EXPIRE_COLUMNS, expire_attnums,
						 &expire_attnums_generation);
	for (int i = 0; i < n; i++)
	{
		ScanKeyData keys[2];
		int64		points = 0;
		int64		lots;
		int64		available;
		int64		expired;
		bool		isnull;
		Datum		values[8];
		bool		nulls[8] = {false, false, false, false, false, false, false, false};

		CHECK_FOR_INTERRUPTS();
		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, customers[i]);
		ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT4EQ, programs[i]);
		if (!DirectLock(account, keys, 2))
			continue;
		lots = ExpireMemberLots(w, keys, DatumGetBool(lapsed[i]), as_of, &points);
		if (lots == 0)
			continue;

		available = DatumGetInt64(FoundColumn(w, X_AVAILABLE, &isnull));
		expired = DatumGetInt64(FoundColumn(w, X_LIFETIME_EXPIRED, &isnull));
		values[4] = Int64GetDatum(LoyaltyAddPoints(DatumGetInt64(FoundColumn(w, X_LAST_ENTRY_NO,
																			 &isnull)),
												   1, "the entry number"));
		values[6] = FoundColumn(w, X_PENDING, &isnull);
		/* points >= 0: its negation cannot overflow. */
		available = LoyaltyAddPoints(available, -points, "the available balance");
		expired = LoyaltyAddPoints(expired, points, "lifetime expired points");
		DirectCopyFound(account);
		SetExpireColumn(w, X_AVAILABLE, Int64GetDatum(available));
		SetExpireColumn(w, X_LIFETIME_EXPIRED, Int64GetDatum(expired));
		SetExpireColumn(w, X_LAST_ENTRY_NO, values[4]);
		SetExpireColumn(w, X_UPDATED_AT, TimestampTzGetDatum(now));
		DirectUpdate(w, account);

		values[0] = customers[i];
		values[1] = programs[i];
		values[2] = Int64GetDatum(lots);
		values[3] = Int64GetDatum(points);
		values[5] = Int64GetDatum(available);
		values[7] = lapsed[i];
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	DirectEnd(w);
	return (Datum) 0;
}

/*
 * Expire the member's due points, if any, as of the transaction's start.
 * The caller holds the account row lock and has SPI connected; when this
 * returns true, the account changed and must be read again.
 */
bool
LoyaltyExpireDue(int32 program_id, int64 customer_id, const char *actor)
{
	static SPIPlanPtr probe = NULL;
	static SPIPlanPtr expire = NULL;
	Oid			argtypes[3] = {INT8OID, INT4OID, TEXTOID};
	Datum		values[3];

	/* A database not yet updated to 0.3.0 has no expiry. */
	if (!LoyaltyHasExpiry())
		return false;
	if (probe == NULL)
		probe = LoyaltyPreparePlan(
								   "SELECT 1 FROM loyalty.account a"
								   " JOIN loyalty.program p"
								   "  ON p.program_id OPERATOR(pg_catalog.=) a.program_id"
								   " WHERE a.customer_id OPERATOR(pg_catalog.=) $1"
								   "  AND a.program_id OPERATOR(pg_catalog.=) $2"
								   "  AND a.available OPERATOR(pg_catalog.>) 0"
								   "  AND (loyalty.inactivity_lapse(p, a.last_activity_at)"
								   "        OPERATOR(pg_catalog.<=) pg_catalog.now()"
								   "   OR EXISTS (SELECT FROM loyalty.lot l"
								   "    WHERE l.customer_id OPERATOR(pg_catalog.=) $1"
								   "     AND l.program_id OPERATOR(pg_catalog.=) $2"
								   "     AND l.remaining OPERATOR(pg_catalog.>) 0 AND NOT l.pending"
								   "     AND l.expires_at OPERATOR(pg_catalog.<=) pg_catalog.now()))",
								   2, argtypes);
	values[0] = Int64GetDatum(customer_id);
	values[1] = Int32GetDatum(program_id);
	if (SPI_execute_plan(probe, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "expiry probe failed");
	if (SPI_processed == 0)
		return false;

	if (expire == NULL)
		expire = LoyaltyPreparePlan(
									"SELECT pg_catalog.count(*) FROM loyalty.expire_members("
									" ARRAY[$1], ARRAY[$2], pg_catalog.now(), $3)",
									3, argtypes);
	values[2] = CStringGetTextDatum(actor);
	if (SPI_execute_plan(expire, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "expiry of due points failed");
	return true;
}
