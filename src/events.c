/*
 * events.c
 *    Buffered event rows and their notifications.
 *
 * Events are collected in memory while a statement runs and written at its end, straight
 * into the heap and its indexes (or with one INSERT ... SELECT FROM unnest(...) when a shop
 * trigger on the event table must see them). Each gets one NOTIFY on channel
 * backorder_events whose payload is the event_id, sent after commit (notify.c), so
 * listeners hear only about committed changes.
 */
#include "backorder.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/xact.h"
#include "executor/tuptable.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_trigger.h"
#include "commands/sequence.h"
#include "storage/proc.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/inval.h"
#include "utils/memutils.h"

typedef struct PendingEvent
{
	const char *kind;			/* a string constant */
	text	   *sku;			/* NULL: none */
	text	   *order_ref;		/* NULL: none */
	int64		line_id;		/* 0: none */
	int64		po_id;			/* 0: none */
	int64		qty;
	SubTransactionId subid;
} PendingEvent;

/* event rows written by one heap_multi_insert */
#define EVENT_BATCH 1000

static MemoryContext events_cxt = NULL;
static PendingEvent *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;

/* A copy of s as text in the events' context, or NULL. */
static text *
event_text(const char *s)
{
	MemoryContext old;
	text	   *t;

	if (s == NULL)
		return NULL;
	old = MemoryContextSwitchTo(events_cxt);
	t = cstring_to_text(s);
	MemoryContextSwitchTo(old);
	return t;
}

/* kind as text, converted once per flush (kinds are a handful of string constants) */
typedef struct KindTexts
{
	int			n;
	const char *kind[16];
	Datum		text[16];
} KindTexts;

static Datum
kind_text(KindTexts *k, const char *kind)
{
	int			i;

	for (i = 0; i < k->n; i++)
		if (k->kind[i] == kind)
			return k->text[i];
	if (k->n == lengthof(k->kind))
		return CStringGetTextDatum(kind);
	k->kind[k->n] = kind;
	return k->text[k->n++] = CStringGetTextDatum(kind);
}

/* Queue an event; sku and order_ref are copied. */
void
event_add(const char *kind, const char *sku, const char *order_ref,
		  int64 line_id, int64 po_id, int64 qty)
{
	PendingEvent *ev;

	if (events_cxt == NULL)
	{
		events_cxt = AllocSetContextCreate(TopTransactionContext, "backorder events",
										   ALLOCSET_DEFAULT_SIZES);
		pending = NULL;
		npending = maxpending = 0;
	}
	pending = bo_grow(pending, npending, &maxpending, sizeof(PendingEvent), events_cxt);
	ev = &pending[npending++];
	ev->kind = kind;
	ev->sku = event_text(sku);
	ev->order_ref = event_text(order_ref);
	ev->line_id = line_id;
	ev->po_id = po_id;
	ev->qty = qty;
	ev->subid = GetCurrentSubTransactionId();
}

/*
 * The identity sequence of event_id: a pg_depend scan, so it is remembered across
 * transactions until the event table's relcache entry is invalidated (ALTER, DROP).
 */
static Oid	event_seq_rel = InvalidOid;
static Oid	event_seq = InvalidOid;

static void
event_seq_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == event_seq_rel)
		event_seq_rel = event_seq = InvalidOid;
}

static Oid
event_id_sequence(Relation rel, int attnum)
{
	static bool registered = false;

	if (!registered)
	{
		CacheRegisterRelcacheCallback(event_seq_invalidate, (Datum) 0);
		registered = true;
	}
	if (event_seq_rel != RelationGetRelid(rel) || !OidIsValid(event_seq))
	{
		event_seq = getIdentitySequence(RelationGetRelid(rel), attnum, false);
		event_seq_rel = RelationGetRelid(rel);
	}
	return event_seq;
}

/* Set column attnum of a row being formed. */
static inline void
put_col(Datum *values, bool *nulls, int attnum, Datum value)
{
	values[attnum - 1] = value;
	nulls[attnum - 1] = false;
}

/*
 * Insert the queued events straight into the heap (heap_multi_insert, EVENT_BATCH rows a
 * call) and its indexes, with no executor, and notify (unless backorder.notify is off).
 * Returns false, having done nothing, when a shop trigger on event inserts must see them:
 * then the SPI path writes them.
 */
static bool
events_write_direct(void)
{
	Relation	rel = table_open(bo_relid("event"),
								 RowExclusiveLock);
	List	   *indexes = RelationGetIndexList(rel);
	TupleDesc	desc = RelationGetDescr(rel);
	BoIndexSet *ix;
	Datum	   *values;
	bool	   *nulls;
	Oid			seq;
	int			a_id,
				a_at,
				a_kind,
				a_sku,
				a_ref,
				a_line,
				a_po,
				a_qty;
	int			i,
				n,
				done,
				nslots;
	TupleTableSlot **slots;
	TimestampTz at = bo_now();
	KindTexts	kinds = {0};

	if (!bo_direct_ok(rel, TRIGGER_TYPE_INSERT))
	{
		table_close(rel, NoLock);
		return false;
	}
	a_id = bo_attnum(rel, "event_id");
	a_at = bo_attnum(rel, "at");
	a_kind = bo_attnum(rel, "kind");
	a_sku = bo_attnum(rel, "sku");
	a_ref = bo_attnum(rel, "order_ref");
	a_line = bo_attnum(rel, "line_id");
	a_po = bo_attnum(rel, "po_id");
	a_qty = bo_attnum(rel, "qty");
	seq = event_id_sequence(rel, a_id);
	values = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	nslots = Min(npending, EVENT_BATCH);
	slots = palloc(sizeof(TupleTableSlot *) * nslots);
	for (i = 0; i < nslots; i++)
		slots[i] = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	ix = bo_indexes_open(rel, indexes);
	for (done = 0; done < npending; done += n)
	{
		n = Min(npending - done, EVENT_BATCH);
		for (i = 0; i < n; i++)
		{
			PendingEvent *ev = &pending[done + i];

			memset(nulls, true, sizeof(bool) * desc->natts);
			put_col(values, nulls, a_id, Int64GetDatum(nextval_internal(seq, false)));
			put_col(values, nulls, a_at, TimestampTzGetDatum(at));
			put_col(values, nulls, a_kind, kind_text(&kinds, ev->kind));
			if (ev->sku)
				put_col(values, nulls, a_sku, PointerGetDatum(ev->sku));
			if (ev->order_ref)
				put_col(values, nulls, a_ref, PointerGetDatum(ev->order_ref));
			if (ev->line_id)
				put_col(values, nulls, a_line, Int64GetDatum(ev->line_id));
			if (ev->po_id)
				put_col(values, nulls, a_po, Int64GetDatum(ev->po_id));
			put_col(values, nulls, a_qty, Int64GetDatum(ev->qty));
			ExecStoreHeapTuple(heap_form_tuple(desc, values, nulls), slots[i], true);
		}
		/* one WAL record and one buffer lock per page, not per row */
		heap_multi_insert(rel, slots, n, GetCurrentCommandId(true), 0, NULL);
		for (i = 0; i < n; i++)
		{
			HeapTuple	tup = ExecFetchSlotHeapTuple(slots[i], false, NULL);

			tup->t_self = slots[i]->tts_tid;
			bo_indexes_insert(ix, tup);
			if (bo_notify)
				notify_event(DatumGetInt64(slot_getattr(slots[i], a_id, &(bool) {false})));
			ExecClearTuple(slots[i]);
		}
	}
	for (i = 0; i < nslots; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	bo_indexes_close(ix);
	table_close(rel, NoLock);
	npending = 0;
	CommandCounterIncrement();
	return true;
}

/* Write all queued events and notify listeners; must be called inside SPI_connect. */
void
events_flush(void)
{
	static SPIPlanPtr plan = NULL;
	Datum	   *kind,
			   *sku,
			   *ref,
			   *line,
			   *po,
			   *qty;
	bool	   *nsku,
			   *nref,
			   *nline,
			   *npo;
	Datum		args[7];
	uint64		i;
	uint64		n = npending;
	KindTexts	kinds = {0};

	if (n == 0 || events_write_direct())
		return;
	kind = palloc(sizeof(Datum) * n);
	sku = palloc(sizeof(Datum) * n);
	ref = palloc(sizeof(Datum) * n);
	line = palloc(sizeof(Datum) * n);
	po = palloc(sizeof(Datum) * n);
	qty = palloc(sizeof(Datum) * n);
	nsku = palloc(sizeof(bool) * n);
	nref = palloc(sizeof(bool) * n);
	nline = palloc(sizeof(bool) * n);
	npo = palloc(sizeof(bool) * n);
	for (i = 0; i < n; i++)
	{
		PendingEvent *ev = &pending[i];

		kind[i] = kind_text(&kinds, ev->kind);
		nsku[i] = ev->sku == NULL;
		sku[i] = PointerGetDatum(ev->sku);
		nref[i] = ev->order_ref == NULL;
		ref[i] = PointerGetDatum(ev->order_ref);
		nline[i] = ev->line_id == 0;
		line[i] = Int64GetDatum(ev->line_id);
		npo[i] = ev->po_id == 0;
		po[i] = Int64GetDatum(ev->po_id);
		qty[i] = Int64GetDatum(ev->qty);
	}
	args[0] = TimestampTzGetDatum(bo_now());
	args[1] = bo_array(kind, NULL, n, TEXTOID);
	args[2] = bo_array(sku, nsku, n, TEXTOID);
	args[3] = bo_array(ref, nref, n, TEXTOID);
	args[4] = bo_array(line, nline, n, INT8OID);
	args[5] = bo_array(po, npo, n, INT8OID);
	args[6] = bo_array(qty, NULL, n, INT8OID);
	npending = 0;

	bo_run(bo_prepare_custom(&plan,
							 "INSERT INTO backorder.event (at, kind, sku, order_ref, line_id, po_id, qty)"
					  " SELECT $1, * FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]),"
					  "        pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.text[]),"
					  "        pg_catalog.unnest($5::pg_catalog.int8[]), pg_catalog.unnest($6::pg_catalog.int8[]),"
					  "        pg_catalog.unnest($7::pg_catalog.int8[]))"
					  " RETURNING event_id",
					  7, (Oid[]) {TIMESTAMPTZOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
					  INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID}),
		   args, NULL, 0);
	for (i = 0; bo_notify && i < SPI_processed; i++)
		notify_event(bo_col_int8(i, 1, 0));
}

/* The transaction ended. */
void
events_reset(void)
{
	events_cxt = NULL;
	pending = NULL;
	npending = maxpending = 0;
}

/* Drop events queued by a rolled-back subtransaction (or its children). */
void
events_subxact_abort(SubTransactionId subid)
{
	int			i,
				kept = 0;

	for (i = 0; i < npending; i++)
		if (pending[i].subid < subid)
			pending[kept++] = pending[i];
	npending = kept;
}
