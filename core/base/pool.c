/*
 * pool.c - worker threads that take items from a list of open batches.
 * A batch lives on its caller's stack; it is linked into the pool while it
 * has items nobody has taken yet, and its caller waits (after working on it
 * too) until the last taken item has returned.  There is no work stealing
 * across processes and no priority: batches are served in arrival order.
 */
#include "pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct batch {
	pool_fn fn;
	void *payload;
	size_t n;
	size_t next; /* the next index nobody has taken */
	size_t done; /* items that have returned */
	pthread_cond_t finished;
	struct batch *link; /* open batches, oldest first */
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t work; /* a batch was opened, or stop */
	struct batch *head, *tail;
	bool stop;
	unsigned nthreads;
	pthread_t threads[POOL_MAX_THREADS];
};

/* Unlinks b once every item has been taken; called with the lock held. */
static void
batch_close_if_taken(struct pool *p, struct batch *b)
{
	struct batch **pp;

	if (b->next < b->n)
		return;
	for (pp = &p->head; *pp; pp = &(*pp)->link) {
		if (*pp != b)
			continue;
		*pp = b->link;
		if (p->tail == b) {
			p->tail = NULL;
			for (struct batch *q = p->head; q; q = q->link)
				p->tail = q;
		}
		b->link = NULL;
		return;
	}
}

/* Takes one item of b and runs it; called and returns with the lock held. */
static void
batch_run_one(struct pool *p, struct batch *b)
{
	size_t i = b->next++;

	batch_close_if_taken(p, b);
	pthread_mutex_unlock(&p->lock);
	b->fn(i, b->payload);
	pthread_mutex_lock(&p->lock);
	if (++b->done == b->n)
		pthread_cond_signal(&b->finished);
}

static void *
worker(void *arg)
{
	struct pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && p->head == NULL)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop)
			break;
		batch_run_one(p, p->head);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int
pool_new(struct pool **out, unsigned nthreads, struct err *err)
{
	struct pool *p;

	*out = NULL;
	if (nthreads > POOL_MAX_THREADS)
		nthreads = POOL_MAX_THREADS;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	for (unsigned i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
			pool_free(p);
			return err_set(err, ERR_NOMEM,
			               "cannot start worker thread %u of %u",
			               i + 1, nthreads);
		}
		p->nthreads++;
	}
	*out = p;
	return 0;
}

void
pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void
pool_run(struct pool *p, size_t n, pool_fn fn, void *payload)
{
	struct batch b = {
		fn, payload, n, 0, 0, PTHREAD_COND_INITIALIZER, NULL
	};

	if (n == 0)
		return;
	if (p == NULL || p->nthreads == 0 || n == 1) {
		for (size_t i = 0; i < n; i++)
			fn(i, payload);
		return;
	}
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->link = &b;
	else
		p->head = &b;
	p->tail = &b;
	pthread_cond_broadcast(&p->work);
	while (b.next < b.n)
		batch_run_one(p, &b);
	while (b.done < b.n)
		pthread_cond_wait(&b.finished, &p->lock);
	pthread_mutex_unlock(&p->lock);
	pthread_cond_destroy(&b.finished);
}

unsigned
pool_size(const struct pool *p)
{
	return p ? p->nthreads : 0;
}
