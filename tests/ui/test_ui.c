/*
 * Unit tests of the status page's pieces that take plain data: the two
 * escaping functions, URL segments, commit links to forges, a policy in
 * words, spans of time and the SVG timeline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ui_int.h"

static char *
text_of(const char *s)
{
	static struct buf b = BUF_INIT;

	buf_reset(&b);
	assert_int_equal(ui_html_text(&b, s), 0);
	return b.ptr;
}

static char *
attr_of(const char *s)
{
	static struct buf b = BUF_INIT;

	buf_reset(&b);
	assert_int_equal(ui_html_attr(&b, s), 0);
	return b.ptr;
}

static void
test_ui__text_escapes_markup_and_keeps_utf8(void **state)
{
	(void)state;
	assert_string_equal(text_of("<script>alert(1)</script> & co"),
	                    "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co");
	/* Quotes are harmless in element content. */
	assert_string_equal(text_of("say \"hi\" 'x'"), "say \"hi\" 'x'");
	assert_string_equal(text_of("caf\xc3\xa9 \xe2\x86\x92"),
	                    "caf\xc3\xa9 \xe2\x86\x92");
	assert_string_equal(text_of("line\none\ttab"), "line\none\ttab");
	assert_string_equal(text_of(NULL), "");
}

static void
test_ui__attributes_escape_quotes_too(void **state)
{
	(void)state;
	assert_string_equal(attr_of("x\" onmouseover=\"alert(1)"),
	                    "x&quot; onmouseover=&quot;alert(1)");
	assert_string_equal(attr_of("it's <b>"), "it&#39;s &lt;b&gt;");
}

static void
test_ui__bytes_that_are_not_text_become_replacement_characters(void **state)
{
	(void)state;
	/* invalid UTF-8, an overlong '<', C0 and C1 controls, DEL */
	assert_string_equal(text_of("a\xff"
	                            "b"),
	                    "a\xef\xbf\xbd"
	                    "b");
	assert_string_equal(text_of("\xc0\xbc"), "\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(text_of("\x1b[31m"), "\xef\xbf\xbd[31m");
	assert_string_equal(text_of("\xc2\x85\x7f"),
	                    "\xef\xbf\xbd\xef\xbf\xbd");
}

static void
test_ui__url_segments_are_percent_encoded(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	ui_url_segment(&b, "flux-system");
	buf_putc(&b, '/');
	ui_url_segment(&b, "a/b?c=\"d\" e");
	assert_string_equal(b.ptr, "flux-system/a%2Fb%3Fc%3D%22d%22%20e");
	buf_release(&b);
}

static const char sha[] = "3f2a9c1d0e5b6a7980c1d2e3f4a5b6c7d8e9f0a1";

static char *
commit_url(const char *remote)
{
	static struct buf b = BUF_INIT;

	buf_reset(&b);
	if (ui_commit_url(&b, remote, sha) < 0)
		return NULL;
	return b.ptr;
}

static void
test_ui__commits_link_to_their_forge_without_credentials(void **state)
{
	(void)state;
	assert_string_equal(commit_url("https://github.com/org/app.git"),
	                    "https://github.com/org/app/commit/"
	                    "3f2a9c1d0e5b6a7980c1d2e3f4a5b6c7d8e9f0a1");
	assert_string_equal(commit_url("git@github.com:org/app.git"),
	                    "https://github.com/org/app/commit/"
	                    "3f2a9c1d0e5b6a7980c1d2e3f4a5b6c7d8e9f0a1");
	assert_string_equal(
	        commit_url("https://user:s3cret@gitlab.com/group/sub/app"),
	        "https://gitlab.com/group/sub/app/-/commit/"
	        "3f2a9c1d0e5b6a7980c1d2e3f4a5b6c7d8e9f0a1");
	assert_string_equal(
	        commit_url("ssh://git@gitea.example.org:2222/team/app.git"),
	        "https://gitea.example.org/team/app/commit/"
	        "3f2a9c1d0e5b6a7980c1d2e3f4a5b6c7d8e9f0a1");
	assert_string_equal(commit_url("https://codeberg.org/team/app.git/"),
	                    "https://codeberg.org/team/app/commit/"
	                    "3f2a9c1d0e5b6a7980c1d2e3f4a5b6c7d8e9f0a1");
	assert_string_equal(commit_url("git@bitbucket.org:team/app.git"),
	                    "https://bitbucket.org/team/app/commits/"
	                    "3f2a9c1d0e5b6a7980c1d2e3f4a5b6c7d8e9f0a1");
	/* Unknown hosts, local remotes and odd paths get no link. */
	assert_null(commit_url("https://git.example.org/team/app.git"));
	assert_null(commit_url("file:///srv/git/app.git"));
	assert_null(commit_url("/srv/git/app.git"));
	assert_null(commit_url("https://github.com/org/../evil"));
	assert_null(commit_url("https://github.com/org/app\"onclick"));
	assert_null(commit_url("https://github.com/app"));
	assert_null(commit_url("javascript:alert(1)//github.com/a/b"));
}

static void
test_ui__a_commit_id_must_be_hex(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(
	        ui_commit_url(&b, "https://github.com/org/app", "3f2a9c1<x>"),
	        -ERR_NOTFOUND);
	assert_int_equal(ui_commit_url(&b, "https://github.com/org/app", NULL),
	                 -ERR_NOTFOUND);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

static void
test_ui__policies_read_as_words(void **state)
{
	struct config_imagepolicy p;
	struct buf b = BUF_INIT;
	char range[] = ">=1.0.0 <2.0.0", pattern[] = "^v(?P<v>.*)",
	     extract[] = "$v", desc[] = "desc", always[] = "Always";

	(void)state;
	memset(&p, 0, sizeof(p));
	p.policy.semver.range = range;
	p.filter_tags.pattern = pattern;
	p.filter_tags.extract = extract;
	ui_policy_words(&b, &p);
	assert_string_equal(b.ptr, "semver >=1.0.0 <2.0.0, tags matching "
	                           "^v(?P<v>.*), compared by $v");
	memset(&p, 0, sizeof(p));
	p.policy.alphabetical.pos.set = true;
	p.policy.alphabetical.order = desc;
	p.digest_reflection_policy = always;
	buf_reset(&b);
	ui_policy_words(&b, &p);
	assert_string_equal(b.ptr, "alphabetical, descending (the first "
	                           "wins), digest pinned (Always)");
	memset(&p, 0, sizeof(p));
	buf_reset(&b);
	ui_policy_words(&b, &p);
	assert_string_equal(b.ptr, "numerical, ascending (the last wins)");
	buf_release(&b);
}

static void
test_ui__spans_and_times(void **state)
{
	char s[32];

	(void)state;
	ui_span(s, 59);
	assert_string_equal(s, "59s");
	ui_span(s, 3600);
	assert_string_equal(s, "60m");
	ui_span(s, 5 * 3600);
	assert_string_equal(s, "5h");
	ui_span(s, 3 * 86400);
	assert_string_equal(s, "3d");
	ui_span(s, -5);
	assert_string_equal(s, "0s");
	assert_int_equal(ui_time_parse("2026-12-02T10:00:00Z"), 1796205600);
	assert_int_equal(ui_time_parse("yesterday"), -1);
	assert_int_equal(ui_time_parse(NULL), -1);
}

static size_t
count(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void
test_ui__the_timeline_draws_a_marker_per_change_in_its_window(void **state)
{
	int64_t now = 1796205600, day = 86400;
	struct ui_mark marks[] = {
		{ now - 10 * day, "0.9.0", NULL, NULL, NULL },
		{ now - 3 * day, "1.0.0", "0.9.0", NULL, "abc123" },
		{ now - 3600, "<b>1.1.0</b>", "1.0.0", "sha256:feed", NULL },
	};
	struct ui_lane lane = { "flux-system/app", "/images/flux-system/app",
		                "<b>1.1.0</b>", marks, 3 };
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(
	        ui_timeline_svg(&b, &lane, 1, now - 7 * day, now, true), 0);
	assert_non_null(strstr(b.ptr, "<svg class=\"timeline\""));
	/* The change from before the window is not drawn. */
	assert_int_equal(count(b.ptr, "<g class=\"tl-mk\">"), 2);
	assert_non_null(strstr(b.ptr, "<title>flux-system/app: 1.0.0 (was "
	                              "0.9.0)\ncommit abc123\n2026-11-29 "
	                              "10:00:00 UTC</title>"));
	/* Versions are text, in the hover text and beside the marker. */
	assert_non_null(strstr(b.ptr, "&lt;b&gt;1.1.0&lt;/b&gt; (was 1.0.0)"
	                              "\ndigest sha256:feed"));
	assert_null(strstr(b.ptr, "<b>"));
	assert_int_equal(count(b.ptr, "class=\"tl-tag\""), 2);
	/* UTC day ticks over a week, and "now". */
	assert_non_null(strstr(b.ptr, ">30 Nov</text>"));
	assert_non_null(strstr(b.ptr, ">now</text>"));
	assert_non_null(strstr(b.ptr, "<a href=\"/images/flux-system/app\">"));
	assert_null(strstr(b.ptr, "style="));
	buf_release(&b);
}

static void
test_ui__an_empty_timeline_says_so(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(ui_timeline_svg(&b, NULL, 0, 0, 3600, false), 0);
	assert_non_null(strstr(b.ptr, "no version changed in this window"));
	assert_non_null(strstr(b.ptr, "</svg>"));
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ui__text_escapes_markup_and_keeps_utf8),
		cmocka_unit_test(test_ui__attributes_escape_quotes_too),
		cmocka_unit_test(
		        test_ui__bytes_that_are_not_text_become_replacement_characters),
		cmocka_unit_test(test_ui__url_segments_are_percent_encoded),
		cmocka_unit_test(
		        test_ui__commits_link_to_their_forge_without_credentials),
		cmocka_unit_test(test_ui__a_commit_id_must_be_hex),
		cmocka_unit_test(test_ui__policies_read_as_words),
		cmocka_unit_test(test_ui__spans_and_times),
		cmocka_unit_test(
		        test_ui__the_timeline_draws_a_marker_per_change_in_its_window),
		cmocka_unit_test(test_ui__an_empty_timeline_says_so),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
