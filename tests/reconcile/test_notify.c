/*
 * test_notify.c - Flux's Provider and Alert objects (core/config).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "config/loader.h"

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
