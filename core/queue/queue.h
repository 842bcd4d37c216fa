/*
 * queue.h - the daemon's work queue: one entry per object, each with the
 * time it is next due, served earliest first to a few worker threads.
 *
 * Polling, webhooks, dependencies and the control CLI all ask for work the
 * same way, queue_add(): "run this object within delay_ms".  What makes the
 * queue the one way work happens:
 *   - an object is never run by two workers at once: while it runs, a new
 *     request is remembered and served after it (at most one more run,
 *     however many requests came in);
 *   - requests for a queued object collapse into one, at the earliest of
 *     their due times (reasons are or'ed, hints are kept);
 *   - after a run, queue_done() says when the object is next due (its
 *     interval, or a retry after a failure), unless a request asked for an
 *     earlier time.
 *
 * Waiting for a result (`ferry reconcile` waits for the run it asked for):
 * queue_add() hands back a ticket, the number of the run that will serve
 * the request; queue_wait() blocks until that run has finished.
 *
 * Hints ride along with a request: a webhook's "tag X was pushed" for an
 * ImageRepository, so its worker can confirm that one tag before listing
 * all of them.  A run receives every hint given since the last run.
 *
 * Ownership: the queue owns its entries; an item taken with queue_take()
 * is the worker's until queue_done(), which frees it.
 * Thread safety: every function may be called from any thread.
 */
#ifndef FERRY_CORE_QUEUE_H
#define FERRY_CORE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define QUEUE_MAX_HINTS 64 /* hints kept per object; older ones are dropped */

/* Why an object was asked for (or'ed together while it waits). */
enum queue_reason {
	QUEUE_INTERVAL = 1 << 0,   /* its interval came round */
	QUEUE_DEPENDENCY = 1 << 1, /* an input changed (tags, latestRef) */
	QUEUE_WEBHOOK = 1 << 2,    /* a receiver was called */
	QUEUE_MANUAL = 1 << 3,     /* ferry reconcile */
	QUEUE_RELOAD = 1 << 4,     /* the configuration was (re)loaded */
	QUEUE_RETRY = 1 << 5,      /* a failed run's backoff passed */
};

struct queue;

/* What a worker runs: borrowed from the queue until queue_done(). */
struct queue_item {
	int kind; /* the caller's kind number (enum config_kind) */
	const char *namespace_;
	const char *name;
	unsigned reasons; /* enum queue_reason bits since the last run */
	char **hints;     /* hints since the last run, oldest first */
	size_t nhints;
	uint64_t run;      /* this run's number for the object (1, 2, ...) */
	int64_t waited_ms; /* from due time to taken */
	/* Kept by the queue for the worker from one run to the next: */
	int failures; /* consecutive failed runs (for backoff) */
	int attempt;  /* push attempts in a row that lost a race */
};

int queue_new(struct queue **out, struct err *err);

/* Frees the queue; no worker may be inside a call. NULL is a no-op. */
void queue_free(struct queue *q);

/*
 * Asks for kind/ns/name to run within delay_ms (0: now).  hint (may be
 * NULL) is kept for that run.  *ticket_out (may be NULL) gets the number
 * of the run that will serve this request, for queue_wait().
 * -ERR_NOMEM; -ERR_CONFLICT after queue_shutdown().
 */
int queue_add(struct queue *q, int kind, const char *ns, const char *name,
              int64_t delay_ms, unsigned reason, const char *hint,
              uint64_t *ticket_out);

/*
 * Blocks until an object is due and not running, and hands it to the
 * caller.  Returns 0, or -ERR_CONFLICT once the queue is shut down.
 */
int queue_take(struct queue *q, struct queue_item **out);

/*
 * The worker finished item.  next_ms >= 0: the object is next due in
 * next_ms, for next_reason (QUEUE_INTERVAL or QUEUE_RETRY), unless a
 * request during the run asked for sooner; next_ms < 0: only when asked
 * for.  Wakes the waiters of this run.
 */
void queue_done(struct queue *q, struct queue_item *item, int64_t next_ms,
                unsigned next_reason);

/*
 * Waits until run `ticket` of kind/ns/name has finished, at most
 * timeout_ms.  0 when it has, -ERR_TRANSIENT on timeout, -ERR_NOTFOUND
 * when the object was removed, -ERR_CONFLICT when the queue shut down.
 */
int queue_wait(struct queue *q, int kind, const char *ns, const char *name,
               uint64_t ticket, int64_t timeout_ms);

/* Forgets an object (removed from the configuration); a run in progress
 * finishes and is not scheduled again. */
void queue_remove(struct queue *q, int kind, const char *ns, const char *name);

/* When kind/ns/name is next due, in ms from now (0: due or running),
 * -1 when it is not scheduled. */
int64_t queue_next_due(struct queue *q, int kind, const char *ns,
                       const char *name);

/* true while a worker runs kind/ns/name. */
bool queue_is_running(struct queue *q, int kind, const char *ns,
                      const char *name);

/* Objects due now that no worker has taken yet. */
size_t queue_depth(struct queue *q);

/* Objects running now. */
size_t queue_running(struct queue *q);

/*
 * Stops handing out work: queue_take() returns -ERR_CONFLICT to every
 * worker (a run in progress finishes), queue_add() is refused and waiters
 * return.
 */
void queue_shutdown(struct queue *q);

/* Milliseconds on the monotonic clock (the queue's time base). */
int64_t queue_now_ms(void);

#endif
