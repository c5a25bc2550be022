/*
 * events.c
 *		The events outbox: the engine writes an event in the transaction of
 *		the change it reports (see sql/parts/82_events.sql).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "loyalty.h"

PG_FUNCTION_INFO_V1(loyalty_emit_event);

/*
 * Write one event to loyalty.event and return its event_id.  kind is one of
 * the kinds the table's check constraint lists; payload_json is the text of a
 * JSON value.  SPI must be connected; the caller runs as the extension owner
 * (or another role allowed to insert events).  The insert fires the
 * statement trigger that NOTIFYs loyalty_events at commit.
 */
int64
LoyaltyEmitEvent(int32 program_id, int64 customer_id, const char *kind,
				 const char *payload_json)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[4] = {INT4OID, INT8OID, TEXTOID, TEXTOID};
	Datum		values[4];
	bool		isnull;
	Datum		event_id;

	if (kind == NULL || payload_json == NULL)
		elog(ERROR, "LoyaltyEmitEvent needs a kind and a payload");
	if (plan == NULL)
		plan = LoyaltyPreparePlan("INSERT INTO loyalty.event"
								  " (program_id, customer_id, kind, payload)"
								  " VALUES ($1, $2, $3, $4::pg_catalog.jsonb)"
								  " RETURNING event_id",
								  4, argtypes);
	values[0] = Int32GetDatum(program_id);
	values[1] = Int64GetDatum(customer_id);
	values[2] = CStringGetTextDatum(kind);
	values[3] = CStringGetTextDatum(payload_json);
	/*
	 * No row limit: with one, the executor stops at the first RETURNING row
	 * and never reaches the end of the INSERT, where the AFTER STATEMENT
	 * trigger (the NOTIFY) is queued.
	 */
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "event insert failed");
	event_id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return DatumGetInt64(event_id);
}

/* emit_event(program_id, customer_id, kind, payload): LoyaltyEmitEvent from SQL. */
Datum
loyalty_emit_event(PG_FUNCTION_ARGS)
{
	Jsonb	   *payload;
	char	   *kind;
	char	   *payload_json;
	int64		event_id;

	LoyaltyRequireArg(PG_ARGISNULL(0), "program_id");
	LoyaltyRequireArg(PG_ARGISNULL(1), "customer_id");
	LoyaltyRequireArg(PG_ARGISNULL(2), "kind");
	LoyaltyRequireArg(PG_ARGISNULL(3), "payload");
	kind = text_to_cstring(PG_GETARG_TEXT_PP(2));
	payload = PG_GETARG_JSONB_P(3);
	payload_json = JsonbToCString(NULL, &payload->root, VARSIZE(payload));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	event_id = LoyaltyEmitEvent(PG_GETARG_INT32(0), PG_GETARG_INT64(1), kind, payload_json);
	SPI_finish();
	PG_RETURN_INT64(event_id);
}
