/*
 * test_receiver.c - every receiver type (core/receiver/receiver.h) over
 * payloads shaped as each registry documents them (tests/receiver/
 * fixtures; the distribution ones are what Debian's docker-registry 2.8
 * really sent), signed, forged, oversized, malformed, without a tag, and
 * digest-only; the duplicate filter; the names Argo CD Image Updater
 * uses.  gcr tokens are signed here with RSA keys made at start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <sodium.h>

#include "base/buf.h"
#include "base/util.h"
#include "receiver/receiver.h"

#define TOKEN "s3cret-token"
#define NOW 1700000000

/* ---- request building ---- */

struct t {
	struct receiver_header h[12];
	size_t nh;
	struct secret token;
	struct receiver_config cfg;
	struct receiver_request req;
	struct receiver_result res;
	char *body; /* owned when loaded from a fixture */
	char sig[256];
	const char *events[4];
};

static struct t *
t_new(enum receiver_type type)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	assert_int_equal(secret_set(&t->token, TOKEN, strlen(TOKEN)), 0);
	t->cfg = (struct receiver_config)RECEIVER_CONFIG_INIT;
	t->cfg.type = type;
	t->cfg.token = &t->token;
	t->req.method = "POST";
	t->req.headers = t->h;
	t->req.now = NOW;
	t->res = (struct receiver_result)RECEIVER_RESULT_INIT;
	return t;
}

static void
t_free(struct t *t)
{
	receiver_result_release(&t->res);
	secret_release(&t->token);
	free(t->body);
	free(t);
}

static void
t_header(struct t *t, const char *name, const char *value)
{
	assert_true(t->nh < 12);
	t->h[t->nh].name = name;
	t->h[t->nh].value = value;
	t->nh++;
	t->req.nheaders = t->nh;
}

static char *
fixture(const char *name)
{
	const char *root = getenv("FERRY_SOURCE_ROOT");
	struct buf path = BUF_INIT, data = BUF_INIT;
	struct err e = ERR_INIT;

	assert_non_null(root);
	buf_addf(&path, "%s/tests/receiver/fixtures/%s", root, name);
	assert_int_equal(file_read(&data, path.ptr, &e), 0);
	buf_release(&path);
	return buf_detach(&data);
}

static void
t_body(struct t *t, const char *s)
{
	free(t->body);
	t->body = strdup(s);
	t->req.body = t->body;
	t->req.len = strlen(s);
}

static void
t_fixture(struct t *t, const char *name)
{
	free(t->body);
	t->body = fixture(name);
	t->req.body = t->body;
	t->req.len = strlen(t->body);
}

/* Replaces the first occurrence of from in the body with to. */
static void
t_edit(struct t *t, const char *from, const char *to)
{
	char *p = strstr(t->body, from);
	struct buf b = BUF_INIT;

	assert_non_null(p);
	buf_add(&b, t->body, (size_t)(p - t->body));
	buf_puts(&b, to);
	buf_puts(&b, p + strlen(from));
	free(t->body);
	t->body = buf_detach(&b);
	t->req.body = t->body;
	t->req.len = strlen(t->body);
}

/* "alg=<hex>" HMAC of the body under key into t->sig. */
static const char *
t_sign(struct t *t, const char *alg, const char *key)
{
	unsigned char mac[64];
	unsigned int n = 0;
	const EVP_MD *md = strcmp(alg, "sha1") == 0     ? EVP_sha1()
	                   : strcmp(alg, "sha256") == 0 ? EVP_sha256()
	                                                : EVP_sha512();
	char hex[129];

	assert_non_null(HMAC(md, key, (int)strlen(key),
	                     (const unsigned char *)t->req.body, t->req.len,
	                     mac, &n));
	sodium_bin2hex(hex, sizeof(hex), mac, n);
	snprintf(t->sig, sizeof(t->sig), "%s=%s", alg, hex);
	return t->sig;
}

static int
t_run(struct t *t)
{
	receiver_result_release(&t->res);
	return receiver_handle(&t->res, &t->cfg, &t->req);
}

static void
assert_event(const struct receiver_event *ev, const char *host,
             const char *repo, const char *tag, const char *digest)
{
	if (host == NULL)
		assert_null(ev->host);
	else
		assert_string_equal(ev->host, host);
	assert_string_equal(ev->repository, repo);
	if (tag == NULL)
		assert_null(ev->tag);
	else
		assert_string_equal(ev->tag, tag);
	if (digest == NULL)
		assert_null(ev->digest);
	else
		assert_string_equal(ev->digest, digest);
}

static void
assert_refused(struct t *t, int status)
{
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, status);
	assert_int_equal(t->res.nevents, 0);
	assert_false(t->res.trigger_all);
	assert_true(t->res.why.msg[0] != '\0');
	/* a message never carries the secret */
	assert_null(strstr(t->res.why.msg, TOKEN));
}

static void
assert_nothing_to_do(struct t *t)
{
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 0);
	assert_false(t->res.trigger_all);
}

#define HARBOR_DIGEST                                                          \
	"sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"
#define DIST_DIGEST                                                            \
	"sha256:d1834b683db09d3f77b36963bdeb1dc6f02b6b5a97f04366268d9eba6e907361"
#define ACR_DIGEST                                                             \
	"sha256:80f0d5c8786bb9e621a45ece0db56d11cdc624ad20da9fe62e9d25490f331d7d"
#define GH_DIGEST                                                              \
	"sha256:6d8aaf1b9aa2e34a45ed6c3c8aaf1b9aa2e34a45ed6c3c8aaf1b9aa2e34a45ed"
#define DIST_CT "application/vnd.docker.distribution.events.v1+json"

/* ---- names, paths ---- */

static void
test_receiver__parses_every_flux_type_and_refuses_generic_oidc(void **state)
{
	enum receiver_type t;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(receiver_type_parse(&t, "github", &e), 0);
	assert_int_equal(t, RECEIVER_GITHUB);
	assert_int_equal(receiver_type_parse(&t, "distribution", &e), 0);
	assert_int_equal(t, RECEIVER_DISTRIBUTION);
	assert_int_equal(receiver_type_parse(&t, "cdevents", &e), 0);
	assert_int_equal(t, RECEIVER_CDEVENTS);
	assert_int_equal(receiver_type_parse(&t, "generic-oidc", &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "not supported"));
	assert_int_equal(receiver_type_parse(&t, "docker.io", &e),
	                 -ERR_INVALID);
	assert_int_equal(receiver_type_parse(&t, NULL, &e), -ERR_INVALID);
}

static void
test_receiver__parses_argo_query_types_and_names_their_secrets(void **state)
{
	enum receiver_type t;
	struct err e = ERR_INIT;
	const struct receiver_argo_secret_source *s;

	(void)state;
	assert_int_equal(receiver_argo_type_parse(&t, "aliyun-acr", &e), 0);
	assert_int_equal(t, RECEIVER_ARGO_ALIYUN_ACR);
	assert_int_equal(receiver_argo_type_parse(&t, "harbor", &e), 0);
	assert_int_equal(t, RECEIVER_ARGO_HARBOR);
	assert_int_equal(receiver_argo_type_parse(&t, "github", &e),
	                 -ERR_INVALID);
	s = receiver_argo_secret_source(RECEIVER_ARGO_CLOUDEVENTS);
	assert_string_equal(s->secret_key, "webhook.cloudevents-secret");
	assert_string_equal(s->env, "CLOUDEVENTS_WEBHOOK_SECRET");
	assert_string_equal(s->flag, "--cloudevents-webhook-secret");
	s = receiver_argo_secret_source(RECEIVER_ARGO_DOCKER);
	assert_string_equal(s->secret_key, "webhook.docker-secret");
	assert_null(receiver_argo_secret_source(RECEIVER_HARBOR));
	assert_true(receiver_type_is_argo(RECEIVER_ARGO_QUAY));
	assert_false(receiver_type_is_argo(RECEIVER_QUAY));
	assert_string_equal(receiver_type_name(RECEIVER_ARGO_GHCR), "ghcr.io");
}

static void
test_receiver__hook_path_is_sha256_of_token_name_and_namespace(void **state)
{
	struct secret tok = SECRET_INIT;
	struct buf p = BUF_INIT;

	(void)state;
	secret_set(&tok, "tok", 3);
	assert_int_equal(
	        receiver_hook_path(&p, &tok, "receiver", "flux-system"), 0);
	/* python3: hashlib.sha256(b'tokreceiverflux-system').hexdigest() */
	assert_string_equal(p.ptr, "/hook/ccbb792d9c39459eb16db0f93b75c662ffa7"
	                           "8281825ae51f3daff249a6875f3b");
	buf_release(&p);
	secret_release(&tok);
}

/* ---- checks every type shares ---- */

static void
test_receiver__refuses_a_method_other_than_post_with_405(void **state)
{
	struct t *t = t_new(RECEIVER_GENERIC);

	(void)state;
	t->req.method = "GET";
	assert_refused(t, 405);
	t_free(t);
}

static void
test_receiver__refuses_a_body_over_the_limit_with_413(void **state)
{
	struct t *t = t_new(RECEIVER_DISTRIBUTION);

	(void)state;
	t->req.body = "";
	t->req.len = RECEIVER_MAX_BODY + 1;
	assert_refused(t, 413);
	t->cfg.type = RECEIVER_ARGO_DOCKER;
	assert_refused(t, 413);
	t_free(t);
}

static void
test_receiver__generic_triggers_all_without_reading_the_body(void **state)
{
	struct t *t = t_new(RECEIVER_GENERIC);

	(void)state;
	t_body(t, "this is { not JSON");
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_true(t->res.trigger_all);
	assert_int_equal(t->res.nevents, 0);
	t_free(t);
}

/* ---- generic-hmac ---- */

static void
test_receiver__generic_hmac_accepts_sha1_sha256_and_sha512(void **state)
{
	const char *algs[] = { "sha1", "sha256", "sha512" };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct t *t = t_new(RECEIVER_GENERIC_HMAC);
		t_body(t, "{\"anything\":1}");
		t_header(t, "x-signature", t_sign(t, algs[i], TOKEN));
		assert_int_equal(t_run(t), 0);
		assert_int_equal(t->res.status, 200);
		assert_true(t->res.trigger_all);
		t_free(t);
	}
}

static void
test_receiver__generic_hmac_refuses_a_forged_signature(void **state)
{
	struct t *t = t_new(RECEIVER_GENERIC_HMAC);

	(void)state;
	t_body(t, "{\"anything\":1}");
	t_header(t, "X-Signature", t_sign(t, "sha256", "not-the-token"));
	assert_refused(t, 401);
	t_free(t);
}

static void
test_receiver__generic_hmac_refuses_a_missing_signature_or_alg(void **state)
{
	struct t *t = t_new(RECEIVER_GENERIC_HMAC);

	(void)state;
	t_body(t, "{}");
	assert_refused(t, 401);
	assert_non_null(strstr(t->res.why.msg, "X-Signature"));
	t_sign(t, "sha256", TOKEN);
	memcpy(t->sig, "md5000", 6); /* md5000=<hex> */
	t_header(t, "X-Signature", t->sig);
	assert_refused(t, 401);
	t_free(t);
}

static void
test_receiver__refuses_every_request_when_no_token_is_configured(void **state)
{
	enum receiver_type types[] = {
		RECEIVER_GENERIC_HMAC, RECEIVER_GITHUB, RECEIVER_HARBOR,
		RECEIVER_NEXUS,        RECEIVER_GITLAB, RECEIVER_DISTRIBUTION
	};

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct t *t = t_new(types[i]);
		struct secret empty = SECRET_INIT;
		t_body(t, "{}");
		t_header(t, "X-Signature", t_sign(t, "sha256", ""));
		t->cfg.token = &empty;
		assert_refused(t, 401);
		t->cfg.token = NULL;
		assert_refused(t, 401);
		t_free(t);
	}
}

/* ---- github ---- */

static struct t *
github_request(const char *event, const char *fixture_name)
{
	struct t *t = t_new(RECEIVER_GITHUB);

	t_fixture(t, fixture_name);
	t_header(t, "Content-Type", "application/json");
	t_header(t, "X-GitHub-Event", event);
	t_header(t, "X-GitHub-Delivery",
	         "72d3162e-cc78-11e3-81ab-4c9367dc0958");
	return t;
}

static void
test_receiver__github_published_container_gives_lowercase_repo(void **state)
{
	struct t *t =
	        github_request("package", "github-package-published.json");

	(void)state;
	t_header(t, "X-Hub-Signature-256", t_sign(t, "sha256", TOKEN));
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 1);
	assert_false(t->res.trigger_all);
	assert_event(&t->res.events[0], "ghcr.io", "octo-org/app", "v2.0.1",
	             GH_DIGEST);
	assert_string_equal(t->res.delivery_id,
	                    "72d3162e-cc78-11e3-81ab-4c9367dc0958");
	t_free(t);
}

static void
test_receiver__github_reads_registry_package_from_its_own_field(void **state)
{
	struct t *t = github_request("registry_package",
	                             "github-package-published.json");

	(void)state;
	t_edit(t, "\"package\":", "\"registry_package\":");
	t_header(t, "X-Hub-Signature-256", t_sign(t, "sha256", TOKEN));
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "ghcr.io", "octo-org/app", "v2.0.1",
	             GH_DIGEST);
	t_free(t);
}

static void
test_receiver__github_refuses_a_forged_signature(void **state)
{
	struct t *t =
	        github_request("package", "github-package-published.json");

	(void)state;
	t_header(t, "X-Hub-Signature-256", t_sign(t, "sha256", TOKEN));
	t_edit(t, "v2.0.1", "v6.6.6"); /* the body changed after signing */
	assert_refused(t, 401);
	t_free(t);
}

static void
test_receiver__github_accepts_the_legacy_sha1_signature(void **state)
{
	struct t *t =
	        github_request("package", "github-package-published.json");

	(void)state;
	t_header(t, "X-Hub-Signature", t_sign(t, "sha1", TOKEN));
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 1);
	t_free(t);
}

static void
test_receiver__github_answers_ping_with_200_and_no_events(void **state)
{
	struct t *t = t_new(RECEIVER_GITHUB);

	(void)state;
	t_body(t, "{\"zen\":\"Keep it logically awesome.\",\"hook_id\":1}");
	t_header(t, "Content-Type", "application/json");
	t_header(t, "X-GitHub-Event", "ping");
	t_header(t, "X-Hub-Signature-256", t_sign(t, "sha256", TOKEN));
	assert_nothing_to_do(t);
	t_free(t);
}

static void
test_receiver__github_push_event_triggers_all_as_flux_does(void **state)
{
	struct t *t = t_new(RECEIVER_GITHUB);

	(void)state;
	t_body(t, "{\"ref\":\"refs/heads/main\"}");
	t_header(t, "Content-Type", "application/json");
	t_header(t, "X-GitHub-Event", "push");
	t_header(t, "X-Hub-Signature-256", t_sign(t, "sha256", TOKEN));
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_true(t->res.trigger_all);
	t_free(t);
}

static void
test_receiver__github_refuses_an_event_outside_spec_events(void **state)
{
	struct t *t =
	        github_request("package", "github-package-published.json");

	(void)state;
	t->events[0] = "push";
	t->cfg.events = t->events;
	t->cfg.nevents = 1;
	t_header(t, "X-Hub-Signature-256", t_sign(t, "sha256", TOKEN));
	assert_refused(t, 400);
	t->events[0] = "PACKAGE"; /* matched case-insensitively */
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 1);
	t_free(t);
}

static void
test_receiver__github_reads_a_form_encoded_payload(void **state)
{
	struct t *t = t_new(RECEIVER_GITHUB);
	char *json = fixture("github-package-published.json");
	struct buf form = BUF_INIT;

	(void)state;
	buf_puts(&form, "payload=");
	for (const char *p = json; *p; p++) {
		if (*p == ' ')
			buf_putc(&form, '+');
		else if (strchr("{}\":,/\n=&+", *p))
			buf_addf(&form, "%%%02X", (unsigned char)*p);
		else
			buf_putc(&form, *p);
	}
	t_body(t, form.ptr);
	t_header(t, "Content-Type", "application/x-www-form-urlencoded");
	t_header(t, "X-GitHub-Event", "package");
	t_header(t, "X-Hub-Signature-256", t_sign(t, "sha256", TOKEN));
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "ghcr.io", "octo-org/app", "v2.0.1",
	             GH_DIGEST);
	buf_release(&form);
	free(json);
	t_free(t);
}

static void
test_receiver__github_ignores_other_packages_and_actions(void **state)
{
	struct t *t =
	        github_request("package", "github-package-published.json");

	(void)state;
	t_edit(t, "\"package_type\": \"CONTAINER\"",
	       "\"package_type\": \"npm\"");
	t_header(t, "X-Hub-Signature-256", t_sign(t, "sha256", TOKEN));
	assert_nothing_to_do(t);
	t_free(t);
	t = github_request("package", "github-package-published.json");
	t_edit(t, "\"published\"", "\"updated\"");
	t_header(t, "X-Hub-Signature-256", t_sign(t, "sha256", TOKEN));
	assert_nothing_to_do(t);
	t_free(t);
}

static void
test_receiver__github_untagged_push_is_digest_only(void **state)
{
	struct t *t =
	        github_request("package", "github-package-published.json");

	(void)state;
	t_edit(t, "\"name\": \"v2.0.1\"", "\"name\": \"\"");
	t_header(t, "X-Hub-Signature-256", t_sign(t, "sha256", TOKEN));
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "ghcr.io", "octo-org/app", NULL,
	             GH_DIGEST);
	t_free(t);
}

static void
test_receiver__github_refuses_malformed_json_and_other_types(void **state)
{
	struct t *t = t_new(RECEIVER_GITHUB);

	(void)state;
	t_body(t, "{\"action\":\"published\",");
	t_header(t, "Content-Type", "application/json");
	t_header(t, "X-GitHub-Event", "package");
	t_header(t, "X-Hub-Signature-256", t_sign(t, "sha256", TOKEN));
	assert_refused(t, 400);
	t->h[0].value = "text/plain";
	t_body(t, "{}");
	t_sign(t, "sha256", TOKEN);
	assert_refused(t, 400);
	assert_non_null(strstr(t->res.why.msg, "Content-Type"));
	t_free(t);
}

/* ---- gitlab, bitbucket ---- */

static void
test_receiver__gitlab_compares_its_token_header(void **state)
{
	struct t *t = t_new(RECEIVER_GITLAB);

	(void)state;
	t_body(t, "{}");
	t_header(t, "X-Gitlab-Token", "wrong");
	t_header(t, "X-Gitlab-Event", "Push Hook");
	assert_refused(t, 401);
	t->h[0].value = TOKEN;
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_true(t->res.trigger_all);
	t_free(t);
}

static void
test_receiver__bitbucket_checks_the_hub_signature(void **state)
{
	struct t *t = t_new(RECEIVER_BITBUCKET);

	(void)state;
	t_body(t, "{\"eventKey\":\"repo:refs_changed\"}");
	t_header(t, "Content-Type", "application/json; charset=utf-8");
	t_header(t, "X-Event-Key", "repo:refs_changed");
	t_header(t, "X-Hub-Signature", t_sign(t, "sha256", TOKEN));
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_true(t->res.trigger_all);
	t_sign(t, "sha256", "forged");
	assert_refused(t, 401);
	t_free(t);
}

/* ---- harbor ---- */

static void
test_receiver__harbor_push_artifact_gives_host_repo_tag_digest(void **state)
{
	struct t *t = t_new(RECEIVER_HARBOR);

	(void)state;
	t_fixture(t, "harbor-push.json");
	t_header(t, "Content-Type", "application/json");
	t_header(t, "Authorization", TOKEN);
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "harbor.example.com", "library/app",
	             "v1.2.3", HARBOR_DIGEST);
	t_free(t);
}

static void
test_receiver__harbor_refuses_a_wrong_authorization(void **state)
{
	struct t *t = t_new(RECEIVER_HARBOR);

	(void)state;
	t_fixture(t, "harbor-push.json");
	t_header(t, "Authorization", "Bearer " TOKEN);
	assert_refused(t, 401);
	t_free(t);
}

static void
test_receiver__harbor_digest_as_tag_is_a_digest_only_push(void **state)
{
	struct t *t = t_new(RECEIVER_HARBOR);

	(void)state;
	t_fixture(t, "harbor-push.json");
	t_edit(t, "\"tag\": \"v1.2.3\"", "\"tag\": \"" HARBOR_DIGEST "\"");
	t_header(t, "Authorization", TOKEN);
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "harbor.example.com", "library/app",
	             NULL, HARBOR_DIGEST);
	t_free(t);
}

static void
test_receiver__harbor_without_tag_or_digest_has_nothing_to_do(void **state)
{
	struct t *t = t_new(RECEIVER_HARBOR);

	(void)state;
	t_fixture(t, "harbor-push.json");
	t_edit(t, "\"tag\": \"v1.2.3\"", "\"tag\": \"\"");
	t_edit(t, "\"digest\": \"" HARBOR_DIGEST "\"", "\"digest\": \"\"");
	t_header(t, "Authorization", TOKEN);
	assert_nothing_to_do(t);
	t_free(t);
}

static void
test_receiver__harbor_reads_its_cloudevents_format(void **state)
{
	struct t *t = t_new(RECEIVER_HARBOR);

	(void)state;
	t_fixture(t, "harbor-cloudevents.json");
	t_header(t, "Content-Type", "application/cloudevents+json");
	t_header(t, "Authorization", TOKEN);
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "harbor.example.com", "library/app",
	             "v1.2.3", HARBOR_DIGEST);
	t_free(t);
}

static void
test_receiver__harbor_refuses_malformed_json(void **state)
{
	struct t *t = t_new(RECEIVER_HARBOR);

	(void)state;
	t_body(t, "{\"type\":\"PUSH_ARTIFACT\",\"event_data\":");
	t_header(t, "Authorization", TOKEN);
	assert_refused(t, 400);
	t_body(t, "{\"type\":\"PUSH_ARTIFACT\",\"event_data\":[]}");
	assert_refused(t, 400);
	t_free(t);
}

/* ---- dockerhub ---- */

static void
test_receiver__dockerhub_push_gives_docker_io_repo_and_tag(void **state)
{
	struct t *t = t_new(RECEIVER_DOCKERHUB);

	(void)state;
	t_fixture(t, "dockerhub-push.json");
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "docker.io", "svendowideit/testhook",
	             "latest", NULL);
	t_free(t);
}

static void
test_receiver__dockerhub_official_image_gets_library_prefix(void **state)
{
	struct t *t = t_new(RECEIVER_DOCKERHUB);

	(void)state;
	t_body(t, "{\"push_data\":{\"tag\":\"1.27\"},"
	          "\"repository\":{\"repo_name\":\"nginx\"}}");
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "docker.io", "library/nginx", "1.27",
	             NULL);
	t_free(t);
}

static void
test_receiver__dockerhub_without_tag_has_nothing_to_do(void **state)
{
	struct t *t = t_new(RECEIVER_DOCKERHUB);

	(void)state;
	t_fixture(t, "dockerhub-push.json");
	t_edit(t, "\"tag\": \"latest\"", "\"tag\": \"\"");
	assert_nothing_to_do(t);
	t_free(t);
}

static void
test_receiver__dockerhub_refuses_malformed_json(void **state)
{
	struct t *t = t_new(RECEIVER_DOCKERHUB);

	(void)state;
	t_body(t, "{\"push_data\":{\"tag\":");
	assert_refused(t, 400);
	t_body(t, "{\"push_data\":{\"tag\":7},\"repository\":{}}");
	assert_refused(t, 400);
	assert_non_null(strstr(t->res.why.msg, "push_data.tag"));
	t_free(t);
}

static void
test_receiver__refuses_a_tag_that_fails_the_tag_grammar(void **state)
{
	struct t *t = t_new(RECEIVER_DOCKERHUB);

	(void)state;
	t_body(t, "{\"push_data\":{\"tag\":\"-bad\\nX: y\"},"
	          "\"repository\":{\"repo_name\":\"team/app\"}}");
	assert_refused(t, 400);
	assert_int_equal(t->res.nrejected, 1);
	/* the message shows the tag, made printable */
	assert_null(strchr(t->res.why.msg, '\n'));
	t_body(t, "{\"push_data\":{\"tag\":\"v1\"},"
	          "\"repository\":{\"repo_name\":\"Team/App:x\"}}");
	assert_refused(t, 400);
	t_free(t);
}

/* ---- quay ---- */

static void
test_receiver__quay_gives_one_event_per_updated_tag(void **state)
{
	struct t *t = t_new(RECEIVER_QUAY);

	(void)state;
	t_fixture(t, "quay-push.json");
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 2);
	assert_event(&t->res.events[0], "quay.io", "mynamespace/repository",
	             "latest", NULL);
	assert_event(&t->res.events[1], "quay.io", "mynamespace/repository",
	             "1.2.0", NULL);
	t_free(t);
}

static void
test_receiver__quay_reads_the_old_map_of_tags(void **state)
{
	struct t *t = t_new(RECEIVER_QUAY);

	(void)state;
	t_body(t, "{\"repository\":\"ns/repo\",\"docker_url\":"
	          "\"quay.example.com/ns/repo\",\"updated_tags\":"
	          "{\"2.0\":\"b1e0ef5\"}}");
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "quay.example.com", "ns/repo", "2.0",
	             NULL);
	t_free(t);
}

static void
test_receiver__quay_without_tags_has_nothing_to_do(void **state)
{
	struct t *t = t_new(RECEIVER_QUAY);

	(void)state;
	t_body(t, "{\"repository\":\"ns/repo\",\"updated_tags\":[]}");
	assert_nothing_to_do(t);
	t_body(t, "{\"repository\":\"ns/repo\",\"updated_tags\":[1]}");
	assert_refused(t, 400);
	t_body(t, "[\"not\", \"an object\"");
	assert_refused(t, 400);
	t_free(t);
}

/* ---- acr ---- */

static void
test_receiver__acr_push_gives_login_server_repo_tag_digest(void **state)
{
	struct t *t = t_new(RECEIVER_ACR);

	(void)state;
	t_fixture(t, "acr-push.json");
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "myregistry.azurecr.io", "hello-world",
	             "v1", ACR_DIGEST);
	assert_string_equal(t->res.delivery_id,
	                    "cb8c3971-9adc-488b-xxxx-43cbb4974ff5");
	t_free(t);
}

static void
test_receiver__acr_digest_push_has_no_tag(void **state)
{
	struct t *t = t_new(RECEIVER_ACR);

	(void)state;
	t_fixture(t, "acr-push.json");
	t_edit(t, "\"tag\": \"v1\"", "\"tag\": \"\"");
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "myregistry.azurecr.io", "hello-world",
	             NULL, ACR_DIGEST);
	t_free(t);
}

static void
test_receiver__acr_delete_has_nothing_to_do(void **state)
{
	struct t *t = t_new(RECEIVER_ACR);

	(void)state;
	t_fixture(t, "acr-push.json");
	t_edit(t, "\"push\"", "\"delete\"");
	assert_nothing_to_do(t);
	t_body(t, "{\"action\":\"push\",\"target\":");
	assert_refused(t, 400);
	t_free(t);
}

/* ---- nexus ---- */

static void
test_receiver__nexus_accepts_its_sha1_signature(void **state)
{
	struct t *t = t_new(RECEIVER_NEXUS);

	(void)state;
	t_fixture(t, "nexus-component.json");
	t_sign(t, "sha1", TOKEN);
	t_header(t, "X-Nexus-Webhook-Signature", t->sig + 5);
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_true(t->res.trigger_all);
	t_free(t);
}

static void
test_receiver__nexus_refuses_a_forged_or_upper_case_signature(void **state)
{
	struct t *t = t_new(RECEIVER_NEXUS);

	(void)state;
	t_fixture(t, "nexus-component.json");
	t_sign(t, "sha1", "forged");
	t_header(t, "X-Nexus-Webhook-Signature", t->sig + 5);
	assert_refused(t, 401);
	t_sign(t, "sha1", TOKEN);
	for (char *p = t->sig + 5; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	/* Flux compares the lower-case hex strings */
	assert_refused(t, 401);
	t->nh = t->req.nheaders = 0;
	assert_refused(t, 401);
	t_free(t);
}

static void
test_receiver__nexus_refuses_malformed_json(void **state)
{
	struct t *t = t_new(RECEIVER_NEXUS);

	(void)state;
	t_body(t, "{\"action\":");
	t_sign(t, "sha1", TOKEN);
	t_header(t, "X-Nexus-Webhook-Signature", t->sig + 5);
	assert_refused(t, 400);
	t_free(t);
}

static void
test_receiver__nexus_takes_a_json_null_as_flux_does(void **state)
{
	struct t *t = t_new(RECEIVER_NEXUS);

	(void)state;
	/* Go decodes null into a struct without error; an array fails */
	t_body(t, "null");
	t_sign(t, "sha1", TOKEN);
	t_header(t, "X-Nexus-Webhook-Signature", t->sig + 5);
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_true(t->res.trigger_all);
	t_body(t, "[1]");
	t_sign(t, "sha1", TOKEN);
	assert_refused(t, 400);
	t_free(t);
}

/* ---- cdevents ---- */

static void
test_receiver__cdevents_triggers_all_for_a_valid_cdevent(void **state)
{
	struct t *t = t_new(RECEIVER_CDEVENTS);

	(void)state;
	t_fixture(t, "cdevents-change-merged.json");
	t_header(t, "Ce-Type", "dev.cdevents.change.merged.0.2.0");
	t->events[0] = "DEV.CDEVENTS.CHANGE.MERGED.0.2.0";
	t->cfg.events = t->events;
	t->cfg.nevents = 1;
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_true(t->res.trigger_all);
	assert_string_equal(t->res.delivery_id,
	                    "271069a8-fc18-44f1-b38f-9d70a1695819");
	t_free(t);
}

static void
test_receiver__cdevents_refuses_a_type_outside_spec_events(void **state)
{
	struct t *t = t_new(RECEIVER_CDEVENTS);

	(void)state;
	t_fixture(t, "cdevents-change-merged.json");
	t_header(t, "Ce-Type", "dev.cdevents.pipelinerun.finished.0.1.1");
	t->events[0] = "dev.cdevents.change.merged.0.2.0";
	t->cfg.events = t->events;
	t->cfg.nevents = 1;
	assert_refused(t, 400);
	t_free(t);
}

static void
test_receiver__cdevents_refuses_a_body_that_is_not_a_cdevent(void **state)
{
	struct t *t = t_new(RECEIVER_CDEVENTS);

	(void)state;
	t_body(t, "{\"context\":{\"id\":\"1\"}}");
	assert_refused(t, 400);
	t_body(t, "{\"context\":");
	assert_refused(t, 400);
	t_free(t);
}

/* ---- distribution ---- */

static struct t *
dist_request(const char *fixture_name)
{
	struct t *t = t_new(RECEIVER_DISTRIBUTION);

	t_fixture(t, fixture_name);
	t_header(t, "Content-Type", DIST_CT);
	t_header(t, "Authorization", "Bearer " TOKEN);
	return t;
}

static void
test_receiver__distribution_sample_gives_host_repo_tag_digest(void **state)
{
	struct t *t = dist_request("distribution-push.json");

	(void)state;
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "127.0.0.1:5003", "team/app", "retry-1",
	             DIST_DIGEST);
	assert_string_equal(t->res.events[0].id,
	                    "2be3eaf8-8448-4c83-a9c0-286be258fea0");
	assert_string_equal(t->res.delivery_id,
	                    "2be3eaf8-8448-4c83-a9c0-286be258fea0");
	t_free(t);
	t = dist_request("distribution-push-tokenauth.json");
	t->h[0].value = "application/vnd.docker.distribution.events.v2+json";
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "127.0.0.1:5002", "team/app", "2.0.0",
	             DIST_DIGEST);
	t_free(t);
}

static void
test_receiver__distribution_refuses_a_wrong_or_missing_token(void **state)
{
	struct t *t = dist_request("distribution-push.json");

	(void)state;
	t->h[1].value = "Bearer hook-secret";
	assert_refused(t, 401);
	t->h[1].value = TOKEN; /* no scheme */
	assert_refused(t, 401);
	t->nh = t->req.nheaders = 1;
	assert_refused(t, 401);
	t_free(t);
}

static void
test_receiver__distribution_ignores_blob_pushes_and_pulls(void **state)
{
	struct t *t = dist_request("distribution-push.json");

	(void)state;
	t_edit(t,
	       "\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\"",
	       "\"mediaType\": \"application/octet-stream\"");
	assert_nothing_to_do(t);
	t_free(t);
	t = dist_request("distribution-push.json");
	t_edit(t, "\"action\": \"push\"", "\"action\": \"pull\"");
	assert_nothing_to_do(t);
	t_free(t);
}

static void
test_receiver__distribution_digest_push_has_no_tag(void **state)
{
	struct t *t = dist_request("distribution-push.json");

	(void)state;
	t_edit(t, "\"tag\": \"retry-1\",", "");
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "127.0.0.1:5003", "team/app", NULL,
	             DIST_DIGEST);
	t_free(t);
}

static void
test_receiver__distribution_without_tag_or_digest_does_nothing(void **state)
{
	struct t *t = dist_request("distribution-push.json");

	(void)state;
	t_edit(t, "\"tag\": \"retry-1\",", "");
	t_edit(t, "\"digest\": \"" DIST_DIGEST "\",", "");
	assert_nothing_to_do(t);
	t_free(t);
}

static void
test_receiver__distribution_refuses_other_content_types(void **state)
{
	struct t *t = dist_request("distribution-push.json");

	(void)state;
	t->h[0].value = "application/json";
	assert_refused(t, 400);
	t_free(t);
}

static void
test_receiver__distribution_refuses_malformed_json(void **state)
{
	struct t *t = dist_request("distribution-push.json");

	(void)state;
	t->req.len /= 2;
	assert_refused(t, 400);
	t_body(t, "{\"events\":{}}");
	assert_refused(t, 400);
	t_body(t, "{}");
	assert_refused(t, 400);
	t_free(t);
}

static void
test_receiver__distribution_drops_only_the_invalid_events(void **state)
{
	struct t *t = t_new(RECEIVER_DISTRIBUTION);
	const char *ev = "{\"id\":\"%s\",\"action\":\"push\",\"target\":{"
	                 "\"mediaType\":\"application/vnd.oci.image.index."
	                 "v1+json\",\"repository\":\"%s\",\"tag\":\"v1\"},"
	                 "\"request\":{\"host\":\"reg.example:5000\"}}";
	char a[512], b[512], body[1100];

	(void)state;
	t_header(t, "Content-Type", DIST_CT);
	t_header(t, "Authorization", "bearer " TOKEN);
	snprintf(a, sizeof(a), ev, "a", "team/app");
	snprintf(b, sizeof(b), ev, "b", "Team/../App");
	snprintf(body, sizeof(body), "{\"events\":[%s,%s]}", a, b);
	t_body(t, body);
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 1);
	assert_int_equal(t->res.nrejected, 1);
	assert_null(t->res.delivery_id); /* two events: each has its own */
	assert_event(&t->res.events[0], "reg.example:5000", "team/app", "v1",
	             NULL);
	assert_string_equal(t->res.events[0].id, "a");
	snprintf(body, sizeof(body), "{\"events\":[%s]}", b);
	t_body(t, body);
	assert_refused(t, 400);
	assert_int_equal(t->res.nrejected, 1);
	t_free(t);
}

/* ---- gcr ---- */

static EVP_PKEY *gcr_key, *gcr_other_key;
static char *gcr_jwks;

static void
b64url(struct buf *out, const void *p, size_t n)
{
	size_t sz = sodium_base64_encoded_len(
	        n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *s = malloc(sz);

	assert_non_null(s);
	sodium_bin2base64(s, sz, p, n,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	buf_puts(out, s);
	free(s);
}

static void
bn_b64url(struct buf *out, EVP_PKEY *k, const char *name)
{
	BIGNUM *bn = NULL;
	unsigned char bin[1024];
	int n;

	assert_int_equal(EVP_PKEY_get_bn_param(k, name, &bn), 1);
	n = BN_bn2bin(bn, bin);
	b64url(out, bin, (size_t)n);
	BN_free(bn);
}

static int
gcr_setup(void **state)
{
	struct buf j = BUF_INIT;

	(void)state;
	gcr_key = EVP_RSA_gen(2048);
	gcr_other_key = EVP_RSA_gen(2048);
	if (gcr_key == NULL || gcr_other_key == NULL)
		return -1;
	buf_puts(&j, "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\","
	             "\"use\":\"sig\",\"kid\":\"k1\",\"n\":\"");
	bn_b64url(&j, gcr_key, OSSL_PKEY_PARAM_RSA_N);
	buf_puts(&j, "\",\"e\":\"");
	bn_b64url(&j, gcr_key, OSSL_PKEY_PARAM_RSA_E);
	buf_puts(&j, "\"}]}");
	gcr_jwks = buf_detach(&j);
	return 0;
}

static int
gcr_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(gcr_key);
	EVP_PKEY_free(gcr_other_key);
	free(gcr_jwks);
	return 0;
}

/* "Bearer <jwt>" signed by key with the given claims JSON. */
static char *
gcr_bearer(EVP_PKEY *key, const char *kid, const char *claims)
{
	struct buf tok = BUF_INIT, hdr = BUF_INIT;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);

	buf_addf(&hdr, "{\"alg\":\"RS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
	         kid);
	buf_puts(&tok, "Bearer ");
	b64url(&tok, hdr.ptr, hdr.len);
	buf_putc(&tok, '.');
	b64url(&tok, claims, strlen(claims));
	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key),
	                 1);
	assert_int_equal(EVP_DigestSign(md, sig, &siglen,
	                                (const unsigned char *)tok.ptr + 7,
	                                tok.len - 7),
	                 1);
	buf_putc(&tok, '.');
	b64url(&tok, sig, siglen);
	EVP_MD_CTX_free(md);
	buf_release(&hdr);
	return buf_detach(&tok);
}

#define GCR_EMAIL "pusher@my-project.iam.gserviceaccount.com"
#define GCR_AUD "https://ferry.example/hook/abc"
#define GCR_CLAIMS(aud, iss, email, verified, exp)                             \
	"{\"aud\":\"" aud "\",\"azp\":\"1234\",\"email\":\"" email             \
	"\",\"email_verified\":" verified ",\"exp\":" exp                      \
	",\"iat\":1699996400,\"iss\":\"" iss "\",\"sub\":\"1234\"}"
#define GCR_GOOD_CLAIMS                                                        \
	GCR_CLAIMS(GCR_AUD, "https://accounts.google.com", GCR_EMAIL, "true",  \
	           "1700003600")

struct gcr_t {
	struct t *t;
	char *bearer;
};

static struct t *
gcr_request(char **bearer, EVP_PKEY *key, const char *kid, const char *claims,
            const char *data_fixture)
{
	struct t *t = t_new(RECEIVER_GCR);
	char *data = fixture(data_fixture);
	struct buf env = BUF_INIT;

	t->cfg.gcr_email = GCR_EMAIL;
	t->cfg.gcr_audience = GCR_AUD;
	t->cfg.gcr_jwks = gcr_jwks;
	t->cfg.gcr_jwks_len = strlen(gcr_jwks);
	buf_puts(&env, "{\"message\":{\"attributes\":{},\"data\":\"");
	base64_encode(&env, data, strlen(data));
	buf_puts(&env, "\",\"messageId\":\"2070443601311540\",\"publishTime\":"
	               "\"2021-02-26T19:13:55.749Z\"},\"subscription\":"
	               "\"projects/my-project/subscriptions/ferry\"}");
	t_body(t, env.ptr);
	*bearer = gcr_bearer(key, kid, claims);
	t_header(t, "Authorization", *bearer);
	t_header(t, "Content-Type", "application/json");
	buf_release(&env);
	free(data);
	return t;
}

static void
test_receiver__gcr_verified_push_is_split_into_host_path_tag(void **state)
{
	char *bearer;
	struct t *t = gcr_request(&bearer, gcr_key, "k1", GCR_GOOD_CLAIMS,
	                          "gcr-insert.json");

	(void)state;
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 1);
	assert_event(
	        &t->res.events[0], "us-west1-docker.pkg.dev",
	        "my-project/my-repo/hello-world", "1.1",
	        "sha256:6ec128e26cd5f8e6d6b2f3a6a25a7d1c6f3bd4ab2f4d5bff8a3e"
	        "2f5b9c12e0a1");
	assert_string_equal(t->res.delivery_id, "2070443601311540");
	free(bearer);
	t_free(t);
}

static void
test_receiver__gcr_untagged_insert_is_digest_only(void **state)
{
	char *bearer;
	struct t *t = gcr_request(&bearer, gcr_key, "k1", GCR_GOOD_CLAIMS,
	                          "gcr-insert.json");
	char *data = fixture("gcr-insert.json");
	struct buf env = BUF_INIT;
	char *p = strstr(data, ",\n  \"tag\"");

	(void)state;
	assert_non_null(p);
	memcpy(p, "}\n", 3);
	buf_puts(&env, "{\"message\":{\"data\":\"");
	base64_encode(&env, data, strlen(data));
	buf_puts(&env, "\",\"messageId\":\"1\"}}");
	t_body(t, env.ptr);
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.nevents, 1);
	assert_event(
	        &t->res.events[0], "us-west1-docker.pkg.dev",
	        "my-project/my-repo/hello-world", NULL,
	        "sha256:6ec128e26cd5f8e6d6b2f3a6a25a7d1c6f3bd4ab2f4d5bff8a3e"
	        "2f5b9c12e0a1");
	/* with payload unwrapping the body is the data itself */
	t_body(t, "{\"action\":\"INSERT\",\"tag\":\"gcr.io/p/app:2.0\"}");
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "gcr.io", "p/app", "2.0", NULL);
	buf_release(&env);
	free(data);
	free(bearer);
	t_free(t);
}

static void
test_receiver__gcr_delete_has_nothing_to_do(void **state)
{
	char *bearer;
	struct t *t = gcr_request(&bearer, gcr_key, "k1", GCR_GOOD_CLAIMS,
	                          "gcr-insert.json");

	(void)state;
	t_body(t, "{\"action\":\"DELETE\",\"tag\":\"gcr.io/p/app:2.0\"}");
	assert_nothing_to_do(t);
	free(bearer);
	t_free(t);
}

static void
test_receiver__gcr_without_keys_in_the_secret_refuses_all(void **state)
{
	char *bearer;
	struct t *t = gcr_request(&bearer, gcr_key, "k1", GCR_GOOD_CLAIMS,
	                          "gcr-insert.json");

	(void)state;
	t->cfg.gcr_jwks = NULL;
	t->cfg.gcr_jwks_len = 0;
	assert_refused(t, 401);
	assert_non_null(strstr(t->res.why.msg, "'jwks'"));
	free(bearer);
	t_free(t);
}

static void
test_receiver__gcr_refuses_a_token_signed_by_another_key(void **state)
{
	char *bearer;
	struct t *t = gcr_request(&bearer, gcr_other_key, "k1", GCR_GOOD_CLAIMS,
	                          "gcr-insert.json");

	(void)state;
	assert_refused(t, 401);
	assert_non_null(strstr(t->res.why.msg, "signature"));
	free(bearer);
	t_free(t);
}

static void
test_receiver__gcr_refuses_an_unknown_key_id(void **state)
{
	char *bearer;
	struct t *t = gcr_request(&bearer, gcr_key, "k2", GCR_GOOD_CLAIMS,
	                          "gcr-insert.json");

	(void)state;
	assert_refused(t, 401);
	free(bearer);
	t_free(t);
}

static void
test_receiver__gcr_refuses_each_claim_that_does_not_hold(void **state)
{
	const char *bad[] = {
		GCR_CLAIMS("https://other/hook", "https://accounts.google.com",
		           GCR_EMAIL, "true", "1700003600"),
		GCR_CLAIMS(GCR_AUD, "https://evil.example", GCR_EMAIL, "true",
		           "1700003600"),
		GCR_CLAIMS(GCR_AUD, "accounts.google.com",
		           "other@x.iam.gserviceaccount.com", "true",
		           "1700003600"),
		GCR_CLAIMS(GCR_AUD, "accounts.google.com", GCR_EMAIL, "false",
		           "1700003600"),
		GCR_CLAIMS(GCR_AUD, "accounts.google.com", GCR_EMAIL,
		           "\"true\"", "1700003600"),
		GCR_CLAIMS(GCR_AUD, "accounts.google.com", GCR_EMAIL, "true",
		           "1699999999"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *bearer;
		struct t *t = gcr_request(&bearer, gcr_key, "k1", bad[i],
		                          "gcr-insert.json");
		assert_refused(t, 401);
		free(bearer);
		t_free(t);
	}
}

static void
test_receiver__gcr_refuses_a_missing_or_tampered_token(void **state)
{
	char *bearer;
	struct t *t = gcr_request(&bearer, gcr_key, "k1", GCR_GOOD_CLAIMS,
	                          "gcr-insert.json");
	char *dot;

	(void)state;
	dot = strrchr(bearer, '.');
	dot[5] = dot[5] == 'A' ? 'B' : 'A';
	assert_refused(t, 401);
	t->h[0].value = "Bearer not.a-jwt";
	assert_refused(t, 401);
	t->nh = t->req.nheaders = 0;
	assert_refused(t, 401);
	free(bearer);
	t_free(t);
}

static void
test_receiver__gcr_refuses_a_malformed_envelope(void **state)
{
	char *bearer;
	struct t *t = gcr_request(&bearer, gcr_key, "k1", GCR_GOOD_CLAIMS,
	                          "gcr-insert.json");

	(void)state;
	t_body(t, "{\"message\":{\"data\":");
	assert_refused(t, 400);
	t_body(t, "{\"message\":{\"data\":\"%%%not base64\"}}");
	assert_refused(t, 400);
	t_body(t, "{\"subscription\":\"x\"}");
	assert_refused(t, 400);
	free(bearer);
	t_free(t);
}

/* ---- Argo CD Image Updater ---- */

static void
test_receiver__argo_docker_checks_the_query_secret(void **state)
{
	struct t *t = t_new(RECEIVER_ARGO_DOCKER);

	(void)state;
	t_fixture(t, "dockerhub-push.json");
	t->req.query_secret = TOKEN;
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "docker.io", "svendowideit/testhook",
	             "latest", NULL);
	t->req.query_secret = "wrong";
	assert_refused(t, 401);
	t->req.query_secret = NULL;
	assert_refused(t, 401);
	t_free(t);
}

static void
test_receiver__argo_type_without_secret_is_refused_unless_allowed(void **state)
{
	struct t *t = t_new(RECEIVER_ARGO_QUAY);

	(void)state;
	t_fixture(t, "quay-push.json");
	t->cfg.token = NULL;
	assert_refused(t, 401);
	assert_non_null(strstr(t->res.why.msg, "--webhook-require-secret"));
	t->cfg.argo_allow_no_secret = true;
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 2);
	t_free(t);
}

static void
test_receiver__argo_ghcr_wants_a_lower_case_sha256_signature(void **state)
{
	struct t *t =
	        github_request("package", "github-package-published.json");

	(void)state;
	t->cfg.type = RECEIVER_ARGO_GHCR;
	t_header(t, "X-Hub-Signature-256", t_sign(t, "sha256", TOKEN));
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "ghcr.io", "octo-org/app", "v2.0.1",
	             GH_DIGEST);
	for (char *p = t->sig + 7; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	assert_refused(t, 401);
	t_sign(t, "sha1", TOKEN);
	assert_refused(t, 401);
	t_free(t);
}

static void
test_receiver__argo_ghcr_refuses_events_other_than_package(void **state)
{
	struct t *t = github_request("push", "github-package-published.json");

	(void)state;
	t->cfg.type = RECEIVER_ARGO_GHCR;
	t_header(t, "X-Hub-Signature-256", t_sign(t, "sha256", TOKEN));
	assert_refused(t, 400);
	t->h[1].value = "ping";
	assert_nothing_to_do(t);
	t_free(t);
}

static void
test_receiver__argo_harbor_wants_json_and_the_authorization(void **state)
{
	struct t *t = t_new(RECEIVER_ARGO_HARBOR);

	(void)state;
	t_fixture(t, "harbor-push.json");
	t_header(t, "Content-Type", "application/json");
	t_header(t, "Authorization", TOKEN);
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "harbor.example.com", "library/app",
	             "v1.2.3", HARBOR_DIGEST);
	t->h[0].value = "text/plain";
	assert_refused(t, 400);
	t->h[0].value = "application/json";
	t->h[1].value = "nope";
	assert_refused(t, 401);
	t_free(t);
}

static void
test_receiver__argo_aliyun_takes_the_host_from_region_or_query(void **state)
{
	struct t *t = t_new(RECEIVER_ARGO_ALIYUN_ACR);

	(void)state;
	t_fixture(t, "aliyun-acr-push.json");
	t->req.query_secret = TOKEN;
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.nevents, 1);
	assert_event(
	        &t->res.events[0], "registry.cn-hangzhou.aliyuncs.com",
	        "namespace/repotest", "1.0.2",
	        "sha256:457f4aa83fc9a6663ab9d1b0a6e2dce25a12a943ed5bf2c1747"
	        "c58d48bbb4917");
	t->req.query_registry_url = "my-registry.cn-shanghai.cr.aliyuncs.com";
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.nevents, 1);
	assert_string_equal(t->res.events[0].host,
	                    "my-registry.cn-shanghai.cr.aliyuncs.com");
	t->req.query_secret = "x";
	assert_refused(t, 401);
	t_free(t);
}

static void
test_receiver__argo_acr_wants_the_authorization_header(void **state)
{
	struct t *t = t_new(RECEIVER_ARGO_ACR);

	(void)state;
	t_fixture(t, "acr-push.json");
	t_header(t, "Content-Type", "application/json");
	t_header(t, "Authorization", TOKEN);
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.nevents, 1);
	assert_event(&t->res.events[0], "myregistry.azurecr.io", "hello-world",
	             "v1", ACR_DIGEST);
	t->nh = t->req.nheaders = 1;
	assert_refused(t, 401);
	t_free(t);
}

static void
test_receiver__argo_cloudevents_reads_ecr_through_eventbridge(void **state)
{
	struct t *t = t_new(RECEIVER_ARGO_CLOUDEVENTS);

	(void)state;
	t_fixture(t, "cloudevents-ecr.json");
	t_header(t, "Content-Type", "application/cloudevents+json");
	t_header(t, "X-Webhook-Secret", TOKEN);
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.status, 200);
	assert_int_equal(t->res.nevents, 1);
	assert_event(
	        &t->res.events[0],
	        "123456789012.dkr.ecr.us-east-1.amazonaws.com", "team/app",
	        "v1.4.0",
	        "sha256:0bb7dc893f39efe39c48a4dd9f6b6f8e7a730e81d044914ee10"
	        "59c5f105c825a");
	assert_string_equal(t->res.delivery_id,
	                    "f3b3b3e4-5f6a-7b8c-9d0e-1f2a3b4c5d6e");
	t->h[1].value = "wrong";
	assert_refused(t, 401);
	t->req.query_secret = TOKEN; /* the query wins over the header */
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->res.nevents, 1);
	t_free(t);
}

static void
test_receiver__argo_cloudevents_other_types_do_nothing(void **state)
{
	struct t *t = t_new(RECEIVER_ARGO_CLOUDEVENTS);

	(void)state;
	t_fixture(t, "cloudevents-ecr.json");
	t_edit(t, "com.amazon.ecr.image.push", "com.example.build.done");
	t_header(t, "Content-Type", "application/json");
	t->req.query_secret = TOKEN;
	assert_nothing_to_do(t);
	t_body(t, "{\"type\":\"com.amazon.ecr.image.push\"}");
	assert_refused(t, 400);
	t_free(t);
}

/* ---- events, dedup ---- */

static void
test_receiver__event_key_names_host_repository_tag_and_digest(void **state)
{
	struct receiver_event ev = { "reg:5000", "team/app", "v1", "sha256:ab",
		                     NULL };
	struct buf k = BUF_INIT;

	(void)state;
	assert_int_equal(receiver_event_key(&k, &ev), 0);
	assert_string_equal(k.ptr, "reg:5000/team/app:v1@sha256:ab");
	buf_reset(&k);
	ev.host = NULL;
	ev.tag = NULL;
	assert_int_equal(receiver_event_key(&k, &ev), 0);
	assert_string_equal(k.ptr, "/team/app:@sha256:ab");
	buf_release(&k);
}

static void
test_receiver__dedup_sees_a_key_again_only_within_the_window(void **state)
{
	struct receiver_dedup *d;

	(void)state;
	assert_int_equal(receiver_dedup_new(&d, 1000, 0), 0);
	assert_false(receiver_dedup_seen(d, "delivery-1", 10000));
	assert_true(receiver_dedup_seen(d, "delivery-1", 10500));
	/* the first sighting is not moved: 1000 ms after it, it is new */
	assert_false(receiver_dedup_seen(d, "delivery-1", 11000));
	assert_true(receiver_dedup_seen(d, "delivery-1", 11999));
	assert_false(receiver_dedup_seen(d, "delivery-2", 11999));
	assert_false(receiver_dedup_seen(d, "", 11999));
	assert_false(receiver_dedup_seen(d, NULL, 11999));
	receiver_dedup_free(d);
	receiver_dedup_free(NULL);
}

static void
test_receiver__dedup_forgets_the_oldest_key_when_full(void **state)
{
	struct receiver_dedup *d;
	char key[32];

	(void)state;
	assert_int_equal(receiver_dedup_new(&d, 60000, 4), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_false(receiver_dedup_seen(d, key, 1));
	}
	/* k0 gave way to k4; k1..k4 are still there */
	assert_true(receiver_dedup_seen(d, "k4", 2));
	assert_true(receiver_dedup_seen(d, "k1", 2));
	assert_false(receiver_dedup_seen(d, "k0", 2));
	receiver_dedup_free(d);
}

struct dedup_run {
	struct receiver_dedup *d;
	int fresh;
};

static void *
dedup_worker(void *arg)
{
	struct dedup_run *r = arg;
	char key[32];

	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "push-%d", i);
		if (!receiver_dedup_seen(r->d, key, 5))
			r->fresh++;
	}
	return NULL;
}

static void
test_receiver__dedup_lets_one_of_many_threads_through(void **state)
{
	struct receiver_dedup *d;
	struct dedup_run runs[4];
	pthread_t th[4];
	int fresh = 0;

	(void)state;
	assert_int_equal(receiver_dedup_new(&d, 60000, 1024), 0);
	for (int i = 0; i < 4; i++) {
		runs[i].d = d;
		runs[i].fresh = 0;
		assert_int_equal(
		        pthread_create(&th[i], NULL, dedup_worker, &runs[i]),
		        0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		fresh += runs[i].fresh;
	}
	assert_int_equal(fresh, 200);
	receiver_dedup_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_receiver__parses_every_flux_type_and_refuses_generic_oidc),
		cmocka_unit_test(
		        test_receiver__parses_argo_query_types_and_names_their_secrets),
		cmocka_unit_test(
		        test_receiver__hook_path_is_sha256_of_token_name_and_namespace),
		cmocka_unit_test(
		        test_receiver__refuses_a_method_other_than_post_with_405),
		cmocka_unit_test(
		        test_receiver__refuses_a_body_over_the_limit_with_413),
		cmocka_unit_test(
		        test_receiver__generic_triggers_all_without_reading_the_body),
		cmocka_unit_test(
		        test_receiver__generic_hmac_accepts_sha1_sha256_and_sha512),
		cmocka_unit_test(
		        test_receiver__generic_hmac_refuses_a_forged_signature),
		cmocka_unit_test(
		        test_receiver__generic_hmac_refuses_a_missing_signature_or_alg),
		cmocka_unit_test(
		        test_receiver__refuses_every_request_when_no_token_is_configured),
		cmocka_unit_test(
		        test_receiver__github_published_container_gives_lowercase_repo),
		cmocka_unit_test(
		        test_receiver__github_reads_registry_package_from_its_own_field),
		cmocka_unit_test(
		        test_receiver__github_refuses_a_forged_signature),
		cmocka_unit_test(
		        test_receiver__github_accepts_the_legacy_sha1_signature),
		cmocka_unit_test(
		        test_receiver__github_answers_ping_with_200_and_no_events),
		cmocka_unit_test(
		        test_receiver__github_push_event_triggers_all_as_flux_does),
		cmocka_unit_test(
		        test_receiver__github_refuses_an_event_outside_spec_events),
		cmocka_unit_test(
		        test_receiver__github_reads_a_form_encoded_payload),
		cmocka_unit_test(
		        test_receiver__github_ignores_other_packages_and_actions),
		cmocka_unit_test(
		        test_receiver__github_untagged_push_is_digest_only),
		cmocka_unit_test(
		        test_receiver__github_refuses_malformed_json_and_other_types),
		cmocka_unit_test(
		        test_receiver__gitlab_compares_its_token_header),
		cmocka_unit_test(
		        test_receiver__bitbucket_checks_the_hub_signature),
		cmocka_unit_test(
		        test_receiver__harbor_push_artifact_gives_host_repo_tag_digest),
		cmocka_unit_test(
		        test_receiver__harbor_refuses_a_wrong_authorization),
		cmocka_unit_test(
		        test_receiver__harbor_digest_as_tag_is_a_digest_only_push),
		cmocka_unit_test(
		        test_receiver__harbor_without_tag_or_digest_has_nothing_to_do),
		cmocka_unit_test(
		        test_receiver__harbor_reads_its_cloudevents_format),
		cmocka_unit_test(test_receiver__harbor_refuses_malformed_json),
		cmocka_unit_test(
		        test_receiver__dockerhub_push_gives_docker_io_repo_and_tag),
		cmocka_unit_test(
		        test_receiver__dockerhub_official_image_gets_library_prefix),
		cmocka_unit_test(
		        test_receiver__dockerhub_without_tag_has_nothing_to_do),
		cmocka_unit_test(
		        test_receiver__dockerhub_refuses_malformed_json),
		cmocka_unit_test(
		        test_receiver__refuses_a_tag_that_fails_the_tag_grammar),
		cmocka_unit_test(
		        test_receiver__quay_gives_one_event_per_updated_tag),
		cmocka_unit_test(test_receiver__quay_reads_the_old_map_of_tags),
		cmocka_unit_test(
		        test_receiver__quay_without_tags_has_nothing_to_do),
		cmocka_unit_test(
		        test_receiver__acr_push_gives_login_server_repo_tag_digest),
		cmocka_unit_test(test_receiver__acr_digest_push_has_no_tag),
		cmocka_unit_test(test_receiver__acr_delete_has_nothing_to_do),
		cmocka_unit_test(
		        test_receiver__nexus_accepts_its_sha1_signature),
		cmocka_unit_test(
		        test_receiver__nexus_refuses_a_forged_or_upper_case_signature),
		cmocka_unit_test(test_receiver__nexus_refuses_malformed_json),
		cmocka_unit_test(
		        test_receiver__nexus_takes_a_json_null_as_flux_does),
		cmocka_unit_test(
		        test_receiver__cdevents_triggers_all_for_a_valid_cdevent),
		cmocka_unit_test(
		        test_receiver__cdevents_refuses_a_type_outside_spec_events),
		cmocka_unit_test(
		        test_receiver__cdevents_refuses_a_body_that_is_not_a_cdevent),
		cmocka_unit_test(
		        test_receiver__distribution_sample_gives_host_repo_tag_digest),
		cmocka_unit_test(
		        test_receiver__distribution_refuses_a_wrong_or_missing_token),
		cmocka_unit_test(
		        test_receiver__distribution_ignores_blob_pushes_and_pulls),
		cmocka_unit_test(
		        test_receiver__distribution_digest_push_has_no_tag),
		cmocka_unit_test(
		        test_receiver__distribution_without_tag_or_digest_does_nothing),
		cmocka_unit_test(
		        test_receiver__distribution_refuses_other_content_types),
		cmocka_unit_test(
		        test_receiver__distribution_refuses_malformed_json),
		cmocka_unit_test(
		        test_receiver__distribution_drops_only_the_invalid_events),
		cmocka_unit_test(
		        test_receiver__gcr_verified_push_is_split_into_host_path_tag),
		cmocka_unit_test(
		        test_receiver__gcr_untagged_insert_is_digest_only),
		cmocka_unit_test(test_receiver__gcr_delete_has_nothing_to_do),
		cmocka_unit_test(
		        test_receiver__gcr_without_keys_in_the_secret_refuses_all),
		cmocka_unit_test(
		        test_receiver__gcr_refuses_a_token_signed_by_another_key),
		cmocka_unit_test(test_receiver__gcr_refuses_an_unknown_key_id),
		cmocka_unit_test(
		        test_receiver__gcr_refuses_each_claim_that_does_not_hold),
		cmocka_unit_test(
		        test_receiver__gcr_refuses_a_missing_or_tampered_token),
		cmocka_unit_test(
		        test_receiver__gcr_refuses_a_malformed_envelope),
		cmocka_unit_test(
		        test_receiver__argo_docker_checks_the_query_secret),
		cmocka_unit_test(
		        test_receiver__argo_type_without_secret_is_refused_unless_allowed),
		cmocka_unit_test(
		        test_receiver__argo_ghcr_wants_a_lower_case_sha256_signature),
		cmocka_unit_test(
		        test_receiver__argo_ghcr_refuses_events_other_than_package),
		cmocka_unit_test(
		        test_receiver__argo_harbor_wants_json_and_the_authorization),
		cmocka_unit_test(
		        test_receiver__argo_aliyun_takes_the_host_from_region_or_query),
		cmocka_unit_test(
		        test_receiver__argo_acr_wants_the_authorization_header),
		cmocka_unit_test(
		        test_receiver__argo_cloudevents_reads_ecr_through_eventbridge),
		cmocka_unit_test(
		        test_receiver__argo_cloudevents_other_types_do_nothing),
		cmocka_unit_test(
		        test_receiver__event_key_names_host_repository_tag_and_digest),
		cmocka_unit_test(
		        test_receiver__dedup_sees_a_key_again_only_within_the_window),
		cmocka_unit_test(
		        test_receiver__dedup_forgets_the_oldest_key_when_full),
		cmocka_unit_test(
		        test_receiver__dedup_lets_one_of_many_threads_through),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, gcr_setup, gcr_teardown);
}
