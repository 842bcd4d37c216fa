/*
 * Unit tests for core/base/imageref: the image reference grammar of
 * docker/distribution and Docker Hub's normalisation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/imageref.h"

/* Parses in and checks the normalised domain and path, tag and digest. */
static void
parts(const char *in, const char *domain, const char *path, const char *tag,
      const char *digest)
{
	struct imageref r;
	struct err e = ERR_INIT;
	struct buf d = BUF_INIT, p = BUF_INIT;

	if (imageref_parse(&r, in, strlen(in), &e) != 0)
		fail_msg("'%s': %s", in, e.msg);
	imageref_domain(&d, &r);
	imageref_path(&p, &r);
	assert_string_equal(d.ptr, domain);
	assert_string_equal(p.ptr, path);
	if (tag == NULL)
		assert_null(r.tag);
	else
		assert_true(r.tag_len == strlen(tag) &&
		            memcmp(r.tag, tag, r.tag_len) == 0);
	if (digest == NULL)
		assert_null(r.digest);
	else
		assert_true(r.digest_len == strlen(digest) &&
		            memcmp(r.digest, digest, r.digest_len) == 0);
	buf_release(&d);
	buf_release(&p);
}

/* Expects in to be refused with a message that holds needle. */
static void
refused(const char *in, const char *needle)
{
	struct imageref r;
	struct err e = ERR_INIT;

	assert_int_equal(imageref_parse(&r, in, strlen(in), &e), -ERR_INVALID);
	if (strstr(e.msg, needle) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", in, e.msg, needle);
	assert_null(r.path);
}

#define HEX32 "0123456789abcdef0123456789abcdef"
#define DIGEST "sha256:" HEX32 HEX32

static void
test_imageref__splits_domain_path_tag_and_digest(void **state)
{
	(void)state;
	parts("ghcr.io/org/app:1.0", "ghcr.io", "org/app", "1.0", NULL);
	parts("host:5000/a/b:v1@" DIGEST, "host:5000", "a/b", "v1", DIGEST);
	parts("host:5000/a/b@" DIGEST, "host:5000", "a/b", NULL, DIGEST);
	/* a ':' before the last '/' is a port, not a tag */
	parts("localhost:5000/app", "localhost:5000", "app", NULL, NULL);
	/* without a '/', "localhost:5000" is an image with tag 5000 */
	parts("localhost:5000", "docker.io", "library/localhost", "5000", NULL);
}

static void
test_imageref__first_component_is_a_host_with_dot_colon_upper_or_localhost(
        void **state)
{
	(void)state;
	parts("example.com/app", "example.com", "app", NULL, NULL);
	parts("host:80/app", "host:80", "app", NULL, NULL);
	parts("Registry/app", "Registry", "app", NULL, NULL);
	parts("localhost/app", "localhost", "app", NULL, NULL);
	parts("[::1]:5000/app", "[::1]:5000", "app", NULL, NULL);
	/* anything else is a Docker Hub namespace */
	parts("foo/bar", "docker.io", "foo/bar", NULL, NULL);
	parts("foo_bar/baz", "docker.io", "foo_bar/baz", NULL, NULL);
	parts("localhostx/app", "docker.io", "localhostx/app", NULL, NULL);
}

static void
test_imageref__normalises_docker_hub_names(void **state)
{
	struct imageref r;

	(void)state;
	parts("nginx", "docker.io", "library/nginx", NULL, NULL);
	parts("nginx:1.25", "docker.io", "library/nginx", "1.25", NULL);
	parts("docker.io/nginx", "docker.io", "library/nginx", NULL, NULL);
	parts("index.docker.io/foo/bar", "docker.io", "foo/bar", NULL, NULL);
	parts("docker.io/library/nginx", "docker.io", "library/nginx", NULL,
	      NULL);
	assert_int_equal(imageref_parse(&r, "index.docker.io/nginx", 21, NULL),
	                 0);
	assert_null(r.domain);
	assert_true(r.official);
	assert_int_equal(imageref_parse(&r, "ghcr.io/nginx", 13, NULL), 0);
	assert_false(r.official);
}

static void
test_imageref__path_components_follow_the_separator_grammar(void **state)
{
	(void)state;
	assert_true(imageref_path_valid("a", 1));
	assert_true(imageref_path_valid("my-app__x.y", 11));
	assert_true(imageref_path_valid("a--b/c_d/e.f", 12));
	assert_false(imageref_path_valid("a___b", 5));
	assert_false(imageref_path_valid("a..b", 4));
	assert_false(imageref_path_valid("a._b", 4));
	assert_false(imageref_path_valid("a-", 2));
	assert_false(imageref_path_valid("-a", 2));
	assert_false(imageref_path_valid("a//b", 4));
	assert_false(imageref_path_valid("a/", 2));
	assert_false(imageref_path_valid("A", 1));
	assert_false(imageref_path_valid("", 0));
	refused("foo/Bar", "must be lower-case");
	refused("docker.io/Foo", "must be lower-case");
	refused("foo//bar", "invalid repository name");
	refused("foo/bar-", "invalid repository name");
	refused("foo/a___b", "invalid repository name");
}

static void
test_imageref__domains_are_labels_or_ipv6_with_a_short_port(void **state)
{
	(void)state;
	assert_true(imageref_domain_valid("a", 1));
	assert_true(imageref_domain_valid("a-b.example.com", 15));
	assert_true(imageref_domain_valid("Registry:65535", 14));
	assert_true(imageref_domain_valid("[fe80::1]", 9));
	assert_true(imageref_domain_valid("[fe80::1]:443", 13));
	assert_false(imageref_domain_valid("-a.com", 6));
	assert_false(imageref_domain_valid("a-.com", 6));
	assert_false(imageref_domain_valid("a..com", 6));
	assert_false(imageref_domain_valid("a.com.", 6));
	assert_false(imageref_domain_valid("exa_mple.com", 12));
	assert_false(imageref_domain_valid("a.com:", 6));
	assert_false(imageref_domain_valid("a.com:8x", 8));
	/* distribution's IPv6 form has hex digits and ':' only */
	assert_false(imageref_domain_valid("[::ffff:1.2.3.4]", 16));
	assert_false(imageref_domain_valid("[]", 2));
	assert_false(imageref_domain_valid("[::1", 4));
	/* a port has at most five digits */
	assert_false(imageref_domain_valid("a.com:123456", 12));
	refused("exa_mple.com/app", "invalid registry host");
	refused("-host.com/app", "invalid registry host");
	refused("host.com:99999999/app", "invalid registry host");
}

static void
test_imageref__tags_follow_the_oci_grammar(void **state)
{
	char long_tag[IMAGEREF_MAX_TAG + 1];

	(void)state;
	assert_true(imageref_tag_valid("v1.2.3", 6));
	assert_true(imageref_tag_valid("_x", 2));
	assert_true(imageref_tag_valid("A-b_c.D", 7));
	assert_false(imageref_tag_valid(".x", 2));
	assert_false(imageref_tag_valid("-x", 2));
	assert_false(imageref_tag_valid("a/b", 3));
	assert_false(imageref_tag_valid("a:b", 3));
	assert_false(imageref_tag_valid("a\nb", 3));
	assert_false(imageref_tag_valid("", 0));
	memset(long_tag, 'a', sizeof(long_tag));
	assert_true(imageref_tag_valid(long_tag, IMAGEREF_MAX_TAG));
	assert_false(imageref_tag_valid(long_tag, IMAGEREF_MAX_TAG + 1));
	refused("foo:.tag", "invalid tag");
	refused("foo:-x", "invalid tag");
	refused("foo:", "invalid tag");
}

static void
test_imageref__digests_need_a_letter_led_algorithm_and_32_hex_digits(
        void **state)
{
	const char *hex32 = "0123456789abcdef0123456789ABCDEF";
	char d[128];

	(void)state;
	snprintf(d, sizeof(d), "sha256:%s", hex32);
	assert_true(imageref_digest_valid(d, strlen(d)));
	snprintf(d, sizeof(d), "sha256+b64u.x-y_z:%s", hex32);
	assert_true(imageref_digest_valid(d, strlen(d)));
	assert_false(imageref_digest_valid("sha256:0123", 11));
	snprintf(d, sizeof(d), "1sha:%s", hex32);
	assert_false(imageref_digest_valid(d, strlen(d)));
	/* each component after a separator starts with a letter too; the
	 * copy in writeback/yamledit.c accepted a trailing separator */
	snprintf(d, sizeof(d), "sha256-:%s", hex32);
	assert_false(imageref_digest_valid(d, strlen(d)));
	snprintf(d, sizeof(d), "sha--256:%s", hex32);
	assert_false(imageref_digest_valid(d, strlen(d)));
	snprintf(d, sizeof(d), "sha256:%sg", hex32);
	assert_false(imageref_digest_valid(d, strlen(d)));
	assert_false(imageref_digest_valid(":", 1));
	refused("foo@sha256:abc", "invalid digest");
	refused("foo@bar@" DIGEST, "invalid digest");
}

static void
test_imageref__normalised_names_longer_than_255_bytes_are_refused(void **state)
{
	char in[300], path[320];

	(void)state;
	/* "docker.io/library/" and 237 bytes make 255 */
	memset(in, 'a', 237);
	in[237] = '\0';
	snprintf(path, sizeof(path), "library/%s", in);
	parts(in, "docker.io", path, NULL, NULL);
	in[237] = 'a';
	in[238] = '\0';
	refused(in, "longer than 255");
	/* "ghcr.io/" and 247 bytes make 255 */
	memcpy(in, "ghcr.io/", 8);
	memset(in + 8, 'b', 247);
	in[255] = '\0';
	parts(in, "ghcr.io", in + 8, NULL, NULL);
	in[255] = 'b';
	in[256] = '\0';
	refused(in, "longer than 255");
}

static void
test_imageref__a_64_digit_hex_string_is_refused(void **state)
{
	const char *id = HEX32 HEX32;
	struct imageref r;

	(void)state;
	refused(id, "image ID");
	/* with a tag or in a namespace it is an ordinary name */
	assert_int_equal(imageref_parse(&r,
	                                "org/0123456789abcdef0123456789ab"
	                                "cdef0123456789abcdef0123456789ab"
	                                "cdef",
	                                68, NULL),
	                 0);
}

static void
test_imageref__refuses_blanks_controls_and_non_ascii(void **state)
{
	(void)state;
	refused("", "empty");
	/* the message gives the offset instead of quoting the bytes */
	refused("foo:bad tag", "space, control or non-ASCII character at "
	                       "offset 7");
	refused("foo\n", "at offset 3");
	refused("caf\xc3\xa9/app", "at offset 3");
	refused("foo\x7f", "at offset 3");
}

static void
test_imageref__format_parses_back_to_the_same_parts(void **state)
{
	const char *in[] = { "nginx", "nginx:1.0", "org/app@" DIGEST,
		             "localhost:5000/a/b:v1@" DIGEST,
		             "index.docker.io/x/y" };
	struct buf once = BUF_INIT, twice = BUF_INIT;
	struct imageref r, back;

	(void)state;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		buf_reset(&once);
		buf_reset(&twice);
		assert_int_equal(imageref_parse(&r, in[i], strlen(in[i]), NULL),
		                 0);
		assert_int_equal(imageref_format(&once, &r), 0);
		assert_int_equal(
		        imageref_parse(&back, once.ptr, once.len, NULL), 0);
		assert_int_equal(imageref_format(&twice, &back), 0);
		assert_string_equal(once.ptr, twice.ptr);
	}
	buf_release(&once);
	buf_release(&twice);
}

static void
test_imageref__name_valid_refuses_a_tag_or_digest(void **state)
{
	(void)state;
	assert_true(imageref_name_valid("ghcr.io/org/app", 15));
	assert_true(imageref_name_valid("nginx", 5));
	assert_false(imageref_name_valid("nginx:1", 7));
	assert_false(imageref_name_valid("nginx@" DIGEST, 6 + 71));
	assert_false(imageref_name_valid("", 0));
	/* "[" alone does not make a host; the old yamledit copy said so */
	assert_false(imageref_name_valid("[abc]/app", 9));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_imageref__splits_domain_path_tag_and_digest),
		cmocka_unit_test(
		        test_imageref__first_component_is_a_host_with_dot_colon_upper_or_localhost),
		cmocka_unit_test(test_imageref__normalises_docker_hub_names),
		cmocka_unit_test(
		        test_imageref__path_components_follow_the_separator_grammar),
		cmocka_unit_test(
		        test_imageref__domains_are_labels_or_ipv6_with_a_short_port),
		cmocka_unit_test(test_imageref__tags_follow_the_oci_grammar),
		cmocka_unit_test(
		        test_imageref__digests_need_a_letter_led_algorithm_and_32_hex_digits),
		cmocka_unit_test(
		        test_imageref__normalised_names_longer_than_255_bytes_are_refused),
		cmocka_unit_test(
		        test_imageref__a_64_digit_hex_string_is_refused),
		cmocka_unit_test(
		        test_imageref__refuses_blanks_controls_and_non_ascii),
		cmocka_unit_test(
		        test_imageref__format_parses_back_to_the_same_parts),
		cmocka_unit_test(
		        test_imageref__name_valid_refuses_a_tag_or_digest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
