/*
 * direct.c
 *		Row access to the extension's own tables without SPI: find, lock,
 *		insert and update through the table and index access methods.
 *
 * The order trigger writes several rows per order; through SPI each one
 * costs an executor start-up, a plan lookup and permission checks that are
 * larger than the write itself.  Here a DirectWriter opens the tables once
 * per trigger call, finds rows through their primary keys with a dirty
 * snapshot (seeing committed rows and our own, and waiting for writers in
 * progress), and writes through ExecSimpleRelationInsert/Update, the
 * executor's single-row entry points: constraints, every index and row
 * triggers are maintained exactly as for an INSERT or UPDATE statement.
 *
 * The relation OIDs and column numbers of the loyalty tables are cached per
 * backend and reset by relcache invalidation.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/readfuncs.h"
#include "optimizer/optimizer.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "loyalty.h"

static const char *const table_names[LY_NUM_TABLES] = {
	"member", "account", "lot", "ledger", "order_accrual"
};

/* The tables' OIDs and their owner; valid until a relcache reset. */
static bool tables_valid = false;
static bool callback_registered = false;
static Oid	table_oids[LY_NUM_TABLES];
static Oid	data_owner;
static uint32 tables_generation = 1;

/* The columns LoyaltyHasColumn() was asked about (below). */
static struct
{
	const char *table;
	const char *column;
	Oid			relid;
	bool		valid;
	bool		has;
}			known_columns[8];
static int	nknown_columns = 0;

static bool IsCachedIndex(Oid relid);
static void OpenNeededIndexes(DirectWriter *w, DirectTable *t);
static Relation IndexOf(DirectTable *t, int j);

static void
InvalidateTables(Datum arg, Oid relid)
{
	bool		hit = (relid == InvalidOid);

	for (int i = 0; i < LY_NUM_TABLES && !hit; i++)
		hit = (relid == table_oids[i]);
	if (!hit)
		hit = IsCachedIndex(relid);
	if (hit)
	{
		tables_valid = false;
		tables_generation++;
	}
	for (int i = 0; i < nknown_columns; i++)
		if (relid == InvalidOid || relid == known_columns[i].relid)
			known_columns[i].valid = false;
}

/* Look the tables up, once per backend and again after they change. */
static void
LoadTables(void)
{
	Oid			nspid;
	HeapTuple	tuple;

	if (tables_valid)
		return;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(InvalidateTables, (Datum) 0);
		callback_registered = true;
	}
	nspid = get_namespace_oid("loyalty", true);
	for (int i = 0; i < LY_NUM_TABLES; i++)
	{
		table_oids[i] = OidIsValid(nspid) ? get_relname_relid(table_names[i], nspid) : InvalidOid;
		if (!OidIsValid(table_oids[i]))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("extension \"loyalty\" is not installed in this database"),
					 errdetail("Table loyalty.%s was not found.", table_names[i]),
					 errhint("Run CREATE EXTENSION loyalty.")));
	}
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(table_oids[LY_LEDGER]));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", table_oids[LY_LEDGER]);
	data_owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	tables_valid = true;
}

/* Members are only read here: no write lock, and no index upkeep. */
static inline LOCKMODE
TableLockMode(int table)
{
	return table == LY_MEMBER ? AccessShareLock : RowExclusiveLock;
}

/*
 * What the executor would build for every statement from the catalogs, kept
 * per backend instead: each table's compiled CHECK constraints, its index
 * list, and each index's IndexInfo with its partial-index predicate
 * compiled.  On the order path building these anew (ExecOpenIndices, and
 * CHECK constraints parsed from their stored text) cost more than the rows
 * themselves.  They change only when a table or one of its indexes does,
 * which moves tables_generation (InvalidateTables); the index relations
 * themselves are still opened and locked per writer.
 */
static MemoryContext expr_cxt = NULL;
static uint32 expr_generation = 0;
static ExprState **table_checks[LY_NUM_TABLES];
static int	table_nindexes[LY_NUM_TABLES];
static Oid *table_indexes[LY_NUM_TABLES];	/* index OIDs, in relcache order */
static char **table_index_names[LY_NUM_TABLES];
static IndexInfo **table_index_info[LY_NUM_TABLES];
static int	table_pkey[LY_NUM_TABLES];	/* position of the primary key */

/* Compile a table's CHECK constraints, in the order of its relcache entry. */
static ExprState **
CompileChecks(Relation rel)
{
	TupleConstr *constr = rel->rd_att->constr;
	ExprState **checks;

	if (constr == NULL || constr->num_check == 0)
		return NULL;
	checks = palloc(sizeof(ExprState *) * constr->num_check);
	for (int i = 0; i < constr->num_check; i++)
		checks[i] = ExecInitExpr(expression_planner((Expr *) stringToNode(constr->check[i].ccbin)),
								 NULL);
	return checks;
}

/* Whether relid is one of the cached indexes (their changes reset the cache). */
static bool
IsCachedIndex(Oid relid)
{
	for (int i = 0; i < LY_NUM_TABLES; i++)
		for (int j = 0; j < table_nindexes[i]; j++)
			if (table_indexes[i][j] == relid)
				return true;
	return false;
}

/*
 * Open the indexes of table i of the writer, building the cached index
 * list and IndexInfos first when the tables changed.  The member table is
 * only read: just its primary key is opened, and it gets no result
 * relation indexes.
 *
 * A partial index is opened only when a row written needs an entry in it
 * (OpenNeededIndexes) or a walk reads it (DirectWalk): an order's lot is in
 * the due index only if it expires and in the pending index only if it is
 * pending, and no order entry has an idempotency key.  Every index opened is
 * a lock taken and released per transaction, and a backend keeps only 16
 * relation locks on its fast path: the order INSERT's own table, its key
 * and its sequence plus every loyalty index went past it.  The executor
 * skips an index whose entry in ri_IndexRelationDescs is NULL.
 */
static void
OpenIndexes(DirectTable *t, int i, bool rebuild)
{
	Relation   *descs;

	if (rebuild)
	{
		List	   *oids = RelationGetIndexList(t->rel);
		Oid			pkey = RelationGetPrimaryKeyIndex(t->rel);
		MemoryContext old = MemoryContextSwitchTo(expr_cxt);
		int			n = 0;
		ListCell   *lc;

		if (!OidIsValid(pkey))
			elog(ERROR, "loyalty.%s has no primary key", table_names[i]);
		table_indexes[i] = palloc(sizeof(Oid) * Max(list_length(oids), 1));
		table_index_names[i] = palloc(sizeof(char *) * Max(list_length(oids), 1));
		table_index_info[i] = palloc0(sizeof(IndexInfo *) * Max(list_length(oids), 1));
		foreach(lc, oids)
		{
			Oid			oid = lfirst_oid(lc);

			if (i == LY_MEMBER && oid != pkey)
				continue;
			if (oid == pkey)
				table_pkey[i] = n;
			table_indexes[i][n++] = oid;
		}
		table_nindexes[i] = n;
		MemoryContextSwitchTo(old);
		list_free(oids);
	}

	descs = palloc0(sizeof(Relation) * Max(table_nindexes[i], 1));
	for (int j = 0; j < table_nindexes[i]; j++)
		if (rebuild || table_index_info[i][j]->ii_Predicate == NIL)
			descs[j] = index_open(table_indexes[i][j], TableLockMode(i));

	if (rebuild)
	{
		MemoryContext old = MemoryContextSwitchTo(expr_cxt);

		for (int j = 0; j < table_nindexes[i]; j++)
		{
			IndexInfo  *ii = BuildIndexInfo(descs[j]);

			if (ii->ii_Predicate != NIL)
				ii->ii_PredicateState =
					ExecInitQual((List *) expression_planner((Expr *) ii->ii_Predicate), NULL);
			table_index_info[i][j] = ii;
			table_index_names[i][j] = pstrdup(RelationGetRelationName(descs[j]));
		}
		table_checks[i] = CompileChecks(t->rel);
		MemoryContextSwitchTo(old);
	}

	t->table = i;
	t->indexes = descs;
	t->index_oids = table_indexes[i];
	t->index_names = table_index_names[i];
	t->nindexes = table_nindexes[i];
	t->pkey = descs[table_pkey[i]];
	t->rri->ri_ConstraintExprs = table_checks[i];
	if (i != LY_MEMBER)
	{
		t->rri->ri_NumIndices = table_nindexes[i];
		t->rri->ri_IndexRelationDescs = descs;
		t->rri->ri_IndexRelationInfo = table_index_info[i];
	}
}

/* Index j of t, opened (and locked) now if it was left for later. */
static Relation
IndexOf(DirectTable *t, int j)
{
	if (t->indexes[j] == NULL)
		t->indexes[j] = index_open(t->index_oids[j], TableLockMode(t->table));
	return t->indexes[j];
}

/* Close what OpenIndexes opened; the locks stay to the end of the transaction. */
static void
CloseIndexes(DirectTable *t)
{
	for (int j = 0; j < t->nindexes; j++)
		if (t->indexes[j] != NULL)
			index_close(t->indexes[j], NoLock);
	t->nindexes = 0;
	t->rri->ri_NumIndices = 0;
}

/*
 * Whether a table of the extension has the column: a database not yet
 * updated to the release that added it has not, and the library keeps
 * serving it.  Kept per backend until a relcache invalidation of that table
 * (ALTER EXTENSION UPDATE adds columns with ALTER TABLE); a handful of
 * columns are asked about, each by a literal name.
 */
bool
LoyaltyHasColumn(const char *table, const char *column)
{
	int			i;

	LoadTables();				/* registers the invalidation callback */
	for (i = 0; i < nknown_columns; i++)
		if (strcmp(known_columns[i].table, table) == 0 &&
			strcmp(known_columns[i].column, column) == 0)
			break;
	if (i == nknown_columns)
	{
		if (nknown_columns == lengthof(known_columns))
			elog(ERROR, "too many column checks");
		known_columns[i].table = table;
		known_columns[i].column = column;
		known_columns[i].valid = false;
		nknown_columns++;
	}
	if (!known_columns[i].valid)
	{
		Oid			relid = get_relname_relid(table, get_namespace_oid("loyalty", false));

		known_columns[i].relid = relid;
		known_columns[i].has = OidIsValid(relid) && get_attnum(relid, column) != InvalidAttrNumber;
		known_columns[i].valid = true;
	}
	return known_columns[i].has;
}

/* The OID of one of the loyalty tables. */
Oid
LoyaltyTableOid(LoyaltyTable which)
{
	LoadTables();
	return table_oids[which];
}

/* The owner of loyalty.ledger: the role that owns the extension's data. */
Oid
LoyaltyDataOwner(void)
{
	LoadTables();
	return data_owner;
}

/* The number of a column of a loyalty table; a missing column is a broken install. */
AttrNumber
DirectColumn(DirectTable *t, const char *name, bool missing_ok)
{
	TupleDesc	desc = RelationGetDescr(t->rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	if (missing_ok)
		return InvalidAttrNumber;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("column \"%s\" of loyalty.%s is missing", name,
					RelationGetRelationName(t->rel)),
			 errhint("Reinstall or update the extension: ALTER EXTENSION loyalty UPDATE.")));
	return InvalidAttrNumber;	/* keep the compiler quiet */
}

/*
 * The column numbers of defs[0 .. n-1] into attnums, resolved again only
 * when the tables' definitions changed since *generation.
 */
void
DirectResolveColumns(DirectWriter *w, const DirectColumnDef *defs, int n,
					 AttrNumber *attnums, uint32 *generation)
{
	if (*generation == w->generation)
		return;
	for (int i = 0; i < n; i++)
		attnums[i] = DirectColumn(&w->tables[defs[i].table], defs[i].name, defs[i].missing_ok);
	*generation = w->generation;
}

/*
 * Open the loyalty tables for this trigger call: an executor state with one
 * result relation per table, their indexes, and an after-trigger level for
 * any row triggers on them.  The caller runs as the data owner.
 */
DirectWriter *
DirectBegin(void)
{
	DirectWriter *w = palloc0(sizeof(DirectWriter));
	List	   *rtable = NIL;

	LoadTables();
	w->estate = CreateExecutorState();
	for (int i = 0; i < LY_NUM_TABLES; i++)
	{
		RangeTblEntry *rte = makeNode(RangeTblEntry);

		rte->rtekind = RTE_RELATION;
		rte->relid = table_oids[i];
		rte->relkind = RELKIND_RELATION;
		rte->rellockmode = TableLockMode(i);
		rtable = lappend(rtable, rte);
	}
#if PG_VERSION_NUM >= 160000
	ExecInitRangeTable(w->estate, rtable, NIL);
#else
	ExecInitRangeTable(w->estate, rtable);
#endif
	w->estate->es_output_cid = GetCurrentCommandId(true);
	w->estate->es_snapshot = GetActiveSnapshot();

	for (int i = 0; i < LY_NUM_TABLES; i++)
	{
		DirectTable *t = &w->tables[i];

		t->rel = table_open(table_oids[i], TableLockMode(i));
		t->rri = makeNode(ResultRelInfo);
		InitResultRelInfo(t->rri, t->rel, i + 1, NULL, 0);
		t->row = ExecInitExtraTupleSlot(w->estate, RelationGetDescr(t->rel), &TTSOpsVirtual);
		t->found = ExecInitExtraTupleSlot(w->estate, RelationGetDescr(t->rel),
										  table_slot_callbacks(t->rel));
		InitDirtySnapshot(t->dirty);
		t->scan = NULL;
		t->walk = NULL;
		t->key_scan = NULL;
	}

	/*
	 * With the tables locked, their relcache entries are current.  Opening
	 * an index can still take in an invalidation of one (a concurrent CREATE
	 * INDEX CONCURRENTLY moving on a step): then start over from the new
	 * definitions.
	 */
	for (;;)
	{
		uint32		generation = tables_generation;
		bool		rebuild = (expr_generation != generation);

		if (rebuild)
		{
			MemoryContext old = expr_cxt;

			/* A writer of this transaction may still use the old one. */
			if (old != NULL)
				MemoryContextSetParent(old, TopTransactionContext);
			expr_cxt = AllocSetContextCreate(CacheMemoryContext, "loyalty table cache",
											 ALLOCSET_SMALL_SIZES);
			expr_generation = 0;
			memset(table_nindexes, 0, sizeof(table_nindexes));
		}
		for (int i = 0; i < LY_NUM_TABLES; i++)
			OpenIndexes(&w->tables[i], i, rebuild);
		if (tables_generation == generation)
		{
			expr_generation = generation;
			break;
		}
		for (int i = 0; i < LY_NUM_TABLES; i++)
			CloseIndexes(&w->tables[i]);
		expr_generation = 0;
	}
	EvalPlanQualInit(&w->epq, w->estate, NULL, NIL, -1);
	AfterTriggerBeginQuery();
	w->generation = tables_generation;
	return w;
}

/* Fire the row triggers the writes queued and close everything. */
void
DirectEnd(DirectWriter *w)
{
	AfterTriggerEndQuery(w->estate);
	/* Closes the relations the queued triggers opened (e.g. a foreign key check). */
	ExecCloseResultRelations(w->estate);
	EvalPlanQualEnd(&w->epq);
	for (int i = 0; i < LY_NUM_TABLES; i++)
	{
		DirectTable *t = &w->tables[i];

		if (t->scan)
			index_endscan(t->scan);
		if (t->walk)
			index_endscan(t->walk);
		if (t->key_scan)
			index_endscan(t->key_scan);
		CloseIndexes(t);
		table_close(t->rel, NoLock);
	}
	ExecResetTupleTable(w->estate->es_tupleTable, true);
	FreeExecutorState(w->estate);
	pfree(w);
}

/*
 * The next row of an index scan of t, left in t->found; false at the end.
 * Waits for a transaction in progress that is inserting or changing the
 * row, and then starts the scan over from keys.
 */
static bool
NextSettledRow(DirectTable *t, IndexScanDesc scan, ScanKey keys, int nkeys)
{
	/* The scan lives as long as the writer, whatever context the caller is in. */
	MemoryContext old = MemoryContextSwitchTo(t->found->tts_mcxt);
	bool		found;

	for (;;)
	{
		TransactionId xwait;

		found = index_getnext_slot(scan, ForwardScanDirection, t->found);
		if (!found)
			break;
		xwait = TransactionIdIsValid(t->dirty.xmin) ? t->dirty.xmin : t->dirty.xmax;
		if (!TransactionIdIsValid(xwait))
			break;
		XactLockTableWait(xwait, t->rel, &t->found->tts_tid, XLTW_None);
		index_rescan(scan, keys, nkeys, NULL, 0);
	}
	MemoryContextSwitchTo(old);
	return found;
}

/*
 * Find the row with the given primary key values (keys numbered by index
 * column).  Sees committed rows and all of our own, and waits for a
 * transaction in progress that is inserting or changing the row.  The row is
 * left in t->found.
 */
bool
DirectFind(DirectTable *t, ScanKey keys, int nkeys)
{
	MemoryContext old = MemoryContextSwitchTo(t->found->tts_mcxt);

	if (t->scan == NULL)
		t->scan = index_beginscan(t->rel, t->pkey, &t->dirty, nkeys, 0);
	index_rescan(t->scan, keys, nkeys, NULL, 0);
	MemoryContextSwitchTo(old);
	return NextSettledRow(t, t->scan, keys, nkeys);
}

/*
 * Read the primary key entries of t whose leading columns match keys (nkeys
 * of them, fewer than the key's columns), and pass each entry's last key
 * column to visit; stop and return false after limit entries.  Only the
 * index is read: an entry may belong to a row version that is dead or not
 * yet committed, so what visit sees is every key that may be on record.
 * A key not among them is on record in no version only if the caller holds
 * a lock that every writer of rows under the prefix takes first (the order
 * path: the member's account row), because a concurrent writer's index
 * entry follows its row.  One descent and a read along the leaf pages
 * instead of a descent per key (DirectFind), for a caller with many keys to
 * look up under the same prefix.  Every call on t must pass the same nkeys.
 */
bool
DirectKeysUnder(DirectTable *t, ScanKey keys, int nkeys, int limit,
				void (*visit) (Datum key, void *arg), void *arg)
{
	MemoryContext old = MemoryContextSwitchTo(t->found->tts_mcxt);
	int			natts = IndexRelationGetNumberOfKeyAttributes(t->pkey);
	int			seen = 0;
	Datum		value;
	bool		isnull;
	bool		complete = true;

	Assert(nkeys < natts);
	if (t->key_scan == NULL)
	{
		t->key_scan = index_beginscan(t->rel, t->pkey, &t->dirty, nkeys, 0);
		t->key_scan->xs_want_itup = true;
	}
	if (t->key_scan->numberOfKeys != nkeys)
		elog(ERROR, "DirectKeysUnder called with %d keys, begun with %d",
			 nkeys, t->key_scan->numberOfKeys);
	index_rescan(t->key_scan, keys, nkeys, NULL, 0);
	MemoryContextSwitchTo(old);

	/*
	 * Only entries are read, never rows, so the scan marks no entry dead and
	 * allocates nothing that must outlive the caller's context.
	 */
	while (index_getnext_tid(t->key_scan, ForwardScanDirection) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		if (++seen > limit)
		{
			complete = false;
			break;
		}
		value = index_getattr(t->key_scan->xs_itup, natts, t->key_scan->xs_itupdesc, &isnull);
		if (!isnull)
			visit(value, arg);
	}
	return complete;
}

/*
 * Start a walk over the rows of t in the order of one of its indexes (named:
 * a partial index walks only the rows it holds), from the first row whose
 * leading index columns match keys; DirectWalkNext returns the rows one by
 * one.  keys must stay valid until the walk ends, at the next DirectWalk on
 * t or at DirectEnd.
 */
void
DirectWalk(DirectTable *t, const char *index, ScanKey keys, int nkeys)
{
	MemoryContext old = MemoryContextSwitchTo(t->found->tts_mcxt);
	Relation	irel = NULL;

	for (int j = 0; j < t->nindexes && irel == NULL; j++)
		if (strcmp(t->index_names[j], index) == 0)
			irel = IndexOf(t, j);
	if (irel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("index \"%s\" of loyalty.%s is missing", index,
						RelationGetRelationName(t->rel)),
				 errhint("Reinstall or update the extension: ALTER EXTENSION loyalty UPDATE.")));
	if (t->walk != NULL)
		index_endscan(t->walk);
	t->walk = index_beginscan(t->rel, irel, &t->dirty, nkeys, 0);
	t->walk_keys = keys;
	t->walk_nkeys = nkeys;
	index_rescan(t->walk, keys, nkeys, NULL, 0);
	MemoryContextSwitchTo(old);
}

/*
 * The next row of the walk, left in t->found; false at its end.  Like
 * DirectFind it sees committed rows and all of our own, so a row the caller
 * changed so that it left the index is not returned again.  After waiting
 * for a transaction in progress that is writing a row, the walk starts over:
 * rows it returned and that are still in the index come again.
 */
bool
DirectWalkNext(DirectTable *t)
{
	return NextSettledRow(t, t->walk, t->walk_keys, t->walk_nkeys);
}

/* The error SELECT ... FOR UPDATE raises under REPEATABLE READ for a changed row. */
static void ConcurrentUpdate(void) pg_attribute_noreturn();

static void
ConcurrentUpdate(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not serialize access due to concurrent update")));
}

/*
 * Find the row and lock it against concurrent changes (FOR NO KEY UPDATE),
 * retrying when it was changed meanwhile; t->found then holds its latest
 * version.  Under REPEATABLE READ a row changed after our snapshot is a
 * serialization failure, as with SELECT ... FOR NO KEY UPDATE.
 */
bool
DirectLock(DirectTable *t, ScanKey keys, int nkeys)
{
	for (;;)
	{
		TM_FailureData tmfd;
		TM_Result	res;
		Snapshot	snap;

		if (!DirectFind(t, keys, nkeys))
			return false;
		snap = IsolationUsesXactSnapshot() ? GetTransactionSnapshot() : GetLatestSnapshot();
		if (IsolationUsesXactSnapshot() &&
			!table_tuple_satisfies_snapshot(t->rel, t->found, snap))
			ConcurrentUpdate();
		res = table_tuple_lock(t->rel, &t->found->tts_tid, snap, t->found,
							   GetCurrentCommandId(false), LockTupleNoKeyExclusive,
							   LockWaitBlock, 0, &tmfd);
		switch (res)
		{
			case TM_Ok:
			case TM_SelfModified:
				return true;
			case TM_Updated:
			case TM_Deleted:
				if (IsolationUsesXactSnapshot())
					ConcurrentUpdate();
				continue;		/* changed meanwhile: find its new version */
			default:
				elog(ERROR, "unexpected table_tuple_lock status: %u", res);
		}
	}
}

/* Start a new row for t: every column NULL; set them with DirectSet. */
void
DirectNewRow(DirectTable *t)
{
	TupleTableSlot *row = t->row;

	ExecClearTuple(row);
	memset(row->tts_isnull, true, sizeof(bool) * row->tts_tupleDescriptor->natts);
}

/* Start a row for t from the row last found, to change some columns. */
void
DirectCopyFound(DirectTable *t)
{
	TupleTableSlot *row = t->row;
	int			natts = row->tts_tupleDescriptor->natts;

	slot_getallattrs(t->found);
	ExecClearTuple(row);
	memcpy(row->tts_values, t->found->tts_values, sizeof(Datum) * natts);
	memcpy(row->tts_isnull, t->found->tts_isnull, sizeof(bool) * natts);
}

/* Insert the row built in t->row. */
void
DirectInsert(DirectWriter *w, DirectTable *t)
{
	ExecStoreVirtualTuple(t->row);
	OpenNeededIndexes(w, t);
	w->estate->es_output_cid = GetCurrentCommandId(true);
	ExecSimpleRelationInsert(t->rri, w->estate, t->row);
}

/* Open the partial indexes not yet open whose predicate the row in t->row meets. */
static void
OpenNeededIndexes(DirectWriter *w, DirectTable *t)
{
	ExprContext *econtext = NULL;

	for (int j = 0; j < t->nindexes; j++)
	{
		if (t->indexes[j] != NULL)
			continue;
		if (econtext == NULL)
		{
			econtext = GetPerTupleExprContext(w->estate);
			econtext->ecxt_scantuple = t->row;
		}
		if (ExecQual(t->rri->ri_IndexRelationInfo[j]->ii_PredicateState, econtext))
			(void) IndexOf(t, j);
	}
}

/* Replace the row last found (and locked) with the row built in t->row. */
void
DirectUpdate(DirectWriter *w, DirectTable *t)
{
	ExecStoreVirtualTuple(t->row);
	OpenNeededIndexes(w, t);
	w->estate->es_output_cid = GetCurrentCommandId(true);
	ExecSimpleRelationUpdate(t->rri, w->estate, &w->epq, t->found, t->row);
}

/* Remove the row last found (and locked, or under a lock every writer of it takes). */
void
DirectDelete(DirectWriter *w, DirectTable *t)
{
	w->estate->es_output_cid = GetCurrentCommandId(true);
	ExecSimpleRelationDelete(t->rri, w->estate, &w->epq, t->found);
}
