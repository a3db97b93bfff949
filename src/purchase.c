/*
 * purchase.c
 *    Purchase-order buffering: waiting units that no open purchase order covers are
 *    collected in the supplier's draft, which is issued at po_min_qty or po_max_wait.
 *
 * Lock order, which keeps this deadlock-free: item rows first (during the transaction,
 * as ledger rows arrive), supplier rows last, at commit, in supplier_id order. An order
 * line only notes its sku in a per-transaction set; the deferred constraint trigger
 * bo_po_sync resynchronises the drafts of those skus at commit while holding the
 * supplier's row lock for the few moments the commit takes. So orders for different
 * items of one supplier never wait on each other while they run, and the transaction
 * that pushes a draft over its minimum sees every draft line committed before it.
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
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/executor.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/timestamp.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

/*
 * A sku whose purchase lines need a resync at commit, and the subtransaction that first
 * asked for it: when that subtransaction rolls back, so does what made the resync needed,
 * and the mark goes (po_subxact_abort). Otherwise the commit would lock an item that only
 * rolled-back work touched, behind whoever holds it now (a deadlock for clients that take
 * items in sku order and wrap statements in savepoints).
 */
typedef struct PendingSku
{
	char	   *sku;			/* the key */
	SubTransactionId subid;
} PendingSku;
static HTAB *pending_skus = NULL;	/* of PendingSku */
/* A purchase order that received units, and the subtransaction that booked them. */
typedef struct BookedPo
{
	int64		po_id;
	SubTransactionId subid;
} BookedPo;
static List *booked_pos = NIL;	/* of BookedPo: orders that may be complete at commit */

/*
 * What a resync inside a subtransaction took from pending_skus and booked_pos. If that
 * subtransaction rolls back, so does the resync's work, and PostgreSQL fires the deferred
 * trigger again at commit: the skus and orders must be pending again by then
 * (po_subxact_abort). Kept in the order of the resyncs; subtransaction ids only grow.
 */
typedef struct PoTaken
{
	SubTransactionId subid;
	HTAB	   *skus;			/* or NULL */
	List	   *booked;
} PoTaken;
static List *po_taken = NIL;	/* of PoTaken, in TopTransactionContext */

/* Free a table of skus and the strings it points to (mark_sku's copies). */
static void
skus_free(HTAB *skus)
{
	HASH_SEQ_STATUS seq;
	PendingSku *p;

	hash_seq_init(&seq, skus);
	while ((p = hash_seq_search(&seq)) != NULL)
		pfree(p->sku);
	hash_destroy(skus);
}

/* A resync takes skus (a pending_skus table, or NULL) and booked orders. */
static void
po_take(HTAB *skus, List *booked)
{
	SubTransactionId sub = GetCurrentSubTransactionId();
	MemoryContext old;
	PoTaken    *t;

	if (sub == TopSubTransactionId)
	{
		/* the top level never rolls back alone */
		if (skus)
			hash_destroy(skus);
		return;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	t = palloc(sizeof(PoTaken));
	t->subid = sub;
	t->skus = skus;
	t->booked = booked;
	po_taken = lappend(po_taken, t);
	MemoryContextSwitchTo(old);
}

/* Remember a purchase order that received units: it may be complete at commit. */
static void
note_booked(int64 po_id)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	BookedPo   *b = palloc(sizeof(BookedPo));

	b->po_id = po_id;
	b->subid = GetCurrentSubTransactionId();
	booked_pos = lappend(booked_pos, b);
	MemoryContextSwitchTo(old);
}

/* Mark a sku pending, on behalf of subtransaction subid (the earliest mark stays). */
static void
mark_sku(const char *sku, SubTransactionId subid)
{
	char	   *key = (char *) sku;
	PendingSku *entry;
	bool		found;

	if (pending_skus == NULL)
		pending_skus = bo_string_hash("backorder pending skus", sizeof(PendingSku),
									  TopTransactionContext);
	entry = hash_search(pending_skus, &key, HASH_ENTER, &found);
	if (!found)
	{
		entry->sku = MemoryContextStrdup(TopTransactionContext, sku);
		entry->subid = subid;
	}
	else if (subid < entry->subid)
		entry->subid = subid;
}

/* Note that a sku's purchase-order lines must be resynchronised at commit. */
void
po_mark_sku(const char *sku)
{
	mark_sku(sku, GetCurrentSubTransactionId());
}

/*
 * Note that an item's purchase-order lines may need a resync at commit: items with a
 * supplier, and items that still expect units from open orders (whose supplier went).
 */
void
po_mark(StockEntry *e)
{
	if (e->supplier_id != NULL || e->incoming != 0)
		po_mark_sku(e->sku);
}

/*
 * A subtransaction committed: what its resyncs took now belongs to its parent, and is
 * let go of once that is the top level (which never rolls back alone).
 */
void
po_subxact_commit(SubTransactionId subid, SubTransactionId parent)
{
	ListCell   *lc;

	foreach(lc, po_taken)
	{
		PoTaken    *t = lfirst(lc);

		if (t->subid < subid)
			continue;
		if (parent != TopSubTransactionId)
		{
			t->subid = parent;
			continue;
		}
		if (t->skus)
			skus_free(t->skus);
		list_free_deep(t->booked);
		pfree(t);
		po_taken = foreach_delete_current(po_taken, lc);
	}
}

/*
 * A subtransaction rolled back: the marks it made and the orders it booked receipts against
 * go (the commit would otherwise lock items and orders that only rolled-back work touched),
 * and what its resyncs took is pending again (with the marks made before it).
 * Subtransaction ids only grow, so whatever this one and its children did has an id at
 * least its own.
 */
void
po_subxact_abort(SubTransactionId subid)
{
	ListCell   *lb;

	foreach(lb, booked_pos)
		if (((BookedPo *) lfirst(lb))->subid >= subid)
			booked_pos = foreach_delete_current(booked_pos, lb);
	if (pending_skus != NULL)
	{
		HASH_SEQ_STATUS seq;
		PendingSku *p;

		hash_seq_init(&seq, pending_skus);
		while ((p = hash_seq_search(&seq)) != NULL)
		{
			if (p->subid >= subid)
			{
				char	   *copy = p->sku;

				hash_search(pending_skus, &copy, HASH_REMOVE, NULL);
				pfree(copy);
			}
		}
	}
	while (po_taken != NIL)
	{
		PoTaken    *t = llast(po_taken);

		if (t->subid < subid)
			break;
		if (t->skus)
		{
			HASH_SEQ_STATUS seq;
			PendingSku *p;

			hash_seq_init(&seq, t->skus);
			while ((p = hash_seq_search(&seq)) != NULL)
			{
				if (p->subid < subid)
					mark_sku(p->sku, p->subid);
			}
			skus_free(t->skus);
		}
		if (t->booked)
		{
			MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
			ListCell   *lt;

			foreach(lt, t->booked)
				if (((BookedPo *) lfirst(lt))->subid < subid)
					booked_pos = lappend(booked_pos, lfirst(lt));
			MemoryContextSwitchTo(old);
		}
		po_taken = list_delete_last(po_taken);
	}
}

/* The transaction ended. */
void
po_reset(void)
{
	pending_skus = NULL;
	booked_pos = NIL;
	po_taken = NIL;
}

/*
 * Round up to a whole number of packs: 22003 only when that number of units does not fit
 * (units + pack - 1 could overflow even when the result fits).
 */
static int64
round_to_pack(int64 units, int64 pack)
{
	if (units <= 0)
		return 0;
	return bo_mul(units / pack + (units % pack > 0 ? 1 : 0), pack);
}

/* add received units to one purchase-order line */
#define BOOK_SQL \
	"UPDATE backorder.purchase_order_line" \
	"   SET received_qty = received_qty OPERATOR(pg_catalog.+) $3" \
	" WHERE po_id OPERATOR(pg_catalog.=) $1 AND sku OPERATOR(pg_catalog.=) $2" \
	"   AND received_qty OPERATOR(pg_catalog.<=) (9223372036854775807 OPERATOR(pg_catalog.-) $3)" \
	" RETURNING qty, received_qty"
static const Oid book_types[3] = {INT8OID, TEXTOID, INT8OID};

/*
 * The supplier and status of purchase order po_id; false when there is none. latest reads
 * the order as last committed instead of as this statement's snapshot has it.
 */
static bool
po_read(int64 po_id, bool latest, char **supplier, char **status)
{
	static SPIPlanPtr plan = NULL;
	Datum		arg = Int64GetDatum(po_id);
	int			rc;

	bo_prepare(&plan,
			   "SELECT supplier_id, status::pg_catalog.text FROM backorder.purchase_order"
			   " WHERE po_id OPERATOR(pg_catalog.=) $1",
			   1, (Oid[]) {INT8OID});
	if (latest)
		rc = SPI_execute_snapshot(plan, &arg, NULL, GetLatestSnapshot(), InvalidSnapshot,
								  true, false, 1);
	else
		rc = bo_run(plan, &arg, NULL, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "backorder: reading purchase order " INT64_FORMAT " failed: %s", po_id,
			 SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	*supplier = bo_col_text(0, 1);
	*status = bo_col_text(0, 2);
	return true;
}

/* Can a receipt be booked against an order of this status (over-receipt included)? */
static bool
po_receivable(const char *status)
{
	return strcmp(status, "issued") == 0 || strcmp(status, "received") == 0;
}

/*
 * Book a receipt against purchase-order lines (the item is locked): against po_id
 * when given, else against the issued orders that still miss units of the item, the one
 * expected first first (the order in which the promises of supply_schedule count them).
 */
void
po_receipt(StockEntry *e, int64 qty, bool has_po, int64 po_id)
{
	static SPIPlanPtr book = NULL;
	static SPIPlanPtr get_line = NULL;
	static SPIPlanPtr open_lines = NULL;
	Datum		args[3];

	if (has_po)
	{
		char	   *supplier;
		char	   *status;
		int64		ordered,
					received;

		args[0] = Int64GetDatum(po_id);
		if (!po_read(po_id, false, &supplier, &status))
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("purchase order " INT64_FORMAT " does not exist", po_id)));
		/*
		 * A draft that the snapshot sees may have been issued since. READ COMMITTED books
		 * against the issued order; REPEATABLE READ fails with 40001, so that the client
		 * retries instead of taking the order for a wrong one. (An issue still in progress
		 * is not waited for: the order is not issued yet, BO008.)
		 */
		if (!po_receivable(status) && po_read(po_id, true, &supplier, &status) &&
			po_receivable(status) && IsolationUsesXactSnapshot())
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent update"),
					 errdetail("Purchase order " INT64_FORMAT " was issued after this transaction's snapshot.",
							   po_id)));
		if (!po_receivable(status))
			ereport(ERROR,
					(errcode(ERRCODE_BO_WRONG_PO),
					 errmsg("purchase order " INT64_FORMAT " is %s and cannot be received against",
							po_id, status)));
		/*
		 * Any order with a line for the item will do, also one of the item's former
		 * supplier (an item that changed supplier keeps its issued orders, and a receipt
		 * without po_id books against them too).
		 */
		args[1] = CStringGetTextDatum(e->sku);
		args[2] = Int64GetDatum(qty);
		bo_run(bo_prepare(&book, BOOK_SQL, 3, book_types), args, NULL, 0);
		if (SPI_processed == 0)
		{
			/* a line whose received units would overflow, or no line */
			bo_run(bo_prepare(&get_line,
							  "SELECT received_qty FROM backorder.purchase_order_line"
							  " WHERE po_id OPERATOR(pg_catalog.=) $1 AND sku OPERATOR(pg_catalog.=) $2",
							  2, book_types),
				   args, NULL, 1);
			if (SPI_processed > 0)
				(void) bo_add(bo_col_int8(0, 1, 0), qty);	/* quantity out of range */
			if (e->supplier_id == NULL || strcmp(supplier, e->supplier_id) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_BO_WRONG_PO),
						 errmsg("purchase order " INT64_FORMAT " is not from the supplier of item \"%s\"",
								po_id, e->sku),
						 e->supplier_id ?
						 errdetail("The order is from supplier \"%s\"; the item's supplier is \"%s\".",
								   supplier, e->supplier_id) :
						 errdetail("The order is from supplier \"%s\"; the item has no supplier.",
								   supplier)));
			ereport(ERROR,
					(errcode(ERRCODE_BO_WRONG_PO),
					 errmsg("purchase order " INT64_FORMAT " has no line for item \"%s\"",
							po_id, e->sku)));
		}
		ordered = bo_col_int8(0, 1, 0);
		received = bo_col_int8(0, 2, 0);
		note_booked(po_id);
		if (received > ordered)
			event_add("po_over_received", e->sku, NULL, 0, po_id,
					  Min(qty, received - ordered));
	}
	else
	{
		int64		left = qty;
		uint64		i,
					n;
		int64	   *ids,
				   *open;

		args[0] = CStringGetTextDatum(e->sku);
		bo_run(bo_prepare(&open_lines,
						  "SELECT l.po_id, l.qty OPERATOR(pg_catalog.-) l.received_qty"
						  "  FROM backorder.purchase_order_line l"
						  "  JOIN backorder.purchase_order p"
						  "    ON p.po_id OPERATOR(pg_catalog.=) l.po_id"
						  " WHERE l.sku OPERATOR(pg_catalog.=) $1"
						  "   AND p.status OPERATOR(pg_catalog.=) 'issued'::backorder.po_status"
						  "   AND l.received_qty OPERATOR(pg_catalog.<) l.qty"
						  " ORDER BY p.expected_at, p.po_id",
						  1, (Oid[]) {TEXTOID}),
			   args, NULL, 0);
		n = SPI_processed;
		ids = palloc(sizeof(int64) * (n + 1));
		open = palloc(sizeof(int64) * (n + 1));
		for (i = 0; i < n; i++)
		{
			ids[i] = bo_col_int8(i, 1, 0);
			open[i] = bo_col_int8(i, 2, 0);
		}
		for (i = 0; i < n && left > 0; i++)
		{
			int64		take = Min(left, open[i]);

			args[0] = Int64GetDatum(ids[i]);
			args[1] = CStringGetTextDatum(e->sku);
			args[2] = Int64GetDatum(take);
			bo_run(bo_prepare(&book, BOOK_SQL, 3, book_types), args, NULL, 0);
			note_booked(ids[i]);
			left -= take;
		}
	}
	po_mark(e);
}


/* One open purchase-order line of an item, with its order's supplier and status. */
typedef struct OpenLine
{
	int64		po_id;
	int64		open;			/* qty - received_qty, > 0 */
	char	   *supplier_id;
	const char *status;			/* its po_status label */
} OpenLine;

/*
 * The open lines (received_qty < qty) of an item, read through purchase_order_line_open_idx
 * and each order's primary key; returns how many.
 */
static int
open_lines_direct(const char *sku, OpenLine **lines)
{
	KeyScan		l,
				p;
	int			n = 0,
				max = 4;
	bool		isnull;
	const bool	int8key = false;

	*lines = palloc(sizeof(OpenLine) * max);
	key_scan_begin(&l, "purchase_order_line", AccessShareLock, "purchase_order_line_open_idx",
				   "sku", CStringGetTextDatum(sku), true);
	/* each line's order: one scan of the primary key, rekeyed per line */
	key_scan_begin(&p, "purchase_order", AccessShareLock, "purchase_order_pkey", "po_id",
				   Int64GetDatum(0), false);
	while (key_scan_next(&l))
	{
		Datum		po_id = Int64GetDatum(key_int8(&l, "po_id", &isnull));
		int64		open = key_int8(&l, "qty", &isnull) - key_int8(&l, "received_qty", &isnull);

		if (open <= 0)
			continue;
		key_scan_rekey(&p, 1, &po_id, &int8key);
		if (!key_scan_next(&p))
			continue;
		*lines = bo_grow(*lines, n, &max, sizeof(OpenLine), CurrentMemoryContext);
		(*lines)[n].po_id = DatumGetInt64(po_id);
		(*lines)[n].open = open;
		(*lines)[n].supplier_id = key_text(&p, "supplier_id");
		(*lines)[n].status = key_status(&p);
		n++;
	}
	key_scan_end(&p);
	key_scan_end(&l);
	return n;
}

/* Issue a draft: it becomes issued at `at`, expected after the supplier's lead time. */
static void
issue(int64 po_id, TimestampTz at)
{
	static SPIPlanPtr plan = NULL;
	Datum		args[2];

	args[0] = Int64GetDatum(po_id);
	args[1] = TimestampTzGetDatum(at);
	bo_run(bo_prepare(&plan,
					  "UPDATE backorder.purchase_order p"
					  "   SET status = 'issued', issued_at = $2,"
					  "       expected_at = $2 OPERATOR(pg_catalog.+)"
					  "           COALESCE(s.lead_time, '0'::pg_catalog.interval)"
					  "  FROM backorder.supplier s"
					  " WHERE p.po_id OPERATOR(pg_catalog.=) $1"
					  "   AND s.supplier_id OPERATOR(pg_catalog.=) p.supplier_id"
					  "   AND p.status OPERATOR(pg_catalog.=) 'draft'::backorder.po_status"
					  " RETURNING p.total_qty",
					  2, (Oid[]) {INT8OID, TIMESTAMPTZOID}),
		   args, NULL, 0);
	if (SPI_processed == 1)
		event_add("po_issued", NULL, NULL, 0, po_id, bo_col_int8(0, 1, 0));
}

/*
 * The supplier's draft, found through purchase_order_one_draft_idx and locked as
 * SELECT ... FOR UPDATE would lock it: in READ COMMITTED the lock follows the row to its
 * newest version, which must still be the supplier's draft; in REPEATABLE READ and
 * SERIALIZABLE a concurrent change is a serialization failure. Returns its id, or 0.
 */
static int64
lock_draft(const char *supplier_id)
{
	KeyScan		k;
	int64		draft = 0;

	key_scan_begin(&k, "purchase_order", RowShareLock, "purchase_order_one_draft_idx",
				   "supplier_id", CStringGetTextDatum(supplier_id), true);
	while (draft == 0 && key_scan_next(&k))
	{
		TM_FailureData tmfd;
		TM_Result	res;
		bool		isnull;
		char	   *sup;

		res = table_tuple_lock(k.rel, &k.slot->tts_tid, k.snap, k.slot, GetCurrentCommandId(false),
							   LockTupleExclusive, LockWaitBlock,
							   IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
							   &tmfd);
		if (!bo_row_locked(res, "the draft of supplier", supplier_id))
			continue;
		/* the version locked: still this supplier's draft? */
		sup = key_text(&k, "supplier_id");
		if (sup && strcmp(sup, supplier_id) == 0 && strcmp(key_status(&k), "draft") == 0)
			draft = key_int8(&k, "po_id", &isnull);
	}
	key_scan_end(&k);
	return draft;
}

/*
 * The supplier has no draft this transaction can see, and it is about to open one or to
 * issue what it saw. In REPEATABLE READ and SERIALIZABLE a draft another transaction
 * opened after the snapshot is unseen: a second draft would break the index's uniqueness
 * (23505), and the unseen one would be left unissued. Both are serialization failures.
 */
static void
refuse_unseen_draft(const char *supplier_id)
{
	KeyScan		k;
	bool		newer;

	if (!IsolationUsesXactSnapshot())
		return;
	key_scan_begin_latest(&k, "purchase_order", RowShareLock, "purchase_order_one_draft_idx",
						  "supplier_id", CStringGetTextDatum(supplier_id), true);
	newer = key_scan_next(&k) && strcmp(key_status(&k), "draft") == 0;
	key_scan_end(&k);
	if (newer)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to a concurrently opened draft purchase order"),
				 errdetail("Another transaction opened a draft purchase order for supplier \"%s\" after this transaction's snapshot.",
						   supplier_id)));
}

/*
 * Lock a supplier's row (the serialisation point for its draft) and its draft, if any:
 * returns the draft's id, or 0. The draft's own row lock makes a REPEATABLE READ
 * transaction fail rather than add to a draft another transaction has just issued.
 */
static int64
lock_supplier(const char *supplier_id)
{
	static SPIPlanPtr lock = NULL;
	Datum		arg = CStringGetTextDatum(supplier_id);

	bo_run(bo_prepare(&lock,
					  "SELECT 1 FROM backorder.supplier WHERE supplier_id OPERATOR(pg_catalog.=) $1"
					  "   FOR NO KEY UPDATE",
					  1, (Oid[]) {TEXTOID}),
		   &arg, NULL, 0);
	return lock_draft(supplier_id);
}

/*
 * Is a draft due at `at`: has it reached its supplier's minimum, or has its oldest
 * demand waited po_max_wait? Reads the draft's kept total, its supplier, and its oldest
 * line through purchase_order_line_demand_idx: the cost does not grow with the draft.
 */
static bool
draft_due(int64 draft, TimestampTz at)
{
	KeyScan		k;
	int64		total = 0,
				min_qty = 0;
	char	   *supplier = NULL;
	bool		max_wait_null = true;
	Datum		max_wait = (Datum) 0;
	bool		isnull;
	bool		due = false;

	key_scan_begin(&k, "purchase_order", AccessShareLock, "purchase_order_pkey", "po_id",
				   Int64GetDatum(draft), false);
	if (key_scan_next(&k))
	{
		total = key_int8(&k, "total_qty", &isnull);
		supplier = key_text(&k, "supplier_id");
	}
	key_scan_end(&k);
	if (total <= 0 || supplier == NULL)
		return false;

	key_scan_begin(&k, "supplier", AccessShareLock, "supplier_pkey", "supplier_id",
				   CStringGetTextDatum(supplier), true);
	if (key_scan_next(&k))
	{
		min_qty = key_int8(&k, "po_min_qty", &isnull);
		max_wait = slot_getattr(k.slot, bo_attnum(k.rel, "po_max_wait"), &max_wait_null);
		if (!max_wait_null)
			max_wait = datumCopy(max_wait, false, sizeof(Interval));
		due = total >= min_qty;
	}
	key_scan_end(&k);
	if (due || max_wait_null)
		return due;

	/* the draft's oldest demand: the first entry of (po_id, first_demand_at) */
	key_scan_begin(&k, "purchase_order_line", AccessShareLock, "purchase_order_line_demand_idx",
				   "po_id", Int64GetDatum(draft), false);
	if (key_scan_next(&k))
	{
		Datum		oldest = slot_getattr(k.slot, bo_attnum(k.rel, "first_demand_at"), &isnull);

		due = !isnull &&
			DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, oldest, max_wait)) <= at;
	}
	key_scan_end(&k);
	return due;
}

/* One supplier taking part in a resync, its current draft (0: none) and the change of
 * the draft's units the resync made so far. */
typedef struct SupplierDraft
{
	char	   *supplier_id;
	int64		draft;
	int64		delta;
} SupplierDraft;

/*
 * Purchase-order rows written straight through the heap and their indexes, like order
 * lines and events: at commit the supplier's row is locked while these run, so an SPI
 * statement's executor start-up (and a foreign-key check of keys this transaction holds
 * locked anyway) is time every order of that supplier waits. Each returns false, having
 * done nothing, when the executor is needed: a shop trigger on the table, or a primary
 * key that is not the engine's.
 */


/*
 * Set the line of item sku in draft to desired units (> 0), inserting it (first demand
 * now) when there is none; *old receives the units it had (0: no line). The draft and the
 * item are locked by this transaction: nobody else writes that line.
 */
static bool
set_line_direct(int64 draft, const char *sku, int64 desired, TimestampTz now, int64 *old)
{
	static const char *const cols[2] = {"po_id", "sku"};
	static const bool text[2] = {false, true};
	Datum		vals[2] = {Int64GetDatum(draft), CStringGetTextDatum(sku)};
	PkeyRow		r;
	int			a_qty;
	bool		isnull;

	if (!pkey_row_find(&r, "purchase_order_line", TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE,
					   2, cols, vals, text))
		return false;
	a_qty = bo_attnum(r.k.rel, "qty");
	if (r.found)
	{
		*old = DatumGetInt64(slot_getattr(r.k.slot, a_qty, &isnull));
		if (*old != desired)
			update_int8_col(&r, a_qty, desired);
	}
	else
	{
		TupleDesc	desc = RelationGetDescr(r.k.rel);
		Datum	   *values = palloc(sizeof(Datum) * desc->natts);
		bool	   *nulls = palloc(sizeof(bool) * desc->natts);
		const char *names[5] = {"po_id", "sku", "qty", "received_qty", "first_demand_at"};
		Datum		set[5] = {vals[0], vals[1], Int64GetDatum(desired), Int64GetDatum(0),
							  TimestampTzGetDatum(now)};
		HeapTuple	tup;
		int			i;

		memset(nulls, true, sizeof(bool) * desc->natts);
		for (i = 0; i < 5; i++)
		{
			values[bo_attnum(r.k.rel, names[i]) - 1] = set[i];
			nulls[bo_attnum(r.k.rel, names[i]) - 1] = false;
		}
		tup = heap_form_tuple(desc, values, nulls);
		simple_heap_insert(r.k.rel, tup);
		bo_index_tuple(r.k.rel, RelationGetIndexList(r.k.rel), tup);
		*old = 0;
	}
	pkey_row_done(&r);
	return true;
}

/* Add units to the kept total of purchase order po_id (its supplier's row is locked). */
static bool
add_total_direct(int64 po_id, int64 units)
{
	static const char *const cols[1] = {"po_id"};
	static const bool text[1] = {false};
	Datum		val = Int64GetDatum(po_id);
	PkeyRow		r;
	int			a_total;
	bool		isnull;

	if (!pkey_row_find(&r, "purchase_order", TRIGGER_TYPE_UPDATE, 1, cols, &val, text))
		return false;
	if (!r.found)
		elog(ERROR, "backorder: purchase order " INT64_FORMAT " vanished", po_id);
	a_total = bo_attnum(r.k.rel, "total_qty");
	update_int8_col(&r, a_total, bo_add(DatumGetInt64(slot_getattr(r.k.slot, a_total, &isnull)),
										units));
	pkey_row_done(&r);
	return true;
}

/* Add units to the kept total of the draft po_id, when it is one of sup. */
static void
draft_changed(SupplierDraft *sup, int nsup, int64 po_id, int64 units)
{
	int			i;

	for (i = 0; i < nsup; i++)
		if (sup[i].draft == po_id)
		{
			sup[i].delta = bo_add(sup[i].delta, units);
			return;
		}
	elog(ERROR, "backorder: draft purchase order " INT64_FORMAT " changed but is not locked", po_id);
}

/* Write the kept totals of the drafts a resync changed. */
static void
drafts_write_totals(SupplierDraft *sup, int nsup)
{
	static SPIPlanPtr plan = NULL;
	int			i;

	for (i = 0; i < nsup; i++)
	{
		Datum		args[2];

		if (sup[i].draft == 0 || sup[i].delta == 0)
			continue;
		if (add_total_direct(sup[i].draft, sup[i].delta))
		{
			sup[i].delta = 0;
			continue;
		}
		args[0] = Int64GetDatum(sup[i].draft);
		args[1] = Int64GetDatum(sup[i].delta);
		bo_run(bo_prepare(&plan,
						  "UPDATE backorder.purchase_order SET total_qty = total_qty OPERATOR(pg_catalog.+) $2"
						  " WHERE po_id OPERATOR(pg_catalog.=) $1",
						  2, (Oid[]) {INT8OID, INT8OID}),
			   args, NULL, 0);
		sup[i].delta = 0;
	}
}

/*
 * Resynchronise one locked item with the purchase orders (the rows of every supplier
 * involved are locked): the item's line in its supplier's draft covers the waiting units
 * that issued orders do not, rounded up to packs; lines in drafts of other suppliers (it
 * changed supplier) go; incoming is what open orders still bring.
 */
static void
resync_item(StockEntry *e, SupplierDraft *own, SupplierDraft *sup, int nsup, TimestampTz now)
{
	int64		none = 0;
	int64	   *draft = own ? &own->draft : &none;
	uint64		i;
	static SPIPlanPtr create = NULL;
	static SPIPlanPtr set_line = NULL;
	static SPIPlanPtr drop_line = NULL;
	static SPIPlanPtr drop_foreign = NULL;
	Datum		args[4];
	int64		open,
				desired = 0;
	OpenLine   *lines;
	int			nopen,
				k;

	args[0] = CStringGetTextDatum(e->sku);
	args[1] = e->supplier_id ? CStringGetTextDatum(e->supplier_id) : (Datum) 0;
	if (e->foreign_lines)
	{
		bo_run(bo_prepare(&drop_foreign,
					  "DELETE FROM backorder.purchase_order_line l USING backorder.purchase_order p"
					  " WHERE p.po_id OPERATOR(pg_catalog.=) l.po_id"
					  "   AND l.sku OPERATOR(pg_catalog.=) $1"
					  "   AND p.status OPERATOR(pg_catalog.=) 'draft'::backorder.po_status"
					  "   AND ($2 IS NULL OR p.supplier_id OPERATOR(pg_catalog.<>) $2)"
					  " RETURNING l.po_id, l.qty",
					  2, (Oid[]) {TEXTOID, TEXTOID}),
			   args, e->supplier_id ? "  " : " n", 0);
		for (i = 0; i < SPI_processed; i++)
			draft_changed(sup, nsup, bo_col_int8(i, 1, 0), -bo_col_int8(i, 2, 0));
	}
	e->foreign_lines = false;
	/* what issued orders still bring */
	open = 0;
	nopen = open_lines_direct(e->sku, &lines);
	for (k = 0; k < nopen; k++)
		if (strcmp(lines[k].status, "issued") == 0)
			open = bo_add(open, lines[k].open);
	if (e->supplier_id)
		desired = round_to_pack(e->backordered - open, e->pack_size);

	if (desired > 0 && *draft == 0)
	{
		Datum		cargs[2];

		refuse_unseen_draft(e->supplier_id);
		cargs[0] = CStringGetTextDatum(e->supplier_id);
		cargs[1] = TimestampTzGetDatum(now);
		bo_run(bo_prepare(&create,
						  "INSERT INTO backorder.purchase_order (supplier_id, status, created_at)"
						  " VALUES ($1, 'draft', $2) RETURNING po_id",
						  2, (Oid[]) {TEXTOID, TIMESTAMPTZOID}),
			   cargs, NULL, 0);
		*draft = bo_col_int8(0, 1, 0);
	}
	if (e->supplier_id && *draft != 0)
	{
		int64		before = 0; /* the line's units before (0: there was no line) */

		args[1] = Int64GetDatum(*draft);
		args[2] = Int64GetDatum(desired);
		args[3] = TimestampTzGetDatum(now);
		if (desired <= 0 || !set_line_direct(*draft, e->sku, desired, now, &before))
		{
			if (desired > 0)
				bo_run(bo_prepare(&set_line,
								  "WITH old AS (SELECT qty FROM backorder.purchase_order_line"
								  "              WHERE po_id OPERATOR(pg_catalog.=) $2 AND sku OPERATOR(pg_catalog.=) $1)"
								  "INSERT INTO backorder.purchase_order_line AS l"
								  "       (po_id, sku, qty, first_demand_at) VALUES ($2, $1, $3, $4)"
								  " ON CONFLICT (po_id, sku) DO UPDATE SET qty = EXCLUDED.qty"
								  " RETURNING (SELECT qty FROM old)",
								  4, (Oid[]) {TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID}),
					   args, NULL, 0);
			else
				bo_run(bo_prepare(&drop_line,
								  "DELETE FROM backorder.purchase_order_line"
								  " WHERE sku OPERATOR(pg_catalog.=) $1 AND po_id OPERATOR(pg_catalog.=) $2"
								  " RETURNING qty",
								  2, (Oid[]) {TEXTOID, INT8OID}),
					   args, NULL, 0);
			/* both return the line's units before (NULL: there was no line) */
			if (SPI_processed > 0)
				before = bo_col_int8(0, 1, 0);
		}
		own->delta = bo_add(own->delta, desired - before);
	}
	if (e->incoming != open + desired)
	{
		e->incoming = open + desired;
		stock_changed(e);
	}
}

/*
 * A draft whose last line went away (its demand was met or cancelled) is deleted. Most
 * drafts still have a line: that is read through purchase_order_line_demand_idx, and
 * only an empty draft costs a DELETE statement.
 */
static void
drop_if_empty(int64 po_id)
{
	static SPIPlanPtr plan = NULL;
	Datum		arg = Int64GetDatum(po_id);
	KeyScan		k;
	bool		has_line;

	key_scan_begin(&k, "purchase_order_line", AccessShareLock, "purchase_order_line_demand_idx",
				   "po_id", arg, false);
	has_line = key_scan_next(&k);
	key_scan_end(&k);
	if (has_line)
		return;
	bo_run(bo_prepare(&plan,
					  "DELETE FROM backorder.purchase_order p"
					  " WHERE p.po_id OPERATOR(pg_catalog.=) $1"
					  "   AND p.status OPERATOR(pg_catalog.=) 'draft'::backorder.po_status"
					  "   AND NOT EXISTS (SELECT 1 FROM backorder.purchase_order_line l"
					  "                    WHERE l.po_id OPERATOR(pg_catalog.=) p.po_id)",
					  1, (Oid[]) {INT8OID}),
		   &arg, NULL, 0);
}

/* Has purchase order po_id a line still waiting for units, as committed by now? */
static bool
lines_open_latest(int64 po_id)
{
	KeyScan		k;
	bool		open = false;
	bool		isnull;

	key_scan_begin_latest(&k, "purchase_order_line", AccessShareLock, "purchase_order_line_pkey",
						  "po_id", Int64GetDatum(po_id), false);
	while (!open && key_scan_next(&k))
		open = key_int8(&k, "received_qty", &isnull) < key_int8(&k, "qty", &isnull);
	key_scan_end(&k);
	return open;
}

/*
 * Mark the purchase orders this transaction received units for, once every line has
 * arrived, as received. Only those orders are looked at: the work does not grow with the
 * number of open orders. Their rows are locked first (in po_id order, after the items and
 * suppliers, as every commit takes them), and their lines then read as committed by now:
 * so of two transactions receiving the last lines of one order, the second waits for the
 * first and sees its receipt, whatever its isolation level (a REPEATABLE READ snapshot
 * would not) and whichever suppliers it locked (an item may have changed supplier since
 * the order was issued).
 */
static void
complete_received(TimestampTz now)
{
	static SPIPlanPtr lock = NULL;
	static SPIPlanPtr plan = NULL;
	Datum	   *ids;
	Datum		args[2];
	ListCell   *lc;
	uint64		i;
	int			n = 0,
				done = 0;

	if (booked_pos == NIL)
		return;
	ids = palloc(sizeof(Datum) * list_length(booked_pos));
	foreach(lc, booked_pos)
		ids[n++] = Int64GetDatum(((BookedPo *) lfirst(lc))->po_id);
	args[0] = bo_array(ids, NULL, n, INT8OID);
	bo_run(bo_prepare_custom(&lock,
							 "SELECT po_id FROM backorder.purchase_order"
							 " WHERE po_id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[])"
							 "   AND status OPERATOR(pg_catalog.=) 'issued'::backorder.po_status"
							 " ORDER BY po_id FOR NO KEY UPDATE",
							 1, (Oid[]) {INT8ARRAYOID}),
		   args, NULL, 0);
	/* lines_open_latest reads through an index, not SPI: the locked rows stay in SPI_tuptable */
	for (i = 0; i < SPI_processed; i++)
	{
		int64		po_id = bo_col_int8(i, 1, 0);

		if (!lines_open_latest(po_id))
			ids[done++] = Int64GetDatum(po_id);
	}
	if (done > 0)
	{
		args[0] = bo_array(ids, NULL, done, INT8OID);
		args[1] = TimestampTzGetDatum(now);
		bo_run(bo_prepare_custom(&plan,
								 "UPDATE backorder.purchase_order p SET status = 'received', received_at = $2"
								 " WHERE p.po_id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[])"
								 "   AND p.status OPERATOR(pg_catalog.=) 'issued'::backorder.po_status"
								 " RETURNING p.po_id",
								 2, (Oid[]) {INT8ARRAYOID, TIMESTAMPTZOID}),
			   args, NULL, 0);
		for (i = 0; i < SPI_processed; i++)
			event_add("po_received", NULL, NULL, 0, bo_col_int8(i, 1, 0), 0);
	}
	po_take(NULL, booked_pos);
	booked_pos = NIL;
}

static int
cmp_suppliers(const void *a, const void *b)
{
	return strcmp(((const SupplierDraft *) a)->supplier_id,
				  ((const SupplierDraft *) b)->supplier_id);
}

/*
 * Add the supplier of an open order that has a line for item e to s (count entries so
 * far); returns the new count. A line in another supplier's open order means that the
 * item changed supplier: the resync moves it.
 */
static int
note_open_supplier(SupplierDraft *s, int count, char *supplier, StockEntry *e)
{
	s[count].supplier_id = supplier;
	if (e && (e->supplier_id == NULL || strcmp(e->supplier_id, supplier) != 0))
		e->foreign_lines = true;
	return count + 1;
}

/*
 * The suppliers a resync of these items touches, sorted and locked (their rows, in
 * supplier_id order): each item's own supplier, and the suppliers of open orders that
 * have a line for one of the items. Sets *n.
 */
static SupplierDraft *
lock_suppliers(StockEntry **items, int nitems, TimestampTz now, int *n)
{
	static SPIPlanPtr others = NULL;
	SupplierDraft *s;
	uint64		i;
	int			count = 0,
				k;

	if (nitems == 1)
	{
		/* the usual commit: one item, its open lines read through the indexes */
		OpenLine   *lines;
		int			nlines = open_lines_direct(items[0]->sku, &lines);

		s = palloc(sizeof(SupplierDraft) * (nlines + 2));
		for (k = 0; k < nlines; k++)
			if (strcmp(lines[k].status, "draft") == 0 || strcmp(lines[k].status, "issued") == 0)
				count = note_open_supplier(s, count, lines[k].supplier_id, items[0]);
	}
	else
	{
		/*
		 * many items: the suppliers of open orders with a line for them (1: supplier, 2:
		 * sku), planned for the array at hand at each execution
		 */
		Datum	   *skus = palloc(sizeof(Datum) * nitems);
		Datum		arg;

		for (k = 0; k < nitems; k++)
			skus[k] = CStringGetTextDatum(items[k]->sku);
		arg = bo_array(skus, NULL, nitems, TEXTOID);
		bo_run(bo_prepare_custom(&others,
								 "SELECT DISTINCT s, sku FROM (SELECT l.sku,"
								 "        (SELECT p.supplier_id FROM backorder.purchase_order p"
								 "          WHERE p.po_id OPERATOR(pg_catalog.=) l.po_id"
								 "            AND p.status OPERATOR(pg_catalog.<) 'received'::backorder.po_status) AS s"
								 "   FROM backorder.purchase_order_line l"
								 "  WHERE l.sku OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.text[])"
								 "    AND l.received_qty OPERATOR(pg_catalog.<) l.qty) o"
								 " WHERE s IS NOT NULL",
								 1, (Oid[]) {TEXTARRAYOID}),
			   &arg, NULL, 0);
		s = palloc(sizeof(SupplierDraft) * (nitems + SPI_processed + 1));
		for (i = 0; i < SPI_processed; i++)
			count = note_open_supplier(s, count, bo_col_text(i, 1),
									   stock_find(bo_col_text(i, 2)));
	}
	for (k = 0; k < nitems; k++)
		if (items[k]->supplier_id)
			s[count++].supplier_id = items[k]->supplier_id;
	qsort(s, count, sizeof(SupplierDraft), cmp_suppliers);
	for (k = 0, i = 0; k < count; k++)
		if (i == 0 || strcmp(s[k].supplier_id, s[i - 1].supplier_id) != 0)
			s[i++] = s[k];
	*n = (int) i;
	for (k = 0; k < *n; k++)
	{
		s[k].draft = lock_supplier(s[k].supplier_id);
		s[k].delta = 0;
	}
	return s;
}

/*
 * Resync the given items (all locked by this transaction; their suppliers too, by
 * lock_suppliers): resync each item, then per supplier issue the draft when due (or drop
 * it when empty) and close the orders whose every line has arrived. resync locks the
 * suppliers first.
 */
static void
resync_locked(StockEntry **items, int n, SupplierDraft *sup, int nsup, TimestampTz now)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		SupplierDraft key = {items[i]->supplier_id, 0, 0};
		SupplierDraft *own = key.supplier_id
			? bsearch(&key, sup, nsup, sizeof(SupplierDraft), cmp_suppliers) : NULL;

		resync_item(items[i], own, sup, nsup, now);
	}
	drafts_write_totals(sup, nsup);
	for (i = 0; i < nsup; i++)
	{
		int64		draft = sup[i].draft;

		if (draft != 0 && draft_due(draft, now))
			issue(draft, now);
		else if (draft != 0)
			drop_if_empty(draft);
	}
	complete_received(now);
	stock_flush();
	events_flush();
}

static void
resync(StockEntry **items, int n, TimestampTz now)
{
	int			nsup;
	SupplierDraft *sup = lock_suppliers(items, n, now, &nsup);

	resync_locked(items, n, sup, nsup, now);
}

static int
cmp_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Lock every pending item (items before suppliers) and resync them. */
static void
resync_pending(void)
{
	HASH_SEQ_STATUS seq;
	PendingSku *p;
	char	  **skus;
	StockEntry **items;
	int			n = 0,
				i,
				k;

	if (pending_skus == NULL || hash_get_num_entries(pending_skus) == 0)
		return;
	skus = palloc(sizeof(char *) * hash_get_num_entries(pending_skus));
	items = palloc(sizeof(StockEntry *) * hash_get_num_entries(pending_skus));
	hash_seq_init(&seq, pending_skus);
	while ((p = hash_seq_search(&seq)) != NULL)
		skus[n++] = p->sku;
	/* items not locked yet (a rolled-back subtransaction let go) are locked in sku order */
	qsort(skus, n, sizeof(char *), cmp_strings);
	for (i = 0, k = 0; i < n; i++)
	{
		/* an item inserted by a subtransaction that rolled back is gone: nothing to do */
		items[k] = stock_lock_if_exists(skus[i]);
		if (items[k])
			k++;
	}
	n = k;
	po_take(pending_skus, NIL);
	pending_skus = NULL;
	resync(items, n, bo_now());
}

/*
 * Deferred constraint trigger (AFTER INSERT, INITIALLY DEFERRED) on the ledger tables:
 * at commit, bring the drafts of every item this transaction changed up to date. The
 * first firing does the work; the others find nothing pending.
 */
PG_FUNCTION_INFO_V1(bo_po_sync);
Datum
bo_po_sync(PG_FUNCTION_ARGS)
{
	TriggerData *td = bo_trigger_data(fcinfo, "bo_po_sync", false, true);

	if (pending_skus == NULL)
		return PointerGetDatum(NULL);
	SPI_connect();
	bo_engine_enter(td->tg_relation->rd_rel->relowner);
	{
		resync_pending();
	}
	bo_engine_leave();
	SPI_finish();
	return PointerGetDatum(NULL);
}

/*
 * issue_due_purchase_orders(as_of timestamptz) returns setof bigint: issue every draft
 * that reached its supplier's minimum or whose oldest demand waited po_max_wait.
 */
PG_FUNCTION_INFO_V1(bo_issue_due_purchase_orders);
Datum
bo_issue_due_purchase_orders(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz as_of = PG_ARGISNULL(0) ? bo_now() : PG_GETARG_TIMESTAMPTZ(0);
	static SPIPlanPtr drafts = NULL;
	List	   *suppliers = NIL;
	ListCell   *lc;
	uint64		i;

	if (TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("as_of must be a finite time")));

	/*
	 * as_of becomes issued_at (and expected_at): maintained columns, whose times only a role
	 * that may set backorder.clock may choose. now() and the engine's clock are no choice.
	 */
	if (as_of != GetCurrentTransactionStartTimestamp() && as_of != bo_now() &&
		!superuser() &&
		pg_parameter_aclcheck("backorder.clock", GetUserId(), ACL_SET) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to issue purchase orders as of %s",
						timestamptz_to_str(as_of)),
				 errdetail("as_of is written into purchase_order.issued_at and expected_at; "
						   "a time other than now() or the engine's clock (backorder.clock) may only be chosen by a role that may set backorder.clock."),
				 errhint("Call issue_due_purchase_orders() without as_of, or be given GRANT SET ON PARAMETER backorder.clock.")));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SPI_connect();
	bo_engine_enter(bo_owner());
	{
		/* in byte order, the order in which commits lock suppliers (lock_suppliers) */
		bo_run(bo_prepare(&drafts,
						  "SELECT supplier_id FROM backorder.purchase_order"
						  " WHERE status OPERATOR(pg_catalog.=) 'draft'::backorder.po_status"
						  " ORDER BY supplier_id COLLATE pg_catalog.\"C\"",
						  0, NULL),
			   NULL, NULL, 0);
		for (i = 0; i < SPI_processed; i++)
			suppliers = lappend(suppliers, bo_col_text(i, 1));
		foreach(lc, suppliers)
		{
			int64		draft;

			draft = lock_supplier(lfirst(lc));
			if (draft != 0 && draft_due(draft, as_of))
			{
				Datum		v = Int64GetDatum(draft);
				bool		null = false;

				issue(draft, as_of);
				/* stored in the tuplestore's own context, which outlives SPI's */
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &v, &null);
			}
		}
		events_flush();
	}
	bo_engine_leave();
	SPI_finish();
	return (Datum) 0;
}

/*
 * Deferred constraint trigger (AFTER UPDATE ON supplier, when po_min_qty or po_max_wait
 * changed): a lower minimum, or a po_max_wait its oldest demand has waited, may make the
 * supplier's draft due. At commit, issue it as the commit that brought it to its minimum
 * would have. The UPDATE holds the supplier's row already; the draft is locked after it,
 * as always.
 */
PG_FUNCTION_INFO_V1(bo_supplier_issue);
Datum
bo_supplier_issue(PG_FUNCTION_ARGS)
{
	TriggerData *td = bo_trigger_data(fcinfo, "bo_supplier_issue", false, true);
	Relation	rel = td->tg_relation;
	bool		isnull;
	Datum		id;
	char	   *supplier_id;
	TimestampTz now = bo_now();

	if (!TRIGGER_FIRED_BY_UPDATE(td->tg_event) || RelationGetRelid(rel) != bo_relid("supplier"))
		elog(ERROR, "bo_supplier_issue: must be fired AFTER UPDATE ON backorder.supplier");
	id = heap_getattr(td->tg_newtuple, bo_attnum(rel, "supplier_id"), RelationGetDescr(rel), &isnull);
	if (isnull)
		return PointerGetDatum(NULL);
	supplier_id = TextDatumGetCString(id);
	SPI_connect();
	bo_engine_enter(rel->rd_rel->relowner);
	{
		int64		draft;

		/*
		 * First the drafts of what this transaction changed, as purchase_sync would do after
		 * this trigger if it came later in the queue: the draft issued is the one it leaves.
		 */
		resync_pending();
		draft = lock_supplier(supplier_id);
		if (draft == 0)
			refuse_unseen_draft(supplier_id);
		else if (draft_due(draft, now))
			issue(draft, now);
		events_flush();
	}
	bo_engine_leave();
	SPI_finish();
	return PointerGetDatum(NULL);
}

/*
 * The skus of a purchase order's lines, sorted, and its status and supplier. again: read
 * a second time, after its items were locked (a draft may have emptied and gone meanwhile).
 */
static List *
po_skus(int64 po_id, char **status, char **supplier, bool again)
{
	static SPIPlanPtr lines = NULL;
	Datum		arg = Int64GetDatum(po_id);
	List	   *skus = NIL;
	uint64		i;

	bo_run(bo_prepare(&lines,
					  "SELECT l.sku, p.status::pg_catalog.text, p.supplier_id"
					  "  FROM backorder.purchase_order p"
					  "  LEFT JOIN backorder.purchase_order_line l"
					  "    ON l.po_id OPERATOR(pg_catalog.=) p.po_id"
					  " WHERE p.po_id OPERATOR(pg_catalog.=) $1 ORDER BY l.sku COLLATE pg_catalog.\"C\"",
					  1, (Oid[]) {INT8OID}),
		   &arg, NULL, 0);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("purchase order " INT64_FORMAT " does not exist", po_id),
				 again ? errdetail("It was a draft, which another transaction emptied (its demand was met, cancelled or moved to another supplier) and dropped while this call waited for its items.") : 0));
	*status = bo_col_text(0, 2);
	*supplier = bo_col_text(0, 3);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *sku = bo_col_text(i, 1);

		if (sku)
			skus = lappend(skus, sku);
	}
	return skus;
}

/*
 * cancel_purchase_order(po_id bigint): a draft or issued order is cancelled; the units
 * it still missed return to the buffer (the supplier's draft).
 *
 * Locks in the order every commit takes them: the order's items, then the suppliers
 * involved (the order's among them), then the order's row. A draft can gain a line
 * (a new item's demand) until its supplier is locked: if it did, the items read first
 * were not all of them, and the call fails with 40001 rather than lock an item now.
 */
PG_FUNCTION_INFO_V1(bo_cancel_purchase_order);
Datum
bo_cancel_purchase_order(PG_FUNCTION_ARGS)
{
	int64		po_id;
	static SPIPlanPtr cancel = NULL;
	Datum		arg;
	List	   *skus;
	List	   *again;
	ListCell   *lc;
	StockEntry **items;
	SupplierDraft *sup;
	char	   *status;
	char	   *supplier;
	int			n = 0,
				nsup,
				k;

	/* not STRICT: a NULL would cancel nothing without a word */
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("po_id must not be null")));
	po_id = PG_GETARG_INT64(0);
	arg = Int64GetDatum(po_id);

	SPI_connect();
	bo_engine_enter(bo_owner());
	{
		skus = po_skus(po_id, &status, &supplier, false);
		if (strcmp(status, "draft") != 0 && strcmp(status, "issued") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_BO_WRONG_PO),
					 errmsg("purchase order " INT64_FORMAT " is %s and cannot be cancelled",
							po_id, status)));
		/* items first (in sku order), then the suppliers */
		items = palloc(sizeof(StockEntry *) * (list_length(skus) + 1));
		foreach(lc, skus)
			items[n++] = stock_lock(lfirst(lc));
		if (n > 0)
			sup = lock_suppliers(items, n, bo_now(), &nsup);
		else
		{
			sup = NULL;
			nsup = 0;
			(void) lock_supplier(supplier);
		}
		again = po_skus(po_id, &status, &supplier, true);
		foreach(lc, again)
			if (stock_find(lfirst(lc)) == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("purchase order " INT64_FORMAT " changed while it was being cancelled", po_id),
						 errdetail("Item \"%s\" was added to it meanwhile.", (char *) lfirst(lc)),
						 errhint("Try again.")));
		bo_run(bo_prepare(&cancel,
						  "UPDATE backorder.purchase_order SET status = 'cancelled', cancelled_at = $2"
						  " WHERE po_id OPERATOR(pg_catalog.=) $1"
						  "   AND status OPERATOR(pg_catalog.<>) 'cancelled'::backorder.po_status"
						  "   AND status OPERATOR(pg_catalog.<>) 'received'::backorder.po_status",
						  2, (Oid[]) {INT8OID, TIMESTAMPTZOID}),
			   (Datum[]) {arg, TimestampTzGetDatum(bo_now())}, NULL, 0);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_BO_WRONG_PO),
					 errmsg("purchase order " INT64_FORMAT " changed while it was being cancelled", po_id),
					 errhint("Try again.")));
		event_add("po_cancelled", NULL, NULL, 0, po_id, 0);
		/*
		 * Every item of the order gets a new row version, even where its counters stay as
		 * they are (the units move to a draft): a REPEATABLE READ transaction whose
		 * snapshot still shows the order issued then fails on the item (40001) instead of
		 * booking a receipt against it.
		 */
		for (k = 0; k < n; k++)
			stock_changed(items[k]);
		/* a cancelled draft is no longer its supplier's draft: the resync makes a new one */
		for (k = 0; k < nsup; k++)
			if (sup[k].draft == po_id)
				sup[k].draft = 0;
		resync_locked(items, n, sup, nsup, bo_now());
	}
	bo_engine_leave();
	SPI_finish();
	PG_RETURN_VOID();
}
