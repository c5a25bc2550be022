/*
 * loyalty.h
 *		Shared declarations for the loyalty extension.
 */
#ifndef LOYALTY_H
#define LOYALTY_H

#include "postgres.h"

#include "access/genam.h"
#include "access/skey.h"
#include "executor/execdesc.h"
#include "executor/spi.h"
#include "nodes/execnodes.h"
#include "utils/rel.h"
#include "utils/snapshot.h"
#include "lib/stringinfo.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "window.h"

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
#define ERRCODE_LOYALTY_UNKNOWN_RULE		MAKE_SQLSTATE('L','Y','0','0','7')
#define ERRCODE_LOYALTY_NOT_TRACKED			MAKE_SQLSTATE('L','Y','0','0','8')
#define ERRCODE_LOYALTY_CLAWBACK_BLOCKED	MAKE_SQLSTATE('L','Y','0','0','9')
#define ERRCODE_LOYALTY_UNKNOWN_TIER		MAKE_SQLSTATE('L','Y','0','1','0')
#define ERRCODE_LOYALTY_FRAUD_REJECTED		MAKE_SQLSTATE('L','Y','0','1','1')

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
extern Oid	LoyaltyRelationOfName(const char *name);

/* Exact numeric arithmetic over the fmgr interface (no floating point). */
static inline Numeric
NumAdd(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(a), NumericGetDatum(b)));
}

static inline Numeric
NumMul(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_mul, NumericGetDatum(a), NumericGetDatum(b)));
}

/* Integer quotient truncated toward zero: exact, unlike a rounded division. */
static inline Numeric
NumDivTrunc(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_div_trunc, NumericGetDatum(a), NumericGetDatum(b)));
}

static inline int
NumCmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

static inline Numeric
NumFromInt64(int64 v)
{
	return DatumGetNumeric(DirectFunctionCall1(int8_numeric, Int64GetDatum(v)));
}

/*
 * A set-returning function's tuplestore and descriptor, in materialize mode.
 * InitMaterializedSRF() came with PostgreSQL 15; before it, LoyaltyInitSRF
 * (loyalty.c) does the same by hand.  Building with -DLOYALTY_OLD_SRF
 * selects it on 15 too, to test it.
 */
#if PG_VERSION_NUM >= 150000 && !defined(LOYALTY_OLD_SRF)
#define LoyaltyInitSRF(fcinfo) InitMaterializedSRF((fcinfo), 0)
#else
extern void LoyaltyInitSRF(FunctionCallInfo fcinfo);
#endif

/* Whether a (finite or infinite) numeric is below zero. */
extern bool NumIsNegative(Numeric n);

/* An amount as text for a message: exact while short, else scientific. */
extern char *LoyaltyAmountText(Numeric amount);

/* Add points, raising numeric_value_out_of_range naming the total that overflows. */
extern int64 LoyaltyAddPoints(int64 a, int64 b, const char *what);

/* Whether two optional strings are equal: NULL equals NULL only. */
static inline bool
LoyaltySameText(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/*
 * Whether earning points more keeps the balance (available + pending),
 * pending and lifetime earned points within the largest number of points;
 * when not, *what names the first that would pass.
 */
#define LOYALTY_PAST_BALANCE "balance"
extern bool LoyaltyTotalFits(int64 available, int64 pending, int64 lifetime_earned,
							 int64 points, const char **what);

/* Raise if earning points would take available + pending past the int64 limit. */
extern void LoyaltyCheckNewTotal(int64 available, int64 pending, int64 points);

/* The part of newly earned points that can be spent: they repay a debt first. */
static inline int64
LoyaltySpendableOfEarned(int64 available, int64 points)
{
	return available < 0 ? Max(points + available, 0) : points;
}

/* direct.c: row access to the extension's own tables without SPI */
typedef enum LoyaltyTable
{
	LY_MEMBER,
	LY_ACCOUNT,
	LY_LOT,
	LY_LEDGER,
	LY_ORDER,					/* loyalty.order_accrual */
	LY_NUM_TABLES
} LoyaltyTable;

typedef struct DirectTable
{
	Relation	rel;
	ResultRelInfo *rri;
	TupleTableSlot *row;		/* the row being built for a write */
	TupleTableSlot *found;		/* the row the last DirectFind/DirectLock found */
	int			table;			/* which LoyaltyTable */
	Relation   *indexes;		/* every index (the member table: its primary key);
								 * NULL: a partial index not opened yet */
	Oid		   *index_oids;
	char	  **index_names;
	int			nindexes;
	Relation	pkey;			/* the primary key index, one of indexes */
	IndexScanDesc scan;			/* lookups by primary key */
	IndexScanDesc walk;			/* the walk of DirectWalk, or NULL */
	IndexScanDesc key_scan;		/* DirectKeysUnder's, or NULL */
	ScanKey		walk_keys;
	int			walk_nkeys;
	SnapshotData dirty;
} DirectTable;

typedef struct DirectWriter
{
	EState	   *estate;
	EPQState	epq;
	uint32		generation;		/* changes when the tables' definitions change */
	DirectTable tables[LY_NUM_TABLES];
} DirectWriter;

extern Oid	LoyaltyTableOid(LoyaltyTable which);
extern bool LoyaltyHasColumn(const char *table, const char *column);
extern Oid	LoyaltyDataOwner(void);
extern DirectWriter *DirectBegin(void);
extern void DirectEnd(DirectWriter *w);
extern AttrNumber DirectColumn(DirectTable *t, const char *name, bool missing_ok);

/* A column of a loyalty table that a direct writer reads or writes. */
typedef struct DirectColumnDef
{
	LoyaltyTable table;
	const char *name;
	bool		missing_ok;		/* absent before an update: InvalidAttrNumber */
} DirectColumnDef;

extern void DirectResolveColumns(DirectWriter *w, const DirectColumnDef *defs, int n,
								 AttrNumber *attnums, uint32 *generation);
extern bool DirectFind(DirectTable *t, ScanKey keys, int nkeys);
extern bool DirectKeysUnder(DirectTable *t, ScanKey keys, int nkeys, int limit,
							void (*visit) (Datum key, void *arg), void *arg);
extern bool DirectLock(DirectTable *t, ScanKey keys, int nkeys);
extern void DirectWalk(DirectTable *t, const char *index, ScanKey keys, int nkeys);
extern bool DirectWalkNext(DirectTable *t);
extern void DirectNewRow(DirectTable *t);
extern void DirectCopyFound(DirectTable *t);
extern void DirectInsert(DirectWriter *w, DirectTable *t);
extern void DirectUpdate(DirectWriter *w, DirectTable *t);
extern void DirectDelete(DirectWriter *w, DirectTable *t);

/* Set column attno of the row being built. */
static inline void
DirectSet(DirectTable *t, AttrNumber attno, Datum value)
{
	t->row->tts_values[attno - 1] = value;
	t->row->tts_isnull[attno - 1] = false;
}

/*
 * events.c: write one event to the outbox (loyalty.event) and return its
 * event_id; kind is tier_changed, points_expiring or points_expired and
 * payload_json the text of a JSON object.  SPI must be connected, running as
 * the extension owner.
 */
extern int64 LoyaltyEmitEvent(int32 program_id, int64 customer_id, const char *kind,
							  const char *payload_json);

/* points.c */
struct NumericData;
extern int64 LoyaltyPointsForAmount(struct NumericData *amount, int64 earn_points,
									 struct NumericData *earn_per, const char *rounding);
extern bool LoyaltyPointsForAmountFits(struct NumericData *amount, int64 earn_points,
									   struct NumericData *earn_per, const char *rounding,
									   int64 *points);

/* rules.c: the earning rules of a program, cached per backend */

/* The points of one order by rule, for callers that add orders up. */
#define EARN_MAX_COMPONENTS 64
typedef struct EarnComponents
{
	int			n;
	const char *rule[EARN_MAX_COMPONENTS];	/* rule names live in the rules cache */
	int64		points[EARN_MAX_COMPONENTS];
} EarnComponents;

/*
 * Whether an order gets the birthday bonus (rules.c step e), and whether it
 * did.  A member earns it at most once a year: the latest local year paid
 * is kept in account.birthday_bonus_year (src/accrual.c).
 */
typedef struct EarnBirthday
{
	char		rule;			/* 'm': in the birthday month of a year later
								 * than paid_year; 'a': always (a changed order
								 * that had it); 'n': never */
	bool		paid;			/* the member had a year's bonus: paid_year */
	int32		paid_year;
	bool		added;			/* out: the order got the bonus */
	int32		year;			/* out: when added, the order's local year */
} EarnBirthday;

/* What an order brings to the earning rules. */
typedef struct EarnContext
{
	int32		program_id;
	Numeric		amount;			/* in the program's currency, >= 0 */
	const char *channel;		/* NULL if the order has none */
	const char *category;		/* NULL if the order has none */
	TimestampTz ordered_at;
	const char *tier;			/* the member's tier before the order; NULL: none */
	bool		has_birthday;
	DateADT		birthday;
	bool		first_purchase; /* the member's first order in this program */
	EarnBirthday *birthday_bonus;	/* NULL: in the birthday month, every order
									 * (quote) */
	EarnComponents *components; /* when not NULL, filled with the non-zero components */
	bool	   *overflowed;		/* when not NULL, set (and 0 returned) instead of an
								 * error when the points do not fit in a balance */
} EarnContext;

/*
 * Points an order earns under the program's rules.  When detail is not NULL,
 * appends a JSON array of the components that produced the points, e.g.
 * [{"rule":"base","points":20},{"rule":"double weekend","points":20}].
 * SPI must be connected (the rules are loaded through it on a cache miss).
 */
extern int64 LoyaltyComputeEarn(const EarnContext *ctx, StringInfo detail);

/* Whether the program has a birthday bonus rule (its cached rules; SPI connected). */
extern bool LoyaltyHasBirthdayBonus(int32 program_id);

/* When points a program's member earns at earned_at expire; false: not by date. */
extern bool LoyaltyLotExpiry(int32 program_id, TimestampTz earned_at, TimestampTz *expires_at);
extern bool LoyaltyLapsed(int32 program_id, TimestampTz last_activity_at, TimestampTz now);
extern bool LoyaltyHasExpiry(void);

/* expiry.c: expire a locked member's due points before they change; true if any */
extern bool LoyaltyExpireDue(int32 program_id, int64 customer_id, const char *actor);

/*
 * Tiers.  rules.c caches each program's tier policy and tiers with its
 * rules; tier.c keeps a member's qualifying totals and upgrades them.
 */

/* Months of qualifying amounts every account.qualifying keeps. */
#define LOYALTY_QUALIFYING_MONTHS	LOYALTY_WINDOW_MAX_MONTHS

/* One tier of a program. */
typedef struct LoyaltyTierDef
{
	char	   *code;
	bool		reachable;		/* false: the threshold is beyond every total */
	int64		need;			/* the threshold in qualifying units, rounded up */
} LoyaltyTierDef;

/* How a program's members qualify, and its tiers. */
typedef struct LoyaltyTierPolicy
{
	bool		enabled;		/* the database has tiers (0.3.0 on) */
	char		basis;			/* p(oints), s(pend) or o(rders) */
	bool		calendar_year;	/* else rolling over months */
	int32		months;
	int64		spend_scale;	/* 10 ^ the currency's minor units */
	char	   *time_zone;
	int			ntiers;
	LoyaltyTierDef *tiers;		/* lowest threshold first */
} LoyaltyTierPolicy;

/*
 * The tier policy of a program, from the rules cache: valid until the next
 * call into the rules (which may reload them).  SPI must be connected.
 */
extern const LoyaltyTierPolicy *LoyaltyTierPolicyFor(int32 program_id);
extern bool LoyaltyHasTiers(void);

/* A member's tier while an order path holds the account row. */
typedef struct LoyaltyTierState
{
	int32		program_id;
	bool		enabled;		/* the database has tiers: keep them */
	char	   *tier;			/* the tier code now; NULL: no tier */
	char	   *tier_before;	/* the tier code as read */
	bool		has_window;		/* false while account.qualifying is NULL */
	bool		window_changed;
	LoyaltyWindow window;
} LoyaltyTierState;

extern void LoyaltyTierInit(LoyaltyTierState *ts, int32 program_id, bool columns,
							const char *tier, const LoyaltyWindow *qualifying);
extern bool LoyaltyOrderQualifyingFits(int32 program_id, int64 points, Numeric net_amount,
									   int64 *qualifying, char **why);
extern int64 LoyaltyOrderQualifying(int32 program_id, int64 points, Numeric net_amount);
extern bool LoyaltyTierFits(const LoyaltyTierState *ts, TimestampTz at, int64 amount,
							char **why);
extern void LoyaltyTierAdd(LoyaltyTierState *ts, TimestampTz at, int64 amount);
extern void LoyaltyTierAddEarned(LoyaltyTierState *ts, TimestampTz at, int64 points);
extern bool LoyaltyTierMoved(const LoyaltyTierState *ts);
extern void LoyaltyTierParams(const LoyaltyTierState *ts, Datum *values, char *nulls, int first);
extern void LoyaltyTierChanged(int32 program_id, int64 customer_id, const char *from_tier,
							   const char *to_tier, const char *reason);

/*
 * The SET items of an UPDATE of loyalty.account that write a tier state
 * through SPI: parameter q holds the qualifying window as text (NULL:
 * unchanged), t the tier the member moved to (NULL: unchanged).
 */
#define TIER_SET_CLAUSE(q, t) \
	", qualifying = COALESCE(" q "::loyalty.window, qualifying)," \
	" tier_since = CASE WHEN " t " IS NULL THEN tier_since ELSE pg_catalog.now() END," \
	" tier = COALESCE(" t ", tier)"

#endif							/* LOYALTY_H */
