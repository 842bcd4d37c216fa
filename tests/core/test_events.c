/*
 * Tests for core/events: order, the ring's bound, readers that fell
 * behind, and waiting for something new.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "events/events.h"

static void
test_events__readers_get_what_is_newer_oldest_first(void **state)
{
	struct events *ev = NULL;
	struct event *v = NULL;
	struct err e = ERR_INIT;
	size_t n = 0;

	(void)state;
	assert_int_equal(events_new(&ev, &e), 0);
	assert_int_equal(events_record(ev, EVENT_INFO, "ImagePolicy", "ns",
	                               "app", "TagChanged", "1.0 -> 1.1"),
	                 1);
	assert_int_equal(events_record(ev, EVENT_ERROR, "ImageRepository", "ns",
	                               "app", "ScanFailed", "HTTP 500"),
	                 2);
	assert_int_equal(events_since(ev, 0, 100, 0, &v, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].reason, "TagChanged");
	assert_int_equal(v[1].severity, EVENT_ERROR);
	events_array_free(v, n);
	assert_int_equal(events_since(ev, 1, 100, 0, &v, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].seq, 2);
	events_array_free(v, n);
	assert_int_equal(events_since(ev, 2, 100, 0, &v, &n, NULL), 0);
	assert_int_equal(n, 0);
	events_free(ev);
}

static void
test_events__a_reader_that_fell_behind_is_told_what_it_missed(void **state)
{
	struct events *ev = NULL;
	struct event *v = NULL;
	struct err e = ERR_INIT;
	uint64_t missed = 0;
	size_t n = 0;

	(void)state;
	assert_int_equal(events_new(&ev, &e), 0);
	for (int i = 0; i < EVENTS_MAX + 10; i++)
		events_record(ev, EVENT_INFO, "K", "ns", "n", "R", "m");
	assert_int_equal(events_since(ev, 0, 5, 0, &v, &n, &missed), 0);
	assert_int_equal(missed, 10);
	assert_int_equal(n, 5); /* the newest five */
	assert_int_equal(v[4].seq, EVENTS_MAX + 10);
	events_array_free(v, n);
	events_free(ev);
}

static void *
record_later(void *arg)
{
	usleep(50000);
	events_record(arg, EVENT_INFO, "K", "ns", "n", "Late", "m");
	return NULL;
}

static void
test_events__a_watcher_wakes_for_the_next_event(void **state)
{
	struct events *ev = NULL;
	struct event *v = NULL;
	struct err e = ERR_INIT;
	pthread_t th;
	size_t n = 0;

	(void)state;
	assert_int_equal(events_new(&ev, &e), 0);
	assert_int_equal(pthread_create(&th, NULL, record_later, ev), 0);
	assert_int_equal(events_since(ev, 0, 10, 10000, &v, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].reason, "Late");
	events_array_free(v, n);
	pthread_join(th, NULL);
	events_free(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_events__readers_get_what_is_newer_oldest_first),
		cmocka_unit_test(
		        test_events__a_reader_that_fell_behind_is_told_what_it_missed),
		cmocka_unit_test(
		        test_events__a_watcher_wakes_for_the_next_event),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
