/*-------------------------------------------------------------------------
 *
 * tableref.c
 *	  The table reference type: a relation OID, like regclass, whose text
 *	  form is the table's schema-qualified name, but whose input never fails
 *	  for a table that is not there.
 *
 * loyalty.order_source and loyalty.retired_order_source record the table
 * that carried each order source id (relid), so that the id follows the
 * table through renames.  Both are extension configuration tables: pg_dump
 * writes their rows, and a restore reads them back through the column
 * type's input function.  With regclass, a dump that leaves such a table
 * out (pg_dump -T or -N) cannot be restored: the input of its name fails,
 * the whole COPY fails, and every tracked table loses its registration.
 * A tableref reads a name that resolves to no relation, and a bare OID
 * (which names a relation only in the database that wrote it), as "no
 * table" (InvalidOid, written "-"), so the rest of the rows restore and the
 * id passes to its table's name as if the table had been dropped.
 *
 * Values are stored pass-by-value as an Oid, so casts to and from regclass
 * and oid cost nothing.  The binary form is the text form, for the same
 * reason the text form is a name: an OID means nothing in another database.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/varlena.h"

#include "loyalty.h"

PG_FUNCTION_INFO_V1(tableref_in);
PG_FUNCTION_INFO_V1(tableref_out);
PG_FUNCTION_INFO_V1(tableref_recv);
PG_FUNCTION_INFO_V1(tableref_send);

/* Whether str is a run of decimal digits: how regclass writes a lost OID. */
static inline bool
IsBareOid(const char *str)
{
	if (*str == '\0')
		return false;
	for (; *str != '\0'; str++)
		if (*str < '0' || *str > '9')
			return false;
	return true;
}

/*
 * The relation a (possibly qualified) name names, or InvalidOid when there is
 * none; a malformed name is an error.
 */
Oid
LoyaltyRelationOfName(const char *name)
{
	List	   *names;

#if PG_VERSION_NUM >= 160000
	names = stringToQualifiedNameList(name, NULL);
#else
	names = stringToQualifiedNameList(name);
#endif
	return RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);
}

/* The relation a tableref's text names, or InvalidOid when there is none. */
static Oid
ParseTableRef(const char *str)
{
	if (strcmp(str, "-") == 0 || IsBareOid(str))
		return InvalidOid;
	/* A malformed name is an error: nothing pg_dump writes is malformed. */
	return LoyaltyRelationOfName(str);
}

/* The text of a tableref: "schema.table", quoted as needed; "-" for none. */
static char *
TableRefText(Oid relid)
{
	char	   *relname;
	char	   *nspname;

	if (!OidIsValid(relid))
		return pstrdup("-");
	relname = get_rel_name(relid);
	nspname = relname ? get_namespace_name(get_rel_namespace(relid)) : NULL;
	if (relname == NULL || nspname == NULL)
		return psprintf("%u", relid);	/* dropped: reads back as none */
	return quote_qualified_identifier(nspname, relname);
}

/* Text input: a relation name, looked up on the search_path if unqualified. */
Datum
tableref_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(ParseTableRef(PG_GETARG_CSTRING(0)));
}

/* Text output: always schema-qualified, so it reads back under any search_path. */
Datum
tableref_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(TableRefText(PG_GETARG_OID(0)));
}

/* Binary input: the text form, as tableref_send writes it. */
Datum
tableref_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			nbytes;
	char	   *str = pq_getmsgtext(buf, buf->len - buf->cursor, &nbytes);

	PG_RETURN_OID(ParseTableRef(str));
}

/* Binary output: the text form (an OID is meaningless to another database). */
Datum
tableref_send(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	char	   *str = TableRefText(PG_GETARG_OID(0));

	pq_begintypsend(&buf);
	pq_sendtext(&buf, str, strlen(str));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}
