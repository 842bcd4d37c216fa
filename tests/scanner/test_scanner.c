/*
 * Unit tests for scanner/: references, WWW-Authenticate and Link parsing,
 * tag lists, token responses and cache, Docker config credentials and
 * credential helpers (a real helper script in tests/scanner/bin).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scanner/auth.h"
#include "base/buf.h"
#include "base/err.h"
#include "scanner/protocol.h"
#include "scanner/reference.h"
#include "scanner/registry.h"

static void
parse_ok(const char *in, const char *domain, const char *path, const char *tag,
         const char *api)
{
	struct reference r = REFERENCE_INIT;
	struct err e = ERR_INIT;

	if (reference_parse(&r, in, strlen(in), &e) != 0)
		fail_msg("'%s': %s", in, e.msg);
	assert_string_equal(r.domain, domain);
	assert_string_equal(r.path, path);
	if (tag)
		assert_string_equal(r.tag, tag);
	else
		assert_null(r.tag);
	assert_string_equal(r.api_host, api);
	reference_release(&r);
}

static void
test_reference__normalises_names_the_way_docker_does(void **state)
{
	(void)state;
	parse_ok("nginx", "docker.io", "library/nginx", NULL,
	         "registry-1.docker.io");
	parse_ok("nginx:1.25", "docker.io", "library/nginx", "1.25",
	         "registry-1.docker.io");
	parse_ok("index.docker.io/foo/bar", "docker.io", "foo/bar", NULL,
	         "registry-1.docker.io");
	parse_ok("docker.io/nginx", "docker.io", "library/nginx", NULL,
	         "registry-1.docker.io");
	parse_ok("foo/bar", "docker.io", "foo/bar", NULL,
	         "registry-1.docker.io");
	parse_ok("localhost/app", "localhost", "app", NULL, "localhost");
	parse_ok("localhost:5000/a/b:v1", "localhost:5000", "a/b", "v1",
	         "localhost:5000");
	parse_ok("127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app", NULL,
	         "127.0.0.1:5000");
	parse_ok("ghcr.io/org/my-app__x.y", "ghcr.io", "org/my-app__x.y", NULL,
	         "ghcr.io");
	parse_ok("Registry/app", "Registry", "app", NULL, "Registry");
	parse_ok("[::1]:5000/app", "[::1]:5000", "app", NULL, "[::1]:5000");
}

static void
test_reference__splits_tag_and_digest_after_the_last_slash(void **state)
{
	struct reference r = REFERENCE_INIT;
	struct err e = ERR_INIT;
	const char *in = "host:5000/a/b:v1@sha256:"
	                 "0123456789abcdef0123456789abcdef0123456789abcdef"
	                 "0123456789abcdef";

	(void)state;
	assert_int_equal(reference_parse(&r, in, strlen(in), &e), 0);
	assert_string_equal(r.domain, "host:5000");
	assert_string_equal(r.tag, "v1");
	assert_non_null(r.digest);
	assert_int_equal(strncmp(r.digest, "sha256:0123", 11), 0);
	reference_release(&r);
}

static void
bad(const char *in, const char *needle)
{
	struct reference r = REFERENCE_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(reference_parse(&r, in, strlen(in), &e), -ERR_INVALID);
	if (strstr(e.msg, needle) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", in, e.msg, needle);
	assert_null(r.domain);
}

static void
test_reference__rejects_names_outside_the_grammar(void **state)
{
	(void)state;
	bad("", "empty");
	bad("docker.io/Foo", "lower-case");
	bad("foo/Bar", "lower-case");
	bad("foo//bar", "invalid repository name");
	bad("foo/bar-", "invalid repository name");
	bad("foo/-bar", "invalid repository name");
	bad("foo/a___b", "invalid repository name");
	bad("foo:bad tag", "space");
	bad("foo:.tag", "invalid tag");
	bad("foo:-x", "invalid tag");
	bad("foo@sha256:abc", "invalid digest");
	bad("exa_mple.com/app", "invalid registry host");
	bad("-host.com/app", "invalid registry host");
	bad("host.com:99999999/app", "invalid registry host");
}

static void
challenge(const char *in, struct auth_challenge *c)
{
	struct err e = ERR_INIT;

	if (auth_challenge_parse(c, in, strlen(in), &e) != 0)
		fail_msg("'%s': %s", in, e.msg);
}

static void
test_auth__parses_bearer_challenges_with_quotes_escapes_and_commas(void **state)
{
	struct auth_challenge c;

	(void)state;
	challenge("Bearer realm=\"https://auth.docker.io/token\","
	          "service=\"registry.docker.io\","
	          "scope=\"repository:samalba/my-app:pull,push\"",
	          &c);
	assert_int_equal(c.scheme, AUTH_SCHEME_BEARER);
	assert_string_equal(c.realm, "https://auth.docker.io/token");
	assert_string_equal(c.service, "registry.docker.io");
	assert_string_equal(c.scope, "repository:samalba/my-app:pull,push");
	assert_null(c.error);
	auth_challenge_release(&c);

	challenge("bEaReR  Realm = \"a\\\"b\\\\c\" , SCOPE=\"repository:x:pull "
	          "repository:host:5000/y:pull\",error=insufficient_scope",
	          &c);
	assert_int_equal(c.scheme, AUTH_SCHEME_BEARER);
	assert_string_equal(c.realm, "a\"b\\c");
	assert_string_equal(c.scope,
	                    "repository:x:pull repository:host:5000/y:pull");
	assert_string_equal(c.error, "insufficient_scope");
	assert_null(c.service);
	auth_challenge_release(&c);

	challenge("Basic realm=\"testbed-realm\"", &c);
	assert_int_equal(c.scheme, AUTH_SCHEME_BASIC);
	assert_string_equal(c.realm, "testbed-realm");
	auth_challenge_release(&c);

	/* a second challenge in the same header ends the first */
	challenge("Basic realm=\"a\", Bearer realm=\"b\"", &c);
	assert_int_equal(c.scheme, AUTH_SCHEME_BASIC);
	assert_string_equal(c.realm, "a");
	auth_challenge_release(&c);
}

static void
test_auth__rejects_malformed_challenges(void **state)
{
	struct auth_challenge c;
	struct err e = ERR_INIT;
	const char *bad_in[] = { "", "Bearer realm=\"unterminated",
		                 "Bearer realm=\"a\"x=\"b\"", "\"quoted\"",
		                 "Bearer realm=\"a\" ;" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_in) / sizeof(*bad_in); i++) {
		if (auth_challenge_parse(&c, bad_in[i], strlen(bad_in[i]),
		                         &e) != -ERR_INVALID)
			fail_msg("'%s' parsed", bad_in[i]);
		assert_null(c.realm);
	}
}

static void
test_protocol__tchar_is_exactly_the_rfc_9110_token_set(void **state)
{
	const char *punct = "!#$%&'*+-.^_`|~";

	(void)state;
	for (int c = 0; c < 256; c++) {
		bool want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		            (c >= '0' && c <= '9') ||
		            (c != 0 && strchr(punct, c) != NULL);

		if (protocol_tchar((char)c) != want)
			fail_msg("byte 0x%02x: tchar is %d", c, !want);
	}
}

static void
test_auth__a_scheme_is_a_token_as_in_link_headers(void **state)
{
	struct auth_challenge c;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;

	(void)state;
	/* '/' is the byte auth.c's copy of tchar took and protocol.c's did
	 * not: "Bearer/x" was a scheme of its own here, and a parameter name
	 * "re/l" an error in a Link header */
	assert_int_equal(
	        auth_challenge_parse(&c, "Bearer/x realm=\"r\"", 18, &e),
	        -ERR_INVALID);
	assert_non_null(strstr(e.msg, "unexpected '/' after the scheme"));
	assert_int_equal(protocol_link_next(&b, "</x>; re/l=next", 15, &e),
	                 -ERR_INVALID);
	/* an unquoted value may still be a token68, which has '/' and '=' */
	challenge("Bearer realm=ab/c+d==,service=s", &c);
	assert_string_equal(c.realm, "ab/c+d==");
	assert_string_equal(c.service, "s");
	auth_challenge_release(&c);
	challenge("Negotiate YWJj/ZGVm==", &c);
	assert_int_equal(c.scheme, AUTH_SCHEME_OTHER);
	auth_challenge_release(&c);
	buf_release(&b);
}

static void
link_next(const char *in, const char *want)
{
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;
	int rc = protocol_link_next(&b, in, strlen(in), &e);

	if (want == NULL)
		assert_int_equal(rc, 0);
	else {
		if (rc != 1)
			fail_msg("'%s': rc %d %s", in, rc, e.msg);
		assert_string_equal(b.ptr, want);
	}
	buf_release(&b);
}

static void
test_protocol__finds_the_next_link_verbatim(void **state)
{
	(void)state;
	link_next("</v2/foo/tags/list?last=b&n=2>; rel=\"next\"",
	          "/v2/foo/tags/list?last=b&n=2");
	link_next("<https://x.example/v2/a/tags/list?next_page=Zm9v,YmFy&n=50>;"
	          " rel=next",
	          "https://x.example/v2/a/tags/list?next_page=Zm9v,YmFy&n=50");
	link_next("</first>; rel=\"prev\", </second>; rel=\"last next\"",
	          "/second");
	link_next("</a;b>; title=\"x, y; z\"; rel=NEXT", "/a;b");
	link_next("</prev>; rel=\"prev\"", NULL);
	link_next("", NULL);
}

static void
test_protocol__rejects_malformed_link_headers(void **state)
{
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;
	const char *bad_in[] = { "/no-brackets; rel=next", "</x; rel=next",
		                 "</x> rel=next", "</x>; rel=\"next",
		                 "<>; rel=next" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_in) / sizeof(*bad_in); i++)
		assert_int_equal(protocol_link_next(&b, bad_in[i],
		                                    strlen(bad_in[i]), &e),
		                 -ERR_INVALID);
	buf_release(&b);
}

struct collect {
	char all[256];
	int n;
};

static int
collect_tag(const char *t, size_t len, void *payload)
{
	struct collect *c = payload;
	size_t l = strlen(c->all);

	snprintf(c->all + l, sizeof(c->all) - l, "%.*s,", (int)len, t);
	c->n++;
	return 0;
}

static void
test_protocol__parses_tag_lists_and_rejects_bad_ones(void **state)
{
	struct collect c = { "", 0 };
	struct err e = ERR_INIT;
	const char *ok = "{\"name\":\"a\",\"tags\":[\"1.0\",\"latest\"]}";
	const char *null_tags = "{\"name\":\"a\",\"tags\":null}";

	(void)state;
	assert_int_equal(
	        protocol_tags_parse(ok, strlen(ok), 10, collect_tag, &c, &e),
	        0);
	assert_string_equal(c.all, "1.0,latest,");
	c.n = 0;
	assert_int_equal(protocol_tags_parse(null_tags, strlen(null_tags), 10,
	                                     collect_tag, &c, &e),
	                 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(
	        protocol_tags_parse(ok, strlen(ok), 1, collect_tag, &c, &e),
	        -ERR_NOMEM);
	assert_int_equal(protocol_tags_parse("{\"tags\":[1]}", 12, 10,
	                                     collect_tag, &c, &e),
	                 -ERR_INVALID);
	assert_int_equal(protocol_tags_parse("{\"tags\":[\"a\"", 12, 10,
	                                     collect_tag, &c, &e),
	                 -ERR_INVALID);
	assert_int_equal(protocol_tags_parse("{\"name\":\"a\"}", 12, 10,
	                                     collect_tag, &c, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "tags"));
}

static void
test_protocol__reads_retry_after_times_and_rate_limits(void **state)
{
	long long s;

	(void)state;
	assert_int_equal(protocol_retry_after(&s, "3", 1, 0), 0);
	assert_int_equal(s, 3);
	assert_int_equal(protocol_retry_after(&s,
	                                      "Wed, 21 Oct 2015 07:28:00 GMT",
	                                      29, 1445412470),
	                 0);
	assert_int_equal(s, 10);
	assert_int_equal(protocol_retry_after(&s, "soon", 4, 0), -ERR_INVALID);
	assert_int_equal(protocol_ratelimit(&s, "20;w=21600", 10), 0);
	assert_int_equal(s, 20);
}

#define D1                                                                     \
	"sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2                                                                     \
	"sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3                                                                     \
	"sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

/* Parses body with Content-Type ctype for linux/arm64/v8; returns rc. */
static int
manifest(struct protocol_manifest *m, const char *body, const char *ctype,
         bool index_ok, struct err *e)
{
	return protocol_manifest_parse(m, body, strlen(body), ctype,
	                               strlen(ctype), "linux/arm64/v8",
	                               index_ok, e);
}

static void
test_protocol__finds_the_config_digest_of_an_image_manifest(void **state)
{
	struct protocol_manifest m = PROTOCOL_MANIFEST_INIT;
	struct err e = ERR_INIT;
	const char *oci = "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST
	                  "\",\"config\":{\"mediaType\":\"application/"
	                  "vnd.oci.image.config.v1+json\",\"digest\":\"" D1
	                  "\",\"size\":7},\"layers\":[]}";
	const char *docker =
	        "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D2 "\"}}";

	(void)state;
	assert_int_equal(manifest(&m, oci, OCI_MANIFEST, true, &e), 0);
	assert_int_equal(m.kind, PROTOCOL_MANIFEST_IMAGE);
	assert_string_equal(m.digest, D1);
	protocol_manifest_release(&m);
	/* no mediaType in the body: the Content-Type's, parameters cut */
	assert_int_equal(manifest(&m, docker, DOCKER_MANIFEST "; charset=utf-8",
	                          false, &e),
	                 0);
	assert_string_equal(m.digest, D2);
	protocol_manifest_release(&m);
	/* no Content-Type: the body's mediaType */
	assert_int_equal(manifest(&m, oci, "", true, &e), 0);
	assert_string_equal(m.digest, D1);
	protocol_manifest_release(&m);
	assert_null(m.digest);
}

static void
test_protocol__picks_the_platform_of_an_index_but_no_attestation(void **state)
{
	struct protocol_manifest m = PROTOCOL_MANIFEST_INIT;
	struct err e = ERR_INIT;
	const char *index =
	        "{\"schemaVersion\":2,\"mediaType\":\"" OCI_INDEX "\","
	        "\"manifests\":[{\"digest\":\"" D1 "\",\"platform\":{"
	        "\"os\":\"linux\",\"architecture\":\"amd64\"}},"
	        "{\"digest\":\"" D2 "\",\"platform\":{\"os\":\"linux\","
	        "\"architecture\":\"arm64\",\"variant\":\"v8\"},"
	        "\"annotations\":{\"vnd.docker.reference.type\":"
	        "\"attestation-manifest\"}},"
	        "{\"digest\":\"" D3 "\",\"platform\":{\"os\":\"linux\","
	        "\"architecture\":\"arm64\",\"variant\":\"v8\"}}]}";
	const char *other = "{\"manifests\":[{\"digest\":\"" D1
	                    "\",\"platform\":{\"os\":\"windows\","
	                    "\"architecture\":\"amd64\"}}]}";

	(void)state;
	assert_int_equal(manifest(&m, index, OCI_INDEX, true, &e), 0);
	assert_int_equal(m.kind, PROTOCOL_MANIFEST_INDEX);
	assert_string_equal(m.digest, D3);
	protocol_manifest_release(&m);
	/* no manifest for the platform is not an error */
	assert_int_equal(manifest(&m, other, DOCKER_LIST, true, &e), 0);
	assert_int_equal(m.kind, PROTOCOL_MANIFEST_INDEX);
	assert_null(m.digest);
	protocol_manifest_release(&m);
}

static void
test_protocol__refuses_manifests_it_cannot_follow(void **state)
{
	struct protocol_manifest m = PROTOCOL_MANIFEST_INIT;
	struct err e = ERR_INIT;
	const char *child =
	        "{\"mediaType\":\"" OCI_INDEX "\",\"manifests\":[]}";

	(void)state;
	assert_int_equal(manifest(&m, "{\"config\":", OCI_MANIFEST, true, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "manifest: invalid JSON"));
	assert_int_equal(manifest(&m, "{\"mediaType\":\"" OCI_MANIFEST "\"}",
	                          DOCKER_MANIFEST, true, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "differs from Content-Type"));
	assert_int_equal(manifest(&m, "{}", "application/json", true, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "unsupported media type"));
	/* the child of an index must be an image manifest */
	assert_int_equal(manifest(&m, child, OCI_INDEX, false, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "unsupported media type"));
	assert_int_equal(manifest(&m, "{\"config\":{\"digest\":\"sha256:12\"}}",
	                          OCI_MANIFEST, true, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "no valid config digest"));
	assert_int_equal(manifest(&m,
	                          "{\"manifests\":[{\"digest\":\"x\","
	                          "\"platform\":{\"os\":\"linux\","
	                          "\"architecture\":\"arm64\","
	                          "\"variant\":\"v8\"}}]}",
	                          OCI_INDEX, true, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "invalid digest"));
	assert_null(m.digest);
}

static void
test_protocol__reads_created_and_platform_from_a_config_blob(void **state)
{
	struct protocol_config c = PROTOCOL_CONFIG_INIT;
	struct err e = ERR_INIT;
	const char *full = "{\"created\":\"2024-01-02T03:04:05.5+01:00\","
	                   "\"architecture\":\"arm\",\"os\":\"linux\","
	                   "\"variant\":\"v7\",\"config\":{}}";
	const char *bad = "{\"created\":\"yesterday\",\"os\":\"linux\"}";

	(void)state;
	assert_int_equal(protocol_config_parse(&c, full, strlen(full), &e), 0);
	assert_string_equal(c.created, "2024-01-02T03:04:05.5+01:00");
	assert_int_equal(c.created_unix, 1704161045);
	assert_string_equal(c.platform, "linux/arm/v7");
	protocol_config_release(&c);
	/* an unreadable date stays for the caller to report; no arch, no
	 * platform */
	assert_int_equal(protocol_config_parse(&c, bad, strlen(bad), &e), 0);
	assert_string_equal(c.created, "yesterday");
	assert_true(c.created_unix == INT64_MIN);
	assert_null(c.platform);
	protocol_config_release(&c);
	assert_int_equal(protocol_config_parse(&c, "[]", 2, &e), 0);
	assert_null(c.created);
	assert_int_equal(protocol_config_parse(&c, "{", 1, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "image config"));
}

static void
test_auth__token_lifetime_is_at_least_sixty_seconds(void **state)
{
	struct auth_token t;
	struct err e = ERR_INIT;
	const char *b1 = "{\"token\":\"abc\",\"expires_in\":5}";
	const char *b2 = "{\"token\":\"t\",\"access_token\":\"a\","
	                 "\"expires_in\":300,"
	                 "\"issued_at\":\"2026-01-01T00:00:00Z\","
	                 "\"refresh_token\":\"r\"}";

	(void)state;
	assert_int_equal(auth_token_parse(&t, b1, strlen(b1), 1000, &e), 0);
	assert_memory_equal(t.token.ptr, "abc", 3);
	assert_int_equal(t.expires_at, 1060);
	auth_token_release(&t);
	assert_int_equal(auth_token_parse(&t, b2, strlen(b2), 1767225600, &e),
	                 0);
	assert_memory_equal(t.token.ptr, "a", 1); /* access_token wins */
	assert_int_equal(t.expires_at, 1767225900);
	assert_memory_equal(t.refresh.ptr, "r", 1);
	auth_token_release(&t);
	assert_int_equal(auth_token_parse(&t, "{}", 2, 0, &e), -ERR_INVALID);
}

static void
test_auth__cache_keys_on_sorted_scopes_and_credential(void **state)
{
	struct auth_cache *c = NULL;
	struct auth_cred anon = AUTH_CRED_INIT, bob = AUTH_CRED_INIT;
	struct buf k1 = BUF_INIT, k2 = BUF_INIT, k3 = BUF_INIT;
	struct secret tok = SECRET_INIT;
	struct err e = ERR_INIT;

	(void)state;
	bob.username = strdup("bob");
	secret_set(&bob.password, "pw", 2);
	auth_cache_key(&k1, "r", "s", "b:x:pull a:y:pull", &anon);
	auth_cache_key(&k2, "r", "s", "a:y:pull  b:x:pull", &anon);
	auth_cache_key(&k3, "r", "s", "a:y:pull b:x:pull", &bob);
	assert_string_equal(k1.ptr, k2.ptr);
	assert_string_not_equal(k1.ptr, k3.ptr);
	assert_null(strstr(k3.ptr, "pw"));
	assert_int_equal(auth_cache_new(&c, &e), 0);
	secret_set(&tok, "T", 1);
	assert_int_equal(auth_cache_put(c, k1.ptr, &tok, 1000, &e), 0);
	assert_non_null(auth_cache_get(c, k2.ptr, 900));
	assert_null(auth_cache_get(c, k3.ptr, 900));
	/* expiry less the margin */
	assert_null(auth_cache_get(c, k1.ptr, 1000 - AUTH_EXPIRY_MARGIN));
	auth_cache_drop(c, k1.ptr);
	assert_null(auth_cache_get(c, k1.ptr, 0));
	auth_cache_free(c);
	secret_release(&tok);
	auth_cred_release(&bob);
	buf_release(&k1);
	buf_release(&k2);
	buf_release(&k3);
}

static const char dockerconfig[] =
        "{\"auths\":{"
        "\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnBhc3M=\"},"
        "\"https://reg.example.org/v1/\":{\"auth\":\"dTpwOmM=\"},"
        "\"ghcr.io\":{\"username\":\"gu\",\"password\":\"gp\"},"
        "\"id.example\":{\"auth\":\"dTo=\",\"identitytoken\":\"IT\"},"
        "\"rt.example\":{\"registrytoken\":\"RT\"},"
        "\"bad.example\":{\"auth\":\"Ont4\"}"
        "},\"credHelpers\":{\"helped.example\":\"ferrytest\"}}";

static void
test_auth__finds_credentials_in_docker_config_like_docker(void **state)
{
	struct auth_cred c;
	struct err e = ERR_INIT;
	char *helper = NULL;
	size_t len = strlen(dockerconfig);

	(void)state;
	assert_int_equal(auth_dockerconfig_lookup(&c, &helper, dockerconfig,
	                                          len, "docker.io", &e),
	                 0);
	assert_string_equal(c.username, "hub");
	assert_memory_equal(c.password.ptr, "hubpass", 7);
	auth_cred_release(&c);
	/* https://reg.example.org/v1/ reduced to its host; split on the
	   first ':' so the password keeps the second */
	assert_int_equal(auth_dockerconfig_lookup(&c, &helper, dockerconfig,
	                                          len, "reg.example.org", &e),
	                 0);
	assert_string_equal(c.username, "u");
	assert_int_equal(c.password.len, 3);
	assert_memory_equal(c.password.ptr, "p:c", 3);
	auth_cred_release(&c);
	assert_int_equal(auth_dockerconfig_lookup(&c, &helper, dockerconfig,
	                                          len, "ghcr.io", &e),
	                 0);
	assert_string_equal(c.username, "gu");
	auth_cred_release(&c);
	assert_int_equal(auth_dockerconfig_lookup(&c, &helper, dockerconfig,
	                                          len, "id.example", &e),
	                 0);
	assert_memory_equal(c.identity_token.ptr, "IT", 2);
	auth_cred_release(&c);
	assert_int_equal(auth_dockerconfig_lookup(&c, &helper, dockerconfig,
	                                          len, "rt.example", &e),
	                 0);
	assert_memory_equal(c.registry_token.ptr, "RT", 2);
	auth_cred_release(&c);
	assert_int_equal(auth_dockerconfig_lookup(&c, &helper, dockerconfig,
	                                          len, "nothere.example", &e),
	                 -ERR_NOTFOUND);
	assert_int_equal(auth_dockerconfig_lookup(&c, &helper, dockerconfig,
	                                          len, "bad.example", &e),
	                 -ERR_INVALID);
	assert_int_equal(auth_dockerconfig_lookup(&c, &helper, dockerconfig,
	                                          len, "helped.example", &e),
	                 0);
	assert_string_equal(helper, "ferrytest");
	assert_true(auth_cred_empty(&c));
	free(helper);
}

static void
test_auth__runs_credential_helpers(void **state)
{
	struct auth_cred c;
	struct err e = ERR_INIT;
	const char *src = getenv("FERRY_SOURCE_ROOT");
	const char *path = getenv("PATH");
	struct buf p = BUF_INIT;

	(void)state;
	if (src == NULL)
		fail_msg("FERRY_SOURCE_ROOT is not set");
	buf_addf(&p, "%s/tests/scanner/bin:%s", src,
	         path ? path : "/usr/bin:/bin");
	setenv("PATH", p.ptr, 1);
	assert_int_equal(
	        auth_helper_get(&c, "ferrytest", "reg.example.com", &e), 0);
	assert_string_equal(c.username, "helperuser");
	assert_memory_equal(c.password.ptr, "helperpass", 10);
	auth_cred_release(&c);
	assert_int_equal(auth_helper_get(&c, "ferrytest", "docker.io", &e), 0);
	assert_null(c.username);
	assert_memory_equal(c.identity_token.ptr, "idtoken", 7);
	auth_cred_release(&c);
	assert_int_equal(auth_helper_get(&c, "ferrytest", "other.example", &e),
	                 -ERR_NOTFOUND);
	assert_int_equal(auth_helper_get(&c, "doesnotexist", "x.example", &e),
	                 -ERR_AUTH);
	assert_non_null(strstr(e.msg, "docker-credential-doesnotexist"));
	buf_release(&p);
}

static void
test_registry__refuses_an_exclusion_go_lacks_before_any_request(void **state)
{
	const char *excl[] = { "^.*\\.sig$", "^(?!v)" };
	struct registry_image img = { 0 };
	struct registry_scan scan = REGISTRY_SCAN_INIT;
	struct registry_client *c = NULL;
	struct err e = ERR_INIT;

	(void)state;
	/* port 9 (discard): nothing answers, and nothing is asked */
	img.image = "127.0.0.1:9/app";
	img.insecure = true;
	img.exclusions = excl;
	img.n_exclusions = 2;
	assert_int_equal(registry_client_new(&c, NULL, &e), 0);
	assert_int_equal(registry_scan_all(c, &img, &scan, 1, NULL, NULL),
	                 -ERR_INVALID);
	assert_non_null(strstr(scan.err.msg, "exclusionList: regular "
	                                     "expression '^(?!v)' uses "
	                                     "lookaround assertions"));
	registry_scan_release(&scan);
	registry_client_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_reference__normalises_names_the_way_docker_does),
		cmocka_unit_test(
		        test_reference__splits_tag_and_digest_after_the_last_slash),
		cmocka_unit_test(
		        test_reference__rejects_names_outside_the_grammar),
		cmocka_unit_test(
		        test_auth__parses_bearer_challenges_with_quotes_escapes_and_commas),
		cmocka_unit_test(test_auth__rejects_malformed_challenges),
		cmocka_unit_test(
		        test_protocol__tchar_is_exactly_the_rfc_9110_token_set),
		cmocka_unit_test(
		        test_auth__a_scheme_is_a_token_as_in_link_headers),
		cmocka_unit_test(test_protocol__finds_the_next_link_verbatim),
		cmocka_unit_test(test_protocol__rejects_malformed_link_headers),
		cmocka_unit_test(
		        test_protocol__parses_tag_lists_and_rejects_bad_ones),
		cmocka_unit_test(
		        test_protocol__reads_retry_after_times_and_rate_limits),
		cmocka_unit_test(
		        test_protocol__finds_the_config_digest_of_an_image_manifest),
		cmocka_unit_test(
		        test_protocol__picks_the_platform_of_an_index_but_no_attestation),
		cmocka_unit_test(
		        test_protocol__refuses_manifests_it_cannot_follow),
		cmocka_unit_test(
		        test_protocol__reads_created_and_platform_from_a_config_blob),
		cmocka_unit_test(
		        test_auth__token_lifetime_is_at_least_sixty_seconds),
		cmocka_unit_test(
		        test_auth__cache_keys_on_sorted_scopes_and_credential),
		cmocka_unit_test(
		        test_auth__finds_credentials_in_docker_config_like_docker),
		cmocka_unit_test(test_auth__runs_credential_helpers),
		cmocka_unit_test(
		        test_registry__refuses_an_exclusion_go_lacks_before_any_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
