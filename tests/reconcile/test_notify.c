/*
 * test_notify.c - Flux's Provider and Alert objects (core/config) and the
 * requests ferry makes of them and of ferry.io/notify-url hooks
 * (core/notify): which events an Alert lets through, the payload and
 * signature each type gets.  Sending over the network is tested end to
 * end (tests/reconcile/test_reconcile.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "config/loader.h"
#include "notify/notify.h"

static struct config *
load(const char *yaml)
{
	struct config *cfg = NULL;
	struct err err = ERR_INIT;

	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(
	        config_add_buffer(cfg, "test.yaml", yaml, strlen(yaml), &err),
	        0);
	config_check(cfg, &err);
	return cfg;
}

static bool
has_diag(const struct config *cfg, const char *path, const char *text)
{
	for (size_t i = 0; i < config_diag_count(cfg); i++) {
		const struct config_diag *d = config_diag_get(cfg, i);
		if (strcmp(d->path, path) == 0 && strstr(d->message, text))
			return true;
	}
	for (size_t i = 0; i < config_diag_count(cfg); i++)
		fprintf(stderr, "  diag: %s: %s\n",
		        config_diag_get(cfg, i)->path,
		        config_diag_get(cfg, i)->message);
	return false;
}

#define PROVIDER(type, extra)                                                  \
	"apiVersion: notification.toolkit.fluxcd.io/v1beta3\n"                 \
	"kind: Provider\n"                                                     \
	"metadata: {name: hook, namespace: apps}\n"                            \
	"spec:\n"                                                              \
	"  type: " type "\n" extra

#define SECRET(data)                                                           \
	"---\napiVersion: v1\nkind: Secret\n"                                  \
	"metadata: {name: hook-secret, namespace: apps}\n"                     \
	"stringData:\n" data

#define ALERT(spec)                                                            \
	"---\napiVersion: notification.toolkit.fluxcd.io/v1beta3\n"            \
	"kind: Alert\n"                                                        \
	"metadata: {name: alert, namespace: apps}\n"                           \
	"spec:\n"                                                              \
	"  providerRef: {name: hook}\n" spec

static void
test_config__provider_and_alert_load_with_flux_defaults(void **state)
{
	struct config *cfg =
	        load(PROVIDER("generic", "  address: http://127.0.0.1:1/\n")
	                     ALERT("  eventSources: [{kind: Kustomization, "
	                           "name: '*'}]\n"));
	const struct config_object *p, *a;

	(void)state;
	assert_int_equal(config_diag_count(cfg), 0);
	p = config_find(cfg, CONFIG_PROVIDER, "apps", "hook");
	a = config_find(cfg, CONFIG_ALERT, "apps", "alert");
	assert_non_null(p);
	assert_non_null(a);
	assert_true(p->u.provider.timeout == (int64_t)15 * 1000000000);
	assert_string_equal(a->u.alert.event_severity, "info");
	assert_string_equal(a->u.alert.event_sources[0].namespace, "apps");
	assert_ptr_equal(config_alert_provider(cfg, a), p);
	config_free(cfg);
}

static void
test_config__a_provider_type_ferry_cannot_send_is_an_error(void **state)
{
	struct config *cfg =
	        load(PROVIDER("discord", "  address: http://127.0.0.1:1/\n"));

	(void)state;
	assert_true(has_diag(cfg, "spec.type", "ferry does not send it"));
	config_free(cfg);
}

static void
test_config__a_provider_without_an_address_is_an_error(void **state)
{
	struct config *cfg = load(PROVIDER("slack", ""));

	(void)state;
	assert_true(has_diag(cfg, "spec.address", "required"));
	config_free(cfg);
}

static void
test_config__an_address_in_the_secret_is_enough(void **state)
{
	struct config *cfg =
	        load(PROVIDER("slack", "  secretRef: {name: hook-secret}\n")
	                     SECRET("  address: "
	                            "http://127.0.0.1:1/x\n"));

	(void)state;
	assert_int_equal(config_diag_count(cfg), 0);
	config_free(cfg);
}

static void
test_config__an_alert_names_a_provider_that_exists(void **state)
{
	struct config *cfg =
	        load("apiVersion: notification.toolkit.fluxcd.io/v1beta3\n"
	             "kind: Alert\n"
	             "metadata: {name: alert, namespace: apps}\n"
	             "spec:\n"
	             "  providerRef: {name: nowhere}\n"
	             "  eventSources: [{kind: Kustomization, name: '*'}]\n");

	(void)state;
	assert_true(has_diag(cfg, "spec.providerRef.name", "not found"));
	config_free(cfg);
}

static void
test_config__alert_patterns_and_summary_are_checked(void **state)
{
	struct config *cfg = load(
	        PROVIDER("generic", "  address: http://127.0.0.1:1/\n") ALERT(
	                "  eventSources: [{kind: Kustomization, name: '*'}]\n"
	                "  exclusionList: ['(?=x)']\n"
	                "  eventSeverity: warning\n"));

	(void)state;
	assert_true(has_diag(cfg, "spec.exclusionList[0]", "lookaround") ||
	            has_diag(cfg, "spec.exclusionList[0]", "(?="));
	assert_true(has_diag(cfg, "spec.eventSeverity", "warning"));
	config_free(cfg);
}

/* ---- which events an Alert lets through ---- */

static struct notify_event
event(const char *kind, const char *ns, const char *name, bool error,
      const char *message)
{
	struct notify_event ev = { 0 };

	ev.kind = kind;
	ev.namespace_ = ns;
	ev.name = name;
	ev.error = error;
	ev.reason = error ? "ReconciliationFailed" : "ReconciliationSucceeded";
	ev.message = message;
	return ev;
}

static bool
passes(const char *alert_spec, const struct notify_event *ev)
{
	struct buf y = BUF_INIT;
	struct config *cfg;
	bool ok;

	buf_puts(&y, PROVIDER("generic", "  address: http://127.0.0.1:1/\n"));
	buf_puts(&y, ALERT(""));
	buf_puts(&y, alert_spec);
	cfg = load(y.ptr);
	assert_int_equal(config_diag_count(cfg), 0);
	ok = notify_alert_matches(cfg, config_get(cfg, CONFIG_ALERT, 0), ev);
	config_free(cfg);
	buf_release(&y);
	return ok;
}

static void
test_alert__matches_kind_name_and_the_alerts_namespace(void **state)
{
	const char *spec =
	        "  eventSources: [{kind: Kustomization, name: web}]\n";
	struct notify_event ok = event("Kustomization", "apps", "web", 0, "x");
	struct notify_event other_name =
	        event("Kustomization", "apps", "db", 0, "x");
	struct notify_event other_ns =
	        event("Kustomization", "infra", "web", 0, "x");
	struct notify_event other_kind =
	        event("ImagePolicy", "apps", "web", 0, "x");

	(void)state;
	assert_true(passes(spec, &ok));
	assert_false(passes(spec, &other_name));
	assert_false(passes(spec, &other_ns));
	assert_false(passes(spec, &other_kind));
}

static void
test_alert__a_star_with_match_labels_needs_the_labels(void **state)
{
	const char *spec =
	        "  eventSources:\n"
	        "    - {kind: Kustomization, name: '*', namespace: infra,\n"
	        "       matchLabels: {team: web}}\n";
	struct config_strmap labels = { 0 };
	char *k[] = { "team" }, *v[] = { "web" };
	struct notify_event ev = event("Kustomization", "infra", "a", 0, "x");

	(void)state;
	assert_false(passes(spec, &ev));
	labels.keys = k;
	labels.values = v;
	labels.n = 1;
	ev.labels = &labels;
	assert_true(passes(spec, &ev));
}

static void
test_alert__error_severity_drops_info_events(void **state)
{
	const char *spec =
	        "  eventSeverity: error\n"
	        "  eventSources: [{kind: Kustomization, name: '*'}]\n";
	struct notify_event info = event("Kustomization", "apps", "a", 0, "x");
	struct notify_event bad = event("Kustomization", "apps", "a", 1, "x");

	(void)state;
	assert_false(passes(spec, &info));
	assert_true(passes(spec, &bad));
}

static void
test_alert__exclusion_wins_over_inclusion(void **state)
{
	const char *spec =
	        "  eventSources: [{kind: Kustomization, name: '*'}]\n"
	        "  inclusionList: ['synced']\n"
	        "  exclusionList: ['dry-run']\n";
	struct notify_event in =
	        event("Kustomization", "apps", "a", 0, "synced main@sha1:1");
	struct notify_event out =
	        event("Kustomization", "apps", "a", 0, "synced dry-run");
	struct notify_event none = event("Kustomization", "apps", "a", 0, "x");

	(void)state;
	assert_true(passes(spec, &in));
	assert_false(passes(spec, &out));
	assert_false(passes(spec, &none));
}

static void
test_alert__a_suspended_alert_or_provider_sends_nothing(void **state)
{
	struct notify_event ev = event("Kustomization", "apps", "a", 0, "x");
	struct config *cfg = load(
	        PROVIDER("generic", "  address: http://127.0.0.1:1/\n"
	                            "  suspend: true\n")
	                ALERT("  eventSources: [{kind: Kustomization, name: "
	                      "'*'}]\n"));

	(void)state;
	assert_false(notify_alert_matches(cfg, config_get(cfg, CONFIG_ALERT, 0),
	                                  &ev));
	config_free(cfg);
	assert_false(passes("  suspend: true\n"
	                    "  eventSources: [{kind: Kustomization, name: "
	                    "'*'}]\n",
	                    &ev));
}

/* ---- the requests ---- */

/* The value of header name in r, or NULL (a static copy). */
static const char *
header(const struct notify_request *r, const char *name)
{
	static char value[512];
	size_t n = strlen(name);

	for (const char *p = r->headers.ptr; p && *p;
	     p += strcspn(p, "\n") + (p[strcspn(p, "\n")] ? 1 : 0)) {
		size_t len = strcspn(p, "\n");
		if (len > n + 2 && strncasecmp(p, name, n) == 0 &&
		    p[n] == ':') {
			snprintf(value, sizeof(value), "%.*s",
			         (int)(len - n - 2), p + n + 2);
			return value;
		}
	}
	return NULL;
}

static void
expect_hmac(const struct notify_request *r, const char *hdr, const char *key)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	char want[80] = "sha256=";

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)key,
	                            strlen(key));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)r->body.ptr,
	                              r->body.len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(want + 7, sizeof(want) - 7, mac, sizeof(mac));
	assert_non_null(header(r, hdr));
	assert_string_equal(header(r, hdr), want);
}

static struct config *
load_alert(const char *provider)
{
	struct buf y = BUF_INIT;
	struct config *cfg;

	buf_puts(&y, provider);
	buf_puts(&y, SECRET("  token: s3cret\n"
	                    "  headers: |\n"
	                    "    X-Team: web\n"));
	buf_puts(&y,
	         ALERT("  summary: prod cluster\n"
	               "  eventMetadata: {env: prod}\n"
	               "  eventSources: [{kind: Kustomization, name: '*'}]\n"));
	cfg = load(y.ptr);
	buf_release(&y);
	assert_int_equal(config_diag_count(cfg), 0);
	return cfg;
}

static cJSON *
body_json(const struct notify_request *r)
{
	cJSON *doc = NULL;
	struct err e = ERR_INIT;

	assert_int_equal(json_parse(&doc, r->body.ptr, r->body.len, "body", &e),
	                 0);
	return doc;
}

static void
test_request__generic_hmac_signs_flux_event_json(void **state)
{
	struct config *cfg = load_alert(
	        PROVIDER("generic-hmac", "  address: http://127.0.0.1:1/hook\n"
	                                 "  secretRef: {name: hook-secret}\n"));
	const char *meta[] = { "revision", "main@sha1:abc", "summary", "mine",
		               NULL };
	struct notify_event ev =
	        event("Kustomization", "apps", "web", 0, "synced");
	struct notify_request r;
	struct err e = ERR_INIT;
	cJSON *doc, *m;

	(void)state;
	ev.metadata = meta;
	assert_int_equal(notify_alert_request(&r, cfg,
	                                      config_get(cfg, CONFIG_ALERT, 0),
	                                      &ev, "2026-01-02T03:04:05Z", &e),
	                 0);
	assert_string_equal(r.url, "http://127.0.0.1:1/hook");
	expect_hmac(&r, "X-Signature", "s3cret");
	assert_string_equal(header(&r, "X-Team"), "web");
	assert_string_equal(header(&r, "Gotk-Component"), "ferry");
	doc = body_json(&r);
	assert_string_equal(json_get_string(cJSON_GetObjectItemCaseSensitive(
	                                            doc, "involvedObject"),
	                                    "kind"),
	                    "Kustomization");
	assert_string_equal(json_get_string(doc, "severity"), "info");
	assert_string_equal(json_get_string(doc, "timestamp"),
	                    "2026-01-02T03:04:05Z");
	m = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
	assert_string_equal(json_get_string(m, "revision"), "main@sha1:abc");
	/* the event's own key wins over the Alert's summary */
	assert_string_equal(json_get_string(m, "summary"), "mine");
	assert_string_equal(json_get_string(m, "env"), "prod");
	cJSON_Delete(doc);
	notify_request_release(&r);
	config_free(cfg);
}

static void
test_request__slack_gets_an_attachment_with_metadata_fields(void **state)
{
	struct config *cfg = load_alert(
	        PROVIDER("slack", "  address: http://127.0.0.1:1/slack\n"
	                          "  channel: deploys\n"
	                          "  secretRef: {name: hook-secret}\n"));
	struct notify_event ev = event("ImageUpdateAutomation", "apps", "auto",
	                               1, "push failed");
	struct notify_request r;
	struct err e = ERR_INIT;
	cJSON *doc, *a;

	(void)state;
	assert_int_equal(notify_alert_request(&r, cfg,
	                                      config_get(cfg, CONFIG_ALERT, 0),
	                                      &ev, NULL, &e),
	                 0);
	assert_string_equal(header(&r, "Authorization"), "Bearer s3cret");
	doc = body_json(&r);
	assert_string_equal(json_get_string(doc, "channel"), "deploys");
	assert_string_equal(json_get_string(doc, "username"), "ferry");
	a = cJSON_GetArrayItem(
	        cJSON_GetObjectItemCaseSensitive(doc, "attachments"), 0);
	assert_string_equal(json_get_string(a, "color"), "danger");
	assert_string_equal(json_get_string(a, "author_name"),
	                    "imageupdateautomation/auto.apps");
	assert_string_equal(json_get_string(a, "text"), "push failed");
	assert_int_equal(cJSON_GetArraySize(
	                         cJSON_GetObjectItemCaseSensitive(a, "fields")),
	                 2); /* env and summary */
	assert_false(r.slack_api);
	cJSON_Delete(doc);
	notify_request_release(&r);
	config_free(cfg);
}

static void
test_request__githubdispatch_posts_to_the_repository_api(void **state)
{
	struct config *cfg = load_alert(PROVIDER(
	        "githubdispatch", "  address: https://github.com/org/app.git\n"
	                          "  secretRef: {name: hook-secret}\n"));
	struct notify_event ev =
	        event("Kustomization", "apps", "web", 0, "synced");
	struct notify_request r;
	struct err e = ERR_INIT;
	cJSON *doc;

	(void)state;
	assert_int_equal(notify_alert_request(&r, cfg,
	                                      config_get(cfg, CONFIG_ALERT, 0),
	                                      &ev, NULL, &e),
	                 0);
	assert_string_equal(r.url,
	                    "https://api.github.com/repos/org/app/dispatches");
	doc = body_json(&r);
	assert_string_equal(json_get_string(doc, "event_type"),
	                    "Kustomization/web.apps");
	assert_non_null(
	        cJSON_GetObjectItemCaseSensitive(doc, "client_payload"));
	cJSON_Delete(doc);
	notify_request_release(&r);
	config_free(cfg);
}

static void
test_request__generic_hmac_without_a_token_is_refused(void **state)
{
	struct config *cfg = load(
	        PROVIDER("generic-hmac", "  address: http://127.0.0.1:1/\n")
	                ALERT("  eventSources: [{kind: Kustomization, name: "
	                      "'*'}]\n"));
	struct notify_event ev = event("Kustomization", "apps", "a", 0, "x");
	struct notify_request r;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(notify_alert_request(&r, cfg,
	                                      config_get(cfg, CONFIG_ALERT, 0),
	                                      &ev, NULL, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "token"));
	config_free(cfg);
}

static void
test_hook__a_flux_receiver_gets_an_x_signature(void **state)
{
	struct secret tok = SECRET_INIT;
	struct notify_hook h = { 0 };
	struct notify_request r;
	struct err e = ERR_INIT;

	(void)state;
	secret_set(&tok, "receiver-token", 14);
	h.url = "http://127.0.0.1:1/hook/abc";
	h.kind = NOTIFY_HOOK_FLUX;
	h.token = &tok;
	h.commit = "0123456789012345678901234567890123456789";
	h.revision = "main@sha1:0123456789012345678901234567890123456789";
	h.namespace_ = "apps";
	h.name = "web";
	assert_int_equal(notify_hook_request(&r, &h, &e), 0);
	expect_hmac(&r, "X-Signature", "receiver-token");
	notify_request_release(&r);
	secret_release(&tok);
}

static void
test_hook__argo_cd_gets_a_signed_github_push_event(void **state)
{
	struct secret tok = SECRET_INIT;
	struct notify_hook h = { 0 };
	struct notify_request r;
	struct err e = ERR_INIT;
	cJSON *doc, *repo;

	(void)state;
	secret_set(&tok, "argo", 4);
	h.url = "https://argocd.example/api/webhook";
	assert_int_equal(notify_hook_kind_parse(NULL, h.url, &h.kind), 0);
	assert_int_equal(h.kind, NOTIFY_HOOK_ARGOCD);
	h.token = &tok;
	h.repo_url = "ssh://git@github.com/org/config.git";
	h.branch = "main";
	h.commit = "0123456789012345678901234567890123456789";
	assert_int_equal(notify_hook_request(&r, &h, &e), 0);
	assert_string_equal(header(&r, "X-GitHub-Event"), "push");
	expect_hmac(&r, "X-Hub-Signature-256", "argo");
	assert_non_null(header(&r, "X-Hub-Signature"));
	doc = body_json(&r);
	assert_string_equal(json_get_string(doc, "ref"), "refs/heads/main");
	assert_string_equal(json_get_string(doc, "after"), h.commit);
	repo = cJSON_GetObjectItemCaseSensitive(doc, "repository");
	assert_string_equal(json_get_string(repo, "html_url"),
	                    "https://github.com/org/config");
	assert_string_equal(json_get_string(repo, "default_branch"), "main");
	cJSON_Delete(doc);
	notify_request_release(&r);
	secret_release(&tok);
}

static void
test_hook__the_kind_comes_from_a_word_or_the_url(void **state)
{
	enum notify_hook_kind k;

	(void)state;
	assert_int_equal(notify_hook_kind_parse(NULL, "http://x/hook/123", &k),
	                 0);
	assert_int_equal(k, NOTIFY_HOOK_FLUX);
	assert_int_equal(notify_hook_kind_parse("argocd", "http://x/y", &k), 0);
	assert_int_equal(k, NOTIFY_HOOK_ARGOCD);
	assert_int_equal(
	        notify_hook_kind_parse(NULL, "http://x/api/webhook/", &k), 0);
	assert_int_equal(k, NOTIFY_HOOK_ARGOCD);
	assert_int_equal(notify_hook_kind_parse("jenkins", "http://x/", &k),
	                 -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_config__provider_and_alert_load_with_flux_defaults),
		cmocka_unit_test(
		        test_config__a_provider_type_ferry_cannot_send_is_an_error),
		cmocka_unit_test(
		        test_config__a_provider_without_an_address_is_an_error),
		cmocka_unit_test(
		        test_config__an_address_in_the_secret_is_enough),
		cmocka_unit_test(
		        test_config__an_alert_names_a_provider_that_exists),
		cmocka_unit_test(
		        test_config__alert_patterns_and_summary_are_checked),
		cmocka_unit_test(
		        test_alert__matches_kind_name_and_the_alerts_namespace),
		cmocka_unit_test(
		        test_alert__a_star_with_match_labels_needs_the_labels),
		cmocka_unit_test(test_alert__error_severity_drops_info_events),
		cmocka_unit_test(test_alert__exclusion_wins_over_inclusion),
		cmocka_unit_test(
		        test_alert__a_suspended_alert_or_provider_sends_nothing),
		cmocka_unit_test(
		        test_request__generic_hmac_signs_flux_event_json),
		cmocka_unit_test(
		        test_request__slack_gets_an_attachment_with_metadata_fields),
		cmocka_unit_test(
		        test_request__githubdispatch_posts_to_the_repository_api),
		cmocka_unit_test(
		        test_request__generic_hmac_without_a_token_is_refused),
		cmocka_unit_test(
		        test_hook__a_flux_receiver_gets_an_x_signature),
		cmocka_unit_test(
		        test_hook__argo_cd_gets_a_signed_github_push_event),
		cmocka_unit_test(
		        test_hook__the_kind_comes_from_a_word_or_the_url),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
