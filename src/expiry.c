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
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "loyalty.h"

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
