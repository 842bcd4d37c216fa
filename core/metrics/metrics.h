/*
 * metrics.h - counters, gauges and histograms with labels, rendered in
 * the Prometheus text exposition format for the daemon's /metrics.
 *
 * A family is declared once (name, type, help, label names); its series
 * are made on first use, one per combination of label values:
 *
 *   metrics_family(m, "ferry_scans_total", METRIC_COUNTER,
 *                  "Registry scans by result.", "repository", "result",
 *                  NULL);
 *   metrics_add(m, "ferry_scans_total", 1, "flux-system/app", "ok", NULL);
 *
 * Label values are escaped when rendered (a repository name from a
 * webhook cannot break a line), and a family holds at most
 * METRICS_MAX_SERIES series: the ones past it are counted in
 * ferry_metrics_series_dropped_total instead, so a flood of distinct names
 * cannot grow memory.  A gauge may instead be read at render time from a
 * function (queue depth).
 *
 * Histograms use fixed buckets in seconds (METRICS_BUCKETS).
 *
 * Ownership: the struct metrics owns everything; names and label values
 * are copied.  Thread safety: every call may come from any thread.
 */
#ifndef FERRY_CORE_METRICS_H
#define FERRY_CORE_METRICS_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

#define METRICS_MAX_LABELS 4
#define METRICS_MAX_SERIES 10000 /* per family */
#define METRICS_BUCKETS                                                        \
	{                                                                      \
		0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,   \
		        60, 300                                                \
	}

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

struct metrics;

int metrics_new(struct metrics **out, struct err *err);
void metrics_free(struct metrics *m);

/*
 * Declares a family; the variadic part is its label names, ending with
 * NULL (at most METRICS_MAX_LABELS).  -ERR_INVALID for a second
 * declaration or a bad name, -ERR_NOMEM.
 */
int metrics_family(struct metrics *m, const char *name, enum metric_type type,
                   const char *help, ...) __attribute__((sentinel));

/* A gauge whose value fn(payload) gives at render time (no labels). */
int metrics_gauge_fn(struct metrics *m, const char *name, const char *help,
                     double (*fn)(void *payload), void *payload);

/* Adds v to a counter or gauge series; label values end with NULL. */
void metrics_add(struct metrics *m, const char *name, double v, ...)
        __attribute__((sentinel));

/* Sets a gauge series. */
void metrics_set(struct metrics *m, const char *name, double v, ...)
        __attribute__((sentinel));

/* Records one observation in a histogram series. */
void metrics_observe(struct metrics *m, const char *name, double v, ...)
        __attribute__((sentinel));

/* Removes every series of a family whose first label value is value
 * (an object removed from the configuration). */
void metrics_forget(struct metrics *m, const char *name, const char *value);

/* Appends every family in the text exposition format (version 0.0.4). */
int metrics_render(struct metrics *m, struct buf *out);

#endif
