/*
 * stock.c
 *    The per-transaction item cache.
 *
 * The first touch of an item in a transaction locks its row (FOR NO KEY UPDATE) and
 * reads its counters, or, for an order line, writes its new counters at once (which
 * holds the row the same way: stock_claim); either way the row is held until the
 * transaction ends, so the cached copy stays the truth and later touches cost a hash
 * probe. Changed counters are written back once at the end of each ledger statement
 * (stock_flush), never once per line: that is what keeps a bulk INSERT of many lines of
 * one item linear.
 */
#include "backorder.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/subtrans.h"
#include "access/transam.h"
#include "catalog/index.h"
#include "catalog/pg_trigger.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/procarray.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "executor/tuptable.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

static MemoryContext stock_cxt = NULL;
static HTAB *stock_hash = NULL;
static List *stock_dirty = NIL;		/* entries to write back at statement end */
static bool stock_lost = false;		/* a subtransaction rolled back unwritten changes */
static StockEntry *last_hint = NULL;	/* the hint stock_find met last */
static int	peek_misses = 0;		/* items stock_peek looked up through the index */
static bool hints_loaded = false;
static RelFileNode hints_node;	/* the item table's file the hints point into */

/*
 * Entries touched inside subtransactions, as (entry, subtransaction) in the order of the
 * touches: subtransaction ids only grow and subtransactions end innermost first, so the
 * touches a rolled-back one made are the last ones (stock_subxact_abort), however many
 * items the cache holds. Touches of the top level are not kept: it never rolls back alone.
 */
typedef struct Touch
{
	StockEntry *entry;
	SubTransactionId subid;
} Touch;
static Touch *touches = NULL;
static int	ntouches = 0;
static int	maxtouches = 0;

/* the item columns the engine reads and writes */
static const char *const item_colnames[] = {
	"on_hand", "allocated", "backordered", "incoming", "available", "queue_head",
	"policy", "backorder_limit", "pack_size", "supplier_id", "sku"
};
enum
{
	IC_ON_HAND, IC_ALLOCATED, IC_BACKORDERED, IC_INCOMING, IC_AVAILABLE, IC_QUEUE_HEAD,
	IC_POLICY, IC_LIMIT, IC_PACK_SIZE, IC_SUPPLIER, IC_SKU
};
static BoColMap item_cols = BO_COLMAP(item_colnames);

/* Create the cache in a context that dies with the transaction. */
static void
stock_init(void)
{
	stock_cxt = AllocSetContextCreate(TopTransactionContext, "backorder stock cache",
									  ALLOCSET_DEFAULT_SIZES);
	stock_hash = bo_string_hash("backorder stock", sizeof(StockEntry), stock_cxt);
	stock_dirty = NIL;
}

/*
 * Room for one more touch record, when the current subtransaction keeps them: taken before
 * an entry is marked touched (or held), so that a failed allocation leaves no entry
 * without its record.
 */
static void
touch_room(void)
{
	if (GetCurrentSubTransactionId() != TopSubTransactionId)
		touches = bo_grow(touches, ntouches, &maxtouches, sizeof(Touch), stock_cxt);
}

/* This subtransaction reads or changes entry e. */
static void
entry_touch(StockEntry *e)
{
	SubTransactionId sub = GetCurrentSubTransactionId();

	if (e->touched_subid >= sub)
		return;
	if (sub != TopSubTransactionId)
	{
		touch_room();
		touches[ntouches].entry = e;
		touches[ntouches].subid = sub;
		ntouches++;
	}
	e->touched_subid = sub;
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

/* The cached state of an item already locked by this transaction, or NULL. */
StockEntry *
stock_find(const char *sku)
{
	StockEntry *e;

	stock_check_usable();
	if (stock_hash == NULL)
		return NULL;
	e = hash_search(stock_hash, &sku, HASH_FIND, NULL);
	if (e && !e->held)
	{
		last_hint = e;
		return NULL;
	}
	if (e)
		entry_touch(e);
	return e;
}

/* The hint for an item not held (found by the last stock_find, usually), or NULL. */
static StockEntry *
hint_for(const char *sku)
{
	StockEntry *e;

	if (!hints_loaded)
		return NULL;
	if (last_hint && !last_hint->held && strcmp(last_hint->sku, sku) == 0)
		return last_hint;
	e = hash_search(stock_hash, &sku, HASH_FIND, NULL);
	return e && !e->held ? e : NULL;
}

/* locktag_field4 of the item queue locks (pg_advisory_lock uses 1 and 2) */
#define ITEM_QUEUE_LOCK 0x424f

/*
 * The transactions that want an item's row line up on a heavyweight lock named after the
 * sku, taken before the row lock and released as soon as the row lock is held. Without
 * it, every waiter for a hot item waits on the row version it first saw; when the holder
 * commits, each of them wakes up, follows the update chain to the new version and queues
 * there again: a crowd moving at every commit. With it, only the head of the line waits
 * on the row, and a commit wakes one transaction. Taken only when the row lock is not free
 * at once (never, then, when this transaction already holds the row), and held only while
 * waiting for it.
 */
static void
item_queue_locktag(LOCKTAG *tag, const char *sku)
{
	uint64		h = hash_bytes_extended((const unsigned char *) sku, strlen(sku), 0);

	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h, ITEM_QUEUE_LOCK);
}

/*
 * The version of the update chain that starts at tid which snap sees, into slot (a buffer
 * heap tuple slot), as an index scan fetches it; but the page is pruned only when it is
 * nearly full. An index scan prunes a page whenever less than the table's fillfactor
 * reserve is free, and item leaves half of each page free for the new versions of its
 * rows: a page whose rows had all been updated once was then pruned at every order that
 * read it, 4% of a single-line order. Pruning at a fifth free still keeps room for the
 * new versions of HOT updates.
 */
static bool
fetch_chain(Relation rel, ItemPointer tid, Snapshot snap, TupleTableSlot *slot, bool *all_dead)
{
	BufferHeapTupleTableSlot *bslot = (BufferHeapTupleTableSlot *) slot;
	Buffer		buf = ReadBuffer(rel, ItemPointerGetBlockNumber(tid));
	ItemPointerData t = *tid;
	bool		found;

	Assert(TTS_IS_BUFFERTUPLE(slot));
	if (PageGetHeapFreeSpace(BufferGetPage(buf)) < BLCKSZ / 5)
		heap_page_prune_opt(rel, buf);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	found = heap_hot_search_buffer(&t, rel, buf, snap, &bslot->base.tupdata, all_dead, true);
	bslot->base.tupdata.t_self = t;
	LockBuffer(buf, BUFFER_LOCK_UNLOCK);
	if (found)
		ExecStoreBufferHeapTuple(&bslot->base.tupdata, slot, buf);	/* sets tts_tableOid */
	ReleaseBuffer(buf);
	return found;
}

/* Find an item's row through its primary key, as snap sees it, into slot. */
static bool
find_item_row(Relation rel, const char *sku, Snapshot snap, TupleTableSlot *slot)
{
	Relation	idx = index_open(RelationGetPrimaryKeyIndex(rel), AccessShareLock);
	IndexScanDesc scan;
	ScanKeyData key;
	ItemPointer tid;
	bool		found = false;

	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   idx->rd_indcollation[0], F_TEXTEQ, CStringGetTextDatum(sku));
	scan = index_beginscan(rel, idx, snap, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	while (!found && (tid = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
	{
		bool		all_dead = false;

		found = fetch_chain(rel, tid, snap, slot, &all_dead);
		/* as an index scan does: a chain dead to everyone marks its index entry dead */
		scan->kill_prior_tuple = all_dead && !scan->xactStartedInRecovery;
	}
	if (found)
		pgstat_count_heap_fetch(idx);
	index_endscan(scan);
	index_close(idx, NoLock);
	return found;
}

/*
 * Wait until transaction xid (or subtransaction) no longer holds what it holds, level by
 * level. XactLockTableWait, which a blocking table_tuple_lock uses, waits for the top-level
 * transaction as soon as the subtransaction it was asked about has committed into its
 * parent (a RELEASEd savepoint, a PL/pgSQL block with an EXCEPTION clause): a ROLLBACK TO an
 * enclosing savepoint then frees the row, but the waiter sleeps on until the whole
 * transaction ends, holding the item's queue lock; when that transaction comes back for the
 * item and finds it busy (someone took the free row meanwhile) it waits for the queue lock:
 * a deadlock between two orders of one item. Here a committed subtransaction's wait moves to
 * its parent, whose end (commit into its own parent, or rollback) wakes us.
 */
static void
wait_for_xact(TransactionId xid)
{
	LOCKTAG		tag;

	while (TransactionIdIsValid(xid) && !TransactionIdIsCurrentTransactionId(xid))
	{
		TransactionId parent;

		SET_LOCKTAG_TRANSACTION(tag, xid);
		(void) LockAcquire(&tag, ShareLock, false, false);
		LockRelease(&tag, ShareLock, false);
		if (!TransactionIdIsInProgress(xid))
			return;
		parent = SubTransGetParent(xid);
		if (TransactionIdIsValid(parent))
			xid = parent;		/* a subtransaction committed into its parent */
		else
			pg_usleep(1000L);	/* a top-level xid not yet in the lock table */
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * table_tuple_lock(LockWaitSkip) found the row version at tid busy: wait for the
 * transactions whose locks or update conflict with FOR NO KEY UPDATE (wait_for_xact), or,
 * when there are none, for whoever holds the tuple's heavyweight lock (a waiter that did not
 * line up: a client's UPDATE or SELECT FOR UPDATE of the item). The caller tries again;
 * what it finds then decides (the row, the next version, or a serialization failure).
 */
static void
wait_for_row_holders(Relation rel, ItemPointer tid)
{
	Buffer		buf = ReadBuffer(rel, ItemPointerGetBlockNumber(tid));
	Page		page;
	ItemId		lp;
	TransactionId xmin = InvalidTransactionId;
	TransactionId xmax = InvalidTransactionId;
	uint16		infomask = HEAP_XMAX_INVALID;
	bool		waited = false;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	lp = PageGetItemId(page, ItemPointerGetOffsetNumber(tid));
	if (ItemIdIsNormal(lp))
	{
		HeapTupleHeader htup = (HeapTupleHeader) PageGetItem(page, lp);

		xmin = HeapTupleHeaderGetRawXmin(htup);
		xmax = HeapTupleHeaderGetRawXmax(htup);
		infomask = htup->t_infomask;
	}
	LockBuffer(buf, BUFFER_LOCK_UNLOCK);
	ReleaseBuffer(buf);

	if (!(infomask & HEAP_XMAX_INVALID) && TransactionIdIsValid(xmax))
	{
		if (infomask & HEAP_XMAX_IS_MULTI)
		{
			MultiXactMember *members;
			int			n = GetMultiXactIdMembers(xmax, &members, false,
												  HEAP_XMAX_IS_LOCKED_ONLY(infomask));

			for (int i = 0; i < n; i++)
			{
				if (members[i].status == MultiXactStatusForKeyShare ||
					!TransactionIdIsInProgress(members[i].xid))
					continue;
				wait_for_xact(members[i].xid);
				waited = true;
			}
			if (n > 0)
				pfree(members);
		}
		else if (!(HEAP_XMAX_IS_LOCKED_ONLY(infomask) && HEAP_XMAX_IS_KEYSHR_LOCKED(infomask)) &&
				 TransactionIdIsInProgress(xmax))
		{
			wait_for_xact(xmax);
			waited = true;
		}
	}
	if (!waited && TransactionIdIsValid(xmin) && !TransactionIdIsCurrentTransactionId(xmin) &&
		TransactionIdIsInProgress(xmin))
	{
		/*
		 * Defensive: a newer version reached by following the chain whose writer is still
		 * at work. PostgreSQL 15's heapam_tuple_lock raises an error there rather than
		 * returning TM_WouldBlock, so this is not reached today; it keeps a future change
		 * there from turning the caller's loop into a busy one.
		 */
		wait_for_xact(xmin);
		waited = true;
	}
	if (!waited)
	{
		LockTuple(rel, tid, ExclusiveLock);	/* the tuple lock of FOR NO KEY UPDATE */
		UnlockTuple(rel, tid, ExclusiveLock);
	}
}

/*
 * Find an item's row through its primary key and lock it FOR NO KEY UPDATE, as
 * SELECT ... FOR NO KEY UPDATE would, without the executor: in READ COMMITTED the lock
 * follows the row's update chain to its newest version (like EvalPlanQual); in
 * REPEATABLE READ and SERIALIZABLE a concurrent change is a serialization failure.
 * Returns false when there is no such item. The slot receives the locked version.
 */
static bool
lock_item_row(Relation rel, const char *sku, TupleTableSlot *slot)
{
	Snapshot	snap;
	bool		found;

	/*
	 * See this transaction's own latest version of the row (e.g. a client's UPDATE). In
	 * READ COMMITTED the newest committed version; under a transaction snapshot the one it
	 * sees, so that a change committed since fails the lock (serialization failure).
	 */
	CommandCounterIncrement();
	snap = RegisterSnapshot(IsolationUsesXactSnapshot() ? GetTransactionSnapshot()
							: GetLatestSnapshot());
	found = find_item_row(rel, sku, snap, slot);

	if (found)
	{
		TM_FailureData tmfd;
		TM_Result	res;
		LOCKTAG		tag;
		int			flags = IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION;

		/* uncontended: the row lock at once; else line up first (see item_queue_locktag) */
		res = table_tuple_lock(rel, &slot->tts_tid, snap, slot, GetCurrentCommandId(false),
							   LockTupleNoKeyExclusive, LockWaitSkip, flags, &tmfd);
		if (res == TM_WouldBlock)
		{
			item_queue_locktag(&tag, sku);
			(void) LockAcquire(&tag, ExclusiveLock, false, false);
			/* at the head of the line: wait for the row's holders, then try again */
			while ((res = table_tuple_lock(rel, &slot->tts_tid, snap, slot,
										   GetCurrentCommandId(false), LockTupleNoKeyExclusive,
										   LockWaitSkip, flags, &tmfd)) == TM_WouldBlock)
			{
				wait_for_row_holders(rel, &slot->tts_tid);
				CHECK_FOR_INTERRUPTS();
			}
			LockRelease(&tag, ExclusiveLock, false);
		}
		found = bo_row_locked(res, "item", sku);
	}
	UnregisterSnapshot(snap);
	return found;
}

/* An item's state from its row in slot (strings in the current memory context). */
static void
entry_from_slot(StockEntry *e, Relation rel, TupleTableSlot *slot)
{
	const int  *a = item_cols.attnums;
	bool		isnull;
	Datum		d;

	bo_colmap(rel, &item_cols);
	e->on_hand = DatumGetInt64(slot_getattr(slot, a[IC_ON_HAND], &isnull));
	e->allocated = DatumGetInt64(slot_getattr(slot, a[IC_ALLOCATED], &isnull));
	e->backordered = DatumGetInt64(slot_getattr(slot, a[IC_BACKORDERED], &isnull));
	e->incoming = DatumGetInt64(slot_getattr(slot, a[IC_INCOMING], &isnull));
	d = slot_getattr(slot, a[IC_QUEUE_HEAD], &isnull);
	e->queue_head = isnull ? 0 : DatumGetInt64(d);
	d = slot_getattr(slot, a[IC_POLICY], &isnull);
	e->policy = policy_from_label(bo_enum_label(DatumGetObjectId(d)));
	d = slot_getattr(slot, a[IC_LIMIT], &isnull);
	e->has_limit = !isnull;
	e->backorder_limit = isnull ? 0 : DatumGetInt64(d);
	e->pack_size = DatumGetInt64(slot_getattr(slot, a[IC_PACK_SIZE], &isnull));
	d = slot_getattr(slot, a[IC_SUPPLIER], &isnull);
	e->supplier_id = isnull ? NULL : TextDatumGetCString(d);
	e->tid = slot->tts_tid;
	e->dirty = false;
	e->foreign_lines = false;
	e->touched_subid = InvalidSubTransactionId;	/* entry_enter touches it */
	e->dirty_subid = InvalidSubTransactionId;
}

/* Cache the state of an item whose row this transaction now holds. */
static StockEntry *
entry_enter(const char *sku, const StockEntry *src)
{
	MemoryContext old;
	StockEntry *e;
	char	   *key;
	bool		found;

	if (stock_hash == NULL)
		stock_init();
	touch_room();				/* before the entry is held */
	old = MemoryContextSwitchTo(stock_cxt);
	e = hint_for(sku);
	if (e)
		key = e->sku;
	else
	{
		key = pstrdup(sku);
		e = hash_search(stock_hash, &key, HASH_ENTER, &found);
		Assert(!found);
	}
	*e = *src;
	e->sku = key;
	e->held = true;
	e->supplier_id = src->supplier_id ? pstrdup(src->supplier_id) : NULL;
	e->touched_subid = InvalidSubTransactionId;
	entry_touch(e);
	MemoryContextSwitchTo(old);
	return e;
}

/*
 * The cached state of an item, locking its row on first touch in this transaction.
 * Unknown skus are a foreign-key violation.
 */
StockEntry *
stock_lock(const char *sku)
{
	StockEntry *e = stock_lock_if_exists(sku);

	if (e == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("item \"%s\" does not exist", sku),
				 errhint("Insert the item into backorder.item first.")));
	return e;
}

/* As stock_lock, but NULL when there is no such item. */
StockEntry *
stock_lock_if_exists(const char *sku)
{
	StockEntry *e;
	StockEntry	row;
	Relation	rel;
	TupleTableSlot *slot;

	e = stock_find(sku);
	if (e)
		return e;

	rel = table_open(bo_relid("item"), RowShareLock);
	slot = table_slot_create(rel, NULL);
	if (lock_item_row(rel, sku, slot))
	{
		entry_from_slot(&row, rel, slot);
		e = entry_enter(sku, &row);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return e;
}

/* A new version of item row old with e's counters and the generated column available. */
static HeapTuple
item_new_version(Relation rel, const StockEntry *e, HeapTuple old)
{
	const int  *a = item_cols.attnums;
	BoCols		c;

	bo_colmap(rel, &item_cols);
	bo_cols_init(&c, rel);
	bo_cols_put(&c, a[IC_ON_HAND], Int64GetDatum(e->on_hand), false);
	bo_cols_put(&c, a[IC_ALLOCATED], Int64GetDatum(e->allocated), false);
	bo_cols_put(&c, a[IC_BACKORDERED], Int64GetDatum(e->backordered), false);
	bo_cols_put(&c, a[IC_INCOMING], Int64GetDatum(e->incoming), false);
	bo_cols_put(&c, a[IC_AVAILABLE], Int64GetDatum(e->on_hand - e->allocated - e->backordered),
				false);
	bo_cols_put(&c, a[IC_QUEUE_HEAD], Int64GetDatum(e->queue_head), e->queue_head == 0);
	return bo_cols_apply(&c, old);
}

/* A new version of the item row e->tid with e's counters; NULL when that version is gone. */
static HeapTuple
item_version(Relation rel, const StockEntry *e)
{
	HeapTupleData old;
	Buffer		buf;
	HeapTuple	newtup;

	old.t_self = e->tid;
	if (!heap_fetch(rel, SnapshotAny, &old, &buf, false))
		return NULL;
	newtup = item_new_version(rel, e, &old);
	ReleaseBuffer(buf);
	return newtup;
}

/*
 * Hints. A statement that orders many different items would look each one up through
 * item_pkey, a descent of the btree per line. Once this transaction has looked up more
 * than an eighth of the item table that way (and at least HINT_MIN_MISSES items), one
 * sequential scan notes where every item's row is: an entry per item, not held
 * (held = false, only sku and tid set), in the same cache, so a line costs one probe of
 * it. A hint is only a place to look: stock_peek fetches the version there and uses it
 * only when the snapshot sees it, and stock_claim's heap_update fails on a version that
 * is no longer the newest, as it does for a version found through the index. Skipped
 * when the hints would take more than maintenance_work_mem, or the table has never been
 * vacuumed or analyzed (no row count).
 */
#define HINT_MIN_MISSES 1000
#define HINT_BYTES (sizeof(StockEntry) + 64)	/* an entry, its hash element and key */

static void
load_hints(Relation rel, Snapshot snap)
{
	TableScanDesc scan;
	HeapTuple	tup;
	int			a_sku;
	MemoryContext old;

	bo_colmap(rel, &item_cols);
	a_sku = item_cols.attnums[IC_SKU];
	hints_loaded = true;
	hints_node = rel->rd_node;
	if (stock_hash == NULL)
		stock_init();
	old = MemoryContextSwitchTo(stock_cxt);
	scan = table_beginscan(rel, snap, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		char	   *key = TextDatumGetCString(heap_getattr(tup, a_sku, RelationGetDescr(rel),
														   &isnull));
		bool		found;
		StockEntry *e = hash_search(stock_hash, &key, HASH_ENTER, &found);

		if (found)
		{
			pfree(key);
			continue;
		}
		memset(e, 0, sizeof(*e));
		e->sku = key;
		e->tid = tup->t_self;
	}
	table_endscan(scan);
	MemoryContextSwitchTo(old);
}

/*
 * Count an item looked up through the index; load hints when they would pay. Once a
 * statement has looked up HINT_MIN_MISSES items, the lines the planner expects it to
 * insert count too: an INSERT ... SELECT of 100,000 lines over as many items then loads
 * the hints at its 1,000th item rather than its 12,500th (4c: 12,500 index descents were
 * 3.5% of it).
 */
static void
count_miss(Relation rel, Snapshot snap)
{
	float4		items = rel->rd_rel->reltuples;
	double		ahead;

	if (hints_loaded || ++peek_misses < HINT_MIN_MISSES || items <= 0 ||
		(double) items * HINT_BYTES > (double) maintenance_work_mem * 1024)
		return;
	ahead = Max((double) peek_misses, bo_lines_estimate());
	if (ahead * 8 < items)
		return;
	load_hints(rel, snap);
}

/*
 * The version a hint points at into slot, if snap sees it and it is still a version of
 * that item. Within the statement that loaded the hints the version cannot be pruned
 * (the statement's snapshot holds it back); in a later statement it may have been,
 * and its line pointer reused by another row: hence the sku check. The table cannot
 * shrink meanwhile (VACUUM's truncation needs a lock that conflicts with the
 * RowExclusiveLock this transaction holds on it); a rewrite by this transaction gives it
 * a new file, and the hints are not used then.
 */
static bool
fetch_hinted(Relation rel, StockEntry *hint, Snapshot snap, TupleTableSlot *slot)
{
	bool		isnull;
	text	   *t;

	if (!RelFileNodeEquals(rel->rd_node, hints_node) ||
		!table_tuple_fetch_row_version(rel, &hint->tid, snap, slot))
		return false;
	bo_colmap(rel, &item_cols);
	t = DatumGetTextPP(slot_getattr(slot, item_cols.attnums[IC_SKU], &isnull));
	if (!isnull && VARSIZE_ANY_EXHDR(t) == strlen(hint->sku) &&
		memcmp(VARDATA_ANY(t), hint->sku, VARSIZE_ANY_EXHDR(t)) == 0)
		return true;
	ExecClearTuple(slot);
	return false;
}

/*
 * The item table, kept open from a peek to the end of the statement
 * (stock_statement_end): opening it for every line of a bulk insert cost 1.5% of it (a
 * relcache and a lock-table probe). The reference belongs to the transaction's resource
 * owner, so that it outlives whatever subtransaction or portal is current when it is
 * taken (the lock it takes on item is held to the end of the transaction, as a lock
 * taken in a subtransaction that rolls back would not be). The slot stays per peek: its
 * buffer pin belongs to the current owner.
 */
static Relation peek_rel = NULL;
static SubTransactionId peek_subid = InvalidSubTransactionId;	/* a peek under way, in it */

static void
peek_open(void)
{
	ResourceOwner save = CurrentResourceOwner;

	CurrentResourceOwner = TopTransactionResourceOwner;
	PG_TRY();
	{
		peek_rel = table_open(bo_relid("item"), RowExclusiveLock);
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = save;
	}
	PG_END_TRY();
}

/* A statement ended (or its transaction commits): let go of the peeks' table. */
void
stock_statement_end(void)
{
	ResourceOwner save = CurrentResourceOwner;

	if (peek_rel == NULL)
		return;
	CurrentResourceOwner = TopTransactionResourceOwner;
	table_close(peek_rel, NoLock);
	CurrentResourceOwner = save;
	peek_rel = NULL;
}

/*
 * Claiming an item by writing it. An order line's first touch of an item usually changes
 * its counters at once, so instead of locking the row (a WAL record) and writing the new
 * counters at statement end (another), stock_peek reads the newest version of the row
 * without a lock, the caller works out the order against it, and stock_claim writes the
 * new counters into a new version of exactly that version: heap_update fails, rather
 * than waits, if anyone holds or changed the row since, and then the caller starts again
 * with stock_lock. The new version holds the row as the lock would have, to the end of
 * the transaction. Only in READ COMMITTED, and only where the engine writes item rows
 * directly (no shop trigger on item updates).
 */
bool
stock_peek(const char *sku, StockPeek *p)
{
	Snapshot	snap;
	StockEntry *hint;
	bool		found;

	if (IsolationUsesXactSnapshot())
		return false;
	if (peek_rel == NULL)
		peek_open();
	if (!bo_direct_ok(peek_rel, TRIGGER_TYPE_UPDATE))
		return false;
	p->rel = peek_rel;
	p->slot = table_slot_create(p->rel, NULL);
	peek_subid = GetCurrentSubTransactionId();
	CommandCounterIncrement();
	snap = RegisterSnapshot(GetLatestSnapshot());
	hint = hint_for(sku);
	found = hint && fetch_hinted(p->rel, hint, snap, p->slot);
	if (!found)
	{
		count_miss(p->rel, snap);
		found = find_item_row(p->rel, sku, snap, p->slot);
	}
	UnregisterSnapshot(snap);
	if (!found)
	{
		stock_unpeek(p);
		return false;
	}
	entry_from_slot(&p->row, p->rel, p->slot);
	return true;
}

/* Let go of a peeked row without claiming it. */
void
stock_unpeek(StockPeek *p)
{
	peek_subid = InvalidSubTransactionId;
	ExecDropSingleTupleTableSlot(p->slot);
}

/*
 * Write the counters of a row read by stock_peek (and changed by the caller) into a new
 * version of it, which caches the item as held by this transaction. NULL, having written
 * nothing, when the version read is no longer the newest or someone holds it. Either
 * way the peek is over.
 */
StockEntry *
stock_claim(const char *sku, StockPeek *p)
{
	HeapTuple	newtup = item_new_version(p->rel, &p->row,
										  ExecFetchSlotHeapTuple(p->slot, false, NULL));
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	TM_Result	res;

	res = heap_update(p->rel, &p->row.tid, newtup, GetCurrentCommandId(true), InvalidSnapshot,
					  false, &tmfd, &lockmode);
	if (res == TM_Ok)
	{
		if (!HeapTupleIsHeapOnly(newtup))
			bo_index_tuple(p->rel, RelationGetIndexList(p->rel), newtup);
		p->row.tid = newtup->t_self;
		CommandCounterIncrement();
	}
	heap_freetuple(newtup);
	stock_unpeek(p);
	return res == TM_Ok ? entry_enter(sku, &p->row) : NULL;
}

/* Note that an entry's counters changed; they are written at statement end. */
void
stock_changed(StockEntry *e)
{
	SubTransactionId sub = GetCurrentSubTransactionId();

	entry_touch(e);
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
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION),
				 errmsg("cannot change item \"%s\" in the statement that books stock for it", sku),
				 errdetail("The statement's ledger rows changed the item's counters, which the engine writes at the statement's end."),
				 errhint("Change the item in a statement of its own.")));
	last_hint = NULL;
	/* its touches stay behind: an element not touched since is never taken for dropping */
	e->touched_subid = InvalidSubTransactionId;
	hash_search(stock_hash, &sku, HASH_REMOVE, NULL);
}

/*
 * Write one item's counters into a new version of its row, which this transaction holds
 * locked: a HOT update most of the time, since no index covers a counter and the table
 * leaves free space on each page.
 */
static void
write_direct(Relation rel, List *indexes, StockEntry *e)
{
	HeapTuple	newtup = item_version(rel, e);

	if (newtup == NULL)
		elog(ERROR, "backorder: locked row of item \"%s\" not found", e->sku);
	simple_heap_update(rel, &e->tid, newtup);
	if (!HeapTupleIsHeapOnly(newtup))
		bo_index_tuple(rel, indexes, newtup);
	e->tid = newtup->t_self;
	heap_freetuple(newtup);
}

/* Write one item's counters with an UPDATE (when a shop trigger must see it). */
static void
write_spi(StockEntry *e)
{
	static SPIPlanPtr plan = NULL;
	Datum		args[6];
	char		nulls[6] = "      ";

	args[0] = CStringGetTextDatum(e->sku);
	args[1] = Int64GetDatum(e->on_hand);
	args[2] = Int64GetDatum(e->allocated);
	args[3] = Int64GetDatum(e->backordered);
	args[4] = Int64GetDatum(e->incoming);
	args[5] = Int64GetDatum(e->queue_head);
	if (e->queue_head == 0)
		nulls[5] = 'n';
	bo_run(bo_prepare(&plan,
					  "UPDATE backorder.item SET on_hand = $2, allocated = $3,"
					  "       backordered = $4, incoming = $5, queue_head = $6"
					  " WHERE sku OPERATOR(pg_catalog.=) $1 RETURNING ctid",
					  6, (Oid[]) {TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID}),
		   args, nulls, 0);
	if (SPI_processed != 1)
		elog(ERROR, "backorder: item \"%s\" vanished while locked", e->sku);
	e->tid = *(ItemPointer) DatumGetPointer(bo_col(0, 1, &(bool) {false}));
}

/* Write back every changed item, once per statement whatever the number of lines. */
void
stock_flush(void)
{
	Relation	rel;
	List	   *indexes;
	bool		direct;
	ListCell   *lc;

	stock_check_usable();
	if (stock_dirty == NIL)
		return;
	rel = table_open(bo_relid("item"),
					 RowExclusiveLock);
	indexes = RelationGetIndexList(rel);
	direct = bo_direct_ok(rel, TRIGGER_TYPE_UPDATE);
	foreach(lc, stock_dirty)
	{
		StockEntry *e = lfirst(lc);

		if (direct)
			write_direct(rel, indexes, e);
		else
			write_spi(e);
		e->dirty = false;
		e->dirty_subid = InvalidSubTransactionId;
	}
	table_close(rel, NoLock);
	list_free(stock_dirty);
	stock_dirty = NIL;
	CommandCounterIncrement();
}

/* The transaction ended: its context (and the cache) is gone. */
void
stock_reset(void)
{
	stock_cxt = NULL;
	stock_hash = NULL;
	peek_subid = InvalidSubTransactionId;
	peek_rel = NULL;			/* released with the transaction's resource owner */
	last_hint = NULL;
	peek_misses = 0;
	hints_loaded = false;
	stock_dirty = NIL;
	stock_lost = false;
	touches = NULL;				/* it lived in stock_cxt */
	ntouches = maxtouches = 0;
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
	StockEntry *e;
	List	   *gone = NIL;
	ListCell   *lc;

	/*
	 * A statement failed: let go of the item table, unless a peek begun before this
	 * subtransaction is still under way (a function of an index on item, with an
	 * exception block, called by the claim's index insertion). A peek begun inside it
	 * ended with it.
	 */
	if (peek_subid >= subid)
		peek_subid = InvalidSubTransactionId;
	if (peek_subid == InvalidSubTransactionId)
		stock_statement_end();
	if (stock_hash == NULL)
		return;
	/*
	 * The touches of subid and its children are the last ones. An entry may have several,
	 * and one dropped by a child's rollback may have left older ones behind, its element
	 * since reused (dynahash keeps removed elements for reuse): whatever entry is there now
	 * goes if it was touched since subid began, which is the rule.
	 */
	while (ntouches > 0 && touches[ntouches - 1].subid >= subid)
	{
		e = touches[--ntouches].entry;
		if (e->touched_subid < subid)
			continue;			/* not since subid began, or already in gone */
		if (e->dirty && e->dirty_subid < subid)
			stock_lost = true;
		e->touched_subid = InvalidSubTransactionId;
		gone = lappend(gone, e);
	}
	last_hint = NULL;
	foreach(lc, gone)
	{
		e = lfirst(lc);
		stock_dirty = list_delete_ptr(stock_dirty, e);
		hash_search(stock_hash, &e->sku, HASH_REMOVE, NULL);
	}
	list_free(gone);
}
