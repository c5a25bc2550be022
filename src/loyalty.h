/*
 * loyalty.h
 *		Shared declarations for the loyalty extension.
 */
#ifndef LOYALTY_H
#define LOYALTY_H

#include "postgres.h"

#include "executor/spi.h"

/*
 * SQLSTATEs of class LY: loyalty-specific errors an application can catch.
 * They are part of the API; never renumber them.
 */
#define ERRCODE_LOYALTY_UNKNOWN_PROGRAM		MAKE_SQLSTATE('L','Y','0','0','1')
#define ERRCODE_LOYALTY_UNKNOWN_MEMBER		MAKE_SQLSTATE('L','Y','0','0','2')
#define ERRCODE_LOYALTY_MEMBER_NOT_ACTIVE	MAKE_SQLSTATE('L','Y','0','0','3')
#define ERRCODE_LOYALTY_INSUFFICIENT_POINTS MAKE_SQLSTATE('L','Y','0','0','4')
#define ERRCODE_LOYALTY_IDEMPOTENCY_CONFLICT MAKE_SQLSTATE('L','Y','0','0','5')
#define ERRCODE_LOYALTY_LEDGER_IMMUTABLE	MAKE_SQLSTATE('L','Y','0','0','6')

/* Longest reason, reference, idempotency key or actor accepted, in bytes. */
#define LOYALTY_MAX_LABEL	200

/* Saved caller identity while running as the extension owner. */
typedef struct LoyaltyUserSwitch
{
	Oid			saved_userid;
	int			saved_sec_context;
} LoyaltyUserSwitch;

extern void LoyaltyBecomeOwner(LoyaltyUserSwitch *sw);
extern void LoyaltyRestoreUser(LoyaltyUserSwitch *sw);
extern SPIPlanPtr LoyaltyPreparePlan(const char *sql, int nargs, Oid *argtypes);
extern int32 LoyaltyLookupProgram(text *code);
extern void LoyaltyRequireArg(bool isnull, const char *name);
extern void LoyaltyUnknownProgram(const char *code) pg_attribute_noreturn();
extern void LoyaltyUnknownMember(int64 customer_id, const char *program) pg_attribute_noreturn();
extern char *LoyaltyLabel(text *value, const char *name, bool allow_empty);

/* points.c */
struct NumericData;
extern int64 LoyaltyPointsForAmount(struct NumericData *amount, int64 earn_points,
									 struct NumericData *earn_per, const char *rounding);

#endif							/* LOYALTY_H */
