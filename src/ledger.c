/*
 * ledger.c
 *		The hot path of the ledger: earn, redeem, adjust and balance.
 *
 * Every balance change locks the member's account row, checks the request,
 * and then writes the account, the lots and one ledger entry in a single
 * prepared statement, so the stored balance always equals the ledger.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/stratnum.h"
#include "executor/tuptable.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/timestamp.h"

#include "loyalty.h"
#include "fraud.h"

PG_FUNCTION_INFO_V1(loyalty_earn);
PG_FUNCTION_INFO_V1(loyalty_redeem);
PG_FUNCTION_INFO_V1(loyalty_adjust);
PG_FUNCTION_INFO_V1(loyalty_balance);

typedef enum EntryKind
{
	ENTRY_EARN,
	ENTRY_REDEEM,
	ENTRY_ADJUST
} EntryKind;

static const char *const kind_names[] = {"earn", "redeem", "adjust"};

/* One requested balance change, checked and ready to apply. */
typedef struct LedgerRequest
{
	EntryKind	kind;
	text	   *program;
	int64		customer_id;
	int64		points;			/* signed change the caller asked for */
	char	   *reason;
	char	   *reference;		/* NULL if none */
	char	   *idempotency_key;	/* NULL if none */
	char	   *actor;
	char	   *db_role;		/* the calling role, recorded unforgeably */
	bool		has_expires;
	TimestampTz expires_at;
	bool		has_pending;
	TimestampTz pending_until;
	bool		held;			/* a fraud check holds the points until review */
} LedgerRequest;

/* The member's locked account row. */
typedef struct AccountState
{
	char	   *status;
	int64		available;
	int64		pending;
	int64		lifetime_earned;
	int64		lifetime_redeemed;
	int64		last_entry_no;
	LoyaltyTierState tier;		/* an earning counts toward the member's tier */
	bool		has_fraud;		/* the account has the fraud columns */
	bool		fraud_changed;	/* write fraud below */
	FraudState	fraud;
	int64		last_flag_no;
	TimestampTz changed_at;		/* enrolment or the last profile change */
} AccountState;

#define APPLY_NARGS 24

/* Read an optional text argument, or NULL. */
static inline char *
OptionalLabel(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return LoyaltyLabel(PG_GETARG_TEXT_PP(argno), name, false);
}

/* Read an optional timestamptz argument that must lie in the future. */
static inline bool
OptionalFutureTime(FunctionCallInfo fcinfo, int argno, const char *name,
				   TimestampTz *result)
{
	TimestampTz ts;

	if (PG_ARGISNULL(argno))
		return false;
	ts = PG_GETARG_TIMESTAMPTZ(argno);
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite time", name),
				 errhint("Pass NULL for points that never expire.")));
	if (ts <= GetCurrentTransactionStartTimestamp())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be in the future", name),
				 errdetail("It is %s.", timestamptz_to_str(ts))));
	*result = ts;
	return true;
}

/* Read the common arguments (program, customer, points, reason) of a request. */
static void
ReadRequest(FunctionCallInfo fcinfo, EntryKind kind, LedgerRequest *req,
			const char *default_reason, int actor_arg)
{
	memset(req, 0, sizeof(*req));
	req->kind = kind;

	LoyaltyRequireArg(PG_ARGISNULL(0), "program");
	LoyaltyRequireArg(PG_ARGISNULL(1), "customer_id");
	LoyaltyRequireArg(PG_ARGISNULL(2), "points");
	req->program = PG_GETARG_TEXT_PP(0);
	req->customer_id = PG_GETARG_INT64(1);
	req->points = PG_GETARG_INT64(2);

	if (kind == ENTRY_ADJUST)
	{
		if (req->points == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("points must not be zero"),
					 errhint("A positive adjustment adds points, a negative one removes them.")));
		if (req->points == PG_INT64_MIN)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("points out of range")));
		LoyaltyRequireArg(PG_ARGISNULL(3), "reason");
	}
	else if (req->points <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("points must be positive"),
				 errdetail("Got %lld.", (long long) req->points)));

	if (PG_ARGISNULL(3))
		req->reason = pstrdup(default_reason);
	else
		req->reason = LoyaltyLabel(PG_GETARG_TEXT_PP(3), "reason", false);
	req->reference = OptionalLabel(fcinfo, 4, "reference");
	req->idempotency_key = OptionalLabel(fcinfo, 5, "idempotency_key");

	req->db_role = GetUserNameFromId(GetUserId(), false);
	if (PG_ARGISNULL(actor_arg))
		req->actor = req->db_role;
	else
		req->actor = LoyaltyLabel(PG_GETARG_TEXT_PP(actor_arg), "actor", false);
}

/* Lock the member's account row and read it, or raise unknown member. */
static void
LockAccount(int32 program_id, LedgerRequest *req, AccountState *acct)
{
	static SPIPlanPtr plans[2][2];
	bool		tiers = LoyaltyTierPolicyFor(program_id)->enabled;
	bool		fraud = LoyaltyHasFraud();
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		values[2];
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	Datum		qualifying;

	/* A database before its 0.3.0 update has no tier or fraud columns. */
	if (plans[tiers][fraud] == NULL)
		plans[tiers][fraud] = LoyaltyPreparePlan(psprintf(
								  "SELECT m.status, a.available, a.pending,"
								  " a.lifetime_earned, a.lifetime_redeemed, a.last_entry_no%s%s"
								  " FROM loyalty.account a"
								  " JOIN loyalty.member m"
								  "  ON m.customer_id OPERATOR(pg_catalog.=) a.customer_id"
								  "  AND m.program_id OPERATOR(pg_catalog.=) a.program_id"
								  " WHERE a.customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND a.program_id OPERATOR(pg_catalog.=) $2"
								  " FOR NO KEY UPDATE OF a FOR SHARE OF m",
								  tiers ? ", a.tier, a.qualifying" : ", NULL::text, NULL::text",
								  fraud ? ", a.fraud_state, a.last_flag_no,"
								  " GREATEST(m.enrolled_at, m.profile_changed_at)" : ""),
								  2, argtypes);
	values[0] = Int64GetDatum(req->customer_id);
	values[1] = Int32GetDatum(program_id);
	if (SPI_execute_plan(plans[tiers][fraud], values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "account lock failed");
	if (SPI_processed == 0)
		LoyaltyUnknownMember(req->customer_id, text_to_cstring(req->program));

	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	acct->status = SPI_getvalue(tuple, desc, 1);
	acct->available = DatumGetInt64(SPI_getbinval(tuple, desc, 2, &isnull));
	acct->pending = DatumGetInt64(SPI_getbinval(tuple, desc, 3, &isnull));
	acct->lifetime_earned = DatumGetInt64(SPI_getbinval(tuple, desc, 4, &isnull));
	acct->lifetime_redeemed = DatumGetInt64(SPI_getbinval(tuple, desc, 5, &isnull));
	acct->last_entry_no = DatumGetInt64(SPI_getbinval(tuple, desc, 6, &isnull));
	qualifying = tiers ? SPI_getbinval(tuple, desc, 8, &isnull) : (Datum) 0;
	LoyaltyTierInit(&acct->tier, program_id, tiers, tiers ? SPI_getvalue(tuple, desc, 7) : NULL,
					tiers && !isnull ? (LoyaltyWindow *) DatumGetPointer(qualifying) : NULL);
	acct->has_fraud = fraud;
	acct->fraud_changed = false;
	acct->last_flag_no = 0;
	if (fraud)
	{
		Datum		d = SPI_getbinval(tuple, desc, 9, &isnull);

		LoyaltyFraudStateRead(&acct->fraud, d, isnull);
		acct->last_flag_no = DatumGetInt64(SPI_getbinval(tuple, desc, 10, &isnull));
		acct->changed_at = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 11, &isnull));
	}
}

/* Absolute value of a ledger amount (never PG_INT64_MIN: inputs exclude it). */
static inline int64
i64abs(int64 v)
{
	return v < 0 ? -v : v;
}

/*
 * Release the member's pending points whose return window has passed, so
 * they can be spent now even if the release job has not run yet.  The
 * account row is locked; re-read it afterwards.
 */
static void
ReleaseDuePoints(int32 program_id, LedgerRequest *req, AccountState *acct)
{
	static SPIPlanPtr probe = NULL;
	static SPIPlanPtr release = NULL;
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		values[2];

	/*
	 * The pending lots hold exactly the pending balance (verify() checks
	 * it): with none pending there is nothing to release, and no need to
	 * look through every lot of the member.
	 */
	if (acct->pending <= 0)
		return;
	if (probe == NULL)
		probe = LoyaltyPreparePlan(
								   "SELECT 1 FROM loyalty.lot"
								   " WHERE customer_id OPERATOR(pg_catalog.=) $1"
								   "  AND program_id OPERATOR(pg_catalog.=) $2"
								   "  AND remaining OPERATOR(pg_catalog.>) 0 AND pending"
								   "  AND available_at OPERATOR(pg_catalog.<=) pg_catalog.now()"
								   " LIMIT 1",
								   2, argtypes);
	values[0] = Int64GetDatum(req->customer_id);
	values[1] = Int32GetDatum(program_id);
	if (SPI_execute_plan(probe, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pending lot probe failed");
	if (SPI_processed == 0)
		return;

	if (release == NULL)
		release = LoyaltyPreparePlan(
									 "SELECT loyalty.release_member($1, $2, pg_catalog.now(),"
									 " 'loyalty (before spending)')",
									 2, argtypes);
	if (SPI_execute_plan(release, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "release of due points failed");
	LockAccount(program_id, req, acct);
}

/*
 * Look up an earlier entry with the same idempotency key.  Returns true and
 * the entry's row when the request repeats it exactly; raises a conflict
 * when the key was used for a different request; returns false when the
 * key is new.
 */
static bool
FindRepeatedRequest(int32 program_id, LedgerRequest *req, int64 signed_points, Datum *row)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[3] = {INT8OID, INT4OID, TEXTOID};
	Datum		values[3];
	HeapTuple	tuple;
	TupleDesc	desc;
	char	   *kind;
	char	   *reference;
	char	   *reason;
	int64		points;
	int64		pending_points;
	bool		isnull;

	if (req->idempotency_key == NULL)
		return false;
	if (plan == NULL)
		plan = LoyaltyPreparePlan(
								  "SELECT l, l.kind, l.points, l.pending_points, l.reference, l.reason"
								  " FROM loyalty.ledger l"
								  " WHERE l.customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND l.program_id OPERATOR(pg_catalog.=) $2"
								  "  AND l.idempotency_key OPERATOR(pg_catalog.=) $3",
								  3, argtypes);
	values[0] = Int64GetDatum(req->customer_id);
	values[1] = Int32GetDatum(program_id);
	values[2] = CStringGetTextDatum(req->idempotency_key);
	if (SPI_execute_plan(plan, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "idempotency lookup failed");
	if (SPI_processed == 0)
		return false;

	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	kind = SPI_getvalue(tuple, desc, 2);
	points = DatumGetInt64(SPI_getbinval(tuple, desc, 3, &isnull));
	pending_points = DatumGetInt64(SPI_getbinval(tuple, desc, 4, &isnull));
	reference = SPI_getvalue(tuple, desc, 5);
	reason = SPI_getvalue(tuple, desc, 6);

	if (strcmp(kind, kind_names[req->kind]) != 0 ||
		points + pending_points != signed_points ||
		!LoyaltySameText(reference, req->reference) ||
		!LoyaltySameText(reason, req->reason))
		ereport(ERROR,
				(errcode(ERRCODE_LOYALTY_IDEMPOTENCY_CONFLICT),
				 errmsg("idempotency key \"%s\" was already used for a different request",
						req->idempotency_key),
				 errdetail("It was used for %s of %lld points (reason \"%s\", reference \"%s\").",
						   kind, (long long) i64abs(points + pending_points), reason,
						   reference ? reference : ""),
				 errhint("Use a new key for a new request, or repeat the original request unchanged.")));
	*row = SPI_getbinval(tuple, desc, 1, &isnull);
	return true;
}

/* What a request does to the member's account, worked out before writing. */
typedef struct BalanceChange
{
	int64		entry_no;		/* of the new ledger entry */
	int64		available;		/* the balances after the change */
	int64		pending;
	int64		earned;
	int64		redeemed;
	int64		delta_available;	/* the entry's points and pending points */
	int64		delta_pending;
	int64		spend;			/* taken from the lots */
	int64		lot_points;		/* of the new lot, if any */
	int64		lot_remaining;
	bool		lot_pending;
} BalanceChange;

/* Work out the change of a request; raises insufficient points. */
static void
ComputeChange(LedgerRequest *req, AccountState *acct, BalanceChange *c)
{
	memset(c, 0, sizeof(*c));
	if (acct->last_entry_no == PG_INT64_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("member has reached the largest number of ledger entries")));
	c->entry_no = acct->last_entry_no + 1;
	c->available = acct->available;
	c->pending = acct->pending;
	c->earned = acct->lifetime_earned;
	c->redeemed = acct->lifetime_redeemed;

	if (req->kind == ENTRY_REDEEM || (req->kind == ENTRY_ADJUST && req->points < 0))
	{
		c->spend = req->kind == ENTRY_REDEEM ? req->points : -req->points;
		if (c->available < c->spend)
			ereport(ERROR,
					(errcode(ERRCODE_LOYALTY_INSUFFICIENT_POINTS),
					 errmsg("insufficient points: %lld available, %lld requested",
							(long long) c->available, (long long) c->spend),
					 c->pending > 0 ?
					 errdetail("Pending points (%lld) cannot be spent until they are released.",
							   (long long) c->pending) : 0));
		c->delta_available = -c->spend;
		c->available -= c->spend;
		if (req->kind == ENTRY_REDEEM)
			c->redeemed = LoyaltyAddPoints(c->redeemed, c->spend, "lifetime redeemed points");
	}
	else if (req->has_pending || req->held)
	{
		/*
		 * Pending points are spendable at pending_until; points a fraud check
		 * holds have no release time (available_at NULL) until review()
		 * releases them, which then keeps pending_until (the flag's
		 * release_at).
		 */
		LoyaltyCheckNewTotal(c->available, c->pending, req->points);
		c->delta_pending = req->points;
		c->pending = LoyaltyAddPoints(c->pending, req->points, "the pending balance");
		c->earned = LoyaltyAddPoints(c->earned, req->points, "lifetime earned points");
		c->lot_points = c->lot_remaining = req->points;
		c->lot_pending = req->has_pending && !req->held;
	}
	else
	{
		LoyaltyCheckNewTotal(c->available, c->pending, req->points);
		c->delta_available = req->points;
		c->lot_points = req->points;
		c->lot_remaining = LoyaltySpendableOfEarned(c->available, req->points);
		c->available = LoyaltyAddPoints(c->available, req->points, "the available balance");
		if (req->kind == ENTRY_EARN)
			c->earned = LoyaltyAddPoints(c->earned, req->points, "lifetime earned points");
	}
}

/*
 * Write an earning or a positive adjustment: the account, the new lot and
 * the ledger entry in one statement.  Returns the ledger row.
 */
static Datum
WriteEarning(int32 program_id, LedgerRequest *req, AccountState *acct, BalanceChange *c)
{
	static SPIPlanPtr plans[2][2];
	bool		tiers = acct->tier.enabled;
	bool		fraud = acct->has_fraud;
	static Oid	argtypes[APPLY_NARGS] = {
		INT8OID, INT4OID, INT8OID, INT8OID, INT8OID,	/* $1-$5 */
		INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID,	/* $6-$10 */
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID,	/* $11-$15 */
		INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID,	/* $16-$19 */
		TEXTOID, TEXTOID,		/* $20-$21 qualifying window, new tier */
		BOOLOID, BYTEAOID, INT8OID	/* $22-$24 held, fraud state, last flag */
	};
	Datum		values[APPLY_NARGS];
	char		nulls[APPLY_NARGS];
	bool		isnull;

	if (plans[tiers][fraud] == NULL)
		plans[tiers][fraud] = LoyaltyPreparePlan(psprintf(
								  "WITH acct AS ("
								  " UPDATE loyalty.account SET available = $4, pending = $5,"
								  "  lifetime_earned = $6, lifetime_redeemed = $7, last_entry_no = $3,"
								  "  last_activity_at = pg_catalog.now(), updated_at = pg_catalog.now()%s%s"
								  " WHERE customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND program_id OPERATOR(pg_catalog.=) $2),"
								  " new_lot AS ("
								  " INSERT INTO loyalty.lot (customer_id, program_id, lot_no, points,"
								  "  remaining, pending, earned_at, available_at, expires_at)"
								  " SELECT $1, $2, $3, $16, $17, $18 IS NOT NULL OR $22,"
								  "  pg_catalog.now(), $18, $15"
								  " WHERE $16 OPERATOR(pg_catalog.>) 0)"
								  " INSERT INTO loyalty.ledger AS e (customer_id, program_id, entry_no, kind,"
								  "  points, pending_points, available_after, pending_after, reason,"
								  "  reference, idempotency_key, actor, db_role, expires_at)"
								  " VALUES ($1, $2, $3, $10, $8, $9, $4, $5, $11, $12, $13, $14, $19, $15)"
								  " RETURNING e",
								  tiers ? TIER_SET_CLAUSE("$20", "$21") : "",
								  fraud ? ", fraud_state = COALESCE($23, fraud_state), last_flag_no = $24"
								  : ""),
								  APPLY_NARGS, argtypes);

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(req->customer_id);
	values[1] = Int32GetDatum(program_id);
	values[2] = Int64GetDatum(c->entry_no);
	values[3] = Int64GetDatum(c->available);
	values[4] = Int64GetDatum(c->pending);
	values[5] = Int64GetDatum(c->earned);
	values[6] = Int64GetDatum(c->redeemed);
	values[7] = Int64GetDatum(c->delta_available);
	values[8] = Int64GetDatum(c->delta_pending);
	values[9] = CStringGetTextDatum(kind_names[req->kind]);
	values[10] = CStringGetTextDatum(req->reason);
	values[11] = req->reference ? CStringGetTextDatum(req->reference) : (Datum) 0;
	nulls[11] = req->reference ? ' ' : 'n';
	values[12] = req->idempotency_key ? CStringGetTextDatum(req->idempotency_key) : (Datum) 0;
	nulls[12] = req->idempotency_key ? ' ' : 'n';
	values[13] = CStringGetTextDatum(req->actor);
	values[14] = TimestampTzGetDatum(req->expires_at);
	nulls[14] = req->has_expires && c->lot_points > 0 ? ' ' : 'n';
	values[15] = Int64GetDatum(c->lot_points);
	values[16] = Int64GetDatum(c->lot_remaining);
	values[17] = TimestampTzGetDatum(req->pending_until);
	nulls[17] = c->lot_pending ? ' ' : 'n';
	values[18] = CStringGetTextDatum(req->db_role);
	/*
	 * Earned points count toward the tier, held ones once review() releases
	 * them; adjustments never.
	 */
	if (req->kind == ENTRY_EARN && !req->held)
		LoyaltyTierAddEarned(&acct->tier, GetCurrentTransactionStartTimestamp(), req->points);
	LoyaltyTierParams(&acct->tier, values, nulls, 19);
	values[21] = BoolGetDatum(req->held && c->lot_points > 0);
	values[22] = acct->fraud_changed ? LoyaltyFraudStateDatum(&acct->fraud) : (Datum) 0;
	nulls[22] = acct->fraud_changed ? ' ' : 'n';
	values[23] = Int64GetDatum(acct->last_flag_no);

	if (SPI_execute_plan(plans[tiers][fraud], values, nulls, false, 0) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "ledger write failed");
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
}

/* The columns a spending writes, numbered once per table definition. */
typedef enum SpendColumn
{
	A_AVAILABLE, A_LIFETIME_REDEEMED, A_LAST_ENTRY_NO, A_LAST_ACTIVITY_AT, A_UPDATED_AT,
	A_FRAUD_STATE, A_LAST_FLAG_NO,
	L_REMAINING, L_PENDING,
	E_CUSTOMER, E_PROGRAM, E_ENTRY_NO, E_KIND, E_POINTS, E_PENDING_POINTS,
	E_AVAILABLE_AFTER, E_PENDING_AFTER, E_REASON, E_REFERENCE, E_IDEMPOTENCY_KEY,
	E_ACTOR, E_DB_ROLE, E_CREATED_AT,
	NUM_SPEND_COLUMNS
} SpendColumn;

/* Tables before 0.3.0 lack the fraud columns. */
static const DirectColumnDef spend_columns[NUM_SPEND_COLUMNS] = {
	{LY_ACCOUNT, "available", false}, {LY_ACCOUNT, "lifetime_redeemed", false},
	{LY_ACCOUNT, "last_entry_no", false}, {LY_ACCOUNT, "last_activity_at", false},
	{LY_ACCOUNT, "updated_at", false}, {LY_ACCOUNT, "fraud_state", true},
	{LY_ACCOUNT, "last_flag_no", true},
	{LY_LOT, "remaining", false}, {LY_LOT, "pending", false},
	{LY_LEDGER, "customer_id", false}, {LY_LEDGER, "program_id", false},
	{LY_LEDGER, "entry_no", false}, {LY_LEDGER, "kind", false}, {LY_LEDGER, "points", false},
	{LY_LEDGER, "pending_points", false}, {LY_LEDGER, "available_after", false},
	{LY_LEDGER, "pending_after", false}, {LY_LEDGER, "reason", false},
	{LY_LEDGER, "reference", false}, {LY_LEDGER, "idempotency_key", false},
	{LY_LEDGER, "actor", false}, {LY_LEDGER, "db_role", false}, {LY_LEDGER, "created_at", false},
};

static AttrNumber spend_attnums[NUM_SPEND_COLUMNS];
static uint32 spend_attnums_generation = 0;

/* Set a column of the row being built for its table. */
static inline void
SetColumn(DirectWriter *w, SpendColumn col, Datum value)
{
	DirectSet(&w->tables[spend_columns[col].table], spend_attnums[col], value);
}

/* Take points from the member's spendable lots, oldest-expiring first; returns what they gave. */
static int64
SpendFromLots(DirectWriter *w, ScanKey member, int64 spend)
{
	DirectTable *lot = &w->tables[LY_LOT];
	int64		taken = 0;

	/*
	 * lot_spend_idx holds the lots with points left, in spending order
	 * (expires_at NULLS LAST, lot_no).  A lot emptied here leaves the index;
	 * only the last lot keeps points, and the walk ends with it.
	 */
	DirectWalk(lot, "lot_spend_idx", member, 2);
	while (taken < spend && DirectWalkNext(lot))
	{
		bool		isnull;
		int64		remaining = DatumGetInt64(slot_getattr(lot->found, spend_attnums[L_REMAINING],
														   &isnull));
		int64		take;

		if (remaining <= 0 ||
			DatumGetBool(slot_getattr(lot->found, spend_attnums[L_PENDING], &isnull)))
			continue;
		take = Min(remaining, spend - taken);
		DirectCopyFound(lot);
		SetColumn(w, L_REMAINING, Int64GetDatum(remaining - take));
		DirectUpdate(w, lot);
		taken += take;
	}
	return taken;
}

/*
 * Write a redemption or a negative adjustment without SPI: the account, the
 * lots it takes from and the ledger entry, through the direct writer (whose
 * checks and index predicates are compiled once per backend).  The account
 * row is locked already.  Returns the ledger row.
 */
static Datum
WriteSpending(int32 program_id, LedgerRequest *req, AccountState *acct, BalanceChange *c)
{
	DirectWriter *w;
	DirectTable *account;
	DirectTable *ledger;
	ScanKeyData keys[2];
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	int64		taken;
	Datum		row;

	/* What this transaction wrote through SPI so far is seen, and locked, below. */
	CommandCounterIncrement();
	w = DirectBegin();
	account = &w->tables[LY_ACCOUNT];
	ledger = &w->tables[LY_LEDGER];
	DirectResolveColumns(w, spend_columns, NUM_SPEND_COLUMNS, spend_attnums,
						 &spend_attnums_generation);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(req->customer_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(program_id));
	if (!DirectLock(account, keys, 2))
		elog(ERROR, "the locked account row of member %lld was not found",
			 (long long) req->customer_id);

	/* The lots must cover exactly what the balance said could be spent. */
	taken = SpendFromLots(w, keys, c->spend);
	if (taken != c->spend)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the member's lots do not cover the available balance"),
				 errdetail("Spending %lld points took %lld from lots.",
						   (long long) c->spend, (long long) taken),
				 errhint("Run loyalty.verify() to find the inconsistency.")));

	/* Redemptions leave the tier alone; pending and earned points do not change. */
	DirectCopyFound(account);
	SetColumn(w, A_AVAILABLE, Int64GetDatum(c->available));
	SetColumn(w, A_LIFETIME_REDEEMED, Int64GetDatum(c->redeemed));
	SetColumn(w, A_LAST_ENTRY_NO, Int64GetDatum(c->entry_no));
	SetColumn(w, A_LAST_ACTIVITY_AT, TimestampTzGetDatum(now));
	SetColumn(w, A_UPDATED_AT, TimestampTzGetDatum(now));
	if (acct->fraud_changed)
		SetColumn(w, A_FRAUD_STATE, LoyaltyFraudStateDatum(&acct->fraud));
	if (acct->has_fraud)
		SetColumn(w, A_LAST_FLAG_NO, Int64GetDatum(acct->last_flag_no));
	DirectUpdate(w, account);

	DirectNewRow(ledger);
	SetColumn(w, E_CUSTOMER, Int64GetDatum(req->customer_id));
	SetColumn(w, E_PROGRAM, Int32GetDatum(program_id));
	SetColumn(w, E_ENTRY_NO, Int64GetDatum(c->entry_no));
	SetColumn(w, E_KIND, CStringGetTextDatum(kind_names[req->kind]));
	SetColumn(w, E_POINTS, Int64GetDatum(c->delta_available));
	SetColumn(w, E_PENDING_POINTS, Int64GetDatum(c->delta_pending));
	SetColumn(w, E_AVAILABLE_AFTER, Int64GetDatum(c->available));
	SetColumn(w, E_PENDING_AFTER, Int64GetDatum(c->pending));
	SetColumn(w, E_REASON, CStringGetTextDatum(req->reason));
	if (req->reference)
		SetColumn(w, E_REFERENCE, CStringGetTextDatum(req->reference));
	if (req->idempotency_key)
		SetColumn(w, E_IDEMPOTENCY_KEY, CStringGetTextDatum(req->idempotency_key));
	SetColumn(w, E_ACTOR, CStringGetTextDatum(req->actor));
	SetColumn(w, E_DB_ROLE, CStringGetTextDatum(req->db_role));
	SetColumn(w, E_CREATED_AT, TimestampTzGetDatum(now));
	DirectInsert(w, ledger);
	row = ExecFetchSlotHeapTupleDatum(ledger->row);
	DirectEnd(w);
	return row;
}

/* Apply one checked request as the extension owner and return its ledger row. */
static Datum
RunRequest(FunctionCallInfo fcinfo, LedgerRequest *req)
{
	LoyaltyUserSwitch sw;
	AccountState acct;
	int32		program_id;
	Datum		result;
	int64		signed_points;
	BalanceChange change;
	const FraudRules *rules = NULL;
	FraudHit	hits[FRAUD_MAX_HITS];
	int			nhits = 0;
	int64		first_flag = 0;

	signed_points = req->kind == ENTRY_REDEEM ? -req->points : req->points;

	LoyaltyBecomeOwner(&sw);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	program_id = LoyaltyLookupProgram(req->program);
	LockAccount(program_id, req, &acct);

	if (!FindRepeatedRequest(program_id, req, signed_points, &result))
	{
		if (req->kind == ENTRY_REDEEM || (req->kind == ENTRY_ADJUST && req->points < 0))
			ReleaseDuePoints(program_id, req, &acct);
		/* Due points expire first: not spent, and not revived by new activity. */
		if (LoyaltyExpireDue(program_id, req->customer_id, "loyalty (before a change)"))
			LockAccount(program_id, req, &acct);
		if (strcmp(acct.status, "active") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_LOYALTY_MEMBER_NOT_ACTIVE),
					 errmsg("member %lld in program \"%s\" is %s",
							(long long) req->customer_id, text_to_cstring(req->program), acct.status),
					 errdetail("A %s member cannot earn or redeem points.", acct.status),
					 errhint("Reactivate the member with loyalty.set_member_status() first.")));
		/*
		 * An earning without an expiry date of its own gets the program's,
		 * counted from when its points become available (pending_until).
		 */
		if (req->kind == ENTRY_EARN && !req->has_expires)
			req->has_expires = LoyaltyLotExpiry(program_id,
												req->has_pending ? req->pending_until :
												GetCurrentTransactionStartTimestamp(),
												&req->expires_at);
		/* The fraud checks: reject raises before anything is written. */
		if (acct.has_fraud && req->kind != ENTRY_ADJUST &&
			(rules = LoyaltyFraudRulesFor(program_id)) != NULL)
		{
			TimestampTz now = GetCurrentTransactionStartTimestamp();

			if (req->kind == ENTRY_EARN)
				nhits = LoyaltyFraudOnEarn(rules, &acct.fraud, now, req->points, hits);
			else
				nhits = LoyaltyFraudOnRedeem(rules, &acct.fraud, now, req->points,
											 acct.changed_at, hits);
			LoyaltyFraudReject(hits, nhits, req->kind == ENTRY_EARN ? "earning" : "redemption");
			req->held = req->kind == ENTRY_EARN && LoyaltyFraudHolds(hits, nhits);
			acct.fraud_changed = true;
			first_flag = acct.last_flag_no + 1;
			acct.last_flag_no = LoyaltyAddPoints(acct.last_flag_no, nhits, "the flag number");
		}
		ComputeChange(req, &acct, &change);
		if (change.spend > 0)
			result = WriteSpending(program_id, req, &acct, &change);
		else
			result = WriteEarning(program_id, req, &acct, &change);
	}
	/* The whole ledger row: copy it out of SPI memory. */
	result = SPI_datumTransfer(result, false, -1);
	/* After the copy: the flags' and events' inserts replace SPI_tuptable. */
	for (int i = 0; i < nhits; i++)
	{
		/* One hold per earning: the first holding check holds, the rest flag. */
		bool		hold = req->held && hits[i].action != 'f' && !LoyaltyFraudHolds(hits, i);
		int64		entry_no = acct.last_entry_no + 1;

		LoyaltyFraudRecord(program_id, req->customer_id, first_flag + i, &hits[i], hold,
						   req->reference ? req->reference :
						   psprintf("entry %lld", (long long) entry_no),
						   0, NULL, entry_no, entry_no, req->points, req->has_pending,
						   req->pending_until);
	}
	if (LoyaltyTierMoved(&acct.tier))
		LoyaltyTierChanged(program_id, req->customer_id, acct.tier.tier_before,
						   acct.tier.tier, "qualified");

	SPI_finish();
	LoyaltyRestoreUser(&sw);
	return result;
}

/*
 * earn(program, customer_id, points, reason, reference, idempotency_key,
 *		expires_at, pending_until, actor): add points to a member.
 */
Datum
loyalty_earn(PG_FUNCTION_ARGS)
{
	LedgerRequest req;

	ReadRequest(fcinfo, ENTRY_EARN, &req, "manual", 8);
	req.has_expires = OptionalFutureTime(fcinfo, 6, "expires_at", &req.expires_at);
	req.has_pending = OptionalFutureTime(fcinfo, 7, "pending_until", &req.pending_until);
	if (req.has_expires && req.has_pending && req.expires_at <= req.pending_until)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expires_at must be later than pending_until"),
				 errdetail("Points cannot expire before they become available.")));
	PG_RETURN_DATUM(RunRequest(fcinfo, &req));
}

/*
 * redeem(program, customer_id, points, reason, reference, idempotency_key,
 *		  actor): spend points, oldest-expiring first, never below zero.
 */
Datum
loyalty_redeem(PG_FUNCTION_ARGS)
{
	LedgerRequest req;

	ReadRequest(fcinfo, ENTRY_REDEEM, &req, "redemption", 6);
	PG_RETURN_DATUM(RunRequest(fcinfo, &req));
}

/*
 * adjust(program, customer_id, points, reason, reference, idempotency_key,
 *		  expires_at, actor): a staff correction, positive or negative.
 */
Datum
loyalty_adjust(PG_FUNCTION_ARGS)
{
	LedgerRequest req;

	ReadRequest(fcinfo, ENTRY_ADJUST, &req, NULL, 7);
	req.has_expires = OptionalFutureTime(fcinfo, 6, "expires_at", &req.expires_at);
	if (req.has_expires && req.points < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expires_at applies only to a positive adjustment")));
	PG_RETURN_DATUM(RunRequest(fcinfo, &req));
}

/* balance(program, customer_id): the member's balances, read in O(1). */
Datum
loyalty_balance(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plans[2];
	SPIPlanPtr	plan;
	bool		has_expiry;
	Oid			argtypes[2] = {INT8OID, INT4OID};
	MemoryContext caller_cxt = CurrentMemoryContext;
	LoyaltyUserSwitch sw;
	text	   *program;
	int64		customer_id;
	int32		program_id;
	Datum		values[2];
	TupleDesc	result_desc;
	HeapTuple	result;
	MemoryContext old;
	Datum		cols[9];
	bool		nulls[9];

	LoyaltyRequireArg(PG_ARGISNULL(0), "program");
	LoyaltyRequireArg(PG_ARGISNULL(1), "customer_id");
	program = PG_GETARG_TEXT_PP(0);
	customer_id = PG_GETARG_INT64(1);
	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE ||
		result_desc->natts != 9)
		elog(ERROR, "loyalty.balance called in a wrong context");

	LoyaltyBecomeOwner(&sw);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	program_id = LoyaltyLookupProgram(program);
	/*
	 * As of now, whether or not the jobs have run: pending points whose
	 * return window has passed count as available, and points whose expiry
	 * has come (by date, or for inactivity) as expired.  A database not yet
	 * updated to 0.3.0 has no expiry.
	 */
	has_expiry = LoyaltyHasExpiry();
	if (plans[has_expiry] == NULL)
		plans[has_expiry] = LoyaltyPreparePlan(psprintf(
								  "SELECT m.customer_id, m.status,"
								  " a.available OPERATOR(pg_catalog.+) d.due OPERATOR(pg_catalog.-) d.gone,"
								  " a.pending OPERATOR(pg_catalog.-) d.due,"
								  " a.lifetime_earned, a.lifetime_redeemed,"
								  " a.lifetime_expired OPERATOR(pg_catalog.+) d.gone,"
								  " a.last_activity_at"
								  " FROM loyalty.account a"
								  " CROSS JOIN LATERAL (SELECT"
								  "  COALESCE(pg_catalog.sum(l.remaining) FILTER (WHERE l.pending), 0)::bigint AS due,"
								  "  COALESCE(pg_catalog.sum(l.remaining) FILTER (WHERE %s), 0)::bigint AS gone"
								  "  FROM loyalty.lot l"
								  "  WHERE l.customer_id OPERATOR(pg_catalog.=) a.customer_id"
								  "   AND l.program_id OPERATOR(pg_catalog.=) a.program_id"
								  "   AND l.remaining OPERATOR(pg_catalog.>) 0"
								  "   AND (NOT l.pending OR l.available_at OPERATOR(pg_catalog.<=) pg_catalog.now())) d"
								  " JOIN loyalty.member m"
								  "  ON m.customer_id OPERATOR(pg_catalog.=) a.customer_id"
								  "  AND m.program_id OPERATOR(pg_catalog.=) a.program_id"
								  " WHERE a.customer_id OPERATOR(pg_catalog.=) $1"
								  "  AND a.program_id OPERATOR(pg_catalog.=) $2",
								  has_expiry ?
								  "l.expires_at OPERATOR(pg_catalog.<=) pg_catalog.now()"
								  " OR (SELECT loyalty.inactivity_lapse(p, a.last_activity_at)"
								  "      OPERATOR(pg_catalog.<=) pg_catalog.now()"
								  "     FROM loyalty.program p"
								  "     WHERE p.program_id OPERATOR(pg_catalog.=) a.program_id)"
								  : "false"),
								  2, argtypes);
	plan = plans[has_expiry];
	values[0] = Int64GetDatum(customer_id);
	values[1] = Int32GetDatum(program_id);
	if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "balance lookup failed");
	if (SPI_processed == 0)
		LoyaltyUnknownMember(customer_id, text_to_cstring(program));

	old = MemoryContextSwitchTo(caller_cxt);
	cols[0] = PointerGetDatum(DatumGetTextPCopy(PointerGetDatum(program)));
	nulls[0] = false;
	for (int i = 1; i <= 8; i++)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i, &nulls[i]);

		/* status is the only by-reference column; copy it out of SPI memory */
		cols[i] = (i == 2 && !nulls[i]) ? PointerGetDatum(DatumGetTextPCopy(d)) : d;
	}
	result = heap_form_tuple(BlessTupleDesc(result_desc), cols, nulls);
	MemoryContextSwitchTo(old);

	SPI_finish();
	LoyaltyRestoreUser(&sw);
	PG_RETURN_DATUM(HeapTupleGetDatum(result));
}
