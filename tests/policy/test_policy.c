/*
 * test_policy.c - unit tests for policy/: semver parsing and precedence,
 * Masterminds constraints, filters and extract templates, globs, and the
 * strategies.  One test per behaviour; no mocks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/filter.h"
#include "policy/policy.h"
#include "policy/semver.h"

/* ---- helpers ---- */

static bool
parses(const char *s, enum semver_mode mode)
{
	struct semver_version v;

	return semver_version_parse(&v, s, strlen(s), mode, NULL) == 0;
}

static int
cmp(const char *a, const char *b)
{
	struct semver_version va, vb;

	assert_int_equal(
	        semver_version_parse(&va, a, strlen(a), SEMVER_LOOSE, NULL), 0);
	assert_int_equal(
	        semver_version_parse(&vb, b, strlen(b), SEMVER_LOOSE, NULL), 0);
	return semver_version_compare(&va, &vb);
}

/* Does version v (loose) satisfy range c?  The range must parse. */
static bool
sat(const char *c, const char *v)
{
	struct semver_constraint *k = NULL;
	struct semver_version ver;
	struct err e = ERR_INIT;
	bool ok;

	if (semver_constraint_new(&k, c, strlen(c), &e) < 0)
		fail_msg("range '%s' did not parse: %s", c, e.msg);
	assert_int_equal(
	        semver_version_parse(&ver, v, strlen(v), SEMVER_LOOSE, NULL),
	        0);
	ok = semver_constraint_check(k, &ver);
	semver_constraint_free(k);
	return ok;
}

static bool
range_valid(const char *c)
{
	struct semver_constraint *k = NULL;
	struct err e = ERR_INIT;
	int rc = semver_constraint_new(&k, c, strlen(c), &e);

	semver_constraint_free(k);
	if (rc < 0)
		assert_int_equal(e.code, ERR_INVALID);
	return rc == 0;
}

/* Runs a policy over a NULL-terminated list; returns the winner or NULL. */
static const char *
pick(const struct policy_options *o, const char *const *tags)
{
	static char out[256];
	struct policy *p = NULL;
	struct policy_tag t[64];
	struct err e = ERR_INIT;
	size_t n = 0, idx = 0;
	int rc;

	if (policy_new(&p, o, &e) < 0)
		fail_msg("policy_new: %s", e.msg);
	for (; tags[n] != NULL; n++) {
		t[n].name = tags[n];
		t[n].len = strlen(tags[n]);
		t[n].has_created = false;
		t[n].created_ns = 0;
	}
	rc = policy_select(p, t, n, &idx, NULL, NULL, &e);
	policy_free(p);
	if (rc == -ERR_NOTFOUND)
		return NULL;
	assert_int_equal(rc, 0);
	snprintf(out, sizeof(out), "%s", tags[idx]);
	return out;
}

static const char *
pick_semver(const char *range, bool loose, const char *const *tags)
{
	struct policy_options o = POLICY_OPTIONS_INIT;

	o.kind = POLICY_SEMVER;
	o.semver_range = range;
	o.loose = loose;
	return pick(&o, tags);
}

static void
expand(const char *pattern, const char *extract, const char *tag,
       const char *want)
{
	struct filter *f = NULL;
	struct filter_match *m = NULL;
	struct buf v = BUF_INIT;
	struct err e = ERR_INIT;

	if (filter_new(&f, pattern, strlen(pattern), extract, strlen(extract),
	               &e) < 0)
		fail_msg("filter_new: %s", e.msg);
	assert_int_equal(filter_match_new(&m, f, &e), 0);
	assert_int_equal(filter_apply(f, m, tag, strlen(tag), &v), 1);
	assert_string_equal(v.ptr, want);
	buf_release(&v);
	filter_match_free(m);
	filter_free(f);
}

static bool
glob(const char *pattern, const char *name)
{
	struct glob *g = NULL;
	struct err e = ERR_INIT;
	bool ok;

	if (glob_new(&g, pattern, strlen(pattern), &e) < 0)
		fail_msg("glob_new: %s", e.msg);
	ok = glob_match(g, name, strlen(name));
	glob_free(g);
	return ok;
}

/* ---- versions ---- */

static void
test_policy_semver__flux_parsing_needs_three_dot_separated_parts(void **state)
{
	(void)state;
	assert_true(parses("1.2.3", SEMVER_FLUX));
	assert_true(parses("v1.2.3", SEMVER_FLUX));
	assert_true(parses("2025.07.03", SEMVER_FLUX));
	assert_true(parses("1.2-rc.1", SEMVER_FLUX)); /* SplitN quirk */
	assert_false(parses("1.2", SEMVER_FLUX));
	assert_false(parses("v1", SEMVER_FLUX));
	assert_false(parses("1.2.3.4", SEMVER_FLUX));
	assert_false(parses("latest", SEMVER_FLUX));
	assert_false(parses("1.0.0p", SEMVER_FLUX));
}

static void
test_policy_semver__loose_parsing_fills_missing_parts_with_zero(void **state)
{
	struct semver_version v;

	(void)state;
	assert_int_equal(semver_version_parse(&v, "v1", 2, SEMVER_LOOSE, NULL),
	                 0);
	assert_true(v.major == 1 && v.minor == 0 && v.patch == 0);
	assert_int_equal(semver_version_parse(&v, "1.2", 3, SEMVER_LOOSE, NULL),
	                 0);
	assert_true(v.major == 1 && v.minor == 2 && v.patch == 0);
	assert_true(parses("01.002.3", SEMVER_LOOSE));
	assert_false(parses("V1.2.3", SEMVER_LOOSE));
	assert_false(parses("1.2.3-", SEMVER_LOOSE));
	assert_false(parses("1.2.3+", SEMVER_LOOSE));
	assert_false(parses("", SEMVER_LOOSE));
}

static void
test_policy_semver__strict_parsing_follows_semver_2(void **state)
{
	(void)state;
	assert_true(parses("1.2.3-rc.1+build.5", SEMVER_STRICT));
	assert_false(parses("v1.2.3", SEMVER_STRICT));
	assert_false(parses("01.2.3", SEMVER_STRICT));
	assert_false(parses("1.2", SEMVER_STRICT));
}

static void
test_policy_semver__rejects_leading_zero_numeric_prerelease(void **state)
{
	(void)state;
	assert_false(parses("1.2.3-01", SEMVER_LOOSE));
	assert_true(parses("1.2.3-0a", SEMVER_LOOSE));
	assert_true(parses("1.2.3+001", SEMVER_LOOSE));
}

static void
test_policy_semver__rejects_numbers_beyond_64_bits(void **state)
{
	(void)state;
	assert_true(parses("18446744073709551615.0.0", SEMVER_FLUX));
	assert_false(parses("18446744073709551616.0.0", SEMVER_FLUX));
}

static void
test_policy_semver__precedence_follows_semver_2(void **state)
{
	(void)state;
	assert_int_equal(cmp("1.0.0", "2.0.0"), -1);
	assert_int_equal(cmp("1.10.0", "1.9.0"), 1);
	assert_int_equal(cmp("1.0.0-rc.1", "1.0.0"), -1);
	assert_int_equal(cmp("1.0.0-alpha", "1.0.0-alpha.1"), -1);
	assert_int_equal(cmp("1.0.0-1", "1.0.0-alpha"), -1);
	assert_int_equal(cmp("1.0.0-rc.10", "1.0.0-rc.9"), 1);
	assert_int_equal(cmp("1.0.0-rc9", "1.0.0-rc10"), 1);
	assert_int_equal(cmp("1.0.0+a", "1.0.0+b"), 0);
	assert_int_equal(cmp("v1.0.0", "1.0.0"), 0);
}

static void
test_policy_semver__huge_prerelease_numbers_compare_as_text(void **state)
{
	(void)state;
	/* Masterminds parses with ParseUint; past 64 bits it is text, and
	 * text sorts above numbers. */
	assert_int_equal(cmp("1.0.0-99999999999999999999", "1.0.0-5"), 1);
	assert_int_equal(cmp("1.0.0-18446744073709551615", "1.0.0-5"), 1);
	assert_int_equal(cmp("1.0.0-99999999999999999999", "1.0.0-a"), -1);
}

/* ---- constraints ---- */

static void
test_policy_semver__comparison_operators_work(void **state)
{
	(void)state;
	assert_true(sat("=1.2.3", "1.2.3"));
	assert_true(sat("1.2.3", "v1.2.3"));
	assert_false(sat("!=1.2.3", "1.2.3"));
	assert_true(sat("!=1.2.3", "1.2.4"));
	assert_true(sat(">1.2.3", "1.2.4"));
	assert_false(sat(">1.2.3", "1.2.3"));
	assert_true(sat("<1.2.3", "1.2.2"));
	assert_true(sat(">=1.2.3", "1.2.3"));
	assert_true(sat("=>1.2.3", "1.2.3"));
	assert_true(sat("<=1.2.3", "1.2.3"));
	assert_true(sat("=<1.2.3", "1.2.3"));
	assert_false(sat("=<1.2.3", "1.2.4"));
}

static void
test_policy_semver__tilde_allows_patch_updates(void **state)
{
	(void)state;
	assert_true(sat("~1.2.3", "1.2.9"));
	assert_false(sat("~1.2.3", "1.3.0"));
	assert_true(sat("~>1.2", "1.2.0"));
	assert_true(sat("~1", "1.9.0"));
	assert_false(sat("~1", "2.0.0"));
	assert_true(sat("~0.0.0", "5.0.0"));
}

static void
test_policy_semver__caret_allows_updates_that_keep_the_left_digit(void **state)
{
	(void)state;
	assert_true(sat("^1.2.3", "1.9.0"));
	assert_false(sat("^1.2.3", "2.0.0"));
	assert_true(sat("^0.2.3", "0.2.9"));
	assert_false(sat("^0.2.3", "0.3.0"));
	assert_true(sat("^0.0.3", "0.0.3"));
	assert_false(sat("^0.0.3", "0.0.4"));
	assert_true(sat("^0", "0.9.0"));
	assert_false(sat("^0.0", "0.1.0"));
}

static void
test_policy_semver__wildcards_and_partial_versions_match_ranges(void **state)
{
	(void)state;
	assert_true(sat("1.2.x", "1.2.7"));
	assert_false(sat("1.2.x", "1.3.0"));
	assert_true(sat("1.X", "1.9.9"));
	assert_true(sat("*", "3.0.0"));
	assert_true(sat("1.2", "1.2.5"));
	assert_true(sat("1", "1.5.0"));
	assert_false(sat(">1.x", "1.9.0")); /* >1 means 2 and above */
	assert_true(sat(">1.x", "2.0.0"));
	assert_true(sat("<=1.2", "1.2.9"));
	assert_true(sat("1.x.|", "1.4.0")); /* parts after a wildcard ignored */
}

static void
test_policy_semver__hyphen_ranges_are_inclusive(void **state)
{
	(void)state;
	assert_true(sat("1.2 - 1.4.5", "1.2.0"));
	assert_true(sat("1.2 - 1.4.5", "1.4.5"));
	assert_false(sat("1.2 - 1.4.5", "1.4.6"));
	assert_false(range_valid("1 -2"));
}

static void
test_policy_semver__and_with_spaces_or_commas_and_or_with_bars(void **state)
{
	(void)state;
	assert_true(sat(">=1.0 <2.0", "1.5.0"));
	assert_false(sat(">=1.0, <2.0", "2.0.0"));
	assert_true(sat(">=1.0,<2.0", "1.0.0"));
	assert_true(sat("<1.0 || >=3.0", "3.1.0"));
	assert_true(sat("<1.0||>=3.0", "0.1.0"));
	assert_false(sat("<1.0 || >=3.0", "2.0.0"));
}

static void
test_policy_semver__prereleases_need_a_prerelease_in_the_range(void **state)
{
	(void)state;
	assert_false(sat(">=1.0.0", "1.1.0-rc.1"));
	assert_true(sat(">=1.0.0-0", "1.1.0-rc.1"));
	assert_true(sat("^1.x-0", "1.1.0-rc.1"));
	assert_true(sat("2.x-0", "2.0.0-beta"));
	assert_true(sat(">=1.0.0-0 <2.0.0-0", "1.5.0-rc.1"));
}

/*
 * Masterminds 3.4.0, #267 (commit abab1c2 "Handle pre-releases on all in
 * an and group"): one comparison with a prerelease admits prereleases to
 * its whole AND group, and to no other OR group.  The rows marked "#267"
 * are that commit's TestConstraintsCheck rows; 3.2.0 (the oracle) checked
 * each comparison on its own and answers false to the first one.
 */
static void
test_policy_semver__a_prerelease_in_an_and_group_admits_prereleases_to_the_group(
        void **state)
{
	(void)state;
	assert_true(sat(">=1.0.0-0 <2.0.0", "1.1.0-rc.1")); /* issue 16 */
	assert_true(sat(">= 1.0.0  <= 2.0.0-beta", "1.0.1-beta")); /* #267 */
	assert_true(sat(">= 1.0.0  <= 2.0.0-beta", "1.0.1"));      /* #267 */
	assert_false(sat(">= 1.0.0  <= 2.0.0-beta", "3.0.0"));     /* #267 */
	assert_true(sat(">= 1.0.0  <= 2.0.0-beta || > 3", "1.0.1-beta"));
	assert_false(sat(">= 1.0.0  <= 2.0.0-beta || > 3", "3.0.1-beta"));
	assert_true(sat(">= 1.0.0  <= 2.0.0-beta != 1.0.1 || > 3",
	                "1.0.1-beta")); /* #267 */
	assert_false(sat(">= 1.0.0  <= 2.0.0-beta != 1.0.1-beta || > 3",
	                 "1.0.1-beta"));                        /* #267 */
	assert_true(sat(">= 1.0.0-0  <= 2.0.0", "1.0.1-beta")); /* #267 */
	/* the group's bounds still hold, compared by semver precedence */
	assert_true(sat(">=1.0.0-0 <2.0.0", "2.0.0-rc.1"));
	assert_false(sat(">=1.0.0-0 <2.0.0", "0.9.0-rc.1"));
	/* commas, tilde, caret and wildcards take part like the others */
	assert_true(sat(">=1.0.0-0, ~1.2.3", "1.2.9-rc.1"));
	assert_true(sat("^1.2 <1.5.0-0", "1.4.0-alpha"));
	assert_true(sat("1.x >=0.0.0-0", "1.7.0-beta.2"));
	assert_false(sat("1.x >=0.0.0-0", "2.0.0-beta.2"));
	/* an OR group without a prerelease keeps refusing them */
	assert_false(sat("<1.0.0 || >=2.0.0-0", "0.9.0-rc.1"));
	assert_true(sat("<1.0.0 || >=2.0.0-0", "2.0.1-rc.1"));
}

/*
 * Masterminds 3.4.0, #267 (TestConstraintCheck row {"!=4.1.0",
 * "5.1.0-alpha.1", false}): '!=' applies the prerelease rule like every
 * other operator; 3.2.0 applied it only to wildcard versions such as
 * "!=4.1", so "!=4.1.0" let any prerelease through.
 */
static void
test_policy_semver__not_equal_admits_no_prerelease_without_one_in_its_group(
        void **state)
{
	(void)state;
	assert_false(sat("!=4.1.0", "5.1.0-alpha.1"));
	assert_false(sat("!=4.1", "5.1.0-alpha.1"));
	assert_true(sat("!=4.1.0", "5.1.0"));
	assert_true(sat("!=4.1-alpha", "4.1.0"));
	assert_false(sat("!=4.1-alpha", "4.1.1-alpha"));
	assert_true(sat("!=4.1.0-0", "5.1.0-alpha.1"));
	assert_true(sat("!=4.1.0 >=1.0.0-0", "5.1.0-alpha.1"));
	assert_false(sat("!=4.1.0 >=1.0.0-0", "4.1.0"));
}

/*
 * Masterminds 3.2.1, #199 (commit b1bb761 "Fix issue with - ranges being
 * transformed to something imparsible"): the rewrite of "A - B" ends in a
 * space, so what follows the range is a comparison of its own.  3.2.0
 * glued it to B: "1.0.0 - 2.0.0 <=2.0.0" did not parse and "1 - 2 3" read
 * as ">= 1, <= 23".
 */
static void
test_policy_semver__a_hyphen_range_may_be_followed_by_more_comparisons(
        void **state)
{
	(void)state;
	assert_true(sat("1.0.0 - 2.0.0 <=2.0.0", "1.5.0"));  /* #199 */
	assert_true(sat("1.0.0 - 2.0.0, <=2.0.0", "1.5.0")); /* #199 */
	assert_true(sat("1.0.0 - 2.0.0 <=1.6", "1.6.9"));
	assert_false(sat("1.0.0 - 2.0.0 <=1.6", "1.7.0"));
	assert_false(sat("1 - 2 3", "10.0.0"));
	assert_false(sat("1 - 2 3", "2.5.0"));
	assert_true(sat("1 - 2 x", "1.5.0"));
	assert_true(range_valid("2 - 3 4.0.0 - 5.1"));
	assert_false(sat("2 - 3 4.0.0 - 5.1", "2.5.0"));
	assert_true(sat("1.2 - 1.4.5 !=1.3.0", "1.3.1"));
	assert_false(sat("1.2 - 1.4.5 !=1.3.0", "1.3.0"));
	assert_true(sat("1 - 2 ||3", "3.0.0"));
	assert_false(range_valid("1 - 2 -3"));
}

static void
test_policy_semver__invalid_ranges_are_rejected(void **state)
{
	(void)state;
	assert_false(range_valid(""));
	assert_false(range_valid(" "));
	assert_false(range_valid(">="));
	assert_false(range_valid("1.2.3.4"));
	assert_false(range_valid("latest"));
	assert_false(range_valid("1 ||"));
	assert_false(range_valid(">=1.0.0-01"));
	assert_false(range_valid("1|2"));
	assert_false(range_valid("> 1 ,, 2"));
	assert_true(range_valid(" >= 1.0 "));
	assert_true(range_valid("v1.2.3"));
}

/* ---- filters ---- */

static void
test_policy_filter__extract_expands_like_go_expandstring(void **state)
{
	(void)state;
	expand("^main-(?P<ts>[0-9]+)-(?P<sha>[a-f0-9]+)", "$ts", "main-17-abc",
	       "17");
	expand("^main-(?P<ts>[0-9]+)-(?P<sha>[a-f0-9]+)", "${ts}.$sha",
	       "main-17-abc", "17.abc");
	expand("(\\d+)\\.(\\d+)", "$2-$1", "x1.2y", "2-1");
	expand("(\\d+)", "$$1", "a5", "$1");
	expand("(\\d+)", "$unknown", "a5", "");
	expand("(\\d+)", "$1x", "a5", ""); /* the name is "1x" */
	expand("(\\d+)", "${1}x", "a5", "5x");
	expand("(\\d+)", "$01", "a5", ""); /* a name, not group 1 */
	expand("(\\d+)", "${", "a5", "${");
	expand("(\\d+)", "a$", "a5", "a$");
	expand("(\\d+)", "$0", "a5", "5");
	expand("(a)|(b)", "[$1][$2]", "b", "[][b]");
}

static void
test_policy_filter__matches_are_unanchored_and_leftmost(void **state)
{
	(void)state;
	expand("[0-9]+", "$0", "ab12cd345", "12");
	expand("a|ab", "$0", "xab", "a");
	expand("", "", "whole-tag", "whole-tag");
}

static void
test_policy_filter__dollar_matches_only_at_the_end(void **state)
{
	struct filter *f = NULL;
	struct filter_match *m = NULL;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(filter_new(&f, "^1$", 3, NULL, 0, &e), 0);
	assert_int_equal(filter_match_new(&m, f, &e), 0);
	assert_int_equal(filter_apply(f, m, "1\n", 2, NULL), 0);
	assert_int_equal(filter_apply(f, m, "1", 1, NULL), 1);
	filter_match_free(m);
	filter_free(f);
}

static void
test_policy_filter__invalid_patterns_are_rejected_with_the_offset(void **state)
{
	struct filter *f = NULL;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(filter_new(&f, "(", 1, NULL, 0, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "offset"));
	assert_null(f);
}

static void
test_policy_filter__refuses_patterns_go_re2_lacks(void **state)
{
	static const char *const bad[] = { "^(?!main)", "(a)\\1", "(?>a+)b",
		                           "a*+" };
	struct filter *f = NULL;
	struct err e = ERR_INIT;

	(void)state;
	/* Flux refuses these, so the policy does too (it used to run them) */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		        filter_new(&f, bad[i], strlen(bad[i]), NULL, 0, &e),
		        -ERR_INVALID);
		assert_non_null(strstr(e.msg, "Go's RE2"));
		assert_null(f);
	}
}

static void
test_policy_filter__a_pattern_that_spins_fails_the_tag_not_the_run(void **state)
{
	struct filter *f = NULL;
	struct filter_match *m = NULL;
	struct err e = ERR_INIT;
	char tag[124];

	(void)state;
	memset(tag, 'a', 60);
	memset(tag + 60, 'b', 2);
	memset(tag + 62, 'a', 60);
	tag[122] = 'c';
	tag[123] = '\0';
	assert_int_equal(
	        filter_new(&f, "^(a|aa)+(b|bb)+(a|aa)+$", 23, NULL, 0, &e), 0);
	assert_int_equal(filter_match_new(&m, f, &e), 0);
	assert_int_equal(filter_apply(f, m, tag, 123, NULL), 0);
	assert_int_equal(filter_apply(f, m, "aabaa", 5, NULL), 1);
	filter_match_free(m);
	filter_free(f);
}

static void
test_policy_filter__globs_follow_filepath_match(void **state)
{
	struct glob *g = NULL;
	struct err e = ERR_INIT;

	(void)state;
	assert_true(glob("*", "anything"));
	assert_true(glob("dev-*", "dev-1"));
	assert_false(glob("dev-*", "xdev-1"));
	assert_true(glob("v?.0", "v1.0"));
	assert_false(glob("v?.0", "v10.0"));
	assert_true(glob("[a-c]x", "bx"));
	assert_false(glob("[^a-c]x", "bx"));
	assert_true(glob("[^a-c]x", "dx"));
	assert_true(glob("\\*", "*"));
	assert_false(glob("\\*", "a"));
	assert_false(glob("*", "a/b")); /* '*' stops at '/' */
	assert_true(glob("*a*a*a*a*a*b", "aaaaaaaaaaaaab"));
	assert_false(glob("*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	assert_int_equal(glob_new(&g, "[", 1, &e), -ERR_INVALID);
	assert_int_equal(glob_new(&g, "[]", 2, &e), -ERR_INVALID);
	assert_int_equal(glob_new(&g, "a\\", 2, &e), -ERR_INVALID);
	assert_int_equal(glob_new(&g, "[a-]", 4, &e), -ERR_INVALID);
}

/* ---- strategies ---- */

static void
test_policy_select__semver_picks_the_highest_in_range(void **state)
{
	const char *tags[] = { "1.2.0", "v1.3.1", "1.4.0-rc.1",
		               "2.0.0", "latest", NULL };

	(void)state;
	assert_string_equal(pick_semver("^1.2", false, tags), "v1.3.1");
	assert_string_equal(pick_semver(">=1.0.0-0 <2.0.0-0", false, tags),
	                    "1.4.0-rc.1");
	assert_null(pick_semver(">3", false, tags));
}

static void
test_policy_select__equal_precedence_picks_the_bytewise_greatest(void **state)
{
	const char *a[] = { "1.0.0", "v1.0.0", "1.0.0+b", NULL };
	const char *b[] = { "1.0.0+b", "v1.0.0", "1.0.0", NULL };

	(void)state;
	assert_string_equal(pick_semver("*", false, a), "v1.0.0");
	assert_string_equal(pick_semver("*", false, b), "v1.0.0");
}

static void
test_policy_select__loose_semver_reads_partial_versions(void **state)
{
	const char *tags[] = { "1.2", "1.10", "v2", "1.9.1", NULL };

	(void)state;
	assert_string_equal(pick_semver("1.x", true, tags), "1.10");
	assert_string_equal(pick_semver("1.x", false, tags), "1.9.1");
}

static void
test_policy_select__answers_with_the_original_tag_after_extract(void **state)
{
	struct policy_options o = POLICY_OPTIONS_INIT;
	const char *tags[] = { "main-9-aaa", "main-17-bbb", "main-100-ccc",
		               "dev-500-x", NULL };

	(void)state;
	o.kind = POLICY_NUMERICAL;
	o.pattern = "^main-(?P<ts>[0-9]+)-";
	o.extract = "$ts";
	assert_string_equal(pick(&o, tags), "main-100-ccc");
	o.order = POLICY_DESC;
	assert_string_equal(pick(&o, tags), "main-9-aaa");
}

static void
test_policy_select__extract_collisions_keep_the_later_tag(void **state)
{
	struct policy_options o = POLICY_OPTIONS_INIT;
	const char *tags[] = { "b-1.0.0", "a-1.0.0", "c-0.9.0", NULL };

	(void)state;
	o.semver_range = "*";
	o.pattern = "-(?P<v>.*)$";
	o.extract = "$v";
	assert_string_equal(pick(&o, tags), "a-1.0.0");
}

static void
test_policy_select__alphabetical_asc_picks_the_greatest(void **state)
{
	struct policy_options o = POLICY_OPTIONS_INIT;
	const char *tags[] = { "2024-01", "2024-10", "2024-02", "2024-1",
		               NULL };

	(void)state;
	o.kind = POLICY_ALPHABETICAL;
	assert_string_equal(pick(&o, tags), "2024-10");
	o.order = POLICY_DESC;
	assert_string_equal(pick(&o, tags), "2024-01");
}

static void
test_policy_select__numerical_skips_tags_that_are_not_numbers(void **state)
{
	struct policy_options o = POLICY_OPTIONS_INIT;
	const char *tags[] = { "10",  "9.5",   "latest", "1e2",
		               "NaN", "1e400", NULL };
	const char *none[] = { "latest", "v1", NULL };

	(void)state;
	o.kind = POLICY_NUMERICAL;
	assert_string_equal(pick(&o, tags), "1e2");
	o.order = POLICY_DESC;
	assert_string_equal(pick(&o, tags), "9.5");
	assert_null(pick(&o, none));
}

static void
test_policy_select__numerical_ties_pick_the_bytewise_greatest(void **state)
{
	struct policy_options o = POLICY_OPTIONS_INIT;
	const char *tags[] = { "1.50", "1.5", "01.5", NULL };

	(void)state;
	o.kind = POLICY_NUMERICAL;
	assert_string_equal(pick(&o, tags), "1.50");
	o.order = POLICY_DESC;
	assert_string_equal(pick(&o, tags), "1.50");
}

static void
test_policy_number__parses_go_parsefloat_syntax(void **state)
{
	double d;

	(void)state;
	assert_int_equal(policy_number_parse(&d, "0x1p4", 5), 0);
	assert_true(d == 16);
	assert_int_equal(policy_number_parse(&d, "1_000", 5), 0);
	assert_true(d == 1000);
	assert_int_equal(policy_number_parse(&d, "-Infinity", 9), 0);
	assert_true(isinf(d) && d < 0);
	assert_int_equal(policy_number_parse(&d, ".5", 2), 0);
	assert_int_equal(policy_number_parse(&d, "1e-400", 6), 0);
	assert_int_equal(policy_number_parse(&d, "0x10", 4), -ERR_INVALID);
	assert_int_equal(policy_number_parse(&d, "1__0", 4), -ERR_INVALID);
	assert_int_equal(policy_number_parse(&d, "1e400", 5), -ERR_INVALID);
	assert_int_equal(policy_number_parse(&d, " 1", 2), -ERR_INVALID);
	assert_int_equal(policy_number_parse(&d, "+nan", 4), -ERR_INVALID);
	assert_int_equal(policy_number_parse(&d, "0b101", 5), -ERR_INVALID);
}

static void
test_policy_select__newest_build_ties_are_ordered_by_name(void **state)
{
	struct policy *p = NULL;
	struct policy_options o = POLICY_OPTIONS_INIT;
	struct policy_tag t[3];
	struct err e = ERR_INIT;
	size_t idx = 9;
	int64_t t1 = 0, t2 = 0;

	(void)state;
	o.kind = POLICY_NEWEST_BUILD;
	assert_int_equal(policy_time_parse(&t1, "2024-05-01T10:00:00Z", 20, &e),
	                 0);
	assert_int_equal(
	        policy_time_parse(&t2, "2024-05-01T12:00:00.5+02:00", 27, &e),
	        0);
	assert_true(t2 - t1 == 500000000);
	assert_int_equal(policy_new(&p, &o, &e), 0);
	t[0] = (struct policy_tag){ "abc123", 6, true, t1 };
	t[1] = (struct policy_tag){ "latest", 6, true, t1 };
	t[2] = (struct policy_tag){ "old", 3, false, 0 };
	assert_int_equal(policy_select(p, t, 3, &idx, NULL, NULL, &e), 0);
	assert_int_equal(idx, 1);
	t[0].created_ns = t2;
	assert_int_equal(policy_select(p, t, 3, &idx, NULL, NULL, &e), 0);
	assert_int_equal(idx, 0);
	policy_free(p);
}

static void
test_policy_select__allow_tags_and_ignore_tags_filter_first(void **state)
{
	struct policy_options o = POLICY_OPTIONS_INIT;
	const char *ignore[] = { "*-debug", "9.*" };
	const char *tags[] = { "1.0.0", "2.0.0-debug", "1.5.0",
		               "9.0.0", "x1.9.0",      NULL };

	(void)state;
	o.semver_range = "*";
	o.loose = true;
	o.allow_tags = "regexp:^[0-9]";
	o.ignore_tags = ignore;
	o.ignore_tags_len = 2;
	assert_string_equal(pick(&o, tags), "1.5.0");
	o.allow_tags = "any";
	o.ignore_tags_len = 0;
	assert_string_equal(pick(&o, tags), "9.0.0");
}

/*
 * Argo CD Image Updater reads its option words through strings.ToLower
 * (registry-scanner pkg/image options.go: ParseMatch for allow-tags,
 * ParseUpdateStrategy for update-strategy); options_test.go's
 * TestParseMatch passes "ANY" and "RegExp:[aA-zZ]".
 */
static void
test_policy_select__allow_tags_words_are_case_insensitive_as_in_argocd(
        void **state)
{
	struct policy_options o = POLICY_OPTIONS_INIT;
	const char *tags[] = { "v1.0.0", "2.0.0", "v1.5.0", NULL };

	(void)state;
	o.semver_range = "*";
	o.loose = true;
	o.allow_tags = "RegExp:^v";
	assert_string_equal(pick(&o, tags), "v1.5.0");
	o.allow_tags = "REGEXP:^[0-9]";
	assert_string_equal(pick(&o, tags), "2.0.0");
	o.allow_tags = "ANY";
	assert_string_equal(pick(&o, tags), "2.0.0");
	o.allow_tags = "Any";
	assert_string_equal(pick(&o, tags), "2.0.0");
	/* only the words: the pattern after the first ':' keeps its case */
	o.allow_tags = "regexp:^V";
	assert_null(pick(&o, tags));
}

static void
test_policy_argocd__strategy_names_are_case_insensitive(void **state)
{
	enum policy_kind k = POLICY_ALPHABETICAL;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(policy_argocd_strategy_parse(&k, "Semver", 6, &e), 0);
	assert_int_equal(k, POLICY_SEMVER);
	assert_int_equal(
	        policy_argocd_strategy_parse(&k, "NEWEST-BUILD", 12, &e), 0);
	assert_int_equal(k, POLICY_NEWEST_BUILD);
	assert_int_equal(policy_argocd_strategy_parse(&k, "Latest", 6, &e), 0);
	assert_int_equal(k, POLICY_NEWEST_BUILD);
	assert_int_equal(policy_argocd_strategy_parse(&k, "Name", 4, &e), 0);
	assert_int_equal(k, POLICY_ALPHABETICAL);
	/* "D\u0130GEST": unicode.ToLower(U+0130) is 'i' */
	assert_int_equal(
	        policy_argocd_strategy_parse(&k, "D\xc4\xb0GEST", 7, &e), 0);
	assert_int_equal(k, POLICY_DIGEST);
	assert_int_equal(policy_argocd_strategy_parse(&k, "semver ", 7, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "'semver '"));
	assert_int_equal(policy_argocd_strategy_parse(&k, "semve", 5, &e),
	                 -ERR_INVALID);
	assert_int_equal(policy_argocd_strategy_parse(&k, "", 0, &e),
	                 -ERR_INVALID);
}

static void
test_policy_argocd__lower_equal_follows_go_tolower(void **state)
{
	(void)state;
	assert_true(policy_lower_equal("AnY", 3, "any"));
	assert_true(policy_lower_equal("\xe2\x84\xaaind", 6, "kind"));
	assert_false(policy_lower_equal("any", 2, "any"));
	assert_false(policy_lower_equal("anyx", 4, "any"));
	/* U+017F (long s) is already lower case: ToLower keeps it */
	assert_false(policy_lower_equal("\xc5\xbf"
	                                "emver",
	                                7, "semver"));
	assert_false(policy_lower_equal("\xff", 1, "a"));
	assert_true(policy_lower_equal("", 0, ""));
}

static void
test_policy_select__bad_allow_tags_and_globs_are_errors(void **state)
{
	struct policy *p = NULL;
	struct policy_options o = POLICY_OPTIONS_INIT;
	const char *ignore[] = { "[" };
	struct err e = ERR_INIT;

	(void)state;
	o.semver_range = "*";
	o.allow_tags = "tags:1";
	assert_int_equal(policy_new(&p, &o, &e), -ERR_INVALID);
	o.allow_tags = "regexp";
	assert_int_equal(policy_new(&p, &o, &e), -ERR_INVALID);
	o.allow_tags = " any";
	assert_int_equal(policy_new(&p, &o, &e), -ERR_INVALID);
	o.allow_tags = "regexp:(";
	assert_int_equal(policy_new(&p, &o, &e), -ERR_INVALID);
	o.allow_tags = NULL;
	o.ignore_tags = ignore;
	o.ignore_tags_len = 1;
	assert_int_equal(policy_new(&p, &o, &e), -ERR_INVALID);
	assert_null(p);
}

static void
test_policy_select__digest_follows_one_mutable_tag(void **state)
{
	struct policy_options o = POLICY_OPTIONS_INIT;
	const char *tags[] = { "1.0", "latest", "stable", NULL };
	const char *none[] = { "1.0", NULL };

	(void)state;
	o.kind = POLICY_DIGEST;
	o.digest_tag = "latest";
	assert_string_equal(pick(&o, tags), "latest");
	assert_null(pick(&o, none));
}

struct explained {
	int kept, dropped;
};

static void
count_explain(const char *tag, size_t tag_len, const char *value,
              size_t value_len, enum policy_verdict v, const char *why,
              void *payload)
{
	struct explained *x = payload;

	(void)tag;
	(void)tag_len;
	(void)value;
	(void)value_len;
	assert_true(why[0] != '\0');
	if (v == POLICY_KEPT)
		x->kept++;
	else
		x->dropped++;
}

static void
test_policy_select__explain_reports_every_tag(void **state)
{
	struct policy *p = NULL;
	struct policy_options o = POLICY_OPTIONS_INIT;
	struct policy_tag t[3] = { { "1.0.0", 5, false, 0 },
		                   { "junk", 4, false, 0 },
		                   { "3.0.0", 5, false, 0 } };
	struct explained x = { 0, 0 };
	struct err e = ERR_INIT;
	size_t idx;

	(void)state;
	o.semver_range = "<2";
	assert_int_equal(policy_new(&p, &o, &e), 0);
	assert_int_equal(policy_select(p, t, 3, &idx, count_explain, &x, &e),
	                 0);
	assert_int_equal(x.kept, 1);
	assert_int_equal(x.dropped, 2);
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_policy_semver__flux_parsing_needs_three_dot_separated_parts),
		cmocka_unit_test(
		        test_policy_semver__loose_parsing_fills_missing_parts_with_zero),
		cmocka_unit_test(
		        test_policy_semver__strict_parsing_follows_semver_2),
		cmocka_unit_test(
		        test_policy_semver__rejects_leading_zero_numeric_prerelease),
		cmocka_unit_test(
		        test_policy_semver__rejects_numbers_beyond_64_bits),
		cmocka_unit_test(
		        test_policy_semver__precedence_follows_semver_2),
		cmocka_unit_test(
		        test_policy_semver__huge_prerelease_numbers_compare_as_text),
		cmocka_unit_test(test_policy_semver__comparison_operators_work),
		cmocka_unit_test(
		        test_policy_semver__tilde_allows_patch_updates),
		cmocka_unit_test(
		        test_policy_semver__caret_allows_updates_that_keep_the_left_digit),
		cmocka_unit_test(
		        test_policy_semver__wildcards_and_partial_versions_match_ranges),
		cmocka_unit_test(
		        test_policy_semver__hyphen_ranges_are_inclusive),
		cmocka_unit_test(
		        test_policy_semver__and_with_spaces_or_commas_and_or_with_bars),
		cmocka_unit_test(
		        test_policy_semver__prereleases_need_a_prerelease_in_the_range),
		cmocka_unit_test(
		        test_policy_semver__a_prerelease_in_an_and_group_admits_prereleases_to_the_group),
		cmocka_unit_test(
		        test_policy_semver__not_equal_admits_no_prerelease_without_one_in_its_group),
		cmocka_unit_test(
		        test_policy_semver__a_hyphen_range_may_be_followed_by_more_comparisons),
		cmocka_unit_test(
		        test_policy_semver__invalid_ranges_are_rejected),
		cmocka_unit_test(
		        test_policy_filter__extract_expands_like_go_expandstring),
		cmocka_unit_test(
		        test_policy_filter__matches_are_unanchored_and_leftmost),
		cmocka_unit_test(
		        test_policy_filter__dollar_matches_only_at_the_end),
		cmocka_unit_test(
		        test_policy_filter__invalid_patterns_are_rejected_with_the_offset),
		cmocka_unit_test(
		        test_policy_filter__refuses_patterns_go_re2_lacks),
		cmocka_unit_test(
		        test_policy_filter__a_pattern_that_spins_fails_the_tag_not_the_run),
		cmocka_unit_test(
		        test_policy_filter__globs_follow_filepath_match),
		cmocka_unit_test(
		        test_policy_select__semver_picks_the_highest_in_range),
		cmocka_unit_test(
		        test_policy_select__equal_precedence_picks_the_bytewise_greatest),
		cmocka_unit_test(
		        test_policy_select__loose_semver_reads_partial_versions),
		cmocka_unit_test(
		        test_policy_select__answers_with_the_original_tag_after_extract),
		cmocka_unit_test(
		        test_policy_select__extract_collisions_keep_the_later_tag),
		cmocka_unit_test(
		        test_policy_select__alphabetical_asc_picks_the_greatest),
		cmocka_unit_test(
		        test_policy_select__numerical_skips_tags_that_are_not_numbers),
		cmocka_unit_test(
		        test_policy_select__numerical_ties_pick_the_bytewise_greatest),
		cmocka_unit_test(
		        test_policy_number__parses_go_parsefloat_syntax),
		cmocka_unit_test(
		        test_policy_select__newest_build_ties_are_ordered_by_name),
		cmocka_unit_test(
		        test_policy_select__allow_tags_and_ignore_tags_filter_first),
		cmocka_unit_test(
		        test_policy_select__allow_tags_words_are_case_insensitive_as_in_argocd),
		cmocka_unit_test(
		        test_policy_argocd__strategy_names_are_case_insensitive),
		cmocka_unit_test(
		        test_policy_argocd__lower_equal_follows_go_tolower),
		cmocka_unit_test(
		        test_policy_select__bad_allow_tags_and_globs_are_errors),
		cmocka_unit_test(
		        test_policy_select__digest_follows_one_mutable_tag),
		cmocka_unit_test(test_policy_select__explain_reports_every_tag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
