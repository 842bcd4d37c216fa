/*
 * notifier.c - the notifier (notify.h): a queue of Alert requests and
 * the one thread that sends them, trying each up to NOTIFY_MAX_ATTEMPTS
 * times with a doubling wait when the answer says "later" (a transport
 * error, 429, a 5xx).  Waiting here is the point of the thread: the
 * daemon's workers hand an event over and go on.
 *
 * It does not reorder: requests go out in the order they were queued.
 */
#include "notify.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"

#define MOD "notify"

struct item {
	struct item *next;
	struct notify_request r;
	char alert[300]; /* "ns/name", for logs */
};

struct notifier {
	pthread_mutex_t mu;
	pthread_cond_t cv;   /* work queued, or stop */
	pthread_cond_t idle; /* the queue ran empty */
	struct item *head, *tail;
	size_t n;
	bool busy; /* the thread is sending one */
	bool stop;
	int64_t deadline_ms; /* after stop: give up on what is left then */
	pthread_t thread;
	struct notify_options o;
};

static void
abs_time(struct timespec *ts, int64_t in_ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(in_ms / 1000);
	ts->tv_nsec += (long)(in_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Sends one item, with its retries; the lock is not held. */
static void
send_item(struct notifier *n, struct item *it)
{
	struct err e = ERR_INIT;
	long wait = n->o.retry_ms > 0 ? n->o.retry_ms : NOTIFY_RETRY_MS;
	char url[512], tries[32];
	int rc = -ERR_TRANSIENT, attempt;

	log_url(url, sizeof(url), it->r.url ? it->r.url : "");
	for (attempt = 1; attempt <= NOTIFY_MAX_ATTEMPTS; attempt++) {
		err_clear(&e);
		rc = notify_request_send(&it->r, NULL, &e);
		if (rc != -ERR_TRANSIENT || attempt == NOTIFY_MAX_ATTEMPTS)
			break;
		pthread_mutex_lock(&n->mu);
		if (n->stop && mono_ms() + wait > n->deadline_ms) {
			pthread_mutex_unlock(&n->mu);
			break;
		}
		{
			struct timespec ts;
			abs_time(&ts, wait);
			pthread_cond_timedwait(&n->cv, &n->mu, &ts);
		}
		pthread_mutex_unlock(&n->mu);
		wait *= 2;
	}
	if (n->o.observe)
		n->o.observe(it->r.type, rc == 0 ? "sent" : "failed",
		             n->o.payload);
	if (rc == 0)
		log_debug(MOD, "sent", "alert", it->alert, "type", it->r.type,
		          "url", url);
	else
		log_warn(MOD, "send_failed", "alert", it->alert, "type",
		         it->r.type, "attempts",
		         log_num(tries, attempt > NOTIFY_MAX_ATTEMPTS
		                                ? NOTIFY_MAX_ATTEMPTS
		                                : attempt),
		         "err", e.msg);
}

static void *
run(void *arg)
{
	struct notifier *n = arg;

	pthread_mutex_lock(&n->mu);
	for (;;) {
		struct item *it;

		while (n->head == NULL && !n->stop)
			pthread_cond_wait(&n->cv, &n->mu);
		if (n->head == NULL || (n->stop && mono_ms() >= n->deadline_ms))
			break;
		it = n->head;
		n->head = it->next;
		if (n->head == NULL)
			n->tail = NULL;
		n->n--;
		n->busy = true;
		pthread_mutex_unlock(&n->mu);
		send_item(n, it);
		notify_request_release(&it->r);
		free(it);
		pthread_mutex_lock(&n->mu);
		n->busy = false;
		if (n->head == NULL)
			pthread_cond_broadcast(&n->idle);
	}
	n->busy = false;
	pthread_cond_broadcast(&n->idle);
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

int
notify_new(struct notifier **out, const struct notify_options *opts,
           struct err *err)
{
	struct notifier *n = calloc(1, sizeof(*n));

	*out = NULL;
	if (n == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	if (opts)
		n->o = *opts;
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cv, NULL);
	pthread_cond_init(&n->idle, NULL);
	if (pthread_create(&n->thread, NULL, run, n) != 0) {
		pthread_cond_destroy(&n->idle);
		pthread_cond_destroy(&n->cv);
		pthread_mutex_destroy(&n->mu);
		free(n);
		return err_set(err, ERR_INTERNAL,
		               "cannot start the notifier's thread");
	}
	*out = n;
	return 0;
}

void
notify_free(struct notifier *n, int64_t timeout_ms)
{
	struct item *it;
	char left[32];

	if (n == NULL)
		return;
	pthread_mutex_lock(&n->mu);
	n->stop = true;
	n->deadline_ms = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	pthread_cond_broadcast(&n->cv);
	pthread_mutex_unlock(&n->mu);
	pthread_join(n->thread, NULL);
	if (n->n > 0)
		log_warn(MOD, "dropped", "requests",
		         log_num(left, (long long)n->n), "reason",
		         "shutting down");
	while ((it = n->head) != NULL) {
		n->head = it->next;
		notify_request_release(&it->r);
		free(it);
	}
	pthread_cond_destroy(&n->idle);
	pthread_cond_destroy(&n->cv);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

size_t
notify_event(struct notifier *n, const struct config *cfg,
             const struct notify_event *ev)
{
	size_t queued = 0;

	for (size_t i = 0; n && i < config_count(cfg, CONFIG_ALERT); i++) {
		const struct config_object *a =
		        config_get(cfg, CONFIG_ALERT, i);
		struct item *it;
		struct err e = ERR_INIT;
		bool full;

		if (!notify_alert_matches(cfg, a, ev))
			continue;
		if ((it = calloc(1, sizeof(*it))) == NULL) {
			log_warn(MOD, "dropped", "reason", "out of memory");
			continue;
		}
		snprintf(it->alert, sizeof(it->alert), "%s/%s",
		         a->metadata.namespace, a->metadata.name);
		if (notify_alert_request(&it->r, cfg, a, ev, NULL, &e) < 0) {
			log_warn(MOD, "request_failed", "alert", it->alert,
			         "err", e.msg);
			free(it);
			continue;
		}
		pthread_mutex_lock(&n->mu);
		full = n->n >= NOTIFY_MAX_QUEUE || n->stop;
		if (!full) {
			if (n->tail)
				n->tail->next = it;
			else
				n->head = it;
			n->tail = it;
			n->n++;
			pthread_cond_signal(&n->cv);
		}
		pthread_mutex_unlock(&n->mu);
		if (full) {
			log_warn(MOD, "dropped", "alert", it->alert, "reason",
			         "the queue is full");
			notify_request_release(&it->r);
			free(it);
			continue;
		}
		queued++;
	}
	return queued;
}

void
notify_flush(struct notifier *n, int64_t timeout_ms)
{
	struct timespec ts;

	if (n == NULL)
		return;
	abs_time(&ts, timeout_ms);
	pthread_mutex_lock(&n->mu);
	while ((n->head != NULL || n->busy) &&
	       pthread_cond_timedwait(&n->idle, &n->mu, &ts) == 0)
		;
	pthread_mutex_unlock(&n->mu);
}
