/*
 * notify.c
 *    NOTIFY after commit, sent by a background worker.
 *
 * A transaction that notifies takes the cluster-wide lock of the NOTIFY queue while it
 * commits, so one order per transaction, each with its own NOTIFY, serialises every
 * ordering session there. When backorder is in shared_preload_libraries, a committing
 * transaction instead hands the event ids it would have notified to a ring in shared
 * memory (one ring per database), as runs of consecutive ids (a receipt that fills
 * 100,000 lines hands over one run, not 100,000 ids), and a background worker connected
 * to that database, "backorder notifier", sends them: one NOTIFY per event, as before,
 * on channel backorder_events with the event_id as payload, but many events per
 * transaction of its own. Listeners hear an event only after the transaction that wrote it committed (the ids
 * are published in the commit callback, after the commit is visible) and never hear of a
 * rolled-back one.
 *
 * The worker starts on demand and exits after a second without work (so it never keeps a
 * DROP DATABASE waiting for long). When the library is not preloaded, when the ring is
 * full, when every ring serves another database or when no worker can be started, the
 * transaction sends its notifications itself, the ordinary way.
 *
 * A worker takes ids off its ring only after the transaction that sent them committed, so a
 * worker terminated (or failing) inside it leaves them to the next one: a listener may hear
 * an event twice, but does not miss one. Like every NOTIFY, delivery is not durable all the
 * same: notifications handed to the worker are lost if the server stops before it sent
 * them. The event rows are the record; a listener that reconnects reads backorder.event
 * from the last event_id it saw.
 */
#include "backorder.h"

#include <dlfcn.h>

#include "access/parallel.h"
#include "funcapi.h"
#include "access/xact.h"
#include "commands/async.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#define NOTIFY_DBS		8		/* databases served by workers at the same time */
#define NOTIFY_RING		16384	/* runs of event ids per database ring */
#define NOTIFY_BATCH	4096	/* event ids per worker transaction */
#define WORKER_IDLE_MS	1000	/* a worker without work exits after this long */
#define START_STALE_MS	10000	/* a registered worker that never attached is given up */
#define GATHER_US		1000	/* after a wake-up, let the commits of a moment gather */
#define SUCCEED_MS		1000	/* a worker that failed with work left: its successor's pause */
#define POLL_MS			2		/* a worker with recent work reads its ring this often */
#define NAP_AFTER_MS	100		/* and asks to be woken instead after this long without */
#define REGISTER_NAP_US	100		/* a commit waiting while a worker is registered naps this */
#define REGISTER_WAITS	1000	/* that many times at most, then notifies by itself */
#define REGISTER_STALE_MS 1000	/* a registration older is taken for abandoned (a FATAL) */

/* states of a ring position */
#define POS_EMPTY	0			/* free, or reserved and not yet published */
#define POS_READY	1			/* committed: to be notified */
#define POS_VOID	2			/* its transaction aborted: to be skipped */

typedef struct NotifyRing
{
	Oid			dboid;			/* the database served, InvalidOid: unused */
	pid_t		worker_pid;		/* the attached worker, 0: none */
	bool		starting;		/* a worker was registered and has not attached yet */
	bool		registering;	/* a backend is registering one: whether it can is not known */
	TimestampTz start_requested;
	Latch	   *latch;			/* the attached worker's latch */
	uint64		head;			/* next position to reserve */
	uint64		tail;			/* next position the worker reads */
	int64		first[NOTIFY_RING]; /* a run of ids: first, first + 1, ... */
	int32		count[NOTIFY_RING];
	uint8		state[NOTIFY_RING];
} NotifyRing;

typedef struct NotifyShared
{
	slock_t		mutex;			/* guards every field of the rings but first/count/state */
	NotifyRing	rings[NOTIFY_DBS];
} NotifyShared;

static NotifyShared *shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* this transaction's ids, as runs of consecutive ids written by one subtransaction */
typedef struct PendingRun
{
	int64		first;
	int32		count;
	SubTransactionId subid;
} PendingRun;

static PendingRun *pending = NULL;
static int	npending = 0;
static bool handed_over = false;	/* notify_precommit ran in this transaction */
static int	maxpending = 0;

/* the positions reserved at pre-commit, published at commit */
static NotifyRing *reserved_ring = NULL;
static uint64 reserved_start = 0;
static int	reserved_n = 0;

PGDLLEXPORT void bo_notifier_main(Datum arg);
static void reservation_end(bool committed);

static void
notify_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(NotifyShared)));
}

static void
notify_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("backorder notifier", sizeof(NotifyShared), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(NotifyShared));
		SpinLockInit(&shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Called by _PG_init: set up the shared memory when preloaded. */
void
notify_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = notify_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = notify_shmem_startup;
}

/* NOTIFY backorder_events with an event id as payload, in the current transaction. */
static void
send_notify(int64 id)
{
	char		payload[32];

	snprintf(payload, sizeof(payload), INT64_FORMAT, id);
	Async_Notify("backorder_events", payload);
}

/*
 * Notify event id at commit: through the worker when it can, else directly. Once the
 * transaction has handed its ids over (notify_precommit), a later one (written by another
 * pre-commit callback) is notified directly: PostgreSQL's own NOTIFY pre-commit comes after
 * every callback.
 */
void
notify_event(int64 id)
{
	if (shared != NULL && OidIsValid(MyDatabaseId) && !IsParallelWorker() && !handed_over)
	{
		SubTransactionId subid = GetCurrentSubTransactionId();
		PendingRun *last = npending > 0 ? &pending[npending - 1] : NULL;

		if (last && last->subid == subid && last->first + last->count == id &&
			last->count < PG_INT32_MAX)
		{
			last->count++;
			return;
		}
		pending = bo_grow(pending, npending, &maxpending, sizeof(PendingRun),
						  TopTransactionContext);
		pending[npending].first = id;
		pending[npending].count = 1;
		pending[npending].subid = subid;
		npending++;
		return;
	}
	send_notify(id);
}

/* Drop the ids of a rolled-back subtransaction (or its children). */
void
notify_subxact_abort(SubTransactionId subid)
{
	int			i,
				kept = 0;

	for (i = 0; i < npending; i++)
		if (pending[i].subid < subid)
			pending[kept++] = pending[i];
	npending = kept;
}

/* The transaction notifies its pending ids itself (still before its commit). */
static void
notify_directly(void)
{
	int			i,
				k;

	for (i = 0; i < npending; i++)
		for (k = 0; k < pending[i].count; k++)
			send_notify(pending[i].first + k);
	npending = 0;
}

/* what a worker is told at its start (bgw_extra) */
typedef struct WorkerStart
{
	Oid			dboid;			/* the database to serve */
	bool		pause;			/* wait SUCCEED_MS first: the last worker failed */
} WorkerStart;

/* Register a worker for ring r of database dboid; false when none can be started. */
static bool
start_worker(int r, Oid dboid, bool pause)
{
	WorkerStart ws;
	BackgroundWorker w;

	Dl_info		self;

	memset(&w, 0, sizeof(w));
	memset(&ws, 0, sizeof(ws));
	ws.dboid = dboid;
	ws.pause = pause;
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	/* the file this code was loaded from (a staged copy, say), not whatever $libdir holds */
	if (dladdr((void *) bo_notifier_main, &self) && self.dli_fname &&
		strlen(self.dli_fname) < BGW_MAXLEN)
		strlcpy(w.bgw_library_name, self.dli_fname, BGW_MAXLEN);
	else
		snprintf(w.bgw_library_name, BGW_MAXLEN, "backorder");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "bo_notifier_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "backorder notifier for database %u", dboid);
	snprintf(w.bgw_type, BGW_MAXLEN, "backorder notifier");
	w.bgw_main_arg = Int32GetDatum(r);
	StaticAssertStmt(sizeof(WorkerStart) <= BGW_EXTRALEN, "WorkerStart too large");
	memcpy(w.bgw_extra, &ws, sizeof(ws));
	w.bgw_notify_pid = 0;
	return RegisterDynamicBackgroundWorker(&w, NULL);
}

/*
 * A worker was registered for ring c and has not attached yet (a registration older than
 * START_STALE_MS is taken for failed: its worker, if it ever comes, finds the ring given
 * away or taken and leaves). Called with the mutex held.
 */
static bool
ring_starting(const NotifyRing *c, TimestampTz now)
{
	return c->starting && !TimestampDifferenceExceeds(c->start_requested, now, START_STALE_MS);
}

/*
 * A backend is registering a worker for ring c (a registration older than
 * REGISTER_STALE_MS is taken for abandoned). Called with the mutex held.
 */
static bool
ring_registering(const NotifyRing *c, TimestampTz now)
{
	return c->registering &&
		!TimestampDifferenceExceeds(c->start_requested, now, REGISTER_STALE_MS);
}

/*
 * The registration of a worker for ring ended: ok, or the ring is not starting. On failure
 * the n positions from start that the registering commit reserved are given back in the
 * same step, when nobody reserved after them: committing backends wait while a worker
 * registers, and one that saw the registration end before the positions were given back
 * could reserve after them, which would strand them on a ring no worker reads. True when
 * they were given back.
 */
static bool
registered(NotifyRing *ring, bool ok, uint64 start, int n)
{
	bool		undone = false;

	SpinLockAcquire(&shared->mutex);
	ring->registering = false;
	if (!ok)
	{
		ring->starting = false;
		if (n > 0 && ring->head == start + n)
		{
			ring->head = start;
			undone = true;
		}
	}
	SpinLockRelease(&shared->mutex);
	return undone;
}

/*
 * Register a worker for ring r, whose starting and registering the caller set (with the
 * mutex held). While it registers, committing backends wait to reserve on the ring (see
 * notify_precommit): one that reserved meanwhile, counting on a worker that then could not
 * be registered, would leave its ids to the next notifying commit, where it should have
 * notified them itself. True when registered; on failure the ring is not starting, and the
 * caller's n reserved positions from start are given back if they can be (*undone, when
 * undone is not NULL).
 */
static bool
register_worker(NotifyRing *ring, int r, Oid dboid, bool pause, uint64 start, int n,
				bool *undone)
{
	bool		ok = false;
	bool		gave_back;

	PG_TRY();
	{
		ok = start_worker(r, dboid, pause);
	}
	PG_CATCH();
	{
		/* (the transaction aborts, and its abort voids what it reserved) */
		(void) registered(ring, false, 0, 0);
		PG_RE_THROW();
	}
	PG_END_TRY();
	gave_back = registered(ring, ok, start, n);
	if (undone)
		*undone = gave_back;
	return ok;
}

/*
 * Free the rings that still hold ids of a database that no longer exists (its worker was
 * terminated by DROP DATABASE ... WITH (FORCE) before it sent them, and its successor
 * could not connect): nothing would ever free them. True when one was freed. Called
 * without the mutex, inside a transaction (it looks the databases up).
 */
static bool
reclaim_stranded(TimestampTz now)
{
	Oid			dbs[NOTIFY_DBS];
	bool		freed = false;
	int			r;

	SpinLockAcquire(&shared->mutex);
	for (r = 0; r < NOTIFY_DBS; r++)
	{
		NotifyRing *c = &shared->rings[r];

		dbs[r] = c->worker_pid == 0 && !ring_starting(c, now) && c->head != c->tail ?
			c->dboid : InvalidOid;
	}
	SpinLockRelease(&shared->mutex);
	for (r = 0; r < NOTIFY_DBS; r++)
	{
		NotifyRing *c = &shared->rings[r];

		if (!OidIsValid(dbs[r]) || dbs[r] == MyDatabaseId ||
			SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(dbs[r])))
			continue;
		SpinLockAcquire(&shared->mutex);
		if (c->dboid == dbs[r] && c->worker_pid == 0 && !ring_starting(c, now))
		{
			memset(c->state, POS_EMPTY, sizeof(c->state));
			c->dboid = InvalidOid;
			c->head = c->tail = 0;
			freed = true;
		}
		SpinLockRelease(&shared->mutex);
	}
	return freed;
}

/*
 * Pre-commit: reserve room for the pending ids in this database's ring (taking a free
 * ring when the database has none) and make sure a worker will read it; or, when that is
 * not possible, notify directly.
 */
void
notify_precommit(void)
{
	NotifyRing *ring = NULL;
	int			r,
				free_r = -1;
	bool		need_start = false;
	bool		undone = false;
	bool		reclaimed = false;
	int			waits = 0;
	TimestampTz now = GetCurrentTimestamp();
	uint64		start = 0;
	bool		room;
	int			i;

	handed_over = true;
	if (npending == 0)
		return;
	/* (a single-user backend has no postmaster to start a worker) */
	if (shared == NULL || !IsUnderPostmaster || npending > NOTIFY_RING)
	{
		notify_directly();
		return;
	}
retry:
	ring = NULL;
	free_r = -1;
	SpinLockAcquire(&shared->mutex);
	for (r = 0; r < NOTIFY_DBS; r++)
	{
		NotifyRing *c = &shared->rings[r];

		if (c->dboid == MyDatabaseId)
		{
			ring = c;
			break;
		}
		if (free_r < 0 && (c->dboid == InvalidOid ||
						   (c->worker_pid == 0 && !ring_starting(c, now) && c->head == c->tail)))
			free_r = r;
	}
	if (ring == NULL && free_r < 0 && !reclaimed)
	{
		SpinLockRelease(&shared->mutex);
		reclaimed = true;
		/* (a catalog look-up: an error here fails the commit before anything is reserved) */
		if (reclaim_stranded(now))
			goto retry;
		SpinLockAcquire(&shared->mutex);
	}
	if (ring == NULL && free_r >= 0)
	{
		r = free_r;
		ring = &shared->rings[r];
		ring->dboid = MyDatabaseId;
		ring->head = ring->tail = 0;
		ring->worker_pid = 0;
		ring->starting = false;
		ring->registering = false;
		ring->latch = NULL;
	}
	if (ring != NULL && ring_registering(ring, now))
	{
		/* whether a worker will come is being decided: wait, at most REGISTER_WAITS naps */
		SpinLockRelease(&shared->mutex);
		if (++waits > REGISTER_WAITS)
		{
			notify_directly();
			return;
		}
		pg_usleep(REGISTER_NAP_US);
		now = GetCurrentTimestamp();
		goto retry;
	}
	if (ring != NULL && ring->worker_pid == 0 && !ring_starting(ring, now))
	{
		/* whether or not there is room for these ids: what the ring holds needs a reader */
		ring->starting = true;
		ring->registering = true;
		ring->start_requested = now;
		need_start = true;
	}
	room = ring != NULL && ring->head - ring->tail + npending <= NOTIFY_RING;
	if (room)
	{
		start = ring->head;
		ring->head += npending;
	}
	SpinLockRelease(&shared->mutex);

	if (room)
	{
		for (i = 0; i < npending; i++)
		{
			ring->first[(start + i) % NOTIFY_RING] = pending[i].first;
			ring->count[(start + i) % NOTIFY_RING] = pending[i].count;
		}
		reserved_ring = ring;
		reserved_start = start;
		reserved_n = npending;
	}
	if (need_start &&
		!register_worker(ring, r, MyDatabaseId, false, start, room ? npending : 0, &undone))
	{
		/*
		 * No worker: these ids go directly, and the positions they reserved were given back
		 * (registered) when nobody reserved after them (else they are voided, for a later
		 * worker to skip), so that the ring does not fill with void positions while no
		 * worker can start. (Positions reserved before this transaction's are those of
		 * commits that found a worker attached or registered: no commit reserves while one
		 * registers.)
		 */
		if (undone)
		{
			reserved_ring = NULL;
			reserved_n = 0;
		}
		else if (room)
			reservation_end(false);
		room = false;
	}
	if (!room)
		notify_directly();		/* no ring, a full one, or no worker for it */
	npending = 0;
}

/* Publish the reserved ids (committed) or void them (aborted), and wake the worker. */
static void
reservation_end(bool committed)
{
	NotifyRing *ring = reserved_ring;
	Latch	   *latch;
	int			i;

	if (ring == NULL)
		return;
	pg_write_barrier();
	for (i = 0; i < reserved_n; i++)
		ring->state[(reserved_start + i) % NOTIFY_RING] = committed ? POS_READY : POS_VOID;
	reserved_ring = NULL;
	reserved_n = 0;
	SpinLockAcquire(&shared->mutex);
	latch = ring->latch;
	SpinLockRelease(&shared->mutex);
	if (latch)
		SetLatch(latch);
}

/* The transaction ended (committed or not). */
void
notify_end(bool committed)
{
	pending = NULL;				/* it lived in TopTransactionContext */
	npending = maxpending = 0;
	handed_over = false;
	reservation_end(committed);
}

/*
 * PREPARE TRANSACTION of a transaction with events to notify: PostgreSQL refuses to prepare
 * a transaction that sent a NOTIFY, and a prepared transaction's commit runs no code of
 * ours that could send them later. Refused here, saying why and what to do, rather than by
 * PostgreSQL's own error about a NOTIFY the client never ran.
 */
void
notify_preprepare(void)
{
	if (npending > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot PREPARE a transaction with backorder events to notify"),
				 errdetail("PostgreSQL cannot prepare a transaction that sends NOTIFY, and backorder.notify was on when the events were written."),
				 errhint("Set backorder.notify = off for the role whose transactions are prepared (ALTER ROLE ... SET backorder.notify = off); its events are still written to backorder.event.")));
}

/* the worker is connected to its database */
static bool notifier_connected = false;
/* the worker was told to leave (SIGTERM: a shutdown, pg_terminate_backend, DROP DATABASE) */
static volatile sig_atomic_t notifier_terminated = false;

static void
notifier_sigterm(SIGNAL_ARGS)
{
	notifier_terminated = true;
	die(postgres_signal_arg);
}

/*
 * Worker exit: detach from the ring. A worker that fails inside its transaction, leaving
 * ids behind, registers its successor, which sends them after a pause of SUCCEED_MS (so
 * that a lasting failure costs one attempt a second); when no worker slot is free for it,
 * the ids wait for the database's next notifying commit, which starts a worker. A worker
 * told to leave (SIGTERM) before it got here leaves them to that commit too: a shutdown
 * or a DROP DATABASE need no successor (one registered all the same, by a SIGTERM coming
 * while the worker was already leaving, is harmless: it is not started at a shutdown, and
 * for a dropped database it pauses unconnected, then fails to connect). Nor does a worker
 * that never connected (its database is gone, say: reclaim_stranded frees the ring).
 */
static void
notifier_detach(int code, Datum arg)
{
	int			r = DatumGetInt32(arg);
	NotifyRing *ring = &shared->rings[r];
	Oid			dboid = InvalidOid;
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&shared->mutex);
	if (ring->worker_pid == MyProcPid)
	{
		ring->worker_pid = 0;
		ring->latch = NULL;
		if (notifier_connected && !notifier_terminated && ring->head != ring->tail &&
			!ring_starting(ring, now))
		{
			ring->starting = true;
			ring->registering = true;
			ring->start_requested = now;
			dboid = ring->dboid;
		}
	}
	SpinLockRelease(&shared->mutex);
	if (OidIsValid(dboid))
		(void) register_worker(ring, r, dboid, true, 0, 0, NULL);
}

/* How far a worker read its ring: what ring_release gives up once the ids are sent. */
typedef struct RingRead
{
	uint64		tail;			/* the tail when read */
	uint64		end;			/* positions tail .. end - 1 were read whole */
	int32		part;			/* and this many ids of the run at end */
} RingRead;

/*
 * Read up to max published ids from the ring's tail (voided runs are skipped), without
 * taking them off: returns how many, and in *rd how far it read. Stops at the first
 * position not yet published; a run longer than the room left is read in part.
 */
static int
ring_read(NotifyRing *ring, int64 *ids, int max, RingRead *rd)
{
	uint64		pos,
				head;
	int			n = 0;

	SpinLockAcquire(&shared->mutex);
	rd->tail = ring->tail;
	head = ring->head;
	SpinLockRelease(&shared->mutex);
	rd->part = 0;
	for (pos = rd->tail; pos < head && n < max; pos++)
	{
		int			i = pos % NOTIFY_RING;
		uint8		st = ring->state[i];

		if (st == POS_EMPTY)
			break;
		pg_read_barrier();
		if (st == POS_READY)
		{
			int64		first = ring->first[i];
			int32		count = ring->count[i];
			int			take = Min(count, max - n);
			int			k;

			for (k = 0; k < take; k++)
				ids[n++] = first + k;
			if (take < count)
			{
				rd->part = take;
				break;
			}
		}
	}
	rd->end = pos;
	return n;
}

/*
 * The ids read (rd) were sent, and the transaction that sent them committed: take them
 * off the ring. Only the worker changes published positions, and it reads again only
 * after this; a worker that leaves before this (terminated inside its transaction, say)
 * leaves them on the ring for the next one, so nothing is lost, and at worst sent twice.
 */
static void
ring_release(NotifyRing *ring, const RingRead *rd)
{
	uint64		pos;

	for (pos = rd->tail; pos < rd->end; pos++)
		ring->state[pos % NOTIFY_RING] = POS_EMPTY;
	if (rd->part > 0)
	{
		ring->first[rd->end % NOTIFY_RING] += rd->part;
		ring->count[rd->end % NOTIFY_RING] -= rd->part;
	}
	SpinLockAcquire(&shared->mutex);
	ring->tail = rd->end;
	SpinLockRelease(&shared->mutex);
}

/* Ask committing transactions to wake this worker (its latch in the ring), or not. */
static void
ring_set_latch(NotifyRing *ring, Latch *latch)
{
	SpinLockAcquire(&shared->mutex);
	ring->latch = latch;
	SpinLockRelease(&shared->mutex);
}

/* The worker: send what the ring holds, in transactions of up to NOTIFY_BATCH events. */
void
bo_notifier_main(Datum arg)
{
	int			r = DatumGetInt32(arg);
	NotifyRing *ring;
	Oid			dboid;
	WorkerStart ws;
	int64	   *ids;
	TimestampTz idle_since;
	bool		napping = false;	/* its latch is in the ring */

	memcpy(&ws, MyBgworkerEntry->bgw_extra, sizeof(ws));
	dboid = ws.dboid;
	/*
	 * SIGTERM (a shutdown, pg_terminate_backend) is noted and handled at the next
	 * CHECK_FOR_INTERRUPTS, as in a backend. The default handler of background workers
	 * raises FATAL inside the signal handler, wherever the worker is: inside its commit
	 * that is a PANIC ("cannot abort transaction ..., it was already committed").
	 */
	pqsignal(SIGTERM, notifier_sigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	if (shared == NULL)
		elog(ERROR, "backorder notifier: shared memory is not set up");
	ring = &shared->rings[r];
	if (ws.pause)
	{
		/* the last worker failed with work left: let a moment pass (see notifier_detach) */
		TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), SUCCEED_MS);
		long		left;

		while ((left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until)) > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 left, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			if (ProcDiePending)
			{
				/* terminated before it took the ring: the next notifying commit starts one */
				SpinLockAcquire(&shared->mutex);
				if (ring->dboid == dboid && ring->worker_pid == 0)
					ring->starting = false;
				SpinLockRelease(&shared->mutex);
				CHECK_FOR_INTERRUPTS();
			}
		}
	}

	SpinLockAcquire(&shared->mutex);
	if (ring->dboid != dboid || ring->worker_pid != 0)
	{
		SpinLockRelease(&shared->mutex);
		proc_exit(0);			/* the ring was given to another database or worker */
	}
	ring->worker_pid = MyProcPid;
	ring->latch = NULL;			/* it starts with work: reading, not waiting to be woken */
	ring->starting = false;
	SpinLockRelease(&shared->mutex);
	before_shmem_exit(notifier_detach, Int32GetDatum(r));

	/* sessions still connected to a database closed to new connections order too */
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, BGWORKER_BYPASS_ALLOWCONN);
	notifier_connected = true;
	pgstat_report_appname("backorder notifier");
	ids = MemoryContextAlloc(TopMemoryContext, sizeof(int64) * NOTIFY_BATCH);
	idle_since = GetCurrentTimestamp();

	/*
	 * Waking a process costs the waker a signal (kill), which was as much as a tenth of a
	 * single order's time. So while work comes, the worker is not woken: it reads its ring
	 * every POLL_MS on its own. Only after NAP_AFTER_MS without work does it put its latch
	 * in the ring, for the next committing transaction to set; then, woken, it lets a
	 * millisecond pass, so that the commits of that moment share one transaction of its
	 * own, and goes back to reading on its own.
	 */
	for (;;)
	{
		int			n;
		RingRead	rd;
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		n = ring_read(ring, ids, NOTIFY_BATCH, &rd);
		if (n > 0 || rd.end > rd.tail)
		{
			int			i;

			if (napping)
			{
				ring_set_latch(ring, NULL);
				napping = false;
			}
			if (n > 0)
			{
				SetCurrentStatementStartTimestamp();
				StartTransactionCommand();
				for (i = 0; i < n; i++)
					send_notify(ids[i]);
				CommitTransactionCommand();
			}
			ring_release(ring, &rd);
			if (n > 0)
				pgstat_report_stat(false);	/* outside its transaction, after the release */
			idle_since = GetCurrentTimestamp();
			continue;
		}
		now = GetCurrentTimestamp();
		if (!napping && TimestampDifferenceExceeds(idle_since, now, NAP_AFTER_MS))
		{
			/* from now on committing transactions wake it: read once more, then wait */
			ring_set_latch(ring, MyLatch);
			napping = true;
			continue;
		}
		if (TimestampDifferenceExceeds(idle_since, now, WORKER_IDLE_MS))
		{
			bool		done;

			SpinLockAcquire(&shared->mutex);
			done = ring->head == ring->tail;
			if (done)
			{
				ring->worker_pid = 0;
				ring->latch = NULL;
			}
			SpinLockRelease(&shared->mutex);
			if (done)
				proc_exit(0);
		}
		if (WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					  napping ? WORKER_IDLE_MS / 4 : POLL_MS, PG_WAIT_EXTENSION) & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			if (napping)
				pg_usleep(GATHER_US);
		}
	}
}

/*
 * backorder.notifier_rings(): the rings of the notifier, one row per ring in use (a
 * database's, or left by a dropped one): its database, its worker (NULL: none), whether a
 * worker is being started, and how many runs of event ids wait on it.
 */
PG_FUNCTION_INFO_V1(bo_notifier_rings);
Datum
bo_notifier_rings(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	struct
	{
		Oid			dboid;
		pid_t		worker_pid;
		bool		starting;
		uint64		head;
		uint64		tail;
	}			copy[NOTIFY_DBS];
	TimestampTz now = GetCurrentTimestamp();
	int			r;

	InitMaterializedSRF(fcinfo, 0);
	if (shared == NULL)
		return (Datum) 0;
	SpinLockAcquire(&shared->mutex);
	for (r = 0; r < NOTIFY_DBS; r++)
	{
		copy[r].dboid = shared->rings[r].dboid;
		copy[r].worker_pid = shared->rings[r].worker_pid;
		copy[r].starting = ring_starting(&shared->rings[r], now);
		copy[r].head = shared->rings[r].head;
		copy[r].tail = shared->rings[r].tail;
	}
	SpinLockRelease(&shared->mutex);
	for (r = 0; r < NOTIFY_DBS; r++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		if (!OidIsValid(copy[r].dboid))
			continue;
		values[0] = Int32GetDatum(r + 1);
		values[1] = ObjectIdGetDatum(copy[r].dboid);
		values[2] = Int32GetDatum(copy[r].worker_pid);
		nulls[2] = copy[r].worker_pid == 0;
		values[3] = BoolGetDatum(copy[r].starting);
		values[4] = Int64GetDatum((int64) (copy[r].head - copy[r].tail));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
