/*
 * events.h - what happened, newest last: a bounded ring of events the
 * daemon records (scan failed, tag changed, pushed, push failed, ...) for
 * `ferry events`, the status page and notifications.
 *
 * Every event gets a sequence number (1, 2, ...); a reader asks for the
 * events after the last number it saw, and may wait for new ones (`ferry
 * events --watch`).  The ring keeps the newest EVENTS_MAX; a reader that
 * fell further behind is told how many it missed.
 *
 * Ownership: the ring copies what it is given; events_since() hands out
 * copies.  Thread safety: every call may come from any thread.
 */
#ifndef FERRY_CORE_EVENTS_H
#define FERRY_CORE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define EVENTS_MAX 1000
#define EVENTS_MAX_MESSAGE 1024

enum event_severity {
	EVENT_INFO,
	EVENT_ERROR,
};

struct event {
	uint64_t seq;
	int64_t time_ms; /* Unix time in ms */
	enum event_severity severity;
	char *kind; /* "ImagePolicy" */
	char *namespace_;
	char *name;
	char *reason;  /* "Pushed", "ScanFailed", ... */
	char *message; /* at most EVENTS_MAX_MESSAGE bytes */
};

struct events;

int events_new(struct events **out, struct err *err);
void events_free(struct events *ev);

/* Records an event (kept silently when out of memory: events are not
 * worth failing a reconcile for).  Returns its sequence number, 0 when it
 * could not be kept. */
uint64_t events_record(struct events *ev, enum event_severity severity,
                       const char *kind, const char *ns, const char *name,
                       const char *reason, const char *message);

/*
 * Copies the events after sequence number `after` (0: all kept) into *out
 * (*n_out of them, oldest first, at most max; release with
 * events_array_free).  With wait_ms > 0 and nothing newer, waits that
 * long for one.  *missed_out (may be NULL) gets how many events after
 * `after` were already dropped from the ring.
 */
int events_since(struct events *ev, uint64_t after, size_t max, int64_t wait_ms,
                 struct event **out, size_t *n_out, uint64_t *missed_out);

void events_array_free(struct event *v, size_t n);

/* Wakes every events_since() that waits (shutdown). */
void events_wake(struct events *ev);

const char *event_severity_name(enum event_severity s);

#endif
