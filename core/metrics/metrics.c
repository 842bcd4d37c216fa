/*
 * metrics.c - families in declaration order, each with its series in a
 * small open-hashing table keyed by the joined label values, all under one
 * mutex (an update is a lookup and an add; a scrape renders everything).
 * It does not serve HTTP: the daemon's server calls metrics_render().
 */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double buckets[] = METRICS_BUCKETS;
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct series {
	char *key; /* label values joined by '\x1f' */
	char *values[METRICS_MAX_LABELS];
	double value;              /* counter, gauge; histogram: sum */
	uint64_t count;            /* histogram */
	uint64_t bucket[NBUCKETS]; /* histogram, not cumulative */
	struct series *next;
};

struct family {
	char *name, *help;
	enum metric_type type;
	char *labels[METRICS_MAX_LABELS];
	size_t nlabels;
	double (*fn)(void *);
	void *payload;
	struct series **table;
	size_t cap, n;
	uint64_t dropped;
	struct family *next;
};

struct metrics {
	pthread_mutex_t mu;
	struct family *head, *tail;
};

int
metrics_new(struct metrics **out, struct err *err)
{
	struct metrics *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (m == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	pthread_mutex_init(&m->mu, NULL);
	*out = m;
	return 0;
}

static void
series_free(struct series *s)
{
	free(s->key);
	for (size_t i = 0; i < METRICS_MAX_LABELS; i++)
		free(s->values[i]);
	free(s);
}

void
metrics_free(struct metrics *m)
{
	struct family *f, *fn;

	if (m == NULL)
		return;
	for (f = m->head; f; f = fn) {
		fn = f->next;
		for (size_t i = 0; i < f->cap; i++) {
			struct series *s = f->table[i], *sn;
			for (; s; s = sn) {
				sn = s->next;
				series_free(s);
			}
		}
		for (size_t i = 0; i < f->nlabels; i++)
			free(f->labels[i]);
		free(f->table);
		free(f->name);
		free(f->help);
		free(f);
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static bool
valid_name(const char *s)
{
	if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static struct family *
find(struct metrics *m, const char *name)
{
	for (struct family *f = m->head; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static int
declare(struct metrics *m, struct family *f)
{
	int rc = 0;

	pthread_mutex_lock(&m->mu);
	if (find(m, f->name)) {
		rc = -ERR_INVALID;
	} else {
		if (m->tail)
			m->tail->next = f;
		else
			m->head = f;
		m->tail = f;
	}
	pthread_mutex_unlock(&m->mu);
	return rc;
}

int
metrics_family(struct metrics *m, const char *name, enum metric_type type,
               const char *help, ...)
{
	struct family *f;
	const char *l;
	va_list ap;
	int rc;

	if (!valid_name(name))
		return -ERR_INVALID;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ERR_NOMEM;
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help);
	va_start(ap, help);
	while ((l = va_arg(ap, const char *)) != NULL) {
		if (f->nlabels == METRICS_MAX_LABELS || !valid_name(l))
			break;
		f->labels[f->nlabels++] = strdup(l);
	}
	va_end(ap);
	rc = f->name && f->help ? 0 : -ERR_NOMEM;
	for (size_t i = 0; i < f->nlabels; i++)
		if (f->labels[i] == NULL)
			rc = -ERR_NOMEM;
	if (l != NULL)
		rc = -ERR_INVALID;
	if (rc == 0 && (rc = declare(m, f)) == 0)
		return 0;
	for (size_t i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->name);
	free(f->help);
	free(f);
	return rc;
}

int
metrics_gauge_fn(struct metrics *m, const char *name, const char *help,
                 double (*fn)(void *payload), void *payload)
{
	struct family *f;
	int rc;

	if (!valid_name(name))
		return -ERR_INVALID;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -ERR_NOMEM;
	f->type = METRIC_GAUGE;
	f->name = strdup(name);
	f->help = strdup(help);
	f->fn = fn;
	f->payload = payload;
	rc = f->name && f->help ? declare(m, f) : -ERR_NOMEM;
	if (rc < 0) {
		free(f->name);
		free(f->help);
		free(f);
	}
	return rc;
}

static size_t
hash(const char *k)
{
	size_t h = 14695981039346656037ULL;

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	return h;
}

/* The series of f for the label values in ap; called with the lock held.
 * NULL when out of memory or past METRICS_MAX_SERIES (counted). */
static struct series *
series_get(struct family *f, va_list ap)
{
	const char *vals[METRICS_MAX_LABELS] = { 0 };
	struct buf key = BUF_INIT;
	struct series *s = NULL;
	size_t i;

	for (i = 0; i < f->nlabels; i++) {
		vals[i] = va_arg(ap, const char *);
		if (vals[i] == NULL)
			vals[i] = "";
		if (i)
			buf_putc(&key, '\x1f');
		buf_puts(&key, vals[i]);
	}
	if (!buf_ok(&key))
		goto out;
	if (f->cap) {
		for (s = f->table[hash(key.ptr) & (f->cap - 1)]; s; s = s->next)
			if (strcmp(s->key, key.ptr) == 0)
				goto out;
	}
	if (f->n >= METRICS_MAX_SERIES) {
		f->dropped++;
		goto out;
	}
	if (f->n + 1 > f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct series **t = calloc(cap, sizeof(*t));
		if (t == NULL)
			goto out;
		for (size_t k = 0; k < f->cap; k++) {
			struct series *x = f->table[k], *xn;
			for (; x; x = xn) {
				xn = x->next;
				x->next = t[hash(x->key) & (cap - 1)];
				t[hash(x->key) & (cap - 1)] = x;
			}
		}
		free(f->table);
		f->table = t;
		f->cap = cap;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto out;
	s->key = buf_detach(&key);
	for (i = 0; i < f->nlabels; i++)
		s->values[i] = strdup(vals[i]);
	s->next = f->table[hash(s->key) & (f->cap - 1)];
	f->table[hash(s->key) & (f->cap - 1)] = s;
	f->n++;
out:
	buf_release(&key);
	return s;
}

enum op { OP_ADD, OP_SET, OP_OBSERVE };

static void
update(struct metrics *m, const char *name, double v, enum op op, va_list ap)
{
	struct family *f;
	struct series *s;

	pthread_mutex_lock(&m->mu);
	f = find(m, name);
	if (f == NULL || f->fn ||
	    (op == OP_OBSERVE) != (f->type == METRIC_HISTOGRAM))
		goto out;
	if ((s = series_get(f, ap)) == NULL)
		goto out;
	switch (op) {
	case OP_ADD:
		s->value += v;
		break;
	case OP_SET:
		s->value = v;
		break;
	case OP_OBSERVE:
		s->value += v;
		s->count++;
		for (size_t i = 0; i < NBUCKETS; i++)
			if (v <= buckets[i]) {
				s->bucket[i]++;
				break;
			}
		break;
	}
out:
	pthread_mutex_unlock(&m->mu);
}

void
metrics_add(struct metrics *m, const char *name, double v, ...)
{
	va_list ap;

	va_start(ap, v);
	update(m, name, v, OP_ADD, ap);
	va_end(ap);
}

void
metrics_set(struct metrics *m, const char *name, double v, ...)
{
	va_list ap;

	va_start(ap, v);
	update(m, name, v, OP_SET, ap);
	va_end(ap);
}

void
metrics_observe(struct metrics *m, const char *name, double v, ...)
{
	va_list ap;

	va_start(ap, v);
	update(m, name, v, OP_OBSERVE, ap);
	va_end(ap);
}

void
metrics_forget(struct metrics *m, const char *name, const char *value)
{
	struct family *f;

	pthread_mutex_lock(&m->mu);
	f = find(m, name);
	for (size_t i = 0; f && f->nlabels && i < f->cap; i++) {
		struct series **pp = &f->table[i];
		while (*pp) {
			if (strcmp((*pp)->values[0], value) == 0) {
				struct series *dead = *pp;
				*pp = dead->next;
				series_free(dead);
				f->n--;
			} else {
				pp = &(*pp)->next;
			}
		}
	}
	pthread_mutex_unlock(&m->mu);
}

static void
put_escaped(struct buf *out, const char *s, bool help)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_puts(out, "\\\\");
		else if (*s == '\n')
			buf_puts(out, "\\n");
		else if (*s == '"' && !help)
			buf_puts(out, "\\\"");
		else
			buf_putc(out, *s);
	}
}

static void
put_number(struct buf *out, double v)
{
	if (isnan(v))
		buf_puts(out, "NaN");
	else if (isinf(v))
		buf_puts(out, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		buf_addf(out, "%.0f", v);
	else
		buf_addf(out, "%.17g", v);
}

/* name{labels[,le="x"]} */
static void
put_series_name(struct buf *out, const struct family *f, const char *suffix,
                const struct series *s, const char *le)
{
	bool any = false;

	buf_puts(out, f->name);
	buf_puts(out, suffix);
	for (size_t i = 0; s && i < f->nlabels; i++) {
		buf_puts(out, any ? "," : "{");
		any = true;
		buf_addf(out, "%s=\"", f->labels[i]);
		put_escaped(out, s->values[i], false);
		buf_putc(out, '"');
	}
	if (le) {
		buf_puts(out, any ? "," : "{");
		any = true;
		buf_addf(out, "le=\"%s\"", le);
	}
	if (any)
		buf_putc(out, '}');
	buf_putc(out, ' ');
}

static void
render_series(struct buf *out, const struct family *f, const struct series *s)
{
	uint64_t cum = 0;
	char le[32];

	if (f->type != METRIC_HISTOGRAM) {
		put_series_name(out, f, "", s, NULL);
		put_number(out, s->value);
		buf_putc(out, '\n');
		return;
	}
	for (size_t i = 0; i < NBUCKETS; i++) {
		cum += s->bucket[i];
		snprintf(le, sizeof(le), "%g", buckets[i]);
		put_series_name(out, f, "_bucket", s, le);
		buf_addf(out, "%llu\n", (unsigned long long)cum);
	}
	put_series_name(out, f, "_bucket", s, "+Inf");
	buf_addf(out, "%llu\n", (unsigned long long)s->count);
	put_series_name(out, f, "_sum", s, NULL);
	put_number(out, s->value);
	buf_putc(out, '\n');
	put_series_name(out, f, "_count", s, NULL);
	buf_addf(out, "%llu\n", (unsigned long long)s->count);
}

static int
cmp_series(const void *a, const void *b)
{
	return strcmp((*(struct series *const *)a)->key,
	              (*(struct series *const *)b)->key);
}

int
metrics_render(struct metrics *m, struct buf *out)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	uint64_t dropped = 0;
	int rc = 0;

	pthread_mutex_lock(&m->mu);
	for (struct family *f = m->head; f; f = f->next) {
		struct series **v;
		size_t n = 0;

		buf_addf(out, "# HELP %s ", f->name);
		put_escaped(out, f->help, true);
		buf_addf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
		if (f->fn) {
			put_series_name(out, f, "", NULL, NULL);
			put_number(out, f->fn(f->payload));
			buf_putc(out, '\n');
			continue;
		}
		dropped += f->dropped;
		/* Sorted, so that a scrape reads the same way every time. */
		v = calloc(f->n ? f->n : 1, sizeof(*v));
		if (v == NULL) {
			rc = -ERR_NOMEM;
			break;
		}
		for (size_t i = 0; i < f->cap; i++)
			for (struct series *s = f->table[i]; s; s = s->next)
				v[n++] = s;
		qsort(v, n, sizeof(*v), cmp_series);
		for (size_t i = 0; i < n; i++)
			render_series(out, f, v[i]);
		free(v);
	}
	pthread_mutex_unlock(&m->mu);
	buf_puts(out, "# HELP ferry_metrics_series_dropped_total Series not "
	              "kept because a family reached its limit.\n"
	              "# TYPE ferry_metrics_series_dropped_total counter\n");
	buf_addf(out, "ferry_metrics_series_dropped_total %llu\n",
	         (unsigned long long)dropped);
	if (rc == 0 && !buf_ok(out))
		rc = -ERR_NOMEM;
	return rc;
}
