/*
 * Tests for core/metrics: the text exposition format, escaping, histogram
 * buckets, the series limit and forgetting an object's series.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"

static char *
render(struct metrics *m)
{
	struct buf b = BUF_INIT;

	assert_int_equal(metrics_render(m, &b), 0);
	return buf_detach(&b);
}

static void
test_metrics__counters_render_with_help_type_and_labels(void **state)
{
	struct metrics *m = NULL;
	struct err e = ERR_INIT;
	char *text;

	(void)state;
	assert_int_equal(metrics_new(&m, &e), 0);
	assert_int_equal(metrics_family(m, "ferry_scans_total", METRIC_COUNTER,
	                                "Scans by result.", "repository",
	                                "result", NULL),
	                 0);
	assert_int_equal(metrics_family(m, "ferry_scans_total", METRIC_COUNTER,
	                                "again", NULL),
	                 -ERR_INVALID);
	metrics_add(m, "ferry_scans_total", 1, "ns/app", "ok", NULL);
	metrics_add(m, "ferry_scans_total", 2, "ns/app", "ok", NULL);
	metrics_add(m, "ferry_scans_total", 1, "ns/app", "error", NULL);
	text = render(m);
	assert_non_null(strstr(text, "# HELP ferry_scans_total Scans by "
	                             "result.\n# TYPE ferry_scans_total "
	                             "counter\n"));
	assert_non_null(strstr(text, "ferry_scans_total{repository=\"ns/app\","
	                             "result=\"ok\"} 3\n"));
	assert_non_null(strstr(text, "ferry_scans_total{repository=\"ns/app\","
	                             "result=\"error\"} 1\n"));
	free(text);
	metrics_free(m);
}

static void
test_metrics__a_hostile_label_value_cannot_break_a_line(void **state)
{
	struct metrics *m = NULL;
	struct err e = ERR_INIT;
	char *text;

	(void)state;
	assert_int_equal(metrics_new(&m, &e), 0);
	metrics_family(m, "ferry_webhook_requests_total", METRIC_COUNTER, "x",
	               "type", NULL);
	metrics_add(m, "ferry_webhook_requests_total", 1,
	            "a\"} 99\nferry_fake 1\\", NULL);
	text = render(m);
	assert_non_null(strstr(text, "{type=\"a\\\"} 99\\nferry_fake 1\\\\\"} "
	                             "1\n"));
	assert_null(strstr(text, "\nferry_fake"));
	free(text);
	metrics_free(m);
}

static void
test_metrics__histogram_buckets_are_cumulative(void **state)
{
	struct metrics *m = NULL;
	struct err e = ERR_INIT;
	char *text;

	(void)state;
	assert_int_equal(metrics_new(&m, &e), 0);
	metrics_family(m, "ferry_scan_duration_seconds", METRIC_HISTOGRAM, "x",
	               "repository", NULL);
	metrics_observe(m, "ferry_scan_duration_seconds", 0.003, "r", NULL);
	metrics_observe(m, "ferry_scan_duration_seconds", 0.2, "r", NULL);
	metrics_observe(m, "ferry_scan_duration_seconds", 1000, "r", NULL);
	text = render(m);
	assert_non_null(strstr(text, "ferry_scan_duration_seconds_bucket{"
	                             "repository=\"r\",le=\"0.005\"} 1\n"));
	assert_non_null(strstr(text, "ferry_scan_duration_seconds_bucket{"
	                             "repository=\"r\",le=\"0.25\"} 2\n"));
	assert_non_null(strstr(text, "ferry_scan_duration_seconds_bucket{"
	                             "repository=\"r\",le=\"300\"} 2\n"));
	assert_non_null(strstr(text, "ferry_scan_duration_seconds_bucket{"
	                             "repository=\"r\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(text, "ferry_scan_duration_seconds_count{"
	                             "repository=\"r\"} 3\n"));
	free(text);
	metrics_free(m);
}

static double
seven(void *payload)
{
	(void)payload;
	return 7;
}

static void
test_metrics__series_past_the_limit_are_counted_not_kept(void **state)
{
	struct metrics *m = NULL;
	struct err e = ERR_INIT;
	char name[32], *text;

	(void)state;
	assert_int_equal(metrics_new(&m, &e), 0);
	metrics_family(m, "ferry_tags", METRIC_GAUGE, "x", "repository", NULL);
	metrics_gauge_fn(m, "ferry_queue_depth", "Due objects.", seven, NULL);
	for (int i = 0; i < METRICS_MAX_SERIES + 5; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		metrics_set(m, "ferry_tags", i, name, NULL);
	}
	metrics_forget(m, "ferry_tags", "r0");
	text = render(m);
	assert_non_null(strstr(text, "ferry_metrics_series_dropped_total 5\n"));
	assert_non_null(strstr(text, "ferry_queue_depth 7\n"));
	assert_null(strstr(text, "repository=\"r0\""));
	assert_non_null(strstr(text, "ferry_tags{repository=\"r1\"} 1\n"));
	free(text);
	metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_metrics__counters_render_with_help_type_and_labels),
		cmocka_unit_test(
		        test_metrics__a_hostile_label_value_cannot_break_a_line),
		cmocka_unit_test(
		        test_metrics__histogram_buckets_are_cumulative),
		cmocka_unit_test(
		        test_metrics__series_past_the_limit_are_counted_not_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
