/*
 * points.c
 *		Exact conversion of a purchase amount into points.
 *
 * A program earns earn_points per earn_per of currency.  The number of
 * earn_per blocks in an amount is rounded by the program's rule, using
 * numeric integer division only, so no floating point ever touches money:
 *
 *	floor		complete blocks only (10 per 100,000: 250,000 earns 20)
 *	half_up		nearest block, halves up (250,000 earns 30)
 *	ceiling		any started block counts (200,001 earns 30)
 *	proportional	floor(amount * earn_points / earn_per) (250,000 earns 25)
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "loyalty.h"

PG_FUNCTION_INFO_V1(loyalty_points_for);

/* Reject NaN, infinite and negative amounts with a clear error. */
static inline void
CheckAmount(Numeric amount)
{
	if (numeric_is_nan(amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must be a finite number"),
				 errdetail("Got NaN.")));
#if PG_VERSION_NUM >= 140000
	if (numeric_is_inf(amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must be a finite number"),
				 errdetail("Got %s.", NumCmp(amount, NumFromInt64(0)) < 0 ? "-Infinity" : "Infinity")));
#endif
	if (NumIsNegative(amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must not be negative"),
				 errhint("Refunds claw back points; they are not negative purchases.")));
}

/*
 * Points for a nonnegative amount under a rate and rounding rule.  Raises
 * numeric_value_out_of_range when the result does not fit in bigint.
 */
/* Whether a non-negative numeric exceeds the largest int64, against a bound made once. */
static bool
NumTooBigForPoints(Numeric n)
{
	static Numeric max = NULL;

	if (max == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		max = NumFromInt64(PG_INT64_MAX);
		MemoryContextSwitchTo(old);
	}
	return NumCmp(n, max) > 0;
}

/*
 * The points of amount at a program's base rate into *points; false (and
 * *points 0) when they do not fit in a balance.
 */
bool
LoyaltyPointsForAmountFits(Numeric amount, int64 earn_points, Numeric earn_per,
						   const char *rounding, int64 *points)
{
	Numeric		points_n = NumFromInt64(earn_points);
	Numeric		blocks;
	Numeric		result;

	CheckAmount(amount);
	if (strcmp(rounding, "proportional") == 0)
		result = NumDivTrunc(NumMul(amount, points_n), earn_per);
	else
	{
		if (strcmp(rounding, "floor") == 0)
			blocks = NumDivTrunc(amount, earn_per);
		else if (strcmp(rounding, "half_up") == 0)
		{
			/* floor((amount + earn_per / 2) / earn_per), kept in integers */
			Numeric		two = NumFromInt64(2);

			blocks = NumDivTrunc(NumAdd(NumMul(amount, two), earn_per),
								 NumMul(earn_per, two));
		}
		else if (strcmp(rounding, "ceiling") == 0)
		{
			blocks = NumDivTrunc(amount, earn_per);
			if (NumCmp(NumMul(blocks, earn_per), amount) < 0)
				blocks = NumAdd(blocks, NumFromInt64(1));
		}
		else
			elog(ERROR, "unknown rounding rule \"%s\"", rounding);
		result = NumMul(blocks, points_n);
	}

	*points = 0;
	if (NumTooBigForPoints(result))
		return false;
	*points = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(result)));
	return true;
}

/* The points of amount at a program's base rate; an error when they do not fit. */
int64
LoyaltyPointsForAmount(Numeric amount, int64 earn_points, Numeric earn_per,
					   const char *rounding)
{
	int64		points;

	if (!LoyaltyPointsForAmountFits(amount, earn_points, earn_per, rounding, &points))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("amount earns more points than a balance can hold"),
				 errdetail("The limit is %lld points.", (long long) PG_INT64_MAX)));
	return points;
}

/* points_for(program, amount): the points a purchase of amount earns at base rate. */
Datum
loyalty_points_for(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {TEXTOID};
	LoyaltyUserSwitch sw;
	Datum		values[1];
	bool		isnull;
	HeapTuple	tuple;
	TupleDesc	desc;
	Numeric		amount;
	int64		earn_points;
	Numeric		earn_per;
	char	   *rounding;
	int64		result;

	LoyaltyRequireArg(PG_ARGISNULL(0), "program");
	LoyaltyRequireArg(PG_ARGISNULL(1), "amount");
	amount = PG_GETARG_NUMERIC(1);

	LoyaltyBecomeOwner(&sw);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (plan == NULL)
		plan = LoyaltyPreparePlan("SELECT earn_points, earn_per, rounding"
								  " FROM loyalty.program"
								  " WHERE code OPERATOR(pg_catalog.=) $1",
								  1, argtypes);
	values[0] = PG_GETARG_DATUM(0);
	if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "program lookup failed");
	if (SPI_processed == 0)
		LoyaltyUnknownProgram(TextDatumGetCString(values[0]));
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	earn_points = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
	earn_per = DatumGetNumeric(SPI_getbinval(tuple, desc, 2, &isnull));
	rounding = SPI_getvalue(tuple, desc, 3);

	result = LoyaltyPointsForAmount(amount, earn_points, earn_per, rounding);

	SPI_finish();
	LoyaltyRestoreUser(&sw);
	PG_RETURN_INT64(result);
}
