/*
 * Unit tests for core/base/regex: Go regexp semantics on PCRE2, the RE2
 * syntax check, match limits and per-thread match state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/regex.h"

static struct regex *
compile(const char *pattern)
{
	struct regex *re = NULL;
	struct err e = ERR_INIT;

	if (regex_new(&re, pattern, strlen(pattern), &e) != 0)
		fail_msg("'%s': %s", pattern, e.msg);
	return re;
}

/* 1 or 0 from regex_exec, with the whole match in [*start, *end). */
static int
run(const char *pattern, const char *subject, size_t len, size_t *start,
    size_t *end)
{
	struct regex *re = compile(pattern);
	struct regex_match *m = NULL;
	struct err e = ERR_INIT;
	int rc;

	assert_int_equal(regex_match_new(&m, re, &e), 0);
	rc = regex_exec(re, m, subject, len);
	if (rc == 1 && start != NULL)
		assert_true(regex_group(m, 0, start, end));
	regex_match_free(m);
	regex_free(re);
	return rc;
}

static void
refused(const char *pattern, const char *needle)
{
	struct regex *re = NULL;
	struct err e = ERR_INIT;

	if (regex_new(&re, pattern, strlen(pattern), &e) != -ERR_INVALID)
		fail_msg("'%s' was accepted", pattern);
	if (strstr(e.msg, needle) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", pattern, e.msg,
		         needle);
	assert_null(re);
}

static void
test_regex__dollar_matches_only_at_the_very_end(void **state)
{
	(void)state;
	assert_int_equal(run("^1$", "1\n", 2, NULL, NULL), 0);
	assert_int_equal(run("^1$", "1", 1, NULL, NULL), 1);
	/* with (?m) it matches before a newline, as in Go */
	assert_int_equal(run("(?m)^1$", "1\n", 2, NULL, NULL), 1);
}

static void
test_regex__matches_are_unanchored_and_leftmost_first(void **state)
{
	size_t s, e;

	(void)state;
	assert_int_equal(run("a|ab", "xab", 3, &s, &e), 1);
	assert_int_equal(s, 1);
	assert_int_equal(e, 2);
	assert_int_equal(run("[0-9]+", "v12.3", 5, &s, &e), 1);
	assert_int_equal(s, 1);
	assert_int_equal(e, 3);
	assert_int_equal(run("(?U)a+", "aaa", 3, &s, &e), 1);
	assert_int_equal(e - s, 1);
}

static void
test_regex__invalid_utf8_in_a_subject_does_not_fail_the_match(void **state)
{
	size_t s, e;

	(void)state;
	assert_int_equal(run("a",
	                     "\xff\xfe"
	                     "a",
	                     3, &s, &e),
	                 1);
	assert_int_equal(s, 2);
	assert_int_equal(run("b", "\xff", 1, NULL, NULL), 0);
}

static void
test_regex__classes_are_ascii_as_in_go(void **state)
{
	(void)state;
	assert_int_equal(run("^\\d$", "\xd9\xa3", 2, NULL, NULL), 0);
	assert_int_equal(run("^\\w+$", "caf\xc3\xa9", 5, NULL, NULL), 0);
	/* case folding is Unicode, as in Go */
	assert_int_equal(run("(?i)^\xc3\xa9$", "\xc3\x89", 2, NULL, NULL), 1);
}

static void
test_regex__numbers_and_names_groups(void **state)
{
	struct regex *re = compile("^(?P<major>\\d+)\\.(\\d+)(?<pre>-rc)?");
	struct regex_match *m = NULL;
	struct err e = ERR_INIT;
	size_t s, end;

	(void)state;
	assert_int_equal(regex_group_count(re), 3);
	assert_int_equal(regex_group_index(re, "major", 5), 1);
	assert_int_equal(regex_group_index(re, "pre", 3), 3);
	assert_int_equal(regex_group_index(re, "maj", 3), -1);
	assert_int_equal(regex_match_new(&m, re, &e), 0);
	assert_int_equal(regex_exec(re, m, "12.7", 4), 1);
	assert_true(regex_group(m, 1, &s, &end));
	assert_int_equal(s, 0);
	assert_int_equal(end, 2);
	assert_true(regex_group(m, 2, &s, &end));
	assert_int_equal(s, 3);
	/* a group that took no part in the match */
	assert_false(regex_group(m, 3, &s, &end));
	assert_false(regex_group(m, 4, &s, &end));
	regex_match_free(m);
	regex_free(re);
}

static void
test_regex__match_state_without_a_regex_fits_any_pattern(void **state)
{
	struct regex *re = compile("(a)(b)(c)");
	struct regex_match *m = NULL;
	struct err e = ERR_INIT;
	size_t s, end;

	(void)state;
	assert_int_equal(regex_match_new(&m, NULL, &e), 0);
	assert_int_equal(regex_exec(re, m, "xabc", 4), 1);
	assert_true(regex_group(m, 0, &s, &end));
	assert_int_equal(s, 1);
	/* no room for the groups: they read as not set */
	assert_false(regex_group(m, 1, &s, &end));
	assert_int_equal(regex_exec(re, m, "ab", 2), 0);
	regex_match_free(m);
	regex_free(re);
}

static void
test_regex__refuses_syntax_go_re2_lacks(void **state)
{
	(void)state;
	refused("(a)\\1", "uses backreferences");
	refused("(?P<x>a)(?P=x)", "backreferences");
	refused("(?<x>a)\\k<x>", "backreferences");
	refused("(a)\\g1", "backreferences");
	refused("^(?!main)", "uses lookaround assertions");
	refused("a(?=b)", "lookaround");
	refused("(?<=x)y", "lookaround");
	refused("(?<!x)y", "lookaround");
	refused("(?>a+)b", "atomic groups");
	refused("a*+b", "possessive quantifiers");
	refused("a++", "possessive quantifiers");
	refused("a?+", "possessive quantifiers");
	refused("a{2}+", "possessive quantifiers");
	refused("[a-z]++", "possessive quantifiers");
	refused("a+?+", "invalid regular expression");
	refused("(a|(?R))", "recursion");
	refused("(a)(?1)", "recursion");
	refused("(a)(?-1)", "recursion");
	refused("(?<n>a)(?&n)", "recursion");
	refused("(?P<n>a)(?P>n)", "subroutine calls");
	refused("(a)?(?(1)b|c)", "conditional groups");
	refused("(?|(a)|(b))", "branch reset groups");
	refused("a(?#note)b", "comments");
	refused("a(?C1)b", "callouts");
	refused("(*FAIL)|a", "backtracking control verbs");
	refused("(?'n'a)", "named groups written (?'name')");
	refused("(?x)a b", "the flag 'x'");
	refused("(?i-n:a)", "the flag 'n'");
	refused("(?^)a", "the flag '^'");
	refused("(?)a", "an empty flag group");
	refused("a{1001}", "repetition counts above 1000");
	refused("a{2,1001}", "repetition counts above 1000");
	refused("a\\Z", "the escape '\\Z'");
	refused("\\Gab", "the escape '\\G'");
	refused("a\\Kb", "the escape '\\K'");
	refused("\\h", "the escape '\\h'");
	refused("a\\R", "the escape '\\R'");
	refused("\\X", "the escape '\\X'");
	refused("\\e", "the escape '\\e'");
	refused("\\cA", "the escape '\\c'");
	refused("\\o{101}", "the escape '\\o'");
	refused("\\N", "the escape '\\N'");
	refused("a\\E", "the escape '\\E'");
	refused("[\\b]", "the escape '\\b' in a class");
	refused("[\\Qa\\E]", "the escape '\\Q' in a class");
	refused("[\\8]", "the escape '\\8' in a class");
	refused("\\\xc3\xa9", "an escaped non-ASCII character");
}

static void
test_regex__accepts_the_syntax_go_has(void **state)
{
	static const char *const ok[] = {
		"^v?(?P<ver>[0-9]+\\.[0-9]+\\.[0-9]+)",
		"(?<ts>\\d+)-(?P<sha>[a-f0-9]{7,40})$",
		"(?i)RELEASE-(.+)",
		"(?i:a)(?-i:b)(?sm)c(?U)d",
		"[[:alpha:]][[:^digit:]]+",
		"[]a][^]b]",
		"[\\d\\-.]+\\.",
		"\\Qa.b*+\\E+",
		"\\x41\\x{263a}+\\x{10FFFF}",
		"\\pL\\p{Greek}+\\PN\\P{Lu}",
		"\\A\\b\\B\\z",
		"\\a\\f\\t\\n\\r\\v\\0\\012",
		"a{2}b{2,}c{2,1000}d{0}",
		"a*?b+?c??d{2}?",
		"x{,3}y{a}z{1,2,3}",
		"\\$\\^\\{\\}\\(\\)\\[\\]\\|\\*\\+\\?\\.\\\\",
		/* in a class a digit escape is an octal character, and '(?='
		 * is three characters */
		"[\\1(?=]",
		"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		regex_free(compile(ok[i]));
}

static void
test_regex__reports_syntax_errors_with_the_offset(void **state)
{
	(void)state;
	refused("(", "invalid regular expression '(': missing closing "
	             "parenthesis at offset 1");
	refused("a)", "at offset 1");
	refused("[a", "invalid regular expression");
}

static void
test_regex__refuses_patterns_longer_than_the_limit(void **state)
{
	char *p = malloc(REGEX_MAX_PATTERN + 2);
	struct regex *re = NULL;
	struct err e = ERR_INIT;

	(void)state;
	assert_non_null(p);
	memset(p, 'a', REGEX_MAX_PATTERN + 1);
	assert_int_equal(regex_new(&re, p, REGEX_MAX_PATTERN, &e), 0);
	regex_free(re);
	assert_int_equal(regex_new(&re, p, REGEX_MAX_PATTERN + 1, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "longer than 4096 bytes"));
	free(p);
}

static void
test_regex__a_pathological_match_stops_at_the_limit(void **state)
{
	/* exponential backtracking: each 'a' can end either group */
	struct regex *re = compile("^(a|aa)+(b|bb)+(a|aa)+$");
	struct regex_match *m = NULL;
	struct err e = ERR_INIT;
	char subject[129];
	struct timespec t0, t1;

	(void)state;
	memset(subject, 'a', 60);
	memset(subject + 60, 'b', 2);
	memset(subject + 62, 'a', 60);
	subject[122] = 'c';
	assert_int_equal(regex_match_new(&m, re, &e), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(regex_exec(re, m, subject, 123), -ERR_INVALID);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* the limit, not the end of the search, stopped it */
	assert_true(t1.tv_sec - t0.tv_sec < 10);
	/* the same pattern still matches where it can */
	assert_int_equal(regex_exec(re, m, "aabaa", 5), 1);
	regex_match_free(m);
	regex_free(re);
}

struct worker {
	const struct regex *re;
	int hits;
	int rc;
};

static void *
work(void *payload)
{
	struct worker *w = payload;
	struct regex_match *m = NULL;
	struct err e = ERR_INIT;
	char tag[32];

	if ((w->rc = regex_match_new(&m, w->re, &e)) < 0)
		return NULL;
	for (int i = 0; i < 2000; i++) {
		snprintf(tag, sizeof(tag), "v1.%d.%d", i, i % 7);
		if (regex_exec(w->re, m, tag, strlen(tag)) == 1)
			w->hits++;
	}
	regex_match_free(m);
	return NULL;
}

static void
test_regex__threads_share_a_compiled_pattern(void **state)
{
	struct regex *re = compile("^v1\\.(?P<minor>[0-9]*[05])\\.");
	struct worker w[4];
	pthread_t t[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ re, 0, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].rc, 0);
		assert_int_equal(w[i].hits, 400);
	}
	regex_free(re);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_regex__dollar_matches_only_at_the_very_end),
		cmocka_unit_test(
		        test_regex__matches_are_unanchored_and_leftmost_first),
		cmocka_unit_test(
		        test_regex__invalid_utf8_in_a_subject_does_not_fail_the_match),
		cmocka_unit_test(test_regex__classes_are_ascii_as_in_go),
		cmocka_unit_test(test_regex__numbers_and_names_groups),
		cmocka_unit_test(
		        test_regex__match_state_without_a_regex_fits_any_pattern),
		cmocka_unit_test(test_regex__refuses_syntax_go_re2_lacks),
		cmocka_unit_test(test_regex__accepts_the_syntax_go_has),
		cmocka_unit_test(
		        test_regex__reports_syntax_errors_with_the_offset),
		cmocka_unit_test(
		        test_regex__refuses_patterns_longer_than_the_limit),
		cmocka_unit_test(
		        test_regex__a_pathological_match_stops_at_the_limit),
		cmocka_unit_test(test_regex__threads_share_a_compiled_pattern),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
