/*
 * Paging and failure tests of the registry client, against
 * hostile_registry.py in front of a real registry (started by
 * scan_failures_test.py, which says why paging cannot be tested against
 * distribution 2.8 alone).  Each failure case first scans successfully,
 * then fails, and checks that the previous tags are kept and that the
 * error names the cause.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/secret.h"
#include "base/util.h"
#include "scanner/registry.h"

static const char *host;
static const char *want_tags; /* "a,b,c" sorted */

static struct registry_client *
client(void)
{
	struct registry_options o = REGISTRY_OPTIONS_INIT;
	struct registry_client *c = NULL;
	struct err e = ERR_INIT;

	o.timeout_ms = 1500;
	o.max_retries = 2;
	o.backoff_ms = 20;
	o.max_pages = 6;
	assert_int_equal(registry_client_new(&c, &o, &e), 0);
	return c;
}

static int
scan(struct registry_client *c, const char *kase, struct registry_scan *s)
{
	struct registry_image img = { 0 };
	struct buf name = BUF_INIT;
	int rc;

	buf_addf(&name, "%s/%s/team/app", host, kase);
	img.image = name.ptr;
	img.insecure = true;
	rc = registry_scan_all(c, &img, s, 1, NULL, NULL);
	buf_release(&name);
	return rc;
}

static void
assert_all_tags(const struct registry_scan *s)
{
	struct buf got = BUF_INIT;
	size_t i;

	for (i = 0; i < s->ntags; i++)
		buf_addf(&got, "%s%s", i ? "," : "", s->tags[i].name);
	assert_string_equal(got.ptr, want_tags);
	buf_release(&got);
}

static void
pages(const char *kase)
{
	struct registry_client *c = client();
	struct registry_scan s = REGISTRY_SCAN_INIT;

	if (scan(c, kase, &s) != 0)
		fail_msg("%s: %s", kase, s.err.msg);
	assert_all_tags(&s);
	registry_scan_release(&s);
	registry_client_free(c);
}

static void
test_scan__follows_relative_link_headers(void **state)
{
	(void)state;
	pages("rel-1");
}

static void
test_scan__follows_absolute_link_headers(void **state)
{
	(void)state;
	pages("abs-1");
}

static void
test_scan__passes_opaque_cursors_back_verbatim(void **state)
{
	(void)state;
	pages("cursor-1");
}

static void
test_scan__takes_a_whole_list_without_link(void **state)
{
	(void)state;
	pages("nolink-1");
}

static void
test_scan__waits_out_a_429_with_retry_after(void **state)
{
	(void)state;
	pages("429-once");
}

static void
test_scan__retries_a_500(void **state)
{
	(void)state;
	pages("500-once");
}

/* scans ok, then kase; the second must fail with needle and keep tags */
static void
fails_keeping_previous(const char *kase, const char *needle, int code)
{
	struct registry_client *c = client();
	struct registry_scan s = REGISTRY_SCAN_INIT;

	if (scan(c, "nolink-prev", &s) != 0)
		fail_msg("baseline: %s", s.err.msg);
	assert_all_tags(&s);
	assert_int_equal(scan(c, kase, &s), -code);
	assert_int_equal(s.rc, -code);
	print_message("%s\n", s.err.msg);
	if (strstr(s.err.msg, needle) == NULL)
		fail_msg("%s: '%s' lacks '%s'", kase, s.err.msg, needle);
	assert_non_null(strstr(s.err.msg, kase));
	assert_all_tags(&s);
	registry_scan_release(&s);
	registry_client_free(c);
}

static void
test_scan__stops_at_the_page_cap(void **state)
{
	(void)state;
	fails_keeping_previous("loop-1", "page cap", ERR_INVALID);
}

static void
test_scan__fails_on_429_after_retries(void **state)
{
	(void)state;
	fails_keeping_previous("429-always", "HTTP 429 TOOMANYREQUESTS",
	                       ERR_TRANSIENT);
}

static void
test_scan__fails_on_500_after_retries(void **state)
{
	(void)state;
	fails_keeping_previous("500-always", "HTTP 500", ERR_TRANSIENT);
}

static void
test_scan__fails_as_a_whole_when_a_later_page_fails(void **state)
{
	(void)state;
	fails_keeping_previous("page2fail-1", "HTTP 500", ERR_TRANSIENT);
}

static void
test_scan__fails_on_a_reset_connection(void **state)
{
	(void)state;
	fails_keeping_previous("reset-1", "after 3 attempts", ERR_TRANSIENT);
}

static void
test_scan__times_out_a_stalled_body(void **state)
{
	(void)state;
	fails_keeping_previous("stall-1", "imed out", ERR_TRANSIENT);
}

static void
test_scan__fails_on_a_truncated_body(void **state)
{
	(void)state;
	fails_keeping_previous("truncated-1", "bytes remaining", ERR_TRANSIENT);
}

static void
test_scan__fails_on_truncated_json(void **state)
{
	(void)state;
	fails_keeping_previous("badjson-1", "tag list", ERR_INVALID);
}

static void
test_scan__fails_on_a_tags_field_that_is_not_a_list(void **state)
{
	(void)state;
	fails_keeping_previous("notags-1", "not an array", ERR_INVALID);
}

static void
test_scan__refuses_a_body_over_the_limit(void **state)
{
	(void)state;
	fails_keeping_previous("huge-1", "larger than", ERR_INVALID);
}

static void
test_scan__names_a_huge_response_header_not_out_of_memory(void **state)
{
	(void)state;
	fails_keeping_previous("bighdr-1", "response header", ERR_INVALID);
}

static size_t
on_body(char *p, size_t size, size_t n, void *payload)
{
	buf_add(payload, p, size * n);
	return size * n;
}

/* GETs a control path of the front ("/_stats", "/_revoke"). */
static long
front_get(const char *path, const char *key)
{
	CURL *e = curl_easy_init();
	struct buf url = BUF_INIT, body = BUF_INIT;
	long v = -1;
	const char *p;

	buf_addf(&url, "http://%s%s", host, path);
	curl_easy_setopt(e, CURLOPT_URL, url.ptr);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
	assert_int_equal(curl_easy_perform(e), CURLE_OK);
	if (key != NULL && (p = strstr(body.ptr, key)) != NULL)
		v = strtol(p + strlen(key) + 3, NULL, 10);
	curl_easy_cleanup(e);
	buf_release(&url);
	buf_release(&body);
	return v;
}

static void
test_scan__reads_metadata_once_per_digest(void **state)
{
	struct registry_client *c = client();
	struct registry_scan s = REGISTRY_SCAN_INIT;
	struct registry_image img = { 0 };
	struct buf name = BUF_INIT;
	long get0, head0, get1, head1;
	size_t i;

	(void)state;
	buf_addf(&name, "%s/nolink-meta/team/app", host);
	img.image = name.ptr;
	img.insecure = true;
	img.want = REGISTRY_WANT_DIGEST | REGISTRY_WANT_CREATED;
	if (registry_scan_all(c, &img, &s, 1, NULL, NULL) != 0)
		fail_msg("%s", s.err.msg);
	assert_all_tags(&s);
	for (i = 0; i < s.ntags; i++) {
		assert_non_null(s.tags[i].digest);
		assert_string_equal(s.tags[i].created, "2024-01-01T00:00:00Z");
	}
	get0 = front_get("/_stats", "get");
	head0 = front_get("/_stats", "head");
	/* same tags, same digests: one HEAD each, no manifest or blob GET */
	if (registry_scan_all(c, &img, &s, 1, NULL, NULL) != 0)
		fail_msg("%s", s.err.msg);
	get1 = front_get("/_stats", "get");
	head1 = front_get("/_stats", "head");
	assert_int_equal(get1 - get0, 0);
	assert_int_equal(head1 - head0, (long)s.ntags);
	assert_string_equal(s.tags[0].created, "2024-01-01T00:00:00Z");
	registry_scan_release(&s);
	registry_client_free(c);
	buf_release(&name);
}

static void
test_scan__stops_manifest_gets_when_the_pull_limit_runs_low(void **state)
{
	struct registry_client *c = client();
	struct registry_scan s = REGISTRY_SCAN_INIT;
	struct registry_image img = { 0 };
	struct buf name = BUF_INIT;
	long get0;

	(void)state;
	if (scan(c, "nolink-prev", &s) != 0)
		fail_msg("%s", s.err.msg);
	buf_addf(&name, "%s/hub-1/team/app", host);
	img.image = name.ptr;
	img.insecure = true;
	img.want = REGISTRY_WANT_DIGEST | REGISTRY_WANT_CREATED;
	get0 = front_get("/_stats", "get");
	assert_int_equal(registry_scan_all(c, &img, &s, 1, NULL, NULL),
	                 -ERR_TRANSIENT);
	print_message("%s\n", s.err.msg);
	assert_non_null(strstr(s.err.msg, "ratelimit-remaining"));
	assert_non_null(strstr(s.err.msg, "3 pulls left"));
	/* HEADs are free on Docker Hub; no manifest GET was spent */
	assert_int_equal(front_get("/_stats", "get") - get0, 0);
	assert_all_tags(&s);
	registry_scan_release(&s);
	registry_client_free(c);
	buf_release(&name);
}

static void
test_scan__refreshes_a_refused_cached_token_once(void **state)
{
	struct registry_client *c = client();
	struct registry_scan s = REGISTRY_SCAN_INIT;
	long t0, t1;

	(void)state;
	t0 = front_get("/_stats", "tokens");
	if (scan(c, "tok-1", &s) != 0)
		fail_msg("%s", s.err.msg);
	assert_all_tags(&s);
	/* the second scan reuses the cached token: no new one */
	if (scan(c, "tok-1", &s) != 0)
		fail_msg("%s", s.err.msg);
	t1 = front_get("/_stats", "tokens");
	assert_int_equal(t1 - t0, 1);
	/* the server forgets it: a 401 with the cached token refreshes */
	front_get("/_revoke", NULL);
	if (scan(c, "tok-1", &s) != 0)
		fail_msg("%s", s.err.msg);
	assert_all_tags(&s);
	assert_int_equal(front_get("/_stats", "tokens") - t1, 1);
	registry_scan_release(&s);
	registry_client_free(c);
}

static void
test_scan__falls_back_to_get_when_the_token_post_is_404(void **state)
{
	struct registry_client *c = client();
	struct registry_scan s = REGISTRY_SCAN_INIT;
	struct registry_image img = { 0 };
	struct buf name = BUF_INIT, cfg = BUF_INIT;
	long posts0 = front_get("/_stats", "posts");

	(void)state;
	/* an identity token asks for the OAuth2 refresh_token POST first */
	buf_addf(&cfg, "{\"auths\":{\"%s\":{\"identitytoken\":\"rt\"}}}", host);
	buf_addf(&name, "%s/tok-post/team/app", host);
	img.image = name.ptr;
	img.insecure = true;
	img.dockerconfig = cfg.ptr;
	img.dockerconfig_len = cfg.len;
	if (registry_scan_all(c, &img, &s, 1, NULL, NULL) != 0)
		fail_msg("%s", s.err.msg);
	assert_all_tags(&s);
	assert_int_equal(front_get("/_stats", "posts") - posts0, 1);
	registry_scan_release(&s);
	registry_client_free(c);
	buf_release(&name);
	buf_release(&cfg);
}

static void
test_scan__fails_when_a_fresh_token_is_refused_too(void **state)
{
	struct registry_client *c = client();
	struct registry_scan s = REGISTRY_SCAN_INIT;
	long t0 = front_get("/_stats", "tokens");

	(void)state;
	assert_int_equal(scan(c, "tokdeny-1", &s), -ERR_AUTH);
	print_message("%s\n", s.err.msg);
	assert_non_null(strstr(s.err.msg, "fresh token"));
	assert_non_null(strstr(s.err.msg, "/token"));
	/* one token, one refresh: not a loop */
	assert_true(front_get("/_stats", "tokens") - t0 <= 2);
	registry_scan_release(&s);
	registry_client_free(c);
}

static void
pki_read(struct buf *out, const char *name)
{
	struct buf path = BUF_INIT;
	struct err e = ERR_INIT;

	buf_addf(&path, "%s/%s", getenv("FERRY_TEST_PKI"), name);
	if (file_read(out, path.ptr, &e) < 0)
		fail_msg("%s", e.msg);
	buf_release(&path);
}

/* scans over HTTPS with the CA and (when cert) the client certificate */
static int
scan_tls(struct registry_scan *s, bool ca, bool cert)
{
	struct registry_client *c = client();
	struct registry_image img = { 0 };
	struct buf name = BUF_INIT, cab = BUF_INIT, crt = BUF_INIT,
	           key = BUF_INIT;
	int rc;

	buf_addf(&name, "%s/nolink-tls/team/app",
	         getenv("FERRY_TEST_HOSTILE_TLS"));
	img.image = name.ptr;
	pki_read(&cab, "ca.crt");
	pki_read(&crt, "client.crt");
	pki_read(&key, "client.key");
	if (ca) {
		img.ca_pem = cab.ptr;
		img.ca_pem_len = cab.len;
	}
	if (cert) {
		img.cert_pem = crt.ptr;
		img.cert_pem_len = crt.len;
		img.key_pem = key.ptr;
		img.key_pem_len = key.len;
	}
	rc = registry_scan_all(c, &img, s, 1, NULL, NULL);
	registry_client_free(c);
	buf_release(&name);
	buf_release(&cab);
	buf_release(&crt);
	buf_release(&key);
	return rc;
}

static void
test_scan__keeps_credentials_from_a_plain_http_realm_elsewhere(void **state)
{
	struct registry_client *c = client();
	struct registry_scan s = REGISTRY_SCAN_INIT;
	struct registry_image img = { 0 };
	struct buf name = BUF_INIT, cab = BUF_INIT, crt = BUF_INIT,
	           key = BUF_INIT, cfg = BUF_INIT;
	long auth0 = front_get("/_stats", "token_auth");
	long tok0 = front_get("/_stats", "tokens");

	(void)state;
	/* Over HTTPS, the registry names a token realm on another origin
	 * over plain HTTP: the password must not go there. */
	buf_addf(&name, "%s/tok-tls/team/app",
	         getenv("FERRY_TEST_HOSTILE_TLS"));
	buf_addf(&cfg,
	         "{\"auths\":{\"%s\":{\"username\":\"bot\","
	         "\"password\":\"pw-canary-77\"}}}",
	         getenv("FERRY_TEST_HOSTILE_TLS"));
	img.image = name.ptr;
	img.dockerconfig = cfg.ptr;
	img.dockerconfig_len = cfg.len;
	pki_read(&cab, "ca.crt");
	pki_read(&crt, "client.crt");
	pki_read(&key, "client.key");
	img.ca_pem = cab.ptr;
	img.ca_pem_len = cab.len;
	img.cert_pem = crt.ptr;
	img.cert_pem_len = crt.len;
	img.key_pem = key.ptr;
	img.key_pem_len = key.len;
	if (registry_scan_all(c, &img, &s, 1, NULL, NULL) != 0)
		fail_msg("%s", s.err.msg);
	assert_all_tags(&s);
	assert_int_equal(front_get("/_stats", "tokens") - tok0, 1);
	assert_int_equal(front_get("/_stats", "token_auth") - auth0, 0);
	registry_scan_release(&s);
	/* The same realm for a registry reached over plain HTTP (insecure)
	 * gets them: the user chose plain HTTP. */
	auth0 = front_get("/_stats", "token_auth");
	buf_reset(&name);
	buf_reset(&cfg);
	buf_addf(&name, "%s/tok-plain/team/app", host);
	buf_addf(&cfg,
	         "{\"auths\":{\"%s\":{\"username\":\"bot\","
	         "\"password\":\"pw\"}}}",
	         host);
	memset(&img, 0, sizeof(img));
	img.image = name.ptr;
	img.insecure = true;
	img.dockerconfig = cfg.ptr;
	img.dockerconfig_len = cfg.len;
	if (registry_scan_all(c, &img, &s, 1, NULL, NULL) != 0)
		fail_msg("%s", s.err.msg);
	assert_int_equal(front_get("/_stats", "token_auth") - auth0, 1);
	registry_scan_release(&s);
	registry_client_free(c);
	buf_release(&name);
	buf_release(&cfg);
	buf_release(&cab);
	buf_release(&crt);
	buf_release(&key);
}

static void
test_scan__uses_the_ca_and_client_certificate_given(void **state)
{
	struct registry_scan s = REGISTRY_SCAN_INIT;

	(void)state;
	if (scan_tls(&s, true, true) != 0)
		fail_msg("%s", s.err.msg);
	assert_all_tags(&s);
	/* without the CA the server is not trusted; tags are kept */
	assert_true(scan_tls(&s, false, true) < 0);
	print_message("%s\n", s.err.msg);
	assert_non_null(strstr(s.err.msg, "certificate"));
	assert_all_tags(&s);
	/* without the client certificate the server refuses */
	assert_true(scan_tls(&s, true, false) < 0);
	print_message("%s\n", s.err.msg);
	assert_all_tags(&s);
	registry_scan_release(&s);
}

static void
test_scan__goes_through_the_proxy_from_the_environment(void **state)
{
	struct registry_client *c = client();
	struct registry_scan s = REGISTRY_SCAN_INIT;
	struct registry_image img = { 0 };
	struct buf proxy = BUF_INIT;
	long p0;

	(void)state;
	p0 = front_get("/_stats", "proxied");
	buf_addf(&proxy, "http://%s", host);
	setenv("http_proxy", proxy.ptr, 1);
	/* nothing listens on port 9 here: only the proxy can answer */
	img.image = "127.0.0.1:9/nolink-proxy/team/app";
	img.insecure = true;
	if (registry_scan_all(c, &img, &s, 1, NULL, NULL) != 0)
		fail_msg("%s", s.err.msg);
	unsetenv("http_proxy");
	assert_all_tags(&s);
	assert_int_equal(front_get("/_stats", "proxied") - p0, 1);
	registry_scan_release(&s);
	registry_client_free(c);
	buf_release(&proxy);
}

static void
test_scan__does_not_send_authorization_to_another_origin(void **state)
{
	struct registry_client *c = client();
	struct registry_scan s = REGISTRY_SCAN_INIT;
	struct registry_image img = { 0 };
	struct secret pw = SECRET_INIT;
	struct buf name = BUF_INIT;

	(void)state;
	secret_set(&pw, "hostile-secret", 14);
	buf_addf(&name, "%s/redirect-1/team/app", host);
	img.image = name.ptr;
	img.insecure = true;
	img.username = "bot";
	img.password = &pw;
	/* the other origin answers 400 when Authorization reaches it */
	if (registry_scan_all(c, &img, &s, 1, NULL, NULL) != 0)
		fail_msg("%s", s.err.msg);
	assert_all_tags(&s);
	registry_scan_release(&s);
	registry_client_free(c);
	secret_release(&pw);
	buf_release(&name);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan__follows_relative_link_headers),
		cmocka_unit_test(test_scan__follows_absolute_link_headers),
		cmocka_unit_test(
		        test_scan__passes_opaque_cursors_back_verbatim),
		cmocka_unit_test(test_scan__takes_a_whole_list_without_link),
		cmocka_unit_test(test_scan__waits_out_a_429_with_retry_after),
		cmocka_unit_test(test_scan__retries_a_500),
		cmocka_unit_test(test_scan__stops_at_the_page_cap),
		cmocka_unit_test(test_scan__fails_on_429_after_retries),
		cmocka_unit_test(test_scan__fails_on_500_after_retries),
		cmocka_unit_test(
		        test_scan__fails_as_a_whole_when_a_later_page_fails),
		cmocka_unit_test(test_scan__fails_on_a_reset_connection),
		cmocka_unit_test(test_scan__times_out_a_stalled_body),
		cmocka_unit_test(test_scan__fails_on_a_truncated_body),
		cmocka_unit_test(test_scan__fails_on_truncated_json),
		cmocka_unit_test(
		        test_scan__fails_on_a_tags_field_that_is_not_a_list),
		cmocka_unit_test(test_scan__refuses_a_body_over_the_limit),
		cmocka_unit_test(
		        test_scan__names_a_huge_response_header_not_out_of_memory),
		cmocka_unit_test(
		        test_scan__does_not_send_authorization_to_another_origin),
		cmocka_unit_test(test_scan__reads_metadata_once_per_digest),
		cmocka_unit_test(
		        test_scan__stops_manifest_gets_when_the_pull_limit_runs_low),
		cmocka_unit_test(
		        test_scan__uses_the_ca_and_client_certificate_given),
		cmocka_unit_test(
		        test_scan__keeps_credentials_from_a_plain_http_realm_elsewhere),
		cmocka_unit_test(
		        test_scan__goes_through_the_proxy_from_the_environment),
		cmocka_unit_test(
		        test_scan__refreshes_a_refused_cached_token_once),
		cmocka_unit_test(
		        test_scan__fails_when_a_fresh_token_is_refused_too),
		cmocka_unit_test(
		        test_scan__falls_back_to_get_when_the_token_post_is_404),
	};
	int rc;

	host = getenv("FERRY_TEST_HOSTILE");
	want_tags = getenv("FERRY_TEST_HOSTILE_TAGS");
	if (host == NULL || want_tags == NULL) {
		fprintf(stderr, "run me through scan_failures_test.py\n");
		return 1;
	}
	curl_global_init(CURL_GLOBAL_ALL);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
