/*
 * ledger.c
 *    The ledger triggers: order lines commit stock, receipts and adjustments add or
 *    remove it, shipments and cancellations release it; freed stock fills the item's
 *    queue head first.
 *
 * Each trigger is BEFORE INSERT FOR EACH ROW, so the row is stored once with its final
 * state (no second write of the line), and one AFTER INSERT FOR EACH STATEMENT trigger
 * per table (bo_flush) writes the changed item counters and the events.
 */
#include "backorder.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "catalog/pg_trigger.h"
#include "executor/tuptable.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "common/int.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"


/* the columns every line query returns, in LineState order */
#define LINE_COLS "line_id, order_ref, sku, qty, allocated_qty, backordered_qty," \
	" shipped_qty, cancelled_qty, allocated_at"

/* Status of a line from its quantities. */
const char *
line_status_label(const LineState *l)
{
	if (l->backordered > 0)
		return (l->allocated > 0 || l->shipped > 0) ? "partially_allocated" : "backordered";
	if (l->allocated > 0)
		return "allocated";
	if (l->shipped > 0)
		return "shipped";
	return "cancelled";
}

/* The line_status enum value for a line, typed by the column's type. */
Datum
line_status_datum(Relation rel, int attnum, const LineState *l)
{
	Oid			typid = TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid;

	return ObjectIdGetDatum(bo_enum_oid(typid, line_status_label(l)));
}

/* Read row i of the last SPI result (LINE_COLS) into a LineState. */
static void
line_from_spi(int i, LineState *l)
{
	bool		isnull;

	l->line_id = bo_col_int8(i, 1, 0);
	l->order_ref = bo_col_text(i, 2);
	l->sku = bo_col_text(i, 3);
	l->qty = bo_col_int8(i, 4, 0);
	l->allocated = bo_col_int8(i, 5, 0);
	l->backordered = bo_col_int8(i, 6, 0);
	l->shipped = bo_col_int8(i, 7, 0);
	l->cancelled = bo_col_int8(i, 8, 0);
	l->allocated_at = DatumGetTimestampTz(bo_col(i, 9, &isnull));
	l->allocated_at_null = isnull;
}

/* order_line's columns: the engine's (which clients leave NULL on insert), then the client's */
static const char *const order_line_colnames[] = {
	"line_id", "allocated_qty", "backordered_qty", "shipped_qty", "cancelled_qty",
	"status", "placed_at", "allocated_at", "order_ref", "sku", "qty"
};
enum
{
	OL_LINE_ID, OL_ALLOCATED, OL_BACKORDERED, OL_SHIPPED, OL_CANCELLED, OL_STATUS,
	OL_PLACED_AT, OL_ALLOCATED_AT, OL_N_MAINTAINED, OL_ORDER_REF = OL_N_MAINTAINED, OL_SKU, OL_QTY
};
static BoColMap order_line_cols = BO_COLMAP(order_line_colnames);

/* order_line's primary key, for pkey_row_find */
static const char *const line_pkey[1] = {"line_id"};
static const bool line_pkey_text[1] = {false};

/* Read the row a scan of order_line found into a LineState. */
static void
line_from_scan(KeyScan *k, LineState *l)
{
	bool		isnull;

	l->line_id = key_int8(k, "line_id", &isnull);
	l->order_ref = key_text(k, "order_ref");
	l->sku = key_text(k, "sku");
	l->qty = key_int8(k, "qty", &isnull);
	l->allocated = key_int8(k, "allocated_qty", &isnull);
	l->backordered = key_int8(k, "backordered_qty", &isnull);
	l->shipped = key_int8(k, "shipped_qty", &isnull);
	l->cancelled = key_int8(k, "cancelled_qty", &isnull);
	l->allocated_at = DatumGetTimestampTz(slot_getattr(k->slot, bo_attnum(k->rel, "allocated_at"),
													   &l->allocated_at_null));
}

/* The columns of a line the engine maintains after placement: quantities, status, time. */
static void
line_cols(BoCols *c, Relation rel, const LineState *l)
{
	const int  *a = order_line_cols.attnums;

	bo_colmap(rel, &order_line_cols);
	bo_cols_init(c, rel);
	bo_cols_put(c, a[OL_ALLOCATED], Int64GetDatum(l->allocated), false);
	bo_cols_put(c, a[OL_BACKORDERED], Int64GetDatum(l->backordered), false);
	bo_cols_put(c, a[OL_SHIPPED], Int64GetDatum(l->shipped), false);
	bo_cols_put(c, a[OL_CANCELLED], Int64GetDatum(l->cancelled), false);
	bo_cols_put(c, a[OL_STATUS], line_status_datum(rel, a[OL_STATUS], l), false);
	bo_cols_put(c, a[OL_ALLOCATED_AT], TimestampTzGetDatum(l->allocated_at), l->allocated_at_null);
}

/*
 * Write back one line's quantities and status: in place through the heap (HOT while its
 * page has room: no index covers what changes), or by a keyed UPDATE when a shop trigger
 * on order_line must see it. The caller holds the line's item locked.
 */
static void
line_apply_one(LineState *l)
{
	static SPIPlanPtr plan = NULL;
	Datum		args[7];
	char		nulls[7] = "       ";
	PkeyRow		r;

	args[0] = Int64GetDatum(l->line_id);
	if (pkey_row_find(&r, "order_line", TRIGGER_TYPE_UPDATE, 1, line_pkey, args, line_pkey_text))
	{
		BoCols		c;

		if (!r.found)
			elog(ERROR, "backorder: order line " INT64_FORMAT " vanished", l->line_id);
		line_cols(&c, r.k.rel, l);
		pkey_row_update(&r, &c);
		pkey_row_done(&r);
		return;
	}

	args[1] = Int64GetDatum(l->allocated);
	args[2] = Int64GetDatum(l->backordered);
	args[3] = Int64GetDatum(l->shipped);
	args[4] = Int64GetDatum(l->cancelled);
	args[5] = CStringGetTextDatum(line_status_label(l));
	args[6] = TimestampTzGetDatum(l->allocated_at);
	if (l->allocated_at_null)
		nulls[6] = 'n';
	bo_run(bo_prepare(&plan,
					  "UPDATE backorder.order_line"
					  "   SET allocated_qty = $2, backordered_qty = $3, shipped_qty = $4,"
					  "       cancelled_qty = $5, status = $6::backorder.line_status, allocated_at = $7"
					  " WHERE line_id OPERATOR(pg_catalog.=) $1",
					  7, (Oid[]) {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID}),
		   args, nulls, 0);
	if (SPI_processed != 1)
		elog(ERROR, "backorder: order line " INT64_FORMAT " vanished", l->line_id);
}

/* Write back the quantities and statuses of n lines in one UPDATE. */
static void
lines_apply(LineState *lines, int n)
{
	static SPIPlanPtr plan = NULL;
	Datum	   *d[7];
	bool	   *atnull;
	Datum		args[7];
	int			i,
				k;

	if (n == 0)
		return;
	if (n == 1)
	{
		line_apply_one(lines);
		return;
	}
	for (k = 0; k < 7; k++)
		d[k] = palloc(sizeof(Datum) * n);
	atnull = palloc(sizeof(bool) * n);
	for (i = 0; i < n; i++)
	{
		d[0][i] = Int64GetDatum(lines[i].line_id);
		d[1][i] = Int64GetDatum(lines[i].allocated);
		d[2][i] = Int64GetDatum(lines[i].backordered);
		d[3][i] = Int64GetDatum(lines[i].shipped);
		d[4][i] = Int64GetDatum(lines[i].cancelled);
		d[5][i] = CStringGetTextDatum(line_status_label(&lines[i]));
		d[6][i] = TimestampTzGetDatum(lines[i].allocated_at);
		atnull[i] = lines[i].allocated_at_null;
	}
	for (k = 0; k < 7; k++)
		args[k] = bo_array(d[k], k == 6 ? atnull : NULL, n,
						   k == 5 ? TEXTOID : k == 6 ? TIMESTAMPTZOID : INT8OID);
	bo_run(bo_prepare_custom(&plan,
							 "UPDATE backorder.order_line o"
					  "   SET allocated_qty = u.a, backordered_qty = u.b, shipped_qty = u.s,"
					  "       cancelled_qty = u.c, status = u.st::backorder.line_status,"
					  "       allocated_at = u.at"
					  "  FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]),"
					  "       pg_catalog.unnest($2::pg_catalog.int8[]), pg_catalog.unnest($3::pg_catalog.int8[]),"
					  "       pg_catalog.unnest($4::pg_catalog.int8[]), pg_catalog.unnest($5::pg_catalog.int8[]),"
					  "       pg_catalog.unnest($6::pg_catalog.text[]), pg_catalog.unnest($7::pg_catalog.timestamptz[]))"
					  "       AS u(id, a, b, s, c, st, at)"
					  " WHERE o.line_id OPERATOR(pg_catalog.=) u.id",
					  7, (Oid[]) {INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
					  INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID}),
		   args, NULL, 0);
	if (SPI_processed != (uint64) n)
		elog(ERROR, "backorder: updated " UINT64_FORMAT " order lines, expected %d",
			 SPI_processed, n);
}

/*
 * Walk an item's lines through a cursor in the given order, handing each to step()
 * until it returns false; the lines step() changed are written back in one UPDATE.
 * Fetches grow geometrically, so the walk reads about as many lines as it changes.
 */
static void
walk_lines(SPIPlanPtr plan, Datum *keys, const char *sku,
		   bool (*step) (LineState *l, void *arg), void *arg)
{
	Portal		portal = SPI_cursor_open(NULL, plan, keys, NULL, false);
	LineState  *changed = NULL;
	int			nchanged = 0,
				maxchanged = 0;
	long		batch = 16;
	bool		more = true;

	while (more)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, batch);
		if (SPI_processed == 0)
			elog(ERROR, "backorder: the lines of item \"%s\" do not match its counters", sku);
		for (i = 0; i < SPI_processed && more; i++)
		{
			changed = bo_grow(changed, nchanged, &maxchanged, sizeof(LineState),
							  CurrentMemoryContext);
			line_from_spi(i, &changed[nchanged]);
			more = step(&changed[nchanged], arg);
			nchanged++;
		}
		SPI_freetuptable(SPI_tuptable);
		batch = Min(batch * 4, 8192);
	}
	SPI_cursor_close(portal);
	lines_apply(changed, nchanged);
}

typedef struct WalkState
{
	int64		remaining;
	TimestampTz now;
	int64		last_id;		/* the line the walk changed last */
	bool		last_waiting;	/* it still has waiting units */
} WalkState;

/* queue_fill step: allocate to the head line, partially if need be. */
static bool
fill_step(LineState *l, void *arg)
{
	WalkState  *w = arg;
	int64		take = Min(l->backordered, w->remaining);

	l->backordered -= take;
	l->allocated += take;
	if (l->backordered == 0)
	{
		l->allocated_at = w->now;
		l->allocated_at_null = false;
	}
	w->remaining -= take;
	w->last_id = l->line_id;
	w->last_waiting = l->backordered > 0;
	event_add("line_allocated", l->sku, l->order_ref, l->line_id, 0, take);
	return w->remaining > 0;
}

/*
 * The oldest line of an item after line_id that still has waiting units, 0: none. Walks
 * order_line_sku_idx from there (the item is locked: its lines are as this transaction
 * sees them).
 */
static int64
next_waiting(const char *sku, int64 after)
{
	KeyScan		k;
	int64		found = 0;

	key_scan_begin_after(&k, "order_line", AccessShareLock, "order_line_sku_idx", "sku",
						 CStringGetTextDatum(sku), true, "line_id", after);
	while (found == 0 && key_scan_next(&k))
	{
		bool		isnull;

		if (key_int8(&k, "backordered_qty", &isnull) > 0)
			found = key_int8(&k, "line_id", &isnull);
	}
	key_scan_end(&k);
	return found;
}

/*
 * Is idx order_line_sku_idx as the engine made it, a btree on exactly (sku, line_id) of
 * rel, whose order is the queue's? The direct walks rely on it.
 */
static bool
sku_line_index(Relation idx, Relation rel)
{
	bo_colmap(rel, &order_line_cols);
	return idx->rd_index->indrelid == RelationGetRelid(rel) && idx->rd_rel->relam == BTREE_AM_OID &&
		idx->rd_index->indnkeyatts == 2 &&
		idx->rd_index->indkey.values[0] == order_line_cols.attnums[OL_SKU] &&
		idx->rd_index->indkey.values[1] == order_line_cols.attnums[OL_LINE_ID];
}

/*
 * queue_fill without the executor: walk order_line_sku_idx from the queue head, update
 * each filled line in place (HOT while its page has room: no index covers what changes)
 * and stop at the first line still waiting, the new head. Only this transaction, which
 * holds the item locked, changes the item's lines. Returns false, having done nothing,
 * when the executor is needed: a shop trigger on order_line updates, an index with an
 * expression or a predicate, or a changed order_line_sku_idx.
 */
static bool
fill_direct(StockEntry *e, WalkState *w, int64 units)
{
	Relation	rel = table_open(bo_relid("order_line"), RowExclusiveLock);
	List	   *indexes = RelationGetIndexList(rel);
	Oid			idxoid = bo_relid("order_line_sku_idx");
	Relation	idx;
	const int  *a = order_line_cols.attnums;
	ScanKeyData keys[2];
	Snapshot	snap;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	BoIndexSet *ix;
	MemoryContext linecxt,
				old;
	int64		waiting_after = e->backordered - units;
	int64		head = 0;

	bo_colmap(rel, &order_line_cols);
	if (!OidIsValid(idxoid) || !bo_direct_ok(rel, TRIGGER_TYPE_UPDATE))
	{
		table_close(rel, NoLock);
		return false;
	}
	idx = index_open(idxoid, AccessShareLock);
	if (!sku_line_index(idx, rel))
	{
		index_close(idx, AccessShareLock);
		table_close(rel, NoLock);
		return false;
	}

	/* this statement's own line changes so far are visible, the walk's own are not */
	CommandCounterIncrement();
	snap = RegisterSnapshot(GetLatestSnapshot());
	ScanKeyEntryInitialize(&keys[0], 0, 1, BTEqualStrategyNumber, InvalidOid,
						   idx->rd_indcollation[0], F_TEXTEQ, CStringGetTextDatum(e->sku));
	ScanKeyEntryInitialize(&keys[1], 0, 2, BTGreaterEqualStrategyNumber, InvalidOid,
						   InvalidOid, F_INT8GE, Int64GetDatum(e->queue_head));
	scan = index_beginscan(rel, idx, snap, 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	slot = table_slot_create(rel, NULL);
	ix = bo_indexes_open(rel, indexes);
	/* per-line allocations; the index scan allocates in the caller's context */
	linecxt = AllocSetContextCreate(CurrentMemoryContext, "backorder fill line",
									ALLOCSET_SMALL_SIZES);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		LineState	l;
		bool		isnull;
		HeapTuple	oldtup,
					newtup;
		bool		shouldfree;
		BoCols		set;

		l.backordered = DatumGetInt64(slot_getattr(slot, a[OL_BACKORDERED], &isnull));
		if (l.backordered == 0)
			continue;			/* cancelled or filled ahead of the head: not waiting */
		l.line_id = DatumGetInt64(slot_getattr(slot, a[OL_LINE_ID], &isnull));
		if (w->remaining == 0)
		{
			head = l.line_id;	/* the first line still waiting */
			break;
		}
		old = MemoryContextSwitchTo(linecxt);
		l.allocated = DatumGetInt64(slot_getattr(slot, a[OL_ALLOCATED], &isnull));
		/* a filled line holds allocated units, so shipped and cancelled do not decide its status */
		l.shipped = l.cancelled = 0;
		l.order_ref = TextDatumGetCString(slot_getattr(slot, a[OL_ORDER_REF], &isnull));
		l.sku = e->sku;
		fill_step(&l, w);

		bo_cols_init(&set, rel);
		bo_cols_put(&set, a[OL_ALLOCATED], Int64GetDatum(l.allocated), false);
		bo_cols_put(&set, a[OL_BACKORDERED], Int64GetDatum(l.backordered), false);
		bo_cols_put(&set, a[OL_STATUS], line_status_datum(rel, a[OL_STATUS], &l), false);
		bo_cols_put(&set, a[OL_ALLOCATED_AT], TimestampTzGetDatum(l.allocated_at), l.backordered > 0);
		oldtup = ExecFetchSlotHeapTuple(slot, false, &shouldfree);
		newtup = bo_cols_apply(&set, oldtup);
		simple_heap_update(rel, &slot->tts_tid, newtup);
		if (!HeapTupleIsHeapOnly(newtup))
			bo_indexes_insert(ix, newtup);
		MemoryContextSwitchTo(old);
		MemoryContextReset(linecxt);
		if (l.backordered > 0)
		{
			head = l.line_id;	/* filled partially: still the head */
			break;
		}
		if (w->remaining == 0 && waiting_after == 0)
			break;				/* nothing else waits */
	}
	MemoryContextDelete(linecxt);
	bo_indexes_close(ix);
	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	UnregisterSnapshot(snap);
	index_close(idx, NoLock);
	table_close(rel, NoLock);

	if (w->remaining > 0 || (head == 0) != (waiting_after == 0))
		elog(ERROR, "backorder: the waiting lines of item \"%s\" do not match its counters",
			 e->sku);
	e->queue_head = head;
	CommandCounterIncrement();
	return true;
}

/*
 * Give free stock to the queue, head first: as many units as are both free and
 * waiting. Returns the units allocated.
 */
int64
queue_fill(StockEntry *e)
{
	static SPIPlanPtr plan = NULL;
	int64		units = Min(e->backordered, e->on_hand - e->allocated);
	WalkState	w;
	Datum		keys[2];

	if (units <= 0)
		return 0;
	w.remaining = units;
	w.now = bo_now();
	w.last_id = 0;
	w.last_waiting = false;
	if (!fill_direct(e, &w, units))
	{
		keys[0] = CStringGetTextDatum(e->sku);
		keys[1] = Int64GetDatum(e->queue_head);
		walk_lines(bo_prepare(&plan,
							  "SELECT " LINE_COLS " FROM backorder.order_line"
							  " WHERE sku OPERATOR(pg_catalog.=) $1 AND line_id OPERATOR(pg_catalog.>=) $2"
							  "   AND backordered_qty OPERATOR(pg_catalog.>) 0"
							  " ORDER BY line_id",
							  2, (Oid[]) {TEXTOID, INT8OID}),
				   keys, e->sku, fill_step, &w);
		e->queue_head = e->backordered == units ? 0 :
			w.last_waiting ? w.last_id : next_waiting(e->sku, w.last_id);
	}
	e->allocated += units;
	e->backordered -= units;
	po_mark(e);
	stock_changed(e);
	return units;
}

/* take_back step: the newest allocated line returns units to its place in the queue. */
static bool
take_step(LineState *l, void *arg)
{
	WalkState  *w = arg;
	int64		take = Min(l->allocated, w->remaining);

	l->allocated -= take;
	l->backordered += take;
	l->allocated_at_null = true;
	w->remaining -= take;
	w->last_id = l->line_id;
	event_add("line_backordered", l->sku, l->order_ref, l->line_id, 0, take);
	return w->remaining > 0;
}

/*
 * take_back without SPI: walk order_line_sku_idx backward from the item's newest line,
 * taking units back from each allocated line in place (the item is locked: nobody else
 * changes its lines). Returns false, having done nothing, when order_line's writes must go
 * through the executor (bo_direct_ok), or the index is not the engine's.
 */
static bool
take_direct(StockEntry *e, WalkState *w)
{
	KeyScan		k;

	key_scan_begin(&k, "order_line", RowExclusiveLock, "order_line_sku_idx", "sku",
				   CStringGetTextDatum(e->sku), true);
	if (!bo_direct_ok(k.rel, TRIGGER_TYPE_UPDATE) || !sku_line_index(k.idx, k.rel))
	{
		key_scan_end(&k);
		return false;
	}
	while (w->remaining > 0 && key_scan_prev(&k))
	{
		LineState	l;
		BoCols		c;
		bool		isnull;

		if (key_int8(&k, "allocated_qty", &isnull) == 0)
			continue;
		line_from_scan(&k, &l);
		take_step(&l, w);
		line_cols(&c, k.rel, &l);
		key_scan_update(&k, &c);
	}
	key_scan_end(&k);
	CommandCounterIncrement();
	if (w->remaining > 0)
		elog(ERROR, "backorder: the lines of item \"%s\" do not match its counters", e->sku);
	return true;
}

/*
 * Stock was lost below what is allocated: take allocation back from the most recently
 * allocated lines, so that allocated <= on_hand holds again.
 */
static void
take_back(StockEntry *e, int64 units)
{
	static SPIPlanPtr plan = NULL;
	WalkState	w;
	Datum		key = CStringGetTextDatum(e->sku);

	w.remaining = units;
	w.now = bo_now();
	w.last_id = 0;
	if (!take_direct(e, &w))
		walk_lines(bo_prepare(&plan,
							  "SELECT " LINE_COLS " FROM backorder.order_line"
							  " WHERE sku OPERATOR(pg_catalog.=) $1"
							  "   AND allocated_qty OPERATOR(pg_catalog.>) 0"
							  " ORDER BY line_id DESC",
							  1, (Oid[]) {TEXTOID}),
				   &key, e->sku, take_step, &w);
	/* the lines keep their place: the oldest of them may now head the queue */
	if (e->queue_head == 0 || w.last_id < e->queue_head)
		e->queue_head = w.last_id;
	e->allocated -= units;
	e->backordered = bo_add(e->backordered, units);
	po_mark(e);
	stock_changed(e);
}

/*
 * Read one line through its primary key, as this transaction last wrote it (the newest
 * version once its item is locked). Unknown lines are a foreign-key violation.
 */
static void
line_get(int64 line_id, LineState *l)
{
	static SPIPlanPtr plan = NULL;
	Datum		arg = Int64GetDatum(line_id);
	PkeyRow		r;
	bool		found;

	if (pkey_row_find(&r, "order_line", 0, 1, line_pkey, &arg, line_pkey_text))
	{
		found = r.found;
		if (found)
			line_from_scan(&r.k, l);
		pkey_row_done(&r);
	}
	else
	{
		/* a primary key that is not the engine's */
		bo_run(bo_prepare(&plan,
						  "SELECT " LINE_COLS " FROM backorder.order_line"
						  " WHERE line_id OPERATOR(pg_catalog.=) $1",
						  1, (Oid[]) {INT8OID}),
			   &arg, NULL, 1);
		found = SPI_processed > 0;
		if (found)
			line_from_spi(0, l);
	}
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("order line " INT64_FORMAT " does not exist", line_id)));
}

/* Lock the item of a line and return the line's current state. */
static StockEntry *
lock_line(int64 line_id, LineState *l)
{
	StockEntry *e;

	/* the sku of a line never changes, so a first unlocked read finds the item */
	line_get(line_id, l);
	e = stock_lock(l->sku);
	line_get(line_id, l);
	return e;
}

/* The trigger's table, as the engine: connect to SPI and act as the owner. */
static void
engine_begin(Relation rel)
{
	SPI_connect();
	bo_engine_enter(rel->rd_rel->relowner);
}

/* Leave engine code and SPI. */
static void
engine_end(void)
{
	bo_engine_leave();
	SPI_finish();
}

/* nextval of the line-id sequence; called while the item is locked. */
static int64
next_line_id(void)
{
	Oid			seq = bo_relid("order_line_line_id_seq");

	if (!OidIsValid(seq))
		elog(ERROR, "backorder: sequence order_line_line_id_seq is missing");
	return nextval_internal(seq, false);
}

/*
 * The stored version of a ledger row: its time column stamped with the engine's clock
 * and, when qtycol is given, that quantity column set to qty.
 */
static HeapTuple
stamped(Relation rel, HeapTuple tup, const char *timecol, const char *qtycol, int64 qty)
{
	BoCols		c;

	bo_cols_init(&c, rel);
	bo_cols_set(&c, timecol, TimestampTzGetDatum(bo_now()), false);
	if (qtycol)
		bo_cols_set(&c, qtycol, Int64GetDatum(qty), false);
	return bo_cols_apply(&c, tup);
}

/* Reject client values in the first n columns of map m (the maintained ones). */
static void
require_maintained_null(Relation rel, HeapTuple tup, BoColMap *m, int n)
{
	int			i;

	bo_colmap(rel, m);
	for (i = 0; i < n; i++)
		bo_require_null(tup, rel, m->attnums[i]);
}

/* Split an order of qty units of item e into what is allocated now and what waits. */
static void
order_split(const StockEntry *e, int64 qty, int64 *alloc, int64 *back)
{
	*alloc = Min(qty, Max(e->on_hand - e->allocated, 0));
	*back = qty - *alloc;
}

/* Why an order leaving back units waiting on item e would be refused, if it would. */
typedef enum OrderRefusal
{
	ORDER_OK,
	ORDER_DENIED,				/* the item does not accept backorders: BO001 */
	ORDER_OVERFLOW,				/* the waiting units would overflow: 22003 */
	ORDER_OVER_LIMIT			/* beyond backorder_limit: BO002 */
} OrderRefusal;

static OrderRefusal
order_refusal(const StockEntry *e, int64 back)
{
	int64		waiting;

	if (back == 0)
		return ORDER_OK;
	if (e->policy == POLICY_DENY)
		return ORDER_DENIED;
	if (pg_add_s64_overflow(e->backordered, back, &waiting))
		return ORDER_OVERFLOW;
	if (e->has_limit && waiting > e->backorder_limit)
		return ORDER_OVER_LIMIT;
	return ORDER_OK;
}

/*
 * order_line BEFORE INSERT FOR EACH ROW: commit stock. Allocate what is free, queue
 * the rest (unless the policy or the backorder cap forbids it), assign line_id while
 * the item is locked: the queue order is the order in which lines committed stock.
 */
PG_FUNCTION_INFO_V1(bo_order_line_insert);
Datum
bo_order_line_insert(PG_FUNCTION_ARGS)
{
	TriggerData *td = bo_trigger_data(fcinfo, "bo_order_line_insert", true, true);
	Relation	rel = td->tg_relation;
	HeapTuple	tup = td->tg_trigtuple;
	char	   *ref,
			   *sku;
	int64		qty,
				alloc,
				back;
	LineState	l;
	StockEntry *e;
	StockPeek	peek;
	bool		claimed = false;
	int64		head_id = 0;		/* the id drawn for a line heading the queue (claim) */
	BoCols		c;
	TimestampTz now = bo_now();
	const int  *a = order_line_cols.attnums;

	bo_check_trigger_order(td);
	require_maintained_null(rel, tup, &order_line_cols, OL_N_MAINTAINED);
	ref = bo_require_key(tup, rel, a[OL_ORDER_REF]);
	sku = bo_require_key(tup, rel, a[OL_SKU]);
	qty = bo_require_qty(tup, rel, a[OL_QTY], false);

	bo_engine_enter(rel->rd_rel->relowner);
	/* a cached item needs no SPI at all: the common case of a bulk insert */
	e = stock_find(sku);
	if (e == NULL && stock_peek(sku, &peek))
	{
		/* first touch: the new counters claim the row (see stock_claim) */
		order_split(&peek.row, qty, &alloc, &back);
		/* refusals are raised only on the locked row */
		if (order_refusal(&peek.row, back) == ORDER_OK)
		{
			/*
			 * A line heading the queue puts its id in the row it claims. Drawn now, before
			 * the claim, it still comes before the id of any line that claims the row
			 * after this one: a claim fails on a row changed since its peek, and the id is
			 * then dropped (a gap) and drawn again under the lock.
			 */
			if (back > 0 && peek.row.queue_head == 0)
				peek.row.queue_head = head_id = next_line_id();
			peek.row.allocated += alloc;
			peek.row.backordered += back;
			e = stock_claim(sku, &peek);
			claimed = e != NULL;
		}
		else
			stock_unpeek(&peek);
	}
	if (e == NULL)
	{
		SPI_connect();
		e = stock_lock(sku);
		SPI_finish();
	}
	if (!claimed)
	{
		OrderRefusal refusal;

		order_split(e, qty, &alloc, &back);
		refusal = order_refusal(e, back);
		if (refusal == ORDER_DENIED)
			ereport(ERROR,
					(errcode(ERRCODE_BO_INSUFFICIENT_STOCK),
					 errmsg("not enough stock of item \"%s\"", sku),
					 errdetail(INT64_FORMAT " units were ordered but only " INT64_FORMAT
							   " are free, and the item does not accept backorders.",
							   qty, alloc)));
		if (refusal == ORDER_OVER_LIMIT)
			ereport(ERROR,
					(errcode(ERRCODE_BO_BACKORDER_LIMIT),
					 errmsg("backorder limit of item \"%s\" reached", sku),
					 errdetail("The order would leave " INT64_FORMAT " units waiting; the limit is "
							   INT64_FORMAT ".", e->backordered + back, e->backorder_limit)));
		e->allocated += alloc;
		e->backordered = bo_add(e->backordered, back);	/* ORDER_OVERFLOW: raises 22003 */
		stock_changed(e);
	}
	if (back > 0)
		po_mark(e);

	memset(&l, 0, sizeof(l));
	l.line_id = claimed && head_id != 0 ? head_id : next_line_id();
	if (back > 0 && e->queue_head == 0)
	{
		Assert(!claimed);
		e->queue_head = l.line_id;	/* line ids grow: a new line waits last */
	}
	l.qty = qty;
	l.allocated = alloc;
	l.backordered = back;
	if (alloc > 0)
		event_add("line_allocated", sku, ref, l.line_id, 0, alloc);
	if (back > 0)
		event_add("line_backordered", sku, ref, l.line_id, 0, back);
	bo_engine_leave();

	bo_cols_init(&c, rel);
	bo_cols_put(&c, a[OL_LINE_ID], Int64GetDatum(l.line_id), false);
	bo_cols_put(&c, a[OL_ALLOCATED], Int64GetDatum(l.allocated), false);
	bo_cols_put(&c, a[OL_BACKORDERED], Int64GetDatum(l.backordered), false);
	bo_cols_put(&c, a[OL_SHIPPED], Int64GetDatum(0), false);
	bo_cols_put(&c, a[OL_CANCELLED], Int64GetDatum(0), false);
	bo_cols_put(&c, a[OL_STATUS], line_status_datum(rel, a[OL_STATUS], &l), false);
	bo_cols_put(&c, a[OL_PLACED_AT], TimestampTzGetDatum(now), false);
	bo_cols_put(&c, a[OL_ALLOCATED_AT], TimestampTzGetDatum(now), l.backordered > 0);
	return PointerGetDatum(bo_cols_apply(&c, tup));
}

/*
 * receipt BEFORE INSERT FOR EACH ROW: add stock, book it against a purchase order,
 * and fill the queue head first.
 */
PG_FUNCTION_INFO_V1(bo_receipt_insert);
Datum
bo_receipt_insert(PG_FUNCTION_ARGS)
{
	TriggerData *td = bo_trigger_data(fcinfo, "bo_receipt_insert", true, true);
	Relation	rel = td->tg_relation;
	HeapTuple	tup = td->tg_trigtuple;
	static const char *const maintained_names[] = {"received_at", "allocated_qty"};
	static BoColMap maintained = BO_COLMAP(maintained_names);
	char	   *sku;
	int64		qty,
				po_id = 0,
				filled = 0;
	bool		has_po;

	bo_check_trigger_order(td);
	require_maintained_null(rel, tup, &maintained, maintained.n);
	sku = bo_require_key(tup, rel, bo_attnum(rel, "sku"));
	qty = bo_require_qty(tup, rel, bo_attnum(rel, "qty"), false);
	has_po = bo_get_int8(tup, rel, bo_attnum(rel, "po_id"), &po_id);

	engine_begin(rel);
	{
		StockEntry *e = stock_lock(sku);

		po_receipt(e, qty, has_po, po_id);
		e->on_hand = bo_add(e->on_hand, qty);
		stock_changed(e);
		event_add("stock_received", sku, NULL, 0, has_po ? po_id : 0, qty);
		filled = queue_fill(e);
	}
	engine_end();

	return PointerGetDatum(stamped(rel, tup, "received_at", "allocated_qty", filled));
}

/*
 * Does a line belong to a ship-complete order that still has waiting lines? Read through
 * the indexes, with the transaction's snapshot (as a query would). The caller holds the
 * line's item, and in READ COMMITTED that snapshot is taken now: a transaction it waited
 * for, which left another line of the order waiting on that item, is seen.
 */
static bool
order_incomplete(const char *order_ref)
{
	Datum		key = CStringGetTextDatum(order_ref);
	KeyScan		k;
	bool		ship_complete = false,
				waiting = false,
				isnull;

	key_scan_begin(&k, "customer_order", AccessShareLock, "customer_order_pkey", "order_ref",
				   key, true);
	if (key_scan_next(&k))
	{
		Datum		d = slot_getattr(k.slot, bo_attnum(k.rel, "ship_complete"), &isnull);

		ship_complete = !isnull && DatumGetBool(d);
	}
	key_scan_end(&k);
	if (!ship_complete)
		return false;

	key_scan_begin(&k, "order_line", AccessShareLock, "order_line_order_ref_idx", "order_ref",
				   key, true);
	while (!waiting && key_scan_next(&k))
		waiting = key_int8(&k, "backordered_qty", &isnull) > 0;
	key_scan_end(&k);
	return waiting;
}

/* shipment BEFORE INSERT FOR EACH ROW: allocated units leave the warehouse. */
PG_FUNCTION_INFO_V1(bo_shipment_insert);
Datum
bo_shipment_insert(PG_FUNCTION_ARGS)
{
	TriggerData *td = bo_trigger_data(fcinfo, "bo_shipment_insert", true, true);
	Relation	rel = td->tg_relation;
	HeapTuple	tup = td->tg_trigtuple;
	static const char *const maintained_names[] = {"shipped_at"};
	static BoColMap maintained = BO_COLMAP(maintained_names);
	int64		line_id = bo_require_int8(tup, rel, bo_attnum(rel, "line_id"));	/* unknown: 23503 */
	int64		qty;

	bo_check_trigger_order(td);
	require_maintained_null(rel, tup, &maintained, maintained.n);
	qty = bo_require_qty(tup, rel, bo_attnum(rel, "qty"), false);

	engine_begin(rel);
	{
		LineState	l;
		StockEntry *e = lock_line(line_id, &l);

		if (qty > l.allocated)
			ereport(ERROR,
					(errcode(ERRCODE_BO_SHIP_EXCEEDS),
					 errmsg("cannot ship " INT64_FORMAT " units of order line " INT64_FORMAT,
							qty, line_id),
					 errdetail("Only " INT64_FORMAT " units of the line are allocated.",
							   l.allocated)));
		if (order_incomplete(l.order_ref))
			ereport(ERROR,
					(errcode(ERRCODE_BO_SHIP_INCOMPLETE),
					 errmsg("order \"%s\" ships complete and still has waiting lines",
							l.order_ref),
					 errhint("Wait until every line of the order is allocated; see backorder.ready_to_ship.")));
		l.allocated -= qty;
		l.shipped += qty;
		lines_apply(&l, 1);
		e->on_hand -= qty;
		e->allocated -= qty;
		stock_changed(e);
		event_add("line_shipped", l.sku, l.order_ref, line_id, 0, qty);
	}
	engine_end();

	return PointerGetDatum(stamped(rel, tup, "shipped_at", NULL, 0));
}

/*
 * cancellation BEFORE INSERT FOR EACH ROW: release waiting units first, then allocated
 * ones; released stock goes straight to the head of the queue. qty NULL means all that
 * is still open, and is replaced by that number.
 */
PG_FUNCTION_INFO_V1(bo_cancellation_insert);
Datum
bo_cancellation_insert(PG_FUNCTION_ARGS)
{
	TriggerData *td = bo_trigger_data(fcinfo, "bo_cancellation_insert", true, true);
	Relation	rel = td->tg_relation;
	HeapTuple	tup = td->tg_trigtuple;
	static const char *const maintained_names[] = {"cancelled_at"};
	static BoColMap maintained = BO_COLMAP(maintained_names);
	int64		line_id = bo_require_int8(tup, rel, bo_attnum(rel, "line_id"));	/* unknown: 23503 */
	int64		qty;

	bo_check_trigger_order(td);
	require_maintained_null(rel, tup, &maintained, maintained.n);
	qty = bo_require_qty(tup, rel, bo_attnum(rel, "qty"), true);

	engine_begin(rel);
	{
		LineState	l;
		StockEntry *e = lock_line(line_id, &l);
		int64		open = l.allocated + l.backordered;
		int64		from_back,
					from_alloc;

		if (open == 0)
			ereport(ERROR,
					(errcode(ERRCODE_BO_CANCEL_EXCEEDS),
					 errmsg("order line " INT64_FORMAT " has nothing left to cancel", line_id),
					 errdetail("The line is %s.", line_status_label(&l))));
		if (qty == 0)
			qty = open;
		if (qty > open)
			ereport(ERROR,
					(errcode(ERRCODE_BO_CANCEL_EXCEEDS),
					 errmsg("cannot cancel " INT64_FORMAT " units of order line " INT64_FORMAT,
							qty, line_id),
					 errdetail("Only " INT64_FORMAT " units of the line are still open.", open)));
		from_back = Min(qty, l.backordered);
		from_alloc = qty - from_back;
		l.backordered -= from_back;
		l.allocated -= from_alloc;
		l.cancelled += qty;
		if (from_back > 0 && l.backordered == 0 && l.allocated > 0)
		{
			/* its last waiting unit went: what it holds is now all it waits for */
			l.allocated_at = bo_now();
			l.allocated_at_null = false;
		}
		lines_apply(&l, 1);
		e->backordered -= from_back;
		e->allocated -= from_alloc;
		if (from_back > 0 && l.backordered == 0 && e->queue_head == line_id)
			e->queue_head = e->backordered == 0 ? 0 : next_waiting(e->sku, line_id);
		if (from_back > 0)
			po_mark(e);
		stock_changed(e);
		event_add("line_cancelled", l.sku, l.order_ref, line_id, 0, qty);
		queue_fill(e);
	}
	engine_end();

	return PointerGetDatum(stamped(rel, tup, "cancelled_at", "qty", qty));
}

/*
 * adjustment BEFORE INSERT FOR EACH ROW: a stock count correction. A gain fills the
 * queue like a receipt; a loss beyond free stock takes allocation back from the most
 * recently allocated lines.
 */
PG_FUNCTION_INFO_V1(bo_adjustment_insert);
Datum
bo_adjustment_insert(PG_FUNCTION_ARGS)
{
	TriggerData *td = bo_trigger_data(fcinfo, "bo_adjustment_insert", true, true);
	Relation	rel = td->tg_relation;
	HeapTuple	tup = td->tg_trigtuple;
	static const char *const maintained_names[] = {"adjusted_at"};
	static BoColMap maintained = BO_COLMAP(maintained_names);
	char	   *sku;
	int64		delta;

	bo_check_trigger_order(td);
	require_maintained_null(rel, tup, &maintained, maintained.n);
	sku = bo_require_key(tup, rel, bo_attnum(rel, "sku"));
	if (!bo_get_int8(tup, rel, bo_attnum(rel, "delta"), &delta))
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("delta of table \"adjustment\" must not be null")));
	if (delta == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("delta of table \"adjustment\" must not be zero")));

	engine_begin(rel);
	{
		StockEntry *e = stock_lock(sku);
		int64		on_hand = bo_add(e->on_hand, delta);

		if (on_hand < 0)
			ereport(ERROR,
					(errcode(ERRCODE_BO_NEGATIVE_STOCK),
					 errmsg("adjustment would leave item \"%s\" with negative stock", sku),
					 errdetail("On hand: " INT64_FORMAT ", delta: " INT64_FORMAT ".",
							   e->on_hand, delta)));
		e->on_hand = on_hand;
		stock_changed(e);
		event_add("stock_adjusted", sku, NULL, 0, 0, delta);
		if (delta > 0)
			queue_fill(e);
		else if (e->allocated > e->on_hand)
			take_back(e, e->allocated - e->on_hand);
	}
	engine_end();

	return PointerGetDatum(stamped(rel, tup, "adjusted_at", NULL, 0));
}

/* AFTER INSERT FOR EACH STATEMENT on every ledger table: write counters and events. */
PG_FUNCTION_INFO_V1(bo_flush);
Datum
bo_flush(PG_FUNCTION_ARGS)
{
	TriggerData *td = bo_trigger_data(fcinfo, "bo_flush", false, false);

	bo_check_trigger_order(td);
	engine_begin(td->tg_relation);
	{
		stock_flush();
		events_flush();
		stock_statement_end();
	}
	engine_end();
	return PointerGetDatum(NULL);
}
