/*
 * stock.c
 *    The per-transaction item cache.
 *
 * The first touch of an item in a transaction locks its row (FOR NO KEY UPDATE) and
 * reads its counters; the lock is held until the transaction ends, so the cached copy
 * stays the truth and later touches cost a hash probe. Changed counters are written
 * back once at the end of each ledger statement (stock_flush), never once per line:
 * that is what keeps a bulk INSERT of many lines of one item linear.
 */
#include "backorder.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

static MemoryContext stock_cxt = NULL;
static HTAB *stock_hash = NULL;
static List *stock_dirty = NIL;		/* entries to write back at statement end */
static bool stock_lost = false;		/* a subtransaction rolled back unwritten changes */

/* hash of the sku string a key points to */
static uint32
sku_hash(const void *key, Size keysize)
{
	const char *s = *(const char *const *) key;

	return hash_bytes((const unsigned char *) s, strlen(s));
}

/* compare the sku strings two keys point to */
static int
sku_match(const void *a, const void *b, Size keysize)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Create the cache in a context that dies with the transaction. */
static void
stock_init(void)
{
	HASHCTL		ctl;

	stock_cxt = AllocSetContextCreate(TopTransactionContext, "backorder stock cache",
									  ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(StockEntry);
	ctl.hash = sku_hash;
	ctl.match = sku_match;
	ctl.hcxt = stock_cxt;
	stock_hash = hash_create("backorder stock", 256, &ctl,
							 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	stock_dirty = NIL;
}

/* Raise an error if a subtransaction rolled back changes the cache could not undo. */
void
stock_check_usable(void)
{
	if (stock_lost)
		ereport(ERROR,
				(errcode(ERRCODE_BO_STATE_LOST),
				 errmsg("stock changes of this statement were lost by a rolled-back subtransaction"),
				 errhint("Roll back the transaction and try again.")));
}

/* Parse a policy label read from the item row. */
static StockPolicy
policy_from_label(const char *label)
{
	if (strcmp(label, "deny") == 0)
		return POLICY_DENY;
	if (strcmp(label, "preorder") == 0)
		return POLICY_PREORDER;
	return POLICY_BACKORDER;
}

/*
 * The cached state of an item, locking its row on first touch in this transaction.
 * Unknown skus are a foreign-key violation. Must be called inside SPI_connect.
 */
StockEntry *
stock_lock(const char *sku)
{
	static SPIPlanPtr plan = NULL;
	StockEntry *e;
	bool		found;
	Datum		arg;
	MemoryContext old;

	stock_check_usable();
	if (stock_hash == NULL)
		stock_init();
	e = hash_search(stock_hash, &sku, HASH_FIND, NULL);
	if (e)
	{
		e->touched_subid = Max(e->touched_subid, GetCurrentSubTransactionId());
		return e;
	}

	arg = CStringGetTextDatum(sku);
	bo_run(bo_prepare(&plan,
					  "SELECT on_hand, allocated, backordered, incoming, policy::pg_catalog.text,"
					  "       backorder_limit, pack_size, supplier_id"
					  "  FROM backorder.item WHERE sku OPERATOR(pg_catalog.=) $1"
					  "   FOR NO KEY UPDATE",
					  1, (Oid[]) {TEXTOID}),
		   &arg, NULL, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("item \"%s\" does not exist", sku),
				 errhint("Insert the item into backorder.item first.")));

	old = MemoryContextSwitchTo(stock_cxt);
	{
		char	   *key = pstrdup(sku);
		char	   *policy = bo_col_text(0, 5);
		char	   *supplier = bo_col_text(0, 8);

		e = hash_search(stock_hash, &key, HASH_ENTER, &found);
		Assert(!found);
		e->sku = key;
		e->on_hand = bo_col_int8(0, 1, 0);
		e->allocated = bo_col_int8(0, 2, 0);
		e->backordered = bo_col_int8(0, 3, 0);
		e->incoming = bo_col_int8(0, 4, 0);
		e->policy = policy_from_label(policy);
		e->backorder_limit = bo_col_int8(0, 6, 0);
		e->has_limit = !heap_attisnull(SPI_tuptable->vals[0], 6, SPI_tuptable->tupdesc);
		e->pack_size = bo_col_int8(0, 7, 1);
		e->supplier_id = supplier;
		e->dirty = false;
		e->touched_subid = GetCurrentSubTransactionId();
		e->dirty_subid = InvalidSubTransactionId;
	}
	MemoryContextSwitchTo(old);
	return e;
}

/* Note that an entry's counters changed; they are written at statement end. */
void
stock_changed(StockEntry *e)
{
	SubTransactionId sub = GetCurrentSubTransactionId();

	e->touched_subid = Max(e->touched_subid, sub);
	if (!e->dirty)
	{
		MemoryContext old = MemoryContextSwitchTo(stock_cxt);

		e->dirty = true;
		e->dirty_subid = sub;
		stock_dirty = lappend(stock_dirty, e);
		MemoryContextSwitchTo(old);
	}
}

/* Drop a cached item (its row was changed by a client). */
void
stock_forget(const char *sku)
{
	StockEntry *e;

	if (stock_hash == NULL)
		return;
	e = hash_search(stock_hash, &sku, HASH_FIND, NULL);
	if (e == NULL)
		return;
	if (e->dirty)
		elog(ERROR, "backorder: item \"%s\" changed while its counters were unwritten", sku);
	hash_search(stock_hash, &sku, HASH_REMOVE, NULL);
}

/* Write back every changed item: one UPDATE per item per statement. */
void
stock_flush(void)
{
	static SPIPlanPtr plan = NULL;
	ListCell   *lc;

	stock_check_usable();
	if (stock_dirty == NIL)
		return;
	foreach(lc, stock_dirty)
	{
		StockEntry *e = lfirst(lc);
		Datum		args[5];

		args[0] = CStringGetTextDatum(e->sku);
		args[1] = Int64GetDatum(e->on_hand);
		args[2] = Int64GetDatum(e->allocated);
		args[3] = Int64GetDatum(e->backordered);
		args[4] = Int64GetDatum(e->incoming);
		bo_run(bo_prepare(&plan,
						  "UPDATE backorder.item SET on_hand = $2, allocated = $3,"
						  "       backordered = $4, incoming = $5"
						  " WHERE sku OPERATOR(pg_catalog.=) $1",
						  5, (Oid[]) {TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID}),
			   args, NULL, 0);
		if (SPI_processed != 1)
			elog(ERROR, "backorder: item \"%s\" vanished while locked", e->sku);
		e->dirty = false;
		e->dirty_subid = InvalidSubTransactionId;
	}
	list_free(stock_dirty);
	stock_dirty = NIL;
}

/* The transaction ended: its context (and the cache) is gone. */
void
stock_reset(void)
{
	stock_cxt = NULL;
	stock_hash = NULL;
	stock_dirty = NIL;
	stock_lost = false;
}

/*
 * A subtransaction rolled back: its row locks are released and its writes undone, so
 * entries it touched must be read again. If such an entry also carried changes from
 * before the subtransaction that were not yet written, they cannot be recovered: the
 * transaction is marked unusable (only possible mid-statement, e.g. an exception
 * block inside a trigger of a bulk insert).
 */
void
stock_subxact_abort(SubTransactionId subid)
{
	HASH_SEQ_STATUS seq;
	StockEntry *e;
	List	   *gone = NIL;
	ListCell   *lc;

	if (stock_hash == NULL)
		return;
	hash_seq_init(&seq, stock_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->touched_subid < subid)
			continue;
		if (e->dirty && e->dirty_subid < subid)
			stock_lost = true;
		gone = lappend(gone, e);
	}
	foreach(lc, gone)
	{
		e = lfirst(lc);
		stock_dirty = list_delete_ptr(stock_dirty, e);
		hash_search(stock_hash, &e->sku, HASH_REMOVE, NULL);
	}
	list_free(gone);
}
