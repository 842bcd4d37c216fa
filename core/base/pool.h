/*
 * pool.h - a bounded pool of worker threads for fan-out inside one call.
 *
 * pool_run() runs fn(i, payload) for every i in [0, n) and returns when all
 * of them have returned.  The items run on the pool's threads and on the
 * calling thread, which works on its own batch instead of waiting idle; so
 * a call made from a pool thread (a stage that fans out its file writes)
 * never deadlocks, however busy the pool is, and a pool of 0 threads (or a
 * NULL pool) simply runs the batch in the caller.
 *
 * The pool bounds the number of threads a process starts: the daemon makes
 * one at start and hands it to every stage, instead of each call starting
 * threads of its own.
 *
 * Ownership: the caller owns the pool (pool_free); batches borrow fn's
 * payload for the call.
 * Thread safety: pool_run() may be called from any thread, concurrently,
 * including from inside an item; pool_free() only when no call is running.
 */
#ifndef FERRY_BASE_POOL_H
#define FERRY_BASE_POOL_H

#include <stddef.h>

#include "err.h"

#define POOL_MAX_THREADS 64

struct pool;

typedef void (*pool_fn)(size_t i, void *payload);

/*
 * Starts nthreads worker threads (at most POOL_MAX_THREADS; 0 makes a pool
 * that runs everything in the caller).  -ERR_NOMEM when a thread cannot be
 * started.
 */
int pool_new(struct pool **out, unsigned nthreads, struct err *err);

/* Stops the threads and frees; NULL is a no-op. */
void pool_free(struct pool *p);

/* Runs fn(i, payload) for i in [0, n); p may be NULL (all in the caller). */
void pool_run(struct pool *p, size_t n, pool_fn fn, void *payload);

/* The number of worker threads (0 for NULL). */
unsigned pool_size(const struct pool *p);

#endif
