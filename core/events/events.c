/*
 * events.c - a fixed array used as a ring under one mutex, with a
 * condition variable for readers waiting for something new.  Events are
 * not written to disk: the log has them too, and the state documents hold
 * what must survive a restart.
 */
#include "events.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct events {
	pthread_mutex_t mu;
	pthread_cond_t grew;
	struct event ring[EVENTS_MAX];
	uint64_t next_seq; /* the number the next event gets */
	bool woken;
};

int
events_new(struct events **out, struct err *err)
{
	struct events *ev = calloc(1, sizeof(*ev));

	*out = NULL;
	if (ev == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	pthread_mutex_init(&ev->mu, NULL);
	pthread_cond_init(&ev->grew, NULL);
	ev->next_seq = 1;
	*out = ev;
	return 0;
}

static void
event_release(struct event *e)
{
	free(e->kind);
	free(e->namespace_);
	free(e->name);
	free(e->reason);
	free(e->message);
	memset(e, 0, sizeof(*e));
}

void
events_free(struct events *ev)
{
	if (ev == NULL)
		return;
	for (size_t i = 0; i < EVENTS_MAX; i++)
		event_release(&ev->ring[i]);
	pthread_cond_destroy(&ev->grew);
	pthread_mutex_destroy(&ev->mu);
	free(ev);
}

static bool
event_copy(struct event *dst, const struct event *src)
{
	dst->seq = src->seq;
	dst->time_ms = src->time_ms;
	dst->severity = src->severity;
	dst->kind = strdup(src->kind);
	dst->namespace_ = strdup(src->namespace_);
	dst->name = strdup(src->name);
	dst->reason = strdup(src->reason);
	dst->message = strdup(src->message);
	return dst->kind && dst->namespace_ && dst->name && dst->reason &&
	       dst->message;
}

uint64_t
events_record(struct events *ev, enum event_severity severity, const char *kind,
              const char *ns, const char *name, const char *reason,
              const char *message)
{
	struct event e = { 0 }, *slot;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	e.time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	e.severity = severity;
	e.kind = strdup(kind ? kind : "");
	e.namespace_ = strdup(ns ? ns : "");
	e.name = strdup(name ? name : "");
	e.reason = strdup(reason ? reason : "");
	e.message = strndup(message ? message : "", EVENTS_MAX_MESSAGE);
	if (!e.kind || !e.namespace_ || !e.name || !e.reason || !e.message) {
		event_release(&e);
		return 0;
	}
	pthread_mutex_lock(&ev->mu);
	e.seq = ev->next_seq++;
	slot = &ev->ring[e.seq % EVENTS_MAX];
	event_release(slot);
	*slot = e;
	pthread_cond_broadcast(&ev->grew);
	pthread_mutex_unlock(&ev->mu);
	return e.seq;
}

int
events_since(struct events *ev, uint64_t after, size_t max, int64_t wait_ms,
             struct event **out, size_t *n_out, uint64_t *missed_out)
{
	uint64_t first, last;
	struct event *v = NULL;
	size_t n = 0;
	int rc = 0;

	*out = NULL;
	*n_out = 0;
	if (missed_out)
		*missed_out = 0;
	pthread_mutex_lock(&ev->mu);
	if (wait_ms > 0 && ev->next_seq - 1 <= after && !ev->woken) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(wait_ms / 1000);
		ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (ev->next_seq - 1 <= after && !ev->woken &&
		       pthread_cond_timedwait(&ev->grew, &ev->mu, &ts) == 0)
			;
	}
	last = ev->next_seq - 1;
	/* The ring holds the events numbered last - EVENTS_MAX + 1 .. last. */
	first = last >= EVENTS_MAX ? last - EVENTS_MAX + 1 : 1;
	if (after + 1 < first && missed_out)
		*missed_out = first - after - 1;
	if (after + 1 > first)
		first = after + 1;
	if (last >= first && max > 0) {
		if (last - first + 1 > max)
			first = last - max + 1;
		v = calloc((size_t)(last - first + 1), sizeof(*v));
		if (v == NULL) {
			rc = -ERR_NOMEM;
			goto out;
		}
		for (uint64_t s = first; s <= last; s++) {
			if (!event_copy(&v[n], &ev->ring[s % EVENTS_MAX])) {
				events_array_free(v, n + 1);
				v = NULL;
				n = 0;
				rc = -ERR_NOMEM;
				goto out;
			}
			n++;
		}
	}
	*out = v;
	*n_out = n;
out:
	pthread_mutex_unlock(&ev->mu);
	return rc;
}

void
events_array_free(struct event *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		event_release(&v[i]);
	free(v);
}

void
events_wake(struct events *ev)
{
	pthread_mutex_lock(&ev->mu);
	ev->woken = true;
	pthread_cond_broadcast(&ev->grew);
	pthread_mutex_unlock(&ev->mu);
}

const char *
event_severity_name(enum event_severity s)
{
	return s == EVENT_ERROR ? "error" : "info";
}
