/*
 * Tests for core/queue: requests collapse, one run per object at a time,
 * the earliest due first, tickets, removal and shutdown, and many workers
 * at once (this test also runs in the ThreadSanitizer build).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue/queue.h"

static struct queue *
new_queue(void)
{
	struct queue *q = NULL;
	struct err e = ERR_INIT;

	assert_int_equal(queue_new(&q, &e), 0);
	return q;
}

static void
test_queue__requests_for_a_queued_object_collapse_into_one(void **state)
{
	struct queue *q = new_queue();
	struct queue_item *it = NULL;

	(void)state;
	assert_int_equal(
	        queue_add(q, 1, "ns", "a", 0, QUEUE_INTERVAL, NULL, NULL), 0);
	assert_int_equal(
	        queue_add(q, 1, "ns", "a", 0, QUEUE_WEBHOOK, "1.2.0", NULL), 0);
	assert_int_equal(
	        queue_add(q, 1, "ns", "a", 0, QUEUE_WEBHOOK, "1.3.0", NULL), 0);
	assert_int_equal(queue_depth(q), 1);
	assert_int_equal(queue_take(q, &it), 0);
	assert_string_equal(it->name, "a");
	assert_int_equal(it->reasons, QUEUE_INTERVAL | QUEUE_WEBHOOK);
	assert_int_equal(it->nhints, 2);
	assert_string_equal(it->hints[0], "1.2.0");
	assert_string_equal(it->hints[1], "1.3.0");
	assert_int_equal(it->run, 1);
	assert_int_equal(queue_depth(q), 0);
	queue_done(q, it, -1, 0);
	assert_int_equal(queue_next_due(q, 1, "ns", "a"), -1);
	queue_free(q);
}

static void
test_queue__a_request_during_a_run_is_served_once_after_it(void **state)
{
	struct queue *q = new_queue();
	struct queue_item *it = NULL;
	uint64_t ticket = 0;

	(void)state;
	queue_add(q, 1, "ns", "a", 0, QUEUE_INTERVAL, NULL, NULL);
	assert_int_equal(queue_take(q, &it), 0);
	/* Running: more requests do not start a second run now. */
	queue_add(q, 1, "ns", "a", 0, QUEUE_DEPENDENCY, NULL, &ticket);
	queue_add(q, 1, "ns", "a", 0, QUEUE_MANUAL, NULL, NULL);
	assert_int_equal(ticket, 2);
	assert_int_equal(queue_depth(q), 0);
	assert_int_equal(queue_running(q), 1);
	queue_done(q, it, 3600 * 1000, QUEUE_INTERVAL);
	/* ... but one run right after, instead of in an hour. */
	assert_int_equal(queue_next_due(q, 1, "ns", "a"), 0);
	assert_int_equal(queue_take(q, &it), 0);
	assert_int_equal(it->run, 2);
	assert_int_equal(it->reasons, QUEUE_DEPENDENCY | QUEUE_MANUAL);
	queue_done(q, it, 3600 * 1000, QUEUE_INTERVAL);
	assert_true(queue_next_due(q, 1, "ns", "a") > 3500 * 1000);
	queue_free(q);
}

static void
test_queue__the_earliest_due_object_goes_first(void **state)
{
	struct queue *q = new_queue();
	struct queue_item *it = NULL;

	(void)state;
	queue_add(q, 1, "ns", "late", 60000, QUEUE_INTERVAL, NULL, NULL);
	queue_add(q, 1, "ns", "first", 0, QUEUE_INTERVAL, NULL, NULL);
	queue_add(q, 1, "ns", "second", 0, QUEUE_INTERVAL, NULL, NULL);
	assert_int_equal(queue_take(q, &it), 0);
	assert_string_equal(it->name, "first");
	queue_done(q, it, -1, 0);
	assert_int_equal(queue_take(q, &it), 0);
	assert_string_equal(it->name, "second");
	queue_done(q, it, -1, 0);
	/* A request with a shorter delay moves "late" forward. */
	queue_add(q, 1, "ns", "late", 0, QUEUE_WEBHOOK, NULL, NULL);
	assert_int_equal(queue_take(q, &it), 0);
	assert_string_equal(it->name, "late");
	assert_int_equal(it->reasons, QUEUE_INTERVAL | QUEUE_WEBHOOK);
	queue_done(q, it, -1, 0);
	queue_free(q);
}

static void
test_queue__a_worker_sleeps_until_the_next_due_time(void **state)
{
	struct queue *q = new_queue();
	struct queue_item *it = NULL;
	int64_t t0 = queue_now_ms();

	(void)state;
	queue_add(q, 1, "ns", "a", 150, QUEUE_INTERVAL, NULL, NULL);
	assert_int_equal(queue_take(q, &it), 0);
	assert_true(queue_now_ms() - t0 >= 150);
	assert_true(it->waited_ms >= 0);
	queue_done(q, it, -1, 0);
	queue_free(q);
}

struct waiter {
	struct queue *q;
	uint64_t ticket;
	int rc;
};

static void *
wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->rc = queue_wait(w->q, 1, "ns", "a", w->ticket, 10000);
	return NULL;
}

static void
test_queue__a_ticket_waits_for_the_run_that_serves_it(void **state)
{
	struct queue *q = new_queue();
	struct queue_item *it = NULL;
	struct waiter w = { q, 0, 99 };
	pthread_t th;

	(void)state;
	queue_add(q, 1, "ns", "a", 0, QUEUE_MANUAL, NULL, &w.ticket);
	assert_int_equal(w.ticket, 1);
	assert_int_equal(pthread_create(&th, NULL, wait_thread, &w), 0);
	assert_int_equal(queue_take(q, &it), 0);
	queue_done(q, it, -1, 0);
	pthread_join(th, NULL);
	assert_int_equal(w.rc, 0);
	/* A finished ticket returns at once; an unknown object says so. */
	assert_int_equal(queue_wait(q, 1, "ns", "a", 1, 0), 0);
	assert_int_equal(queue_wait(q, 1, "ns", "zz", 1, 0), -ERR_NOTFOUND);
	assert_int_equal(queue_wait(q, 1, "ns", "a", 2, 10), -ERR_TRANSIENT);
	queue_free(q);
}

static void
test_queue__a_removed_object_is_not_run_again(void **state)
{
	struct queue *q = new_queue();
	struct queue_item *it = NULL;

	(void)state;
	queue_add(q, 1, "ns", "a", 0, QUEUE_INTERVAL, NULL, NULL);
	queue_add(q, 1, "ns", "b", 0, QUEUE_INTERVAL, NULL, NULL);
	queue_remove(q, 1, "ns", "b");
	assert_int_equal(queue_take(q, &it), 0);
	assert_string_equal(it->name, "a");
	queue_remove(q, 1, "ns", "a"); /* while it runs */
	queue_done(q, it, 1000, QUEUE_INTERVAL);
	assert_int_equal(queue_next_due(q, 1, "ns", "a"), -1);
	assert_int_equal(queue_depth(q), 0);
	queue_free(q);
}

static void *
take_thread(void *arg)
{
	struct queue *q = arg;
	struct queue_item *it = NULL;

	return (void *)(intptr_t)queue_take(q, &it);
}

static void
test_queue__shutdown_wakes_every_worker(void **state)
{
	struct queue *q = new_queue();
	pthread_t th[3];
	void *rc;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, take_thread, q),
		                 0);
	usleep(20000);
	queue_shutdown(q);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], &rc);
		assert_int_equal((intptr_t)rc, -ERR_CONFLICT);
	}
	assert_int_equal(queue_add(q, 1, "ns", "a", 0, 0, NULL, NULL),
	                 -ERR_CONFLICT);
	queue_free(q);
}

#define OBJECTS 50

struct stress {
	struct queue *q;
	atomic_int inside[OBJECTS];
	atomic_int runs;
	atomic_int overlaps;
	atomic_bool stop;
};

static void *
stress_worker(void *arg)
{
	struct stress *s = arg;
	struct queue_item *it = NULL;

	while (queue_take(s->q, &it) == 0) {
		int k = 0;
		k = (int)strtol(it->name + 1, NULL, 10);
		if (atomic_fetch_add(&s->inside[k], 1) != 0)
			atomic_fetch_add(&s->overlaps, 1);
		usleep(100);
		atomic_fetch_sub(&s->inside[k], 1);
		atomic_fetch_add(&s->runs, 1);
		queue_done(s->q, it, -1, 0);
	}
	return NULL;
}

static void
test_queue__many_workers_never_run_one_object_twice_at_once(void **state)
{
	static struct stress s;
	pthread_t th[4];
	char name[16];

	(void)state;
	memset(&s, 0, sizeof(s));
	s.q = new_queue();
	for (int i = 0; i < 4; i++)
		assert_int_equal(
		        pthread_create(&th[i], NULL, stress_worker, &s), 0);
	for (int r = 0; r < 2000; r++) {
		snprintf(name, sizeof(name), "o%d", r % OBJECTS);
		queue_add(s.q, 1, "ns", name, r % 3, QUEUE_DEPENDENCY, NULL,
		          NULL);
	}
	while (queue_depth(s.q) > 0 || queue_running(s.q) > 0)
		usleep(1000);
	queue_shutdown(s.q);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&s.overlaps), 0);
	assert_true(atomic_load(&s.runs) >= OBJECTS);
	assert_true(atomic_load(&s.runs) <= 2000);
	queue_free(s.q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_queue__requests_for_a_queued_object_collapse_into_one),
		cmocka_unit_test(
		        test_queue__a_request_during_a_run_is_served_once_after_it),
		cmocka_unit_test(
		        test_queue__the_earliest_due_object_goes_first),
		cmocka_unit_test(
		        test_queue__a_worker_sleeps_until_the_next_due_time),
		cmocka_unit_test(
		        test_queue__a_ticket_waits_for_the_run_that_serves_it),
		cmocka_unit_test(test_queue__a_removed_object_is_not_run_again),
		cmocka_unit_test(test_queue__shutdown_wakes_every_worker),
		cmocka_unit_test(
		        test_queue__many_workers_never_run_one_object_twice_at_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
