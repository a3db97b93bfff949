/*
 * backorder.c
 *    Module start-up, the engine's plumbing (clock, privileges, cached SPI plans,
 *    transaction callbacks) and the guard triggers that keep the ledger append-only.
 */
#include "backorder.h"

#include "common/hashfn.h"
#include "utils/inval.h"

#include "access/htup_details.h"
#include "access/tupmacs.h"
#include "access/genam.h"
#include "access/brin.h"
#include "access/brin_revmap.h"
#include "catalog/pg_am_d.h"
#include "common/hashfn.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_trigger.h"
#include "executor/executor.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_language.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/regproc.h"
#include "utils/varlena.h"
#include "access/table.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "tcop/pquery.h"
#include "utils/timestamp.h"
#include "storage/proc.h"
#include "commands/extension.h"
#include "utils/fmgroids.h"
#include "utils/plancache.h"
#include "catalog/pg_inherits.h"

PG_MODULE_MAGIC;

static char *clock_setting = NULL;	/* backorder.clock: '' means transaction start */
static int	engine_depth = 0;
static Oid	engine_saved_user = InvalidOid;
static int	engine_saved_sec = 0;

/*
 * Where the library was loaded: the subtransactions open then have no depth mark (they
 * started before the callback existed), and engine_depth was 0 when they started.
 */
static LocalTransactionId load_lxid = InvalidLocalTransactionId;
static SubTransactionId load_subid = InvalidSubTransactionId;

/*
 * engine_depth at the start of each open subtransaction: an error that a savepoint
 * catches must not leave the guards open. PostgreSQL itself restores the user id.
 */
typedef struct DepthMark
{
	SubTransactionId subid;
	int			depth;
} DepthMark;
static DepthMark *depth_marks = NULL;
static int	ndepth_marks = 0;
static int	maxdepth_marks = 0;

static void bo_xact_callback(XactEvent event, void *arg);
static void bo_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								SubTransactionId parentSubid, void *arg);

/* what to tell someone who meets a guard while restoring a dump */
#define RESTORE_HINT "If you are restoring a dump, run pg_restore with PGOPTIONS='-c session_replication_role=replica' (see the README)."

void		_PG_init(void);

static ExecutorStart_hook_type prev_executor_start = NULL;
static ExecutorEnd_hook_type prev_executor_end = NULL;
static void bo_executor_start(QueryDesc *queryDesc, int eflags);
static void bo_executor_end(QueryDesc *queryDesc);

/* The running INSERT into order_line and the planner's estimate of its rows (see stock.c). */
static QueryDesc *lines_query = NULL;
static double lines_estimate = 0;

/*
 * Loaded in the middle of a statement (not preloaded): the executor hook did not see the
 * statements already running, so until this transaction ends the row triggers look at
 * the client's statement themselves (check_portal).
 */
static bool unvetted = false;
static void check_portal(void);
static Oid	bo_namespace(void);

/* backorder.notify */
bool		bo_notify = true;

/*
 * backorder.clock is checked when it is set (SET, ALTER DATABASE ... SET, the server's
 * configuration), not first by an order: it must read as a fixed, finite time (not 'now'
 * or 'today', which move, nor 'infinity'), in the years 1 to 99999 (so that a time zone
 * or a lead time added to it stays in range). The parse is PostgreSQL's own; in PostgreSQL
 * 15 it raises an error for an unknown time zone name, which a check hook must not let
 * out (in the postmaster, reading the configuration, it would be FATAL): it is caught and
 * reported as the hook's answer. A pure parse holds no resources, so flushing the error
 * state is enough.
 */
static bool
check_clock(char **newval, void **extra, GucSource source)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf = 0,
				dtype = 0,
				tz = 0,
				i;
	struct pg_tm tt;
	fsec_t		fsec;
	volatile int dterr = 0;
	MemoryContext cxt = CurrentMemoryContext;

	if (**newval == '\0')
		return true;
	PG_TRY();
	{
		dterr = ParseDateTime(*newval, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf);
		if (dterr == 0)
			dterr = DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		dterr = DTERR_BAD_FORMAT;
	}
	PG_END_TRY();
	if (dterr != 0)
	{
		GUC_check_errdetail("It must be a time such as '2026-01-05 09:00+00', or empty.");
		return false;
	}
	for (i = 0; i < nf; i++)
	{
		int			val;

		/* fields are lower case after ParseDateTime */
		if (ftype[i] == DTK_STRING && DecodeSpecial(i, field[i], &val) == RESERV &&
			(val == DTK_NOW || val == DTK_TODAY || val == DTK_TOMORROW || val == DTK_YESTERDAY))
		{
			GUC_check_errdetail("It must be a fixed time, not \"%s\".", field[i]);
			return false;
		}
	}
	if (dtype == DTK_EPOCH)
		return true;
	if (dtype != DTK_DATE || tt.tm_year < 1 || tt.tm_year > 99999)
	{
		GUC_check_errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE);
		GUC_check_errdetail("backorder.clock must be a finite time in the years 1 to 99999.");
		return false;
	}
	return true;
}

/* Define settings and register the transaction callbacks. */
void
_PG_init(void)
{
	DefineCustomStringVariable("backorder.clock",
							   "Fixed time used for placed_at, received_at, issued_at and the other timestamps the engine writes.",
							   "Empty (the default) means the start time of the current transaction. Meant for tests, replays and simulations.",
							   &clock_setting,
							   "",
							   PGC_SUSET,
							   0,
							   check_clock, NULL, NULL);
	DefineCustomBoolVariable("backorder.notify",
							 "Sends a NOTIFY on channel backorder_events for every event row, at commit.",
							 "Event rows are always written. Every notifying transaction takes the cluster-wide lock of the NOTIFY queue at commit; a shop that reads backorder.event by polling can turn notifications off (per database or role).",
							 &bo_notify,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("backorder");
	notify_init();
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = bo_executor_start;
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = bo_executor_end;
	unvetted = !process_shared_preload_libraries_in_progress;
	if (IsTransactionState())
	{
		load_lxid = MyProc->lxid;
		load_subid = GetCurrentSubTransactionId();
	}
	RegisterXactCallback(bo_xact_callback, NULL);
	RegisterSubXactCallback(bo_subxact_callback, NULL);
}

/* The engine's notion of now: backorder.clock when set, else transaction start. */
TimestampTz
bo_now(void)
{
	static char *parsed_text = NULL;
	static pg_tz *parsed_zone = NULL;	/* a time without zone reads in the session's */
	static TimestampTz parsed_value = 0;

	if (clock_setting == NULL || clock_setting[0] == '\0')
		return GetCurrentTransactionStartTimestamp();
	if (parsed_text == NULL || strcmp(parsed_text, clock_setting) != 0 ||
		parsed_zone != session_timezone)
	{
		Datum		d = DirectFunctionCall3(timestamptz_in,
											CStringGetDatum(clock_setting),
											ObjectIdGetDatum(InvalidOid),
											Int32GetDatum(-1));

		/* check_clock let only finite times in the years 1 to 99999 through */
		Assert(!TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(d)));
		if (parsed_text)
			pfree(parsed_text);
		parsed_text = MemoryContextStrdup(TopMemoryContext, clock_setting);
		parsed_zone = session_timezone;
		parsed_value = DatumGetTimestampTz(d);
	}
	return parsed_value;
}

/*
 * Enter engine code: act as the owner of the extension's tables (as ri_triggers.c
 * acts as the owner of the referenced table), and let the guard triggers through. Not a
 * security-restricted operation: PostgreSQL refuses to queue a deferred trigger inside one,
 * and a shop's deferred trigger on a table the engine writes (an outbox on event) must
 * work; the shop's code runs with a search_path of the engine's instead (see bo_run).
 */
void
bo_engine_enter(Oid owner)
{
	if (engine_depth++ == 0)
	{
		GetUserIdAndSecContext(&engine_saved_user, &engine_saved_sec);
		SetUserIdAndSecContext(owner, engine_saved_sec |
							   SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	}
}

/* Leave engine code entered by bo_engine_enter. */
void
bo_engine_leave(void)
{
	Assert(engine_depth > 0);
	if (--engine_depth == 0)
		SetUserIdAndSecContext(engine_saved_user, engine_saved_sec);
}

/* True while engine code (not a client) is running. */
bool
bo_in_engine(void)
{
	return engine_depth > 0;
}

/*
 * Owner of the extension's tables: the owner of backorder.purchase_order, as whom the
 * triggers act (the table's relowner), not the schema's owner, who may be someone else.
 */
Oid
bo_owner(void)
{
	Oid			relid = bo_relid("purchase_order");
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(relid))
		elog(ERROR, "backorder: table backorder.purchase_order does not exist");
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "backorder: cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* Prepare (once per backend) a plan with the given plancache options. */
static SPIPlanPtr
prepare_with(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes, int options)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, (Oid *) argtypes, options);

		if (plan == NULL)
			elog(ERROR, "backorder: SPI_prepare failed (%s) for: %s",
				 SPI_result_code_string(SPI_result), sql);
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "backorder: SPI_keepplan failed");
		*cache = plan;
	}
	return *cache;
}

/*
 * Prepare (once per backend) and return a plan whose shape does not depend on the
 * parameters (keyed lookups): it is planned once, generically. The query text must be
 * fully qualified.
 */
SPIPlanPtr
bo_prepare(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes)
{
	return prepare_with(cache, sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);
}

/*
 * The same for a query over an array of keys, whose best plan depends on how many there
 * are and on how big the tables have grown: planned at every execution, so that a plan
 * made while the tables were small (a hash join over a sequential scan) is never reused
 * once they are large.
 */
SPIPlanPtr
bo_prepare_custom(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes)
{
	return prepare_with(cache, sql, nargs, argtypes, CURSOR_OPT_CUSTOM_PLAN);
}

static bool trigger_fires(const Trigger *t);

/* What an error inside one of the engine's writes adds to its context lines. */
static void
write_context(void *arg)
{
	errcontext("backorder engine write, as the owner of the backorder tables, with search_path = pg_catalog, pg_temp");
}

/*
 * The shop's code that the engine's writes run (a trigger, a CHECK, a default, an index
 * expression or predicate the shop added: see bo_direct_ok) runs as the tables' owner on
 * behalf of whichever role inserted the ledger row. So it does not run under that role's
 * search_path (a schema the role owns could supply the table an unqualified name means):
 * as PostgreSQL 17 does for maintenance commands, the path is "pg_catalog, pg_temp" while
 * it runs (a shop function with its own SET search_path uses that). What the shop's code
 * sets in the meantime does not outlive it. Returns the GUC nest level for shop_code_end.
 */
static int
shop_code_begin(void)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return nest;
}

static void
shop_code_end(int nest)
{
	AtEOXact_GUC(false, nest);
}

/*
 * What a trigger's function is: one of this module's (a C function of the backorder
 * library), or one that keeps the application's temporary tables out of its table names (a
 * search_path of its own that ends with pg_temp, or written in C), or neither.
 */
typedef enum FunctionKind
{
	FN_ENGINE,
	FN_PATH_SAFE,
	FN_PATH_UNSAFE
} FunctionKind;

static FunctionKind
function_kind(Oid fnoid)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fnoid));
	FunctionKind kind = FN_PATH_UNSAFE;
	Form_pg_proc proc;
	bool		isnull;
	Datum		d;

	if (!HeapTupleIsValid(tup))
		return kind;
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (proc->prolang == ClanguageId || proc->prolang == INTERNALlanguageId)
	{
		d = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_probin, &isnull);
		kind = proc->prolang == ClanguageId && !isnull &&
			strcmp(TextDatumGetCString(d), "$libdir/backorder") == 0 ? FN_ENGINE : FN_PATH_SAFE;
	}
	else
	{
		d = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proconfig, &isnull);
		if (!isnull)
		{
			Datum	   *items;
			int			n,
						i;

			deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
							  &items, NULL, &n);
			for (i = 0; i < n; i++)
			{
				char	   *item = TextDatumGetCString(items[i]);
				List	   *names;

				if (strncmp(item, "search_path=", 12) == 0)
					kind = SplitIdentifierString(pstrdup(item + 12), ',', &names) &&
						names != NIL && strcmp(llast(names), "pg_temp") == 0 ?
						FN_PATH_SAFE : FN_PATH_UNSAFE;
			}
		}
	}
	ReleaseSysCache(tup);
	return kind;
}

/*
 * A rule on one of the engine's tables is refused: the engine's direct writes would skip it,
 * and through the executor it breaks the engine's own statements (INSERT ... ON CONFLICT
 * and RETURNING refuse tables with rules) or copies a default evaluated again. The shop's
 * triggers do what it would.
 */
static void
refuse_rules(Relation rel)
{
	if (rel->rd_rules != NULL && rel->rd_rules->numLocks > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has a rule, and the engine does not write tables with rules",
						RelationGetRelationName(rel)),
				 errhint("Use a trigger instead (AFTER INSERT ... FOR EACH ROW, say).")));
}

/*
 * Refuse to run a shop trigger that the engine's write of relid (for the event, an
 * INSERT, UPDATE or DELETE bit) would fire, if its function does not keep the
 * application's temporary tables out (function_kind): it would run as the tables'
 * owner for whichever role inserted the ledger row, and that role could create a
 * temporary table for a name in it, with a trigger of its own, to run as the owner.
 * A foreign-key action of the shop's on delete (the engine deletes emptied drafts) writes
 * the referencing table, and every partition of it: their triggers fire too. The engine
 * never changes a key, so actions on update never run. *seen holds the tables (and
 * events) checked already, so that a table referencing itself is checked once.
 */
static void
check_shop_triggers(Oid relid, int16 event, List **seen)
{
	Relation	rel;
	TriggerDesc *td;
	List	   *members;
	ListCell   *lc;
	int			i;

	for (i = 0; i + 1 < list_length(*seen); i += 2)
		if (list_nth_int(*seen, i) == (int) relid && list_nth_int(*seen, i + 1) == event)
			return;
	*seen = lappend_int(lappend_int(*seen, (int) relid), event);
	members = has_subclass(relid) ?
		find_all_inheritors(relid, AccessShareLock, NULL) : list_make1_oid(relid);
	foreach(lc, members)
	{
		rel = table_open(lfirst_oid(lc), AccessShareLock);
		td = rel->trigdesc;
		for (i = 0; td && i < td->numtriggers; i++)
		{
			const Trigger *t = &td->triggers[i];

			if ((t->tgtype & event) == 0 || !trigger_fires(t))
				continue;
			if (t->tgisinternal)
			{
				if (!OidIsValid(t->tgconstrrelid))
					continue;
				if (t->tgfoid == F_RI_FKEY_CASCADE_DEL)
					check_shop_triggers(t->tgconstrrelid, TRIGGER_TYPE_DELETE, seen);
				else if (t->tgfoid == F_RI_FKEY_SETNULL_DEL || t->tgfoid == F_RI_FKEY_SETDEFAULT_DEL)
					check_shop_triggers(t->tgconstrrelid, TRIGGER_TYPE_UPDATE, seen);
				continue;
			}
			if (function_kind(t->tgfoid) != FN_PATH_UNSAFE)
				continue;
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("trigger \"%s\" on table \"%s\" would run function %s as the owner of the backorder tables without a search_path of its own",
							t->tgname, RelationGetRelationName(rel), format_procedure_qualified(t->tgfoid)),
					 errdetail("The engine's writes run the shop's triggers as the tables' owner, for whichever role inserted the ledger row; without a search_path that ends with pg_temp, a table name in the function could mean a temporary table of that role."),
					 errhint("ALTER FUNCTION %s SET search_path = <its schemas>, pg_temp;",
							 format_procedure_qualified(t->tgfoid))));
		}
		table_close(rel, AccessShareLock);
	}
}

/*
 * Does a prepared plan write (and so may run the shop's code)? If so, the shop triggers it
 * could fire must be safe (check_shop_triggers), and its table must have no rule. The
 * target comes from the raw parse tree, which a failed re-analysis does not clear
 * (ps->query_list is NIL until the next successful one).
 */
static bool
check_plan_writes(SPIPlanPtr plan)
{
	ListCell   *lc;
	bool		writes = false;

	foreach(lc, SPI_plan_get_plan_sources(plan))
	{
		CachedPlanSource *ps = lfirst(lc);
		Node	   *stmt;
		RangeVar   *rv;
		int16		event;

		if (ps->raw_parse_tree == NULL)
			continue;			/* an empty query */
		stmt = ps->raw_parse_tree->stmt;

		switch (nodeTag(stmt))
		{
			case T_InsertStmt:
				rv = ((InsertStmt *) stmt)->relation;
				event = TRIGGER_TYPE_INSERT;
				if (((InsertStmt *) stmt)->onConflictClause &&
					((InsertStmt *) stmt)->onConflictClause->action == ONCONFLICT_UPDATE)
					event |= TRIGGER_TYPE_UPDATE;
				break;
			case T_UpdateStmt:
				rv = ((UpdateStmt *) stmt)->relation;
				event = TRIGGER_TYPE_UPDATE;
				break;
			case T_DeleteStmt:
				rv = ((DeleteStmt *) stmt)->relation;
				event = TRIGGER_TYPE_DELETE;
				break;
			case T_SelectStmt:
				continue;
			default:
				elog(ERROR, "backorder: unexpected statement in an engine write");
		}
		{
			Oid			relid = RangeVarGetRelid(rv, RowExclusiveLock, false);
			Relation	rel = table_open(relid, NoLock);
			List	   *seen = NIL;

			refuse_rules(rel);
			table_close(rel, NoLock);
			check_shop_triggers(relid, event, &seen);
		}
		writes = true;
	}
	return writes;
}

/*
 * Run a prepared plan; any SPI failure is an internal error. The engine's own queries name
 * everything with its schema; one that writes may run the shop's code (shop_code_begin),
 * whose triggers must be safe to run as the owner (check_plan_writes).
 */
int
bo_run(SPIPlanPtr plan, Datum *values, const char *nulls, long count)
{
	int			nest = -1;
	int			rc;
	ErrorContextCallback context = {.callback = write_context, .previous = error_context_stack};

	if (check_plan_writes(plan))
	{
		nest = shop_code_begin();
		error_context_stack = &context;
	}
	rc = SPI_execute_plan(plan, values, nulls, false, count);
	if (rc < 0)
		elog(ERROR, "backorder: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (nest >= 0)
	{
		error_context_stack = context.previous;
		shop_code_end(nest);
	}
	return rc;
}

/* Column col (1-based) of row of the last SPI result. */
Datum
bo_col(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

/* An int8 column of the last SPI result, ifnull when NULL. */
int64
bo_col_int8(int row, int col, int64 ifnull)
{
	bool		isnull;
	Datum		d = bo_col(row, col, &isnull);

	return isnull ? ifnull : DatumGetInt64(d);
}

/* A text column of the last SPI result as a C string in the current context, or NULL. */
char *
bo_col_text(int row, int col)
{
	bool		isnull;
	Datum		d = bo_col(row, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* A one-dimensional array of n datums, NULL where nulls[i] (nulls may be NULL). */
Datum
bo_array(Datum *elems, bool *nulls, int n, Oid elemtype)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, elemtype,
											  typlen, typbyval, typalign));
}

/* hash of the string a key points to */
static uint32
string_key_hash(const void *key, Size keysize)
{
	const char *s = *(const char *const *) key;

	return hash_bytes((const unsigned char *) s, strlen(s));
}

/* compare the strings two keys point to */
static int
string_key_match(const void *a, const void *b, Size keysize)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * A hash table keyed by a C string of any length: each entry starts with a char *
 * that the caller points at its own copy of the key after HASH_ENTER.
 */
HTAB *
bo_string_hash(const char *name, Size entrysize, MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(char *);
	ctl.entrysize = entrysize;
	ctl.hash = string_key_hash;
	ctl.match = string_key_match;
	ctl.hcxt = cxt;
	return hash_create(name, 64, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/* The error of units that overflow bigint. */
static pg_attribute_noreturn() void
units_out_of_range(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("quantity out of range"),
			 errdetail("The resulting number of units does not fit in a bigint.")));
}

/* a + b, or a clear error when units overflow bigint */
int64
bo_add(int64 a, int64 b)
{
	int64		r;

	if (pg_add_s64_overflow(a, b, &r))
		units_out_of_range();
	return r;
}

/* a - b, or a clear error when units overflow bigint */
int64
bo_sub(int64 a, int64 b)
{
	int64		r;

	if (pg_sub_s64_overflow(a, b, &r))
		units_out_of_range();
	return r;
}

/* a * b, or a clear error when units overflow bigint */
int64
bo_mul(int64 a, int64 b)
{
	int64		r;

	if (pg_mul_s64_overflow(a, b, &r))
		units_out_of_range();
	return r;
}

/* Check that a trigger function was called the way its CREATE TRIGGER says. */
TriggerData *
bo_trigger_data(FunctionCallInfo fcinfo, const char *name, bool before, bool row)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "%s: not called by trigger manager", name);
	if (before != (bool) TRIGGER_FIRED_BEFORE(td->tg_event) ||
		row != (bool) TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "%s: must be fired %s %s", name,
			 before ? "BEFORE" : "AFTER", row ? "FOR EACH ROW" : "FOR EACH STATEMENT");
	/*
	 * Only on the extension's own tables: the functions are not executable by PUBLIC (so
	 * nobody else can create such a trigger), and only the schema's owner creates tables
	 * in it. Elsewhere the engine would take another table's columns for its own.
	 */
	if (RelationGetNamespace(td->tg_relation) != bo_namespace())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("trigger function %s fires only on the tables of schema backorder", name),
				 errdetail("It fired on table \"%s\".", RelationGetRelationName(td->tg_relation))));
	if (unlikely(unvetted) && before && row)
		check_portal();
	return td;
}

/* Would trigger t fire now (its ENABLE mode against session_replication_role)? */
static bool
trigger_fires(const Trigger *t)
{
	if (t->tgenabled == TRIGGER_DISABLED)
		return false;
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		return t->tgenabled != TRIGGER_FIRES_ON_ORIGIN;
	return t->tgenabled != TRIGGER_FIRES_ON_REPLICA;
}

/*
 * Triggers of one kind fire in name order (byte order), and the engine's must come at one
 * end of it: a ledger table's BEFORE ROW trigger last, since the engine books stock for the
 * row it is given (a shop's trigger firing after it could skip or change that row, and the
 * books would be wrong without an error), and its AFTER STATEMENT trigger, which writes the
 * statement's counters and events, first (one firing before it would read them as they
 * were before the statement). A shop trigger on the wrong side of the engine's fails the
 * statement, naming it. The engine's names ("zz_*" and "0_flush") leave every ordinary
 * name on the right side.
 */
void
bo_check_trigger_order(TriggerData *td)
{
	TriggerDesc *trigdesc = td->tg_relation->trigdesc;
	const char *mine = td->tg_trigger->tgname;
	bool		before = TRIGGER_FIRED_BEFORE(td->tg_event);
	int16		level = before ? TRIGGER_TYPE_ROW : TRIGGER_TYPE_STATEMENT;
	int16		timing = before ? TRIGGER_TYPE_BEFORE : TRIGGER_TYPE_AFTER;
	int			i;

	for (i = 0; i < trigdesc->numtriggers; i++)
	{
		const Trigger *t = &trigdesc->triggers[i];
		int			cmp;

		if (!TRIGGER_TYPE_MATCHES(t->tgtype, level, timing, TRIGGER_TYPE_INSERT) ||
			!trigger_fires(t))
			continue;
		cmp = strcmp(t->tgname, mine);
		if (before && cmp > 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("trigger \"%s\" on table \"%s\" would fire after the engine's trigger \"%s\"",
							t->tgname, RelationGetRelationName(td->tg_relation), mine),
					 errdetail("BEFORE ROW triggers fire in name order, and the engine books stock for the row it is given: a trigger after it could skip or change a row already booked."),
					 errhint("Rename the trigger so that its name sorts before \"%s\" (in byte order).",
							 mine)));
		if (!before && cmp < 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("trigger \"%s\" on table \"%s\" would fire before the engine's trigger \"%s\"",
							t->tgname, RelationGetRelationName(td->tg_relation), mine),
					 errdetail("AFTER STATEMENT triggers fire in name order, and the engine writes the statement's item counters and events in its own: a trigger before it would read them as they were before the statement."),
					 errhint("Rename the trigger so that its name sorts after \"%s\" (in byte order).",
							 mine)));
	}
}

/* Is name (NULL: no) one of the n names? */
static bool
name_listed(const char *name, const char *const *names, int n)
{
	int			i;

	for (i = 0; name && i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

/*
 * INSERT ... ON CONFLICT on a ledger table is refused before it runs. PostgreSQL fires
 * BEFORE ROW triggers before it looks for a conflict, so the engine would commit stock
 * (allocate, fill, ship, cancel) for a row that ON CONFLICT then skips or turns into an
 * update: its effects would stay while the row is never stored.
 */
static bool
ledger_table(Oid relid)
{
	static const char *const names[] = {
		"order_line", "receipt", "shipment", "cancellation", "adjustment"
	};
	Oid			ext = get_extension_oid("backorder", true);

	/* (the hook runs in every database of a cluster that preloads the library) */
	if (!OidIsValid(ext) || get_rel_namespace(relid) != bo_namespace())
		return false;
	return name_listed(get_rel_name(relid), names, lengthof(names));
}

static void
reject_on_conflict_node(Plan *plan, PlannedStmt *ps)
{
	ModifyTable *mt = (ModifyTable *) plan;
	Oid			relid;

	if (plan == NULL || !IsA(plan, ModifyTable) || mt->onConflictAction == ONCONFLICT_NONE)
		return;
	relid = rt_fetch(mt->nominalRelation, ps->rtable)->relid;
	if (ledger_table(relid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("INSERT ... ON CONFLICT is not supported on backorder.%s", get_rel_name(relid)),
				 errdetail("backorder's row triggers commit stock before PostgreSQL looks for a conflict, so a row skipped or updated on conflict would leave its stock changes behind."),
				 errhint("Insert without ON CONFLICT (check for the row first, or let the insert fail).")));
}

/* The statement's INSERT, and the INSERTs of its WITH queries. */
static void
reject_on_conflict(PlannedStmt *ps)
{
	ListCell   *lc;

	if (ps->commandType != CMD_INSERT && !ps->hasModifyingCTE)
		return;
	reject_on_conflict_node(ps->planTree, ps);
	foreach(lc, ps->subplans)
		reject_on_conflict_node(lfirst(lc), ps);
}

static void
bo_executor_start(QueryDesc *queryDesc, int eflags)
{
	PlannedStmt *ps = queryDesc->plannedstmt;

	if (!(eflags & EXEC_FLAG_EXPLAIN_ONLY))
	{
		reject_on_conflict(ps);
		/*
		 * An INSERT into order_line: how many lines the planner expects. (Every database
		 * of a cluster that preloads the library comes here: most have no schema
		 * backorder, and bo_relid needs one.)
		 */
		if (ps->commandType == CMD_INSERT && IsA(ps->planTree, ModifyTable) &&
			outerPlan(ps->planTree) != NULL && OidIsValid(bo_namespace()) &&
			rt_fetch(((ModifyTable *) ps->planTree)->nominalRelation, ps->rtable)->relid ==
			bo_relid("order_line"))
		{
			lines_query = queryDesc;
			lines_estimate = outerPlan(ps->planTree)->plan_rows;
		}
	}
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

static void
bo_executor_end(QueryDesc *queryDesc)
{
	if (queryDesc == lines_query)
		bo_lines_estimate_reset();
	if (prev_executor_end)
		prev_executor_end(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

/* The planner's estimate of the rows of the running INSERT into order_line (0: none). */
double
bo_lines_estimate(void)
{
	return lines_query ? lines_estimate : 0;
}

void
bo_lines_estimate_reset(void)
{
	lines_query = NULL;
	lines_estimate = 0;
}

/* The client's statement, for a row trigger that the executor hook may have missed. */
static void
check_portal(void)
{
	ListCell   *lc;

	if (ActivePortal == NULL)
		return;
	foreach(lc, ActivePortal->stmts)
		if (IsA(lfirst(lc), PlannedStmt))
			reject_on_conflict(lfirst(lc));
}

/*
 * Catalog look-ups made by every ledger statement, cached for the life of the backend:
 * the OIDs of the extension's own relations by name, and whether a table may be written
 * directly (bo_direct_ok). Any change to pg_class or pg_namespace empties the first,
 * any relcache invalidation the second; the answers are then looked up again.
 */
#define RELID_CACHE_SIZE 16

typedef struct RelidCacheEntry
{
	char		name[NAMEDATALEN];
	Oid			relid;
} RelidCacheEntry;

static RelidCacheEntry relid_cache[RELID_CACHE_SIZE];
static int	relid_cache_n = 0;
static bool relid_cache_registered = false;

static Oid	nsp_cache = InvalidOid;	/* the schema backorder */

static void
relid_cache_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	relid_cache_n = 0;
	nsp_cache = InvalidOid;
}

static void
relid_cache_register(void)
{
	if (!relid_cache_registered)
	{
		CacheRegisterSyscacheCallback(RELOID, relid_cache_invalidate, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, relid_cache_invalidate, (Datum) 0);
		relid_cache_registered = true;
	}
}

/* OID of the schema backorder (InvalidOid: none), cached like the relation OIDs. */
static Oid
bo_namespace(void)
{
	relid_cache_register();
	if (!OidIsValid(nsp_cache))
		nsp_cache = get_namespace_oid("backorder", true);
	return nsp_cache;
}

/* OID of relation backorder.<name>, InvalidOid when there is none. */
Oid
bo_relid(const char *name)
{
	Oid			relid;
	int			i;

	relid_cache_register();
	for (i = 0; i < relid_cache_n; i++)
		if (strcmp(relid_cache[i].name, name) == 0)
			return relid_cache[i].relid;
	relid = get_relname_relid(name, bo_namespace());	/* InvalidOid: no such schema */
	if (OidIsValid(relid) && relid_cache_n < RELID_CACHE_SIZE && strlen(name) < NAMEDATALEN)
	{
		strlcpy(relid_cache[relid_cache_n].name, name, NAMEDATALEN);
		relid_cache[relid_cache_n].relid = relid;
		relid_cache_n++;
	}
	return relid;
}

/*
 * OID of an enum label (the engine writes line_status values row by row), cached until
 * pg_enum changes.
 */
#define ENUM_CACHE_SIZE 16

typedef struct EnumCacheEntry
{
	Oid			typid;
	char		label[NAMEDATALEN];
	Oid			oid;
} EnumCacheEntry;

static EnumCacheEntry enum_cache[ENUM_CACHE_SIZE];
static int	enum_cache_n = 0;
static bool enum_cache_registered = false;

static void
enum_cache_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	enum_cache_n = 0;
}

Oid
bo_enum_oid(Oid typid, const char *label)
{
	Oid			oid;
	int			i;

	if (!enum_cache_registered)
	{
		CacheRegisterSyscacheCallback(ENUMOID, enum_cache_invalidate, (Datum) 0);
		enum_cache_registered = true;
	}
	for (i = 0; i < enum_cache_n; i++)
		if (enum_cache[i].typid == typid && strcmp(enum_cache[i].label, label) == 0)
			return enum_cache[i].oid;
	oid = GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid, ObjectIdGetDatum(typid),
						  CStringGetDatum(label));
	if (!OidIsValid(oid))
		elog(ERROR, "backorder: enum type %u has no label \"%s\"", typid, label);
	if (enum_cache_n < ENUM_CACHE_SIZE && strlen(label) < NAMEDATALEN)
	{
		enum_cache[enum_cache_n].typid = typid;
		strlcpy(enum_cache[enum_cache_n].label, label, NAMEDATALEN);
		enum_cache[enum_cache_n].oid = oid;
		enum_cache_n++;
	}
	return oid;
}

/* Label of an enum value, through the same cache. */
const char *
bo_enum_label(Oid oid)
{
	HeapTuple	tup;
	Oid			typid;
	char	   *label;
	int			i;

	/* a copy: an invalidation may empty the cache while the caller holds the label */
	for (i = 0; i < enum_cache_n; i++)
		if (enum_cache[i].oid == oid)
			return pstrdup(enum_cache[i].label);
	tup = SearchSysCache1(ENUMOID, ObjectIdGetDatum(oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "backorder: cache lookup failed for enum value %u", oid);
	typid = ((Form_pg_enum) GETSTRUCT(tup))->enumtypid;
	label = pstrdup(NameStr(((Form_pg_enum) GETSTRUCT(tup))->enumlabel));
	ReleaseSysCache(tup);
	(void) bo_enum_oid(typid, label);	/* caches it */
	return label;
}

#define DIRECT_CACHE_SIZE 16

typedef struct DirectCacheEntry
{
	Oid			relid;
	int16		event;
	bool		ok;
} DirectCacheEntry;

static DirectCacheEntry direct_cache[DIRECT_CACHE_SIZE];
static int	direct_cache_n = 0;
static bool direct_cache_registered = false;

static void
direct_cache_invalidate(Datum arg, Oid relid)
{
	int			i,
				kept = 0;

	for (i = 0; i < direct_cache_n; i++)
		if (OidIsValid(relid) && direct_cache[i].relid != relid)
			direct_cache[kept++] = direct_cache[i];
	direct_cache_n = kept;
}

/*
 * Attribute numbers by name are looked up for every row a trigger sees; a small cache
 * keyed by relation and the caller's name pointer (the name itself is compared too, so a
 * reused pointer is harmless) saves the linear search of the tuple descriptor. Any
 * relcache invalidation empties it.
 */
#define ATTNUM_CACHE_SIZE 256

typedef struct AttnumCacheEntry
{
	uint32		epoch;
	Oid			relid;
	const char *colname;
	char		name[NAMEDATALEN];
	int			attnum;
} AttnumCacheEntry;

static AttnumCacheEntry attnum_cache[ATTNUM_CACHE_SIZE];
static uint32 attnum_cache_epoch = 1;
static bool attnum_cache_registered = false;

static void
attnum_cache_invalidate(Datum arg, Oid relid)
{
	attnum_cache_epoch++;
}

/* Attribute number of a column of the trigger's table. */
int
bo_attnum(Relation rel, const char *colname)
{
	AttnumCacheEntry *ent;
	Oid			relid = RelationGetRelid(rel);
	uint32		slot;
	int			attnum;

	if (!attnum_cache_registered)
	{
		CacheRegisterRelcacheCallback(attnum_cache_invalidate, (Datum) 0);
		attnum_cache_registered = true;
	}
	slot = hash_combine(murmurhash32(relid), murmurhash32((uint32) (uintptr_t) colname)) %
		ATTNUM_CACHE_SIZE;
	ent = &attnum_cache[slot];
	if (ent->epoch == attnum_cache_epoch && ent->relid == relid && ent->colname == colname &&
		strcmp(ent->name, colname) == 0)
		return ent->attnum;

	attnum = SPI_fnumber(RelationGetDescr(rel), colname);
	if (attnum <= 0)
		elog(ERROR, "backorder: column \"%s\" not found in table \"%s\"",
			 colname, RelationGetRelationName(rel));
	if (strlen(colname) < NAMEDATALEN)
	{
		ent->epoch = attnum_cache_epoch;
		ent->relid = relid;
		ent->colname = colname;
		strlcpy(ent->name, colname, NAMEDATALEN);
		ent->attnum = attnum;
	}
	return attnum;
}

/*
 * Attribute numbers of a fixed list of columns, resolved once and kept until a relcache
 * invalidation (the hot paths read a dozen columns a row; a map costs one check for all).
 */
void
bo_colmap(Relation rel, BoColMap *m)
{
	int			i;

	if (m->epoch == attnum_cache_epoch && m->relid == RelationGetRelid(rel))
		return;
	if (m->n > BO_MAX_MAP)
		elog(ERROR, "backorder: too many columns in a column map");
	for (i = 0; i < m->n; i++)
		m->attnums[i] = bo_attnum(rel, m->names[i]);
	m->relid = RelationGetRelid(rel);
	m->epoch = attnum_cache_epoch;
}

/* Read an int8 column of a tuple; false when NULL. */
bool
bo_get_int8(HeapTuple tup, Relation rel, int attnum, int64 *value)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, attnum, RelationGetDescr(rel), &isnull);

	if (!isnull)
		*value = DatumGetInt64(d);
	return !isnull;
}

/* Read a text column of a tuple as a C string, NULL when NULL. */
char *
bo_get_text(HeapTuple tup, Relation rel, int attnum)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, attnum, RelationGetDescr(rel), &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* name of column attnum of rel, for messages */
static const char *
col_name(Relation rel, int attnum)
{
	return NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname);
}

/* A maintained column must be left to the engine (NULL on insert). */
void
bo_require_null(HeapTuple tup, Relation rel, int attnum)
{
	if (!heap_attisnull(tup, attnum, RelationGetDescr(rel)))
		ereport(ERROR,
				(errcode(ERRCODE_GENERATED_ALWAYS),
				 errmsg("column \"%s\" of table \"%s\" is maintained by backorder",
						col_name(rel, attnum), RelationGetRelationName(rel)),
				 errdetail("Clients may read this column but not write it."),
				 errhint("%s", RESTORE_HINT)));
}

/* A required column is NULL: the not-null violation of the required-column helpers below. */
pg_attribute_noreturn() static void
null_violation(Relation rel, int attnum)
{
	ereport(ERROR,
			(errcode(ERRCODE_NOT_NULL_VIOLATION),
			 errmsg("%s of table \"%s\" must not be null",
					col_name(rel, attnum), RelationGetRelationName(rel))));
}

/* A positive quantity column; NULL only when nullable (then returns 0). */
int64
bo_require_qty(HeapTuple tup, Relation rel, int attnum, bool nullable)
{
	int64		qty;

	if (!bo_get_int8(tup, rel, attnum, &qty))
	{
		if (nullable)
			return 0;
		null_violation(rel, attnum);
	}
	if (qty <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s of table \"%s\" must be positive",
						col_name(rel, attnum), RelationGetRelationName(rel)),
				 errdetail("Failing value: " INT64_FORMAT ".", qty)));
	return qty;
}

/* A bigint column that must be present, any value (a key, looked up by the caller). */
int64
bo_require_int8(HeapTuple tup, Relation rel, int attnum)
{
	int64		v;

	if (!bo_get_int8(tup, rel, attnum, &v))
		null_violation(rel, attnum);
	return v;
}

/* A text column that must be present. */
char *
bo_require_text(HeapTuple tup, Relation rel, int attnum)
{
	char	   *s = bo_get_text(tup, rel, attnum);

	if (s == NULL)
		null_violation(rel, attnum);
	return s;
}

/*
 * A key text (sku, order_ref) that must be present and at most BO_KEY_MAX characters, as
 * the CHECK constraints of item, supplier and customer_order have it: a longer one cannot
 * name anything, and would otherwise come back whole in a "does not exist" message.
 */
char *
bo_require_key(HeapTuple tup, Relation rel, int attnum)
{
	char	   *s = bo_require_text(tup, rel, attnum);

	if (strlen(s) > BO_KEY_MAX && pg_mbstrlen(s) > BO_KEY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s is longer than %d characters",
						NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname),
						BO_KEY_MAX),
				 errdetail("It has %d characters.", pg_mbstrlen(s))));
	return s;
}

/* Is a trigger function one of this module's (a C function of the backorder library)? */
static bool
engine_function(Oid fnoid)
{
	return function_kind(fnoid) == FN_ENGINE;
}

/*
 * Has a shop added a trigger to rel for the event (TRIGGER_TYPE_INSERT, ...)? The
 * engine's own triggers and internal (foreign-key) ones do not count.
 */
bool
bo_shop_triggers(Relation rel, int16 event)
{
	TriggerDesc *td = rel->trigdesc;
	int			i;

	if (td)
		for (i = 0; i < td->numtriggers; i++)
			if ((td->triggers[i].tgtype & event) != 0 &&
				!td->triggers[i].tgisinternal &&
				!engine_function(td->triggers[i].tgfoid))
				return true;
	return false;
}

/*
 * May the engine write rows of rel straight into the heap, bypassing the executor? Yes
 * unless a shop added a trigger for the event that must see the write, or an index with
 * expressions or a predicate. Internal (foreign-key) triggers have nothing to do, since
 * the engine never changes a key column, and neither have the engine's own triggers
 * (whose function lives in this module): guards let the engine through, and the item's
 * purchase_sync fires only for supplier or pack-size changes, never for counters.
 */
static bool
engine_check(const char *name)
{
	static const char *const names[] = {
		"item_backorder_limit_check", "item_pack_size_check", "item_sku_check",
		"purchase_order_line_qty_check", "purchase_order_line_received_qty_check"
	};

	return name_listed(name, names, lengthof(names));
}

/* The columns the engine fills when it inserts rows directly (events, draft lines). */
static bool
engine_column(const char *rel, const char *col)
{
	static const char *const cols[][2] = {
		{"event", "event_id"}, {"event", "at"}, {"event", "kind"}, {"event", "sku"},
		{"event", "order_ref"}, {"event", "line_id"}, {"event", "po_id"}, {"event", "qty"},
		{"purchase_order_line", "po_id"}, {"purchase_order_line", "sku"},
		{"purchase_order_line", "qty"}, {"purchase_order_line", "received_qty"},
		{"purchase_order_line", "first_demand_at"}
	};
	int			i;

	for (i = 0; i < (int) lengthof(cols); i++)
		if (strcmp(rel, cols[i][0]) == 0 && strcmp(col, cols[i][1]) == 0)
			return true;
	return false;
}

static bool
direct_ok_uncached(Relation rel, int16 event)
{
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *indexes;
	ListCell   *lc;
	bool		ok = true;
	int			i;

	bool		any_index = (event & BO_DIRECT_ANY_INDEX) != 0;

	event &= ~BO_DIRECT_ANY_INDEX;
	if (bo_shop_triggers(rel, event))
		return false;
	refuse_rules(rel);
	/* a CHECK constraint a shop added is the executor's to evaluate */
	if (desc->constr)
		for (i = 0; i < desc->constr->num_check; i++)
			if (!engine_check(desc->constr->check[i].ccname))
				return false;
	/*
	 * So are a shop column's generation (on every write: the engine recomputes only
	 * item.available), and its default or NOT NULL on insert.
	 */
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *relname = RelationGetRelationName(rel);

		if (att->attisdropped)
			continue;
		if (att->attgenerated &&
			!(strcmp(relname, "item") == 0 && strcmp(NameStr(att->attname), "available") == 0))
			return false;
		if ((event & TRIGGER_TYPE_INSERT) && !engine_column(relname, NameStr(att->attname)) &&
			(att->atthasdef || att->attnotnull || att->attidentity))
			return false;
	}
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	ir = index_open(lfirst_oid(lc), AccessShareLock);

		/* exclusion constraints and deferred uniqueness are the executor's to check */
		ok = (any_index ||
			  (RelationGetIndexExpressions(ir) == NIL && RelationGetIndexPredicate(ir) == NIL)) &&
			ir->rd_index->indimmediate && !ir->rd_index->indisexclusion;
		index_close(ir, AccessShareLock);
		if (!ok)
			break;
	}
	list_free(indexes);
	return ok;
}

/* bo_direct_ok's answers are cached until the table's relcache entry is invalidated. */
bool
bo_direct_ok(Relation rel, int16 event)
{
	Oid			relid = RelationGetRelid(rel);
	bool		ok;
	int			i;

	if (!direct_cache_registered)
	{
		CacheRegisterRelcacheCallback(direct_cache_invalidate, (Datum) 0);
		direct_cache_registered = true;
	}
	for (i = 0; i < direct_cache_n; i++)
		if (direct_cache[i].relid == relid && direct_cache[i].event == event)
			return direct_cache[i].ok;
	ok = direct_ok_uncached(rel, event);
	if (direct_cache_n < DIRECT_CACHE_SIZE)
	{
		direct_cache[direct_cache_n].relid = relid;
		direct_cache[direct_cache_n].event = event;
		direct_cache[direct_cache_n].ok = ok;
		direct_cache_n++;
	}
	return ok;
}

/* The engine's own indexes with a predicate (no index of its has expressions). */
static bool
engine_partial_index(const char *name)
{
	static const char *const names[] = {"purchase_order_one_draft_idx", "purchase_order_line_open_idx"};

	return name_listed(name, names, lengthof(names));
}

/*
 * A BRIN index summarises each range of pages_per_range heap pages (event_at_idx: the
 * range's earliest and latest `at`). Its insert reads the index's metapage and the range's
 * summary at every row, yet a row whose key equals the last one given to the index, in the
 * same range, cannot change that summary: a statement's events share `at` and fill pages in
 * order, so all but about one row per range can skip it. Why that holds also while others
 * summarise or desummarise the range: once the first row's entry is made, every summary of
 * its range covers that key (the summary there, a placeholder being summarised, and any
 * later summary, whose scan sees that row: it stays in the heap, not dead, while the set is
 * open, and a set never outlives its subtransaction); a BRIN summary depends on the set of
 * keys only (minmax, bloom, minmax_multi). Kept only for keys passed by value (compared bit
 * for bit) that are plain columns, and not when the index asks autovacuum to summarise
 * ranges (brininsert does that at the first row of a range's first page).
 */
static BoBrinLast *
brin_last_new(Relation heap, Relation index, IndexInfo *info)
{
	TupleDesc	desc = RelationGetDescr(heap);
	BoBrinLast *last;
	int			k;

	if (index->rd_rel->relam != BRIN_AM_OID || BrinGetAutoSummarize(index))
		return NULL;
	for (k = 0; k < info->ii_NumIndexKeyAttrs; k++)
	{
		AttrNumber	att = info->ii_IndexAttrNumbers[k];

		if (att <= 0 || !TupleDescAttr(desc, att - 1)->attbyval)
			return NULL;
	}
	last = palloc(sizeof(BoBrinLast));
	last->block = InvalidBlockNumber;
	last->pages = 0;
	return last;
}

/*
 * Would this entry change nothing in BRIN index index, whose last entry last describes?
 * Else remember it.
 */
static bool
brin_adds_nothing(BoBrinLast *last, Relation index, int nkeys, ItemPointer tid, Datum *values,
				  bool *isnull)
{
	BlockNumber block = ItemPointerGetBlockNumber(tid);
	int			k;

	for (k = 0; last->block != InvalidBlockNumber && k < nkeys; k++)
		if (isnull[k] != last->isnull[k] || (!isnull[k] && values[k] != last->values[k]))
			break;
	if (last->block != InvalidBlockNumber && k == nkeys)
	{
		/*
		 * The ranges are those of the index's metapage, as brininsert reads them (read
		 * once a second entry could be skipped: a single-line order writes one event): the
		 * reloption (BrinGetPagesPerRange) is what the index was built with only until an
		 * ALTER INDEX ... SET (pages_per_range = n), which takes effect at the next REINDEX
		 * (helper-46). The metapage cannot change while the set is open (REINDEX conflicts
		 * with its lock).
		 */
		if (last->pages == 0)
			brinRevmapTerminate(brinRevmapInitialize(index, &last->pages, NULL));
		if (block / last->pages == last->block / last->pages)
			return true;
	}
	last->block = block;
	memcpy(last->values, values, sizeof(Datum) * nkeys);
	memcpy(last->isnull, isnull, sizeof(bool) * nkeys);
	return false;
}

/*
 * The indexes of a table opened once for many direct writes: index_open and
 * BuildIndexInfo cost more than the insert of one small index tuple.
 */
BoIndexSet *
bo_indexes_open(Relation rel, List *indexes)
{
	BoIndexSet *s = palloc(sizeof(BoIndexSet));
	ListCell   *lc;
	int			i = 0;

	s->heap = rel;
	s->n = list_length(indexes);
	s->rels = palloc(sizeof(Relation) * Max(s->n, 1));
	s->infos = palloc(sizeof(IndexInfo *) * Max(s->n, 1));
	s->brin = palloc0(sizeof(BoBrinLast *) * Max(s->n, 1));
	s->estate = NULL;
	s->shop_exprs = false;
	foreach(lc, indexes)
	{
		IndexInfo  *info;

		s->rels[i] = index_open(lfirst_oid(lc), RowExclusiveLock);
		info = s->infos[i] = BuildIndexInfo(s->rels[i]);
		if (info->ii_Expressions != NIL || info->ii_Predicate != NIL)
		{
			if (s->estate == NULL)
				s->estate = CreateExecutorState();
			if (info->ii_Predicate != NIL)
				info->ii_PredicateState = ExecPrepareQual(info->ii_Predicate, s->estate);
			/* the engine's two partial indexes compare columns with pg_catalog's operators */
			if (!engine_partial_index(RelationGetRelationName(s->rels[i])))
				s->shop_exprs = true;
		}
		s->brin[i] = brin_last_new(rel, s->rels[i], info);
		i++;
	}
	s->slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsHeapTuple);
	return s;
}

/* Insert the index entries of a new row version (an insert, or a non-HOT update). */
void
bo_indexes_insert(BoIndexSet *s, HeapTuple tup)
{
	ExprContext *econtext = s->estate ? GetPerTupleExprContext(s->estate) : NULL;
	int			i;
	int			nest = -1;

	ExecStoreHeapTuple(tup, s->slot, false);
	if (econtext)
		econtext->ecxt_scantuple = s->slot;
	if (s->shop_exprs)
		nest = shop_code_begin();	/* a shop's index expression or predicate */
	for (i = 0; i < s->n; i++)
	{
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];

		/* an index being built (CREATE INDEX CONCURRENTLY) takes no entries yet */
		if (!s->infos[i]->ii_ReadyForInserts)
			continue;
		/* a partial index holds only the rows its predicate accepts */
		if (s->infos[i]->ii_PredicateState &&
			!ExecQual(s->infos[i]->ii_PredicateState, econtext))
			continue;
		FormIndexDatum(s->infos[i], s->slot, s->estate, values, isnull);
		if (s->brin[i] &&
			brin_adds_nothing(s->brin[i], s->rels[i], s->infos[i]->ii_NumIndexKeyAttrs,
							  &tup->t_self, values, isnull))
			continue;
		index_insert(s->rels[i], values, isnull, &tup->t_self, s->heap,
					 s->rels[i]->rd_index->indisunique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
					 false, s->infos[i]);
	}
	if (nest >= 0)
		shop_code_end(nest);
	if (econtext)
		ResetExprContext(econtext);
	ExecClearTuple(s->slot);
}

/* Close the indexes; their locks are kept to the end of the transaction, as the executor keeps them. */
void
bo_indexes_close(BoIndexSet *s)
{
	int			i;

	for (i = 0; i < s->n; i++)
	{
		index_close(s->rels[i], NoLock);
		if (s->brin[i])
			pfree(s->brin[i]);
	}
	if (s->estate)
		FreeExecutorState(s->estate);
	ExecDropSingleTupleTableSlot(s->slot);
	pfree(s->rels);
	pfree(s->infos);
	pfree(s->brin);
	pfree(s);
}

/* Insert the index entries of one row version (opening the indexes for it alone). */
void
bo_index_tuple(Relation rel, List *indexes, HeapTuple tup)
{
	BoIndexSet *s = bo_indexes_open(rel, indexes);

	bo_indexes_insert(s, tup);
	bo_indexes_close(s);
}

/* Start an empty set of columns to replace in rows of rel. */
void
bo_cols_init(BoCols *c, Relation rel)
{
	c->rel = rel;
	c->n = 0;
}

/* Replace column attnum with value (NULL when isnull). */
void
bo_cols_put(BoCols *c, int attnum, Datum value, bool isnull)
{
	if (c->n == BO_MAX_COLS)
		elog(ERROR, "backorder: too many columns to replace");
	c->attnums[c->n] = attnum;
	c->values[c->n] = value;
	c->nulls[c->n] = isnull;
	c->n++;
}

/* Replace the column named col. */
void
bo_cols_set(BoCols *c, const char *col, Datum value, bool isnull)
{
	bo_cols_put(c, bo_attnum(c->rel, col), value, isnull);
}

/*
 * A copy of row old, whose last stored column (att) is null, with room for a value of that
 * column after its data, and the column no longer null: laid out as heap_form_tuple lays
 * out the same values (without a null bitmap when no other column is null), so the new
 * version of the row is no longer than a formed one (a longer one could miss a HOT
 * update's room). Byte for byte the formed row when old stores every column of the table;
 * a row stored before the shop added a column keeps its shorter count (the column reads
 * its default, as before), shorter than a formed row.
 */
static HeapTuple
append_last(HeapTuple old, Form_pg_attribute att)
{
	HeapTupleHeader td = old->t_data;
	int			natts = HeapTupleHeaderGetNatts(td);
	bool		nulls = false;
	uint32		datalen = old->t_len - td->t_hoff;
	uint32		at = att_align_nominal(datalen, att->attalign);
	uint8		hoff;
	HeapTuple	copy;
	int			k;

	for (k = 0; k < natts - 1 && !nulls; k++)
		nulls = att_isnull(k, td->t_bits);
	hoff = nulls ? td->t_hoff : MAXALIGN(SizeofHeapTupleHeader);
	copy = (HeapTuple) palloc0(HEAPTUPLESIZE + hoff + at + att->attlen);
	copy->t_len = hoff + at + att->attlen;
	copy->t_self = old->t_self;
	copy->t_tableOid = old->t_tableOid;
	copy->t_data = (HeapTupleHeader) ((char *) copy + HEAPTUPLESIZE);
	memcpy(copy->t_data, td, nulls ? td->t_hoff : SizeofHeapTupleHeader);
	copy->t_data->t_hoff = hoff;
	if (nulls)
		copy->t_data->t_bits[(natts - 1) >> 3] |= 1 << ((natts - 1) & 0x07);
	else
		copy->t_data->t_infomask &= ~HEAP_HASNULL;
	memcpy((char *) copy->t_data + hoff, (char *) td + td->t_hoff, datalen);
	return copy;
}

/*
 * A copy of row old with the columns replaced in place, or NULL when that cannot be done:
 * each replaced column must be a fixed-width by-value one stored in old (not added since
 * by ALTER TABLE), and null in old exactly when its new value is, so that the row's
 * layout stays the same; except that the last column stored in old, null there, may get a
 * value (append_last), once: a waiting line's allocated_at when stock fills it, a ledger
 * row's time stamp at its insert. Forming a whole new row instead (heap_modify_tuple) was
 * a quarter of an item's counter update, and a tenth of a receipt's work per filled line.
 */
static HeapTuple
overwrite_in_place(const BoCols *c, HeapTuple old)
{
	TupleDesc	desc = RelationGetDescr(c->rel);
	HeapTupleHeader td = old->t_data;
	bool		hasnulls = HeapTupleHasNulls(old);
	int			natts = HeapTupleHeaderGetNatts(td);
	int			last = 0;
	int			append = 0;		/* the last column, given its first value */
	int			attnum,
				i;
	HeapTuple	copy;
	char	   *tp;
	uint32		off = 0;

	for (i = 0; i < c->n; i++)
	{
		Form_pg_attribute att;
		bool		wasnull;

		attnum = c->attnums[i];
		if (attnum < 1 || attnum > natts)
			return NULL;
		att = TupleDescAttr(desc, attnum - 1);
		if (!att->attbyval || att->attlen <= 0)
			return NULL;
		wasnull = hasnulls && att_isnull(attnum - 1, td->t_bits);
		if (attnum == natts && wasnull && append != 0)
			return NULL;		/* listed twice: heap_modify_tuple keeps the later */
		if (wasnull && !c->nulls[i] && attnum == natts)
			append = attnum;
		else if (wasnull != c->nulls[i])
			return NULL;
		last = Max(last, attnum);
	}
	if (append)
		copy = append_last(old, TupleDescAttr(desc, append - 1));
	else
		copy = heap_copytuple(old);
	hasnulls = HeapTupleHasNulls(copy);
	tp = (char *) copy->t_data + copy->t_data->t_hoff;
	for (attnum = 1; attnum <= last; attnum++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);

		if (hasnulls && att_isnull(attnum - 1, copy->t_data->t_bits))
			continue;
		off = att_align_pointer(off, att->attalign, att->attlen, tp + off);
		for (i = 0; i < c->n; i++)
			if (c->attnums[i] == attnum)
				store_att_byval(tp + off, c->values[i], att->attlen);
		off = att_addlength_pointer(off, att->attlen, tp + off);
	}
	return copy;
}

/* A new version of row old with the columns replaced. */
HeapTuple
bo_cols_apply(const BoCols *c, HeapTuple old)
{
	HeapTuple	copy = overwrite_in_place(c, old);

	if (copy)
		return copy;
	return heap_modify_tuple_by_cols(old, RelationGetDescr(c->rel), c->n, (int *) c->attnums,
									 (Datum *) c->values, (bool *) c->nulls);
}

/*
 * The outcome of table_tuple_lock() for a row locked as SELECT ... FOR UPDATE would lock
 * it: true when it is locked; false when it was deleted meanwhile (READ COMMITTED, where
 * the lock follows the row's update chain); under a transaction snapshot a concurrent
 * change is a serialization failure. what and key name the row in an unexpected result.
 */
bool
bo_row_locked(TM_Result res, const char *what, const char *key)
{
	switch (res)
	{
		case TM_Ok:
			return true;
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent delete")));
			return false;
		case TM_Updated:
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent update")));
			break;
		default:
			break;
	}
	elog(ERROR, "backorder: unexpected result %d locking %s \"%s\"", (int) res, what, key);
	return false;
}

/* Forget all per-transaction state when a transaction ends. */
static void
bo_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			stock_statement_end();
			notify_precommit();
			break;
		case XACT_EVENT_PRE_PREPARE:
			stock_statement_end();
			notify_preprepare();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			notify_end(event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT);
			stock_reset();
			events_reset();
			po_reset();
			bo_lines_estimate_reset();
			unvetted = false;
			engine_depth = 0;
			ndepth_marks = 0;
			break;
		default:
			break;
	}
}

/*
 * Room for one more element in a growing array of n elements of elemsize with room for
 * *max: returns the array, reallocated (doubled; the first one allocated in cxt, for 16)
 * when it was full.
 */
void *
bo_grow(void *array, int n, int *max, Size elemsize, MemoryContext cxt)
{
	if (n < *max)
		return array;
	if (*max > INT_MAX / 2)		/* n is an int (one transaction's runs of events, say) */
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("backorder: more than %d entries in one array", *max)));
	*max = *max ? *max * 2 : 16;
	return array ? repalloc_huge(array, elemsize * *max)
		: MemoryContextAlloc(cxt, elemsize * *max);
}

/* A rolled-back subtransaction takes its locks and its cached changes with it. */
static void
bo_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	switch (event)
	{
		case SUBXACT_EVENT_START_SUB:
			depth_marks = bo_grow(depth_marks, ndepth_marks, &maxdepth_marks,
								  sizeof(DepthMark), TopMemoryContext);
			depth_marks[ndepth_marks].subid = mySubid;
			depth_marks[ndepth_marks].depth = engine_depth;
			ndepth_marks++;
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
		case SUBXACT_EVENT_ABORT_SUB:
			{
				bool		marked = false;

				while (ndepth_marks > 0 && depth_marks[ndepth_marks - 1].subid >= mySubid)
				{
					ndepth_marks--;
					if (event == SUBXACT_EVENT_ABORT_SUB &&
						depth_marks[ndepth_marks].subid == mySubid)
					{
						engine_depth = depth_marks[ndepth_marks].depth;
						marked = true;
					}
				}
				/* a subtransaction opened before the library was loaded began at depth 0 */
				if (event == SUBXACT_EVENT_ABORT_SUB && !marked &&
					MyProc->lxid == load_lxid && mySubid <= load_subid)
					engine_depth = 0;
			}
			if (event == SUBXACT_EVENT_COMMIT_SUB)
				po_subxact_commit(mySubid, parentSubid);
			if (event == SUBXACT_EVENT_ABORT_SUB)
			{
				stock_subxact_abort(mySubid);
				events_subxact_abort(mySubid);
				notify_subxact_abort(mySubid);
				po_subxact_abort(mySubid);
				bo_lines_estimate_reset();
			}
			break;
		default:
			break;
	}
}

/*
 * Guard for the append-only ledger and the purchase-order tables: BEFORE UPDATE,
 * DELETE or TRUNCATE, FOR EACH STATEMENT. Only engine code may change their rows.
 */
PG_FUNCTION_INFO_V1(bo_ledger_guard);
Datum
bo_ledger_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = bo_trigger_data(fcinfo, "bo_ledger_guard", true, false);

	if (bo_in_engine())
		return PointerGetDatum(NULL);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_BO_APPEND_ONLY),
				 errmsg("rows of table \"%s\" are written by backorder only",
						RelationGetRelationName(td->tg_relation)),
				 errdetail("Purchase orders are created from backordered demand."),
				 errhint("%s", RESTORE_HINT)));
	ereport(ERROR,
			(errcode(ERRCODE_BO_APPEND_ONLY),
			 errmsg("rows of table \"%s\" cannot be updated or deleted",
					RelationGetRelationName(td->tg_relation)),
			 errdetail("The backorder ledger is append-only."),
			 errhint("Insert a cancellation, shipment or adjustment instead.")));
	return PointerGetDatum(NULL);
}

/* Is a bigint column different between two versions of a row? */
static bool
int8_changed(HeapTuple a, HeapTuple b, Relation rel, const char *col)
{
	int			attnum = bo_attnum(rel, col);
	int64		va = 0,
				vb = 0;
	bool		na = !bo_get_int8(a, rel, attnum, &va);
	bool		nb = !bo_get_int8(b, rel, attnum, &vb);

	return na != nb || va != vb;
}

static const char *const item_counters[] = {"on_hand", "allocated", "backordered", "incoming", "queue_head"};

/*
 * Guard for items, BEFORE INSERT OR UPDATE OR DELETE FOR EACH ROW: counters start at
 * zero and only the engine moves them; a sku with ledger rows can be neither renamed
 * nor deleted. A client's change of policy, cap or supplier drops the cached copy.
 */
PG_FUNCTION_INFO_V1(bo_item_guard);
Datum
bo_item_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = bo_trigger_data(fcinfo, "bo_item_guard", true, true);
	Relation	rel = td->tg_relation;
	HeapTuple	oldtup = td->tg_trigtuple;
	static SPIPlanPtr has_lines = NULL;
	int			i;

	if (bo_in_engine())
		return PointerGetDatum(TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : oldtup);

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		for (i = 0; i < (int) lengthof(item_counters); i++)
		{
			int64		v = 0;

			if (bo_get_int8(oldtup, rel, bo_attnum(rel, item_counters[i]), &v) &&
				(v != 0 || strcmp(item_counters[i], "queue_head") == 0))
				ereport(ERROR,
						(errcode(ERRCODE_GENERATED_ALWAYS),
						 errmsg("column \"%s\" of table \"%s\" is maintained by backorder",
								item_counters[i], RelationGetRelationName(rel)),
						 errdetail("Counters start at zero; stock arrives by receipt or adjustment."),
						 errhint("%s", RESTORE_HINT)));
		}
		return PointerGetDatum(oldtup);
	}

	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		HeapTuple	newtup = td->tg_newtuple;
		char	   *oldsku = bo_get_text(oldtup, rel, bo_attnum(rel, "sku"));
		char	   *newsku = bo_get_text(newtup, rel, bo_attnum(rel, "sku"));

		for (i = 0; i < (int) lengthof(item_counters); i++)
			if (int8_changed(oldtup, newtup, rel, item_counters[i]))
				ereport(ERROR,
						(errcode(ERRCODE_GENERATED_ALWAYS),
						 errmsg("column \"%s\" of table \"%s\" is maintained by backorder",
								item_counters[i], RelationGetRelationName(rel)),
						 errdetail("Clients may read this column but not write it."),
						 errhint("Record a receipt or an adjustment to change stock.")));
		if (newsku == NULL || strcmp(oldsku, newsku) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_BO_APPEND_ONLY),
					 errmsg("the sku of an item cannot be changed"),
					 errdetail("Ledger rows refer to items by sku.")));
		stock_forget(oldsku);
		/* a new supplier or pack size changes what purchase orders should hold */
		{
			char	   *olds = bo_get_text(oldtup, rel, bo_attnum(rel, "supplier_id"));
			char	   *news = bo_get_text(newtup, rel, bo_attnum(rel, "supplier_id"));

			if ((olds == NULL) != (news == NULL) || (olds && strcmp(olds, news) != 0) ||
				int8_changed(oldtup, newtup, rel, "pack_size"))
				po_mark_sku(oldsku);
		}
		return PointerGetDatum(newtup);
	}

	/* DELETE: only an item with no ledger rows (none refers to it by a foreign key) */
	{
		Datum		arg = PointerGetDatum(heap_getattr(oldtup, bo_attnum(rel, "sku"),
													   RelationGetDescr(rel), &(bool){false}));

		SPI_connect();
		bo_run(bo_prepare(&has_lines,
						  "SELECT w FROM (SELECT 1, 'order lines' WHERE EXISTS"
						  "   (SELECT FROM backorder.order_line WHERE sku OPERATOR(pg_catalog.=) $1)"
						  " UNION ALL SELECT 2, 'receipts' WHERE EXISTS"
						  "   (SELECT FROM backorder.receipt WHERE sku OPERATOR(pg_catalog.=) $1)"
						  " UNION ALL SELECT 3, 'adjustments' WHERE EXISTS"
						  "   (SELECT FROM backorder.adjustment WHERE sku OPERATOR(pg_catalog.=) $1)) l(n, w)"
						  " ORDER BY n LIMIT 1",
						  1, (Oid[]) {TEXTOID}),
			   &arg, NULL, 1);
		if (SPI_processed > 0)
			ereport(ERROR,
					(errcode(ERRCODE_BO_APPEND_ONLY),
					 errmsg("item \"%s\" has %s and cannot be deleted",
							bo_get_text(oldtup, rel, bo_attnum(rel, "sku")), bo_col_text(0, 1))));
		SPI_finish();
		stock_forget(bo_get_text(oldtup, rel, bo_attnum(rel, "sku")));
		return PointerGetDatum(oldtup);
	}
}
