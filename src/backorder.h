/*
 * backorder.h
 *    Shared declarations of the backorder engine.
 *
 * The engine keeps one rule: every change to an item's stock, queue or purchase-order
 * lines happens while the transaction holds that item's row (locked FOR NO KEY UPDATE,
 * or updated, once per transaction). Counters are cached per transaction and written back
 * once per statement, so a bulk INSERT costs one item update per item, not per line.
 * Work that spans items of one supplier is deferred to commit time (purchase.c).
 */
#ifndef BACKORDER_H
#define BACKORDER_H

#include "postgres.h"

#include "access/htup.h"
#include "access/genam.h"
#include "access/tableam.h"
#include "storage/lockdefs.h"
#include "storage/itemptr.h"
#include "executor/tuptable.h"
#include "executor/spi.h"
#include "nodes/pg_list.h"
#include "utils/hsearch.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

/* SQLSTATEs of business rules, class "BO"; see README */
#define ERRCODE_BO_INSUFFICIENT_STOCK	MAKE_SQLSTATE('B','O','0','0','1')
#define ERRCODE_BO_BACKORDER_LIMIT		MAKE_SQLSTATE('B','O','0','0','2')
#define ERRCODE_BO_SHIP_EXCEEDS			MAKE_SQLSTATE('B','O','0','0','3')
#define ERRCODE_BO_CANCEL_EXCEEDS		MAKE_SQLSTATE('B','O','0','0','4')
#define ERRCODE_BO_APPEND_ONLY			MAKE_SQLSTATE('B','O','0','0','5')
#define ERRCODE_BO_NEGATIVE_STOCK		MAKE_SQLSTATE('B','O','0','0','6')
#define ERRCODE_BO_SHIP_INCOMPLETE		MAKE_SQLSTATE('B','O','0','0','7')
#define ERRCODE_BO_WRONG_PO				MAKE_SQLSTATE('B','O','0','0','8')
#define ERRCODE_BO_STATE_LOST			MAKE_SQLSTATE('B','O','0','0','9')

typedef enum StockPolicy
{
	POLICY_DENY,
	POLICY_BACKORDER,
	POLICY_PREORDER
} StockPolicy;

/* One item's state, cached for the rest of the transaction once its row is locked. */
typedef struct StockEntry
{
	char	   *sku;			/* hash key: points into the entry's own copy */
	int64		on_hand;
	int64		allocated;
	int64		backordered;
	int64		incoming;
	StockPolicy policy;
	bool		has_limit;
	int64		backorder_limit;
	int64		pack_size;
	char	   *supplier_id;	/* NULL when the item has no supplier */
	int64		queue_head;		/* line_id of the oldest waiting line, 0: none */
	ItemPointerData tid;		/* the row version this transaction locked or wrote */
	bool		held;			/* false: only a hint where the row was (see stock_peek) */
	bool		dirty;			/* counters differ from the row */
	bool		foreign_lines;	/* has lines in another supplier's open orders */
	SubTransactionId touched_subid; /* newest subtransaction that read or changed it */
	SubTransactionId dirty_subid;	/* subtransaction of the oldest unwritten change */
} StockEntry;

/* One order line's quantities, as read from and written back to the table. */
typedef struct LineState
{
	int64		line_id;
	char	   *order_ref;
	char	   *sku;
	int64		qty;
	int64		allocated;
	int64		backordered;
	int64		shipped;
	int64		cancelled;
	bool		allocated_at_null;
	TimestampTz allocated_at;
} LineState;

/* backorder.c: engine plumbing */
extern bool bo_notify;			/* backorder.notify */
extern TimestampTz bo_now(void);
extern void bo_engine_enter(Oid owner);
extern void bo_engine_leave(void);
extern bool bo_in_engine(void);
extern double bo_lines_estimate(void);
extern void bo_lines_estimate_reset(void);
extern Oid	bo_owner(void);
extern SPIPlanPtr bo_prepare(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes);
extern SPIPlanPtr bo_prepare_custom(SPIPlanPtr *cache, const char *sql, int nargs,
									const Oid *argtypes);
extern int	bo_run(SPIPlanPtr plan, Datum *values, const char *nulls, long count);
extern Datum bo_col(int row, int col, bool *isnull);
extern int64 bo_col_int8(int row, int col, int64 ifnull);
extern char *bo_col_text(int row, int col);
extern HTAB *bo_string_hash(const char *name, Size entrysize, MemoryContext cxt);
extern Datum bo_array(Datum *elems, bool *nulls, int n, Oid elemtype);
extern void *bo_grow(void *array, int n, int *max, Size elemsize, MemoryContext cxt);
extern int64 bo_add(int64 a, int64 b);
extern int64 bo_sub(int64 a, int64 b);
extern int64 bo_mul(int64 a, int64 b);
extern TriggerData *bo_trigger_data(FunctionCallInfo fcinfo, const char *name,
									bool before, bool row);
extern void bo_check_trigger_order(TriggerData *td);
extern int	bo_attnum(Relation rel, const char *colname);
extern Oid	bo_relid(const char *name);
extern Oid	bo_enum_oid(Oid typid, const char *label);
extern const char *bo_enum_label(Oid oid);
/* with the event: the writer inserts index entries of expression and partial indexes too */
#define BO_DIRECT_ANY_INDEX 0x4000
extern bool bo_direct_ok(Relation rel, int16 event);
extern bool bo_shop_triggers(Relation rel, int16 event);
extern bool bo_row_locked(TM_Result res, const char *what, const char *key);
extern void bo_index_tuple(Relation rel, List *indexes, HeapTuple tup);

/* Columns to replace in a new version of a row, set one by one (heap_modify_tuple_by_cols). */
#define BO_MAX_COLS 8
typedef struct BoCols
{
	Relation	rel;
	int			n;
	int			attnums[BO_MAX_COLS];
	Datum		values[BO_MAX_COLS];
	bool		nulls[BO_MAX_COLS];
} BoCols;
extern void bo_cols_init(BoCols *c, Relation rel);
extern void bo_cols_put(BoCols *c, int attnum, Datum value, bool isnull);
extern void bo_cols_set(BoCols *c, const char *col, Datum value, bool isnull);
extern HeapTuple bo_cols_apply(const BoCols *c, HeapTuple old);

/* The attribute numbers of a fixed list of a table's columns (bo_colmap fills them). */
#define BO_MAX_MAP 16
typedef struct BoColMap
{
	const char *const *names;
	int			n;
	Oid			relid;			/* the table attnums belong to */
	uint32		epoch;			/* relcache invalidations seen when they were read */
	int			attnums[BO_MAX_MAP];
} BoColMap;
#define BO_COLMAP(names) {(names), lengthof(names), InvalidOid, 0}
extern void bo_colmap(Relation rel, BoColMap *m);

/*
 * The last entry given to a BRIN index of a BoIndexSet: a row whose key equals it, in the
 * same range of pages, would add nothing to the range's summary.
 */
typedef struct BoBrinLast
{
	BlockNumber block;			/* its heap page; InvalidBlockNumber: none yet */
	BlockNumber pages;			/* the index's pages_per_range (0: not read yet) */
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
} BoBrinLast;

/* A table's indexes, opened once for many direct writes. */
typedef struct BoIndexSet
{
	Relation	heap;
	int			n;
	Relation   *rels;
	struct IndexInfo **infos;
	BoBrinLast **brin;			/* per index: a BRIN index with keys passed by value, else NULL */
	TupleTableSlot *slot;
	struct EState *estate;		/* for index predicates and expressions, else NULL */
	bool		shop_exprs;		/* some are the shop's (shop_code_begin) */
} BoIndexSet;
extern BoIndexSet *bo_indexes_open(Relation rel, List *indexes);
extern void bo_indexes_insert(BoIndexSet *s, HeapTuple tup);
extern void bo_indexes_close(BoIndexSet *s);
extern bool bo_get_int8(HeapTuple tup, Relation rel, int attnum, int64 *value);
extern char *bo_get_text(HeapTuple tup, Relation rel, int attnum);
extern void bo_require_null(HeapTuple tup, Relation rel, int attnum);
extern int64 bo_require_int8(HeapTuple tup, Relation rel, int attnum);
extern int64 bo_require_qty(HeapTuple tup, Relation rel, int attnum, bool nullable);
extern char *bo_require_text(HeapTuple tup, Relation rel, int attnum);
extern char *bo_require_key(HeapTuple tup, Relation rel, int attnum);
#define BO_KEY_MAX 200			/* characters of a sku, supplier_id or order_ref */

/* keyscan.c: the engine's rows read and written through their btree indexes */
/* Rows of backorder.<table> whose index's first column equals a key, read or locked. */
typedef struct KeyScan
{
	Relation	rel;
	Relation	idx;
	Snapshot	snap;
	IndexScanDesc scan;
	TupleTableSlot *slot;		/* the row found last */
} KeyScan;

/* A row of one of the engine's tables, found by its primary key for a direct write. */
typedef struct PkeyRow
{
	KeyScan		k;				/* k.slot holds the row, when found */
	bool		found;
} PkeyRow;
extern void key_scan_rekey(KeyScan *k, int n, const Datum *vals, const bool *text);
extern void key_scan_begin_latest(KeyScan *k, const char *relname, LOCKMODE mode,
								  const char *idxname, const char *col, Datum key, bool text);
extern void key_scan_start(KeyScan *k, bool latest, int n, const Datum *vals, const bool *text);
extern void key_scan_begin(KeyScan *k, const char *relname, LOCKMODE mode, const char *idxname,
						   const char *col, Datum key, bool text);
extern void key_scan_begin_after(KeyScan *k, const char *relname, LOCKMODE mode,
								 const char *idxname, const char *col, Datum key, bool text,
								 const char *aftercol, int64 after);
extern bool key_scan_next(KeyScan *k);
extern bool key_scan_prev(KeyScan *k);
extern void key_scan_update(KeyScan *k, const BoCols *c);
extern int64 key_int8(KeyScan *k, const char *col, bool *isnull);
extern char *key_text(KeyScan *k, const char *col);
extern const char *key_status(KeyScan *k);
extern void key_scan_end(KeyScan *k);
extern bool pkey_row_find(PkeyRow *r, const char *relname, int16 events, int n,
						  const char *const *cols, const Datum *vals, const bool *text);
extern void pkey_row_done(PkeyRow *r);
extern void pkey_row_update(PkeyRow *r, const BoCols *c);
extern void update_int8_col(PkeyRow *r, int attnum, int64 value);

/* stock.c: the per-transaction item cache */
extern StockEntry *stock_find(const char *sku);
extern StockEntry *stock_lock(const char *sku);
extern StockEntry *stock_lock_if_exists(const char *sku);
/* An item row read without a lock, to be claimed by writing it (see stock_peek). */
typedef struct StockPeek
{
	StockEntry	row;			/* the item as read; the caller changes its counters */
	Relation	rel;
	TupleTableSlot *slot;		/* holds the version read */
} StockPeek;
extern bool stock_peek(const char *sku, StockPeek *p);
extern void stock_unpeek(StockPeek *p);
extern StockEntry *stock_claim(const char *sku, StockPeek *p);
extern void stock_changed(StockEntry *e);
extern void stock_forget(const char *sku);
extern void stock_flush(void);
extern void stock_statement_end(void);
extern void stock_reset(void);
extern void stock_subxact_abort(SubTransactionId subid);
extern void stock_check_usable(void);

/* ledger.c: queue and line helpers */
extern const char *line_status_label(const LineState *l);
extern Datum line_status_datum(Relation rel, int attnum, const LineState *l);
extern int64 queue_fill(StockEntry *e);

/* events.c */
extern void event_add(const char *kind, const char *sku, const char *order_ref,
					  int64 line_id, int64 po_id, int64 qty);
extern void events_flush(void);
extern void events_reset(void);
extern void events_subxact_abort(SubTransactionId subid);

/* notify.c */
extern void notify_init(void);
extern void notify_event(int64 id);
extern void notify_subxact_abort(SubTransactionId subid);
extern void notify_precommit(void);
extern void notify_preprepare(void);
extern void notify_end(bool committed);

/* purchase.c */
extern void po_mark(StockEntry *e);
extern void po_mark_sku(const char *sku);
extern void po_receipt(StockEntry *e, int64 qty, bool has_po, int64 po_id);
extern void po_reset(void);
extern void po_subxact_abort(SubTransactionId subid);
extern void po_subxact_commit(SubTransactionId subid, SubTransactionId parent);

#endif							/* BACKORDER_H */
