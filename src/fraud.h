/*-------------------------------------------------------------------------
 *
 * fraud.h
 *	  Fraud checks on the order and ledger paths: the per-member state kept
 *	  in account.fraud_state, the program's checks, and the flags.
 *
 * The state is a fixed-size value (a bytea on the account row, which every
 * balance change already locks and rewrites): orders per minute over the
 * last hour, points earned and redeemed and redemptions per hour over the
 * last day, the amounts and times of the last orders, order and refund
 * counts and the last redemption.  No check reads a member's history.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LOYALTY_FRAUD_H
#define LOYALTY_FRAUD_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/numeric.h"

#define FRAUD_STATE_VERSION 2
#define FRAUD_MINUTES		60	/* order_velocity: minute buckets */
#define FRAUD_HOURS			24	/* the daily checks: hour buckets */
#define FRAUD_RECENT		8	/* duplicate_order: the last orders */

/*
 * 424 bytes.  Counts saturate (a bucket that is full stays full), so the
 * thresholds they are compared with are bounded (fraud_check_kind).
 */
typedef struct FraudState
{
	int32		version;
	int32		recent_next;	/* next slot of recent_*[] to overwrite */
	int64		minute_end;		/* minute number of the newest minute bucket */
	int64		hour_end;		/* hour number of the newest hour bucket */
	int64		orders;			/* new orders seen since the checks were on */
	int64		refunds;		/* of these, refunded or deleted */
	TimestampTz last_redeemed_at;	/* 0: none seen */
	int32		earned[FRAUD_HOURS];	/* points earned; [hour % 24] */
	int32		redeemed[FRAUD_HOURS];	/* points redeemed; [hour % 24] */
	TimestampTz recent_at[FRAUD_RECENT];	/* the last orders' times */
	uint32		recent_hash[FRAUD_RECENT];	/* and the hashes of their amounts */
	uint8		redemptions[FRAUD_HOURS];	/* [hour % 24] */
	uint8		order_count[FRAUD_MINUTES]; /* orders; [minute % 60] */
} FraudState;

/* The checks of the order and ledger paths (the identity checks are SQL). */
typedef enum FraudCheck
{
	FC_ORDER_VELOCITY,
	FC_POINTS_PER_DAY,
	FC_REDEMPTIONS_PER_DAY,
	FC_REDEEMED_POINTS_PER_DAY,
	FC_DUPLICATE_ORDER,
	FC_RETURN_FARMING,
	FC_REFUND_AFTER_REDEEM,
	FC_ACCOUNT_TAKEOVER,
	FC_NUM_CHECKS
} FraudCheck;

typedef struct FraudRule
{
	bool		on;
	char		action;			/* f(lag), h(old) or r(eject) */
	int64		threshold;
	int64		threshold2;
	int64		within;			/* microseconds */
} FraudRule;

/* A program's checks, cached per backend. */
typedef struct FraudRules
{
	bool		any;			/* some check of the order or ledger paths is on */
	FraudRule	rule[FC_NUM_CHECKS];
} FraudRules;

/* One check that hit. */
typedef struct FraudHit
{
	FraudCheck	check;
	char		action;			/* as configured: f, h or r */
	int64		measured;
	int64		threshold;
	char	   *detail;			/* JSON object text, or NULL */
} FraudHit;

#define FRAUD_MAX_HITS FC_NUM_CHECKS

/* Whether the database has the fraud columns (0.3.0 on). */
extern bool LoyaltyHasFraud(void);

/* The program's checks, or NULL when none of the order and ledger paths is on.  SPI connected. */
extern const FraudRules *LoyaltyFraudRulesFor(int32 program_id);

extern const char *LoyaltyFraudCheckName(FraudCheck check);

/* Read a stored state (isnull: none yet), or start an empty one. */
extern void LoyaltyFraudStateRead(FraudState *s, Datum d, bool isnull);

/* The state as a bytea Datum, palloc'd in the current context. */
extern Datum LoyaltyFraudStateDatum(const FraudState *s);

/*
 * The checks of a new order (time, amount in the program currency, points):
 * records it in the state and returns the number of hits written to hits.
 */
extern int	LoyaltyFraudOnOrder(const FraudRules *r, FraudState *s, TimestampTz at,
								Numeric amount, int64 points, FraudHit *hits);

/*
 * The checks of an order refunded or deleted: ordered_at is its time,
 * counts whether it goes from active to refunded.
 */
extern int	LoyaltyFraudOnRefund(const FraudRules *r, FraudState *s, TimestampTz ordered_at,
								 bool counts, TimestampTz now, FraudHit *hits);

/* The checks of a manual earning of points at now. */
extern int	LoyaltyFraudOnEarn(const FraudRules *r, FraudState *s, TimestampTz now,
							   int64 points, FraudHit *hits);

/* The checks of a redemption at now; changed_at: enrolment or last profile change. */
extern int	LoyaltyFraudOnRedeem(const FraudRules *r, FraudState *s, TimestampTz now,
								 int64 points, TimestampTz changed_at, FraudHit *hits);

/* Whether any hit asks to hold (hold, or reject, which holds on the order path). */
extern bool LoyaltyFraudHolds(const FraudHit *hits, int nhits);

/* Raise LY011 for the first hit whose action is reject, if any. */
extern void LoyaltyFraudReject(const FraudHit *hits, int nhits, const char *what);

/*
 * Write one flag (numbered flag_no by the caller, under the account lock) and
 * its fraud_flagged event.  SPI connected, as the extension owner.
 */
extern void LoyaltyFraudRecord(int32 program_id, int64 customer_id, int64 flag_no,
							   const FraudHit *hit, bool hold, const char *reference,
							   int32 source_id, const char *order_key, int64 entry_no,
							   int64 lot_no, int64 held_points, bool has_release_at,
							   TimestampTz release_at);

#endif							/* LOYALTY_FRAUD_H */
