/*
 * Unit tests for core/base/rfc3339: parsing and writing RFC 3339
 * date-times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/rfc3339.h"

static void
parses(const char *in, int64_t sec, int32_t nsec)
{
	struct err e = ERR_INIT;
	int64_t s = -1;
	int32_t ns = -1;

	if (rfc3339_parse(&s, &ns, in, strlen(in), &e) != 0)
		fail_msg("'%s': %s", in, e.msg);
	if (s != sec || ns != nsec)
		fail_msg("'%s': got %lld.%09d, want %lld.%09d", in,
		         (long long)s, (int)ns, (long long)sec, (int)nsec);
}

static void
refuses(const char *in)
{
	struct err e = ERR_INIT;
	int64_t s;

	if (rfc3339_parse(&s, NULL, in, strlen(in), &e) != -ERR_INVALID)
		fail_msg("'%s' was accepted", in);
	assert_non_null(strstr(e.msg, "not an RFC 3339 date-time"));
}

static void
formats(int64_t sec, int32_t nsec, const char *want)
{
	struct buf b = BUF_INIT;

	assert_int_equal(rfc3339_format(&b, sec, nsec), 0);
	assert_string_equal(b.ptr, want);
	buf_release(&b);
}

static void
test_rfc3339__parses_utc_times_to_seconds_since_the_epoch(void **state)
{
	(void)state;
	parses("1970-01-01T00:00:00Z", 0, 0);
	parses("1970-01-01T00:01:00Z", 60, 0);
	parses("2024-01-02T02:04:05Z", 1704161045, 0);
	parses("1969-12-31T23:59:59Z", -1, 0);
	parses("0000-01-01T00:00:00Z", -62167219200LL, 0);
	parses("9999-12-31T23:59:59Z", 253402300799LL, 0);
}

static void
test_rfc3339__applies_numeric_offsets(void **state)
{
	(void)state;
	parses("2024-01-02T03:04:05+01:00", 1704161045, 0);
	parses("2024-01-01T21:34:05-04:30", 1704161045, 0);
	parses("2024-01-02T02:04:05-00:00", 1704161045, 0);
	parses("2024-01-02T02:04:05+00:00", 1704161045, 0);
}

static void
test_rfc3339__keeps_nanoseconds_and_drops_further_digits(void **state)
{
	(void)state;
	parses("2024-01-02T03:04:05.5+01:00", 1704161045, 500000000);
	parses("2024-01-02T02:04:05.123456789Z", 1704161045, 123456789);
	parses("2024-01-02T02:04:05.1234567891234Z", 1704161045, 123456789);
	parses("2024-01-02T02:04:05.000000001Z", 1704161045, 1);
	refuses("2024-01-02T02:04:05.Z");
	refuses("2024-01-02T02:04:05,5Z");
}

static void
test_rfc3339__accepts_lower_case_t_and_z_and_a_space(void **state)
{
	(void)state;
	parses("2024-01-02t02:04:05z", 1704161045, 0);
	parses("2024-01-02 02:04:05Z", 1704161045, 0);
	refuses("2024-01-02_02:04:05Z");
}

static void
test_rfc3339__refuses_days_the_month_does_not_have(void **state)
{
	(void)state;
	parses("2024-02-29T00:00:00Z", 1709164800, 0);
	parses("2000-02-29T00:00:00Z", 951782400, 0);
	refuses("2023-02-29T00:00:00Z");
	refuses("1900-02-29T00:00:00Z");
	refuses("2024-04-31T00:00:00Z");
	refuses("2024-02-31T00:00:00Z");
	refuses("2024-00-10T00:00:00Z");
	refuses("2024-13-10T00:00:00Z");
	refuses("2024-01-00T00:00:00Z");
}

static void
test_rfc3339__checks_the_clock_fields(void **state)
{
	(void)state;
	/* a leap second is the first second of the next minute */
	parses("2016-12-31T23:59:60Z", 1483228800, 0);
	refuses("2024-01-02T24:00:00Z");
	refuses("2024-01-02T23:60:00Z");
	refuses("2024-01-02T23:59:61Z");
	refuses("2024-01-02T23:59:59+24:00");
	refuses("2024-01-02T23:59:59+01:60");
}

static void
test_rfc3339__refuses_other_shapes(void **state)
{
	struct err e = ERR_INIT;
	int64_t s;

	(void)state;
	refuses("2024-01-02");
	refuses("2024-01-02T02:04:05");
	refuses("2024-01-02T02:04Z");
	refuses("2024-1-02T02:04:05Z");
	refuses("+2024-01-02T02:04:05Z");
	refuses("2024-01-02T02:04:05+0100");
	refuses("2024-01-02T02:04:05+01");
	refuses("2024-01-02T02:04:05Zjunk");
	refuses("2024-01-02T02:04:05 Z");
	refuses("");
	/* the input needs no NUL: a prefix of a valid time is not one */
	assert_int_equal(
	        rfc3339_parse(&s, NULL, "2024-01-02T02:04:05Z", 19, &e),
	        -ERR_INVALID);
}

static void
test_rfc3339__formats_utc_with_the_shortest_fraction(void **state)
{
	(void)state;
	formats(0, 0, "1970-01-01T00:00:00Z");
	formats(1704161045, 0, "2024-01-02T02:04:05Z");
	formats(1704161045, 500000000, "2024-01-02T02:04:05.5Z");
	formats(1704161045, 123456789, "2024-01-02T02:04:05.123456789Z");
	formats(1704161045, 1, "2024-01-02T02:04:05.000000001Z");
	formats(-1, 0, "1969-12-31T23:59:59Z");
	formats(-62167219200LL, 0, "0000-01-01T00:00:00Z");
	formats(253402300799LL, 0, "9999-12-31T23:59:59Z");
}

static void
test_rfc3339__format_refuses_years_it_cannot_write(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(rfc3339_format(&b, -62167219201LL, 0), -ERR_INVALID);
	assert_int_equal(rfc3339_format(&b, 253402300800LL, 0), -ERR_INVALID);
	assert_int_equal(rfc3339_format(&b, INT64_MIN, 0), -ERR_INVALID);
	assert_int_equal(rfc3339_format(&b, INT64_MAX, 0), -ERR_INVALID);
	assert_int_equal(rfc3339_format(&b, 0, -1), -ERR_INVALID);
	assert_int_equal(rfc3339_format(&b, 0, 1000000000), -ERR_INVALID);
	assert_int_equal(b.len, 0);
}

static void
test_rfc3339__a_formatted_time_parses_back_to_the_same_instant(void **state)
{
	static const int64_t secs[] = { 0,
		                        1,
		                        -1,
		                        951782400,
		                        1709164800,
		                        -62167219200LL,
		                        253402300799LL,
		                        -12219292800LL };
	struct buf b = BUF_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		buf_reset(&b);
		assert_int_equal(rfc3339_format(&b, secs[i], 987654321), 0);
		parses(b.ptr, secs[i], 987654321);
	}
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_rfc3339__parses_utc_times_to_seconds_since_the_epoch),
		cmocka_unit_test(test_rfc3339__applies_numeric_offsets),
		cmocka_unit_test(
		        test_rfc3339__keeps_nanoseconds_and_drops_further_digits),
		cmocka_unit_test(
		        test_rfc3339__accepts_lower_case_t_and_z_and_a_space),
		cmocka_unit_test(
		        test_rfc3339__refuses_days_the_month_does_not_have),
		cmocka_unit_test(test_rfc3339__checks_the_clock_fields),
		cmocka_unit_test(test_rfc3339__refuses_other_shapes),
		cmocka_unit_test(
		        test_rfc3339__formats_utc_with_the_shortest_fraction),
		cmocka_unit_test(
		        test_rfc3339__format_refuses_years_it_cannot_write),
		cmocka_unit_test(
		        test_rfc3339__a_formatted_time_parses_back_to_the_same_instant),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
