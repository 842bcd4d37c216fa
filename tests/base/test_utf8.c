/*
 * Unit tests for core/base/utf8: decoding and encoding one code point with
 * the rules of Go's unicode/utf8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/utf8.h"

static void
decodes(const char *s, size_t len, int32_t want, size_t want_size)
{
	size_t size = 99;
	int32_t r = utf8_decode(s, len, &size);

	if (r != want || size != want_size)
		fail_msg("decoding %zu bytes from 0x%02x: got %d/%zu, want "
		         "%d/%zu",
		         len, (unsigned char)s[0], (int)r, size, (int)want,
		         want_size);
}

static void
test_utf8__decodes_each_sequence_length(void **state)
{
	(void)state;
	decodes("a", 1, 'a', 1);
	decodes("\x00", 1, 0, 1);
	decodes("\x7f", 1, 0x7f, 1);
	decodes("\xc2\x80", 2, 0x80, 2);
	decodes("\xc3\xa9tag", 5, 0xe9, 2);
	decodes("\xdf\xbf", 2, 0x7ff, 2);
	decodes("\xe0\xa0\x80", 3, 0x800, 3);
	decodes("\xe2\x82\xac", 3, 0x20ac, 3);
	decodes("\xef\xbf\xbd", 3, 0xfffd, 3);
	decodes("\xf0\x90\x80\x80", 4, 0x10000, 4);
	decodes("\xf4\x8f\xbf\xbf", 4, 0x10ffff, 4);
}

static void
test_utf8__an_invalid_sequence_is_one_invalid_byte(void **state)
{
	(void)state;
	/* stray continuation bytes and lead bytes that start nothing */
	decodes("\x80", 1, UTF8_INVALID, 1);
	decodes("\xbf", 1, UTF8_INVALID, 1);
	decodes("\xc0\x80", 2, UTF8_INVALID, 1);
	decodes("\xc1\xbf", 2, UTF8_INVALID, 1);
	decodes("\xf5\x80\x80\x80", 4, UTF8_INVALID, 1);
	decodes("\xff", 1, UTF8_INVALID, 1);
	/* overlong forms */
	decodes("\xe0\x80\xaf", 3, UTF8_INVALID, 1);
	decodes("\xf0\x8f\xbf\xbf", 4, UTF8_INVALID, 1);
	/* surrogates and past U+10FFFF */
	decodes("\xed\xa0\x80", 3, UTF8_INVALID, 1);
	decodes("\xed\xbf\xbf", 3, UTF8_INVALID, 1);
	decodes("\xf4\x90\x80\x80", 4, UTF8_INVALID, 1);
	/* a bad continuation byte */
	decodes("\xe2\x28\xa1", 3, UTF8_INVALID, 1);
	decodes("\xc3"
	        "a",
	        2, UTF8_INVALID, 1);
}

static void
test_utf8__a_truncated_sequence_is_invalid_without_reading_past_len(
        void **state)
{
	(void)state;
	decodes("\xe2\x82\xac", 2, UTF8_INVALID, 1);
	decodes("\xf0\x90\x80\x80", 3, UTF8_INVALID, 1);
	decodes("\xc3\xa9", 1, UTF8_INVALID, 1);
	decodes("", 0, UTF8_INVALID, 1);
}

static void
test_utf8__encodes_and_decodes_back_every_code_point(void **state)
{
	char out[UTF8_MAX_BYTES];

	(void)state;
	for (int32_t r = 0; r <= UTF8_MAX_RUNE; r++) {
		size_t n = utf8_encode(out, r), size;

		if (r >= 0xd800 && r <= 0xdfff)
			continue;
		if (utf8_decode(out, n, &size) != r || size != n)
			fail_msg("U+%04X does not survive encoding", (int)r);
	}
}

static void
test_utf8__encodes_what_is_not_a_code_point_as_u_fffd(void **state)
{
	char out[UTF8_MAX_BYTES];

	(void)state;
	assert_int_equal(utf8_encode(out, -1), 3);
	assert_memory_equal(out, "\xef\xbf\xbd", 3);
	assert_int_equal(utf8_encode(out, 0xd800), 3);
	assert_memory_equal(out, "\xef\xbf\xbd", 3);
	assert_int_equal(utf8_encode(out, UTF8_MAX_RUNE + 1), 3);
	assert_memory_equal(out, "\xef\xbf\xbd", 3);
	assert_int_equal(utf8_encode(out, 'x'), 1);
	assert_int_equal(out[0], 'x');
}

/* libyaml counts "é" as one character and skips the BOM. */
static void
test_utf8__an_index_turns_character_marks_into_byte_offsets(void **state)
{
	const char *text = "\xEF\xBB\xBF"
	                   "a: \xC3\xA9t\xC3\xA9\nb: \xF0\x9F\x9A\xA2\n";
	struct utf8_index x;

	(void)state;
	utf8_index_init(&x, text, strlen(text));
	assert_false(x.ascii);
	assert_int_equal(utf8_index_offset(&x, 0), 3);   /* 'a' */
	assert_int_equal(utf8_index_offset(&x, 6), 11);  /* '\n' */
	assert_int_equal(utf8_index_offset(&x, 3), 6);   /* back: 'é' */
	assert_int_equal(utf8_index_offset(&x, 10), 15); /* the ship */
	assert_int_equal(utf8_index_offset(&x, 11), 19); /* '\n' */
	assert_int_equal(utf8_index_offset(&x, 99), 20); /* past: len */
	assert_int_equal(utf8_index_offset(&x, 4), 8);   /* 't' */
}

static void
test_utf8__an_ascii_index_is_the_mark_plus_the_bom(void **state)
{
	struct utf8_index x;

	(void)state;
	utf8_index_init(&x, "a: b\n", 5);
	assert_true(x.ascii);
	assert_int_equal(utf8_index_offset(&x, 3), 3);
	assert_int_equal(utf8_index_offset(&x, 9), 5);
	utf8_index_init(&x,
	                "\xEF\xBB\xBF"
	                "a: b\n",
	                8);
	assert_int_equal(utf8_index_offset(&x, 0), 3);
	assert_int_equal(utf8_index_offset(&x, 3), 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8__decodes_each_sequence_length),
		cmocka_unit_test(
		        test_utf8__an_invalid_sequence_is_one_invalid_byte),
		cmocka_unit_test(
		        test_utf8__a_truncated_sequence_is_invalid_without_reading_past_len),
		cmocka_unit_test(
		        test_utf8__encodes_and_decodes_back_every_code_point),
		cmocka_unit_test(
		        test_utf8__encodes_what_is_not_a_code_point_as_u_fffd),
		cmocka_unit_test(
		        test_utf8__an_index_turns_character_marks_into_byte_offsets),
		cmocka_unit_test(
		        test_utf8__an_ascii_index_is_the_mark_plus_the_bom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
