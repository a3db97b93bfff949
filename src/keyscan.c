/*
 * keyscan.c
 *    Reads and writes of the engine's own rows through their btree indexes, never
 *    through the executor or a plan.
 *
 * A plan kept for the session is chosen once, from the sizes the tables had then: kept
 * from a fresh install (a few rows), one scanned purchase_order whole at every commit, and
 * the supplier's commits waited behind scans that grew with every order issued (measured:
 * 5,200 orders per second falling to 1,000 within seconds) until autovacuum's ANALYZE
 * replanned it. And an SPI statement's executor start-up is most of what a one-row read or
 * write costs. Like SPI, each read sees what this transaction wrote before it and takes the
 * transaction's snapshot (a new one per read in READ COMMITTED), or the latest snapshot
 * for rows this transaction holds locked and writes.
 */
#include "backorder.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* Scan keys: the index's first n columns equal vals (int8, or text where text[i]). */
static void
equal_keys(KeyScan *k, int n, const Datum *vals, const bool *text, ScanKey keys)
{
	int			i;

	for (i = 0; i < n; i++)
		ScanKeyEntryInitialize(&keys[i], 0, i + 1, BTEqualStrategyNumber, InvalidOid,
							   text[i] ? k->idx->rd_indcollation[i] : InvalidOid,
							   text[i] ? F_TEXTEQ : F_INT8EQ, vals[i]);
}

/*
 * Set the scan keys: the index's first n columns equal vals (int8, or text where text[i]).
 * Needs k->idx and k->scan.
 */
void
key_scan_rekey(KeyScan *k, int n, const Datum *vals, const bool *text)
{
	ScanKeyData keys[INDEX_MAX_KEYS];

	/* a rescan must pass as many keys as the scan began with */
	if (n != k->scan->numberOfKeys)
		elog(ERROR, "backorder: %d scan keys for a scan begun with %d", n, k->scan->numberOfKeys);
	equal_keys(k, n, vals, text, keys);
	index_rescan(k->scan, keys, n, NULL, 0);
}

/*
 * Set the scan keys: the index's first n columns equal vals (as key_scan_rekey) and its
 * next column, which must be the int8 column col, is greater than after. Rows come in
 * that column's order.
 */
static void
key_scan_rekey_after(KeyScan *k, int n, const Datum *vals, const bool *text, const char *col,
					 int64 after)
{
	ScanKeyData keys[INDEX_MAX_KEYS];

	if (n + 1 != k->scan->numberOfKeys)
		elog(ERROR, "backorder: %d scan keys for a scan begun with %d", n + 1,
			 k->scan->numberOfKeys);
	if (n >= k->idx->rd_index->indnkeyatts ||
		k->idx->rd_index->indkey.values[n] != bo_attnum(k->rel, col) ||
		TupleDescAttr(RelationGetDescr(k->rel), k->idx->rd_index->indkey.values[n] - 1)->atttypid != INT8OID)
		elog(ERROR, "backorder: index %s is not the engine's", RelationGetRelationName(k->idx));
	equal_keys(k, n, vals, text, keys);
	ScanKeyEntryInitialize(&keys[n], 0, n + 1, BTGreaterStrategyNumber, InvalidOid,
						   InvalidOid, F_INT8GT, Int64GetDatum(after));
	index_rescan(k->scan, keys, n + 1, NULL, 0);
}

/*
 * Take the snapshot and begin an index scan of k->rel through k->idx (both open) with
 * nkeys scan keys, seeing what this transaction wrote before: with the latest snapshot
 * (rows this transaction holds locked and writes), else with the transaction's (as SPI).
 */
static void
scan_open(KeyScan *k, bool latest, int nkeys)
{
	CommandCounterIncrement();
	k->snap = RegisterSnapshot(latest ? GetLatestSnapshot() : GetTransactionSnapshot());
	k->slot = table_slot_create(k->rel, NULL);
	k->scan = index_beginscan(k->rel, k->idx, k->snap, nkeys, 0);
}

/* Start scanning (see scan_open) for the rows whose first n index columns equal vals. */
void
key_scan_start(KeyScan *k, bool latest, int n, const Datum *vals, const bool *text)
{
	scan_open(k, latest, n);
	key_scan_rekey(k, n, vals, text);
}

/* Open backorder.<relname> and its index idxname, which must be a btree whose first column is col. */
static void
open_checked(KeyScan *k, const char *relname, LOCKMODE mode, const char *idxname, const char *col)
{
	Oid			idxoid = bo_relid(idxname);

	k->rel = table_open(bo_relid(relname), mode);
	if (!OidIsValid(idxoid))
		elog(ERROR, "backorder: index %s is missing", idxname);
	k->idx = index_open(idxoid, AccessShareLock);
	if (k->idx->rd_rel->relam != BTREE_AM_OID ||
		k->idx->rd_index->indrelid != RelationGetRelid(k->rel) ||
		k->idx->rd_index->indkey.values[0] != bo_attnum(k->rel, col))
		elog(ERROR, "backorder: index %s is not the engine's", idxname);
}

/*
 * Start reading backorder.<relname> through its index idxname (a btree whose first column
 * is col) for the rows where col = key (int8, or text when text), with the transaction's
 * snapshot.
 */
void
key_scan_begin(KeyScan *k, const char *relname, LOCKMODE mode, const char *idxname,
			   const char *col, Datum key, bool text)
{
	open_checked(k, relname, mode, idxname, col);
	key_scan_start(k, false, 1, &key, &text);
}

/* As key_scan_begin, with the latest snapshot: what committed by now. */
void
key_scan_begin_latest(KeyScan *k, const char *relname, LOCKMODE mode, const char *idxname,
					  const char *col, Datum key, bool text)
{
	open_checked(k, relname, mode, idxname, col);
	key_scan_start(k, true, 1, &key, &text);
}

/*
 * Start reading backorder.<relname> through its index idxname, a btree on (col, aftercol,
 * ...), for the rows where col = key (int8, or text when text) and the int8 aftercol >
 * after, in aftercol's order, with the latest snapshot (the rows of an item this
 * transaction holds locked).
 */
void
key_scan_begin_after(KeyScan *k, const char *relname, LOCKMODE mode, const char *idxname,
					 const char *col, Datum key, bool text, const char *aftercol, int64 after)
{
	open_checked(k, relname, mode, idxname, col);
	scan_open(k, true, 2);
	key_scan_rekey_after(k, 1, &key, &text, aftercol, after);
}

/* The next row (into k->slot), or false. */
bool
key_scan_next(KeyScan *k)
{
	return index_getnext_slot(k->scan, ForwardScanDirection, k->slot);
}

/* The previous row, walking the index backward from its end (into k->slot), or false. */
bool
key_scan_prev(KeyScan *k)
{
	return index_getnext_slot(k->scan, BackwardScanDirection, k->slot);
}

/* A column of the row found last: int8, or text (palloc'd), or a po_status label. */
int64
key_int8(KeyScan *k, const char *col, bool *isnull)
{
	Datum		d = slot_getattr(k->slot, bo_attnum(k->rel, col), isnull);

	return *isnull ? 0 : DatumGetInt64(d);
}

char *
key_text(KeyScan *k, const char *col)
{
	bool		isnull;
	Datum		d = slot_getattr(k->slot, bo_attnum(k->rel, col), &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

const char *
key_status(KeyScan *k)
{
	bool		isnull;

	return bo_enum_label(DatumGetObjectId(slot_getattr(k->slot, bo_attnum(k->rel, "status"),
													   &isnull)));
}

void
key_scan_end(KeyScan *k)
{
	index_endscan(k->scan);
	ExecDropSingleTupleTableSlot(k->slot);
	UnregisterSnapshot(k->snap);
	index_close(k->idx, NoLock);
	table_close(k->rel, NoLock);
}

/* Open rel's primary key when it is a btree on exactly the given columns, else NULL. */
static Relation
open_pkey(Relation rel, int natts, const int *attnums)
{
	Oid			pkoid = RelationGetPrimaryKeyIndex(rel);
	Relation	idx;
	int			i;

	if (!OidIsValid(pkoid))
		return NULL;
	idx = index_open(pkoid, AccessShareLock);
	if (idx->rd_rel->relam != BTREE_AM_OID || idx->rd_index->indnkeyatts != natts)
	{
		index_close(idx, AccessShareLock);
		return NULL;
	}
	for (i = 0; i < natts; i++)
		if (idx->rd_index->indkey.values[i] != attnums[i])
		{
			index_close(idx, AccessShareLock);
			return NULL;
		}
	return idx;
}


/*
 * Open backorder.<relname> and look up the row whose primary key columns cols (int8, or
 * text where text[i]) equal vals, as this transaction last wrote it. Returns false,
 * having done nothing, when the executor is needed: a shop trigger for events on the
 * table, or a primary key that is not a btree on exactly those columns.
 */
bool
pkey_row_find(PkeyRow *r, const char *relname, int16 events, int n,
			  const char *const *cols, const Datum *vals, const bool *text)
{
	int			attnums[2];
	int			i;

	Assert(n <= 2);
	r->k.rel = table_open(bo_relid(relname), RowExclusiveLock);
	for (i = 0; i < n; i++)
		attnums[i] = bo_attnum(r->k.rel, cols[i]);
	if (!bo_direct_ok(r->k.rel, events | BO_DIRECT_ANY_INDEX) ||
		(r->k.idx = open_pkey(r->k.rel, n, attnums)) == NULL)
	{
		table_close(r->k.rel, NoLock);
		return false;
	}
	key_scan_start(&r->k, true, n, vals, text);
	r->found = key_scan_next(&r->k);
	return true;
}

/* Close what pkey_row_find opened; what was written is visible to what follows. */
void
pkey_row_done(PkeyRow *r)
{
	key_scan_end(&r->k);
	CommandCounterIncrement();
}

/*
 * Replace columns of the row a scan found last (its latest version, which this
 * transaction holds): a new version in place, HOT when no indexed column changes and the
 * page has room, else with its index entries.
 */
void
key_scan_update(KeyScan *k, const BoCols *c)
{
	bool		shouldfree;
	HeapTuple	oldtup = ExecFetchSlotHeapTuple(k->slot, false, &shouldfree);
	HeapTuple	newtup = bo_cols_apply(c, oldtup);

	simple_heap_update(k->rel, &k->slot->tts_tid, newtup);
	if (!HeapTupleIsHeapOnly(newtup))
		bo_index_tuple(k->rel, RelationGetIndexList(k->rel), newtup);
	if (shouldfree)
		heap_freetuple(oldtup);
	heap_freetuple(newtup);
}

/* Replace columns of the row pkey_row_find found. */
void
pkey_row_update(PkeyRow *r, const BoCols *c)
{
	key_scan_update(&r->k, c);
}

/* Replace one int8 column of the row found. */
void
update_int8_col(PkeyRow *r, int attnum, int64 value)
{
	BoCols		c;

	bo_cols_init(&c, r->k.rel);
	bo_cols_put(&c, attnum, Int64GetDatum(value), false);
	pkey_row_update(r, &c);
}
