/*
 * events.c
 *    Buffered event rows and their notifications.
 *
 * Events are collected in memory while a statement runs and written with one
 * INSERT ... SELECT FROM unnest(...) at its end, followed by one NOTIFY per event on
 * channel backorder_events whose payload is the event_id. NOTIFY is transactional, so
 * listeners hear only about committed changes.
 */
#include "backorder.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

typedef struct PendingEvent
{
	const char *kind;			/* a string constant */
	char	   *sku;
	char	   *order_ref;
	int64		line_id;		/* 0: none */
	int64		po_id;			/* 0: none */
	int64		qty;
	SubTransactionId subid;
} PendingEvent;

static MemoryContext events_cxt = NULL;
static PendingEvent *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;

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
		maxpending = 64;
		pending = MemoryContextAlloc(events_cxt, sizeof(PendingEvent) * maxpending);
	}
	if (npending == maxpending)
	{
		maxpending *= 2;
		pending = repalloc_huge(pending, sizeof(PendingEvent) * maxpending);
	}
	ev = &pending[npending++];
	ev->kind = kind;
	ev->sku = sku ? MemoryContextStrdup(events_cxt, sku) : NULL;
	ev->order_ref = order_ref ? MemoryContextStrdup(events_cxt, order_ref) : NULL;
	ev->line_id = line_id;
	ev->po_id = po_id;
	ev->qty = qty;
	ev->subid = GetCurrentSubTransactionId();
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

	if (n == 0)
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

		kind[i] = CStringGetTextDatum(ev->kind);
		nsku[i] = ev->sku == NULL;
		sku[i] = nsku[i] ? (Datum) 0 : CStringGetTextDatum(ev->sku);
		nref[i] = ev->order_ref == NULL;
		ref[i] = nref[i] ? (Datum) 0 : CStringGetTextDatum(ev->order_ref);
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

	bo_run(bo_prepare(&plan,
					  "INSERT INTO backorder.event (at, kind, sku, order_ref, line_id, po_id, qty)"
					  " SELECT $1, * FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]),"
					  "        pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.text[]),"
					  "        pg_catalog.unnest($5::pg_catalog.int8[]), pg_catalog.unnest($6::pg_catalog.int8[]),"
					  "        pg_catalog.unnest($7::pg_catalog.int8[]))"
					  " RETURNING event_id",
					  7, (Oid[]) {TIMESTAMPTZOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
					  INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID}),
		   args, NULL, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		char		payload[32];

		snprintf(payload, sizeof(payload), INT64_FORMAT, bo_col_int8(i, 1, 0));
		Async_Notify("backorder_events", payload);
	}
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
