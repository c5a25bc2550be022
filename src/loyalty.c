/*
 * loyalty.c
 *		Module entry point and helpers shared by the loyalty C functions.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "loyalty.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Reserve the loyalty.* GUC prefix for this extension. */
void
_PG_init(void)
{
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("loyalty");
#else
	EmitWarningsOnPlaceholders("loyalty");
#endif
}

#if PG_VERSION_NUM < 150000 || defined(LOYALTY_OLD_SRF)
/*
 * What InitMaterializedSRF(fcinfo, 0) does on PostgreSQL 15: check that the
 * caller takes a materialized set, and give it a tuplestore and a copy of
 * the function's row type, both in the query's memory.
 */
void
LoyaltyInitSRF(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old;
	TupleDesc	tupdesc;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialize mode required, but it is not allowed in this context")));
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0,
											  false, work_mem);
	rsinfo->setDesc = CreateTupleDescCopy(tupdesc);
	MemoryContextSwitchTo(old);
}
#endif

/* Whether a numeric is below zero, against a zero made once per backend. */
bool
NumIsNegative(Numeric n)
{
	static Numeric zero = NULL;

	if (zero == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		zero = NumFromInt64(0);
		MemoryContextSwitchTo(old);
	}
	return NumCmp(n, zero) < 0;
}

/*
 * Run as the extension owner, like SECURITY DEFINER but without a per-call
 * search_path change: every query these functions run is fully qualified.
 * An error restores the caller through transaction abort.
 */
void
LoyaltyBecomeOwner(LoyaltyUserSwitch *sw)
{
	Oid			owner = LoyaltyDataOwner();

	GetUserIdAndSecContext(&sw->saved_userid, &sw->saved_sec_context);
	SetUserIdAndSecContext(owner,
						   sw->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

/* Return to the caller's identity after LoyaltyBecomeOwner. */
void
LoyaltyRestoreUser(LoyaltyUserSwitch *sw)
{
	SetUserIdAndSecContext(sw->saved_userid, sw->saved_sec_context);
}

/*
 * Prepare a plan once and keep it for the life of the backend.  The plan is
 * generic: every query here looks up one member by key, so re-planning for
 * each call's parameter values (plancache's custom plans) would only cost.
 */
SPIPlanPtr
LoyaltyPreparePlan(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

/* Raise a clear error when a required argument is NULL. */
void
LoyaltyRequireArg(bool isnull, const char *name)
{
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
}

/*
 * An amount as text for a message or an accrual problem's detail: exact
 * while short, in scientific notation when it has too many digits to read.
 */
char *
LoyaltyAmountText(Numeric amount)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(amount)));

	return strlen(s) <= 40 ? s : numeric_out_sci(amount, 6);
}

/* Add points, raising numeric_value_out_of_range naming the total that overflows. */
int64
LoyaltyAddPoints(int64 a, int64 b, const char *what)
{
	int64		result;

	if (pg_add_s64_overflow(a, b, &result))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s would exceed the largest number of points", what),
				 errdetail("The limit is %lld points.", (long long) PG_INT64_MAX)));
	return result;
}

/*
 * Whether a member whose account holds available, pending and
 * lifetime_earned points can earn points more: neither the total balance
 * (available + pending), nor pending (where the points may go), nor the
 * lifetime earned points may pass the largest number of points.  When one
 * would, *what names the first of them (LOYALTY_PAST_BALANCE, "pending
 * points" or "lifetime earned points").
 */
bool
LoyaltyTotalFits(int64 available, int64 pending, int64 lifetime_earned, int64 points,
				 const char **what)
{
	int64		sum;

	if (pg_add_s64_overflow(available, pending, &sum) ||
		pg_add_s64_overflow(sum, points, &sum))
		*what = LOYALTY_PAST_BALANCE;
	else if (pg_add_s64_overflow(pending, points, &sum))
		*what = "pending points";
	else if (pg_add_s64_overflow(lifetime_earned, points, &sum))
		*what = "lifetime earned points";
	else
		return true;
	return false;
}

/*
 * Raise if earning points would take available + pending past the int64
 * limit.  The balance alone: the pending or lifetime earned points a credit
 * adds to raise where they are added (LoyaltyAddPoints), naming themselves.
 */
void
LoyaltyCheckNewTotal(int64 available, int64 pending, int64 points)
{
	const char *what;

	if (LoyaltyTotalFits(available, pending, 0, points, &what) ||
		strcmp(what, LOYALTY_PAST_BALANCE) != 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("the total balance would exceed the largest number of points"),
			 errdetail("The member holds %lld available and %lld pending points; %lld more pass the limit of %lld.",
					   (long long) available, (long long) pending, (long long) points,
					   (long long) PG_INT64_MAX),
			 errhint("Add fewer points, or redeem or adjust some away first.")));
}

/* Raise the unknown-program error (LY001). */
void
LoyaltyUnknownProgram(const char *code)
{
	ereport(ERROR,
			(errcode(ERRCODE_LOYALTY_UNKNOWN_PROGRAM),
			 errmsg("unknown loyalty program \"%s\"", code),
			 errhint("Create it with loyalty.create_program(), or check the program code.")));
	pg_unreachable();
}

/* Raise the unknown-member error (LY002). */
void
LoyaltyUnknownMember(int64 customer_id, const char *program)
{
	ereport(ERROR,
			(errcode(ERRCODE_LOYALTY_UNKNOWN_MEMBER),
			 errmsg("unknown member %lld in program \"%s\"", (long long) customer_id, program),
			 errhint("Enroll the customer first with loyalty.enroll().")));
	pg_unreachable();
}

/* Return a reason, reference or key as a C string, checking its length. */
char *
LoyaltyLabel(text *value, const char *name, bool allow_empty)
{
	char	   *s = text_to_cstring(value);
	size_t		len = strlen(s);

	if (!allow_empty && strspn(s, " \t\r\n") == len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", name),
				 errdetail("It is empty or only white space.")));
	if (len > LOYALTY_MAX_LABEL)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s is too long", name),
				 errdetail("It has %zu bytes; the limit is %d.", len, LOYALTY_MAX_LABEL)));
	return s;
}

/* Map a program code to its id, or raise unknown program; SPI must be connected. */
int32
LoyaltyLookupProgram(text *code)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	int32		program_id;

	if (plan == NULL)
		plan = LoyaltyPreparePlan("SELECT program_id FROM loyalty.program"
								  " WHERE code OPERATOR(pg_catalog.=) $1",
								  1, argtypes);
	values[0] = PointerGetDatum(code);
	if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "program lookup failed");
	if (SPI_processed == 0)
		LoyaltyUnknownProgram(text_to_cstring(code));
	program_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
	return program_id;
}
