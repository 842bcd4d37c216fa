/*
 * test_argocd_pipeline.c - the small pure parts of the Argo CD pipeline
 * stage (core/pipeline/pipeline.h): what a registry's values become
 * before the policy sees them.  The stage itself runs end to end in
 * test_argocd_e2e.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pipeline/pipeline.h"

/* Seconds to nanoseconds, clamped where int64 nanoseconds end (a config
 * blob claiming the year 9999 must not overflow: UBSan aborts on it). */
static void
test_argocd_pipeline__creation_times_past_2262_are_clamped(void **state)
{
	(void)state;
	assert_true(pipeline_argocd_created_ns(0) == 0);
	assert_true(pipeline_argocd_created_ns(1700000000) ==
	            1700000000LL * 1000000000LL);
	assert_true(pipeline_argocd_created_ns(-1) == -1000000000LL);
	/* 2262-04-11T23:47:16Z is the last whole second that fits */
	assert_true(pipeline_argocd_created_ns(9223372036LL) ==
	            9223372036LL * 1000000000LL);
	assert_true(pipeline_argocd_created_ns(9223372037LL) == INT64_MAX);
	/* 9999-12-31T23:59:59Z */
	assert_true(pipeline_argocd_created_ns(253402300799LL) == INT64_MAX);
	assert_true(pipeline_argocd_created_ns(INT64_MAX) == INT64_MAX);
	assert_true(pipeline_argocd_created_ns(-9223372037LL) == INT64_MIN);
	assert_true(pipeline_argocd_created_ns(INT64_MIN + 1) == INT64_MIN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_argocd_pipeline__creation_times_past_2262_are_clamped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
