/*
 * queue.c - entries in a hash table by key, the queued ones also in a
 * binary min-heap by (due time, arrival), one mutex over both and two
 * condition variables: `work` for workers waiting for something due, and
 * `ran` for callers waiting for a run to finish.  Timers are the heap
 * itself: a worker sleeps until the earliest due time, so an object whose
 * interval is an hour costs nothing until then.
 */
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"

enum entry_state { ENTRY_IDLE, ENTRY_QUEUED, ENTRY_RUNNING };

struct entry {
	struct queue_item item; /* first: queue_done finds the entry */
	char *key;              /* "kind\x1fns\x1fname" */
	char *ns, *name;
	int kind;
	enum entry_state st;
	int64_t due;   /* ENTRY_QUEUED: when */
	uint64_t seq;  /* arrival order among equal due times */
	size_t heap_i; /* ENTRY_QUEUED: position in the heap */
	bool again;    /* asked for while running */
	int64_t again_due;
	bool removed;
	unsigned reasons; /* for the next run */
	char **hints;
	size_t nhints;
	uint64_t started, finished; /* runs */
	int failures, attempt;      /* the worker's, between runs */
	struct entry *next;         /* hash chain */
};

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t work, ran;
	struct entry **table;
	size_t cap, n;
	struct entry **heap;
	size_t nheap, capheap;
	uint64_t seq;
	size_t running;
	bool shutdown;
};

int64_t
queue_now_ms(void)
{
	return mono_ms();
}

/* ---- heap ---- */

static bool
before(const struct entry *a, const struct entry *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void
heap_set(struct queue *q, size_t i, struct entry *e)
{
	q->heap[i] = e;
	e->heap_i = i;
}

static void
heap_up(struct queue *q, size_t i)
{
	struct entry *e = q->heap[i];

	while (i > 0 && before(e, q->heap[(i - 1) / 2])) {
		heap_set(q, i, q->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(q, i, e);
}

static void
heap_down(struct queue *q, size_t i)
{
	struct entry *e = q->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= q->nheap)
			break;
		if (c + 1 < q->nheap && before(q->heap[c + 1], q->heap[c]))
			c++;
		if (!before(q->heap[c], e))
			break;
		heap_set(q, i, q->heap[c]);
		i = c;
	}
	heap_set(q, i, e);
}

static int
heap_push(struct queue *q, struct entry *e)
{
	if (q->nheap == q->capheap) {
		size_t cap = q->capheap ? q->capheap * 2 : 64;
		struct entry **h = realloc(q->heap, cap * sizeof(*h));
		if (h == NULL)
			return -ERR_NOMEM;
		q->heap = h;
		q->capheap = cap;
	}
	heap_set(q, q->nheap++, e);
	heap_up(q, q->nheap - 1);
	return 0;
}

static void
heap_delete(struct queue *q, struct entry *e)
{
	size_t i = e->heap_i;
	struct entry *last = q->heap[--q->nheap];

	if (last == e)
		return;
	heap_set(q, i, last);
	heap_up(q, i);
	heap_down(q, last->heap_i);
}

/* ---- table ---- */

static size_t
hash(const char *k)
{
	size_t h = 14695981039346656037ULL;

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	return h;
}

static char *
make_key(int kind, const char *ns, const char *name)
{
	size_t n = strlen(ns) + strlen(name) + 16;
	char *k = malloc(n);

	if (k)
		snprintf(k, n, "%d\x1f%s\x1f%s", kind, ns, name);
	return k;
}

static struct entry *
find(struct queue *q, int kind, const char *ns, const char *name)
{
	char *k = make_key(kind, ns, name);
	struct entry *e = NULL;

	if (k == NULL || q->cap == 0)
		goto out;
	for (e = q->table[hash(k) & (q->cap - 1)]; e; e = e->next)
		if (strcmp(e->key, k) == 0)
			break;
out:
	free(k);
	return e;
}

static int
table_grow(struct queue *q)
{
	size_t cap = q->cap ? q->cap * 2 : 64;
	struct entry **t = calloc(cap, sizeof(*t));

	if (t == NULL)
		return -ERR_NOMEM;
	for (size_t i = 0; i < q->cap; i++) {
		struct entry *e = q->table[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = t[hash(e->key) & (cap - 1)];
			t[hash(e->key) & (cap - 1)] = e;
		}
	}
	free(q->table);
	q->table = t;
	q->cap = cap;
	return 0;
}

static void
hints_free(char **hints, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(hints[i]);
	free(hints);
}

static void
entry_free(struct entry *e)
{
	hints_free(e->hints, e->nhints);
	free(e->key);
	free(e->ns);
	free(e->name);
	free(e);
}

static struct entry *
entry_get(struct queue *q, int kind, const char *ns, const char *name)
{
	struct entry *e = find(q, kind, ns, name);

	if (e)
		return e;
	if (q->n + 1 > q->cap && table_grow(q) < 0)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->kind = kind;
	e->key = make_key(kind, ns, name);
	e->ns = strdup(ns);
	e->name = strdup(name);
	if (e->key == NULL || e->ns == NULL || e->name == NULL) {
		entry_free(e);
		return NULL;
	}
	e->next = q->table[hash(e->key) & (q->cap - 1)];
	q->table[hash(e->key) & (q->cap - 1)] = e;
	q->n++;
	return e;
}

static void
entry_delete(struct queue *q, struct entry *e)
{
	struct entry **pp = &q->table[hash(e->key) & (q->cap - 1)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	q->n--;
	entry_free(e);
}

/* ---- the calls ---- */

int
queue_new(struct queue **out, struct err *err)
{
	struct queue *q = calloc(1, sizeof(*q));

	*out = NULL;
	if (q == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->ran, NULL);
	*out = q;
	return 0;
}

void
queue_free(struct queue *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->cap; i++) {
		struct entry *e = q->table[i], *next;
		for (; e; e = next) {
			next = e->next;
			entry_free(e);
		}
	}
	free(q->table);
	free(q->heap);
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->ran);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

static int
hint_add(struct entry *e, const char *hint)
{
	char *copy, **grown;

	if (hint == NULL)
		return 0;
	if (e->nhints == QUEUE_MAX_HINTS) {
		free(e->hints[0]);
		memmove(e->hints, e->hints + 1,
		        (e->nhints - 1) * sizeof(*e->hints));
		e->nhints--;
	}
	if ((copy = strdup(hint)) == NULL)
		return -ERR_NOMEM;
	grown = realloc(e->hints, (e->nhints + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(copy);
		return -ERR_NOMEM;
	}
	e->hints = grown;
	e->hints[e->nhints++] = copy;
	return 0;
}

/* Queues an idle entry for due; called with the lock held. */
static int
enqueue(struct queue *q, struct entry *e, int64_t due)
{
	e->st = ENTRY_QUEUED;
	e->due = due;
	e->seq = ++q->seq;
	if (heap_push(q, e) < 0) {
		e->st = ENTRY_IDLE;
		return -ERR_NOMEM;
	}
	pthread_cond_signal(&q->work);
	return 0;
}

int
queue_add(struct queue *q, int kind, const char *ns, const char *name,
          int64_t delay_ms, unsigned reason, const char *hint,
          uint64_t *ticket_out)
{
	int64_t due = queue_now_ms() + (delay_ms > 0 ? delay_ms : 0);
	struct entry *e;
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	if (q->shutdown) {
		rc = -ERR_CONFLICT;
		goto out;
	}
	if ((e = entry_get(q, kind, ns, name)) == NULL ||
	    hint_add(e, hint) < 0) {
		rc = -ERR_NOMEM;
		goto out;
	}
	e->removed = false;
	e->reasons |= reason;
	if (ticket_out)
		*ticket_out = e->started + 1;
	switch (e->st) {
	case ENTRY_IDLE:
		rc = enqueue(q, e, due);
		break;
	case ENTRY_QUEUED:
		if (due < e->due) {
			e->due = due;
			heap_up(q, e->heap_i);
			pthread_cond_signal(&q->work);
		}
		break;
	case ENTRY_RUNNING:
		if (!e->again || due < e->again_due)
			e->again_due = due;
		e->again = true;
		break;
	}
out:
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int
queue_take(struct queue *q, struct queue_item **out)
{
	struct entry *e;
	int64_t now;

	*out = NULL;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		if (q->shutdown) {
			pthread_mutex_unlock(&q->mu);
			return -ERR_CONFLICT;
		}
		now = queue_now_ms();
		if (q->nheap > 0 && q->heap[0]->due <= now)
			break;
		if (q->nheap == 0) {
			pthread_cond_wait(&q->work, &q->mu);
		} else {
			int64_t until = q->heap[0]->due;
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			/* The deadline is on the realtime clock the condition
			 * variable uses; a jump only wakes a worker early or
			 * late once, and it checks the monotonic time again. */
			ts.tv_sec += (time_t)((until - now) / 1000);
			ts.tv_nsec += (long)((until - now) % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&q->work, &q->mu, &ts);
		}
	}
	e = q->heap[0];
	heap_delete(q, e);
	e->st = ENTRY_RUNNING;
	e->started++;
	q->running++;
	e->item.kind = e->kind;
	e->item.namespace_ = e->ns;
	e->item.name = e->name;
	e->item.reasons = e->reasons;
	e->item.hints = e->hints;
	e->item.nhints = e->nhints;
	e->item.run = e->started;
	e->item.waited_ms = now - e->due;
	e->item.failures = e->failures;
	e->item.attempt = e->attempt;
	e->reasons = 0;
	e->hints = NULL;
	e->nhints = 0;
	*out = &e->item;
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void
queue_done(struct queue *q, struct queue_item *item, int64_t next_ms,
           unsigned next_reason)
{
	struct entry *e = (struct entry *)item;
	int64_t now = queue_now_ms();

	pthread_mutex_lock(&q->mu);
	hints_free(item->hints, item->nhints);
	item->hints = NULL;
	item->nhints = 0;
	e->finished = e->started;
	e->failures = item->failures;
	e->attempt = item->attempt;
	e->st = ENTRY_IDLE;
	q->running--;
	pthread_cond_broadcast(&q->ran);
	if (e->removed) {
		entry_delete(q, e);
		goto out;
	}
	if (e->again) {
		int64_t due = e->again_due;
		if (next_ms >= 0 && now + next_ms < due) {
			due = now + next_ms;
			e->reasons |= next_reason;
		}
		e->again = false;
		enqueue(q, e, due);
	} else if (next_ms >= 0) {
		e->reasons |= next_reason;
		enqueue(q, e, now + next_ms);
	}
out:
	pthread_mutex_unlock(&q->mu);
}

int
queue_wait(struct queue *q, int kind, const char *ns, const char *name,
           uint64_t ticket, int64_t timeout_ms)
{
	int64_t deadline = queue_now_ms() + timeout_ms;
	struct entry *e;
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		int64_t left;
		struct timespec ts;

		e = find(q, kind, ns, name);
		if (e == NULL) {
			rc = -ERR_NOTFOUND;
			break;
		}
		if (e->finished >= ticket)
			break;
		if (q->shutdown) {
			rc = -ERR_CONFLICT;
			break;
		}
		left = deadline - queue_now_ms();
		if (left <= 0) {
			rc = -ERR_TRANSIENT;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(left / 1000);
		ts.tv_nsec += (long)(left % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&q->ran, &q->mu, &ts);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void
queue_remove(struct queue *q, int kind, const char *ns, const char *name)
{
	struct entry *e;

	pthread_mutex_lock(&q->mu);
	e = find(q, kind, ns, name);
	if (e != NULL) {
		if (e->st == ENTRY_RUNNING) {
			e->removed = true;
			e->again = false;
		} else {
			if (e->st == ENTRY_QUEUED)
				heap_delete(q, e);
			entry_delete(q, e);
		}
		pthread_cond_broadcast(&q->ran);
	}
	pthread_mutex_unlock(&q->mu);
}

int64_t
queue_next_due(struct queue *q, int kind, const char *ns, const char *name)
{
	struct entry *e;
	int64_t rc = -1;

	pthread_mutex_lock(&q->mu);
	e = find(q, kind, ns, name);
	if (e && e->st == ENTRY_RUNNING)
		rc = 0;
	else if (e && e->st == ENTRY_QUEUED) {
		rc = e->due - queue_now_ms();
		if (rc < 0)
			rc = 0;
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

bool
queue_is_running(struct queue *q, int kind, const char *ns, const char *name)
{
	struct entry *e;
	bool on;

	pthread_mutex_lock(&q->mu);
	e = find(q, kind, ns, name);
	on = e && e->st == ENTRY_RUNNING;
	pthread_mutex_unlock(&q->mu);
	return on;
}

size_t
queue_depth(struct queue *q)
{
	int64_t now = queue_now_ms();
	size_t n = 0;

	pthread_mutex_lock(&q->mu);
	for (size_t i = 0; i < q->nheap; i++)
		n += q->heap[i]->due <= now;
	pthread_mutex_unlock(&q->mu);
	return n;
}

size_t
queue_running(struct queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->running;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void
queue_shutdown(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->shutdown = true;
	pthread_cond_broadcast(&q->work);
	pthread_cond_broadcast(&q->ran);
	pthread_mutex_unlock(&q->mu);
}
